"""The status line: what the engine is doing, every few seconds, one log line per symbol and
one for the whole engine (risk state, book updates per second, tick-to-trade percentiles).

Figures come from where they live (positions and fees from the order manager's Cython
positions, marks from the books, the state and refusals from the risk manager); money is
shown as exact decimals in the quote currency.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from engine._core.latency import Histogram
from engine.clock import NS_PER_SECOND

if TYPE_CHECKING:
    from engine.host.component import StrategyHost

log = logging.getLogger("engine.status")


def _round_trip_us(hist: Histogram) -> dict[str, Any]:
    """A venue's request -> answer times: samples, p50, p99 and the largest, in µs (the
    upper edge of the HDR bucket holding each)."""
    if hist.count == 0:
        return {"count": 0}
    p50, p99 = hist.percentiles([50.0, 99.0])
    return {"count": hist.count, "p50": p50 / 1000, "p99": p99 / 1000, "max": hist.max / 1000}


class StatusLine:
    def __init__(self, host: StrategyHost, interval_s: float) -> None:
        self.host = host
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._updates_seen = 0
        self._last_ns = 0
        self.latency: Any = None  # a StageRecorder (engine/_core/latency.pyx), when wired

    def start(self) -> None:
        if self.interval_s > 0:
            self._last_ns = self.host.clock.time_ns()
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.host.clock.sleep_ns(int(self.interval_s * NS_PER_SECOND))
            try:
                self.emit()
            except Exception:  # a status line must never stop the engine
                log.exception("status line failed")

    def snapshot(self) -> dict[str, Any]:
        """The figures of the line, as data (tests, /status later)."""
        host = self.host
        view, risk = host.view, host.risk
        oms = host.trading.manager
        symbols: list[dict[str, Any]] = []
        updates = 0
        if view is not None and oms is not None:
            open_by_index: dict[int, int] = {}
            for order in (o for i in range(len(view.instruments)) for o in view.open_orders(i)):
                open_by_index[order.instrument_index] = (
                    open_by_index.get(order.instrument_index, 0) + 1
                )
            for n, inst in enumerate(view.instruments):
                position = oms.positions[n]
                book = view.book(n)
                if book is not None:
                    updates += book.updates
                mid_x2 = book.mid_x2() if book is not None else 0
                unrealized = position.unrealized(mid_x2 // 2) if mid_x2 > 0 else 0
                if not (position.fills or open_by_index.get(n) or book is not None):
                    continue
                symbols.append(
                    {
                        "instrument": inst.instrument_id,
                        "position": format(inst.lots_to_qty(position.qty), "f"),
                        "realized": format(inst.notional_to_decimal(position.realized), "f"),
                        "unrealized": format(inst.notional_to_decimal(unrealized), "f"),
                        "fees": format(inst.notional_to_decimal(position.fees), "f"),
                        "open_orders": open_by_index.get(n, 0),
                        "fills": position.fills,
                        "mid": format(inst.ticks_to_price(mid_x2 // 2), "f") if mid_x2 > 0 else "",
                    }
                )
        now = host.clock.time_ns()
        elapsed = max(now - self._last_ns, 1)
        rate = max(updates - self._updates_seen, 0) * NS_PER_SECOND / elapsed
        self._updates_seen, self._last_ns = updates, now
        engine: dict[str, Any] = {
            "risk_state": risk.state_name if risk is not None else "ACTIVE",
            "book_updates_per_s": round(rate, 1),
            "refused": risk.refusals() if risk is not None else {},
        }
        if self.latency is not None and self.latency.count > 0:
            p50, p99 = self.latency.percentiles([50.0, 99.0])
            engine["tick_to_trade_us"] = {"p50": p50 / 1000, "p99": p99 / 1000}
        if oms is not None:
            engine["orders_sent"] = oms.counters.requests
            engine["rejected"] = oms.counters.rejected
            engine["venue_round_trip_us"] = {
                venue: _round_trip_us(hist) for venue, hist in sorted(oms.round_trips.items())
            }
        return {"engine": engine, "symbols": symbols}

    def emit(self) -> None:
        data = self.snapshot()
        for s in data["symbols"]:
            log.info(
                "%s pos=%s rpnl=%s upnl=%s fees=%s open=%d fills=%d mid=%s",
                s["instrument"], s["position"], s["realized"], s["unrealized"], s["fees"],
                s["open_orders"], s["fills"], s["mid"] or "-",
                extra={"status": s},
            )  # fmt: skip
        engine = data["engine"]
        t2t = engine.get("tick_to_trade_us")
        log.info(
            "state=%s updates/s=%.1f t2t p50=%s p99=%s refused=%s",
            engine["risk_state"],
            engine["book_updates_per_s"],
            f"{t2t['p50']:.1f}us" if t2t else "-",
            f"{t2t['p99']:.1f}us" if t2t else "-",
            sum(engine["refused"].values()),
            extra={"status": engine},
        )
