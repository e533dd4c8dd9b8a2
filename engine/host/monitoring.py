"""The monitor's view of the engine (docs/MONITORING.md): what `/metrics`, `/status` and
`/health` read from the strategy host, the order manager, the risk manager and the feeds, at
scrape time only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine.config import MonitorConfig
from engine.data.feed import BookFeed
from engine.host.component import StrategyHost
from engine.monitor import EngineMetrics, InstrumentMetrics, MonitorServer, Sources


def build_monitor(
    config: MonitorConfig, host: StrategyHost, feeds: Callable[[], Sequence[BookFeed]]
) -> MonitorServer:
    def instruments() -> list[InstrumentMetrics]:
        oms, view = host.trading.manager, host.view
        if oms is None or view is None:
            return []
        out = []
        traded = host.risk.traded if host.risk is not None else frozenset()
        for index, inst in enumerate(oms.instruments):
            if index not in traded:
                continue
            position = oms.positions[index]
            book = view.book(index)
            mid_x2 = book.mid_x2() if book is not None else 0
            unrealized = position.unrealized(mid_x2 // 2) if mid_x2 > 0 else 0
            out.append(
                InstrumentMetrics(
                    inst.venue,
                    inst.symbol,
                    position=inst.lots_to_qty(position.qty),
                    realized_pnl=inst.notional_to_decimal(position.realized),
                    unrealized_pnl=inst.notional_to_decimal(unrealized),
                    fees=inst.notional_to_decimal(position.fees),
                    open_orders=len(view.open_orders(index)),
                    fills=position.fills,
                )
            )
        return out

    def oms_counters() -> dict[str, int]:
        oms = host.trading.manager
        return oms.counters.as_dict() if oms is not None else {}

    def feed_states() -> dict[str, bool]:
        return {
            feed.instrument_id(symbol): ready
            for feed in feeds()
            for symbol, ready in feed.ready.items()
        }

    def status() -> dict[str, Any]:
        return host.status.snapshot() if host.status is not None else {}

    def health() -> tuple[bool, dict[str, Any]]:
        reasons = []
        if host.risk is not None and host.risk.state_name == "HALTED":
            reasons.append("trading is HALTED")
        view = host.view
        if host.risk is not None and view is not None:
            for index in sorted(host.risk.traded):
                if view.book(index) is None:
                    reasons.append(f"book not ready: {view.instruments[index].instrument_id}")
        return not reasons, {"reasons": reasons}

    sources = Sources(
        instruments=instruments,
        oms_counters=oms_counters,
        risk_state=lambda: host.risk.state_name if host.risk is not None else "ACTIVE",
        refusals=lambda: host.risk.refusals() if host.risk is not None else {},
        feeds=feed_states,
        latency=lambda: host.latency,
    )
    return MonitorServer(config, EngineMetrics(sources), status, health)
