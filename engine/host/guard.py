"""Isolation of a strategy's bugs: a hook that raises costs its instrument's quotes, not the
engine.

`StrategyGuard` stands between the dispatcher and the strategy. When a hook raises, the error
is counted and logged (at most once a second per hook), every live order of the instrument
concerned is cancelled (of all the strategy's instruments when the hook names none: a timer,
a trade of an instrument it does not quote), and that instrument's events are held back from
the strategy for `quarantine_s`; then it gets them again and may quote anew.

What the failed call pushed for the instrument is dropped (half a requote is no quote), and
while the quarantine lasts, a NEW or REPLACE the strategy pushes for the instrument from a
hook that still reaches it (a timer, an order update, a feed status) is dropped too: a
quarantined instrument gets cancels only.
"""

from __future__ import annotations

import logging
from typing import Any

from engine._core.intents import CANCEL, NEW
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

    def _failed(self, hook: str, instrument_id: str | None, mark: int) -> None:
        """`hook` raised; `mark`: how many intents were pending before the call."""
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
        indexes = set()
        for target in targets:
            self._until[target] = now + self.quarantine_ns
            indexes.add(context.instrument_index(target))
        self._drop(mark, indexes, cancels_too=True)
        for index in sorted(indexes):
            for order in context.view.open_orders(index):
                if not order.pending:
                    context.intents.push_cancel(index, order.order_ref, order.client_tag)

    def _quarantined(self) -> set[int]:
        """The instrument indexes whose quarantine still runs."""
        context = self._context
        if context is None:
            return set()
        return {context.instrument_index(i) for i in list(self._until) if self._held(i)}

    def _drop(self, mark: int, indexes: set[int], *, cancels_too: bool = False) -> None:
        """Drop the intents pushed since `mark` for `indexes` (NEW and REPLACE; cancels too
        if asked). The buffer keeps the order of the others (rare path: copied and pushed
        again)."""
        context = self._context
        if context is None or not indexes:
            return
        buffer = context.intents
        pushed = len(buffer)
        if pushed <= mark:
            return
        rows = [buffer.read(i) for i in range(mark, pushed)]
        if not any(row[0] in indexes and (cancels_too or row[1] != CANCEL) for row in rows):
            return
        kept = [buffer.read(i) for i in range(mark)] + [
            row for row in rows
            if not (row[0] in indexes and (cancels_too or row[1] != CANCEL))
        ]  # fmt: skip
        buffer.clear()
        for index, kind, side, order_type, tif, price, qty, tag, order_id in kept:
            if kind == CANCEL:
                buffer.push_cancel(index, order_id, tag)
            elif kind == NEW:
                buffer.push_new(index, side, price, qty, tag, order_type, tif)
            else:
                buffer.push_replace(index, order_id, side, price, qty, tag, order_type, tif)
        log.warning(
            "orders of a quarantined instrument dropped",
            extra={"dropped": len(rows) + mark - len(kept)},
        )

    def _mark(self) -> int:
        context = self._context
        return len(context.intents) if context is not None else 0

    # the hooks: the hot one first, written out; the others through one helper

    def on_book(self, instrument_id: str, book: Any, timestamp_ns: int) -> None:
        if self._until and self._held(instrument_id):
            return
        mark = self._mark()
        try:
            self.strategy.on_book(instrument_id, book, timestamp_ns)
        except Exception:
            self._failed("on_book", instrument_id, mark)
            return
        if self._until:
            self._drop(mark, self._quarantined())

    def _call(self, hook: str, instrument_id: str | None, *args: Any) -> None:
        """Call the strategy's `hook`, held back while `instrument_id` is quarantined (None:
        the hook names no instrument, it always reaches the strategy)."""
        if instrument_id is not None and self._until and self._held(instrument_id):
            return
        mark = self._mark()
        try:
            getattr(self.strategy, hook)(*args)
        except Exception:
            self._failed(hook, instrument_id, mark)
            return
        if self._until:
            self._drop(mark, self._quarantined())

    def on_market_data(self, data: MarketData) -> None:
        self._call("on_market_data", None, data)

    def on_trade(self, trade: Trade) -> None:
        self._call("on_trade", f"{trade.venue}:{trade.symbol}", trade)

    def on_order_update(self, update: OrderUpdate) -> None:
        # an order update is always delivered: the strategy must learn what became of it
        self._delivered("on_order_update", f"{update.venue}:{update.symbol}", update)

    def on_feed_status(self, status: FeedStatus) -> None:
        # so is a feed status: after the quarantine the strategy must know the book's state
        self._delivered("on_feed_status", status.instrument_id, status)

    def on_timer(self, name: str, timestamp_ns: int) -> None:
        self._call("on_timer", None, name, timestamp_ns)

    def _delivered(self, hook: str, instrument_id: str, *args: Any) -> None:
        """A hook delivered even in quarantine; a failure still names its instrument."""
        mark = self._mark()
        try:
            getattr(self.strategy, hook)(*args)
        except Exception:
            self._failed(hook, instrument_id, mark)
            return
        if self._until:
            self._drop(mark, self._quarantined())
