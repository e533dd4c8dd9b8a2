"""engine/risk/manager.py: the risk manager between the intents and the order manager.

Real parts: RiskCore, IntentBuffer and PositionCore, a real EventDispatcher (the manager is its
intent sink and one of its handlers), SimClock and Cython OrderBooks for the marks. The order
manager is `Sink` below: it records what reaches it and keeps the positions as the OMS does
(a test books a fill into them with `PositionCore.apply_fill`, as the OMS would).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from engine._core import risk as codes
from engine._core.book import ASK, BID, OrderBook, UpdateBuffer
from engine._core.intents import BUY, GTC, LIMIT, LIMIT_MAKER, SELL
from engine._core.position import PositionCore
from engine._core.risk import NO_LIMIT
from engine.clock import NS_PER_SECOND, SimClock
from engine.config.schema import RiskConfig
from engine.events import EventDispatcher, OrderUpdate
from engine.model.enums import OrderStatus
from engine.model.instrument import Instrument
from engine.risk.manager import RATE_CAPACITY, RiskManager

NS = NS_PER_SECOND
T0 = 1_700_000_000 * NS + 3_600 * NS  # an hour after a daily reset boundary: no roll in a test

OKX = Instrument(
    "BTC-USDT", "okx", "BTC", "USDT", Decimal("0.1"), Decimal("0.001"), Decimal("0.001"),
    Decimal(0), 1, 3,
)  # fmt: skip  # notional unit 0.0001 USDT
BINANCE = Instrument(
    "BTCUSDT", "binance", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"),
    Decimal("0.00001"), Decimal(0), 2, 5,
)  # fmt: skip  # notional unit 0.0000001 USDT
TABLE = (OKX, BINANCE)

# every limit far away; a test sets the one it is about
LOOSE = RiskConfig(
    max_position=Decimal(1000),
    max_order_notional=Decimal(10**9),
    max_open_orders=10_000,
    max_orders_per_second=10_000,
    max_daily_loss=Decimal(10**9),
    price_band_bps=0,
    max_cancels_per_second=10_000,
)


def book_of(bid: int, ask: int) -> OrderBook:
    book = OrderBook(8)
    buf = UpdateBuffer(2)
    buf.push(BID, bid, 1)
    buf.push(ASK, ask, 1)
    book.load_snapshot(buf)
    return book


class Sink:
    """The order manager as the risk manager sees it (OrderSink): records every call."""

    def __init__(self, count: int, *, amends: bool = True) -> None:
        self.positions: Sequence[PositionCore] = [PositionCore() for _ in range(count)]
        self.calls: list[tuple[Any, ...]] = []
        self.amends = amends  # the venue amends in place (same id) or cancels and places anew
        self._next = 100
        self.batching = False
        self.batches = 0  # sink passes: one journal write each in the real order manager

    def place(  # noqa: PLR0917 - OrderSink's shape
        self, index: int, side: int, order_type: int, tif: int, price: int, qty: int, tag: int
    ) -> int:
        self._next += 1
        self.calls.append(("place", index, side, order_type, tif, price, qty, tag))
        return self._next

    def cancel(self, order_id: int) -> bool:
        self.calls.append(("cancel", order_id))
        return True

    def replace(  # noqa: PLR0917 - OrderSink's shape
        self, order_id: int, index: int, side: int, order_type: int, tif: int, price: int,
        qty: int, tag: int,
    ) -> int:  # fmt: skip
        self.calls.append(("replace", order_id, index, side, order_type, tif, price, qty, tag))
        if self.amends:
            return order_id
        self._next += 1
        return self._next

    def begin_batch(self) -> None:
        assert not self.batching, "batches do not nest"
        self.batching = True

    def end_batch(self) -> None:
        assert self.batching, "end_batch without begin_batch"
        self.batching = False
        self.batches += 1


class Harness:
    def __init__(
        self, config: RiskConfig = LOOSE, traded: tuple[int, ...] = (0, 1), **limits: Any
    ) -> None:
        self.clock = SimClock(T0)
        self.halts: list[tuple[str, str]] = []
        self.risk = RiskManager(
            TABLE, traded, dataclasses.replace(config, **limits), self.clock,
            on_halt=lambda reason, source: self.halts.append((reason, source)),
        )  # fmt: skip
        self.oms = Sink(len(TABLE))
        self.risk.oms = self.oms
        self.bus = EventDispatcher()
        self.bus.add(self.risk)
        self.bus.set_intent_sink(self.risk.consume)
        self.bus.start(self.clock, TABLE)
        self.code = 0  # the refusal code of the last intent (0: it passed)

    @property
    def core(self) -> Any:
        return self.risk.core

    def mark(self, index: int, bid: int, ask: int) -> None:
        self.bus.on_book(TABLE[index].instrument_id, book_of(bid, ask), self.clock.time_ns())

    def at(self, seconds: float) -> None:
        self.clock.advance_to(T0 + round(seconds * NS))

    def _consume(self) -> list[tuple[Any, ...]]:
        before = dict(self.core.refusals())
        calls = len(self.oms.calls)
        self.risk.consume(self.bus.intents)
        assert len(self.bus.intents) == 0
        diff = [c for c, n in self.core.refusals().items() if n != before.get(c, 0)]
        assert len(diff) <= 1
        self.code = diff[0] if diff else 0
        return self.oms.calls[calls:]

    def new(  # noqa: PLR0917 - an order's fields
        self, index: int, side: int, price: int, lots: int, tag: int = 7, order_type: int = LIMIT
    ) -> int:
        """Push a NEW intent through the risk manager; the id the sink gave it, 0 if refused."""
        self.bus.intents.push_new(index, side, price, lots, tag, order_type, GTC)
        calls = self._consume()
        assert len(calls) == (0 if self.code else 1)
        return self.oms._next if calls else 0

    def cancel(self, index: int, order_id: int) -> bool:
        self.bus.intents.push_cancel(index, order_id, 7)
        return bool(self._consume())

    def replace(self, index: int, order_id: int, side: int, price: int, lots: int) -> int:
        self.bus.intents.push_replace(index, order_id, side, price, lots, 7, LIMIT, GTC)
        calls = self._consume()
        if not calls:
            return 0
        return order_id if self.oms.amends else self.oms._next

    def fill(  # noqa: PLR0917 - a fill's fields
        self, index: int, side: int, price: int, lots: int, fee_units: int = 0,
        order_ref: int = 0, status: OrderStatus = OrderStatus.PARTIALLY_FILLED,
    ) -> None:  # fmt: skip
        """The OMS books a fill into the position, then emits the order's update."""
        self.oms.positions[index].apply_fill(side, price, lots, fee_units)
        self.update(index, order_ref, status, lots, price)

    def update(
        self, index: int, order_ref: int, status: OrderStatus, fill_lots: int = 0, price: int = 0
    ) -> None:
        inst = TABLE[index]
        self.bus.on_order_update(
            OrderUpdate(
                order_id=f"c{order_ref}", venue=inst.venue, symbol=inst.symbol, status=status,
                filled_quantity=Decimal(0), order_ref=order_ref, last_fill_lots=fill_lots,
                last_fill_ticks=price,
            )
        )  # fmt: skip

    def open(self, index: int) -> tuple[int, int, int, int]:
        """(position, open buy lots, open sell lots, open orders) as the core has them."""
        _ref, position, buys, sells, orders, _exp, _unr = self.core.instrument(index)
        return position, buys, sells, orders

    def refused(self, code: int) -> int:
        counted: int = self.core.refusals().get(code, 0)
        assert self.risk.refusals().get(codes.describe(code), 0) == counted
        return counted


# ----------------------------------------------------------------------------- orders


def test_a_new_order_that_passes_reaches_the_sink_and_is_counted_open() -> None:
    h = Harness()
    h.mark(0, 499_990, 500_010)
    order_id = h.new(0, BUY, 500_000, 10, tag=42, order_type=LIMIT_MAKER)
    assert order_id and h.code == 0
    assert h.oms.calls == [("place", 0, BUY, LIMIT_MAKER, GTC, 500_000, 10, 42)]
    assert h.open(0) == (0, 10, 0, 1)
    assert h.new(0, SELL, 500_020, 3)
    assert h.open(0) == (0, 10, 3, 2)
    assert h.core.passed == 2 and h.core.refused == 0


# (limits, [(index, side, price, lots, expected code)]): each pair sits on the limit
BOUNDARIES: dict[str, tuple[dict[str, Any], list[tuple[int, int, int, int, int]]]] = {
    "qty": (
        {"max_order_quantity": Decimal("0.050")},  # 50 lots
        [(0, BUY, 500_000, 50, 0), (0, BUY, 500_000, 51, codes.QTY)],
    ),
    "notional": (
        {"max_order_notional": Decimal(1000)},  # 10,000,000 units of 0.0001
        [(0, BUY, 500_000, 20, 0), (0, SELL, 500_001, 20, codes.NOTIONAL)],
    ),
    "notional, other units": (
        {"max_order_notional": Decimal(1000)},  # 10,000,000,000 units of 0.0000001
        [(1, BUY, 5_000_000, 2_000, 0), (1, BUY, 5_000_001, 2_000, codes.NOTIONAL)],
    ),
    "min notional": (
        {"min_order_notional": Decimal(50)},  # one lot at 50,000.0
        [(0, BUY, 500_000, 1, 0), (0, BUY, 499_999, 1, codes.MIN_NOTIONAL)],
    ),
    "price band": (
        {"price_band_bps": 100},  # 1% of the mid 500,000: 5,000 ticks
        [
            (0, SELL, 505_000, 1, 0),
            (0, SELL, 505_001, 1, codes.PRICE_BAND),
            (0, BUY, 495_000, 1, 0),
            (0, BUY, 494_999, 1, codes.PRICE_BAND),
        ],
    ),
    "open orders": (
        {"max_open_orders": 3},
        [(0, BUY, 500_000, 1, 0)] * 3 + [(0, SELL, 500_100, 1, codes.OPEN_ORDERS)],
    ),
    "position, long": (
        {"max_position": Decimal("0.010")},  # 10 lots; the worst case counts resting buys
        [
            (0, BUY, 500_000, 6, 0),
            (0, BUY, 500_000, 4, 0),
            (0, BUY, 500_000, 1, codes.POSITION),
            (0, SELL, 500_100, 10, 0),
            (0, SELL, 500_100, 1, codes.POSITION),
        ],
    ),
}


@pytest.mark.parametrize("case", list(BOUNDARIES))
def test_each_limit_refuses_exactly_past_its_boundary(case: str) -> None:
    limits, steps = BOUNDARIES[case]
    h = Harness(**limits)
    h.mark(0, 499_990, 500_010)
    h.mark(1, 4_999_990, 5_000_010)
    counted: dict[int, int] = {}
    for index, side, price, lots, expected in steps:
        calls = len(h.oms.calls)
        order_id = h.new(index, side, price, lots)
        assert h.code == expected, (index, side, price, lots)
        assert bool(order_id) == (expected == 0)
        assert len(h.oms.calls) == calls + (expected == 0)  # a refusal never reaches the sink
        if expected:
            counted[expected] = counted.get(expected, 0) + 1
    for code, n in counted.items():
        assert h.refused(code) == n


def test_a_price_band_needs_a_mark_first() -> None:
    h = Harness(price_band_bps=100)
    assert h.new(0, BUY, 500_000, 1) == 0 and h.code == codes.NO_REFERENCE
    h.mark(0, 499_990, 500_010)
    assert h.new(0, BUY, 500_000, 1)


def test_the_order_rate_window_refuses_and_passes_again_after_it() -> None:
    h = Harness(max_orders_per_second=5)
    for _ in range(5):
        assert h.new(0, BUY, 500_000, 1)
    h.at(0.999_999_999)
    assert h.new(0, BUY, 500_000, 1) == 0 and h.code == codes.RATE
    h.at(1.0)  # the first five were at exactly one window ago: they left it
    assert h.new(0, BUY, 500_000, 1)
    assert h.refused(codes.RATE) == 1
    assert h.new(1, BUY, 5_000_000, 1)  # the limit is per instrument


def test_the_global_order_rate_counts_every_instrument() -> None:
    h = Harness(max_total_orders_per_second=3)
    assert h.new(0, BUY, 500_000, 1) and h.new(1, BUY, 5_000_000, 1) and h.new(0, BUY, 500_000, 1)
    assert h.new(1, SELL, 5_000_100, 1) == 0 and h.code == codes.RATE


def test_the_cancel_rate_refuses_cancels_and_they_never_reach_the_sink() -> None:
    h = Harness(max_cancels_per_second=2)
    ids = [h.new(0, BUY, 500_000, 1) for _ in range(3)]
    assert h.cancel(0, ids[0]) and h.cancel(0, ids[1])
    assert not h.cancel(0, ids[2]) and h.code == codes.CANCEL_RATE
    assert ("cancel", ids[2]) not in h.oms.calls
    h.at(1.0)
    assert h.cancel(0, ids[2])
    assert h.refused(codes.CANCEL_RATE) == 1


def test_an_untraded_instrument_refuses_every_order() -> None:
    h = Harness(traded=(0,))
    assert h.new(1, BUY, 5_000_000, 1) == 0 and h.code == codes.QTY
    assert h.new(0, BUY, 500_000, 1)


# ----------------------------------------------------------------------------- replace


def test_a_replace_amended_in_place_keeps_the_open_order_count() -> None:
    h = Harness(max_open_orders=1)
    order_id = h.new(0, BUY, 500_000, 10)
    assert h.new(0, BUY, 499_000, 1) == 0 and h.code == codes.OPEN_ORDERS
    assert h.replace(0, order_id, BUY, 500_010, 15) == order_id  # a replace keeps the count
    assert h.oms.calls[-1] == ("replace", order_id, 0, BUY, LIMIT, GTC, 500_010, 15, 7)
    assert h.open(0) == (0, 15, 0, 1)
    h.update(0, order_id, OrderStatus.CANCELED)
    assert h.open(0) == (0, 0, 0, 0)


def test_a_replace_as_cancel_and_new_opens_a_second_order_until_the_first_ends() -> None:
    h = Harness()
    h.oms.amends = False
    old = h.new(0, SELL, 500_100, 10)
    new = h.replace(0, old, SELL, 500_090, 12)
    assert new and new != old
    assert h.open(0) == (0, 0, 22, 2)
    h.update(0, old, OrderStatus.CANCELED)
    assert h.open(0) == (0, 0, 12, 1)
    h.update(0, new, OrderStatus.CANCELED)
    assert h.open(0) == (0, 0, 0, 0)


def test_a_replace_is_checked_against_the_position_without_the_order_it_replaces() -> None:
    h = Harness(max_position=Decimal("0.010"))  # 10 lots
    order_id = h.new(0, BUY, 500_000, 10)
    assert h.replace(0, order_id, BUY, 500_001, 10) == order_id  # 10 -> 10: not 20
    assert h.replace(0, order_id, BUY, 500_001, 11) == 0 and h.code == codes.POSITION


# ----------------------------------------------------------------------------- fills


def test_fills_then_the_end_of_the_order_close_it_in_the_core() -> None:
    h = Harness()
    h.mark(0, 499_990, 500_010)
    order_id = h.new(0, BUY, 500_000, 10)
    h.fill(0, BUY, 500_000, 4, order_ref=order_id)
    assert h.open(0) == (4, 6, 0, 1)
    h.fill(0, BUY, 500_000, 6, order_ref=order_id, status=OrderStatus.FILLED)
    assert h.open(0) == (10, 0, 0, 0)
    other = h.new(0, SELL, 500_100, 5)
    h.update(0, other, OrderStatus.CANCELED)
    assert h.open(0) == (10, 0, 0, 0)
    h.update(0, other, OrderStatus.CANCELED)  # an update of an order already closed: ignored
    assert h.open(0) == (10, 0, 0, 0)


def test_position_sync_books_what_the_oms_booked_at_the_next_mark() -> None:
    """Fills of any path (a catch-up after a reconnect, say) reach the core with the mark."""
    h = Harness()
    h.mark(1, 4_999_990, 5_000_010)
    h.oms.positions[1].apply_fill(BUY, 5_000_000, 300, 1_000)  # fee: 1,000 units
    h.oms.positions[1].apply_fill(SELL, 5_000_100, 100, 0)
    assert h.open(1)[0] == 0  # not booked yet
    h.mark(1, 5_000_090, 5_000_110)
    assert h.open(1)[0] == 200
    position = h.oms.positions[1]
    assert position.realized == 100 * 100 - 1_000
    # binance's unit is the PnL unit here (1e-7): the equity is the position's PnL as is
    assert h.core.pnl()[2] == position.realized + position.unrealized(5_000_100)


def test_a_fill_before_any_mark_books_its_realized_pnl() -> None:
    h = Harness()
    h.fill(0, BUY, 500_000, 10, order_ref=998)
    h.fill(0, SELL, 500_100, 4, order_ref=999)  # +100 ticks on 4 lots: 0.04 USDT
    assert h.core.pnl()[:3] == (400_000, 0, 400_000)  # in units of 1e-7 USDT
    assert h.open(0)[0] == 6
    h.mark(0, 500_090, 500_110)  # +100 ticks on the 6 left: 0.06 USDT more
    assert h.core.pnl()[2] == 1_000_000  # the realized part counted once


def test_pnl_adds_up_in_quote_across_instruments_of_different_units() -> None:
    h = Harness(max_daily_loss=Decimal(15))
    assert h.risk.pnl_exp == 7  # binance's unit 0.0000001 USDT is the finer one
    h.oms.positions[0].apply_fill(BUY, 500_000, 10, 0)  # 0.010 BTC at 50,000.0
    h.mark(0, 489_990, 490_010)  # 49,000.0: -10 USDT
    h.oms.positions[1].apply_fill(BUY, 5_000_000, 1_000, 0)  # 0.010 BTC at 50,000.00
    h.mark(1, 4_949_990, 4_950_010)  # 49,500.00: -5 USDT
    assert h.core.pnl()[2] == h.risk.pnl_units(Decimal(-15)) == -150_000_000
    assert h.risk.state_name == "ACTIVE" and h.halts == []  # a loss equal to the limit passes
    h.mark(1, 4_949_989, 4_950_009)  # one more tick on 0.01 BTC: 0.0001 USDT more
    assert h.risk.state_name == "HALTED"
    assert h.halts == [(codes.describe(codes.DAILY_LOSS), "limit")]
    h.mark(1, 4_900_000, 4_900_020)
    h.mark(0, 480_000, 480_020)
    assert len(h.halts) == 1  # once per halt
    assert h.new(0, SELL, 480_010, 1) == 0 and h.code == codes.HALTED
    assert h.cancel(0, 12345)  # only cancels pass


def test_a_closing_fill_does_not_count_the_loss_twice() -> None:
    """A fill reported by an order update is booked with the position's new unrealized PnL,
    not the old one's: closing a losing position at the mark loses it once."""
    h = Harness(max_daily_loss=Decimal(15))
    h.oms.positions[0].apply_fill(BUY, 500_000, 10, 0)
    h.mark(0, 489_990, 490_010)  # -10 USDT unrealized
    sell = h.new(0, SELL, 490_000, 10)
    h.fill(0, SELL, 490_000, 10, order_ref=sell, status=OrderStatus.FILLED)
    assert h.core.pnl()[2] == h.risk.pnl_units(Decimal(-10))
    assert h.risk.state_name == "ACTIVE" and h.halts == []
    assert h.core.breaches() == {}  # not even for a moment


def test_a_winning_fill_makes_no_false_peak_for_the_drawdown() -> None:
    h = Harness(max_drawdown=Decimal(15))
    h.oms.positions[0].apply_fill(BUY, 500_000, 10, 0)
    h.mark(0, 509_990, 510_010)  # +10 USDT unrealized: the day's peak
    sell = h.new(0, SELL, 510_000, 10)
    h.fill(0, SELL, 510_000, 10, order_ref=sell, status=OrderStatus.FILLED)  # +10 realized
    assert h.core.pnl()[2] == h.core.pnl()[4] == h.risk.pnl_units(Decimal(10))  # peak: 10
    h.oms.positions[0].apply_fill(BUY, 510_000, 10, 0)
    h.mark(0, 495_990, 496_010)  # -14 USDT from the peak of 10: within the drawdown
    assert h.risk.state_name == "ACTIVE" and h.halts == []


def test_a_fill_of_an_order_the_manager_did_not_open_is_booked_too() -> None:
    h = Harness()
    h.mark(0, 499_990, 500_010)
    h.fill(0, SELL, 500_000, 3, order_ref=999)  # an order adopted after a restart, say
    assert h.open(0)[0] == -3


def test_a_position_past_the_limit_reduces_only() -> None:
    h = Harness(max_position=Decimal("0.010"))
    h.mark(0, 499_990, 500_010)
    h.oms.positions[0].apply_fill(BUY, 500_000, 12, 0)
    h.mark(0, 499_990, 500_010)
    assert h.risk.state_name == "REDUCING" and h.halts == []
    assert h.new(0, BUY, 499_000, 1) == 0 and h.code == codes.REDUCING
    assert h.new(0, SELL, 500_100, 12)
    assert h.new(0, SELL, 500_100, 1) == 0 and h.code == codes.REDUCING  # never past flat


# ----------------------------------------------------------------------------- halts


def test_emergency_stop_halts_lets_cancels_through_and_reports_once() -> None:
    h = Harness()
    order_id = h.new(0, BUY, 500_000, 1)
    h.risk.emergency_stop("operator said so", "signal")
    assert h.risk.state_name == "HALTED"
    assert h.halts == [("operator said so", "signal")]
    assert h.new(0, BUY, 500_000, 1) == 0 and h.code == codes.HALTED
    assert h.cancel(0, order_id)
    h.risk.emergency_stop("again", "cli")
    assert len(h.halts) == 1
    h.risk.resume()
    assert h.risk.state_name == "ACTIVE"
    assert h.new(0, BUY, 500_000, 1)
    h.risk.emergency_stop("a second time", "cli")  # a new halt is reported again
    assert h.halts[-1] == ("a second time", "cli") and len(h.halts) == 2


def test_resume_with_a_standing_breach_halts_again_and_says_so() -> None:
    h = Harness(max_daily_loss=Decimal(5))
    h.oms.positions[0].apply_fill(BUY, 500_000, 10, 0)
    h.mark(0, 489_990, 490_010)
    assert len(h.halts) == 1
    h.risk.resume()
    assert h.risk.state_name == "HALTED"
    assert len(h.halts) == 2  # cancelled and persisted again by the host


# ----------------------------------------------------------------------------- config


def test_apply_config_changes_the_limits_while_running() -> None:
    h = Harness(max_open_orders=2, max_order_quantity=Decimal("0.005"))
    assert h.new(0, BUY, 500_000, 5) and h.new(0, BUY, 500_000, 1)
    assert h.new(0, BUY, 500_000, 1) == 0 and h.code == codes.OPEN_ORDERS
    h.risk.apply_config(
        dataclasses.replace(LOOSE, max_open_orders=3, max_order_quantity=Decimal("0.002"))
    )
    assert h.risk.config.max_open_orders == 3
    assert h.new(0, BUY, 500_000, 3) == 0 and h.code == codes.QTY
    assert h.new(0, BUY, 500_000, 2)
    assert h.new(0, BUY, 500_000, 1) == 0 and h.code == codes.OPEN_ORDERS


def test_a_lower_loss_limit_halts_at_once_on_reload() -> None:
    h = Harness()
    h.oms.positions[0].apply_fill(BUY, 500_000, 10, 0)
    h.mark(0, 489_990, 490_010)  # -10 USDT
    h.risk.apply_config(dataclasses.replace(LOOSE, max_daily_loss=Decimal(9)))
    assert h.risk.state_name == "HALTED"
    assert h.halts == [(codes.describe(codes.DAILY_LOSS), "limit")]


def test_every_rate_the_config_allows_can_be_set() -> None:
    fastest = dataclasses.replace(
        LOOSE, max_orders_per_second=10_000, max_cancels_per_second=10_000,
        max_total_orders_per_second=10_000,
    )  # fmt: skip
    assert RATE_CAPACITY >= 10_000
    h = Harness(fastest)
    assert h.core.limits(0).order_rate == 10_000
    h.risk.apply_config(fastest)


def test_a_refused_reload_changes_nothing() -> None:
    h = Harness(max_open_orders=2)
    before = h.risk.config
    with pytest.raises(ValueError, match="hour_utc"):
        h.risk.apply_config(dataclasses.replace(LOOSE, max_open_orders=7, daily_reset_hour_utc=24))
    assert h.core.limits(0).max_open_orders == 2
    assert h.risk.config is before


def test_limits_past_int64_are_no_limit() -> None:
    huge = Decimal("1e40")
    h = Harness(max_order_notional=huge, max_daily_loss=huge, max_position=huge)
    limits = h.core.limits(0)
    assert limits.max_notional == limits.max_long_lots == NO_LIMIT
    assert h.core.global_limits().daily_loss_limit == NO_LIMIT


def test_min_notional_rounds_up_to_the_unit() -> None:
    """tick 0.5 x lot 0.001: a unit of 0.0005 USDT. A minimum of 10.0003 USDT is 20,000.6
    units: an order of 20,000 units (10.0000 USDT) is under it."""
    coarse = Instrument(
        "ETH_USDT", "gate", "ETH", "USDT", Decimal("0.5"), Decimal("0.001"), Decimal("0.001"),
        Decimal(0), 1, 3,
    )  # fmt: skip
    clock = SimClock(T0)
    risk = RiskManager(
        [coarse], [0], dataclasses.replace(LOOSE, min_order_notional=Decimal("10.0003")), clock
    )
    assert risk.core.limits(0).min_notional == 20_001
    assert risk.core.check_new(0, BUY, 20_000, 1, T0) == codes.MIN_NOTIONAL
    assert risk.core.check_new(0, BUY, 20_001, 1, T0) == codes.OK
