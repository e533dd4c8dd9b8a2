"""The seed's `ExchangeAdapter`: one object per venue that places, cancels and amends orders,
reads balances, open orders and fills, and streams execution reports.

Inside the engine every price is int64 ticks and every quantity int64 lots of the order's
`Instrument` (its grids); `Decimal` appears only in balances and fees, whose asset is not
the instrument's. Adapters raise the typed errors of `engine.gateway.errors`, never a bare
transport exception, and never put a secret in a message.

Execution reports reach the engine through the `on_report` callback given to the adapter:
one `ExecutionReport` per state change or fill, in the order the venue sent them. The OMS
(engine.oms) de-duplicates and orders them; adapters pass on what the venue said.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from engine._core.reports import ReportDecoder
from engine.clock import Clock
from engine.gateway.errors import InvalidOrder, RateLimited
from engine.gateway.ratelimit import RateLimiter, venue_limiter
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.wire.credentials import Credentials

if TYPE_CHECKING:
    from engine.gateway.ws import WsConnection

log = logging.getLogger("engine.gateway")


@dataclass(frozen=True, slots=True)
class VenueEndpoints:
    """Where a venue is reached: from config only, so mainnet, testnet and the simulator
    differ by configuration alone."""

    rest_url: str  # REST base (Gate's includes /api/v4)
    ws_public_url: str
    ws_private_url: str  # Binance: the WS API (/ws-api/v3); OKX /ws/v5/private; Gate /ws/v4/
    ca_file: str = ""  # "" = the system trust store (engine.gateway.tls)
    demo: bool = False  # OKX: send `x-simulated-trading: 1` (a demo key)
    recv_window_ms: int = 5000


class OrderRequest(NamedTuple):
    """One new order in grid units. `client_order_id` is ours and valid for the venue.

    The hot-path records (this, OrderAck, ExecutionReport) are named tuples: as immutable
    as a frozen dataclass and four times cheaper to build (bench/RESULTS.md, oms.apply_fill).
    """

    client_order_id: str
    instrument: Instrument
    side: OrderSide
    order_type: OrderType
    quantity_lots: int
    price_ticks: int = 0  # 0 for MARKET
    time_in_force: TimeInForce = TimeInForce.GTC


class OrderAck(NamedTuple):
    """The venue's answer to a place, cancel or amend: the order's state as it then saw it."""

    client_order_id: str
    venue_order_id: str
    status: OrderStatus
    filled_lots: int = 0  # cumulative, when the answer carries it
    timestamp_ns: int = 0  # the venue's time of the answer, 0 if it gave none


class ExecutionReport(NamedTuple):
    """One state change or fill of one order, from the venue's private stream (or a query).

    A fill carries `trade_id` (unique per venue and symbol), `last_price_ticks` and
    `last_lots`; `cum_filled_lots` is the order's cumulative fill after it, when the venue
    says (else -1). `fee` is in `fee_asset` units, positive = paid.
    """

    venue: str
    symbol: str
    client_order_id: str
    venue_order_id: str
    status: OrderStatus
    side: OrderSide
    cum_filled_lots: int = -1
    trade_id: str = ""
    last_price_ticks: int = 0
    last_lots: int = 0
    fee: Decimal = Decimal(0)
    fee_asset: str = ""
    is_maker: bool = False
    reason: str = ""  # the venue's reject or cancel reason, verbatim
    exchange_ts_ns: int = 0
    recv_ts_ns: int = 0

    @property
    def is_fill(self) -> bool:
        return self.last_lots > 0


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """An order as a query answers it (open orders, one order)."""

    symbol: str
    client_order_id: str
    venue_order_id: str
    status: OrderStatus
    side: OrderSide
    order_type: OrderType
    price_ticks: int
    quantity_lots: int
    filled_lots: int
    timestamp_ns: int = 0


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One of our trades as the venue's trade history returns it."""

    symbol: str
    trade_id: str
    client_order_id: str  # "" when the venue's record does not carry it
    venue_order_id: str
    side: OrderSide
    price_ticks: int
    lots: int
    fee: Decimal
    fee_asset: str
    is_maker: bool
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


ReportSink = Callable[[ExecutionReport], None]


class ExchangeAdapter(abc.ABC):
    """A venue's trading API. Build with `create_adapter`; `await start()` before use.

    `instruments` are the ones this adapter may trade (by the venue's symbol); a request for
    another symbol is an `InvalidOrder` before anything is sent.

    `limiter` holds the venue's request budgets (engine.gateway.ratelimit), consulted before
    every request: a new order or amend over budget raises `RateLimited` (code "local") and
    is never sent, a cancel or query waits for its tokens; the venue's usage reports and its
    429/418 answers correct it. `on_stream_restart`, when set, is called each time the
    private stream (the one carrying execution reports) is back after a loss, not at the
    first connect: reports sent meanwhile are gone, so the OMS reconciles by query.
    """

    venue: str = ""
    # amend_order changes the order in place, keeping its client order id (OKX, Gate);
    # Binance's cancelReplace makes a new order, so the OMS cancels and places instead
    amends_in_place: bool = False
    # the adapter re-measures the server-time offset on its own schedule (Binance); for the
    # others the trading component calls sync_time() every TIME_SYNC_INTERVAL_S
    refreshes_time_itself: bool = False
    # replace_order cancels one order and places another in one request (Binance
    # order.cancelReplace): the OMS replaces with one request instead of two
    replaces_in_one_request: bool = False

    def __init__(
        self,
        endpoints: VenueEndpoints,
        credentials: Credentials,
        clock: Clock,
        instruments: Sequence[Instrument],
        on_report: ReportSink | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.credentials = credentials
        self.clock = clock
        self.instruments = {i.symbol: i for i in instruments}
        self.on_report: ReportSink = on_report or _ignore
        self.on_stream_restart: Callable[[], None] | None = None
        self.stream_restarts = 0  # private stream back after a loss
        self.limiter: RateLimiter = venue_limiter(self.venue, clock, self.instruments)
        # the private stream's execution reports, decoded from the frame in Cython
        self._reports = ReportDecoder(
            instruments, report_type=ExecutionReport, status_type=OrderStatus, side_type=OrderSide
        )

    def _stream_restarted(self) -> None:
        """The private stream is back after a loss: count it and tell `on_stream_restart`."""
        self.stream_restarts += 1
        callback = self.on_stream_restart
        if callback is not None:
            try:
                callback()
            except Exception:
                log.exception("%s: on_stream_restart failed", self.venue)

    def _rate_limited(self, exc: RateLimited, names: Sequence[str], window_s: float) -> None:
        """A 429/418 from the venue: block `names` for its Retry-After (else `window_s`)."""
        if exc.code == "local":
            return
        retry = exc.retry_after_s if exc.retry_after_s is not None else window_s
        self.limiter.block_for(max(retry, 0.0), names)
        log.warning(
            "%s rate limit hit (%s): %s blocked for %.3f s",
            self.venue,
            exc.code,
            ",".join(names),
            retry,
        )

    @abc.abstractmethod
    async def start(self) -> None:
        """Open the trading session and the private stream; estimate the server-time offset."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close every connection; idempotent."""

    @abc.abstractmethod
    async def place_order(self, request: OrderRequest) -> OrderAck: ...

    @abc.abstractmethod
    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderAck: ...

    @abc.abstractmethod
    async def cancel_all(self, symbol: str) -> list[str]:
        """Cancel every open order of `symbol`; the client order ids cancelled."""

    async def amend_order(
        self, symbol: str, client_order_id: str, *, price_ticks: int, quantity_lots: int
    ) -> OrderAck:
        """Change price and/or quantity (OKX amend-order, Gate amend, Binance cancelReplace:
        the venue's own semantics; on Binance the order gets a new client order id)."""
        raise NotImplementedError(f"{self.venue} adapter has no amend")

    async def replace_order(self, cancel_client_order_id: str, request: OrderRequest) -> OrderAck:
        """Cancel `cancel_client_order_id` and place `request` (its own client order id) in
        one request, where the venue has it (`replaces_in_one_request`); the new order's ack.
        A refused cancel raises its error and places nothing."""
        del cancel_client_order_id, request
        raise NotImplementedError(f"{self.venue} adapter has no one-request replace")

    # ------------------------------------------------------------------ the hot path
    # Synchronous order entry: the request's bytes are written to the venue's WebSocket
    # trading session before the call returns, with no task and no event-loop pass in
    # between; the future resolves to the answer (or raises its typed VenueError, or
    # VenueUnavailable after the request timeout). A request the adapter refuses before
    # sending (RateLimited "local", InvalidOrder) raises from the call itself. None: the
    # session is not up (or the adapter has no such path); the caller awaits the async
    # method instead (REST fallback, reconnect, clock resync and retry live there).

    @property
    def order_session(self) -> WsConnection | None:
        """The WebSocket trading session the `submit_*` methods write to, or None (none up,
        or no such path): the OMS corks it around a pass of the intent sink, so the pass's
        requests leave in one write."""
        return None

    def submit_order(self, request: OrderRequest) -> asyncio.Future[OrderAck] | None:
        del request
        return None

    def submit_cancel(self, symbol: str, client_order_id: str) -> asyncio.Future[OrderAck] | None:
        del symbol, client_order_id
        return None

    def submit_amend(
        self, symbol: str, client_order_id: str, *, price_ticks: int, quantity_lots: int
    ) -> asyncio.Future[OrderAck] | None:
        del symbol, client_order_id, price_ticks, quantity_lots
        return None

    def submit_replace(
        self, cancel_client_order_id: str, request: OrderRequest
    ) -> asyncio.Future[OrderAck] | None:
        del cancel_client_order_id, request
        return None

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderAck | Exception]:
        """Batch place where the venue has it; one result per request, in order."""
        results: list[OrderAck | Exception] = []
        for request in requests:
            try:
                results.append(await self.place_order(request))
            except Exception as exc:  # reported per request, as a batch does
                results.append(exc)
        return results

    async def cancel_orders(
        self, symbol: str, client_order_ids: Sequence[str]
    ) -> list[OrderAck | Exception]:
        results: list[OrderAck | Exception] = []
        for client_order_id in client_order_ids:
            try:
                results.append(await self.cancel_order(symbol, client_order_id))
            except Exception as exc:  # reported per request, as a batch does
                results.append(exc)
        return results

    async def sync_time(self) -> int:
        """Measure the offset between the venue's clock and ours (ns, venue - ours), use it
        for every timestamp from now on, and return it."""
        raise NotImplementedError(f"{self.venue} adapter does not measure the venue's time")

    async def arm_dead_man_switch(self, timeout_s: float) -> bool:
        """Arm (or refresh, or with 0 disarm) the venue's own cancel-all-after timer, so a
        dead engine's quotes are pulled by the venue: OKX `cancel-all-after`, Gate
        `countdown_cancel_all`. False where the venue has none (Binance spot)."""
        del timeout_s
        return False

    @abc.abstractmethod
    async def get_balances(self) -> dict[str, Balance]: ...

    @abc.abstractmethod
    async def get_open_orders(self, symbol: str) -> list[OrderSnapshot]: ...

    @abc.abstractmethod
    async def get_order(self, symbol: str, client_order_id: str) -> OrderSnapshot:
        """OrderNotFound when the venue does not know it."""

    @abc.abstractmethod
    async def get_fills(self, symbol: str, since_ns: int) -> list[FillRecord]: ...

    def instrument(self, symbol: str) -> Instrument:
        try:
            return self.instruments[symbol]
        except KeyError:
            raise InvalidOrder(
                self.venue, "", f"{symbol} is not an instrument of this adapter"
            ) from None


def _ignore(report: ExecutionReport) -> None:
    del report
