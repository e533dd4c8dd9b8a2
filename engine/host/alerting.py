"""What the alert engine reads and may do (docs/ALERTS.md), from where it lives: the strategy
host (risk, orders, latency, rate limiters) and the feeds. Read once per evaluation, never on
the hot path; every action answers False when it could not act, so the alert retries and
escalates. A venue's trading session is restarted by the trading component
(`TradingComponent.restart`, engine/oms/trading.py), never by reaching into its adapter."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from engine.alerts import Actions, Signals
from engine.clock import NS_PER_SECOND, Clock
from engine.data.feed import BookFeed
from engine.host.component import StrategyHost
from engine.risk.halt import SOURCE_ALERT

Feeds = Callable[[], Sequence[BookFeed]]


class _Connection(Protocol):
    """What alerts use of a feed's WsConnection (engine/gateway/ws.py)."""

    @property
    def last_message_ns(self) -> int: ...

    @property
    def stats(self) -> Any: ...

    def reconnect(self, reason: str) -> None: ...


def _connections(feed: BookFeed) -> dict[str, _Connection]:
    """symbol -> the connection carrying it (every venue feed has `connection_of`)."""
    connection_of = getattr(feed, "connection_of", None)
    if connection_of is None:
        return {}
    out: dict[str, _Connection] = {}
    for symbol in feed.instruments:
        conn = connection_of(symbol)
        if conn is not None:
            out[symbol] = conn
    return out


def alert_signals(host: StrategyHost, feeds: Feeds, clock: Clock) -> Signals:
    def daily_pnl() -> Decimal:
        risk = host.risk
        if risk is None:
            return Decimal(0)
        _, _, equity, day_start, _ = risk.core.pnl()
        return Decimal(equity - day_start).scaleb(-risk.pnl_exp)

    def feed_ready() -> dict[str, bool]:
        return {f.instrument_id(s): ready for f in feeds() for s, ready in f.ready.items()}

    def feed_age_s() -> dict[str, float]:
        now = clock.monotonic_ns()  # the connections stamp frames on the engine clock
        return {
            feed.instrument_id(symbol): (now - conn.last_message_ns) / NS_PER_SECOND
            for feed in feeds()
            for symbol, conn in _connections(feed).items()
            if conn.last_message_ns > 0  # never connected: the not-ready time says it
        }

    def orders() -> tuple[int, int]:
        oms = host.trading.manager
        return (0, 0) if oms is None else (oms.counters.requests, oms.counters.rejected)

    def rate_limit_usage() -> dict[str, float]:
        out = {}
        for venue, adapter in host.trading.adapters.items():
            limiter = adapter.limiter
            now = limiter.clock.monotonic_ns()
            shares = [0.0]
            for bucket in limiter.buckets.values():
                bucket.wait_ns(0, now)  # moves the window on to now, as a request would
                shares.append(1.0 if bucket.blocked(now) else bucket.used / bucket.capacity)
            out[venue] = max(shares)
        return out

    def messages() -> int:
        seen: dict[int, int] = {}  # a connection carrying several books counted once
        for feed in feeds():
            for conn in _connections(feed).values():
                seen[id(conn)] = conn.stats.messages
        return sum(seen.values())

    return Signals(
        daily_pnl=daily_pnl,
        feed_ready=feed_ready,
        feed_age_s=feed_age_s,
        orders=orders,
        latency=host.latency.total.buckets,
        rate_limit_usage=rate_limit_usage,
        messages=messages,
    )


def alert_actions(host: StrategyHost, feeds: Feeds) -> Actions:
    def find(key: str) -> tuple[BookFeed, str] | None:
        venue, _, symbol = key.partition(":")
        for feed in feeds():
            if feed.venue == venue and symbol in feed.instruments:
                return feed, symbol
        return None

    def reconnect_feed(key: str) -> bool:
        found = find(key)
        conn = _connections(found[0]).get(found[1]) if found is not None else None
        if conn is None:
            return False
        conn.reconnect("alert: feed stale")  # on_open resyncs every book it carries
        return True

    def resync_book(key: str) -> bool:
        found = find(key)
        sync_of = getattr(found[0], "sync_of", None) if found is not None else None
        if found is None or sync_of is None:
            return False
        sync, index = sync_of(found[1])
        sync.resync(index, "alert: feed stale")
        return True

    def pause(reason: str) -> bool:
        return host.pause(reason) or host.paused  # already paused is fine

    def emergency_stop(reason: str) -> bool:
        host.emergency_stop(reason, SOURCE_ALERT)
        return True

    async def restart_venue(venue: str) -> bool:
        """The venue's feed connections reconnect (each resyncs its books) and its trading
        session restarts (TradingComponent.restart); the answer is the session's. A venue
        that does not trade answers whether it had a feed connection to reconnect."""
        reconnected = 0
        for conn in _venue_connections(feeds(), venue):
            conn.reconnect("alert: restart venue")
            reconnected += 1
        if venue in host.trading.adapters:
            return await host.trading.restart(venue)
        return reconnected > 0

    return Actions(
        pause=pause,
        emergency_stop=emergency_stop,
        reconnect_feed=reconnect_feed,
        resync_book=resync_book,
        restart_venue=restart_venue,
    )


def _venue_connections(feeds: Sequence[BookFeed], venue: str) -> list[_Connection]:
    """Every feed connection of `venue`, each once (one connection carries many books)."""
    seen: dict[int, _Connection] = {}
    for feed in feeds:
        if feed.venue == venue:
            for conn in _connections(feed).values():
                seen[id(conn)] = conn
    return list(seen.values())
