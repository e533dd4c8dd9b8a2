"""Binance spot, simulated: REST `/api/v3`, market streams `/ws` + `/stream`, WS API `/ws-api/v3`.

`create_app(exchange)` builds the aiohttp application; `urls(http, ws)` says where a client
points its base URLs (REST and streams at the host root, as `api.binance.com` and
`stream.binance.com` are; the WS API at its full path). `venue_state(exchange)` gives tests
the protocol state of a running app: `.limits` (weights, order counts, ban) and `.knobs`
(REST_TIMEOUT hold, DELAY_ACK delay, ping interval / pong deadline, incoming message rate).
"""

from __future__ import annotations

import weakref

from aiohttp import web

from engine.sim.exchange import SimExchange, SimUrls
from engine.sim.venues.binance_rest import RestHandler
from engine.sim.venues.binance_trading import BinanceVenue
from engine.sim.venues.binance_ws import WsServer

VENUE_KEY = web.AppKey("binance_venue", BinanceVenue)
WS_KEY = web.AppKey("binance_ws", WsServer)
_STATES: weakref.WeakKeyDictionary[SimExchange, BinanceVenue] = weakref.WeakKeyDictionary()

__all__ = ["create_app", "urls", "venue_state"]


def create_app(exchange: SimExchange) -> web.Application:
    venue = BinanceVenue(exchange)
    _STATES[exchange] = venue
    app = web.Application()
    app[VENUE_KEY] = venue
    RestHandler(venue).add_routes(app)
    ws = WsServer(venue)
    app[WS_KEY] = ws
    ws.add_routes(app)
    return app


def urls(http_base: str, ws_base: str) -> SimUrls:
    api = f"{ws_base}/ws-api/v3"
    return SimUrls(rest=http_base, ws_public=ws_base, ws_private=api, ws_api=api)


def venue_state(exchange: SimExchange) -> BinanceVenue:
    return _STATES[exchange]
