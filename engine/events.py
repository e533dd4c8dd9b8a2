"""The one event interface between sources of events and the code that reacts to them.

Events in, intents out: a strategy (or risk, OMS, recorder) subclasses `EventHandler`,
overrides the hooks it needs and never learns whether the events came from a venue socket,
a recording, the local simulator or another process. Sources call an `EventDispatcher`,
which calls every handler directly, in the same loop iteration (no queue hop).

Book updates pass the live book object itself (`on_book`): reading it is cheap and copying
it per message is not. The object is only valid during the call; a handler that needs it
later copies what it needs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.market_data import MarketData

log = logging.getLogger("engine.events")


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


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A book became usable (ready=True) or must not be traded on (ready=False)."""

    instrument_id: str
    ready: bool
    reason: str
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What a strategy asks for; risk checks it and the OMS turns it into an order."""

    venue: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    cancel_order_id: str = ""  # set for a cancel intent (then the other fields describe it)


class EventHandler:
    """Hooks for every event kind; all no-ops, override what you need."""

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
        """A timer set through the engine's clock fired."""


class EventDispatcher(EventHandler):
    """Fans each event out to its handlers synchronously, in registration order.

    A handler that raises is logged and skipped for that event; the others still run and the
    source (a feed's receive callback, say) is never torn down by one handler's bug.
    """

    def __init__(self) -> None:
        self._handlers: list[EventHandler] = []
        self.handler_errors = 0

    def add(self, handler: EventHandler) -> None:
        if handler is self:
            raise ValueError("a dispatcher cannot dispatch to itself")
        self._handlers.append(handler)

    def remove(self, handler: EventHandler) -> None:
        self._handlers.remove(handler)

    def _fail(self, handler: EventHandler, hook: str) -> None:
        self.handler_errors += 1
        log.exception("event handler %s.%s raised", type(handler).__name__, hook)

    def on_book(self, instrument_id: str, book: Any, timestamp_ns: int) -> None:
        for h in self._handlers:
            try:
                h.on_book(instrument_id, book, timestamp_ns)
            except Exception:
                self._fail(h, "on_book")

    # The hot hook gets its own loop; the rest share one (a getattr per handler is fine there).
    def _emit(self, hook: str, *args: Any) -> None:
        for h in self._handlers:
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
        self._emit("on_timer", name, timestamp_ns)
