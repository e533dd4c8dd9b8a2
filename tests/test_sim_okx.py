"""The simulated OKX over real loopback HTTP: REST endpoints, authentication, rate limits,
REST faults, cancel-all-after, and the official python-okx SDK pointed at it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from engine.clock import NS_PER_SECOND, Clock, LiveClock, SimClock
from engine.sim.control import add_control_routes
from engine.sim.exchange import SimExchange
from engine.sim.faults import FaultKind
from engine.sim.server import SimOptions, build_exchange, start_sim
from engine.sim.venues import okx
from engine.sim.venues.okx_core import OkxConfig
from engine.wire.credentials import Credentials
from engine.wire.okx_signing import okx_rest_headers, okx_timestamp

BTC = "BTC-USDT"


@dataclass
class Okx:
    exchange: SimExchange
    app: web.Application
    rest: str
    ws: str
    creds: Credentials
    http: aiohttp.ClientSession

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        signed: bool = True,
    ) -> tuple[int, dict[str, Any]]:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        hdrs = {"Content-Type": "application/json"}
        if signed:
            ts = okx_timestamp(self.exchange.clock.time_ns() // 1_000_000)
            hdrs.update(okx_rest_headers(self.creds, ts, method, path, data))
        hdrs.update(headers or {})
        async with self.http.request(method, self.rest + path, data=data, headers=hdrs) as resp:
            return resp.status, await resp.json(content_type=None)

    def seed_book(self, symbol: str = BTC) -> None:
        """Bids 64999.9 / 64999.8, asks 65000.1 / 65000.2 of the background account."""
        engine = self.exchange.engine
        bids = [(649999, 30_000_000), (649998, 200_000_000)]
        asks = [(650001, 50_000_000), (650002, 120_000_000)]
        if symbol != BTC:
            bids, asks = [(349999, 1_000_000)], [(350001, 1_000_000)]
        now = self.exchange.clock.time_ns()
        self.exchange.publish(engine.apply_background_diff(symbol, bids, asks, now))


@contextlib.asynccontextmanager
async def okx_sim(
    config: OkxConfig | None = None, clock: Clock | None = None
) -> AsyncIterator[Okx]:
    """The OKX app over a fresh exchange without a background market (deterministic); its
    timers and rate windows run on `clock` (a SimClock lets a test move time itself)."""
    options = SimOptions(api_key="k" * 32, api_secret="s" * 32, passphrase="Pass1word")
    exchange, creds, _ = build_exchange("okx", options, clock or LiveClock())
    app = okx.create_app(exchange, config=config or OkxConfig())
    add_control_routes(app, exchange)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    urls = okx.urls(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}")
    async with aiohttp.ClientSession() as http:
        try:
            yield Okx(exchange, app, urls.rest, urls.ws_public.rsplit("/ws/", 1)[0], creds, http)
        finally:
            await runner.cleanup()


def order_body(**over: str) -> dict[str, str]:
    body = {
        "instId": BTC,
        "tdMode": "cash",
        "clOrdId": "mm1",
        "side": "buy",
        "ordType": "limit",
        "px": "64000",
        "sz": "0.01",
    }
    body.update(over)
    return {k: v for k, v in body.items() if v != "-"}


# -- public endpoints --------------------------------------------------------------------------


async def test_time_instruments_and_book() -> None:
    async with okx_sim() as sim:
        sim.seed_book()
        status, body = await sim.call("GET", "/api/v5/public/time", signed=False)
        assert status == 200 and body["code"] == "0" and body["msg"] == ""
        assert abs(int(body["data"][0]["ts"]) - time.time() * 1000) < 5000

        status, body = await sim.call(
            "GET", "/api/v5/public/instruments?instType=SPOT&instId=BTC-USDT", signed=False
        )
        inst = body["data"][0]
        assert (inst["instId"], inst["instType"], inst["baseCcy"], inst["quoteCcy"]) == (
            "BTC-USDT",
            "SPOT",
            "BTC",
            "USDT",
        )
        assert (inst["tickSz"], inst["lotSz"], inst["minSz"], inst["state"]) == (
            "0.1",
            "0.00000001",
            "0.00001",
            "live",
        )
        assert isinstance(inst["instIdCode"], int)
        _, body = await sim.call("GET", "/api/v5/public/instruments?instType=SPOT", signed=False)
        assert [i["instId"] for i in body["data"]] == ["BTC-USDT", "ETH-USDT"]
        status, body = await sim.call("GET", "/api/v5/public/instruments", signed=False)
        assert (status, body["code"]) == (400, "50014")
        status, body = await sim.call(
            "GET", "/api/v5/public/instruments?instType=SPOT&instId=XX-YY", signed=False
        )
        assert (status, body["code"]) == (200, "51001")

        _, body = await sim.call("GET", "/api/v5/market/books?instId=BTC-USDT&sz=2", signed=False)
        book = body["data"][0]
        assert book["bids"] == [["64999.9", "0.3", "0", "1"], ["64999.8", "2", "0", "1"]]
        assert book["asks"] == [["65000.1", "0.5", "0", "1"], ["65000.2", "1.2", "0", "1"]]
        assert "ts" in book
        _, body = await sim.call("GET", "/api/v5/market/books?instId=BTC-USDT", signed=False)
        assert len(body["data"][0]["bids"]) == 1  # OKX's default depth is 1
        _, body = await sim.call("GET", "/api/v5/market/books?instId=BTC-USDT&sz=401", signed=False)
        assert body["code"] == "51000"


# -- trading -----------------------------------------------------------------------------------


async def test_place_query_cancel_order() -> None:
    async with okx_sim() as sim:
        sim.seed_book()
        status, body = await sim.call("POST", "/api/v5/trade/order", order_body(tag="t1"))
        assert status == 200 and body["code"] == "0", body
        item = body["data"][0]
        assert (item["sCode"], item["clOrdId"], item["tag"]) == ("0", "mm1", "t1")
        ord_id = item["ordId"]
        assert ord_id.isdigit() and len(ord_id) >= 18
        assert int(body["outTime"]) >= int(body["inTime"])

        _, body = await sim.call("GET", "/api/v5/trade/orders-pending?instType=SPOT")
        (pending,) = body["data"]
        assert (pending["ordId"], pending["state"], pending["px"], pending["sz"]) == (
            ord_id,
            "live",
            "64000",
            "0.01",
        )
        assert (pending["ordType"], pending["side"], pending["tdMode"], pending["tag"]) == (
            "limit",
            "buy",
            "cash",
            "t1",
        )
        _, body = await sim.call("GET", f"/api/v5/trade/order?instId=BTC-USDT&ordId={ord_id}")
        assert body["data"][0]["clOrdId"] == "mm1"
        _, body = await sim.call("GET", "/api/v5/trade/order?instId=BTC-USDT&clOrdId=mm1")
        assert body["data"][0]["ordId"] == ord_id

        _, body = await sim.call("GET", "/api/v5/account/balance?ccy=USDT")
        (usdt,) = body["data"][0]["details"]
        # 640 USDT locked plus the worst-case 0.1 % fee
        assert (usdt["ccy"], usdt["frozenBal"], usdt["availBal"], usdt["cashBal"]) == (
            "USDT",
            "640.64",
            "99359.36",
            "100000",
        )

        _, body = await sim.call(
            "POST", "/api/v5/trade/cancel-order", {"instId": BTC, "clOrdId": "mm1"}
        )
        assert body["code"] == "0"
        assert (body["data"][0]["sCode"], body["data"][0]["ordId"]) == ("0", ord_id)
        _, body = await sim.call("GET", f"/api/v5/trade/order?instId=BTC-USDT&ordId={ord_id}")
        assert (body["data"][0]["state"], body["data"][0]["cancelSource"]) == ("canceled", "1")
        _, body = await sim.call(
            "POST", "/api/v5/trade/cancel-order", {"instId": BTC, "ordId": ord_id}
        )
        assert (body["code"], body["data"][0]["sCode"]) == ("1", "51400")
        _, body = await sim.call(
            "GET", "/api/v5/trade/order?instId=BTC-USDT&ordId=600000000000999999"
        )
        assert (body["code"], body["data"]) == ("51603", [])


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"sz": "100"}, "51008"),  # 6.4M USDT
        ({"clOrdId": "a-b"}, "51000"),  # OKX client ids are alphanumeric only
        ({"sz": "0.000000001"}, "51121"),
        ({"sz": "0.000001"}, "51020"),  # below minSz
        ({"side": "long"}, "51000"),
        ({"tdMode": "cross"}, "51000"),
        ({"instId": "XX-YY"}, "51001"),
        ({"px": "64000.05"}, "51000"),
    ],
)
async def test_order_rejects(over: dict[str, str], code: str) -> None:
    async with okx_sim() as sim:
        status, body = await sim.call("POST", "/api/v5/trade/order", order_body(**over))
        assert (status, body["code"], body["msg"]) == (200, "1", "All operations failed")
        assert body["data"][0]["sCode"] == code
        assert body["data"][0]["ordId"] == ""
        if code == "51008":
            assert body["data"][0]["sMsg"] == "Order failed. Insufficient USDT balance in account"


async def test_missing_param_duplicate_and_post_only() -> None:
    async with okx_sim() as sim:
        sim.seed_book()
        status, body = await sim.call("POST", "/api/v5/trade/order", order_body(sz="-"))
        assert (status, body["code"]) == (400, "50014")
        status, body = await sim.call("POST", "/api/v5/trade/order", raw=b"{not json")
        assert (status, body["code"]) == (400, "50002")
        await sim.call("POST", "/api/v5/trade/order", order_body())
        _, body = await sim.call("POST", "/api/v5/trade/order", order_body())
        assert body["data"][0]["sCode"] == "51016"
        # a crossing post_only is accepted (sCode 0) and canceled with cancelSource 31
        _, body = await sim.call(
            "POST",
            "/api/v5/trade/order",
            order_body(clOrdId="po1", ordType="post_only", px="65000.1"),
        )
        assert body["data"][0]["sCode"] == "0"
        ord_id = body["data"][0]["ordId"]
        _, body = await sim.call("GET", f"/api/v5/trade/order?instId=BTC-USDT&ordId={ord_id}")
        assert (body["data"][0]["state"], body["data"][0]["cancelSource"]) == ("canceled", "31")


async def test_market_ioc_and_fills() -> None:
    async with okx_sim() as sim:
        sim.seed_book()
        # market buy: sz in quote by default (tgtCcy quote_ccy)
        _, body = await sim.call(
            "POST",
            "/api/v5/trade/order",
            order_body(clOrdId="m1", ordType="market", px="-", sz="6500.01"),
        )
        ord_id = body["data"][0]["ordId"]
        _, body = await sim.call("GET", f"/api/v5/trade/order?instId=BTC-USDT&ordId={ord_id}")
        order = body["data"][0]
        assert (order["state"], order["ordType"], order["tgtCcy"]) == (
            "filled",
            "market",
            "quote_ccy",
        )
        assert order["sz"] == "6500.01" and order["avgPx"].startswith("65000.1")
        assert order["feeCcy"] == "USDT" and order["fee"].startswith("-")
        bought = Decimal(order["accFillSz"])
        # IOC at the touch: the remainder is canceled with cancelSource 14
        _, body = await sim.call(
            "POST",
            "/api/v5/trade/order",
            order_body(clOrdId="i1", ordType="ioc", px="65000.1", sz="1"),
        )
        ord_id = body["data"][0]["ordId"]
        _, body = await sim.call("GET", f"/api/v5/trade/order?instId=BTC-USDT&ordId={ord_id}")
        order = body["data"][0]
        assert (order["state"], order["cancelSource"]) == ("canceled", "14")
        assert Decimal(order["accFillSz"]) + bought == Decimal("0.5")  # the rest of the touch


async def test_batch_place_and_cancel() -> None:
    async with okx_sim() as sim:
        orders = [order_body(clOrdId=f"b{i}", px=str(64000 - i)) for i in range(3)]
        orders.append(order_body(clOrdId="bad", sz="100"))
        _, body = await sim.call("POST", "/api/v5/trade/batch-orders", orders)
        assert (body["code"], body["msg"]) == ("2", "Bulk operation partially succeeded")
        assert [d["sCode"] for d in body["data"]] == ["0", "0", "0", "51008"]
        cancels = [{"instId": BTC, "clOrdId": f"b{i}"} for i in range(3)]
        _, body = await sim.call("POST", "/api/v5/trade/cancel-batch-orders", cancels)
        assert body["code"] == "0" and all(d["sCode"] == "0" for d in body["data"])
        _, body = await sim.call("GET", "/api/v5/trade/orders-pending")
        assert body["data"] == []
        _, body = await sim.call("POST", "/api/v5/trade/batch-orders", orders * 6)
        assert body["code"] == "51111"


async def test_orders_pending_filters_and_paging() -> None:
    async with okx_sim() as sim:
        for i in range(4):
            await sim.call(
                "POST", "/api/v5/trade/order", order_body(clOrdId=f"p{i}", px=str(64000 - i))
            )
        await sim.call(
            "POST",
            "/api/v5/trade/order",
            order_body(clOrdId="e1", instId="ETH-USDT", px="3000", sz="0.1"),
        )
        _, body = await sim.call("GET", "/api/v5/trade/orders-pending?instId=BTC-USDT&limit=2")
        first = [o["clOrdId"] for o in body["data"]]
        assert first == ["p3", "p2"]  # newest first
        after = body["data"][-1]["ordId"]
        _, body = await sim.call(
            "GET", f"/api/v5/trade/orders-pending?instId=BTC-USDT&after={after}"
        )
        assert [o["clOrdId"] for o in body["data"]] == ["p1", "p0"]
        _, body = await sim.call("GET", "/api/v5/trade/orders-pending?instType=SPOT")
        assert len(body["data"]) == 5


# -- authentication ----------------------------------------------------------------------------


async def test_signature_checked_over_raw_bytes() -> None:
    async with okx_sim() as sim:
        # python-okx's spaced json.dumps and compact JSON are both fine when signed as sent
        spaced = json.dumps(order_body(clOrdId="r1")).encode()
        compact = json.dumps(order_body(clOrdId="r2"), separators=(",", ":")).encode()
        for raw in (spaced, compact):
            _, body = await sim.call("POST", "/api/v5/trade/order", raw=raw)
            assert body["code"] == "0"
        # signed over one text, sent as another: the same JSON value is not enough
        ts = okx_timestamp(int(time.time() * 1000))
        headers = okx_rest_headers(sim.creds, ts, "POST", "/api/v5/trade/order", compact)
        status, body = await sim.call(
            "POST", "/api/v5/trade/order", raw=spaced, headers=headers, signed=False
        )
        assert (status, body["code"], body["msg"]) == (401, "50113", "Invalid Sign")


def _headers(sim: Okx, path: str, *, ts_ms: int | None = None, **over: str) -> dict[str, str]:
    ts = okx_timestamp(ts_ms if ts_ms is not None else int(time.time() * 1000))
    headers = okx_rest_headers(sim.creds, ts, "GET", path)
    headers.update(over)
    return {k: v for k, v in headers.items() if v != "-"}


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("stale", "50102"),
        ("future", "50102"),
        ("bad_ts", "50112"),
        ("bad_sign", "50113"),
        ("bad_key", "50111"),
        ("bad_pass", "50105"),
        ("no_key", "50103"),
        ("no_sign", "50106"),
    ],
)
async def test_auth_errors(kind: str, code: str) -> None:
    path = "/api/v5/account/balance"
    async with okx_sim() as sim:
        now = int(time.time() * 1000)
        headers = {
            "stale": lambda: _headers(sim, path, ts_ms=now - 31_000),
            "future": lambda: _headers(sim, path, ts_ms=now + 31_000),
            "bad_ts": lambda: _headers(sim, path, **{"OK-ACCESS-TIMESTAMP": "1700000000"}),
            "bad_sign": lambda: _headers(sim, path + "?ccy=BTC"),
            "bad_key": lambda: _headers(sim, path, **{"OK-ACCESS-KEY": "nope"}),
            "bad_pass": lambda: _headers(sim, path, **{"OK-ACCESS-PASSPHRASE": "nope"}),
            "no_key": lambda: _headers(sim, path, **{"OK-ACCESS-KEY": "-"}),
            "no_sign": lambda: _headers(sim, path, **{"OK-ACCESS-SIGN": "-"}),
        }[kind]()
        status, body = await sim.call("GET", path, headers=headers, signed=False)
        assert (status, body["code"], body["data"]) == (401, code, [])
        # within the window a signed request passes
        status, body = await sim.call(
            "GET", path, headers=_headers(sim, path, ts_ms=now - 20_000), signed=False
        )
        assert (status, body["code"]) == (200, "0")


# -- rate limits and REST faults ----------------------------------------------------------------


async def test_rate_limit_50011() -> None:
    async with okx_sim() as sim:
        codes = [(await sim.call("GET", "/api/v5/account/balance"))[0] for _ in range(11)]
        assert codes[:10] == [200] * 10
        status, body = await sim.call("GET", "/api/v5/account/balance")
        assert (status, body["code"], body["msg"]) == (429, "50011", "Too Many Requests")


async def test_rest_faults() -> None:
    async with okx_sim() as sim:
        faults = sim.exchange.faults
        faults.arm(FaultKind.REST_5XX, "rest")
        status, body = await sim.call("GET", "/api/v5/public/time", signed=False)
        assert (status, body["code"]) == (503, "50001")
        faults.arm(FaultKind.FORCE_429, "rest")
        status, body = await sim.call("GET", "/api/v5/public/time", signed=False)
        assert (status, body["code"]) == (429, "50011")

        # a timed-out request is never answered and never processed: no order is placed
        faults.arm(FaultKind.REST_TIMEOUT, "rest")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(sim.call("POST", "/api/v5/trade/order", order_body()), 0.5)
        assert sim.exchange.engine.open_orders("user") == []

        faults.set_latency("rest", 0.2)
        started = time.monotonic()
        status, _ = await sim.call("GET", "/api/v5/public/time", signed=False)
        assert status == 200 and time.monotonic() - started >= 0.2
        counts = faults.counters()
        assert counts["rest_5xx"] == counts["force_429"] == counts["rest_timeout"] == 1
        assert counts["latency"] >= 1


# -- cancel-all-after ----------------------------------------------------------------------------


async def test_cancel_all_after() -> None:
    # the venue's timers and its one-call-a-second window run on the exchange clock: moved
    # here by hand, so nothing waits on the wall (signatures stay within OKX's 30 s window)
    clock = SimClock(start_ns=time.time_ns())

    def wait(seconds: float) -> None:
        clock.advance_to(clock.time_ns() + int(seconds * NS_PER_SECOND))

    async with okx_sim(OkxConfig(cancel_all_after_min_s=1), clock) as sim:
        await sim.call("POST", "/api/v5/trade/order", order_body())
        await sim.call(
            "POST",
            "/api/v5/trade/order",
            order_body(clOrdId="e1", instId="ETH-USDT", px="3000", sz="0.1"),
        )
        _, body = await sim.call("POST", "/api/v5/trade/cancel-all-after", {"timeOut": "1"})
        item = body["data"][0]
        assert body["code"] == "0" and int(item["triggerTime"]) - int(item["ts"]) == 1000
        wait(0.999)
        assert len(sim.exchange.engine.open_orders("user")) == 2
        wait(0.001)
        assert sim.exchange.engine.open_orders("user") == []
        # "0" disarms: nothing is canceled later
        await sim.call("POST", "/api/v5/trade/order", order_body(clOrdId="mm2"))
        wait(1.0)  # the endpoint allows one call per second
        await sim.call("POST", "/api/v5/trade/cancel-all-after", {"timeOut": "2"})
        wait(0.4)
        status, body = await sim.call("POST", "/api/v5/trade/cancel-all-after", {"timeOut": "0"})
        assert (status, body["code"]) == (429, "50011")  # one call per second
        wait(0.7)
        _, body = await sim.call("POST", "/api/v5/trade/cancel-all-after", {"timeOut": "0"})
        assert body["data"][0]["triggerTime"] == "0"
        wait(5.0)  # long past the disarmed deadline
        assert len(sim.exchange.engine.open_orders("user")) == 1
        wait(1.0)
        _, body = await sim.call("POST", "/api/v5/trade/cancel-all-after", {"timeOut": "200"})
        assert body["code"] == "51000"


# -- the official SDK ----------------------------------------------------------------------------


# python-okx hands httpx `data=<str>`, which httpx deprecates; not the simulator's concern
@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
async def test_python_okx_sdk_rest() -> None:
    trade_mod = pytest.importorskip("okx.Trade")
    from okx import Account, MarketData, PublicData

    async with start_sim("okx", seed=3, market=True) as sim:
        args = (sim.api_key, sim.api_secret, sim.passphrase, None, "0")
        kw = {"domain": sim.urls.rest}
        public = PublicData.PublicAPI(flag="0", **kw)
        market = MarketData.MarketAPI(flag="0", **kw)
        trade = trade_mod.TradeAPI(*args, **kw)
        account = Account.AccountAPI(*args, **kw)

        def run() -> dict[str, Any]:
            out: dict[str, Any] = {}
            out["time"] = public.get_system_time()
            out["inst"] = public.get_instruments(instType="SPOT", instId=BTC)
            out["book"] = market.get_orderbook(instId=BTC, sz="5")
            out["place"] = trade.place_order(
                instId=BTC,
                tdMode="cash",
                side="buy",
                ordType="post_only",
                px="1000",
                sz="0.001",
                clOrdId="sdk1",
            )
            out["get"] = trade.get_order(instId=BTC, clOrdId="sdk1")
            out["pending"] = trade.get_order_list(instType="SPOT", instId=BTC)
            out["balance"] = account.get_account_balance(ccy="BTC,USDT")
            out["cancel"] = trade.cancel_order(instId=BTC, clOrdId="sdk1")
            out["batch"] = trade.place_multiple_orders(
                [
                    {
                        "instId": BTC,
                        "tdMode": "cash",
                        "side": "buy",
                        "ordType": "limit",
                        "px": "1000",
                        "sz": "0.001",
                        "clOrdId": f"sdkb{i}",
                    }
                    for i in range(2)
                ]
            )
            out["cancel_batch"] = trade.cancel_multiple_orders(
                [{"instId": BTC, "clOrdId": f"sdkb{i}"} for i in range(2)]
            )
            return out

        out = await asyncio.to_thread(run)
        for name, body in out.items():
            assert body["code"] == "0", (name, body)
        assert out["inst"]["data"][0]["tickSz"] == "0.1"
        assert len(out["book"]["data"][0]["asks"]) == 5
        assert out["place"]["data"][0]["sCode"] == "0"
        assert out["get"]["data"][0]["state"] == "live"
        assert [o["clOrdId"] for o in out["pending"]["data"]] == ["sdk1"]
        assert {d["ccy"] for d in out["balance"]["data"][0]["details"]} == {"BTC", "USDT"}
        assert sim.exchange.engine.open_orders("user") == []


async def test_start_sim_urls_and_background_market() -> None:
    async with start_sim("okx", seed=1) as sim:
        assert sim.urls.rest.startswith("http://127.0.0.1:")
        assert sim.urls.ws_public.endswith("/ws/v5/public")
        assert sim.urls.ws_private == sim.urls.ws_api and sim.urls.ws_private.endswith(
            "/ws/v5/private"
        )
        url = sim.urls.rest + "/api/v5/market/books?instId=BTC-USDT&sz=25"
        async with aiohttp.ClientSession() as http, http.get(url) as r:
            book = (await r.json())["data"][0]
        assert len(book["bids"]) >= 5 and float(book["bids"][0][0]) < float(book["asks"][0][0])
        assert sim.exchange.engine.best_bid_ask(BTC)[0] is not None


async def test_hostile_bodies() -> None:
    async with okx_sim() as sim:
        status, body = await sim.call("POST", "/api/v5/trade/batch-orders", 5)
        assert (status, body["code"]) == (400, "50014")
        _, body = await sim.call(
            "POST", "/api/v5/trade/cancel-order", {"instId": [BTC], "ordId": 1}
        )
        assert body["data"][0]["sCode"] == "51000"
        _, body = await sim.call("POST", "/api/v5/trade/order", [order_body()])
        assert (body["code"], body["data"][0]["sCode"]) == ("1", "51000")
        status, body = await sim.call("POST", "/api/v5/trade/order", raw=b"")
        assert (status, body["code"]) == (400, "50000")
