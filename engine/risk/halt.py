"""The emergency stop's persisted state: `HaltStore` (is trading halted, why, since when, by
whom) and `PidFile` (which engine process is running, so the `kill` command can signal it).

Both live in `system.state_dir`:

    halt.json    the current halt; absent = not halted. Written atomically (temporary file,
                 fsync, rename, fsync of the directory), so a crash leaves the old record or
                 the new one, never a torn one.
    halt.log     the audit trail: one JSON line per halt and per clear, appended and fsynced.
    engine.pid   the running engine's process id, as text.

Fail safe: a halt.json that exists but cannot be read or understood means HALTED, with a
reason naming the problem, never ACTIVE. Only an operator's clear (`python -m engine kill
--reset`) removes it.

This module knows files and processes only; halting the risk core and cancelling orders is
the caller's job (engine/app.py, engine/risk/manager.py).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import stat
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HALT_FILE = "halt.json"
HALT_LOG = "halt.log"
PID_FILE = "engine.pid"
FORMAT_VERSION = 1

# who or what triggered a halt (or a clear)
SOURCE_LIMIT = "limit"  # a risk limit breached
SOURCE_SIGNAL = "signal"  # SIGUSR1 sent to the engine
SOURCE_CLI = "cli"  # `python -m engine kill`
SOURCE_API = "api"  # the control API
SOURCE_OPERATOR = "operator"  # an operator's reset
SOURCE_STORE = "store"  # the store itself: halt.json unreadable, halted to be safe
SOURCE_ALERT = "alert"  # an alert rule's action (docs/ALERTS.md)
SOURCES = (
    SOURCE_LIMIT, SOURCE_SIGNAL, SOURCE_CLI, SOURCE_API, SOURCE_OPERATOR, SOURCE_STORE,
    SOURCE_ALERT,
)  # fmt: skip

# what a process's command line must mention to be taken for an engine
ENGINE_MARK = b"engine"


class StateFileError(Exception):
    """A state file could not be written or removed (the message names the file and why)."""


class EngineRunningError(StateFileError):
    """Another live engine process holds the pid file."""

    def __init__(self, message: str, pid: int) -> None:
        super().__init__(message)
        self.pid = pid


@dataclass(frozen=True, slots=True)
class HaltRecord:
    """One halt (halted=True) or clear (halted=False). `at_ns` is ns since the Unix epoch;
    `by` says who: user@host, or the engine's pid."""

    halted: bool
    reason: str
    source: str
    at_ns: int
    by: str

    def __post_init__(self) -> None:
        if type(self.halted) is not bool:
            raise TypeError(f"HaltRecord.halted must be a bool, got {self.halted!r}")
        for name in ("reason", "source", "by"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"HaltRecord.{name} must be a str, got {getattr(self, name)!r}")
        if self.source not in SOURCES:
            raise ValueError(f"HaltRecord.source must be one of {SOURCES}, got {self.source!r}")
        if type(self.at_ns) is not int or self.at_ns < 0:
            raise ValueError(f"HaltRecord.at_ns must be an int >= 0, got {self.at_ns!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def operator_name() -> str:
    """`user@host` of this process (for `HaltRecord.by`); the uid when it has no name."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: a bare container
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    """`path` holds `data` or its old content, whatever happens (mode 0644)."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        try:
            os.fchmod(fd, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


class HaltStore:
    """The persisted halt of one engine (`state_dir/halt.json`) and its audit trail
    (`state_dir/halt.log`).

    Guarantees: `load()` never reports "not halted" for a file that exists but cannot be
    read; `halt()` has persisted the record when it returns; `clear()` has removed it. Writes
    from several processes (the engine and the `kill` command) are safe: the last rename
    wins, and each audit line is one append.
    """

    __slots__ = ("log_path", "path", "state_dir")

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / HALT_FILE
        self.log_path = self.state_dir / HALT_LOG

    def load(self) -> HaltRecord | None:
        """The current halt, or None when not halted (no halt.json). A halt.json that cannot
        be read or parsed gives a HALTED record (source "store") whose reason names the
        problem."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return self._unreadable(exc.strerror or type(exc).__name__)
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # bad UTF-8, bad JSON, absurd nesting
            return self._unreadable(f"not valid JSON: {exc}")
        if not isinstance(doc, dict):
            return self._unreadable("not a JSON object")
        if doc.get("version") != FORMAT_VERSION:
            return self._unreadable(f"unknown version {doc.get('version')!r}")
        try:
            record = HaltRecord(
                halted=doc["halted"],
                reason=doc["reason"],
                source=doc["source"],
                at_ns=doc["at_ns"],
                by=doc["by"],
            )
        except KeyError as exc:
            return self._unreadable(f"missing field {exc.args[0]!r}")
        except (TypeError, ValueError) as exc:
            return self._unreadable(str(exc))
        return record if record.halted else None

    def _unreadable(self, problem: str) -> HaltRecord:
        try:
            at_ns = self.path.stat().st_mtime_ns
        except OSError:
            at_ns = 0
        return HaltRecord(
            halted=True,
            reason=(
                f"{self.path} is unreadable ({problem}): halted to be safe until an operator "
                "resets it (python -m engine kill --reset)"
            ),
            source=SOURCE_STORE,
            at_ns=max(at_ns, 0),
            by="halt store",
        )

    def halt(self, reason: str, source: str, at_ns: int, by: str) -> HaltRecord:
        """Persist a halt (replacing any current one) and append it to the audit log.

        Raises ValueError/TypeError for a bad field, StateFileError when the record could not
        be written; when only the audit line failed, the halt is persisted and the error says
        so."""
        record = HaltRecord(halted=True, reason=reason, source=source, at_ns=at_ns, by=by)
        doc = {"version": FORMAT_VERSION, **record.as_dict()}
        data = json.dumps(doc, ensure_ascii=True, indent=1).encode("ascii") + b"\n"
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            _atomic_write(self.path, data)
        except OSError as exc:
            raise StateFileError(f"could not persist the halt in {self.path}: {exc}") from exc
        self._audit("halt", record, None, done=f"halt persisted in {self.path}")
        return record

    def clear(
        self, by: str, at_ns: int, *, source: str = SOURCE_OPERATOR, reason: str = "reset"
    ) -> HaltRecord | None:
        """Remove the halt and append the clear to the audit log. Returns the halt that was
        cleared (an unreadable file's fail-safe record included), or None when there was
        none; without a halt.json nothing is logged."""
        clear = HaltRecord(halted=False, reason=reason, source=source, at_ns=at_ns, by=by)
        previous = self.load()
        try:
            self.path.unlink()
        except FileNotFoundError:
            if previous is None:
                return None
        except OSError as exc:
            raise StateFileError(f"could not remove the halt {self.path}: {exc}") from exc
        _fsync_dir(self.state_dir)
        self._audit("clear", clear, previous, done=f"halt removed from {self.path}")
        return previous

    def _audit(
        self, event: str, record: HaltRecord, previous: HaltRecord | None, *, done: str
    ) -> None:
        entry: dict[str, Any] = {"event": event, **record.as_dict()}
        if event == "clear":
            entry["previous"] = previous.as_dict() if previous is not None else None
        line = json.dumps(entry, ensure_ascii=True, separators=(",", ":")).encode("ascii")
        try:
            fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line + b"\n")  # one write: lines of two writers never interleave
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StateFileError(
                f"{done}, but the audit log {self.log_path} could not be appended: {exc}"
            ) from exc


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    return True


def _cmdline(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def is_engine_process(pid: int) -> bool:
    """Whether `pid` is a live process whose command line mentions the engine (a pid file
    left by a crash may name a pid since reused by something else: that one is not ours)."""
    if pid <= 0 or not _pid_alive(pid):
        return False
    cmdline = _cmdline(pid)
    return cmdline is not None and ENGINE_MARK in cmdline


class PidFile:
    """`state_dir/engine.pid`: the running engine's process id.

    The engine calls `write()` once its SIGUSR1/SIGUSR2 handlers are installed (a signal
    that arrives before them would kill it: their default action) and `remove()` before it
    removes them. A pid file whose process is gone, or is not an engine, is stale and is
    replaced.
    """

    __slots__ = ("_written", "path", "state_dir")

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / PID_FILE
        self._written: int | None = None

    def read(self) -> int | None:
        """The pid in the file, live or not; None without a file or a number in it."""
        try:
            text = self.path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def running_pid(self) -> int | None:
        """The pid of the live engine that holds the file, or None."""
        pid = self.read()
        return pid if pid is not None and is_engine_process(pid) else None

    def write(self, pid: int | None = None) -> None:
        """Claim the file for `pid` (default: this process).

        Raises EngineRunningError if another live engine holds it, StateFileError if it
        cannot be written."""
        pid = os.getpid() if pid is None else pid
        if type(pid) is not int or pid <= 0:
            raise ValueError(f"pid must be a positive int, got {pid!r}")
        holder = self.running_pid()
        if holder is not None and holder != pid:
            raise EngineRunningError(
                f"another engine (pid {holder}) is running with state directory "
                f"{self.state_dir} ({self.path}); stop it first",
                holder,
            )
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            _atomic_write(self.path, f"{pid}\n".encode("ascii"))
        except OSError as exc:
            raise StateFileError(f"could not write the pid file {self.path}: {exc}") from exc
        self._written = pid

    def remove(self) -> None:
        """Remove the file if it still holds the pid this object wrote (never another
        engine's)."""
        if self._written is None or self.read() != self._written:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._written = None
