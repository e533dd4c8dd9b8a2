"""Positions, PnL and risk events into the history (`positions`, `pnl_snapshots`,
`risk_events`) and the live cache, every SNAPSHOT_EVERY_S and at stop.

Off the hot path: a task of the host, reading the order manager's Cython positions and the
books' mids; money as exact Decimals in the quote currency.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from engine.clock import NS_PER_SECOND

if TYPE_CHECKING:
    from engine.host.component import StrategyHost

log = logging.getLogger("engine.host")

SNAPSHOT_EVERY_S = 10.0


class HistorySnapshots:
    def __init__(self, host: StrategyHost) -> None:
        self.host = host
        self._task: asyncio.Task[None] | None = None
        self.taken = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.host.clock.sleep_ns(int(SNAPSHOT_EVERY_S * NS_PER_SECOND))
            try:
                self.take()
            except Exception:  # a snapshot must never stop the engine
                log.exception("history snapshot failed")

    def take(self) -> None:
        """One row per traded instrument into `positions` and `pnl_snapshots`, and the
        positions into the cache."""
        host = self.host
        storage = host.trading.storage
        oms = host.trading.manager
        view = host.view
        if storage is None or storage.writer is None or oms is None or view is None:
            return
        writer = storage.writer
        now = host.clock.time_ns()
        risk = host.risk
        traded = risk.traded if risk is not None else frozenset(range(len(oms.instruments)))
        for index, inst in enumerate(oms.instruments):
            if index not in traded:
                continue
            position = oms.positions[index]
            book = view.book(index)
            mid_x2 = book.mid_x2() if book is not None else 0
            unrealized_units = position.unrealized(mid_x2 // 2) if mid_x2 > 0 else 0
            quantity = inst.lots_to_qty(position.qty)
            cost = inst.notional_to_decimal(position.cost)
            realized = inst.notional_to_decimal(position.realized)
            fees = inst.notional_to_decimal(position.fees)
            unrealized = inst.notional_to_decimal(unrealized_units)
            writer.put("positions", (now, inst.venue, inst.symbol, quantity, cost, realized, fees))
            writer.put(
                "pnl_snapshots",
                (now, inst.venue, inst.symbol, realized, unrealized, fees,
                 realized + unrealized),
            )  # fmt: skip
            storage.cache.symbol(inst.venue, inst.symbol).position(
                quantity, cost, realized, fees, now
            )
        self.taken += 1

    def risk_event(self, kind: str, code: int, reason: str, state: str, detail: str = "") -> None:
        """A risk state change (a halt, a resume) into `risk_events` and the cache's status."""
        storage = self.host.trading.storage
        if storage is None:
            return
        now = self.host.clock.time_ns()
        if storage.writer is not None:
            storage.writer.put("risk_events", (now, kind, code, reason, state, detail))
        storage.cache.status("risk", state, reason, now)
