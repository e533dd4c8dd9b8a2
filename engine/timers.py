"""Named timers on the engine's clock, delivered as `on_timer(name, timestamp_ns)`.

A handler sets its timers through the `Timers` of its context (`every`, `at`, `after`,
`cancel`); the service schedules each one with the engine's `Clock` (`call_at`), so the
same code runs on `LiveClock` (the event loop's timers) and on `SimClock` (fired by the
backtest driver in time order).

Why a module of its own and not more of clock.py: a `Clock` is the time source, and every
clock (live, simulated, a node's) implements the same five primitives. Named, repeating,
per-owner timers are built once on top of those primitives, for every clock, so the Clock
protocol stays small and a new clock gets timers for free. This module knows only the
clock; the owners it calls back are plain callables (events.py binds them to handlers).

Guarantees:
- A name is one timer per owner: setting a name again replaces the pending timer.
- A repeating timer is due at `first + k * interval` exactly; each firing is scheduled from
  the grid, never from the time the callback happened to run, so it does not drift. On
  SimClock every grid point fires, in time order, with the clock at that point. On LiveClock a
  loop that fell behind by more than one interval skips the missed points (a burst of stale
  refreshes helps nobody) and resumes on the grid.
- `timestamp_ns` given to the callback is the time the timer was due. On SimClock that is
  also the clock's time during the call; on LiveClock the call comes at or just after it.
- Timers due at the same time fire in the order they were scheduled (a repeating timer is
  rescheduled when it fires, before its callback runs).
- A callback that raises is logged and counted in `errors`; a repeating timer keeps running.
  Nothing escapes into the clock: on SimClock that would abort the driver's advance_to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from engine.clock import Clock, TimerHandle

log = logging.getLogger("engine.timers")

TimerCallback = Callable[[str, int], object]


def _ns_arg(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int of nanoseconds, got {value!r}")
    return value


class _Timer:
    __slots__ = ("due_ns", "handle", "interval_ns", "name", "owner")

    def __init__(self, owner: Timers, name: str, due_ns: int, interval_ns: int) -> None:
        self.owner = owner
        self.name = name
        self.due_ns = due_ns
        self.interval_ns = interval_ns  # 0: one-shot
        self.handle: TimerHandle | None = None

    def schedule(self) -> None:
        self.handle = self.owner._service.clock.call_at(self.due_ns, self.fire)

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def fire(self) -> None:
        owner = self.owner
        if owner._entries.get(self.name) is not self:
            return  # replaced or cancelled after the clock had already taken it
        due = self.due_ns
        if self.interval_ns:
            step = self.interval_ns
            now = owner._service.clock.time_ns()
            nxt = due + step
            if nxt <= now:  # LiveClock fell behind: skip to the next grid point ahead
                nxt += ((now - nxt) // step + 1) * step
            self.due_ns = nxt
            self.schedule()
        else:
            del owner._entries[self.name]
        owner._service._deliver(owner, self.name, due)


class Timers:
    """One owner's named timers (a handler's `context.timers`).

    Names are unique per owner: `every`/`at`/`after` with a name that is pending replaces it.
    After `close()` (the handler was removed, or the engine stopped) no timer may be set.
    """

    def __init__(self, service: TimerService, callback: TimerCallback, owner: str) -> None:
        self._service = service
        self._callback = callback
        self.owner = owner
        self._entries: dict[str, _Timer] = {}
        self._closed = False

    def _set(self, name: str, due_ns: int, interval_ns: int) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"timer name must be a non-empty str, got {name!r}")
        if self._closed:
            raise RuntimeError(f"timers of {self.owner} are closed: cannot set {name!r}")
        old = self._entries.pop(name, None)
        if old is not None:
            old.cancel()
        timer = _Timer(self, name, due_ns, interval_ns)
        self._entries[name] = timer
        timer.schedule()

    def every(self, name: str, interval_ns: int, *, first_ns: int | None = None) -> None:
        """Fire `name` at first_ns + k * interval_ns, k = 0, 1, ..., until cancelled.

        first_ns defaults to now + interval_ns; grid points already past are skipped, so a
        first_ns in the past aligns the grid (e.g. on whole seconds) without a burst.
        """
        step = _ns_arg(interval_ns, "interval_ns")
        if step <= 0:
            raise ValueError(f"interval_ns must be > 0, got {step}")
        now = self._service.clock.time_ns()
        first = now + step if first_ns is None else _ns_arg(first_ns, "first_ns")
        if first < now:
            first += -((first - now) // step) * step  # the first grid point at or after now
        self._set(name, first, step)

    def at(self, name: str, when_ns: int) -> None:
        """Fire `name` once at `when_ns` (clock time; at once if that is already past)."""
        when = _ns_arg(when_ns, "when_ns")
        self._set(name, max(when, self._service.clock.time_ns()), 0)

    def after(self, name: str, delay_ns: int) -> None:
        """Fire `name` once, `delay_ns` from now."""
        delay = _ns_arg(delay_ns, "delay_ns")
        self._set(name, self._service.clock.time_ns() + max(delay, 0), 0)

    def cancel(self, name: str) -> bool:
        """Cancel `name`; False if no such timer is pending (a one-shot that fired is not)."""
        timer = self._entries.pop(name, None)
        if timer is None:
            return False
        timer.cancel()
        return True

    def cancel_all(self) -> None:
        for timer in self._entries.values():
            timer.cancel()
        self._entries.clear()

    def close(self) -> None:
        """Cancel everything and refuse new timers."""
        self.cancel_all()
        self._closed = True
        self._service._forget(self)

    def due_ns(self, name: str) -> int | None:
        """When `name` fires next, or None if it is not pending."""
        timer = self._entries.get(name)
        return None if timer is None else timer.due_ns

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)


class TimerService:
    """Named timers for many owners on one clock (see the module docstring)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.errors = 0
        self._owners: list[Timers] = []

    def timers_for(self, callback: TimerCallback, owner: str) -> Timers:
        """A new set of named timers whose firings call `callback(name, due_ns)`.

        `owner` names it in logs (the handler's class, say).
        """
        timers = Timers(self, callback, owner)
        self._owners.append(timers)
        return timers

    def _deliver(self, owner: Timers, name: str, due_ns: int) -> None:
        try:
            owner._callback(name, due_ns)
        except Exception:
            self.errors += 1
            log.exception("timer %r of %s raised", name, owner.owner)

    def _forget(self, owner: Timers) -> None:
        if owner in self._owners:
            self._owners.remove(owner)

    def close_all(self) -> None:
        """Cancel every owner's timers and refuse new ones (the engine is stopping)."""
        for owner in list(self._owners):
            owner.close()

    @property
    def pending(self) -> int:
        """Timers pending across all owners."""
        return sum(len(owner) for owner in self._owners)
