"""The Strategy API: what a user's strategy subclasses (docs/STRATEGY.md).

A strategy is an `EventHandler` (engine/events.py): book, trade, order-update, feed-status
and timer events come in through its hooks, and it answers with order intents pushed into
the engine's one preallocated intent buffer. It reads the engine's state through the
`TradingView` of its context (books, positions, our live orders, the risk state), keeps time
only through the context's clock and timers, and never learns whether the events came from
a venue, a recording or another process: the same class runs live, in a backtest and on a
strategy node.

The engine builds it as `cls(params, instrument_ids)`: `params` is `[strategy.parameters]`
of the config (a hot reload calls `on_params`), `instrument_ids` the instruments it trades.
Prices are int64 ticks and sizes int64 lots of the instrument (`Instrument` converts to and
from Decimal at the edges).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine._core.intents import BUY, GTC, LIMIT, LIMIT_MAKER, SELL
from engine.events import EventHandler, HandlerContext, OpenOrder
from engine.model.instrument import Instrument

__all__ = ["BUY", "SELL", "Strategy"]


class Strategy(EventHandler):
    """Base of every strategy: the event hooks of `EventHandler` plus order helpers.

    Override the hooks you need (`on_book`, `on_trade`, `on_order_update`, `on_feed_status`,
    `on_timer`), and `on_start` / `on_stop` (call `super().on_start(context)` first). Order
    helpers push intents; the engine's risk manager checks each one and the order manager
    sends those that pass, right after the hook returns.
    """

    def __init__(self, params: Mapping[str, Any], instrument_ids: Sequence[str]) -> None:
        self.params = dict(params)
        self.instrument_ids = tuple(instrument_ids)
        self._context: HandlerContext | None = None
        self.indexes: dict[str, int] = {}  # instrument id -> index in the engine's table

    # ------------------------------------------------------------------ lifecycle

    def on_start(self, context: HandlerContext) -> None:
        self._context = context
        self.indexes = {i: context.instrument_index(i) for i in self.instrument_ids}

    def on_stop(self) -> None:
        self._context = None

    def on_params(self, params: Mapping[str, Any]) -> None:
        """The config's `[strategy.parameters]` were reloaded; raise ValueError naming the
        parameter to refuse them (the running values stay)."""
        self.params = dict(params)

    @property
    def context(self) -> HandlerContext:
        if self._context is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._context

    # ------------------------------------------------------------------ reading

    def now_ns(self) -> int:
        return self.context.clock.time_ns()

    def instrument(self, instrument_id: str) -> Instrument:
        return self.context.instruments[self.indexes[instrument_id]]

    def book(self, instrument_id: str) -> Any | None:
        """The live book of any instrument of the engine (another venue's too), or None
        while it is not ready."""
        return self.context.view.book(self.context.instrument_index(instrument_id))

    def position_lots(self, instrument_id: str) -> int:
        return self.context.view.position_lots(self.indexes[instrument_id])

    def open_orders(self, instrument_id: str) -> list[OpenOrder]:
        return self.context.view.open_orders(self.indexes[instrument_id])

    def trading_state(self) -> str:
        return self.context.view.trading_state()

    # ------------------------------------------------------------------ intents out

    def buy(
        self, instrument_id: str, price_ticks: int, lots: int, *, tag: int = 0,
        post_only: bool = True,
    ) -> None:  # fmt: skip
        """A limit buy (post-only by default: a market maker never takes by accident)."""
        self.context.intents.push_new(
            self.indexes[instrument_id], BUY, price_ticks, lots, tag,
            LIMIT_MAKER if post_only else LIMIT, GTC,
        )  # fmt: skip

    def sell(
        self, instrument_id: str, price_ticks: int, lots: int, *, tag: int = 0,
        post_only: bool = True,
    ) -> None:  # fmt: skip
        self.context.intents.push_new(
            self.indexes[instrument_id], SELL, price_ticks, lots, tag,
            LIMIT_MAKER if post_only else LIMIT, GTC,
        )  # fmt: skip

    def replace(
        self, order: OpenOrder, price_ticks: int, lots: int, *, post_only: bool = True
    ) -> None:
        """Move a live order (amended in place where the venue can, else cancel and new)."""
        self.context.intents.push_replace(
            order.instrument_index, order.order_ref, order.side, price_ticks, lots,
            order.client_tag, LIMIT_MAKER if post_only else LIMIT, GTC,
        )  # fmt: skip

    def cancel(self, order: OpenOrder) -> None:
        self.context.intents.push_cancel(order.instrument_index, order.order_ref, order.client_tag)

    def cancel_all(self, instrument_id: str | None = None) -> int:
        """Cancel our live orders (of one instrument, or of every one this strategy trades)
        that no request is about already; how many cancels were pushed."""
        ids = self.instrument_ids if instrument_id is None else (instrument_id,)
        pushed = 0
        for i in ids:
            for order in self.open_orders(i):
                if not order.pending:
                    self.cancel(order)
                    pushed += 1
        return pushed
