"""engine/strategy/market_making.py: MarketMakingStrategy on real parts.

A real EventDispatcher, SimClock, Quoter, IntentBuffer and Cython OrderBook; the TradingView is
`Paper` below, a backtest-style view that holds the books and positions the test sets and opens,
amends and cancels our orders from the intents the strategy pushes (it is the dispatcher's
intent sink). Orders are acknowledged at once unless a test asks for `pending` ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine._core import quoting
from engine._core.book import ASK, BID, OrderBook, UpdateBuffer
from engine._core.intents import CANCEL, NEW, REPLACE, IntentBuffer
from engine.clock import NS_PER_SECOND, SimClock
from engine.events import (
    EventDispatcher,
    FeedStatus,
    IntentKind,
    OpenOrder,
    OrderIntent,
    OrderUpdate,
    Trade,
)
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.strategy.base import BUY, SELL
from engine.strategy.market_making import MarketMakingStrategy, slot_tag
from engine.strategy.params import MarketMakingParams

NS = NS_PER_SECOND
T0 = 1_700_000_000 * NS

OKX = Instrument(
    "BTC-USDT", "okx", "BTC", "USDT", Decimal("0.1"), Decimal("0.001"), Decimal("0.001"),
    Decimal(0), 1, 3,
)  # fmt: skip
BINANCE = Instrument(
    "BTCUSDT", "binance", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"),
    Decimal("0.00001"), Decimal("5"), 2, 5,
)  # fmt: skip
TABLE = (OKX, BINANCE)
OKX_ID, BIN_ID = OKX.instrument_id, BINANCE.instrument_id

# okx: 0.010 BTC = 10 lots per level, 0.100 BTC = 100 lots of position room
BASE: dict[str, Any] = {
    "order_size": "0.010",
    "max_position": "0.100",
    "base_half_spread_ticks": 5.0,
    "min_half_spread_ticks": 1.0,
    "requote_interval_s": 0.0,
}
BID0, ASK0 = 499_900, 500_100  # 49,990.0 / 50,010.0: mid 500_000 ticks


def book_of(bid: int, ask: int, bid_qty: int = 1_000, ask_qty: int = 1_000) -> OrderBook:
    book = OrderBook(16)
    buf = UpdateBuffer(2)
    buf.push(BID, bid, bid_qty)
    buf.push(ASK, ask, ask_qty)
    book.load_snapshot(buf)
    return book


# ----------------------------------------------------------------------------- the view


@dataclass
class Paper:
    """A TradingView and order store, as a backtest keeps them: the test sets books, positions
    and the risk state; the strategy's intents open, amend and cancel orders here."""

    clock: SimClock
    instruments: tuple[Instrument, ...]
    books: dict[int, OrderBook] = field(default_factory=dict)
    positions: dict[int, int] = field(default_factory=dict)
    state: str = "ACTIVE"
    orders: dict[int, OpenOrder] = field(default_factory=dict)
    tags: dict[int, int] = field(default_factory=dict)
    sent: list[OrderIntent] = field(default_factory=list)
    pending: bool = False  # requests wait for ack() instead of being answered at once
    _waiting: list[tuple[int, int]] = field(default_factory=list)  # (kind, order ref)
    _next: int = 1

    # TradingView
    def book(self, instrument_index: int) -> Any | None:
        return self.books.get(instrument_index)

    def position_lots(self, instrument_index: int) -> int:
        return self.positions.get(instrument_index, 0)

    def order_of_tag(self, client_tag: int) -> int:
        return self.tags.get(client_tag, 0)

    def order(self, order_ref: int) -> OpenOrder | None:
        return self.orders.get(order_ref)

    def open_orders(self, instrument_index: int) -> list[OpenOrder]:
        return [o for o in self.orders.values() if o.instrument_index == instrument_index]

    def trading_state(self) -> str:
        return self.state

    # the intent sink
    def consume(self, buffer: IntentBuffer) -> None:
        for row in buffer.drain():
            self.sent.append(OrderIntent.from_row(row, self.instruments))
            index, kind, side, _type, _tif, price, qty, tag, ref = row
            now = self.clock.time_ns()
            if kind == NEW:
                ref = self._next
                self._next += 1
                status = OrderStatus.PENDING_NEW if self.pending else OrderStatus.NEW
                self.orders[ref] = OpenOrder(
                    ref, index, side, price, qty, 0, status, tag, now, self.pending
                )
                self.tags[tag] = ref
                if self.pending:
                    self._waiting.append((NEW, ref))
                continue
            order = self.orders[ref]
            assert not order.pending, "a request about a pending order piled up"
            if kind == CANCEL:
                if self.pending:
                    self.orders[ref] = order._replace(
                        status=OrderStatus.PENDING_CANCEL, pending=True
                    )
                    self._waiting.append((CANCEL, ref))
                else:
                    self._end(ref)
            else:
                assert kind == REPLACE and side == order.side and tag == order.client_tag
                self.orders[ref] = order._replace(
                    price_ticks=price, qty_lots=qty + order.filled_lots, placed_ns=now,
                    pending=self.pending,
                )  # fmt: skip
                if self.pending:
                    self._waiting.append((REPLACE, ref))

    def _end(self, ref: int) -> None:
        order = self.orders.pop(ref)
        if self.tags.get(order.client_tag) == ref:
            del self.tags[order.client_tag]

    def ack(self) -> list[OrderUpdate]:
        """The venue answers every request in flight; the updates the engine would emit."""
        updates = []
        for kind, ref in self._waiting:
            order = self.orders[ref]
            if kind == CANCEL:
                self._end(ref)
                updates.append(self.update(order, OrderStatus.CANCELED))
            else:
                self.orders[ref] = order._replace(status=OrderStatus.NEW, pending=False)
                updates.append(self.update(self.orders[ref], OrderStatus.NEW))
        self._waiting.clear()
        return updates

    def fill(self, ref: int, lots: int) -> OrderUpdate:
        """A fill of one of our orders: the position moves, the order shrinks or ends."""
        order = self.orders[ref]
        filled = order.filled_lots + lots
        index = order.instrument_index
        self.positions[index] = self.positions.get(index, 0) + order.side * lots
        if filled >= order.qty_lots:
            self._end(ref)
            status = OrderStatus.FILLED
        else:
            self.orders[ref] = order._replace(filled_lots=filled)
            status = OrderStatus.PARTIALLY_FILLED
        return self.update(order._replace(filled_lots=filled), status, lots)

    def update(self, order: OpenOrder, status: OrderStatus, fill_lots: int = 0) -> OrderUpdate:
        instrument = self.instruments[order.instrument_index]
        return OrderUpdate(
            order_id=f"c{order.order_ref}",
            venue=instrument.venue,
            symbol=instrument.symbol,
            status=status,
            filled_quantity=instrument.lots_to_qty(order.filled_lots),
            last_fill_price=instrument.ticks_to_price(order.price_ticks) if fill_lots else None,
            last_fill_quantity=instrument.lots_to_qty(fill_lots),
            order_ref=order.order_ref,
            client_tag=order.client_tag,
            side=order.side,
            last_fill_ticks=order.price_ticks if fill_lots else 0,
            last_fill_lots=fill_lots,
            remaining_lots=max(order.qty_lots - order.filled_lots, 0),
        )

    def take(self) -> list[OrderIntent]:
        sent, self.sent = self.sent, []
        return sent

    def resting(self, index: int = 0) -> dict[int, tuple[int, int]]:
        """client tag -> (price, open lots) of the instrument's live orders."""
        return {
            o.client_tag: (o.price_ticks, o.qty_lots - o.filled_lots)
            for o in self.orders.values()
            if o.instrument_index == index
        }


class Harness:
    """The strategy started on a real dispatcher, SimClock and the Paper view."""

    def __init__(
        self,
        params: Mapping[str, Any] | None = None,
        ids: tuple[str, ...] = (OKX_ID,),
        *,
        ready: bool = True,
        position: int = 0,
        state: str = "ACTIVE",
    ) -> None:
        self.clock = SimClock(T0)
        self.paper = Paper(self.clock, TABLE, state=state)
        self.paper.positions[0] = position
        if ready:
            self.paper.books[0] = book_of(BID0, ASK0)
        self.bus = EventDispatcher()
        self.mm = MarketMakingStrategy({**BASE, **(params or {})}, ids)
        self.bus.add(self.mm)
        self.bus.set_intent_sink(self.paper.consume)
        self.bus.start(self.clock, TABLE, self.paper)

    def book(
        self, bid: int = BID0, ask: int = ASK0, index: int = 0, **qty: int
    ) -> list[OrderIntent]:
        book = book_of(bid, ask, **qty)
        self.paper.books[index] = book
        self.bus.on_book(TABLE[index].instrument_id, book, self.clock.time_ns())
        return self.paper.take()

    def feed(self, ready: bool, index: int = 0) -> list[OrderIntent]:
        if not ready:
            self.paper.books.pop(index, None)
        instrument_id = TABLE[index].instrument_id
        self.bus.on_feed_status(FeedStatus(instrument_id, ready, "test", self.clock.time_ns()))
        return self.paper.take()

    def advance(self, seconds: float) -> list[OrderIntent]:
        self.clock.advance_to(self.clock.time_ns() + round(seconds * NS))
        return self.paper.take()

    def deliver(self, *updates: OrderUpdate) -> list[OrderIntent]:
        for update in updates:
            self.bus.on_order_update(update)
        return self.paper.take()


def kinds(intents: list[OrderIntent]) -> list[IntentKind]:
    return [i.kind for i in intents]


def by_tag(intents: list[OrderIntent]) -> dict[int, OrderIntent]:
    out = {i.client_tag: i for i in intents}
    assert len(out) == len(intents), "two intents for one slot"
    return out


TAG = {(side, level): slot_tag(0, side, level) for side in (BUY, SELL) for level in range(16)}


# ----------------------------------------------------------------------------- quoting


def test_first_ready_book_places_every_level_on_both_sides_with_the_slot_tags() -> None:
    h = Harness({"levels": 3, "level_spacing_ticks": 2}, ready=False)
    assert h.book() == []  # the view has no book and no feed said ready: nothing
    assert h.feed(True) == []  # ready, but quotes wait for a book
    sent = h.book()
    assert kinds(sent) == [IntentKind.NEW] * 6
    tags = by_tag(sent)
    assert set(tags) == {TAG[side, level] for side in (BUY, SELL) for level in range(3)}
    for level in range(3):
        bid, ask = tags[TAG[BUY, level]], tags[TAG[SELL, level]]
        assert (bid.side, ask.side) == (OrderSide.BUY, OrderSide.SELL)
        assert bid.price_ticks == 500_000 - 5 - 2 * level
        assert ask.price_ticks == 500_000 + 5 + 2 * level
        assert bid.quantity_lots == ask.quantity_lots == 10
        assert bid.instrument_id == ask.instrument_id == OKX_ID
    # the slot tags are distinct across instruments, sides and levels
    every = {slot_tag(i, s, lv) for i in range(4) for s in (BUY, SELL) for lv in range(16)}
    assert len(every) == 4 * 2 * 16


def test_a_book_ready_before_the_start_quotes_on_its_first_event() -> None:
    h = Harness()
    assert len(h.book()) == 2


def test_quotes_are_symmetric_around_the_mid_at_zero_inventory() -> None:
    h = Harness({"levels": 2})
    tags = by_tag(h.book(BID0, BID0 + 31))  # an odd spread: mid between two ticks
    for level in range(2):
        bid, ask = tags[TAG[BUY, level]].price_ticks, tags[TAG[SELL, level]].price_ticks
        assert bid + ask == 2 * BID0 + 31  # == mid_x2
        assert tags[TAG[BUY, level]].quantity_lots == tags[TAG[SELL, level]].quantity_lots


def test_long_inventory_shifts_both_quotes_down_and_shrinks_the_bid() -> None:
    params = {"skew_ticks": 4.0, "size_shrink": 1.0}
    flat = by_tag(Harness(params).book())
    long = by_tag(Harness(params, position=50).book())  # half of max_position
    for side in (BUY, SELL):
        assert long[TAG[side, 0]].price_ticks == flat[TAG[side, 0]].price_ticks - 2
    assert long[TAG[BUY, 0]].quantity_lots == 5  # 10 * (1 - 1.0 * 0.5)
    assert long[TAG[SELL, 0]].quantity_lots == 10
    short = by_tag(Harness(params, position=-50).book())
    assert short[TAG[BUY, 0]].price_ticks == flat[TAG[BUY, 0]].price_ticks + 2
    assert (short[TAG[BUY, 0]].quantity_lots, short[TAG[SELL, 0]].quantity_lots) == (10, 5)


def test_post_only_quotes_are_limit_maker_and_plain_limits_otherwise() -> None:
    for post_only, order_type in ((True, OrderType.LIMIT_MAKER), (False, OrderType.LIMIT)):
        sent = Harness({"post_only": post_only}).book()
        assert {(i.order_type, i.time_in_force) for i in sent} == {(order_type, TimeInForce.GTC)}


# ----------------------------------------------------------------------------- keeping quotes


def test_an_order_within_refresh_ticks_is_kept_and_beyond_it_replaced() -> None:
    h = Harness({"refresh_ticks": 2})
    h.book()
    placed = h.paper.resting()
    refs = {tag: h.paper.order_of_tag(tag) for tag in placed}
    assert h.book(BID0 + 2, ASK0 + 2) == []  # the ideal moved 2 ticks: kept
    assert h.book(BID0 - 2, ASK0 - 2) == []
    sent = h.book(BID0 + 3, ASK0 + 3)
    assert kinds(sent) == [IntentKind.REPLACE] * 2
    for intent in sent:
        assert intent.order_id == refs[intent.client_tag]  # the same slot's order moves
        old_price, _ = placed[intent.client_tag]
        assert intent.price_ticks == old_price + 3
    assert h.mm.counters["requotes"] == 2


def test_a_pending_order_gets_no_new_request() -> None:
    h = Harness()
    h.paper.pending = True
    assert kinds(h.book()) == [IntentKind.NEW] * 2
    for move in (10, 20, -30):  # far away, again and again: the requests in flight stay alone
        assert h.book(BID0 + move, ASK0 + move) == []
    h.deliver(*h.paper.ack())
    assert kinds(h.book(BID0 + 40, ASK0 + 40)) == [IntentKind.REPLACE] * 2


def test_requote_interval_paces_replaces_while_cancels_still_go() -> None:
    h = Harness({"requote_interval_s": 1.0}, position=20)
    assert len(h.book()) == 2
    h.advance(0.5)
    assert h.book(BID0 + 50, ASK0 + 50) == []  # the replace waits for the interval
    h.paper.state = "REDUCING"  # long: the bid must go now, interval or not
    sent = h.book(BID0 + 50, ASK0 + 50)
    assert kinds(sent) == [IntentKind.CANCEL]
    assert sent[0].client_tag == TAG[BUY, 0]
    h.advance(0.5)  # one interval after the placing
    sent = h.book(BID0 + 50, ASK0 + 50)
    assert kinds(sent) == [IntentKind.REPLACE] and sent[0].client_tag == TAG[SELL, 0]


def test_a_fill_cools_the_instrument_down_before_anything_new() -> None:
    h = Harness({"fill_cooldown_s": 2.0})
    h.book()
    bid_ref = h.paper.order_of_tag(TAG[BUY, 0])
    h.deliver(h.paper.fill(bid_ref, 10))
    assert h.mm.counters["cooldowns"] == 1
    assert h.book(BID0 + 9, ASK0 + 9) == []  # no new bid, no replace of the ask
    h.advance(1.9)
    assert h.book(BID0 + 9, ASK0 + 9) == []
    h.advance(0.1)
    sent = by_tag(h.book(BID0 + 9, ASK0 + 9))
    assert sent[TAG[BUY, 0]].kind is IntentKind.NEW
    assert sent[TAG[SELL, 0]].kind is IntentKind.REPLACE


def test_an_update_without_a_fill_starts_no_cooldown() -> None:
    h = Harness({"fill_cooldown_s": 2.0})
    h.book()
    order = h.paper.orders[h.paper.order_of_tag(TAG[BUY, 0])]
    h.deliver(h.paper.update(order, OrderStatus.NEW))
    assert h.mm.counters["cooldowns"] == 0
    assert kinds(h.book(BID0 + 9, ASK0 + 9)) == [IntentKind.REPLACE] * 2


# ----------------------------------------------------------------------------- pulling quotes


def test_feed_not_ready_cancels_every_quote_and_nothing_new_until_ready() -> None:
    h = Harness({"levels": 2})
    refs = {h.paper.order_of_tag(t) for t in by_tag(h.book())}
    sent = h.feed(False)
    assert kinds(sent) == [IntentKind.CANCEL] * 4
    assert {i.order_id for i in sent} == refs
    assert h.mm.counters["pulls"] == 1
    assert h.book() == []  # a book event while not ready places nothing
    h.advance(10)
    assert h.feed(True) == []
    assert kinds(h.book()) == [IntentKind.NEW] * 4


def test_a_stale_book_pulls_the_quotes() -> None:
    h = Harness({"stale_book_s": 5.0})
    h.book()
    assert h.advance(5.0) == []  # exactly stale_book_s: not yet
    sent = h.advance(0.5)
    assert kinds(sent) == [IntentKind.CANCEL] * 2
    assert h.paper.orders == {}
    assert h.advance(30) == []  # pulled once
    assert kinds(h.book()) == [IntentKind.NEW] * 2  # the book moves again: quotes again


def test_halted_pulls_and_places_nothing() -> None:
    h = Harness({"levels": 2})
    h.book()
    h.paper.state = "HALTED"
    sent = h.book(BID0 + 20, ASK0 + 20)
    assert kinds(sent) == [IntentKind.CANCEL] * 4
    for move in (0, 30, 60):
        assert h.book(BID0 + move, ASK0 + move) == []
    assert Harness(state="HALTED").book() == []


def test_reducing_quotes_only_the_side_that_reduces() -> None:
    long = Harness(position=20, state="REDUCING").book()
    assert [(i.kind, i.side) for i in long] == [(IntentKind.NEW, OrderSide.SELL)]
    short = Harness(position=-20, state="REDUCING").book()
    assert [(i.kind, i.side) for i in short] == [(IntentKind.NEW, OrderSide.BUY)]
    assert Harness(position=0, state="REDUCING").book() == []


def test_a_pending_order_is_cancelled_once_it_can_be_after_a_pull() -> None:
    """A quote whose NEW is still in flight when the quotes are pulled cannot be cancelled
    then; it must be once the venue has answered, not left resting on a dead book."""
    h = Harness()
    h.paper.pending = True
    h.book()
    assert h.feed(False) == []  # both orders are PENDING_NEW: no cancel can go yet
    sent = h.deliver(*h.paper.ack())  # acknowledged: now they can
    assert kinds(sent) == [IntentKind.CANCEL] * 2
    h.deliver(*h.paper.ack())
    assert h.paper.orders == {}
    assert h.advance(5) == []


def test_a_pending_order_left_by_a_pull_is_cancelled_on_the_timer() -> None:
    h = Harness({"stale_book_s": 1.0})
    h.paper.pending = True
    h.book()
    h.advance(1.5)  # stale: pulled, but both NEWs are in flight
    h.paper.ack()  # answered, but no update reaches the strategy (a lost report, say)
    sent = h.advance(0.5)
    assert kinds(sent) == [IntentKind.CANCEL] * 2


# ----------------------------------------------------------------------------- references


def test_a_cross_venue_reference_moves_our_quotes() -> None:
    """Quoting binance (tick 0.01) around okx's mid (tick 0.1)."""
    params = {"reference": OKX_ID, "order_size": "0.001", "max_position": "0.01"}
    h = Harness(params, ids=(BIN_ID,), ready=False)
    h.paper.books[1] = book_of(4_990_000, 5_010_000)  # binance: 49,900.00 / 50,100.00, wide
    h.feed(True, index=1)
    assert h.book(4_990_000, 5_010_000, index=1) == []  # no reference price yet
    assert h.mm._books[BIN_ID].errors == {quoting.ERR_NO_REF: 1}
    # okx's mid 50,000.0 (5,000,000 of our ticks) is the reference: we quote at once
    sent = by_tag(h.book(499_990, 500_010, index=0))
    bid, ask = sent[slot_tag(1, BUY, 0)], sent[slot_tag(1, SELL, 0)]
    assert (bid.price_ticks, ask.price_ticks) == (5_000_000 - 5, 5_000_000 + 5)
    assert bid.instrument_id == BIN_ID
    # okx moves up 10.0 USDT; binance's book does not move: our quotes follow okx
    sent = by_tag(h.book(500_090, 500_110, index=0))
    assert {i.kind for i in sent.values()} == {IntentKind.REPLACE}
    assert sent[slot_tag(1, BUY, 0)].price_ticks == 5_001_000 - 5
    assert sent[slot_tag(1, SELL, 0)].price_ticks == 5_001_000 + 5


def test_last_trade_reference() -> None:
    h = Harness({"reference": "last"})
    assert h.book() == []
    h.bus.on_trade(Trade("okx", "BTC-USDT", Decimal("50000.3"), Decimal(1), OrderSide.BUY, "t", 1))
    sent = by_tag(h.book())
    assert (sent[TAG[BUY, 0]].price_ticks, sent[TAG[SELL, 0]].price_ticks) == (499_998, 500_008)


# ----------------------------------------------------------------------------- parameters


def test_fewer_levels_by_on_params_cancels_the_extra_slots() -> None:
    h = Harness({"levels": 3})
    h.book()
    extra = {h.paper.order_of_tag(TAG[side, level]) for side in (BUY, SELL) for level in (1, 2)}
    h.mm.on_params({**BASE, "levels": 1})
    sent = h.book()  # the cancels left in the buffer go with the next event
    assert kinds(sent) == [IntentKind.CANCEL] * 4
    assert {i.order_id for i in sent} == extra
    assert set(h.paper.resting()) == {TAG[BUY, 0], TAG[SELL, 0]}
    assert h.mm.settings.levels == 1


def test_fewer_levels_cancels_an_extra_slot_that_was_pending() -> None:
    h = Harness({"levels": 2})
    h.paper.pending = True
    h.book()
    h.mm.on_params({**BASE, "levels": 1})
    assert h.book() == []  # all four in flight: nothing can be cancelled yet
    sent = h.deliver(*h.paper.ack())
    assert {i.client_tag for i in sent if i.kind is IntentKind.CANCEL} == {
        TAG[BUY, 1], TAG[SELL, 1],
    }  # fmt: skip


def test_new_parameters_take_effect_without_waiting_for_the_book() -> None:
    h = Harness({"max_order_age_s": 1.0})
    h.book()
    h.mm.on_params({**BASE, "max_order_age_s": 1.0, "base_half_spread_ticks": 8.0})
    sent = h.advance(1.0)  # the order-age pass, before any new book event
    assert kinds(sent) == [IntentKind.REPLACE] * 2
    assert {i.price_ticks for i in sent} == {500_000 - 8, 500_000 + 8}


def test_a_hot_spread_change_is_quoted_at_the_next_book_event() -> None:
    """A hot reload (the control API's `set`, SIGHUP) reaches `on_params` at once; the very
    next tick quotes the new spread, even on an unchanged book."""
    h = Harness()
    first = h.book()
    assert {i.price_ticks for i in first} == {500_000 - 5, 500_000 + 5}
    h.mm.on_params({**BASE, "base_half_spread_ticks": 9.0})
    sent = h.book()
    assert kinds(sent) == [IntentKind.REPLACE] * 2
    assert {i.price_ticks for i in sent} == {500_000 - 9, 500_000 + 9}


def test_a_reload_keeps_the_instruments_state() -> None:
    """New parameters change the quoting, not what the strategy knows: the cooldown of a
    fill, that it quotes (so a stale book still pulls), that the feed is ready."""
    h = Harness({"fill_cooldown_s": 2.0})
    h.book()
    h.deliver(h.paper.fill(h.paper.order_of_tag(TAG[BUY, 0]), 10))
    h.mm.on_params({**BASE, "fill_cooldown_s": 2.0, "base_half_spread_ticks": 6.0})
    assert h.book() == []  # still cooling down: no new bid, no move of the ask
    h.advance(2.0)
    assert kinds(h.book()) == [IntentKind.NEW, IntentKind.REPLACE]
    sent = h.advance(5.5)  # then the book goes quiet
    assert kinds(sent) == [IntentKind.CANCEL] * 2


# (parameter, a bad value): each must be refused with a message naming the parameter
BAD: list[tuple[str, Any]] = [
    ("levels", 0), ("levels", quoting.MAX_LEVELS + 1), ("levels", "2"), ("levels", 2.0),
    ("level_spacing_ticks", 0), ("refresh_ticks", -1), ("size_tolerance_bps", -5),
    ("order_size", "0"), ("order_size", "-0.01"), ("order_size", 0.01), ("order_size", "abc"),
    ("order_size", "NaN"), ("max_position", "0"), ("size_shrink", 1.5), ("size_shrink", -0.1),
    ("min_half_spread_ticks", 0.0), ("stale_book_s", 0), ("gamma", -1.0), ("kappa", 0),
    ("skew_ticks", -1.0), ("fill_cooldown_s", float("nan")), ("requote_interval_s", -0.2),
    ("max_order_age_s", float("inf")), ("reference", "median"), ("model", "magic"),
    ("size_mode", "cubic"), ("post_only", "yes"), ("post_only", 1), ("levels", True),
    ("sigma_half_life_s", 0.0), ("horizon_s", -1.0), ("arrival", 0.0),
    # times past int64 nanoseconds would overflow in a hook, long after the reload
    ("fill_cooldown_s", 1e300), ("requote_interval_s", 1e300), ("stale_book_s", 1e300),
    ("max_order_age_s", 1e300), ("sigma_half_life_s", 1e300),
    ("refresh_ticks", 2**60), ("level_spacing_ticks", 2**60), ("size_tolerance_bps", 2**62),
    ("base_half_spread_ticks", 1e300), ("size_factor", 1e300),
]  # fmt: skip

# values the parser takes but the instruments or the quoting core cannot: (name, value, levels)
BAD_FOR_THE_INSTRUMENT: list[tuple[str, Any, int]] = [
    ("order_size", "0.0001", 1),  # under okx's minimum quantity (0.001)
    ("max_position", "0.005", 1),  # under order_size
    ("target_position", "0.5", 1),  # past max_position
    ("order_size", "1e20", 1),  # past the quoting core's 2**52 lots
    ("size_factor", 1e15, 2),  # level 1: 10 lots * 1e15, past 2**52
    ("reference", "nowhere:BTC-USDT", 1),  # not in the engine's table
]


def _names_it(exc: BaseException, name: str) -> bool:
    return f"strategy.parameters.{name}" in str(exc)


@pytest.fixture(scope="module")
def running() -> Harness:
    h = Harness({"levels": 2})
    h.book()
    return h


@pytest.mark.parametrize(("name", "value"), BAD)
def test_parse_refuses_a_bad_value_by_name(name: str, value: Any) -> None:
    with pytest.raises(ValueError) as refused:
        MarketMakingParams.parse({**BASE, name: value})
    assert _names_it(refused.value, name), str(refused.value)
    with pytest.raises(ValueError, match=name):
        MarketMakingStrategy({**BASE, name: value}, (OKX_ID,))


@pytest.mark.parametrize(
    ("name", "value", "levels"), [(n, v, 1) for n, v in BAD] + BAD_FOR_THE_INSTRUMENT
)
def test_a_running_strategy_refuses_a_bad_value_by_name_and_keeps_its_own(
    running: Harness, name: str, value: Any, levels: int
) -> None:
    given_params = {**BASE, "levels": levels, name: value}
    with pytest.raises(ValueError) as checked:
        running.mm.check_params(given_params)
    assert _names_it(checked.value, name), str(checked.value)
    before, books = running.mm.settings, dict(running.mm._books)
    with pytest.raises(ValueError) as refused:
        running.mm.on_params(given_params)
    assert _names_it(refused.value, name), str(refused.value)
    assert running.mm.settings is before and running.mm._books == books
    assert len(running.bus.intents) == 0  # nothing cancelled either


NUMBERS = ["levels", "level_spacing_ticks", "refresh_ticks", "size_tolerance_bps", "size_shrink",
           "skew_ticks", "stale_book_s", "max_order_age_s", "base_half_spread_ticks",
           "min_half_spread_ticks", "vol_mult", "fill_cooldown_s", "requote_interval_s",
           "sigma_half_life_s", "gamma", "kappa", "arrival", "horizon_s"]  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(NUMBERS),
    st.floats(allow_nan=False)
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([0, 1, -1, 0.5, 16, 17, 2**52, 2**52 + 1, 1e9, 1e10]),
    st.sampled_from(["spread", "avellaneda_stoikov", "glft"]),
)
def test_any_number_is_taken_whole_or_refused_by_name(
    running: Harness, name: str, value: float, model: str
) -> None:
    """Whatever the number: refused by name at parse or at check, or it runs: the quoter is
    built and a book event quotes without raising."""
    given_params = {**BASE, "model": model, name: value}
    try:
        MarketMakingParams.parse(given_params)
        running.mm.check_params(given_params)
    except ValueError as exc:
        assert _names_it(exc, name) or _names_it(exc, "gamma"), str(exc)
        return
    running.mm.on_params(given_params)
    try:
        running.book(BID0 + 7, ASK0 + 7)
        running.advance(0.5)
        running.book()
    finally:
        running.mm.on_params({**BASE, "levels": 2})
        running.paper.take()


def test_unknown_parameters_are_listed() -> None:
    with pytest.raises(ValueError, match=r"unknown parameter.*levles"):
        MarketMakingParams.parse({"levles": 2})
    with pytest.raises(ValueError, match="levles"):
        MarketMakingStrategy({"levles": 2}, (OKX_ID,))


def test_good_parameters_are_taken_by_check_and_by_on_params() -> None:
    h = Harness()
    new = {**BASE, "levels": 4, "reference": "micro", "model": "glft", "order_size": "0.002"}
    h.mm.check_params(new)
    h.mm.on_params(new)
    assert h.mm.settings.levels == 4 and h.mm.params == new
    assert h.mm._books[OKX_ID].quoter.params["qty_lots"] == 2


# ----------------------------------------------------------------------------- the grid


@settings(max_examples=80, deadline=None)
@given(
    bid=st.integers(1_000, 2_000_000),
    spread=st.integers(1, 400),
    position=st.integers(-100, 100),
    half=st.floats(0.0, 50.0),
    skew=st.floats(0.0, 80.0),
    levels=st.integers(1, 5),
    spacing=st.integers(1, 7),
    model=st.sampled_from(["spread", "avellaneda_stoikov", "glft"]),
)
def test_quotes_are_on_the_grid_and_never_cross(  # noqa: PLR0917 - hypothesis' draws
    bid: int, spread: int, position: int, half: float, skew: float, levels: int, spacing: int,
    model: str,
) -> None:  # fmt: skip
    params = {
        "base_half_spread_ticks": half, "skew_ticks": skew, "levels": levels,
        "level_spacing_ticks": spacing, "model": model,
    }  # fmt: skip
    h = Harness(params, position=position)
    ask = bid + spread
    for intent in h.book(bid, ask):
        assert intent.kind is IntentKind.NEW
        price = intent.price(OKX)
        assert price is not None and price == price.quantize(OKX.tick_size)
        assert OKX.price_to_ticks(price) == intent.price_ticks > 0
        qty = intent.quantity(OKX)
        assert qty >= OKX.min_qty and qty == qty.quantize(OKX.lot_size)
        if intent.side is OrderSide.BUY:
            assert intent.price_ticks < ask
        else:
            assert intent.price_ticks > bid
    # never more than the position room on either side
    resting = h.paper.resting()
    bids = sum(q for t, (_, q) in resting.items() if t & 0x80 == 0)
    asks = sum(q for t, (_, q) in resting.items() if t & 0x80)
    assert position + bids <= 100 and position - asks >= -100
