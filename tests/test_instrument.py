"""engine/model/instrument.py: validation, derived integers and exact conversions."""

from __future__ import annotations

import dataclasses
import pickle
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine._core.fixedpoint import FixedPointOverflowError, Grid, OffGridError
from engine.model.instrument import Instrument

D = Decimal


def btcusdt(**overrides: Any) -> Instrument:
    fields: dict[str, Any] = dict(
        symbol="BTCUSDT",
        venue="binance",
        base="BTC",
        quote="USDT",
        tick_size=D("0.01000000"),
        lot_size=D("0.00001000"),
        min_qty=D("0.00001000"),
        min_notional=D("5.00000000"),
        price_decimals=8,
        qty_decimals=8,
    )
    fields.update(overrides)
    return Instrument(**fields)


def test_btcusdt_derived_fields() -> None:
    inst = btcusdt()
    assert inst.instrument_id == "binance:BTCUSDT"
    assert inst.price_grid == Grid("0.01", 8) and inst.qty_grid == Grid("0.00001", 8)
    assert inst.notional_unit == D("1E-7")
    assert inst.min_qty_lots == 1
    assert inst.min_notional_units == 50_000_000  # 5 USDT / 1e-7
    assert "price_grid" not in repr(inst)


def test_btcusdt_conversions() -> None:
    inst = btcusdt()
    assert inst.price_to_ticks("65000.10000000") == 6_500_010
    assert inst.price_to_ticks(b"65000.1") == 6_500_010
    assert inst.price_to_ticks(D("65000.10")) == 6_500_010
    assert inst.ticks_to_str(6_500_010) == "65000.10000000"
    assert inst.ticks_to_price(6_500_010) == D("65000.1")
    assert inst.qty_to_lots("0.00100000") == 100
    assert inst.lots_to_str(100) == "0.00100000"
    assert inst.lots_to_qty(100) == D("0.001")
    notional = inst.notional(6_500_010, 100)
    assert notional == 650_001_000
    assert inst.notional_to_decimal(notional) == D("65.0001")  # 65000.10 * 0.001
    assert inst.notional_to_decimal(-3) == D("-0.0000003")
    assert inst.notional_to_decimal(0) == 0
    with pytest.raises(OffGridError, match=r"65000\.105"):
        inst.price_to_ticks("65000.105")
    with pytest.raises(OffGridError):
        inst.qty_to_lots("0.000015")
    with pytest.raises(TypeError):
        inst.notional_to_decimal(1.5)  # type: ignore[arg-type]
    with pytest.raises(FixedPointOverflowError):
        inst.notional(2**40, 2**40)


@pytest.mark.parametrize(
    ("fee", "units"),
    [
        ("0", 0),
        ("0.0000002", 2),  # exactly on the unit: no rounding
        ("0.000000123", 2),  # rounds up: a cost is never understated
        ("0.0000000000001", 1),
        ("1E-100000", 1),
        ("0.065", 650_000),
        ("-0.000000123", -1),  # a rebate rounds up too, i.e. toward zero
        ("-0.0000002", -2),
        ("-1E-100000", 0),
    ],
)
def test_fee_rounds_up_to_the_notional_unit(fee: str, units: int) -> None:
    assert btcusdt().fee_to_units(D(fee)) == units


def test_fee_errors() -> None:
    inst = btcusdt()
    with pytest.raises(TypeError, match="Decimal"):
        inst.fee_to_units(0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        inst.fee_to_units(D("NaN"))
    with pytest.raises(FixedPointOverflowError):
        inst.fee_to_units(D("1E+12"))  # 1e19 units
    with pytest.raises(FixedPointOverflowError):
        inst.fee_to_units(D("-1E+1000000"))


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=12))
def test_fee_units_are_the_smallest_not_below_the_fee(fee: Decimal) -> None:
    inst = btcusdt()
    units = inst.fee_to_units(fee)
    assert inst.notional_to_decimal(units) >= fee
    assert inst.notional_to_decimal(units - 1) < fee


def test_min_notional_off_the_notional_grid_rounds_up() -> None:
    inst = btcusdt(min_notional=D("5.00000001"))
    assert inst.min_notional_units == 50_000_001  # 50_000_000.1 -> the next whole unit
    assert btcusdt(min_notional=D(0)).min_notional_units == 0


def test_other_venues_grids() -> None:
    okx = btcusdt(
        symbol="BTC-USDT",
        venue="okx",
        tick_size=D("0.1"),
        lot_size=D("0.00000001"),
        min_qty=D("0.00001"),
        min_notional=D(0),
        price_decimals=1,
        qty_decimals=8,
    )
    assert okx.instrument_id == "okx:BTC-USDT"
    assert okx.notional_unit == D("1E-9") and okx.min_qty_lots == 1000
    assert okx.ticks_to_str(650001) == "65000.1"
    coarse = btcusdt(tick_size=D("0.5"), lot_size=D("10"), min_qty=D("20"), price_decimals=1)
    assert coarse.notional_unit == D(5) and coarse.min_qty_lots == 2
    assert coarse.min_notional_units == 1  # 5 / 5
    assert coarse.price_to_ticks("2.5") == 5 and coarse.qty_to_lots("30") == 3
    assert coarse.lots_to_str(3) == "30.00000000"


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"tick_size": D(0)}, ValueError, "tick_size must be positive"),
        ({"lot_size": D("-0.001")}, ValueError, "lot_size must be positive"),
        ({"tick_size": D("NaN")}, ValueError, "tick_size must be finite"),
        ({"tick_size": 0.01}, TypeError, "tick_size must be a Decimal"),
        ({"lot_size": "0.001"}, TypeError, "lot_size must be a Decimal"),
        ({"min_qty": D("0.000015")}, ValueError, "min_qty 0.000015 is not on the lot grid"),
        ({"min_qty": D("-0.00001")}, ValueError, "min_qty must be >= 0"),
        ({"min_notional": D("-1")}, ValueError, "min_notional must be >= 0"),
        ({"min_notional": D("1E+20")}, ValueError, "min_notional .* does not fit int64"),
        ({"price_decimals": 1}, ValueError, "price_decimals 1 is below the 2 decimals"),
        ({"qty_decimals": 4}, ValueError, "qty_decimals 4 is below the 5 decimals"),
        ({"qty_decimals": 31}, ValueError, "qty_decimals"),
        ({"price_decimals": True}, TypeError, "price_decimals must be an int"),
        ({"symbol": ""}, ValueError, "symbol must be a non-empty str"),
        ({"venue": None}, ValueError, "venue must be a non-empty str"),
        ({"tick_size": D("1E-19")}, ValueError, "tick_size 1E-19 is unusable"),
    ],
)
def test_validation(overrides: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        btcusdt(**overrides)


def test_value_semantics() -> None:
    inst = btcusdt()
    with pytest.raises(dataclasses.FrozenInstanceError):
        inst.tick_size = D("0.1")  # type: ignore[misc]
    same = btcusdt(tick_size=D("0.01"))  # equal Decimal, different spelling
    assert same == inst and hash(same) == hash(inst)
    assert btcusdt(venue="okx") != inst
    copy = pickle.loads(pickle.dumps(inst))
    assert copy == inst and copy.price_grid == inst.price_grid
    assert copy.min_notional_units == inst.min_notional_units
