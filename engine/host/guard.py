"""Isolation of a strategy's bugs: a hook that raises costs its instrument's quotes, not the
engine.

`StrategyGuard` stands between the dispatcher and the strategy. When a hook raises, the error
is counted and logged (at most once a second per hook), every live order of the instrument
concerned is cancelled (of all the strategy's instruments when the hook names none: a timer,
a trade of an instrument it does not quote), and that instrument's events are held back from
the strategy for `quarantine_s`; then it gets them again and may quote anew.
"""

from __future__ import annotations

import logging
from typing import Any

from engine.events import (
    EventHandler,
    FeedStatus,
    HandlerContext,
    OrderUpdate,
    Trade,
)
from engine.model.market_data import MarketData

log = logging.getLogger("engine.strategy")

LOG_EVERY_NS = 1_000_000_000


class StrategyGuard(EventHandler):
    def __init__(
        self, strategy: EventHandler, instrument_ids: tuple[str, ...], quarantine_s: float = 5.0
    ) -> None:
        self.strategy = strategy
        self.instrument_ids = instrument_ids
        self.quarantine_ns = int(quarantine_s * 1e9)
        self.errors = 0
        self._until: dict[str, int] = {}  # instrument id -> end of its quarantine
        self._context: HandlerContext | None = None
        self._last_log: dict[str, int] = {}

    def on_start(self, context: HandlerContext) -> None:
        self._context = context
        self.strategy.on_start(context)  # raising here refuses the start: not isolated

    def on_stop(self) -> None:
        self.strategy.on_stop()
        self._context = None

    def _held(self, instrument_id: str) -> bool:
        until = self._until.get(instrument_id)
        if until is None or self._context is None:
            return False
        if self._context.clock.time_ns() < until:
            return True
        del self._until[instrument_id]
        log.info("strategy gets the instrument's events again", extra={"instrument": instrument_id})
        return False

    def _failed(self, hook: str, instrument_id: str | None) -> None:
        self.errors += 1
        context = self._context
        now = context.clock.time_ns() if context is not None else 0
        if now - self._last_log.get(hook, -LOG_EVERY_NS) >= LOG_EVERY_NS:
            self._last_log[hook] = now
            log.exception(
                "strategy %s.%s raised: its quotes are pulled",
                type(self.strategy).__name__,
                hook,
                extra={"instrument": instrument_id or "all", "errors": self.errors},
            )
        if context is None:
            return
        targets = (instrument_id,) if instrument_id in self.instrument_ids else self.instrument_ids
        for target in targets:
            self._until[target] = now + self.quarantine_ns
            index = context.instrument_index(target)
            for order in context.view.open_orders(index):
                if not order.pending:
                    context.intents.push_cancel(index, order.order_ref, order.client_tag)

    # the hooks: the hot one first, written out; the others through one helper

    def on_book(self, instrument_id: str, book: Any, timestamp_ns: int) -> None:
        if self._until and self._held(instrument_id):
            return
        try:
            self.strategy.on_book(instrument_id, book, timestamp_ns)
        except Exception:
            self._failed("on_book", instrument_id)

    def _call(self, hook: str, instrument_id: str | None, *args: Any) -> None:
        if instrument_id is not None and self._until and self._held(instrument_id):
            return
        try:
            getattr(self.strategy, hook)(*args)
        except Exception:
            self._failed(hook, instrument_id)

    def on_market_data(self, data: MarketData) -> None:
        self._call("on_market_data", None, data)

    def on_trade(self, trade: Trade) -> None:
        self._call("on_trade", f"{trade.venue}:{trade.symbol}", trade)

    def on_order_update(self, update: OrderUpdate) -> None:
        # an order update is always delivered: the strategy must learn what became of it
        try:
            self.strategy.on_order_update(update)
        except Exception:
            self._failed("on_order_update", f"{update.venue}:{update.symbol}")

    def on_feed_status(self, status: FeedStatus) -> None:
        try:
            self.strategy.on_feed_status(status)
        except Exception:
            self._failed("on_feed_status", status.instrument_id)

    def on_timer(self, name: str, timestamp_ns: int) -> None:
        self._call("on_timer", None, name, timestamp_ns)
