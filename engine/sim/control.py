"""The simulator's control endpoint (`/_sim/...`), the same on every venue: arm faults, set
latency, read counters. Never part of a real venue's API, so no client can hit it by mistake."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from engine.sim.exchange import SimExchange
from engine.sim.faults import FaultKind

EXCHANGE_KEY = web.AppKey("sim_exchange", SimExchange)


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


def add_control_routes(app: web.Application, exchange: SimExchange) -> None:
    app[EXCHANGE_KEY] = exchange
    app.router.add_get("/_sim/health", health)
    app.router.add_get("/_sim/faults", get_faults)
    app.router.add_post("/_sim/faults", arm_fault)
    app.router.add_delete("/_sim/faults", disarm_faults)
    app.router.add_post("/_sim/latency", set_latency)
