"""Gate v4 spot WebSocket for the simulator: one endpoint, `/ws/v4/`, carrying the public
channels, the private channels and the WS trading API (docs/VENUES.md §3.2-§3.7).

Listeners on the exchange run synchronously inside the engine call that caused the events;
they only build frames and put them on each connection's queue. One writer task per
connection drains the queue; that is where latency and the WS faults of the frame's channel
("ws.public", "ws.private", "ws.api") are applied.

Depth. `spot.order_book_update` and `spot.obu` are batched like the venue's: a hub task
flushes the changes of the last 20 ms / 100 ms as one message whose `U`..`u` span the
engine's book update ids (the REST `id` counter). A `full: true` book is sent on an
`spot.obu` subscription and every `GateConfig.full_snapshot_every_s` on
`spot.order_book_update`, taken at the flush, so the next diff starts at its `u` + 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from engine.clock import NS_PER_MS
from engine.model.enums import OrderSide
from engine.model.instrument import Instrument
from engine.sim.faults import FaultKind
from engine.sim.matching import DepthUpdate, Event, PublicTrade
from engine.sim.venues.gate_messages import NS_PER_S, GateVenue, fmt, levels_json, ms_text

WS_PATH = "/ws/v4/"
PUBLIC, PRIVATE, API = "ws.public", "ws.private", "ws.api"
TICK_S = 0.02  # the fastest depth interval; 100 ms feeds flush every 5th tick
QUEUE_LIMIT = 50_000  # a client this far behind is dropped, as a venue drops slow consumers
HEARTBEAT_S = 20.0  # protocol-level pings from the server (clients answer automatically)

# spot.order_book_update interval -> (flush ticks, levels); spot.obu depth -> same
UPDATE_INTERVALS = {"20ms": (1, 20), "100ms": (5, 100)}
OBU_DEPTHS = {"50": (1, 50), "400": (5, 400)}
SNAPSHOT_LEVELS = ("5", "10", "20", "50", "100")
SNAPSHOT_INTERVALS = {"100ms": 5, "1000ms": 50}


@dataclass(slots=True)
class Frame:
    channel: str  # fault/latency channel
    data: bytes
    diff: bool = False  # a depth increment: the one kind SKIP_SEQUENCE may drop


def dumps(doc: Any) -> bytes:
    return orjson.dumps(doc)


class Conn:
    """One client connection: its subscriptions, its login and its outgoing queue."""

    def __init__(self, hub: Hub, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.hub = hub
        self.state = hub.state
        self.request = request
        self.ws = ws
        self.conn_id = f"{next(hub.ids):016x}"
        self.queue: asyncio.Queue[Frame | None] = asyncio.Queue()
        self.public: set[tuple[str, str]] = set()  # (channel, key)
        self.private: dict[str, set[str]] = {}  # channel -> pairs ("!all" = every pair)
        self.account = ""  # set by spot.login or an authenticated private subscription
        self.api_key = ""
        self.logged_in = False
        self.frozen = False
        self.closed = False
        self._held: Frame | None = None
        self._unsubscribe_private: Callable[[], None] | None = None
        self.balances_sent: dict[str, tuple[Any, Any]] = {}
        self.balance_changes: set[str] = set()  # change types of the engine call under way

    # -- output --------------------------------------------------------------------------

    def push(self, frame: Frame) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= QUEUE_LIMIT:
            self.abort()
            return
        self.queue.put_nowait(frame)

    def send(self, channel: str, doc: Any, *, diff: bool = False) -> None:
        self.push(Frame(channel, dumps(doc), diff))

    async def writer(self) -> None:
        while True:
            frame = await self.queue.get()
            if frame is None:
                return
            await self._deliver(frame)

    async def _deliver(self, frame: Frame) -> None:
        faults = self.state.exchange.faults
        channel = frame.channel
        delay = faults.latency_s(channel)
        if delay:
            await asyncio.sleep(delay)
        if self.frozen or self.closed:
            return
        if faults.take(FaultKind.DROP_CONNECTION, channel):
            self.abort()
            return
        if faults.take(FaultKind.FREEZE_CONNECTION, channel):
            self.frozen = True  # the socket stays open; nothing more is sent
            return
        if frame.diff and faults.take(FaultKind.SKIP_SEQUENCE, channel):
            return
        if faults.take(FaultKind.MALFORMED_FRAME, channel):
            await self._write(frame.data[: max(1, len(frame.data) // 2)])
            return
        if self._held is None and faults.take(FaultKind.REORDER_MESSAGES, channel):
            self._held = frame  # goes out right after the next frame
            return
        await self._write(frame.data)
        if faults.take(FaultKind.DUPLICATE_MESSAGE, channel):
            await self._write(frame.data)
        if self._held is not None:
            held, self._held = self._held, None
            await self._write(held.data)

    async def _write(self, data: bytes) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_frame(data, WSMsgType.TEXT)

    def abort(self) -> None:
        """Close abruptly: no close frame, the client sees the TCP connection end."""
        self.closed = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    def close(self) -> None:
        self.closed = True
        self.queue.put_nowait(None)
        if self._unsubscribe_private is not None:
            self._unsubscribe_private()
            self._unsubscribe_private = None

    def watch_private(self, account: str, callback: Callable[[Event], None]) -> None:
        if self._unsubscribe_private is None:
            self._unsubscribe_private = self.state.exchange.on_private(account, callback)

    # -- envelopes -----------------------------------------------------------------------

    def reply(
        self,
        request: dict[str, Any],
        *,
        error: tuple[int, str] | None = None,
        channel: str = PUBLIC,
    ) -> None:
        """Answer a subscribe/unsubscribe/ping: result success or the error object."""
        now_ms = self.state.now_ms()
        doc: dict[str, Any] = {"time": now_ms // 1000, "time_ms": now_ms}
        if "id" in request:
            doc["id"] = request["id"]
        doc.update(
            conn_id=self.conn_id,
            trace_id=f"{self.conn_id}{now_ms:x}",
            channel=request.get("channel", ""),
            event=request.get("event", ""),
            payload=request.get("payload"),
        )
        if error is None:
            doc["error"] = None
            doc["result"] = {"status": "success"}
        else:
            doc["error"] = {"code": error[0], "message": error[1]}
            doc["result"] = {"status": "fail"}
        self.send(channel, doc)

    def update(
        self, channel_name: str, result: Any, frame_channel: str = PUBLIC, *, diff: bool = False
    ) -> None:
        now_ms = self.state.now_ms()
        doc = {
            "time": now_ms // 1000,
            "time_ms": now_ms,
            "channel": channel_name,
            "event": "update",
            "result": result,
        }
        self.send(frame_channel, doc, diff=diff)


# -- depth feeds ------------------------------------------------------------------------------


@dataclass(slots=True)
class Sub:
    conn: Conn
    kind: str  # "update" (spot.order_book_update) or "obu"
    levels: int
    stream: str  # the obu stream name ("ob.BTC_USDT.50"), "" for update
    needs_full: bool = False


@dataclass(slots=True)
class Feed:
    """Changes of one symbol since the last flush of one interval, merged per level."""

    symbol: str
    ticks: int
    first_u: int = 0  # 0: nothing pending
    last_u: int = 0
    last_ns: int = 0
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    last_full_ns: int = 0
    subs: list[Sub] = field(default_factory=list)

    def add(self, event: DepthUpdate) -> None:
        if not self.first_u:
            self.first_u = event.update_id
        self.last_u = event.update_id
        self.last_ns = event.ts_ns
        self.bids.update(event.bids)
        self.asks.update(event.asks)

    def take(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        bids = sorted(self.bids.items(), reverse=True)
        asks = sorted(self.asks.items())
        self.bids.clear()
        self.asks.clear()
        self.first_u = 0
        return bids, asks


class Hub:
    """Every connection of one app, the depth feeds, and the public event fan-out."""

    def __init__(self, state: GateVenue) -> None:
        self.state = state
        self.conns: set[Conn] = set()
        self.ids = itertools.count(0x5E74253E9C793974)
        self.feeds: dict[tuple[str, int], Feed] = {}
        self.snapshots: dict[tuple[str, int], set[tuple[Conn, int]]] = {}  # spot.order_book
        self.tops: dict[str, tuple[Any, ...]] = {}  # symbol -> last book_ticker sent
        self._tick = 0
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe = state.exchange.on_public(self.on_public)

    def subscribers(self, channel: str, key: str) -> list[Conn]:
        return [c for c in self.conns if (channel, key) in c.public]

    # -- events -> frames ----------------------------------------------------------------

    def on_public(self, event: Event) -> None:
        if isinstance(event, DepthUpdate):
            for (symbol, _), feed in self.feeds.items():
                if symbol == event.symbol:
                    feed.add(event)
            self._book_ticker(event)
        elif isinstance(event, PublicTrade):
            self._trade(event)

    def _trade(self, trade: PublicTrade) -> None:
        conns = self.subscribers("spot.trades", trade.symbol)
        if not conns:
            return
        inst = self.state.instruments[trade.symbol]
        result = {
            "id": trade.trade_id,
            "id_market": trade.trade_id,
            "create_time": trade.ts_ns // NS_PER_S,
            "create_time_ms": ms_text(trade.ts_ns),
            "side": "buy" if trade.taker_side is OrderSide.BUY else "sell",
            "currency_pair": trade.symbol,
            "amount": fmt(inst.lots_to_qty(trade.qty)),
            "price": fmt(inst.ticks_to_price(trade.price)),
            "range": f"{trade.trade_id}-{trade.trade_id}",
        }
        for conn in conns:
            conn.update("spot.trades", result)

    def _book_ticker(self, event: DepthUpdate) -> None:
        conns = self.subscribers("spot.book_ticker", event.symbol)
        if not conns:
            return
        _, bids, asks = self.state.exchange.engine.depth(event.symbol, 1)
        top = (bids[0] if bids else None, asks[0] if asks else None)
        if self.tops.get(event.symbol) == top:
            return
        self.tops[event.symbol] = top
        inst = self.state.instruments[event.symbol]
        b = levels_json(inst, bids)[0] if bids else ["", ""]
        a = levels_json(inst, asks)[0] if asks else ["", ""]
        result = {
            "t": event.ts_ns // NS_PER_MS,
            "u": event.update_id,
            "s": event.symbol,
            "b": b[0],
            "B": b[1],
            "a": a[0],
            "A": a[1],
        }
        for conn in conns:
            conn.update("spot.book_ticker", result)

    # -- depth subscriptions -------------------------------------------------------------

    def add_depth(self, symbol: str, ticks: int, sub: Sub) -> None:
        feed = self.feeds.get((symbol, ticks))
        if feed is None:
            feed = self.feeds[(symbol, ticks)] = Feed(symbol, ticks)
            feed.last_full_ns = self.state.now_ns()
        feed.subs.append(sub)

    def remove_depth(self, conn: Conn, kind: str, symbol: str, ticks: int) -> None:
        feed = self.feeds.get((symbol, ticks))
        if feed is None:
            return
        feed.subs = [s for s in feed.subs if not (s.conn is conn and s.kind == kind)]
        if not feed.subs:
            del self.feeds[(symbol, ticks)]

    def drop(self, conn: Conn) -> None:
        self.conns.discard(conn)
        for key in list(self.feeds):
            feed = self.feeds[key]
            feed.subs = [s for s in feed.subs if s.conn is not conn]
            if not feed.subs:
                del self.feeds[key]
        for subs in self.snapshots.values():
            for entry in [e for e in subs if e[0] is conn]:
                subs.discard(entry)

    # -- the flush task ------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for conn in list(self.conns):
            conn.close()
            # a frozen or vanished client never answers the close frame: do not wait for it
            with contextlib.suppress(TimeoutError, ConnectionError):
                await asyncio.wait_for(conn.ws.close(code=1001, message=b"server shutdown"), 1.0)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self._tick += 1
            for feed in list(self.feeds.values()):
                if self._tick % feed.ticks == 0:
                    self._flush(feed)
            for (symbol, ticks), subs in self.snapshots.items():
                if subs and self._tick % ticks == 0:
                    self._send_snapshots(symbol, subs)

    def _flush(self, feed: Feed) -> None:
        now = self.state.now_ns()
        period = self.state.config.full_snapshot_every_s
        full_due = period > 0 and now - feed.last_full_ns >= period * NS_PER_S
        pending = feed.first_u != 0
        if not pending and not full_due and not any(s.needs_full for s in feed.subs):
            return
        inst = self.state.instruments[feed.symbol]
        first_u, last_ns = feed.first_u, feed.last_ns or now
        bids, asks = feed.take()
        book_u, _, _ = self.state.exchange.engine.depth(feed.symbol, 0)
        if full_due:
            feed.last_full_ns = now
        diff_b, diff_a = levels_json(inst, bids), levels_json(inst, asks)
        for sub in feed.subs:
            if sub.kind == "obu":
                if sub.needs_full:
                    sub.needs_full = False
                    self._obu(sub, inst, book_u, None, last_ns)
                elif pending:
                    self._obu(sub, inst, book_u, (first_u, diff_b, diff_a), last_ns)
            elif full_due:
                self._update_full(sub, inst, first_u or book_u, book_u, last_ns)
            elif pending:
                result = self._update_head(inst, sub, first_u, book_u, last_ns)
                result.update(b=diff_b, a=diff_a)
                sub.conn.update("spot.order_book_update", result, diff=True)

    def _update_head(
        self, inst: Instrument, sub: Sub, first_u: int, last_u: int, ts_ns: int
    ) -> dict[str, Any]:
        return {
            "t": ts_ns // NS_PER_MS,
            "l": str(sub.levels),
            "e": "depthUpdate",
            "E": ts_ns // NS_PER_S,
            "s": inst.symbol,
            "U": first_u,
            "u": last_u,
        }

    def _update_full(self, sub: Sub, inst: Instrument, first_u: int, u: int, ts: int) -> None:
        _, bids, asks = self.state.exchange.engine.depth(inst.symbol, sub.levels)
        result = self._update_head(inst, sub, first_u, u, ts)
        result = {"t": result.pop("t"), "full": True, **result}
        result.update(b=levels_json(inst, bids), a=levels_json(inst, asks))
        sub.conn.update("spot.order_book_update", result)

    def _obu(
        self,
        sub: Sub,
        inst: Instrument,
        u: int,
        diff: tuple[int, list[list[str]], list[list[str]]] | None,
        ts_ns: int,
    ) -> None:
        result: dict[str, Any] = {"t": ts_ns // NS_PER_MS}
        if diff is None:
            _, bids, asks = self.state.exchange.engine.depth(inst.symbol, sub.levels)
            result.update(
                full=True, s=sub.stream, u=u, b=levels_json(inst, bids), a=levels_json(inst, asks)
            )
        else:
            result.update(s=sub.stream, U=diff[0], u=u, b=diff[1], a=diff[2])
        doc = {"channel": "spot.obu", "result": result, "time_ms": self.state.now_ms()}
        sub.conn.send(PUBLIC, doc, diff=diff is not None)

    def _send_snapshots(self, symbol: str, subs: set[tuple[Conn, int]]) -> None:
        inst = self.state.instruments[symbol]
        update_id, bids, asks = self.state.exchange.engine.depth(symbol, 100)
        now_ms = self.state.now_ms()
        for conn, levels in subs:
            result = {
                "t": now_ms,
                "lastUpdateId": update_id,
                "s": symbol,
                "l": str(levels),
                "bids": levels_json(inst, bids[:levels]),
                "asks": levels_json(inst, asks[:levels]),
            }
            conn.update("spot.order_book", result)


HUB_KEY = web.AppKey("gate_ws_hub", Hub)
