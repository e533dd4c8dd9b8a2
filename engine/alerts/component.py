"""Alerts as an engine component: owns the evaluation timer (engine clock) and the
notifier's dispatcher. Started after trading (it reads the trading parts through its
signals) and stopped before it, so its last notifications still go out while the engine
stands."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from engine.alerts.actions import Actions
from engine.alerts.engine import AlertEngine
from engine.alerts.signals import Signals
from engine.clock import NS_PER_SECOND, Clock
from engine.component import Component
from engine.config.schema import EngineConfig
from engine.notify.build import build_sinks, notifier_options
from engine.notify.dispatcher import Notifier
from engine.notify.message import Notification
from engine.timers import Timers, TimerService


class AlertsComponent(Component):
    def __init__(
        self, engine: AlertEngine, notifier: Notifier, clock: Clock, interval_s: float
    ) -> None:
        super().__init__(name="alerts")
        self.engine = engine
        self.notifier = notifier
        self.clock = clock
        self.interval_ns = max(1, int(interval_s * NS_PER_SECOND))
        self._timers: Timers | None = None

    async def _on_start(self) -> None:
        await self.notifier.start()
        self._timers = TimerService(self.clock).timers_for(self._on_timer, "alerts")
        self._timers.every("evaluate", self.interval_ns)

    def _on_timer(self, name: str, due_ns: int) -> None:
        self.engine.evaluate()

    async def _on_stop(self) -> None:
        if self._timers is not None:
            self._timers.close()
            self._timers = None
        await self.engine.close()
        await self.notifier.stop()

    def recent(self) -> list[dict[str, Any]]:
        """The last alerts, newest first (for the status page)."""
        return self.engine.recent()

    def status(self) -> dict[str, Any]:
        """The alerts firing now, the engine's counters and the notifier's (with `held`:
        repeats storm control folded into summaries). Read by /metrics at each scrape."""
        return {
            "active": self.engine.active(),
            "counters": self.engine.counters.as_dict(),
            "notifications": {**self.notifier.counters.as_dict(), "held": self.notifier.storm.held},
        }


def build_alerts(
    config: EngineConfig | Callable[[], EngineConfig],
    signals: Signals,
    actions: Actions,
    *,
    clock: Clock,
    environ: Mapping[str, str] | None = None,
) -> AlertsComponent:
    """The alerts component from `[alerts]` and `[notify]`. `config` may be the live config's
    getter (hot keys then apply at the next evaluation); `environ` (default os.environ) holds
    the webhook URLs and tokens the config names."""
    current: Callable[[], EngineConfig] = config if callable(config) else (lambda: config)
    start = current()
    environ = os.environ if environ is None else environ
    sinks = build_sinks(start, environ) if start.notify.enabled else []
    notifier = Notifier(sinks, clock, lambda: notifier_options(current().notify))

    def publish(note: Notification) -> None:
        notifier.publish(note)

    engine = AlertEngine(current, signals, actions, clock, publish, recent=start.alerts.recent)
    return AlertsComponent(engine, notifier, clock, start.alerts.interval_s)
