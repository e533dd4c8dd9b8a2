"""Binance spot WebSockets: market streams (`/ws`, `/ws/<streams>`, `/stream?streams=`) and the
endpoint of the WS API (`/ws-api/v3`, requests handled in `binance_wsapi`), docs/VENUES.md §1.2.

Diff depth is batched per update speed (100 ms / 1000 ms) across every connection, so all
clients see the same `U`/`u` ranges, contiguous with `lastUpdateId` of the REST snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from engine.sim.faults import FaultKind
from engine.sim.matching import DepthUpdate, Event, PublicTrade
from engine.sim.venues import binance_messages as m
from engine.sim.venues.binance_conn import Conn
from engine.sim.venues.binance_trading import BinanceVenue
from engine.sim.venues.binance_user import UserStreams
from engine.sim.venues.binance_wsapi import ApiSession

PUBLIC = "ws.public"
TICK_S = 0.1  # the fastest depth speed; 1000 ms streams flush every 10th tick
_STREAM = re.compile(r"^([a-z0-9]+)@(trade|aggTrade|bookTicker|depth(5|10|20)?(@100ms|@1000ms)?)$")
MAX_STREAMS = 1024
LISTEN_KEY_POLL_S = 0.05
log = logging.getLogger("engine.sim")


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


@dataclass(frozen=True, slots=True)
class StreamSpec:
    symbol: str
    kind: str  # trade | aggTrade | bookTicker | depth | partial
    levels: int = 0
    fast: bool = False  # 100 ms


@dataclass(slots=True)
class _PendingDepth:
    first_id: int
    last_id: int
    ts_ns: int
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)

    def merge(self, update: DepthUpdate) -> None:
        self.last_id = update.update_id
        self.ts_ns = update.ts_ns
        self.bids.update(update.bids)
        self.asks.update(update.asks)


class StreamConn(Conn):
    """A market-stream connection: its streams and whether events come wrapped."""

    def __init__(self, *args: Any, combined: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.combined = combined
        self.streams: set[str] = set()


class WsServer:
    """Both WebSocket endpoints of one simulated Binance."""

    def __init__(self, venue: BinanceVenue) -> None:
        self.venue = venue
        self.exchange = venue.exchange
        self._symbols = {inst.symbol.lower(): inst.symbol for inst in self.exchange.instruments()}
        self._subs: dict[str, set[StreamConn]] = {}
        self._specs: dict[str, StreamSpec] = {}
        self._pending: dict[bool, dict[str, _PendingDepth]] = {True: {}, False: {}}
        self._tickers: dict[str, tuple[object, object]] = {}
        self._conns: set[Conn] = set()
        self._ticker_task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.user = UserStreams(venue)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/ws", self._streams_raw)
        app.router.add_get("/ws/{streams:.+}", self._streams_raw)
        app.router.add_get("/stream", self._streams_combined)
        app.router.add_get("/ws-api/v3", self._ws_api)
        app.on_startup.append(self._start)
        app.on_shutdown.append(self._shutdown)

    async def _start(self, _app: web.Application) -> None:
        self._unsubscribe = self.exchange.on_public(self._on_public)
        self._ticker_task = asyncio.create_task(self._tick_loop())

    async def _shutdown(self, _app: web.Application) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._ticker_task is not None:
            self._ticker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker_task
        for conn in list(self._conns):
            await conn.stop()
            await conn.ws.close(code=1001)
        self.user.close()

    def _pings(self) -> dict[str, float]:
        knobs = self.venue.knobs
        return {"ping_interval_s": knobs.ping_interval_s, "pong_deadline_s": knobs.pong_deadline_s}

    # -- market streams -------------------------------------------------------------------

    def spec(self, name: str) -> StreamSpec | None:
        match = _STREAM.match(name)
        if match is None:
            return None
        symbol = self._symbols.get(match.group(1), match.group(1).upper())
        kind = match.group(2)
        if kind in ("trade", "aggTrade", "bookTicker"):
            return StreamSpec(symbol, kind)
        fast = match.group(4) == "@100ms"
        if match.group(3):
            return StreamSpec(symbol, "partial", int(match.group(3)), fast)
        return StreamSpec(symbol, "depth", 0, fast)

    def _subscribe(self, conn: StreamConn, names: list[str]) -> str | None:
        """Add streams; the first invalid name is returned (nothing is added then)."""
        for name in names:
            if self.spec(name) is None:
                return name
        for name in names:
            self._specs[name] = self.spec(name)  # type: ignore[assignment]
            self._subs.setdefault(name, set()).add(conn)
            conn.streams.add(name)
        return None

    def _unsubscribe_streams(self, conn: StreamConn, names: list[str]) -> None:
        for name in names:
            conn.streams.discard(name)
            subs = self._subs.get(name)
            if subs is not None:
                subs.discard(conn)
                if not subs:
                    del self._subs[name]

    def _emit(self, name: str, data: Any) -> None:
        subs = self._subs.get(name)
        if not subs:
            return
        raw = dumps(data)
        wrapped = None
        for conn in subs:
            if conn.combined:
                wrapped = wrapped or dumps({"stream": name, "data": data})
                conn.push(PUBLIC, wrapped)
            else:
                conn.push(PUBLIC, raw)

    def _on_public(self, event: Event) -> None:
        if isinstance(event, DepthUpdate):
            for fast in (True, False):
                pending = self._pending[fast].get(event.symbol)
                if pending is None:
                    pending = _PendingDepth(event.update_id, event.update_id, event.ts_ns)
                    self._pending[fast][event.symbol] = pending
                pending.merge(event)
            self._book_ticker(event)
        elif isinstance(event, PublicTrade):
            self._trade(event)

    def _book_ticker(self, update: DepthUpdate) -> None:
        name = f"{update.symbol.lower()}@bookTicker"
        if name not in self._subs:
            return
        _, bids, asks = self.exchange.engine.depth(update.symbol, 1)
        top = (bids[0] if bids else None, asks[0] if asks else None)
        if self._tickers.get(update.symbol) == top:
            return  # the best levels did not change
        self._tickers[update.symbol] = top
        u = self.venue.units(update.symbol)
        self._emit(name, m.book_ticker(update.symbol, update.update_id, u, *top))

    def _trade(self, trade: PublicTrade) -> None:
        lower = trade.symbol.lower()
        u = self.venue.units(trade.symbol)
        now = self.venue.now_ns()
        body = m.trade_event(trade, u, now)
        self._emit(f"{lower}@trade", body)
        if f"{lower}@aggTrade" in self._subs:
            agg = {
                "e": "aggTrade",
                "E": body["E"],
                "s": body["s"],
                "a": trade.trade_id,
                "p": body["p"],
                "q": body["q"],
                "f": trade.trade_id,
                "l": trade.trade_id,
                "T": body["T"],
                "m": body["m"],
                "M": True,
            }
            self._emit(f"{lower}@aggTrade", agg)

    async def _tick_loop(self) -> None:
        tick = 0
        while True:
            await self.exchange.clock.sleep_ns(int(TICK_S * 1e9))
            tick += 1
            try:
                self._flush(fast=True)
                if tick % 10 == 0:
                    self._flush(fast=False)
            except Exception:  # a formatting bug must not stop every stream
                log.exception("binance stream flush failed")

    def _flush(self, fast: bool) -> None:
        pending, self._pending[fast] = self._pending[fast], {}
        now = self.venue.now_ns()
        for name, spec in list(self._specs.items()):
            if name not in self._subs or spec.fast != fast:
                continue
            if spec.kind == "depth":
                batch = pending.get(spec.symbol)
                if batch is None:
                    continue
                # SKIP_SEQUENCE: this diff is lost, the next one's U leaves a gap
                if self.exchange.faults.take(FaultKind.SKIP_SEQUENCE, PUBLIC):
                    continue
                u = self.venue.units(spec.symbol)
                bids = sorted(batch.bids.items(), reverse=True)
                asks = sorted(batch.asks.items())
                self._emit(
                    name,
                    m.depth_diff(
                        spec.symbol,
                        event_ns=now,
                        first_id=batch.first_id,
                        last_id=batch.last_id,
                        u=u,
                        bids=bids,
                        asks=asks,
                    ),
                )
            elif spec.kind == "partial" and spec.symbol in self.venue_symbols():
                update_id, bids, asks = self.exchange.engine.depth(spec.symbol, spec.levels)
                u = self.venue.units(spec.symbol)
                self._emit(name, m.depth_snapshot(update_id, u, bids, asks))

    def venue_symbols(self) -> set[str]:
        return set(self._symbols.values())

    async def _streams_raw(self, request: web.Request) -> web.StreamResponse:
        names = request.match_info.get("streams", "")
        account = self.venue.listen_key_account(names) if "@" not in names else None
        if account is not None:
            return await self._serve_listen_key(request, names, account)
        return await self._serve_streams(request, [n for n in names.split("/") if n], False)

    async def _serve_listen_key(
        self, request: web.Request, key: str, account: str
    ) -> web.StreamResponse:
        """`/ws/<listenKey>`: the account's user data events, bare, until the key is gone
        (DELETE / userDataStream.stop, or 60 minutes without a keepalive)."""
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        conn = Conn(ws, request, self.exchange.faults, self.exchange.clock, **self._pings())
        self._conns.add(conn)
        self.user.add(conn, None, account)
        conn.start()
        watch = asyncio.create_task(self._watch_listen_key(conn, key))
        try:
            async for msg in ws:
                if not conn.note_incoming(self.venue.knobs.incoming_per_s):
                    break
                if msg.type in (WSMsgType.PING, WSMsgType.PONG):
                    await conn.on_control(msg.type, msg.data)
        finally:
            watch.cancel()
            self.user.remove(conn, None)
            self._conns.discard(conn)
            await conn.stop()
            if not ws.closed:
                await ws.close()
        return ws

    async def _watch_listen_key(self, conn: Conn, key: str) -> None:
        """Once the key expires or is deleted: listenKeyExpired, then the stream ends."""
        while self.venue.listen_key_account(key) is not None:
            await asyncio.sleep(LISTEN_KEY_POLL_S)
        now = self.venue.now_ms()
        conn.push("ws.private", dumps({"e": "listenKeyExpired", "E": now, "listenKey": key}))
        await asyncio.sleep(LISTEN_KEY_POLL_S)  # let the writer send it
        self.user.remove(conn, None)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.close()

    async def _streams_combined(self, request: web.Request) -> web.StreamResponse:
        names = request.query.get("streams", "")
        return await self._serve_streams(request, [n for n in names.split("/") if n], True)

    async def _serve_streams(
        self, request: web.Request, names: list[str], combined: bool
    ) -> web.StreamResponse:
        if len(names) > MAX_STREAMS or any(self.spec(n) is None for n in names):
            return web.Response(status=400, text="Invalid request")
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        conn = StreamConn(
            ws,
            request,
            self.exchange.faults,
            self.exchange.clock,
            combined=combined,
            **self._pings(),
        )
        self._subscribe(conn, names)
        self._conns.add(conn)
        conn.start()
        try:
            async for msg in ws:
                if not conn.note_incoming(self.venue.knobs.incoming_per_s):
                    break  # over 5 messages a second: Binance drops the connection
                if msg.type is WSMsgType.TEXT:
                    self._stream_request(conn, msg.data)
                elif msg.type in (WSMsgType.PING, WSMsgType.PONG):
                    await conn.on_control(msg.type, msg.data)
        finally:
            self._unsubscribe_streams(conn, list(conn.streams))
            self._conns.discard(conn)
            await conn.stop()
            if not ws.closed:
                await ws.close()
        return ws

    def _stream_request(self, conn: StreamConn, text: str) -> None:
        try:
            req = json.loads(text)
        except ValueError:
            conn.push(PUBLIC, dumps({"code": 3, "msg": "Invalid JSON: expected value"}))
            return
        reply = self._stream_reply(conn, req) if isinstance(req, dict) else None
        if reply is None:
            reply = {"code": 2, "msg": "Invalid request: request must be an object"}
        conn.push(PUBLIC, dumps(reply))

    def _stream_reply(self, conn: StreamConn, req: dict[str, Any]) -> dict[str, Any]:
        rid = req.get("id")
        method = req.get("method")
        params = req.get("params", [])
        if not isinstance(params, list):
            return {"code": 2, "msg": "Invalid request: params must be an array", "id": rid}
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            names = [p for p in params if isinstance(p, str)]
            if len(names) != len(params):
                return {
                    "code": 2,
                    "msg": "Invalid request: stream names must be strings",
                    "id": rid,
                }
            if method == "UNSUBSCRIBE":
                self._unsubscribe_streams(conn, names)
            else:
                if len(conn.streams) + len(names) > MAX_STREAMS:
                    return {"code": 2, "msg": "Invalid request: too many streams", "id": rid}
                bad = self._subscribe(conn, names)
                if bad is not None:
                    return {
                        "code": 2,
                        "msg": f"Invalid request: invalid stream name {bad}",
                        "id": rid,
                    }
            return {"result": None, "id": rid}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(conn.streams), "id": rid}
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return self._property(conn, method, params, rid)
        return {
            "code": 2,
            "msg": f"Invalid request: unknown variant `{method}`, expected one of `SUBSCRIBE`, "
            "`UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`",
            "id": rid,
        }

    @staticmethod
    def _property(conn: StreamConn, method: str, params: list[Any], rid: Any) -> dict[str, Any]:
        if not params or params[0] != "combined":
            return {"code": 0, "msg": "Unknown property", "id": rid}
        if method == "GET_PROPERTY":
            return {"result": conn.combined, "id": rid}
        if len(params) != 2 or not isinstance(params[1], bool):
            return {"code": 1, "msg": "Invalid value type: expected Boolean", "id": rid}
        conn.combined = params[1]
        return {"result": None, "id": rid}

    # -- WS API ---------------------------------------------------------------------------

    async def _ws_api(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        conn = Conn(ws, request, self.exchange.faults, self.exchange.clock, **self._pings())
        session = ApiSession(self.venue, self.user, conn, request)
        self._conns.add(conn)
        conn.start()
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    session.handle(msg.data)
                elif msg.type in (WSMsgType.PING, WSMsgType.PONG):
                    await conn.on_control(msg.type, msg.data)
        finally:
            session.close()
            self._conns.discard(conn)
            await conn.stop()
            if not ws.closed:
                await ws.close()
        return ws
