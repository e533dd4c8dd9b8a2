"""Gate v4 spot protocol of the simulator: REST under /api/v4, one WebSocket at /ws/v4/ for
public channels, private channels and the WS trading API (docs/VENUES.md §3).

`create_app(exchange)` and `urls(http_base, ws_base)` are what `engine.sim.server` needs;
`venue_state(exchange).config` holds the Gate-specific knobs (poc style, full-snapshot period,
rate limits)."""

from __future__ import annotations

from aiohttp import web

from engine.clock import NS_PER_MS
from engine.sim.exchange import SimExchange, SimUrls
from engine.sim.matching import DepthUpdate, Event, PublicTrade
from engine.sim.venues.gate_messages import GateConfig, PocStyle, venue_state
from engine.sim.venues.gate_rest import add_rest_routes
from engine.sim.venues.gate_ws_requests import WS_PATH, add_ws_routes

__all__ = ["GateConfig", "PocStyle", "create_app", "urls", "venue_state"]


def create_app(exchange: SimExchange) -> web.Application:
    state = venue_state(exchange)
    app = web.Application()

    def on_public(event: Event) -> None:
        if isinstance(event, DepthUpdate):
            state.book_ms[event.symbol] = event.ts_ns // NS_PER_MS
        elif isinstance(event, PublicTrade):
            state.last_trade[event.symbol] = event.price

    unsubscribe = exchange.on_public(on_public)
    add_rest_routes(app, state)
    add_ws_routes(app, state)

    async def cleanup(_app: web.Application) -> None:
        unsubscribe()
        state.close()

    app.on_cleanup.append(cleanup)
    return app


def urls(http_base: str, ws_base: str) -> SimUrls:
    ws = ws_base + WS_PATH
    return SimUrls(rest=http_base + "/api/v4", ws_public=ws, ws_private=ws, ws_api=ws)
