"""The simulated OKX WebSockets over real loopback: public book/trade channels with their
sequence and checksum rules, login and the private `orders` channel, WS order entry, the
WebSocket fault hooks, and the python-okx SDK's WebSocket framing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from support import until as wait_for

from engine.clock import LiveClock
from engine.model.enums import OrderSide, OrderType
from engine.sim.control import add_control_routes
from engine.sim.exchange import SimExchange, SimUrls
from engine.sim.faults import FaultKind
from engine.sim.matching import OrderRequest
from engine.sim.server import SimOptions, build_exchange
from engine.sim.venues import okx
from engine.sim.venues.okx_core import OkxConfig
from engine.sim.venues.okx_messages import checksum
from engine.wire.credentials import Credentials
from engine.wire.okx_signing import okx_ws_login_args, okx_ws_timestamp

BTC = "BTC-USDT"
Msg = dict[str, Any]


@dataclass
class Sim:
    exchange: SimExchange
    urls: SimUrls
    creds: Credentials
    http: aiohttp.ClientSession

    def seed_book(self) -> None:
        bids = [(649999, 30_000_000), (649998, 200_000_000)]
        asks = [(650001, 50_000_000), (650002, 120_000_000)]
        now = self.exchange.clock.time_ns()
        self.exchange.publish(self.exchange.engine.apply_background_diff(BTC, bids, asks, now))

    def bid(self, ticks: int, lots: int = 1_000_000, cid: str = "") -> int:
        """Rest one of our bids; returns its engine id."""
        req = OrderRequest(
            "user", BTC, OrderSide.BUY, OrderType.LIMIT, qty=lots, price=ticks, client_order_id=cid
        )
        events = self.exchange.submit(req)
        return events[0].order.order_id  # type: ignore[union-attr]

    def take(self, side: OrderSide, ticks: int, lots: int) -> None:
        """A background market participant trades against the book."""
        now = self.exchange.clock.time_ns()
        self.exchange.publish(self.exchange.engine.background_trade(BTC, side, ticks, lots, now))


@contextlib.asynccontextmanager
async def okx_sim(config: OkxConfig | None = None) -> AsyncIterator[Sim]:
    options = SimOptions(api_key="k" * 32, api_secret="s" * 32, passphrase="Pass1word")
    exchange, creds, _ = build_exchange("okx", options, LiveClock())
    app = okx.create_app(exchange, config=config or OkxConfig(books_interval_s=0.05))
    add_control_routes(app, exchange)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as http:
        try:
            yield Sim(
                exchange,
                okx.urls(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"),
                creds,
                http,
            )
        finally:
            await runner.cleanup()


async def recv(ws: aiohttp.ClientWebSocketResponse, timeout: float = 2.0) -> Any:
    msg = await ws.receive(timeout)
    assert msg.type is WSMsgType.TEXT, msg
    return msg.data if msg.data == "pong" else json.loads(msg.data)


async def until(
    ws: aiohttp.ClientWebSocketResponse, pred: Callable[[Any], bool], timeout: float = 2.0
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        msg = await recv(ws, max(0.01, deadline - time.monotonic()))
        if pred(msg):
            return msg


async def quiet(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> list[Any]:
    """Everything received within `seconds` (an empty list if nothing came)."""
    out = []
    with contextlib.suppress(TimeoutError):
        while True:
            out.append(await ws.receive(seconds))
    return out


def channel_is(name: str) -> Callable[[Any], bool]:
    return lambda m: isinstance(m, dict) and m.get("arg", {}).get("channel") == name and "data" in m


class LocalBook:
    """A client's book, kept by OKX's documented procedure (docs/VENUES.md §2.4)."""

    def __init__(self, snapshot: Msg) -> None:
        data = snapshot["data"][0]
        assert snapshot["action"] == "snapshot" and data["prevSeqId"] == -1
        self.bids = {r[0]: r[1] for r in data["bids"]}
        self.asks = {r[0]: r[1] for r in data["asks"]}
        self.seq = data["seqId"]
        assert self.crc() == data["checksum"]

    def apply(self, update: Msg) -> None:
        data = update["data"][0]
        assert update["action"] == "update" and data["prevSeqId"] == self.seq
        for rows, side in ((data["bids"], self.bids), (data["asks"], self.asks)):
            for px, sz, *_ in rows:
                if sz == "0":
                    side.pop(px, None)
                else:
                    side[px] = sz
        self.seq = data["seqId"]
        assert self.crc() == data["checksum"]

    def crc(self) -> int:
        # written independently of the simulator's checksum(): interleave, join, CRC32, int32
        bids = sorted(self.bids.items(), key=lambda kv: -float(kv[0]))[:25]
        asks = sorted(self.asks.items(), key=lambda kv: float(kv[0]))[:25]
        parts = []
        for i in range(25):
            parts += [
                f"{p}:{s}"
                for p, s in ([bids[i]] if i < len(bids) else [])
                + ([asks[i]] if i < len(asks) else [])
            ]
        value = zlib.crc32(":".join(parts).encode())
        return value - 2**32 if value > 2**31 - 1 else value


def test_checksum_matches_the_documented_strings() -> None:
    assert (
        checksum([("3366.1", "7"), ("3366", "6")], [("3366.8", "9"), ("3368", "8")]) == -1881014294
    )
    assert checksum([("3366.1", "7"), ("3368", "8")], [("3366.8", "9"), ("3372", "8")]) == 831078360


async def subscribe(ws: aiohttp.ClientWebSocketResponse, *args: Msg, req_id: str = "1") -> None:
    """Send a subscribe; acks and data are read by the caller (OKX may interleave them)."""
    await ws.send_str(json.dumps({"id": req_id, "op": "subscribe", "args": list(args)}))


# -- public channels -------------------------------------------------------------------------


async def test_books_snapshot_then_chained_updates() -> None:
    async with okx_sim() as sim:
        sim.seed_book()
        async with sim.http.ws_connect(sim.urls.ws_public) as ws:
            await subscribe(ws, {"channel": "books", "instId": BTC}, req_id="77")
            ack = await recv(ws)
            assert ack["event"] == "subscribe" and ack["id"] == "77" and ack["connId"]
            assert ack["arg"] == {"channel": "books", "instId": BTC}
            book = LocalBook(await until(ws, channel_is("books")))
            assert book.bids == {"64999.9": "0.3", "64999.8": "2"}
            for i in range(3):
                sim.bid(640000 + i)
                book.apply(await until(ws, channel_is("books")))
            assert book.bids["64000.2"] == "0.01"
            # several changes inside one interval arrive as one update
            sim.bid(630000)
            sim.bid(630001)
            update = await until(ws, channel_is("books"))
            assert len(update["data"][0]["bids"]) == 2
            book.apply(update)
            async with sim.http.get(
                sim.urls.rest + "/api/v5/market/books?instId=BTC-USDT&sz=400"
            ) as r:
                rest = (await r.json())["data"][0]
            assert {row[0]: row[1] for row in rest["bids"]} == book.bids


async def test_tbt_bbo_trades_books5() -> None:
    async with okx_sim() as sim:
        sim.seed_book()
        async with sim.http.ws_connect(sim.urls.ws_public) as ws:
            args = [
                {"channel": c, "instId": BTC}
                for c in ("books-l2-tbt", "bbo-tbt", "trades", "books5")
            ]
            await subscribe(ws, *args)
            book = LocalBook(await until(ws, channel_is("books-l2-tbt")))
            bbo = await until(ws, channel_is("bbo-tbt"))
            assert bbo["data"][0]["bids"] == [["64999.9", "0.3", "0", "1"]]
            five = await until(ws, channel_is("books5"))
            assert five["data"][0]["instId"] == BTC and len(five["data"][0]["asks"]) == 2
            # a taker buy sweeping both ask levels: one trades message per price
            sim.take(OrderSide.BUY, 650002, 60_000_000)
            got: dict[str, list[Msg]] = {"trades": [], "books-l2-tbt": [], "bbo-tbt": []}
            while len(got["trades"]) < 2 or not got["books-l2-tbt"] or not got["bbo-tbt"]:
                msg = await recv(ws)
                if msg["arg"]["channel"] in got:
                    got[msg["arg"]["channel"]].append(msg)
            first, second = (m["data"][0] for m in got["trades"])
            assert (first["px"], first["sz"], first["side"], first["count"]) == (
                "65000.1",
                "0.5",
                "buy",
                "1",
            )
            assert (second["px"], second["sz"]) == ("65000.2", "0.1")
            assert int(second["tradeId"]) > int(first["tradeId"])
            for update in got["books-l2-tbt"]:
                book.apply(update)
            assert book.asks == {"65000.2": "1.1"}
            assert got["bbo-tbt"][-1]["data"][0]["asks"] == [["65000.2", "1.1", "0", "1"]]


async def test_ping_errors_unsubscribe_and_zero_checksum() -> None:
    async with okx_sim(OkxConfig(checksum="zero", books_interval_s=0.05)) as sim:
        sim.seed_book()
        async with sim.http.ws_connect(sim.urls.ws_public) as ws:
            await ws.send_str("ping")
            assert await recv(ws) == "pong"
            await ws.send_str(
                json.dumps({"op": "subscribe", "args": [{"channel": "nope", "instId": BTC}]})
            )
            err = await recv(ws)
            assert (err["event"], err["code"]) == ("error", "60018")
            await ws.send_str("{bad json")
            assert (await recv(ws))["code"] == "60012"
            await subscribe(ws, {"channel": "books", "instId": BTC})
            snap = await until(ws, channel_is("books"))
            assert snap["data"][0]["checksum"] == 0
            await ws.send_str(
                json.dumps(
                    {"op": "subscribe", "args": [{"channel": "books-l2-tbt", "instId": BTC}]}
                )
            )
            assert (await until(ws, lambda m: m.get("event") == "error"))["code"] == "64004"
            await ws.send_str(
                json.dumps({"op": "unsubscribe", "args": [{"channel": "books", "instId": BTC}]})
            )
            ack = await until(ws, lambda m: m.get("event") == "unsubscribe")
            assert ack["arg"] == {"channel": "books", "instId": BTC}
            sim.bid(640000)
            assert await quiet(ws, 0.3) == []


async def test_idle_connection_closed_4004() -> None:
    async with (
        okx_sim(OkxConfig(idle_timeout_s=0.3)) as sim,
        sim.http.ws_connect(sim.urls.ws_public) as ws,
    ):
        msg = await ws.receive(2.0)
        assert msg.type is WSMsgType.CLOSE and msg.data == 4004


# -- public faults ---------------------------------------------------------------------------


async def _tbt(sim: Sim) -> tuple[aiohttp.ClientWebSocketResponse, LocalBook]:
    ws = await sim.http.ws_connect(sim.urls.ws_public)
    await subscribe(ws, {"channel": "books-l2-tbt", "instId": BTC})
    return ws, LocalBook(await until(ws, channel_is("books-l2-tbt")))


async def test_skip_duplicate_reorder() -> None:
    async with okx_sim() as sim:
        sim.seed_book()
        faults = sim.exchange.faults
        ws, book = await _tbt(sim)
        async with ws:
            faults.arm(FaultKind.SKIP_SEQUENCE, "ws.public")
            sim.bid(640000)
            sim.bid(640001)
            gap = await recv(ws)
            assert gap["data"][0]["prevSeqId"] == book.seq + 1  # one diff never came
            with pytest.raises(AssertionError):
                book.apply(gap)

            faults.arm(FaultKind.DUPLICATE_MESSAGE, "ws.public")
            sim.bid(640002)
            a, b = await ws.receive(1), await ws.receive(1)
            assert a.data == b.data

            faults.arm(FaultKind.REORDER_MESSAGES, "ws.public")
            sim.bid(640003)
            sim.bid(640004)
            x, y = await recv(ws), await recv(ws)
            assert x["data"][0]["seqId"] == y["data"][0]["seqId"] + 1

        counts = faults.counters()
        for kind in ("skip_sequence", "duplicate_message", "reorder_messages"):
            assert counts[kind] == 1, kind


async def test_bad_checksum_detected_by_client() -> None:
    async with okx_sim() as sim:
        sim.seed_book()
        ws, book = await _tbt(sim)
        async with ws:
            sim.exchange.faults.arm(FaultKind.BAD_CHECKSUM, "ws.public")
            sim.bid(640000)
            with pytest.raises(AssertionError):
                book.apply(await recv(ws))  # the sequence chains, the checksum does not match
            assert sim.exchange.faults.counters()["bad_checksum"] == 1


async def test_malformed_freeze_drop() -> None:
    async with okx_sim() as sim:
        sim.seed_book()
        faults = sim.exchange.faults
        ws, _ = await _tbt(sim)
        async with ws:
            faults.arm(FaultKind.MALFORMED_FRAME, "ws.public")
            sim.bid(640000)
            text = (await ws.receive(1)).data
            with pytest.raises(json.JSONDecodeError):
                json.loads(text)

            faults.arm(FaultKind.FREEZE_CONNECTION, "ws.public")
            sim.bid(640001)
            await ws.send_str("ping")
            assert await quiet(ws, 0.4) == []
            assert not ws.closed  # frozen, not closed

        ws, _ = await _tbt(sim)
        async with ws:
            faults.arm(FaultKind.DROP_CONNECTION, "ws.public")
            sim.bid(640002)
            msg = await ws.receive(2)
            assert msg.type in (WSMsgType.CLOSED, WSMsgType.ERROR, WSMsgType.CLOSE)
            assert msg.type is not WSMsgType.CLOSE or msg.data != 1000
        counts = faults.counters()
        assert (
            counts["malformed_frame"]
            == counts["freeze_connection"]
            == counts["drop_connection"]
            == 1
        )


async def test_latency_on_public() -> None:
    async with okx_sim() as sim:
        sim.seed_book()
        ws, _ = await _tbt(sim)
        async with ws:
            sim.exchange.faults.set_latency("ws.public", 0.25)
            started = time.monotonic()
            sim.bid(640000)
            await recv(ws)
            assert time.monotonic() - started >= 0.25


# -- private: login, orders channel, order entry ----------------------------------------------


async def login(sim: Sim, ws: aiohttp.ClientWebSocketResponse, **over: Any) -> Msg:
    args = okx_ws_login_args(sim.creds, okx_ws_timestamp(int(time.time() * 1000)))
    args.update(over)
    await ws.send_str(json.dumps({"op": "login", "args": [args]}))
    return await recv(ws)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"sign": "AAAA"}, "60007"),
        ({"timestamp": str(int(time.time()) - 120)}, "60006"),
        ({"timestamp": "soon"}, "60004"),
        ({"apiKey": "nope"}, "60005"),
        ({"passphrase": "nope"}, "60024"),
    ],
)
async def test_login_failures_close_4001(over: dict[str, str], code: str) -> None:
    async with okx_sim() as sim, sim.http.ws_connect(sim.urls.ws_private) as ws:
        if "timestamp" in over and over["timestamp"].isdigit():
            over = {**over, "sign": okx_ws_login_args(sim.creds, over["timestamp"])["sign"]}
        reply = await login(sim, ws, **over)
        assert (reply["event"], reply["code"]) == ("error", code)
        msg = await ws.receive(2)
        assert msg.type is WSMsgType.CLOSE and msg.data == 4001


async def test_orders_channel_pushes() -> None:
    async with okx_sim() as sim, sim.http.ws_connect(sim.urls.ws_private) as ws:
        sim.seed_book()
        await ws.send_str(
            json.dumps({"op": "subscribe", "args": [{"channel": "orders", "instType": "SPOT"}]})
        )
        assert (await recv(ws))["code"] == "60011"
        reply = await login(sim, ws)
        assert (reply["event"], reply["code"], reply["msg"]) == ("login", "0", "")
        assert (await login(sim, ws))["code"] == "60031"
        await subscribe(ws, {"channel": "orders", "instType": "SPOT", "instId": BTC})
        assert (await recv(ws))["event"] == "subscribe"
        count = await recv(ws)
        assert (count["event"], count["channel"], count["connCount"]) == (
            "channel-conn-count",
            "orders",
            "1",
        )

        oid = sim.bid(649999, 2_000_000, cid="w1")  # joins the best bid behind 0.3 background
        live = await recv(ws)
        order = live["data"][0]
        assert live["arg"]["channel"] == "orders" and live["arg"]["uid"]
        assert (order["state"], order["clOrdId"], order["px"], order["sz"]) == (
            "live",
            "w1",
            "64999.9",
            "0.02",
        )
        assert (order["fillSz"], order["tradeId"], order["execType"]) == ("0", "", "")

        sim.take(OrderSide.SELL, 649999, 31_000_000)  # eats the 0.3 ahead, then 0.01 of ours
        part = (await recv(ws))["data"][0]
        assert (part["state"], part["fillSz"], part["accFillSz"], part["execType"]) == (
            "partially_filled", "0.01", "0.01", "M",
        )  # fmt: skip
        assert part["fillPx"] == "64999.9" and part["fillFee"].startswith("-") and part["tradeId"]
        sim.exchange.cancel("user", BTC, order_id=oid)
        done = (await recv(ws))["data"][0]
        assert (done["state"], done["cancelSource"], done["accFillSz"]) == ("canceled", "1", "0.01")


async def test_ws_order_entry() -> None:
    async with okx_sim() as sim, sim.http.ws_connect(sim.urls.ws_private) as ws:
        place = {
            "instId": BTC,
            "tdMode": "cash",
            "side": "buy",
            "ordType": "limit",
            "px": "60000",
            "sz": "0.01",
        }
        await ws.send_str(json.dumps({"id": "1", "op": "order", "args": [place]}))
        assert (await recv(ws))["code"] == "60011"
        await login(sim, ws)
        await ws.send_str(
            json.dumps({"id": "2", "op": "order", "args": [{**place, "clOrdId": "ws1"}]})
        )
        reply = await recv(ws)
        assert (reply["id"], reply["op"], reply["code"], reply["msg"]) == ("2", "order", "0", "")
        assert reply["data"][0]["sCode"] == "0" and reply["data"][0]["clOrdId"] == "ws1"
        assert int(reply["outTime"]) >= int(reply["inTime"])
        ord_id = reply["data"][0]["ordId"]

        batch = [{**place, "clOrdId": "ws2"}, {**place, "clOrdId": "ws3", "sz": "1000"}]
        await ws.send_str(json.dumps({"id": "3", "op": "batch-orders", "args": batch}))
        reply = await recv(ws)
        assert reply["code"] == "2" and [d["sCode"] for d in reply["data"]] == ["0", "51008"]

        await ws.send_str(
            json.dumps(
                {"id": "4", "op": "cancel-order", "args": [{"instId": BTC, "ordId": ord_id}]}
            )
        )
        reply = await recv(ws)
        assert (reply["code"], reply["data"][0]["sCode"], reply["data"][0]["ordId"]) == (
            "0",
            "0",
            ord_id,
        )
        cancels = [{"instId": BTC, "clOrdId": "ws2"}, {"instId": BTC, "clOrdId": "ws9"}]
        await ws.send_str(json.dumps({"id": "5", "op": "batch-cancel-orders", "args": cancels}))
        reply = await recv(ws)
        assert [d["sCode"] for d in reply["data"]] == ["0", "51400"]
        await ws.send_str(json.dumps({"op": "order", "args": [place]}))
        assert (await recv(ws))["code"] == "60013"  # order entry needs an id
        await ws.send_str(json.dumps({"id": "6", "op": "order", "args": [{**place, "px": ""}]}))
        assert (await recv(ws))["code"] == "50014"
        assert sim.exchange.engine.open_orders("user") == []


async def test_ws_ack_faults() -> None:
    config = OkxConfig(delay_ack_s=0.3)
    async with okx_sim(config) as sim, sim.http.ws_connect(sim.urls.ws_private) as ws:
        await login(sim, ws)
        faults = sim.exchange.faults
        place = {
            "instId": BTC,
            "tdMode": "cash",
            "side": "buy",
            "ordType": "limit",
            "px": "60000",
            "sz": "0.01",
        }

        faults.arm(FaultKind.LOSE_ACK, "ws.api")
        await ws.send_str(
            json.dumps({"id": "1", "op": "order", "args": [{**place, "clOrdId": "lost"}]})
        )
        assert await quiet(ws, 0.3) == []
        assert sim.exchange.engine.order_by_client_id("user", BTC, "lost") is not None  # it rests

        faults.arm(FaultKind.DELAY_ACK, "ws.api")
        started = time.monotonic()
        await ws.send_str(
            json.dumps({"id": "2", "op": "order", "args": [{**place, "clOrdId": "late"}]})
        )
        # the order is placed at once; only its acknowledgement is late
        await wait_for(lambda: sim.exchange.engine.order_by_client_id("user", BTC, "late"))
        reply = await recv(ws)
        assert reply["id"] == "2" and time.monotonic() - started >= 0.3
        assert faults.counters()["lose_ack"] == faults.counters()["delay_ack"] == 1


async def test_private_channel_faults() -> None:
    async with okx_sim() as sim, sim.http.ws_connect(sim.urls.ws_private) as ws:
        await login(sim, ws)
        await subscribe(ws, {"channel": "orders", "instType": "ANY"})
        assert (await recv(ws))["event"] == "subscribe"
        assert (await recv(ws))["event"] == "channel-conn-count"
        sim.exchange.faults.arm(FaultKind.DUPLICATE_MESSAGE, "ws.private")
        sim.bid(640000)
        a, b = await ws.receive(1), await ws.receive(1)
        assert a.data == b.data and json.loads(a.data)["data"][0]["state"] == "live"
        assert sim.exchange.faults.counters()["duplicate_message"] == 1


# -- the official SDK's WebSocket classes -----------------------------------------------------


async def test_python_okx_sdk_websocket_framing() -> None:
    """python-okx 0.4.4 passes an ssl context to websockets.connect for every URL, which
    websockets refuses for ws://, so the socket is opened here and handed to the SDK objects;
    everything they send (login, subscribe, order ops) is the SDK's own code."""
    websockets = pytest.importorskip("websockets")
    WsPrivateAsync = pytest.importorskip("okx.websocket.WsPrivateAsync").WsPrivateAsync
    WsPublicAsync = pytest.importorskip("okx.websocket.WsPublicAsync").WsPublicAsync

    async with okx_sim() as sim:
        sim.seed_book()
        received: list[Msg] = []
        public = WsPublicAsync(url=sim.urls.ws_public)
        public.websocket = await websockets.connect(sim.urls.ws_public)
        consumer = asyncio.create_task(public.consume())
        await public.subscribe(
            [{"channel": "books", "instId": BTC}], lambda m: received.append(json.loads(m))
        )
        await wait_for(lambda: any(m.get("action") == "snapshot" for m in received))
        assert received[0]["event"] == "subscribe"
        LocalBook(next(m for m in received if m.get("action") == "snapshot"))

        private = WsPrivateAsync(
            apiKey=sim.creds.api_key,
            passphrase=sim.creds.passphrase,
            secretKey=sim.creds.api_secret,
            url=sim.urls.ws_private,
        )
        private.websocket = await websockets.connect(sim.urls.ws_private)
        assert await private.login()  # the SDK sends its timestamp as a JSON number
        assert json.loads(await private.websocket.recv())["event"] == "login"
        order = {
            "instId": BTC,
            "tdMode": "cash",
            "side": "buy",
            "ordType": "post_only",
            "px": "60000",
            "sz": "0.01",
            "clOrdId": "sdkws",
        }
        await private.place_order([order], id="7")
        reply = json.loads(await private.websocket.recv())
        assert (reply["id"], reply["code"], reply["data"][0]["sCode"]) == ("7", "0", "0")
        await private.cancel_order([{"instId": BTC, "clOrdId": "sdkws"}], id="8")
        assert json.loads(await private.websocket.recv())["data"][0]["sCode"] == "0"
        await private.websocket.close()
        await public.websocket.close()
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await consumer


async def test_books_stay_consistent_under_the_background_market() -> None:
    """With the synthetic market running, every `books` and `books-l2-tbt` update chains by
    seqId and its checksum matches the client's book."""
    from engine.sim.server import start_sim

    async with (
        start_sim("okx", seed=5) as sim,
        aiohttp.ClientSession() as http,
        http.ws_connect(sim.urls.ws_public) as ws,
    ):
        await subscribe(
            ws,
            {"channel": "books", "instId": BTC},
            {"channel": "books-l2-tbt", "instId": "ETH-USDT"},
        )
        books: dict[str, LocalBook] = {}
        updates = {"books": 0, "books-l2-tbt": 0}
        deadline = time.monotonic() + 3.0
        while min(updates.values()) < 10 and time.monotonic() < deadline:
            msg = await recv(ws)
            channel = msg.get("arg", {}).get("channel")
            if "data" not in msg:
                continue
            if msg["action"] == "snapshot":
                books[channel] = LocalBook(msg)
            else:
                books[channel].apply(msg)
                updates[channel] += 1
        assert min(updates.values()) >= 10, updates


async def test_account_channel_and_tag_in_pushes() -> None:
    async with okx_sim() as sim, sim.http.ws_connect(sim.urls.ws_private) as ws:
        await login(sim, ws)
        await subscribe(ws, {"channel": "account"}, {"channel": "orders", "instType": "SPOT"})
        first = await until(ws, channel_is("account"))
        usdt = {d["ccy"]: d for d in first["data"][0]["details"]}["USDT"]
        assert (usdt["availBal"], usdt["frozenBal"]) == ("100000", "0")
        assert first["arg"]["uid"]
        place = {
            "instId": BTC,
            "tdMode": "cash",
            "side": "buy",
            "ordType": "limit",
            "px": "60000",
            "sz": "0.01",
        }
        await ws.send_str(json.dumps({"id": "1", "op": "order", "args": [{**place, "tag": "q1"}]}))
        live = await until(ws, channel_is("orders"))
        assert (live["data"][0]["state"], live["data"][0]["tag"]) == ("live", "q1")
        after = await until(ws, channel_is("account"))
        usdt = {d["ccy"]: d for d in after["data"][0]["details"]}["USDT"]
        assert (usdt["availBal"], usdt["frozenBal"], usdt["cashBal"]) == (
            "99399.4",
            "600.6",
            "100000",
        )


async def test_books_heartbeat_repeats_the_seq_id() -> None:
    config = OkxConfig(books_interval_s=0.05, heartbeat_s=0.2)
    async with okx_sim(config) as sim, sim.http.ws_connect(sim.urls.ws_public) as ws:
        sim.seed_book()
        await subscribe(ws, {"channel": "books", "instId": BTC})
        book = LocalBook(await until(ws, channel_is("books")))
        beat = await until(ws, channel_is("books"))
        data = beat["data"][0]
        assert (data["bids"], data["asks"], data["prevSeqId"]) == ([], [], data["seqId"])
        book.apply(beat)


async def test_hostile_frames_get_errors_not_crashes() -> None:
    async with okx_sim() as sim, sim.http.ws_connect(sim.urls.ws_private) as ws:
        await login(sim, ws)
        for frame in (
            {"op": ["order"]},
            {"op": "subscribe", "args": [{"channel": "orders", "instType": ["SPOT"]}]},
            {"op": "subscribe", "args": ["books"]},
            {"id": "1", "op": "cancel-order", "args": [{"instId": ["BTC-USDT"], "ordId": "1"}]},
            {"id": "2", "op": "order", "args": "nope"},
        ):
            await ws.send_str(json.dumps(frame))
            reply = await recv(ws)
            assert reply.get("code") not in (None, "0"), (frame, reply)
        await ws.send_str("ping")
        assert await recv(ws) == "pong"  # still serving


async def test_shutdown_closes_open_sockets_promptly() -> None:
    from engine.sim.server import start_sim

    async with aiohttp.ClientSession() as http:
        async with start_sim("okx", seed=2, market=False) as sim:
            ws = await http.ws_connect(sim.urls.ws_public)
            await subscribe(ws, {"channel": "books", "instId": BTC})
            await recv(ws)
            started = time.monotonic()
        assert time.monotonic() - started < 5.0
        msg = await ws.receive(1.0)
        assert msg.type is WSMsgType.CLOSE and msg.data == 1001
