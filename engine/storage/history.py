"""Market history and the live cache from the engine's events: an event handler that keeps
each instrument's best bid/offer in the history (`market_bbo`, one row per change of the top
of book) and in the real-time cache, public trades (`market_trades`), a depth snapshot of
each ready book every `depth_snapshot_interval_s` (`depth_snapshots`, DEPTH_LEVELS a side),
and tells the cache when a book's readiness changes.

On the hot path it compares the top with the last one kept and, when it moved, appends one
tuple of grid ints to the writer's buffer and one to the cache (no I/O, no Decimal); the
writer and the cache turn them into exact decimals when they flush.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from engine._core.book import ASK, BID
from engine.events import EventHandler, FeedStatus, HandlerContext, Trade
from engine.model.enums import OrderSide
from engine.model.instrument import Instrument
from engine.storage.cache import Cache
from engine.storage.writer import StorageWriter

DEPTH_LEVELS = 20
DEPTH_TIMER = "history.depth"
_SIDE_TEXT = {OrderSide.BUY: "BUY", OrderSide.SELL: "SELL"}


class MarketHistory(EventHandler):
    def __init__(
        self,
        writer: StorageWriter | None,
        cache: Cache,
        market_data: bool,
        depth_interval_s: float = 0.0,
    ) -> None:
        self.writer = writer
        self.cache = cache
        self.market_data = market_data and writer is not None
        self.depth_interval_s = depth_interval_s
        self._index: dict[str, int] = {}
        self._last: list[tuple[int, int, int, int]] = []
        self._cached: list[Any] = []
        self._put: Callable[[tuple[Any, ...]], None] | None = None
        self.instruments: tuple[Instrument, ...] = ()

    def converters(
        self, instruments: Sequence[Instrument]
    ) -> dict[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]]:
        def bbo_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
            ts, index, bid, bid_qty, ask, ask_qty = row
            inst = instruments[index]
            return (
                ts, inst.venue, inst.symbol, inst.ticks_to_price(bid), inst.lots_to_qty(bid_qty),
                inst.ticks_to_price(ask), inst.lots_to_qty(ask_qty),
            )  # fmt: skip

        return {"market_bbo": bbo_row}

    def on_start(self, context: HandlerContext) -> None:
        self.instruments = context.instruments
        self._index = {inst.instrument_id: n for n, inst in enumerate(self.instruments)}
        self._last = [(0, 0, 0, 0)] * len(self.instruments)
        self._cached = [
            self.cache.symbol(inst.venue, inst.symbol, inst.price_grid, inst.qty_grid)
            for inst in self.instruments
        ]
        if self.market_data and self.writer is not None:
            self.writer.converters.update(self.converters(self.instruments))
            self._put = self.writer.buffer("market_bbo").put
            if self.depth_interval_s > 0:
                context.timers.every(DEPTH_TIMER, int(self.depth_interval_s * 1e9))
        self.clock = context.clock
        self.view = context.view

    def on_trade(self, trade: Trade) -> None:
        if self.market_data and self.writer is not None:
            self.writer.put(
                "market_trades",
                (trade.timestamp_ns, trade.venue, trade.symbol, trade.price, trade.quantity,
                 _SIDE_TEXT[trade.aggressor], trade.trade_id),
            )  # fmt: skip

    def on_timer(self, name: str, timestamp_ns: int) -> None:
        if name != DEPTH_TIMER or self.writer is None:
            return
        now = self.clock.time_ns()
        for index, inst in enumerate(self.instruments):
            book = self.view.book(index)
            if book is None:
                continue
            sides = []
            for side in (BID, ASK):
                levels = book.levels(side, DEPTH_LEVELS)
                sides.append(
                    orjson.dumps(
                        [
                            [format(inst.ticks_to_price(p), "f"), format(inst.lots_to_qty(q), "f")]
                            for p, q in levels
                        ]
                    ).decode()
                )
            self.writer.put("depth_snapshots", (now, inst.venue, inst.symbol, sides[0], sides[1]))

    def on_book(self, instrument_id: str, book: Any, timestamp_ns: int) -> None:
        index = self._index.get(instrument_id)
        if index is None:
            return
        top = book.top()
        if top == self._last[index] or top[0] <= 0 or top[2] <= 0:
            return
        self._last[index] = top
        ts = timestamp_ns or self.clock.time_ns()
        bid, bid_qty, ask, ask_qty = top
        if self._put is not None:
            self._put((ts, index, bid, bid_qty, ask, ask_qty))
        self._cached[index].bbo(bid, bid_qty, ask, ask_qty, ts)

    def on_feed_status(self, status: FeedStatus) -> None:
        self.cache.status(
            f"feed:{status.instrument_id}",
            "ready" if status.ready else "not_ready",
            status.reason,
            status.timestamp_ns,
        )
