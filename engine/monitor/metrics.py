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
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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

from engine._core.latency import Histogram as LatencyHistogram
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

# venue round trip, in seconds: tens of µs resolve a venue on loopback or in the same rack,
# seconds an overloaded one; +Inf is added by the exposition
ROUND_TRIP_BUCKETS: tuple[float, ...] = (
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
    2.5,
    5.0,
)

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


@dataclass(frozen=True, slots=True)
class ConnectionMetrics:
    """One feed connection (one WebSocket, many symbols): its transport counters."""

    venue: str
    connection: str
    connected: bool = False
    messages: int = 0
    bytes: int = 0
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    stale: int = 0
    rotations: int = 0


@dataclass(frozen=True, slots=True)
class BookMetrics:
    """One book of a feed: what the feed counted against it (`FeedCounters` by name) and
    the receive time minus the exchange time of the last frame that changed it."""

    venue: str
    symbol: str
    counters: Mapping[str, int] = field(default_factory=dict)
    exchange_lag_s: float | None = None


@dataclass(frozen=True, slots=True)
class OrderMetrics:
    """One instrument's orders: updates told to the strategy by status (lower-case name),
    our best working buy and sell prices, and the book's mid (None: none)."""

    venue: str
    symbol: str
    updates: Mapping[str, int] = field(default_factory=dict)
    best_bid: Decimal | float | None = None
    best_ask: Decimal | float | None = None
    mid: Decimal | float | None = None


@dataclass(frozen=True, slots=True)
class RateLimitMetrics:
    """One venue's request budgets: bucket -> (tokens used in its window, capacity), and
    its limiter's counters (throttled, refused, waited, blocked)."""

    venue: str
    buckets: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    events: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LimitUsage:
    """How much of one risk limit is used; venue and symbol are "" for an engine-wide one."""

    limit: str
    used: Decimal | float
    maximum: Decimal | float
    venue: str = ""
    symbol: str = ""


@dataclass(frozen=True, slots=True)
class InventoryMetrics:
    """One instrument's inventory at the mid: its value (quote), its share of the capital
    and the return on that capital (ratios; None when there is no capital to divide by)."""

    venue: str
    symbol: str
    value: Decimal | float
    share: Decimal | float | None = None
    return_on_capital: Decimal | float | None = None


@dataclass(frozen=True, slots=True)
class AlertMetrics:
    """The alert engine and its notifier at scrape time: the alerts firing now as
    (rule, subject), transitions by event (fired, resolved, escalated), evaluations and
    evaluation errors by source (signal, rule), notifications by outcome (queued,
    below_severity, held, dropped) and deliveries by (sink, outcome) (sent, failed, timeout).
    Counts are cumulative since the engine started."""

    firing: Sequence[tuple[str, str]] = ()
    events: Mapping[str, int] = field(default_factory=dict)
    evaluations: int = 0
    errors: Mapping[str, int] = field(default_factory=dict)
    notifications: Mapping[str, int] = field(default_factory=dict)
    deliveries: Mapping[tuple[str, str], int] = field(default_factory=dict)


@dataclass(slots=True)
class Sources:
    """What the engine lets the monitor read; each is called once per scrape, any may be None.

    instruments: one `InstrumentMetrics` (or a mapping with its field names) per instrument.
    oms_counters: {"orders_sent": n, ...}, each exposed as `hft_oms_<name>_total`.
    risk_state: "ACTIVE" | "REDUCING" | "HALTED" (case-insensitive).
    refusals: risk refusals by reason, {"notional": n, ...}.
    feeds: readiness per feed, {"binance:BTCUSDT": True, ...}.
    latency: the hot path's StageRecorder, or None when latency is not recorded.
    connections, books: feed transport and per-book counters.
    orders: order updates by status, our best prices and the mid, per instrument.
    rejects: new orders the venue refused, {(venue, reason): n}.
    rate_limits: request budgets per venue.
    limits: risk limit usage.
    inventory: inventory value, share and return on capital per instrument.
    round_trips: per venue, the HDR histogram of request -> answer times (ns).
    alerts: the alert engine's figures (None, or no source: alerts are off, no families).
    A source that raises is skipped for that scrape (`hft_monitor_source_errors_total` counts
    it): a broken reader must not take /metrics down.
    """

    instruments: Callable[[], Sequence[InstrumentRow]] | None = None
    oms_counters: Callable[[], Mapping[str, int]] | None = None
    risk_state: Callable[[], str] | None = None
    refusals: Callable[[], Mapping[str, int]] | None = None
    feeds: Callable[[], Mapping[str, bool]] | None = None
    latency: Callable[[], StageRecorder | None] | None = None
    connections: Callable[[], Sequence[ConnectionMetrics]] | None = None
    books: Callable[[], Sequence[BookMetrics]] | None = None
    orders: Callable[[], Sequence[OrderMetrics]] | None = None
    rejects: Callable[[], Mapping[tuple[str, str], int]] | None = None
    rate_limits: Callable[[], Sequence[RateLimitMetrics]] | None = None
    limits: Callable[[], Sequence[LimitUsage]] | None = None
    inventory: Callable[[], Sequence[InventoryMetrics]] | None = None
    round_trips: Callable[[], Mapping[str, LatencyHistogram]] | None = None
    alerts: Callable[[], AlertMetrics | None] | None = None


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
        connections = self._call("connections", s.connections)
        if connections is not None:
            yield from _connections(p, connections)
        books = self._call("books", s.books)
        if books is not None:
            yield from _books(p, books)
        orders = self._call("orders", s.orders)
        if orders is not None:
            yield from _orders(p, orders)
        rejects = self._call("rejects", s.rejects)
        if rejects is not None:
            c = CounterMetricFamily(
                f"{p}_order_rejects", "new orders the venue refused", labels=["venue", "reason"]
            )
            for (venue, reason), n in sorted(rejects.items()):
                c.add_metric([venue, reason], float(n))
            yield c
        rate_limits = self._call("rate_limits", s.rate_limits)
        if rate_limits is not None:
            yield from _rate_limits(p, rate_limits)
        limits = self._call("limits", s.limits)
        if limits is not None:
            yield from _limit_usage(p, limits)
        inventory = self._call("inventory", s.inventory)
        if inventory is not None:
            yield from _inventory(p, inventory)
        round_trips = self._call("round_trips", s.round_trips)
        if round_trips is not None:
            yield _round_trips(p, round_trips)
        alerts = self._call("alerts", s.alerts)
        if alerts is not None:
            yield from _alerts(p, alerts)
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
            h.add_metric([stage], latency_buckets(hist.buckets()), sum_value=_hdr_sum_s(hist))
        yield h


def _hdr_sum_s(hist: LatencyHistogram) -> float:
    """The HDR histogram keeps no exact sum: mean * count is exact to float rounding."""
    return hist.mean * hist.count / 1e9 if hist.count else 0.0


def _round_trips(p: str, histograms: Mapping[str, LatencyHistogram]) -> Metric:
    h = HistogramMetricFamily(
        f"{p}_venue_round_trip_seconds",
        "order request handed to the venue's trading session -> its answer, per venue",
        labels=["venue"],
    )
    for venue, hist in sorted(histograms.items()):
        buckets = latency_buckets(hist.buckets(), ROUND_TRIP_BUCKETS)
        h.add_metric([venue], buckets, sum_value=_hdr_sum_s(hist))
    return h


# ConnectionMetrics counter fields -> (metric name part, help)
_CONNECTION_COUNTERS = (
    ("messages", "feed_messages", "text and binary frames received"),
    ("bytes", "feed_received_bytes", "payload bytes received"),
    ("connects", "feed_connects", "sockets opened"),
    ("reconnects", "feed_reconnects", "sockets lost and opened again"),
    ("connect_failures", "feed_connect_failures", "connection attempts that failed"),
    ("stale", "feed_stale", "sockets dropped for silence (stale_after_s without a frame)"),
    ("rotations", "feed_rotations", "sockets replaced before the venue's lifetime cut"),
)


def _connections(p: str, rows: Sequence[ConnectionMetrics]) -> Iterator[Metric]:
    labels = ["venue", "connection"]
    families = [
        (attr, CounterMetricFamily(f"{p}_{name}", text, labels=labels))
        for attr, name, text in _CONNECTION_COUNTERS
    ]
    up = GaugeMetricFamily(f"{p}_feed_connected", "1 while the socket is open", labels=labels)
    for r in rows:
        key = [r.venue, r.connection]
        for attr, family in families:
            family.add_metric(key, float(getattr(r, attr)))
        up.add_metric(key, 1.0 if r.connected else 0.0)
    yield from (family for _, family in families)
    yield up


def _books(p: str, rows: Sequence[BookMetrics]) -> Iterator[Metric]:
    labels = ["venue", "symbol"]
    counters: dict[str, CounterMetricFamily] = {}
    lag = GaugeMetricFamily(
        f"{p}_feed_exchange_lag_seconds",
        "receive time minus exchange time of the last frame that changed the book",
        labels=labels,
    )
    for r in rows:
        key = [r.venue, r.symbol]
        for name, n in sorted(r.counters.items()):
            part = _metric_part(name)
            family = counters.get(part)
            if family is None:
                family = counters[part] = CounterMetricFamily(
                    f"{p}_feed_book_{part}", f"feed book counter {name}", labels=labels
                )
            family.add_metric(key, float(n))
        if r.exchange_lag_s is not None:
            lag.add_metric(key, float(r.exchange_lag_s))
    yield from counters.values()
    yield lag


def _ratio(num: int, den: int) -> float | None:
    return num / den if den > 0 else None


def _orders(p: str, rows: Sequence[OrderMetrics]) -> Iterator[Metric]:
    labels = ["venue", "symbol"]
    updates = CounterMetricFamily(
        f"{p}_order_updates",
        "order updates told to the strategy, by status",
        labels=[*labels, "status"],
    )
    success = GaugeMetricFamily(
        f"{p}_order_success_ratio",
        "acknowledged / (acknowledged + rejected) new orders, since start",
        labels=labels,
    )
    fill = GaugeMetricFamily(
        f"{p}_order_fill_ratio",
        "orders that ended filled / orders that ended filled, canceled or expired, since start",
        labels=labels,
    )
    price = GaugeMetricFamily(
        f"{p}_order_best_price_quote",
        "our best working order price per side",
        labels=[*labels, "side"],
    )
    mid = GaugeMetricFamily(f"{p}_mid_price_quote", "the book's mid price", labels=labels)
    for r in rows:
        key = [r.venue, r.symbol]
        u = r.updates
        for status, n in sorted(u.items()):
            updates.add_metric([*key, status], float(n))
        ok = _ratio(u.get("new", 0), u.get("new", 0) + u.get("rejected", 0))
        if ok is not None:
            success.add_metric(key, ok)
        ended = u.get("filled", 0) + u.get("canceled", 0) + u.get("expired", 0)
        filled = _ratio(u.get("filled", 0), ended)
        if filled is not None:
            fill.add_metric(key, filled)
        for side, value in (("bid", r.best_bid), ("ask", r.best_ask)):
            if value is not None:
                price.add_metric([*key, side], _num(value))
        if r.mid is not None:
            mid.add_metric(key, _num(r.mid))
    yield from (updates, success, fill, price, mid)


def _rate_limits(p: str, rows: Sequence[RateLimitMetrics]) -> Iterator[Metric]:
    labels = ["venue", "bucket"]
    used = GaugeMetricFamily(
        f"{p}_rate_limit_used_tokens", "tokens spent in the bucket's window", labels=labels
    )
    capacity = GaugeMetricFamily(
        f"{p}_rate_limit_capacity_tokens",
        "tokens the bucket allows per window (the venue's limit times the safety share)",
        labels=labels,
    )
    usage = GaugeMetricFamily(
        f"{p}_rate_limit_usage_ratio", "used / capacity of the bucket", labels=labels
    )
    events = CounterMetricFamily(
        f"{p}_rate_limit_events",
        "requests throttled, refused locally, waited for tokens; 429/418 answers (blocked)",
        labels=["venue", "event"],
    )
    for r in rows:
        for bucket, (n, cap) in sorted(r.buckets.items()):
            key = [r.venue, bucket]
            used.add_metric(key, float(n))
            capacity.add_metric(key, float(cap))
            if cap > 0:
                usage.add_metric(key, n / cap)
        for event, n in sorted(r.events.items()):
            events.add_metric([r.venue, event], float(n))
    yield from (used, capacity, usage, events)


def _limit_usage(p: str, rows: Sequence[LimitUsage]) -> Iterator[Metric]:
    g = GaugeMetricFamily(
        f"{p}_risk_limit_usage_ratio",
        "used / maximum of a risk limit (venue and symbol empty: engine-wide)",
        labels=["limit", "venue", "symbol"],
    )
    for r in rows:
        maximum = _num(r.maximum)
        if maximum > 0:
            g.add_metric([r.limit, r.venue, r.symbol], _num(r.used) / maximum)
    yield g


def _inventory(p: str, rows: Sequence[InventoryMetrics]) -> Iterator[Metric]:
    labels = ["venue", "symbol"]
    value = GaugeMetricFamily(
        f"{p}_inventory_value_quote", "net position valued at the mid", labels=labels
    )
    share = GaugeMetricFamily(
        f"{p}_inventory_share_ratio",
        "inventory value / capital, signed (see docs/MONITORING.md for the capital)",
        labels=labels,
    )
    roc = GaugeMetricFamily(
        f"{p}_return_on_capital_ratio",
        "(realized + unrealized PnL) / capital (see docs/MONITORING.md)",
        labels=labels,
    )
    for r in rows:
        key = [r.venue, r.symbol]
        value.add_metric(key, _num(r.value))
        if r.share is not None:
            share.add_metric(key, _num(r.share))
        if r.return_on_capital is not None:
            roc.add_metric(key, _num(r.return_on_capital))
    yield from (value, share, roc)


ALERT_EVENTS = ("fired", "resolved", "escalated")
ALERT_ERRORS = ("signal", "rule")
NOTIFICATION_OUTCOMES = ("queued", "below_severity", "held", "dropped")
DELIVERY_OUTCOMES = ("sent", "failed", "timeout")


def _alerts(p: str, a: AlertMetrics) -> Iterator[Metric]:
    """The known events and outcomes are always there (0 until counted), so `rate()` and
    `increase()` see the first one; the firing gauge has one sample per alert firing now."""
    firing = GaugeMetricFamily(
        f"{p}_alerts_firing", "1 per alert firing now", labels=["rule", "subject"]
    )
    for rule, subject in sorted(set(a.firing)):
        firing.add_metric([rule, subject], 1.0)
    events = CounterMetricFamily(
        f"{p}_alert_events", "alert transitions: fired, resolved, escalated", labels=["event"]
    )
    for event in _keys(ALERT_EVENTS, a.events):
        events.add_metric([event], float(a.events.get(event, 0)))
    evaluations = CounterMetricFamily(
        f"{p}_alert_evaluations", "alert evaluations run", value=float(a.evaluations)
    )
    errors = CounterMetricFamily(
        f"{p}_alert_errors",
        "alert evaluation errors: a signal that raised, a rule that failed",
        labels=["source"],
    )
    for source in _keys(ALERT_ERRORS, a.errors):
        errors.add_metric([source], float(a.errors.get(source, 0)))
    notes = CounterMetricFamily(
        f"{p}_notifications",
        "notifications: queued for the sinks, below min_severity, held by storm control, "
        "dropped (queue full)",
        labels=["outcome"],
    )
    for outcome in _keys(NOTIFICATION_OUTCOMES, a.notifications):
        notes.add_metric([outcome], float(a.notifications.get(outcome, 0)))
    deliveries = CounterMetricFamily(
        f"{p}_notification_deliveries",
        "notifications handed to a sink: sent, failed, timeout",
        labels=["sink", "outcome"],
    )
    for (sink, outcome), n in sorted(a.deliveries.items()):
        deliveries.add_metric([sink, outcome], float(n))
    yield from (firing, events, evaluations, errors, notes, deliveries)


def _keys(known: Sequence[str], counted: Mapping[str, int]) -> list[str]:
    """The known keys in their order, then any other the source counted."""
    return [*known, *sorted(k for k in counted if k not in known)]


class _ProcessCollector(Collector):
    """This process via psutil (portable, unlike /proc parsing): CPU seconds, RSS, the CPU
    of named threads (matched by native thread id), disk I/O, and the host's network bytes
    (a process has no network counters of its own; the feeds count their own bytes)."""

    def __init__(self, prefix: str, pid: int | None = None) -> None:
        self.p = prefix
        self.process = psutil.Process(pid if pid is not None else os.getpid())
        self.threads: dict[str, int] = {}  # name -> native thread id, read at each scrape

    def collect(self) -> Iterator[Metric]:
        p = self.p
        with self.process.oneshot():
            cpu = self.process.cpu_times()
            rss = self.process.memory_info().rss
            threads = self.process.threads() if self.threads else []
            io = _io_counters(self.process)
        c = CounterMetricFamily(
            f"{p}_process_cpu_seconds", "process CPU time in seconds", labels=["mode"]
        )
        c.add_metric(["user"], cpu.user)
        c.add_metric(["system"], cpu.system)
        yield c
        yield GaugeMetricFamily(
            f"{p}_process_resident_memory_bytes", "resident set size in bytes", value=rss
        )
        t = CounterMetricFamily(
            f"{p}_thread_cpu_seconds",
            "CPU time of a named thread (event_loop: the hot thread)",
            labels=["thread", "mode"],
        )
        by_id = {th.id: th for th in threads}
        for name, native_id in sorted(self.threads.items()):
            th = by_id.get(native_id)
            if th is not None:
                t.add_metric([name, "user"], th.user_time)
                t.add_metric([name, "system"], th.system_time)
        yield t
        if io is not None:
            yield CounterMetricFamily(
                f"{p}_process_disk_read_bytes", "bytes read from storage", value=io[0]
            )
            yield CounterMetricFamily(
                f"{p}_process_disk_written_bytes", "bytes written to storage", value=io[1]
            )
        net = psutil.net_io_counters()
        if net is not None:
            yield CounterMetricFamily(
                f"{p}_host_network_sent_bytes",
                "bytes sent by every interface",
                value=net.bytes_sent,
            )
            yield CounterMetricFamily(
                f"{p}_host_network_received_bytes",
                "bytes received by every interface",
                value=net.bytes_recv,
            )


def _io_counters(process: psutil.Process) -> tuple[int, int] | None:
    """(read, written) storage bytes; None where the platform does not say (macOS)."""
    io_counters = getattr(process, "io_counters", None)
    if io_counters is None:
        return None
    try:
        io = io_counters()
    except psutil.Error:
        return None
    return int(io.read_bytes), int(io.write_bytes)


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
        self._process = _ProcessCollector(prefix)
        self.registry.register(self._process)
        self.registry.register(self._sources_collector)
        self._probe: asyncio.Task[None] | None = None
        self.loop_lag_samples = 0

    def render(self) -> bytes:
        return generate_latest(self.registry)

    @property
    def probing(self) -> bool:
        return self._probe is not None and not self._probe.done()

    def watch_thread(self, name: str, native_id: int | None = None) -> None:
        """Expose the CPU time of a thread (default: the calling one) under `name`."""
        self._process.threads[name] = threading.get_native_id() if native_id is None else native_id

    def start_loop_probe(self) -> None:
        """Start the lag probe; the calling thread runs the loop: it is the hot thread."""
        self.watch_thread("event_loop")
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
