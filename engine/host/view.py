"""The live engine's `TradingView` (engine/events.py): books from the feeds, orders and
positions from the order manager, the trading state from the risk manager."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine.data.feed import BookFeed
from engine.events import OpenOrder
from engine.model.instrument import Instrument
from engine.oms.manager import OrderManager
from engine.risk.manager import RiskManager


class EngineView:
    def __init__(
        self,
        instruments: Sequence[Instrument],
        feeds: Callable[[], Sequence[BookFeed]],
        oms: OrderManager | None,
        risk: RiskManager | None,
    ) -> None:
        self.instruments = tuple(instruments)
        self.oms = oms
        self.risk = risk
        self._feeds = feeds
        self._books: list[tuple[BookFeed, str] | None] = []
        if oms is not None:  # the strategy's per-slot reads skip one call layer
            self.order_of_tag = oms.order_of_tag  # type: ignore[method-assign]
            self.order = oms.order  # type: ignore[method-assign]

    def _book_of(self, index: int) -> tuple[BookFeed, str] | None:
        if not self._books:  # feeds are built at their start: looked up at first use
            by_venue = {feed.venue: feed for feed in self._feeds()}
            for inst in self.instruments:
                feed = by_venue.get(inst.venue)
                ok = feed is not None and inst.symbol in feed.books
                self._books.append((feed, inst.symbol) if ok and feed is not None else None)
        return self._books[index] if 0 <= index < len(self._books) else None

    def book(self, instrument_index: int) -> Any | None:
        found = self._book_of(instrument_index)
        if found is None:
            return None
        feed, symbol = found
        return feed.books[symbol] if feed.ready.get(symbol) else None

    def position_lots(self, instrument_index: int) -> int:
        return 0 if self.oms is None else self.oms.positions[instrument_index].qty

    def order_of_tag(self, client_tag: int) -> int:
        return 0 if self.oms is None else self.oms.order_of_tag(client_tag)

    def order(self, order_ref: int) -> OpenOrder | None:
        return None if self.oms is None else self.oms.order(order_ref)

    def open_orders(self, instrument_index: int) -> list[OpenOrder]:
        return [] if self.oms is None else self.oms.open_orders_of(instrument_index)

    def trading_state(self) -> str:
        return "ACTIVE" if self.risk is None else self.risk.state_name
