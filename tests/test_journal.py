"""The order journal (engine/storage/journal.py): round trip, torn tails at every byte,
corruption refused, atomic compaction, the fsync policies across a SIGKILL, disk full."""

from __future__ import annotations

import enum
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.storage import journal as jmod
from engine.storage.journal import (
    CHANGE,
    HEADER_SIZE,
    INTENT,
    MAGIC,
    RECORD_OVERHEAD,
    ChangeRecord,
    IntentAction,
    IntentRecord,
    Journal,
    JournalCorrupt,
    JournalError,
    JournalFormatError,
    JournalWriteError,
    decode_order_event,
    encode_change,
    encode_intent,
    encode_order_event,
)

ROOT = Path(__file__).resolve().parent.parent
LOGGER = "engine.storage.journal"


def payloads(count: int) -> list[bytes]:
    # different lengths, so offsets are not multiples of one size
    return [bytes([65 + i % 26]) * (5 + 7 * i) for i in range(count)]


def fill(path: Path, count: int, fsync: str = "os") -> list[tuple[int, int, bytes]]:
    records = []
    with Journal.open(path, fsync=fsync) as j:  # type: ignore[arg-type]
        for i, payload in enumerate(payloads(count)):
            seq = j.append(3 + i % 2, payload)
            records.append((seq, 3 + i % 2, payload))
    return records


def replayed(path: Path, **kw: object) -> list[tuple[int, int, bytes]]:
    with Journal.open(path, fsync="os", **kw) as j:  # type: ignore[arg-type]
        return list(j.replay())


def offsets(records: list[tuple[int, int, bytes]]) -> list[int]:
    """Start offset of each record, and the file's end last."""
    out = [HEADER_SIZE]
    for _seq, _kind, payload in records:
        out.append(out[-1] + RECORD_OVERHEAD + len(payload))
    return out


def one_line(exc: BaseException, path: Path) -> str:
    text = str(exc)
    assert "\n" not in text
    assert str(path) in text
    return text


def run_python(
    code: str, *, preexec: Callable[[], None] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec,
        check=False,
    )


# ---------------------------------------------------------------------- round trip


def test_round_trip_and_sequence_continues_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "orders.wal"  # directories are created
    records = fill(path, 20)
    assert [r[0] for r in records] == list(range(1, 21))
    with Journal.open(path, fsync="os") as j:
        assert j.last_seq == 20
        assert j.records == 20
        assert list(j.replay()) == records
        assert list(j.replay(after_seq=17)) == records[17:]
        assert j.append(9, b"") == 21  # an empty payload is a record too
    assert replayed(path)[-1] == (21, 9, b"")
    assert path.stat().st_size == offsets(records)[-1] + RECORD_OVERHEAD


def test_more_batches_records_into_one_write(tmp_path: Path) -> None:
    path = tmp_path / "j.wal"
    with Journal.open(path, fsync="always") as j:
        j.append(1, b"a", more=True)
        j.append(1, b"bb", more=True)
        assert j.size == HEADER_SIZE  # nothing written yet
        assert path.read_bytes()[HEADER_SIZE : HEADER_SIZE + 64] == bytes(64)  # the reserve
        assert j.syncs == 0
        j.append(1, b"ccc")  # the first without `more` writes all three, one fsync
        assert j.size == HEADER_SIZE + 3 * RECORD_OVERHEAD + 6
        # in the page cache: another reader of the file sees the three records
        written = path.read_bytes()[HEADER_SIZE : j.size]
        assert written.count(b"bb") == written.count(b"ccc") == 1
        assert j.syncs == 1 and j.durable_seq == 3
        j.append(1, b"d", more=True)
        j.flush()
        assert j.syncs == 2 and j.durable_seq == 4
        j.append(1, b"e", more=True)
        assert [r[2] for r in j.replay()] == [b"a", b"bb", b"ccc", b"d", b"e"]  # replay flushes


def test_payload_views_and_bad_arguments(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.wal", fsync="os") as j:
        j.append(1, memoryview(b"xyz")[1:])
        j.append(1, bytearray(b"q"))
        with pytest.raises(ValueError, match="kind 256"):
            j.append(256, b"")
        with pytest.raises(ValueError, match="payload"):
            j.append(1, bytes(jmod.MAX_PAYLOAD + 1))
        assert [r[2] for r in j.replay()] == [b"yz", b"q"]
    with pytest.raises(ValueError, match="fsync policy"):
        Journal.open(tmp_path / "k.wal", fsync="never")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="interval"):
        Journal.open(tmp_path / "k.wal", fsync="interval", interval_ms=0)
    with pytest.raises(TypeError, match=r"Journal\.open"):
        Journal(object(), 0, tmp_path, "os", 10)


def test_a_journal_in_use_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.wal"
    with Journal.open(path, fsync="os"):
        with pytest.raises(JournalError, match="in use") as err:
            Journal.open(path, fsync="os")
        one_line(err.value, path)
    Journal.open(path, fsync="os").close()  # the lock went with the close


# ---------------------------------------------------------------------- torn and corrupt


def test_torn_last_record_at_every_byte_offset(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "full.wal"
    records = fill(source, 4)
    data = source.read_bytes()
    starts = offsets(records)
    last_start, end = starts[-2], starts[-1]
    target = tmp_path / "torn.wal"
    for cut in range(last_start, end):
        target.write_bytes(data[:cut])
        caplog.clear()
        with caplog.at_level(logging.WARNING, LOGGER), Journal.open(target, fsync="os") as j:
            assert list(j.replay()) == records[:-1], cut
            assert j.last_seq == 3
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            if cut == last_start:
                assert warnings == []  # a clean end, nothing torn
            else:
                assert len(warnings) == 1 and f"at byte {last_start} " in warnings[0], cut
            assert j.size == last_start  # the tail is cut off
            assert j.append(7, b"after") == 4  # the torn record's sequence is reused
        # close cuts the reserve: the file ends with the last record
        assert target.stat().st_size == last_start + RECORD_OVERHEAD + 5
        assert replayed(target)[-1] == (4, 7, b"after")


def test_torn_tail_of_a_batch_and_zero_filled_tail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.wal"
    records = fill(path, 5)
    starts = offsets(records)
    data = path.read_bytes()
    # a power loss in the middle of a 3-record write: record 3 whole, 4 half, 5 missing
    path.write_bytes(data[: starts[3] + 9])
    with caplog.at_level(logging.WARNING, LOGGER):
        assert replayed(path) == records[:3]
    # zeros after the last record: the reserve of a run that did not close, no warning
    path.write_bytes(data + bytes(4096))
    caplog.clear()
    with caplog.at_level(logging.WARNING, LOGGER):
        assert replayed(path) == records
    assert caplog.records == []
    assert path.stat().st_size == len(data)
    # a torn record followed by zeros (the reserve) still says where it was cut
    path.write_bytes(data[: starts[3] + 9] + bytes(4096))
    caplog.clear()
    with caplog.at_level(logging.WARNING, LOGGER):
        assert replayed(path) == records[:3]
    assert any(f"at byte {starts[3]} " in r.getMessage() for r in caplog.records)
    # random garbage that is no record
    path.write_bytes(data + os.urandom(300))
    assert replayed(path) == records


@pytest.mark.parametrize("where", ["payload", "length", "crc", "seq"])
def test_corrupt_record_in_the_middle_is_refused(tmp_path: Path, where: str) -> None:
    path = tmp_path / "j.wal"
    records = fill(path, 6)
    starts = offsets(records)
    bad = starts[2]  # the third record
    byte = {"payload": bad + 15, "length": bad + 1, "crc": starts[3] - 2, "seq": bad + 6}[where]
    data = bytearray(path.read_bytes())
    data[byte] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt) as err:
        Journal.open(path, fsync="os")
    text = one_line(err.value, path)
    assert f"corrupt record at byte {bad} " in text
    assert path.read_bytes() == bytes(data)  # nothing truncated


def test_corrupt_record_before_a_torn_tail_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.wal"
    records = fill(path, 6)
    starts = offsets(records)
    data = bytearray(path.read_bytes()[: starts[-1] - 3])  # last record torn
    data[starts[1] + 14] ^= 1  # and the second corrupt, with intact ones after it
    path.write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt, match=f"at byte {starts[1]} "):
        Journal.open(path, fsync="os")


def test_header_checks(tmp_path: Path) -> None:
    other = tmp_path / "other.wal"
    other.write_bytes(b"SQLite format 3\x00" + bytes(100))
    with pytest.raises(JournalFormatError, match="not an order journal") as err:
        Journal.open(other, fsync="os")
    one_line(err.value, other)

    newer = tmp_path / "newer.wal"
    fill(newer, 2)
    data = bytearray(newer.read_bytes())
    data[8:10] = (jmod.VERSION + 1).to_bytes(2, "little")
    newer.write_bytes(bytes(data))
    with pytest.raises(JournalFormatError, match="newer") as err:
        Journal.open(newer, fsync="os")
    one_line(err.value, newer)

    broken = tmp_path / "broken.wal"
    fill(broken, 2)
    data = bytearray(broken.read_bytes())
    data[12] ^= 1  # base seq
    broken.write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt, match="header"):
        Journal.open(broken, fsync="os")

    short = tmp_path / "short.wal"
    short.write_bytes(MAGIC + b"\x01")
    with pytest.raises(JournalCorrupt, match="cut short"):
        Journal.open(short, fsync="os")

    empty = tmp_path / "empty.wal"
    empty.touch()  # an empty file is a new journal
    with Journal.open(empty, fsync="os") as j:
        assert j.append(1, b"x") == 1
    assert replayed(empty) == [(1, 1, b"x")]


# ---------------------------------------------------------------------- compaction


def test_compaction_keeps_later_records_and_numbering(tmp_path: Path) -> None:
    path = tmp_path / "j.wal"
    records = fill(path, 10)
    before = path.read_bytes()
    with Journal.open(path, fsync="interval", interval_ms=5) as j:
        assert j.compact(0) == 0
        assert j.compact(6) == 6
        assert list(j.replay()) == records[6:]
        assert j.records == 4
        assert j.size == HEADER_SIZE + offsets(records)[-1] - offsets(records)[6]
        # the records kept, byte for byte, in the new file (and its reserve after them)
        assert path.read_bytes()[HEADER_SIZE : j.size] == before[offsets(records)[6] :]
        assert j.append(1, b"new") == 11
        assert j.compact(6) == 0  # already gone
    assert [r[0] for r in replayed(path)] == [7, 8, 9, 10, 11]
    with Journal.open(path, fsync="always") as j:
        assert j.compact(10**9) == 5  # past the end: everything, numbering kept
        assert list(j.replay()) == []
        assert j.size == HEADER_SIZE
    assert path.stat().st_size == HEADER_SIZE
    with Journal.open(path, fsync="os") as j:
        assert j.last_seq == 11  # from the header's base sequence
        assert j.append(1, b"z") == 12
    assert not (tmp_path / "j.wal.tmp").exists()


def test_replay_started_before_a_compaction_reads_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "j.wal"
    records = fill(path, 5)
    with Journal.open(path, fsync="os") as j:
        it = j.replay()
        j.compact(3)
        assert list(it) == records
        assert list(j.replay()) == records[3:]


def test_stale_compaction_file_is_removed_at_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.wal"
    records = fill(path, 4)
    stale = tmp_path / "j.wal.tmp"
    stale.write_bytes(path.read_bytes()[:50])  # a compaction that died mid-copy
    with caplog.at_level(logging.WARNING, LOGGER):
        assert replayed(path) == records
    assert not stale.exists()
    assert any("unfinished compaction" in r.getMessage() for r in caplog.records)


def test_crash_between_compaction_write_and_rename(tmp_path: Path) -> None:
    """A process killed after the compacted copy is written and fsynced, before its rename:
    the journal is whole, the copy is dropped at the next open."""
    path = tmp_path / "j.wal"
    records = fill(path, 8)
    done = run_python(
        f"""
        import os
        from engine.storage.journal import Journal
        j = Journal.open({str(path)!r}, fsync="os")
        def crash(*args):
            os._exit(17)  # the power goes out between the fsync of the copy and the rename
        os.replace = crash
        j.compact(5)
        """
    )
    assert done.returncode == 17, done.stderr
    assert (tmp_path / "j.wal.tmp").exists()  # the copy was written
    assert replayed(path) == records
    assert not (tmp_path / "j.wal.tmp").exists()
    with Journal.open(path, fsync="os") as j:
        assert j.compact(5) == 5
    assert replayed(path) == records[5:]


# ---------------------------------------------------------------------- fsync policies


def test_always_fsyncs_every_record(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.wal", fsync="always") as j:
        for i in range(1, 6):
            assert j.append(1, b"x") == i
            assert j.durable_seq == i
        assert j.syncs == 5


def test_os_policy_never_fsyncs_unless_asked(tmp_path: Path) -> None:
    j = Journal.open(tmp_path / "j.wal", fsync="os")
    j.append(1, b"x")
    j.append(1, b"y")
    assert j.durable_seq == 0 and j.syncs == 0
    j.sync()
    assert j.durable_seq == 2 and j.syncs == 1
    j.append(1, b"z")
    j.close()
    assert j.syncs == 1 and j.closed  # close leaves "os" to the kernel
    j.close()  # idempotent


def _killed_after_append(
    path: Path, fsync: str, wait_durable: bool
) -> subprocess.CompletedProcess[str]:
    return run_python(
        f"""
        import os, signal, sys, time
        from engine.storage.journal import Journal
        j = Journal.open({str(path)!r}, fsync={fsync!r}, interval_ms=10)
        seq = j.append(5, b"the order")
        t0 = time.monotonic()
        if {wait_durable!r}:
            while j.durable_seq < seq:
                if time.monotonic() - t0 > 30:
                    sys.exit("never durable")
                time.sleep(0.001)
        print(seq, j.durable_seq, round((time.monotonic() - t0) * 1000, 1), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )


@pytest.mark.parametrize("fsync", ["always", "interval", "os"])
def test_a_record_survives_sigkill_right_after_append(tmp_path: Path, fsync: str) -> None:
    path = tmp_path / "j.wal"
    done = _killed_after_append(path, fsync, wait_durable=False)
    assert done.returncode == -signal.SIGKILL, done.stderr
    seq, durable, _ms = done.stdout.split()
    assert seq == "1"
    if fsync == "always":
        assert durable == "1"
    assert replayed(path) == [(1, 5, b"the order")]


def test_interval_fsync_makes_a_record_durable_within_the_interval(tmp_path: Path) -> None:
    path = tmp_path / "j.wal"
    done = _killed_after_append(path, "interval", wait_durable=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    seq, durable, ms = done.stdout.split()
    assert seq == durable == "1"
    # interval (10 ms) plus one fsync, with a generous allowance for a loaded machine
    assert float(ms) < 10 + 2000
    assert replayed(path) == [(1, 5, b"the order")]


def test_interval_thread_syncs_and_stops_at_close(tmp_path: Path) -> None:
    j = Journal.open(tmp_path / "j.wal", fsync="interval", interval_ms=1)
    thread = j._thread
    assert thread is not None and thread.is_alive()
    for _ in range(50):
        j.append(1, b"x")
    j.close()
    assert not thread.is_alive()
    assert j.durable_seq == 50


# ---------------------------------------------------------------------- disk full


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        # a soft limit: the child may lift it again, as when space is freed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    return apply


def test_file_too_large_at_open_is_one_line_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "j.wal"
    done = run_python(
        f"""
        from engine.storage.journal import Journal, JournalError
        try:
            Journal.open({str(path)!r})
        except JournalError as exc:
            print(exc)
        """,
        preexec=_limit_file_size(10),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "disk full" in lines[0], lines
    assert not path.exists()


def test_file_too_large_at_append_loses_nothing_before_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.wal"
    done = run_python(
        f"""
        import resource
        from engine.storage.journal import Journal, JournalWriteError
        j = Journal.open({str(path)!r}, fsync="always")
        ok = 0
        try:
            while True:
                j.append(1, b"p" * 50)
                ok += 1
        except JournalWriteError as exc:
            print(ok)
            print(exc)
            print(exc.errno)
        try:  # a batch fails whole too
            j.append(1, b"q", more=True)
            j.append(1, b"r" * 100)
        except JournalWriteError as exc:
            print("batch", j.last_seq)
        # space again: the next record follows the last whole one, not a partial one
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
        print(j.append(2, b"after"))
        """,
        preexec=_limit_file_size(1000),
    )
    assert done.returncode == 0, done.stderr
    ok, message, code, batch, after = done.stdout.splitlines()
    assert int(ok) == (1000 - HEADER_SIZE) // (RECORD_OVERHEAD + 50)
    assert str(path) in message and "disk full" in message and "not journaled" in message
    assert int(code) == 27  # EFBIG
    assert batch == f"batch {ok}"  # the failed batch's sequences are handed out again
    assert int(after) == int(ok) + 1
    with caplog.at_level(logging.WARNING, LOGGER):
        records = replayed(path)
    assert caplog.records == []  # no torn or corrupt record: each partial write was cut off
    assert len(records) == int(ok) + 1 and records[-1] == (int(after), 2, b"after")


def test_a_reservation_that_fails_writes_nothing(tmp_path: Path) -> None:
    """Records go into space reserved ahead; when the next reservation fails (here: the
    descriptor swapped for a device that cannot be reserved on), the append is refused
    whole, the records before it stay, and the journal goes on once reserving works again."""
    path = tmp_path / "j.wal"
    j = Journal.open(path, fsync="os")
    saved = os.dup(j._fd)
    device = os.open("/dev/full", os.O_WRONLY)
    try:
        os.dup2(device, j._fd)
        kept = 0
        with pytest.raises(JournalWriteError) as err:
            while True:  # the reserve (GROW_BYTES) takes these without a system call
                j.append(1, b"k" * 1000)
                kept += 1
        # every record that fitted the reserve made at open (GROW_BYTES, to a page)
        assert j._capacity >= jmod.GROW_BYTES
        assert kept == (j._capacity - HEADER_SIZE) // (RECORD_OVERHEAD + 1000)
        one_line(err.value, path)
        assert "not journaled" in str(err.value) and f"at byte {j.size}" in str(err.value)
        assert j.last_seq == kept  # the refused record's sequence is handed out again
        os.dup2(saved, j._fd)  # space again
        assert j.append(2, b"after") == kept + 1
    finally:
        os.close(device)
        os.close(saved)
    j.close()
    records = replayed(path)
    assert len(records) == kept + 1 and records[-1] == (kept + 1, 2, b"after")


def test_too_little_free_space_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "j.wal"
    with pytest.raises(JournalWriteError, match="disk full") as err:
        Journal.open(path, min_free_bytes=1 << 62)
    one_line(err.value, path)


def test_unwritable_directory_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    path = blocker / "sub" / "j.wal"
    with pytest.raises(JournalError, match="directory") as err:
        Journal.open(path)
    one_line(err.value, path)


# ---------------------------------------------------------------------- record payloads

TEXT = st.text(st.characters(codec="utf-8"), max_size=40)  # valid UTF-8
INT64 = st.integers(-(2**63), 2**63 - 1)
FEES = st.decimals(allow_nan=False, allow_infinity=False)

INTENTS = st.builds(
    IntentRecord,
    TEXT, TEXT, TEXT,
    st.sampled_from(OrderSide), st.sampled_from(OrderType), st.sampled_from(TimeInForce),
    INT64, INT64, INT64, st.sampled_from(IntentAction),
)  # fmt: skip
CHANGES = st.builds(
    ChangeRecord,
    TEXT, TEXT, TEXT, st.sampled_from(OrderSide), st.sampled_from(OrderStatus),
    INT64, INT64, INT64, TEXT, FEES, TEXT, TEXT, TEXT, INT64, INT64,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.one_of(INTENTS, CHANGES))
def test_order_events_round_trip(event: IntentRecord | ChangeRecord) -> None:
    kind, payload = encode_order_event(event)
    assert kind == (INTENT if isinstance(event, IntentRecord) else CHANGE)
    back = decode_order_event(kind, payload)
    assert back == event and type(back) is type(event)
    if isinstance(event, ChangeRecord):
        assert isinstance(back, ChangeRecord)
        assert str(back.fee) == str(event.fee)  # exact: same digits, exponent and sign
    # differential: the standard library reads the payload to the same plain fields
    assert json.loads(payload) == plain_fields(event)


def plain_fields(event: IntentRecord | ChangeRecord) -> list[object]:
    return [
        str(f) if isinstance(f, Decimal) else f.value if isinstance(f, enum.Enum) else f
        for f in event
    ]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(INTENTS, CHANGES), min_size=1, max_size=20))
def test_order_events_through_a_journal(
    tmp_path_factory: pytest.TempPathFactory, events: list[IntentRecord | ChangeRecord]
) -> None:
    path = tmp_path_factory.mktemp("ev") / "j.wal"
    with Journal.open(path, fsync="os") as j:
        for event in events:
            j.append(*encode_order_event(event), more=True)
    assert [decode_order_event(k, p) for _s, k, p in replayed(path)] == events


def test_positional_encoders_match_the_records() -> None:
    intent = IntentRecord(
        "k3j9x2ab01f3a", "binance", "BTCUSDT", OrderSide.SELL, OrderType.LIMIT_MAKER,
        TimeInForce.GTC, 6_500_012, 1_500, 1_700_000_000_123_456_789, IntentAction.AMEND,
    )  # fmt: skip
    change = ChangeRecord(
        "k3j9x2ab01f3a", "okx", "BTC-USDT", OrderSide.BUY, OrderStatus.PARTIALLY_FILLED,
        700, 200, 6_500_010, "T-99", Decimal("-0.00012000"), "USDT", "v-1", "", 5, 6,
    )  # fmt: skip
    assert encode_intent(*intent) == encode_order_event(intent)[1]
    assert encode_change(*change) == encode_order_event(change)[1]
    back = decode_order_event(CHANGE, encode_change(*change))
    assert isinstance(back, ChangeRecord) and back.fee.as_tuple() == change.fee.as_tuple()


def test_bad_events_are_refused() -> None:
    args: list[Any] = [
        "c", "v", "s", OrderSide.BUY, OrderType.LIMIT, TimeInForce.GTC, 1, 1, 1, IntentAction.NEW,
    ]  # fmt: skip
    with pytest.raises(TypeError, match="not an order enum"):
        encode_intent(*[*args[:4], "limit", *args[5:]])
    change: list[Any] = [
        "c", "v", "s", OrderSide.BUY, OrderStatus.NEW, 0, 0, 0, "", Decimal(0), "", "", "", 1, 1,
    ]  # fmt: skip
    for fee in (Decimal("NaN"), Decimal("Infinity"), 0.1):
        with pytest.raises(ValueError, match="finite Decimal"):
            encode_change(*[*change[:9], fee, *change[10:]])
    with pytest.raises(TypeError):
        encode_order_event(("not", "an", "event"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):  # a lone surrogate is no UTF-8: refused before writing
        encode_intent("\ud800", *args[1:])
    good = encode_intent(*args)
    for kind, payload in [
        (CHANGE, good),  # the wrong kind
        (7, good),
        (INTENT, b"not json"),
        (INTENT, b"[1,2]"),
        (INTENT, good.replace(b'"limit"', b'"stop"')),
        (INTENT, good.replace(b",1,1,1,", b",1,true,1,")),
        (INTENT, good.replace(b",1,1,1,", b",1,18446744073709551615,1,")),
        (CHANGE, encode_change(*change).replace(b'"0"', b'"NaN"')),
    ]:
        with pytest.raises(ValueError, match="not an order event"):
            decode_order_event(kind, payload)
