"""The Gate book feed against the simulated Gate over real loopback sockets.

Each scenario ends the same way: once the feed has caught up with the server's last update
id, the local book equals the server's book level for level.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support import until as _until

from engine.data.feed import FeedOptions
from engine.events import EventHandler, FeedStatus, Trade
from engine.gateway.gate.feed import GateBookFeed, Sync
from engine.gateway.ws import WsOptions
from engine.model.market_data import MarketData
from engine.sim.faults import FaultKind
from engine.sim.server import RunningSim, start_sim
from engine.sim.venues.gate import venue_state

SYMBOL = "BTC_USDT"


class Recorder(EventHandler):
    def __init__(self) -> None:
        self.statuses: list[FeedStatus] = []
        self.books = 0
        self.trades: list[Trade] = []
        self.tickers: list[MarketData] = []

    def on_feed_status(self, status: FeedStatus) -> None:
        self.statuses.append(status)

    def on_book(self, instrument_id: str, book: object, timestamp_ns: int) -> None:
        self.books += 1

    def on_trade(self, trade: Trade) -> None:
        self.trades.append(trade)

    def on_market_data(self, data: MarketData) -> None:
        self.tickers.append(data)


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    async with start_sim("gate", seed=5, market_interval_ms=5) as running:
        yield running


def _options() -> FeedOptions:
    return FeedOptions(
        ws=WsOptions(
            stale_after_s=1.0,
            backoff_base_s=0.01,
            backoff_max_s=0.05,
            watchdog_s=0.05,
            keepalive_s=0.2,
        )
    )


async def _start(sim: RunningSim, **kwargs: object) -> tuple[GateBookFeed, Recorder]:
    events = Recorder()
    inst = next(i for i in sim.exchange.instruments() if i.symbol == SYMBOL)
    feed = GateBookFeed(
        [inst],
        events,
        rest_url=sim.urls.rest,
        ws_url=sim.urls.ws_public,
        options=_options(),
        seed=1,
        **kwargs,  # type: ignore[arg-type]
    )
    await feed.start()
    return feed, events


@pytest.fixture
async def feed(sim: RunningSim) -> AsyncIterator[tuple[GateBookFeed, Recorder]]:
    gf, events = await _start(sim)
    try:
        yield gf, events
    finally:
        await gf.stop()


async def assert_book_matches_server(sim: RunningSim, feed: GateBookFeed) -> None:
    """Pause the market, let the feed catch up, compare every level."""
    await sim.stop_market()
    update_id, bids, asks = sim.exchange.engine.depth(SYMBOL, 10_000)
    stream = feed.streams[SYMBOL]
    await _until(lambda: feed.ready[SYMBOL] and stream.last_update_id == update_id)
    book = feed.books[SYMBOL]
    assert book.levels(0) == bids
    assert book.levels(1) == asks
    assert not book.crossed


async def test_clean_start(sim: RunningSim, feed: tuple[GateBookFeed, Recorder]) -> None:
    gf, events = feed
    await _until(lambda: gf.ready[SYMBOL])
    assert events.statuses[0].ready and events.statuses[0].instrument_id == "gate:BTC_USDT"
    await _until(lambda: events.books > 5 and bool(events.trades) and bool(events.tickers))
    await _until(lambda: gf.pongs >= 1)  # the application ping is answered
    trade, ticker = events.trades[-1], events.tickers[-1]
    assert trade.venue == "gate" and trade.symbol == SYMBOL and trade.quantity > 0
    assert 0 < ticker.bid < ticker.ask
    assert gf.snapshots >= 1
    await assert_book_matches_server(sim, gf)
    counters = gf.counters_for(SYMBOL)
    assert counters["gaps"] == counters["decode_errors"] == counters["resyncs"] == 0


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
    sim: RunningSim, feed: tuple[GateBookFeed, Recorder], fault: FaultKind, counter: str
) -> None:
    gf, events = feed
    await _until(lambda: gf.ready[SYMBOL])
    sim.exchange.faults.arm(fault, "ws.public")
    await _until(lambda: gf.counters_for(SYMBOL)[counter] >= 1)
    assert sim.exchange.faults.counters().get(fault.value, 0) >= 1
    # the book was pulled, then came back
    await _until(lambda: any(not s.ready for s in events.statuses))
    await _until(lambda: gf.ready[SYMBOL])
    await assert_book_matches_server(sim, gf)


async def test_snapshot_failures_are_retried(
    sim: RunningSim, feed: tuple[GateBookFeed, Recorder]
) -> None:
    gf, _ = feed
    await _until(lambda: gf.ready[SYMBOL])
    sim.exchange.faults.arm(FaultKind.REST_5XX, "rest", count=2)
    sim.exchange.faults.arm(FaultKind.SKIP_SEQUENCE, "ws.public")
    await _until(lambda: gf.counters_for(SYMBOL)["gaps"] >= 1)
    await _until(lambda: gf.ready[SYMBOL])
    assert sim.exchange.faults.counters()["rest_5xx"] == 2
    await assert_book_matches_server(sim, gf)


async def test_a_snapshot_older_than_the_buffer_is_refetched(
    sim: RunningSim, feed: tuple[GateBookFeed, Recorder]
) -> None:
    gf, events = feed
    await _until(lambda: gf.ready[SYMBOL] and events.books > 3)
    stream = gf.streams[SYMBOL]
    # a snapshot taken now, applied only after newer updates were buffered
    params = {"currency_pair": SYMBOL, "limit": "100", "with_id": "true"}
    old = await gf.get_snapshot(gf._http, f"{sim.urls.rest}/spot/order_book", params, SYMBOL)
    assert old is not None
    old_id = int(old.split(b":", 1)[1].split(b",", 1)[0])
    # the updates right after the snapshot go by live, so the buffer starts after a hole
    await _until(lambda: stream.last_update_id > old_id + 1)
    gf.resync(stream, "test")
    stream.snapshot_task.cancel()  # type: ignore[union-attr]
    await _until(lambda: len(stream.buffered) >= 2)
    assert stream.sync is Sync.WAITING
    assert stream.buffered[0].first > old_id + 1  # the premise: updates were missed
    assert gf._apply_snapshot(stream, old) is False
    assert gf.stale_snapshots == 1 and not gf.ready[SYMBOL]
    gf.resync(stream, "again")
    await _until(lambda: gf.ready[SYMBOL])
    await assert_book_matches_server(sim, gf)


async def test_full_book_pushes_replace_the_book(
    sim: RunningSim, feed: tuple[GateBookFeed, Recorder]
) -> None:
    gf, _ = feed
    venue_state(sim.exchange).config.full_snapshot_every_s = 0.2
    await _until(lambda: gf.ready[SYMBOL])
    await _until(lambda: gf.full_books >= 3)
    assert gf.counters_for(SYMBOL)["gaps"] == 0
    await assert_book_matches_server(sim, gf)


@pytest.mark.parametrize("fault", [None, FaultKind.SKIP_SEQUENCE, FaultKind.MALFORMED_FRAME])
async def test_obu_channel(sim: RunningSim, fault: FaultKind | None) -> None:
    gf, events = await _start(sim, depth_channel="obu")
    try:
        await _until(lambda: gf.ready[SYMBOL] and events.books > 3)
        assert gf.snapshots == 0 and gf.full_books == 1  # no REST: the first push is full
        if fault is not None:
            sim.exchange.faults.arm(fault, "ws.public")
            await _until(lambda: gf.counters_for(SYMBOL)["resyncs"] >= 1)
            await _until(lambda: gf.ready[SYMBOL] and gf.full_books >= 2)
        await assert_book_matches_server(sim, gf)
    finally:
        await gf.stop()


async def test_a_frame_with_a_bad_level_is_dropped_whole(
    sim: RunningSim, feed: tuple[GateBookFeed, Recorder]
) -> None:
    gf, events = feed
    await _until(lambda: gf.ready[SYMBOL])
    stream = gf.streams[SYMBOL]
    book = gf.books[SYMBOL]
    handler = gf.conns[SYMBOL].handler
    before = (book.levels(0), book.levels(1))
    nxt = stream.last_update_id + 1
    # the good bid comes first: it must not reach the book on its own
    good = [str(stream.instrument.ticks_to_price(book.best_bid_price)), "1"]
    frame = (
        b'{"time":1,"time_ms":1000,"channel":"spot.order_book_update","event":"update",'
        b'"result":{"t":1000,"s":"BTC_USDT","U":%d,"u":%d,"b":[["%s","%s"],["x","1"]],"a":[]}}'
        % (nxt, nxt, good[0].encode(), good[1].encode())
    )
    handler.on_message(memoryview(frame), 0)
    assert gf.counters_for(SYMBOL)["decode_errors"] == 1
    assert not gf.ready[SYMBOL] and stream.sync is Sync.WAITING
    assert (book.levels(0), book.levels(1)) == before
    await _until(lambda: gf.ready[SYMBOL])
    await assert_book_matches_server(sim, gf)
    assert events.statuses[-1].ready
