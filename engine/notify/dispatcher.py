"""The notifier: `publish` is a non-blocking call from engine code; one dispatcher task sends
each notification to every sink concurrently, each under its own timeout on the engine
clock. The queue is bounded: when it is full the notification is dropped and counted, never
waited for, so a slow or failing sink costs the engine nothing but a counter."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from engine.clock import NS_PER_SECOND, Clock
from engine.notify.message import Notification, severity_rank
from engine.notify.redact import Redactor
from engine.notify.sinks import Sink
from engine.notify.storm import StormFilter

log = logging.getLogger("engine.notify")

T = TypeVar("T")


@dataclass(slots=True)
class SinkCounters:
    sent: int = 0
    failed: int = 0
    timeouts: int = 0


@dataclass(slots=True)
class NotifierCounters:
    published: int = 0
    below_severity: int = 0  # under min_severity: not sent anywhere
    queued: int = 0
    dropped: int = 0  # the queue was full
    sinks: dict[str, SinkCounters] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "below_severity": self.below_severity,
            "queued": self.queued,
            "dropped": self.dropped,
            "sinks": {
                name: {"sent": c.sent, "failed": c.failed, "timeouts": c.timeouts}
                for name, c in self.sinks.items()
            },
        }


@dataclass(frozen=True, slots=True)
class NotifierOptions:
    queue_size: int = 1000
    timeout_s: float = 5.0  # per sink and notification
    storm_window_s: float = 60.0  # 0 = every repeat is sent
    min_severity: str = "info"


async def within(clock: Clock, awaitable: Awaitable[T], timeout_ns: int) -> tuple[bool, T | None]:
    """(True, result) when `awaitable` finishes within `timeout_ns` of the engine clock, else
    (False, None) with it cancelled; its exception propagates."""
    task = asyncio.ensure_future(awaitable)
    timer = asyncio.ensure_future(clock.sleep_ns(timeout_ns))
    try:
        await asyncio.wait((task, timer), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # our caller is cancelled: so is what it waited for
        task.cancel()
        raise
    finally:
        timer.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return False, None
    return True, task.result()


class Notifier:
    def __init__(
        self,
        sinks: Sequence[Sink],
        clock: Clock,
        options: Callable[[], NotifierOptions] = NotifierOptions,
    ) -> None:
        self.sinks = list(sinks)
        self.clock = clock
        self._options = options  # read per notification: timeouts and storm window are hot
        self.counters = NotifierCounters(sinks={s.name: SinkCounters() for s in self.sinks})
        self.redact = Redactor(secret for sink in self.sinks for secret in sink.secrets)
        self.storm = StormFilter(
            clock, lambda: int(self._options().storm_window_s * NS_PER_SECOND), self._enqueue
        )
        self._queue: asyncio.Queue[Notification] = asyncio.Queue(options().queue_size)
        self._task: asyncio.Task[None] | None = None

    def publish(self, note: Notification) -> bool:
        """Hand `note` over without waiting; False when filtered, held for a summary or
        dropped (each counted)."""
        self.counters.published += 1
        if severity_rank(note.severity) < severity_rank(self._options().min_severity):
            self.counters.below_severity += 1
            return False
        if not self.storm.admit(note):
            return False
        return self._enqueue(note)

    def _enqueue(self, note: Notification) -> bool:
        try:
            self._queue.put_nowait(note)
        except asyncio.QueueFull:
            self.counters.dropped += 1
            return False
        self.counters.queued += 1
        return True

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="notifier")
            log.info(
                "notifications on",
                extra={"sinks": [f"{s.name} -> {s.target}" for s in self.sinks]},
            )

    async def stop(self) -> None:
        """Send what is queued (for at most one sink timeout), then close the sinks."""
        self.storm.close()
        if self._task is not None:
            timeout_ns = int(self._options().timeout_s * NS_PER_SECOND)
            await within(self.clock, self._queue.join(), timeout_ns)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for sink in self.sinks:
            try:
                await sink.close()
            except Exception as exc:  # closing is best effort; say why without the secret
                log.warning("notify sink close failed: %s", self.redact.text(exc))

    async def _run(self) -> None:
        while True:
            note = await self._queue.get()
            try:
                await asyncio.gather(*(self._send(sink, note) for sink in self.sinks))
            finally:
                self._queue.task_done()

    async def _send(self, sink: Sink, note: Notification) -> None:
        counters = self.counters.sinks[sink.name]
        timeout_ns = int(self._options().timeout_s * NS_PER_SECOND)
        try:
            done, _ = await within(self.clock, sink.send(note), timeout_ns)
        except Exception as exc:  # a sink's bug or refusal: counted, logged, never raised
            counters.failed += 1
            log.warning(
                "notification not delivered",
                extra={"sink": sink.name, "error": self.redact.text(exc), "notification": note.key},
            )
            return
        if not done:
            counters.timeouts += 1
            log.warning(
                "notification timed out",
                extra={"sink": sink.name, "target": sink.target, "notification": note.key},
            )
            return
        counters.sent += 1
