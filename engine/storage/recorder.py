"""The frame recorder: raw venue frames, as received, appended to rotating files
(docs/JOURNAL.md, "Frame files").

File layout (little-endian)::

    header  magic "HFTFRAME" (8) | version u16 | header size u16 | created_ns i64 |
            venue length u16 | venue (ASCII)
    frame   recv_ns i64 | length u32 | the frame's bytes, exactly as the transport gave them

Files are `<directory>/<venue>-<YYYYmmddTHHMMSS>-<n>.frames` (UTC time the file was opened,
`n` counts the files of one recorder from 0). A file rotates before the frame that would take
it past `max_file_mb` (a larger frame gets a file of its own).

Guarantees: `append` copies nothing: one `os.writev` of a reused 12-byte header and the
caller's buffer, so a view into the receive buffer may be passed and is not kept after the
call returns. Frames carry no checksum (the transport has checked them); a frame cut short by
a crash is found by its length, a zero-filled tail by its zero header, and `iter_frames` stops
there with a warning. Recording is best effort: a failed write (disk full) logs one error
naming the file, cuts the partial frame off, counts it and stops the recorder; it never raises
into the transport's callback. No fsync: the frames reach the OS at once and the disk when
the kernel writes them back.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import mmap
import os
import re
import struct
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, NamedTuple

import orjson

from engine.config.schema import RecorderConfig

log = logging.getLogger("engine.storage.recorder")

MAGIC = b"HFTFRAME"
VERSION = 1
_FILE_HEAD = struct.Struct("<8sHHqH")  # magic, version, header size, created_ns, venue length
_FRAME = struct.Struct("<qI")  # recv_ns, length
FRAME_HEAD = _FRAME.size  # 12
MAX_FRAME = (1 << 32) - 1
SUFFIX = ".frames"
_VENUE = re.compile(r"^[a-z0-9_]{1,32}$")
_NAME = re.compile(r"^(?P<venue>[a-z0-9_]{1,32})-(?P<stamp>\d{8}T\d{6})-(?P<n>\d+)\.frames$")
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class FrameFileError(ValueError):
    """Not a frame file, or one of a newer format: one line naming the file."""


class FrameFileHeader(NamedTuple):
    venue: str
    version: int
    created_ns: int
    size: int  # header bytes; the first frame starts here


def file_header(venue: str, created_ns: int) -> bytes:
    name = venue.encode("ascii")
    size = _FILE_HEAD.size + len(name)
    return _FILE_HEAD.pack(MAGIC, VERSION, size, created_ns, len(name)) + name


class FrameRecorder:
    """Appends one venue's raw frames to rotating files in `directory` (created if
    missing). Use from one thread (the event loop's)."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        venue: str,
        *,
        max_file_mb: int = 256,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        if not _VENUE.match(venue):
            raise ValueError(f"frame recorder: venue must match {_VENUE.pattern}, got {venue!r}")
        if max_file_mb < 1:
            raise ValueError(f"frame recorder: max_file_mb must be >= 1, got {max_file_mb}")
        self.directory = Path(directory)
        self.venue = venue
        self.max_bytes = max_file_mb * 1024 * 1024
        self._clock_ns = clock_ns
        self._fd = -1
        self._size = 0  # bytes in the current file (whole frames only)
        self._header_size = 0
        self._head = bytearray(FRAME_HEAD)
        self._iov: list[bytes | bytearray | memoryview] = [self._head, b""]
        self._next = 0  # n of the next file
        self.path: Path | None = None  # the file being written
        self.files: list[Path] = []
        self.frames = 0
        self.bytes = 0  # frame bytes recorded (headers not counted)
        self.errors = 0
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._open_next()
        except OSError as exc:
            raise OSError(
                exc.errno, f"frame recorder {self.directory}: cannot start: {exc.strerror or exc}"
            ) from None

    @classmethod
    def from_config(
        cls, config: RecorderConfig, venue: str, *, clock_ns: Callable[[], int] = time.time_ns
    ) -> FrameRecorder | None:
        """The recorder `[recorder]` asks for, or None when it is off."""
        if not config.enabled:
            return None
        return cls(config.directory, venue, max_file_mb=config.max_file_mb, clock_ns=clock_ns)

    @property
    def enabled(self) -> bool:
        """False once closed or stopped by a failed write."""
        return self._fd >= 0

    def append(self, recv_ns: int, frame: bytes | bytearray | memoryview) -> bool:
        """Record one frame (a byte buffer: bytes, or a view of format "B"); True when
        written. The buffer is only read during the call."""
        if self._fd < 0:
            return False
        length = len(frame)
        total = FRAME_HEAD + length
        if (
            self._size + total > self.max_bytes
            and self._size > self._header_size
            and not self._rotate()
        ):
            return False
        _FRAME.pack_into(self._head, 0, recv_ns, length)
        iov = self._iov
        iov[1] = frame
        try:
            done = os.writev(self._fd, iov)
            if done != total:  # short (at a size limit): finish it, or fail and cut it off
                rest = (bytes(self._head) + bytes(frame))[done:]
                while rest:
                    rest = rest[os.write(self._fd, rest) :]
        except OSError as exc:
            self._fail(exc)
            return False
        finally:
            iov[1] = b""  # never keep the caller's buffer
        self._size += total
        self.frames += 1
        self.bytes += length
        return True

    def _open_next(self) -> None:
        now = self._clock_ns()
        stamp = datetime.fromtimestamp(now / 1e9, UTC).strftime("%Y%m%dT%H%M%S")
        while True:
            path = self.directory / f"{self.venue}-{stamp}-{self._next}{SUFFIX}"
            self._next += 1
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | _CLOEXEC)
            except FileExistsError:
                continue
            break
        header = file_header(self.venue, now)
        try:
            if os.write(fd, header) != len(header):
                raise OSError(errno.EFBIG, "File too large")  # a short header is no file
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._fd = fd
        self._size = self._header_size = len(header)
        self.path = path
        self.files.append(path)

    def _rotate(self) -> bool:
        os.close(self._fd)
        self._fd = -1
        try:
            self._open_next()
        except OSError as exc:
            self.errors += 1
            log.error(
                "frame recorder %s: stopped: cannot open the next file: %s",
                self.directory, exc.strerror or exc,
            )  # fmt: skip
            return False
        return True

    def _fail(self, exc: OSError) -> None:
        self.errors += 1
        with contextlib.suppress(OSError):  # the reader stops at a torn tail anyway
            os.ftruncate(self._fd, self._size)  # no partial frame before a later one
        os.close(self._fd)
        self._fd = -1
        log.error(
            "frame recorder %s: stopped after %d frames: cannot write: %s",
            self.path, self.frames, exc.strerror or exc,
        )  # fmt: skip

    def close(self) -> None:
        """Fsync and close the current file. Idempotent."""
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            os.fsync(fd)
        except OSError as exc:
            log.error("frame recorder %s: fsync at close failed: %s", self.path, exc.strerror)
        finally:
            os.close(fd)

    def __enter__(self) -> FrameRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------- reading


def _parse_header(data: bytes | mmap.mmap, size: int, path: Path) -> FrameFileHeader:
    if size < _FILE_HEAD.size or data[: len(MAGIC)] != MAGIC:
        raise FrameFileError(f"{path}: not a frame file (no {MAGIC.decode()} header)")
    _magic, version, header_size, created_ns, venue_len = _FILE_HEAD.unpack_from(data, 0)
    if version > VERSION:
        raise FrameFileError(
            f"{path}: frame file format {version} is newer than this engine reads ({VERSION})"
        )
    if header_size != _FILE_HEAD.size + venue_len or header_size > size:
        raise FrameFileError(f"{path}: frame file header is corrupt")
    venue = bytes(data[_FILE_HEAD.size : header_size]).decode("ascii", "replace")
    return FrameFileHeader(venue, version, created_ns, header_size)


def read_header(path: str | os.PathLike[str]) -> FrameFileHeader:
    """The header of a frame file; FrameFileError if it is not one."""
    target = Path(path)
    with open(target, "rb") as f:
        head = f.read(_FILE_HEAD.size + 0xFFFF)  # the venue's length is a u16
    return _parse_header(head, len(head), target)


def iter_frames(path: str | os.PathLike[str]) -> Iterator[tuple[int, bytes]]:
    """`(recv_ns, frame)` of each whole frame, in file order. A tail cut short by a crash
    (a header or frame past the end, or a zero-filled header) ends the iteration with a
    warning naming the byte offset. FrameFileError if it is not a frame file."""
    target = Path(path)
    with open(target, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise FrameFileError(f"{target}: not a frame file (empty)")
        data = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ)
    return _frames(data, target)


def _frames(data: mmap.mmap, path: Path) -> Iterator[tuple[int, bytes]]:
    with data:
        size = len(data)
        off = _parse_header(data, size, path).size
        unpack = _FRAME.unpack_from
        while off < size:
            if off + FRAME_HEAD > size:
                _torn(path, off, size)
                return
            recv_ns, length = unpack(data, off)
            start = off + FRAME_HEAD
            if recv_ns <= 0 or start + length > size:
                _torn(path, off, size)
                return
            yield recv_ns, data[start : start + length]
            off = start + length


def _torn(path: Path, off: int, size: int) -> None:
    log.warning(
        "frame file %s: torn tail at byte %d (%d bytes ignored); the frames before it are read",
        path, off, size - off,
    )  # fmt: skip


def recordings(directory: str | os.PathLike[str], venue: str | None = None) -> list[Path]:
    """The frame files in `directory` (of `venue`, or all), in recording order per venue."""
    found = []
    for path in Path(directory).iterdir():
        m = _NAME.match(path.name)
        if m and (venue is None or m["venue"] == venue):
            found.append((m["venue"], m["stamp"], int(m["n"]), path))
    return [p for *_, p in sorted(found)]


def to_jsonl(paths: Iterable[str | os.PathLike[str]], out: IO[bytes]) -> int:
    """Write the frames of `paths` as the JSON lines engine.sim.replay reads,
    `{"recv_ns": <int>, "frame": "<text>"}`; the number of frames. A frame that is not
    UTF-8 text is a FrameFileError naming its file and receive time."""
    count = 0
    dumps = orjson.dumps
    for path in paths:
        for recv_ns, frame in iter_frames(path):
            try:
                text = frame.decode("utf-8")
            except UnicodeDecodeError:
                raise FrameFileError(
                    f"{path}: the frame received at {recv_ns} is not UTF-8 text"
                ) from None
            out.write(dumps({"recv_ns": recv_ns, "frame": text}))
            out.write(b"\n")
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    """`python -m engine.storage.recorder to-jsonl OUT FILE...`: convert frame files to the
    JSON lines `python -m engine.sim --replay` reads (`-` for stdout)."""
    parser = argparse.ArgumentParser(prog="python -m engine.storage.recorder")
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("to-jsonl", help="frame files to replayable JSON lines")
    conv.add_argument("out", help="output file, - for stdout")
    conv.add_argument("files", nargs="+", type=Path, help=".frames files, in order")
    args = parser.parse_args(argv)
    try:
        if args.out == "-":
            count = to_jsonl(args.files, sys.stdout.buffer)
        else:
            with open(args.out, "wb") as out:
                count = to_jsonl(args.files, out)
    except (OSError, FrameFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{count} frames", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
