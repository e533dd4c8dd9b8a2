"""The order manager: intents in, venue requests out, execution reports back into the order
table, the positions and the strategy's `on_order_update`.

One `OrderManager` serves every venue of the engine. It owns the order table
(engine/_core/orders.pyx: every state change an explicit transition), one `PositionCore` per
instrument, and the set of trade ids already booked, so that:

- a fill is booked into the position exactly once, by trade id, whatever the order's state
  (a fill that arrives after our cancel, or after the order's final report, is still a trade);
- a report the order's state does not allow is refused and counted, never applied;
- a request whose answer never came leaves the order UNKNOWN until a query says what it is.

Requests run as tasks on the engine's loop; `await drain()` waits for every one of them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal

from engine._core import fills as fill_codes
from engine._core import orders as table_codes
from engine._core.fills import FillLedger
from engine._core.fixedpoint import FixedPointOverflowError
from engine._core.intents import CANCEL, NEW, REPLACE, IntentBuffer
from engine._core.latency import Histogram
from engine._core.orders import OrderTable
from engine._core.position import PositionCore
from engine.clock import Clock
from engine.events import OpenOrder, OrderUpdate, VenueEvent
from engine.gateway.adapter import (
    ExchangeAdapter,
    ExecutionReport,
    FillRecord,
    OrderAck,
    OrderRequest,
    OrderSnapshot,
)
from engine.gateway.errors import (
    ClockSkew,
    OrderNotFound,
    PostOnlyWouldCross,
    RateLimited,
    VenueError,
    VenueUnavailable,
)
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.oms.ids import ClientOrderIds
from engine.oms.persistence import LiveOrder, OrderPersistence
from engine.oms.states import CODE_OF_STATUS, STATUS_OF_CODE
from engine.storage.journal import IntentAction, JournalError

log = logging.getLogger("engine.oms")

_SIDE = {1: OrderSide.BUY, -1: OrderSide.SELL}
_TYPE = {1: OrderType.LIMIT, 2: OrderType.MARKET, 3: OrderType.LIMIT_MAKER}
_TYPE_CODE = {t: c for c, t in _TYPE.items()}
_TIF = {1: TimeInForce.GTC, 2: TimeInForce.IOC, 3: TimeInForce.FOK}
_TIF_CODE = {t: c for c, t in _TIF.items()}
CATCH_UP_OVERLAP_NS = 5_000_000_000
SEEN_TRADES = 65_536  # trade ids remembered per instrument (the journal keeps them for good)
_PYTHON_PATH = fill_codes.PYTHON
REMEMBERED_IDS = 65_536  # client order id -> order id, cleared when full
# a request about the order is in flight (or unanswered): the strategy waits for its answer
_PENDING = frozenset(
    {table_codes.PENDING_NEW, table_codes.PENDING_CANCEL, table_codes.PENDING_AMEND,
     table_codes.UNKNOWN}
)  # fmt: skip


@dataclass(slots=True)
class OmsCounters:
    requests: int = 0
    rejected: int = 0  # the venue refused a new order
    timeouts: int = 0  # a request got no answer: the order went UNKNOWN
    resolved: int = 0  # an UNKNOWN order resolved by a query
    reports: int = 0
    refused_reports: int = 0  # the order table refused the change (counted by reason there)
    duplicate_fills: int = 0  # a trade id already booked
    late_fills: int = 0  # a new trade of an order that had already ended or was released
    foreign_reports: int = 0  # a report for an order that is not ours and not adopted
    adopted: int = 0
    canceled_foreign: int = 0
    position_errors: int = 0
    no_adapter: int = 0  # an intent for a venue the engine does not trade on
    caught_up_fills: int = 0  # trades the stream missed, booked from the venue's history
    recoveries: int = 0  # catch-up + reconciliation runs after a private-stream reconnect
    amends_would_cross: int = 0  # a post-only amend refused: the order kept its old price
    rate_limited: int = 0  # a request refused for a rate limit (ours or the venue's)
    late_answers: int = 0  # a request's answer came after the stream had ended the order

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class _Queued:
    """A request journaled in a batch, sent (or failed) at end_batch."""

    order_id: int
    meta: _Meta
    send: Callable[[], None]
    is_new: bool  # a NEW order: REJECTED if the journal fails; else the request just fails
    old_id: int = 0  # a replace's cancelled order: its cancel just fails


@dataclass(frozen=True, slots=True)
class _Meta:
    """What the order table does not keep: the instrument index and the venue's order id."""

    index: int
    client_order_id: str
    tag: int = 0  # the opening intent's client tag (0: none, as for an adopted order)


class OrderManager:
    def __init__(
        self,
        clock: Clock,
        instruments: Sequence[Instrument],
        adapters: Mapping[str, ExchangeAdapter],
        *,
        capacity: int = 4096,
        ids: ClientOrderIds | None = None,
        on_update: Callable[[OrderUpdate], None] | None = None,
        adopt_unknown: bool = False,
        on_venue_event: Callable[[VenueEvent], None] | None = None,
        persistence: OrderPersistence | None = None,
    ) -> None:
        self.clock = clock
        self.instruments = tuple(instruments)
        self.adapters = dict(adapters)
        self.table = OrderTable(capacity)
        self.ids = ids or ClientOrderIds(clock.time_ns() // 1_000_000)
        self.on_update = on_update
        self.on_venue_event = on_venue_event
        self.persist = persistence  # the journal before every request, history rows after
        # within begin_batch/end_batch: requests wait here, journaled with `more`, until one
        # journal write has made them all durable (one syscall per sink pass, not per request)
        self._batch: list[_Queued] | None = None
        self.adopt_unknown = adopt_unknown
        self.positions = [PositionCore() for _ in self.instruments]
        self.fees_in_base = [Decimal(0) for _ in self.instruments]  # also counted in PnL
        self.fees_other: dict[str, Decimal] = {}  # a third asset (BNB, GT...): not in PnL
        self.counters = OmsCounters()
        # for monitoring (docs/MONITORING.md): order updates told, per instrument and
        # table status code; new orders the venue refused, per (venue, error class)
        self.updates = [[0] * (table_codes.EXPIRED + 1) for _ in self.instruments]
        self.rejects: dict[tuple[str, str], int] = {}
        self._index = {(i.venue, i.symbol): n for n, i in enumerate(self.instruments)}
        self._meta: dict[int, _Meta] = {}
        self._tags: dict[int, int] = {}  # client tag -> the live order it opened last
        self._live: list[set[int]] = [set() for _ in self.instruments]  # order ids per index
        self._adopted: dict[str, int] = {}  # client order ids of other runs -> order ids
        self._order_ids: dict[str, int] = {}  # order_id_of's answers
        # trade ids booked, per instrument (the last SEEN_TRADES, oldest forgotten first),
        # and the one C call that books a fill: de-duplication, position, order table
        # (book() reads the report's fields in C: the fee is converted there when it is none
        # or in the quote asset, exactly as fee_to_units; other fees take the Python path)
        self._ledger = FillLedger(
            self.positions,
            self.table,
            SEEN_TRADES,
            quotes=[i.quote for i in self.instruments],
            notional_units=[(i._notional_mantissa, i._notional_exp) for i in self.instruments],
            status_codes=CODE_OF_STATUS,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight: set[asyncio.Future[OrderAck]] = set()  # written, answer not yet in
        # venue round trip per venue (docs/MONITORING.md): a request handed to the trading
        # session -> its answer's callback, on the engine clock; no answer, no sample
        self.round_trips: dict[str, Histogram] = {venue: Histogram() for venue in self.adapters}
        # the venue time of the newest trade booked per instrument: where a catch-up starts
        self._started_ns = clock.time_ns()
        self._last_fill_ns = [0] * len(self.instruments)
        self._recovering: dict[str, asyncio.Lock] = {}
        for adapter in self.adapters.values():
            adapter.on_report = self.on_report

    # ------------------------------------------------------------------ intents in

    def consume(self, intents: IntentBuffer) -> None:
        """The dispatcher's intent sink: every pending intent becomes a request task."""
        while (row := intents.pop()) is not None:
            index, kind, side, order_type, tif, price, qty, _tag, order_id = row
            if kind == NEW:
                self.place(index, side, order_type, tif, price, qty, _tag)
            elif kind == CANCEL:
                self.cancel(order_id)
            elif kind == REPLACE:
                self.replace(order_id, index, side, order_type, tif, price, qty, _tag)

    def place(  # noqa: PLR0917 - the intent row's fields, in its order
        self, index: int, side: int, order_type: int, tif: int, price: int, qty: int, tag: int
    ) -> int:
        """Open an order and send it; its order id (0 when the table refused it)."""
        order_id = self.open_order(index, side, order_type, tif, price, qty, tag)
        if not order_id:
            return 0
        meta = self._meta[order_id]
        request = self._request(meta, side, order_type, tif, price, qty)
        if not self._journaled(order_id, meta, request, IntentAction.NEW):
            return 0
        self._send_or_queue(
            _Queued(order_id, meta, functools.partial(self._submit_new, order_id, meta, request),
                    True)
        )  # fmt: skip
        return order_id

    def _send_or_queue(self, queued: _Queued) -> None:
        if self._batch is not None:
            self._batch.append(queued)
        else:
            queued.send()

    def begin_batch(self) -> None:
        """Requests from here to end_batch are journaled in one write, then sent in order."""
        if self._batch is None:
            self._batch = []

    def end_batch(self) -> None:
        """Make the batch's intents durable in one journal write, then send them all, in one
        socket write per trading session; when the journal cannot take them, none is sent
        (new orders REJECTED)."""
        batch, self._batch = self._batch, None
        if not batch:
            return
        if self.persist is not None:
            try:
                self.persist.flush()
            except JournalError as exc:
                log.error("%d requests not sent: the journal refused them: %s", len(batch), exc)
                now = self.clock.time_ns()
                for queued in batch:
                    if queued.is_new:
                        self._apply(
                            queued.order_id, queued.meta, OrderStatus.REJECTED, -1,
                            reason=str(exc),
                        )  # fmt: skip
                    else:
                        self.table.request_failed(queued.order_id, now)
                    if queued.old_id:
                        self.table.request_failed(queued.old_id, now)
                return
        if len(batch) == 1:
            batch[0].send()
            return
        # the pass's requests leave in one write per trading session (cork, send, uncork)
        sessions = [
            session
            for adapter in self.adapters.values()
            if (session := adapter.order_session) is not None and session.connected
        ]
        for session in sessions:
            session.cork()
        try:
            for queued in batch:
                queued.send()
        finally:
            for session in sessions:
                session.uncork()

    def _journaled(
        self, order_id: int, meta: _Meta, request: OrderRequest, action: IntentAction
    ) -> bool:
        """The request into the journal before it is sent; False (the order REJECTED, nothing
        sent) when the journal cannot take it: an order we could lose is not placed."""
        return self._journal(
            order_id, meta, action, request.side, request.order_type, request.time_in_force,
            request.price_ticks, request.quantity_lots,
        )  # fmt: skip

    def _journal(  # noqa: PLR0917 - the journaled request's fields
        self,
        order_id: int,
        meta: _Meta,
        action: IntentAction,
        side: OrderSide,
        order_type: OrderType,
        tif: TimeInForce,
        price: int,
        qty: int,
    ) -> bool:
        if self.persist is None:
            return True
        try:
            self.persist.intent(
                meta.client_order_id, meta.index, side, order_type, tif, price, qty,
                self.clock.time_ns(), action, self._batch is not None,
            )  # fmt: skip
        except JournalError as exc:
            log.error("request not sent: the journal refused it: %s", exc)
            if action is IntentAction.NEW:
                self._apply(order_id, meta, OrderStatus.REJECTED, -1, reason=str(exc))
            return False
        return True

    def open_order(  # noqa: PLR0917 - the intent row's fields, in its order
        self, index: int, side: int, order_type: int, tif: int, price: int, qty: int, tag: int = 0
    ) -> int:
        """Open an order in the table without sending it (place sends; a journal replay and
        the benchmarks open only); its order id, 0 when refused."""
        if not 0 <= index < len(self.instruments):
            log.error("order refused before sending: no instrument %d", index)
            return 0
        if self.instruments[index].venue not in self.adapters:
            self.counters.no_adapter += 1
            log.error("order refused: no trading on %s", self.instruments[index].venue)
            return 0
        now = self.clock.time_ns()
        code, order_id = self.table.open(index, side, order_type, tif, price, qty, tag, now)
        if code < 0:
            log.error("order refused before sending: %s", table_codes.describe(code))
            return 0
        self._meta[order_id] = _Meta(index, self.ids.of(order_id), tag)
        self._live[index].add(order_id)
        if tag:
            self._tags[tag] = order_id
        return order_id

    def cancel(self, order_id: int) -> bool:
        """Send a cancel; False when the order is not live (nothing sent)."""
        meta = self._meta.get(order_id)
        if meta is None or self.table.cancel_sent(order_id, self.clock.time_ns()) < 0:
            log.warning("cancel of order %d refused: not a live order", order_id)
            return False
        if self.persist is not None and not self._journal_about(
            order_id, meta, IntentAction.CANCEL
        ):
            self.table.request_failed(order_id, self.clock.time_ns())
            return False
        send = functools.partial(self._submit_cancel, order_id, meta)
        self._send_or_queue(_Queued(order_id, meta, send, False))
        return True

    def _submit_cancel(self, order_id: int, meta: _Meta) -> None:
        adapter, instrument = self._adapter(meta)
        try:
            future = adapter.submit_cancel(instrument.symbol, meta.client_order_id)
        except VenueError as exc:
            self._cancel_failed(order_id, meta, exc)
            return
        if future is None:
            self._spawn(self._send_cancel(order_id, meta))
        else:
            self._track(
                future, functools.partial(self._cancel_answered, order_id, meta), adapter.venue
            )

    def replace(  # noqa: PLR0917 - the intent row's fields, in its order
        self,
        order_id: int,
        index: int,
        side: int,
        order_type: int,
        tif: int,
        price: int,
        qty: int,
        tag: int,
    ) -> int:
        """Amend in place where the venue can (same side, type and time in force), else
        cancel and place anew; the id of the order that carries the new price. `qty` is the
        quantity to rest from now on (an amend makes the order's total its filled part plus
        `qty`)."""
        meta = self._meta.get(order_id)
        row = self.table.get(order_id)
        known = 0 <= index < len(self.instruments)
        adapter = self.adapters.get(self.instruments[index].venue) if known else None
        same = row is not None and row[1] == index and tuple(row[2:5]) == (side, order_type, tif)
        filled = row[8] if row is not None else 0
        if (
            meta is not None
            and same
            and adapter is not None
            and adapter.amends_in_place
            # the intent's quantity is what should rest from now on; the venues' amend takes
            # the order's new total, what it already filled included
            and self.table.amend_sent(order_id, price, filled + qty, self.clock.time_ns()) >= 0
        ):
            self._submit_amend(order_id, meta, price, filled + qty)
            return order_id
        if (
            meta is not None
            and adapter is not None
            and adapter.replaces_in_one_request
            and self.table.cancel_sent(order_id, self.clock.time_ns()) >= 0
        ):
            return self._replace_in_one(
                order_id, meta, index, side, order_type, tif, price, qty, tag
            )
        self.cancel(order_id)
        return self.place(index, side, order_type, tif, price, qty, tag)

    def _replace_in_one(  # noqa: PLR0917 - the intent row's fields, in its order
        self,
        old_id: int,
        old: _Meta,
        index: int,
        side: int,
        order_type: int,
        tif: int,
        price: int,
        qty: int,
        tag: int,
    ) -> int:
        """One request cancels `old_id` and places the new order (Binance cancelReplace); the
        old order stays PENDING_CANCEL until the venue's report of its cancel."""
        new_id = self.open_order(index, side, order_type, tif, price, qty, tag)
        if not new_id:
            self.table.request_failed(old_id, self.clock.time_ns())
            return 0
        meta = self._meta[new_id]
        request = self._request(meta, side, order_type, tif, price, qty)
        if self.persist is not None and not (
            self._journal_about(old_id, old, IntentAction.CANCEL)
            and self._journaled(new_id, meta, request, IntentAction.NEW)
        ):
            self.table.request_failed(old_id, self.clock.time_ns())
            return 0
        send = functools.partial(self._submit_replace, old_id, old, new_id, meta, request)
        self._send_or_queue(_Queued(new_id, meta, send, True, old_id))
        return new_id

    def _submit_replace(
        self, old_id: int, old: _Meta, new_id: int, meta: _Meta, request: OrderRequest
    ) -> None:
        adapter = self.adapters[request.instrument.venue]
        try:
            future = adapter.submit_replace(old.client_order_id, request)
        except VenueError as exc:
            self._replace_failed(old_id, old, new_id, meta, exc)
            return
        if future is None:
            self._spawn(self._send_replace(old_id, old, new_id, request))
        else:
            answered = functools.partial(self._replace_answered, old_id, old, new_id, meta)
            self._track(future, answered, adapter.venue)

    def _journal_about(
        self, order_id: int, meta: _Meta, action: IntentAction, price: int = 0, qty: int = 0
    ) -> bool:
        """A cancel or amend of a live order into the journal (its price and size as the
        table holds them, or the amend's); False when the journal refused it."""
        row = self.table.get(order_id)
        if row is None:
            return False
        return self._journal(
            order_id, meta, action, _SIDE[row[2]], _TYPE[row[3]], _TIF[row[4]],
            price or row[6], qty or row[7],
        )  # fmt: skip

    def _request(  # noqa: PLR0917 - the intent row's fields, in its order
        self, meta: _Meta, side: int, order_type: int, tif: int, price: int, qty: int
    ) -> OrderRequest:
        return OrderRequest(
            client_order_id=meta.client_order_id,
            instrument=self.instruments[meta.index],
            side=_SIDE[side],
            order_type=_TYPE[order_type],
            quantity_lots=qty,
            price_ticks=price,
            time_in_force=_TIF[tif],
        )

    # ------------------------------------------------------------------ requests

    # A request goes out synchronously where the adapter's trading session can take it
    # (submit_*: the bytes are written before the call returns, no task, no loop pass); its
    # answer comes back to a done-callback. Otherwise, and for what needs awaiting (a query
    # after a lost answer, a clock resync), a task runs the async method.

    def _spawn(self, coroutine: Coroutine[object, object, None], *, request: bool = True) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if request:
            self.counters.requests += 1

    def _track(
        self,
        future: asyncio.Future[OrderAck],
        answered: Callable[[asyncio.Future[OrderAck]], None],
        venue: str,
    ) -> None:
        """A request the adapter wrote: `answered` gets its future once the answer is in;
        the time it took goes into the venue's round-trip histogram."""
        self.counters.requests += 1
        self._inflight.add(future)
        round_trip = self.round_trips.get(venue)
        if round_trip is None:  # an adapter added after the manager was built
            round_trip = self.round_trips[venue] = Histogram()
        clock = self.clock
        sent_ns = clock.monotonic_ns()

        def done(future: asyncio.Future[OrderAck]) -> None:
            self._inflight.discard(future)
            if not future.cancelled():
                # a timeout or a closed session is no answer: not a round trip
                if not isinstance(future.exception(), VenueUnavailable):
                    round_trip.record(clock.monotonic_ns() - sent_ns)
                answered(future)

        future.add_done_callback(done)

    async def drain(self) -> None:
        """Wait until every request in flight has its answer (tests, shutdown)."""
        while self._tasks or self._inflight:
            await asyncio.gather(*self._tasks, *self._inflight, return_exceptions=True)
            await asyncio.sleep(0)  # the answers' callbacks run, and may start tasks

    def _submit_new(self, order_id: int, meta: _Meta, request: OrderRequest) -> None:
        adapter = self.adapters[request.instrument.venue]
        try:
            future = adapter.submit_order(request)
        except VenueError as exc:  # refused before it was sent
            self._new_failed(order_id, meta, exc)
            return
        if future is None:
            self._spawn(self._send_new(order_id, request))
        else:
            answered = functools.partial(self._new_answered, order_id, meta, request)
            self._track(future, answered, adapter.venue)

    def _new_answered(
        self, order_id: int, meta: _Meta, request: OrderRequest, future: asyncio.Future[OrderAck]
    ) -> None:
        exc = future.exception()
        if exc is None:
            self._apply_ack(order_id, meta, future.result())
        elif isinstance(exc, ClockSkew):  # the async path measures the offset and retries
            self._spawn(self._send_new(order_id, request))
        elif isinstance(exc, VenueUnavailable):
            self._spawn(self._went_unknown(order_id, meta, exc), request=False)
        elif isinstance(exc, VenueError):
            self._new_failed(order_id, meta, exc)
        else:
            self._unexpected(meta, exc)

    def _new_failed(self, order_id: int, meta: _Meta, exc: VenueError) -> None:
        if isinstance(exc, RateLimited):
            self._rate_limited(exc, "new order")
        self.counters.rejected += 1
        key = (exc.venue, type(exc).__name__)
        self.rejects[key] = self.rejects.get(key, 0) + 1
        self._apply(order_id, meta, OrderStatus.REJECTED, -1, reason=str(exc))

    def _cancel_answered(
        self, order_id: int, meta: _Meta, future: asyncio.Future[OrderAck]
    ) -> None:
        exc = future.exception()
        if exc is None:
            self._apply_ack(order_id, meta, future.result())
        elif isinstance(exc, ClockSkew):
            self._spawn(self._send_cancel(order_id, meta))
        elif isinstance(exc, VenueError):
            self._cancel_failed(order_id, meta, exc)
        else:
            self._unexpected(meta, exc)

    def _cancel_failed(self, order_id: int, meta: _Meta, exc: VenueError) -> None:
        if isinstance(exc, VenueUnavailable):
            self._spawn(self._went_unknown(order_id, meta, exc), request=False)
        elif isinstance(exc, OrderNotFound):  # gone already: filled, or never placed
            self._spawn(self._resolve(order_id, meta), request=False)
        elif isinstance(exc, RateLimited):
            self._rate_limited(exc, "cancel")
            self.table.request_failed(order_id, self.clock.time_ns())
        else:
            log.warning("cancel of %s refused: %s", meta.client_order_id, exc)
            self.table.request_failed(order_id, self.clock.time_ns())

    def _submit_amend(self, order_id: int, meta: _Meta, price: int, qty: int) -> None:
        if self.persist is not None and not self._journal_about(
            order_id, meta, IntentAction.AMEND, price, qty
        ):
            self.table.request_failed(order_id, self.clock.time_ns())
            return
        send = functools.partial(self._send_amend_now, order_id, meta, price, qty)
        self._send_or_queue(_Queued(order_id, meta, send, False))

    def _send_amend_now(self, order_id: int, meta: _Meta, price: int, qty: int) -> None:
        adapter, instrument = self._adapter(meta)
        try:
            future = adapter.submit_amend(
                instrument.symbol, meta.client_order_id, price_ticks=price, quantity_lots=qty
            )
        except VenueError as exc:
            self._amend_failed(order_id, meta, exc)
            return
        if future is None:
            self._spawn(self._send_amend(order_id, meta, price, qty))
        else:
            answered = functools.partial(self._amend_answered, order_id, meta, price, qty)
            self._track(future, answered, adapter.venue)

    def _amend_answered(
        self, order_id: int, meta: _Meta, price: int, qty: int, future: asyncio.Future[OrderAck]
    ) -> None:
        exc = future.exception()
        if exc is None:
            if self.table.amended(order_id, self.clock.time_ns()) >= 0:
                self._apply_ack(order_id, meta, future.result())
        elif isinstance(exc, ClockSkew):
            self._spawn(self._send_amend(order_id, meta, price, qty))
        elif isinstance(exc, VenueError):
            self._amend_failed(order_id, meta, exc)
        else:
            self._unexpected(meta, exc)

    def _amend_failed(self, order_id: int, meta: _Meta, exc: VenueError) -> None:
        if isinstance(exc, VenueUnavailable):
            self._spawn(self._went_unknown(order_id, meta, exc), request=False)
            return
        if isinstance(exc, RateLimited):
            self._rate_limited(exc, "amend")
        elif isinstance(exc, PostOnlyWouldCross):
            # the book moved through the new price: the order rests where it was, as a
            # market maker wants; counted, not logged (it happens every busy second)
            self.counters.amends_would_cross += 1
        else:
            log.warning("amend of %s refused: %s", meta.client_order_id, exc)
        self.table.request_failed(order_id, self.clock.time_ns())

    async def _send_replace(
        self, old_id: int, old: _Meta, new_id: int, request: OrderRequest
    ) -> None:
        adapter = self.adapters[request.instrument.venue]
        meta = self._meta[new_id]
        try:
            ack = await adapter.replace_order(old.client_order_id, request)
        except VenueError as exc:
            self._replace_failed(old_id, old, new_id, meta, exc)
        else:
            self._apply_ack(new_id, meta, ack)

    def _replace_answered(
        self, old_id: int, old: _Meta, new_id: int, meta: _Meta, future: asyncio.Future[OrderAck]
    ) -> None:
        exc = future.exception()
        if exc is None:
            self._apply_ack(new_id, meta, future.result())
        elif isinstance(exc, VenueError):
            self._replace_failed(old_id, old, new_id, meta, exc)
        else:
            self._unexpected(meta, exc)

    def _replace_failed(
        self, old_id: int, old: _Meta, new_id: int, meta: _Meta, exc: VenueError
    ) -> None:
        """Which half failed the error does not say: the new order is settled by its own
        error (or found by query when the answer was lost), the old one by a query."""
        if isinstance(exc, VenueUnavailable):
            self._spawn(self._went_unknown(new_id, meta, exc), request=False)
        else:
            self._new_failed(new_id, meta, exc)
        self._spawn(self._resolve(old_id, old), request=False)

    def _unexpected(self, meta: _Meta, exc: BaseException) -> None:
        log.error(
            "request for %s failed unexpectedly: %r; the order is resolved by query",
            meta.client_order_id,
            exc,
        )

    def _adapter(self, meta: _Meta) -> tuple[ExchangeAdapter, Instrument]:
        instrument = self.instruments[meta.index]
        return self.adapters[instrument.venue], instrument

    async def _send_new(self, order_id: int, request: OrderRequest) -> None:
        adapter = self.adapters[request.instrument.venue]
        meta = self._meta[order_id]
        try:
            ack = await adapter.place_order(request)
        except VenueUnavailable as exc:
            await self._went_unknown(order_id, meta, exc)
        except VenueError as exc:
            self._new_failed(order_id, meta, exc)
        else:
            self._apply_ack(order_id, meta, ack)

    async def _send_cancel(self, order_id: int, meta: _Meta) -> None:
        adapter, instrument = self._adapter(meta)
        try:
            ack = await adapter.cancel_order(instrument.symbol, meta.client_order_id)
        except VenueUnavailable as exc:
            await self._went_unknown(order_id, meta, exc)
        except OrderNotFound:
            await self._resolve(order_id, meta)  # gone already: filled, or never placed
        except VenueError as exc:
            self._cancel_failed(order_id, meta, exc)
        else:
            self._apply_ack(order_id, meta, ack)

    async def _send_amend(self, order_id: int, meta: _Meta, price: int, qty: int) -> None:
        adapter, instrument = self._adapter(meta)
        try:
            ack = await adapter.amend_order(
                instrument.symbol, meta.client_order_id, price_ticks=price, quantity_lots=qty
            )
        except VenueUnavailable as exc:
            await self._went_unknown(order_id, meta, exc)
        except VenueError as exc:
            self._amend_failed(order_id, meta, exc)
        else:
            if self.table.amended(order_id, self.clock.time_ns()) >= 0:
                self._apply_ack(order_id, meta, ack)

    def _rate_limited(self, exc: RateLimited, what: str) -> None:
        """Counted, logged once per burst by the limiter's caller, and told to monitoring."""
        self.counters.rate_limited += 1
        if self.on_venue_event is not None:
            self.on_venue_event(
                VenueEvent(
                    exc.venue, "rate_limited", str(exc.code), f"{what}: {exc}",
                    exc.retry_after_s, self.clock.time_ns(),
                )
            )  # fmt: skip

    async def _went_unknown(self, order_id: int, meta: _Meta, exc: Exception) -> None:
        self.counters.timeouts += 1
        log.warning("no answer for %s (%s): querying the venue", meta.client_order_id, exc)
        self.table.timed_out(order_id, self.clock.time_ns())
        await self._resolve(order_id, meta)

    async def _resolve(self, order_id: int, meta: _Meta) -> None:
        """Ask the venue what became of an order; a venue that does not know it never had it
        (REJECTED if it was never acknowledged, else CANCELED)."""
        adapter, instrument = self._adapter(meta)
        try:
            snapshot = await adapter.get_order(instrument.symbol, meta.client_order_id)
        except OrderNotFound:
            status = self.table.status_of(order_id)
            never_acked = status in (table_codes.PENDING_NEW, table_codes.UNKNOWN)
            final = OrderStatus.REJECTED if never_acked else OrderStatus.CANCELED
            self._apply(order_id, meta, final, -1, reason="not known at the venue")
        except VenueError as exc:
            log.error("query of %s failed (%s): the order stays unknown", meta.client_order_id, exc)
            return
        else:
            self._apply(order_id, meta, snapshot.status, snapshot.filled_lots)
        self.counters.resolved += 1

    def _apply_ack(self, order_id: int, meta: _Meta, ack: OrderAck) -> None:
        self._apply(order_id, meta, ack.status, ack.filled_lots if ack.filled_lots else -1)

    # ------------------------------------------------------------------ reports in

    def _apply(
        self,
        order_id: int,
        meta: _Meta,
        status: OrderStatus,
        cum_lots: int,
        *,
        fill_lots: int = 0,
        report: ExecutionReport | None = None,
        reason: str = "",
    ) -> int:
        code = CODE_OF_STATUS[status]
        if code in (table_codes.PENDING_NEW, table_codes.PENDING_CANCEL, table_codes.UNKNOWN):
            return table_codes.UNCHANGED  # an acknowledgement that only says "received"
        if self._meta.get(order_id) is not meta:
            # the stream's report ended (and released) the order while this request's answer
            # was on its way: the answer is old news, not a refused report
            self.counters.late_answers += 1
            return table_codes.UNCHANGED
        now = self.clock.time_ns()
        result = self.table.report(order_id, code, cum_lots, fill_lots, now)
        if result < 0:
            self.counters.refused_reports += 1
            log.info(
                "report for %s refused (%s): %s",
                meta.client_order_id,
                status.value,
                table_codes.describe(result),
            )
            return result
        if (self.on_update is not None or self.persist is not None) and (
            result == table_codes.OK or (report is not None and report.last_lots > 0)
        ):
            self._emit(order_id, meta, report, reason)
        if self.table.status_of(order_id) >= table_codes.FILLED:
            self._release(order_id, meta)
        return result

    def on_report(self, report: ExecutionReport) -> None:
        """An adapter's execution report: book its fill once, then move the order."""
        self.counters.reports += 1
        # one unpacking instead of a dozen attribute reads (ExecutionReport's field order)
        (venue, symbol, cid, _, status, _, cum_lots, _, _, last_lots, _,
         _, _, reason, exchange_ts_ns, recv_ts_ns) = report  # fmt: skip
        index = self._index.get((venue, symbol))
        if index is None:
            self.counters.foreign_reports += 1
            log.warning("report for %s %s: not ours", venue, symbol)
            return
        order_id = self._order_ids.get(cid)
        if order_id is None:  # a pure function of the id: remembered, within a bound
            order_id = self.ids.order_id_of(cid) or self._adopted.get(cid, 0)
            if len(self._order_ids) >= REMEMBERED_IDS:
                self._order_ids.clear()
            self._order_ids[cid] = order_id
        meta = self._meta.get(order_id)
        if last_lots > 0:
            # the hot path: a fill whose fee is none or in the quote asset is booked by one C
            # call (FillLedger.book) exactly as _book_fill and _apply would book it
            code = self._ledger.book(
                report, index, order_id if meta is not None else 0, self.clock.time_ns()
            )
            if code != _PYTHON_PATH:
                if code < 0 or meta is None or self._ledger.position_status:
                    self._booked(index, order_id, meta, report, code)
                    return
                # booked, and the order moved (OK or UNCHANGED): _booked's common case
                ts = exchange_ts_ns or recv_ts_ns
                last = self._last_fill_ns
                if ts > last[index]:  # noqa: PLR1730 - max() is a call, on the hot path
                    last[index] = ts
                if self.on_update is not None or self.persist is not None or self._ledger.terminal:
                    self._booked_moved(order_id, meta, report)
                return
            if not self._book_fill(index, report):
                return  # that trade was booked already: its report says nothing new
            meta = self._meta.get(order_id)
        if meta is None:
            if last_lots > 0 and order_id:
                self.counters.late_fills += 1
            elif not order_id:
                self.counters.foreign_reports += 1
                log.warning("report for unknown order %s", cid)
            return
        self._apply(
            order_id, meta, status, cum_lots, fill_lots=last_lots, report=report, reason=reason
        )

    def _booked(
        self, index: int, order_id: int, meta: _Meta | None, report: ExecutionReport, code: int
    ) -> None:
        """What on_report does after FillLedger.apply_fill: counters, logs, the strategy's
        update, and the release of an order that ended."""
        if code == fill_codes.DUPLICATE:
            self.counters.duplicate_fills += 1
            return  # that trade was booked already: its report says nothing new
        ts = report.exchange_ts_ns or report.recv_ts_ns
        self._last_fill_ns[index] = max(self._last_fill_ns[index], ts)
        if self._ledger.position_status:
            self.counters.position_errors += 1
            log.error(
                "fill %s not booked into the position: code %d",
                report.trade_id,
                self._ledger.position_status,
            )
        if meta is None:
            if order_id:
                self.counters.late_fills += 1
                self._late_fill(index, report)
            else:
                self.counters.foreign_reports += 1
                log.warning("report for unknown order %s", report.client_order_id)
            return
        if code == fill_codes.NO_REPORT:
            return  # an acknowledgement that only says "received"
        if code < 0:
            self.counters.refused_reports += 1
            log.info(
                "report for %s refused (%s): %s",
                meta.client_order_id,
                report.status.value,
                table_codes.describe(code),
            )
            return
        self._booked_moved(order_id, meta, report)

    def _late_fill(self, index: int, report: ExecutionReport) -> None:
        """A trade of an order that had already ended here: booked, and kept in the trail."""
        if self.persist is not None:
            now = self.clock.time_ns()
            self.persist.change(
                report.client_order_id, index, report.side, report.status, report.cum_filled_lots,
                report.last_lots, report.last_price_ticks, report.trade_id, report.fee,
                report.fee_asset, report.venue_order_id, "late fill",
                report.exchange_ts_ns or now, report.recv_ts_ns or now,
            )  # fmt: skip

    def _booked_moved(self, order_id: int, meta: _Meta, report: ExecutionReport) -> None:
        """The order took the fill's report: the strategy's update, then the release of an
        order that ended (as in _apply)."""
        if self.on_update is None and self.persist is None:
            terminal = self._ledger.terminal
        else:  # the strategy's handler (and the trail) first, as in _apply
            self._emit(order_id, meta, report, report.reason)
            terminal = self.table.status_of(order_id) >= table_codes.FILLED
        if terminal:
            self._release(order_id, meta)

    def _release(self, order_id: int, meta: _Meta) -> None:
        """An order ended: its slot, its tag and its place among the live orders go."""
        self.table.release(order_id)
        del self._meta[order_id]
        self._live[meta.index].discard(order_id)
        if meta.tag and self._tags.get(meta.tag) == order_id:
            del self._tags[meta.tag]

    def _book_fill(self, index: int, report: ExecutionReport) -> bool:
        """Book a trade into the position; False when its trade id was booked already."""
        if not self._ledger.add(index, report.trade_id):
            self.counters.duplicate_fills += 1
            return False
        last = self._last_fill_ns
        last[index] = max(last[index], report.exchange_ts_ns or report.recv_ts_ns)
        instrument = self.instruments[index]
        fee_units = 0
        if report.fee and report.fee_asset == instrument.quote:
            fee_units = instrument.fee_to_units(report.fee)
        elif report.fee and report.fee_asset == instrument.base:
            price = instrument.ticks_to_price(report.last_price_ticks)
            fee_units = instrument.fee_to_units(report.fee * price)
            self.fees_in_base[index] += report.fee
        elif report.fee:
            self.fees_other[report.fee_asset] = (
                self.fees_other.get(report.fee_asset, Decimal(0)) + report.fee
            )
        try:
            self.positions[index].apply_fill(
                int(report.side), report.last_price_ticks, report.last_lots, fee_units
            )
        except (ValueError, OverflowError, FixedPointOverflowError):
            self.counters.position_errors += 1
            log.exception("fill %s not booked into the position", report.trade_id)
        return True

    def _emit(
        self, order_id: int, meta: _Meta, report: ExecutionReport | None, reason: str
    ) -> None:
        """An applied change: into the trail (journal, history), then to the strategy."""
        row = self.table.get(order_id)
        if row is None:
            return
        self.updates[meta.index][row[5]] += 1
        fill = report is not None and report.is_fill
        if self.persist is not None:
            now = self.clock.time_ns()
            if fill and report is not None:
                self.persist.change(
                    meta.client_order_id, meta.index, _SIDE[row[2]], STATUS_OF_CODE[row[5]],
                    row[8], report.last_lots, report.last_price_ticks, report.trade_id,
                    report.fee, report.fee_asset, report.venue_order_id, reason,
                    report.exchange_ts_ns or now, report.recv_ts_ns or now,
                )  # fmt: skip
            else:
                self.persist.change(
                    meta.client_order_id, meta.index, _SIDE[row[2]], STATUS_OF_CODE[row[5]],
                    row[8], venue_order_id=report.venue_order_id if report is not None else "",
                    reason=reason, ts_ns=now, recv_ns=now,
                )  # fmt: skip
        if self.on_update is None:
            return
        instrument = self.instruments[meta.index]
        status = row[5]
        remaining = 0 if status >= table_codes.FILLED else max(row[7] - row[8], 0)
        self.on_update(
            OrderUpdate(
                order_id=meta.client_order_id,
                venue=instrument.venue,
                symbol=instrument.symbol,
                status=STATUS_OF_CODE[status],
                filled_quantity=instrument.lots_to_qty(row[8]),
                last_fill_price=(
                    instrument.ticks_to_price(report.last_price_ticks)
                    if fill and report is not None
                    else None
                ),
                last_fill_quantity=(
                    instrument.lots_to_qty(report.last_lots)
                    if fill and report is not None
                    else Decimal(0)
                ),
                fee=report.fee if fill and report is not None else Decimal(0),
                fee_asset=report.fee_asset if fill and report is not None else "",
                venue_order_id=report.venue_order_id if report is not None else "",
                reason=reason,
                timestamp_ns=self.clock.time_ns(),
                order_ref=order_id,
                client_tag=row[11],
                side=row[2],
                last_fill_ticks=report.last_price_ticks if fill and report is not None else 0,
                last_fill_lots=report.last_lots if fill and report is not None else 0,
                remaining_lots=remaining,
            )
        )

    # ------------------------------------------------------------------ reconciliation

    async def recover(self, venue: str) -> dict[str, int]:
        """After the venue's private stream came back from a loss: book the trades it missed
        (`catch_up_fills`), then `reconcile` the orders. Runs one at a time per venue."""
        lock = self._recovering.setdefault(venue, asyncio.Lock())
        async with lock:
            self.counters.recoveries += 1
            fills = await self.catch_up_fills(venue)
            found = await self.reconcile(venue)
            found["fills"] = fills
            return found

    async def catch_up_fills(self, venue: str, since_ns: int | None = None) -> int:
        """Book the venue's trades at or after `since_ns` that are not booked yet: each trade
        once, by its id, as the stream would have. The default start is, per instrument, the
        venue time of the newest trade booked (else this manager's start), less
        CATCH_UP_OVERLAP_NS; a trade from before the start counts only if its order is ours.
        Moves no order's fill count: the venue's cumulative (reconcile, a query) does that.
        Returns how many trades were new."""
        adapter = self.adapters[venue]
        booked = 0
        for index, instrument in enumerate(self.instruments):
            if instrument.venue != venue:
                continue
            if since_ns is not None:
                since = since_ns
            else:
                # a little before the newest booked trade (reports stamp the event, histories
                # the trade; the venue's clock is not ours): the overlap is trade ids already
                # booked, booked once
                since = (self._last_fill_ns[index] or self._started_ns) - CATCH_UP_OVERLAP_NS
            for record in await adapter.get_fills(instrument.symbol, since):
                if record.timestamp_ns < self._started_ns and not self._ours(record):
                    continue  # a trade of before this run, of an order not ours
                if self._book_record(index, record):
                    booked += 1
        self.counters.caught_up_fills += booked
        return booked

    def _ours(self, record: FillRecord) -> bool:
        cid = record.client_order_id
        return bool(cid) and bool(self.ids.order_id_of(cid) or cid in self._adopted)

    def _book_record(self, index: int, record: FillRecord) -> bool:
        """One trade from the venue's history, as the report the stream lost."""
        instrument = self.instruments[index]
        report = ExecutionReport(
            instrument.venue,
            instrument.symbol,
            record.client_order_id,
            record.venue_order_id,
            OrderStatus.PARTIALLY_FILLED,
            record.side,
            trade_id=record.trade_id,
            last_price_ticks=record.price_ticks,
            last_lots=record.lots,
            fee=record.fee,
            fee_asset=record.fee_asset,
            is_maker=record.is_maker,
            exchange_ts_ns=record.timestamp_ns,
            recv_ts_ns=self.clock.time_ns(),
        )
        if not record.lots or not self._book_fill(index, report):
            return False
        log.warning(
            "trade %s of %s booked from the venue's history (missed by the stream)",
            record.trade_id,
            record.client_order_id or record.venue_order_id,
        )
        order_id = self.ids.order_id_of(record.client_order_id) or self._adopted.get(
            record.client_order_id, 0
        )
        meta = self._meta.get(order_id)
        if meta is not None:
            # tell the strategy of the trade; the order's fill count moves with the venue's
            # cumulative (reconcile), not by adding this trade, so nothing counts twice
            self._apply(order_id, meta, OrderStatus.PARTIALLY_FILLED, -1, report=report)
        elif order_id:
            self.counters.late_fills += 1
        return True

    async def reconcile(self, venue: str) -> dict[str, int]:
        """Compare the venue's open orders and recent fills with ours (at start, and after
        the private stream reconnects). Returns what it found, by kind."""
        adapter = self.adapters[venue]
        found = {"matched": 0, "adopted": 0, "canceled": 0, "resolved": 0, "fills": 0}
        for index, instrument in enumerate(self.instruments):
            if instrument.venue != venue:
                continue
            open_orders = await adapter.get_open_orders(instrument.symbol)
            at_venue = {o.client_order_id for o in open_orders}
            for snapshot in open_orders:
                await self._reconcile_one(index, adapter, snapshot, found)
            for order_id, meta in list(self._meta.items()):
                if meta.index == index and meta.client_order_id not in at_venue:
                    status = self.table.status_of(order_id)
                    if status not in (table_codes.FREE, table_codes.PENDING_NEW):
                        await self._resolve(order_id, meta)
                        found["resolved"] += 1
        return found

    async def _reconcile_one(
        self, index: int, adapter: ExchangeAdapter, snapshot: OrderSnapshot, found: dict[str, int]
    ) -> None:
        cid = snapshot.client_order_id
        order_id = self.ids.order_id_of(cid) or self._adopted.get(cid, 0)
        meta = self._meta.get(order_id)
        if meta is not None:
            self._apply(order_id, meta, snapshot.status, snapshot.filled_lots)
            found["matched"] += 1
            return
        if self.adopt_unknown:
            code, new_id = self.table.open(
                index,
                int(snapshot.side),
                _TYPE_CODE[snapshot.order_type],
                _TIF_CODE[TimeInForce.GTC],
                snapshot.price_ticks,
                snapshot.quantity_lots,
                0,
                self.clock.time_ns(),
            )
            if code >= 0:
                meta = _Meta(index, cid)
                self._meta[new_id] = meta
                self._live[index].add(new_id)
                self._adopted[cid] = new_id
                self._order_ids.pop(cid, None)  # it was foreign until now
                self._apply(new_id, meta, snapshot.status, snapshot.filled_lots)
                self.counters.adopted += 1
                found["adopted"] += 1
                return
        try:
            await adapter.cancel_order(snapshot.symbol, cid)
        except VenueError as exc:
            log.error("could not cancel unknown venue order %s: %s", cid, exc)
            return
        self.counters.canceled_foreign += 1
        found["canceled"] += 1

    def cancelled_at_venue(self, venue: str, client_order_ids: Sequence[str]) -> int:
        """A venue's cancel-all answered with these ids: their orders end here now, without
        waiting for the stream's reports (which may never come: the engine is stopping)."""
        ended = 0
        for cid in client_order_ids:
            order_id = self.ids.order_id_of(cid) or self._adopted.get(cid, 0)
            meta = self._meta.get(order_id)
            if meta is None or self.instruments[meta.index].venue != venue:
                continue
            if self._apply(order_id, meta, OrderStatus.CANCELED, -1, reason="cancel-all") >= 0:
                ended += 1
        return ended

    def restore(self, orders: Sequence[tuple[int, LiveOrder]]) -> int:
        """Take back the orders the journal says were live when the last run ended (before
        reconciling with the venue: found open there they are matched, gone they are
        resolved by query). Returns how many were taken."""
        taken = 0
        now = self.clock.time_ns()
        for seq, live in orders:
            index = self._index.get((live.instrument.venue, live.instrument.symbol))
            if index is None or live.client_order_id in self._adopted:
                continue
            code, order_id = self.table.open(
                index, int(live.side), _TYPE_CODE[live.order_type],
                _TIF_CODE[live.time_in_force], live.price_ticks, live.qty_lots, 0, now,
            )  # fmt: skip
            if code < 0:
                log.error("order %s of the journal not restored: %s", live.client_order_id,
                          table_codes.describe(code))  # fmt: skip
                continue
            self._meta[order_id] = _Meta(index, live.client_order_id)
            self._live[index].add(order_id)
            self._adopted[live.client_order_id] = order_id
            self._order_ids.pop(live.client_order_id, None)
            if self.persist is not None:
                self.persist.adopt(live.client_order_id, live, seq, now)
            taken += 1
        if taken:
            log.warning("orders of the last run restored from the journal", extra={"orders": taken})
        return taken

    # ------------------------------------------------------------------ reads (TradingView)

    def order_of_tag(self, client_tag: int) -> int:
        """The live order the intent tagged `client_tag` opened last; 0 if none."""
        return self._tags.get(client_tag, 0)

    def order(self, order_ref: int) -> OpenOrder | None:
        """A live order in grid units; None once it ended (or never was)."""
        if order_ref not in self._meta:
            return None
        row = self.table.get(order_ref)
        if row is None:
            return None
        status = row[5]
        pending = status in _PENDING
        price, qty = (row[9], row[10]) if status == table_codes.PENDING_AMEND else (row[6], row[7])
        return OpenOrder(
            order_ref, row[1], row[2], price, qty, row[8], STATUS_OF_CODE[status], row[11],
            row[12], pending,
        )  # fmt: skip

    def open_orders_of(self, instrument_index: int) -> list[OpenOrder]:
        """The live orders of one instrument."""
        orders = (self.order(order_id) for order_id in self._live[instrument_index])
        return [o for o in orders if o is not None]

    def position_lots(self, instrument_index: int) -> int:
        return self.positions[instrument_index].qty

    def open_orders(self) -> list[tuple[str, OrderStatus]]:
        """(client order id, status) of every order the table holds."""
        return [
            (meta.client_order_id, STATUS_OF_CODE[self.table.status_of(order_id)])
            for order_id, meta in self._meta.items()
        ]

    def client_order_id(self, order_id: int) -> str:
        meta = self._meta.get(order_id)
        return meta.client_order_id if meta is not None else self.ids.of(order_id)
