"""The OKX book feed against the simulated OKX over real loopback sockets.

Each scenario ends the same way: once the feed has caught up with the server's last seqId,
the local book equals the server's book level for level.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support import until as _until

from engine.data.feed import FeedOptions
from engine.events import EventHandler, FeedStatus, Trade
from engine.gateway.okx.feed import OkxBookFeed, Sync, crc32_signed, okx_number
from engine.gateway.ws import WsOptions
from engine.model.market_data import MarketData
from engine.sim.faults import FaultKind
from engine.sim.server import RunningSim, start_sim
from engine.sim.venues.okx_core import ChecksumMode, OkxConfig
from engine.sim.venues.okx_messages import checksum as sim_checksum

SYMBOL = "BTC-USDT"
OTHER = "ETH-USDT"


class Recorder(EventHandler):
    def __init__(self) -> None:
        self.statuses: list[FeedStatus] = []
        self.books = 0
        self.trades: list[Trade] = []
        self.quotes: list[MarketData] = []

    def on_feed_status(self, status: FeedStatus) -> None:
        self.statuses.append(status)

    def on_book(self, instrument_id: str, book: object, timestamp_ns: int) -> None:
        self.books += 1

    def on_trade(self, trade: Trade) -> None:
        self.trades.append(trade)

    def on_market_data(self, data: MarketData) -> None:
        self.quotes.append(data)


def _options() -> FeedOptions:
    return FeedOptions(
        ws=WsOptions(
            stale_after_s=1.0,
            keepalive_s=0.2,
            backoff_base_s=0.01,
            backoff_max_s=0.05,
            watchdog_s=0.05,
        )
    )


def _venue(checksum: ChecksumMode) -> dict[str, object]:
    # A short idle timeout bounds the sim's shutdown: a frozen WsConn writer can miss its
    # cancellation (3.11 wait_for race) and would otherwise linger for the full 30 s. The
    # feed's 0.2 s text ping keeps a healthy connection well inside it.
    return {"config": OkxConfig(checksum=checksum, idle_timeout_s=2.0)}


@pytest.fixture(params=["crc32", "zero"])
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[RunningSim]:
    async with start_sim(
        "okx", seed=5, market_interval_ms=5, venue_options=_venue(request.param)
    ) as s:
        yield s


@pytest.fixture
async def crc_sim() -> AsyncIterator[RunningSim]:
    async with start_sim("okx", seed=7, market_interval_ms=5, venue_options=_venue("crc32")) as s:
        yield s


async def _start_feed(sim: RunningSim) -> tuple[OkxBookFeed, Recorder]:
    events = Recorder()
    instruments = [i for i in sim.exchange.instruments() if i.symbol in (SYMBOL, OTHER)]
    feed = OkxBookFeed(instruments, events, ws_url=sim.urls.ws_public, options=_options(), seed=1)
    await feed.start()
    return feed, events


@pytest.fixture
async def feed(sim: RunningSim) -> AsyncIterator[tuple[OkxBookFeed, Recorder]]:
    of, events = await _start_feed(sim)
    try:
        yield of, events
    finally:
        await of.stop()


@pytest.fixture
async def crc_feed(crc_sim: RunningSim) -> AsyncIterator[tuple[OkxBookFeed, Recorder]]:
    of, events = await _start_feed(crc_sim)
    try:
        yield of, events
    finally:
        await of.stop()


async def assert_book_matches_server(
    sim: RunningSim, feed: OkxBookFeed, symbol: str = SYMBOL
) -> None:
    """Pause the market, let the feed catch up, compare every level."""
    await sim.stop_market()
    seq, bids, asks = sim.exchange.engine.depth(symbol, 10_000)
    stream = feed.streams[symbol]
    await _until(lambda: feed.ready[symbol] and stream.seq_id == seq)
    book = feed.books[symbol]
    assert book.levels(0) == bids
    assert book.levels(1) == asks
    assert not book.crossed


def test_checksum_strings_match_the_documented_examples() -> None:
    assert crc32_signed(b"3366.1:7:3366.8:9:3366:6:3368:8") == -1881014294
    assert crc32_signed(b"3366.1:7:3366.8:9:3368:8:3372:8") == 831078360
    assert okx_number("65000.0") == "65000"
    assert okx_number("0.50000000") == "0.5"
    assert okx_number("0.00000000") == "0"
    assert okx_number("120") == "120"


async def test_clean_start(
    sim: RunningSim, feed: tuple[OkxBookFeed, Recorder], request: pytest.FixtureRequest
) -> None:
    of, events = feed
    crc32 = request.node.callspec.params["sim"] == "crc32"
    await _until(lambda: of.ready[SYMBOL] and of.ready[OTHER])
    assert {s.instrument_id for s in events.statuses if s.ready} == {
        "okx:BTC-USDT",
        "okx:ETH-USDT",
    }
    await _until(lambda: events.books > 10 and bool(events.trades) and bool(events.quotes))
    await _until(lambda: of.pongs >= 1)  # the text keepalive is answered
    trade = events.trades[-1]
    assert trade.venue == "okx" and trade.quantity > 0 and trade.price > 0
    quote = events.quotes[-1]
    assert quote.symbol in (SYMBOL, OTHER) and 0 < quote.bid < quote.ask
    await assert_book_matches_server(sim, of)
    await assert_book_matches_server(sim, of, OTHER)
    counters = of.counters_for(SYMBOL)
    assert counters["gaps"] == counters["checksum_failures"] == counters["decode_errors"] == 0
    # zero mode: nothing to check, sequence continuity is the guard
    assert (of.checksums_checked > 0) is crc32
    if crc32:
        # crc32 mode: our book's checksum agrees with the venue's own function
        stream = of.streams[SYMBOL]
        book = of.books[SYMBOL]
        venue = sim_checksum(
            [(stream.px(p), stream.sz(q)) for p, q in book.levels(0, 25)],
            [(stream.px(p), stream.sz(q)) for p, q in book.levels(1, 25)],
        )
        assert of.book_checksum(stream) == venue


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
    sim: RunningSim, feed: tuple[OkxBookFeed, Recorder], fault: FaultKind, counter: str
) -> None:
    of, events = feed
    await _until(lambda: of.ready[SYMBOL] and of.ready[OTHER])
    sim.exchange.faults.arm(fault, "ws.public")
    await _until(lambda: of.counters_for(SYMBOL)[counter] >= 1)
    assert sim.exchange.faults.counters().get(fault.value, 0) >= 1
    # a book was pulled, then came back
    await _until(lambda: any(not s.ready for s in events.statuses))
    await _until(lambda: of.ready[SYMBOL] and of.ready[OTHER])
    await assert_book_matches_server(sim, of)
    await assert_book_matches_server(sim, of, OTHER)


async def test_bad_checksum_resubscribes(
    crc_sim: RunningSim, crc_feed: tuple[OkxBookFeed, Recorder]
) -> None:
    of, events = crc_feed
    await _until(lambda: of.ready[SYMBOL] and of.ready[OTHER] and of.checksums_checked > 5)
    resubscribes = of.resubscribes
    crc_sim.exchange.faults.arm(FaultKind.BAD_CHECKSUM, "ws.public")
    await _until(lambda: of.counters_for(SYMBOL)["checksum_failures"] >= 1)
    assert crc_sim.exchange.faults.counters()["bad_checksum"] == 1
    assert of.resubscribes == resubscribes + 1
    await _until(lambda: any(not s.ready for s in events.statuses))
    await _until(lambda: of.ready[SYMBOL] and of.ready[OTHER])
    await assert_book_matches_server(crc_sim, of)
    await assert_book_matches_server(crc_sim, of, OTHER)
    assert of.counters_for(SYMBOL)["checksum_failures"] == 1


async def test_a_gap_resyncs_only_its_own_book(
    crc_sim: RunningSim, crc_feed: tuple[OkxBookFeed, Recorder]
) -> None:
    of, _ = crc_feed
    await _until(lambda: of.ready[SYMBOL] and of.ready[OTHER])
    stream = of.streams[SYMBOL]
    # a forged update that does not chain: only this instrument goes back to its snapshot
    frame = (
        b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],'
        b'"bids":[],"ts":"1","checksum":0,"prevSeqId":'
        + str(stream.seq_id + 1000).encode()
        + b',"seqId":'
        + str(stream.seq_id + 1001).encode()
        + b"}]}"
    )
    assert of.conn is not None
    of.conn.handler.on_message(memoryview(frame), 0)
    assert stream.sync is Sync.WAITING and not of.ready[SYMBOL]
    assert of.ready[OTHER]
    assert of.counters_for(SYMBOL)["gaps"] == 1
    # a garbled frame nobody can be blamed for: every book resyncs, nothing raises
    of.conn.handler.on_message(memoryview(b'{"arg":{"chan'), 0)
    assert not of.ready[OTHER]
    assert of.counters_for(SYMBOL)["decode_errors"] == 1
    await _until(lambda: of.ready[SYMBOL] and of.ready[OTHER])
    await assert_book_matches_server(crc_sim, of)
    await assert_book_matches_server(crc_sim, of, OTHER)
    assert of.counters_for(SYMBOL)["handler_errors"] == 0


async def test_tick_by_tick_depth_channel(crc_sim: RunningSim) -> None:
    events = Recorder()
    instruments = [i for i in crc_sim.exchange.instruments() if i.symbol == SYMBOL]
    feed = OkxBookFeed(
        instruments,
        events,
        ws_url=crc_sim.urls.ws_public,
        options=_options(),
        depth_channel="books-l2-tbt",
        seed=1,
    )
    await feed.start()
    try:
        await _until(lambda: feed.ready[SYMBOL])
        crc_sim.exchange.faults.arm(FaultKind.SKIP_SEQUENCE, "ws.public")
        await _until(lambda: feed.counters.gaps >= 1)
        await assert_book_matches_server(crc_sim, feed)
    finally:
        await feed.stop()
    with pytest.raises(ValueError, match="depth_channel"):
        OkxBookFeed(instruments, events, ws_url="ws://x", depth_channel="books5")
