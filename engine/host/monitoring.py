"""The monitor's view of the engine (docs/MONITORING.md): what `/metrics`, `/status` and
`/health` read from the strategy host, the order manager, the risk manager and the feeds, at
scrape time only; and, given the engine's own hooks, what the control API may do
(docs/CONTROL.md)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from engine.config import ConfigStore, EngineConfig, MonitorConfig
from engine.data.feed import BookFeed
from engine.host.component import StrategyHost
from engine.host.metric_sources import add_metric_sources, alert_metrics, with_quotes
from engine.monitor import EngineMetrics, InstrumentMetrics, MonitorServer, Sources
from engine.monitor.control import AuditEvent, ControlApi, Controls


@dataclass(frozen=True, slots=True)
class EngineHooks:
    """What only the engine itself (engine/app.py) can do for the control API."""

    store: ConfigStore
    emergency_stop: Callable[[str], None]  # reason
    reload: Callable[[], EngineConfig]


def _json_text(doc: Mapping[str, Any] | None) -> str | None:
    return None if doc is None else orjson.dumps(doc, default=str).decode()


def audit_sink(host: StrategyHost) -> Callable[[AuditEvent], None]:
    """An audited control request into `audit_events`, through the storage writer (off the
    event loop's path, never dropped)."""

    def put(event: AuditEvent) -> None:
        storage = host.trading.storage
        if storage is None or storage.writer is None:
            return
        row = (event.ts_ns, event.action, event.who, event.outcome,
               _json_text(event.before), _json_text(event.after), event.detail)  # fmt: skip
        storage.writer.put("audit_events", row)

    return put


def build_control(
    hooks: EngineHooks, host: StrategyHost, environ: Mapping[str, str] | None = None
) -> ControlApi:
    """The control API over the host and the engine's hooks; the token is read now."""

    def risk_state() -> str:
        return host.risk.state_name if host.risk is not None else "ACTIVE"

    controls = Controls(
        store=hooks.store,
        emergency_stop=hooks.emergency_stop,
        reload=hooks.reload,
        pause=host.pause,
        resume=host.resume,
        paused=lambda: host.paused,
        risk_state=risk_state,
        status=lambda: host.status.snapshot() if host.status is not None else {},
        audit=audit_sink(host),
        now_ns=host.clock.time_ns,
    )
    return ControlApi.from_env(controls, environ)


def build_monitor(
    config: MonitorConfig,
    host: StrategyHost,
    feeds: Callable[[], Sequence[BookFeed]],
    hooks: EngineHooks | None = None,
    *,
    alerts: Callable[[], list[dict[str, Any]]] | None = None,
    alert_status: Callable[[], Mapping[str, Any]] | None = None,
) -> MonitorServer:
    """The monitor over the host and the feeds; `hooks` arm the control API, `alerts` (the
    alert engine's recent ones, newest first) feed the status page, `alert_status`
    (`AlertsComponent.status`) the alert figures of /metrics (None: alerts are off, none)."""

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
        # a pause is deliberate and the engine still serves: said, but still ready
        return not reasons, {"reasons": reasons, "paused": host.paused}

    sources = Sources(
        instruments=instruments,
        oms_counters=oms_counters,
        risk_state=lambda: host.risk.state_name if host.risk is not None else "ACTIVE",
        refusals=lambda: host.risk.refusals() if host.risk is not None else {},
        feeds=feed_states,
        latency=lambda: host.latency,
    )
    add_metric_sources(sources, host, feeds)
    if alert_status is not None:
        sources.alerts = lambda: alert_metrics(alert_status())
    control = build_control(hooks, host) if hooks is not None else None
    return MonitorServer(
        config,
        EngineMetrics(sources),
        with_quotes(status, host, feeds),
        health,
        control,
        alerts=alerts,
    )
