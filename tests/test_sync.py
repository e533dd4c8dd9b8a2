"""SnapshotSync's bad-input paths, driven frame by frame on a simulated clock.

The fetcher is the machine's own seam (an async callable returning a body or None); here it
hands out the bodies a test queues, so each path is reached deterministically. The live
paths (real REST snapshots, real sockets) are in tests/test_feed_binance.py and
tests/test_feed_gate.py.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from engine._core import frame_handler as fh
from engine._core.depth_decode import BinanceDepthDecoder
from engine._core.frame_handler import BinanceFrameHandler, BookStream
from engine.clock import NS_PER_SECOND, SimClock
from engine.data.feed import BookFeed
from engine.data.sync import SnapshotSync, SyncRule
from engine.events import EventHandler, FeedStatus
from engine.model.instrument import Instrument

SYMBOL = "BTCUSDT"
INST = Instrument(
    SYMBOL, "binance", "BTC", "USDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"),
    Decimal("5"), 2, 3,
)  # fmt: skip


def diff(first: int, last: int, bid: str = "100.00", size: str = "1") -> bytes:
    return (
        b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1700000000000,'
        b'"s":"BTCUSDT","U":%d,"u":%d,"b":[["%s","%s"]],"a":[]}}'
        % (first, last, bid.encode(), size.encode())
    )


def snapshot(last: int, bid: str = "100.00", ask: str = "101.00") -> bytes:
    return b'{"lastUpdateId":%d,"bids":[["%s","2"]],"asks":[["%s","3"]]}' % (
        last,
        bid.encode(),
        ask.encode(),
    )


class Events(EventHandler):
    def __init__(self) -> None:
        self.statuses: list[FeedStatus] = []
        self.books = 0

    def on_feed_status(self, status: FeedStatus) -> None:
        self.statuses.append(status)

    def on_book(self, instrument_id: str, book: object, timestamp_ns: int) -> None:
        self.books += 1


class Rig:
    def __init__(self, rule: SyncRule | None = None) -> None:
        self.clock = SimClock(start_ns=1_000 * NS_PER_SECOND)
        self.events = Events()
        self.feed = BookFeed([INST], self.events, clock=self.clock)
        stream = BookStream(
            INST,
            BinanceDepthDecoder.from_instrument(INST, 16),
            self.feed.books[SYMBOL],
            b"btcusdt@depth@100ms",
        )
        self.handler = BinanceFrameHandler([stream], self.events.on_book)
        self.stream = stream
        self.bodies: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.fetches = 0
        self.sync = SnapshotSync(self.feed, self.handler, self.fetch, rule)

    async def fetch(self, symbol: str) -> bytes | None:
        assert symbol == SYMBOL
        self.fetches += 1
        return await self.bodies.get()

    def frame(self, data: bytes) -> int:
        """What the listener does: the fast path, then the sync machine for its status."""
        status = self.handler.on_frame(data, self.clock.time_ns())
        if status not in (fh.OK, fh.SKIPPED):
            assert self.sync.on_status(memoryview(data), status)
        return int(status)

    @property
    def counters(self) -> dict[str, int]:
        return self.feed.counters[SYMBOL].as_dict()

    @property
    def buffered(self) -> int:
        return len(self.sync._pending[0].buffered)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_snapshot_and_the_buffer_bring_the_book_live() -> None:
    rig = Rig()
    rig.sync.resync(0, "start")
    assert rig.frame(diff(100, 101)) == fh.BUFFER
    assert rig.frame(diff(102, 103, size="4")) == fh.BUFFER
    rig.bodies.put_nowait(snapshot(101))
    await settle()
    assert rig.feed.ready[SYMBOL] and rig.stream.live and rig.stream.last_id == 103
    assert rig.stream.book.best_bid() == (10000, 4000)
    assert rig.events.statuses[-1].ready and rig.events.books == 1  # ready, then the book
    rig.sync.halt_all()


async def test_a_malformed_snapshot_is_counted_and_fetched_again_on_the_clock() -> None:
    rig = Rig()
    rig.sync.resync(0, "start")
    rig.bodies.put_nowait(b'{"lastUpdateId":5,"bids":[["100.00"')
    await settle()
    assert rig.counters["decode_errors"] == 1 and rig.fetches == 1 and not rig.stream.live
    await settle()
    assert rig.fetches == 1  # the retry sleeps on the engine clock, not the wall
    rig.clock.advance_to(rig.clock.time_ns() + NS_PER_SECOND)
    rig.bodies.put_nowait(snapshot(5))
    await settle()
    assert rig.fetches == 2 and rig.feed.ready[SYMBOL]
    rig.sync.halt_all()


async def test_a_failed_fetch_is_retried() -> None:
    rig = Rig()
    rig.sync.resync(0, "start")
    rig.bodies.put_nowait(None)  # the fetcher logged an HTTP or network error
    await settle()
    rig.clock.advance_to(rig.clock.time_ns() + NS_PER_SECOND)
    rig.bodies.put_nowait(snapshot(5))
    await settle()
    assert rig.fetches == 2 and rig.feed.ready[SYMBOL]
    rig.sync.halt_all()


async def test_a_crossed_snapshot_is_refused_and_fetched_again() -> None:
    rig = Rig()
    rig.sync.resync(0, "start")
    rig.bodies.put_nowait(snapshot(5, bid="102.00", ask="101.00"))
    await settle()
    assert rig.counters["crossed"] == 1 and not rig.stream.live and not rig.feed.ready[SYMBOL]
    rig.clock.advance_to(rig.clock.time_ns() + NS_PER_SECOND)
    rig.bodies.put_nowait(snapshot(5))
    await settle()
    assert rig.feed.ready[SYMBOL] and not rig.stream.book.crossed
    rig.sync.halt_all()


async def test_a_full_buffer_restarts_the_sync() -> None:
    rig = Rig(SyncRule(max_buffered=3))
    rig.sync.resync(0, "start")
    await settle()
    assert rig.fetches == 1  # waiting for its body
    for i in range(3):
        assert rig.frame(diff(10 + i, 10 + i)) == fh.BUFFER
    assert rig.buffered == 3
    assert rig.frame(diff(13, 13)) == fh.BUFFER  # one too many: the sync starts over
    assert rig.buffered == 0
    await settle()
    assert rig.fetches == 2  # the first fetch was cancelled, a fresh one runs
    rig.bodies.put_nowait(snapshot(13))
    await settle()
    assert rig.feed.ready[SYMBOL] and rig.stream.last_id == 13
    rig.sync.halt_all()


async def test_a_gap_inside_the_replay_resyncs() -> None:
    rig = Rig()
    rig.sync.resync(0, "start")
    rig.frame(diff(101, 102))
    rig.frame(diff(104, 105))  # 103 never came
    rig.bodies.put_nowait(snapshot(100))
    await settle()
    assert rig.counters["gaps"] == 1 and not rig.feed.ready[SYMBOL]
    assert rig.buffered == 0 and rig.fetches == 2  # a fresh sync has started
    rig.frame(diff(106, 106))
    rig.bodies.put_nowait(snapshot(105))
    await settle()
    assert rig.feed.ready[SYMBOL] and rig.stream.last_id == 106
    rig.sync.halt_all()


async def test_a_gap_on_a_live_book_counts_a_resync() -> None:
    rig = Rig()
    rig.sync.resync(0, "start")
    rig.bodies.put_nowait(snapshot(100))
    await settle()
    assert rig.feed.ready[SYMBOL]
    assert rig.frame(diff(105, 106)) == fh.ERR_GAP
    assert rig.counters["gaps"] == 1 and rig.counters["resyncs"] == 1
    assert not rig.feed.ready[SYMBOL] and rig.events.statuses[-1].reason == "sequence gap"
    rig.sync.halt_all()


async def test_a_held_stream_stays_pulled() -> None:
    rig = Rig()
    rig.sync.resync(0, "start")
    rig.bodies.put_nowait(snapshot(100))
    await settle()
    rig.sync.hold(0, "depth subscription refused")
    assert not rig.feed.ready[SYMBOL] and not rig.stream.live
    assert rig.frame(diff(101, 101)) == fh.BUFFER and rig.buffered == 0  # nothing kept
    rig.sync.resync(0, "a gap")
    await settle()
    assert rig.fetches == 1  # no fetch for a held stream
    rig.sync.release_all()
    rig.sync.resync(0, "reconnected")
    rig.bodies.put_nowait(snapshot(100))
    await settle()
    assert rig.fetches == 2 and rig.feed.ready[SYMBOL]
    rig.sync.halt_all()
