"""The engine's one clock.

Nothing on the trading path reads the system time or sleeps on its own: refresh ages,
cooldowns, rate windows, daily resets and stale-feed timeouts all ask a `Clock`. Live, the
clock is the system's (`LiveClock`, timers on the event loop). In a backtest it is the event
time (`SimClock`): the replay advances it and timers fire in time order, so the same strategy,
risk and OMS code runs unchanged on recorded or simulated time.

Times are integers in nanoseconds: `time_ns()` is wall time since the Unix epoch (the
timestamp of events and orders); `monotonic_ns()` only measures intervals.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

NS_PER_SECOND = 1_000_000_000
NS_PER_MS = 1_000_000


class TimerHandle(Protocol):
    def cancel(self) -> None: ...

    def cancelled(self) -> bool: ...


class Clock(Protocol):
    """What trading code may ask about time."""

    def time_ns(self) -> int:
        """Wall time, nanoseconds since the Unix epoch (event time in a backtest)."""
        ...

    def monotonic_ns(self) -> int:
        """A clock that never goes backwards, for intervals only."""
        ...

    def call_at(self, when_ns: int, callback: Callable[[], object]) -> TimerHandle:
        """Run `callback` once `time_ns()` reaches `when_ns` (at once if already past)."""
        ...

    def call_later(self, delay_ns: int, callback: Callable[[], object]) -> TimerHandle:
        """Run `callback` after `delay_ns` nanoseconds of this clock's time."""
        ...

    async def sleep_ns(self, delay_ns: int) -> None:
        """Suspend the calling task for `delay_ns` of this clock's time."""
        ...


class LiveClock:
    """System time; timers are the running event loop's timers."""

    __slots__ = ("_loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop if self._loop is not None else asyncio.get_running_loop()

    def time_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def call_at(self, when_ns: int, callback: Callable[[], object]) -> TimerHandle:
        return self.call_later(when_ns - time.time_ns(), callback)

    def call_later(self, delay_ns: int, callback: Callable[[], object]) -> TimerHandle:
        return self._get_loop().call_later(max(delay_ns, 0) / NS_PER_SECOND, callback)

    async def sleep_ns(self, delay_ns: int) -> None:
        await asyncio.sleep(max(delay_ns, 0) / NS_PER_SECOND)


class _SimTimer:
    __slots__ = ("_cancelled", "callback", "when_ns")

    def __init__(self, when_ns: int, callback: Callable[[], object]) -> None:
        self.when_ns = when_ns
        self.callback = callback
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True

    def cancelled(self) -> bool:
        return self._cancelled


class SimClock:
    """Simulated time, advanced explicitly by a replay or backtest driver.

    `advance_to(t)` fires every timer due at or before `t` in (time, scheduling) order, with
    the clock set to each timer's own time while its callback runs, then settles at `t`.
    Time never goes backwards. `sleep_ns` returns a future resolved by a timer, so tasks
    sleeping on this clock wake when the driver advances past their deadline.
    """

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._timers: list[tuple[int, int, _SimTimer]] = []
        self._seq = itertools.count()

    def time_ns(self) -> int:
        return self._now

    def monotonic_ns(self) -> int:
        return self._now

    def call_at(self, when_ns: int, callback: Callable[[], object]) -> TimerHandle:
        timer = _SimTimer(max(when_ns, self._now), callback)
        heapq.heappush(self._timers, (timer.when_ns, next(self._seq), timer))
        return timer

    def call_later(self, delay_ns: int, callback: Callable[[], object]) -> TimerHandle:
        return self.call_at(self._now + max(delay_ns, 0), callback)

    async def sleep_ns(self, delay_ns: int) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        self.call_later(delay_ns, wake)
        await future

    def next_timer_ns(self) -> int | None:
        """When the earliest pending timer is due, or None."""
        while self._timers and self._timers[0][2].cancelled():
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def advance_to(self, t_ns: int) -> int:
        """Move time to `t_ns`, firing due timers in order; returns how many fired."""
        if t_ns < self._now:
            raise ValueError(f"SimClock cannot go backwards: {t_ns} < {self._now}")
        fired = 0
        while self._timers and self._timers[0][0] <= t_ns:
            when, _, timer = heapq.heappop(self._timers)
            if timer.cancelled():
                continue
            self._now = when
            timer.callback()
            fired += 1
        self._now = t_ns
        return fired
