"""The venue-neutral half of a market-data feed: books, their readiness, events and taps.

A venue feed (engine/gateway/<venue>/feed.py) owns its connections and knows its venue's
messages; the per-frame work is a Cython FrameHandler (engine/_core/frame_handler.pyx) and
this half acts on the statuses it returns (`on_status`). It guarantees, for every venue:

- a book is `ready` only between a successful sync and the next fault; every change of
  readiness is told to the strategy (`on_feed_status`), so quotes are pulled from a book
  that is resyncing instead of being left on a stale one;
- events reach the dispatcher synchronously, in the frame's own loop iteration;
- a slow consumer (storage, cache) reads a bounded tap that drops its oldest entries rather
  than ever blocking the feed, and counts what it dropped.

It knows no transport: the venue feed tells it about disconnects (`mark_all_not_ready`) and
hands it the frames the fast path did not finish.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine._core import frame_handler as fh
from engine._core.book import OrderBook
from engine._core.frame_handler import FrameHandler
from engine.clock import NS_PER_SECOND, Clock
from engine.component import Component
from engine.events import EventHandler, FeedStatus
from engine.model.instrument import Instrument


@dataclass(frozen=True, slots=True)
class FeedOptions:
    book_capacity: int = 1000  # levels kept per side
    tap_capacity: int = 10_000  # entries a slow consumer may lag behind


@dataclass(slots=True)
class FeedCounters:
    """What the feed did to one symbol's book (the transport counts its own)."""

    decode_errors: int = 0
    gaps: int = 0
    checksum_failures: int = 0
    crossed: int = 0
    resyncs: int = 0  # a live book sent back to syncing
    snapshots: int = 0  # whole books loaded (REST snapshot, OKX snapshot, Gate full push)
    stale_snapshots: int = 0  # REST snapshots older than the buffered diffs: fetched again
    on_book_errors: int = 0  # on_book raised (the transport counts its own handler_errors)
    duplicate_trades: int = 0  # trades dropped as already seen (a repeated frame, a reconnect)

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


# Why a stream left LIVE, by FrameHandler status (decoder statuses are "malformed").
_FAULTS = {
    fh.ERR_GAP: ("gaps", "sequence gap"),
    fh.ERR_CROSSED: ("crossed", "book crossed"),
    fh.ERR_CHECKSUM: ("checksum_failures", "checksum mismatch"),
}


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
    """Books of one venue and the bookkeeping every venue shares."""

    venue = "venue"

    def __init__(
        self,
        instruments: Iterable[Instrument],
        events: EventHandler,
        *,
        clock: Clock,
        options: FeedOptions | None = None,
    ) -> None:
        super().__init__(name=f"feed.{self.venue}")
        self.options = options or FeedOptions()
        self.clock = clock
        self.events = events
        self.instruments = {inst.symbol: inst for inst in instruments}
        self.books = {s: OrderBook(self.options.book_capacity) for s in self.instruments}
        self.ready = dict.fromkeys(self.instruments, False)
        self.counters = {s: FeedCounters() for s in self.instruments}
        self.tap = Tap(self.options.tap_capacity)
        # raw frames to files (engine/storage/recorder.py), set by the engine before start
        self.frame_recorder: Any = None
        self._last_warning_ns: dict[str, int] = {}
        self.suppressed_warnings = 0
        self._last_trade_id: dict[str, int] = {}

    def instrument_id(self, symbol: str) -> str:
        return self.instruments[symbol].instrument_id

    def counters_for(self, symbol: str) -> dict[str, int]:
        """The feed's counters of `symbol`, with those of the connection that carries it."""
        return {**self.connection_counters(symbol), **self.counters[symbol].as_dict()}

    def connection_counters(self, symbol: str) -> dict[str, int]:
        """Transport counters of the connection carrying `symbol` (the venue feed knows)."""
        del symbol
        return {}

    # -- readiness ------------------------------------------------------------------------

    def mark_ready(self, symbol: str, reason: str) -> None:
        if not self.ready[symbol]:
            self.ready[symbol] = True
            self._status(symbol, True, reason)

    def mark_not_ready(self, symbol: str, reason: str) -> None:
        if self.ready[symbol]:
            self.ready[symbol] = False
            self._status(symbol, False, reason)

    def mark_all_not_ready(self, reason: str, symbols: Iterable[str] | None = None) -> None:
        for symbol in self.instruments if symbols is None else symbols:
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

    def fresh_trade(self, symbol: str, trade_id: int) -> bool:
        """False for a trade already seen: the three venues number a symbol's trades in
        increasing order, so a repeated frame or a reconnect's replay is told by its id."""
        if trade_id <= self._last_trade_id.get(symbol, -1):
            self.counters[symbol].duplicate_trades += 1
            return False
        self._last_trade_id[symbol] = trade_id
        return True

    # -- the fast path's statuses ---------------------------------------------------------

    def fault_reason(self, symbol: str, status: int) -> str:
        """Count a negative status against `symbol` and say why, for the resync."""
        counters = self.counters[symbol]
        fault = _FAULTS.get(status)
        if fault is None:
            counters.decode_errors += 1
            reason = f"malformed depth frame (status {status})"
        else:
            name, reason = fault
            setattr(counters, name, getattr(counters, name) + 1)
        self.warn_burst(symbol, "%s %s: %s", self.venue, symbol, reason)
        return reason

    def unattributable(self, symbols: Iterable[str], where: str, reason: str) -> None:
        """A frame nobody can tell the stream of: counted against every book it may have
        touched (the caller resyncs them), logged once per burst."""
        for symbol in symbols:
            self.counters[symbol].decode_errors += 1
        self.warn_burst(where, "%s %s: dropped a frame (%s)", self.venue, where, reason)

    def callback_failed(self, handler: FrameHandler, index: int) -> None:
        """on_book raised (the book itself is fine): count and log it, once per burst."""
        error = handler.take_error()
        stream = handler.stream(index)
        self.counters[stream.symbol].on_book_errors += 1
        self.warn_burst("on_book", "%s: on_book raised %r", self.venue, error)

    def publish_ready(self, handler: FrameHandler, index: int, reason: str) -> None:
        """A stream's book just became whole: ready first, then the book itself."""
        stream = handler.stream(index)
        self.counters[stream.symbol].snapshots += 1
        self.mark_ready(stream.symbol, reason)
        if handler.publish(index) == fh.CALLBACK_ERROR:
            self.callback_failed(handler, index)
