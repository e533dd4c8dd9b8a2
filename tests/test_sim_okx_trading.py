"""The simulated OKX's trading additions over real loopback: amend-order (REST, WS, batches)
with OKX's queue rules and its `orders` push, the fills and fills-history endpoints, and
keys bound to an environment (50101 on REST and on the WS login)."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import WSMsgType
from test_sim_okx import BTC, okx_sim, order_body
from test_sim_okx_ws import recv, until

from engine.model.enums import OrderSide
from engine.sim.server import start_sim
from engine.sim.venues.okx_core import OkxConfig
from engine.wire.okx_signing import okx_ws_login_args, okx_ws_timestamp


def _place(sim: Any, cid: str, px: str = "64999.9", sz: str = "0.02", **over: str) -> Any:
    return sim.call("POST", "/api/v5/trade/order", order_body(clOrdId=cid, px=px, sz=sz, **over))


async def test_amend_keeps_or_loses_queue_position() -> None:
    async with okx_sim() as sim:
        sim.seed_book()
        engine = sim.exchange.engine
        _, placed = await _place(sim, "a1")
        ord_id = placed["data"][0]["ordId"]
        assert 18 <= len(ord_id) <= 19 and ord_id.isdigit()
        oid = engine.order_by_client_id("user", BTC, "a1").order_id  # type: ignore[union-attr]
        assert engine.queue_ahead(oid) == 30_000_000
        usdt_locked = sim.exchange.balances("user")["USDT"][1]

        # smaller size, same price: keeps its place; the lock shrinks with it
        status, body = await sim.call(
            "POST", "/api/v5/trade/amend-order", {"instId": BTC, "ordId": ord_id, "newSz": "0.01"}
        )
        assert status == 200 and body["code"] == "0", body
        item = body["data"][0]
        assert (item["ordId"], item["clOrdId"], item["sCode"]) == (ord_id, "a1", "0")
        assert "inTime" in body and "outTime" in body
        assert engine.queue_ahead(oid) == 30_000_000
        assert engine.order(oid).qty == 1_000_000  # type: ignore[union-attr]
        assert sim.exchange.balances("user")["USDT"][1] < usdt_locked

        # more size: to the back of the queue (background volume joined behind us first)
        now = sim.exchange.clock.time_ns()
        engine.apply_background_diff(BTC, [(649999, 40_000_000)], [], now)
        await sim.call(
            "POST", "/api/v5/trade/amend-order", {"instId": BTC, "clOrdId": "a1", "newSz": "0.03"}
        )
        assert engine.queue_ahead(oid) == 40_000_000

        # a new price crossing the book trades at once, as a taker
        _, body = await sim.call(
            "POST",
            "/api/v5/trade/amend-order",
            {"instId": BTC, "clOrdId": "a1", "newPx": "65000.1", "reqId": "r1"},
        )
        assert body["data"][0]["reqId"] == "r1" and body["data"][0]["sCode"] == "0"
        snap = engine.order(oid)
        assert snap is not None and snap.filled == 3_000_000 and not snap.status.is_open
        _, gone = await sim.call(
            "POST", "/api/v5/trade/amend-order", {"instId": BTC, "clOrdId": "a1", "newSz": "1"}
        )
        assert (gone["code"], gone["data"][0]["sCode"]) == ("1", "51503")


@pytest.mark.parametrize(
    ("amend", "code"),
    [
        ({"newSz": "0"}, "51000"),
        ({"newPx": "abc"}, "51000"),
        ({}, "51000"),
        ({"newSz": "100000"}, "51008"),
        ({"newSz": "0.000001"}, "51020"),
    ],
)
async def test_amend_refusals_leave_the_order(amend: dict[str, str], code: str) -> None:
    async with okx_sim() as sim:
        sim.seed_book()
        await _place(sim, "a2")
        _, body = await sim.call(
            "POST", "/api/v5/trade/amend-order", {"instId": BTC, "clOrdId": "a2", **amend}
        )
        assert body["data"][0]["sCode"] == code, body
        snap = sim.exchange.engine.order_by_client_id("user", BTC, "a2")
        assert snap is not None and snap.qty == 2_000_000 and snap.price == 649_999


async def test_amend_post_only_cross_and_cancel_on_fail() -> None:
    async with okx_sim() as sim:
        sim.seed_book()
        await _place(sim, "po", px="64000", ordType="post_only")
        _, body = await sim.call(
            "POST", "/api/v5/trade/amend-order", {"instId": BTC, "clOrdId": "po", "newPx": "65001"}
        )
        assert body["data"][0]["sCode"] == "51511"
        snap = sim.exchange.engine.order_by_client_id("user", BTC, "po")
        assert snap is not None and snap.status.is_open and snap.price == 640_000
        _, body = await sim.call(
            "POST",
            "/api/v5/trade/amend-order",
            {"instId": BTC, "clOrdId": "po", "newPx": "65001", "cxlOnFail": "true"},
        )
        assert body["data"][0]["sCode"] == "51511"
        snap = sim.exchange.engine.order_by_client_id("user", BTC, "po")
        assert snap is not None and not snap.status.is_open


async def test_amend_batch() -> None:
    async with okx_sim() as sim:
        sim.seed_book()
        await _place(sim, "b1", px="64000")
        await _place(sim, "b2", px="64001")
        items = [
            {"instId": BTC, "clOrdId": "b1", "newPx": "63000"},
            {"instId": BTC, "clOrdId": "nope", "newPx": "63000"},
        ]
        _, body = await sim.call("POST", "/api/v5/trade/amend-batch-orders", items)
        assert body["code"] == "2" and [d["sCode"] for d in body["data"]] == ["0", "51503"]
        too_many = [{"instId": BTC, "clOrdId": "b2", "newSz": "0.01"}] * 21
        _, body = await sim.call("POST", "/api/v5/trade/amend-batch-orders", too_many)
        assert body["code"] == "51111"


async def test_fills_and_fills_history() -> None:
    async with okx_sim() as sim:
        sim.seed_book()
        for i in range(3):
            _, placed = await _place(sim, f"f{i}", px="65000.1", sz="0.01", ordType="ioc")
            assert placed["data"][0]["sCode"] == "0"
        status, body = await sim.call("GET", f"/api/v5/trade/fills?instType=SPOT&instId={BTC}")
        assert status == 200 and body["code"] == "0"
        fills = body["data"]
        assert [f["clOrdId"] for f in fills] == ["f2", "f1", "f0"]  # newest first
        first = fills[-1]
        assert (first["fillPx"], first["fillSz"], first["side"], first["execType"]) == (
            "65000.1",
            "0.01",
            "buy",
            "T",
        )
        assert Decimal(first["fee"]) == Decimal("-0.650001") and first["feeCcy"] == "USDT"
        assert first["instType"] == "SPOT" and first["subType"] == "1" and first["tradeId"]
        assert len(first["billId"]) >= 18 and len(first["ordId"]) >= 18
        assert first["ts"] == first["fillTime"]
        # paging by billId and filtering by ordId
        _, page = await sim.call(
            "GET", f"/api/v5/trade/fills?instId={BTC}&limit=1&after={fills[0]['billId']}"
        )
        assert [f["clOrdId"] for f in page["data"]] == ["f1"]
        _, by_order = await sim.call("GET", f"/api/v5/trade/fills?ordId={first['ordId']}")
        assert [f["clOrdId"] for f in by_order["data"]] == ["f0"]
        _, later = await sim.call("GET", f"/api/v5/trade/fills?begin={int(first['ts']) + 60_000}")
        assert later["data"] == []
        status, hist = await sim.call("GET", "/api/v5/trade/fills-history?instType=SPOT")
        assert status == 200 and len(hist["data"]) == 3
        status, missing = await sim.call("GET", "/api/v5/trade/fills-history")
        assert (status, missing["code"]) == (400, "50014")
        # the maker side of a trade the market made is recorded too
        await _place(sim, "mk", px="64999.9", sz="0.01")
        now = sim.exchange.clock.time_ns()
        sim.exchange.publish(
            sim.exchange.engine.background_trade(BTC, OrderSide.SELL, 649_999, 31_000_000, now)
        )
        _, body = await sim.call("GET", "/api/v5/trade/fills?limit=1")
        maker = body["data"][0]
        assert (maker["clOrdId"], maker["execType"]) == ("mk", "M")


@pytest.mark.parametrize(("env", "header"), [("live", "1"), ("demo", "")])
async def test_key_of_the_other_environment_50101(env: str, header: str) -> None:
    async with okx_sim(OkxConfig(key_environment=env)) as sim:  # type: ignore[arg-type]
        extra = {"x-simulated-trading": header} if header else {}
        status, body = await sim.call("GET", "/api/v5/account/balance", headers=extra)
        assert (status, body["code"]) == (401, "50101")
        assert body["msg"] == "APIKey does not match current environment."
        right = {} if header else {"x-simulated-trading": "1"}
        status, body = await sim.call("GET", "/api/v5/account/balance", headers=right)
        assert (status, body["code"]) == (200, "0")
        url = sim.ws + "/ws/v5/private"
        async with sim.http.ws_connect(url, headers=extra) as ws:
            args = okx_ws_login_args(sim.creds, okx_ws_timestamp(int(time.time() * 1000)))
            await ws.send_str(json.dumps({"op": "login", "args": [args]}))
            reply = await recv(ws)
            assert (reply["event"], reply["code"]) == ("error", "50101")
            closed = await ws.receive(2)
            assert closed.type is WSMsgType.CLOSE and closed.data == 4001
        async with sim.http.ws_connect(url, headers=right) as ws:
            args = okx_ws_login_args(sim.creds, okx_ws_timestamp(int(time.time() * 1000)))
            await ws.send_str(json.dumps({"op": "login", "args": [args]}))
            assert (await recv(ws))["code"] == "0"


async def test_ws_amend_pushes_amend_result() -> None:
    async with okx_sim() as sim, sim.http.ws_connect(sim.ws + "/ws/v5/private") as ws:
        sim.seed_book()
        args = okx_ws_login_args(sim.creds, okx_ws_timestamp(int(time.time() * 1000)))
        await ws.send_str(json.dumps({"op": "login", "args": [args]}))
        assert (await recv(ws))["code"] == "0"
        sub = {"channel": "orders", "instType": "SPOT"}
        await ws.send_str(json.dumps({"id": "s", "op": "subscribe", "args": [sub]}))
        await until(ws, lambda m: m.get("event") == "channel-conn-count")
        place = order_body(clOrdId="w1", px="64000")
        await ws.send_str(json.dumps({"id": "1", "op": "order", "args": [place]}))
        live = (await until(ws, lambda m: "arg" in m))["data"][0]  # pushed before the answer
        assert live["state"] == "live" and live["amendResult"] == ""
        await until(ws, lambda m: m.get("id") == "1")
        amend = {"instId": BTC, "clOrdId": "w1", "newPx": "64100", "newSz": "0.02", "reqId": "q7"}
        await ws.send_str(json.dumps({"id": "2", "op": "amend-order", "args": [amend]}))
        push = (await until(ws, lambda m: m.get("arg", {}).get("channel") == "orders"))["data"][0]
        reply = await until(ws, lambda m: m.get("id") == "2")
        assert (reply["op"], reply["code"], reply["data"][0]["reqId"]) == ("amend-order", "0", "q7")
        assert (push["amendResult"], push["reqId"], push["px"], push["sz"], push["state"]) == (
            "0",
            "q7",
            "64100",
            "0.02",
            "live",
        )
        batch = [
            {"instId": BTC, "clOrdId": "w1", "newSz": "0.01"},
            {"instId": BTC, "clOrdId": "zz", "newSz": "0.01"},
        ]
        await ws.send_str(json.dumps({"id": "3", "op": "batch-amend-orders", "args": batch}))
        reply = await until(ws, lambda m: m.get("id") == "3")
        assert reply["code"] == "2" and [d["sCode"] for d in reply["data"]] == ["0", "51503"]


@pytest.mark.parametrize(("env", "flag"), [("live", "0"), ("demo", "1")])
async def test_python_okx_sdk_amend_fills_and_environment(env: str, flag: str) -> None:
    trade_mod = pytest.importorskip("okx.Trade")
    config = OkxConfig(key_environment=env)  # type: ignore[arg-type]
    async with start_sim("okx", market=False, venue_options={"config": config}) as sim:
        now = sim.exchange.clock.time_ns()
        engine = sim.exchange.engine
        sim.exchange.publish(
            engine.apply_background_diff(BTC, [(649_999, 30_000_000)], [(650_001, 50_000_000)], now)
        )
        args = (sim.api_key, sim.api_secret, sim.passphrase, None)
        trade = trade_mod.TradeAPI(*args, flag, domain=sim.urls.rest)
        other = trade_mod.TradeAPI(*args, "1" if flag == "0" else "0", domain=sim.urls.rest)

        def run() -> dict[str, Any]:
            out: dict[str, Any] = {}
            out["place"] = trade.place_order(
                instId=BTC, tdMode="cash", side="buy", ordType="limit", px="64000", sz="0.01",
                clOrdId="sdk1",
            )  # fmt: skip
            out["amend"] = trade.amend_order(instId=BTC, clOrdId="sdk1", newPx="64500", reqId="r1")
            out["amend_batch"] = trade.amend_multiple_orders(
                [{"instId": BTC, "clOrdId": "sdk1", "newSz": "0.02"}]
            )
            out["take"] = trade.place_order(
                instId=BTC, tdMode="cash", side="buy", ordType="ioc", px="65000.1", sz="0.01",
                clOrdId="sdk2",
            )  # fmt: skip
            out["fills"] = trade.get_fills(instType="SPOT", instId=BTC)
            out["history"] = trade.get_fills_history(instType="SPOT", instId=BTC)
            out["wrong_env"] = other.get_order_list(instType="SPOT")
            return out

        out = await asyncio.to_thread(run)
        for name in ("place", "amend", "amend_batch", "take", "fills", "history"):
            assert out[name]["code"] == "0", (name, out[name])
        assert out["amend"]["data"][0]["reqId"] == "r1"
        snap = engine.order_by_client_id("user", BTC, "sdk1")
        assert snap is not None and (snap.price, snap.qty) == (645_000, 2_000_000)
        assert [f["clOrdId"] for f in out["fills"]["data"]] == ["sdk2"]
        assert out["history"]["data"] == out["fills"]["data"]
        assert out["wrong_env"]["code"] == "50101"
