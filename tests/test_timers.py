"""engine/timers.py: named timers through the engine's clock, delivered as on_timer.

SimClock tests check exact firing times and order; one LiveClock test runs on the real event
loop and waits on an asyncio.Event (no fixed sleeps)."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from engine.clock import NS_PER_MS, LiveClock, SimClock
from engine.events import EventDispatcher, EventHandler, HandlerContext
from engine.model.instrument import Instrument
from engine.timers import Timers, TimerService


class Ticker(EventHandler):
    """Sets the timers it is told to at start and records every firing."""

    def __init__(self, label: str, setup: dict[str, tuple[str, int]] | None = None) -> None:
        self.label = label
        self.setup = setup or {}
        self.fired: list[tuple[str, int, int]] = []  # (name, timestamp, clock time)
        self.log: list[tuple[str, str, int]] | None = None
        self.context: HandlerContext | None = None

    def on_start(self, context: HandlerContext) -> None:
        self.context = context
        for name, (how, value) in self.setup.items():
            getattr(context.timers, how)(name, value)

    def on_timer(self, name: str, timestamp_ns: int) -> None:
        assert self.context is not None
        self.fired.append((name, timestamp_ns, self.context.clock.time_ns()))
        if self.log is not None:
            self.log.append((self.label, name, timestamp_ns))

    @property
    def timers(self) -> Timers:
        assert self.context is not None
        return self.context.timers


def started(clock: SimClock | LiveClock, *handlers: EventHandler) -> EventDispatcher:
    bus = EventDispatcher()
    for h in handlers:
        bus.add(h)
    bus.start(clock)
    return bus


# ----------------------------------------------------------------------------- SimClock


def test_repeating_timer_fires_at_exact_multiples_with_the_clock_there() -> None:
    clock = SimClock(start_ns=1_000)
    t = Ticker("a", {"quote": ("every", 250)})
    started(clock, t)
    assert t.timers.due_ns("quote") == 1_250
    assert clock.advance_to(1_999) == 3
    assert t.fired == [("quote", 1_250, 1_250), ("quote", 1_500, 1_500), ("quote", 1_750, 1_750)]
    # a long jump fires every grid point on the way, in order, none skipped
    clock.advance_to(10_000)
    assert [ts for _, ts, _ in t.fired] == list(range(1_250, 10_001, 250))
    assert all(ts == now for _, ts, now in t.fired)
    assert clock.time_ns() == 10_000


def test_first_ns_aligns_the_grid_and_skips_points_already_past() -> None:
    clock = SimClock(start_ns=1_005)
    t = Ticker("a")
    started(clock, t)
    t.timers.every("second", 1_000, first_ns=0)  # on whole "seconds": 0, 1000 past; 2000 next
    t.timers.every("later", 300, first_ns=1_100)
    clock.advance_to(3_000)
    assert [(n, ts) for n, ts, _ in t.fired] == [
        ("later", 1_100),
        ("later", 1_400),
        ("later", 1_700),
        ("second", 2_000),
        ("later", 2_000),
        ("later", 2_300),
        ("later", 2_600),
        ("later", 2_900),
        ("second", 3_000),
    ]


def test_two_handlers_fire_in_time_order_then_schedule_order() -> None:
    clock = SimClock()
    seen: list[tuple[str, str, int]] = []
    a = Ticker("A", {"slow": ("every", 30)})
    b = Ticker("B", {"fast": ("every", 20), "once": ("at", 45)})
    a.log = b.log = seen
    started(clock, a, b)
    clock.advance_to(60)
    assert seen == [
        ("B", "fast", 20),
        ("A", "slow", 30),
        ("B", "fast", 40),
        ("B", "once", 45),
        # both due at 60: A's was scheduled when it fired at 30, B's when it fired at 40
        ("A", "slow", 60),
        ("B", "fast", 60),
    ]
    # each handler got only its own timers
    assert {n for n, _, _ in a.fired} == {"slow"} and {n for n, _, _ in b.fired} == {"fast", "once"}


def test_names_are_per_handler_and_setting_a_name_again_replaces_it() -> None:
    clock = SimClock()
    a, b = Ticker("A", {"t": ("every", 10)}), Ticker("B", {"t": ("after", 15)})
    started(clock, a, b)
    a.timers.every("t", 7)  # replaces A's "t", leaves B's alone
    clock.advance_to(21)
    assert [ts for _, ts, _ in a.fired] == [7, 14, 21]
    assert [ts for _, ts, _ in b.fired] == [15]
    assert "t" in a.timers and "t" not in b.timers  # a one-shot is gone once it fired
    assert len(a.timers) == 1 and a.timers.names() == ("t",)


def test_one_shots_at_and_after() -> None:
    clock = SimClock(start_ns=100)
    t = Ticker("a")
    started(clock, t)
    t.timers.at("deadline", 150)
    t.timers.after("cooldown", 20)
    t.timers.at("late", 50)  # already past: fires at once, stamped with the time it was set
    clock.advance_to(1_000)
    assert [(n, ts) for n, ts, _ in t.fired] == [
        ("late", 100),
        ("cooldown", 120),
        ("deadline", 150),
    ]
    assert len(t.timers) == 0


def test_cancel_from_outside_and_from_inside_the_callback() -> None:
    clock = SimClock()

    class SelfCancelling(Ticker):
        def on_timer(self, name: str, timestamp_ns: int) -> None:
            super().on_timer(name, timestamp_ns)
            if len(self.fired) == 3:
                assert self.timers.cancel(name)

    t = SelfCancelling("a", {"r": ("every", 10)})
    other = Ticker("b", {"x": ("every", 10), "y": ("at", 25)})
    started(clock, t, other)
    clock.advance_to(15)
    assert other.timers.cancel("x") and other.timers.cancel("y")
    assert not other.timers.cancel("y") and not other.timers.cancel("never-set")
    clock.advance_to(100)
    assert [ts for _, ts, _ in t.fired] == [10, 20, 30]
    assert [ts for _, ts, _ in other.fired] == [10]
    assert clock.next_timer_ns() is None


def test_a_handler_that_raises_is_logged_and_its_timer_keeps_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = SimClock()

    class Flaky(Ticker):
        def on_timer(self, name: str, timestamp_ns: int) -> None:
            super().on_timer(name, timestamp_ns)
            if timestamp_ns % 20 == 0:
                raise RuntimeError("bug in on_timer")

    flaky, calm = Flaky("f", {"r": ("every", 10)}), Ticker("c", {"r": ("every", 10)})
    bus = started(clock, flaky, calm)
    with caplog.at_level(logging.ERROR, logger="engine.events"):
        clock.advance_to(50)  # nothing escapes into the driver
    assert [ts for _, ts, _ in flaky.fired] == [10, 20, 30, 40, 50]
    assert [ts for _, ts, _ in calm.fired] == [10, 20, 30, 40, 50]
    assert bus.handler_errors == 2
    assert "Flaky.on_timer raised" in caplog.text


def test_service_alone_logs_a_raising_callback_and_keeps_the_timer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = SimClock()
    service = TimerService(clock)
    calls: list[int] = []

    def callback(name: str, ts: int) -> None:
        calls.append(ts)
        raise ValueError("boom")

    timers = service.timers_for(callback, "Owner")
    timers.every("r", 5)
    with caplog.at_level(logging.ERROR, logger="engine.timers"):
        clock.advance_to(15)
    assert calls == [5, 10, 15] and service.errors == 3
    assert "timer 'r' of Owner raised" in caplog.text
    assert service.pending == 1
    service.close_all()
    assert service.pending == 0 and clock.next_timer_ns() is None
    with pytest.raises(RuntimeError, match="closed"):
        timers.after("again", 1)


def test_timer_set_inside_on_timer_fires_in_the_same_advance() -> None:
    clock = SimClock()

    class Chain(Ticker):
        def on_timer(self, name: str, timestamp_ns: int) -> None:
            super().on_timer(name, timestamp_ns)
            if name == "first":
                self.timers.after("second", 5)
                self.timers.at("first", timestamp_ns + 100)  # re-arm the name that just fired

    t = Chain("c", {"first": ("at", 10)})
    started(clock, t)
    clock.advance_to(200)
    assert [(n, ts) for n, ts, _ in t.fired] == [
        ("first", 10),
        ("second", 15),
        ("first", 110),
        ("second", 115),
    ]


def test_stop_and_remove_cancel_the_handlers_timers() -> None:
    clock = SimClock()

    class Stoppable(Ticker):
        stopped = 0

        def on_stop(self) -> None:
            self.stopped += 1

    a, b = Stoppable("a", {"r": ("every", 10)}), Stoppable("b", {"r": ("every", 10)})
    bus = started(clock, a, b)
    clock.advance_to(10)
    bus.remove(a)
    assert a.stopped == 1 and bus.context_of(a) is None
    with pytest.raises(RuntimeError, match="closed"):
        a.timers.every("r", 10)
    clock.advance_to(30)
    assert len(a.fired) == 1 and len(b.fired) == 3
    bus.stop()
    bus.stop()  # idempotent
    assert b.stopped == 1
    clock.advance_to(100)
    assert len(b.fired) == 3 and clock.next_timer_ns() is None


def test_timer_arguments_are_checked() -> None:
    clock = SimClock()
    t = Ticker("a")
    started(clock, t)
    with pytest.raises(ValueError, match="interval_ns must be > 0"):
        t.timers.every("r", 0)
    with pytest.raises(TypeError, match="int of nanoseconds"):
        t.timers.every("r", 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="int of nanoseconds"):
        t.timers.at("r", True)  # a bool is not a time
    with pytest.raises(ValueError, match="non-empty str"):
        t.timers.after("", 1)
    assert len(t.timers) == 0


def test_intents_pushed_in_on_timer_reach_the_sink_after_the_timer() -> None:
    clock = SimClock()

    class Quoter(Ticker):
        def on_timer(self, name: str, timestamp_ns: int) -> None:
            assert self.context is not None
            self.context.intents.push_new(0, 1, 100 + timestamp_ns, 1, timestamp_ns)

    inst = Instrument(
        "BTCUSDT", "sim", "BTC", "USDT", Decimal("0.01"), Decimal("0.001"), Decimal(0),
        Decimal(0), 2, 3,
    )  # fmt: skip
    bus = EventDispatcher()
    bus.add(Quoter("q", {"refresh": ("every", 10)}))
    taken: list[tuple[int, int]] = []
    bus.set_intent_sink(lambda buf: taken.extend((r[5], r[7]) for r in buf.drain()))
    bus.start(clock, [inst])
    clock.advance_to(30)
    assert taken == [(110, 10), (120, 20), (130, 30)]
    assert len(bus.intents) == 0


# ----------------------------------------------------------------------------- LiveClock


async def test_live_clock_repeating_timer_on_the_real_loop() -> None:
    clock = LiveClock()
    done = asyncio.Event()
    interval = 2 * NS_PER_MS

    class Live(Ticker):
        def on_timer(self, name: str, timestamp_ns: int) -> None:
            super().on_timer(name, timestamp_ns)
            if name == "tick" and len([f for f in self.fired if f[0] == "tick"]) == 3:
                self.timers.cancel("tick")
                self.timers.after("last", NS_PER_MS)
            if name == "last":
                done.set()

    t = Live("live")
    bus = started(clock, t)
    first = clock.time_ns() + interval
    t.timers.every("tick", interval, first_ns=first)
    await asyncio.wait_for(done.wait(), 5)
    ticks = [(ts, now) for name, ts, now in t.fired if name == "tick"]
    assert len(ticks) == 3
    stamps = [ts for ts, _ in ticks]
    # on the grid (a loop that fell behind may skip points, never leave the grid) ...
    assert all((ts - first) % interval == 0 for ts in stamps) and stamps == sorted(set(stamps))
    # ... and each call came no earlier than the loop's resolution before it was due
    assert all(now >= ts - NS_PER_MS for ts, now in ticks)
    assert [name for name, _, _ in t.fired][-1] == "last" and len(t.timers) == 0
    bus.stop()
