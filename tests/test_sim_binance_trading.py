"""The simulated Binance where it must behave like the venue for trading clients: filters
before the balance, venue-made ids, cancelReplace, myTrades, the listenKey user data flow,
`session.logon` + `userDataStream.subscribe`, and balanceUpdate events."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from test_sim_binance import MAKER, Rest, limit, maker_order, now_ms
from test_sim_binance_ws import WsApi, recv_json, recv_until

from engine.model.enums import OrderSide
from engine.sim.server import start_sim
from engine.sim.venues.binance import venue_state
from engine.wire.binance_signing import binance_sign_ws

BTC = "BTCUSDT"


@pytest.fixture
async def sim():
    async with start_sim("binance", seed=1, market=False) as running:
        running.exchange.open_account(
            MAKER, {"BTC": Decimal("10"), "USDT": Decimal("1000000"), "ETH": Decimal("100")}
        )
        yield running


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def rest(sim, http) -> Rest:
    return Rest(sim, http)


@pytest.fixture
async def api(sim, http):
    async with http.ws_connect(sim.urls.ws_api) as ws:
        yield WsApi(sim, ws)


async def place(rest: Rest, price: str, qty: str = "0.001", **extra: Any) -> dict[str, Any]:
    status, body, _ = await rest.signed("POST", "/api/v3/order", **limit(price, qty, **extra))
    assert status == 200, body
    return body


# -- (a) filters before the balance --------------------------------------------------------------


async def test_filters_are_checked_before_the_balance(sim, rest):
    cases = [
        # more than maxQty (9000) and more than the balance: LOT_SIZE, not -2010
        (limit("60000", "9500"), "Filter failure: LOT_SIZE"),
        (limit("1000001", "0.001"), "Filter failure: PRICE_FILTER"),
        (limit("999999", "9.5"), "Filter failure: NOTIONAL"),  # over maxNotional 9,000,000
        (limit("60000", "9500", side="SELL"), "Filter failure: LOT_SIZE"),
    ]
    for params, msg in cases:
        status, body, _ = await rest.signed("POST", "/api/v3/order", **params)
        assert (status, body) == (400, {"code": -1013, "msg": msg}), params
    # within the filters, the balance decides
    status, body, _ = await rest.signed("POST", "/api/v3/order", **limit("1000", "5000"))
    assert (status, body["code"]) == (400, -2010)
    _, info, _ = await rest.public("GET", "/api/v3/exchangeInfo", symbol=BTC)
    filters = {f["filterType"]: f for f in info["symbols"][0]["filters"]}
    assert filters["LOT_SIZE"]["maxQty"] == "9000.00000000"
    assert filters["PERCENT_PRICE_BY_SIDE"]["bidMultiplierUp"] == "5"
    assert info["symbols"][0]["cancelReplaceAllowed"] is True


async def test_percent_price_by_side_around_the_last_trade(sim, rest):
    # no trade yet: no reference price, any price on the grid passes this filter
    await place(rest, "1000", "0.01")
    maker_order(sim, OrderSide.SELL, "60000.00", "0.001")
    await place(rest, "60000")  # trades: the reference is now 60000
    status, body, _ = await rest.signed("POST", "/api/v3/order", **limit("11999.99"))
    assert (status, body["msg"]) == (400, "Filter failure: PERCENT_PRICE_BY_SIDE")
    status, body, _ = await rest.signed("POST", "/api/v3/order", **limit("12000"))
    assert status == 200
    status, body, _ = await rest.signed("POST", "/api/v3/order", **limit("300000.01", side="SELL"))
    assert body["msg"] == "Filter failure: PERCENT_PRICE_BY_SIDE"


# -- (d) venue-made ids --------------------------------------------------------------------------


async def test_generated_ids_look_like_binance(rest):
    first = await place(rest, "60000")
    second = await place(rest, "60001")
    for body in (first, second):
        assert re.fullmatch(r"[A-Za-z0-9]{22}", body["clientOrderId"]), body["clientOrderId"]
        assert isinstance(body["orderId"], int)
    assert first["clientOrderId"] != second["clientOrderId"]
    assert second["orderId"] > first["orderId"]
    _, body, _ = await rest.signed("DELETE", "/api/v3/order", symbol=BTC, orderId=first["orderId"])
    assert re.fullmatch(r"[A-Za-z0-9]{22}", body["clientOrderId"])
    assert body["origClientOrderId"] == first["clientOrderId"]


# -- cancelReplace and myTrades -----------------------------------------------------------------


async def test_cancel_replace_rest(sim, rest):
    await place(rest, "60000", newClientOrderId="cr-1")
    replace = {
        "symbol": BTC,
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.002",
        "price": "59000",
        "cancelReplaceMode": "STOP_ON_FAILURE",
        "newOrderRespType": "RESULT",
    }
    status, body, headers = await rest.signed(
        "POST",
        "/api/v3/order/cancelReplace",
        cancelOrigClientOrderId="cr-1",
        newClientOrderId="cr-2",
        **replace,
    )
    assert status == 200, body
    assert (body["cancelResult"], body["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    assert body["cancelResponse"]["origClientOrderId"] == "cr-1"
    assert body["cancelResponse"]["status"] == "CANCELED"
    assert body["newOrderResponse"]["clientOrderId"] == "cr-2"
    assert body["newOrderResponse"]["price"] == "59000.00000000"
    assert headers["X-MBX-ORDER-COUNT-10S"] == "2"

    # the cancel fails: nothing placed, -2022
    status, body, _ = await rest.signed(
        "POST", "/api/v3/order/cancelReplace", cancelOrigClientOrderId="cr-1", **replace
    )
    assert (status, body["code"], body["msg"]) == (400, -2022, "Order cancel-replace failed.")
    assert body["data"] == {
        "cancelResult": "FAILURE",
        "newOrderResult": "NOT_ATTEMPTED",
        "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
        "newOrderResponse": None,
    }

    # the cancel succeeds, the new (post-only, crossing) order fails: -2021, HTTP 409
    maker_order(sim, OrderSide.SELL, "61000.00", "1")
    status, body, _ = await rest.signed(
        "POST",
        "/api/v3/order/cancelReplace",
        cancelOrigClientOrderId="cr-2",
        **{**replace, "type": "LIMIT_MAKER", "price": "61000", "timeInForce": ""},
    )
    assert (status, body["code"]) == (409, -2021)
    assert body["data"]["cancelResult"] == "SUCCESS"
    assert body["data"]["newOrderResult"] == "FAILURE"
    assert body["data"]["newOrderResponse"]["code"] == -2010

    # a filter failure of the new order is found first: nothing is cancelled
    await place(rest, "60000", newClientOrderId="cr-3")
    status, body, _ = await rest.signed(
        "POST",
        "/api/v3/order/cancelReplace",
        cancelOrigClientOrderId="cr-3",
        **{**replace, "quantity": "9500"},
    )
    assert (status, body) == (400, {"code": -1013, "msg": "Filter failure: LOT_SIZE"})
    assert [o.client_order_id for o in sim.exchange.engine.open_orders("user")] == ["cr-3"]


async def test_cancel_replace_ws_api_and_my_trades(sim, api, rest):
    placed = await api.call(
        "order.place",
        signed=True,
        symbol=BTC,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price="60000",
        newClientOrderId="w-1",
    )
    resp = await api.call(
        "order.cancelReplace",
        signed=True,
        symbol=BTC,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price="60500",
        cancelReplaceMode="STOP_ON_FAILURE",
        cancelOrderId=placed["result"]["orderId"],
        newClientOrderId="w-2",
    )
    assert resp["status"] == 200 and resp["result"]["newOrderResponse"]["clientOrderId"] == "w-2"
    resp = await api.call(
        "order.cancelReplace",
        signed=True,
        symbol=BTC,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price="60500",
        cancelReplaceMode="STOP_ON_FAILURE",
        cancelOrigClientOrderId="w-1",
    )
    assert resp["status"] == 400 and resp["error"]["code"] == -2022
    assert resp["error"]["data"]["cancelResponse"]["code"] == -2011

    maker_order(sim, OrderSide.SELL, "60500.00", "0.0004")
    maker_order(sim, OrderSide.SELL, "60500.00", "0.0006")
    resp = await api.call("myTrades", signed=True, symbol=BTC)
    trades = resp["result"]
    assert [t["qty"] for t in trades] == ["0.00040000", "0.00060000"]
    first = trades[0]
    assert first["price"] == "60500.00000000" and first["isBuyer"] is True
    assert first["isMaker"] is True and first["commissionAsset"] == "USDT"
    assert first["quoteQty"] == "24.20000000" and first["commission"] == "0.02420000"
    assert first["orderId"] == resp["result"][1]["orderId"]
    status, body, headers = await rest.signed(
        "GET", "/api/v3/myTrades", symbol=BTC, fromId=trades[1]["id"]
    )
    assert status == 200 and [t["id"] for t in body] == [trades[1]["id"]]
    assert int(headers["X-MBX-USED-WEIGHT-1M"]) >= 20  # per IP, the WS API calls included
    _, body, _ = await rest.signed("GET", "/api/v3/myTrades", symbol=BTC, startTime=now_ms() + 5000)
    assert body == []
    _, body, _ = await rest.signed("GET", "/api/v3/myTrades", symbol=BTC, orderId=1)
    assert body == []


# -- user data: listenKey, logon + subscribe, balanceUpdate ---------------------------------------


async def test_listen_key_flow_rest_and_stream(sim, rest, http):
    headers = {"X-MBX-APIKEY": sim.api_key}
    base = sim.urls.rest + "/api/v3/userDataStream"
    async with http.post(base, headers=headers) as resp:
        assert resp.status == 200 and resp.headers["X-MBX-USED-WEIGHT-1M"] == "2"
        key = (await resp.json())["listenKey"]
    assert re.fullmatch(r"[A-Za-z0-9]{60}", key)
    async with http.post(base, headers=headers) as resp:  # the active key, extended
        assert (await resp.json())["listenKey"] == key
    async with http.post(base) as resp:
        assert resp.status == 401 and (await resp.json())["code"] == -2014
    async with http.put(base, params={"listenKey": "nope"}, headers=headers) as resp:
        assert (resp.status, (await resp.json())["code"]) == (400, -1125)
    async with http.put(base, params={"listenKey": key}, headers=headers) as resp:
        assert resp.status == 200 and await resp.json() == {}

    async with http.ws_connect(f"{sim.urls.ws_public}/ws/{key}") as ws:
        await asyncio.sleep(0.05)  # subscribed once the handshake is done
        placed = await place(rest, "60000", newClientOrderId="lk-1")
        report = await recv_until(ws, lambda d: d.get("e") == "executionReport")
        assert "subscriptionId" not in report  # bare events on a listenKey stream
        assert report["c"] == "lk-1" and report["x"] == "NEW" and report["i"] == placed["orderId"]
        position = await recv_until(ws, lambda d: d.get("e") == "outboundAccountPosition")
        assert {b["a"] for b in position["B"]} == {"BTC", "USDT"}

        venue_state(sim.exchange).deposit("user", "BTC", Decimal("0.5"))
        update = await recv_until(ws, lambda d: d.get("e") == "balanceUpdate")
        assert (update["a"], update["d"]) == ("BTC", "0.50000000") and update["T"] > 0
        position = await recv_until(ws, lambda d: d.get("e") == "outboundAccountPosition")
        assert position["B"] == [{"a": "BTC", "f": "1.50000000", "l": "0.00000000"}]

        async with http.delete(base, params={"listenKey": key}, headers=headers) as resp:
            assert resp.status == 200
        expired = await recv_until(ws, lambda d: d.get("e") == "listenKeyExpired")
        assert expired["listenKey"] == key
        msg = await ws.receive(timeout=2)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    with pytest.raises(aiohttp.WSServerHandshakeError):
        async with http.ws_connect(f"{sim.urls.ws_public}/ws/{key}"):
            pass


async def test_listen_key_over_ws_api(sim, api):
    resp = await api.call("userDataStream.start", apiKey=sim.api_key)
    assert resp["status"] == 200
    key = resp["result"]["listenKey"]
    resp = await api.call("userDataStream.ping", apiKey=sim.api_key, listenKey=key)
    assert resp["status"] == 200 and resp["result"] == {}
    resp = await api.call("userDataStream.stop", apiKey=sim.api_key, listenKey=key)
    assert resp["status"] == 200
    resp = await api.call("userDataStream.ping", apiKey=sim.api_key, listenKey=key)
    assert resp["error"]["code"] == -1125
    resp = await api.call("userDataStream.start", apiKey="unknown")
    assert resp["status"] == 401 and resp["error"]["code"] == -2015


async def test_session_logon_and_subscribe(sim, api):
    resp = await api.call("userDataStream.subscribe")
    assert resp["status"] == 400 and resp["error"]["code"] == -1002  # no logon yet
    resp = await api.call("session.logon", signed=True)  # an HMAC key: not for logon
    assert resp["error"]["code"] == -1002

    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    venue_state(sim.exchange).register_ed25519_key("ed-key", public, "user")
    params: dict[str, Any] = {"apiKey": "ed-key", "timestamp": now_ms()}
    params["signature"] = binance_sign_ws(private, params)
    resp = await api.call("session.logon", **params)
    assert resp["status"] == 200, resp
    result = resp["result"]
    assert result["apiKey"] == "ed-key" and result["authorizedSince"] > 0
    assert result["userDataStream"] is False
    resp = await api.call("userDataStream.subscribe")
    assert resp["status"] == 200 and resp["result"] == {"subscriptionId": 0}
    assert (await api.call("session.status"))["result"]["userDataStream"] is True

    # logged on: a request carries its timestamp, no apiKey, no signature
    resp = await api.call(
        "order.place",
        symbol=BTC,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price="60000",
        newClientOrderId="lo-1",
        timestamp=now_ms(),
    )
    assert resp["status"] == 200, resp
    event = await api.event(lambda e: e.get("e") == "executionReport")
    assert event["subscriptionId"] == 0 and event["event"]["c"] == "lo-1"
    resp = await api.call("openOrders.status", symbol=BTC, timestamp=now_ms() - 60_000)
    assert resp["error"]["code"] == -1021  # the window still applies

    venue_state(sim.exchange).deposit("user", "USDT", Decimal("-10"))
    update = await api.event(lambda e: e.get("e") == "balanceUpdate")
    assert update["event"]["d"] == "-10.00000000"

    resp = await api.call("session.logout")
    assert resp["result"]["apiKey"] is None
    resp = await api.call("openOrders.status", symbol=BTC, timestamp=now_ms())
    assert resp["error"]["code"] == -1102  # apiKey needed again


async def test_ws_stream_frames_are_json(sim, http):
    """A listenKey stream answers control frames only; its text frames are events."""
    key = venue_state(sim.exchange).listen_key_start("user")["listenKey"]
    async with http.ws_connect(f"{sim.urls.ws_public}/ws/{key}") as ws:
        await asyncio.sleep(0.05)
        maker_order(sim, OrderSide.SELL, "60000.00", "0.001")  # the maker's, not ours
        venue_state(sim.exchange).deposit("user", "ETH", Decimal("1"))
        doc = await recv_json(ws)
        assert doc["e"] == "balanceUpdate" and doc["a"] == "ETH"
