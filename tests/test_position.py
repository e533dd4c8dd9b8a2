"""engine/_core/position.pyx: hand-computed PnL, differential against PositionRef, overflow."""

from __future__ import annotations

import pickle
from decimal import Context, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine._core.fixedpoint import FixedPointOverflowError
from engine._core.position import BUY, SELL, PositionCore
from engine.model.enums import OrderSide
from engine.model.instrument import Instrument
from engine.model.position import Position
from engine.model.position_ref import PositionRef, trunc_div

D = Decimal
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def state(p: PositionCore | PositionRef) -> tuple[int, ...]:
    return (p.qty, p.cost, p.realized, p.fees, p.volume, p.fills)


def instrument() -> Instrument:
    return Instrument(
        "BTCUSDT", "binance", "BTC", "USDT", D("0.01"), D("0.001"), D("0.001"), D(0), 8, 8
    )


def fill(pos: Position, side: int, price: str, qty: str, fee: str = "0") -> Decimal:
    inst = pos.instrument
    delta = pos.core.apply_fill(
        side, inst.price_to_ticks(price), inst.qty_to_lots(qty), inst.fee_to_units(D(fee))
    )
    return inst.notional_to_decimal(delta)


# ----------------------------------------------------------------------------- by hand


def test_open_add_reduce_flip_close_in_decimal() -> None:
    pos = Position(instrument())
    assert pos.average_price is None and pos.quantity == 0
    assert fill(pos, BUY, "100", "1") == 0
    assert fill(pos, BUY, "110", "1") == 0
    assert pos.quantity == D(2) and pos.average_price == D("105")
    assert fill(pos, SELL, "120", "1") == D(15)  # 120 - average 105
    assert pos.realized_pnl == D(15) and pos.quantity == D(1)
    assert pos.average_price == D("105.00000000")
    # sells 2: closes the long 1 at a 15 loss and opens a short 1 at 90
    assert fill(pos, SELL, "90", "2") == D(-15)
    assert pos.quantity == D(-1) and pos.average_price == D(90)
    assert pos.realized_pnl == 0
    assert pos.unrealized_pnl(D("85")) == D(5)  # short gains when the price falls
    assert fill(pos, BUY, "80", "1") == D(10)
    assert pos.quantity == 0 and pos.average_price is None
    assert pos.realized_pnl == D(10)  # = sells 120 + 180 - buys 100 + 110 + 80
    assert pos.core.cost == 0 and pos.core.fills == 5 and pos.volume == D(6)
    assert pos.unrealized_pnl() == 0  # flat: no mark needed


def test_fees_and_rebates_come_off_realized() -> None:
    pos = Position(instrument())
    assert fill(pos, BUY, "100", "1", fee="0.1") == D("-0.1")
    assert fill(pos, SELL, "101", "0.5", fee="0.05") == D("0.45")  # 0.5 * 1 - 0.05
    assert fill(pos, SELL, "102", "0.5", fee="-0.01") == D("1.01")  # maker rebate
    assert pos.fees == D("0.14")
    assert pos.realized_pnl == D("1.36")  # 50.5 + 51 - 100 - 0.14


def test_reduction_truncates_toward_zero_and_keeps_the_remainder() -> None:
    long = PositionCore()
    for price in (100, 101, 101):
        long.apply_fill(BUY, price, 1)
    assert long.apply_fill(SELL, 101, 1) == 1  # removes trunc(302 / 3) = 100
    assert (long.qty, long.cost) == (2, 202)  # the remainder stays in the open cost
    assert long.apply_fill(SELL, 101, 2) == 0
    assert long.realized == 1 and long.cost == 0  # = 303 - 302, exact

    short = PositionCore()
    for price in (100, 100, 101):
        short.apply_fill(SELL, price, 1)
    assert short.avg_price_num_den() == (-301, -3)
    # trunc(-301 / 3) = -100; floor division would give -101 and a realized +1
    assert short.apply_fill(BUY, 100, 1) == 0
    assert (short.qty, short.cost) == (-2, -201)
    assert short.apply_fill(BUY, 100, 2) == 1
    assert short.realized == 1 and short.cost == 0
    assert trunc_div(-301, 3) == -100 and trunc_div(301, -3) == -100 and trunc_div(7, 2) == 3


def test_unrealized_and_views() -> None:
    core = PositionCore()
    core.apply_fill(BUY, 100, 3, 2)
    assert core.unrealized(110) == 30 and core.unrealized(90) == -30
    assert core.avg_price_num_den() == (300, 3)
    assert repr(core) == ("PositionCore(qty=3, cost=300, realized=-2, fees=2, volume=3, fills=1)")
    copy = pickle.loads(pickle.dumps(core))
    assert state(copy) == state(core)
    core.reset()
    assert state(core) == (0, 0, 0, 0, 0, 0)
    assert core.apply_fill(OrderSide.SELL, 100, 1) == 0  # the model's enum is a valid side
    assert core.qty == -1


def test_position_view_marks() -> None:
    pos = Position(instrument(), mark_price=D("101"))
    fill(pos, BUY, "100", "3")
    fill(pos, BUY, "101", "0.001")
    assert pos.symbol == "BTCUSDT" and pos.instrument_id == "binance:BTCUSDT"
    assert pos.unrealized_pnl() == D(3)  # stored mark: 3.001 * 101 - 300.101
    # an off-grid mark (a mid price) is valued exactly, the same way as on the grid
    assert pos.unrealized_pnl(D("100.005")) == D("3.001") * D("100.005") - D("300.101")
    assert pos.unrealized_pnl(D("100.01")) == pos.quantity * D("100.01") - pos.cost_basis
    assert pos.average_price == Context(prec=40).divide(D("300.101"), D("3.001"))
    with pytest.raises(ValueError, match="positive"):
        pos.unrealized_pnl(D(0))
    with pytest.raises(TypeError):
        pos.unrealized_pnl(100.0)  # type: ignore[arg-type]
    pos.mark_price = None
    with pytest.raises(ValueError, match="no mark price"):
        pos.unrealized_pnl()
    assert "quantity=3.001" in repr(pos)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((0, 100, 1), ValueError, "side"),
        ((2, 100, 1), ValueError, "side"),
        ((2**32 + 1, 100, 1), ValueError, "side"),  # would be 1 if cast to a C int first
        ((BUY, 0, 1), ValueError, "price_ticks"),
        ((BUY, -5, 1), ValueError, "price_ticks"),
        ((BUY, 100, 0), ValueError, "lots"),
        ((SELL, 100, -1), ValueError, "lots"),
        ((BUY, 100.0, 1), TypeError, "floats never carry money"),
        ((True, 100, 1), TypeError, "side"),
        ((BUY, D(100), 1), TypeError, "price_ticks"),
        ((BUY, 2**63, 1), FixedPointOverflowError, "price_ticks"),
        ((BUY, 100, 1, -(2**63) - 1), FixedPointOverflowError, "fee_units"),
    ],
)
def test_invalid_fills_are_rejected(args: tuple[object, ...], error: type, message: str) -> None:
    for pos in (PositionCore(), PositionRef()):
        pos.apply_fill(BUY, 100, 2)
        before = state(pos)
        with pytest.raises(error, match=message):
            pos.apply_fill(*args)  # type: ignore[arg-type]
        assert state(pos) == before


@pytest.mark.parametrize(
    ("setup", "bad"),
    [
        ([], (BUY, 2**62, 4, 0)),  # price * lots
        ([(BUY, 2**31, 2**31, 0)], (BUY, 2**31, 2**31, 0)),  # cost sum
        ([(SELL, 2**31, 2**31, 0)], (SELL, 2**31, 2**31 + 1, 0)),  # negative cost sum
        ([(BUY, 1, INT64_MAX, 0)], (BUY, 1, 1, 0)),  # qty
        ([(SELL, 1, INT64_MAX, 0)], (SELL, 1, 1, 0)),  # qty would be INT64_MIN
        ([(BUY, 1, 2**40, 0)], (SELL, 2**30, 2**40, 0)),  # proceeds of the reduction
        ([(BUY, 1, 10, 0)], (SELL, 2**62, 12, 0)),  # the flipped remainder's cost
        ([], (BUY, 1, 1, INT64_MIN)),  # pnl - fee
        ([(BUY, 1, 1, -INT64_MAX)], (BUY, 1, 1, -10)),  # realized sum
        ([(BUY, 1, 1, INT64_MAX)], (BUY, 1, 1, 1)),  # fees sum
        ([(BUY, 1, INT64_MAX - 5, 0)], (SELL, 1, 10, 0)),  # volume
    ],
)
def test_overflow_raises_and_leaves_state_unchanged(
    setup: list[tuple[int, int, int, int]], bad: tuple[int, int, int, int]
) -> None:
    for pos in (PositionCore(), PositionRef()):
        for args in setup:
            pos.apply_fill(*args)
        before = state(pos)
        with pytest.raises(FixedPointOverflowError, match=r"does not fit int64|overflows"):
            pos.apply_fill(*bad)
        assert state(pos) == before
        if before[4] < INT64_MAX:  # still usable afterwards, unless its volume is saturated
            pos.apply_fill(BUY if before[0] <= 0 else SELL, 1, 1)


def test_unrealized_overflow_and_bad_mark() -> None:
    for pos in (PositionCore(), PositionRef()):
        pos.apply_fill(BUY, 1, 2**62)
        with pytest.raises(FixedPointOverflowError):
            pos.unrealized(4)
        assert pos.unrealized(1) == 0
        with pytest.raises(ValueError, match="mark_ticks"):
            pos.unrealized(0)
        with pytest.raises(TypeError):
            pos.unrealized(1.5)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- differential

FILLS = st.tuples(
    st.sampled_from([BUY, SELL]),
    st.integers(1, 10**6),
    st.integers(1, 10**4),
    st.integers(-100, 1000),
)
EXTREME_FILLS = st.tuples(
    st.sampled_from([BUY, SELL]),
    st.one_of(st.integers(1, 10**6), st.integers(1, INT64_MAX)),
    st.one_of(st.integers(1, 10**4), st.integers(1, 2**40), st.integers(1, INT64_MAX)),
    st.one_of(st.integers(-100, 1000), st.integers(INT64_MIN, INT64_MAX)),
)


def _apply(pos: PositionCore | PositionRef, args: tuple[int, ...]) -> tuple[str, object]:
    try:
        return "ok", pos.apply_fill(*args)
    except (ValueError, OverflowError, TypeError) as exc:
        return "error", type(exc)


@given(st.lists(st.one_of(FILLS, EXTREME_FILLS), max_size=40), st.integers(1, 10**7))
@settings(max_examples=600)
def test_core_matches_reference_after_every_fill(
    fills: list[tuple[int, int, int, int]], mark: int
) -> None:
    core, reference = PositionCore(), PositionRef()
    for args in fills:
        assert _apply(core, args) == _apply(reference, args)
        assert state(core) == state(reference)
        assert core.avg_price_num_den() == reference.avg_price_num_den()
        # cost follows the sign of the quantity and is zero exactly when flat
        assert (core.cost > 0) == (core.qty > 0) and (core.cost < 0) == (core.qty < 0)
        try:
            expected: object = reference.unrealized(mark)
        except OverflowError:
            expected = OverflowError
        try:
            got: object = core.unrealized(mark)
        except OverflowError:
            got = OverflowError
        assert got == expected


@given(st.lists(FILLS, min_size=1, max_size=50))
@settings(max_examples=400)
def test_flat_to_flat_realized_is_exact(fills: list[tuple[int, int, int, int]]) -> None:
    core = PositionCore()
    proceeds = fees = deltas = volume = 0
    if fills[-1][0] * sum(f[0] * f[2] for f in fills) != 0:
        # close at some price to come back to flat
        net = sum(f[0] * f[2] for f in fills)
        fills = [*fills, (SELL if net > 0 else BUY, 777, abs(net), 0)]
    for side, price, lots, fee in fills:
        deltas += core.apply_fill(side, price, lots, fee)
        proceeds -= side * price * lots
        fees += fee
        volume += lots
    assert core.qty == 0 and core.cost == 0
    assert core.realized == proceeds - fees == deltas
    assert (core.fees, core.volume, core.fills) == (fees, volume, len(fills))


@given(st.lists(FILLS, max_size=30))
def test_average_price_stays_within_the_fill_prices(
    fills: list[tuple[int, int, int, int]],
) -> None:
    # truncating the removed cost toward zero can never push the average of what is left
    # outside the range of the prices paid (a floor on a short would)
    core = PositionCore()
    for i, (side, price, lots, fee) in enumerate(fills):
        core.apply_fill(side, price, lots, fee)
        prices = [f[1] for f in fills[: i + 1]]
        assert min(prices) * abs(core.qty) <= abs(core.cost) <= max(prices) * abs(core.qty)
