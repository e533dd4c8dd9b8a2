"""`BinanceAdapter`: Binance spot trading (docs/VENUES.md §1.5-§1.8).

Order entry goes over the WS API (`endpoints.ws_private_url`, `/ws-api/v3`), one connection
on picows (`engine.gateway.ws.WsConnection`, reconnecting with capped backoff):
`order.place`, `order.cancel`, `order.cancelReplace` (`replace_order`, `amend_order`),
`openOrders.cancelAll`, and the queries (`account.status`, `openOrders.status`,
`order.status`, `myTrades`). Requests are matched to answers by `id`; no answer within
`request_timeout_s` fails the request with `VenueUnavailable` (the outcome is unknown: the OMS
resolves it by query). HMAC keys sign every request; an Ed25519 key (a PEM private key as the
secret) logs the session on once (`session.logon`) and later requests carry only their
timestamp.

The hot path (`submit_order`, `submit_cancel`, `submit_replace`, ExchangeAdapter's contract):
while the session is logged on, the request's budget is taken, its bytes are filled from the
instrument's template (orders_wire.OrderTemplates) and written to the socket before the call
returns; the answer's frame resolves the caller's future (an OrderAck, or the typed error) and
a `loop.call_later` timer fails it after `request_timeout_s`: no task, no `wait_for`. The
async methods (`place_order`, `cancel_order`, `replace_order`) run the same code and keep the
rest: REST when the session is down, the clock resync and retry after a -1021.

REST (`endpoints.rest_url`, `/api/v3/...`) runs the same operations on one long-lived
aiohttp session (keep-alive connector, timeouts): always with `rest_only=True`, and
otherwise whenever the WS API session is down.

The private stream is the WS API user-data subscription on the same connection
(`userDataStream.subscribe` after a logon, else `userDataStream.subscribe.signature`), or
with `user_stream="listen_key"` the listenKey flow (`POST /api/v3/userDataStream`, the
`/ws/<listenKey>` stream on aiohttp, a keepalive `PUT` every 30 minutes). Every
`executionReport` becomes one `ExecutionReport` handed to `on_report`, in the order the venue
sent them.

Clock: the offset to Binance's clock is measured at start (`GET /api/v3/time`) and every
timestamp is the engine clock plus that offset; a -1021 answer measures it again and sends
the request once more (with a new timestamp and signature), then raises `ClockSkew`. Until
the offset is measured again after a -1021, `submit_*` answer None (the async path resyncs).
Every connection verifies TLS against `endpoints.ca_file` (`engine.gateway.tls.ssl_for`).
Error messages are the venue's code and text, never anything that was signed.

Rate limits (`limiter`, docs/VENUES.md §1.8): every request takes its request weight first,
a new order or cancelReplace also one of each order count; one over budget is refused with
RateLimited("local") and not sent, the others wait for their tokens (`submit_cancel` answers
None instead of waiting). The venue's counters (`X-MBX-USED-WEIGHT-1M`,
`X-MBX-ORDER-COUNT-10S`/`-1D`, WS API `rateLimits`) correct the buckets; a 429/418 blocks the
weight (-1015: the order counts) for its Retry-After.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from yarl import URL

from engine._core.reports import ReportError
from engine.clock import NS_PER_MS, Clock
from engine.gateway.adapter import (
    Balance,
    ExchangeAdapter,
    ExecutionReport,
    FillRecord,
    OrderAck,
    OrderRequest,
    OrderSnapshot,
    ReportSink,
    VenueEndpoints,
)
from engine.gateway.binance import orders_wire as wire
from engine.gateway.errors import (
    ClockSkew,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    VenueError,
    VenueUnavailable,
)
from engine.gateway.ratelimit import BINANCE_ORDER, BINANCE_USAGE, BINANCE_WEIGHTS
from engine.gateway.tls import certificate_error, ssl_for
from engine.gateway.ws import WsConnection, WsOptions
from engine.model.enums import OrderSide, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.wire.binance_signing import load_ed25519_private_key
from engine.wire.credentials import Credentials
from engine.wire.mac import hmac_hex

log = logging.getLogger("engine.gateway.binance")

VENUE = wire.VENUE
USER_STREAMS = ("subscribe", "listen_key", "none")
TRANSPORT_ERRORS = (aiohttp.ClientError, OSError, RuntimeError)
MY_TRADES_PAGE = 1000
REMEMBERED_ORDERS = 200_000  # orderId -> client id entries kept for get_fills
_INTERVALS = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}
_REPLACED = re.compile(r"-r[0-9a-z]{1,8}$")  # the suffix amend_order gives a replacement
_T = TypeVar("_T")
_NEW_ORDERS = frozenset(("order.place", "order.cancelReplace"))  # refused, never delayed
# what the answer to a WS API request becomes (_Pending.kind): its raw `result`, or an
# OrderAck parsed in the answer handler (the hot path's futures resolve to the ack)
_RAW, _PLACE, _CANCEL, _REPLACE = 0, 1, 2, 3

Shape = tuple[OrderSide, OrderType, TimeInForce]


def _ed25519_key(credentials: Credentials) -> Ed25519PrivateKey | None:
    """An Ed25519 key when the secret is a PEM private key (Binance's recommended type)."""
    secret = credentials.api_secret
    if "PRIVATE KEY-----" not in secret:
        return None
    try:
        return load_ed25519_private_key(secret)
    except (ValueError, TypeError):
        raise InvalidOrder(VENUE, "", "the API secret is a PEM key but not Ed25519") from None


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


class _Pending:
    """One WS API request written and not yet answered: the future its caller holds, the
    timer that fails it after `request_timeout_s`, and what its answer becomes (`kind`; for
    an ack, the order's instrument and client id, and a replace's cancelled id in `other`)."""

    __slots__ = ("client_order_id", "future", "instrument", "kind", "method", "other", "timer")

    def __init__(  # noqa: PLR0917 - one slot each, built once per request
        self,
        future: asyncio.Future[Any],
        timer: asyncio.TimerHandle,
        method: str,
        kind: int,
        instrument: Instrument | None,
        client_order_id: str,
        other: str,
    ) -> None:
        self.future = future
        self.timer = timer
        self.method = method
        self.kind = kind
        self.instrument = instrument
        self.client_order_id = client_order_id
        self.other = other


class BinanceAdapter(ExchangeAdapter):
    """Binance spot over the WS API, REST as fallback (see the module docstring)."""

    venue = VENUE
    refreshes_time_itself = True  # every time_sync_interval_s (_refresh_time)
    replaces_in_one_request = True  # order.cancelReplace: replace_order, submit_replace

    def __init__(
        self,
        endpoints: VenueEndpoints,
        credentials: Credentials,
        clock: Clock,
        instruments: Sequence[Instrument],
        on_report: ReportSink | None = None,
        *,
        rest_only: bool = False,
        user_stream: str = "subscribe",
        request_timeout_s: float = 5.0,
        reconnect_max_s: float = 5.0,
        listen_key_keepalive_s: float = 1800.0,
        time_sync_interval_s: float = 300.0,
        on_stream_restart: Callable[[], None] | None = None,
        ws_options: WsOptions | None = None,
    ) -> None:
        super().__init__(endpoints, credentials, clock, instruments, on_report)
        if user_stream not in USER_STREAMS:
            raise ValueError(f"user_stream must be one of {USER_STREAMS}, not {user_stream!r}")
        self.rest_only = rest_only
        self.user_stream = user_stream
        self.request_timeout_s = request_timeout_s
        self.reconnect_max_s = reconnect_max_s
        self.listen_key_keepalive_s = listen_key_keepalive_s
        self.time_sync_interval_s = time_sync_interval_s
        # called when the private stream is back after a loss (not at start): reports sent
        # meanwhile are gone, the OMS reconciles by query (get_open_orders, get_fills)
        self.on_stream_restart = on_stream_restart
        # the request budgets (ExchangeAdapter.limiter): weight and order counts per request
        self._costs = {
            method: self.limiter.charge(
                (("weight", w), *BINANCE_ORDER) if method in _NEW_ORDERS else (("weight", w),)
            )
            for method, w in BINANCE_WEIGHTS.items()
        }
        self._place_cost = self._costs["order.place"]
        self._cancel_cost = self._costs["order.cancel"]
        self._replace_cost = self._costs["order.cancelReplace"]
        self._ed25519 = _ed25519_key(credentials)
        self._rest = endpoints.rest_url.rstrip("/")
        self._key_header = {"X-MBX-APIKEY": credentials.api_key}
        self._recv_window = str(endpoints.recv_window_ms)
        self._http: aiohttp.ClientSession | None = None
        # the WS API session: the WsConnection's own backoff between sockets (capped at
        # reconnect_max_s); no staleness rule, as the session is silent while nothing trades
        self._ws_options = ws_options or WsOptions(
            stale_after_s=math.inf, backoff_max_s=reconnect_max_s
        )
        self._ws: WsConnection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opened: asyncio.Future[None] | None = None  # the first session's setup
        self._setup: asyncio.Task[None] | None = None  # logon / subscribe of this socket
        self._ws_ready = False  # logged on / subscribed: order entry may use the WS API
        self._logged_on = False
        self._skewed = False  # a -1021 answer came; the offset is not yet measured again
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._amends = itertools.count(clock.time_ns() // NS_PER_MS % 36**6)
        self._offset_ns = 0
        self._backoff_s = 0.1
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        # what an amend (cancelReplace) must repeat of an order: client id -> order shape
        self._shapes: dict[str, Shape] = {}
        # the order path's WS API requests per symbol (orders_wire.OrderTemplates), on first use
        self._templates: dict[str, wire.OrderTemplates] = {}
        self._cid_by_order_id: dict[str, str] = {}  # myTrades rows carry no client id
        self.listen_key = ""
        self.positions: dict[str, Balance] = {}  # from outboundAccountPosition events
        self.stream_connects = 0  # private stream (re)established
        self.stream_errors = 0  # frames or reports that could not be decoded
        self.resyncs = 0  # server-time offset measured again after a -1021
        # the venue's usage counters as last reported (X-MBX-USED-WEIGHT-1M and
        # X-MBX-ORDER-COUNT-* headers, WS API rateLimits): "REQUEST_WEIGHT:1M" -> count
        self.usage: dict[str, int] = {}

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def offset_ns(self) -> int:
        """Binance's clock minus the engine clock, as last measured."""
        return self._offset_ns

    @property
    def ws_ready(self) -> bool:
        """The WS API session takes orders now: `submit_*` write to it (else they answer None
        and the async methods use REST, or resync the clock first)."""
        return self._ws_ready and not self.rest_only and not self._skewed

    async def start(self) -> None:
        if self._http is not None:
            return
        self._closed = False
        self._skewed = False
        self._loop = asyncio.get_running_loop()
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                ssl=ssl_for(self.endpoints.rest_url, self.endpoints.ca_file) or True,
                keepalive_timeout=60.0,
                limit=16,
            ),
            timeout=aiohttp.ClientTimeout(total=self.request_timeout_s),
        )
        try:
            await self.sync_time()
            if self.time_sync_interval_s > 0:
                self._tasks.append(asyncio.create_task(self._refresh_time()))
            if not self.rest_only or self.user_stream == "subscribe":
                await self._start_ws_api()
            if self.user_stream == "listen_key":
                stream_opened: asyncio.Future[None] = self._loop.create_future()
                self._tasks.append(asyncio.create_task(self._run_listen_key(stream_opened)))
                await stream_opened
        except BaseException:
            await self.close()
            raise

    async def _start_ws_api(self) -> None:
        """Connect the WS API session and wait for its first logon / subscription."""
        assert self._loop is not None
        url = self.endpoints.ws_private_url
        opened = self._opened = self._loop.create_future()
        ws = self._ws = WsConnection(
            url,
            _Session(self),
            clock=self.clock,
            name="binance:ws-api",
            options=self._ws_options,
            ca_file=self.endpoints.ca_file,
            venue=VENUE,
        )
        ws.start()
        try:
            # a refused certificate raises TlsVerifyError at once
            await ws.wait_connected(self.request_timeout_s)
        except TimeoutError:
            raise VenueUnavailable(
                VENUE, "", f"WS API {url}: not connected within {self.request_timeout_s} s"
            ) from None
        await opened

    async def close(self) -> None:
        self._closed = True
        self._ws_ready = False
        opened, self._opened = self._opened, None
        if opened is not None and not opened.done():
            opened.cancel()  # a start that failed earlier: nobody waits for it any more
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.stop()
        setup, self._setup = self._setup, None
        tasks, self._tasks = self._tasks, []
        if setup is not None:
            tasks.append(setup)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._fail_pending("the adapter closed")
        http, self._http = self._http, None
        if http is not None:
            if self.listen_key:
                with contextlib.suppress(VenueError, *TRANSPORT_ERRORS, TimeoutError):
                    await self._rest_call(
                        "DELETE",
                        "/api/v3/userDataStream",
                        [("listenKey", self.listen_key)],
                        signed=False,
                        keyed=True,
                        http=http,
                    )
                self.listen_key = ""
            await http.close()

    async def _refresh_time(self) -> None:
        """Measure the offset again every `time_sync_interval_s` (clocks drift)."""
        while True:
            await asyncio.sleep(self.time_sync_interval_s)
            try:
                await self.sync_time()
            except (VenueError, ValueError) as exc:
                log.warning("binance: server time refresh failed: %s", exc)

    def _stream_started(self) -> None:
        self.stream_connects += 1
        if self.stream_connects > 1:
            self._stream_restarted()

    def _remember(self, venue_order_id: str, client_order_id: str) -> None:
        """orderId -> client id (myTrades rows carry no client id); bounded."""
        known = self._cid_by_order_id
        known[venue_order_id] = client_order_id
        if len(known) > REMEMBERED_ORDERS:
            for old in list(itertools.islice(known, REMEMBERED_ORDERS // 2)):
                del known[old]

    async def sync_time(self) -> int:
        """Measure Binance's clock against ours (`GET /api/v3/time`); the new offset in ns."""
        await self.limiter.acquire_waiting(self._costs["time"])
        before = self.clock.time_ns()
        doc = await self._rest_call("GET", "/api/v3/time", [], signed=False)
        after = self.clock.time_ns()
        try:
            server_ns = int(doc["serverTime"]) * NS_PER_MS
        except (KeyError, TypeError, ValueError):
            raise VenueUnavailable(VENUE, "", "GET /api/v3/time: no serverTime") from None
        # the server's ms are truncated: its instant lies in the half millisecond after
        self._offset_ns = server_ns + NS_PER_MS // 2 - (before + after) // 2
        self._skewed = False
        return self._offset_ns

    async def _resync(self) -> None:
        """A -1021: measure the offset again (the request is then sent once more)."""
        self.resyncs += 1
        log.warning("binance answered -1021: measuring the clock offset again")
        await self.sync_time()

    # -- orders: the hot path --------------------------------------------------------------

    @property
    def order_session(self) -> WsConnection | None:
        return self._ws

    def submit_order(self, request: OrderRequest) -> asyncio.Future[OrderAck] | None:
        """`order.place`, written before the call returns (ExchangeAdapter's hot path)."""
        if not self._ws_ready or self.rest_only or self._skewed:
            return None
        inst = self.instrument(request.instrument.symbol)
        cid = request.client_order_id
        rid = next(self._ids)
        # the bytes (and their checks: InvalidOrder) before the budget is taken; nothing
        # awaits between the timestamp and the write
        data = self._order_templates(inst).place(
            rid,
            request.side,
            request.order_type,
            request.time_in_force,
            quantity_lots=request.quantity_lots,
            price_ticks=request.price_ticks,
            client_order_id=cid,
            timestamp_ms=(self.clock.time_ns() + self._offset_ns) // NS_PER_MS,
            signed=not self._logged_on,
        )
        self.limiter.take_or_refuse(self._place_cost, "order.place")
        future = self._send(rid, data, "order.place", _PLACE, inst, cid, "")
        if future is not None:
            self._shapes[cid] = (request.side, request.order_type, request.time_in_force)
        return future

    def submit_cancel(self, symbol: str, client_order_id: str) -> asyncio.Future[OrderAck] | None:
        """`order.cancel` by client id, written before the call returns; None also when its
        weight is not there now (`cancel_order` waits for it: a cancel must go out)."""
        if not self._ws_ready or self.rest_only or self._skewed:
            return None
        inst = self.instrument(symbol)
        rid = next(self._ids)
        data = self._order_templates(inst).cancel(
            rid,
            client_order_id,
            timestamp_ms=(self.clock.time_ns() + self._offset_ns) // NS_PER_MS,
            signed=not self._logged_on,
        )
        if self.limiter.acquire(self._cancel_cost):
            return None
        return self._send(rid, data, "order.cancel", _CANCEL, inst, client_order_id, "")

    def submit_replace(
        self, cancel_client_order_id: str, request: OrderRequest
    ) -> asyncio.Future[OrderAck] | None:
        """`order.cancelReplace` (STOP_ON_FAILURE) of `cancel_client_order_id` by `request`
        (its own client id), written before the call returns; the future resolves to the new
        order's ack, or the error of the part that failed (a refused cancel places nothing)."""
        if not self._ws_ready or self.rest_only or self._skewed:
            return None
        inst = self.instrument(request.instrument.symbol)
        cid = request.client_order_id
        rid = next(self._ids)
        data = self._order_templates(inst).replace(
            rid,
            request.side,
            request.order_type,
            request.time_in_force,
            quantity_lots=request.quantity_lots,
            price_ticks=request.price_ticks,
            client_order_id=cid,
            cancel_client_order_id=cancel_client_order_id,
            timestamp_ms=(self.clock.time_ns() + self._offset_ns) // NS_PER_MS,
            signed=not self._logged_on,
        )
        self.limiter.take_or_refuse(self._replace_cost, "order.cancelReplace")
        future = self._send(
            rid, data, "order.cancelReplace", _REPLACE, inst, cid, cancel_client_order_id
        )
        if future is not None:
            self._shapes[cid] = (request.side, request.order_type, request.time_in_force)
        return future

    def _send(  # noqa: PLR0917 - the _Pending's fields
        self,
        rid: int,
        data: bytes,
        method: str,
        kind: int,
        inst: Instrument | None,
        client_order_id: str,
        other: str,
    ) -> asyncio.Future[Any] | None:
        """Write one request and register its answer's future and timeout; None when the
        connection is gone (its on_close is on the way)."""
        ws, loop = self._ws, self._loop
        if ws is None or loop is None or not ws.send_text(data):
            return None
        future = loop.create_future()
        timer = loop.call_later(self.request_timeout_s, self._expire, rid)
        self._pending[rid] = _Pending(future, timer, method, kind, inst, client_order_id, other)
        return future

    def _expire(self, rid: int) -> None:
        entry = self._pending.pop(rid, None)
        if entry is not None and not entry.future.done():
            entry.future.set_exception(
                VenueUnavailable(
                    VENUE,
                    "",
                    f"{entry.method}: no answer within {self.request_timeout_s} s; "
                    "the outcome is unknown",
                )
            )

    # -- orders: the async methods ---------------------------------------------------------

    async def _answer_or_retry(
        self,
        future: asyncio.Future[OrderAck] | None,
        slow: Callable[[bool], Awaitable[OrderAck]],
    ) -> OrderAck:
        """The answer to a request `submit_*` wrote; after a -1021 the offset is measured
        again and `slow(False)` sends it once more (WS API or REST, whichever is up). No
        future (the session is down or the clock suspect): `slow(True)`, retry included."""
        if future is None:
            return await slow(True)
        try:
            return await future
        except ClockSkew:
            await self._resync()
        return await slow(False)

    async def place_order(self, request: OrderRequest) -> OrderAck:
        return await self._answer_or_retry(
            self.submit_order(request), lambda retry: self._place(request, retry)
        )

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderAck:
        return await self._answer_or_retry(
            self.submit_cancel(symbol, client_order_id),
            lambda retry: self._cancel(symbol, client_order_id, retry),
        )

    async def replace_order(self, cancel_client_order_id: str, request: OrderRequest) -> OrderAck:
        """`order.cancelReplace` (STOP_ON_FAILURE): `cancel_client_order_id` is cancelled and
        `request` placed, in one request; the new order's ack. A refused cancel raises its
        error (OrderNotFound) and places nothing; a refused new order raises its error after
        the cancel stood."""
        return await self._answer_or_retry(
            self.submit_replace(cancel_client_order_id, request),
            lambda retry: self._replace(cancel_client_order_id, request, retry),
        )

    async def amend_order(
        self, symbol: str, client_order_id: str, *, price_ticks: int, quantity_lots: int
    ) -> OrderAck:
        """`replace_order` by a new order of the same side, type and time in force, whose
        client id is the old one plus `-r<n>` (`replacement_id`)."""
        inst = self.instrument(symbol)
        shape = self._shapes.get(client_order_id)
        if shape is None:
            snap = await self.get_order(symbol, client_order_id)
            shape = (snap.side, snap.order_type, TimeInForce.GTC)
        side, order_type, tif = shape
        request = OrderRequest(
            self.replacement_id(client_order_id),
            inst,
            side,
            order_type,
            quantity_lots,
            price_ticks,
            tif,
        )
        return await self.replace_order(client_order_id, request)

    async def _place(self, request: OrderRequest, retry: bool) -> OrderAck:
        """`order.place` by `_request`: REST while the session is down, else the WS API."""
        inst = self.instrument(request.instrument.symbol)
        cid = request.client_order_id
        _check_client_id(cid)
        self._shapes[cid] = (request.side, request.order_type, request.time_in_force)

        def fields() -> wire.Fields:  # REST: built only when needed
            return wire.order_fields(
                inst,
                request.side,
                request.order_type,
                request.time_in_force,
                quantity_lots=request.quantity_lots,
                price_ticks=request.price_ticks,
                client_order_id=cid,
            )

        templates = self._order_templates(inst)

        def frame(rid: int) -> bytes:  # the WS API bytes from the order's template
            return templates.place(
                rid,
                request.side,
                request.order_type,
                request.time_in_force,
                quantity_lots=request.quantity_lots,
                price_ticks=request.price_ticks,
                client_order_id=cid,
                timestamp_ms=self._timestamp_ms(),
                signed=not self._logged_on,
            )

        try:
            doc = await self._request(
                "order.place", "POST", "/api/v3/order", fields, frame, retry=retry
            )
        except VenueError as exc:
            if not isinstance(exc, VenueUnavailable):  # refused: the order does not exist
                self._shapes.pop(cid, None)
            raise
        return self._placed(inst, doc, cid)

    async def _cancel(self, symbol: str, client_order_id: str, retry: bool) -> OrderAck:
        inst = self.instrument(symbol)
        fields = [("origClientOrderId", client_order_id), ("symbol", symbol)]
        templates = self._order_templates(inst)

        def frame(rid: int) -> bytes:
            return templates.cancel(
                rid, client_order_id, timestamp_ms=self._timestamp_ms(), signed=not self._logged_on
            )

        doc = await self._request(
            "order.cancel", "DELETE", "/api/v3/order", fields, frame, retry=retry
        )
        return wire.order_ack(inst, doc, client_order_id)

    async def _replace(self, cancel_cid: str, request: OrderRequest, retry: bool) -> OrderAck:
        inst = self.instrument(request.instrument.symbol)
        cid = request.client_order_id
        _check_client_id(cid)
        side, order_type, tif = request.side, request.order_type, request.time_in_force

        def fields() -> wire.Fields:  # REST: built only when needed
            return wire.replace_fields(
                inst,
                side,
                order_type,
                tif,
                quantity_lots=request.quantity_lots,
                price_ticks=request.price_ticks,
                client_order_id=cid,
                cancel_client_order_id=cancel_cid,
            )

        templates = self._order_templates(inst)

        def frame(rid: int) -> bytes:  # the WS API bytes from the requote's template
            return templates.replace(
                rid,
                side,
                order_type,
                tif,
                quantity_lots=request.quantity_lots,
                price_ticks=request.price_ticks,
                client_order_id=cid,
                cancel_client_order_id=cancel_cid,
                timestamp_ms=self._timestamp_ms(),
                signed=not self._logged_on,
            )

        self._shapes[cid] = (side, order_type, tif)
        try:
            doc = await self._request(
                "order.cancelReplace",
                "POST",
                "/api/v3/order/cancelReplace",
                fields,
                frame,
                retry=retry,
            )
        except VenueError as exc:
            if not isinstance(exc, VenueUnavailable):  # the new order does not exist
                self._shapes.pop(cid, None)
            raise
        return self._replaced(inst, doc, cid, cancel_cid)

    def _placed(self, inst: Instrument, doc: Any, cid: str) -> OrderAck:
        """A new order's answer (WS API result or REST body) -> its ack; orderId remembered."""
        ack = wire.order_ack(inst, doc, cid)
        self._remember(ack.venue_order_id, cid)
        return ack

    def _replaced(self, inst: Instrument, doc: Any, cid: str, cancel_cid: str) -> OrderAck:
        """A cancelReplace's answer -> the new order's ack (its `newOrderResponse`)."""
        self._shapes.pop(cancel_cid, None)
        placed = doc.get("newOrderResponse") or {}
        ack = wire.order_ack(inst, placed, cid)
        self._remember(ack.venue_order_id, cid)
        return ack

    def _order_templates(self, inst: Instrument) -> wire.OrderTemplates:
        templates = self._templates.get(inst.symbol)
        if templates is None or templates.instrument is not inst:
            hmac_key = self._ed25519 is None
            templates = self._templates[inst.symbol] = wire.OrderTemplates(
                inst,
                api_key=self.credentials.api_key,
                recv_window=self._recv_window,
                secret=self.credentials.api_secret if hmac_key else None,
                sign=None if hmac_key else self._sign,
            )
        return templates

    def replacement_id(self, client_order_id: str) -> str:
        """The client id `amend_order` gives the new order: the base id plus `-r<n>`,
        within Binance's 36 characters."""
        suffix = "-r" + _base36(next(self._amends))
        base = _REPLACED.sub("", client_order_id)
        return base[: 36 - len(suffix)] + suffix

    async def cancel_all(self, symbol: str) -> list[str]:
        self.instrument(symbol)
        try:
            docs = await self._request(
                "openOrders.cancelAll", "DELETE", "/api/v3/openOrders", [("symbol", symbol)]
            )
        except OrderNotFound:  # -2011: nothing was open
            return []
        return [str(d["origClientOrderId"]) for d in docs if "origClientOrderId" in d]

    # -- queries ---------------------------------------------------------------------------

    async def get_balances(self) -> dict[str, Balance]:
        doc = await self._request(
            "account.status", "GET", "/api/v3/account", [("omitZeroBalances", "true")]
        )
        return wire.balances(doc)

    async def get_open_orders(self, symbol: str) -> list[OrderSnapshot]:
        inst = self.instrument(symbol)
        docs = await self._request(
            "openOrders.status", "GET", "/api/v3/openOrders", [("symbol", symbol)]
        )
        return [wire.order_snapshot(inst, d) for d in docs]

    async def get_order(self, symbol: str, client_order_id: str) -> OrderSnapshot:
        inst = self.instrument(symbol)
        _check_client_id(client_order_id)
        fields = [("origClientOrderId", client_order_id), ("symbol", symbol)]
        doc = await self._request("order.status", "GET", "/api/v3/order", fields)
        return wire.order_snapshot(inst, doc)

    async def get_fills(self, symbol: str, since_ns: int) -> list[FillRecord]:
        """Our trades of `symbol` at or after `since_ns`, oldest first (myTrades, paged by
        trade id). Rows carry the client order id when this adapter placed the order."""
        inst = self.instrument(symbol)
        since_ms = max(0, since_ns // NS_PER_MS)
        page = str(MY_TRADES_PAGE)
        fields = [("limit", page), ("startTime", str(since_ms)), ("symbol", symbol)]
        out: list[FillRecord] = []
        while True:
            rows = await self._request("myTrades", "GET", "/api/v3/myTrades", fields)
            for row in rows:
                if int(row.get("time", 0)) >= since_ms:
                    cid = self._cid_by_order_id.get(str(row.get("orderId")), "")
                    out.append(wire.fill_record(inst, row, cid))
            if len(rows) < MY_TRADES_PAGE:
                return out
            next_id = str(int(rows[-1]["id"]) + 1)
            fields = [("fromId", next_id), ("limit", page), ("symbol", symbol)]

    # -- requests --------------------------------------------------------------------------

    async def _request(
        self,
        ws_method: str,
        http_method: str,
        path: str,
        fields: wire.Fields | Callable[[], wire.Fields],
        frame: Callable[[int], bytes] | None = None,
        *,
        retry: bool = True,
    ) -> Any:
        """A signed request over the WS API when its session is up (and not rest_only),
        else REST; -1021 measures the clock offset again and sends it once more (`retry`:
        not when this already is the once more). `frame` builds the WS API bytes itself (a
        template, with a fresh timestamp) on the order path.

        The request's weight (and order counts) come out of `limiter` first: a new order
        over budget raises RateLimited("local") unsent, anything else waits its turn."""
        costs = self._costs[ws_method]
        refuse = ws_method in _NEW_ORDERS
        if self._skewed and retry:  # a -1021 came meanwhile: no request on the old offset
            await self._resync()
        while True:
            if refuse:
                self.limiter.take_or_refuse(costs, ws_method)
            else:
                await self.limiter.acquire_waiting(costs)
            try:
                if self._ws_ready and not self.rest_only:
                    if frame is not None:
                        return await self._ws_call(ws_method, [], frame=frame)
                    return await self._ws_call(ws_method, _fields(fields))
                return await self._rest_call(http_method, path, _fields(fields))
            except ClockSkew:
                if not retry:
                    raise
                retry = False
                await self._resync()

    def _timestamp(self) -> str:
        return str((self.clock.time_ns() + self._offset_ns) // NS_PER_MS)

    def _sign(self, payload: str) -> str:
        if self._ed25519 is not None:
            return base64.b64encode(self._ed25519.sign(payload.encode())).decode("ascii")
        return hmac_hex(self.credentials, "sha256", payload.encode())

    async def _ws_call(
        self,
        method: str,
        fields: wire.Fields,
        *,
        signed: bool = True,
        frame: Callable[[int], bytes] | None = None,
    ) -> Any:
        """One WS API request; its answer's `result` (or its typed error, or
        VenueUnavailable when none comes within `request_timeout_s`)."""
        ws = self._ws
        if ws is None or not ws.connected:
            raise VenueUnavailable(VENUE, "", f"{method}: the WS API is not connected")
        rid = next(self._ids)
        if frame is not None:
            data = frame(rid)
        else:
            data = wire.signed_request(
                rid,
                method,
                fields,
                api_key=self.credentials.api_key,
                recv_window=self._recv_window,
                timestamp=self._timestamp(),
                sign=self._sign if signed and not self._logged_on else None,
                stamped=signed,
            ).encode()
        future = self._send(rid, data, method, _RAW, None, "", "")
        if future is None:
            raise VenueUnavailable(VENUE, "", f"{method}: the WS API is not connected")
        return await future

    def _blocking(self, error: VenueError) -> VenueError:
        """A 429/418 blocks the buckets it names for the venue's Retry-After: -1015 (too many
        orders) the order counts, anything else (-1003) the request weight."""
        if isinstance(error, RateLimited):
            names = ("orders_10s", "orders_1d") if error.code == "-1015" else ("weight",)
            self._rate_limited(error, names, 60.0)
        return error

    def _note_headers(self, headers: Mapping[str, str]) -> None:
        for name, value in headers.items():
            upper = name.upper()
            if upper.startswith(("X-MBX-USED-WEIGHT-", "X-MBX-ORDER-COUNT-")) and value.isdigit():
                kind = "REQUEST_WEIGHT" if "WEIGHT" in upper else "ORDERS"
                self._note_usage(f"{kind}:{upper.rsplit('-', 1)[1]}", int(value))

    def _note_usage(self, key: str, count: int) -> None:
        """Keep the venue's counter and correct our bucket by it (docs/VENUES.md §1.8)."""
        self.usage[key] = count
        bucket = BINANCE_USAGE.get(key)
        if bucket is not None:
            self.limiter.observe_used(bucket, count)

    def _note_rate_limits(self, limits: object) -> None:
        if not isinstance(limits, list):
            return
        for row in limits:
            try:
                unit = _INTERVALS[row["interval"]]
                key = f"{row['rateLimitType']}:{row['intervalNum']}{unit}"
                self._note_usage(key, int(row["count"]))
            except (KeyError, TypeError, ValueError):
                continue

    def _ws_error(self, doc: dict[str, Any]) -> VenueError:
        status = doc.get("status")
        status = status if isinstance(status, int) else None
        error = doc.get("error")
        if not isinstance(error, dict):
            return wire.venue_error(0, f"WS API status {status}", status=status)
        code = error.get("code", 0)
        if code in (-2021, -2022):
            return wire.replace_error(error, status)
        retry_after_s = None
        data = error.get("data")
        if isinstance(data, dict) and isinstance(data.get("retryAfter"), int):
            server_ms = data.get("serverTime")
            if not isinstance(server_ms, int):
                server_ms = self._timestamp_ms()
            retry_after_s = max(0.0, (data["retryAfter"] - server_ms) / 1000)
        return wire.venue_error(
            code, str(error.get("msg", "")), status=status, retry_after_s=retry_after_s
        )

    def _timestamp_ms(self) -> int:
        return (self.clock.time_ns() + self._offset_ns) // NS_PER_MS

    async def _rest_call(
        self,
        http_method: str,
        path: str,
        fields: wire.Fields,
        *,
        signed: bool = True,
        keyed: bool = False,
        http: aiohttp.ClientSession | None = None,
    ) -> Any:
        http = http or self._http
        if http is None:
            raise VenueUnavailable(VENUE, "", f"{http_method} {path}: the adapter is not started")
        query = wire.query_text(fields)
        if signed:
            stamp = f"recvWindow={self._recv_window}&timestamp={self._timestamp()}"
            query = f"{query}&{stamp}" if query else stamp
            signature = self._sign(query)
            if self._ed25519 is not None:
                signature = quote(signature, safe="")
            query = f"{query}&signature={signature}"
        url = URL(f"{self._rest}{path}?{query}" if query else self._rest + path, encoded=True)
        headers = self._key_header if signed or keyed else None
        try:
            async with http.request(http_method, url, headers=headers) as resp:
                status = resp.status
                raw = await resp.read()
                retry_after = resp.headers.get("Retry-After")
                self._note_headers(resp.headers)
        except TimeoutError:
            raise VenueUnavailable(
                VENUE,
                "",
                f"{http_method} {path}: no answer within {self.request_timeout_s} s; "
                "the outcome is unknown",
            ) from None
        except TRANSPORT_ERRORS as exc:
            self._raise_if_certificate(self._rest, exc)
            raise VenueUnavailable(
                VENUE, "", f"{http_method} {path}: {_transport_reason(exc)}"
            ) from None
        try:
            doc = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            doc = None
        if status == 200 and doc is not None:
            return doc
        retry_s = _seconds(retry_after)
        if isinstance(doc, dict) and "code" in doc:
            if doc["code"] in (-2021, -2022):
                raise wire.replace_error(doc, status)
            raise self._blocking(
                wire.venue_error(
                    doc["code"], str(doc.get("msg", "")), status=status, retry_after_s=retry_s
                )
            )
        raise self._blocking(
            wire.venue_error(
                "", f"{http_method} {path}: HTTP {status}", status=status, retry_after_s=retry_s
            )
        )

    def _raise_if_certificate(self, url: str, exc: BaseException) -> None:
        """A refused certificate is a configuration error (venues.binance.ca_file), not an
        outage: `TlsVerifyError`, which no retry can fix."""
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            raise certificate_error(VENUE, url, exc, self.endpoints.ca_file) from None

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            entry.timer.cancel()
            if not entry.future.done():
                entry.future.set_exception(
                    VenueUnavailable(VENUE, "", f"{entry.method}: {why}; the outcome is unknown")
                )

    async def _resynced(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """`call()`, once more after measuring the clock again if it raised ClockSkew."""
        try:
            return await call()
        except ClockSkew:
            await self._resync()
            return await call()

    # -- the WS API session and the private stream -----------------------------------------

    def _on_ws_open(self) -> None:
        """A new socket (the first, or after a loss): log on and subscribe on it."""
        self._ws_ready = self._logged_on = False
        if self._closed or self._loop is None:
            return
        # counted, not waited for: WsConnection has made the connection by now
        self.limiter.acquire(self._costs["connect"])
        self._setup = self._loop.create_task(self._open_session())

    def _on_ws_close(self, reason: str) -> None:
        """The socket is gone: order entry falls back to REST until the next session is
        logged on; every request in flight has an unknown outcome."""
        self._ws_ready = self._logged_on = False
        setup, self._setup = self._setup, None
        if setup is not None and not setup.done():
            setup.cancel()
        self._fail_pending(f"the WS API connection closed ({reason})")
        opened = self._opened
        if opened is not None and not opened.done():
            opened.set_exception(
                VenueUnavailable(
                    VENUE, "", f"WS API {self.endpoints.ws_private_url}: closed while opening"
                )
            )

    async def _open_session(self) -> None:
        """Log on (Ed25519) and subscribe the user-data stream on this socket; then order
        entry may use it. A failure at start fails `start`; later, the socket is dropped
        after a capped backoff and the next one tries again."""
        try:
            if self._ed25519 is not None:
                await self.limiter.acquire_waiting(self._costs["session.logon"])
                await self._resynced(lambda: self._ws_call("session.logon", []))
                self._logged_on = True
            if self.user_stream == "subscribe":
                await self.limiter.acquire_waiting(self._costs["userDataStream"])
                if self._logged_on:
                    await self._ws_call("userDataStream.subscribe", [], signed=False)
                else:
                    await self._resynced(
                        lambda: self._ws_call("userDataStream.subscribe.signature", [])
                    )
                self._stream_started()
        except Exception as exc:  # a refusal (VenueError) or an answer we cannot read
            opened = self._opened
            if opened is not None and not opened.done():
                opened.set_exception(exc)
                return
            log.warning(
                "binance WS API session could not be opened (%s); a new connection in %.1f s",
                exc,
                self._backoff_s,
            )
            await self._sleep_backoff()
            ws = self._ws
            if ws is not None and not self._closed:
                ws.reconnect("the session could not be opened")
            return
        self._ws_ready = True
        self._backoff_s = 0.1
        opened = self._opened
        if opened is not None and not opened.done():
            opened.set_result(None)

    async def _sleep_backoff(self) -> None:
        await asyncio.sleep(self._backoff_s)
        self._backoff_s = min(self._backoff_s * 2, self.reconnect_max_s)

    async def _run_listen_key(self, opened: asyncio.Future[None]) -> None:
        """The listenKey flow: a key by REST, its `/ws/<key>` stream, a keepalive `PUT`."""
        base = self.endpoints.ws_public_url.rstrip("/")
        while not self._closed:
            http = self._http
            if http is None:
                return
            try:
                await self.limiter.acquire_waiting(self._costs["userDataStream"])
                doc = await self._rest_call(
                    "POST", "/api/v3/userDataStream", [], signed=False, keyed=True
                )
                self.listen_key = str(doc["listenKey"])
                url = f"{base}/ws/{self.listen_key}"
                ws = await http.ws_connect(
                    url, ssl=ssl_for(url, self.endpoints.ca_file) or True, autoping=True
                )
            except Exception as exc:  # VenueError, TlsVerifyError, transport, a bad answer
                error = (
                    exc
                    if isinstance(exc, VenueError | ValueError)
                    else VenueUnavailable(VENUE, "", f"listenKey stream: {_transport_reason(exc)}")
                )
                if not opened.done():
                    opened.set_exception(error)
                    return
                log.warning("binance listenKey stream failed: %s", error)
                await self._sleep_backoff()
                continue
            self._stream_started()
            if not opened.done():
                opened.set_result(None)
            keepalive = asyncio.create_task(self._keep_listen_key(self.listen_key))
            try:
                async for msg in ws:
                    if msg.type is aiohttp.WSMsgType.TEXT:
                        self._on_frame(msg.data, self.clock.time_ns())
                    elif msg.type is aiohttp.WSMsgType.ERROR:
                        break
            finally:
                keepalive.cancel()
                with contextlib.suppress(*TRANSPORT_ERRORS):
                    await ws.close()
            if not self._closed:
                log.warning("binance listenKey stream ended; opening a new one")
                await self._sleep_backoff()

    async def _keep_listen_key(self, key: str) -> None:
        while True:
            await asyncio.sleep(self.listen_key_keepalive_s)
            try:
                await self.limiter.acquire_waiting(self._costs["userDataStream"])
                await self._rest_call(
                    "PUT", "/api/v3/userDataStream", [("listenKey", key)], signed=False, keyed=True
                )
            except VenueError as exc:
                log.warning("binance listenKey keepalive failed: %s", exc)

    # -- incoming frames -------------------------------------------------------------------

    def _on_frame(self, payload: str | bytes | memoryview, recv_ns: int) -> None:
        """One text frame of the WS API session (a view of picows's buffer, valid only
        during the call) or of the listenKey stream: a report, an event or an answer."""
        # the execution reports of the hot path: decoded from the frame in Cython
        try:
            fast = self._reports.binance(payload, recv_ns)
        except ReportError as exc:
            self.stream_errors += 1
            log.warning("binance: malformed executionReport: %s", exc)
            return
        if fast is not None:
            self._apply_report(fast)
            return
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError:
            self.stream_errors += 1
            log.warning("binance: undecodable frame of %d bytes", len(payload))
            return
        if not isinstance(doc, dict):
            self.stream_errors += 1
            return
        event = doc.get("event")
        if isinstance(event, dict):
            self._on_event(event)
            return
        if "e" in doc:  # a listenKey stream sends the events bare
            self._on_event(doc)
            return
        rid = doc.get("id")
        entry = self._pending.pop(rid, None) if isinstance(rid, int) else None
        if entry is not None:
            self._answered(entry, doc)
        elif doc.get("status") not in (None, 200):
            log.warning("binance WS API: unsolicited error %s", doc.get("error"))

    def _answered(self, entry: _Pending, doc: dict[str, Any]) -> None:
        """The answer to a request in flight: its future gets the result (an OrderAck on the
        order path) or the typed error; the usage counters are noted either way."""
        entry.timer.cancel()
        limits = doc.get("rateLimits")
        if limits:
            self._note_rate_limits(limits)
        future = entry.future
        if doc.get("status") == 200:
            try:
                value = self._result(entry, doc.get("result"))
            except Exception as exc:  # an answer without what the request must return
                error: VenueError = VenueUnavailable(
                    VENUE,
                    "",
                    f"{entry.method}: unreadable answer ({type(exc).__name__}); "
                    "the outcome is unknown",
                )
                if not future.done():
                    future.set_exception(error)
                return
            if not future.done():  # (a caller that gave up has cancelled it)
                future.set_result(value)
            return
        error = self._blocking(self._ws_error(doc))
        if isinstance(error, ClockSkew):
            self._skewed = True  # submit_* leave it to the async path, which resyncs
        elif entry.kind in (_PLACE, _REPLACE) and not isinstance(error, VenueUnavailable):
            self._shapes.pop(entry.client_order_id, None)  # refused: the order does not exist
        if not future.done():
            future.set_exception(error)

    def _result(self, entry: _Pending, result: Any) -> Any:
        kind = entry.kind
        if kind == _RAW:
            return result
        inst = entry.instrument
        assert inst is not None
        if kind == _PLACE:
            return self._placed(inst, result, entry.client_order_id)
        if kind == _CANCEL:
            return wire.order_ack(inst, result, entry.client_order_id)
        return self._replaced(inst, result, entry.client_order_id, entry.other)

    def _on_event(self, ev: dict[str, Any]) -> None:
        kind = ev.get("e")
        # (executionReport never gets here: the Cython decoder in _on_frame took it)
        if kind == "outboundAccountPosition":
            for row in ev.get("B", ()):
                try:
                    asset = str(row["a"])
                    self.positions[asset] = Balance(
                        asset, Decimal(str(row["f"])), Decimal(str(row["l"]))
                    )
                except (KeyError, TypeError, ArithmeticError):
                    self.stream_errors += 1
        elif kind in ("eventStreamTerminated", "listenKeyExpired"):
            log.warning("binance user data stream ended: %s", kind)

    def _apply_report(self, report: ExecutionReport) -> None:
        oid = report.venue_order_id
        if oid and report.client_order_id and oid not in self._cid_by_order_id:
            self._remember(oid, report.client_order_id)
        if report.status.is_terminal:
            self._shapes.pop(report.client_order_id, None)
        try:
            self.on_report(report)
        except Exception:
            log.exception("binance: on_report failed")


def _fields(fields: wire.Fields | Callable[[], wire.Fields]) -> wire.Fields:
    return fields() if callable(fields) else fields


def _check_client_id(cid: str) -> None:
    # the engine's own ids are letters and digits: the regex only for other ids
    if 0 < len(cid) <= 36 and cid.isascii() and cid.isalnum():
        return
    if not wire.CLIENT_ID.match(cid):
        raise InvalidOrder(
            VENUE, "", f"client order id {cid!r} does not match ^[a-zA-Z0-9-_]{{1,36}}$"
        )


def _seconds(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _transport_reason(exc: BaseException) -> str:
    """What went wrong, without the URL's query (it holds the signature)."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate refused ({exc.certificate_error}); check venues.binance.ca_file"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}"
    return type(exc).__name__


class _Session:
    """The `WsHandler` of the WS API connection: every frame to the adapter (the answers and
    the user-data events share it; the reports are decoded in Cython by the adapter)."""

    frame_handler = None

    def __init__(self, adapter: BinanceAdapter) -> None:
        self.adapter = adapter

    def on_open(self, conn: WsConnection) -> None:
        del conn
        self.adapter._on_ws_open()

    def on_message(self, payload: memoryview, status: int, recv_ns: int) -> None:
        del status
        self.adapter._on_frame(payload, recv_ns)

    def on_close(self, reason: str) -> None:
        self.adapter._on_ws_close(reason)

    def keepalive(self, conn: WsConnection) -> None:
        del conn  # Binance pings; picows answers
