from __future__ import annotations

import asyncio

import pytest

from engine.clock import NS_PER_MS, LiveClock, SimClock


def test_sim_clock_fires_timers_in_time_then_schedule_order() -> None:
    clock = SimClock(start_ns=1_000)
    seen: list[tuple[str, int]] = []
    clock.call_at(3_000, lambda: seen.append(("c", clock.time_ns())))
    clock.call_at(2_000, lambda: seen.append(("a", clock.time_ns())))
    clock.call_at(2_000, lambda: seen.append(("b", clock.time_ns())))
    assert clock.advance_to(2_500) == 2
    assert seen == [("a", 2_000), ("b", 2_000)]
    assert clock.time_ns() == 2_500
    clock.advance_to(10_000)
    assert seen[-1] == ("c", 3_000)
    assert clock.time_ns() == 10_000


def test_sim_clock_timer_scheduled_inside_callback_fires_in_same_advance() -> None:
    clock = SimClock()
    seen: list[int] = []

    def first() -> None:
        seen.append(clock.time_ns())
        clock.call_later(5, lambda: seen.append(clock.time_ns()))

    clock.call_at(10, first)
    clock.advance_to(100)
    assert seen == [10, 15]


def test_sim_clock_cancel_and_no_time_travel() -> None:
    clock = SimClock(start_ns=50)
    fired: list[int] = []
    handle = clock.call_later(10, lambda: fired.append(1))
    assert clock.next_timer_ns() == 60
    handle.cancel()
    assert handle.cancelled()
    assert clock.next_timer_ns() is None
    clock.advance_to(100)
    assert fired == []
    with pytest.raises(ValueError, match="backwards"):
        clock.advance_to(99)


def test_sim_clock_past_deadline_fires_on_next_advance_not_in_the_past() -> None:
    clock = SimClock(start_ns=100)
    seen: list[int] = []
    clock.call_at(10, lambda: seen.append(clock.time_ns()))
    clock.advance_to(100)
    assert seen == [100]


async def test_sim_clock_sleep_wakes_when_driver_advances() -> None:
    clock = SimClock()
    woke: list[int] = []

    async def sleeper() -> None:
        await clock.sleep_ns(1_000)
        woke.append(clock.time_ns())

    task = asyncio.create_task(sleeper())
    await asyncio.sleep(0)
    clock.advance_to(999)
    await asyncio.sleep(0)
    assert woke == []
    clock.advance_to(1_000)
    await task
    assert woke == [1_000]


async def test_live_clock_timer_and_sleep() -> None:
    clock = LiveClock()
    done = asyncio.Event()
    start = clock.monotonic_ns()
    clock.call_later(2 * NS_PER_MS, done.set)
    await asyncio.wait_for(done.wait(), 2)
    assert clock.monotonic_ns() - start >= 2 * NS_PER_MS
    before = clock.monotonic_ns()
    await clock.sleep_ns(NS_PER_MS)
    assert clock.monotonic_ns() - before >= NS_PER_MS
    assert abs(clock.time_ns() - __import__("time").time_ns()) < 1_000_000_000


def test_sim_clock_timer_cancelled_by_an_earlier_callback_at_the_same_time_does_not_fire() -> None:
    # the timer service relies on it: a handler cancelling (or replacing) another of its
    # timers due at the same instant wins over the clock's queue
    clock = SimClock()
    fired: list[str] = []

    def first() -> None:
        fired.append("first")
        victim.cancel()

    clock.call_at(10, first)
    victim = clock.call_at(10, lambda: fired.append("victim"))
    clock.call_at(10, lambda: fired.append("after"))
    assert clock.advance_to(10) == 2  # a cancelled timer is not counted as fired
    assert fired == ["first", "after"]
    assert victim.cancelled() and clock.next_timer_ns() is None


async def test_live_clock_call_at_wall_time() -> None:
    clock = LiveClock()
    done = asyncio.Event()
    seen: list[int] = []
    when = clock.time_ns() + 2 * NS_PER_MS

    def fire() -> None:
        seen.append(clock.time_ns())
        done.set()

    clock.call_at(when, fire)
    await asyncio.wait_for(done.wait(), 2)
    # the event loop may run a timer up to its clock resolution early; never a whole ms
    assert seen[0] >= when - NS_PER_MS
