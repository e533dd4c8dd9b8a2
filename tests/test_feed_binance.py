"""The Binance book feed against the simulated Binance over real loopback sockets.

Each scenario ends the same way: once the feed has caught up with the server's last update
id, the local book equals the server's book level for level.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support import until as _until

from engine.clock import LiveClock
from engine.events import EventHandler, FeedStatus
from engine.gateway.binance.feed import BinanceBookFeed
from engine.gateway.ws import WsOptions
from engine.sim.faults import FaultKind
from engine.sim.server import RunningSim, start_sim

SYMBOL = "BTCUSDT"


class Statuses(EventHandler):
    def __init__(self) -> None:
        self.statuses: list[FeedStatus] = []
        self.books = 0

    def on_feed_status(self, status: FeedStatus) -> None:
        self.statuses.append(status)

    def on_book(self, instrument_id: str, book: object, timestamp_ns: int) -> None:
        self.books += 1


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    async with start_sim("binance", seed=5, market_interval_ms=5, tls=True) as running:
        yield running


@pytest.fixture
async def feed(sim: RunningSim) -> AsyncIterator[tuple[BinanceBookFeed, Statuses]]:
    events = Statuses()
    inst = next(i for i in sim.exchange.instruments() if i.symbol == SYMBOL)
    ws_options = WsOptions(
        stale_after_s=1.0, backoff_base_s=0.01, backoff_max_s=0.05, watchdog_s=0.05
    )
    feed = BinanceBookFeed(
        [inst],
        events,
        rest_url=sim.urls.rest,
        ws_url=sim.urls.ws_public,
        clock=LiveClock(),
        ws_options=ws_options,
        seed=1,
        ca_file=sim.ca_file,
    )
    await feed.start()
    try:
        yield feed, events
    finally:
        await feed.stop()


async def assert_book_matches_server(sim: RunningSim, feed: BinanceBookFeed) -> None:
    """Pause the market, let the feed catch up, compare every level."""
    await sim.stop_market()
    update_id, bids, asks = sim.exchange.engine.depth(SYMBOL, 10_000)
    stream = feed.stream(SYMBOL)
    await _until(lambda: feed.ready[SYMBOL] and stream.last_id == update_id)
    book = feed.books[SYMBOL]
    assert book.levels(0) == bids
    assert book.levels(1) == asks
    assert not book.crossed


async def test_clean_start(sim: RunningSim, feed: tuple[BinanceBookFeed, Statuses]) -> None:
    bf, events = feed
    await _until(lambda: bf.ready[SYMBOL])
    assert events.statuses[0].ready and events.statuses[0].instrument_id == "binance:BTCUSDT"
    await _until(lambda: events.books > 5)
    await assert_book_matches_server(sim, bf)
    assert bf.counters_for(SYMBOL)["gaps"] == 0


@pytest.mark.parametrize(
    ("fault", "counter"),
    [
        (FaultKind.SKIP_SEQUENCE, "gaps"),
        (FaultKind.MALFORMED_FRAME, "decode_errors"),
        (FaultKind.DROP_CONNECTION, "reconnects"),
        (FaultKind.FREEZE_CONNECTION, "stale"),
    ],
)
async def test_recovers_from_a_feed_fault(
    sim: RunningSim, feed: tuple[BinanceBookFeed, Statuses], fault: FaultKind, counter: str
) -> None:
    bf, events = feed
    await _until(lambda: bf.ready[SYMBOL])
    sim.exchange.faults.arm(fault, "ws.public")
    await _until(lambda: bf.counters_for(SYMBOL)[counter] >= 1)
    assert sim.exchange.faults.counters().get(fault.value, 0) >= 1
    # the book was pulled, then came back
    await _until(lambda: any(not s.ready for s in events.statuses))
    await _until(lambda: bf.ready[SYMBOL])
    await assert_book_matches_server(sim, bf)


async def test_snapshot_failures_are_retried(
    sim: RunningSim, feed: tuple[BinanceBookFeed, Statuses]
) -> None:
    bf, _ = feed
    await _until(lambda: bf.ready[SYMBOL])
    sim.exchange.faults.arm(FaultKind.REST_5XX, "rest", count=2)
    sim.exchange.faults.arm(FaultKind.SKIP_SEQUENCE, "ws.public")
    await _until(lambda: bf.counters_for(SYMBOL)["gaps"] >= 1)
    await _until(lambda: bf.ready[SYMBOL])
    assert sim.exchange.faults.counters()["rest_5xx"] == 2
    await assert_book_matches_server(sim, bf)


async def test_a_snapshot_older_than_the_buffer_is_refetched(
    sim: RunningSim, feed: tuple[BinanceBookFeed, Statuses]
) -> None:
    bf, events = feed
    await _until(lambda: bf.ready[SYMBOL] and events.books > 3)
    stream = bf.stream(SYMBOL)
    sync, index = bf.sync_of(SYMBOL)
    # a snapshot taken now, applied only after newer diffs were buffered
    old = await bf.fetcher(SYMBOL)
    assert old is not None
    old_id = int(old.split(b":", 1)[1].split(b",", 1)[0])
    # the diffs right after the snapshot go by live, so the buffer will start after a hole
    await _until(lambda: stream.last_id > old_id + 1)
    sync.resync(index, "test")
    sync._pending[index].task.cancel()  # type: ignore[union-attr]
    await _until(lambda: len(sync._pending[index].buffered) >= 2)
    assert not stream.live
    assert sync._pending[index].buffered[0][0] > old_id + 1  # the premise: diffs were missed
    assert sync._apply_snapshot(index, old) is False
    assert bf.counters_for(SYMBOL)["stale_snapshots"] == 1 and not bf.ready[SYMBOL]
    sync.resync(index, "again")
    await _until(lambda: bf.ready[SYMBOL])
    await assert_book_matches_server(sim, bf)
