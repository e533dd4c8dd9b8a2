"""Logging: JSON lines to a rotating file, a readable console, secrets redacted, no disk I/O
on the event loop.

Callers log through the standard `logging` API. A `QueueHandler` (in the caller's thread)
redacts the record and enqueues it; a `QueueListener` thread formats and writes it, so a slow
disk never stalls a quote. Structured fields go in `extra={...}` and become JSON keys.

Redaction: any field, nested key or `key=value` fragment of the message whose name looks
like a credential (key, secret, passphrase, signature, password, token) is replaced by
`***` before the record leaves the calling thread — formatting code never sees the value.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

REDACTED = "***"

# Names that carry credentials. "key" alone counts (api key), "*_env" names of variables do not.
SECRET_NAME = re.compile(
    r"(^|_|-)(api_?key|apikey|key|secret|secret_?key|api_?secret|passphrase|signature|sign"
    r"|password|passwd|token|private_?key)$",
    re.IGNORECASE,
)
# key=value / "key": "value" fragments inside free text (query strings, JSON bodies, headers).
_SECRET_FRAGMENT = re.compile(
    r"""(?P<name>[A-Za-z0-9_-]*(?:api[_-]?key|secret|passphrase|signature|sign|password|token|"""
    r"""private[_-]?key|KEY|ACCESS-KEY|ACCESS-SIGN|ACCESS-PASSPHRASE|X-MBX-APIKEY))"""
    r"""(?P<sep>["']?\s*[:=]\s*["']?)(?P<value>[^&\s"',;}]+)""",
    re.IGNORECASE,
)

_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def is_secret_name(name: str) -> bool:
    return not name.lower().endswith("_env") and bool(SECRET_NAME.search(name))


def redact_text(text: str) -> str:
    return _SECRET_FRAGMENT.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", text)


def redact(value: Any) -> Any:
    """A copy of `value` with credential-named fields masked (dicts, lists, strings)."""
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_name(k) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}


class RedactingQueueHandler(logging.handlers.QueueHandler):
    """Redacts in the caller's thread, then hands the record to the writer thread."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        message = redact_text(record.getMessage())
        if record.exc_info:
            # format the traceback here: exc_info objects must not cross threads
            message = (
                f"{message}\n{redact_text(logging.Formatter().formatException(record.exc_info))}"
            )
        out = logging.makeLogRecord(record.__dict__)
        out.msg, out.args, out.exc_info, out.exc_text = message, None, None, None
        for name, value in extra_fields(record).items():
            setattr(out, name, REDACTED if is_secret_name(name) else redact(value))
        return out


def _json_default(value: Any) -> str:
    return str(value)


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: ts (ns since epoch), level, logger, msg, then extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": int(record.created * 1e9),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **extra_fields(record),
        }
        return orjson.dumps(doc, default=_json_default).decode()


class ConsoleFormatter(logging.Formatter):
    """`time level logger: message key=value ...` for people."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = extra_fields(record)
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return line


class LoggingHandle:
    """The running logging setup: change the level at run time, stop to flush."""

    def __init__(self, listener: logging.handlers.QueueListener, handler: logging.Handler) -> None:
        self._listener = listener
        self._handler = handler
        self.log_file: Path | None = None

    def set_level(self, level: str) -> None:
        logging.getLogger().setLevel(level.upper())

    def stop(self) -> None:
        """Drain the queue to disk and detach (idempotent)."""
        root = logging.getLogger()
        if self._handler in root.handlers:
            root.removeHandler(self._handler)
            self._listener.stop()
            for h in self._listener.handlers:
                h.close()


def setup_logging(
    level: str = "info",
    log_dir: str | Path | None = "var/log",
    *,
    file_name: str = "engine.jsonl",
    max_bytes: int = 50 * 1024 * 1024,
    backups: int = 5,
    console: bool = True,
) -> LoggingHandle:
    """Install the queue handler on the root logger; returns the handle to stop it."""
    sinks: list[logging.Handler] = []
    log_file = None
    if log_dir is not None:
        log_file = Path(log_dir) / file_name
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_sink = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        file_sink.setFormatter(JsonLineFormatter())
        sinks.append(file_sink)
    if console:
        console_sink = logging.StreamHandler(sys.stderr)
        console_sink.setFormatter(ConsoleFormatter())
        sinks.append(console_sink)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = RedactingQueueHandler(records)
    listener = logging.handlers.QueueListener(records, *sinks, respect_handler_level=True)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level.upper())
    listener.start()
    handle = LoggingHandle(listener, handler)
    handle.log_file = log_file
    return handle
