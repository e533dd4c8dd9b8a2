"""The OKX v5 spot trading adapter (docs/VENUES.md §2.5-§2.8).

Order entry runs over the private WebSocket (`/ws/v5/private`, a picows `WsConnection`)
after `login` by default: `order`, `cancel-order`, `amend-order`, `batch-orders`,
`batch-cancel-orders`, each request matched to its answer by `id`. `submit_order`,
`submit_cancel` and `submit_amend` write the request before they return and hand back a
future the answer resolves (ExchangeAdapter: the hot path): no task, no `wait_for`; a timer
per request fails it with VenueUnavailable when no answer comes within `timeout_s` (outcome
unknown: the OMS resolves it by query). The async `place_order` / `cancel_order` /
`amend_order` await the same futures. With `rest_only=True`, or while the private session is
not up, the same bodies go over REST on one long-lived aiohttp session. Queries (balances,
open orders, one order, fills) and the dead-man switch are REST.

The same private connection carries the `orders` channel (instType SPOT): every push becomes
an `ExecutionReport` handed to `on_report`, in the order received, decoded from picows's
buffer in Cython. The connection reconnects with backoff when it drops, logs in and
subscribes again, and calls `on_stream_restart` once it is back; the text `ping` keeps an
idle connection open (OKX closes one silent for 30 s).

Timestamps are the adapter clock plus the venue's offset, estimated at start from
`GET /api/v5/public/time`; a 50102 (timestamp expired) resyncs and retries once, then raises
ClockSkew. `endpoints.demo` sends `x-simulated-trading: 1` on REST and on the WebSocket
upgrade (the demo WS host itself comes from config). Every TLS connection verifies against
`endpoints.ca_file` (engine.gateway.tls).

Rate limits (`limiter`, docs/VENUES.md §2.1, §2.8): place, cancel and amend take from their
per-instrument buckets, batches from the per-user batch bucket (one token per order), queries
from theirs. A place, amend or batch place over budget is refused with RateLimited("local")
and not sent; cancels and queries wait for their tokens. OKX sends no usage headers; a 50011
/ 429 blocks the request's buckets for OKX's 2 s window.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import aiohttp
import orjson

from engine._core.reports import ReportError
from engine.clock import Clock, LiveClock
from engine.gateway.adapter import (
    Balance,
    ExchangeAdapter,
    FillRecord,
    OrderAck,
    OrderRequest,
    OrderSnapshot,
    ReportSink,
    VenueEndpoints,
)
from engine.gateway.errors import (
    AuthError,
    ClockSkew,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    VenueError,
    VenueUnavailable,
)
from engine.gateway.okx.orders_wire import (
    MAX_BATCH,
    NS_PER_MS,
    VENUE,
    BodyBuilder,
    OrderTemplates,
    check_client_order_id,
    fill_from_record,
    snapshot_from_order,
    venue_error,
    ws_request,
)
from engine.gateway.ratelimit import Charge, Costs, names_of
from engine.gateway.tls import TlsConfigError, ssl_for
from engine.gateway.ws import WsConnection, WsOptions
from engine.model.enums import OrderStatus
from engine.model.instrument import Instrument
from engine.wire.credentials import Credentials
from engine.wire.okx_signing import (
    okx_rest_headers,
    okx_timestamp,
    okx_ws_login_args,
    okx_ws_timestamp,
)

log = logging.getLogger("engine.gateway.okx")

_PATHS = {
    "order": "/api/v5/trade/order",
    "batch-orders": "/api/v5/trade/batch-orders",
    "cancel-order": "/api/v5/trade/cancel-order",
    "batch-cancel-orders": "/api/v5/trade/cancel-batch-orders",
    "amend-order": "/api/v5/trade/amend-order",
    "batch-amend-orders": "/api/v5/trade/amend-batch-orders",
}
_FILLS_WINDOW_NS = 3 * 86_400 * 1_000_000_000  # /trade/fills covers 3 days; older: history
_PING_IDLE_S = 20.0  # OKX closes a connection with nothing pushed for 30 s
_RECONNECT_MAX_S = 30.0
_WINDOW_S = 2.0  # OKX's limit window; a 429 without Retry-After blocks the bucket this long


_TIME: Costs = (("time", 1),)
_QUERY: Costs = (("query", 1),)
_BALANCE: Costs = (("balance", 1),)
_CANCEL_ALL_AFTER: Costs = (("cancel_all_after", 1),)
_SUBSCRIBE_ORDERS = b'{"id":"sub","op":"subscribe","args":[{"channel":"orders","instType":"SPOT"}]}'
_NEW, _PENDING_CANCEL = OrderStatus.NEW, OrderStatus.PENDING_CANCEL

# a request waiting for its answer: the future, its timeout, the op, the status its ack gets
# (None: the caller takes the whole answer, a batch), its client order id, its budget
_Entry = tuple[
    asyncio.Future[Any], asyncio.TimerHandle, str, OrderStatus | None, str, Charge | Costs
]


class OkxAdapter(ExchangeAdapter):
    """OKX spot (tdMode cash). `rest_only=True` sends orders over REST instead of the
    private WebSocket; `private_stream=False` (with it) opens no WebSocket at all: no
    execution reports, for tools that only query; `timeout_s` bounds every request;
    `ping_idle_s`: the text `ping` goes out this often (OKX closes a connection after 30 s
    of silence)."""

    venue = VENUE
    amends_in_place = True  # amend keeps the order and its client order id

    def __init__(
        self,
        endpoints: VenueEndpoints,
        credentials: Credentials,
        clock: Clock,
        instruments: Sequence[Instrument],
        on_report: ReportSink | None = None,
        *,
        rest_only: bool = False,
        private_stream: bool = True,
        timeout_s: float = 5.0,
        ping_idle_s: float = _PING_IDLE_S,
    ) -> None:
        super().__init__(endpoints, credentials, clock, instruments, on_report)
        if credentials.passphrase is None:
            raise AuthError(VENUE, "", "OKX credentials need a passphrase")
        self.rest_only = rest_only or not private_stream
        self.private_stream = private_stream
        self.timeout_s = timeout_s
        self.ping_idle_s = ping_idle_s
        self._rest_base = endpoints.rest_url.rstrip("/")
        self._rest_ssl = ssl_for(endpoints.rest_url, endpoints.ca_file)
        self._demo_headers = {"x-simulated-trading": "1"} if endpoints.demo else {}
        self._post_headers = {"Content-Type": "application/json", **self._demo_headers}
        self._bodies = {symbol: BodyBuilder(inst) for symbol, inst in self.instruments.items()}
        # the WS order path's requests (bytes from templates); REST and batches use _bodies
        self._templates = {
            symbol: OrderTemplates(inst) for symbol, inst in self.instruments.items()
        }
        # per instrument: the place, cancel and amend budgets, resolved once
        self._charges = {
            symbol: tuple(
                self.limiter.charge(((kind + ":" + symbol, 1),))
                for kind in ("place", "cancel", "amend")
            )
            for symbol in self.instruments
        }
        self._session: aiohttp.ClientSession | None = None
        self._ws: WsConnection | None = None
        # the connection's pings, backoff and stale check run on real time, as OKX's 30 s
        # idle rule does, whatever clock the adapter's timestamps and budgets run on
        live = clock if type(clock) is LiveClock else LiveClock()
        self._ws_clock: Clock = live
        self._live_stamps = live is clock  # the listener's receive stamps are the adapter's
        self._ws_options = WsOptions(
            keepalive_s=ping_idle_s,
            stale_after_s=ping_idle_s + 2 * timeout_s,  # a ping's pong is overdue
            watchdog_s=min(0.25, ping_idle_s / 2),
            handshake_timeout_s=timeout_s,
            extra_headers=dict(self._demo_headers),
        )
        self._pending: dict[str, _Entry] = {}
        self._waiter: tuple[tuple[str, ...], asyncio.Future[dict[str, Any]]] | None = None
        self._ids = itertools.count(1)
        self._offset_ms = 0
        self._closing = False
        self._session_up = False  # logged in and subscribed on the current socket
        self._generation = 0  # sockets opened and closed: a stale setup task sees it moved
        self._setup_task: asyncio.Task[None] | None = None
        self._setup_done = asyncio.Event()
        self._setup_error: VenueError | TlsConfigError | None = None
        self._sessions = 0  # sessions set up since start
        self._login_delay = 0.0  # backoff before the next login after a failed one
        self._skew_resynced = False  # a login refused for its timestamp resynced the clock
        self.connected = asyncio.Event()  # the private stream is logged in and subscribed
        self.reconnects = 0
        self.ws_timeouts = 0  # WS requests with no answer within timeout_s
        self.bad_pushes = 0  # pushes not decoded or of another instrument (logged, skipped)
        self.sink_errors = 0  # reports whose on_report raised (logged; the stream goes on)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """REST session, server time, then (unless `private_stream=False`) the private
        connection until logged in and subscribed; raises the session's error (AuthError,
        ClockSkew, TlsConfigError, VenueUnavailable) after closing everything."""
        self._closing = False
        self._sessions = 0
        self._login_delay = 0.0
        self._skew_resynced = False
        self._setup_error = None
        self._setup_done.clear()
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        self._session = aiohttp.ClientSession(
            timeout=timeout, connector=aiohttp.TCPConnector(limit=16, keepalive_timeout=60)
        )
        try:
            await self.sync_time()
            if self.private_stream:
                self._ws = WsConnection(
                    self.endpoints.ws_private_url,
                    _Session(self),
                    clock=self._ws_clock,
                    name="okx:private",
                    options=self._ws_options,
                    ca_file=self.endpoints.ca_file,
                    venue=VENUE,
                )
                self._ws.start()
                await self._ws.wait_connected(self.timeout_s * 2)
                await asyncio.wait_for(self._setup_done.wait(), self.timeout_s * 2)
        except TimeoutError:
            await self.close()
            raise VenueUnavailable(VENUE, "", "private WebSocket session did not start") from None
        except BaseException:
            await self.close()
            raise
        if self._setup_error is not None:
            error = self._setup_error
            await self.close()
            raise error

    async def close(self) -> None:
        self._closing = True
        self._session_up = False
        self.connected.clear()
        task, self._setup_task = self._setup_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.stop()
        self._fail_pending("adapter closed")
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # -- time -----------------------------------------------------------------------------

    @property
    def offset_ms(self) -> int:
        """The venue's clock minus ours, as last estimated."""
        return self._offset_ms

    def now_ms(self) -> int:
        """The venue's time as the adapter estimates it."""
        return self.clock.time_ns() // NS_PER_MS + self._offset_ms

    async def sync_time(self) -> int:
        """Estimate the offset of the venue's clock from `GET /api/v5/public/time` (the
        round trip's midpoint); returns it in ms."""
        before = self.clock.time_ns()
        doc = await self._rest("GET", "/api/v5/public/time", signed=False, costs=_TIME)
        after = self.clock.time_ns()
        try:
            server_ms = int(doc["data"][0]["ts"])
        except (KeyError, IndexError, TypeError, ValueError):
            raise VenueUnavailable(VENUE, "", "malformed server time answer") from None
        self._offset_ms = server_ms - (before + after) // 2 // NS_PER_MS
        return self._offset_ms

    # -- REST -----------------------------------------------------------------------------

    async def _rest(
        self,
        method: str,
        path: str,
        body: str = "",
        *,
        query: str = "",
        signed: bool = True,
        retried: bool = False,
        costs: Charge | Costs = (),
    ) -> dict[str, Any]:
        """One REST call -> the envelope; raises the typed error of a failed one. Order
        endpoints' per-item failures (top-level code "1"/"2") are returned for the caller.
        `costs` are waited for in `limiter` first (order operations take theirs earlier)."""
        if costs:
            await self.limiter.acquire_waiting(costs)
        session = self._session
        if session is None:
            raise VenueUnavailable(VENUE, "", "adapter not started")
        request_path = path + "?" + query if query else path
        headers = self._post_headers if body else self._demo_headers
        if signed:
            timestamp = okx_timestamp(self.now_ms())
            signing = okx_rest_headers(self.credentials, timestamp, method, request_path, body)
            headers = {**headers, **signing}
        try:
            async with session.request(
                method,
                self._rest_base + request_path,
                data=body.encode() if body else None,
                headers=headers,
                ssl=self._rest_ssl if self._rest_ssl is not None else True,
            ) as response:
                status = response.status
                raw = await response.read()
        except TimeoutError:
            raise VenueUnavailable(
                VENUE, "", f"{method} {path}: no answer in {self.timeout_s} s (outcome unknown)"
            ) from None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise _certificate_refused(
                self.endpoints.rest_url, self.endpoints.ca_file, exc
            ) from None
        except aiohttp.ClientError as exc:
            raise VenueUnavailable(VENUE, "", f"{method} {path}: {type(exc).__name__}") from exc
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict):
            raise venue_error("", f"{method} {path}: HTTP {status}, not an OKX answer", status)
        code = str(doc.get("code", ""))
        if code == "0" or (code in ("1", "2") and doc.get("data")):
            return doc
        message = str(doc.get("msg", ""))
        if code == "50102" and signed and not retried:
            await self.sync_time()
            return await self._rest(method, path, body, query=query, retried=True, costs=costs)
        raise self._blocking(venue_error(code, message, status), costs)

    def _blocking(self, error: VenueError, costs: Charge | Costs) -> VenueError:
        """A rate-limit answer (50011, 429) blocks the request's buckets for a window."""
        if isinstance(error, RateLimited):
            names = names_of(costs)
            if names:
                self._rate_limited(error, names, _WINDOW_S)
        return error

    # -- private WebSocket ----------------------------------------------------------------

    @property
    def ws_ready(self) -> bool:
        """Logged in and subscribed: orders go over the private WebSocket (unless rest_only)."""
        return self._session_up

    def _on_open(self, conn: WsConnection) -> None:
        """A new socket: log in and subscribe on it (a task; the frames arrive meanwhile)."""
        self._session_up = False
        self.connected.clear()
        self._generation += 1
        previous = self._setup_task
        if previous is not None and not previous.done():
            previous.cancel()
        if self._closing:
            return
        self._setup_task = asyncio.get_running_loop().create_task(
            self._setup(conn, self._generation)
        )

    def _on_close(self, reason: str) -> None:
        self._session_up = False
        self.connected.clear()
        self._generation += 1
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter[1].done():
            waiter[1].set_exception(
                VenueUnavailable(VENUE, "", f"private WebSocket closed ({reason})")
            )
        self._fail_pending(f"private WebSocket closed ({reason}); the outcome is unknown")

    async def _setup(self, conn: WsConnection, generation: int) -> None:
        """Per connection: log in, subscribe `orders` (SPOT). A login refused for its
        timestamp resyncs the clock and logs in again on the next connection (OKX closes the
        connection after a failed login), once; other failures back off (0.5 s doubling to
        30 s) before the next connection's login."""
        try:
            if self._login_delay:
                await asyncio.sleep(self._login_delay)
            try:
                await self._login(conn)
            except ClockSkew:
                if self._skew_resynced:
                    raise
                self._skew_resynced = True
                await self.sync_time()
                if generation == self._generation:
                    conn.reconnect("login refused for its timestamp; clock resynced")
                return
            await self._subscribe_orders(conn)
        except (VenueError, TlsConfigError) as exc:
            if generation != self._generation:
                return  # that socket is gone; its successor runs its own setup
            self._setup_error = exc
            self._skew_resynced = False
            self._login_delay = min(max(self._login_delay * 2, 0.5), _RECONNECT_MAX_S)
            if isinstance(exc, AuthError | ClockSkew):
                log.error("okx private session refused: %s", exc)
            else:
                log.warning("okx private session setup failed: %s", exc)
            conn.reconnect("session setup failed")
            self._setup_done.set()
            return
        if generation != self._generation:
            return
        self._setup_error = None
        self._login_delay = 0.0
        self._skew_resynced = False
        self._session_up = True
        self.connected.set()
        self._sessions += 1
        if self._sessions > 1:  # the stream is back after a loss: reports were missed
            self.reconnects += 1
            self._stream_restarted()
        self._setup_done.set()

    async def _login(self, conn: WsConnection) -> None:
        args = okx_ws_login_args(self.credentials, okx_ws_timestamp(self.now_ms()))
        frame = orjson.dumps({"op": "login", "args": [args]})
        answer = await self._expect(conn, frame, ("login", "error"))
        code = str(answer.get("code", ""))
        if answer.get("event") != "login" or code != "0":
            raise venue_error(code, str(answer.get("msg", "")))

    async def _subscribe_orders(self, conn: WsConnection) -> None:
        answer = await self._expect(conn, _SUBSCRIBE_ORDERS, ("subscribe", "error"))
        if answer.get("event") == "error":
            raise venue_error(str(answer.get("code", "")), str(answer.get("msg", "")))

    async def _expect(
        self, conn: WsConnection, frame: bytes, events: tuple[str, ...]
    ) -> dict[str, Any]:
        """Send `frame` and wait for the next event answer of one of `events` (the session's
        setup, not the order path: one at a time)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiter = (events, future)
        try:
            if not conn.send_text(frame):
                raise VenueUnavailable(VENUE, "", "private WebSocket not connected")
            try:
                return await asyncio.wait_for(future, self.timeout_s)
            except TimeoutError:
                raise VenueUnavailable(VENUE, "", "private WebSocket: no answer in time") from None
        finally:
            if self._waiter is not None and self._waiter[1] is future:
                self._waiter = None

    def _on_frame(self, payload: memoryview, recv_ns: int) -> None:
        """One frame of the private connection: an `orders` push (decoded in Cython), an
        answer to a request (by id), a setup event, or the keepalive's `pong`."""
        if len(payload) == 4 and bytes(payload) == b"pong":
            return
        now = recv_ns if self._live_stamps else self.clock.time_ns()
        if self._orders_fast(payload, now):
            return
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError:
            self.bad_pushes += 1
            log.warning("okx private: malformed frame skipped", extra={"size": len(payload)})
            return
        if isinstance(doc, dict):
            self._dispatch(doc)

    def _dispatch(self, doc: dict[str, Any]) -> None:
        req_id = doc.get("id")
        if isinstance(req_id, str):
            entry = self._pending.pop(req_id, None)
            if entry is not None:
                self._resolve(entry, doc)
                return
        waiter = self._waiter
        if waiter is not None and doc.get("event") in waiter[0]:
            self._waiter = None
            if not waiter[1].done():
                waiter[1].set_result(doc)
            return
        if doc.get("event") == "error":  # (orders pushes never get here: _orders_fast)
            log.warning("okx private error: %s %s", doc.get("code"), doc.get("msg"))

    def _resolve(self, entry: _Entry, doc: dict[str, Any]) -> None:
        """The answer to a request: its OrderAck (or the typed error) for an order request,
        the whole answer for a batch."""
        future, timer, op, status, client_order_id, costs = entry
        timer.cancel()
        if future.done():  # the caller gave up on it (cancelled)
            return
        if status is None:
            future.set_result(doc)
            return
        try:
            ack = self._ack(_first_item(doc), client_order_id, status)
        except VenueError as exc:
            future.set_exception(self._blocking(exc, costs))
        except Exception as exc:  # a malformed answer: what happened is unknown
            future.set_exception(
                VenueUnavailable(VENUE, "", f"{op}: malformed answer ({exc}); outcome unknown")
            )
        else:
            future.set_result(ack)

    def _orders_fast(self, frame: memoryview, recv_ns: int) -> bool:
        """An `orders` push decoded from the frame in Cython (True: handled)."""
        try:
            items = self._reports.okx(frame, recv_ns)
        except ReportError as exc:
            self.bad_pushes += 1
            log.warning("okx orders push skipped: %s", exc)
            return True
        if items is None:
            return False
        for item in items:
            if isinstance(item, ReportError):
                self.bad_pushes += 1
                log.warning("okx orders push skipped: %s", item)
                continue
            try:
                self.on_report(item)
            except Exception:
                self.sink_errors += 1
                log.exception("okx: on_report failed for %s", item.client_order_id)
        return True

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for future, timer, *_ in pending.values():
            timer.cancel()
            if not future.done():
                future.set_exception(VenueUnavailable(VENUE, "", why))

    def _expire(self, req_id: str) -> None:
        """A request's timeout (`loop.call_later`): no answer, so its outcome is unknown."""
        entry = self._pending.pop(req_id, None)
        if entry is None:
            return
        future, op = entry[0], entry[2]
        if not future.done():
            self.ws_timeouts += 1
            future.set_exception(
                VenueUnavailable(
                    VENUE,
                    "",
                    f"{op}: no answer within {self.timeout_s:g} s; the outcome is unknown",
                )
            )

    def _send(
        self,
        req_id: int,
        frame: bytes,
        op: str,
        *,
        status: OrderStatus | None,
        client_order_id: str,
        costs: Charge | Costs,
    ) -> asyncio.Future[Any] | None:
        """Write `frame` (request id `req_id`) on the session now and register its answer:
        the future, expired by a timer after `timeout_s`. None: not written (no socket)."""
        conn = self._ws
        if conn is None or not conn.send_text(frame):
            return None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        key = str(req_id)
        timer = loop.call_later(self.timeout_s, self._expire, key)
        self._pending[key] = (future, timer, op, status, client_order_id, costs)
        return future

    async def _ws_call(self, op: str, args: list[str]) -> dict[str, Any]:
        """One WS request of `args` joined by `ws_request` (batches) -> the whole answer."""
        req_id = next(self._ids)
        frame = ws_request(str(req_id), op, args).encode()
        future = self._send(req_id, frame, op, status=None, client_order_id="", costs=())
        if future is None:
            raise VenueUnavailable(VENUE, "", f"{op}: private WebSocket not connected")
        doc: dict[str, Any] = await future
        return doc

    # -- the hot path: synchronous order entry ----------------------------------------------

    def _orders_on_ws(self) -> bool:
        return self._session_up and not self.rest_only

    @property
    def order_session(self) -> WsConnection | None:
        return self._ws

    def submit_order(self, request: OrderRequest) -> asyncio.Future[OrderAck] | None:
        """Write an `order` request now (see ExchangeAdapter: the hot path)."""
        if not self._session_up or self.rest_only:
            return None
        symbol = request.instrument.symbol
        templates = self._templates.get(symbol) or self._templates_of(symbol)
        req_id = next(self._ids)
        frame = templates.place(req_id, request)  # InvalidOrder before anything is taken
        charge = self._charges[symbol][0]
        self.limiter.take_or_refuse(charge, "order")
        return self._send(
            req_id,
            frame,
            "order",
            status=_NEW,
            client_order_id=request.client_order_id,
            costs=charge,
        )

    def submit_cancel(self, symbol: str, client_order_id: str) -> asyncio.Future[OrderAck] | None:
        """Write a `cancel-order` now; None also when its budget would have to wait (the
        async `cancel_order` waits for it)."""
        if not self._session_up or self.rest_only:
            return None
        templates = self._templates.get(symbol) or self._templates_of(symbol)
        req_id = next(self._ids)
        frame = templates.cancel(req_id, client_order_id)
        charge = self._charges[symbol][1]
        if self.limiter.acquire(charge):
            return None
        return self._send(
            req_id,
            frame,
            "cancel-order",
            status=_PENDING_CANCEL,
            client_order_id=client_order_id,
            costs=charge,
        )

    def submit_amend(
        self, symbol: str, client_order_id: str, *, price_ticks: int, quantity_lots: int
    ) -> asyncio.Future[OrderAck] | None:
        """Write an `amend-order` now (same semantics as `amend_order`)."""
        if not self._session_up or self.rest_only:
            return None
        templates = self._templates.get(symbol) or self._templates_of(symbol)
        req_id = next(self._ids)
        frame = templates.amend(req_id, client_order_id, price_ticks, quantity_lots)
        charge = self._charges[symbol][2]
        self.limiter.take_or_refuse(charge, "amend-order")
        return self._send(
            req_id, frame, "amend-order", status=_NEW, client_order_id=client_order_id, costs=charge
        )

    # -- order operations -----------------------------------------------------------------

    async def _order_op(
        self, op: str, args: list[str], costs: Charge | Costs, *, refuse: bool = False
    ) -> list[dict[str, Any]]:
        """One batch operation over WS (or REST) -> its per-item results. Its `costs` come out
        of `limiter` first: with `refuse` (batch places) a request over budget raises
        RateLimited("local") unsent, else it waits for its tokens (batch cancels)."""
        if refuse:
            self.limiter.take_or_refuse(costs, op)
        else:
            await self.limiter.acquire_waiting(costs)
        if not self._orders_on_ws():
            return await self._rest_op(op, args, costs)
        try:
            doc = await self._ws_call(op, args)
            return _items(doc)
        except RateLimited as exc:
            raise self._blocking(exc, costs) from None

    async def _rest_op(
        self, op: str, args: list[str], costs: Charge | Costs
    ) -> list[dict[str, Any]]:
        """One order operation over REST (its tokens taken) -> its per-item results."""
        body = args[0] if not op.startswith("batch") else "[" + ",".join(args) + "]"
        try:
            return _items(await self._rest("POST", _PATHS[op], body))
        except RateLimited as exc:
            raise self._blocking(exc, costs) from None

    def _body(self, symbol: str) -> BodyBuilder:
        try:
            return self._bodies[symbol]
        except KeyError:
            raise InvalidOrder(
                VENUE, "", f"{symbol} is not an instrument of this adapter"
            ) from None

    @staticmethod
    def _ack(item: Any, client_order_id: str, status: OrderStatus) -> OrderAck:
        if not isinstance(item, dict):
            raise VenueUnavailable(VENUE, "", "malformed order answer (outcome unknown)")
        code = str(item.get("sCode", ""))
        if code != "0":
            raise venue_error(code, str(item.get("sMsg", "")))
        ts = str(item.get("ts", ""))
        return OrderAck(
            client_order_id=str(item.get("clOrdId") or client_order_id),
            venue_order_id=str(item.get("ordId", "")),
            status=status,
            timestamp_ns=int(ts) * NS_PER_MS if ts.isdigit() else 0,
        )

    def _templates_of(self, symbol: str) -> OrderTemplates:
        try:
            return self._templates[symbol]
        except KeyError:
            raise InvalidOrder(
                VENUE, "", f"{symbol} is not an instrument of this adapter"
            ) from None

    async def place_order(self, request: OrderRequest) -> OrderAck:
        future = self.submit_order(request)
        if future is not None:
            ack: OrderAck = await future
            return ack
        # the session is not up (or rest_only): REST, its checks before the budget
        symbol = request.instrument.symbol
        body = self._body(symbol).place(request)
        charge = self._charges[symbol][0]
        self.limiter.take_or_refuse(charge, "order")
        data = await self._rest_op("order", [body], charge)
        return self._ack(data[0], request.client_order_id, _NEW)

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderAck | Exception]:
        results: list[OrderAck | Exception] = []
        for start in range(0, len(requests), MAX_BATCH):
            chunk = requests[start : start + MAX_BATCH]
            bodies: list[str] = []
            built: list[OrderAck | Exception | None] = []
            for request in chunk:
                try:
                    bodies.append(self._body(request.instrument.symbol).place(request))
                    built.append(None)
                except VenueError as exc:
                    built.append(exc)
            client_ids = [r.client_order_id for r in chunk]
            results.extend(
                await self._batch("batch-orders", bodies, built, client_ids, OrderStatus.NEW)
            )
        return results

    async def _batch(
        self,
        op: str,
        bodies: list[str],
        built: list[OrderAck | Exception | None],
        client_ids: list[str],
        status: OrderStatus,
    ) -> list[OrderAck | Exception]:
        """Send one batch; a failure of the whole batch (rate limit, no answer) is every
        sent item's result."""
        items: list[dict[str, Any]] = []
        if bodies:
            try:
                items = await self._order_op(
                    op, bodies, (("batch", len(bodies)),), refuse=op != "batch-cancel-orders"
                )
            except VenueError as exc:
                return [slot if slot is not None else exc for slot in built]
        return self._batch_results(built, items, client_ids, status)

    def _batch_results(
        self,
        built: list[OrderAck | Exception | None],
        items: list[dict[str, Any]],
        client_ids: list[str],
        status: OrderStatus,
    ) -> list[OrderAck | Exception]:
        out: list[OrderAck | Exception] = []
        answers = iter(items)
        for slot, client_order_id in zip(built, client_ids, strict=True):
            if slot is not None:
                out.append(slot)
                continue
            item = next(answers, None)
            try:
                out.append(self._ack(item, client_order_id, status))
            except VenueError as exc:
                out.append(exc)
        return out

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderAck:
        future = self.submit_cancel(symbol, client_order_id)
        if future is None:
            # the session is not up, or the budget has no token now: wait for it, then the
            # session's path if it is up by then, else REST
            self._templates_of(symbol)
            check_client_order_id(client_order_id)
            charge = self._charges[symbol][1]
            await self.limiter.acquire_waiting(charge)
            if self._orders_on_ws():
                req_id = next(self._ids)
                frame = self._templates_of(symbol).cancel(req_id, client_order_id)
                future = self._send(
                    req_id,
                    frame,
                    "cancel-order",
                    status=_PENDING_CANCEL,
                    client_order_id=client_order_id,
                    costs=charge,
                )
            if future is None:
                body = self._body(symbol).by_client_id(client_order_id)
                data = await self._rest_op("cancel-order", [body], charge)
                # sCode 0 only means accepted: the orders channel reports the outcome
                return self._ack(data[0], client_order_id, _PENDING_CANCEL)
        ack: OrderAck = await future
        return ack

    async def cancel_orders(
        self, symbol: str, client_order_ids: Sequence[str]
    ) -> list[OrderAck | Exception]:
        builder = self._body(symbol)
        results: list[OrderAck | Exception] = []
        for start in range(0, len(client_order_ids), MAX_BATCH):
            chunk = list(client_order_ids[start : start + MAX_BATCH])
            bodies: list[str] = []
            built: list[OrderAck | Exception | None] = []
            for client_order_id in chunk:
                try:
                    bodies.append(builder.by_client_id(client_order_id))
                    built.append(None)
                except VenueError as exc:
                    built.append(exc)
            results.extend(
                await self._batch(
                    "batch-cancel-orders", bodies, built, chunk, OrderStatus.PENDING_CANCEL
                )
            )
        return results

    async def amend_order(
        self, symbol: str, client_order_id: str, *, price_ticks: int, quantity_lots: int
    ) -> OrderAck:
        """OKX amend-order: a new price requeues the order, a smaller size keeps its place;
        `quantity_lots` is the new total (fills included); 0 leaves a value unchanged."""
        future = self.submit_amend(
            symbol, client_order_id, price_ticks=price_ticks, quantity_lots=quantity_lots
        )
        if future is not None:
            ack: OrderAck = await future
            return ack
        body = self._body(symbol).amend(client_order_id, price_ticks, quantity_lots)
        charge = self._charges[symbol][2]
        self.limiter.take_or_refuse(charge, "amend-order")
        data = await self._rest_op("amend-order", [body], charge)
        return self._ack(data[0], client_order_id, _NEW)

    async def cancel_all(self, symbol: str) -> list[str]:
        """Every open order of `symbol`, canceled in batches of 20 by ordId; returns the
        client order ids (the ordId for an order placed without one) accepted for cancel."""
        builder = self._body(symbol)
        open_orders = await self.get_open_orders(symbol)
        canceled: list[str] = []
        for start in range(0, len(open_orders), MAX_BATCH):
            chunk = open_orders[start : start + MAX_BATCH]
            items = await self._order_op(
                "batch-cancel-orders",
                [builder.by_ord_id(o.venue_order_id) for o in chunk],
                (("batch", len(chunk)),),
            )
            for order, item in zip(chunk, items, strict=False):
                if isinstance(item, dict) and item.get("sCode") == "0":
                    canceled.append(order.client_order_id or order.venue_order_id)
        return canceled

    async def arm_dead_man_switch(self, timeout_s: float) -> bool:
        """`cancel-all-after`: every open order is canceled `timeout_s` (10..120) after the
        last call; 0 disarms."""
        seconds = int(timeout_s)
        if seconds != timeout_s or not (seconds == 0 or 10 <= seconds <= 120):
            raise InvalidOrder(VENUE, "", f"cancel-all-after takes 0 or 10..120 s, not {timeout_s}")
        await self._rest(
            "POST",
            "/api/v5/trade/cancel-all-after",
            '{"timeOut":"' + str(seconds) + '"}',
            costs=_CANCEL_ALL_AFTER,
        )
        return True

    # -- queries --------------------------------------------------------------------------

    async def get_balances(self) -> dict[str, Balance]:
        doc = await self._rest("GET", "/api/v5/account/balance", costs=_BALANCE)
        out: dict[str, Balance] = {}
        for account in doc.get("data") or []:
            for detail in account.get("details") or [] if isinstance(account, dict) else []:
                try:
                    locked = _dec(detail.get("frozenBal"))
                    avail = detail.get("availBal")
                    free = _dec(avail) if avail else _dec(detail.get("cashBal")) - locked
                    out[str(detail["ccy"])] = Balance(str(detail["ccy"]), free, locked)
                except (KeyError, TypeError, ArithmeticError, ValueError):
                    raise VenueUnavailable(VENUE, "", "malformed balance answer") from None
        return out

    async def get_open_orders(self, symbol: str) -> list[OrderSnapshot]:
        inst = self.instrument(symbol)
        out: list[OrderSnapshot] = []
        after = ""
        while True:
            query = f"instType=SPOT&instId={symbol}&limit=100" + (
                f"&after={after}" if after else ""
            )
            doc = await self._rest("GET", "/api/v5/trade/orders-pending", query=query, costs=_QUERY)
            page = doc.get("data") or []
            out.extend(self._snapshots(inst, page))
            if len(page) < 100:
                return out
            after = str(page[-1].get("ordId", ""))

    @staticmethod
    def _snapshots(inst: Instrument, page: list[Any]) -> list[OrderSnapshot]:
        try:
            return [snapshot_from_order(inst, obj) for obj in page]
        except (ValueError, AttributeError) as exc:
            raise VenueUnavailable(VENUE, "", f"malformed order answer: {exc}") from None

    async def get_order(self, symbol: str, client_order_id: str) -> OrderSnapshot:
        inst = self.instrument(symbol)
        check_client_order_id(client_order_id)
        query = f"instId={symbol}&clOrdId={client_order_id}"
        doc = await self._rest("GET", "/api/v5/trade/order", query=query, costs=_QUERY)
        orders = self._snapshots(inst, doc.get("data") or [])
        if not orders:
            raise OrderNotFound(VENUE, "51603", "Order does not exist")
        return orders[0]

    async def get_fills(self, symbol: str, since_ns: int) -> list[FillRecord]:
        """Our trades of `symbol` since `since_ns`, oldest first (`fills` covers the last 3
        days, `fills-history` 3 months)."""
        inst = self.instrument(symbol)
        recent = self.clock.time_ns() - since_ns < _FILLS_WINDOW_NS
        path = "/api/v5/trade/fills" if recent else "/api/v5/trade/fills-history"
        fills_costs: Costs = (("fills" if recent else "fills_history", 1),)
        begin = max(since_ns, 0) // NS_PER_MS
        out: list[FillRecord] = []
        after = ""
        while True:
            query = f"instType=SPOT&instId={symbol}&begin={begin}&limit=100"
            if after:
                query += f"&after={after}"
            doc = await self._rest("GET", path, query=query, costs=fills_costs)
            page = doc.get("data") or []
            try:
                out.extend(fill_from_record(inst, obj) for obj in page)
            except (ValueError, AttributeError) as exc:
                raise VenueUnavailable(VENUE, "", f"malformed fills answer: {exc}") from None
            if len(page) < 100:
                break
            after = str(page[-1].get("billId", ""))
        out.reverse()
        return out


def _certificate_refused(url: str, ca_file: str, exc: BaseException) -> TlsConfigError:
    """A refused certificate is a configuration error: retrying cannot fix it."""
    trust = f"the CA file {ca_file!r}" if ca_file else "the system trust store"
    reason = getattr(exc, "certificate_error", exc)
    return TlsConfigError(
        f"okx: TLS certificate of {url} refused by {trust} ({reason}); "
        "set venues.okx.ca_file to the CA bundle that signed it"
    )


def _dec(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    return Decimal(str(value))


class _Session:
    """The `WsHandler` of the private connection: every frame to the adapter."""

    frame_handler = None

    def __init__(self, adapter: OkxAdapter) -> None:
        self.adapter = adapter

    def on_open(self, conn: WsConnection) -> None:
        self.adapter._on_open(conn)

    def on_message(self, payload: memoryview, status: int, recv_ns: int) -> None:
        del status
        self.adapter._on_frame(payload, recv_ns)

    def on_close(self, reason: str) -> None:
        self.adapter._on_close(reason)

    def keepalive(self, conn: WsConnection) -> None:
        conn.send_text(b"ping")


def _items(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """An order operation's per-item results; the typed error of a failed request."""
    data = doc.get("data")
    code = doc.get("code", "")
    if not isinstance(data, list) or not data or code not in ("0", "1", "2"):
        raise venue_error(str(code), str(doc.get("msg", "")))
    return data


def _first_item(doc: dict[str, Any]) -> Any:
    return _items(doc)[0]
