"""engine/_core/risk.pyx: every limit at its boundary and the state machine on both
implementations (Cython and engine/risk/risk_ref.py), random walks on which the two must agree
code for code, bounds and overflow, and no allocation on the check path."""

from __future__ import annotations

import random
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine._core import risk as fast
from engine._core.intents import IntentBuffer
from engine._core.risk import RiskCore
from engine.risk import risk_ref as ref
from engine.risk.risk_ref import (
    DAY_NS,
    NO_LIMIT,
    GlobalLimits,
    InstrumentLimits,
    RiskCoreRef,
    next_daily_reset_ns,
)

BUY, SELL = ref.BUY, ref.SELL
LIMIT, MARKET, LIMIT_MAKER = ref.LIMIT, ref.MARKET, ref.LIMIT_MAKER
GTC, IOC = ref.GTC, ref.IOC
INT64_MAX = 2**63 - 1
SEC = 10**9

IMPLS: list[Any] = [RiskCore, RiskCoreRef]
Core = Any  # RiskCore | RiskCoreRef: the same methods, the same codes


@pytest.fixture(params=["cython", "reference"])
def make(request: pytest.FixtureRequest) -> Any:
    return RiskCore if request.param == "cython" else RiskCoreRef


def with_limits(make: Any, n: int = 1, **limits: int) -> Core:
    core = make(n)
    for i in range(n):
        core.set_limits(i, InstrumentLimits(**limits))
    return core


# ----------------------------------------------------------------------------- constants


def test_constants_agree_with_the_reference() -> None:
    names = [
        "STATE_ACTIVE", "STATE_REDUCING", "STATE_HALTED", "STATE_NAMES", "OK", "INSTRUMENT",
        "ARG", "HALTED", "REDUCING", "QTY", "NO_REFERENCE", "PRICE_BAND", "NOTIONAL",
        "MIN_NOTIONAL", "OPEN_ORDERS", "POSITION", "EXPOSURE", "TOTAL_EXPOSURE", "RATE",
        "CANCEL_RATE", "DAILY_LOSS", "DRAWDOWN", "MANUAL", "OVERFLOW", "CODES", "NO_LIMIT",
        "BPS", "MAX_RATE_CAPACITY",
    ]  # fmt: skip
    for name in names:
        assert getattr(fast, name) == getattr(ref, name), name
    # risk owns -112..-143: no other module's code can be mistaken for a risk reason
    assert len(set(ref.CODES)) == len(ref.CODES)
    assert all(-143 <= c <= -112 for c in ref.CODES)
    for code in (ref.OK, *ref.CODES):
        assert fast.describe(code) == ref.describe(code)
        assert not fast.describe(code).startswith("unknown")
    assert fast.describe(5).startswith("unknown")
    assert fast.next_daily_reset_ns is next_daily_reset_ns


def test_all_limits_start_off(make: Any) -> None:
    core = make(2)
    assert core.limits(1) == InstrumentLimits()
    assert core.global_limits() == GlobalLimits()
    assert core.check_new(1, BUY, 1, INT64_MAX, 0) == ref.OK
    assert core.check_new(0, SELL, INT64_MAX, 1, 0) == ref.OK
    assert core.check_cancel(0, 0) == ref.OK
    assert (core.state, core.cause, core.passed, core.refused) == (ref.STATE_ACTIVE, 0, 3, 0)


# ----------------------------------------------------------------------------- per order
# Every maximum is inclusive: a value equal to the limit passes, one more is refused.

POSITIVE = st.integers(1, 10**12)


@settings(max_examples=60, deadline=None)
@given(limit=POSITIVE)
def test_max_qty_boundary(limit: int) -> None:
    for make in IMPLS:
        core = with_limits(make, max_qty_lots=limit)
        assert core.check_new(0, BUY, 100, limit, 0) == ref.OK
        assert core.check_new(0, BUY, 100, limit + 1, 0) == ref.QTY
        assert core.refusals() == {ref.QTY: 1}


@settings(max_examples=60, deadline=None)
@given(price=st.integers(1, 10**9), qty=st.integers(1, 10**9))
def test_max_and_min_notional_boundaries(price: int, qty: int) -> None:
    notional = price * qty
    for make in IMPLS:
        assert with_limits(make, max_notional=notional).check_new(0, BUY, price, qty, 0) == ref.OK
        core = with_limits(make, max_notional=notional - 1)
        assert core.check_new(0, BUY, price, qty, 0) == ref.NOTIONAL
        assert with_limits(make, min_notional=notional).check_new(0, SELL, price, qty, 0) == 0
        core = with_limits(make, min_notional=notional + 1)
        assert core.check_new(0, SELL, price, qty, 0) == ref.MIN_NOTIONAL


def test_market_order_is_valued_at_the_reference(make: Any) -> None:
    core = with_limits(make, max_notional=1000)
    assert core.check_new(0, BUY, 0, 10, 0, MARKET, IOC) == ref.NO_REFERENCE
    core.on_mark(0, 100, 0, 0)
    assert core.check_new(0, BUY, 0, 10, 0, MARKET, IOC) == ref.OK
    assert core.check_new(0, BUY, 0, 11, 0, MARKET, IOC) == ref.NOTIONAL


@settings(max_examples=60, deadline=None)
@given(reference=st.integers(1, 10**9), band=st.integers(0, 10**6))
def test_price_band_in_ticks_boundary(reference: int, band: int) -> None:
    for make in IMPLS:
        core = with_limits(make, band_ticks=band)
        assert core.check_new(0, BUY, reference, 1, 0) == ref.NO_REFERENCE
        core.on_mark(0, reference, 0, 0)
        assert core.check_new(0, BUY, reference + band, 1, 0) == ref.OK
        assert core.check_new(0, SELL, reference + band + 1, 1, 0) == ref.PRICE_BAND
        if reference - band > 0:
            assert core.check_new(0, BUY, reference - band, 1, 0, LIMIT_MAKER) == ref.OK
        if reference - band - 1 > 0:
            assert core.check_new(0, SELL, reference - band - 1, 1, 0) == ref.PRICE_BAND


@settings(max_examples=60, deadline=None)
@given(reference=st.integers(1, 10**12), bps=st.integers(0, 20_000))
def test_price_band_in_bps_boundary(reference: int, bps: int) -> None:
    # the largest deviation allowed: dev * 10000 <= reference * bps, exactly
    dev = reference * bps // 10_000
    for make in IMPLS:
        core = with_limits(make, band_bps=bps)
        core.on_mark(0, reference, 0, 0)
        assert core.check_new(0, BUY, reference + dev, 1, 0) == ref.OK
        assert core.check_new(0, BUY, reference + dev + 1, 1, 0) == ref.PRICE_BAND
        if reference - dev - 1 > 0:
            assert core.check_new(0, SELL, reference - dev - 1, 1, 0) == ref.PRICE_BAND


def test_both_bands_apply(make: Any) -> None:
    core = with_limits(make, band_ticks=5, band_bps=100)  # 1% of 100 = 1 tick
    core.on_mark(0, 100, 0, 0)
    assert core.check_new(0, BUY, 101, 1, 0) == ref.OK
    assert core.check_new(0, BUY, 102, 1, 0) == ref.PRICE_BAND
    core.on_mark(0, 10_000, 0, 0)  # 1% = 100 ticks: the tick band is the stricter
    assert core.check_new(0, BUY, 10_005, 1, 0) == ref.OK
    assert core.check_new(0, BUY, 10_006, 1, 0) == ref.PRICE_BAND


@settings(max_examples=30, deadline=None)
@given(limit=st.integers(0, 40))
def test_max_open_orders_boundary(limit: int) -> None:
    for make in IMPLS:
        core = with_limits(make, max_open_orders=limit)
        for _ in range(max(0, limit - 1)):
            assert core.on_order_open(0, BUY, 1) == ref.OK
        if limit:
            assert core.check_new(0, BUY, 10, 1, 0) == ref.OK  # the limit-th order
            core.on_order_open(0, SELL, 1)
        assert core.check_new(0, BUY, 10, 1, 0) == ref.OPEN_ORDERS
        if limit:  # a replace keeps the count
            assert core.check_replace(0, BUY, 10, 1, BUY, 1, 0) == ref.OK
            core.on_order_close(0, BUY, 1)
            assert core.check_new(0, BUY, 10, 1, 0) == ref.OK


# ----------------------------------------------------------------------------- per position


@settings(max_examples=80, deadline=None)
@given(
    limit=st.integers(0, 10**9),
    position=st.integers(-(10**9), 10**9),
    resting=st.integers(0, 10**9),
    opposite=st.integers(0, 10**9),
)
def test_max_long_boundary_counts_resting_buys(
    limit: int, position: int, resting: int, opposite: int
) -> None:
    # worst case of a buy: position + resting buys + qty; resting sells do not count
    qty = limit - position - resting
    for make in IMPLS:
        core = with_limits(make, max_long_lots=limit)
        if position:  # past the limit, no qty below is >= 1: nothing is checked
            core.on_fill(0, BUY if position > 0 else SELL, abs(position), 0, 0)
        if resting:
            core.on_order_open(0, BUY, resting)
        if opposite:
            core.on_order_open(0, SELL, opposite)
        if qty >= 1:
            assert core.check_new(0, BUY, 10, qty, 0) == ref.OK
        if qty + 1 >= 1:
            assert core.check_new(0, BUY, 10, qty + 1, 0) == ref.POSITION


@settings(max_examples=80, deadline=None)
@given(
    limit=st.integers(0, 10**9), position=st.integers(-(10**9), 10**9), resting=st.integers(0, 9)
)
def test_max_short_boundary_counts_resting_sells(limit: int, position: int, resting: int) -> None:
    qty = limit + position - resting
    for make in IMPLS:
        core = with_limits(make, max_short_lots=limit)
        if position:
            core.on_fill(0, BUY if position > 0 else SELL, abs(position), 0, 0)
        if resting:
            core.on_order_open(0, SELL, resting)
        if qty >= 1:
            assert core.check_new(0, SELL, 10, qty, 0) == ref.OK
        if qty + 1 >= 1:
            assert core.check_new(0, SELL, 10, qty + 1, 0) == ref.POSITION


def test_replace_takes_the_old_order_out_of_the_worst_case(make: Any) -> None:
    core = with_limits(make, max_long_lots=10)
    core.on_order_open(0, BUY, 8)
    assert core.check_new(0, BUY, 10, 3, 0) == ref.POSITION
    assert core.check_replace(0, BUY, 10, 10, BUY, 8, 0) == ref.OK
    assert core.check_replace(0, BUY, 10, 11, BUY, 8, 0) == ref.POSITION
    assert core.check_replace(0, BUY, 10, 3, SELL, 8, 0) == ref.POSITION  # the other side
    assert core.check_replace(0, BUY, 10, 10, BUY, 100, 0) == ref.OK  # floored at 0


@settings(max_examples=60, deadline=None)
@given(mark=st.integers(1, 10**6), qty=st.integers(1, 10**6), position=st.integers(0, 10**6))
def test_max_exposure_boundary(mark: int, qty: int, position: int) -> None:
    limit = (position + qty) * mark
    for make in IMPLS:
        core = with_limits(make, max_exposure=limit)
        assert core.check_new(0, BUY, mark, qty, 0) == ref.NO_REFERENCE
        if position:
            core.on_fill(0, BUY, position, 0, 0)
        core.on_mark(0, mark, 0, 0)
        assert core.instrument(0)[5] == position * mark
        assert core.check_new(0, BUY, mark, qty, 0) == ref.OK
        assert core.check_new(0, BUY, mark, qty + 1, 0) == ref.EXPOSURE
        core.set_limits(0, InstrumentLimits(max_exposure=limit - 1))
        assert core.check_new(0, BUY, mark, qty, 0) == ref.EXPOSURE


def test_total_exposure_boundary_and_orders_that_cannot_add_exposure(make: Any) -> None:
    core = make(2)
    core.set_global_limits(GlobalLimits(max_total_exposure=1000))
    core.on_fill(0, BUY, 6, 0, 0)
    core.on_mark(0, 100, 0, 0)  # 600
    assert core.check_new(1, BUY, 50, 1, 0) == ref.NO_REFERENCE
    core.on_mark(1, 50, 0, 0)
    assert core.exposure_total == 600
    assert core.check_new(1, BUY, 50, 8, 0) == ref.OK  # 600 + 400 = 1000
    assert core.check_new(1, SELL, 50, 9, 0) == ref.TOTAL_EXPOSURE
    assert core.check_new(0, BUY, 100, 4, 0) == ref.OK
    assert core.check_new(0, BUY, 100, 5, 0) == ref.TOTAL_EXPOSURE
    # a sell of the long instrument cannot add exposure: passes even past the limit
    core.set_global_limits(GlobalLimits(max_total_exposure=100))
    assert (core.state, core.cause) == (ref.STATE_REDUCING, ref.TOTAL_EXPOSURE)
    assert core.check_new(0, SELL, 100, 6, 0) == ref.OK
    assert core.check_new(0, SELL, 100, 7, 0) == ref.REDUCING


# ----------------------------------------------------------------------------- rates


@settings(max_examples=40, deadline=None)
@given(limit=st.integers(1, 50), window=st.integers(1, 10**10), start=st.integers(0, 10**15))
def test_order_rate_window_edges(limit: int, window: int, start: int) -> None:
    for make in IMPLS:
        core = with_limits(make, 2, order_rate=limit)
        core.set_global_limits(GlobalLimits(window_ns=window))
        for _ in range(limit):
            assert core.check_new(0, BUY, 10, 1, start) == ref.OK
        assert core.check_new(0, BUY, 10, 1, start + window - 1) == ref.RATE
        assert core.check_new(1, BUY, 10, 1, start + window - 1) == ref.OK  # its own window
        # the events at `start` leave the window (t - window, t] at t = start + window
        assert core.check_new(0, BUY, 10, 1, start + window) == ref.OK
        assert core.refusals() == {ref.RATE: 1}


def test_a_refused_order_takes_no_room_in_the_window(make: Any) -> None:
    core = with_limits(make, order_rate=2, max_qty_lots=5)
    assert core.check_new(0, BUY, 10, 6, 0) == ref.QTY
    assert core.check_new(0, BUY, 10, 1, 0) == ref.OK
    assert core.check_new(0, BUY, 10, 1, 1) == ref.OK
    assert core.check_new(0, BUY, 10, 1, 2) == ref.RATE
    assert core.check_new(0, BUY, 10, 1, SEC) == ref.OK  # the one at 0 left
    assert core.check_new(0, BUY, 10, 1, SEC) == ref.RATE
    assert core.check_new(0, BUY, 10, 1, SEC + 1) == ref.OK


def test_global_order_and_cancel_rates(make: Any) -> None:
    core = make(3, 8)
    core.set_global_limits(GlobalLimits(order_rate=3, cancel_rate=2, window_ns=100))
    assert [core.check_new(i, BUY, 10, 1, 0) for i in range(3)] == [0, 0, 0]
    assert core.check_new(2, BUY, 10, 1, 99) == ref.RATE
    assert core.check_replace(2, BUY, 10, 1, BUY, 1, 99) == ref.RATE
    assert core.check_new(2, BUY, 10, 1, 100) == ref.OK
    assert core.check_cancel(0, 5) == ref.OK  # cancels have windows of their own
    assert core.check_cancel(1, 5) == ref.OK
    assert core.check_cancel(2, 104) == ref.CANCEL_RATE
    assert core.check_cancel(2, 105) == ref.OK
    core.set_limits(0, InstrumentLimits(cancel_rate=0))
    assert core.check_cancel(0, 10**6) == ref.CANCEL_RATE  # 0: nothing passes
    assert core.refusals() == {ref.RATE: 2, ref.CANCEL_RATE: 2}


def test_rate_limits_must_fit_the_capacity(make: Any) -> None:
    core = make(1, 16)
    core.set_limits(0, InstrumentLimits(order_rate=16))
    with pytest.raises(ValueError, match="order_rate 17 exceeds the rate capacity 16"):
        core.set_limits(0, InstrumentLimits(order_rate=17))
    with pytest.raises(ValueError, match="cancel_rate"):
        core.set_global_limits(GlobalLimits(cancel_rate=17))
    assert core.limits(0).order_rate == 16


def test_a_long_run_at_the_rate_limit_wraps_the_ring(make: Any) -> None:
    core = make(1, 4)  # the ring keeps 4 timestamps: it wraps many times below
    core.set_limits(0, InstrumentLimits(order_rate=3))
    codes = [core.check_new(0, BUY, 10, 1, t * 2 * 10**8) for t in range(50)]
    # one every 0.2 s, 3 per second allowed: at t = 0.6 and 0.8 s the window (t - 1 s, t]
    # holds 3 passed orders; at 1.0 s the one at 0 has left it, and so on
    assert codes == [0, 0, 0, ref.RATE, ref.RATE] * 10


# ----------------------------------------------------------------------------- states


def test_position_breach_enters_reducing_and_only_reducing_orders_pass(make: Any) -> None:
    core = with_limits(make, max_long_lots=10)
    core.on_fill(0, BUY, 10, 0, 0)
    assert core.state == ref.STATE_ACTIVE  # at the limit: no breach
    core.set_limits(0, InstrumentLimits(max_long_lots=8))  # a tighter limit (hot reload)
    assert (core.state, core.cause) == (ref.STATE_REDUCING, ref.POSITION)
    assert core.breaches() == {ref.POSITION: 1}
    assert core.check_new(0, BUY, 10, 1, 0) == ref.REDUCING
    assert core.check_new(0, SELL, 10, 10, 0) == ref.OK  # to flat
    assert core.check_new(0, SELL, 10, 11, 0) == ref.REDUCING  # past flat
    core.on_order_open(0, SELL, 7)
    assert core.check_new(0, SELL, 10, 3, 0) == ref.OK
    assert core.check_new(0, SELL, 10, 4, 0) == ref.REDUCING  # with the resting sells
    assert core.check_replace(0, SELL, 10, 10, SELL, 7, 0) == ref.OK
    core.on_fill(0, SELL, 7, 0, 1)
    core.on_fill(0, SELL, 3, 0, 1)
    assert core.instrument(0)[1:4] == (0, 0, 0)
    assert core.check_new(0, SELL, 10, 1, 2) == ref.REDUCING  # flat: nothing reduces
    assert core.check_new(0, BUY, 10, 1, 2) == ref.REDUCING
    assert core.check_cancel(0, 2) == ref.OK
    assert core.state == ref.STATE_REDUCING  # left only by reset
    assert core.reset() == ref.STATE_ACTIVE
    assert core.check_new(0, BUY, 10, 1, 3) == ref.OK


@settings(max_examples=100, deadline=None)
@given(
    position=st.integers(-50, 50),
    resting=st.integers(0, 60),
    side=st.sampled_from([BUY, SELL]),
    qty=st.integers(1, 60),
)
def test_reducing_passes_exactly_the_orders_that_stay_on_the_way_to_flat(
    position: int, resting: int, side: int, qty: int
) -> None:
    expect = position != 0 and (position > 0) != (side > 0) and resting + qty <= abs(position)
    for make in IMPLS:
        core = make(1)
        core.set_limits(0, InstrumentLimits(max_long_lots=0, max_short_lots=0))
        if position:
            core.on_fill(0, BUY if position > 0 else SELL, abs(position), 0, 0)
        else:  # flat again after the breach: still REDUCING
            core.on_fill(0, BUY, 1, 0, 0)
            core.on_fill(0, SELL, 1, 0, 0)
        assert (core.state, core.cause) == (ref.STATE_REDUCING, ref.POSITION)
        if resting:
            core.on_order_open(0, side, resting)
        core.on_order_open(0, -side, 1000)  # the other side's orders never matter
        code = core.check_new(0, side, 10, qty, 0)
        assert code == (ref.OK if expect else ref.REDUCING)


@settings(max_examples=60, deadline=None)
@given(
    side=st.sampled_from([BUY, SELL]),
    price=st.integers(0, 10**6),
    qty=st.integers(1, 10**6),
    order_type=st.sampled_from([LIMIT, LIMIT_MAKER, MARKET]),
)
def test_halted_refuses_every_order_and_lets_cancels_through(
    side: int, price: int, qty: int, order_type: int
) -> None:
    price = 0 if order_type == MARKET else max(price, 1)
    for make in IMPLS:
        core = make(2)
        core.on_mark(0, 100, 0, 0)
        assert core.halt() == ref.STATE_HALTED
        assert core.cause == ref.MANUAL
        assert core.check_new(0, side, price, qty, 0, order_type) == ref.HALTED
        assert core.check_replace(1, side, price, qty, side, 1, 0, order_type) == ref.HALTED
        assert core.check_cancel(0, 0) == ref.OK
        assert core.check_cancel(1, 0) == ref.OK
        assert core.reset() == ref.STATE_ACTIVE
        assert core.check_new(0, side, price, qty, 0, order_type) == ref.OK


def test_a_breach_only_raises_the_state(make: Any) -> None:
    core = with_limits(make, max_long_lots=5)
    core.set_global_limits(GlobalLimits(daily_loss_limit=100))
    core.on_fill(0, BUY, 6, 0, 0)
    assert (core.state, core.cause) == (ref.STATE_REDUCING, ref.POSITION)
    core.on_mark(0, 10, -101, 1)
    assert (core.state, core.cause) == (ref.STATE_HALTED, ref.DAILY_LOSS)
    core.on_fill(0, BUY, 1, 0, 2)  # a position breach cannot lower HALTED
    assert (core.state, core.cause) == (ref.STATE_HALTED, ref.DAILY_LOSS)
    assert core.breaches() == {ref.POSITION: 1, ref.DAILY_LOSS: 1}
    assert core.state_changes == 2
    # a reset cannot hide a standing breach: the loss is still over the limit
    assert core.reset() == ref.STATE_HALTED and core.cause == ref.DAILY_LOSS
    core.on_mark(0, 10, -100, 3)  # the loss back at the limit: the position is still too long
    assert core.reset() == ref.STATE_REDUCING and core.cause == ref.POSITION
    core.on_fill(0, SELL, 2, 0, 4)
    assert core.reset() == ref.STATE_ACTIVE and core.cause == ref.OK


def test_exposure_breach_by_a_price_move(make: Any) -> None:
    core = with_limits(make, max_exposure=1000)
    core.on_mark(0, 100, 0, 0)
    core.on_fill(0, SELL, 10, 0, 0)
    assert core.state == ref.STATE_ACTIVE  # 10 * 100 = 1000: at the limit
    core.on_mark(0, 101, -10, 1)
    assert (core.state, core.cause) == (ref.STATE_REDUCING, ref.EXPOSURE)
    assert core.check_new(0, BUY, 101, 10, 1) == ref.OK


# ----------------------------------------------------------------------------- PnL


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(0, 10**15), realized=st.integers(-(10**15), 10**15))
def test_daily_loss_boundary_counts_realized_and_unrealized(limit: int, realized: int) -> None:
    for make in IMPLS:
        core = make(1)
        core.on_fill(0, BUY, 1, realized, 0)
        core.on_mark(0, 10, -limit - realized, 1)  # the day's loss: exactly the limit
        core.set_global_limits(GlobalLimits(daily_loss_limit=limit))
        assert core.state == ref.STATE_ACTIVE
        assert core.pnl()[2] == -limit
        core.on_mark(0, 10, -limit - realized - 1, 2)
        assert (core.state, core.cause) == (ref.STATE_HALTED, ref.DAILY_LOSS)


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(0, 10**12), peak=st.integers(0, 10**12))
def test_drawdown_from_the_days_peak(limit: int, peak: int) -> None:
    for make in IMPLS:
        core = make(1)
        core.set_global_limits(GlobalLimits(max_drawdown=limit))
        core.on_mark(0, 10, peak, 0)
        core.on_mark(0, 10, peak - limit, 1)
        assert core.state == ref.STATE_ACTIVE
        assert core.pnl()[4] == peak
        core.on_fill(0, BUY, 1, -1, 2)  # one unit more of drawdown
        assert (core.state, core.cause) == (ref.STATE_HALTED, ref.DRAWDOWN)


def test_daily_reset_at_the_boundary(make: Any) -> None:
    boundary = 5 * DAY_NS + 3600 * SEC
    core = make(1)
    core.set_global_limits(GlobalLimits(daily_loss_limit=100, max_drawdown=150))
    core.set_day_reset(boundary)
    core.on_mark(0, 10, 120, boundary - 2 * SEC)  # equity 120, the day's peak
    core.on_mark(0, 10, 30, boundary - SEC)  # drawdown 90, loss none
    assert core.check_new(0, BUY, 10, 1, boundary - 1) == ref.OK
    assert core.pnl() == (0, 30, 30, 0, 120)
    assert core.next_reset_ns == boundary
    assert core.check_new(0, BUY, 10, 1, boundary) == ref.OK  # the new day starts here
    assert core.pnl() == (0, 30, 30, 30, 30)
    assert core.next_reset_ns == boundary + DAY_NS
    core.on_mark(0, 10, -70, boundary + 1)  # loss 100 from the day's start: at the limit
    assert core.state == ref.STATE_ACTIVE
    core.on_fill(0, SELL, 1, -1, boundary + 2)
    assert (core.state, core.cause) == (ref.STATE_HALTED, ref.DAILY_LOSS)
    # a new day does not leave HALTED: only reset does
    assert core.roll(boundary + 3 * DAY_NS) == 1
    assert core.next_reset_ns == boundary + 4 * DAY_NS  # whole periods, past now
    assert core.state == ref.STATE_HALTED
    assert core.reset() == ref.STATE_ACTIVE
    assert core.roll(boundary + 4 * DAY_NS - 1) == 0


def test_next_daily_reset_helper() -> None:
    assert next_daily_reset_ns(0, 0) == DAY_NS
    assert next_daily_reset_ns(DAY_NS - 1, 0) == DAY_NS
    assert next_daily_reset_ns(DAY_NS, 0) == 2 * DAY_NS  # strictly after now
    hour = 3600 * SEC
    assert next_daily_reset_ns(10 * DAY_NS + 5 * hour, 8) == 10 * DAY_NS + 8 * hour
    assert next_daily_reset_ns(10 * DAY_NS + 8 * hour, 8) == 11 * DAY_NS + 8 * hour
    assert next_daily_reset_ns(10 * DAY_NS + 23 * hour, 8) == 11 * DAY_NS + 8 * hour
    for bad in (-1, 24, True, 1.0):
        with pytest.raises(ValueError, match="hour_utc"):
            next_daily_reset_ns(0, bad)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- bounds


@pytest.mark.parametrize("instrument", [-1, 2, 2**31 - 1, 2**31, 2**40, -(2**63)])
def test_instrument_outside_the_table(make: Any, instrument: int) -> None:
    core = make(2)
    assert core.check_new(instrument, BUY, 10, 1, 0) == ref.INSTRUMENT
    assert core.check_replace(instrument, BUY, 10, 1, BUY, 1, 0) == ref.INSTRUMENT
    assert core.check_cancel(instrument, 0) == ref.INSTRUMENT
    assert core.on_order_open(instrument, BUY, 1) == ref.INSTRUMENT
    assert core.on_order_close(instrument, BUY, 1) == ref.INSTRUMENT
    assert core.on_fill(instrument, BUY, 1, 0, 0) == ref.INSTRUMENT
    assert core.on_mark(instrument, 10, 0, 0) == ref.INSTRUMENT
    assert core.refusals() == {ref.INSTRUMENT: 3} and core.errors == 4
    with pytest.raises(IndexError):
        core.instrument(instrument)
    with pytest.raises(IndexError):
        core.set_limits(instrument, InstrumentLimits())


def test_an_empty_table_refuses_every_instrument(make: Any) -> None:
    core = make(0)
    assert core.check_new(0, BUY, 10, 1, 0) == ref.INSTRUMENT
    assert core.reset() == ref.STATE_ACTIVE


@pytest.mark.parametrize(
    "args",
    [
        (0, 10, 1, LIMIT, GTC),
        (2, 10, 1, LIMIT, GTC),
        (2**32 + 1, 10, 1, LIMIT, GTC),  # must not truncate to BUY
        (BUY, 10, 1, 2**32 + 1, GTC),
        (BUY, 10, 1, LIMIT, 2**33 + 1),
        (BUY, 10, 1, LIMIT_MAKER, IOC),
        (BUY, 10, 1, MARKET, GTC),  # a MARKET order has no price
        (BUY, 0, 1, LIMIT, GTC),
        (BUY, -5, 1, LIMIT, GTC),
        (BUY, 10, 0, LIMIT, GTC),
        (BUY, 10, -(2**63), LIMIT, GTC),
    ],
)
def test_bad_fields_are_refused(make: Any, args: tuple[int, ...]) -> None:
    side, price, qty, order_type, tif = args
    core = make(1)
    assert core.check_new(0, side, price, qty, 0, order_type, tif) == ref.ARG
    assert core.check_replace(0, side, price, qty, BUY, 1, 0, order_type, tif) == ref.ARG
    assert core.refusals() == {ref.ARG: 2} and core.passed == 0


def test_bad_event_fields_change_nothing(make: Any) -> None:
    core = make(1)
    assert core.check_replace(0, BUY, 10, 1, 0, 1, 0) == ref.ARG
    assert core.check_replace(0, BUY, 10, 1, BUY, -1, 0) == ref.ARG
    assert core.on_order_open(0, 0, 1) == ref.ARG
    assert core.on_order_open(0, BUY, 0) == ref.ARG
    assert core.on_order_close(0, 3, 1) == ref.ARG
    assert core.on_order_close(0, SELL, -1) == ref.ARG
    assert core.on_fill(0, BUY, 0, 0, 0) == ref.ARG
    assert core.on_fill(0, 2**32 - 1, 1, 0, 0) == ref.ARG
    assert core.on_mark(0, 0, 0, 0) == ref.ARG
    assert core.instrument(0) == (0, 0, 0, 0, 0, 0, 0)
    assert core.errors == 7 and core.refusals() == {ref.ARG: 2}


def test_huge_values_are_refused_never_wrapped(make: Any) -> None:
    core = with_limits(make, max_notional=INT64_MAX - 1)
    # price * qty beyond int64 saturates above every limit that is on
    assert core.check_new(0, BUY, 2**62, 4, 0) == ref.NOTIONAL
    assert core.check_new(0, BUY, INT64_MAX, INT64_MAX, 0) == ref.NOTIONAL
    core = make(1)
    assert core.on_fill(0, BUY, INT64_MAX, 0, 0) == ref.OK
    assert core.on_fill(0, BUY, 1, 0, 0) == ref.OVERFLOW
    # a worst case beyond int64 is refused even with the position limits off
    assert core.check_new(0, BUY, 1, 1, 0) == ref.POSITION
    assert core.check_new(0, SELL, 1, INT64_MAX, 0) == ref.OK  # back to 0 at worst
    assert core.on_fill(0, SELL, INT64_MAX, 0, 0) == ref.OK
    assert core.on_fill(0, SELL, INT64_MAX, 0, 0) == ref.OK
    assert core.on_fill(0, SELL, 1, 0, 0) == ref.OVERFLOW  # never INT64_MIN
    assert core.instrument(0)[1] == -INT64_MAX
    assert core.on_order_open(0, SELL, INT64_MAX) == ref.OK
    assert core.check_new(0, SELL, 1, 1, 0) == ref.POSITION
    assert core.on_order_open(0, SELL, 1) == ref.OVERFLOW
    assert core.errors == 3
    # exposure saturates, the totals are exact
    core.on_mark(0, INT64_MAX, INT64_MAX, 0)
    assert core.instrument(0)[5] == INT64_MAX
    core2 = make(3)
    for i in range(3):
        core2.on_fill(i, BUY, INT64_MAX, INT64_MAX, 0)
        core2.on_mark(i, INT64_MAX, INT64_MAX, 0)
    assert core2.exposure_total == 3 * INT64_MAX
    assert core2.pnl()[:3] == (3 * INT64_MAX, 3 * INT64_MAX, 6 * INT64_MAX)
    core2.set_global_limits(GlobalLimits(max_total_exposure=INT64_MAX - 1))
    assert core2.state == ref.STATE_REDUCING


def test_python_arguments_are_type_checked() -> None:
    core = RiskCore(1)
    with pytest.raises(TypeError, match="float"):
        core.check_new(0, BUY, 1.5, 1, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        core.check_new(0, True, 1, 1, 0)
    with pytest.raises(OverflowError):
        core.check_new(0, BUY, 2**63, 1, 0)
    with pytest.raises(OverflowError):
        core.on_fill(0, BUY, 1, -(2**63) - 1, 0)
    assert core.refused == 0 and core.passed == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_qty_lots": -1}, ValueError, "max_qty_lots must be in 0"),
        ({"band_bps": 2**63}, ValueError, "band_bps"),
        ({"max_exposure": 1.0}, TypeError, "max_exposure must be an int"),
        ({"order_rate": True}, TypeError, "order_rate must be an int"),
    ],
)
def test_limits_are_validated(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        InstrumentLimits(**kwargs)


def test_global_limits_and_construction_are_validated(make: Any) -> None:
    with pytest.raises(ValueError, match="window_ns must be >= 1"):
        GlobalLimits(window_ns=0)
    with pytest.raises(ValueError, match="daily_loss_limit"):
        GlobalLimits(daily_loss_limit=-5)
    with pytest.raises(ValueError, match="instrument_count"):
        make(-1)
    with pytest.raises(ValueError, match="rate_capacity"):
        make(1, 0)
    with pytest.raises(ValueError, match="rate_capacity"):
        make(1, ref.MAX_RATE_CAPACITY + 1)
    core = make(1)
    with pytest.raises(TypeError, match="InstrumentLimits"):
        core.set_limits(0, GlobalLimits())
    with pytest.raises(TypeError, match="GlobalLimits"):
        core.set_global_limits(InstrumentLimits())
    with pytest.raises(ValueError, match="period_ns"):
        core.set_day_reset(0, 0)


# ----------------------------------------------------------------------------- differential


def _random_limits(rng: random.Random) -> InstrumentLimits:
    def pick(*values: int) -> int:
        return rng.choice([*values, NO_LIMIT, NO_LIMIT])

    return InstrumentLimits(
        max_qty_lots=pick(0, 3, 10, 40),
        max_notional=pick(500, 2000, 10_000),
        min_notional=rng.choice([0, 0, 50, 300]),
        band_ticks=pick(0, 2, 10),
        band_bps=pick(0, 50, 500),
        max_open_orders=pick(0, 1, 3, 8),
        max_long_lots=pick(0, 5, 20, 60),
        max_short_lots=pick(0, 5, 20, 60),
        max_exposure=pick(0, 1000, 5000),
        order_rate=pick(0, 1, 3, 8),
        cancel_rate=pick(0, 1, 3, 8),
    )


def _random_global(rng: random.Random) -> GlobalLimits:
    def pick(*values: int) -> int:
        return rng.choice([*values, NO_LIMIT, NO_LIMIT])

    return GlobalLimits(
        max_total_exposure=pick(0, 2000, 10_000),
        order_rate=pick(2, 5, 8),
        cancel_rate=pick(2, 5, 8),
        daily_loss_limit=pick(0, 100, 1000),
        max_drawdown=pick(0, 100, 1000),
        window_ns=rng.choice([1, 10, 100, 1000]),
    )


def _observe(core: Core) -> tuple[Any, ...]:
    return (
        core.state,
        core.cause,
        core.passed,
        core.refused,
        core.errors,
        core.state_changes,
        core.next_reset_ns,
        core.exposure_total,
        core.pnl(),
        core.refusals(),
        core.breaches(),
        [core.instrument(i) for i in range(core.instrument_count)],
    )


def _walk(seed: int, steps: int) -> tuple[dict[int, int], dict[int, int]]:
    rng = random.Random(seed)
    n = rng.choice([1, 2, 3])
    a, b = RiskCore(n, 8), RiskCoreRef(n, 8)
    start = [_random_limits(rng) for _ in range(n)]
    glimits = _random_global(rng)
    reset_at, period = rng.choice([NO_LIMIT, 500, 2000]), rng.choice([300, 1000])
    for core in (a, b):
        for i, limits in enumerate(start):
            core.set_limits(i, limits)
        core.set_global_limits(glimits)
        core.set_day_reset(reset_at, period)
    now = 0
    for step in range(steps):
        now += rng.choice([0, 0, 1, 3, 10, 50])
        i = rng.randrange(n) if rng.random() < 0.92 else rng.choice([-1, n])
        side = rng.choice([BUY, BUY, SELL, SELL, 0])
        op = rng.random()
        calls: list[tuple[str, tuple[Any, ...]]]
        if op < 0.35:
            order_type = rng.choice([LIMIT, LIMIT, LIMIT_MAKER, MARKET])
            price = 0 if order_type == MARKET else rng.choice([95, 99, 100, 101, 105, 130, 0])
            qty = rng.choice([1, 2, 5, 10, 30, 0])
            calls = [("check_new", (i, side, price, qty, now, order_type, GTC))]
        elif op < 0.45:
            calls = [
                (
                    "check_replace",
                    (i, side, rng.choice([99, 100, 102]), rng.choice([1, 4, 12]),
                     rng.choice([BUY, SELL, 0]), rng.choice([0, 2, 10, -1]), now),
                )
            ]  # fmt: skip
        elif op < 0.55:
            calls = [("check_cancel", (i, now))]
        elif op < 0.65:
            calls = [("on_order_open", (i, side, rng.choice([1, 3, 10, 0])))]
        elif op < 0.72:
            calls = [("on_order_close", (i, side, rng.choice([0, 1, 3, 10, -1])))]
        elif op < 0.82:
            calls = [
                (
                    "on_fill",
                    (i, side, rng.choice([1, 2, 5, 0]), rng.randint(-200, 150), now),
                )
            ]
        elif op < 0.93:
            calls = [
                (
                    "on_mark",
                    (i, rng.choice([98, 100, 102, 110, 0]), rng.randint(-800, 600), now),
                )
            ]
        elif op < 0.955:
            calls = [("reset", ())]
        elif op < 0.96:
            calls = [("halt", ())]
        elif op < 0.97:
            calls = [("roll", (now,))]
        elif op < 0.99:
            target = rng.randrange(n)
            limits = _random_limits(rng)
            calls = [("set_limits", (target, limits))]
        else:
            calls = [("set_global_limits", (_random_global(rng),))]
        for name, args in calls:
            got = getattr(a, name)(*args)
            want = getattr(b, name)(*args)
            assert got == want, (seed, step, name, args)
            assert _observe(a) == _observe(b), (seed, step, name, args)
    return a.refusals(), a.breaches()


def test_random_walks_agree_with_the_reference() -> None:
    seen: set[int] = set()
    causes: set[int] = set()
    for seed in range(24):
        refusals, breaches = _walk(seed, 3000)
        seen |= set(refusals)
        causes |= set(breaches)
    # the walks reach every refusal reason and every cause of a state change, so the
    # agreement covers them all
    reasons = set(ref.CODES) - {ref.DAILY_LOSS, ref.DRAWDOWN, ref.MANUAL, ref.OVERFLOW}
    assert seen == reasons
    assert causes == {
        ref.POSITION,
        ref.EXPOSURE,
        ref.TOTAL_EXPOSURE,
        ref.DAILY_LOSS,
        ref.DRAWDOWN,
        ref.MANUAL,
    }


# ----------------------------------------------------------------------------- allocation


def test_checks_allocate_nothing() -> None:
    core = RiskCore(4, 1024)
    core.set_limits(
        2,
        InstrumentLimits(
            max_qty_lots=10_000, max_notional=10**15, min_notional=10, band_ticks=50_000,
            band_bps=100, max_open_orders=50, max_long_lots=10**6, max_short_lots=10**6,
            max_exposure=10**16, order_rate=1024, cancel_rate=1024,
        ),
    )  # fmt: skip
    core.set_global_limits(
        GlobalLimits(
            max_total_exposure=10**17, order_rate=1024, cancel_rate=1024,
            daily_loss_limit=10**12, max_drawdown=10**12, window_ns=10**6,
        )
    )  # fmt: skip
    core.set_day_reset(next_daily_reset_ns(0, 0))
    mark, price, qty = 6_500_000, 6_500_010, 1_500
    core.on_mark(2, mark, 0, 0)
    check_new, check_cancel, on_mark = core.check_new, core.check_cancel, core.on_mark
    on_fill = core.on_fill
    times = [1_000_000 + 3000 * k for k in range(1000)]  # 333 orders per 1 ms window
    rounds_run = [0]

    def run(rounds: int) -> None:
        for _ in range(rounds):
            # the clock moves on between rounds (a temporary int per call, freed at once)
            offset = rounds_run[0] * 3_000_000
            rounds_run[0] += 1
            for t in times:
                check_new(2, BUY, price, qty, t + offset, LIMIT_MAKER, GTC)
            check_cancel(2, times[-1] + offset)
            on_fill(2, BUY, qty, -3, times[-1] + offset)
            on_fill(2, SELL, qty, 2, times[-1] + offset)
            on_mark(2, mark, -10, times[-1] + offset)

    run(5)
    tracemalloc.start()
    try:
        run(2)
        before = tracemalloc.get_traced_memory()[0]
        run(100)  # 100_000 checks
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 512
    assert core.refusals() == {} and core.passed == 107 * 1001


def test_pending_intents_are_checked_as_the_consumer_takes_them() -> None:
    core = RiskCore(2)
    core.set_limits(1, InstrumentLimits(max_qty_lots=5, cancel_rate=1, max_long_lots=10))
    core.on_order_open(1, BUY, 8)
    buf = IntentBuffer(8, 2)
    buf.push_new(1, BUY, 100, 5)
    buf.push_new(1, BUY, 100, 6)
    buf.push_cancel(1, 77)
    buf.push_cancel(1, 78)
    buf.push_replace(1, 77, BUY, 100, 5)
    assert core.check_pending(buf, 0, 10) == ref.POSITION  # 8 resting + 5 > 10
    assert core.check_pending(buf, 1, 10) == ref.QTY
    assert core.check_pending(buf, 2, 10) == ref.OK
    assert core.check_pending(buf, 3, 10) == ref.CANCEL_RATE
    assert core.check_pending(buf, 4, 10, BUY, 8) == ref.OK  # the replaced 8 lots leave
    assert core.check_pending(buf, 4, 10, SELL, 8) == ref.POSITION
    assert core.refusals() == {ref.POSITION: 2, ref.QTY: 1, ref.CANCEL_RATE: 1}
    for bad in (-1, 5, 2**40):
        with pytest.raises(IndexError):
            core.check_pending(buf, bad, 10)
    with pytest.raises(TypeError):
        core.check_pending(None, 0, 10)  # type: ignore[arg-type]
