from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.market_data import MarketData
from engine.model.orders import Order

D = Decimal


def _limit(**kw: object) -> Order:
    fields: dict[str, object] = dict(
        id="c1",
        venue="binance",
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=D("0.001"),
        price=D("65000.10"),
    )
    fields.update(kw)
    return Order(**fields)  # type: ignore[arg-type]


def test_order_defaults_and_views() -> None:
    order = _limit(timestamp_ns=1_700_000_000_123_000_000)
    assert order.status is OrderStatus.PENDING_NEW
    assert order.remaining_quantity == D("0.001")
    assert order.timestamp.year == 2023
    filled = dataclasses.replace(
        order, filled_quantity=D("0.0004"), status=OrderStatus.PARTIALLY_FILLED
    )
    assert filled.remaining_quantity == D("0.0006")
    with pytest.raises(dataclasses.FrozenInstanceError):
        order.price = D(1)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"quantity": D(0)}, "quantity must be positive"),
        ({"quantity": 0.1}, "must be a Decimal"),
        ({"price": None}, "needs a positive Decimal price"),
        ({"price": D("-1")}, "needs a positive Decimal price"),
        ({"order_type": OrderType.MARKET}, "takes no price"),
        ({"order_type": OrderType.MARKET, "price": None}, "cannot rest"),
        ({"order_type": OrderType.LIMIT_MAKER, "time_in_force": TimeInForce.IOC}, "must be GTC"),
        ({"filled_quantity": D("0.002")}, "outside"),
        ({"id": ""}, "must not be empty"),
    ],
)
def test_order_rejects_inconsistent_fields(kw: dict[str, object], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        _limit(**kw)


def test_market_order_ioc_is_valid() -> None:
    order = _limit(order_type=OrderType.MARKET, price=None, time_in_force=TimeInForce.IOC)
    assert order.price is None


def test_side_sign_and_terminal_statuses() -> None:
    # which status may follow which is the OMS order table's rule: tests/test_orders_table.py
    assert OrderSide.BUY * 3 == 3 and OrderSide.SELL * 3 == -3
    assert OrderSide.BUY.opposite is OrderSide.SELL
    assert all(s.is_terminal != s.is_open for s in OrderStatus)
    assert {s for s in OrderStatus if s.is_terminal} == {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
    }


def test_market_data_views_and_crossed_book_refused() -> None:
    md = MarketData("gate", "BTC_USDT", D("100.1"), D("100.3"), D("100.2"), D("0.5"), 1)
    assert md.mid == D("100.2") and md.spread == D("0.2")
    with pytest.raises(ValueError, match="crossed"):
        MarketData("gate", "BTC_USDT", D("100.3"), D("100.3"), D("100.2"), D("0.5"), 1)
    with pytest.raises(TypeError, match="Decimal"):
        MarketData("gate", "BTC_USDT", 100.1, D("100.3"), D("100.2"), D("0.5"), 1)  # type: ignore[arg-type]
