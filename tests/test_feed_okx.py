"""The OKX book feed against the simulated OKX over real loopback sockets.

Each scenario ends the same way: once the feed has caught up with the server's last seqId,
the local book equals the server's book level for level. Frames forged by a test enter the
way the listener hands them over: `frame_handler.on_frame`, then `on_message` for any status
the fast path did not finish.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import orjson
import pytest
from support import until as _until

from engine._core import frame_handler as fh
from engine._core.book import OrderBook
from engine._core.depth_decode import OkxBooksDecoder
from engine._core.frame_handler import okx_checksum
from engine.clock import NS_PER_SECOND, LiveClock, SimClock
from engine.data.frames_ref import crc32_signed, okx_number
from engine.events import EventHandler, FeedStatus, Trade
from engine.gateway.okx.feed import (
    BUDGET_WINDOW_NS,
    OkxBookFeed,
    RequestBudget,
    depth_key,
)
from engine.gateway.ws import WsOptions
from engine.model.instrument import Instrument
from engine.model.market_data import MarketData
from engine.sim.faults import FaultKind
from engine.sim.server import RunningSim, start_sim
from engine.sim.venues import okx_ws
from engine.sim.venues.okx_core import ChecksumMode, OkxConfig
from engine.sim.venues.okx_messages import checksum as sim_checksum

SYMBOL = "BTC-USDT"
OTHER = "ETH-USDT"
SYMBOLS = (SYMBOL, OTHER)
HOUR_NS = 3600 * NS_PER_SECOND


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


def _ws_options(stale_after_s: float = 1.0) -> WsOptions:
    return WsOptions(
        stale_after_s=stale_after_s,
        keepalive_s=0.2,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
        watchdog_s=0.05,
    )


def _venue(checksum: ChecksumMode) -> dict[str, object]:
    # A short idle timeout bounds the sim's shutdown: a frozen WsConn writer can miss its
    # cancellation (3.11 wait_for race) and would otherwise linger for the full 30 s. The
    # market's pushes every few milliseconds keep a healthy connection well inside it.
    return {"config": OkxConfig(checksum=checksum, idle_timeout_s=2.0)}


@pytest.fixture(params=["crc32", "zero"])
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[RunningSim]:
    async with start_sim(
        "okx", seed=5, market_interval_ms=5, venue_options=_venue(request.param), tls=True
    ) as s:
        yield s


@pytest.fixture
async def crc_sim() -> AsyncIterator[RunningSim]:
    async with start_sim(
        "okx", seed=7, market_interval_ms=5, venue_options=_venue("crc32"), tls=True
    ) as s:
        yield s


def _instruments(sim: RunningSim, symbols: tuple[str, ...] = SYMBOLS) -> list[Instrument]:
    return [i for i in sim.exchange.instruments() if i.symbol in symbols]


async def _start_feed(sim: RunningSim) -> tuple[OkxBookFeed, Recorder]:
    events = Recorder()
    feed = OkxBookFeed(
        _instruments(sim),
        events,
        ws_url=sim.urls.ws_public,
        clock=LiveClock(),
        ws_options=_ws_options(),
        seed=1,
        ca_file=sim.ca_file,
    )
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


def deliver(feed: OkxBookFeed, frame: bytes) -> int:
    """Hand `frame` to the feed exactly as the listener does; the fast path's status."""
    conn = feed.conn
    assert conn is not None
    handler = conn.handler
    assert handler.frame_handler is not None
    recv_ns = feed.clock.time_ns()
    status = handler.frame_handler.on_frame(frame, recv_ns)
    if status not in (fh.OK, fh.SKIPPED):
        handler.on_message(memoryview(frame), status, recv_ns)
    return status


def counter(feed: OkxBookFeed, name: str) -> int:
    """A feed counter summed over the instruments (a fault hits whichever was next)."""
    return sum(getattr(feed.counters[s], name) for s in SYMBOLS)


async def assert_book_matches_server(
    sim: RunningSim, feed: OkxBookFeed, symbol: str = SYMBOL
) -> None:
    """Pause the market, let the feed catch up, compare every level."""
    await sim.stop_market()
    seq, bids, asks = sim.exchange.engine.depth(symbol, 10_000)
    stream = feed.stream(symbol)
    await _until(lambda: feed.ready[symbol] and stream.last_id == seq)
    book = feed.books[symbol]
    assert book.levels(0) == bids
    assert book.levels(1) == asks
    assert not book.crossed


def _venue_checksum(inst: Instrument, book: OrderBook) -> int:
    """The simulator's own checksum function over our book, in OKX's number strings."""

    def rows(side: int) -> list[tuple[str, str]]:
        return [
            (okx_number(inst.ticks_to_str(p)), okx_number(inst.lots_to_str(q)))
            for p, q in book.levels(side, 25)
        ]

    return sim_checksum(rows(0), rows(1))


# -- without sockets ----------------------------------------------------------------------


async def test_checksum_matches_the_documented_examples() -> None:
    assert crc32_signed(b"3366.1:7:3366.8:9:3366:6:3368:8") == -1881014294
    assert crc32_signed(b"3366.1:7:3366.8:9:3368:8:3372:8") == 831078360
    async with start_sim("okx", seed=5, market=False) as s:
        inst = next(i for i in s.exchange.instruments() if i.symbol == SYMBOL)
    decoder = OkxBooksDecoder.from_instrument(inst, 100)
    frame = (
        b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{'
        b'"asks":[["3366.8","9","0","1"],["3368","8","0","1"]],'
        b'"bids":[["3366.1","7","0","1"],["3366","6","0","1"]],'
        b'"ts":"1","checksum":0,"prevSeqId":-1,"seqId":1}]}'
    )
    assert decoder.decode(frame) >= 0
    book = OrderBook(100)
    book.load_snapshot(decoder.buffer)
    # the C checksum writes our book back as OKX prints it ("3368", "7": no trailing zeros)
    assert okx_checksum(book, inst.price_grid, inst.qty_grid) == -1881014294


async def test_routing_key_is_what_okx_route_extracts() -> None:
    async with start_sim("okx", seed=5, market=False) as s:
        instruments = _instruments(s)
    feed = OkxBookFeed(instruments, Recorder(), ws_url="ws://x", clock=LiveClock())
    key = depth_key("books", SYMBOL)
    assert key == b'{"arg":{"channel":"books","instId":"BTC-USDT"'
    stream = feed.stream(SYMBOL)
    assert stream.key == key
    handler = feed.frame_handler
    _, index = feed.sync_of(SYMBOL)
    assert handler.index_of(key) == index
    # a real push routes to its stream and, being a snapshot, brings it live
    book = feed.books[SYMBOL]
    frame = (
        key + b'},"action":"snapshot","data":[{"asks":[["65000.1","0.5","0","1"]],'
        b'"bids":[["65000","0.3","0","2"]],"ts":"1700000000000","checksum":0,'
        b'"prevSeqId":-1,"seqId":42}]}'
    )
    assert handler.on_frame(frame, 1) == fh.SNAPSHOT
    assert handler.last_index == index and stream.live and stream.last_id == 42
    inst = feed.instruments[SYMBOL]
    assert book.best_bid() == (inst.price_to_ticks("65000"), inst.qty_to_lots("0.3"))
    # trades share the prefix shape but not the key: the slow path's
    trade = b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[]}'
    assert handler.on_frame(trade, 1) == fh.OTHER
    # the tick-by-tick channel keys on its own name
    tbt = OkxBookFeed(
        instruments, Recorder(), ws_url="ws://x", clock=LiveClock(), depth_channel="books-l2-tbt"
    )
    assert tbt.stream(OTHER).key == b'{"arg":{"channel":"books-l2-tbt","instId":"ETH-USDT"'


def test_request_budget_slides_on_the_engine_clock() -> None:
    clock = SimClock(start_ns=10 * NS_PER_SECOND)
    budget = RequestBudget(clock, 5)
    assert budget.window_ns == BUDGET_WINDOW_NS == HOUR_NS
    assert budget.spend(1)  # the initial subscription
    clock.advance_to(clock.monotonic_ns() + 60 * NS_PER_SECOND)
    assert budget.spend(2) and budget.spend(2)  # two resyncs a minute later
    assert budget.used == 5
    assert not budget.spend(2) and not budget.spend(1)  # all or nothing, nothing spent
    assert budget.used == 5
    first = 10 * NS_PER_SECOND
    # one more request fits when the first leaves the window; two when the next ones do
    assert budget.wait_ns(1) == first + HOUR_NS - clock.monotonic_ns()
    assert budget.wait_ns(2) == first + 60 * NS_PER_SECOND + HOUR_NS - clock.monotonic_ns()
    clock.advance_to(first + HOUR_NS)
    assert budget.used == 4 and budget.wait_ns(1) == 0
    assert not budget.spend(2)
    clock.advance_to(first + HOUR_NS + 60 * NS_PER_SECOND)
    assert budget.used == 0
    assert budget.spend(5) and not budget.spend(1)
    budget.reset()  # a new connection
    assert budget.used == 0 and budget.spend(5)
    with pytest.raises(ValueError, match="never fit"):
        budget.wait_ns(6)
    with pytest.raises(ValueError, match="limit"):
        RequestBudget(clock, 0)


async def test_constructor_validates_its_knobs() -> None:
    async with start_sim("okx", seed=5, market=False) as s:
        instruments = _instruments(s)
    events = Recorder()
    with pytest.raises(ValueError, match="depth_channel"):
        OkxBookFeed(instruments, events, ws_url="ws://x", clock=LiveClock(), depth_channel="books5")
    for budget in (2, 481):  # 1 request to subscribe + 2 per resync; OKX's 480 an hour
        with pytest.raises(ValueError, match="subscribe_budget"):
            OkxBookFeed(
                instruments, events, ws_url="ws://x", clock=LiveClock(), subscribe_budget=budget
            )
    feed = OkxBookFeed(instruments, events, ws_url="ws://x", clock=LiveClock())
    assert feed.budget.limit == 450 and feed.channels == ("books", "bbo-tbt", "trades")
    # OKX needs its text ping: a caller without a keepalive gets 20 s
    assert feed.ws_options.keepalive_s == 20.0
    feed = OkxBookFeed(
        instruments,
        events,
        ws_url="ws://x",
        clock=LiveClock(),
        ws_options=WsOptions(stale_after_s=3.0),
        verify_checksum=False,
    )
    assert feed.ws_options.keepalive_s == 20.0 and feed.ws_options.stale_after_s == 3.0
    assert not feed.verify_checksum


async def test_slow_path_without_a_socket(caplog: pytest.LogCaptureFixture) -> None:
    """Statuses the fast path leaves to Python, handed over as the listener does."""
    async with start_sim("okx", seed=5, market=False) as s:
        instruments = _instruments(s)
    events = Recorder()
    feed = OkxBookFeed(instruments, events, ws_url="ws://x", clock=LiveClock())
    handler = feed.connection

    def other(frame: bytes) -> None:
        assert handler.frame_handler.on_frame(frame, 1) == fh.OTHER
        handler.on_message(memoryview(frame), fh.OTHER, 1)

    other(b"pong")
    assert feed.pongs == 1
    other(b'{"id":"1","event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}')
    other(b'{"id":"2","event":"error","code":"60012","msg":"Invalid request"}')
    assert feed.venue_errors == 1
    caplog.set_level(logging.WARNING, logger="engine.feed.okx")
    other(b'{"event":"notice","code":"64008","msg":"The connection will soon be closed"}')
    assert any("64008" in r.getMessage() for r in caplog.records)
    # a trade of an instrument we did not subscribe: not ours
    other(b'{"arg":{"channel":"trades","instId":"SOL-USDT"},"data":[{"tradeId":"x"}]}')
    assert counter(feed, "decode_errors") == 0 and not events.trades
    # a garbled trade of ours: that instrument's book counts it (and would resync)
    other(b'{"arg":{"channel":"trades","instId":"ETH-USDT"},"data":[{"tradeId":"1"}]}')
    assert feed.counters[OTHER].decode_errors == 1 and feed.counters[SYMBOL].decode_errors == 0
    # not JSON: nobody to blame, every instrument counts it; nothing raises unconnected
    other(b"\xff garbage")
    assert feed.counters[OTHER].decode_errors == 2 and feed.counters[SYMBOL].decode_errors == 1
    assert feed.resubscribes == 0 and feed.resyncs_waiting == 0  # not connected: on_open will


# -- on the simulator -----------------------------------------------------------------------


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
    assert quote.symbol in SYMBOLS and 0 < quote.bid < quote.ask
    await assert_book_matches_server(sim, of)
    await assert_book_matches_server(sim, of, OTHER)
    for symbol in SYMBOLS:
        counters = of.counters_for(symbol)
        assert counters["gaps"] == counters["checksum_failures"] == counters["decode_errors"] == 0
        assert counters["snapshots"] == 1 and counters["duplicate_trades"] == 0
        assert counters["messages"] > 0  # the connection's own counters come along
    # zero mode: nothing to check, sequence continuity is the guard
    assert (of.checksums_checked > 0) is crc32
    if crc32:
        # our book's checksum (C) agrees with the venue's own function
        inst = of.instruments[SYMBOL]
        book = of.books[SYMBOL]
        assert okx_checksum(book, inst.price_grid, inst.qty_grid) == _venue_checksum(inst, book)
    assert of.budget.used == 1  # one subscribe request carried all six channels


@pytest.mark.parametrize(
    ("fault", "name"),
    [
        (FaultKind.SKIP_SEQUENCE, "gaps"),
        (FaultKind.MALFORMED_FRAME, "decode_errors"),
        (FaultKind.DROP_CONNECTION, "reconnects"),
        (FaultKind.FREEZE_CONNECTION, "stale"),
    ],
)
async def test_recovers_from_a_feed_fault(
    sim: RunningSim, feed: tuple[OkxBookFeed, Recorder], fault: FaultKind, name: str
) -> None:
    of, events = feed
    await _until(lambda: of.ready[SYMBOL] and of.ready[OTHER])
    sim.exchange.faults.arm(fault, "ws.public")
    # the fault hits whichever instrument's frame was next
    await _until(lambda: any(of.counters_for(s)[name] >= 1 for s in SYMBOLS))
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
    await _until(lambda: counter(of, "checksum_failures") >= 1)
    assert crc_sim.exchange.faults.counters()["bad_checksum"] == 1
    assert of.resubscribes == resubscribes + 1  # that instrument alone
    await _until(lambda: any(not s.ready for s in events.statuses))
    await _until(lambda: of.ready[SYMBOL] and of.ready[OTHER])
    await assert_book_matches_server(crc_sim, of)
    await assert_book_matches_server(crc_sim, of, OTHER)
    assert counter(of, "checksum_failures") == 1


async def test_a_gap_resyncs_only_its_own_book(
    crc_sim: RunningSim, crc_feed: tuple[OkxBookFeed, Recorder]
) -> None:
    of, _ = crc_feed
    await _until(lambda: of.ready[SYMBOL] and of.ready[OTHER])
    stream = of.stream(SYMBOL)
    # a forged update that does not chain: only this instrument goes back to its snapshot
    frame = (
        b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],'
        b'"bids":[],"ts":"1","checksum":0,"prevSeqId":'
        + str(stream.last_id + 1000).encode()
        + b',"seqId":'
        + str(stream.last_id + 1001).encode()
        + b"}]}"
    )
    assert deliver(of, frame) == fh.ERR_GAP
    assert not stream.live and not of.ready[SYMBOL]
    assert of.ready[OTHER] and of.stream(OTHER).live
    assert of.counters[SYMBOL].gaps == 1 and of.counters[OTHER].gaps == 0
    # a garbled frame nobody can be blamed for: every book resyncs, nothing raises
    assert deliver(of, b'{"arg":{"chan') == fh.OTHER
    assert not of.ready[OTHER]
    assert of.counters[SYMBOL].decode_errors == 1 and of.counters[OTHER].decode_errors == 1
    await _until(lambda: of.ready[SYMBOL] and of.ready[OTHER])
    await assert_book_matches_server(crc_sim, of)
    await assert_book_matches_server(crc_sim, of, OTHER)
    assert counter(of, "on_book_errors") == 0
    assert of.conn is not None and of.conn.counters.handler_errors == 0


async def test_pushes_in_another_key_order(
    crc_sim: RunningSim, crc_feed: tuple[OkxBookFeed, Recorder]
) -> None:
    of, events = crc_feed
    await assert_book_matches_server(crc_sim, of)  # market stopped, the feed caught up
    inst = of.instruments[SYMBOL]
    stream = of.stream(SYMBOL)
    book = of.books[SYMBOL]
    bid = book.levels(0, 1)[0][0]
    books_before, seq = events.books, stream.last_id
    # `arg` last: the fast path cannot route it, the slow path applies it by the same rule
    update = orjson.dumps(
        {
            "action": "update",
            "data": [
                {
                    "asks": [],
                    "bids": [[inst.ticks_to_str(bid - 1), "0.25", "0", "1"]],
                    "ts": "1700000000000",
                    "checksum": 0,
                    "prevSeqId": seq,
                    "seqId": seq + 1,
                }
            ],
            "arg": {"channel": "books", "instId": SYMBOL},
        }
    )
    assert deliver(of, update) == fh.OTHER
    assert stream.last_id == seq + 1 and of.ready[SYMBOL]
    assert dict(book.levels(0))[bid - 1] == inst.qty_to_lots("0.25")
    assert events.books == books_before + 1  # published like any other update
    # ... and one that does not chain resyncs that book, as on the fast path
    gap = update.replace(f'"prevSeqId":{seq}'.encode(), f'"prevSeqId":{seq + 7}'.encode())
    assert gap != update
    # the other book synced (on a slow machine it may still be resyncing from the market's
    # last frames when the market stops), so its readiness below says the gap left it alone
    await _until(lambda: of.ready[OTHER])
    assert deliver(of, gap) == fh.OTHER
    assert not of.ready[SYMBOL] and of.counters[SYMBOL].gaps == 1 and of.ready[OTHER]
    # a trade with its arg last arrives too
    trade = orjson.dumps(
        {
            "data": [
                {
                    "instId": SYMBOL,
                    "tradeId": "900000001",
                    "px": inst.ticks_to_str(bid),
                    "sz": "0.01",
                    "side": "sell",
                    "ts": "1700000000001",
                }
            ],
            "arg": {"channel": "trades", "instId": SYMBOL},
        }
    )
    assert deliver(of, trade) == fh.OTHER
    assert events.trades[-1].trade_id == "900000001"
    await _until(lambda: of.ready[SYMBOL])


async def test_a_duplicated_trade_is_delivered_once(
    crc_sim: RunningSim, crc_feed: tuple[OkxBookFeed, Recorder]
) -> None:
    of, events = crc_feed
    # a trade of SYMBOL itself (the other instrument may print first)
    await _until(lambda: any(t.symbol == SYMBOL for t in events.trades))
    # market stopped and the books caught up: every real trade has arrived (a trade is
    # pushed before the depth update of the same engine call)
    await assert_book_matches_server(crc_sim, of)
    await assert_book_matches_server(crc_sim, of, OTHER)
    last = max((t for t in events.trades if t.symbol == SYMBOL), key=lambda t: int(t.trade_id))
    seen, dropped = len(events.trades), of.counters[SYMBOL].duplicate_trades

    def trade_frame(trade_id: int) -> bytes:
        item = {
            "instId": SYMBOL,
            "tradeId": str(trade_id),
            "px": str(last.price),
            "sz": str(last.quantity),
            "side": "buy",
            "ts": "1700000000000",
            "count": "1",
        }
        return orjson.dumps({"arg": {"channel": "trades", "instId": SYMBOL}, "data": [item]})

    fresh = trade_frame(int(last.trade_id) + 1)
    assert deliver(of, fresh) == fh.OTHER
    assert deliver(of, fresh) == fh.OTHER  # the same frame again (a repeat, a reconnect)
    assert deliver(of, trade_frame(int(last.trade_id))) == fh.OTHER  # an old one replayed
    assert [t.trade_id for t in events.trades[seen:]] == [str(int(last.trade_id) + 1)]
    assert of.counters[SYMBOL].duplicate_trades == dropped + 2
    assert events.trades[-1].aggressor.name == "BUY"
    assert of.ready[SYMBOL] and of.ready[OTHER]  # a trade never touches a book


async def test_tick_by_tick_depth_channel(crc_sim: RunningSim) -> None:
    events = Recorder()
    feed = OkxBookFeed(
        _instruments(crc_sim, (SYMBOL,)),
        events,
        ws_url=crc_sim.urls.ws_public,
        clock=LiveClock(),
        ws_options=_ws_options(),
        depth_channel="books-l2-tbt",
        seed=1,
        ca_file=crc_sim.ca_file,
    )
    await feed.start()
    try:
        await _until(lambda: feed.ready[SYMBOL])
        crc_sim.exchange.faults.arm(FaultKind.SKIP_SEQUENCE, "ws.public")
        await _until(lambda: feed.counters[SYMBOL].gaps >= 1)
        await assert_book_matches_server(crc_sim, feed)
    finally:
        await feed.stop()


async def test_a_burst_of_resyncs_stays_within_the_budget(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The engine clock (a SimClock) drives the budget: an hour passes without a wait."""
    clock = SimClock(start_ns=1_000 * NS_PER_SECOND)
    budget = 7
    # every subscribe/unsubscribe/login request the venue receives, at engine time
    received: list[int] = []
    handle = okx_ws._handle

    def counting(session: object, hub: object, text: str) -> None:
        if text != "ping" and orjson.loads(text).get("op") in ("subscribe", "unsubscribe"):
            received.append(clock.monotonic_ns())
        handle(session, hub, text)  # type: ignore[arg-type]

    monkeypatch.setattr(okx_ws, "_handle", counting)
    caplog.set_level(logging.INFO, logger="engine.feed.okx")
    async with start_sim(
        "okx", seed=9, market_interval_ms=5, venue_options=_venue("crc32"), tls=True
    ) as sim:
        events = Recorder()
        feed = OkxBookFeed(
            _instruments(sim),
            events,
            ws_url=sim.urls.ws_public,
            clock=clock,
            # simulated time jumps an hour: that must not look like a stale feed
            ws_options=_ws_options(stale_after_s=24 * 3600.0),
            subscribe_budget=budget,
            seed=1,
            ca_file=sim.ca_file,
        )
        await feed.start()
        try:
            await _until(lambda: feed.ready[SYMBOL] and feed.ready[OTHER])
            assert len(received) == 1  # one subscribe request for every channel
            sync, btc = feed.sync_of(SYMBOL)
            _, eth = feed.sync_of(OTHER)
            # the burst: far more resyncs than the budget holds
            for k in range(40):
                sync.resync(btc if k % 2 else eth, "burst")
            feed.resync_all("burst")
            assert feed.budget.used == budget and feed.resyncs_waiting == 2
            await _until(lambda: len(received) == budget)
            # the resubscriptions that did go out bring both books back
            await _until(lambda: feed.ready[SYMBOL] and feed.ready[OTHER])
            # a resync now waits for the window, its book not ready, nothing sent
            sync.resync(btc, "after the burst")
            assert not feed.ready[SYMBOL] and feed.resyncs_waiting >= 1
            books = events.books
            await _until(lambda: events.books > books + 50)  # the other book lives on
            assert not feed.ready[SYMBOL] and feed.ready[OTHER]
            assert len(received) == budget
            # an hour later on the engine clock the retry timer sends it
            clock.advance_to(clock.monotonic_ns() + HOUR_NS + NS_PER_SECOND)
            await _until(lambda: feed.ready[SYMBOL])
            assert feed.resyncs_waiting == 0
            await _until(lambda: len(received) == budget + 2)
            await assert_book_matches_server(sim, feed)
        finally:
            await feed.stop()
    # never more than the budget inside any hour, on the venue's side of the socket
    for i, sent in enumerate(received):
        assert sum(1 for t in received[: i + 1] if t > sent - HOUR_NS) <= budget
    waits = [r for r in caplog.records if "subscribe budget spent" in r.getMessage()]
    assert len(waits) == 1 and feed.budget_stalls == 1  # logged once for the burst
