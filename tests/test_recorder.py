"""The frame recorder (engine/storage/recorder.py): frames written without a copy, rotation
boundaries, a reader that stops at a torn tail, disk full, and the converter to the JSON
lines the simulator's replay reads."""

from __future__ import annotations

import io
import logging
import os
import re
import resource
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.config.schema import RecorderConfig
from engine.sim.replay import read_recording
from engine.storage.recorder import (
    FRAME_HEAD,
    MAGIC,
    FrameFileError,
    FrameRecorder,
    iter_frames,
    main,
    read_header,
    recordings,
    to_jsonl,
)

ROOT = Path(__file__).resolve().parent.parent
LOGGER = "engine.storage.recorder"
T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
MIB = 1024 * 1024


def clock() -> int:
    return T0


def frames(count: int) -> list[tuple[int, bytes]]:
    return [
        (T0 + 1000 * i, b'{"e":"trade","t":%d,"p":"65000.%02d"}' % (i, i % 100) * (1 + i % 3))
        for i in range(count)
    ]


def read_all(paths: list[Path]) -> list[tuple[int, bytes]]:
    return [f for p in paths for f in iter_frames(p)]


def test_round_trip_with_bytes_bytearray_and_views(tmp_path: Path) -> None:
    sent = frames(30)
    with FrameRecorder(tmp_path / "rec", "binance", clock_ns=clock) as rec:
        for i, (recv_ns, frame) in enumerate(sent):
            # the transport may hand a view into its receive buffer
            given = (frame, bytearray(frame), memoryview(b"xx" + frame)[2:])[i % 3]
            assert rec.append(recv_ns, given)
        assert rec.frames == 30 and rec.bytes == sum(len(f) for _, f in sent)
    assert rec.files == [tmp_path / "rec" / "binance-20260101T000000-0.frames"]
    assert read_all(rec.files) == sent
    header = read_header(rec.files[0])
    assert (header.venue, header.version, header.created_ns) == ("binance", 1, T0)
    assert not rec.enabled
    assert rec.append(1, b"late") is False  # closed
    rec.close()  # idempotent


def test_the_callers_buffer_is_not_kept(tmp_path: Path) -> None:
    buffer = bytearray(b"frame bytes in the receive buffer")
    view = memoryview(buffer)
    before = sys.getrefcount(view)
    with FrameRecorder(tmp_path, "okx", clock_ns=clock) as rec:
        rec.append(T0, view[6:])
        assert sys.getrefcount(view) == before
        view.release()
        buffer.extend(b"more")  # resizing fails while anything still exports the buffer
        rec.append(T0 + 1, buffer)
    assert read_all(rec.files) == [(T0, b"bytes in the receive buffer"), (T0 + 1, bytes(buffer))]


def test_rotation_boundaries(tmp_path: Path) -> None:
    rec = FrameRecorder(tmp_path, "gate", max_file_mb=1, clock_ns=clock)
    header = rec._header_size
    a = (T0, b"a" * (MIB - header - FRAME_HEAD - (FRAME_HEAD + 10)))
    b = (T0 + 1, b"b" * 10)  # ends the first file at exactly max_file_mb
    c = (T0 + 2, b"")  # one byte more: the next file
    d = (T0 + 3, b"d" * (MIB + 100))  # larger than a file: a file of its own
    e = (T0 + 4, b"e")
    for recv_ns, frame in (a, b, c, d, e):
        assert rec.append(recv_ns, frame)
    rec.close()
    assert [p.name for p in rec.files] == [f"gate-20260101T000000-{n}.frames" for n in range(4)]
    assert rec.files[0].stat().st_size == MIB
    assert [list(iter_frames(p)) for p in rec.files] == [[a, b], [c], [d], [e]]
    assert recordings(tmp_path) == rec.files
    assert read_all(recordings(tmp_path, "gate")) == [a, b, c, d, e]


def test_recordings_order_and_restart_in_the_same_second(tmp_path: Path) -> None:
    first = FrameRecorder(tmp_path, "binance", clock_ns=clock)
    first.close()
    again = FrameRecorder(tmp_path, "binance", clock_ns=clock)  # same second: no overwrite
    again.close()
    assert [p.name for p in (*first.files, *again.files)] == [
        "binance-20260101T000000-0.frames",
        "binance-20260101T000000-1.frames",
    ]
    for n in (2, 10, 9):
        (tmp_path / f"binance-20260101T000000-{n}.frames").write_bytes(b"")
    (tmp_path / "okx-20250101T000000-0.frames").write_bytes(b"")
    (tmp_path / "notes.txt").write_bytes(b"")
    assert [p.name.split("-")[-1] for p in recordings(tmp_path, "binance")] == [
        f"{n}.frames" for n in (0, 1, 2, 9, 10)
    ]
    assert recordings(tmp_path)[-1].name.startswith("okx-")


def test_torn_tail_at_every_byte_of_the_last_frame(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sent = frames(5)
    with FrameRecorder(tmp_path, "binance", clock_ns=clock) as rec:
        for recv_ns, frame in sent:
            rec.append(recv_ns, frame)
    data = rec.files[0].read_bytes()
    last_start = len(data) - FRAME_HEAD - len(sent[-1][1])
    torn = tmp_path / "torn.frames"
    for cut in range(last_start, len(data)):
        torn.write_bytes(data[:cut])
        caplog.clear()
        with caplog.at_level(logging.WARNING, LOGGER):
            assert list(iter_frames(torn)) == sent[:-1], cut
        warnings = [r.getMessage() for r in caplog.records]
        if cut == last_start:
            assert warnings == []
        else:
            assert len(warnings) == 1 and f"at byte {last_start} " in warnings[0]
    torn.write_bytes(data + bytes(8192))  # a zero-filled tail after a power loss
    caplog.clear()
    with caplog.at_level(logging.WARNING, LOGGER):
        assert list(iter_frames(torn)) == sent
    assert f"at byte {len(data)} " in caplog.records[0].getMessage()


def test_not_a_frame_file(tmp_path: Path) -> None:
    for name, content in [
        ("empty.frames", b""),
        ("text.frames", b'{"recv_ns": 1, "frame": "x"}\n'),
        ("short.frames", MAGIC + b"\x01\x00"),
    ]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(FrameFileError, match="not a frame file") as err:
            list(iter_frames(path))
        assert str(path) in str(err.value) and "\n" not in str(err.value)
    with FrameRecorder(tmp_path, "okx", clock_ns=clock) as rec:
        rec.append(T0, b"x")
    data = bytearray(rec.files[0].read_bytes())
    data[8] = 9  # version
    newer = tmp_path / "newer.frames"
    newer.write_bytes(bytes(data))
    with pytest.raises(FrameFileError, match="newer"):
        list(iter_frames(newer))
    with pytest.raises(FrameFileError, match="newer"):
        read_header(newer)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="venue"):
        FrameRecorder("/nonexistent", "Bin/ance")
    with pytest.raises(ValueError, match="max_file_mb"):
        FrameRecorder("/nonexistent", "binance", max_file_mb=0)


def test_an_unusable_directory_fails_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(OSError, match="cannot start") as err:
        FrameRecorder(blocker / "frames", "binance")
    assert str(blocker / "frames") in str(err.value)


def test_from_config(tmp_path: Path) -> None:
    assert FrameRecorder.from_config(RecorderConfig(), "binance") is None  # off by default
    on = RecorderConfig(enabled=True, directory=str(tmp_path / "f"), max_file_mb=3)
    rec = FrameRecorder.from_config(on, "binance", clock_ns=clock)
    assert rec is not None and rec.max_bytes == 3 * MIB
    rec.close()
    assert rec.files[0].parent == tmp_path / "f"


# ---------------------------------------------------------------------- disk full


def test_no_space_left_stops_recording_without_raising(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rec = FrameRecorder(tmp_path, "binance", clock_ns=clock)
    assert rec.append(T0, b"kept")
    path = rec.path
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        os.dup2(full, rec._fd)
    finally:
        os.close(full)
    with caplog.at_level(logging.ERROR, LOGGER):
        assert rec.append(T0 + 1, b"lost") is False  # never raises into the transport
        assert rec.append(T0 + 2, b"also lost") is False
    assert rec.errors == 1 and not rec.enabled and rec.frames == 1
    (message,) = [r.getMessage() for r in caplog.records]
    assert str(path) in message and "No space left on device" in message
    assert list(iter_frames(rec.files[0])) == [(T0, b"kept")]


def test_file_size_limit_cuts_the_partial_frame(tmp_path: Path) -> None:
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))

    done = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                from engine.storage.recorder import FrameRecorder
                rec = FrameRecorder({str(tmp_path)!r}, "binance")
                n = 0
                while rec.append(1 + n, b"f" * 90):
                    n += 1
                print(n, rec.errors)
                """
            ),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    n, errors = map(int, done.stdout.split())
    (path,) = recordings(tmp_path)
    header = read_header(path).size
    assert n == (2000 - header) // (FRAME_HEAD + 90) and errors == 1
    assert path.stat().st_size == header + n * (FRAME_HEAD + 90)  # no partial frame
    assert [r for r, _ in iter_frames(path)] == list(range(1, n + 1))
    assert "File too large" in done.stderr and str(path) in done.stderr


# ---------------------------------------------------------------------- replay


def test_converted_frames_replay_through_the_simulators_reader(tmp_path: Path) -> None:
    sent = frames(12)
    with FrameRecorder(tmp_path / "rec", "binance", max_file_mb=1, clock_ns=clock) as rec:
        for recv_ns, frame in sent:
            rec.append(recv_ns, frame)
    out = tmp_path / "replay.jsonl"
    assert main(["to-jsonl", str(out), *map(str, recordings(tmp_path / "rec"))]) == 0
    assert [(f.recv_ns, f.frame) for f in read_recording(out)] == sent
    buffer = io.BytesIO()
    assert to_jsonl(rec.files, buffer) == 12


def test_converter_refuses_a_binary_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FrameRecorder(tmp_path, "binance", clock_ns=clock) as rec:
        rec.append(T0, b"\xff\xfe")
    with pytest.raises(FrameFileError, match=f"received at {T0} is not UTF-8"):
        to_jsonl(rec.files, io.BytesIO())
    assert main(["to-jsonl", str(tmp_path / "o.jsonl"), str(rec.files[0])]) == 2
    assert re.match(r"error: .*not UTF-8", capsys.readouterr().err)
