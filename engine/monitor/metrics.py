"""The engine's Prometheus metrics, read at scrape time.

`EngineMetrics` owns its own `CollectorRegistry` (never the process-global one, so two engines
or two tests in one process never collide). Everything the engine already counts is read
through `Sources` when Prometheus scrapes, so the hot path pays nothing for being watched;
only the event-loop lag probe runs between scrapes (one task waking every `interval` seconds).
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

import psutil
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from engine._core.latency import StageRecorder
from engine._core.risk_limits import STATE_NAMES

T = TypeVar("T")

PREFIX = "hft"

# event-loop lag: 10 µs resolves a healthy loop, 1 s is an engine that has stopped trading
LOOP_LAG_BUCKETS: tuple[float, ...] = (
    1e-5,
    2.5e-5,
    5e-5,
    1e-4,
    2.5e-4,
    5e-4,
    1e-3,
    2.5e-3,
    5e-3,
    1e-2,
    2.5e-2,
    5e-2,
    0.1,
    0.25,
    0.5,
    1.0,
)

# tick-to-trade stages, in seconds; +Inf is added by the exposition
LATENCY_BUCKETS: tuple[float, ...] = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2, 0.1, 1.0)

# risk state name -> gauge value (ACTIVE 0, REDUCING 1, HALTED 2), from the risk core's table
RISK_STATE_VALUES: dict[str, int] = {name: code for code, name in STATE_NAMES.items()}
RISK_STATE_UNKNOWN = -1


@dataclass(frozen=True, slots=True)
class InstrumentMetrics:
    """One instrument's figures at scrape time: position in base units, money in quote units."""

    venue: str
    symbol: str
    position: Decimal | float = 0.0
    realized_pnl: Decimal | float = 0.0
    unrealized_pnl: Decimal | float = 0.0
    fees: Decimal | float = 0.0
    open_orders: int = 0
    fills: int = 0


InstrumentRow = InstrumentMetrics | Mapping[str, object]


@dataclass(slots=True)
class Sources:
    """What the engine lets the monitor read; each is called once per scrape, any may be None.

    instruments: one `InstrumentMetrics` (or a mapping with its field names) per instrument.
    oms_counters: {"orders_sent": n, ...}, each exposed as `hft_oms_<name>_total`.
    risk_state: "ACTIVE" | "REDUCING" | "HALTED" (case-insensitive).
    refusals: risk refusals by reason, {"notional": n, ...}.
    feeds: readiness per feed, {"binance:BTCUSDT": True, ...}.
    latency: the hot path's StageRecorder, or None when latency is not recorded.
    A source that raises is skipped for that scrape (`hft_monitor_source_errors_total` counts
    it): a broken reader must not take /metrics down.
    """

    instruments: Callable[[], Sequence[InstrumentRow]] | None = None
    oms_counters: Callable[[], Mapping[str, int]] | None = None
    risk_state: Callable[[], str] | None = None
    refusals: Callable[[], Mapping[str, int]] | None = None
    feeds: Callable[[], Mapping[str, bool]] | None = None
    latency: Callable[[], StageRecorder | None] | None = None


def _num(value: object) -> float:
    if isinstance(value, int | float | Decimal):
        return float(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _row(item: InstrumentRow) -> InstrumentMetrics:
    if isinstance(item, InstrumentMetrics):
        return item
    return InstrumentMetrics(
        venue=str(item["venue"]),
        symbol=str(item["symbol"]),
        position=_num(item.get("position", 0.0)),
        realized_pnl=_num(item.get("realized_pnl", 0.0)),
        unrealized_pnl=_num(item.get("unrealized_pnl", 0.0)),
        fees=_num(item.get("fees", 0.0)),
        open_orders=int(_num(item.get("open_orders", 0))),
        fills=int(_num(item.get("fills", 0))),
    )


def _metric_part(name: str) -> str:
    """A counter key as a metric-name fragment: [a-z0-9_] only."""
    out = "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")
    return out or "unnamed"


def latency_buckets(
    hdr_buckets: Sequence[tuple[int, int]], bounds: Sequence[float] = LATENCY_BUCKETS
) -> list[tuple[str, float]]:
    """Cumulative Prometheus buckets (seconds) from HDR buckets [(upper_ns, count), ...].

    An HDR bucket is counted under the first bound at or above its upper edge, so a bucket
    never claims values below what it may hold (a bound is never under-reported by more than
    the HDR bucket's width, under 1 % at the recorder's default resolution).
    """
    per_bound = [0] * (len(bounds) + 1)
    for upper_ns, count in hdr_buckets:
        upper_s = upper_ns / 1e9
        i = 0
        while i < len(bounds) and upper_s > bounds[i]:
            i += 1
        per_bound[i] += count
    out: list[tuple[str, float]] = []
    running = 0
    for bound, n in zip(bounds, per_bound, strict=False):
        running += n
        out.append((_le(bound), float(running)))
    running += per_bound[-1]
    out.append(("+Inf", float(running)))
    return out


def _le(bound: float) -> str:
    return repr(float(bound))


class _SourcesCollector(Collector):
    """Builds the engine's families from `Sources` on every collect()."""

    def __init__(self, sources: Sources, prefix: str) -> None:
        self.sources = sources
        self.p = prefix
        self.source_errors: dict[str, int] = {}

    def _call(self, name: str, fn: Callable[[], T] | None) -> T | None:
        if fn is None:
            return None
        try:
            return fn()
        except Exception:  # a reader's bug must cost one scrape's figures, not /metrics
            self.source_errors[name] = self.source_errors.get(name, 0) + 1
            return None

    def collect(self) -> Iterator[Metric]:
        s, p = self.sources, self.p
        instruments = self._call("instruments", s.instruments)
        if instruments is not None:
            yield from self._instruments(instruments)
        oms = self._call("oms_counters", s.oms_counters)
        if oms is not None:
            for key, value in sorted(oms.items()):
                yield CounterMetricFamily(
                    f"{p}_oms_{_metric_part(key)}",
                    f"order manager counter {key}",
                    value=float(value),
                )
        state = self._call("risk_state", s.risk_state)
        if state is not None:
            name = str(state).upper()
            g = GaugeMetricFamily(
                f"{p}_risk_state",
                "risk state: 0 ACTIVE, 1 REDUCING, 2 HALTED, -1 unknown",
                labels=["state"],
            )
            g.add_metric([name], float(RISK_STATE_VALUES.get(name, RISK_STATE_UNKNOWN)))
            yield g
        refusals = self._call("refusals", s.refusals)
        if refusals is not None:
            c = CounterMetricFamily(
                f"{p}_risk_refusals", "orders refused by pre-trade risk", labels=["reason"]
            )
            for reason, n in sorted(refusals.items()):
                c.add_metric([str(reason)], float(n))
            yield c
        feeds = self._call("feeds", s.feeds)
        if feeds is not None:
            g = GaugeMetricFamily(
                f"{p}_feed_ready", "1 when the feed is live and fresh, else 0", labels=["feed"]
            )
            for feed, ready in sorted(feeds.items()):
                g.add_metric([str(feed)], 1.0 if ready else 0.0)
            yield g
        recorder = self._call("latency", s.latency)
        if isinstance(recorder, StageRecorder):
            yield from self._latency(recorder)
        errors = CounterMetricFamily(
            f"{p}_monitor_source_errors",
            "scrapes where a monitor source raised, by source",
            labels=["source"],
        )
        for source, n in sorted(self.source_errors.items()):
            errors.add_metric([source], float(n))
        yield errors

    def _instruments(self, items: Sequence[InstrumentRow]) -> Iterator[Metric]:
        p, labels = self.p, ["venue", "symbol"]
        position = GaugeMetricFamily(
            f"{p}_position_base", "net position in base units", labels=labels
        )
        realized = GaugeMetricFamily(
            f"{p}_pnl_realized_quote", "realized PnL in quote units", labels=labels
        )
        unrealized = GaugeMetricFamily(
            f"{p}_pnl_unrealized_quote", "unrealized PnL at mid in quote units", labels=labels
        )
        fees = GaugeMetricFamily(f"{p}_fees_quote", "fees paid in quote units", labels=labels)
        open_orders = GaugeMetricFamily(
            f"{p}_open_orders", "orders working at the venue", labels=labels
        )
        fills = CounterMetricFamily(f"{p}_fills", "fills received", labels=labels)
        for item in items:
            r = _row(item)
            key = [r.venue, r.symbol]
            position.add_metric(key, _num(r.position))
            realized.add_metric(key, _num(r.realized_pnl))
            unrealized.add_metric(key, _num(r.unrealized_pnl))
            fees.add_metric(key, _num(r.fees))
            open_orders.add_metric(key, float(r.open_orders))
            fills.add_metric(key, float(r.fills))
        yield from (position, realized, unrealized, fees, open_orders, fills)

    def _latency(self, recorder: StageRecorder) -> Iterator[Metric]:
        h = HistogramMetricFamily(
            f"{self.p}_tick_to_trade_seconds",
            "hot-path latency per stage (total = tick received to order sent)",
            labels=["stage"],
        )
        for stage, hist in recorder.histograms.items():
            # the HDR histogram keeps no exact sum: mean * count is exact to float rounding
            total_s = hist.mean * hist.count / 1e9 if hist.count else 0.0
            h.add_metric([stage], latency_buckets(hist.buckets()), sum_value=total_s)
        yield h


class _ProcessCollector(Collector):
    """CPU seconds and RSS of this process via psutil (portable, unlike /proc parsing)."""

    def __init__(self, prefix: str, pid: int | None = None) -> None:
        self.p = prefix
        self.process = psutil.Process(pid if pid is not None else os.getpid())

    def collect(self) -> Iterator[Metric]:
        with self.process.oneshot():
            cpu = self.process.cpu_times()
            rss = self.process.memory_info().rss
        c = CounterMetricFamily(
            f"{self.p}_process_cpu_seconds", "process CPU time in seconds", labels=["mode"]
        )
        c.add_metric(["user"], cpu.user)
        c.add_metric(["system"], cpu.system)
        yield c
        yield GaugeMetricFamily(
            f"{self.p}_process_resident_memory_bytes", "resident set size in bytes", value=rss
        )


class EngineMetrics:
    """The engine's metrics on a registry of its own.

    `render()` is what /metrics serves. The loop-lag probe is a task started by
    `start_loop_probe()` on the running loop and ended by `stop_loop_probe()` (idempotent).
    """

    def __init__(
        self, sources: Sources | None = None, *, prefix: str = PREFIX, probe_interval: float = 0.1
    ) -> None:
        if probe_interval <= 0 or not math.isfinite(probe_interval):
            raise ValueError(f"probe_interval must be > 0 seconds, got {probe_interval}")
        self.sources = sources if sources is not None else Sources()
        self.registry = CollectorRegistry(auto_describe=False)
        self.probe_interval = probe_interval
        self.loop_lag = Histogram(
            f"{prefix}_event_loop_lag_seconds",
            "how late a 1 ms sleep wakes up, in seconds",
            buckets=LOOP_LAG_BUCKETS,
            registry=self.registry,
        )
        self._sources_collector = _SourcesCollector(self.sources, prefix)
        self.registry.register(_ProcessCollector(prefix))
        self.registry.register(self._sources_collector)
        self._probe: asyncio.Task[None] | None = None
        self.loop_lag_samples = 0

    def render(self) -> bytes:
        return generate_latest(self.registry)

    @property
    def probing(self) -> bool:
        return self._probe is not None and not self._probe.done()

    def start_loop_probe(self) -> None:
        if self.probing:
            return
        self._probe = asyncio.get_running_loop().create_task(
            self._probe_loop(), name="monitor-loop-lag"
        )

    async def stop_loop_probe(self) -> None:
        task, self._probe = self._probe, None
        if task is None:
            return
        task.cancel()
        # wait() raises nothing of the task's, yet our own caller's cancellation still propagates
        await asyncio.wait([task])

    async def _probe_loop(self) -> None:
        sleep = 0.001
        rest = max(self.probe_interval - sleep, 0.0)
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(sleep)
            self.loop_lag.observe(max(time.perf_counter() - t0 - sleep, 0.0))
            self.loop_lag_samples += 1
            if rest:
                await asyncio.sleep(rest)
