"""The order journal: an append-only write-ahead file of checksummed records (docs/JOURNAL.md).

Every order intent is appended before its request is sent, and every state change or fill as
it is applied, so a restart rebuilds the OMS from the journal before it reconciles with the
venues. Records already safely in the database are dropped by `compact`.

File layout (little-endian)::

    header   magic "HFTJOURN" (8) | version u16 | header size u16 | base seq u64 | crc32 u32
    record   length u32 | kind u8 | seq u64 | payload (length bytes) | crc32 u32

A record's crc32 covers its length, kind, seq and payload; it is written last, so a record
cut short by a power loss never passes. `seq` rises by one per record and survives
compaction (`base seq` is the last sequence compacted away, so numbering continues across an
empty file). Record kinds are the caller's: 1 and 2 are the OMS's `INTENT` and `CHANGE`
(payloads from `encode_intent` / `encode_change`), 3..255 are free.

Guarantees:

- `append` returns after the record is in the operating system's page cache: the file is
  mapped shared (`mmap`) over space reserved ahead with `posix_fallocate`, so a record is a
  copy into the mapping, no system call on the hot path, and a crash of the process never
  loses it (the kernel owns those pages). A power loss loses nothing older than the fsync
  policy allows: "always" fsyncs inside `append`, "interval" from a background thread at
  most every `interval_ms` (`durable_seq` says how far), "os" leaves it to the kernel.
  With `more=True` the record waits in memory for the next `append` without it or
  `flush()`, so a tick's intents reach the file in one copy (and one fsync).
- Space is reserved `GROW_BYTES` at a time past the last record (zeros, cut off again at
  `close`). Reserving is where a full disk shows, before any byte of a record is copied, so
  no store into the mapping can fault; near a full disk the reservation shrinks to what the
  record needs, so every byte the filesystem has is used.
- At open, a torn or corrupt tail (nothing valid after it) is truncated with one warning
  naming the byte offset; every record before it is kept. Zeros after the last record are
  the reserve of a run that did not close: cut without a warning. A corrupt record followed
  by intact ones is a hard `JournalCorrupt` naming its offset: nothing is dropped silently.
- An append that cannot reserve its space (disk full, file too large, a closed journal)
  raises `JournalWriteError` naming the path, nothing of it in the file; a failed fsync
  leaves the journal unusable (every later call raises), since the kernel may have dropped
  the unwritten pages.
- `compact` rewrites the file atomically (temporary file, fsync, rename, fsync of the
  directory); a crash at any step leaves either the old or the new file, both whole, and a
  stale temporary file is removed at the next open.
- One process at a time: the file is locked (`flock`) while open. One thread appends (the
  owner's); only the interval fsync runs in its own thread.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import fcntl
import logging
import mmap
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Literal, NamedTuple, NoReturn

import orjson

from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce

log = logging.getLogger("engine.storage.journal")

MAGIC = b"HFTJOURN"
VERSION = 1
_HEADER = struct.Struct("<8sHHQI")  # magic, version, header size, base seq, crc32
HEADER_SIZE = _HEADER.size  # 24
_RECORD = struct.Struct("<IBQ")  # payload length, kind, seq
RECORD_HEAD = _RECORD.size  # 13
_CRC = struct.Struct("<I")
_pack_head = _RECORD.pack
_pack_crc = _CRC.pack
_crc32 = zlib.crc32
RECORD_OVERHEAD = RECORD_HEAD + _CRC.size  # 17 bytes around each payload
MAX_PAYLOAD = 1 << 20  # a larger length field is corruption
MIN_FREE_BYTES = 1 << 20  # open refuses a filesystem with less free space than this
_COPY_CHUNK = 1 << 20
GROW_BYTES = 1 << 20  # reserved ahead of the last record: one fallocate per ~5,000 records
_PAGE = mmap.PAGESIZE
_DISK_FULL = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
_fdatasync = getattr(os, "fdatasync", os.fsync)

FsyncPolicy = Literal["always", "interval", "os"]
POLICIES: tuple[str, ...] = ("always", "interval", "os")


class JournalError(Exception):
    """The journal cannot be used: one line naming the file and what is wrong."""


class JournalFormatError(JournalError):
    """The file is not an order journal, or one of a newer format."""


class JournalCorrupt(JournalError):
    """A record (or the header) fails its checksum where it cannot be a torn tail."""


class JournalWriteError(JournalError):
    """A write or fsync failed (disk full, file too large, I/O error); `errno` says which."""

    def __init__(self, message: str, errno_: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno_


def _header(base_seq: int) -> bytes:
    head = struct.pack("<8sHHQ", MAGIC, VERSION, HEADER_SIZE, base_seq)
    return head + _CRC.pack(zlib.crc32(head))


def _reason(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    return f"disk full ({what})" if exc.errno in _DISK_FULL else what


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    """`write` until all of `data` is out (a regular file may take less at a size limit)."""
    view = memoryview(data)
    while view:
        done = os.write(fd, view)
        if done <= 0:  # pragma: no cover - a regular file reports an error instead
            raise OSError(errno.EIO, "write wrote nothing")
        view = view[done:]


class _Scan(NamedTuple):
    last_seq: int
    good_end: int  # offset after the last whole record
    records: int


class Journal:
    """An open journal. Make one with `Journal.open`; see the module docstring."""

    def __init__(self, _token: object, fd: int, path: Path, policy: str, interval_ms: int) -> None:
        if _token is not _OPEN_TOKEN:
            raise TypeError("use Journal.open(path, ...) to open a journal")
        self._fd = fd
        self.path = path
        self._tmp = _tmp_path(path)
        self.policy = policy
        self.interval_ms = interval_ms
        self._base_seq = 0
        self._last_seq = 0  # last sequence handed out
        self._written_seq = 0  # last sequence handed to the OS
        self._durable_seq = 0  # last sequence known fsynced
        self._size = 0  # header and whole records written: the logical end
        self._capacity = 0  # bytes reserved and mapped (the file's size while open)
        self._map: mmap.mmap | None = None
        self._always = policy == "always"
        self._pending = bytearray()  # records appended with more=True, not yet written
        self._pending_first = 0  # the first sequence not yet written
        self._broken: str | None = None  # set by a failed fsync or an uncut partial write
        self._lock = threading.Lock()  # the fd against the interval thread
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.records = 0  # whole records in the file
        self.syncs = 0

    # ------------------------------------------------------------------ open

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        fsync: FsyncPolicy = "always",
        interval_ms: int = 10,
        *,
        min_free_bytes: int = MIN_FREE_BYTES,
    ) -> Journal:
        """Open (or create, with its directories) the journal at `path`, check it and cut a
        torn tail. Raises `JournalError` (one line naming the path) for a directory that
        cannot be made, a full disk (fewer than `min_free_bytes` free), a file of another
        kind or newer format, a corrupt record before intact ones, or a journal in use."""
        if fsync not in POLICIES:
            raise ValueError(f"journal fsync policy must be one of {POLICIES}, got {fsync!r}")
        if not 1 <= interval_ms <= 10_000:
            raise ValueError(f"journal fsync interval must be 1..10000 ms, got {interval_ms}")
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(
                f"journal {target}: cannot create its directory: {exc.strerror or exc}"
            ) from None
        _check_free(target, min_free_bytes)
        tmp = _tmp_path(target)
        if not target.exists():
            _create(target, tmp)
        try:
            fd = os.open(target, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise JournalError(f"journal {target}: cannot open: {exc.strerror or exc}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise JournalError(
                    f"journal {target}: in use by another process (it holds the file's lock)"
                ) from None
            if tmp.exists():
                # a compaction (or the creation) died before its rename: the file is whole
                log.warning("journal %s: removed %s left by an unfinished compaction", target, tmp)
                tmp.unlink()
            journal = cls(_OPEN_TOKEN, fd, target, fsync, interval_ms)
            journal._load()
            journal._map_file()
        except BaseException:
            os.close(fd)
            raise
        if fsync == "interval":
            journal._start_thread()
        return journal

    def _load(self) -> None:
        fd, path = self._fd, self.path
        size = os.fstat(fd).st_size
        if size == 0:  # an empty file (made by hand, or a creation cut before its header)
            try:
                _write_all(fd, _header(0))
                _fdatasync(fd)
            except OSError as exc:
                raise JournalWriteError(
                    f"journal {path}: cannot write its header: {_reason(exc)}", exc.errno
                ) from None
            size = HEADER_SIZE
        with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as data:
            self._base_seq = _read_header(data, size, path)
            scan = _scan(data, size, self._base_seq, path)
            # only zeros after the last record: the reserve of a run that did not close
            torn = scan.good_end < size and _nonzero(data, scan.good_end, size)
        cut = scan.good_end < size
        if torn:
            log.warning(
                "journal %s: torn or corrupt tail record at byte %d truncated (%d bytes); "
                "the %d records before it are kept",
                path, scan.good_end, size - scan.good_end, scan.records,
                extra={"offset": scan.good_end, "dropped_bytes": size - scan.good_end},
            )  # fmt: skip
        try:
            if cut:
                os.ftruncate(fd, scan.good_end)
            # what a crashed process left in the page cache is on disk from here on, so
            # durable_seq starts true
            _fdatasync(fd)
        except OSError as exc:
            raise JournalWriteError(
                f"journal {path}: cannot {'truncate its tail' if cut else 'fsync'} at "
                f"byte {scan.good_end}: {_reason(exc)}",
                exc.errno,
            ) from None
        self._size = scan.good_end
        self.records = scan.records
        self._last_seq = self._written_seq = self._durable_seq = scan.last_seq

    # ------------------------------------------------------------------ state

    @property
    def last_seq(self) -> int:
        """The newest record's sequence (0 for a journal that never held one)."""
        return self._last_seq

    @property
    def durable_seq(self) -> int:
        """Records up to this sequence are known fsynced (survive a power loss)."""
        return self._durable_seq

    @property
    def size(self) -> int:
        """Bytes in the file (header and whole records written so far)."""
        return self._size

    # ------------------------------------------------------------------ writing

    def append(
        self, kind: int, payload: bytes | bytearray | memoryview, *, more: bool = False
    ) -> int:
        """Append one record; its sequence number. Unless `more`, the record (and any
        `more` records before it) is written to the OS before this returns, and fsynced
        under "always". Raises `JournalWriteError` when it could not be written: then no
        record since the last successful write is in the journal, and none must be sent.
        The payload is copied (into the record); the caller may reuse its buffer."""
        if self._broken is not None:
            raise JournalWriteError(self._broken)
        length = len(payload)
        if length > MAX_PAYLOAD or not 0 <= kind <= 255:
            raise ValueError(
                f"journal record: kind {kind} (0..255), payload {length} bytes (<= {MAX_PAYLOAD})"
            )
        seq = self._last_seq + 1
        head = _pack_head(length, kind, seq)
        tail = _pack_crc(_crc32(payload, _crc32(head)))
        self._last_seq = seq
        pending = self._pending
        if more or pending:
            if not pending:
                self._pending_first = seq
            pending += head
            pending += payload
            pending += tail
            if more:
                return seq
            self._write(pending)
        else:  # one record, copied in from no buffer, inlined (this is the hot path)
            start = self._size
            body = start + RECORD_HEAD
            end = body + length + 4
            if end > self._capacity:
                self._pending_first = seq
                self._reserve(end)
            mapped = self._map
            assert mapped is not None
            mapped[start:body] = head
            mapped[body : end - 4] = payload
            mapped[end - 4 : end] = tail
            self._size = end
            self.records += 1
            self._written_seq = seq
        if self._always:
            self._sync_fd()
        return seq

    def flush(self) -> None:
        """Write the records appended with `more=True` (fsynced under "always")."""
        if self._broken is not None:
            raise JournalWriteError(self._broken)
        if self._pending:
            self._write(self._pending)
            if self._always:
                self._sync_fd()

    def sync(self) -> None:
        """Flush, then fsync: every record appended so far survives a power loss."""
        if self._broken is not None:
            raise JournalWriteError(self._broken)
        if self._pending:
            self._write(self._pending)
        if self._durable_seq != self._written_seq:
            self._sync_fd()

    def _write(self, data: bytearray) -> None:
        """Copy in the pending records (`_pending_first` to `_last_seq`) whole, or none."""
        count = self._last_seq - self._pending_first + 1
        start = self._size
        end = start + len(data)
        if end > self._capacity:
            self._reserve(end)
        mapped = self._map
        assert mapped is not None
        mapped[start:end] = data
        self._size = end
        data.clear()
        self.records += count
        self._written_seq = self._last_seq

    def _reserve(self, end: int) -> None:
        """Reserve the file up to at least `end` (GROW_BYTES more while the disk has them,
        else just what is needed) and map it; raises (`_failed`) with nothing written."""
        target = -(-max(end, self._capacity + GROW_BYTES) // _PAGE) * _PAGE
        try:
            try:
                os.posix_fallocate(self._fd, self._capacity, target - self._capacity)
            except OSError as exc:
                if exc.errno not in _DISK_FULL:
                    raise
                target = end  # near a full disk: only the bytes this append needs
                os.posix_fallocate(self._fd, self._capacity, target - self._capacity)
        except OSError as exc:
            self._failed(exc)
        self._remap(target)

    def _remap(self, capacity: int) -> None:
        mapped = self._map
        if mapped is None:
            self._map = mmap.mmap(self._fd, capacity)  # shared, read-write
        else:
            mapped.resize(capacity)  # the file is that long already: only the mapping grows
        self._capacity = capacity

    def _map_file(self) -> None:
        """Map the file from its header to its logical end, with GROW_BYTES reserved after
        it (or none, when the disk has no room: the first append then says so)."""
        self._capacity = self._size
        self._map = mmap.mmap(self._fd, self._size)
        with contextlib.suppress(JournalWriteError):
            self._reserve(self._size + 1)

    def _failed(self, exc: OSError) -> NoReturn:
        """No room for the records from `_pending_first` on: hand their sequences out
        again and raise; nothing of them is in the file."""
        count = self._last_seq - self._pending_first + 1
        self._pending.clear()
        self._last_seq = self._written_seq
        with contextlib.suppress(OSError):  # a failed reservation may have grown the file
            if os.fstat(self._fd).st_size != self._capacity:
                os.ftruncate(self._fd, self._capacity)
        raise JournalWriteError(
            f"journal {self.path}: cannot append {count} record(s) at byte {self._size}: "
            f"{_reason(exc)}; they are not journaled",
            exc.errno,
        ) from None

    def _sync_fd(self) -> None:
        written = self._written_seq
        with self._lock:
            try:
                _fdatasync(self._fd)
            except OSError as exc:
                self._fail_sync(exc)
                raise JournalWriteError(self._broken or "", exc.errno) from None
            self.syncs += 1
            self._durable_seq = max(self._durable_seq, written)

    def _fail_sync(self, exc: OSError) -> None:
        # after a failed fsync the kernel may have dropped the dirty pages and reports the
        # error once: nothing written since the last good fsync can be trusted
        self._broken = (
            f"journal {self.path}: unusable: fsync failed ({_reason(exc)}); records after "
            f"sequence {self._durable_seq} may not be on disk, restart to replay"
        )

    # ------------------------------------------------------------------ interval thread

    def _start_thread(self) -> None:
        self._thread = threading.Thread(
            target=self._sync_loop, name=f"journal-fsync:{self.path.name}", daemon=True
        )
        self._thread.start()

    def _sync_loop(self) -> None:
        interval_s = self.interval_ms / 1000
        while not self._stop.wait(interval_s):
            written = self._written_seq
            if written == self._durable_seq or self._broken is not None:
                continue
            with self._lock:
                if self._fd < 0:
                    return
                try:
                    _fdatasync(self._fd)
                except OSError as exc:
                    self._fail_sync(exc)
                    log.error("%s", self._broken)
                    return
                self.syncs += 1
                self._durable_seq = max(self._durable_seq, written)

    # ------------------------------------------------------------------ reading

    def replay(self, after_seq: int = 0) -> Iterator[tuple[int, int, bytes]]:
        """Every record with a sequence above `after_seq`, oldest first, as
        `(seq, kind, payload)` (the payload a copy). Pending `more` records are flushed
        first. The file is read through its own descriptor, so a compaction during the
        iteration does not disturb it. A record that fails its checksum now (the disk
        changed it since open) raises `JournalCorrupt`."""
        self.flush()
        # mapped now, not at the first next(): the iteration reads this file as it is now
        with open(self.path, "rb") as f:
            data = mmap.mmap(f.fileno(), self._size, access=mmap.ACCESS_READ)
        return _replay(data, self.path, after_seq)

    # ------------------------------------------------------------------ compaction

    def compact(self, upto_seq: int) -> int:
        """Drop the records with sequence <= `upto_seq` (safely in the database): the
        rest is copied to a temporary file, fsynced and renamed over the journal, then
        the directory is fsynced. Returns the number of records dropped. Costs a copy of
        the records kept, so call it when few remain (the database has caught up)."""
        self.flush()
        upto = min(upto_seq, self._last_seq)
        if upto <= self._base_seq:
            return 0
        cut, dropped = self._offset_after(upto)
        try:
            new_fd = self._write_compacted(upto, cut)
        except OSError as exc:
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            raise JournalWriteError(
                f"journal {self.path}: cannot compact through {self._tmp}: {_reason(exc)}; "
                "the journal is unchanged",
                exc.errno,
            ) from None
        with self._lock:
            try:
                os.replace(self._tmp, self.path)
            except OSError as exc:
                os.close(new_fd)
                with contextlib.suppress(OSError):
                    self._tmp.unlink()
                raise JournalWriteError(
                    f"journal {self.path}: cannot rename its compacted copy: {_reason(exc)}; "
                    "the journal is unchanged",
                    exc.errno,
                ) from None
            old, self._fd = self._fd, new_fd
            if self._map is not None:
                self._map.close()
                self._map = None
            os.close(old)
        try:  # the rename is durable once the directory is
            _fsync_dir(self.path.parent)
        except OSError as exc:  # either file is whole: a crash now keeps one or the other
            log.warning("journal %s: fsync of its directory failed: %s", self.path, exc.strerror)
        self._size = HEADER_SIZE + (self._size - cut)
        self._map_file()
        self._base_seq = upto
        self.records -= dropped
        self._durable_seq = self._written_seq
        return dropped

    def _offset_after(self, upto: int) -> tuple[int, int]:
        """The offset of the first record above `upto`, and how many records precede it."""
        off, dropped = HEADER_SIZE, 0
        with mmap.mmap(self._fd, self._size, access=mmap.ACCESS_READ) as data:
            while off < self._size:
                length, _kind, seq = _RECORD.unpack_from(data, off)
                if seq > upto:
                    break
                off += RECORD_OVERHEAD + length
                dropped += 1
        return off, dropped

    def _write_compacted(self, base: int, cut: int) -> int:
        flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self._tmp, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _write_all(fd, _header(base))
            off = cut
            while off < self._size:
                chunk = os.pread(self._fd, min(_COPY_CHUNK, self._size - off), off)
                if not chunk:  # pragma: no cover - the file shrank under us
                    raise OSError(errno.EIO, "journal shorter than its recorded size")
                _write_all(fd, chunk)
                off += len(chunk)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        return fd

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Flush, fsync (unless the policy is "os"), stop the interval thread, cut the
        reserve off, unlock and close. Idempotent."""
        if self._fd < 0:
            return
        try:
            if self._broken is None:
                self.flush()
                if self.policy != "os":
                    self.sync()
        finally:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            with self._lock:
                if self._map is not None:
                    self._map.close()
                    self._map = None
                self._capacity = 0  # an append after close fails to reserve: one line
                with contextlib.suppress(OSError):  # zeros after the end are read as none
                    os.ftruncate(self._fd, self._size)
                os.close(self._fd)  # releases the flock
                self._fd = -1

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


_OPEN_TOKEN = object()


def _tmp_path(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def _check_free(path: Path, min_free_bytes: int) -> None:
    try:
        st = os.statvfs(path.parent)
    except OSError as exc:
        raise JournalError(f"journal {path}: cannot read its filesystem: {exc.strerror}") from None
    free = st.f_bavail * st.f_frsize
    if free < min_free_bytes:
        raise JournalWriteError(
            f"journal {path}: disk full ({free} bytes free, {min_free_bytes} needed)",
            errno.ENOSPC,
        )


def _create(path: Path, tmp: Path) -> None:
    """A new journal: its header written to a temporary file, fsynced and renamed into
    place, so the journal file is never seen without a whole header."""
    try:
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600
        )
        try:
            _write_all(fd, _header(0))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise JournalWriteError(
            f"journal {path}: cannot create: {_reason(exc)}", exc.errno
        ) from None


def _read_header(data: mmap.mmap, size: int, path: Path) -> int:
    """The base sequence, after checking the magic, version and checksum."""
    if size < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise JournalFormatError(
            f"journal {path}: not an order journal (starts with {bytes(data[:8])!r}, "
            f"expected {MAGIC!r}); move it away or point journal_path elsewhere"
        )
    if size < HEADER_SIZE:
        raise JournalCorrupt(f"journal {path}: header cut short ({size} of {HEADER_SIZE} bytes)")
    _magic, version, header_size, base_seq, crc = _HEADER.unpack_from(data, 0)
    if version > VERSION:
        raise JournalFormatError(
            f"journal {path}: format version {version} is newer than this engine reads "
            f"({VERSION}); run the newer engine or move the file away"
        )
    if version < 1 or header_size != HEADER_SIZE or crc != zlib.crc32(data[: HEADER_SIZE - 4]):
        raise JournalCorrupt(f"journal {path}: header is corrupt (bad checksum or size)")
    return int(base_seq)


def _nonzero(data: mmap.mmap, start: int, end: int) -> bool:
    """Whether any byte in data[start:end] is not zero (read a chunk at a time)."""
    for off in range(start, end, _COPY_CHUNK):
        if data[off : min(end, off + _COPY_CHUNK)].count(0) != min(end - off, _COPY_CHUNK):
            return True
    return False


def _record_at(data: mmap.mmap, off: int, size: int, lo: int, hi: int) -> int:
    """The end offset of a whole, valid record at `off` whose sequence is in (lo, hi],
    else -1."""
    if off + RECORD_OVERHEAD > size:
        return -1
    length, _kind, seq = _RECORD.unpack_from(data, off)
    end: int = off + RECORD_OVERHEAD + length
    if length > MAX_PAYLOAD or end > size or not lo < seq <= hi:
        return -1
    body_end = end - _CRC.size
    if _CRC.unpack_from(data, body_end)[0] != zlib.crc32(data[off:body_end]):
        return -1
    return end


def _scan(data: mmap.mmap, size: int, base_seq: int, path: Path) -> _Scan:
    off, last, records = HEADER_SIZE, base_seq, 0
    while off < size:
        end = _record_at(data, off, size, last, last + 1)  # sequences have no gaps
        if end < 0:
            later = _resync(data, off, size, last)
            if later >= 0:
                raise JournalCorrupt(
                    f"journal {path}: corrupt record at byte {off} with intact records after "
                    f"it (from byte {later}): refusing to start; keep a copy, then cut the file "
                    f"at byte {off} to drop it and everything after"
                )
            break
        last = _RECORD.unpack_from(data, off)[2]
        records += 1
        off = end
    return _Scan(last, off, records)


def _resync(data: mmap.mmap, bad: int, size: int, last: int) -> int:
    """The offset of a valid record after the bad one at `bad` (its sequence above `last`
    and plausible for the bytes between), else -1: a bad record with nothing valid after it
    is a torn tail; one with intact records after it is corruption in the middle."""
    span = (size - bad) // RECORD_OVERHEAD + 1
    unpack = _RECORD.unpack_from
    for off in range(bad + 1, size - RECORD_OVERHEAD + 1):
        seq = unpack(data, off)[2]
        if last < seq <= last + span and _record_at(data, off, size, last, last + span) >= 0:
            return off
    return -1


def _replay(data: mmap.mmap, path: Path, after_seq: int) -> Iterator[tuple[int, int, bytes]]:
    with data:
        off, size = HEADER_SIZE, len(data)
        unpack, crc_of = _RECORD.unpack_from, _CRC.unpack_from
        while off < size:
            length, kind, seq = unpack(data, off)
            body_end = off + RECORD_HEAD + length
            if body_end + 4 > size or crc_of(data, body_end)[0] != zlib.crc32(data[off:body_end]):
                raise JournalCorrupt(
                    f"journal {path}: record at byte {off} changed on disk since open"
                )
            if seq > after_seq:
                yield seq, kind, data[off + RECORD_HEAD : body_end]
            off = body_end + 4


# ---------------------------------------------------------------------- OMS record payloads

INTENT = 1  # an order request about to be sent
CHANGE = 2  # an order's state change or fill, as applied


class IntentAction(enum.Enum):
    __hash__ = object.__hash__

    NEW = "new"
    CANCEL = "cancel"
    AMEND = "amend"


class IntentRecord(NamedTuple):
    """An INTENT: written before the request goes out. A cancel carries the order's
    price and quantity as known (or 0); an amend the new price and new total quantity."""

    client_order_id: str
    venue: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    time_in_force: TimeInForce
    price_ticks: int
    qty_lots: int
    ts_ns: int
    action: IntentAction


class ChangeRecord(NamedTuple):
    """A CHANGE: an order's new state, with the fill that caused it if any (`fill_lots` >
    0, `trade_id` set). It names its venue, symbol and side, so it rebuilds its fill and
    event rows alone, after its INTENT has been compacted away. `cum_lots` is -1 when the
    venue did not say; `fee` is exact decimal, positive = paid."""

    client_order_id: str
    venue: str
    symbol: str
    side: OrderSide
    status: OrderStatus
    cum_lots: int
    fill_lots: int
    fill_price_ticks: int
    trade_id: str
    fee: Decimal
    fee_asset: str
    venue_order_id: str
    reason: str
    ts_ns: int  # the venue's time of the change or trade
    recv_ns: int  # when we received it


OrderEvent = IntentRecord | ChangeRecord

# Payload encoding: an orjson array, fields in record order, enums as their values, the fee
# as decimal text. Measured against struct packing (bench: storage.journal_encode) it is
# about twice as fast both ways in CPython, and any JSON tool reads it. A new layout is a new
# record kind, never a change to these two.
_dumps = orjson.dumps
# enum members to their values by dictionary (the members hash by identity): Enum.value is a
# Python property, and orjson reads it through Python, ~0.3 us per record more
_SIDE: dict[OrderSide, int] = {s: int(s) for s in OrderSide}
_VALUE: dict[enum.Enum, str] = {
    m: m.value for e in (OrderType, TimeInForce, OrderStatus, IntentAction) for m in e
}


def encode_intent(  # noqa: PLR0917 - the record's fields, in its order
    client_order_id: str,
    venue: str,
    symbol: str,
    side: OrderSide,
    order_type: OrderType,
    time_in_force: TimeInForce,
    price_ticks: int,
    qty_lots: int,
    ts_ns: int,
    action: IntentAction,
) -> bytes:
    """The INTENT payload (hot path: no intermediate record object). The enums must be
    members (TypeError otherwise); the other fields are not checked here, `decode` does."""
    try:
        fields = (
            client_order_id, venue, symbol, _SIDE[side], _VALUE[order_type],
            _VALUE[time_in_force], price_ticks, qty_lots, ts_ns, _VALUE[action],
        )  # fmt: skip
    except KeyError as exc:
        raise TypeError(f"encode_intent: {exc.args[0]!r} is not an order enum member") from None
    return _dumps(fields)


def encode_change(  # noqa: PLR0917 - the record's fields, in its order
    client_order_id: str,
    venue: str,
    symbol: str,
    side: OrderSide,
    status: OrderStatus,
    cum_lots: int,
    fill_lots: int,
    fill_price_ticks: int,
    trade_id: str,
    fee: Decimal,
    fee_asset: str,
    venue_order_id: str,
    reason: str,
    ts_ns: int,
    recv_ns: int,
) -> bytes:
    """The CHANGE payload; `fee` must be a finite Decimal, the enums members."""
    if type(fee) is not Decimal or not fee.is_finite():
        raise ValueError(f"encode_change: fee must be a finite Decimal, got {fee!r}")
    try:
        fields = (
            client_order_id, venue, symbol, _SIDE[side], _VALUE[status], cum_lots, fill_lots,
            fill_price_ticks, trade_id, str(fee), fee_asset, venue_order_id, reason, ts_ns,
            recv_ns,
        )  # fmt: skip
    except KeyError as exc:
        raise TypeError(f"encode_change: {exc.args[0]!r} is not an order enum member") from None
    return _dumps(fields)


def encode_order_event(event: OrderEvent) -> tuple[int, bytes]:
    """`(kind, payload)` of a record, for `journal.append(*encode_order_event(event))`."""
    if isinstance(event, IntentRecord):
        return INTENT, encode_intent(*event)
    if isinstance(event, ChangeRecord):
        return CHANGE, encode_change(*event)
    raise TypeError(f"not an order event: {event!r}")


_MAX64 = (1 << 63) - 1  # orjson reads up to 2**64 - 1; below -2**63 is a float
_SIDE_OF: dict[int, OrderSide] = {int(s): s for s in OrderSide}
_TYPE_OF: dict[str, OrderType] = {m.value: m for m in OrderType}
_TIF_OF: dict[str, TimeInForce] = {m.value: m for m in TimeInForce}
_STATUS_OF: dict[str, OrderStatus] = {m.value: m for m in OrderStatus}
_ACTION_OF: dict[str, IntentAction] = {m.value: m for m in IntentAction}
# the JSON types of each field, in order (orjson gives int for integers within 64 bits)
_INTENT_TYPES = (str, str, str, int, str, str, int, int, int, str)
_CHANGE_TYPES = (str, str, str, int, str, int, int, int, str, str, str, str, str, int, int)
_new_tuple = tuple.__new__


def decode_order_event(kind: int, payload: bytes | memoryview) -> OrderEvent:
    """The record of an INTENT or CHANGE payload. Raises ValueError for another kind or a
    payload that is not one (with its reason)."""
    try:
        row = orjson.loads(payload)
        if kind == INTENT:
            if type(row) is not list or tuple(map(type, row)) != _INTENT_TYPES:
                raise ValueError(f"fields {row!r} are not those of an INTENT")
            cid, venue, symbol, side, otype, tif, price, qty, ts, action = row
            if not (price <= _MAX64 and qty <= _MAX64 and ts <= _MAX64):
                raise ValueError("an integer beyond int64")
            return _new_tuple(
                IntentRecord,
                (cid, venue, symbol, _SIDE_OF[side], _TYPE_OF[otype], _TIF_OF[tif], price, qty,
                 ts, _ACTION_OF[action]),
            )  # fmt: skip
        if kind == CHANGE:
            if type(row) is not list or tuple(map(type, row)) != _CHANGE_TYPES:
                raise ValueError(f"fields {row!r} are not those of a CHANGE")
            (cid, venue, symbol, side, status, cum, fill, fill_px, trade_id, fee, fee_asset,
             venue_oid, reason, ts, recv) = row  # fmt: skip
            if not (cum <= _MAX64 and fill <= _MAX64 and fill_px <= _MAX64 and ts <= _MAX64
                    and recv <= _MAX64):  # fmt: skip
                raise ValueError("an integer beyond int64")
            fee_value = Decimal(fee)
            if not fee_value.is_finite():
                raise ValueError(f"fee {fee!r} is not finite")
            return _new_tuple(
                ChangeRecord,
                (cid, venue, symbol, _SIDE_OF[side], _STATUS_OF[status], cum, fill, fill_px,
                 trade_id, fee_value, fee_asset, venue_oid, reason, ts, recv),
            )  # fmt: skip
    except (orjson.JSONDecodeError, ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise ValueError(f"journal record of kind {kind}: not an order event ({exc!r})") from None
    raise ValueError(f"journal record of kind {kind}: not an order event kind (1 or 2)")
