"""The one event interface between sources of events and the code that reacts to them.

Events in, intents out: a strategy (or risk, OMS, recorder) subclasses `EventHandler`,
overrides the hooks it needs and never learns whether the events came from a venue socket,
a recording, the local simulator or another process. Sources call an `EventDispatcher`,
which calls every handler directly, in the same loop iteration (no queue hop).

Book updates pass the live book object itself (`on_book`): reading it is cheap and copying
it per message is not. The object is only valid during the call; a handler that needs it
later copies what it needs.

Intents go the other way through one preallocated `IntentBuffer` (engine/_core/intents.pyx)
that the dispatcher owns. When the engine starts the dispatcher, every handler's `on_start`
receives a `HandlerContext`: the engine's clock, that buffer, the instrument table (an
intent names its instrument by index into it) and the handler's own named timers. A
Cython strategy pushes with the buffer's c_push_* methods; Python code builds an
`OrderIntent` (int64 ticks and lots, Decimal only at its edges) and `context.submit`s it.
The consumer (risk, then the OMS) takes the intents from `EventDispatcher.intents`, in push
order; an intent sink set on the dispatcher is called after each event that left intents.
"""

from __future__ import annotations

import enum
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from engine._core import intents as _ib
from engine._core.fixedpoint import FixedPointOverflowError
from engine._core.intents import IntentBuffer
from engine.clock import Clock
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.model.market_data import MarketData
from engine.timers import Timers, TimerService

log = logging.getLogger("engine.events")

DEFAULT_INTENT_CAPACITY = 1024


@dataclass(frozen=True, slots=True)
class Trade:
    venue: str
    symbol: str
    price: Decimal
    quantity: Decimal
    aggressor: OrderSide  # side of the taker
    trade_id: str
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An execution report, normalised across venues."""

    order_id: str  # our client order id
    venue: str
    symbol: str
    status: OrderStatus
    filled_quantity: Decimal  # cumulative
    last_fill_price: Decimal | None = None
    last_fill_quantity: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    fee_asset: str = ""
    venue_order_id: str = ""
    reason: str = ""  # venue's reject or cancel reason, verbatim
    timestamp_ns: int = 0
    # the same in the engine's own terms, for code that works in grid units (risk, strategies)
    order_ref: int = 0  # the engine's order id: what CANCEL and REPLACE intents name
    client_tag: int = 0  # the tag of the intent that opened the order
    side: int = 0  # 1 buy, -1 sell (0: not known)
    last_fill_ticks: int = 0
    last_fill_lots: int = 0
    remaining_lots: int = 0  # open quantity left after this update (0 once it ended)


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A book became usable (ready=True) or must not be traded on (ready=False)."""

    instrument_id: str
    ready: bool
    reason: str
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class VenueEvent:
    """Something a venue did that monitoring must know: `kind` "rate_limited" (a request
    refused by our own budget, `code` "local", or by the venue: 429/418, OKX 50011/50061,
    Gate TOO_MANY_REQUESTS), with what the request was and the venue's retry hint."""

    venue: str
    kind: str
    code: str
    detail: str
    retry_after_s: float | None
    timestamp_ns: int


class OpenOrder(NamedTuple):
    """One of the engine's live orders as a strategy sees it (grid units)."""

    order_ref: int  # the engine's order id: what CANCEL and REPLACE intents name
    instrument_index: int
    side: int  # 1 buy, -1 sell
    price_ticks: int
    qty_lots: int
    filled_lots: int
    status: OrderStatus
    client_tag: int
    placed_ns: int  # when the engine opened it (or last changed its price or size)
    pending: bool  # a request about it is in flight: a new one would pile up


class TradingView(Protocol):
    """What a handler may read of the engine's trading state (`HandlerContext.view`): live,
    in the backtest and on a strategy node alike. Instruments are named by their index in
    the instrument table, as in intents."""

    def book(self, instrument_index: int) -> Any | None:
        """The instrument's live order book, or None while it is not ready (read it now,
        keep nothing of it)."""

    def position_lots(self, instrument_index: int) -> int:
        """The base position in lots (+ long, - short)."""

    def order_of_tag(self, client_tag: int) -> int:
        """The live order the intent tagged `client_tag` opened (its last one); 0 if none."""

    def order(self, order_ref: int) -> OpenOrder | None:
        """A live order; None once it ended (or never was)."""

    def open_orders(self, instrument_index: int) -> list[OpenOrder]:
        """The live orders of one instrument."""

    def trading_state(self) -> str:
        """The risk state: "ACTIVE", "REDUCING" or "HALTED"; "PAUSED" while an operator has
        paused quoting (the control API; HALTED wins over it)."""


class NoTrading:
    """The view of an engine that does not trade (watch-only runs, tests): no books, no
    orders, flat, ACTIVE."""

    def book(self, instrument_index: int) -> Any | None:
        return None

    def position_lots(self, instrument_index: int) -> int:
        return 0

    def order_of_tag(self, client_tag: int) -> int:
        return 0

    def order(self, order_ref: int) -> OpenOrder | None:
        return None

    def open_orders(self, instrument_index: int) -> list[OpenOrder]:
        return []

    def trading_state(self) -> str:
        return "ACTIVE"


class IntentKind(enum.IntEnum):
    """Values are the IntentBuffer's kind codes."""

    NEW = _ib.NEW
    CANCEL = _ib.CANCEL
    REPLACE = _ib.REPLACE  # cancel order_id and place the order described, as one request


# OrderSide's values already are the buffer's side codes (BUY = 1, SELL = -1).
_TYPE_CODE = {
    OrderType.LIMIT: _ib.LIMIT,
    OrderType.MARKET: _ib.MARKET,
    OrderType.LIMIT_MAKER: _ib.LIMIT_MAKER,
}
_TIF_CODE = {TimeInForce.GTC: _ib.GTC, TimeInForce.IOC: _ib.IOC, TimeInForce.FOK: _ib.FOK}
_TYPE_OF = {code: t for t, code in _TYPE_CODE.items()}
_TIF_OF = {code: t for t, code in _TIF_CODE.items()}


def _int(value: object, what: str) -> int:
    """An int64 field: the buffer holds nothing wider, so refuse it here, by name."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}")
    if not -(2**63) <= value < 2**63:
        raise FixedPointOverflowError(f"{what} {value} does not fit int64")
    return value


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What a strategy asks for, in the instrument's grid units; risk checks it and the OMS
    turns it into an order.

    The Python-facing view of one IntentBuffer row, with the instrument named by id instead
    of by index. Prices are int64 ticks and quantities int64 lots of the instrument; Decimal
    appears only at the edges (`from_decimal`, `price`, `quantity`). A cancel has no side,
    type or time in force (None), no price and no quantity (0). Construction checks what
    the buffer checks, so an intent that exists can be pushed (room and the instrument table
    permitting). Build with `new`, `cancel`, `replace` or `from_decimal`.
    """

    kind: IntentKind
    instrument_id: str
    side: OrderSide | None = None
    order_type: OrderType | None = None
    price_ticks: int = 0  # 0: none (MARKET, CANCEL)
    quantity_lots: int = 0  # 0 for a cancel
    time_in_force: TimeInForce | None = None
    client_tag: int = 0  # the strategy's own id of the quote, carried through untouched
    order_id: int = 0  # the order to cancel or replace (> 0); 0 for NEW

    def __post_init__(self) -> None:
        if not isinstance(self.kind, IntentKind):
            raise TypeError(f"kind must be an IntentKind, got {self.kind!r}")
        if not isinstance(self.instrument_id, str) or not self.instrument_id:
            raise ValueError(f"instrument_id must be a non-empty str, got {self.instrument_id!r}")
        price = _int(self.price_ticks, "price_ticks")
        qty = _int(self.quantity_lots, "quantity_lots")
        _int(self.client_tag, "client_tag")
        order_id = _int(self.order_id, "order_id")
        if self.kind is IntentKind.NEW:
            if order_id != 0:
                raise ValueError(f"a NEW intent has no order_id, got {order_id}")
        elif order_id <= 0:
            raise ValueError(f"order_id to cancel or replace must be > 0, got {order_id}")
        if self.kind is IntentKind.CANCEL:
            fields = (self.side, self.order_type, self.time_in_force, price, qty)
            if fields != (None, None, None, 0, 0):
                raise ValueError(
                    "a CANCEL intent carries only order_id and client_tag: side, order_type "
                    "and time_in_force must be None, price_ticks and quantity_lots 0"
                )
            return
        if not isinstance(self.side, OrderSide):
            raise TypeError(f"side must be an OrderSide, got {self.side!r}")
        if not isinstance(self.order_type, OrderType):
            raise TypeError(f"order_type must be an OrderType, got {self.order_type!r}")
        if not isinstance(self.time_in_force, TimeInForce):
            raise TypeError(f"time_in_force must be a TimeInForce, got {self.time_in_force!r}")
        if self.order_type is OrderType.LIMIT_MAKER and self.time_in_force is not TimeInForce.GTC:
            raise ValueError(
                f"LIMIT_MAKER must rest: time_in_force must be GTC, got {self.time_in_force.name}"
            )
        if self.order_type is OrderType.MARKET:
            if price != 0:
                raise ValueError(
                    f"a MARKET intent has no price: price_ticks must be 0, got {price}"
                )
        elif price <= 0:
            raise ValueError(
                f"price_ticks must be > 0 for a {self.order_type.name} intent, got {price}"
            )
        if qty <= 0:
            raise ValueError(f"quantity_lots must be > 0, got {qty}")

    # ------------------------------------------------------------------ factories

    @classmethod
    def new(
        cls,
        instrument_id: str,
        side: OrderSide,
        price_ticks: int,
        quantity_lots: int,
        *,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        client_tag: int = 0,
    ) -> OrderIntent:
        return cls(
            IntentKind.NEW,
            instrument_id,
            side,
            order_type,
            price_ticks,
            quantity_lots,
            time_in_force,
            client_tag,
        )

    @classmethod
    def cancel(cls, instrument_id: str, order_id: int, *, client_tag: int = 0) -> OrderIntent:
        return cls(IntentKind.CANCEL, instrument_id, client_tag=client_tag, order_id=order_id)

    @classmethod
    def replace(
        cls,
        instrument_id: str,
        order_id: int,
        side: OrderSide,
        price_ticks: int,
        quantity_lots: int,
        *,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        client_tag: int = 0,
    ) -> OrderIntent:
        return cls(
            IntentKind.REPLACE,
            instrument_id,
            side,
            order_type,
            price_ticks,
            quantity_lots,
            time_in_force,
            client_tag,
            order_id,
        )

    @classmethod
    def from_decimal(
        cls,
        instrument: Instrument,
        side: OrderSide,
        price: Decimal | None,
        quantity: Decimal,
        *,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        client_tag: int = 0,
        replaces_order_id: int = 0,
    ) -> OrderIntent:
        """A NEW (or, with replaces_order_id, REPLACE) intent from exact decimals.

        price is None for MARKET. Conversion is exact: a price or quantity between grid
        points raises OffGridError (round on the grid first, e.g. bids down and asks up with
        `instrument.price_grid.floor_units` / `ceil_units`).
        """
        ticks = 0 if price is None else instrument.price_to_ticks(price)
        lots = instrument.qty_to_lots(quantity)
        kind = IntentKind.REPLACE if replaces_order_id else IntentKind.NEW
        return cls(
            kind,
            instrument.instrument_id,
            side,
            order_type,
            ticks,
            lots,
            time_in_force,
            client_tag,
            replaces_order_id,
        )

    @classmethod
    def from_row(
        cls,
        row: tuple[int, int, int, int, int, int, int, int, int],
        instruments: Sequence[Instrument],
    ) -> OrderIntent:
        """The intent of an IntentBuffer row (`read`/`pop`/`drain`), naming its instrument."""
        index, kind, side, order_type, tif, price, qty, tag, order_id = row
        instrument_id = instruments[index].instrument_id
        if kind == IntentKind.CANCEL:
            return cls(IntentKind.CANCEL, instrument_id, client_tag=tag, order_id=order_id)
        return cls(
            IntentKind(kind),
            instrument_id,
            OrderSide(side),
            _TYPE_OF[order_type],
            price,
            qty,
            _TIF_OF[tif],
            tag,
            order_id,
        )

    # ------------------------------------------------------------------ edges

    def _check_instrument(self, instrument: Instrument) -> None:
        if instrument.instrument_id != self.instrument_id:
            raise ValueError(
                f"intent is for {self.instrument_id}, not for {instrument.instrument_id}"
            )

    def price(self, instrument: Instrument) -> Decimal | None:
        """The limit price as an exact Decimal; None for MARKET and CANCEL."""
        self._check_instrument(instrument)
        return None if self.price_ticks == 0 else instrument.ticks_to_price(self.price_ticks)

    def quantity(self, instrument: Instrument) -> Decimal:
        """The quantity as an exact Decimal (0 for a cancel)."""
        self._check_instrument(instrument)
        return instrument.lots_to_qty(self.quantity_lots)

    def push_to(self, buffer: IntentBuffer, instrument_index: int) -> None:
        """Write this intent into `buffer` as instrument `instrument_index`; ValueError (buffer
        unchanged) if the buffer refuses it (full, index outside its instrument table)."""
        if self.kind is IntentKind.CANCEL:
            buffer.push_cancel(instrument_index, self.order_id, self.client_tag)
            return
        assert self.side is not None and self.order_type is not None
        assert self.time_in_force is not None  # all checked in __post_init__
        order_type = _TYPE_CODE[self.order_type]
        tif = _TIF_CODE[self.time_in_force]
        if self.kind is IntentKind.NEW:
            buffer.push_new(
                instrument_index,
                int(self.side),
                self.price_ticks,
                self.quantity_lots,
                self.client_tag,
                order_type,
                tif,
            )
        else:
            buffer.push_replace(
                instrument_index,
                self.order_id,
                int(self.side),
                self.price_ticks,
                self.quantity_lots,
                self.client_tag,
                order_type,
                tif,
            )


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """What the engine hands a handler at start (`EventHandler.on_start`).

    `clock`, `intents` and `instruments` are the same objects in every handler's context:
    the engine's one clock, the one IntentBuffer the consumer drains, and the instrument
    table whose positions are the instrument indexes of intents (the buffer rejects an
    index outside it). `timers` is the handler's own: its names are its own, and its timers
    call its `on_timer`. `view` reads books, positions and our live orders (the same
    object for every handler). Valid until the handler's `on_stop`.
    """

    clock: Clock
    intents: IntentBuffer
    instruments: tuple[Instrument, ...]
    timers: Timers
    view: TradingView = field(default_factory=NoTrading)
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, int] = {}
        for i, instrument in enumerate(self.instruments):
            if instrument.instrument_id in index:
                raise ValueError(f"instrument {instrument.instrument_id} is listed twice")
            index[instrument.instrument_id] = i
        object.__setattr__(self, "_index", index)

    def instrument_index(self, instrument_id: str) -> int:
        """The index of `instrument_id` in `instruments` (what c_push_* take)."""
        try:
            return self._index[instrument_id]
        except KeyError:
            raise KeyError(f"instrument {instrument_id!r} is not in the engine's table") from None

    def instrument(self, instrument_id: str) -> Instrument:
        return self.instruments[self.instrument_index(instrument_id)]

    def submit(self, intent: OrderIntent) -> None:
        """Push a Python-built intent (the slow path; Cython strategies use c_push_*)."""
        intent.push_to(self.intents, self.instrument_index(intent.instrument_id))


class EventHandler:
    """Hooks for every event kind; all no-ops, override what you need."""

    def on_start(self, context: HandlerContext) -> None:
        """The engine starts: keep `context` to read the clock, push intents, set timers.

        Called once per start, before any timer of this handler can fire. Raising refuses
        the start (the engine does not run a handler that could not start).
        """

    def on_stop(self) -> None:
        """The engine stops (or this handler was removed): its timers are already cancelled."""

    def on_book(self, instrument_id: str, book: Any, timestamp_ns: int) -> None:
        """The order book of `instrument_id` changed (and is consistent)."""

    def on_market_data(self, data: MarketData) -> None:
        """Best bid/offer or last trade changed."""

    def on_trade(self, trade: Trade) -> None:
        """A public trade printed."""

    def on_order_update(self, update: OrderUpdate) -> None:
        """One of our orders changed state or filled."""

    def on_feed_status(self, status: FeedStatus) -> None:
        """A book went stale or resynced: quotes on a not-ready book must be pulled."""

    def on_timer(self, name: str, timestamp_ns: int) -> None:
        """A timer set through the engine's clock fired (`timestamp_ns`: when it was due)."""

    def on_venue_event(self, event: VenueEvent) -> None:
        """A venue refused us for its rate limit (and more kinds later): for monitoring."""


IntentSink = Callable[[IntentBuffer], object]


class EventDispatcher(EventHandler):
    """Fans each event out to its handlers synchronously, in registration order.

    A handler that raises is logged and skipped for that event; the others still run and the
    source (a feed's receive callback, say) is never torn down by one handler's bug.

    The dispatcher owns the one IntentBuffer (`intents`). `start(clock, instruments)` gives
    every handler its `HandlerContext` (and a handler added later gets it on `add`); `stop()`
    cancels their timers and calls `on_stop`. Events are delivered whether or not it was
    started: a handler that needs the context must not act before `on_start`.
    After each event (and each timer) that left intents pending, the intent sink, if set,
    is called once with the buffer; it is expected to drain it. Intents it leaves stay for
    the next call; a sink that raises is logged and counted in `sink_errors`.
    """

    def __init__(self, intent_capacity: int = DEFAULT_INTENT_CAPACITY) -> None:
        self._handlers: list[EventHandler] = []  # every handler, in the order added
        self._early: list[EventHandler] = []  # get events before the intent sink runs
        self._late: list[EventHandler] = []  # and after it
        self.handler_errors = 0
        self.sink_errors = 0
        self.intents = IntentBuffer(intent_capacity)
        self._sink: IntentSink | None = None
        self._in_sink = False
        self._clock: Clock | None = None
        self._instruments: tuple[Instrument, ...] = ()
        self._timers: TimerService | None = None
        self._contexts: dict[int, HandlerContext] = {}  # id(handler) -> its context
        self._view: TradingView = NoTrading()

    # ------------------------------------------------------------------ handlers, lifecycle

    @property
    def started(self) -> bool:
        return self._timers is not None

    @property
    def instruments(self) -> tuple[Instrument, ...]:
        """The instrument table given to start(): an intent's instrument index points here."""
        return self._instruments

    def add(self, handler: EventHandler, *, after_intents: bool = False) -> None:
        """Deliver events to `handler`. `after_intents`: it gets each event after the intent
        sink has taken what the others pushed (a recorder, a cache: nothing that quotes
        waits for it); its own intents go at the next event."""
        if handler is self:
            raise ValueError("a dispatcher cannot dispatch to itself")
        self._handlers.append(handler)
        (self._late if after_intents else self._early).append(handler)
        if self._timers is not None:
            try:
                self._start_handler(handler)
            except BaseException:
                self._handlers.remove(handler)
                (self._late if after_intents else self._early).remove(handler)
                raise

    def remove(self, handler: EventHandler) -> None:
        self._handlers.remove(handler)
        (self._late if handler in self._late else self._early).remove(handler)
        self._stop_handler(handler)

    def context_of(self, handler: EventHandler) -> HandlerContext | None:
        """The context `handler` was started with; None before start or after stop."""
        return self._contexts.get(id(handler))

    def start(
        self,
        clock: Clock,
        instruments: Sequence[Instrument] = (),
        view: TradingView | None = None,
    ) -> None:
        """Hand every handler its context. `instruments` is the engine's instrument table,
        `view` what handlers read of the trading state (default: an engine that does not
        trade).

        A handler whose on_start raises stops the start: the handlers started before it are
        stopped again and the exception propagates.
        """
        if self._timers is not None:
            raise RuntimeError("event dispatcher already started; stop() it first")
        table = tuple(instruments)
        self.intents.set_instrument_count(len(table))
        self._clock = clock
        self._instruments = table
        self._view = view if view is not None else NoTrading()
        self._timers = TimerService(clock)
        try:
            for handler in list(self._handlers):
                self._start_handler(handler)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Cancel every handler's timers and call their on_stop, in reverse order. Idempotent."""
        if self._timers is None:
            return
        for handler in reversed(self._handlers):
            self._stop_handler(handler)
        self._timers.close_all()
        self._timers = None
        self._clock = None

    def _start_handler(self, handler: EventHandler) -> None:
        assert self._timers is not None and self._clock is not None
        timers = self._timers.timers_for(
            functools.partial(self._timer_fired, handler), type(handler).__name__
        )
        context = HandlerContext(self._clock, self.intents, self._instruments, timers, self._view)
        self._contexts[id(handler)] = context
        try:
            handler.on_start(context)
        except BaseException:
            del self._contexts[id(handler)]
            timers.close()
            raise

    def _stop_handler(self, handler: EventHandler) -> None:
        context = self._contexts.pop(id(handler), None)
        if context is None:
            return
        context.timers.close()
        try:
            handler.on_stop()
        except Exception:
            self._fail(handler, "on_stop")

    # ------------------------------------------------------------------ intents out

    def set_intent_sink(self, sink: IntentSink | None) -> None:
        """The consumer called after each event that left intents pending (None: nobody)."""
        self._sink = sink

    def drain_intents(self) -> list[OrderIntent]:
        """Take every pending intent as OrderIntents (the Python consumer's slow path)."""
        return [OrderIntent.from_row(row, self._instruments) for row in self.intents.drain()]

    def _flush(self) -> None:
        # a sink that dispatches events itself (a synchronous fill, say) must not be
        # re-entered: the outer call still owns the buffer
        if self._in_sink or self._sink is None:
            return
        self._in_sink = True
        try:
            self._sink(self.intents)
        except Exception:
            self.sink_errors += 1
            log.exception("intent sink raised; %d intents left pending", len(self.intents))
        finally:
            self._in_sink = False

    def _timer_fired(self, handler: EventHandler, name: str, timestamp_ns: int) -> None:
        try:
            handler.on_timer(name, timestamp_ns)
        except Exception:
            self._fail(handler, "on_timer")
        if len(self.intents):
            self._flush()

    # ------------------------------------------------------------------ events in

    def _fail(self, handler: EventHandler, hook: str) -> None:
        self.handler_errors += 1
        log.exception("event handler %s.%s raised", type(handler).__name__, hook)

    def on_book(self, instrument_id: str, book: Any, timestamp_ns: int) -> None:
        for h in self._early:
            try:
                h.on_book(instrument_id, book, timestamp_ns)
            except Exception:
                self._fail(h, "on_book")
        if self._sink is not None and len(self.intents):
            self._flush()
        for h in self._late:
            try:
                h.on_book(instrument_id, book, timestamp_ns)
            except Exception:
                self._fail(h, "on_book")

    # The hot hook gets its own loop; the rest share one (a getattr per handler is fine there).
    def _emit(self, hook: str, *args: Any) -> None:
        for h in self._early:
            try:
                getattr(h, hook)(*args)
            except Exception:
                self._fail(h, hook)
        if self._sink is not None and len(self.intents):
            self._flush()
        for h in self._late:
            try:
                getattr(h, hook)(*args)
            except Exception:
                self._fail(h, hook)

    def on_market_data(self, data: MarketData) -> None:
        self._emit("on_market_data", data)

    def on_trade(self, trade: Trade) -> None:
        self._emit("on_trade", trade)

    def on_order_update(self, update: OrderUpdate) -> None:
        self._emit("on_order_update", update)

    def on_feed_status(self, status: FeedStatus) -> None:
        self._emit("on_feed_status", status)

    def on_timer(self, name: str, timestamp_ns: int) -> None:
        """Broadcast a timer event to every handler (named timers go to their owner only)."""
        self._emit("on_timer", name, timestamp_ns)

    def on_venue_event(self, event: VenueEvent) -> None:
        self._emit("on_venue_event", event)
