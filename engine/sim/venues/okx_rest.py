"""OKX v5 REST endpoints of the simulator (docs/VENUES.md §2.1, §2.5, §2.6, §2.8).

Envelope `{"code","msg","data"}`; order endpoints add `inTime`/`outTime`. Business errors are
HTTP 200 with the reason in `code` (or per item in `sCode`); authentication errors are 401,
parameter-class errors 400, rate limits 429. Faults on channel "rest" are applied by the
middleware before a handler runs, so a faulted request never reaches the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from engine.sim.faults import FaultKind
from engine.sim.venues.okx_core import RATE_LIMITED, OkxVenue, summary
from engine.sim.venues.okx_messages import (
    Json,
    OkxError,
    dec_str,
    level_row,
    missing,
    order_object,
    param_error,
    parse_ord_id,
    us,
)

VENUE_KEY = web.AppKey("okx_venue", OkxVenue)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# OKX holds a timed-out request at most this long; the client gave up well before
_TIMEOUT_HOLD_S = 600.0
_MAX_BOOK_SZ = 400


def reply(body: Json, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def error_reply(exc: OkxError) -> web.Response:
    return reply({"code": exc.code, "msg": exc.msg, "data": []}, exc.status)


def ok(data: list[Json]) -> web.Response:
    return reply({"code": "0", "msg": "", "data": data})


@web.middleware
async def okx_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """REST faults and latency, then OkxError -> the venue's error body."""
    if not request.path.startswith("/api/"):
        return await handler(request)  # the simulator's own /_sim control routes
    venue = request.app[VENUE_KEY]
    faults = venue.exchange.faults
    if faults.take(FaultKind.REST_TIMEOUT, "rest"):
        # never answer: the request is not processed (no order is placed or canceled)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(venue.closing.wait(), _TIMEOUT_HOLD_S)
        raise web.HTTPGatewayTimeout()
    if faults.take(FaultKind.REST_5XX, "rest"):
        busy = OkxError("50001", "Service temporarily unavailable. Please try again later.", 503)
        return error_reply(busy)
    if faults.take(FaultKind.FORCE_429, "rest"):
        return error_reply(RATE_LIMITED)
    delay = faults.latency_s("rest")
    if delay:
        await asyncio.sleep(delay)
    try:
        return await handler(request)
    except OkxError as exc:
        return error_reply(exc)


# -- helpers -----------------------------------------------------------------------------


def _limit(venue: OkxVenue, group: str, key: str, cost: int = 1) -> None:
    if not venue.limiter.allow(group, key, cost):
        raise RATE_LIMITED


def _client_key(request: web.Request) -> str:
    return request.remote or "?"


async def _signed(request: web.Request) -> tuple[OkxVenue, str, bytes]:
    venue = request.app[VENUE_KEY]
    body = await request.read()
    _, account = venue.authenticate(request.headers, request.method, request.raw_path, body)
    return venue, account, body


def _json_body(body: bytes) -> Any:
    if not body.strip():
        raise OkxError("50000", "Body can not be empty.", 400)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise OkxError("50002", "Json data format error", 400) from None


def _timed(in_ns: int, venue: OkxVenue, code: str, msg: str, data: list[Json]) -> web.Response:
    body = {
        "code": code,
        "msg": msg,
        "data": data,
        "inTime": us(in_ns),
        "outTime": us(venue.now_ns()),
    }
    return reply(body)


def _inst_id(venue: OkxVenue, args: Any) -> str:
    text = args.get("instId", "") if isinstance(args, dict) else ""
    return text if isinstance(text, str) else ""


# -- public ------------------------------------------------------------------------------


async def server_time(request: web.Request) -> web.Response:
    venue = request.app[VENUE_KEY]
    _limit(venue, "time", _client_key(request))
    return ok([{"ts": venue.now_ms()}])


def _instrument_json(venue: OkxVenue, symbol: str) -> Json:
    inst = venue.instruments[symbol]
    return {
        "alias": "", "auctionEndTime": "", "baseCcy": inst.base, "category": "1", "ctMult": "",
        "ctType": "", "ctVal": "", "ctValCcy": "", "contTdSwTime": "", "expTime": "",
        "futureSettlement": False, "instFamily": "", "instId": inst.symbol, "instType": "SPOT",
        "lever": "", "listTime": "1606468572000", "lotSz": dec_str(inst.lot_size),
        "maxIcebergSz": "9999999999", "maxLmtAmt": "1000000", "maxLmtSz": "9999999999",
        "maxMktAmt": "1000000", "maxMktSz": "1000000", "maxStopSz": "1000000",
        "maxTriggerSz": "9999999999", "maxTwapSz": "9999999999", "minSz": dec_str(inst.min_qty),
        "optType": "", "openType": "", "quoteCcy": inst.quote, "tradeQuoteCcyList": [inst.quote],
        "settleCcy": "", "state": "live", "ruleType": "normal", "stk": "",
        "tickSz": dec_str(inst.tick_size), "uly": "",
        "instIdCode": 1_000_000_000 + sorted(venue.instruments).index(symbol),
    }  # fmt: skip


async def instruments(request: web.Request) -> web.Response:
    venue = request.app[VENUE_KEY]
    _limit(venue, "instruments", _client_key(request))
    inst_type = request.query.get("instType", "")
    if not inst_type:
        raise missing("instType")
    if inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
        raise param_error("instType")
    inst_id = request.query.get("instId", "")
    if inst_id and inst_id not in venue.instruments:
        raise OkxError("51001", "Instrument ID does not exist.")
    if inst_type != "SPOT":
        return ok([])  # the simulator lists spot pairs only
    symbols = [inst_id] if inst_id else sorted(venue.instruments)
    return ok([_instrument_json(venue, s) for s in symbols])


async def books(request: web.Request) -> web.Response:
    venue = request.app[VENUE_KEY]
    _limit(venue, "books", _client_key(request))
    inst_id = request.query.get("instId", "")
    if not inst_id:
        raise missing("instId")
    inst = venue.instruments.get(inst_id)
    if inst is None:
        raise OkxError("51001", "Instrument ID does not exist.")
    sz_text = request.query.get("sz", "1")
    if not sz_text.isdigit() or not 1 <= int(sz_text) <= _MAX_BOOK_SZ:
        raise param_error("sz")
    _, bids, asks = venue.exchange.engine.depth(inst_id, int(sz_text))
    book = {
        "asks": [level_row(inst, p, q) for p, q in asks],
        "bids": [level_row(inst, p, q) for p, q in bids],
        "ts": venue.now_ms(),
    }
    return ok([book])


# -- trading -----------------------------------------------------------------------------


async def place_order(request: web.Request) -> web.Response:
    in_ns = request.app[VENUE_KEY].now_ns()
    venue, account, body = await _signed(request)
    args = _json_body(body)
    _limit(venue, "order", f"{account}:{_inst_id(venue, args)}")
    item = venue.place(account, args, single=True)
    code, msg = summary([item])
    return _timed(in_ns, venue, code, msg, [item])


async def _batch(request: web.Request, rule: str, op: str) -> web.Response:
    """One batch endpoint: charged per item to the rule of its first instrument."""
    in_ns = request.app[VENUE_KEY].now_ns()
    venue, account, body = await _signed(request)
    items = _json_body(body)
    first = items[0] if isinstance(items, list) and items else {}
    count = len(items) if isinstance(items, list) else 1
    _limit(venue, rule, f"{account}:{_inst_id(venue, first)}", count)
    code, msg, data = venue.batch(account, items, op)
    return _timed(in_ns, venue, code, msg, data)


async def batch_orders(request: web.Request) -> web.Response:
    return await _batch(request, "batch-orders", "place")


async def cancel_order(request: web.Request) -> web.Response:
    in_ns = request.app[VENUE_KEY].now_ns()
    venue, account, body = await _signed(request)
    args = _json_body(body)
    _limit(venue, "cancel", f"{account}:{_inst_id(venue, args)}")
    item = venue.cancel(account, args)
    code, msg = summary([item])
    return _timed(in_ns, venue, code, msg, [item])


async def cancel_batch(request: web.Request) -> web.Response:
    return await _batch(request, "cancel-batch", "cancel")


async def amend_order(request: web.Request) -> web.Response:
    in_ns = request.app[VENUE_KEY].now_ns()
    venue, account, body = await _signed(request)
    args = _json_body(body)
    _limit(venue, "amend", f"{account}:{_inst_id(venue, args)}")
    item = venue.amend(account, args)
    code, msg = summary([item])
    return _timed(in_ns, venue, code, msg, [item])


async def amend_batch(request: web.Request) -> web.Response:
    return await _batch(request, "batch-amend", "amend")


def _fills(venue: OkxVenue, account: str, request: web.Request, history: bool) -> list[Json]:
    query = request.query
    inst_type = query.get("instType", "")
    if history and not inst_type:
        raise missing("instType")
    if inst_type and inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
        raise param_error("instType")
    if inst_type not in ("", "SPOT"):
        return []
    inst_id, ord_id = query.get("instId", ""), query.get("ordId", "")
    limit_text = query.get("limit", "100")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
        raise param_error("limit")
    bounds: dict[str, int] = {}
    for name in ("after", "before", "begin", "end"):
        text = query.get(name, "")
        if text:
            if not text.isdigit():
                raise param_error(name)
            bounds[name] = int(text)
    out: list[Json] = []
    for fill in reversed(venue.fills.get(account, ())):  # newest first, as OKX lists them
        if (inst_id and fill["instId"] != inst_id) or (ord_id and fill["ordId"] != ord_id):
            continue
        bill, ts = int(fill["billId"]), int(fill["ts"])
        if ("after" in bounds and bill >= bounds["after"]) or (
            "before" in bounds and bill <= bounds["before"]
        ):
            continue
        if ("begin" in bounds and ts < bounds["begin"]) or ("end" in bounds and ts > bounds["end"]):
            continue
        out.append(fill)
        if len(out) == int(limit_text):
            break
    return out


async def fills(request: web.Request) -> web.Response:
    venue, account, _ = await _signed(request)
    _limit(venue, "fills", account)
    return ok(_fills(venue, account, request, history=False))


async def fills_history(request: web.Request) -> web.Response:
    venue, account, _ = await _signed(request)
    _limit(venue, "fills-history", account)
    return ok(_fills(venue, account, request, history=True))


async def cancel_all_after(request: web.Request) -> web.Response:
    venue, account, body = await _signed(request)
    args = _json_body(body)
    _limit(venue, "cancel-all-after", account)
    if not isinstance(args, dict):
        raise param_error("timeOut")
    return ok([venue.cancel_all_after(account, args.get("timeOut"))])


async def orders_pending(request: web.Request) -> web.Response:
    venue, account, _ = await _signed(request)
    _limit(venue, "orders-pending", account)
    query = request.query
    inst_type = query.get("instType", "")
    if inst_type and inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
        raise param_error("instType")
    if inst_type not in ("", "SPOT"):
        return ok([])
    inst_id = query.get("instId", "") or None
    ord_type = query.get("ordType", "")
    state = query.get("state", "")
    limit_text = query.get("limit", "100")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
        raise param_error("limit")
    after = parse_ord_id(query.get("after", "")) if query.get("after") else None
    before = parse_ord_id(query.get("before", "")) if query.get("before") else None
    # newest first, paginated by ordId as OKX does
    snaps = sorted(
        venue.exchange.engine.open_orders(account, inst_id),
        key=lambda s: s.order_id,
        reverse=True,
    )
    out: list[Json] = []
    for snap in snaps:
        if after is not None and snap.order_id >= after:
            continue
        if before is not None and snap.order_id <= before:
            continue
        obj = order_object(
            venue.instruments[snap.symbol],
            snap,
            venue.quote_unit(venue.instruments[snap.symbol]),
            tag=venue.tag_of(snap.order_id),
        )
        if (ord_type and obj["ordType"] != ord_type) or (state and obj["state"] != state):
            continue
        out.append(obj)
        if len(out) == int(limit_text):
            break
    return ok(out)


async def order_info(request: web.Request) -> web.Response:
    venue, account, _ = await _signed(request)
    _limit(venue, "order-info", account)
    query = request.query
    inst_id = query.get("instId", "")
    if not inst_id:
        raise missing("instId")
    inst = venue.instruments.get(inst_id)
    if inst is None:
        raise OkxError("51001", "Instrument ID does not exist.")
    ord_id, cl_ord_id = query.get("ordId", ""), query.get("clOrdId", "")
    if not ord_id and not cl_ord_id:
        raise missing("ordId")
    engine = venue.exchange.engine
    if ord_id:
        order_id = parse_ord_id(ord_id)
        snap = engine.order(order_id) if order_id is not None else None
    else:
        snap = engine.order_by_client_id(account, inst_id, cl_ord_id)
    if snap is None or snap.account != account or snap.symbol != inst_id:
        raise OkxError("51603", "Order does not exist")
    tag = venue.tag_of(snap.order_id)
    return ok([order_object(inst, snap, venue.quote_unit(inst), tag=tag)])


async def balance(request: web.Request) -> web.Response:
    venue, account, _ = await _signed(request)
    _limit(venue, "balance", account)
    wanted = {c for c in request.query.get("ccy", "").split(",") if c}
    if len(wanted) > 20:
        raise param_error("ccy")
    return ok([venue.balance_json(account, wanted)])


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v5/public/time", server_time)
    app.router.add_get("/api/v5/public/instruments", instruments)
    app.router.add_get("/api/v5/market/books", books)
    app.router.add_post("/api/v5/trade/order", place_order)
    app.router.add_post("/api/v5/trade/batch-orders", batch_orders)
    app.router.add_post("/api/v5/trade/cancel-order", cancel_order)
    app.router.add_post("/api/v5/trade/cancel-batch-orders", cancel_batch)
    app.router.add_post("/api/v5/trade/cancel-all-after", cancel_all_after)
    app.router.add_post("/api/v5/trade/amend-order", amend_order)
    app.router.add_post("/api/v5/trade/amend-batch-orders", amend_batch)
    app.router.add_get("/api/v5/trade/fills", fills)
    app.router.add_get("/api/v5/trade/fills-history", fills_history)
    app.router.add_get("/api/v5/trade/orders-pending", orders_pending)
    app.router.add_get("/api/v5/trade/order", order_info)
    app.router.add_get("/api/v5/account/balance", balance)


__all__ = ["VENUE_KEY", "add_routes", "okx_middleware"]
