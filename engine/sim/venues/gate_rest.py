"""Gate v4 spot REST for the simulator (docs/VENUES.md §3.1, §3.5, §3.6, §3.8).

Every route goes through `_endpoint`, which applies, in order: injected latency, the
one-shot faults of channel "rest" (FORCE_429, REST_5XX, REST_TIMEOUT: none of them lets the
request reach the engine), APIv4 authentication over the raw bytes received, the venue's
rate limit, then the handler. Errors are Gate's `{"label", "message"}` bodies. Order
placement also takes LOSE_ACK (placed, never answered) and DELAY_ACK (placed, answered
`GateConfig.delay_ack_s` late).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import orjson
from aiohttp import web

from engine.model.enums import OrderSide
from engine.sim.faults import FaultKind
from engine.sim.matching import (
    OrderSnapshot,
)
from engine.sim.venues.gate_messages import (
    NS_PER_S,
    GateError,
    GateVenue,
    RateRule,
    fmt,
    invalid_param,
    levels_json,
    missing_param,
    my_trade_json,
    order_json,
    pair_json,
    parse_amend,
    parse_order,
)
from engine.sim.venues.gate_orders import (
    amend,
    cancel_matching,
    cancel_one,
    find_order,
    poc_crosses,
    submit,
)
from engine.wire.credentials import Credentials
from engine.wire.gate_signing import gate_check_timestamp, gate_verify_rest
from engine.wire.timestamps import TimestampCheck

log = logging.getLogger("engine.sim")

PREFIX = "/api/v4"
CHANNEL = "rest"
HANG_LIMIT_S = 300.0  # REST_TIMEOUT / LOSE_ACK: at most this long if the client never leaves
BATCH_CANCEL_MAX = 20
BATCH_PLACE_MAX = 10
STATE_KEY = web.AppKey("gate_venue", GateVenue)

Result = tuple[int, Any]


class RateLimiter:
    """Fixed windows on the exchange clock, keyed by (rule, uid or IP, endpoint or pair)."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, ...], tuple[int, int]] = {}  # key -> (start ms, count)

    def hit(self, key: tuple[str, ...], rule: RateRule, now_ms: int) -> tuple[bool, int, int]:
        """(allowed, remaining, reset time ms) after counting this request."""
        start = now_ms - now_ms % rule.window_ms
        begun, count = self._windows.get(key, (start, 0))
        if begun != start:
            count = 0
        count += 1
        self._windows[key] = (start, count)
        return count <= rule.limit, max(rule.limit - count, 0), start + rule.window_ms


LIMITER_KEY = web.AppKey("gate_limiter", RateLimiter)


@dataclass(slots=True)
class Ctx:
    """One request as the handlers see it."""

    request: web.Request
    state: GateVenue
    body: bytes
    account: str = ""
    credentials: Credentials | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def query(self, name: str, default: str | None = None) -> str | None:
        return self.request.rel_url.query.get(name, default)

    def required(self, name: str) -> str:
        value = self.query(name)
        if value is None or value == "":
            raise missing_param(name)
        return value

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise GateError(400, "INVALID_REQUEST_BODY", "Request body is not valid JSON") from None

    def limit(self, rule_name: str, scope: str) -> None:
        """Count this request against `rule_name`; GateError 429 when over."""
        rule: RateRule = getattr(self.state.config, f"{rule_name}_limit")
        who = str(self.state.uid(self.account)) if self.account else self.request.remote or ""
        limiter = self.request.app[LIMITER_KEY]
        allowed, remain, reset = limiter.hit((rule_name, who, scope), rule, self.state.now_ms())
        self.headers.update(_limit_headers(rule.limit, remain, reset))
        if not allowed:
            raise GateError(429, "TOO_MANY_REQUESTS", "Request Rate limit Exceeded")


def _limit_headers(limit: int, remain: int, reset_ms: int) -> dict[str, str]:
    return {
        "X-Gate-RateLimit-Requests-Remain": str(remain),
        "X-Gate-RateLimit-Limit": str(limit),
        "X-Gate-RateLimit-Reset-Timestamp": str(reset_ms),
    }


def _json(status: int, doc: Any, headers: dict[str, str]) -> web.Response:
    return web.Response(
        body=orjson.dumps(doc), status=status, content_type="application/json", headers=headers
    )


async def _hang(request: web.Request) -> web.Response:
    """Answer nothing until the client gives up (its timeout), then let the handler end so
    the server can shut down; what the client sees is its own timeout."""
    deadline = time.monotonic() + HANG_LIMIT_S
    while time.monotonic() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        await asyncio.sleep(0.05)
    return web.Response(status=504)


def authenticate(ctx: Ctx) -> None:
    """APIv4 auth: KEY, Timestamp (±60 s) and SIGN over the raw path, query and body."""
    headers = ctx.request.headers
    for name in ("KEY", "Timestamp", "SIGN"):
        if not headers.get(name):
            raise GateError(401, "MISSING_REQUIRED_HEADER", f"Missing required header: {name}")
    found = ctx.state.exchange.account_for_key(headers["KEY"])
    if found is None:
        raise GateError(401, "INVALID_KEY", "Invalid key provided")
    creds, account = found
    timestamp = headers["Timestamp"]
    if gate_check_timestamp(timestamp, ctx.state.now_ms()) is not TimestampCheck.OK:
        raise GateError(401, "REQUEST_EXPIRED", "Request timestamp far from current time")
    expires = headers.get("x-gate-exptime")
    if expires is not None and (not expires.isdigit() or ctx.state.now_ms() > int(expires)):
        raise GateError(401, "REQUEST_EXPIRED", "Request expired per x-gate-exptime")
    url = ctx.request.rel_url
    method, path, query = ctx.request.method, url.raw_path, url.raw_query_string
    ok = gate_verify_rest(
        creds, method, path, query, ctx.body, timestamp=timestamp, signature=headers["SIGN"]
    )
    if not ok and ("%" in query or "+" in query):
        # gate-api signs unquote_plus(urlencode(params)) while sending the encoded form
        decoded = unquote_plus(query)
        ok = gate_verify_rest(
            creds, method, path, decoded, ctx.body, timestamp=timestamp, signature=headers["SIGN"]
        )
    if not ok:
        raise GateError(401, "INVALID_SIGNATURE", "Signature mismatch")
    ctx.account, ctx.credentials = account, creds
    ctx.state.watch(account)


Handler = Callable[[Ctx], Awaitable[Result]]
AioHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _endpoint(handler: Handler, *, private: bool, rule: str | None) -> AioHandler:
    """Wrap a handler with latency, faults, auth and rate limits (see the module docstring).
    `rule` None: the handler counts its own rate limit (it needs the pair from the body)."""

    async def run(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE_KEY]
        in_us = state.now_ns() // 1000
        faults = state.exchange.faults
        delay = faults.latency_s(CHANNEL)
        if delay:
            await asyncio.sleep(delay)
        ctx = Ctx(request, state, await request.read())
        try:
            if faults.take(FaultKind.FORCE_429, CHANNEL):
                ctx.headers.update(_limit_headers(0, 0, state.now_ms() + 1000))
                raise GateError(429, "TOO_MANY_REQUESTS", "Request Rate limit Exceeded")
            if faults.take(FaultKind.REST_5XX, CHANNEL):
                raise GateError(500, "SERVER_ERROR", "Internal server error")
            if faults.take(FaultKind.REST_TIMEOUT, CHANNEL):
                return await _hang(request)
            if private:
                authenticate(ctx)
            if rule is not None:
                ctx.limit(rule, request.match_info.route.resource.canonical)  # type: ignore[union-attr]
            status, doc = await handler(ctx)
        except GateError as exc:
            status, doc = exc.status, exc.body()
        except Exception:
            # unforeseen input must still get the venue's error shape, not aiohttp's page
            log.exception("gate rest: %s %s failed", request.method, request.rel_url)
            status, doc = 500, {"label": "INTERNAL", "message": "Internal server error"}
        ctx.headers["X-In-Time"] = str(in_us)
        ctx.headers["X-Out-Time"] = str(state.now_ns() // 1000)
        return _json(status, doc, ctx.headers)

    return run


# -- public -----------------------------------------------------------------------------------


async def server_time(ctx: Ctx) -> Result:
    return 200, {"server_time": ctx.state.now_ms()}


async def currency_pairs(ctx: Ctx) -> Result:
    return 200, [pair_json(inst) for inst in ctx.state.instruments.values()]


async def currency_pair(ctx: Ctx) -> Result:
    return 200, pair_json(ctx.state.instrument(ctx.request.match_info["currency_pair"]))


def _int_param(ctx: Ctx, name: str, default: int, low: int, high: int) -> int:
    raw = ctx.query(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise invalid_param(name, raw)
    return int(raw)


async def order_book(ctx: Ctx) -> Result:
    """`id` is the engine's book update id: the same counter as the WS diffs' U/u."""
    inst = ctx.state.instrument(ctx.required("currency_pair"))
    limit = _int_param(ctx, "limit", 10, 1, 1000)
    with_id = (ctx.query("with_id") or "").lower() == "true"  # the SDK sends "True"
    update_id, bids, asks = ctx.state.exchange.engine.depth(inst.symbol, limit)
    doc: dict[str, Any] = {}
    if with_id:
        doc["id"] = update_id
    now = ctx.state.now_ms()
    doc["current"] = now
    doc["update"] = ctx.state.book_ms.get(inst.symbol, now)
    doc["asks"] = levels_json(inst, asks)
    doc["bids"] = levels_json(inst, bids)
    return 200, doc


async def tickers(ctx: Ctx) -> Result:
    """GET /spot/tickers[?currency_pair=X]: top of book and last trade (no 24 h statistics:
    the simulator keeps none, so those fields are "0")."""
    pair = ctx.query("currency_pair")
    insts = [ctx.state.instrument(pair)] if pair else list(ctx.state.instruments.values())
    out = []
    for inst in insts:
        _, bids, asks = ctx.state.exchange.engine.depth(inst.symbol, 1)
        bid = levels_json(inst, bids)[0] if bids else ["", ""]
        ask = levels_json(inst, asks)[0] if asks else ["", ""]
        last = ctx.state.last_trade.get(inst.symbol)
        out.append(
            {
                "currency_pair": inst.symbol,
                "last": fmt(inst.ticks_to_price(last)) if last is not None else "",
                "lowest_ask": ask[0],
                "lowest_size": ask[1],
                "highest_bid": bid[0],
                "highest_size": bid[1],
                "change_percentage": "0",
                "base_volume": "0",
                "quote_volume": "0",
                "high_24h": "0",
                "low_24h": "0",
            }
        )
    return 200, out


# -- orders -----------------------------------------------------------------------------------


async def place_order(ctx: Ctx) -> Result:
    placed = parse_order(ctx.state, ctx.account, ctx.json())
    ctx.limit("place", placed.request.symbol)
    snap = submit(ctx.state, placed.request, poc_crosses(ctx.state, placed.request))
    faults = ctx.state.exchange.faults
    if faults.take(FaultKind.LOSE_ACK, CHANNEL):
        await _hang(ctx.request)  # the order rests; the client only sees its timeout
    elif faults.take(FaultKind.DELAY_ACK, CHANNEL):
        await asyncio.sleep(ctx.state.config.delay_ack_s)
        snap = ctx.state.exchange.engine.order(snap.order_id) or snap
    return 201, order_json(ctx.state, snap, mode=placed.action_mode)


async def batch_orders(ctx: Ctx) -> Result:
    """POST /spot/batch_orders: up to 10 orders, each answered on its own."""
    docs = ctx.json()
    if not isinstance(docs, list) or not 1 <= len(docs) <= BATCH_PLACE_MAX:
        raise invalid_param("orders", f"{len(docs) if isinstance(docs, list) else docs!r}")
    results: list[dict[str, Any]] = []
    for doc in docs:
        text = doc.get("text", "") if isinstance(doc, dict) else ""
        try:
            placed = parse_order(ctx.state, ctx.account, doc)
            ctx.limit("place", placed.request.symbol)
            snap = submit(ctx.state, placed.request, poc_crosses(ctx.state, placed.request))
            result = order_json(ctx.state, snap, mode=placed.action_mode)
            result["succeeded"] = True
        except GateError as exc:
            result = {"text": text, "succeeded": False, "label": exc.label, "message": exc.message}
        results.append(result)
    return 200, results


async def get_order(ctx: Ctx) -> Result:
    snap = find_order(
        ctx.state, ctx.account, ctx.required("currency_pair"), ctx.request.match_info["order_id"]
    )
    return 200, order_json(ctx.state, snap)


async def cancel_order(ctx: Ctx) -> Result:
    pair = ctx.required("currency_pair")
    snap = cancel_one(ctx.state, ctx.account, pair, ctx.request.match_info["order_id"])
    return 200, order_json(ctx.state, snap, mode=ctx.query("action_mode", "FULL") or "FULL")


async def amend_order(ctx: Ctx) -> Result:
    """PATCH /spot/orders/{order_id}: `currency_pair` in the body or the query (the body
    wins); amend shares the place rate limit (docs/VENUES.md §3.6, §3.8)."""
    doc = ctx.json()
    body_pair = doc.get("currency_pair") if isinstance(doc, dict) else None
    pair = body_pair or ctx.required("currency_pair")
    req = parse_amend(ctx.state, str(pair), doc)
    ctx.limit("place", ctx.state.instrument(pair).symbol)
    snap = amend(ctx.state, ctx.account, str(pair), ctx.request.match_info["order_id"], req)
    mode = doc.get("action_mode", "FULL") if isinstance(doc, dict) else "FULL"
    return 200, order_json(ctx.state, snap, mode=mode if mode in ("ACK", "RESULT") else "FULL")


async def cancel_all(ctx: Ctx) -> Result:
    done = cancel_matching(ctx.state, ctx.account, ctx.query("currency_pair"), ctx.query("side"))
    out = []
    for snap in done:
        doc = order_json(ctx.state, snap)
        doc["succeeded"] = True
        out.append(doc)
    return 200, out


async def cancel_batch(ctx: Ctx) -> Result:
    """POST /spot/cancel_batch_orders: `[{"currency_pair", "id"}]`, at most 20, any pairs."""
    docs = ctx.json()
    if not isinstance(docs, list) or not 1 <= len(docs) <= BATCH_CANCEL_MAX:
        raise invalid_param("cancel_batch_order", "too many or no orders")
    out: list[dict[str, Any]] = []
    for doc in docs:
        pair = doc.get("currency_pair") if isinstance(doc, dict) else None
        ident = str(doc.get("id", "")) if isinstance(doc, dict) else ""
        entry: dict[str, Any] = {"currency_pair": pair, "id": ident, "account": "spot"}
        try:
            snap = cancel_one(ctx.state, ctx.account, str(pair), ident)
            entry.update(
                id=str(snap.order_id),
                text=ctx.state.text_of(snap.order_id, snap.client_order_id),
                succeeded=True,
            )
        except GateError as exc:
            entry.update(text="", succeeded=False, label=exc.label, message=exc.message)
        out.append(entry)
    return 200, out


async def list_orders(ctx: Ctx) -> Result:
    """GET /spot/orders?currency_pair=X&status=open|finished, newest finished first."""
    inst = ctx.state.instrument(ctx.required("currency_pair"))
    status = ctx.required("status")
    page = _int_param(ctx, "page", 1, 1, 10**6)
    limit = _int_param(ctx, "limit", 100, 1, 1000)
    engine = ctx.state.exchange.engine
    snaps: list[OrderSnapshot]
    if status == "open":
        snaps = engine.open_orders(ctx.account, inst.symbol)
    elif status == "finished":
        ids = reversed(ctx.state.finished.get(ctx.account, ()))
        found = (engine.order(i) for i in ids)
        snaps = [s for s in found if s is not None and s.symbol == inst.symbol]
    else:
        raise invalid_param("status", status)
    side = ctx.query("side")
    if side is not None:
        snaps = [s for s in snaps if (s.side is OrderSide.BUY) == (side == "buy")]
    chunk = snaps[(page - 1) * limit : page * limit]
    return 200, [order_json(ctx.state, s) for s in chunk]


async def my_trades(ctx: Ctx) -> Result:
    """GET /spot/my_trades: the account's recent fills, newest first."""
    pair = ctx.query("currency_pair")
    symbol = ctx.state.instrument(pair).symbol if pair else None
    order_id = ctx.query("order_id")
    if order_id is not None and symbol is None:
        raise missing_param("currency_pair")
    page = _int_param(ctx, "page", 1, 1, 10**6)
    limit = _int_param(ctx, "limit", 100, 1, 1000)
    fills = [
        f
        for f in reversed(ctx.state.fills.get(ctx.account, ()))
        if (symbol is None or f.symbol == symbol)
        and (order_id is None or str(f.order_id) == order_id)
    ]
    chunk = fills[(page - 1) * limit : page * limit]
    return 200, [my_trade_json(ctx.state, f) for f in chunk]


async def open_orders(ctx: Ctx) -> Result:
    """GET /spot/open_orders: open orders grouped by pair."""
    page = _int_param(ctx, "page", 1, 1, 10**6)
    limit = _int_param(ctx, "limit", 100, 1, 100)
    groups: dict[str, list[OrderSnapshot]] = {}
    for snap in ctx.state.exchange.engine.open_orders(ctx.account):
        groups.setdefault(snap.symbol, []).append(snap)
    out = []
    for pair, snaps in groups.items():
        chunk = snaps[(page - 1) * limit : page * limit]
        out.append(
            {
                "currency_pair": pair,
                "total": len(snaps),
                "orders": [order_json(ctx.state, s) for s in chunk],
            }
        )
    return 200, out


async def accounts(ctx: Ctx) -> Result:
    currency = ctx.query("currency")
    version = ctx.state.update_ids.get(ctx.account, 1)
    out = []
    for asset, (free, locked) in sorted(ctx.state.exchange.balances(ctx.account).items()):
        if currency is not None and asset != currency:
            continue
        out.append(
            {
                "currency": asset,
                "available": fmt(free),
                "locked": fmt(locked),
                "update_id": version,
            }
        )
    return 200, out


async def countdown(ctx: Ctx) -> Result:
    """POST /spot/countdown_cancel_all: after `timeout` s without a renewal, cancel every
    open order of the account (on `currency_pair` when given); timeout 0 disarms."""
    doc = ctx.json()
    if not isinstance(doc, dict):
        raise GateError(400, "INVALID_REQUEST_BODY", "Request body must be a JSON object")
    timeout = doc.get("timeout")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
        raise missing_param("timeout") if timeout is None else invalid_param("timeout", timeout)
    pair = doc.get("currency_pair") or ""
    if pair:
        ctx.state.instrument(pair)
    if 0 < timeout < ctx.state.config.countdown_min_s:
        raise invalid_param("timeout", timeout)
    key = (ctx.account, str(pair))
    old = ctx.state.countdowns.pop(key, None)
    if old is not None:
        old.cancel()
    if timeout == 0:
        return 200, {"triggerTime": "0"}
    state, account = ctx.state, ctx.account

    def fire() -> None:
        state.countdowns.pop(key, None)
        cancel_matching(state, account, pair or None, None)

    ctx.state.countdowns[key] = ctx.state.exchange.call_later(timeout * NS_PER_S, fire)
    trigger_ms = ctx.state.now_ms() + timeout * 1000
    return 200, {"triggerTime": str(trigger_ms)}


# -- wiring -----------------------------------------------------------------------------------

_PUBLIC: list[tuple[str, str, Handler]] = [
    ("GET", "/spot/time", server_time),
    ("GET", "/spot/currency_pairs", currency_pairs),
    ("GET", "/spot/currency_pairs/{currency_pair}", currency_pair),
    ("GET", "/spot/order_book", order_book),
    ("GET", "/spot/tickers", tickers),
]
_PRIVATE: list[tuple[str, str, Handler, str | None]] = [
    ("POST", "/spot/orders", place_order, None),
    ("POST", "/spot/batch_orders", batch_orders, None),
    ("GET", "/spot/orders", list_orders, "private"),
    ("DELETE", "/spot/orders", cancel_all, "cancel"),
    ("GET", "/spot/orders/{order_id}", get_order, "private"),
    ("DELETE", "/spot/orders/{order_id}", cancel_order, "cancel"),
    ("PATCH", "/spot/orders/{order_id}", amend_order, None),
    ("POST", "/spot/cancel_batch_orders", cancel_batch, "cancel"),
    ("GET", "/spot/open_orders", open_orders, "private"),
    ("GET", "/spot/my_trades", my_trades, "private"),
    ("GET", "/spot/accounts", accounts, "private"),
    ("POST", "/spot/countdown_cancel_all", countdown, "private"),
]


def add_rest_routes(app: web.Application, state: GateVenue) -> None:
    app[STATE_KEY] = state
    app[LIMITER_KEY] = RateLimiter()
    for method, path, handler in _PUBLIC:
        app.router.add_route(
            method, PREFIX + path, _endpoint(handler, private=False, rule="public")
        )
    for method, path, handler, rule in _PRIVATE:
        app.router.add_route(method, PREFIX + path, _endpoint(handler, private=True, rule=rule))
