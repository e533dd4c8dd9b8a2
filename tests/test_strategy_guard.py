"""engine/host/guard.py: a strategy's bug costs its instrument's quotes, not the engine.

A real EventDispatcher and SimClock; the strategy is `Scripted` (it records what reaches it
and raises or pushes intents when told to), the view `Orders` (live orders the test sets);
the intent sink records every intent. The last test runs the guard around the real
MarketMakingStrategy on the Paper view of tests/test_strategy_mm.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from test_strategy_mm import BASE, TABLE, Paper, book_of

from engine._core.intents import BUY, GTC, LIMIT_MAKER, IntentBuffer
from engine.clock import NS_PER_SECOND, SimClock
from engine.events import (
    EventDispatcher,
    EventHandler,
    FeedStatus,
    HandlerContext,
    IntentKind,
    OpenOrder,
    OrderIntent,
    OrderUpdate,
    Trade,
)
from engine.host.guard import StrategyGuard
from engine.model.enums import OrderSide, OrderStatus
from engine.strategy.market_making import MarketMakingStrategy

NS = NS_PER_SECOND
T0 = 1_700_000_000 * NS
OKX_ID, BIN_ID = TABLE[0].instrument_id, TABLE[1].instrument_id
IDS = (OKX_ID, BIN_ID)


class Orders:
    """A TradingView holding the live orders the test sets (no books, flat, ACTIVE)."""

    def __init__(self) -> None:
        self.orders: dict[int, OpenOrder] = {}

    def add(self, ref: int, index: int, *, pending: bool = False) -> None:
        status = OrderStatus.PENDING_NEW if pending else OrderStatus.NEW
        self.orders[ref] = OpenOrder(ref, index, BUY, 1_000, 1, 0, status, 10 + ref, 0, pending)

    def book(self, instrument_index: int) -> Any | None:
        return None

    def position_lots(self, instrument_index: int) -> int:
        return 0

    def order_of_tag(self, client_tag: int) -> int:
        return 0

    def order(self, order_ref: int) -> OpenOrder | None:
        return self.orders.get(order_ref)

    def open_orders(self, instrument_index: int) -> list[OpenOrder]:
        return [o for o in self.orders.values() if o.instrument_index == instrument_index]

    def trading_state(self) -> str:
        return "ACTIVE"


class Bug(RuntimeError):
    pass


class Scripted(EventHandler):
    """Records each event it gets; `before[hook]` runs first (pushes intents, say) and
    `raises` names the (hook, instrument id) pairs that raise after it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []  # (hook, instrument id or timer name)
        self.raises: set[tuple[str, str]] = set()
        self.before: dict[str, Callable[[str], None]] = {}
        self.context: HandlerContext | None = None
        self.fail_start = False

    def on_start(self, context: HandlerContext) -> None:
        if self.fail_start:
            raise Bug("cannot start")
        self.context = context

    def _event(self, hook: str, about: str) -> None:
        self.seen.append((hook, about))
        if hook in self.before:
            self.before[hook](about)
        if (hook, about) in self.raises or (hook, "*") in self.raises:
            raise Bug(f"{hook} {about}")

    def on_book(self, instrument_id: str, book: Any, timestamp_ns: int) -> None:
        self._event("on_book", instrument_id)

    def on_trade(self, trade: Trade) -> None:
        self._event("on_trade", f"{trade.venue}:{trade.symbol}")

    def on_order_update(self, update: OrderUpdate) -> None:
        self._event("on_order_update", f"{update.venue}:{update.symbol}")

    def on_feed_status(self, status: FeedStatus) -> None:
        self._event("on_feed_status", status.instrument_id)

    def on_timer(self, name: str, timestamp_ns: int) -> None:
        self._event("on_timer", name)

    def push_new(self, instrument_id: str) -> None:
        assert self.context is not None
        index = self.context.instrument_index(instrument_id)
        self.context.intents.push_new(index, BUY, 1_000, 1, 77, LIMIT_MAKER, GTC)

    def push_cancel(self, instrument_id: str, ref: int) -> None:
        assert self.context is not None
        self.context.intents.push_cancel(self.context.instrument_index(instrument_id), ref, 78)


class Harness:
    def __init__(self, quarantine_s: float = 5.0) -> None:
        self.clock = SimClock(T0)
        self.view = Orders()
        self.strategy = Scripted()
        self.guard = StrategyGuard(self.strategy, IDS, quarantine_s)
        self.bus = EventDispatcher()
        self.bus.add(self.guard)
        self.sent: list[OrderIntent] = []
        self.bus.set_intent_sink(self.consume)

    def consume(self, buffer: IntentBuffer) -> None:
        self.sent.extend(OrderIntent.from_row(row, TABLE) for row in buffer.drain())

    def start(self) -> Harness:
        self.bus.start(self.clock, TABLE, self.view)
        return self

    def take(self) -> list[tuple[IntentKind, str, int]]:
        sent, self.sent = self.sent, []
        return [(i.kind, i.instrument_id, i.order_id) for i in sent]

    def at(self, seconds: float) -> None:
        self.clock.advance_to(T0 + round(seconds * NS))

    def book(self, instrument_id: str) -> None:
        self.bus.on_book(instrument_id, object(), self.clock.time_ns())

    def trade(self, instrument_id: str) -> None:
        venue, symbol = instrument_id.split(":")
        self.bus.on_trade(Trade(venue, symbol, Decimal(1), Decimal(1), OrderSide.BUY, "t", 0))

    def update(self, instrument_id: str) -> None:
        venue, symbol = instrument_id.split(":")
        self.bus.on_order_update(OrderUpdate("c1", venue, symbol, OrderStatus.NEW, Decimal(0)))

    def seen(self, hook: str) -> list[str]:
        return [about for h, about in self.strategy.seen if h == hook]


def started() -> Harness:
    h = Harness().start()
    h.view.add(1, 0)
    h.view.add(2, 0, pending=True)  # a request in flight: no cancel piles up on it
    h.view.add(3, 1)
    return h


def test_a_raising_on_book_pulls_that_instruments_orders_and_holds_its_events() -> None:
    h = started()
    h.strategy.raises.add(("on_book", OKX_ID))
    h.book(OKX_ID)
    assert h.guard.errors == 1
    assert h.take() == [(IntentKind.CANCEL, OKX_ID, 1)]  # live and not pending: only 1
    h.strategy.raises.clear()
    for t in (0.5, 2.0, 4.999_999_999):
        h.at(t)
        h.book(OKX_ID)
        h.trade(OKX_ID)
    assert h.seen("on_book") == [OKX_ID] and h.seen("on_trade") == []  # held
    h.at(5.0)  # the quarantine is over: the events reach the strategy again
    h.book(OKX_ID)
    h.trade(OKX_ID)
    assert h.seen("on_book") == [OKX_ID, OKX_ID] and h.seen("on_trade") == [OKX_ID]
    assert h.take() == [] and h.guard.errors == 1


def test_other_instruments_are_not_affected() -> None:
    h = started()
    h.strategy.raises.add(("on_book", OKX_ID))
    h.book(OKX_ID)
    h.take()
    h.at(1.0)
    h.book(BIN_ID)
    h.trade(BIN_ID)
    assert h.seen("on_book") == [OKX_ID, BIN_ID] and h.seen("on_trade") == [BIN_ID]
    assert h.take() == []  # binance's order 3 stays


def test_order_updates_and_feed_statuses_are_delivered_in_quarantine() -> None:
    h = started()
    h.strategy.raises.add(("on_book", OKX_ID))
    h.book(OKX_ID)
    h.at(1.0)
    h.update(OKX_ID)
    h.bus.on_feed_status(FeedStatus(OKX_ID, False, "gap", h.clock.time_ns()))
    assert h.seen("on_order_update") == [OKX_ID]
    assert h.seen("on_feed_status") == [OKX_ID]


def test_a_raising_order_update_quarantines_its_instrument() -> None:
    h = started()
    h.strategy.raises.add(("on_order_update", BIN_ID))
    h.update(BIN_ID)
    assert h.guard.errors == 1
    assert h.take() == [(IntentKind.CANCEL, BIN_ID, 3)]
    h.book(BIN_ID)
    h.book(OKX_ID)
    assert h.seen("on_book") == [OKX_ID]


def test_a_raising_timer_pulls_every_instrument() -> None:
    h = started()
    h.strategy.raises.add(("on_timer", "*"))
    assert h.strategy.context is not None
    h.strategy.context.timers.after("refresh", NS // 10)
    h.at(0.1)
    assert h.guard.errors == 1
    assert set(h.take()) == {(IntentKind.CANCEL, OKX_ID, 1), (IntentKind.CANCEL, BIN_ID, 3)}
    h.book(OKX_ID)
    h.book(BIN_ID)
    assert h.seen("on_book") == []


def test_what_the_failed_call_pushed_for_the_instrument_is_dropped() -> None:
    h = started()

    def half_a_requote(instrument_id: str) -> None:
        h.strategy.push_new(BIN_ID)  # another instrument's: it goes
        h.strategy.push_new(instrument_id)
        h.strategy.push_cancel(instrument_id, 1)  # the guard cancels 1 itself: not twice

    h.strategy.before["on_book"] = half_a_requote
    h.strategy.raises.add(("on_book", OKX_ID))
    h.book(OKX_ID)
    assert h.take() == [(IntentKind.NEW, BIN_ID, 0), (IntentKind.CANCEL, OKX_ID, 1)]


def test_a_quarantined_instrument_gets_cancels_only() -> None:
    """Hooks that name no instrument (timers) and those always delivered still reach the
    strategy: what they push for a quarantined instrument is dropped, but its cancels."""
    h = started()
    h.strategy.raises.add(("on_book", OKX_ID))
    h.book(OKX_ID)
    h.take()
    h.strategy.raises.clear()

    def requote_all(_: str) -> None:
        h.strategy.push_new(OKX_ID)
        h.strategy.push_cancel(OKX_ID, 2)
        h.strategy.push_new(BIN_ID)

    h.strategy.before["on_timer"] = requote_all
    h.strategy.before["on_order_update"] = requote_all
    assert h.strategy.context is not None
    h.strategy.context.timers.after("refresh", NS)
    h.at(1.0)
    assert h.take() == [(IntentKind.CANCEL, OKX_ID, 2), (IntentKind.NEW, BIN_ID, 0)]
    h.update(OKX_ID)
    assert h.take() == [(IntentKind.CANCEL, OKX_ID, 2), (IntentKind.NEW, BIN_ID, 0)]
    h.at(5.0)  # over: the strategy quotes it again
    h.update(OKX_ID)
    assert [k for k, _, _ in h.take()] == [IntentKind.NEW, IntentKind.CANCEL, IntentKind.NEW]


def test_a_raising_on_start_propagates() -> None:
    h = Harness()
    h.strategy.fail_start = True
    with pytest.raises(Bug, match="cannot start"):
        h.start()
    assert not h.bus.started and h.bus.context_of(h.guard) is None


def test_errors_are_logged_at_most_once_a_second_per_hook(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = started()
    h.strategy.raises.add(("on_book", "*"))
    h.strategy.raises.add(("on_trade", "*"))
    with caplog.at_level(logging.ERROR, logger="engine.strategy"):
        h.book(OKX_ID)
        h.book(BIN_ID)  # on_book again within the second: counted, not logged
        h.trade("gate:BTC_USDT")  # not quoted: every instrument is pulled, logged (other hook)
        h.at(1.0)
        h.book("gate:BTC_USDT")
    assert h.guard.errors == 4
    assert len([r for r in caplog.records if "raised" in r.getMessage()]) == 3


# ----------------------------------------------------------------------------- with the MM


class BuggyOnOkx(MarketMakingStrategy):
    """The market maker with a bug that strikes on okx's books after it requoted them."""

    armed = True

    def on_book(self, instrument_id: str, book: Any, timestamp_ns: int) -> None:
        super().on_book(instrument_id, book, timestamp_ns)
        if self.armed and instrument_id == OKX_ID:
            raise Bug("after the requote")


def test_the_market_maker_loses_only_the_instrument_its_bug_hits() -> None:
    clock = SimClock(T0)
    paper = Paper(clock, TABLE)
    okx_book, bin_book = book_of(499_900, 500_100), book_of(4_999_000, 5_001_000)
    paper.books = {0: okx_book, 1: bin_book}
    mm = BuggyOnOkx({**BASE, "order_size": "0.001", "max_position": "0.01"}, IDS)
    mm.armed = False
    guard = StrategyGuard(mm, IDS, quarantine_s=5.0)
    bus = EventDispatcher()
    bus.add(guard)
    bus.set_intent_sink(paper.consume)
    bus.start(clock, TABLE, paper)
    bus.on_book(OKX_ID, okx_book, T0)
    bus.on_book(BIN_ID, bin_book, T0)
    assert {(i.kind, i.instrument_id) for i in paper.take()} == {
        (IntentKind.NEW, OKX_ID), (IntentKind.NEW, BIN_ID),
    }  # fmt: skip
    mm.armed = True
    clock.advance_to(T0 + NS)
    moved = book_of(499_950, 500_150)
    bus.on_book(OKX_ID, moved, clock.time_ns())  # its replaces are dropped, its quotes pulled
    assert [(i.kind, i.instrument_id) for i in paper.take()] == [(IntentKind.CANCEL, OKX_ID)] * 2
    assert [o.instrument_index for o in paper.orders.values()] == [1, 1]
    mm.armed = False
    clock.advance_to(T0 + 3 * NS)
    bus.on_book(BIN_ID, book_of(4_999_500, 5_001_500), clock.time_ns())
    bus.on_book(OKX_ID, moved, clock.time_ns())
    assert {(i.kind, i.instrument_id) for i in paper.take()} == {(IntentKind.REPLACE, BIN_ID)}
    clock.advance_to(T0 + 6 * NS)
    paper.books[0] = moved
    bus.on_book(OKX_ID, moved, clock.time_ns())
    assert [(i.kind, i.instrument_id) for i in paper.take()] == [(IntentKind.NEW, OKX_ID)] * 2
