"""Gate v4 spot REST of the simulator, over real loopback HTTP: paths, parameters, bodies,
status codes and labels, APIv4 signatures, REST faults, rate limits, the dead-man switch,
and the official gate-api SDK pointed at the simulator unchanged."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest

from engine.clock import NS_PER_SECOND, SimClock
from engine.model.enums import OrderSide, OrderType
from engine.sim.faults import FaultKind
from engine.sim.matching import MatchingConfig, OrderRequest, PostOnlyStyle
from engine.sim.server import start_sim
from engine.sim.venues.gate import PocStyle, venue_state
from engine.wire.credentials import Credentials
from engine.wire.gate_signing import gate_rest_headers

CANCEL_STYLE = MatchingConfig(post_only=PostOnlyStyle.CANCEL)


class Client:
    """A minimal signed Gate client: what an adapter does, written from the docs."""

    def __init__(self, sim: Any, session: aiohttp.ClientSession) -> None:
        self.base = sim.urls.rest
        self.creds = Credentials(sim.api_key, sim.api_secret)
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        query: str = "",
        body: Any = None,
        *,
        sign: bool = True,
        timestamp: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, Any, Any]:
        raw = body if isinstance(body, bytes) else b"" if body is None else orjson.dumps(body)
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if sign:
            ts = timestamp or f"{time.time():.3f}"
            hdrs.update(
                gate_rest_headers(self.creds, method, "/api/v4" + path, query, raw, timestamp=ts)
            )
        url = self.base + path + (f"?{query}" if query else "")
        client_timeout = aiohttp.ClientTimeout(total=timeout) if timeout else None
        async with self.session.request(
            method, url, data=raw or None, headers=hdrs, timeout=client_timeout
        ) as resp:
            return resp.status, orjson.loads(await resp.read()), resp.headers


def order(price: str, amount: str = "0.001", side: str = "buy", **extra: str) -> dict[str, str]:
    body = {
        "currency_pair": "BTC_USDT",
        "type": "limit",
        "account": "spot",
        "side": side,
        "amount": amount,
        "price": price,
    }
    body.update(extra)
    return body


@pytest.fixture
async def gate():
    async with (
        start_sim("gate", seed=1, market=False, matching=CANCEL_STYLE) as sim,
        aiohttp.ClientSession() as session,
    ):
        yield sim, Client(sim, session)


def seed_book(sim: Any) -> None:
    """A deterministic book: bids 64999.9 / 64999.8, asks 65000.1 / 65000.2 (1 BTC each)."""
    engine = sim.exchange.engine
    inst = engine.instrument("BTC_USDT")
    now = sim.exchange.clock.time_ns()
    for side, px in ((OrderSide.BUY, "64999.9"), (OrderSide.BUY, "64999.8")):
        sim.exchange.publish(
            engine.set_background_level("BTC_USDT", side, inst.price_to_ticks(px), 10**6, now)
        )
    for side, px in ((OrderSide.SELL, "65000.1"), (OrderSide.SELL, "65000.2")):
        sim.exchange.publish(
            engine.set_background_level("BTC_USDT", side, inst.price_to_ticks(px), 10**6, now)
        )


def bid(sim: Any, price: str, qty: str) -> None:
    inst = sim.exchange.engine.instrument("BTC_USDT")
    sim.exchange.submit(
        OrderRequest(
            "user", "BTC_USDT", OrderSide.BUY, OrderType.LIMIT, inst.qty_to_lots(qty),
            inst.price_to_ticks(price),
        )
    )  # fmt: skip


# -- public ---------------------------------------------------------------------------------


async def test_public_endpoints(gate):
    _, c = gate
    status, doc, _ = await c.call("GET", "/spot/time", sign=False)
    assert status == 200 and abs(doc["server_time"] - time.time() * 1000) < 5000
    status, pairs, headers = await c.call("GET", "/spot/currency_pairs", sign=False)
    assert status == 200 and {p["id"] for p in pairs} == {"BTC_USDT", "ETH_USDT"}
    assert headers["X-Gate-RateLimit-Limit"] == "200"
    status, btc, _ = await c.call("GET", "/spot/currency_pairs/BTC_USDT", sign=False)
    assert btc["precision"] == 1 and btc["amount_precision"] == 6
    assert btc["min_quote_amount"] == "3" and btc["min_base_amount"] == "0.00001"
    assert btc["trade_status"] == "tradable" and "tick_size" not in btc
    status, err, _ = await c.call("GET", "/spot/currency_pairs/NOPE_USDT", sign=False)
    assert status == 400 and err["label"] == "INVALID_CURRENCY_PAIR"


async def test_order_book_id_is_the_update_counter(gate):
    sim, c = gate
    seed_book(sim)
    q = "currency_pair=BTC_USDT&limit=1&with_id=true"
    status, book, _ = await c.call("GET", "/spot/order_book", q, sign=False)
    assert status == 200
    assert book["id"] == sim.exchange.engine.depth("BTC_USDT")[0] == 4
    assert book["bids"] == [["64999.9", "1"]] and book["asks"] == [["65000.1", "1"]]
    assert set(book) == {"id", "current", "update", "asks", "bids"}
    _, plain, _ = await c.call("GET", "/spot/order_book", "currency_pair=BTC_USDT", sign=False)
    assert "id" not in plain and len(plain["bids"]) == 2
    status, err, _ = await c.call("GET", "/spot/order_book", "", sign=False)
    assert status == 400 and err["label"] == "MISSING_REQUIRED_PARAM"
    bid(sim, "65000.1", "0.5")  # a trade: half the best ask
    _, ticks, _ = await c.call("GET", "/spot/tickers", "currency_pair=BTC_USDT", sign=False)
    assert ticks == [
        dict(
            ticks[0], currency_pair="BTC_USDT", last="65000.1", lowest_ask="65000.1",
            lowest_size="0.5", highest_bid="64999.9", highest_size="1",
        )
    ]  # fmt: skip


# -- auth -----------------------------------------------------------------------------------


async def test_signature_checks(gate):
    _, c = gate
    status, doc, _ = await c.call("GET", "/spot/accounts")
    assert status == 200 and {"currency", "available", "locked", "update_id"} <= set(doc[0])
    status, err, _ = await c.call("GET", "/spot/accounts", sign=False)
    assert status == 401 and err["label"] == "MISSING_REQUIRED_HEADER"
    stale = str(int(time.time()) - 61)
    status, err, _ = await c.call("GET", "/spot/accounts", timestamp=stale)
    assert status == 401 and err["label"] == "REQUEST_EXPIRED"
    future = str(int(time.time()) + 61)
    status, err, _ = await c.call("GET", "/spot/accounts", timestamp=future)
    assert status == 401 and err["label"] == "REQUEST_EXPIRED"
    # signed one query, sent another: the raw query is what is verified
    ts = str(int(time.time()))
    hdrs = gate_rest_headers(
        c.creds, "GET", "/api/v4/spot/accounts", "currency=BTC", b"", timestamp=ts
    )
    async with c.session.get(c.base + "/spot/accounts?currency=ETH", headers=hdrs) as resp:
        assert resp.status == 401 and (await resp.json())["label"] == "INVALID_SIGNATURE"
    bad = dict(hdrs, SIGN="0" * 128)
    async with c.session.get(c.base + "/spot/accounts?currency=BTC", headers=bad) as resp:
        assert resp.status == 401 and (await resp.json())["label"] == "INVALID_SIGNATURE"
    unknown = dict(hdrs, KEY="nobody")
    async with c.session.get(c.base + "/spot/accounts?currency=BTC", headers=unknown) as resp:
        assert resp.status == 401 and (await resp.json())["label"] == "INVALID_KEY"
    async with c.session.get(c.base + "/spot/accounts?currency=BTC", headers=hdrs) as resp:
        assert resp.status == 200 and [a["currency"] for a in await resp.json()] == ["BTC"]


async def test_body_bytes_are_signed(gate):
    sim, c = gate
    seed_book(sim)
    ts = str(int(time.time()))
    signed = orjson.dumps(order("60000"))
    sent = orjson.dumps(order("60001"))
    hdrs = gate_rest_headers(c.creds, "POST", "/api/v4/spot/orders", "", signed, timestamp=ts)
    async with c.session.post(c.base + "/spot/orders", data=sent, headers=hdrs) as resp:
        assert resp.status == 401 and (await resp.json())["label"] == "INVALID_SIGNATURE"
    assert sim.exchange.engine.open_orders("user") == []


# -- orders ---------------------------------------------------------------------------------


async def test_place_query_cancel(gate):
    sim, c = gate
    seed_book(sim)
    status, o, headers = await c.call("POST", "/spot/orders", body=order("60000", text="t-mm1"))
    assert status == 201, o
    assert o["status"] == "open" and o["finish_as"] == "open" and o["text"] == "t-mm1"
    assert o["amount"] == "0.001" and o["price"] == "60000" and o["left"] == "0.001"
    assert o["time_in_force"] == "gtc" and o["type"] == "limit" and o["side"] == "buy"
    assert isinstance(o["create_time_ms"], int) and o["create_time"].isdigit()
    assert headers["X-Gate-RateLimit-Limit"] == "10"
    oid = o["id"]
    status, got, _ = await c.call("GET", f"/spot/orders/{oid}", "currency_pair=BTC_USDT")
    assert status == 200 and got["id"] == oid
    status, got, _ = await c.call("GET", "/spot/orders/t-mm1", "currency_pair=BTC_USDT")
    assert status == 200 and got["id"] == oid
    _, listed, _ = await c.call("GET", "/spot/orders", "currency_pair=BTC_USDT&status=open")
    assert [x["id"] for x in listed] == [oid]
    _, grouped, _ = await c.call("GET", "/spot/open_orders")
    assert grouped[0]["currency_pair"] == "BTC_USDT" and grouped[0]["total"] == 1
    _, accounts, _ = await c.call("GET", "/spot/accounts", "currency=USDT")
    assert Decimal(accounts[0]["locked"]) == Decimal("60.06")  # 60 + worst-case 0.1 % fee
    status, done, _ = await c.call("DELETE", f"/spot/orders/{oid}", "currency_pair=BTC_USDT")
    assert status == 200 and done["status"] == "cancelled" and done["finish_as"] == "cancelled"
    status, err, _ = await c.call("DELETE", f"/spot/orders/{oid}", "currency_pair=BTC_USDT")
    assert status == 404 and err["label"] == "ORDER_NOT_FOUND"
    status, err, _ = await c.call("GET", "/spot/orders/t-mm1", "currency_pair=BTC_USDT")
    assert status == 404  # a text only finds an open order
    _, finished, _ = await c.call("GET", "/spot/orders", "currency_pair=BTC_USDT&status=finished")
    assert [x["id"] for x in finished] == [oid]


async def test_amend_rest(gate):
    """PATCH /spot/orders/{id}: same id, Gate's queue rule, amend_text, refusals."""
    sim, c = gate
    seed_book(sim)
    engine = sim.exchange.engine
    status, o, _ = await c.call("POST", "/spot/orders", body=order("64999.9", "0.1", text="t-am"))
    assert status == 201 and o["id"].isdigit()
    oid, q = o["id"], "currency_pair=BTC_USDT"
    assert engine.queue_ahead(int(oid)) == 10**6  # behind the 1 BTC already at the bid
    # a smaller amount at the same price keeps the place in the queue
    status, a, _ = await c.call("PATCH", f"/spot/orders/{oid}", q, {"amount": "0.05"})
    assert status == 200, a
    assert a["id"] == oid and a["amount"] == "0.05" and a["left"] == "0.05" and a["text"] == "t-am"
    assert engine.queue_ahead(int(oid)) == 10**6
    # by text, pair in the body, a new price: requeued behind the 1 BTC at 64999.8
    body = {"currency_pair": "BTC_USDT", "price": "64999.8", "amend_text": "move-1"}
    status, a, _ = await c.call("PATCH", "/spot/orders/t-am", body=body)
    assert status == 200 and a["price"] == "64999.8" and a["amend_text"] == "move-1"
    assert engine.queue_ahead(int(oid)) == 10**6
    _, got, _ = await c.call("GET", f"/spot/orders/{oid}", q)
    assert got["amend_text"] == "move-1" and got["price"] == "64999.8"
    # more than the balance can lock: refused, the order as it was
    status, err, _ = await c.call("PATCH", f"/spot/orders/{oid}", q, {"amount": "5"})
    assert status == 400 and err["label"] == "BALANCE_NOT_ENOUGH"
    assert engine.order(int(oid)).qty == 50_000
    status, err, _ = await c.call("PATCH", f"/spot/orders/{oid}", q, {"amend_text": "x"})
    assert status == 400 and err["label"] == "MISSING_REQUIRED_PARAM"
    status, err, _ = await c.call("PATCH", f"/spot/orders/{oid}", body={"price": "1"})
    assert status == 400 and err["label"] == "MISSING_REQUIRED_PARAM"  # no currency_pair
    status, err, _ = await c.call("PATCH", f"/spot/orders/{oid}", q, {"price": "64999.85"})
    assert status == 400 and err["label"] == "INVALID_PRECISION"
    status, err, _ = await c.call("PATCH", "/spot/orders/999999", q, {"price": "60000"})
    assert status == 404 and err["label"] == "ORDER_NOT_FOUND"
    # a price that crosses trades at once, as the taker
    status, a, _ = await c.call("PATCH", f"/spot/orders/{oid}", q, {"price": "65000.1"})
    assert status == 200 and a["status"] == "closed" and a["finish_as"] == "filled"
    _, trades, _ = await c.call("GET", "/spot/my_trades", f"{q}&order_id={oid}")
    assert len(trades) == 1 and trades[0]["role"] == "taker" and trades[0]["amount"] == "0.05"
    # an amount at or below what is filled cancels the order
    _, o, _ = await c.call("POST", "/spot/orders", body=order("64999.9", "0.1", text="t-am2"))
    bid_ticks = engine.instrument("BTC_USDT").price_to_ticks("64999.9")
    now = sim.exchange.clock.time_ns()  # 1 BTC ahead of us, then 0.03 of ours
    sim.exchange.publish(
        engine.background_trade("BTC_USDT", OrderSide.SELL, bid_ticks, 10**6 + 30_000, now)
    )
    status, a, _ = await c.call("PATCH", f"/spot/orders/{o['id']}", q, {"amount": "0.03"})
    assert status == 200 and a["status"] == "cancelled" and a["filled_amount"] == "0.03"


async def test_fills_ioc_fok_market(gate):
    sim, c = gate
    seed_book(sim)
    _, o, _ = await c.call(
        "POST", "/spot/orders", body=order("65000.1", "1.5", time_in_force="ioc")
    )
    assert o["status"] == "cancelled" and o["finish_as"] == "ioc"
    assert o["filled_amount"] == "1" and o["left"] == "0.5" and o["avg_deal_price"] == "65000.1"
    assert o["fee"] == "65.0001" and o["fee_currency"] == "USDT"
    _, o, _ = await c.call(
        "POST", "/spot/orders", body=order("64999.9", "2", "sell", time_in_force="fok")
    )
    assert o["status"] == "cancelled" and o["finish_as"] == "fok" and o["filled_amount"] == "0"
    body = {"currency_pair": "BTC_USDT", "type": "market", "side": "buy", "amount": "650.002"}
    status, o, _ = await c.call("POST", "/spot/orders", body=body)
    assert status == 201 and o["status"] == "closed" and o["finish_as"] == "filled"
    assert o["type"] == "market" and o["time_in_force"] == "ioc" and o["price"] == "0"
    assert Decimal(o["filled_amount"]) == Decimal("0.00999")  # 649.34 + 0.1 % fee fits 650.002
    body = {"currency_pair": "BTC_USDT", "type": "market", "side": "sell", "amount": "0.5"}
    _, o, _ = await c.call("POST", "/spot/orders", body=body)
    assert o["status"] == "closed" and o["filled_total"] == "32499.95"
    _, trades, _ = await c.call("GET", "/spot/my_trades", "currency_pair=BTC_USDT")
    assert [t["side"] for t in trades] == ["sell", "buy", "buy"]  # newest first
    assert trades[0]["role"] == "taker" and trades[0]["amount"] == "0.5"
    assert trades[0]["order_id"] == o["id"] and trades[0]["fee_currency"] == "USDT"
    _, mine, _ = await c.call(
        "GET", "/spot/my_trades", f"currency_pair=BTC_USDT&order_id={o['id']}"
    )
    assert [t["id"] for t in mine] == [trades[0]["id"]]


async def test_post_only_styles(gate):
    sim, c = gate
    seed_book(sim)
    status, o, _ = await c.call("POST", "/spot/orders", body=order("65000.1", time_in_force="poc"))
    assert status == 201 and o["status"] == "cancelled" and o["finish_as"] == "poc"
    status, o, _ = await c.call("POST", "/spot/orders", body=order("65000", time_in_force="poc"))
    assert status == 201 and o["status"] == "open" and o["time_in_force"] == "poc"
    venue_state(sim.exchange).config.poc_style = PocStyle.REJECT_400
    status, err, _ = await c.call(
        "POST", "/spot/orders", body=order("65000.1", time_in_force="poc")
    )
    assert status == 400 and err["label"] == "POC_FILL_IMMEDIATELY"
    assert len(sim.exchange.engine.open_orders("user")) == 1


@pytest.mark.parametrize(
    ("body", "status", "label"),
    [
        (order("60000", text="abc"), 400, "INVALID_PARAM_VALUE"),
        (order("60000", text="t-" + "x" * 29), 400, "INVALID_PARAM_VALUE"),
        (order("60000.05"), 400, "INVALID_PRECISION"),
        (order("60000", "0.0000001"), 400, "INVALID_PRECISION"),
        (order("60000", "0.00001"), 400, "AMOUNT_TOO_LITTLE"),  # 0.6 USDT < 3
        (order("60000", "100"), 400, "BALANCE_NOT_ENOUGH"),
        (order("60000", side="hold"), 400, "INVALID_PARAM_VALUE"),
        (order("60000", time_in_force="day"), 400, "INVALID_PARAM_VALUE"),
        (dict(order("60000"), currency_pair="DOGE_USDT"), 400, "INVALID_CURRENCY_PAIR"),
        ({"currency_pair": "BTC_USDT", "side": "buy", "price": "1"}, 400, "MISSING_REQUIRED_PARAM"),
    ],
)
async def test_order_rejects(gate, body, status, label):
    _, c = gate
    got, err, _ = await c.call("POST", "/spot/orders", body=body)
    assert (got, err["label"]) == (status, label)
    assert set(err) == {"label", "message"}


async def test_not_json_body(gate):
    _, c = gate
    status, err, _ = await c.call("POST", "/spot/orders", body=b'{"currency_pair":')
    assert status == 400 and err["label"] == "INVALID_REQUEST_BODY"
    status, err, _ = await c.call("POST", "/spot/orders", body=[1])
    assert status == 400 and err["label"] == "INVALID_REQUEST_BODY"


async def test_action_mode_ack_and_batches(gate):
    sim, c = gate
    seed_book(sim)
    status, o, _ = await c.call("POST", "/spot/orders", body=order("60000", action_mode="ACK"))
    assert status == 201 and set(o) == {"id", "text", "amend_text"} and o["text"] == "apiv4"
    batch = [order("60000", text="t-b1"), order("60000", "100", text="t-b2")]
    status, res, _ = await c.call("POST", "/spot/batch_orders", body=batch)
    assert status == 200 and [r["succeeded"] for r in res] == [True, False]
    assert res[1]["label"] == "BALANCE_NOT_ENOUGH" and res[1]["text"] == "t-b2"
    cancel = [
        {"currency_pair": "BTC_USDT", "id": res[0]["id"]},
        {"currency_pair": "BTC_USDT", "id": "999999"},
    ]
    status, res, _ = await c.call("POST", "/spot/cancel_batch_orders", body=cancel)
    assert [r["succeeded"] for r in res] == [True, False]
    assert res[0]["text"] == "t-b1" and res[1]["label"] == "ORDER_NOT_FOUND"
    await c.call("POST", "/spot/orders", body=order("60000", side="buy"))
    await c.call("POST", "/spot/orders", body=order("70000", side="sell"))
    status, res, _ = await c.call("DELETE", "/spot/orders", "currency_pair=BTC_USDT&side=buy")
    assert status == 200 and len(res) == 2 and all(r["succeeded"] for r in res)
    assert all(r["side"] == "buy" and r["status"] == "cancelled" for r in res)
    status, res, _ = await c.call("DELETE", "/spot/orders")
    assert [r["side"] for r in res] == ["sell"]


async def test_countdown_cancel_all():
    # the countdown runs on the exchange clock, moved here by hand: no wall-clock waits
    clock = SimClock(start_ns=time.time_ns())

    def wait(seconds: float) -> None:
        clock.advance_to(clock.time_ns() + int(seconds * NS_PER_SECOND))

    async with (
        start_sim("gate", seed=1, market=False, matching=CANCEL_STYLE, clock=clock) as sim,
        aiohttp.ClientSession() as session,
    ):
        await _countdown_scenario(sim, Client(sim, session), wait)


async def _countdown_scenario(sim, c, wait):
    state = venue_state(sim.exchange)
    state.config.countdown_min_s = 0  # the venue's floor is 5 s; shortened to keep tests fast
    await c.call("POST", "/spot/orders", body=order("60000"))
    status, doc, _ = await c.call("POST", "/spot/countdown_cancel_all", body={"timeout": 1})
    assert status == 200 and int(doc["triggerTime"]) > time.time() * 1000
    wait(0.5)
    await c.call("POST", "/spot/countdown_cancel_all", body={"timeout": 1})  # renewed
    wait(0.7)
    assert len(sim.exchange.engine.open_orders("user")) == 1
    wait(0.3)
    assert sim.exchange.engine.open_orders("user") == []
    state.config.countdown_min_s = 5
    status, err, _ = await c.call("POST", "/spot/countdown_cancel_all", body={"timeout": 3})
    assert status == 400 and err["label"] == "INVALID_PARAM_VALUE"
    body = {"timeout": 0, "currency_pair": "BTC_USDT"}
    status, doc, _ = await c.call("POST", "/spot/countdown_cancel_all", body=body)
    assert status == 200


# -- rate limits and faults -----------------------------------------------------------------


async def test_place_rate_limit_per_pair(gate):
    sim, c = gate
    venue_state(sim.exchange).config.place_limit.window_ms = 60_000  # no window edge mid-test
    statuses = []
    for _ in range(11):
        status, err, headers = await c.call("POST", "/spot/orders", body=order("60000"))
        statuses.append(status)
    assert statuses == [201] * 10 + [429]
    assert err["label"] == "TOO_MANY_REQUESTS"
    assert headers["X-Gate-RateLimit-Requests-Remain"] == "0"
    assert int(headers["X-Gate-RateLimit-Reset-Timestamp"]) > time.time() * 1000
    eth = dict(order("3000", "0.01"), currency_pair="ETH_USDT")
    status, _, _ = await c.call("POST", "/spot/orders", body=eth)
    assert status == 201  # the budget is per pair


async def test_rest_faults(gate):
    sim, c = gate
    faults = sim.exchange.faults
    faults.arm(FaultKind.FORCE_429, "rest")
    status, err, _ = await c.call("GET", "/spot/time", sign=False)
    assert status == 429 and err["label"] == "TOO_MANY_REQUESTS"
    faults.arm(FaultKind.REST_5XX, "rest")
    status, err, _ = await c.call("POST", "/spot/orders", body=order("60000"))
    assert status == 500 and err["label"] == "SERVER_ERROR"
    assert sim.exchange.engine.open_orders("user") == []  # a 5xx never reached the engine
    faults.arm(FaultKind.REST_TIMEOUT, "rest")
    with pytest.raises(asyncio.TimeoutError):
        await c.call("POST", "/spot/orders", body=order("60000"), timeout=0.3)
    assert sim.exchange.engine.open_orders("user") == []  # REST_TIMEOUT: not placed
    faults.arm(FaultKind.LOSE_ACK, "rest")
    with pytest.raises(asyncio.TimeoutError):
        await c.call("POST", "/spot/orders", body=order("60000"), timeout=0.3)
    assert len(sim.exchange.engine.open_orders("user")) == 1  # LOSE_ACK: placed, no answer
    venue_state(sim.exchange).config.delay_ack_s = 0.3
    faults.arm(FaultKind.DELAY_ACK, "rest")
    started = time.monotonic()
    status, o, _ = await c.call("POST", "/spot/orders", body=order("60000"))
    assert status == 201 and o["status"] == "open" and time.monotonic() - started >= 0.3
    faults.set_latency("rest", 0.2)
    started = time.monotonic()
    status, _, _ = await c.call("GET", "/spot/time", sign=False)
    assert status == 200 and time.monotonic() - started >= 0.2
    counters = faults.counters()
    for kind in ("force_429", "rest_5xx", "rest_timeout", "lose_ack", "delay_ack", "latency"):
        assert counters[kind] >= 1, kind


# -- the official SDK -----------------------------------------------------------------------


async def test_gate_api_sdk_unchanged(gate):
    gate_api = pytest.importorskip("gate_api")
    sim, _ = gate
    seed_book(sim)
    cfg = gate_api.Configuration(host=sim.urls.rest, key=sim.api_key, secret=sim.api_secret)
    api = gate_api.SpotApi(gate_api.ApiClient(cfg))
    pair = "BTC_USDT"

    def run() -> None:
        assert api.get_system_time().server_time > 0
        assert api.get_currency_pair(pair).precision == 1
        assert {p.id for p in api.list_currency_pairs()} == {"BTC_USDT", "ETH_USDT"}
        book = api.list_order_book(pair, limit=2, with_id=True)
        assert book.id == 4 and book.bids[0] == ["64999.9", "1"]
        new = gate_api.Order(
            text="t-sdk1", currency_pair=pair, type="limit", side="buy", amount="0.001",
            price="60000", time_in_force="poc",
        )  # fmt: skip
        placed = api.create_order(new)
        assert placed.status == "open" and placed.text == "t-sdk1"
        assert api.get_order(placed.id, pair).id == placed.id
        assert api.get_order("t-sdk1", pair).id == placed.id
        assert [o.id for o in api.list_orders(pair, "open")] == [placed.id]
        assert api.list_all_open_orders()[0].total == 1
        assert {a.currency for a in api.list_spot_accounts()} == {"BTC", "ETH", "USDT"}
        task = gate_api.CountdownCancelAllSpotTask(timeout=30, currency_pair=pair)
        assert api.countdown_cancel_all_spot(task).trigger_time > 0
        cancelled = api.cancel_order(placed.id, pair)
        assert cancelled.status == "cancelled" and cancelled.finish_as == "cancelled"
        try:
            api.cancel_order(placed.id, pair)
            raise AssertionError("cancelled twice")
        except gate_api.exceptions.GateApiException as exc:
            assert (exc.status, exc.label) == (404, "ORDER_NOT_FOUND")
        again = api.create_order(new)
        batch = [gate_api.CancelBatchOrder(currency_pair=pair, id=again.id)]
        assert api.cancel_batch_orders(batch)[0].succeeded
        api.create_order(new)
        assert all(r.succeeded for r in api.cancel_orders(currency_pair=pair, side="buy"))
        taker = gate_api.Order(
            currency_pair=pair, type="market", side="buy", amount="100", time_in_force="ioc"
        )
        filled = api.create_order(taker)
        assert filled.status == "closed" and filled.finish_as == "filled"
        assert api.list_my_trades(currency_pair=pair)[0].order_id == filled.id
        made = api.create_batch_orders([new])
        assert made[0].succeeded and made[0].status == "open"
        task = gate_api.CountdownCancelAllSpotTask(timeout=0)
        api.countdown_cancel_all_spot(task)

    await asyncio.to_thread(run)


async def test_orders_placed_elsewhere_are_visible(gate):
    """An order the engine holds (placed by another path) reads back through REST."""
    sim, c = gate
    inst = sim.exchange.engine.instrument("BTC_USDT")
    sim.exchange.submit(
        OrderRequest(
            "user", "BTC_USDT", OrderSide.SELL, OrderType.LIMIT, inst.qty_to_lots("0.01"),
            inst.price_to_ticks("70000"), client_order_id="t-other",
        )
    )  # fmt: skip
    status, o, _ = await c.call("GET", "/spot/orders/t-other", "currency_pair=BTC_USDT")
    assert status == 200 and o["side"] == "sell" and o["price"] == "70000"
