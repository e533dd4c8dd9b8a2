"""Where notifications go. A sink formats and sends one notification and raises `SinkError`
when it could not; retrying, timing out and counting are the dispatcher's job.

The HTTP sinks share one shape (a JSON POST to a URL that is itself a secret): the generic
webhook gets the whole notification, Slack's incoming webhook `{"text": ...}`, Telegram's
`sendMessage` `{"chat_id": ..., "text": ...}` at `<api_url>/bot<TOKEN>/sendMessage`.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import aiohttp

from engine.notify.message import Notification
from engine.notify.redact import Redactor, mask_url

log = logging.getLogger("engine.notify")

_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}


class SinkError(Exception):
    """A sink could not deliver; the message never carries a secret."""


class Sink(Protocol):
    name: str
    target: str  # where it sends, safe to log (URLs masked)
    secrets: tuple[str, ...]  # what the dispatcher's log lines must never show

    async def send(self, note: Notification) -> None: ...

    async def close(self) -> None: ...


class LogSink:
    """The engine's own log: always there, never fails."""

    name = "log"
    target = "engine log"
    secrets: tuple[str, ...] = ()

    async def send(self, note: Notification) -> None:
        log.log(
            _LEVELS.get(note.severity, logging.CRITICAL),
            "alert: %s",
            note.line(),
            # nested: a field named like a LogRecord attribute must not clash with it; not
            # "*_key", which the log redaction takes for a credential
            extra={"notification": note.key, "count": note.count, "alert": dict(note.fields)},
        )

    async def close(self) -> None:
        return None


class _HttpSink:
    """A JSON POST per notification over one keep-alive session, made on first use."""

    name = "http"

    def __init__(self, url: str, *, secrets: tuple[str, ...] = ()) -> None:
        self._url = url
        self.target = mask_url(url)
        self.secrets = (url, *secrets)
        self._redact = Redactor(self.secrets)
        self._session: aiohttp.ClientSession | None = None

    def payload(self, note: Notification) -> dict[str, Any]:
        raise NotImplementedError

    async def send(self, note: Notification) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(self._url, json=self.payload(note)) as resp:
                if resp.status >= 300:
                    body = (await resp.text())[:200]
                    raise SinkError(
                        f"{self.name} {self.target}: HTTP {resp.status} {self._redact.text(body)}"
                    )
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            # aiohttp's messages quote the URL, token and all
            detail = self._redact.text(f"{type(exc).__name__}: {exc}")
            raise SinkError(f"{self.name} {self.target}: {detail}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class WebhookSink(_HttpSink):
    """Generic webhook: the notification as JSON (key, severity, title, text, ts_ns, count,
    fields)."""

    name = "webhook"

    def payload(self, note: Notification) -> dict[str, Any]:
        return note.as_dict()


class SlackSink(_HttpSink):
    """Slack-style incoming webhook."""

    name = "slack"

    def payload(self, note: Notification) -> dict[str, Any]:
        return {"text": note.line()}


class TelegramSink(_HttpSink):
    """Telegram Bot API `sendMessage`; `api_url` is configurable so tests can point it at a
    local receiver."""

    name = "telegram"

    def __init__(self, api_url: str, token: str, chat_id: str) -> None:
        super().__init__(f"{api_url.rstrip('/')}/bot{token}/sendMessage", secrets=(token,))
        self.chat_id = chat_id

    def payload(self, note: Notification) -> dict[str, Any]:
        return {"chat_id": self.chat_id, "text": note.line()}
