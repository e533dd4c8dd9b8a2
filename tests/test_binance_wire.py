"""The one-pass Binance requote frame is byte for byte the generic signed request."""

from __future__ import annotations

import pytest

from engine.gateway.binance import orders_wire as wire
from engine.model.enums import OrderSide, OrderType, TimeInForce
from engine.sim.presets import instrument
from engine.wire.credentials import Credentials
from engine.wire.mac import hmac_hex

CREDS = Credentials("api-key-1", "secret-of-the-test-0123456789")


def _sign(payload: str) -> str:
    return hmac_hex(CREDS, "sha256", payload.encode())


@pytest.mark.parametrize("order_type", list(OrderType))
@pytest.mark.parametrize("tif", list(TimeInForce))
@pytest.mark.parametrize("logged_on", [False, True])
@pytest.mark.parametrize("side", list(OrderSide))
def test_replace_frame_equals_the_generic_request(
    order_type: OrderType, tif: TimeInForce, logged_on: bool, side: OrderSide
) -> None:
    inst = instrument("binance", "ETH")
    price = inst.price_to_ticks("3500.01") if order_type is not OrderType.MARKET else 0
    qty = inst.qty_to_lots("0.5")
    fields = wire.replace_fields(
        inst,
        side,
        order_type,
        tif,
        quantity_lots=qty,
        price_ticks=price,
        client_order_id="q1-r1",
        cancel_client_order_id="q1",
    )
    expected = wire.signed_request(
        4,
        "order.cancelReplace",
        fields,
        api_key=CREDS.api_key,
        recv_window="5000",
        timestamp="1700000000123",
        sign=None if logged_on else _sign,
    )
    frame = wire.replace_frame(
        4,
        inst,
        side,
        order_type,
        tif,
        api_key=CREDS.api_key,
        recv_window="5000",
        timestamp="1700000000123",
        sign=None if logged_on else _sign,
        quantity_lots=qty,
        price_ticks=price,
        client_order_id="q1-r1",
        cancel_client_order_id="q1",
    )
    assert frame == expected
