"""Binance spot REST (`/api/v3/...`) over a `BinanceVenue`: routes, auth, weights, faults.

Parameters come from the query string and the form body (the query wins on a clash, as on
Binance); a signed request is verified over the raw bytes received (docs/VENUES.md §1.5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from engine.sim.faults import FaultKind
from engine.sim.venues import binance_messages as m
from engine.sim.venues.binance_limits import weight_limit_error
from engine.sim.venues.binance_messages import BinanceError
from engine.sim.venues.binance_trading import BinanceVenue, Params, depth_weight
from engine.wire.binance_signing import binance_verify_rest

CHANNEL = "rest"
API_KEY_HEADER = "X-MBX-APIKEY"
# the outcome-unknown error a held request finally gets (the client has long given up)
TIMEOUT_ERROR = BinanceError(
    503,
    -1007,
    "Timeout waiting for response from backend server. Send status unknown; "
    "execution status unknown.",
)

Operation = Callable[[BinanceVenue, str, Params], Any]
Weigher = Callable[[Params], int]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    weigh: Weigher
    signed: bool
    run: Operation
    counts_order: bool = False
    keyed: bool = False  # USER_STREAM: the X-MBX-APIKEY header only, no signature


def _fixed(weight: int) -> Weigher:
    return lambda _params: weight


def _ping(_v: BinanceVenue, _a: str, _p: Params) -> Any:
    return {}


def _time(v: BinanceVenue, _a: str, _p: Params) -> Any:
    return {"serverTime": v.now_ms()}


def _order_count_usage(v: BinanceVenue, account: str, _p: Params) -> Any:
    ten, day = v.order_counts(account)
    lim = v.limits
    return [
        {
            "rateLimitType": "ORDERS",
            "interval": "SECOND",
            "intervalNum": 10,
            "limit": lim.orders_per_10s,
            "count": ten,
        },
        {
            "rateLimitType": "ORDERS",
            "interval": "DAY",
            "intervalNum": 1,
            "limit": lim.orders_per_day,
            "count": day,
        },
    ]


ENDPOINTS = (
    Endpoint("GET", "/api/v3/ping", _fixed(1), False, _ping),
    Endpoint("GET", "/api/v3/time", _fixed(1), False, _time),
    Endpoint("GET", "/api/v3/exchangeInfo", _fixed(20), False, lambda v, _a, p: v.exchange_info(p)),
    Endpoint(
        "GET",
        "/api/v3/depth",
        lambda p: depth_weight(BinanceVenue.depth_limit(p)),
        False,
        lambda v, _a, p: v.depth(p),
    ),
    Endpoint(
        "GET",
        "/api/v3/ticker/bookTicker",
        lambda p: 2 if p.get("symbol") else 4,
        False,
        lambda v, _a, p: v.book_ticker(p),
    ),
    Endpoint("POST", "/api/v3/order", _fixed(1), True, lambda v, a, p: v.place_order(a, p), True),
    Endpoint(
        "POST",
        "/api/v3/order/test",
        _fixed(1),
        True,
        lambda v, a, p: v.place_order(a, p, test=True),
    ),
    Endpoint("DELETE", "/api/v3/order", _fixed(1), True, lambda v, a, p: v.cancel_order(a, p)),
    Endpoint("GET", "/api/v3/order", _fixed(4), True, lambda v, a, p: v.query_order(a, p)),
    Endpoint("DELETE", "/api/v3/openOrders", _fixed(1), True, lambda v, a, p: v.cancel_all(a, p)),
    Endpoint(
        "GET",
        "/api/v3/openOrders",
        lambda p: 6 if p.get("symbol") else 80,
        True,
        lambda v, a, p: v.open_orders(a, p),
    ),
    Endpoint(
        "POST",
        "/api/v3/order/cancelReplace",
        _fixed(1),
        True,
        lambda v, a, p: v.cancel_replace(a, p),
        True,
    ),
    Endpoint(
        "GET",
        "/api/v3/myTrades",
        lambda p: 5 if p.get("orderId") else 20,
        True,
        lambda v, a, p: v.my_trades(a, p),
    ),
    Endpoint(
        "POST",
        "/api/v3/userDataStream",
        _fixed(2),
        False,
        lambda v, a, _p: v.listen_key_start(a),
        keyed=True,
    ),
    Endpoint(
        "PUT",
        "/api/v3/userDataStream",
        _fixed(2),
        False,
        lambda v, a, p: v.listen_key_ping(a, p),
        keyed=True,
    ),
    Endpoint(
        "DELETE",
        "/api/v3/userDataStream",
        _fixed(2),
        False,
        lambda v, a, p: v.listen_key_stop(a, p),
        keyed=True,
    ),
    Endpoint("GET", "/api/v3/account", _fixed(20), True, lambda v, a, p: v.account(a, p)),
    Endpoint("GET", "/api/v3/rateLimit/order", _fixed(40), True, _order_count_usage),
)


def _json_response(body: Any, status: int, headers: dict[str, str]) -> web.Response:
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="UTF-8",
    )


def _error_response(error: BinanceError, headers: dict[str, str]) -> web.Response:
    if error.retry_after_s is not None:
        headers["Retry-After"] = str(error.retry_after_s)
    return _json_response(error.body(), error.status, headers)


def _params(raw_query: str, raw_body: str) -> Params:
    params = dict(parse_qsl(raw_body, keep_blank_values=True))
    params.update(parse_qsl(raw_query, keep_blank_values=True))  # the query string wins
    return params


class RestHandler:
    """One aiohttp handler per endpoint, all sharing the venue's limits and faults."""

    def __init__(self, venue: BinanceVenue) -> None:
        self.venue = venue

    def add_routes(self, app: web.Application) -> None:
        for endpoint in ENDPOINTS:
            app.router.add_route(endpoint.method, endpoint.path, self._handler(endpoint))

    def _handler(
        self, endpoint: Endpoint
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.serve(endpoint, request)

        return handle

    async def serve(self, endpoint: Endpoint, request: web.Request) -> web.StreamResponse:
        faults = self.venue.exchange.faults
        delay = faults.latency_s(CHANNEL)
        if delay:
            await asyncio.sleep(delay)
        ip = request.remote or "?"
        headers: dict[str, str] = {}
        # Faults win before anything runs: an order under REST_5XX/REST_TIMEOUT is NOT placed.
        if faults.take(FaultKind.REST_TIMEOUT, CHANNEL):
            await asyncio.sleep(self.venue.knobs.rest_timeout_s)
            return _error_response(TIMEOUT_ERROR, headers)
        if faults.take(FaultKind.REST_5XX, CHANNEL):
            return _error_response(m.SERVER_ERROR, headers)
        if faults.take(FaultKind.FORCE_429, CHANNEL):
            return _error_response(weight_limit_error(self.venue.limits.weight_per_minute), headers)
        raw_query = request.rel_url.raw_query_string
        raw_body = (await request.read()).decode("utf-8", "replace")
        params = _params(raw_query, raw_body)
        try:
            used = self.venue.charge_weight(ip, endpoint.weigh(params))
            headers["X-MBX-USED-WEIGHT-1M"] = str(used)
            body = self._run(
                endpoint=endpoint,
                request=request,
                params=params,
                raw_query=raw_query,
                raw_body=raw_body,
                headers=headers,
            )
        except BinanceError as error:
            headers.setdefault("X-MBX-USED-WEIGHT-1M", str(self.venue.used_weight(ip)))
            return _error_response(error, headers)
        return _json_response(body, 200, headers)

    def _run(
        self,
        *,
        endpoint: Endpoint,
        request: web.Request,
        params: Params,
        raw_query: str,
        raw_body: str,
        headers: dict[str, str],
    ) -> Any:
        account = ""
        if endpoint.signed:
            if not params.get("signature"):
                raise m.mandatory("signature")
            account = self.venue.authenticate(
                request.headers.get(API_KEY_HEADER),
                params,
                lambda creds: binance_verify_rest(creds, raw_query, raw_body),
            )
        elif endpoint.keyed:
            account = self.venue.account_of_key(request.headers.get(API_KEY_HEADER))
        if endpoint.counts_order:
            ten, day = self.venue.count_order(account)
            headers["X-MBX-ORDER-COUNT-10S"] = str(ten)
            headers["X-MBX-ORDER-COUNT-1D"] = str(day)
        return endpoint.run(self.venue, account, params)
