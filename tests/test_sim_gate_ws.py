"""Gate v4 spot WebSocket of the simulator over real loopback sockets: subscribe framing,
depth streams consistent with the REST snapshot id, trades and book ticker, private channels
with channel auth, the WS trading API with raw-text signatures, and every WS fault as a
client meets it."""

from __future__ import annotations

import contextlib
import gc
import itertools
import time
import weakref
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web_app
from support import until

from engine.model.enums import OrderSide, OrderType, TimeInForce
from engine.sim.faults import FaultKind
from engine.sim.matching import MatchingConfig, OrderRequest, PostOnlyStyle
from engine.sim.server import start_sim
from engine.sim.venues.gate import venue_state
from engine.sim.venues.gate_ws_api import raw_member
from engine.wire.credentials import Credentials
from engine.wire.gate_signing import gate_sign_ws_api, gate_ws_auth

PAIR = "BTC_USDT"


class Ws:
    """A raw Gate WS client: sends documents, collects every frame it receives."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[Any] = []  # parsed frames; a frame that is not JSON is kept as bytes

    async def send(self, doc: Any) -> None:
        await self.ws.send_str(doc if isinstance(doc, str) else orjson.dumps(doc).decode())

    async def sub(self, channel: str, payload: list[Any], event: str = "subscribe", **extra: Any):
        doc = {"time": int(time.time()), "id": 7, "channel": channel, "event": event}
        doc.update(payload=payload, **extra)
        await self.send(doc)
        return await self.next(lambda d: d.get("event") == event and d.get("channel") == channel)

    async def recv(self, timeout: float) -> Any:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            return msg
        try:
            doc = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            doc = msg.data.encode()
        self.seen.append(doc)
        return doc

    async def next(self, pred: Any, timeout: float = 3.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching frame")
            doc = await self.recv(left)
            if isinstance(doc, dict) and pred(doc):
                return doc

    async def drain(self, seconds: float) -> list[Any]:
        out = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                out.append(await self.recv(left))
            except TimeoutError:
                break
        return out


def updates(frames: list[Any], channel: str) -> list[dict[str, Any]]:
    return [
        f["result"]
        for f in frames
        if isinstance(f, dict)
        and f.get("channel") == channel
        and f.get("event", "update") == "update"
    ]


@pytest.fixture
async def gate():
    async with (
        start_sim(
            "gate", seed=3, market=False, matching=MatchingConfig(post_only=PostOnlyStyle.CANCEL)
        ) as sim,
        aiohttp.ClientSession() as session,
    ):
        seed_book(sim)
        ws = Ws(await session.ws_connect(sim.urls.ws_public))
        yield sim, ws, session


def seed_book(sim: Any) -> None:
    engine = sim.exchange.engine
    inst = engine.instrument(PAIR)
    now = sim.exchange.clock.time_ns()
    for side, px in (
        (OrderSide.BUY, "64999.9"),
        (OrderSide.BUY, "64999.8"),
        (OrderSide.SELL, "65000.1"),
        (OrderSide.SELL, "65000.2"),
    ):
        lots = inst.qty_to_lots("1")
        sim.exchange.publish(
            engine.set_background_level(PAIR, side, inst.price_to_ticks(px), lots, now)
        )


def bid(sim: Any, price: str, qty: str = "0.001", side: OrderSide = OrderSide.BUY) -> None:
    inst = sim.exchange.engine.instrument(PAIR)
    sim.exchange.submit(
        OrderRequest(
            "user", PAIR, side, OrderType.LIMIT, inst.qty_to_lots(qty), inst.price_to_ticks(price)
        )
    )


def apply(book: dict[str, dict[Decimal, Decimal]], result: dict[str, Any]) -> None:
    for side, key in (("bids", "b"), ("asks", "a")):
        for px, qty in result[key]:
            if Decimal(qty) == 0:
                book[side].pop(Decimal(px), None)
            else:
                book[side][Decimal(px)] = Decimal(qty)


def engine_book(sim: Any) -> dict[str, dict[Decimal, Decimal]]:
    inst = sim.exchange.engine.instrument(PAIR)
    _, bids, asks = sim.exchange.engine.depth(PAIR, 1000)
    return {
        "bids": {inst.ticks_to_price(p): inst.lots_to_qty(q) for p, q in bids},
        "asks": {inst.ticks_to_price(p): inst.lots_to_qty(q) for p, q in asks},
    }


# -- framing --------------------------------------------------------------------------------


async def test_ping_subscribe_framing_and_errors(gate):
    _, ws, _ = gate
    await ws.send({"time": int(time.time()), "channel": "spot.ping"})
    pong = await ws.next(lambda d: d.get("channel") == "spot.pong")
    assert pong["event"] == "" and pong["error"] is None and pong["result"] is None
    ack = await ws.sub("spot.trades", [PAIR])
    assert ack["id"] == 7 and ack["error"] is None and ack["result"] == {"status": "success"}
    assert isinstance(ack["time"], int) and isinstance(ack["time_ms"], int)
    bad = await ws.sub("spot.trades", ["NOPE_USDT"])
    assert bad["error"]["code"] == 2 and bad["result"] == {"status": "fail"}
    bad = await ws.sub("spot.order_book_update", [PAIR, "1000ms"])  # removed 2024-11-28
    assert bad["error"]["code"] == 2
    await ws.send("{not json")
    err = await ws.next(lambda d: d.get("error") is not None)
    assert err["error"]["code"] == 1
    first = await ws.sub("spot.obu", ["ob.BTC_USDT.50"])
    assert first["error"] is None
    again = await ws.sub("spot.obu", ["ob.BTC_USDT.50"])
    assert again["error"] == {"code": 2, "message": "Alert sub ob.BTC_USDT.50"}
    bye = await ws.sub("spot.trades", [PAIR], event="unsubscribe")
    assert bye["result"] == {"status": "success"}
    for channel, payload in (
        ("spot.trades", [[PAIR]]),
        ("spot.order_book_update", [[PAIR], {}]),
        ("spot.order_book", [PAIR, [5], ["100ms"]]),
        ("spot.obu", [{"ob": 1}]),
        ("spot.orders", [[PAIR]]),
    ):
        hostile = await ws.sub(channel, payload)
        assert hostile["error"]["code"] in (2, 4) and hostile["result"] == {"status": "fail"}
    await ws.send({"time": 1, "channel": "spot.order_place", "event": "api", "payload": []})
    err = await ws.next(lambda d: "request_id" in d)
    assert err["data"]["errs"]["label"] == "INVALID_REQUEST_BODY"


# -- depth ----------------------------------------------------------------------------------


async def test_order_book_update_syncs_with_rest_snapshot(gate):
    sim, ws, session = gate
    await ws.sub("spot.order_book_update", [PAIR, "20ms"])
    bid(sim, "64999.9")
    await ws.drain(0.05)
    url = f"{sim.urls.rest}/spot/order_book?currency_pair={PAIR}&limit=100&with_id=true"
    async with session.get(url) as resp:
        snap = await resp.json()
    book = {
        "bids": {Decimal(p): Decimal(q) for p, q in snap["bids"]},
        "asks": {Decimal(p): Decimal(q) for p, q in snap["asks"]},
    }
    for price in ("64999.9", "64999.7", "64999.6"):
        bid(sim, price)
        await ws.drain(0.03)
    bid(sim, "65000.1", "0.5")  # takes half the best ask
    await ws.drain(0.1)
    diffs = updates(ws.seen, "spot.order_book_update")
    local = snap["id"]
    applied = 0
    for d in diffs:  # the official procedure (docs/VENUES.md §3.4)
        assert d["s"] == PAIR and d["l"] == "20" and d["e"] == "depthUpdate"
        if d["u"] < local + 1:
            continue
        assert d["U"] <= local + 1 <= d["u"]
        apply(book, d)
        local = d["u"]
        applied += 1
    assert applied >= 3
    assert local == sim.exchange.engine.depth(PAIR)[0]
    assert book == engine_book(sim)


async def test_obu_full_then_contiguous_increments(gate):
    sim, ws, _ = gate
    await ws.sub("spot.obu", ["ob.BTC_USDT.50"])
    full = await ws.next(lambda d: d.get("channel") == "spot.obu")
    result = full["result"]
    assert result["full"] is True and result["s"] == "ob.BTC_USDT.50" and "U" not in result
    assert result["u"] == sim.exchange.engine.depth(PAIR)[0]
    book = {"bids": {}, "asks": {}}
    apply(book, result)
    local = result["u"]
    for price in ("64999.5", "64999.4", "64999.3"):
        bid(sim, price)
        await ws.drain(0.03)
    await ws.drain(0.05)
    incs = updates(ws.seen, "spot.obu")[1:]
    assert len(incs) >= 2
    for inc in incs:
        assert "full" not in inc and inc["U"] == local + 1
        apply(book, inc)
        local = inc["u"]
    assert book == engine_book(sim)


async def test_periodic_full_resnapshot(gate):
    sim, ws, _ = gate
    venue_state(sim.exchange).config.full_snapshot_every_s = 0.05
    await ws.sub("spot.order_book_update", [PAIR, "20ms"])
    bid(sim, "64999.5")
    full = await ws.next(lambda d: d.get("result", {}).get("full") is True)
    result = full["result"]
    assert result["u"] == sim.exchange.engine.depth(PAIR)[0]
    assert ["64999.9", "1"] in result["b"] and ["65000.1", "1"] in result["a"]


async def test_trades_book_ticker_and_snapshots(gate):
    sim, ws, _ = gate
    await ws.sub("spot.trades", [PAIR])
    await ws.sub("spot.book_ticker", [PAIR])
    await ws.sub("spot.order_book", [PAIR, "5", "100ms"])
    bid(sim, "65000.1", "0.25")
    trade = await ws.next(lambda d: d.get("channel") == "spot.trades" and d["event"] == "update")
    t = trade["result"]
    assert (t["side"], t["amount"], t["price"], t["currency_pair"]) == (
        "buy",
        "0.25",
        "65000.1",
        PAIR,
    )
    assert t["range"] == f"{t['id']}-{t['id']}" and "." in t["create_time_ms"]
    ticker = await ws.next(lambda d: d.get("channel") == "spot.book_ticker")
    r = ticker["result"]
    assert (r["b"], r["B"], r["a"], r["A"]) == ("64999.9", "1", "65000.1", "0.75")
    assert r["u"] == sim.exchange.engine.depth(PAIR)[0]
    snap = await ws.next(lambda d: d.get("channel") == "spot.order_book" and d["event"] == "update")
    s = snap["result"]
    assert s["l"] == "5" and s["asks"][0] == ["65000.1", "0.75"] and "lastUpdateId" in s


# -- private channels -----------------------------------------------------------------------


async def subscribe_private(sim: Any, ws: Ws, channel: str, payload: list[str]) -> dict[str, Any]:
    now = int(time.time())
    creds = Credentials(sim.api_key, sim.api_secret)
    await ws.send(
        {
            "time": now,
            "channel": channel,
            "event": "subscribe",
            "payload": payload,
            "auth": gate_ws_auth(creds, channel, "subscribe", now),
        }
    )
    return await ws.next(lambda d: d.get("channel") == channel and d["event"] == "subscribe")


async def test_private_channel_auth(gate):
    sim, ws, _ = gate
    now = int(time.time())
    auth = {"method": "api_key", "KEY": sim.api_key, "SIGN": "00" * 64}
    await ws.send(
        {
            "time": now,
            "channel": "spot.orders",
            "event": "subscribe",
            "payload": ["!all"],
            "auth": auth,
        }
    )
    err = await ws.next(lambda d: d.get("channel") == "spot.orders")
    assert err["error"]["code"] == 4 and err["result"] == {"status": "fail"}
    await ws.send({"time": now, "channel": "spot.orders", "event": "subscribe", "payload": [PAIR]})
    err = await ws.next(lambda d: d.get("channel") == "spot.orders")
    assert err["error"]["code"] == 4
    creds = Credentials(sim.api_key, sim.api_secret)
    stale = now - 120
    await ws.send(
        {
            "time": stale,
            "channel": "spot.orders",
            "event": "subscribe",
            "payload": [PAIR],
            "auth": gate_ws_auth(creds, "spot.orders", "subscribe", stale),
        }
    )
    err = await ws.next(lambda d: d.get("channel") == "spot.orders")
    assert err["error"]["code"] == 4
    ok = await subscribe_private(sim, ws, "spot.orders", [PAIR])
    assert ok["error"] is None


async def test_private_order_trade_balance_pushes(gate):
    sim, ws, _ = gate
    for channel, payload in (
        ("spot.orders", [PAIR]),
        ("spot.usertrades", ["!all"]),
        ("spot.balances", []),
    ):
        assert (await subscribe_private(sim, ws, channel, payload))["error"] is None
    inst = sim.exchange.engine.instrument(PAIR)
    sim.exchange.submit(
        OrderRequest(
            "user", PAIR, OrderSide.BUY, OrderType.LIMIT, inst.qty_to_lots("1.5"),
            inst.price_to_ticks("65000.1"), TimeInForce.IOC, client_order_id="t-ioc1",
        )
    )  # fmt: skip
    await ws.drain(0.2)
    orders = [o for batch in updates(ws.seen, "spot.orders") for o in batch]
    assert [o["event"] for o in orders] == ["put", "update", "finish"]
    assert all(o["text"] == "t-ioc1" and o["user"] > 0 for o in orders)
    assert orders[1]["filled_amount"] == "1" and orders[1]["left"] == "0.5"
    assert orders[2]["finish_as"] == "ioc" and isinstance(orders[2]["create_time_ms"], str)
    trades = [t for batch in updates(ws.seen, "spot.usertrades") for t in batch]
    assert len(trades) == 1 and trades[0]["role"] == "taker" and trades[0]["amount"] == "1"
    assert trades[0]["order_id"] == orders[0]["id"] and trades[0]["fee_currency"] == "USDT"
    balances = [b for batch in updates(ws.seen, "spot.balances") for b in batch]
    assert {b["change_type"] for b in balances} == {"order-match"}  # one push per engine call
    usdt = next(b for b in balances if b["currency"] == "USDT")
    assert Decimal(usdt["change"]) == Decimal("-65065.1001")  # 65000.1 + 0.1 % fee
    last = {b["currency"]: b for b in balances}
    free, locked = sim.exchange.balances("user")["BTC"]
    assert Decimal(last["BTC"]["available"]) == free and Decimal(last["BTC"]["freeze"]) == locked
    assert Decimal(last["BTC"]["total"]) == Decimal("2")


# -- WS trading API -------------------------------------------------------------------------


def api_text(channel: str, req_id: str, payload_extra: str = "", req_param: str | None = None):
    """A request built as text, so the exact req_param bytes are known."""
    parts = [f'"req_id":"{req_id}"']
    if req_param is not None:
        parts.append(f'"req_param":{req_param}')
    if payload_extra:
        parts.append(payload_extra)
    return (
        f'{{"time":{int(time.time())},"channel":"{channel}","event":"api",'
        f'"payload":{{{",".join(parts)}}}}}'
    )


def login_text(sim: Any, req_param: str | None, secret: str | None = None, skew: int = 0) -> str:
    ts = str(int(time.time()) + skew)
    sign = gate_sign_ws_api(secret or sim.api_secret, "spot.login", req_param, ts)
    extra = f'"api_key":"{sim.api_key}","signature":"{sign}","timestamp":"{ts}"'
    return api_text("spot.login", "login", extra, req_param)


async def api(ws: Ws, text: str, req_id: str, timeout: float = 3.0) -> dict[str, Any]:
    await ws.send(text)
    return await ws.next(lambda d: d.get("request_id") == req_id and "ack" not in d, timeout)


def test_raw_member():
    text = '{"a": 1, "payload" : {"x": [1, {"y": "}"}], "req_param" :{ "k" : "v" } }}'
    assert raw_member(text, "payload", "req_param") == '{ "k" : "v" }'
    assert raw_member(text, "payload", "missing") is None
    assert raw_member('{"payload":{}}', "payload", "req_param") is None


@pytest.mark.parametrize("req_param", [None, "{}", "{ }"])
async def test_login_signs_raw_req_param(gate, req_param):
    sim, ws, _ = gate
    reply = await api(ws, login_text(sim, req_param), "login")
    assert reply["header"]["status"] == "200" and reply["header"]["channel"] == "spot.login"
    assert reply["data"]["result"]["api_key"] == sim.api_key
    assert reply["data"]["result"]["uid"].isdigit()


async def test_login_rejects(gate):
    sim, ws, _ = gate
    reply = await api(ws, login_text(sim, "{}", secret="wrong"), "login")
    assert reply["header"]["status"] == "401"
    assert reply["data"]["errs"]["label"] == "INVALID_SIGNATURE"
    reply = await api(ws, login_text(sim, None, skew=-120), "login")
    assert reply["data"]["errs"]["label"] == "REQUEST_EXPIRED"
    order = '{"currency_pair":"BTC_USDT","side":"buy","amount":"0.001","price":"60000"}'
    reply = await api(ws, api_text("spot.order_place", "p0", req_param=order), "p0")
    assert reply["header"]["status"] == "401"
    assert sim.exchange.engine.open_orders("user") == []


async def test_ws_order_entry(gate):
    sim, ws, _ = gate
    await api(ws, login_text(sim, None), "login")
    order = (
        '{"text":"t-ws1","currency_pair":"BTC_USDT","type":"limit","side":"buy",'
        '"amount":"0.001","price":"60000","time_in_force":"poc"}'
    )
    await ws.send(api_text("spot.order_place", "p1", req_param=order))
    ack = await ws.next(lambda d: d.get("request_id") == "p1")
    assert ack["ack"] is True and ack["data"]["result"]["req_param"]["text"] == "t-ws1"
    assert ack["header"]["x_gate_ratelimit_limit"] == 10
    res = await ws.next(lambda d: d.get("request_id") == "p1" and "ack" not in d)
    placed = res["data"]["result"]
    assert placed["status"] == "open" and placed["text"] == "t-ws1"
    assert placed["time_in_force"] == "poc" and placed["finish_as"] == "open"
    no_text = '{"currency_pair":"BTC_USDT","side":"sell","amount":"0.001","price":"70000"}'
    res = await api(ws, api_text("spot.order_place", "p2", req_param=no_text), "p2")
    assert res["data"]["result"]["text"] == "apiv4-ws"
    status_req = f'{{"order_id":"{placed["id"]}","currency_pair":"BTC_USDT"}}'
    res = await api(ws, api_text("spot.order_status", "s1", req_param=status_req), "s1")
    assert res["data"]["result"]["id"] == placed["id"]
    res = await api(ws, api_text("spot.order_cancel", "c1", req_param=status_req), "c1")
    assert res["data"]["result"]["status"] == "cancelled"
    res = await api(ws, api_text("spot.order_cancel", "c2", req_param=status_req), "c2")
    assert res["header"]["status"] == "404"
    assert res["data"]["errs"]["label"] == "ORDER_NOT_FOUND"
    cp = '{"currency_pair":"BTC_USDT"}'
    res = await api(ws, api_text("spot.order_cancel_cp", "c3", req_param=cp), "c3")
    assert [o["side"] for o in res["data"]["result"]] == ["sell"]
    poor = '{"currency_pair":"BTC_USDT","side":"buy","amount":"100","price":"60000"}'
    res = await api(ws, api_text("spot.order_place", "p3", req_param=poor), "p3")
    assert res["data"]["errs"]["label"] == "BALANCE_NOT_ENOUGH"


async def test_ws_order_amend(gate):
    sim, ws, _ = gate
    await api(ws, login_text(sim, None), "login")
    assert (await subscribe_private(sim, ws, "spot.orders", [PAIR]))["error"] is None
    order = (
        '{"text":"t-am","currency_pair":"BTC_USDT","type":"limit","side":"buy",'
        '"amount":"0.01","price":"60000"}'
    )
    placed = (await api(ws, api_text("spot.order_place", "p1", req_param=order), "p1"))["data"]
    oid = placed["result"]["id"]
    amend = f'{{"order_id":"{oid}","currency_pair":"BTC_USDT","price":"60001","amend_text":"a1"}}'
    await ws.send(api_text("spot.order_amend", "a1", req_param=amend))
    res = await ws.next(lambda d: d.get("request_id") == "a1")
    assert "ack" not in res  # one answer: the amended order
    assert res["header"]["status"] == "200" and res["header"]["channel"] == "spot.order_amend"
    assert res["header"]["x_gate_ratelimit_limit"] == 10  # shares the place budget
    got = res["data"]["result"]
    assert got["id"] == oid and got["price"] == "60001" and got["amend_text"] == "a1"
    assert got["status"] == "open" and got["amount"] == "0.01"
    await ws.drain(0.1)
    orders = [o for batch in updates(ws.seen, "spot.orders") for o in batch]
    assert [o["event"] for o in orders] == ["put", "update"]  # the amend, before its answer
    assert orders[1]["price"] == "60001" and orders[1]["amend_text"] == "a1"
    assert ws.seen.index(res) > next(
        i for i, f in enumerate(ws.seen) if isinstance(f, dict) and f.get("result") == [orders[1]]
    )
    bad = '{"order_id":"t-am","currency_pair":"BTC_USDT","amount":"100"}'
    res = await api(ws, api_text("spot.order_amend", "a2", req_param=bad), "a2")
    assert res["data"]["errs"]["label"] == "BALANCE_NOT_ENOUGH"
    gone = '{"order_id":"1","currency_pair":"BTC_USDT","price":"1"}'
    res = await api(ws, api_text("spot.order_amend", "a3", req_param=gone), "a3")
    assert res["header"]["status"] == "404"


async def test_ws_place_rate_limit(gate):
    sim, ws, _ = gate
    venue_state(sim.exchange).config.ws_place_limit.window_ms = 60_000
    await api(ws, login_text(sim, None), "login")
    order = '{"currency_pair":"BTC_USDT","side":"buy","amount":"0.001","price":"60000"}'
    statuses = []
    for i in range(11):
        res = await api(ws, api_text("spot.order_place", f"r{i}", req_param=order), f"r{i}")
        statuses.append(res["header"]["status"])
    assert statuses == ["200"] * 10 + ["429"]
    assert res["data"]["errs"]["label"] == "TOO_MANY_REQUESTS"


# -- faults ---------------------------------------------------------------------------------


async def test_skip_sequence_shows_a_gap(gate):
    sim, ws, _ = gate
    await ws.sub("spot.obu", ["ob.BTC_USDT.50"])
    await ws.next(lambda d: d.get("channel") == "spot.obu")
    sim.exchange.faults.arm(FaultKind.SKIP_SEQUENCE, "ws.public")
    for price in ("64999.5", "64999.4", "64999.3"):
        bid(sim, price)
        await ws.drain(0.04)
    await ws.drain(0.05)
    obu = updates(ws.seen, "spot.obu")
    gaps = [b for a, b in itertools.pairwise(obu) if b["U"] != a["u"] + 1]
    assert len(gaps) == 1
    assert sim.exchange.faults.counters()["skip_sequence"] == 1


async def test_duplicate_reorder_malformed(gate):
    sim, ws, _ = gate
    faults = sim.exchange.faults
    await ws.sub("spot.book_ticker", [PAIR])
    faults.arm(FaultKind.DUPLICATE_MESSAGE, "ws.public")
    bid(sim, "65000")
    frames = await ws.drain(0.2)
    us = [r["u"] for r in updates(frames, "spot.book_ticker")]
    assert len(us) == 2 and us[0] == us[1]
    faults.arm(FaultKind.REORDER_MESSAGES, "ws.public")
    for price in ("65000", "65000"):
        bid(sim, price)  # same price: the best bid size changes each time
    frames = await ws.drain(0.2)
    us = [r["u"] for r in updates(frames, "spot.book_ticker")]
    assert len(us) == 2 and us[0] > us[1]
    faults.arm(FaultKind.MALFORMED_FRAME, "ws.public")
    bid(sim, "65000")
    frames = await ws.drain(0.2)
    assert len(frames) == 1 and isinstance(frames[0], bytes)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(frames[0])
    counters = faults.counters()
    for kind in ("duplicate_message", "reorder_messages", "malformed_frame"):
        assert counters[kind] == 1


async def test_drop_connection(gate):
    sim, ws, _ = gate
    sim.exchange.faults.arm(FaultKind.DROP_CONNECTION, "ws.public")
    await ws.send({"time": int(time.time()), "channel": "spot.ping"})
    msg = await ws.ws.receive(timeout=2)
    assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
    assert sim.exchange.faults.counters()["drop_connection"] == 1


async def test_freeze_connection(gate):
    sim, ws, _ = gate
    await ws.sub("spot.book_ticker", [PAIR])
    sim.exchange.faults.arm(FaultKind.FREEZE_CONNECTION, "ws.public")
    bid(sim, "65000")
    await ws.send({"time": int(time.time()), "channel": "spot.ping"})
    assert await ws.drain(0.4) == []
    assert not ws.ws.closed
    assert sim.exchange.faults.counters()["freeze_connection"] == 1


async def test_lose_and_delay_ack(gate):
    sim, ws, _ = gate
    faults = sim.exchange.faults
    await api(ws, login_text(sim, None), "login")
    order = '{"currency_pair":"BTC_USDT","side":"buy","amount":"0.001","price":"60000"}'
    faults.arm(FaultKind.LOSE_ACK, "ws.api")
    await ws.send(api_text("spot.order_place", "lost", req_param=order))
    assert [f for f in await ws.drain(0.3) if f.get("request_id") == "lost"] == []
    assert len(sim.exchange.engine.open_orders("user")) == 1  # placed, never answered
    venue_state(sim.exchange).config.delay_ack_s = 0.3
    faults.arm(FaultKind.DELAY_ACK, "ws.api")
    started = time.monotonic()
    reply = await api(ws, api_text("spot.order_place", "late", req_param=order), "late")
    assert time.monotonic() - started >= 0.3 and reply["data"]["result"]["status"] == "open"
    assert faults.counters()["lose_ack"] == 1 and faults.counters()["delay_ack"] == 1


async def test_live_market_streams_stay_contiguous():
    """With the synthetic market running: REST snapshot + order_book_update diffs, and
    spot.obu, both stay gap-free and uncrossed, as a real client would check them."""
    async with start_sim("gate", seed=5) as sim, aiohttp.ClientSession() as session:
        ws = Ws(await session.ws_connect(sim.urls.ws_public))
        await ws.sub("spot.order_book_update", [PAIR, "100ms"])
        await ws.sub("spot.obu", ["ob.BTC_USDT.400"])
        url = f"{sim.urls.rest}/spot/order_book?currency_pair={PAIR}&limit=100&with_id=true"
        async with session.get(url) as resp:
            snap = await resp.json()
        await ws.drain(0.6)
        book = {"bids": {}, "asks": {}}
        apply(book, {"b": snap["bids"], "a": snap["asks"]})
        local, applied = snap["id"], 0
        for d in updates(ws.seen, "spot.order_book_update"):
            if d["u"] < local + 1:
                continue
            assert d["U"] <= local + 1 <= d["u"], "gap in spot.order_book_update"
            apply(book, d)
            local, applied = d["u"], applied + 1
            if book["bids"] and book["asks"]:
                assert max(book["bids"]) < min(book["asks"])
        assert applied >= 3
        obu = updates(ws.seen, "spot.obu")
        assert obu[0]["full"] is True and len(obu) >= 3
        for prev, cur in itertools.pairwise(obu):
            assert cur["U"] == prev["u"] + 1, "gap in spot.obu"


@pytest.mark.parametrize("engine_style", [None, PostOnlyStyle.REJECT])
async def test_poc_crossing_forms(engine_style):
    """start_sim's Gate engine cancels a crossing poc (the 201/200 cancelled form); an engine
    that refuses post-only orders outright gives Gate's label form, POC_FILL_IMMEDIATELY."""
    options = {} if engine_style is None else {"matching": MatchingConfig(post_only=engine_style)}
    async with (
        start_sim("gate", seed=1, market=False, **options) as sim,
        aiohttp.ClientSession() as session,
    ):
        seed_book(sim)
        ws = Ws(await session.ws_connect(sim.urls.ws_api))
        await api(ws, login_text(sim, None), "login")
        order = (
            '{"currency_pair":"BTC_USDT","side":"buy","amount":"0.001","price":"65000.1",'
            '"time_in_force":"poc"}'
        )
        res = await api(ws, api_text("spot.order_place", "x", req_param=order), "x")
        if engine_style is None:
            placed = res["data"]["result"]
            assert (placed["status"], placed["finish_as"]) == ("cancelled", "poc")
        else:
            assert res["header"]["status"] == "400"
            assert res["data"]["errs"]["label"] == "POC_FILL_IMMEDIATELY"


async def test_a_stopped_gate_simulator_frees_its_state():
    async def run() -> tuple[weakref.ref[object], weakref.ref[object]]:
        async with start_sim("gate", seed=2) as sim, aiohttp.ClientSession() as session:
            ws = Ws(await session.ws_connect(sim.urls.ws_public))
            await ws.sub("spot.obu", ["ob.BTC_USDT.50"])
            await api(ws, login_text(sim, None), "login")
            await subscribe_private(sim, ws, "spot.balances", [])
            await ws.drain(0.1)
            await ws.ws.close()
            return weakref.ref(sim.exchange), weakref.ref(venue_state(sim.exchange))

    exchange_ref, state_ref = await run()
    web_app._cached_build_middleware.cache_clear()  # aiohttp's bounded memo, not a leak

    def freed() -> bool:
        # the closed connections' callbacks run on the loop first; then nothing holds it
        gc.collect()
        return exchange_ref() is None

    with contextlib.suppress(AssertionError):
        await until(freed, timeout=5.0)
    assert exchange_ref() is None, gc.get_referrers(exchange_ref())
    assert state_ref() is None
