"""What an alert may do besides notifying, through callables the composition root hands in,
and how an action is retried.

An attempt fails when its callable raises or answers False (or an awaitable that does). A
recovery (reconnect a feed, resync a book, restart a venue session) has also failed when
its alert is still firing once the backoff has passed: the alert resolving is what ends it.
Attempts are spaced by exponential backoff on the engine clock; after `retries` more
attempts the run is exhausted and the owner escalates."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass

from engine.clock import Clock, TimerHandle

log = logging.getLogger("engine.alerts")

RECOVERIES = frozenset({"reconnect_feed", "resync_book", "restart_venue"})

Action = Callable[[str], object]


@dataclass(frozen=True, slots=True)
class Actions:
    """pause(reason), emergency_stop(reason): trading-wide. reconnect_feed(feed key),
    resync_book(feed key): "venue:SYMBOL". restart_venue(venue). Each may return an
    awaitable; None = not available here (an attempt then fails, and escalates)."""

    pause: Action | None = None
    emergency_stop: Action | None = None
    reconnect_feed: Action | None = None
    resync_book: Action | None = None
    restart_venue: Action | None = None


def argument(action: str, subject: str, reason: str) -> str:
    """What the action's callable is called with."""
    if action == "restart_venue":
        return subject.split(":", 1)[0]  # a feed key names its venue first
    if action in RECOVERIES:
        return subject
    return reason


@dataclass(frozen=True, slots=True)
class Backoff:
    retries: int  # attempts after the first
    first_ns: int
    max_ns: int

    def delay_ns(self, attempt: int) -> int:
        """Wait after attempt number `attempt` (1-based) before judging it."""
        step: int = self.first_ns << min(attempt - 1, 40)
        return min(step, self.max_ns)


class ActionRun:
    """Attempts of one action for one firing alert, until it succeeds, is cancelled (the
    alert resolved) or is exhausted (`on_exhausted(attempts, last_error)`)."""

    def __init__(  # noqa: PLR0917 - the action, its argument, and how it is retried
        self,
        clock: Clock,
        name: str,
        call: Action | None,
        arg: str,
        backoff: Backoff,
        on_exhausted: Callable[[int, str], None],
        spawn: Callable[[asyncio.Future[object]], None],
    ) -> None:
        self.clock = clock
        self.name = name
        self._call = call
        self._arg = arg
        self.backoff = backoff
        self._on_exhausted = on_exhausted
        self._spawn = spawn
        self.recovery = name in RECOVERIES
        self.attempts = 0
        self.failures = 0
        self.last_error = ""
        self.done = False
        self._ok: bool | None = None  # the last attempt's own answer (None: still running)
        self._timer: TimerHandle | None = None

    def start(self) -> None:
        self._attempt()

    def cancel(self) -> None:
        self.done = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _attempt(self) -> None:
        self.attempts += 1
        self._ok = None
        if self._call is None:
            self._failed("not available in this engine")
        else:
            try:
                outcome = self._call(self._arg)
            except Exception as exc:
                self._failed(f"{type(exc).__name__}: {exc}")
            else:
                if inspect.isawaitable(outcome):
                    future = asyncio.ensure_future(outcome)
                    future.add_done_callback(self._finished)
                    self._spawn(future)
                else:
                    self._answer(outcome)
        if not self.done:
            self._timer = self.clock.call_later(self.backoff.delay_ns(self.attempts), self._judge)

    def _finished(self, future: asyncio.Future[object]) -> None:
        if self.done:
            return  # the alert resolved or the engine stops: no verdict needed
        if future.cancelled():
            self._failed("cancelled")
        elif future.exception() is not None:
            exc = future.exception()
            self._failed(f"{type(exc).__name__}: {exc}")
        else:
            self._answer(future.result())

    def _answer(self, outcome: object) -> None:
        if outcome is False:
            self._failed("answered False")
        else:
            self._ok = True

    def _failed(self, error: str) -> None:
        self._ok = False
        self.failures += 1
        self.last_error = error
        extra = {"action": self.name, "target": self._arg, "attempt": self.attempts}
        log.warning("alert action failed", extra={**extra, "error": error})

    def _judge(self) -> None:
        self._timer = None
        if self.done:
            return
        if self._ok and not self.recovery:
            self.done = True  # pause / emergency stop took: nothing more to do
            return
        if self.attempts > self.backoff.retries:
            self.done = True
            self._on_exhausted(self.attempts, self.last_error or "the alert is still firing")
            return
        self._attempt()
