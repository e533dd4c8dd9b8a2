"""The monitor's detailed figures (docs/MONITORING.md): feed connections and books, orders,
rate limits, risk limit usage and inventory, read from where they live at scrape time only.

`add_metric_sources` fills the `Sources` fields the first slice left empty (and the venue
round trips); `alert_metrics` reads the alert figures from the alerts component's status;
`with_quotes` adds our best prices and each book's feed state to the status document (the
status page shows them). Nothing here changes the engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from engine._core.latency import Histogram
from engine._core.risk import NO_LIMIT
from engine.data.feed import BookFeed
from engine.host.component import StrategyHost
from engine.monitor.metrics import (
    AlertMetrics,
    BookMetrics,
    ConnectionMetrics,
    InventoryMetrics,
    LimitUsage,
    OrderMetrics,
    RateLimitMetrics,
    Sources,
)
from engine.oms.states import STATUS_OF_CODE

Feeds = Callable[[], Sequence[BookFeed]]
StatusFn = Callable[[], dict[str, Any]]


def add_metric_sources(sources: Sources, host: StrategyHost, feeds: Feeds) -> None:
    """Fill `sources`' feed, order, rate-limit, risk-usage and inventory readers."""
    sources.connections = lambda: connections(feeds())
    sources.books = lambda: books(feeds())
    sources.orders = lambda: orders(host)
    sources.rejects = lambda: rejects(host)
    sources.rate_limits = lambda: rate_limits(host)
    sources.limits = lambda: limit_usage(host)
    sources.inventory = lambda: inventory(host)
    sources.round_trips = lambda: round_trips(host)


def alert_metrics(status: Mapping[str, Any]) -> AlertMetrics:
    """The monitor's alert figures from `AlertsComponent.status()`: the alerts firing now,
    the alert engine's counters and the notifier's (per sink: sent, failed, timeout)."""
    counters = status.get("counters", {})
    notes = status.get("notifications", {})
    return AlertMetrics(
        firing=[(str(a["rule"]), str(a["subject"])) for a in status.get("active", ())],
        events={
            "fired": counters.get("fired", 0),
            "resolved": counters.get("resolved", 0),
            "escalated": counters.get("escalations", 0),
        },
        evaluations=counters.get("evaluations", 0),
        errors={"signal": counters.get("signal_errors", 0), "rule": counters.get("rule_errors", 0)},
        notifications={
            "queued": notes.get("queued", 0),
            "below_severity": notes.get("below_severity", 0),
            "held": notes.get("held", 0),
            "dropped": notes.get("dropped", 0),
        },
        deliveries={
            (str(sink), "timeout" if name == "timeouts" else name): n
            for sink, by_outcome in notes.get("sinks", {}).items()
            for name, n in by_outcome.items()
        },
    )


def round_trips(host: StrategyHost) -> dict[str, Histogram]:
    """Per venue, the order manager's request -> answer histogram (empty before trading)."""
    oms = host.trading.manager
    return dict(oms.round_trips) if oms is not None else {}


def connections(feeds: Sequence[BookFeed]) -> list[ConnectionMetrics]:
    out = []
    for feed in feeds:
        connection_of = getattr(feed, "connection_of", None)  # every venue feed has one
        if connection_of is None:
            continue
        seen: set[int] = set()
        for symbol in feed.instruments:
            conn = connection_of(symbol)
            if conn is None or id(conn) in seen:  # many symbols share one connection
                continue
            seen.add(id(conn))
            c = conn.counters
            out.append(
                ConnectionMetrics(
                    feed.venue, conn.name, conn.connected, conn.stats.messages,
                    conn.stats.bytes, c.connects, c.reconnects, c.connect_failures, c.stale,
                    c.rotations,
                )
            )  # fmt: skip
    return out


def books(feeds: Sequence[BookFeed]) -> list[BookMetrics]:
    out = []
    for feed in feeds:
        for symbol, book in feed.books.items():
            exchange_ns, recv_ns = book.exchange_ts_ns, book.recv_ts_ns
            lag = (recv_ns - exchange_ns) / 1e9 if exchange_ns > 0 and recv_ns > 0 else None
            out.append(BookMetrics(feed.venue, symbol, feed.counters[symbol].as_dict(), lag))
    return out


def _traded(host: StrategyHost) -> list[int]:
    oms = host.trading.manager
    if oms is None or host.view is None:
        return []
    traded = host.risk.traded if host.risk is not None else range(len(oms.instruments))
    return sorted(traded)


def _mid_x2(host: StrategyHost, index: int) -> int:
    """Twice the book's mid in ticks (exact), 0 without a ready book."""
    view = host.view
    book = view.book(index) if view is not None else None
    return book.mid_x2() if book is not None else 0


def _mid(host: StrategyHost, index: int) -> Decimal | None:
    mid_x2 = _mid_x2(host, index)
    if mid_x2 <= 0 or host.view is None:
        return None
    return host.view.instruments[index].ticks_to_price(mid_x2) / 2


def _best_prices(host: StrategyHost, index: int) -> tuple[Decimal | None, Decimal | None]:
    """Our highest working buy and lowest working sell price."""
    view = host.view
    if view is None:
        return None, None
    buys = [o.price_ticks for o in view.open_orders(index) if o.side > 0]
    sells = [o.price_ticks for o in view.open_orders(index) if o.side < 0]
    inst = view.instruments[index]
    return (
        inst.ticks_to_price(max(buys)) if buys else None,
        inst.ticks_to_price(min(sells)) if sells else None,
    )


def orders(host: StrategyHost) -> list[OrderMetrics]:
    oms = host.trading.manager
    if oms is None:
        return []
    out = []
    for index in _traded(host):
        inst = oms.instruments[index]
        updates = {
            STATUS_OF_CODE[code].value: n
            for code, n in enumerate(oms.updates[index])
            if n and code in STATUS_OF_CODE
        }
        bid, ask = _best_prices(host, index)
        out.append(OrderMetrics(inst.venue, inst.symbol, updates, bid, ask, _mid(host, index)))
    return out


def _snake(name: str) -> str:
    """PostOnlyWouldCross -> post_only_would_cross (a bounded label: one per error class)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def rejects(host: StrategyHost) -> dict[tuple[str, str], int]:
    oms = host.trading.manager
    if oms is None:
        return {}
    out: dict[tuple[str, str], int] = {}
    for (venue, error), n in oms.rejects.items():
        key = (venue, _snake(error))
        out[key] = out.get(key, 0) + n
    return out


def rate_limits(host: StrategyHost) -> list[RateLimitMetrics]:
    out = []
    for venue, adapter in sorted(host.trading.adapters.items()):
        limiter = adapter.limiter
        now = limiter.clock.monotonic_ns()
        buckets = {}
        for name, bucket in limiter.buckets.items():
            # moves the window on to now (what the next request would do): `used` is then
            # what is spent in the last window, not what was spent at the last request
            bucket.wait_ns(0, now)
            buckets[name] = (bucket.used, bucket.capacity)
        out.append(RateLimitMetrics(venue, buckets, limiter.counters()))
    return out


def limit_usage(host: StrategyHost) -> list[LimitUsage]:
    """Position, open orders and exposure per instrument; daily loss and drawdown for the
    engine, each against its limit as the risk core holds it (a limit that is off: left out)."""
    risk = host.risk
    if risk is None:
        return []
    core = risk.core
    out = []
    for index in sorted(risk.traded):
        inst = risk.instruments[index]
        _, position, _, _, open_orders, exposure, _ = core.instrument(index)
        limits = core.limits(index)
        max_lots = limits.max_long_lots if position >= 0 else limits.max_short_lots
        for name, used, maximum in (
            ("position", abs(position), max_lots),
            ("open_orders", open_orders, limits.max_open_orders),
            ("exposure", exposure, limits.max_exposure),
        ):
            if maximum != NO_LIMIT:
                out.append(LimitUsage(name, used, maximum, inst.venue, inst.symbol))
    _, _, equity, day_start, day_peak = core.pnl()
    limits_all = core.global_limits()
    for name, used, maximum in (
        ("daily_loss", max(day_start - equity, 0), limits_all.daily_loss_limit),
        ("drawdown", max(day_peak - equity, 0), limits_all.max_drawdown),
    ):
        if maximum != NO_LIMIT:
            out.append(LimitUsage(name, used, maximum))
    return out


def inventory(host: StrategyHost) -> list[InventoryMetrics]:
    """Inventory at the mid; capital = risk.max_position at the mid (the engine reads no
    balances: the most inventory it may hold is the capital it puts at risk)."""
    oms, risk = host.trading.manager, host.risk
    if oms is None:
        return []
    out = []
    for index in _traded(host):
        mid = _mid(host, index)
        if mid is None:
            continue
        inst = oms.instruments[index]
        position = oms.positions[index]
        value = inst.lots_to_qty(position.qty) * mid
        capital = risk.config.max_position * mid if risk is not None else Decimal(0)
        # the status line's figures: unrealized at the mid rounded down to a tick
        units = position.realized + position.unrealized(_mid_x2(host, index) // 2)
        pnl = inst.notional_to_decimal(units)
        share = value / capital if capital > 0 else None
        roc = pnl / capital if capital > 0 else None
        out.append(InventoryMetrics(inst.venue, inst.symbol, value, share, roc))
    return out


def with_quotes(status: StatusFn, host: StrategyHost, feeds: Feeds) -> StatusFn:
    """`status` with, per symbol, our best bid and ask ("" when none) and the book's feed
    state ("ready" / "not ready"): what the status page shows next to the position."""

    def enriched() -> dict[str, Any]:
        doc = status()
        view = host.view
        if view is None or "symbols" not in doc:
            return doc
        index = {inst.instrument_id: n for n, inst in enumerate(view.instruments)}
        ready = {
            feed.instrument_id(symbol): ok for feed in feeds() for symbol, ok in feed.ready.items()
        }
        symbols = []
        for row in doc["symbols"]:
            n = index.get(row.get("instrument", ""))
            bid, ask = _best_prices(host, n) if n is not None else (None, None)
            feed = ready.get(row.get("instrument", ""))
            symbols.append(
                {
                    **row,
                    "bid": format(bid, "f") if bid is not None else "",
                    "ask": format(ask, "f") if ask is not None else "",
                    "feed": "" if feed is None else ("ready" if feed else "not ready"),
                }
            )
        return {**doc, "symbols": symbols}

    return enriched
