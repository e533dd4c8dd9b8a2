"""The sync machines behind the frame handlers: they act on the statuses the fast path
returns (`on_status`) and bring streams back to live.

`SnapshotSync`: one snapshot + diff machine for every venue that syncs a diff stream
against a REST snapshot (Binance, Gate's spot.order_book_update, any later venue of that
kind). `PushSync`: venues whose stream itself starts with a whole book (OKX books, Gate
spot.obu): a resync is a fresh subscription, asked of the venue feed.

SnapshotSync, per stream (one symbol of a connection), independently of the others:

1. `resync`: the stream goes back to WAITING, its book is marked not ready, and a snapshot
   fetch starts (retried with backoff on the engine clock until one applies).
2. Every diff the frame handler decodes meanwhile comes back as BUFFER and is kept here
   (a copy: the frame dies with the call), up to `max_buffered`.
3. A snapshot with id S arrives: buffered diffs with last id <= S are already in it; if the
   first remaining one starts after S + 1, diffs between the snapshot and the buffer were
   never seen, so the snapshot is too old and is fetched again. Otherwise the book is loaded,
   the stream goes live at S (the venue's straddle rule for the next diff supplied as data),
   the remaining diffs replay through the frame handler's own rule, and the book is ready.

Anything that fails on the way (a crossed snapshot, a gap inside the replay) starts over.
A venue whose stream can also carry a whole book (Gate `full: true`) calls `whole_book`
when one arrives: it ends the sync on its own. The venue rules: docs/VENUES.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from engine._core import frame_handler as fh
from engine._core.frame_handler import FrameHandler
from engine.clock import NS_PER_SECOND
from engine.data.feed import BookFeed

log = logging.getLogger("engine.data.sync")

# Delays between attempts to fetch a REST book snapshot (the last one repeats).
SNAPSHOT_RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)
MAX_BUFFERED = 10_000  # diffs held per stream while its snapshot is fetched

# Fetches one snapshot body of a symbol; None when the fetch failed (the fetcher logs why).
SnapshotFetch = Callable[[str], Awaitable[bytes | None]]


@dataclass(frozen=True, slots=True)
class SyncRule:
    """What differs between venues of this kind, as data."""

    # Gate: the first diff after a snapshot may straddle id + 1 (U <= id + 1 <= u) and every
    # later one must start exactly at the previous u + 1. Binance's rule (in the frame
    # handler) always tolerates an overlap, so it needs no flag.
    straddle_first: bool = False
    max_buffered: int = MAX_BUFFERED


@dataclass(slots=True)
class _Pending:
    buffered: list[tuple[int, int, bytes]] = field(default_factory=list)  # (first, last, frame)
    task: asyncio.Task[None] | None = None


class _Sync:
    """What both machines share: statuses in, resyncs out, and streams held pulled."""

    def __init__(self, feed: BookFeed, handler: FrameHandler) -> None:
        self.feed = feed
        self.handler = handler
        self.held: set[int] = set()  # streams kept pulled until release_all

    def resync(self, index: int, reason: str) -> None:
        """Book not ready; the stream syncs again (unless it is held)."""
        self._leave_live(index, reason)
        if index not in self.held:
            self._restart(index)

    def _restart(self, index: int) -> None:
        raise NotImplementedError

    def resync_all(self, reason: str) -> None:
        for index in range(len(self.handler)):
            self.resync(index, reason)

    def hold(self, index: int, reason: str) -> None:
        """Keep stream `index` pulled until release_all (the venue refused its depth, so no
        sync could bring back a book that stays right): nothing is fetched or buffered."""
        self.held.add(index)
        self._leave_live(index, reason)
        self.halt(index)

    def release_all(self) -> None:
        self.held.clear()

    def halt(self, index: int) -> None:
        """Stop syncing stream `index` (its connection is gone, or it is held)."""
        self.handler.stream(index).begin_sync()

    def halt_all(self) -> None:
        for index in range(len(self.handler)):
            self.halt(index)

    def whole_book(self, index: int) -> None:
        """The stream carried a whole book (status SNAPSHOT)."""

    def buffer(self, index: int, payload: memoryview) -> None:
        """A diff arrived while the stream syncs (status BUFFER)."""

    def _leave_live(self, index: int, reason: str) -> None:
        stream = self.handler.stream(index)
        # the frame handler already put a faulty stream back to WAITING: readiness tells
        # whether a live book is being sent back
        if self.feed.ready[stream.symbol]:
            self.feed.counters[stream.symbol].resyncs += 1
        stream.begin_sync()
        self.feed.mark_not_ready(stream.symbol, reason)

    def on_status(self, payload: memoryview, status: int, index: int | None = None) -> bool:
        """Act on what the frame handler returned for `payload` (of stream `index`, by default
        the handler's last); False when the frame is the caller's to parse (OTHER: trades,
        tickers, acks, pongs)."""
        if index is None:
            index = self.handler.last_index
        if status == fh.OTHER or index < 0:
            return False
        if status == fh.BUFFER:
            self.buffer(index, payload)
        elif status == fh.SNAPSHOT:
            self.whole_book(index)
            self.feed.publish_ready(self.handler, index, "whole book pushed")
        elif status == fh.CALLBACK_ERROR:
            self.feed.callback_failed(self.handler, index)
        elif status < 0:
            symbol = self.handler.stream(index).symbol
            self.resync(index, self.feed.fault_reason(symbol, status))
        return True


class PushSync(_Sync):
    """Streams that start with a whole book: a resync asks the venue feed to subscribe the
    symbol again (`resubscribe(symbol)`), and the book is ready when that push arrives."""

    def __init__(
        self, feed: BookFeed, handler: FrameHandler, resubscribe: Callable[[str], None]
    ) -> None:
        super().__init__(feed, handler)
        self.resubscribe = resubscribe

    def _restart(self, index: int) -> None:
        self.resubscribe(self.handler.stream(index).symbol)


class SnapshotSync(_Sync):
    """The snapshot + diff machine of every stream of one frame handler (module docstring)."""

    def __init__(
        self,
        feed: BookFeed,
        handler: FrameHandler,
        fetch: SnapshotFetch,
        rule: SyncRule | None = None,
    ) -> None:
        super().__init__(feed, handler)
        self.fetch = fetch
        self.rule = rule or SyncRule()
        self._pending = [_Pending() for _ in range(len(handler))]

    def _restart(self, index: int) -> None:
        """Back to buffering, a fresh snapshot requested."""
        stream = self.handler.stream(index)
        pending = self._pending[index]
        pending.buffered.clear()
        self._cancel(pending)
        pending.task = asyncio.get_running_loop().create_task(
            self._fetch_until_synced(index), name=f"snapshot:{stream.instrument_id}"
        )

    def halt(self, index: int) -> None:
        super().halt(index)
        pending = self._pending[index]
        pending.buffered.clear()
        self._cancel(pending)

    def buffer(self, index: int, payload: memoryview) -> None:
        """A decoded diff arrived while stream `index` syncs (status BUFFER): keep a copy."""
        if index in self.held:
            return  # no snapshot will come for it
        pending = self._pending[index]
        if len(pending.buffered) >= self.rule.max_buffered:
            self.resync(index, "snapshot too slow: diff buffer full")
            return
        decoder = self.handler.stream(index).decoder
        pending.buffered.append((decoder.first_update_id, decoder.last_update_id, bytes(payload)))

    def whole_book(self, index: int) -> None:
        """The stream carried a whole book (status SNAPSHOT): the sync is over on its own."""
        pending = self._pending[index]
        pending.buffered.clear()
        self._cancel(pending)

    @staticmethod
    def _cancel(pending: _Pending) -> None:
        if pending.task is not None and not pending.task.done():
            pending.task.cancel()
        pending.task = None

    async def _fetch_until_synced(self, index: int) -> None:
        stream = self.handler.stream(index)
        attempt = 0
        while not stream.live:
            body = await self.fetch(stream.symbol)
            if stream.live or (body is not None and self._apply_snapshot(index, body)):
                return
            delay = SNAPSHOT_RETRY_S[min(attempt, len(SNAPSHOT_RETRY_S) - 1)]
            attempt += 1
            await self.feed.clock.sleep_ns(int(delay * NS_PER_SECOND))

    def _apply_snapshot(self, index: int, body: bytes) -> bool:
        """Load the snapshot and replay the buffer; False = fetch again."""
        feed, stream = self.feed, self.handler.stream(index)
        symbol = stream.symbol
        counters = feed.counters[symbol]
        decoder = stream.decoder
        status = decoder.decode_snapshot(body)  # type: ignore[attr-defined]
        if status < 0:
            counters.decode_errors += 1
            feed.warn_burst(
                symbol, "%s %s: malformed snapshot (status %d)", feed.venue, symbol, status
            )
            return False
        snapshot_id = decoder.last_update_id
        pending = self._pending[index]
        replay = [b for b in pending.buffered if b[1] > snapshot_id]
        if replay and replay[0][0] > snapshot_id + 1:
            counters.stale_snapshots += 1
            return False
        stream.load_snapshot()
        if stream.book.crossed:
            counters.crossed += 1
            feed.warn_burst(symbol, "%s %s: snapshot is crossed", feed.venue, symbol)
            return False
        now = feed.clock.time_ns()
        # a REST body may carry no event time (Binance): then the time it arrived
        stream.book.stamp(decoder.event_time_ms * 1_000_000 or now, now)
        stream.go_live(snapshot_id, self.rule.straddle_first)
        pending.buffered = []
        for _, _, frame in replay:
            status = self.handler.replay(index, frame, stream.book.recv_ts_ns)
            if status < 0:
                self.resync(index, feed.fault_reason(symbol, status))
                return True  # a fresh sync has started
        feed.publish_ready(self.handler, index, "synced")
        return True
