"""The Gate book feed against the simulated Gate over real loopback sockets.

Each scenario ends the same way: once the feed has caught up with the server's last update
id, the local book equals the server's book level for level.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence

import orjson
import pytest
from support import until as _until

from engine._core import frame_handler as fh
from engine.clock import LiveClock
from engine.data.sync import PushSync, SnapshotSync
from engine.events import EventHandler, FeedStatus, Trade
from engine.gateway.gate.feed import KEEPALIVE_S, GateBookFeed
from engine.gateway.ws import WsOptions
from engine.model.market_data import MarketData
from engine.sim.faults import FaultKind
from engine.sim.server import RunningSim, start_sim
from engine.sim.venues.gate import venue_state

SYMBOL = "BTC_USDT"
OTHER_SYMBOL = "ETH_USDT"
WS_OPTIONS = WsOptions(
    stale_after_s=1.0, backoff_base_s=0.01, backoff_max_s=0.05, watchdog_s=0.05, keepalive_s=0.2
)


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

    def pulled(self, symbol: str) -> bool:
        """Whether the book of `symbol` was ever reported not ready."""
        return any(not s.ready for s in self.statuses if s.instrument_id == f"gate:{symbol}")


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    async with start_sim("gate", seed=5, market_interval_ms=5, tls=True) as running:
        yield running


def _make(
    sim: RunningSim, symbols: Sequence[str] = (SYMBOL,), **kwargs: object
) -> tuple[GateBookFeed, Recorder]:
    events = Recorder()
    insts = [i for i in sim.exchange.instruments() if i.symbol in symbols]
    assert [i.symbol for i in insts] == list(symbols)
    kwargs.setdefault("ws_options", WS_OPTIONS)
    feed = GateBookFeed(
        insts,
        events,
        rest_url=sim.urls.rest,
        ws_url=sim.urls.ws_public,
        clock=LiveClock(),
        seed=1,
        ca_file=sim.ca_file,
        **kwargs,  # type: ignore[arg-type]
    )
    return feed, events


async def _start(
    sim: RunningSim, symbols: Sequence[str] = (SYMBOL,), **kwargs: object
) -> tuple[GateBookFeed, Recorder]:
    feed, events = _make(sim, symbols, **kwargs)
    await feed.start()
    return feed, events


@pytest.fixture
async def feed(sim: RunningSim) -> AsyncIterator[tuple[GateBookFeed, Recorder]]:
    gf, events = await _start(sim)
    try:
        yield gf, events
    finally:
        await gf.stop()


@pytest.fixture
async def pair_feed(sim: RunningSim) -> AsyncIterator[tuple[GateBookFeed, Recorder]]:
    """Two symbols on one connection."""
    gf, events = await _start(sim, (SYMBOL, OTHER_SYMBOL))
    try:
        yield gf, events
    finally:
        await gf.stop()


def deliver(feed: GateBookFeed, symbol: str, frame: bytes) -> int:
    """Hand `frame` to the connection carrying `symbol` as the socket listener does: the
    frame handler first, the Python slow path for any status it does not finish."""
    connection = next(c for c in feed.connections if symbol in c.symbols)
    status = connection.frame_handler.on_frame(frame, time.time_ns())
    if status not in (fh.OK, fh.SKIPPED):
        connection.on_message(memoryview(frame), status, time.time_ns())
    return status


async def assert_books_match_server(
    sim: RunningSim, feed: GateBookFeed, symbols: Sequence[str] = (SYMBOL,)
) -> None:
    """Pause the market, let the feed catch up, compare every level."""
    await sim.stop_market()
    for symbol in symbols:
        update_id, bids, asks = sim.exchange.engine.depth(symbol, 10_000)
        stream = feed.stream(symbol)
        await _until(lambda: feed.ready[symbol] and stream.last_id == update_id)  # noqa: B023
        book = feed.books[symbol]
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
    await assert_books_match_server(sim, gf)
    counters = gf.counters_for(SYMBOL)
    assert counters["snapshots"] >= 1
    assert counters["gaps"] == counters["decode_errors"] == counters["resyncs"] == 0
    assert counters["duplicate_trades"] == 0
    assert counters["connects"] == 1 and counters["messages"] > 0


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
    await _until(lambda: events.pulled(SYMBOL))
    await _until(lambda: gf.ready[SYMBOL])
    await assert_books_match_server(sim, gf)


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
    await assert_books_match_server(sim, gf)


async def test_a_snapshot_older_than_the_buffer_is_refetched(
    sim: RunningSim, feed: tuple[GateBookFeed, Recorder]
) -> None:
    gf, events = feed
    await _until(lambda: gf.ready[SYMBOL] and events.books > 3)
    stream = gf.stream(SYMBOL)
    sync, index = gf.sync_of(SYMBOL)
    assert isinstance(sync, SnapshotSync) and gf.fetcher is not None
    # a snapshot taken now, applied only after newer updates were buffered
    old = await gf.fetcher(SYMBOL)
    assert old is not None
    old_id = orjson.loads(old)["id"]
    # the updates right after the snapshot go by live, so the buffer starts after a hole
    await _until(lambda: stream.last_id > old_id + 1)
    sync.resync(index, "test")
    sync._pending[index].task.cancel()  # type: ignore[union-attr]
    await _until(lambda: len(sync._pending[index].buffered) >= 2)
    assert not stream.live
    assert sync._pending[index].buffered[0][0] > old_id + 1  # the premise: updates were missed
    assert sync._apply_snapshot(index, old) is False
    assert gf.counters_for(SYMBOL)["stale_snapshots"] == 1 and not gf.ready[SYMBOL]
    sync.resync(index, "again")
    await _until(lambda: gf.ready[SYMBOL])
    await assert_books_match_server(sim, gf)


async def test_full_book_pushes_replace_the_book(
    sim: RunningSim, feed: tuple[GateBookFeed, Recorder]
) -> None:
    gf, _ = feed
    venue_state(sim.exchange).config.full_snapshot_every_s = 0.2
    await _until(lambda: gf.ready[SYMBOL])
    # one REST snapshot at the start, every later whole book is a `full: true` push
    await _until(lambda: gf.counters_for(SYMBOL)["snapshots"] >= 4)
    counters = gf.counters_for(SYMBOL)
    assert counters["gaps"] == counters["resyncs"] == 0
    await assert_books_match_server(sim, gf)


@pytest.mark.parametrize("fault", [None, FaultKind.SKIP_SEQUENCE, FaultKind.MALFORMED_FRAME])
async def test_obu_channel(sim: RunningSim, fault: FaultKind | None) -> None:
    gf, events = await _start(sim, depth_channel="obu")
    try:
        assert gf.fetcher is None  # no REST: the first push of a subscription is full
        assert isinstance(gf.sync_of(SYMBOL)[0], PushSync)
        assert gf.stream(SYMBOL).key == b"ob.BTC_USDT.400"  # obu pushes name their stream
        await _until(lambda: gf.ready[SYMBOL] and events.books > 3)
        assert gf.counters_for(SYMBOL)["snapshots"] == 1
        if fault is not None:
            sim.exchange.faults.arm(fault, "ws.public")
            await _until(lambda: gf.counters_for(SYMBOL)["resyncs"] >= 1)
            # the resubscription brought a new full push
            await _until(lambda: gf.ready[SYMBOL] and gf.counters_for(SYMBOL)["snapshots"] >= 2)
        await assert_books_match_server(sim, gf)
        assert gf.counters_for(SYMBOL)["reconnects"] == 0
    finally:
        await gf.stop()


async def test_a_frame_with_a_bad_level_is_dropped_whole(
    sim: RunningSim, feed: tuple[GateBookFeed, Recorder]
) -> None:
    gf, events = feed
    await _until(lambda: gf.ready[SYMBOL])
    stream = gf.stream(SYMBOL)
    book = gf.books[SYMBOL]
    inst = gf.instruments[SYMBOL]
    before = (book.levels(0), book.levels(1))
    nxt = stream.last_id + 1
    # the good bid comes first: it must not reach the book on its own
    good = str(inst.ticks_to_price(book.best_bid_price)).encode()
    frame = (
        b'{"time":1,"time_ms":1000,"channel":"spot.order_book_update","event":"update",'
        b'"result":{"t":1000,"s":"BTC_USDT","U":%d,"u":%d,"b":[["%s","1"],["x","1"]],"a":[]}}'
        % (nxt, nxt, good)
    )
    assert deliver(gf, SYMBOL, frame) < 0
    assert gf.counters_for(SYMBOL)["decode_errors"] == 1
    assert not gf.ready[SYMBOL] and not stream.live
    assert (book.levels(0), book.levels(1)) == before
    await _until(lambda: gf.ready[SYMBOL])
    await assert_books_match_server(sim, gf)
    assert events.statuses[-1].ready


async def test_two_symbols_share_a_connection_and_resync_alone(
    sim: RunningSim, pair_feed: tuple[GateBookFeed, Recorder]
) -> None:
    gf, events = pair_feed
    assert len(gf.connections) == 1
    await _until(lambda: gf.ready[SYMBOL] and gf.ready[OTHER_SYMBOL])
    await _until(lambda: gf.stream(SYMBOL).applied > 3 and gf.stream(OTHER_SYMBOL).applied > 3)
    assert gf.connection_of(SYMBOL) is gf.connection_of(OTHER_SYMBOL)

    def gaps(symbol: str) -> int:
        return gf.counters_for(symbol)["gaps"]

    # one diff of one of the two books goes missing
    sim.exchange.faults.arm(FaultKind.SKIP_SEQUENCE, "ws.public")
    await _until(lambda: gaps(SYMBOL) + gaps(OTHER_SYMBOL) >= 1)
    hit, spared = (SYMBOL, OTHER_SYMBOL) if gaps(SYMBOL) else (OTHER_SYMBOL, SYMBOL)
    await _until(lambda: events.pulled(hit))
    await _until(lambda: gf.ready[hit])
    # the other book never left: no resync, no status change, still applying
    applied = gf.stream(spared).applied
    await _until(lambda: gf.stream(spared).applied > applied)
    assert gf.ready[spared] and not events.pulled(spared)
    assert gf.counters_for(spared)["resyncs"] == gaps(spared) == 0
    assert gf.counters_for(hit)["resyncs"] == 1
    await assert_books_match_server(sim, gf, (SYMBOL, OTHER_SYMBOL))


async def test_a_dropped_connection_resyncs_only_its_symbols(sim: RunningSim) -> None:
    gf, events = await _start(sim, (SYMBOL, OTHER_SYMBOL), symbols_per_connection=1)
    try:
        assert len(gf.connections) == 2
        await _until(lambda: gf.ready[SYMBOL] and gf.ready[OTHER_SYMBOL])
        dropped, kept = gf.connection_of(OTHER_SYMBOL), gf.connection_of(SYMBOL)
        assert dropped is not None and kept is not None and dropped is not kept
        dropped.reconnect("test")
        await _until(lambda: gf.counters_for(OTHER_SYMBOL)["reconnects"] == 1)
        await _until(lambda: events.pulled(OTHER_SYMBOL) and gf.ready[OTHER_SYMBOL])
        assert gf.ready[SYMBOL] and not events.pulled(SYMBOL)
        assert gf.counters_for(SYMBOL)["reconnects"] == 0
        await assert_books_match_server(sim, gf, (SYMBOL, OTHER_SYMBOL))
    finally:
        await gf.stop()


async def test_an_unattributable_frame_resyncs_every_book_of_its_connection(
    sim: RunningSim, pair_feed: tuple[GateBookFeed, Recorder]
) -> None:
    gf, events = pair_feed
    both = (SYMBOL, OTHER_SYMBOL)
    await _until(lambda: all(gf.ready[s] for s in both))
    frames = [
        b'{"time":1,"channel":"spot.trades","event":"upd',  # not JSON
        b'{"channel":"spot.obu","result":{"t":1,"u":5}}',  # a depth push naming no symbol
    ]
    for n, frame in enumerate(frames, start=1):
        await _until(lambda: all(gf.ready[s] for s in both))
        assert deliver(gf, SYMBOL, frame) == fh.OTHER
        for symbol in both:
            assert gf.counters_for(symbol)["decode_errors"] == n
            assert not gf.ready[symbol] and events.pulled(symbol)
    await _until(lambda: all(gf.ready[s] for s in both))
    await assert_books_match_server(sim, gf, both)


async def test_trades_and_tickers_never_count_as_decode_errors(
    sim: RunningSim, pair_feed: tuple[GateBookFeed, Recorder]
) -> None:
    gf, events = pair_feed
    await _until(lambda: len(events.trades) > 5 and len(events.tickers) > 5)
    symbols = {t.symbol for t in events.trades} | {m.symbol for m in events.tickers}
    assert symbols == {SYMBOL, OTHER_SYMBOL}
    for symbol in symbols:
        assert gf.counters_for(symbol)["decode_errors"] == 0
    # a trade with an unreadable field is dropped and counted, its book left alone
    assert gf.ready[SYMBOL]
    bad = b'{"channel":"spot.trades","event":"update","result":{"currency_pair":"BTC_USDT"}}'
    assert deliver(gf, SYMBOL, bad) == fh.OTHER
    assert gf.counters_for(SYMBOL)["decode_errors"] == 1 and gf.ready[SYMBOL]
    assert gf.counters_for(OTHER_SYMBOL)["decode_errors"] == 0


async def test_duplicated_trades_are_delivered_once(
    sim: RunningSim, feed: tuple[GateBookFeed, Recorder]
) -> None:
    gf, events = feed
    await _until(lambda: gf.ready[SYMBOL] and bool(events.trades))
    # the venue repeats every frame for a while: depth repeats are skipped, trades dropped
    sim.exchange.faults.arm(FaultKind.DUPLICATE_MESSAGE, "ws.public", count=-1)
    await _until(lambda: gf.counters_for(SYMBOL)["duplicate_trades"] >= 3)
    sim.exchange.faults.disarm(FaultKind.DUPLICATE_MESSAGE)
    ids = [t.trade_id for t in events.trades]
    assert len(ids) == len(set(ids))
    counters = gf.counters_for(SYMBOL)
    assert counters["gaps"] == counters["resyncs"] == counters["decode_errors"] == 0
    await assert_books_match_server(sim, gf)
    # the same trade frame twice, by hand (the market is stopped: no real trade interferes)
    trades = len(events.trades)
    duplicates = gf.counters_for(SYMBOL)["duplicate_trades"]
    next_id = max(int(t.trade_id) for t in events.trades) + 1
    frame = orjson.dumps(
        {
            "time": 1,
            "time_ms": 1000,
            "channel": "spot.trades",
            "event": "update",
            "result": {
                "id": next_id,
                "create_time": 1,
                "create_time_ms": "1000.5",
                "side": "sell",
                "currency_pair": SYMBOL,
                "amount": "0.01",
                "price": "65000",
            },
        }
    )
    assert deliver(gf, SYMBOL, frame) == fh.OTHER
    assert deliver(gf, SYMBOL, frame) == fh.OTHER
    assert len(events.trades) == trades + 1 and events.trades[-1].trade_id == str(next_id)
    assert gf.counters_for(SYMBOL)["duplicate_trades"] == duplicates + 1


async def test_a_refused_depth_subscription_keeps_the_book_pulled(sim: RunningSim) -> None:
    # the simulator, like Gate, refuses an interval it does not offer
    gf, events = await _start(sim, (SYMBOL, OTHER_SYMBOL), interval="1000ms")
    try:
        connection = gf.connections[0]
        await _until(lambda: connection.rejected == {SYMBOL, OTHER_SYMBOL})
        sync = connection.sync
        assert isinstance(sync, SnapshotSync)
        # trades and tickers still flow, but no snapshot is fetched and no book comes back
        tickers = len(events.tickers)
        await _until(lambda: len(events.tickers) > tickers + 5)
        for symbol in (SYMBOL, OTHER_SYMBOL):
            _, index = gf.sync_of(symbol)
            assert not gf.ready[symbol] and not gf.stream(symbol).live
            assert sync._pending[index].task is None
    finally:
        await gf.stop()


async def test_a_refusal_concerns_the_book_it_names(
    sim: RunningSim, pair_feed: tuple[GateBookFeed, Recorder]
) -> None:
    gf, _ = pair_feed
    await _until(lambda: gf.ready[SYMBOL] and gf.ready[OTHER_SYMBOL])
    # an answer without our request id: the payload names the book
    ack = orjson.dumps(
        {
            "time": 1,
            "channel": "spot.order_book_update",
            "event": "subscribe",
            "payload": [OTHER_SYMBOL, "100ms"],
            "error": {"code": 2, "message": "test"},
            "result": {"status": "fail"},
        }
    )
    assert deliver(gf, SYMBOL, ack) == fh.OTHER
    connection = gf.connections[0]
    assert connection.rejected == {OTHER_SYMBOL}
    sync, index = gf.sync_of(OTHER_SYMBOL)
    assert isinstance(sync, SnapshotSync) and sync._pending[index].task is None
    assert not gf.ready[OTHER_SYMBOL] and gf.ready[SYMBOL]
    # a resync of every book leaves the refused one pulled
    connection.resync_all("test")
    assert sync._pending[index].task is None and not gf.ready[OTHER_SYMBOL]
    await _until(lambda: gf.ready[SYMBOL])
    # a new connection asks again
    conn = gf.connection_of(SYMBOL)
    assert conn is not None
    conn.reconnect("test")
    await _until(lambda: gf.ready[OTHER_SYMBOL] and gf.ready[SYMBOL])
    assert not connection.rejected
    await assert_books_match_server(sim, gf, (SYMBOL, OTHER_SYMBOL))


async def test_an_upgrade_notice_reconnects(
    sim: RunningSim, feed: tuple[GateBookFeed, Recorder]
) -> None:
    gf, events = feed
    await _until(lambda: gf.ready[SYMBOL])
    assert deliver(gf, SYMBOL, b'{"time":1,"channel":"","event":"upgrade"}') == fh.OTHER
    await _until(lambda: gf.counters_for(SYMBOL)["reconnects"] == 1)
    await _until(lambda: events.pulled(SYMBOL) and gf.ready[SYMBOL])
    await assert_books_match_server(sim, gf)


async def test_options(sim: RunningSim) -> None:
    gf, _ = _make(sim, ws_options=None)
    assert gf.ws_options.keepalive_s == KEEPALIVE_S == 5.0  # Gate's ping is on by default
    gf, _ = _make(sim, ws_options=WsOptions(stale_after_s=3.0))
    assert gf.ws_options.keepalive_s == KEEPALIVE_S and gf.ws_options.stale_after_s == 3.0
    assert _make(sim)[0].ws_options.keepalive_s == 0.2
    assert len(_make(sim, (SYMBOL, OTHER_SYMBOL))[0].connections) == 1
    assert len(_make(sim, (SYMBOL, OTHER_SYMBOL), symbols_per_connection=1)[0].connections) == 2
    with pytest.raises(ValueError, match="depth channel"):
        _make(sim, depth_channel="order_book")
    with pytest.raises(ValueError, match="symbols_per_connection"):
        _make(sim, symbols_per_connection=0)
