"""The simulated Binance spot WebSockets over loopback: market streams (framing, depth sync,
faults) and the WS API (order entry, user data subscription, ack faults)."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from test_sim_binance import MAKER, maker_order, now_ms

from engine.clock import NS_PER_SECOND, SimClock
from engine.model.enums import OrderSide, OrderType
from engine.sim.faults import FaultKind
from engine.sim.matching import OrderRequest
from engine.sim.server import RunningSim, start_sim
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


async def recv_json(ws: aiohttp.ClientWebSocketResponse, timeout: float = 2.0) -> Any:
    msg = await ws.receive(timeout=timeout)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def recv_until(ws, predicate, timeout: float = 3.0) -> Any:
    async def loop() -> Any:
        while True:
            doc = await recv_json(ws, timeout)
            if predicate(doc):
                return doc

    return await asyncio.wait_for(loop(), timeout)


def user_buy(sim: RunningSim, price: str, qty: str, tif_type: OrderType = OrderType.LIMIT):
    inst = sim.exchange.engine.instrument(BTC)
    return sim.exchange.submit(
        OrderRequest(
            "user",
            BTC,
            OrderSide.BUY,
            tif_type,
            qty=inst.qty_to_lots(qty),
            price=inst.price_to_ticks(price),
        )
    )


def trade(sim: RunningSim, price: str = "65000.00", qty: str = "0.001") -> None:
    """One public trade: the maker rests an ask, the user lifts it."""
    maker_order(sim, OrderSide.SELL, price, qty)
    user_buy(sim, price, qty)


# -- market streams -----------------------------------------------------------------------


async def test_stream_subscription_framing(http):
    # Binance allows 5 incoming messages a second per connection; the window runs on the
    # venue's clock, moved here by hand instead of waiting on the wall
    clock = SimClock(start_ns=time.time_ns())
    async with start_sim("binance", seed=1, market=False, clock=clock) as sim:
        sim.exchange.open_account(
            MAKER, {"BTC": Decimal("10"), "USDT": Decimal("1000000"), "ETH": Decimal("100")}
        )
        await _framing(sim, http, lambda: clock.advance_to(clock.time_ns() + NS_PER_SECOND))


async def _framing(sim, http, next_second):
    async with http.ws_connect(sim.urls.ws_public + "/ws") as ws:
        await ws.send_json(
            {"method": "SUBSCRIBE", "params": ["btcusdt@trade", "btcusdt@depth@100ms"], "id": 1}
        )
        assert await recv_json(ws) == {"result": None, "id": 1}
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": "list"})
        assert await recv_json(ws) == {
            "result": ["btcusdt@depth@100ms", "btcusdt@trade"],
            "id": "list",
        }
        await ws.send_json({"method": "GET_PROPERTY", "params": ["combined"], "id": 2})
        assert await recv_json(ws) == {"result": False, "id": 2}
        trade(sim)
        raw = await recv_until(ws, lambda d: d.get("e") == "trade")
        assert raw["s"] == BTC and raw["p"] == "65000.00000000" and raw["q"] == "0.00100000"
        assert raw["m"] is False  # the buyer took: the buyer was not the maker

        next_second()  # stay under 5 incoming messages a second
        await ws.send_json({"method": "SET_PROPERTY", "params": ["combined", True], "id": 3})
        assert await recv_until(ws, lambda d: d.get("id") == 3) == {"result": None, "id": 3}
        trade(sim)
        wrapped = await recv_until(ws, lambda d: d.get("stream") == "btcusdt@trade")
        assert wrapped["data"]["e"] == "trade"
        await ws.send_json({"method": "UNSUBSCRIBE", "params": ["btcusdt@trade"], "id": 4})
        assert await recv_until(ws, lambda d: d.get("id") == 4) == {"result": None, "id": 4}

        next_second()
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@nonsense"], "id": 5})
        bad = await recv_until(ws, lambda d: d.get("id") == 5)
        assert bad["code"] == 2
        await ws.send_json({"method": "FROB", "id": 6})
        assert (await recv_until(ws, lambda d: d.get("id") == 6))["code"] == 2
        await ws.send_str("{not json")
        assert (await recv_until(ws, lambda d: "code" in d and "id" not in d))["code"] == 3


async def test_incoming_message_rate_drops_connection(sim, http):
    async with http.ws_connect(sim.urls.ws_public + "/ws") as ws:
        for i in range(7):
            await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": i})
        msg = None
        for _ in range(10):
            msg = await ws.receive(timeout=2.0)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        assert msg is not None and msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_trade_and_book_ticker_raw_streams(sim, http):
    url = sim.urls.ws_public + "/ws/btcusdt@bookTicker/btcusdt@aggTrade"
    async with http.ws_connect(url) as ws:
        maker_order(sim, OrderSide.BUY, "64999.99", "1.2")
        maker_order(sim, OrderSide.SELL, "65000.00", "3")
        ticker = await recv_until(ws, lambda d: d.get("a") == "65000.00000000")
        update_id, _, _ = sim.exchange.engine.depth(BTC)
        assert ticker == {
            "u": update_id,
            "s": BTC,
            "b": "64999.99000000",
            "B": "1.20000000",
            "a": "65000.00000000",
            "A": "3.00000000",
        }
        user_buy(sim, "65000.00", "0.5")
        agg = await recv_until(ws, lambda d: d.get("e") == "aggTrade")
        assert agg["q"] == "0.50000000" and agg["f"] == agg["l"] == agg["a"]


@pytest.fixture
async def timed_sim():
    """The simulated Binance on a SimClock: its 100 ms stream batches go out when the test
    moves the clock (`tick`), so batching is exact and nothing waits on the wall."""
    clock = SimClock(start_ns=time.time_ns())
    async with start_sim("binance", seed=1, market=False, clock=clock) as running:
        running.exchange.open_account(
            MAKER, {"BTC": Decimal("10"), "USDT": Decimal("1000000"), "ETH": Decimal("100")}
        )

        async def tick() -> None:
            clock.advance_to(clock.time_ns() + NS_PER_SECOND // 10)
            for _ in range(20):  # let the stream's flush task run
                await asyncio.sleep(0)

        yield running, tick


async def test_depth_diffs_sync_with_rest_snapshot(timed_sim, http):
    sim, tick = timed_sim
    maker_order(sim, OrderSide.BUY, "64999.00", "1")
    async with http.ws_connect(sim.urls.ws_public + "/stream?streams=btcusdt@depth@100ms") as ws:
        maker_order(sim, OrderSide.SELL, "65001.00", "2")
        await tick()
        first = (await recv_json(ws))["data"]
        assert first["e"] == "depthUpdate" and first["s"] == BTC
        async with http.get(
            sim.urls.rest + "/api/v3/depth", params={"symbol": BTC, "limit": "5000"}
        ) as resp:
            snap = await resp.json()
        assert snap["lastUpdateId"] >= first["U"] - 1
        book = {("b", p): q for p, q in snap["bids"]} | {("a", p): q for p, q in snap["asks"]}
        local = snap["lastUpdateId"]
        for i in range(5):
            maker_order(sim, OrderSide.BUY, f"6499{i}.00", "0.1")
            await tick()  # one diff event per order
        sim.exchange.cancel_all(MAKER, BTC)
        await tick()
        target, _, _ = sim.exchange.engine.depth(BTC)
        while local < target:
            event = (await recv_json(ws))["data"]
            if event["u"] <= local:
                continue
            assert event["U"] <= local + 1 <= event["u"], "gap in the diff stream"
            for side, rows in (("b", event["b"]), ("a", event["a"])):
                for price, qty in rows:
                    book[(side, price)] = qty
            local = event["u"]
        assert {k: v for k, v in book.items() if Decimal(v)} == {}


async def test_partial_depth_stream(sim, http):
    maker_order(sim, OrderSide.BUY, "64999.99", "1")
    maker_order(sim, OrderSide.SELL, "65000.00", "2")
    async with http.ws_connect(sim.urls.ws_public + "/ws/btcusdt@depth5@100ms") as ws:
        doc = await recv_json(ws)
        assert doc == {
            "lastUpdateId": sim.exchange.engine.depth(BTC)[0],
            "bids": [["64999.99000000", "1.00000000"]],
            "asks": [["65000.00000000", "2.00000000"]],
        }


async def test_skip_sequence_leaves_a_gap(timed_sim, http):
    sim, tick = timed_sim
    async with http.ws_connect(sim.urls.ws_public + "/ws/btcusdt@depth@100ms") as ws:
        maker_order(sim, OrderSide.BUY, "64000.00", "1")
        await tick()
        first = await recv_json(ws)
        sim.exchange.faults.arm(FaultKind.SKIP_SEQUENCE, "ws.public")
        maker_order(sim, OrderSide.BUY, "64000.01", "1")
        await tick()  # this batch is the one skipped
        maker_order(sim, OrderSide.BUY, "64000.02", "1")
        await tick()
        after = await recv_json(ws)
        assert after["U"] > first["u"] + 1
        assert sim.exchange.faults.counters()["skip_sequence"] == 1


async def _trade_frames(sim, ws, n: int) -> list[str]:
    for i in range(n):
        trade(sim, f"6500{i}.00")
    frames = []
    for _ in range(n):
        msg = await ws.receive(timeout=2.0)
        frames.append(msg.data)
    return frames


async def test_duplicate_reorder_and_malformed_frames(sim, http):
    faults = sim.exchange.faults
    async with http.ws_connect(sim.urls.ws_public + "/ws/btcusdt@trade") as ws:
        faults.arm(FaultKind.DUPLICATE_MESSAGE, "ws.public")
        frames = await _trade_frames(sim, ws, 2)
        assert frames[0] == frames[1]
        await ws.receive(timeout=2.0)  # the second trade

        faults.arm(FaultKind.REORDER_MESSAGES, "ws.public")
        ids = [json.loads(f)["t"] for f in await _trade_frames(sim, ws, 2)]
        assert ids[0] == ids[1] + 1

        faults.arm(FaultKind.MALFORMED_FRAME, "ws.public")
        (frame,) = await _trade_frames(sim, ws, 1)
        with pytest.raises(ValueError):
            json.loads(frame)
    counters = faults.counters()
    assert counters["duplicate_message"] == counters["reorder_messages"] == 1
    assert counters["malformed_frame"] == 1


async def test_drop_and_freeze_connection(sim, http):
    faults = sim.exchange.faults
    async with http.ws_connect(sim.urls.ws_public + "/ws/btcusdt@trade") as ws:
        faults.arm(FaultKind.DROP_CONNECTION, "ws.public")
        trade(sim)
        msg = await ws.receive(timeout=2.0)
        assert msg.type in (
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
            aiohttp.WSMsgType.CLOSE,
        )
    async with http.ws_connect(sim.urls.ws_public + "/ws/btcusdt@trade") as ws:
        faults.arm(FaultKind.FREEZE_CONNECTION, "ws.public")
        trade(sim)
        trade(sim)
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.5)
        assert not ws.closed
    assert faults.counters()["drop_connection"] == faults.counters()["freeze_connection"] == 1


# -- WS API -------------------------------------------------------------------------------


class WsApi:
    def __init__(self, sim: RunningSim, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.sim = sim
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    async def call(
        self, method: str, signed: bool = False, secret: str | None = None, **params: Any
    ) -> dict[str, Any]:
        self.next_id += 1
        rid = f"req-{self.next_id}"
        if signed:
            params.setdefault("timestamp", now_ms())
            params["apiKey"] = self.sim.api_key
            params["signature"] = binance_sign_ws(secret or self.sim.api_secret, params)
        await self.ws.send_json({"id": rid, "method": method, "params": params})
        return await self.response(rid)

    async def response(self, rid: str, timeout: float = 2.0) -> dict[str, Any]:
        while True:
            doc = await recv_json(self.ws, timeout)
            if "subscriptionId" in doc and "event" in doc:
                self.events.append(doc)
            elif doc.get("id") == rid:
                return doc

    async def event(self, predicate, timeout: float = 2.0) -> dict[str, Any]:
        for i, doc in enumerate(self.events):
            if predicate(doc["event"]):
                del self.events[i]
                return doc
        while True:
            doc = await recv_json(self.ws, timeout)
            if "event" in doc and predicate(doc["event"]):
                return doc


@pytest.fixture
async def api(sim, http):
    async with http.ws_connect(sim.urls.ws_api) as ws:
        yield WsApi(sim, ws)


def ws_limit(price: str, qty: str = "0.001", **extra: Any) -> dict[str, Any]:
    return {
        "symbol": BTC,
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": qty,
        "price": price,
        **extra,
    }


async def test_ws_api_public_methods(api):
    assert (await api.call("ping"))["result"] == {}
    resp = await api.call("time")
    assert resp["status"] == 200 and abs(resp["result"]["serverTime"] - now_ms()) < 2000
    assert resp["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
    resp = await api.call("exchangeInfo", symbols=[BTC])
    assert resp["result"]["symbols"][0]["symbol"] == BTC
    resp = await api.call("depth", symbol=BTC, limit=5)
    assert set(resp["result"]) == {"lastUpdateId", "bids", "asks"}
    resp = await api.call("v3/ticker.book", symbol=BTC)
    assert resp["result"]["symbol"] == BTC
    resp = await api.call("order.frobnicate")
    assert resp["status"] == 400 and resp["error"]["code"] == -1020


async def test_ws_api_order_entry(sim, api):
    resp = await api.call(
        "order.place",
        signed=True,
        newOrderRespType="RESULT",
        newClientOrderId="ws-1",
        **ws_limit("60000.00"),
    )
    assert resp["status"] == 200, resp
    result = resp["result"]
    assert result["clientOrderId"] == "ws-1" and result["status"] == "NEW"
    assert result["price"] == "60000.00000000"
    resp = await api.call("order.place", signed=True, recvWindow=100, **ws_limit("60001"))
    assert resp["status"] == 200 and "fills" in resp["result"]

    resp = await api.call("order.status", signed=True, symbol=BTC, origClientOrderId="ws-1")
    assert resp["result"]["status"] == "NEW"
    resp = await api.call("openOrders.status", signed=True, symbol=BTC)
    assert len(resp["result"]) == 2
    resp = await api.call("order.cancel", signed=True, symbol=BTC, origClientOrderId="ws-1")
    assert resp["result"]["status"] == "CANCELED" and resp["result"]["origClientOrderId"] == "ws-1"
    resp = await api.call("order.cancel", signed=True, symbol=BTC, origClientOrderId="ws-1")
    assert resp["status"] == 400 and resp["error"] == {"code": -2011, "msg": "Unknown order sent."}
    resp = await api.call("openOrders.cancelAll", signed=True, symbol=BTC)
    assert [o["status"] for o in resp["result"]] == ["CANCELED"]
    resp = await api.call("account.status", signed=True, omitZeroBalances=True)
    assert {b["asset"] for b in resp["result"]["balances"]} == {"BTC", "ETH", "USDT"}

    resp = await api.call("order.place", signed=True, secret="wrong", **ws_limit("60000"))
    assert resp["status"] == 400 and resp["error"]["code"] == -1022
    resp = await api.call(
        "order.place", signed=True, timestamp=now_ms() - 60_000, **ws_limit("60000")
    )
    assert resp["error"]["code"] == -1021
    resp = await api.call("order.place", **ws_limit("60000"))
    assert resp["error"]["code"] == -1102
    assert sim.exchange.engine.open_orders("user") == []


async def test_user_data_stream(sim, api):
    resp = await api.call("userDataStream.subscribe.signature", signed=True)
    assert resp["status"] == 200 and resp["result"] == {"subscriptionId": 0}
    again = await api.call("userDataStream.subscribe.signature", signed=True)
    assert again["error"]["code"] == -2035

    placed = await api.call("order.place", signed=True, newClientOrderId="u-1", **ws_limit("60000"))
    new = await api.event(lambda e: e.get("x") == "NEW")
    assert new["subscriptionId"] == 0
    report = new["event"]
    assert report["e"] == "executionReport" and report["c"] == "u-1" and report["X"] == "NEW"
    assert report["i"] == placed["result"]["orderId"] and report["w"] is True
    position = await api.event(lambda e: e.get("e") == "outboundAccountPosition")
    assert {b["a"] for b in position["event"]["B"]} == {"BTC", "USDT"}

    maker_order(sim, OrderSide.SELL, "60000.00", "0.0004")
    fill = (await api.event(lambda e: e.get("x") == "TRADE"))["event"]
    assert fill["X"] == "PARTIALLY_FILLED" and fill["l"] == "0.00040000" and fill["m"] is True
    assert fill["L"] == "60000.00000000" and fill["t"] > 0 and fill["n"] == "0.02400000"

    await api.call(
        "order.cancel", signed=True, symbol=BTC, orderId=report["i"], newClientOrderId="cx-9"
    )
    canceled = (await api.event(lambda e: e.get("x") == "CANCELED"))["event"]
    assert canceled["c"] == "cx-9" and canceled["C"] == "u-1" and canceled["X"] == "CANCELED"
    assert canceled["z"] == "0.00040000"

    resp = await api.call("userDataStream.unsubscribe")
    assert resp["status"] == 200
    ended = await api.event(lambda e: e.get("e") == "eventStreamTerminated")
    assert ended["subscriptionId"] == 0
    resp = await api.call("userDataStream.unsubscribe")
    assert resp["error"]["code"] == -2036


async def test_lose_and_delay_ack(sim, api):
    faults = sim.exchange.faults
    venue_state(sim.exchange)  # the app is up
    faults.arm(FaultKind.LOSE_ACK, "ws.api")
    await api.ws.send_json(
        {"id": "lost", "method": "order.place", "params": _signed(sim, ws_limit("60000"))}
    )
    with pytest.raises(asyncio.TimeoutError):
        await api.response("lost", timeout=0.5)
    assert len(sim.exchange.engine.open_orders("user")) == 1  # placed all the same

    faults.arm(FaultKind.DELAY_ACK, "ws.api")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await api.ws.send_json(
        {"id": "late", "method": "order.place", "params": _signed(sim, ws_limit("60001"))}
    )
    resp = await api.response("late", timeout=3.0)
    assert resp["status"] == 200 and loop.time() - started >= 0.9
    assert faults.counters()["lose_ack"] == faults.counters()["delay_ack"] == 1


async def test_private_channel_faults(sim, api):
    await api.call("userDataStream.subscribe.signature", signed=True)
    sim.exchange.faults.arm(FaultKind.DUPLICATE_MESSAGE, "ws.private")
    user_buy(sim, "60000.00", "0.001")
    first = await recv_json(api.ws)
    second = await recv_json(api.ws)
    assert first == second and first["event"]["x"] == "NEW"
    assert sim.exchange.faults.counters()["duplicate_message"] == 1


def _signed(sim: RunningSim, params: dict[str, Any]) -> dict[str, Any]:
    params = {**params, "timestamp": now_ms(), "apiKey": sim.api_key}
    params["signature"] = binance_sign_ws(sim.api_secret, params)
    return params


async def test_with_background_market(http):
    """The synthetic market drives every stream; each diff speed is gap-free."""
    async with start_sim("binance", seed=3) as sim:
        streams = "btcusdt@depth@100ms/btcusdt@depth/btcusdt@trade"
        async with http.ws_connect(sim.urls.ws_public + "/stream?streams=" + streams) as ws:
            seen: dict[str, int] = {}
            last_u: dict[str, int] = {}
            loop = asyncio.get_running_loop()
            end = loop.time() + 1.5
            while loop.time() < end:
                doc = await recv_json(ws)
                name = doc["stream"]
                seen[name] = seen.get(name, 0) + 1
                if "@depth" in name:
                    if name in last_u:
                        assert doc["data"]["U"] == last_u[name] + 1
                    last_u[name] = doc["data"]["u"]
            assert seen.get("btcusdt@trade", 0) > 0 and seen.get("btcusdt@depth@100ms", 0) >= 5
            assert seen.get("btcusdt@depth", 0) >= 1


async def test_server_ping_pong_and_deadline(sim, http):
    knobs = venue_state(sim.exchange).knobs
    knobs.ping_interval_s, knobs.pong_deadline_s = 0.2, 0.3
    url = sim.urls.ws_public + "/ws/btcusdt@trade"
    # a client that answers pings (aiohttp's autoping) stays connected
    async with http.ws_connect(url) as ws:
        # (aiohttp restarts a receive timeout on every ping, hence wait_for)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.receive(), 1.0)
        assert not ws.closed
        # the server answers our ping with a pong echoing the payload
        await ws.ping(b"hello")
    async with http.ws_connect(url, autoping=False) as ws:
        msg = await ws.receive(timeout=1.0)
        assert msg.type is aiohttp.WSMsgType.PING and msg.data
        await ws.ping(b"echo-me")
        msg = await ws.receive(timeout=1.0)
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.PONG, b"echo-me")
        # no pong from us: closed once the deadline passes
        async with asyncio.timeout(3.0):
            while True:
                msg = await ws.receive(timeout=2.0)
                if msg.type is not aiohttp.WSMsgType.PING:
                    break
        assert msg.type is aiohttp.WSMsgType.CLOSE


async def test_ws_api_rate_limits_and_429(sim, api):
    resp = await api.call("order.place", signed=True, **ws_limit("60000"))
    kinds = [(r["rateLimitType"], r["interval"], r["count"]) for r in resp["rateLimits"]]
    assert kinds[:2] == [("ORDERS", "SECOND", 1), ("ORDERS", "DAY", 1)]
    assert kinds[2][:2] == ("REQUEST_WEIGHT", "MINUTE") and kinds[2][2] >= 1
    resp = await api.call("ping", returnRateLimits=False)
    assert "rateLimits" not in resp

    sim.exchange.faults.arm(FaultKind.FORCE_429, "ws.api")
    resp = await api.call("time")
    assert resp["status"] == 429 and resp["error"]["code"] == -1003
    assert resp["error"]["data"]["retryAfter"] > resp["error"]["data"]["serverTime"]

    limits = venue_state(sim.exchange).limits
    limits.weight_per_minute, limits.strikes_before_ban = 1, 0
    resp = await api.call("time")
    assert resp["status"] == 418 and "IP banned until" in resp["error"]["msg"]
