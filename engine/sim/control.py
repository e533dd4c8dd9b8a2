"""The simulator's control endpoint (`/_sim/...`), the same on every venue: arm faults, set
latency, read counters and orders. Never part of a real venue's API, so no client can hit it
by mistake.

    GET    /_sim/health                 venue, time, event and fault counters
    GET    /_sim/faults                 armed faults and how many were injected
    POST   /_sim/faults                 {"fault": ..., "channel": ..., "count": ...}
    DELETE /_sim/faults                 disarm every fault
    POST   /_sim/latency                {"channel": ..., "fixed_ms": ..., "jitter_ms": ...}
    GET    /_sim/orders?account=user[&symbol=S]
                                        the account's open orders (read-only)
    GET    /_sim/orders?account=user&symbol=S&client_order_id=C
                                        that order whatever its state (open or done)
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from engine.sim.exchange import SimExchange
from engine.sim.faults import FaultKind
from engine.sim.matching import OrderSnapshot

EXCHANGE_KEY = web.AppKey("sim_exchange", SimExchange)
DEFAULT_ACCOUNT = "user"  # the account the API key reaches (engine.sim.server.ACCOUNT)


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(doc), status=status, content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        doc = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise web.HTTPBadRequest(text=f"body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return doc


async def health(request: web.Request) -> web.Response:
    ex = request.app[EXCHANGE_KEY]
    return _json(
        {
            "venue": ex.venue,
            "time_ns": ex.clock.time_ns(),
            "events_published": ex.events_published,
            "listener_errors": ex.listener_errors,
            "faults": ex.faults.counters(),
        }
    )


async def get_faults(request: web.Request) -> web.Response:
    faults = request.app[EXCHANGE_KEY].faults
    return _json({"armed": faults.armed(), "counters": faults.counters()})


async def arm_fault(request: web.Request) -> web.Response:
    doc = await _body(request)
    try:
        kind = FaultKind(str(doc.get("fault")))
        request.app[EXCHANGE_KEY].faults.arm(
            kind, str(doc.get("channel", "*")), int(doc.get("count", 1))
        )
    except ValueError as exc:
        known = ", ".join(k.value for k in FaultKind)
        return _json({"error": f"{exc}; faults: {known}"}, status=400)
    return _json({"armed": kind.value})


async def disarm_faults(request: web.Request) -> web.Response:
    request.app[EXCHANGE_KEY].faults.disarm()
    return _json({"disarmed": True})


async def set_latency(request: web.Request) -> web.Response:
    doc = await _body(request)
    try:
        request.app[EXCHANGE_KEY].faults.set_latency(
            str(doc.get("channel", "*")),
            float(doc.get("fixed_ms", 0)) / 1000,
            float(doc.get("jitter_ms", 0)) / 1000,
        )
    except (TypeError, ValueError) as exc:
        return _json({"error": str(exc)}, status=400)
    return _json({"latency": doc})


def _order_doc(order: OrderSnapshot) -> dict[str, Any]:
    """An order as the simulator holds it: grid units (ticks, lots), enums by value."""
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "account": order.account,
        "symbol": order.symbol,
        "side": order.side.name.lower(),
        "type": order.type.value,
        "tif": order.tif.value,
        "price": order.price,
        "qty": order.qty,
        "filled": order.filled,
        "status": order.status.value,
        "open": order.status.is_open,
        "reason": order.reason.value,
        "created_ns": order.created_ns,
        "updated_ns": order.updated_ns,
    }


async def get_orders(request: web.Request) -> web.Response:
    """Read-only: the account's open orders, or one order by client id whatever its state
    (drills check that a dead-man switch or a stop cancelled what was resting)."""
    engine = request.app[EXCHANGE_KEY].engine
    query = request.query
    account = query.get("account", DEFAULT_ACCOUNT)
    symbol = query.get("symbol") or None
    client_order_id = query.get("client_order_id", "")
    if client_order_id:
        if symbol is None:
            return _json({"error": "client_order_id needs symbol"}, status=400)
        found = engine.order_by_client_id(account, symbol, client_order_id)
        orders = [] if found is None else [found]
    else:
        orders = engine.open_orders(account, symbol)
    return _json({"account": account, "orders": [_order_doc(o) for o in orders]})


def add_control_routes(app: web.Application, exchange: SimExchange) -> None:
    app[EXCHANGE_KEY] = exchange
    app.router.add_get("/_sim/health", health)
    app.router.add_get("/_sim/faults", get_faults)
    app.router.add_post("/_sim/faults", arm_fault)
    app.router.add_delete("/_sim/faults", disarm_faults)
    app.router.add_post("/_sim/latency", set_latency)
    app.router.add_get("/_sim/orders", get_orders)
