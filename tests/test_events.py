from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from engine._core.fixedpoint import OffGridError
from engine._core.intents import BUY, CANCEL, GTC, LIMIT, NEW, IntentBuffer
from engine.clock import SimClock
from engine.events import (
    EventDispatcher,
    EventHandler,
    FeedStatus,
    HandlerContext,
    IntentKind,
    OrderIntent,
    OrderUpdate,
    Trade,
)
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.model.market_data import MarketData


class Recorder(EventHandler):
    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []

    def on_book(self, instrument_id: str, book: object, timestamp_ns: int) -> None:
        self.seen.append(("book", (instrument_id, book, timestamp_ns)))

    def on_trade(self, trade: Trade) -> None:
        self.seen.append(("trade", trade))

    def on_order_update(self, update: OrderUpdate) -> None:
        self.seen.append(("order", update))

    def on_feed_status(self, status: FeedStatus) -> None:
        self.seen.append(("feed", status))

    def on_timer(self, name: str, timestamp_ns: int) -> None:
        self.seen.append(("timer", (name, timestamp_ns)))


class Broken(EventHandler):
    def on_book(self, instrument_id: str, book: object, timestamp_ns: int) -> None:
        raise RuntimeError("bug in a handler")

    def on_trade(self, trade: Trade) -> None:
        raise RuntimeError("bug in a handler")


def _trade() -> Trade:
    return Trade("binance", "BTCUSDT", Decimal("65000.10"), Decimal("0.5"), OrderSide.BUY, "1", 7)


def test_dispatcher_calls_every_handler_synchronously_in_order() -> None:
    first, second = Recorder(), Recorder()
    bus = EventDispatcher()
    bus.add(first)
    bus.add(second)
    book = object()
    bus.on_book("binance:BTCUSDT", book, 5)
    bus.on_trade(_trade())
    bus.on_order_update(OrderUpdate("c1", "binance", "BTCUSDT", OrderStatus.NEW, Decimal(0)))
    bus.on_feed_status(FeedStatus("binance:BTCUSDT", False, "sequence gap", 9))
    bus.on_timer("refresh", 11)
    assert [kind for kind, _ in first.seen] == ["book", "trade", "order", "feed", "timer"]
    assert first.seen == second.seen
    assert first.seen[0][1] == ("binance:BTCUSDT", book, 5)


def test_handlers_after_intents_see_each_event_once_the_sink_took_the_intents() -> None:
    """A recorder added with after_intents=True gets every event after the intent sink ran
    for the early handlers' intents, so nothing that quotes waits for it; removed, it gets
    nothing more."""
    order: list[str] = []

    class Quoter(EventHandler):
        def on_start(self, context: HandlerContext) -> None:
            self.context = context

        def on_book(self, instrument_id: str, book: object, timestamp_ns: int) -> None:
            order.append("quoter")
            self.context.intents.push_new(0, BUY, 100, 1)

    class Late(EventHandler):
        def on_book(self, instrument_id: str, book: object, timestamp_ns: int) -> None:
            order.append("late")

        def on_trade(self, trade: Trade) -> None:
            order.append("late trade")

    bus, late = EventDispatcher(), Late()
    bus.add(late, after_intents=True)
    bus.add(Quoter())
    bus.set_intent_sink(lambda buffer: (order.append("sink"), buffer.clear()))
    bus.start(SimClock(0), instruments()[:1])
    bus.on_book("binance:BTCUSDT", object(), 1)
    bus.on_trade(_trade())
    assert order == ["quoter", "sink", "late", "late trade"]
    bus.remove(late)
    bus.on_book("binance:BTCUSDT", object(), 2)
    assert order[-2:] == ["quoter", "sink"]
    bus.stop()


def test_a_raising_handler_is_logged_and_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    after = Recorder()
    bus = EventDispatcher()
    bus.add(Broken())
    bus.add(after)
    with caplog.at_level(logging.ERROR, logger="engine.events"):
        bus.on_book("x", None, 1)
        bus.on_trade(_trade())
    assert [k for k, _ in after.seen] == ["book", "trade"]
    assert bus.handler_errors == 2
    assert "Broken.on_book raised" in caplog.text


def test_base_handler_hooks_are_no_ops_and_market_data_passes_through() -> None:
    bus = EventDispatcher()
    bus.add(EventHandler())
    seen: list[MarketData] = []

    class MD(EventHandler):
        def on_market_data(self, data: MarketData) -> None:
            seen.append(data)

    bus.add(MD())
    md = MarketData("okx", "BTC-USDT", Decimal(1), Decimal(2), Decimal("1.5"), Decimal(3), 1)
    bus.on_market_data(md)
    assert seen == [md]
    with pytest.raises(ValueError):
        bus.add(bus)


# ----------------------------------------------------------------------------- intents out

D = Decimal


def instruments() -> list[Instrument]:
    return [
        Instrument("BTCUSDT", "binance", "BTC", "USDT", D("0.01"), D("0.00001"), D("0.00001"),
                   D(5), 2, 5),
        Instrument("BTC-USDT", "okx", "BTC", "USDT", D("0.1"), D("0.00000001"), D("0.00001"),
                   D(0), 1, 8),
    ]  # fmt: skip


def test_order_intent_factories_and_the_buffer_row_round_trip() -> None:
    table = instruments()
    buf = IntentBuffer(8, len(table))
    made = [
        OrderIntent.new("binance:BTCUSDT", OrderSide.BUY, 6_500_000, 150, client_tag=7),
        OrderIntent.new(
            "okx:BTC-USDT",
            OrderSide.SELL,
            0,
            3,
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.IOC,
        ),
        OrderIntent.new(
            "okx:BTC-USDT", OrderSide.SELL, 650_001, 3, order_type=OrderType.LIMIT_MAKER
        ),
        OrderIntent.cancel("binance:BTCUSDT", 42, client_tag=7),
        OrderIntent.replace("binance:BTCUSDT", 42, OrderSide.BUY, 6_500_001, 150, client_tag=8),
    ]
    for intent, index in zip(made, (0, 1, 1, 0, 0), strict=True):
        intent.push_to(buf, index)
    assert buf.read(0) == (0, NEW, BUY, LIMIT, GTC, 6_500_000, 150, 7, 0)
    assert buf.read(3) == (0, CANCEL, 0, 0, 0, 0, 0, 7, 42)
    assert [OrderIntent.from_row(row, table) for row in buf.drain()] == made
    assert made[3].side is None and made[3].kind is IntentKind.CANCEL


def test_order_intent_decimal_edges_are_exact() -> None:
    btc = instruments()[0]
    intent = OrderIntent.from_decimal(btc, OrderSide.BUY, D("65000.01"), D("0.0015"), client_tag=3)
    assert (intent.instrument_id, intent.price_ticks, intent.quantity_lots) == (
        "binance:BTCUSDT",
        6_500_001,
        150,
    )
    assert intent.price(btc) == D("65000.01") and intent.quantity(btc) == D("0.0015")
    replace = OrderIntent.from_decimal(
        btc, OrderSide.SELL, D("65000.02"), D("0.001"), replaces_order_id=9
    )
    assert replace.kind is IntentKind.REPLACE and replace.order_id == 9
    market = OrderIntent.from_decimal(btc, OrderSide.SELL, None, D(1), order_type=OrderType.MARKET)
    assert market.price_ticks == 0 and market.price(btc) is None
    with pytest.raises(OffGridError):
        OrderIntent.from_decimal(btc, OrderSide.BUY, D("65000.001"), D(1))
    with pytest.raises(OffGridError):
        OrderIntent.from_decimal(btc, OrderSide.BUY, D("65000"), D("0.000001"))
    with pytest.raises(ValueError, match="is for binance:BTCUSDT, not for okx:BTC-USDT"):
        intent.price(instruments()[1])
    with pytest.raises(ValueError, match="price_ticks must be > 0"):
        OrderIntent.from_decimal(btc, OrderSide.BUY, None, D(1))  # a LIMIT needs a price


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: OrderIntent.new("x:Y", OrderSide.BUY, 0, 1), "price_ticks must be > 0"),
        (lambda: OrderIntent.new("x:Y", OrderSide.BUY, 1, 0), "quantity_lots must be > 0"),
        (
            lambda: OrderIntent.new("x:Y", OrderSide.BUY, 1, 1, order_type=OrderType.MARKET),
            "MARKET intent has no price",
        ),
        (
            lambda: OrderIntent.new(
                "x:Y",
                OrderSide.BUY,
                1,
                1,
                order_type=OrderType.LIMIT_MAKER,
                time_in_force=TimeInForce.IOC,
            ),
            "LIMIT_MAKER must rest",
        ),
        (lambda: OrderIntent.cancel("x:Y", 0), "order_id to cancel or replace must be > 0"),
        (
            lambda: OrderIntent(
                IntentKind.NEW,
                "x:Y",
                OrderSide.BUY,
                OrderType.LIMIT,
                1,
                1,
                TimeInForce.GTC,
                order_id=3,
            ),
            "NEW intent has no order_id",
        ),
        (lambda: OrderIntent(IntentKind.CANCEL, "x:Y", OrderSide.BUY, order_id=3), "only order_id"),
        (lambda: OrderIntent.new("", OrderSide.BUY, 1, 1), "instrument_id must be"),
    ],
)
def test_order_intent_checks_what_the_buffer_checks(build: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build()


def test_order_intent_fields_are_typed() -> None:
    with pytest.raises(TypeError, match="side must be an OrderSide"):
        OrderIntent(IntentKind.NEW, "x:Y", 1, OrderType.LIMIT, 1, 1, TimeInForce.GTC)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="price_ticks must be an int"):
        OrderIntent.new("x:Y", OrderSide.BUY, D(1), 1)  # type: ignore[arg-type]
    with pytest.raises(OverflowError, match="client_tag 9223372036854775808 does not fit int64"):
        OrderIntent.new("x:Y", OrderSide.BUY, 1, 1, client_tag=2**63)
    with pytest.raises(TypeError, match="kind must be an IntentKind"):
        OrderIntent(1, "x:Y")  # type: ignore[arg-type]


class Starter(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.contexts: list[HandlerContext] = []
        self.stops = 0

    def on_start(self, context: HandlerContext) -> None:
        self.contexts.append(context)

    def on_stop(self) -> None:
        self.stops += 1


def test_start_hands_every_handler_the_same_clock_buffer_and_table() -> None:
    clock, table = SimClock(), instruments()
    first, second, late = Starter(), Starter(), Starter()
    bus = EventDispatcher(intent_capacity=16)
    bus.add(first)
    bus.add(second)
    assert not bus.started and first.contexts == []
    bus.start(clock, table)
    bus.add(late)  # added after start: started on add
    contexts = [h.contexts[0] for h in (first, second, late)]
    for ctx in contexts:
        assert ctx.clock is clock and ctx.intents is bus.intents
        assert ctx.instruments == tuple(table) and bus.instruments == tuple(table)
    # timers are each handler's own
    assert len({id(ctx.timers) for ctx in contexts}) == 3
    assert bus.context_of(second) is contexts[1]
    assert bus.intents.capacity == 16 and bus.intents.instrument_count == 2
    with pytest.raises(RuntimeError, match="already started"):
        bus.start(clock, table)
    bus.stop()
    assert [h.stops for h in (first, second, late)] == [1, 1, 1]
    assert bus.context_of(first) is None and not bus.started


def test_context_submit_and_instrument_lookup() -> None:
    bus, handler = EventDispatcher(), Starter()
    bus.add(handler)
    bus.start(SimClock(), instruments())
    ctx = handler.contexts[0]
    assert ctx.instrument_index("okx:BTC-USDT") == 1
    assert ctx.instrument("binance:BTCUSDT").symbol == "BTCUSDT"
    ctx.submit(OrderIntent.new("okx:BTC-USDT", OrderSide.SELL, 650_000, 5, client_tag=1))
    ctx.intents.push_cancel(0, 17, 2)  # the Cython strategy's way, from Python
    assert bus.drain_intents() == [
        OrderIntent.new("okx:BTC-USDT", OrderSide.SELL, 650_000, 5, client_tag=1),
        OrderIntent.cancel("binance:BTCUSDT", 17, client_tag=2),
    ]
    with pytest.raises(KeyError, match="gate:BTC_USDT"):
        ctx.submit(OrderIntent.new("gate:BTC_USDT", OrderSide.BUY, 1, 1))
    with pytest.raises(ValueError, match=r"instrument index must be in 0\.\.1, got 2"):
        ctx.intents.push_new(2, BUY, 1, 1)
    with pytest.raises(ValueError, match="listed twice"):
        HandlerContext(ctx.clock, ctx.intents, (ctx.instruments[0],) * 2, ctx.timers)


def test_sink_takes_intents_after_the_event_that_left_them() -> None:
    class Quoter(Starter):
        def on_book(self, instrument_id: str, book: object, timestamp_ns: int) -> None:
            ctx = self.contexts[0]
            ctx.intents.push_new(ctx.instrument_index(instrument_id), BUY, 100, 1, timestamp_ns)

    bus, quoter, after = EventDispatcher(), Quoter(), Recorder()
    bus.add(quoter)
    bus.add(after)
    calls: list[tuple[int, int]] = []

    def sink(buf: IntentBuffer) -> None:
        calls.append((len(buf), len(after.seen)))  # after every handler saw the event
        buf.clear()

    bus.set_intent_sink(sink)
    bus.start(SimClock(), instruments())
    bus.on_book("okx:BTC-USDT", None, 5)
    bus.on_trade(_trade())  # no intents: no sink call
    assert calls == [(1, 1)]
    bus.set_intent_sink(None)
    bus.on_book("okx:BTC-USDT", None, 6)
    assert len(bus.intents) == 1  # left for whoever drains it


def test_a_raising_sink_is_logged_and_its_intents_stay(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventDispatcher()
    bus.start(SimClock(), instruments())

    class Pusher(EventHandler):
        def on_trade(self, trade: Trade) -> None:
            bus.intents.push_cancel(0, 1)

    def sink(buf: IntentBuffer) -> None:
        raise RuntimeError("bug in the consumer")

    bus.add(Pusher())
    bus.set_intent_sink(sink)
    with caplog.at_level(logging.ERROR, logger="engine.events"):
        bus.on_trade(_trade())
    assert bus.sink_errors == 1 and len(bus.intents) == 1
    assert "intent sink raised; 1 intents left pending" in caplog.text


def test_a_sink_that_dispatches_is_not_reentered() -> None:
    bus = EventDispatcher()
    bus.start(SimClock(), instruments())
    depth: list[int] = []

    class Pusher(EventHandler):
        def on_order_update(self, update: OrderUpdate) -> None:
            bus.intents.push_cancel(0, 1)

    def sink(buf: IntentBuffer) -> None:
        depth.append(len(buf))
        buf.clear()
        if len(depth) == 1:  # a synchronous fill report while the sink runs
            bus.on_order_update(OrderUpdate("c", "binance", "BTCUSDT", OrderStatus.FILLED, D(1)))

    bus.add(Pusher())
    bus.set_intent_sink(sink)
    bus.on_order_update(OrderUpdate("c", "binance", "BTCUSDT", OrderStatus.NEW, D(0)))
    assert depth == [1] and len(bus.intents) == 1  # the nested one waits for the next event


def test_a_handler_that_cannot_start_stops_the_start(caplog: pytest.LogCaptureFixture) -> None:
    class Refuses(Starter):
        def on_start(self, context: HandlerContext) -> None:
            context.timers.every("never", 10)
            raise RuntimeError("no config for me")

    clock = SimClock()
    ok, bad = Starter(), Refuses()
    bus = EventDispatcher()
    bus.add(ok)
    bus.add(bad)
    with pytest.raises(RuntimeError, match="no config"):
        bus.start(clock, instruments())
    assert ok.stops == 1 and bad.stops == 0 and not bus.started
    assert clock.next_timer_ns() is None  # the refused handler's timer went with it
    # added after a start, a refusing handler is not kept
    bus.remove(bad)
    bus.start(clock, instruments())
    with pytest.raises(RuntimeError, match="no config"):
        bus.add(Refuses())
    bus.on_trade(_trade())
    assert [k for k, _ in ok.seen] == ["trade"]
    assert clock.next_timer_ns() is None


def test_events_flow_before_start_but_intents_need_the_table() -> None:
    bus, rec = EventDispatcher(), Recorder()
    bus.add(rec)
    bus.on_feed_status(FeedStatus("okx:BTC-USDT", True, "synced", 1))
    assert [k for k, _ in rec.seen] == ["feed"]
    bus.intents.push_cancel(0, 1)
    with pytest.raises(ValueError, match="pending"):
        bus.start(SimClock(), instruments())
    bus.intents.clear()
    bus.start(SimClock(), instruments())
