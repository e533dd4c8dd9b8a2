"""`GateAdapter`: Gate v4 spot trading (docs/VENUES.md §3.5-§3.8).

One WebSocket on `endpoints.ws_private_url` (`/ws/v4/`) carries both halves of the session:

- order entry over the WS trading API after `spot.login`: `spot.order_place`,
  `spot.order_cancel`, `spot.order_amend`, `spot.order_cancel_cp`, `spot.order_cancel_ids`.
  Requests are matched to answers by `req_id`. Gate answers a place twice, an ack
  (`"ack": true`, the request echoed) and then the result (the order); the adapter waits for
  the result. `submit_order`, `submit_cancel` and `submit_amend` write the request before
  they return and hand back a future the result resolves to its OrderAck (ExchangeAdapter:
  the hot path): no task, no `wait_for`, a timer per request; the async `place_order` /
  `cancel_order` / `amend_order` await the same futures. No answer within
  `request_timeout_s` fails it with `VenueUnavailable`: the outcome is unknown and the OMS
  resolves it by query;
- the private stream: `spot.orders` (state changes) and `spot.usertrades` (fills), turned into
  `ExecutionReport`s through `on_report`. Each trade is reported once, from
  `spot.usertrades`, keyed by its trade id; a `spot.orders` `update` caused by a fill is not
  reported again (an amend's `update` is). A crossing post-only order comes back cancelled
  with `finish_as: "poc"`: it is reported CANCELED with reason "poc".

REST (`endpoints.rest_url`) runs on one long-lived aiohttp session (keep-alive, timeouts):
queries, the dead-man switch, and order entry whenever the WebSocket session is not logged
in, or always with `rest_orders=True`.

Clock: the offset to Gate's clock is measured at start (`GET /spot/time`); a request Gate
refuses as `REQUEST_EXPIRED` re-measures it and is sent once more, then raises `ClockSkew`.
Client order ids travel as Gate's `text`, "t-" + our id; reports strip the prefix.
Every connection verifies TLS against `endpoints.ca_file` (`engine.gateway.tls.ssl_for`).

Rate limits (`limiter`, docs/VENUES.md §3.8): a place or amend takes from its pair's place
bucket and the per-user WS place bucket (whichever path it then takes) and over budget is
refused with RateLimited("local"), unsent; cancels and REST queries wait for their tokens.
`X-Gate-RateLimit-Limit` minus `-Requests-Remain` (REST headers, the WS ack's header) corrects
the request's bucket; a 429 blocks it until `X-Gate-RateLimit-Reset-Timestamp`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from engine._core.reports import GateOrder, ReportError
from engine.clock import NS_PER_MS, NS_PER_SECOND, Clock
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
from engine.gateway.errors import (
    AuthError,
    ClockSkew,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    VenueError,
    VenueUnavailable,
)
from engine.gateway.gate import orders_wire as wire
from engine.gateway.ratelimit import Charge, Costs, names_of
from engine.gateway.tls import certificate_error, ssl_for
from engine.gateway.ws import WsConnection, WsOptions
from engine.model.enums import OrderSide, OrderStatus, OrderType
from engine.model.instrument import Instrument
from engine.wire.credentials import Credentials
from engine.wire.gate_signing import gate_rest_headers, gate_sign_ws_api, gate_ws_auth

log = logging.getLogger("engine.gateway.gate")

VENUE = "gate"
PRIVATE_CHANNELS = ("spot.orders", "spot.usertrades")
KEEPALIVE_S = 5.0  # spot.ping, as the official SDK (docs/VENUES.md §3.2)
SEEN_TRADES = 100_000  # trade ids remembered for de-duplication
REMEMBERED_IDS = 200_000  # client order id -> Gate order id, for cancels and queries
PAGE = 100
_PUBLIC: Costs = (("public", 1),)
_PRIVATE: Costs = (("private", 1),)
_CANCEL: Costs = (("cancel", 1),)


@dataclass(slots=True)
class _Track:
    """What the stream needs to know about one of our orders between its reports."""

    symbol: str
    client_order_id: str
    side: OrderSide
    qty_lots: int
    price_ticks: int
    cum_lots: int


# a WS API request waiting for its result: the future, its timeout, the channel, the
# instrument whose OrderAck the result becomes (None: the caller takes the raw result), the
# client order id, the request's buckets (its answer's rate-limit header and a 429 name them)
_Entry = tuple[
    asyncio.Future[Any], asyncio.TimerHandle, str, Instrument | None, str, Charge | Costs
]


class GateAdapter(ExchangeAdapter):
    """Gate v4 spot. Build, `await start()`, trade, `await close()`."""

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
        rest_orders: bool = False,
        request_timeout_s: float = 5.0,
        account: str = "spot",
        ws_options: WsOptions | None = None,
    ) -> None:
        super().__init__(endpoints, credentials, clock, instruments, on_report)
        self.rest_orders = rest_orders
        self.request_timeout_s = request_timeout_s
        self.account = account
        self.offset_ms = 0  # Gate's clock minus ours
        self.time_resyncs = 0
        self.report_errors = 0
        self.duplicate_trades = 0
        self._rest_base = endpoints.rest_url.rstrip("/")
        self._rest_path = urlsplit(self._rest_base).path  # "/api/v4", part of what is signed
        self._session: aiohttp.ClientSession | None = None
        self._ws: WsConnection | None = None
        self._ws_options = ws_options or WsOptions(keepalive_s=KEEPALIVE_S, stale_after_s=30.0)
        self._req_ids = itertools.count(1)
        # the WS order path's requests per symbol (orders_wire.OrderTemplates), on first use
        self._templates: dict[str, wire.OrderTemplates] = {}
        self._sub_ids = itertools.count(1)
        self._pending: dict[str, _Entry] = {}
        self._subs: dict[int, asyncio.Future[None]] = {}
        self._ready = asyncio.Event()
        self._session_up = False  # _ready, as a plain flag for the order path
        self._setup_task: asyncio.Task[None] | None = None
        self._setup_error: VenueError | None = None
        self._setup_done = asyncio.Event()
        self._closed = False
        self._orders: dict[str, _Track] = {}  # venue order id -> track
        self._ids: dict[str, str] = {}  # our client order id -> venue order id
        self._seen: set[tuple[str, str]] = set()
        self._seen_order: deque[tuple[str, str]] = deque()
        self.ws_api_timeouts = 0
        self._sessions = 0  # private sessions set up (logged in and subscribed) since start
        # a new order or amend of a pair: its place bucket and the per-user WS place budget
        self._place_costs = {
            symbol: self.limiter.charge((("place:" + symbol, 1), ("ws_place", 1)))
            for symbol in self.instruments
        }
        self._cancel = self.limiter.charge(_CANCEL)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self._closed = False
        self._sessions = 0
        if self._session is None:
            context = ssl_for(self._rest_base, self.endpoints.ca_file)
            connector = aiohttp.TCPConnector(
                ssl=context if context is not None else True,
                keepalive_timeout=60.0,
                limit=32,
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.request_timeout_s),
                json_serialize=lambda doc: orjson.dumps(doc).decode(),
            )
        try:
            await self.sync_time()
            if self._ws is None:
                self._ws = WsConnection(
                    self.endpoints.ws_private_url,
                    _Session(self),
                    clock=self.clock,
                    name="gate:private",
                    options=self._ws_options,
                    ca_file=self.endpoints.ca_file,
                    venue=VENUE,
                )
                self._ws.start()
            await self._ws.wait_connected(self.request_timeout_s * 2)
            await asyncio.wait_for(self._setup_done.wait(), self.request_timeout_s * 2)
        except TimeoutError:
            await self.close()
            raise VenueUnavailable(VENUE, "", "private WebSocket session did not start") from None
        except Exception:
            await self.close()
            raise
        if self._setup_error is not None:
            error = self._setup_error
            await self.close()
            raise error

    async def close(self) -> None:
        self._closed = True
        self._ready.clear()
        self._session_up = False
        if self._setup_task is not None:
            self._setup_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._setup_task
            self._setup_task = None
        if self._ws is not None:
            ws, self._ws = self._ws, None
            await ws.stop()
        self._fail_pending("adapter closed")
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    @property
    def ws_ready(self) -> bool:
        """Logged in and subscribed: orders go over the WebSocket."""
        return self._session_up and self._ws is not None and self._ws.connected

    # -- time -----------------------------------------------------------------------------

    def now_ms(self) -> int:
        """Our best estimate of Gate's clock, in ms."""
        return self.clock.time_ns() // NS_PER_MS + self.offset_ms

    async def sync_time(self) -> int:
        """Measure Gate's clock (`GET /spot/time`); returns the new offset in ms."""
        before = self.clock.time_ns()
        doc = await self._rest("GET", "/spot/time", signed=False)
        after = self.clock.time_ns()
        server_ms = int(doc["server_time"])
        self.offset_ms = server_ms - (before + after) // 2 // NS_PER_MS
        return self.offset_ms

    def _timestamp(self) -> str:
        return str(self.now_ms() // 1000)

    # -- REST -----------------------------------------------------------------------------

    async def _rest(
        self,
        method: str,
        path: str,
        query: str = "",
        body: str = "",
        *,
        signed: bool = True,
        retry_skew: bool = True,
        costs: Charge | Costs | None = None,
        taken: bool = False,
    ) -> Any:
        """One REST call. `costs` (default: the public or private bucket) are waited for in
        `limiter` unless `taken` (order operations take theirs before choosing REST or WS);
        the answer's X-Gate-RateLimit headers correct them and a 429 blocks them."""
        if costs is None:
            costs = _PRIVATE if signed else _PUBLIC
        if not taken:
            await self.limiter.acquire_waiting(costs)
        session = self._session
        if session is None:
            raise VenueUnavailable(VENUE, "", "adapter not started")
        data = body.encode() if body else b""
        url = self._rest_base + path + ("?" + query if query else "")
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if signed:
            headers.update(
                gate_rest_headers(
                    self.credentials,
                    method,
                    self._rest_path + path,
                    query,
                    data,
                    timestamp=self._timestamp(),
                )
            )
        try:
            async with session.request(method, url, data=data or None, headers=headers) as resp:
                status = resp.status
                raw = await resp.read()
                reset = resp.headers.get("X-Gate-RateLimit-Reset-Timestamp")
                self._note_usage(
                    costs,
                    resp.headers.get("X-Gate-RateLimit-Limit"),
                    resp.headers.get("X-Gate-RateLimit-Requests-Remain"),
                )
        except TimeoutError:
            raise VenueUnavailable(VENUE, "", f"{method} {path}: no answer in time") from None
        except aiohttp.ClientConnectorCertificateError as exc:
            # a configuration error (venues.gate.ca_file), not a flake: retrying cannot fix it
            raise certificate_error(VENUE, self._rest_base, exc, self.endpoints.ca_file) from None
        except aiohttp.ClientError as exc:
            raise VenueUnavailable(
                VENUE, "", f"{method} {path}: {type(exc).__name__}: {exc}"
            ) from None
        if 200 <= status < 300:
            try:
                return orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                raise VenueUnavailable(VENUE, "", f"{method} {path}: answer is not JSON") from None
        label, message = _label(raw, status)
        error = wire.venue_error(label, message, status, retry_after_s=self._retry_after(reset))
        if isinstance(error, ClockSkew) and signed and retry_skew:
            self.time_resyncs += 1
            await self.sync_time()
            return await self._rest(
                method, path, query, body, signed=True, retry_skew=False, costs=costs
            )
        raise self._blocking(error, costs)

    def _blocking(self, error: VenueError, costs: Charge | Costs) -> VenueError:
        """A 429 (TOO_MANY_REQUESTS) blocks the request's buckets until Gate's reset time."""
        if isinstance(error, RateLimited):
            self._rate_limited(error, names_of(costs), 1.0)
        return error

    def _note_usage(self, costs: Charge | Costs, limit: object, remain: object) -> None:
        """Gate's X-Gate-RateLimit-Limit / -Requests-Remain: what it counted of the rule this
        request fell under (its first bucket), trusted when more than ours."""
        if limit is None or remain is None:
            return
        names = names_of(costs)
        if not names:
            return
        try:
            used = int(str(limit)) - int(str(remain))
        except ValueError:
            return
        if used > 0:
            self.limiter.observe_used(names[0], used)

    def _retry_after(self, reset_ms: str | None) -> float | None:
        if not reset_ms or not reset_ms.isdigit():
            return None
        return max(int(reset_ms) - self.now_ms(), 0) / 1000

    # -- WebSocket trading API ------------------------------------------------------------

    async def _api(
        self,
        channel: str,
        req_param: str,
        *,
        signed: bool = False,
        costs: Charge | Costs = (),
    ) -> Any:
        """Send one `event: "api"` request joined around `req_param` and wait for its result
        (not its ack). `costs` were taken by the caller; the answer's rate-limit header
        corrects them and a 429 blocks them."""
        req_id = next(self._req_ids)
        login = ""
        if signed:  # spot.login: the docs sign an empty req_param and send none
            ts = self._timestamp()
            signature = gate_sign_ws_api(self.credentials, channel, req_param or None, ts)
            login = wire.login_fields(self.credentials.api_key, signature, ts)
        data = wire.api_frame(self._timestamp(), channel, str(req_id), req_param, login)
        future = self._send(req_id, data, channel, inst=None, client_order_id="", costs=costs)
        if future is None:
            raise VenueUnavailable(VENUE, "", f"{channel}: not connected")
        return await future

    def _send(
        self,
        req_id: int,
        frame: str | bytes,
        channel: str,
        *,
        inst: Instrument | None,
        client_order_id: str,
        costs: Charge | Costs,
    ) -> asyncio.Future[Any] | None:
        """Write `frame` (request id `req_id`) on the session now and register its result:
        an OrderAck of `inst` (None: the raw result), expired by a timer after
        `request_timeout_s`. None: not written (no socket)."""
        ws = self._ws
        if ws is None or not ws.send_text(frame):
            return None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        key = str(req_id)
        timer = loop.call_later(self.request_timeout_s, self._expire, key)
        self._pending[key] = (future, timer, channel, inst, client_order_id, costs)
        return future

    def _expire(self, req_id: str) -> None:
        """A request's timeout (`loop.call_later`): no result, so its outcome is unknown."""
        entry = self._pending.pop(req_id, None)
        if entry is None:
            return
        future, channel = entry[0], entry[2]
        if not future.done():
            self.ws_api_timeouts += 1
            why = (
                f"{channel}: no answer within {self.request_timeout_s:g} s; the outcome is unknown"
            )
            future.set_exception(VenueUnavailable(VENUE, "", why))

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for future, timer, *_ in pending.values():
            timer.cancel()
            if not future.done():
                future.set_exception(
                    VenueUnavailable(VENUE, "", f"{why}; outcome of the request unknown")
                )
        subs, self._subs = self._subs, {}
        for sub in subs.values():
            if not sub.done():
                sub.set_exception(VenueUnavailable(VENUE, "", why))

    async def _setup(self) -> None:
        """Per connection: login (resync + one retry on REQUEST_EXPIRED), then subscribe."""
        try:
            try:
                await self._api("spot.login", "", signed=True)
            except ClockSkew:
                self.time_resyncs += 1
                await self.sync_time()
                await self._api("spot.login", "", signed=True)
            await asyncio.gather(*(self._subscribe(ch) for ch in PRIVATE_CHANNELS))
        except VenueError as exc:
            self._setup_error = exc
            if isinstance(exc, AuthError | ClockSkew):
                log.error("gate private session refused: %s", exc)
            else:
                log.warning("gate private session setup failed: %s", exc)
        else:
            self._setup_error = None
            self._ready.set()
            self._session_up = True
            self._sessions += 1
            if self._sessions > 1:  # the stream is back after a loss: reports were missed
                self._stream_restarted()
        finally:
            self._setup_done.set()

    async def _subscribe(self, channel: str) -> None:
        ws = self._ws
        if ws is None:
            raise VenueUnavailable(VENUE, "", "private WebSocket not running")
        sub_id = next(self._sub_ids)
        when = self.now_ms() // 1000
        auth = gate_ws_auth(self.credentials, channel, "subscribe", when)
        frame = orjson.dumps(
            {
                "time": when,
                "id": sub_id,
                "channel": channel,
                "event": "subscribe",
                "payload": ["!all"],
                "auth": auth,
            }
        )
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._subs[sub_id] = future
        try:
            if not ws.send_text(frame):
                raise VenueUnavailable(VENUE, "", f"subscribe {channel}: not connected")
            await asyncio.wait_for(future, self.request_timeout_s)
        except TimeoutError:
            raise VenueUnavailable(VENUE, "", f"subscribe {channel}: no answer") from None
        finally:
            self._subs.pop(sub_id, None)

    # stream callbacks (from _Session) ------------------------------------------------------

    def _on_open(self) -> None:
        self._ready.clear()
        self._session_up = False
        if self._closed:
            return
        self._setup_done.clear()
        self._setup_task = asyncio.get_running_loop().create_task(self._setup())

    def _on_close(self, reason: str) -> None:
        self._ready.clear()
        self._session_up = False
        self._fail_pending(f"private WebSocket closed ({reason})")

    def _on_frame(self, payload: memoryview, recv_ns: int) -> None:
        # spot.orders and spot.usertrades: decoded from the frame in Cython
        try:
            items = self._reports.gate(payload, recv_ns)
        except ReportError as exc:
            self.report_errors += 1
            log.warning("gate: private push skipped: %s", exc)
            return
        if items is not None:
            for item in items:
                if item is None:  # a pair this adapter does not trade
                    continue
                if isinstance(item, ReportError):
                    self.report_errors += 1
                    log.warning("gate: private push item skipped: %s", item)
                    continue
                try:
                    if isinstance(item, GateOrder):
                        self._order_report(item)
                    else:
                        self._trade_report(item)
                except Exception:
                    self.report_errors += 1
                    log.exception("gate: report failed")
            return
        doc = orjson.loads(payload)
        if not isinstance(doc, dict):
            return
        if "request_id" in doc:
            self._on_api_answer(doc)
            return
        channel = doc.get("channel")
        event = doc.get("event")
        if event == "upgrade" and self._ws is not None:
            self._ws.reconnect("the venue asked for a new connection (upgrade)")
        elif event == "subscribe" and "id" in doc:
            future = self._subs.get(doc["id"])
            if future is None or future.done():
                return
            error = doc.get("error")
            if error:
                code = error.get("code") if isinstance(error, dict) else ""
                message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
                cls = AuthError if code == 4 else VenueUnavailable
                future.set_exception(cls(VENUE, str(code), f"{channel}: {message}"))
            else:
                future.set_result(None)

    def _on_api_answer(self, doc: dict[str, Any]) -> None:
        key = str(doc.get("request_id"))
        entry = self._pending.get(key)
        if entry is None:
            return
        future, timer, channel, inst, client_order_id, costs = entry
        header = doc.get("header")
        header = header if isinstance(header, dict) else {}
        if "x_gate_ratelimit_requests_remain" in header and costs:
            # the WS place budget is per user: its header speaks of the ws_place bucket
            self._note_usage(
                (("ws_place", 1),),
                header.get("x_gate_ratelimit_limit"),
                header.get("x_gate_ratelimit_requests_remain"),
            )
        if doc.get("ack"):
            return  # the request was taken; the result follows
        del self._pending[key]
        timer.cancel()
        if future.done():  # the caller gave up on it (cancelled)
            return
        data = doc.get("data")
        data = data if isinstance(data, dict) else {}
        errs = data.get("errs")
        if errs:
            status_text = str(header.get("status", ""))
            status = int(status_text) if status_text.isdigit() else None
            errs = errs if isinstance(errs, dict) else {}
            reset = header.get("x_gate_ratelimit_reset_timestamp") or header.get(
                "x_gat_ratelimit_reset_timestamp"
            )
            error = wire.venue_error(
                str(errs.get("label", "")),
                str(errs.get("message", "")),
                status,
                retry_after_s=self._retry_after(str(reset) if reset is not None else None),
            )
            future.set_exception(self._blocking(error, costs))
        elif inst is None:
            future.set_result(data.get("result"))
        else:
            try:
                ack = self._ack(inst, data.get("result"), client_order_id)
            except VenueError as exc:
                future.set_exception(exc)
            except Exception as exc:  # a malformed result: what happened is unknown
                why = f"{channel}: malformed answer ({exc}); outcome unknown"
                future.set_exception(VenueUnavailable(VENUE, "", why))
            else:
                future.set_result(ack)

    # -- private stream -> reports ----------------------------------------------------------

    def _track(self, venue_id: str, inst: Instrument, doc: dict[str, Any], cum: int) -> _Track:
        """The order's track, made on first sight (with `cum` lots filled), else updated."""
        qty, _ = wire.order_lots(inst, doc)
        price = wire.ticks(inst, doc.get("price"))
        track = self._orders.get(venue_id)
        cid = wire.from_text(doc.get("text"))
        if track is None:
            side = wire.side_of(doc)
            track = self._orders[venue_id] = _Track(inst.symbol, cid, side, qty, price, cum)
            if cid:
                self._remember(cid, venue_id)
        else:
            track.qty_lots, track.price_ticks = qty, price
        return track

    def _remember(self, client_order_id: str, venue_id: str) -> None:
        ids = self._ids
        ids[client_order_id] = venue_id
        if len(ids) > REMEMBERED_IDS:
            del ids[next(iter(ids))]  # the oldest: queried by text instead, should it matter

    def _trade_report(self, report: ExecutionReport) -> None:
        """A spot.usertrades fill, decoded: booked once per trade id, with the order's
        cumulative fill where the order is tracked."""
        key = (report.symbol, report.trade_id)
        if key in self._seen:
            self.duplicate_trades += 1
            return
        self._seen.add(key)
        self._seen_order.append(key)
        if len(self._seen_order) > SEEN_TRADES:
            self._seen.discard(self._seen_order.popleft())
        track = self._orders.get(report.venue_order_id)
        if track is not None:
            track.cum_lots += report.last_lots
            cum = track.cum_lots
            full = bool(track.qty_lots) and cum >= track.qty_lots
            status = OrderStatus.FILLED if full else OrderStatus.PARTIALLY_FILLED
            report = report._replace(cum_filled_lots=cum, status=status)
        self.on_report(report)

    def _order_report(self, item: GateOrder) -> None:
        """A spot.orders change, decoded. An update that changes neither amount nor price is a
        fill, which spot.usertrades reports (with its trade id) instead."""
        report, event, qty, price = item
        venue_id = report.venue_order_id
        track = self._orders.get(venue_id)
        if event == "update" and track is not None:
            amended = qty != track.qty_lots or price != track.price_ticks
            track.qty_lots, track.price_ticks = qty, price
            if not amended:
                return  # a fill: spot.usertrades reports it, with its trade id, exactly once
        if track is None:
            cum = 0 if event == "put" else report.cum_filled_lots
            cid = report.client_order_id
            track = _Track(report.symbol, cid, report.side, qty, price, cum)
            self._orders[venue_id] = track
            if cid:
                self._remember(cid, venue_id)
        else:
            track.qty_lots, track.price_ticks = qty, price
        if report.status.is_terminal:
            self._orders.pop(venue_id, None)
        if report.side is not track.side:
            report = report._replace(side=track.side)
        self.on_report(report)

    # -- orders -----------------------------------------------------------------------------

    def _venue_ref(self, client_order_id: str) -> str:
        """Gate's `order_id` parameter for one of our orders: its id when we know it, else
        its `text` (Gate takes the text while the order is open)."""
        return self._ids.get(client_order_id) or wire.to_text(client_order_id)

    def _ack(self, inst: Instrument, doc: Any, client_order_id: str) -> OrderAck:
        if not isinstance(doc, dict):
            raise VenueUnavailable(VENUE, "", "answer without an order object")
        qty, filled = wire.order_lots(inst, doc)
        venue_id = str(doc.get("id", ""))
        status = wire.status_of(doc, filled, qty)
        cid = wire.from_text(doc.get("text")) or client_order_id
        if venue_id and not status.is_terminal:
            self._track(venue_id, inst, doc, 0)
        elif venue_id and cid:
            self._remember(cid, venue_id)
        return OrderAck(
            cid,
            venue_id,
            status,
            filled_lots=filled,
            timestamp_ns=wire.ms_to_ns(doc.get("update_time_ms")),
        )

    def _order_templates(self, inst: Instrument) -> wire.OrderTemplates:
        """The instrument's templates, rebuilt when `account` (public) has changed."""
        templates = self._templates.get(inst.symbol)
        stale = templates is None or templates.account != self.account
        if stale or templates is None or templates.instrument is not inst:
            templates = wire.OrderTemplates(inst, account=self.account)
            self._templates[inst.symbol] = templates
        return templates

    # the hot path: synchronous order entry (ExchangeAdapter) ---------------------------

    @property
    def order_session(self) -> WsConnection | None:
        return self._ws

    def submit_order(self, request: OrderRequest) -> asyncio.Future[OrderAck] | None:
        """Write a `spot.order_place` now; the future resolves to its result (not its ack)."""
        if self.rest_orders or not self._session_up:
            return None
        inst = self.instrument(request.instrument.symbol)
        req_id = next(self._req_ids)
        # the bytes (and their checks) before the budget is taken
        frame = self._order_templates(inst).place(
            req_id,
            self.now_ms() // 1000,
            request.client_order_id,
            side=request.side,
            order_type=request.order_type,
            quantity_lots=request.quantity_lots,
            price_ticks=request.price_ticks,
            tif=request.time_in_force,
        )
        costs = self._place_costs[inst.symbol]
        self.limiter.take_or_refuse(costs, "spot.order_place")
        return self._send(
            req_id,
            frame,
            "spot.order_place",
            inst=inst,
            client_order_id=request.client_order_id,
            costs=costs,
        )

    def submit_cancel(self, symbol: str, client_order_id: str) -> asyncio.Future[OrderAck] | None:
        """Write a `spot.order_cancel` now; None also when the cancel budget has no token
        this instant (the async `cancel_order` waits for it)."""
        if self.rest_orders or not self._session_up:
            return None
        inst = self.instrument(symbol)
        req_id = next(self._req_ids)
        ref = self._venue_ref(client_order_id)
        frame = self._order_templates(inst).cancel(req_id, self.now_ms() // 1000, ref)
        if self.limiter.acquire(self._cancel):
            return None
        return self._send(
            req_id,
            frame,
            "spot.order_cancel",
            inst=inst,
            client_order_id=client_order_id,
            costs=self._cancel,
        )

    def submit_amend(
        self, symbol: str, client_order_id: str, *, price_ticks: int, quantity_lots: int
    ) -> asyncio.Future[OrderAck] | None:
        """Write a `spot.order_amend` now (same semantics as `amend_order`)."""
        if self.rest_orders or not self._session_up:
            return None
        inst = self.instrument(symbol)
        if price_ticks < 0 or quantity_lots < 0 or not (price_ticks or quantity_lots):
            raise InvalidOrder(VENUE, "", "amend needs a new price and/or quantity")
        req_id = next(self._req_ids)
        frame = self._order_templates(inst).amend(
            req_id,
            self.now_ms() // 1000,
            self._venue_ref(client_order_id),
            price_ticks=price_ticks,
            quantity_lots=quantity_lots,
        )
        costs = self._place_costs[inst.symbol]
        self.limiter.take_or_refuse(costs, "spot.order_amend")
        return self._send(
            req_id,
            frame,
            "spot.order_amend",
            inst=inst,
            client_order_id=client_order_id,
            costs=costs,
        )

    # -- orders (async: the hot path's futures, else REST) --------------------------------

    async def place_order(self, request: OrderRequest) -> OrderAck:
        future = self.submit_order(request)
        if future is not None:
            ack: OrderAck = await future
            return ack
        inst = self.instrument(request.instrument.symbol)
        body = wire.order_body(
            wire.to_text(request.client_order_id),
            inst,
            side=request.side,
            order_type=request.order_type,
            quantity_lots=request.quantity_lots,
            price_ticks=request.price_ticks,
            tif=request.time_in_force,
            account=self.account,
        )
        costs = self._place_costs[inst.symbol]
        self.limiter.take_or_refuse(costs, "spot.order_place")
        doc = await self._rest("POST", "/spot/orders", body=body, costs=costs, taken=True)
        return self._ack(inst, doc, request.client_order_id)

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderAck:
        future = self.submit_cancel(symbol, client_order_id)
        if future is None:
            # the session is not up, or no cancel token this instant: wait for one, then the
            # session if it is up by then, else REST
            inst = self.instrument(symbol)
            await self.limiter.acquire_waiting(self._cancel)
            ref = self._venue_ref(client_order_id)
            if not self.rest_orders and self._session_up:
                req_id = next(self._req_ids)
                frame = self._order_templates(inst).cancel(req_id, self.now_ms() // 1000, ref)
                future = self._send(
                    req_id,
                    frame,
                    "spot.order_cancel",
                    inst=inst,
                    client_order_id=client_order_id,
                    costs=self._cancel,
                )
            if future is None:
                doc = await self._rest(
                    "DELETE",
                    "/spot/orders/" + ref,
                    "currency_pair=" + inst.symbol,
                    costs=self._cancel,
                    taken=True,
                )
                return self._ack(inst, doc, client_order_id)
        ack: OrderAck = await future
        return ack

    async def amend_order(
        self, symbol: str, client_order_id: str, *, price_ticks: int, quantity_lots: int
    ) -> OrderAck:
        """Gate amend (`spot.order_amend` / `PATCH /spot/orders/{id}`): the order keeps its id
        and client id; 0 leaves a field unchanged. Gate keeps the queue position only for a
        smaller quantity at the same price."""
        future = self.submit_amend(
            symbol, client_order_id, price_ticks=price_ticks, quantity_lots=quantity_lots
        )
        if future is not None:
            ack: OrderAck = await future
            return ack
        inst = self.instrument(symbol)
        if price_ticks < 0 or quantity_lots < 0 or not (price_ticks or quantity_lots):
            raise InvalidOrder(VENUE, "", "amend needs a new price and/or quantity")
        ref = self._venue_ref(client_order_id)
        costs = self._place_costs[inst.symbol]
        self.limiter.take_or_refuse(costs, "spot.order_amend")
        body = wire.amend_body(ref, inst, price_ticks=price_ticks, quantity_lots=quantity_lots)
        doc = await self._rest(
            "PATCH",
            "/spot/orders/" + ref,
            "currency_pair=" + inst.symbol,
            body,
            costs=costs,
            taken=True,
        )
        return self._ack(inst, doc, client_order_id)

    async def cancel_all(self, symbol: str) -> list[str]:
        inst = self.instrument(symbol)
        await self.limiter.acquire_waiting(self._cancel)
        if self.rest_orders or not self.ws_ready:
            docs = await self._rest(
                "DELETE",
                "/spot/orders",
                "currency_pair=" + inst.symbol,
                costs=self._cancel,
                taken=True,
            )
        else:
            docs = await self._api(
                "spot.order_cancel_cp",
                '{"currency_pair":"' + inst.symbol + '"}',
                costs=self._cancel,
            )
        out = []
        for doc in docs if isinstance(docs, list) else []:
            if isinstance(doc, dict) and doc.get("succeeded", True) is not False:
                cid = wire.from_text(doc.get("text"))
                if cid:
                    out.append(cid)
        return out

    async def cancel_orders(
        self, symbol: str, client_order_ids: Sequence[str]
    ) -> list[OrderAck | Exception]:
        """`spot.order_cancel_ids` (REST `cancel_batch_orders`), 20 a request."""
        inst = self.instrument(symbol)
        results: list[OrderAck | Exception] = []
        for start in range(0, len(client_order_ids), 20):
            chunk = client_order_ids[start : start + 20]
            refs = [self._venue_ref(cid) for cid in chunk]
            items = ",".join(
                '{"currency_pair":"' + inst.symbol + '","id":"' + ref + '"}' for ref in refs
            )
            await self.limiter.acquire_waiting(self._cancel)
            if self.rest_orders or not self.ws_ready:
                docs = await self._rest(
                    "POST",
                    "/spot/cancel_batch_orders",
                    body=f"[{items}]",
                    costs=self._cancel,
                    taken=True,
                )
            else:
                docs = await self._api("spot.order_cancel_ids", f"[{items}]", costs=self._cancel)
            rows = docs if isinstance(docs, list) else []
            for i, cid in enumerate(chunk):
                row = rows[i] if i < len(rows) and isinstance(rows[i], dict) else {}
                if row.get("succeeded"):
                    results.append(OrderAck(cid, str(row.get("id", "")), OrderStatus.CANCELED))
                else:
                    results.append(
                        wire.venue_error(
                            str(row.get("label", "")), str(row.get("message", "")), 400
                        )
                    )
        return results

    async def arm_dead_man_switch(self, timeout_s: float) -> bool:
        """`POST /spot/countdown_cancel_all` for the whole account: Gate cancels every open
        order if not refreshed within `timeout_s` (whole seconds, at least 5; 0 disarms)."""
        timeout = 0 if timeout_s <= 0 else max(5, math.ceil(timeout_s))
        await self._rest("POST", "/spot/countdown_cancel_all", body=f'{{"timeout":{timeout}}}')
        return True

    # -- queries ----------------------------------------------------------------------------

    async def get_balances(self) -> dict[str, Balance]:
        docs = await self._rest("GET", "/spot/accounts")
        out = {}
        for doc in docs if isinstance(docs, list) else []:
            asset = str(doc.get("currency", ""))
            out[asset] = Balance(
                asset, wire.decimal(doc.get("available")), wire.decimal(doc.get("locked"))
            )
        return out

    def _snapshot(self, inst: Instrument, doc: dict[str, Any]) -> OrderSnapshot:
        qty, filled = wire.order_lots(inst, doc)
        track = self._orders.get(str(doc.get("id", "")))
        if track is not None and filled > track.cum_lots:
            # the venue's count: trades the stream lost (a reconnect) are in it, so the
            # cumulative the next streamed trade reports is right again
            track.cum_lots = filled
        if doc.get("type") == "market":
            order_type = OrderType.MARKET
        elif doc.get("time_in_force") == "poc":
            order_type = OrderType.LIMIT_MAKER
        else:
            order_type = OrderType.LIMIT
        return OrderSnapshot(
            inst.symbol,
            wire.from_text(doc.get("text")),
            str(doc.get("id", "")),
            wire.status_of(doc, filled, qty),
            wire.side_of(doc),
            order_type,
            wire.ticks(inst, doc.get("price")),
            qty,
            filled,
            wire.ms_to_ns(doc.get("update_time_ms")),
        )

    async def get_open_orders(self, symbol: str) -> list[OrderSnapshot]:
        inst = self.instrument(symbol)
        out: list[OrderSnapshot] = []
        for page in itertools.count(1):
            query = f"currency_pair={inst.symbol}&status=open&page={page}&limit={PAGE}"
            docs = await self._rest("GET", "/spot/orders", query)
            rows = docs if isinstance(docs, list) else []
            out.extend(self._snapshot(inst, d) for d in rows if isinstance(d, dict))
            if len(rows) < PAGE:
                return out
        return out  # unreachable: itertools.count never ends

    async def get_order(self, symbol: str, client_order_id: str) -> OrderSnapshot:
        inst = self.instrument(symbol)
        ref = self._venue_ref(client_order_id)
        try:
            doc = await self._rest("GET", "/spot/orders/" + ref, "currency_pair=" + inst.symbol)
            return self._snapshot(inst, doc)
        except OrderNotFound:
            if ref != wire.to_text(client_order_id):
                raise
        # by text Gate finds open orders only: look through the recently finished ones
        text = wire.to_text(client_order_id)
        query = f"currency_pair={inst.symbol}&status=finished&limit=1000"
        for doc in await self._rest("GET", "/spot/orders", query) or []:
            if isinstance(doc, dict) and doc.get("text") == text:
                return self._snapshot(inst, doc)
        raise OrderNotFound(VENUE, "ORDER_NOT_FOUND", f"no order with text {text}")

    async def get_fills(self, symbol: str, since_ns: int) -> list[FillRecord]:
        """Our trades on `symbol` at or after `since_ns`, oldest first."""
        inst = self.instrument(symbol)
        since_s = since_ns // NS_PER_SECOND
        out: list[FillRecord] = []
        for page in itertools.count(1):
            query = f"currency_pair={inst.symbol}&limit=1000&page={page}&from={since_s}"
            docs = await self._rest("GET", "/spot/my_trades", query)
            rows = [d for d in docs if isinstance(d, dict)] if isinstance(docs, list) else []
            for doc in rows:
                ts = wire.ms_to_ns(doc.get("create_time_ms"))
                if ts < since_ns:
                    continue
                out.append(
                    FillRecord(
                        inst.symbol,
                        str(doc.get("id", "")),
                        wire.from_text(doc.get("text")),
                        str(doc.get("order_id", "")),
                        wire.side_of(doc),
                        wire.ticks(inst, doc.get("price")),
                        wire.lots(inst, doc.get("amount")),
                        wire.decimal(doc.get("fee")),
                        str(doc.get("fee_currency", "")),
                        doc.get("role") == "maker",
                        ts,
                    )
                )
            if len(rows) < 1000:
                break
        out.sort(key=lambda f: (f.timestamp_ns, f.trade_id))
        return out


def _label(raw: bytes, status: int) -> tuple[str, str]:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "", f"HTTP {status}"
    if not isinstance(doc, dict):
        return "", f"HTTP {status}"
    return str(doc.get("label", "")), str(doc.get("message", f"HTTP {status}"))


class _Session:
    """The `WsHandler` of the private connection: every frame to the adapter."""

    frame_handler = None

    def __init__(self, adapter: GateAdapter) -> None:
        self.adapter = adapter

    def on_open(self, conn: WsConnection) -> None:
        del conn
        self.adapter._on_open()

    def on_message(self, payload: memoryview, status: int, recv_ns: int) -> None:
        del status
        try:
            self.adapter._on_frame(payload, recv_ns)
        except orjson.JSONDecodeError:
            self.adapter.report_errors += 1
            log.warning("gate: a private frame is not JSON: %.200s", bytes(payload))

    def on_close(self, reason: str) -> None:
        self.adapter._on_close(reason)

    def keepalive(self, conn: WsConnection) -> None:
        conn.send_text('{"time":' + str(self.adapter.now_ms() // 1000) + ',"channel":"spot.ping"}')


__all__ = ["GateAdapter"]
