"""The venue-neutral half of a market-data feed: books, their readiness, events and taps.

A venue feed (engine/gateway/<venue>/feed.py) knows its venue's messages and sync rules; it
subclasses `BookFeed` and calls `apply`/`load`/`mark_not_ready`/`publish_*` here. This half
guarantees, for every venue alike:

- a book is `ready` only between a successful sync and the next fault; every change of
  readiness is told to the strategy (`on_feed_status`), so quotes are pulled from a book
  that is resyncing instead of being left on a stale one;
- `on_close` of the connection marks every book of that connection not ready;
- events reach the dispatcher synchronously, in the frame's own loop iteration;
- a slow consumer (storage, cache) reads a bounded tap that drops its oldest entries rather
  than ever blocking the feed, and counts what it dropped.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from engine._core.book import OrderBook
from engine.clock import NS_PER_SECOND, Clock, LiveClock
from engine.component import Component
from engine.events import EventHandler, FeedStatus
from engine.gateway.ws import WsConnection, WsCounters, WsOptions
from engine.model.instrument import Instrument

# Delays between attempts to fetch a REST book snapshot (the last one repeats).
SNAPSHOT_RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True, slots=True)
class FeedOptions:
    book_capacity: int = 1000  # levels kept per side
    tap_capacity: int = 10_000  # entries a slow consumer may lag behind
    ws: WsOptions = field(default_factory=WsOptions)


class Tap:
    """Bounded hand-off to slow consumers: append never blocks, the oldest entry goes."""

    def __init__(self, capacity: int) -> None:
        self._items: collections.deque[Any] = collections.deque(maxlen=capacity)
        self.dropped = 0

    def append(self, item: Any) -> None:
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(item)

    def drain(self) -> list[Any]:
        items = list(self._items)
        self._items.clear()
        return items

    def __len__(self) -> int:
        return len(self._items)


class BookFeed(Component):
    """Books of one venue connection and the bookkeeping every venue shares."""

    venue = "venue"

    def __init__(
        self,
        instruments: Iterable[Instrument],
        events: EventHandler,
        *,
        clock: Clock | None = None,
        options: FeedOptions | None = None,
    ) -> None:
        super().__init__(name=f"feed.{self.venue}")
        self.options = options or FeedOptions()
        self.clock: Clock = clock or LiveClock()
        self.events = events
        self.instruments = {inst.symbol: inst for inst in instruments}
        self.books = {s: OrderBook(self.options.book_capacity) for s in self.instruments}
        self.ready = dict.fromkeys(self.instruments, False)
        self.tap = Tap(self.options.tap_capacity)
        self.conn: WsConnection | None = None
        self._last_warning_ns: dict[str, int] = {}
        self.suppressed_warnings = 0

    @property
    def counters(self) -> WsCounters:
        if self.conn is None:
            return WsCounters()
        return self.conn.counters

    def instrument_id(self, symbol: str) -> str:
        return self.instruments[symbol].instrument_id

    # -- readiness ------------------------------------------------------------------------

    def mark_ready(self, symbol: str, reason: str) -> None:
        if not self.ready[symbol]:
            self.ready[symbol] = True
            self._status(symbol, True, reason)

    def mark_not_ready(self, symbol: str, reason: str) -> None:
        if self.ready[symbol]:
            self.ready[symbol] = False
            self._status(symbol, False, reason)

    def mark_all_not_ready(self, reason: str) -> None:
        for symbol in self.instruments:
            self.mark_not_ready(symbol, reason)

    def _status(self, symbol: str, ready: bool, reason: str) -> None:
        status = FeedStatus(self.instrument_id(symbol), ready, reason, self.clock.time_ns())
        self.tap.append(status)
        self.events.on_feed_status(status)
        log = self.log.info if ready else self.log.warning
        state = "ready" if ready else "not ready"
        log("book %s", state, extra={"symbol": symbol, "reason": reason})

    def warn_burst(self, key: str, message: str, *args: object) -> None:
        """Log once per burst (at most once a second per key): a flood of bad frames must not
        become a flood of log lines on the event loop."""
        now = self.clock.monotonic_ns()
        if now - self._last_warning_ns.get(key, -(10**18)) < NS_PER_SECOND:
            self.suppressed_warnings += 1
            return
        self._last_warning_ns[key] = now
        self.log.warning(message, *args)

    # -- events ---------------------------------------------------------------------------

    def publish_book(self, symbol: str, timestamp_ns: int) -> None:
        self.events.on_book(self.instrument_id(symbol), self.books[symbol], timestamp_ns)

    # -- REST snapshots (venues that sync diffs against one) ------------------------------

    async def get_snapshot(
        self, http: aiohttp.ClientSession, url: str, params: dict[str, str], symbol: str
    ) -> bytes | None:
        """One GET of a book snapshot; None (and a warning) on any HTTP or network error."""
        try:
            async with http.get(url, params=params) as reply:
                body = await reply.read()
                if reply.status != 200:
                    excerpt = body[:200].decode(errors="replace")
                    self.warn_burst(
                        f"snapshot:{symbol}",
                        "%s %s snapshot: HTTP %d %s",
                        self.venue,
                        symbol,
                        reply.status,
                        excerpt,
                    )
                    return None
                return body
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.warn_burst(
                f"snapshot:{symbol}", "%s %s snapshot failed: %r", self.venue, symbol, exc
            )
            return None

    async def fetch_snapshot_until(
        self,
        http: aiohttp.ClientSession,
        url: str,
        params: dict[str, str],
        symbol: str,
        *,
        apply: Callable[[bytes], bool],
        synced: Callable[[], bool],
    ) -> None:
        """Fetch and `apply` snapshots, backing off, until one applies or `synced()`."""
        attempt = 0
        while True:
            body = await self.get_snapshot(http, url, params, symbol)
            if (body is not None and apply(body)) or synced():
                return
            delay = SNAPSHOT_RETRY_S[min(attempt, len(SNAPSHOT_RETRY_S) - 1)]
            attempt += 1
            await self.clock.sleep_ns(int(delay * NS_PER_SECOND))

    # -- connection hooks shared by the venues --------------------------------------------

    def on_close(self, reason: str) -> None:
        self.mark_all_not_ready(f"disconnected: {reason}")

    def keepalive(self, conn: WsConnection) -> None:
        """No application-level ping by default (Binance uses protocol pings)."""
