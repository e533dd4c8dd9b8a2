from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from engine.events import EventDispatcher, EventHandler, FeedStatus, OrderUpdate, Trade
from engine.model.enums import OrderSide, OrderStatus
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
