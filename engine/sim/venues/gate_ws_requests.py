"""What a Gate WebSocket client sends, and the private pushes it gets back (docs/VENUES.md §3.2,
§3.5, §3.7): the connection handler, subscribe/unsubscribe of public and private channels,
`spot.ping`, and the private channel auth (`auth.SIGN` over `channel=..&event=..&time=..`).
Requests with `event: "api"` go to `gate_ws_api`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from engine.sim.matching import Event, Fill, OrderAccepted, OrderDone, OrderSnapshot
from engine.sim.venues.gate_messages import (
    NS_PER_S,
    GateVenue,
    fmt,
    order_json,
    user_trade_json,
)
from engine.sim.venues.gate_rest import RateLimiter
from engine.sim.venues.gate_ws import (
    HEARTBEAT_S,
    HUB_KEY,
    OBU_DEPTHS,
    PRIVATE,
    PUBLIC,
    SNAPSHOT_INTERVALS,
    SNAPSHOT_LEVELS,
    UPDATE_INTERVALS,
    WS_PATH,
    Conn,
    Hub,
    Sub,
)
from engine.sim.venues.gate_ws_api import LIMITER_KEY, api_request
from engine.wire.credentials import Credentials
from engine.wire.gate_signing import gate_check_timestamp, gate_verify_ws_channel
from engine.wire.timestamps import TimestampCheck

__all__ = ["WS_PATH", "add_ws_routes"]

_CHANGE_TYPES = ("order-match", "order-cancel", "order-create")  # the most telling first
PRIVATE_CHANNELS = ("spot.orders", "spot.usertrades", "spot.balances")
_OBU_STREAM = re.compile(r"^ob\.([A-Z0-9]+_[A-Z0-9]+)\.(\d+)$")

Error = tuple[int, str]
log = logging.getLogger("engine.sim")


def _known(conn: Conn, pair: object) -> bool:
    return isinstance(pair, str) and pair in conn.state.instruments


# -- the connection handler -------------------------------------------------------------------


async def ws_handler(request: web.Request) -> web.WebSocketResponse:
    hub = request.app[HUB_KEY]
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
    await ws.prepare(request)
    conn = Conn(hub, request, ws)
    hub.conns.add(conn)
    writer = asyncio.create_task(conn.writer())
    try:
        async for msg in ws:
            if conn.closed:
                break
            if msg.type is WSMsgType.TEXT:
                on_text(conn, msg.data)
            elif msg.type is WSMsgType.BINARY:
                _bad_request(conn, "binary frames are not accepted")
    finally:
        hub.drop(conn)
        conn.close()
        # the writer may be sleeping on injected latency: give it a moment, then stop it
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(writer, 1.0)
    return ws


def _bad_request(conn: Conn, message: str) -> None:
    now_ms = conn.state.now_ms()
    doc = {
        "time": now_ms // 1000,
        "time_ms": now_ms,
        "conn_id": conn.conn_id,
        "channel": "",
        "event": "",
        "error": {"code": 1, "message": message},
        "result": None,
    }
    conn.send(PUBLIC, doc)


def on_text(conn: Conn, text: str) -> None:
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        _bad_request(conn, "invalid request body: not JSON")
        return
    if not isinstance(doc, dict):
        _bad_request(conn, "invalid request body: not an object")
        return
    try:
        _dispatch(conn, doc, text)
    except Exception:
        # a frame no handler foresaw must not take the connection down: the venue's
        # "server error" code, and the traceback for whoever runs the simulator
        log.exception("gate ws: request failed: %.200s", text)
        conn.reply(doc, error=(3, "server error"))


def _dispatch(conn: Conn, doc: dict[str, Any], text: str) -> None:
    channel, event = doc.get("channel"), doc.get("event")
    if channel == "spot.ping":
        _pong(conn)
    elif event == "api":
        api_request(conn, doc, text)
    elif event not in ("subscribe", "unsubscribe"):
        conn.reply(doc, error=(1, f"invalid event {event!r}"))
    elif channel in _PUBLIC:
        error = _PUBLIC[channel](conn, doc, event == "subscribe")
        conn.reply(doc, error=error)
    elif channel in PRIVATE_CHANNELS:
        error = private_subscription(conn, doc)
        conn.reply(doc, error=error, channel=PRIVATE)
    else:
        conn.reply(doc, error=(2, f"unknown channel {channel}"))


def _pong(conn: Conn) -> None:
    now_ms = conn.state.now_ms()
    doc = {
        "time": now_ms // 1000,
        "time_ms": now_ms,
        "conn_id": conn.conn_id,
        "channel": "spot.pong",
        "event": "",
        "error": None,
        "result": None,
    }
    conn.send(PUBLIC, doc)


# -- public subscriptions ---------------------------------------------------------------------


def _payload(doc: dict[str, Any]) -> list[Any]:
    payload = doc.get("payload")
    return payload if isinstance(payload, list) else []


def _pairs(conn: Conn, doc: dict[str, Any], channel: str, subscribe: bool) -> Error | None:
    """spot.trades / spot.book_ticker: payload = pairs."""
    pairs = _payload(doc)
    unknown = [p for p in pairs if not _known(conn, p)]
    if not pairs or unknown:
        return (2, f"unknown currency pair {unknown[0] if unknown else ''}")
    for pair in pairs:
        if subscribe:
            conn.public.add((channel, pair))
        else:
            conn.public.discard((channel, pair))
    return None


def _trades(conn: Conn, doc: dict[str, Any], subscribe: bool) -> Error | None:
    return _pairs(conn, doc, "spot.trades", subscribe)


def _book_ticker(conn: Conn, doc: dict[str, Any], subscribe: bool) -> Error | None:
    return _pairs(conn, doc, "spot.book_ticker", subscribe)


def _order_book_update(conn: Conn, doc: dict[str, Any], subscribe: bool) -> Error | None:
    """payload = [pair, "20ms" | "100ms"]."""
    payload = _payload(doc)
    if len(payload) != 2 or not _known(conn, payload[0]):
        return (2, f"invalid payload {payload}")
    pair, interval = payload
    if not isinstance(interval, str) or interval not in UPDATE_INTERVALS:
        return (2, f"invalid interval {interval}")
    ticks, levels = UPDATE_INTERVALS[interval]
    key = ("spot.order_book_update", f"{pair}|{interval}")
    hub: Hub = conn.hub
    if subscribe and key not in conn.public:
        conn.public.add(key)
        hub.add_depth(pair, ticks, Sub(conn, "update", levels, ""))
    elif not subscribe and key in conn.public:
        conn.public.discard(key)
        hub.remove_depth(conn, "update", pair, ticks)
    return None


def _obu(conn: Conn, doc: dict[str, Any], subscribe: bool) -> Error | None:
    """payload = ["ob.BTC_USDT.50", ...]; the first push of each stream is `full: true`."""
    streams = _payload(doc)
    parsed = []
    for stream in streams:
        match = _OBU_STREAM.match(stream) if isinstance(stream, str) else None
        if match is None or match[1] not in conn.state.instruments or match[2] not in OBU_DEPTHS:
            return (2, f"invalid stream {stream}")
        parsed.append((stream, match[1], OBU_DEPTHS[match[2]]))
    for stream, pair, (ticks, levels) in parsed:
        key = ("spot.obu", stream)
        if subscribe and key in conn.public:
            return (2, f"Alert sub {stream}")
        if subscribe:
            conn.public.add(key)
            conn.hub.add_depth(pair, ticks, Sub(conn, "obu", levels, stream, needs_full=True))
        elif key in conn.public:
            conn.public.discard(key)
            conn.hub.remove_depth(conn, "obu", pair, ticks)
    return None if parsed else (2, "empty payload")


def _order_book(conn: Conn, doc: dict[str, Any], subscribe: bool) -> Error | None:
    """payload = [pair, levels, "100ms" | "1000ms"]: periodic limited-level snapshots."""
    payload = _payload(doc)
    if len(payload) != 3 or not _known(conn, payload[0]):
        return (2, f"invalid payload {payload}")
    pair, level, interval = payload
    if level not in SNAPSHOT_LEVELS or not isinstance(interval, str):
        return (2, f"invalid payload {payload}")
    if interval not in SNAPSHOT_INTERVALS:
        return (2, f"invalid payload {payload}")
    subs = conn.hub.snapshots.setdefault((pair, SNAPSHOT_INTERVALS[interval]), set())
    entry = (conn, int(level))
    if subscribe:
        subs.add(entry)
    else:
        subs.discard(entry)
    return None


_PUBLIC: dict[str, Callable[[Conn, dict[str, Any], bool], Error | None]] = {
    "spot.trades": _trades,
    "spot.book_ticker": _book_ticker,
    "spot.order_book_update": _order_book_update,
    "spot.obu": _obu,
    "spot.order_book": _order_book,
}


# -- private subscriptions --------------------------------------------------------------------


def _channel_auth(conn: Conn, doc: dict[str, Any]) -> tuple[Credentials | None, str] | Error:
    """(credentials, account) of a private request, from its `auth` or the login."""
    auth = doc.get("auth")
    if not isinstance(auth, dict):
        if conn.logged_in:
            return None, conn.account
        return (4, "auth required for private channel")
    found = conn.state.exchange.account_for_key(str(auth.get("KEY", "")))
    if auth.get("method") != "api_key" or found is None:
        return (4, "invalid key")
    creds, account = found
    when = doc.get("time")
    if not isinstance(when, int) or isinstance(when, bool):
        return (4, "invalid time")
    if gate_check_timestamp(when, conn.state.now_ms()) is not TimestampCheck.OK:
        return (4, "request time expired")
    if not gate_verify_ws_channel(
        creds, doc.get("channel"), doc.get("event"), when, signature=auth.get("SIGN")
    ):
        return (4, "invalid signature")
    if conn.account and conn.account != account:
        return (4, "connection belongs to another account")
    return creds, account


def private_subscription(conn: Conn, doc: dict[str, Any]) -> Error | None:
    authed = _channel_auth(conn, doc)
    if isinstance(authed[0], int):
        return (authed[0], str(authed[1]))
    account = str(authed[1])
    channel = str(doc["channel"])
    pairs = [str(p) for p in _payload(doc)]
    if channel != "spot.balances":
        unknown = [p for p in pairs if p != "!all" and p not in conn.state.instruments]
        if not pairs or unknown:
            return (2, f"unknown currency pair {unknown[0] if unknown else ''}")
    conn.account = account
    conn.state.watch(account)
    subscribed = conn.private.setdefault(channel, set())
    if doc["event"] == "subscribe":
        subscribed.update(pairs or ["!all"])
        if channel == "spot.balances":
            conn.balances_sent = dict(conn.state.exchange.balances(account))
        conn.watch_private(account, lambda event: on_private(conn, event))
    else:
        subscribed.difference_update(pairs or ["!all"])
        if not subscribed:
            del conn.private[channel]
    return None


def _wants(conn: Conn, channel: str, symbol: str) -> bool:
    pairs = conn.private.get(channel)
    return pairs is not None and ("!all" in pairs or symbol in pairs)


def _order_push(conn: Conn, snap: OrderSnapshot, event: str, fill: Fill | None) -> None:
    state = conn.state
    if fill is None:
        doc = order_json(state, snap)
    else:
        doc = order_json(state, snap, filled=fill.cum_filled, cum_quote=fill.cum_quote)
    doc.pop("status", None)
    doc.pop("fill_price", None)
    doc["create_time_ms"] = str(doc["create_time_ms"])
    doc["update_time_ms"] = str(doc["update_time_ms"])
    doc.update(user=state.uid(snap.account), event=event, biz_info="-")
    conn.update("spot.orders", [doc], PRIVATE)


def on_private(conn: Conn, event: Event) -> None:
    """One private engine event -> spot.orders / spot.usertrades / spot.balances pushes."""
    if isinstance(event, OrderAccepted):
        if _wants(conn, "spot.orders", event.order.symbol):
            _order_push(conn, event.order, "put", None)
        _balances(conn, "order-create", event.ts_ns)
    elif isinstance(event, Fill):
        if _wants(conn, "spot.usertrades", event.symbol):
            conn.update("spot.usertrades", [user_trade_json(conn.state, event)], PRIVATE)
        snap = conn.state.exchange.engine.order(event.order_id)
        if snap is not None and event.status.is_open and _wants(conn, "spot.orders", event.symbol):
            _order_push(conn, snap, "update", event)
        _balances(conn, "order-match", event.ts_ns)
    elif isinstance(event, OrderDone):
        if _wants(conn, "spot.orders", event.order.symbol):
            _order_push(conn, event.order, "finish", None)
        _balances(conn, "order-cancel", event.ts_ns)


def _balances(conn: Conn, change_type: str, ts_ns: int) -> None:
    """Listeners run after the whole engine call, so every event of it sees the final
    balances: collect the call's change types and push once, right after it."""
    if "spot.balances" not in conn.private:
        return
    if not conn.balance_changes:
        asyncio.get_running_loop().call_soon(_push_balances, conn, ts_ns)
    conn.balance_changes.add(change_type)


def _push_balances(conn: Conn, ts_ns: int) -> None:
    changes, conn.balance_changes = conn.balance_changes, set()
    if conn.closed or "spot.balances" not in conn.private:
        return
    change_type = next(t for t in _CHANGE_TYPES if t in changes)
    now = conn.state.exchange.balances(conn.account)
    zero = (Decimal(0), Decimal(0))
    out = []
    for asset, (free, locked) in sorted(now.items()):
        old_free, old_locked = conn.balances_sent.get(asset, zero)
        if (old_free, old_locked) == (free, locked):
            continue
        out.append(
            {
                "timestamp": str(ts_ns // NS_PER_S),
                "timestamp_ms": str(ts_ns // 1_000_000),
                "user": str(conn.state.uid(conn.account)),
                "currency": asset,
                "change": fmt(free + locked - old_free - old_locked),
                "total": fmt(free + locked),
                "available": fmt(free),
                "freeze": fmt(locked),
                "freeze_change": fmt(locked - old_locked),
                "change_type": change_type,
            }
        )
    conn.balances_sent = dict(now)
    if out:
        conn.update("spot.balances", out, PRIVATE)


# -- wiring -----------------------------------------------------------------------------------


def add_ws_routes(app: web.Application, state: GateVenue) -> None:
    hub = Hub(state)
    app[HUB_KEY] = hub

    def on_amended(snap: OrderSnapshot) -> None:
        """An amend changed one of an account's orders: spot.orders `update`."""
        for conn in list(hub.conns):
            if conn.account == snap.account and _wants(conn, "spot.orders", snap.symbol):
                _order_push(conn, snap, "update", None)

    state.amend_listeners.append(on_amended)
    app[LIMITER_KEY] = RateLimiter()
    app.router.add_get(WS_PATH, ws_handler)
    app.router.add_get(WS_PATH.rstrip("/"), ws_handler)

    async def startup(_app: web.Application) -> None:
        hub.start()

    async def shutdown(_app: web.Application) -> None:
        if on_amended in state.amend_listeners:
            state.amend_listeners.remove(on_amended)
        await hub.stop()

    app.on_startup.append(startup)
    app.on_shutdown.append(shutdown)
