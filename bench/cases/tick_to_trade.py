"""Tick-to-trade cases (issue 16): a Binance depth frame that moves the mid -> both quotes
replaced -> the signed requests written to the socket, through the engine's own pipeline
(bench/engine_rig.py) against the in-process Binance simulator over loopback (plain ws://),
with the engine's storage as it runs whenever it trades: every request journaled before it is
sent (issue 17).

- tick_to_trade.internal: the depth frame's bytes in hand -> the Binance feed's frame handler
  (decode, sequence rule, the 1,000-level book) -> the event dispatcher -> the engine's latency
  probe, the risk manager (mark) -> StrategyGuard(MarketMakingStrategy) (one level a side,
  Cython quoter) -> the market history handler (best bid/offer row and cache) -> intent buffer
  -> the risk manager as intent sink (Cython risk core) -> OrderManager.replace: Binance
  replaces in one request (`order.cancelReplace`), so per quote the order journal takes two
  INTENT records (the old order's CANCEL, the new one's NEW: `OrderPersistence.intent`, a
  `write` each, fsync "interval" from the journal's own thread) and the history rows, then
  `BinanceAdapter.submit_replace` fills the request template (HMAC-SHA256 signed bytes), takes
  the rate limiter's budget and writes the frame with picows' `send_text`, registers the
  answer's future and its timeout (`call_later`), all inside the sink, before it returns. A
  tick ends when the last of its two requests (replace bid, replace ask) is written.
- tick_to_trade.internal_nojournal: the same, the order persistence without its journal (its
  history rows and the market history stay), the baseline without its journal too: the
  journal's share, measured (a diagnostic; the engine always journals).
- tick_to_trade.internal_idle: as internal, but the process sleeps 1 ms (blocked in epoll, as
  between real frames) right before each tick, ours and the baseline's: what an idle spell
  costs the next tick on this machine.
- tick_to_trade.pystrategy: as internal with a strategy written in plain Python on the
  Strategy API (`TouchQuoter` below: best bid - 5 ticks, best ask + 5, `replace` when the
  touch moved).
- tick_to_trade.loopback: the simulator's own book moves (background liquidity, as its
  synthetic market moves it) and the bench publishes its depth diff on the market stream
  (t0: the simulator's flush, its 100 ms flush task stopped); the engine's feed receives it
  over loopback (picows, the feed's own connection and sync), the same pipeline runs, and the
  tick ends when the simulator's WS API handler has the second of the two requests. The
  simulator runs on the engine's event loop, so its handling of the first request would delay
  its entry into the second: that handling is subtracted (both were in its socket by then: the
  engine writes a tick's requests inside one call). `first_request` is the handler's entry into
  the first. The move's bookTicker (the feed subscribes to it) reaches the engine before the
  depth diff; the bench lets it be handled before t0.

The storage is the engine's (bench/engine_rig.py: `StorageComponent` with its defaults, the
journal and the SQLite history file in a temporary directory, the writer flushing every
200 ms on SQLite's own thread, the in-process cache); the cases that journal are internal,
internal_idle, pystrategy and loopback.

Every frame moves the touch by 5 ticks, alternately up and down (bench/moving_book.py), on a
1,000-level book; the quotes sit 5 ticks behind the mid, so each frame moves both. Between
ticks (untimed) the bench waits until every request has its answer and the adapter has
received every execution report and balance update of the tick: each tick starts with both
quotes live and acknowledged at the venue, nothing pending, nothing left to arrive. The
process never sleeps while it waits (except internal_idle's 1 ms): it yields to the loop.
Each tick still starts with cold caches: the simulator ran in this process just before (it
parsed, matched and answered the previous tick's requests), and so did the engine's handling
of the answers and reports (their CHANGE records journaled).

Baselines, in the same run, on the same frames:

- internal, internal_idle, pystrategy (and internal_nojournal, without its journal): the
  pipeline in plain Python (bench/naive_pipeline.py): json.loads, a Decimal dict book,
  QuoterRef (internal) or the same touch rule (pystrategy), RiskCoreRef, a dict per order,
  per quote two journal lines (json.dumps, one unbuffered `write` each, no fsync) and one
  `order.cancelReplace` as a dict + urlencode + hmac + json.dumps, its bytes appended to a list
  (no socket: the baseline is spared the WebSocket framing and the write). Between its ticks
  (untimed) its requests go to the simulator on its own account and connection and are
  answered, so its ticks start after the same kind of work as ours.
- loopback: the same naive pipeline as a client of the simulator (aiohttp: the market stream
  of ETHUSDT, its own WS API session), timed the same way from the simulator's flush of an
  ETHUSDT diff to the handler's receipt of its second request.

Per tick figures (the runner's `median_ns`/`p99_ns` are those of batch means): `median_us`,
`p90_us`, `p99_us` (loopback: and `p999_us`), `count`, the baseline's, `ratio_per_tick`, and
`stages_us`: the split of a tick (engine/_core/latency.pyx StageRecorder; each stage the time
since the previous one, p50/p90/p99): frame->book, book->intents, intents->first_send and
first_send->last_send (the sink: risk checks, the journal, the requests written), then
`journal_in_sink` (the part of intents->last_send spent in `OrderPersistence.intent`, summed
over the tick's four records) and `sink_after_last_send` (what the sink still does after the
last write; outside the tick, but the engine's stamps count it); `engine_stamps_us`: the
engine's own stamps of the same ticks (engine/host/latency.py: frame received -> handlers ->
strategy done -> risk done, what its status line calls t2t: risk done now comes after the
writes). Warm-up ticks are left out of all of them (the last `samples x batch` ticks are the
timed ones). `pipeline` says what was traded: requests written, answers and reports,
refusals (all 0), orders resting at the venue, intents journaled, journal records and fsyncs,
history rows written. `python -m bench.tick_parts` times the parts of an internal tick warm,
one at a time.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from bench.engine_rig import (
    RISK,
    SYMBOL,
    TIMEOUT_S,
    EngineRig,
    RigOptions,
    TickTimeout,
    run_on,
)
from bench.moving_book import MovingBook
from bench.naive_client import NaiveClient
from bench.naive_pipeline import (
    NaiveMarketMaker,
    NaivePipeline,
    NaiveStrategy,
    NaiveTouchQuoter,
)
from bench.runner import Options, Pair, case, percentile
from engine._core.depth_decode import BinanceDepthDecoder
from engine._core.frame_handler import OK as FRAME_OK
from engine._core.latency import Histogram, StageRecorder
from engine.events import HandlerContext, OpenOrder, TradingView
from engine.gateway.binance.feed import BinanceBookFeed
from engine.runtime.loop import new_event_loop
from engine.sim.server import RunningSim
from engine.sim.venues.binance import WS_KEY
from engine.sim.venues.binance_ws import WsServer
from engine.sim.venues.binance_wsapi import ApiSession
from engine.strategy.base import Strategy
from engine.strategy.params import MarketMakingParams
from engine.wire.credentials import Credentials

MOVE = 5  # ticks the touch moves each frame
DEPTH = 1000  # levels a side (the Binance feed's snapshot)
BASE = {"BTCUSDT": 6_500_000, "ETHUSDT": 350_000}  # best bid of the "down" state, ticks
ORDER_SIZE = "0.0001"  # BTC: 10 lots, 6.5 USDT (the minimum notional is 5)
NAIVE_ETH_SIZE = "0.002"  # the loopback baseline quotes ETHUSDT: 7 USDT
MM_PARAMS: dict[str, Any] = {
    "levels": 1,
    "order_size": ORDER_SIZE,
    "max_position": "0.01",
    "min_half_spread_ticks": float(MOVE),
    "base_half_spread_ticks": float(MOVE),
    "refresh_ticks": 1,
    "requote_interval_s": 0.0,
    "fill_cooldown_s": 0.0,
    "stale_book_s": 60.0,
}
TOUCH_PARAMS: dict[str, Any] = {"offset_ticks": MOVE, "order_size": ORDER_SIZE}
NAIVE_ACCOUNT = "naive"
NAIVE_CREDENTIALS = Credentials(
    "naiveKEY0123456789abcdefNAIVEkey0123456789abcdefNAIVEkey01234567",
    "naiveSECRET0123456789abcdefNAIVEsecret0123456789abcdefNAIVEsecre",
)
BATCH, QUICK_BATCH = 20, 5  # ticks a timed sample (internal, pystrategy)
LOOP_BATCH, LOOP_QUICK_BATCH = 10, 3  # (loopback)
IDLE_S = 0.001  # internal_idle: the process sleeps this long before each tick
LOOP_STAGES = (
    "publish",
    "book",
    "intents",
    "first_send",
    "last_send",
    "venue_first",
    "venue_last",
)
GOALS = {
    "tick_to_trade.internal": {"median_us": 30, "p99_us": 100},
    "tick_to_trade.pystrategy": {"median_us": 60},
}


class TouchQuoter(Strategy):
    """A user's strategy in plain Python: a bid `offset_ticks` under the best bid and an ask
    as far over the best ask, `order_size` each, moved whenever the touch moves (and no
    request about the order is in flight)."""

    BID_TAG, ASK_TAG = 1, 2

    def on_start(self, context: HandlerContext) -> None:
        super().on_start(context)
        self.offset = int(self.params.get("offset_ticks", 5))
        (self.quoted,) = self.instrument_ids
        size = str(self.params.get("order_size", ORDER_SIZE))
        self.lots = self.instrument(self.quoted).qty_to_lots(size)

    def on_book(self, instrument_id: str, book: Any, timestamp_ns: int) -> None:
        bid, _, ask, _ = book.top()
        if bid <= 0 or ask <= 0:
            return
        view = self.context.view
        self._quote(view, self.BID_TAG, bid - self.offset)
        self._quote(view, self.ASK_TAG, ask + self.offset)

    def _quote(self, view: TradingView, tag: int, price: int) -> None:
        order: OpenOrder | None = view.order(view.order_of_tag(tag))
        if order is None:
            place = self.buy if tag == self.BID_TAG else self.sell
            place(self.quoted, price, self.lots, tag=tag)
        elif not order.pending and order.price_ticks != price:
            self.replace(order, price, self.lots)


# ------------------------------------------------------------------------------ helpers


def _us(ns: float) -> float:
    return round(ns / 1000, 2)


def _spread(values: Sequence[int], tail: bool = False) -> dict[str, Any]:
    """Per-tick figures in microseconds (nearest-rank percentiles)."""
    floats = [float(v) for v in values] or [0.0]
    doc: dict[str, Any] = {
        "median_us": _us(statistics.median(floats)),
        "p90_us": _us(percentile(floats, 90)),
        "p99_us": _us(percentile(floats, 99)),
    }
    if tail:
        doc["p999_us"] = _us(percentile(floats, 99.9))
    doc["count"] = len(values)
    return doc


def _stages(
    recorder: StageRecorder, total: bool = False, rig: EngineRig | None = None
) -> dict[str, dict[str, float]]:
    """The split of a tick; with `rig`, also the journal's share of the sink and what the sink
    did after its last write."""
    names = recorder.stage_names
    out: dict[str, dict[str, float]] = {}
    pairs = [
        (f"{prev}->{name}", recorder.histogram(name)) for prev, name in itertools.pairwise(names)
    ]
    if total:
        pairs.append(("total", recorder.total))
    if rig is not None:
        pairs.append(("journal_in_sink", rig.journal_share))
        pairs.append(("sink_after_last_send", rig.after_last_send))
    for label, hist in pairs:
        p50, p90, p99 = hist.percentiles((50, 90, 99))
        out[label] = {"p50": _us(p50), "p90": _us(p90), "p99": _us(p99)}
    return out


def _engine_stamps(rig: EngineRig) -> dict[str, Any]:
    """The engine's own tick-to-trade stamps (engine/host/latency.py: frame received -> risk
    done, what its status line shows), over the same ticks."""
    assert rig.host is not None
    recorder = rig.host.latency
    return {**_stages(recorder, total=True), "count": recorder.total.count}


_OPEN: list[_Case] = []


def close_all() -> None:
    """Stop every rig this process started (a new case closes the previous ones; atexit)."""
    while _OPEN:
        _OPEN.pop().close()


atexit.register(close_all)


class _Case:
    """What the cases share: an event loop, a rig, the per-tick records, the report."""

    def __init__(self, opts: Options, batch: int, quick_batch: int, journal: bool = True) -> None:
        close_all()
        self.opts = opts
        # the naive pipeline's journal (one JSON line per record, unbuffered), when ours runs
        self._naive_dir = tempfile.TemporaryDirectory(prefix="bench-t2t-naive-")
        self.naive_journal: IO[bytes] | None = None
        if journal:
            self.naive_journal = open(Path(self._naive_dir.name) / "orders.jsonl", "ab", 0)  # noqa: SIM115
        self.batch = quick_batch if opts.quick else batch
        self.keep = opts.samples * self.batch  # the timed ticks: the last ones recorded
        self.loop = new_event_loop()
        self.ours: list[int] = []
        self.theirs: list[int] = []
        self.calls = 0
        self.report: dict[str, Any] = {}
        self.rig: EngineRig | None = None
        self.client: NaiveClient | None = None
        _OPEN.append(self)

    def run(self, coroutine: Any) -> Any:
        return run_on(self.loop, coroutine)

    def recorders(self) -> list[StageRecorder | Histogram]:
        raise NotImplementedError

    def between(self) -> None:
        """Untimed, after each pair of samples: the warm-up's stages are forgotten once it is
        over, and the report is brought up to date."""
        self.calls += 1
        if self.calls == self.opts.warmup:
            for recorder in self.recorders():
                recorder.reset()
        self.update_report()

    def update_report(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        if self.loop.is_closed():
            return
        logging.disable(logging.WARNING)  # "book not ready" and the like: the bench is over
        try:
            if self.client is not None:
                self.run(self.client.close())
            if self.rig is not None:
                self.run(self.rig.close())
        finally:
            self.loop.close()
            logging.disable(logging.NOTSET)
            if self.naive_journal is not None:
                self.naive_journal.close()
            self._naive_dir.cleanup()


# ------------------------------------------------------------------------------ internal


class _Internal(_Case):
    """tick_to_trade.internal, .internal_idle and .pystrategy: frames by hand into the feed's
    frame handler."""

    def __init__(
        self,
        opts: Options,
        name: str,
        strategy_class: str,
        parameters: dict[str, Any],
        naive: Callable[[Any], NaiveStrategy],
        *,
        idle_s: float = 0.0,
        journal: bool = True,
    ) -> None:
        super().__init__(opts, BATCH, QUICK_BATCH, journal)
        self.name = name
        self.idle_s = idle_s
        self.rig = EngineRig(
            RigOptions(
                strategy_class,
                parameters,
                book_depth=DEPTH,
                extra_accounts={NAIVE_ACCOUNT: NAIVE_CREDENTIALS},
                journal=journal,
            )
        )
        self.sink: list[bytes] = []
        self.run(self._start(naive))

    def recorders(self) -> list[StageRecorder | Histogram]:
        rig = self.rig
        assert rig is not None and rig.host is not None
        return [rig.recorder, rig.journal_share, rig.after_last_send, rig.host.latency]

    async def _start(self, naive: Callable[[Any], NaiveStrategy]) -> None:
        rig = self.rig
        assert rig is not None
        books: list[MovingBook] = []

        def sync(feed: BinanceBookFeed) -> None:
            assert rig.instrument is not None
            book = MovingBook(rig.instrument, base_ticks=BASE[SYMBOL], depth=DEPTH, move=MOVE)
            books.append(book)
            stream = feed.stream(SYMBOL)
            decoder = stream.decoder
            assert isinstance(decoder, BinanceDepthDecoder)
            if decoder.decode_snapshot(book.snapshot()) != 0:
                raise RuntimeError(f"snapshot refused: status {decoder.last_status}")
            stream.load_snapshot()
            stream.go_live(book.update_id)
            feed.mark_ready(SYMBOL, "bench: snapshot loaded")

        await rig.start(sync)
        self.book = books[0]
        assert rig.feed is not None and rig.instrument is not None
        self.handler = rig.feed.connections[0].frame_handler
        # the engine's first quotes (two new orders), then one requote untimed: it says how
        # many messages a tick brings the adapter (answers, reports, balance updates)
        await self._untimed_tick()
        before = rig.messages
        await self._untimed_tick()
        self.messages_per_tick = rig.messages - before
        if self.messages_per_tick < rig.per_tick:
            raise RuntimeError(f"{self.messages_per_tick} messages after a requote")
        # the naive side: the same stream (same seed), its own account and connection
        self.naive_book = MovingBook(
            rig.instrument, base_ticks=BASE[SYMBOL], depth=DEPTH, move=MOVE
        )
        self.pipe = NaivePipeline(
            rig.instrument,
            self.naive_book.snapshot(),
            naive(rig.instrument),
            api_key=NAIVE_CREDENTIALS.api_key,
            secret=NAIVE_CREDENTIALS.api_secret,
            risk=RISK,
            journal=self.naive_journal,
        )
        self.client = NaiveClient(rig.running_sim.urls.ws_api)
        await self.client.start()
        for _ in range(2):  # its first quotes, then a requote, as ours
            requests = self.pipe.on_frame(self.naive_book.frame())
            await self.client.send(requests)
            await self.client.answers(self.client.sent)

    async def _untimed_tick(self) -> None:
        rig = self.rig
        assert rig is not None
        status = self.handler.on_frame(self.book.frame(), time.time_ns())
        if status != FRAME_OK:
            raise RuntimeError(f"frame refused: status {status}")
        await rig.oms.drain()
        await rig.quiet(0.05)
        quotes = rig.live_quotes()
        if len(quotes) != 2 or any(pending for *_, pending in quotes):
            raise RuntimeError(f"the engine's quotes after a tick: {quotes}")

    # -- ours ---------------------------------------------------------------------------------

    async def _ticks(self, n: int) -> int:
        rig = self.rig
        assert rig is not None
        probe, recorder, loop = rig.probe, rig.recorder, self.loop
        on_frame, book = self.handler.on_frame, self.book
        per_tick, messages, idle = rig.per_tick, self.messages_per_tick, self.idle_s
        stamp, finish = recorder.stamp, recorder.finish
        journal_share, after = rig.journal_share.record, rig.after_last_send.record
        total = 0
        await asyncio.sleep(0)  # whatever fell due while the loop stood still runs first
        for _ in range(n):
            frame = book.frame()
            before = rig.messages
            done = probe.arm(per_tick, loop)
            guard = loop.call_later(TIMEOUT_S, probe.expire, f"{self.name}: requests not sent")
            if idle:
                await asyncio.sleep(idle)
            recv_ns = time.time_ns()
            t0 = time.perf_counter_ns()
            status = on_frame(frame, recv_ns)
            if status != FRAME_OK:
                guard.cancel()
                raise TickTimeout(f"{self.name}: the frame handler returned {status}")
            await done
            guard.cancel()
            sends = probe.sends
            t1 = sends[-1]
            for i, ns in enumerate((t0, probe.book, probe.intents, sends[0], t1)):
                stamp(i, ns)
            finish()
            journal_share(probe.journal_ns)
            after(probe.sink_done - t1)
            total += t1 - t0
            self.ours.append(t1 - t0)
            await rig.settle(before + messages)
        return total

    def candidate(self, n: int) -> int:
        return int(self.run(self._ticks(n)))

    # -- the baseline -------------------------------------------------------------------------

    async def _naive_ticks(self, n: int) -> int:
        client, pipe, book, sink = self.client, self.pipe, self.naive_book, self.sink
        assert client is not None
        total = 0
        for _ in range(n):
            frame = book.frame()
            if self.idle_s:
                await asyncio.sleep(self.idle_s)
            t0 = time.perf_counter_ns()
            requests = pipe.on_frame(frame)
            for text in requests:
                sink.append(text.encode())
            t1 = time.perf_counter_ns()
            if len(requests) != 2:
                raise RuntimeError(f"the naive pipeline made {len(requests)} requests, not 2")
            total += t1 - t0
            self.theirs.append(t1 - t0)
            await client.send(requests)  # untimed: the venue answers, as it answers ours
            await client.answers(client.sent)
        sink.clear()
        return total

    def baseline(self, n: int) -> int:
        return int(self.run(self._naive_ticks(n)))

    # -- report -------------------------------------------------------------------------------

    def update_report(self) -> None:
        rig, client = self.rig, self.client
        assert rig is not None and client is not None
        ours, theirs = self.ours[-self.keep :], self.theirs[-self.keep :]
        mine, naive = _spread(ours), _spread(theirs)
        self.report.update(mine)
        self.report.update({f"baseline_{k}": v for k, v in naive.items()})
        if mine["median_us"] > 0:
            self.report["ratio_per_tick"] = round(naive["median_us"] / mine["median_us"], 2)
        self.report["stages_us"] = _stages(rig.recorder, rig=rig)
        self.report["engine_stamps_us"] = _engine_stamps(rig)
        self.report["requests_per_tick"] = rig.per_tick
        self.report["pipeline"] = {
            **rig.summary(),
            "ticks": len(self.ours),
            "messages_per_tick": self.messages_per_tick,
            "naive_requests": client.sent,
            "naive_answers": client.answered,
            "naive_journal_lines": self.pipe.journaled,
        }
        if self.name in GOALS:
            self.report["goal"] = GOALS[self.name]

    def pair(self, about: str) -> Pair:
        self.update_report()
        return Pair(
            self.candidate,
            self.baseline,
            batch=self.batch,
            about=about,
            between=self.between,
            report=self.report,
            self_timed=True,
        )


INTERNAL_ABOUT = (
    "Binance depth frame in hand (mid moves 5 ticks) -> feed frame handler -> dispatcher -> "
    "risk mark -> MarketMakingStrategy (Cython quoter) -> market history -> risk checks -> "
    "OMS replace x2: order journal (2 records a quote, fsync interval) + order.cancelReplace "
    "signed and written inside the sink -> 2 requests on the WS API socket (sim over "
    "loopback); baseline: json.loads + Decimal dict book + QuoterRef + RiskCoreRef + JSON-line "
    "journal + dict/urlencode/hmac/json.dumps requests to a list"
)
INTERNAL_NOJOURNAL_ABOUT = (
    "as tick_to_trade.internal, the order persistence without its journal (history rows "
    "stay), the baseline without its journal: the journal's share (diagnostic)"
)
INTERNAL_IDLE_ABOUT = (
    "as tick_to_trade.internal, but the process sleeps 1 ms (idle in epoll, as between real "
    "frames) right before each tick, ours and the baseline's"
)
PYSTRATEGY_ABOUT = (
    "as tick_to_trade.internal with a plain-Python Strategy (best bid/ask -/+ 5 ticks, "
    "self.replace); baseline: the naive pipeline with the same rule"
)
LOOPBACK_ABOUT = (
    "the simulator publishes a depth diff (its book moved 5 ticks) -> loopback -> the engine's "
    "Binance feed -> internal pipeline -> loopback -> the simulator's WS API handler has both "
    "requests; baseline: the naive pipeline as an aiohttp client of the same simulator"
)


def _mm_naive(parameters: dict[str, Any]) -> Callable[[Any], NaiveStrategy]:
    def make(instrument: Any) -> NaiveStrategy:
        settings = MarketMakingParams.parse(parameters)
        return NaiveMarketMaker(settings.quoter_params(instrument))

    return make


def _touch_naive(instrument: Any) -> NaiveStrategy:
    return NaiveTouchQuoter(MOVE, instrument.qty_to_lots(ORDER_SIZE))


@case("tick_to_trade.internal", about=INTERNAL_ABOUT)
def internal(opts: Options) -> Pair:
    bench = _Internal(
        opts,
        "tick_to_trade.internal",
        "engine.strategy.market_making:MarketMakingStrategy",
        MM_PARAMS,
        _mm_naive(MM_PARAMS),
    )
    return bench.pair(INTERNAL_ABOUT)


@case("tick_to_trade.internal_nojournal", about=INTERNAL_NOJOURNAL_ABOUT)
def internal_nojournal(opts: Options) -> Pair:
    bench = _Internal(
        opts,
        "tick_to_trade.internal_nojournal",
        "engine.strategy.market_making:MarketMakingStrategy",
        MM_PARAMS,
        _mm_naive(MM_PARAMS),
        journal=False,
    )
    return bench.pair(INTERNAL_NOJOURNAL_ABOUT)


@case("tick_to_trade.internal_idle", about=INTERNAL_IDLE_ABOUT)
def internal_idle(opts: Options) -> Pair:
    bench = _Internal(
        opts,
        "tick_to_trade.internal_idle",
        "engine.strategy.market_making:MarketMakingStrategy",
        MM_PARAMS,
        _mm_naive(MM_PARAMS),
        idle_s=IDLE_S,
    )
    return bench.pair(INTERNAL_IDLE_ABOUT)


@case("tick_to_trade.pystrategy", about=PYSTRATEGY_ABOUT)
def pystrategy(opts: Options) -> Pair:
    bench = _Internal(
        opts,
        "tick_to_trade.pystrategy",
        f"{__name__}:TouchQuoter",
        TOUCH_PARAMS,
        _touch_naive,
    )
    return bench.pair(PYSTRATEGY_ABOUT)


# ------------------------------------------------------------------------------ loopback


class _VenueClock:
    """The simulator's side of a tick: when its WS API handler took each request (entry and
    exit of `ApiSession.handle`), and a future set when the `expected`-th arrived."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []
        self.expected = 0
        self.done: asyncio.Future[None] | None = None
        self._original: Any = None

    def install(self) -> None:
        original = self._original = ApiSession.handle
        clock = self

        def handle(session: ApiSession, text: str) -> None:
            start = time.perf_counter_ns()
            original(session, text)
            clock.took(start, time.perf_counter_ns())

        ApiSession.handle = handle  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        if self._original is not None:
            ApiSession.handle = self._original  # type: ignore[method-assign]
            self._original = None

    def arm(self, expected: int, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        self.calls.clear()
        self.expected = expected
        self.done = loop.create_future()
        return self.done

    def took(self, start: int, end: int) -> None:
        self.calls.append((start, end))
        if len(self.calls) == self.expected and self.done is not None and not self.done.done():
            self.done.set_result(None)

    def expire(self, why: str) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(TickTimeout(why))

    def received(self) -> tuple[int, int]:
        """(first request received, last request received): the handler's entries, the last
        one less the handler's own time on the requests before it in this tick (they were all
        in the socket by then: the engine writes a tick's requests inside one call, the intent
        sink)."""
        calls = self.calls
        own = sum(end - start for start, end in calls[:-1])
        return calls[0][0], calls[-1][0] - own


class _Loopback(_Case):
    """tick_to_trade.loopback: the simulator's book moves, its diff goes out on the stream."""

    def __init__(self, opts: Options) -> None:
        super().__init__(opts, LOOP_BATCH, LOOP_QUICK_BATCH)
        self.venue = _VenueClock()
        self.ours_first: list[int] = []
        self.theirs_first: list[int] = []
        self.recorder = StageRecorder(LOOP_STAGES)
        self.naive_recorder = StageRecorder(("publish", "venue_first", "venue_last"))
        self.rig = EngineRig(
            RigOptions(
                "engine.strategy.market_making:MarketMakingStrategy",
                MM_PARAMS,
                live_feed=True,
                book_depth=DEPTH,
                extra_accounts={NAIVE_ACCOUNT: NAIVE_CREDENTIALS},
            )
        )
        self.venue.install()
        try:
            self.run(self._start())
        except BaseException:
            self.venue.uninstall()
            raise

    def recorders(self) -> list[StageRecorder | Histogram]:
        rig = self.rig
        assert rig is not None and rig.host is not None
        return [
            self.recorder,
            self.naive_recorder,
            rig.journal_share,
            rig.after_last_send,
            rig.host.latency,
        ]

    def close(self) -> None:
        self.venue.uninstall()
        super().close()

    # -- the simulator's book -----------------------------------------------------------------

    def _prepare(self, sim: RunningSim) -> None:
        """Both books of the simulator, as background liquidity, before any client connects."""
        self.books: dict[str, MovingBook] = {}
        engine = sim.exchange.engine
        for symbol, base in BASE.items():
            book = MovingBook(engine.instrument(symbol), base_ticks=base, depth=DEPTH, move=MOVE)
            bids, asks = book.snapshot_rows()
            sim.exchange.publish(engine.apply_background_diff(symbol, bids, asks, time.time_ns()))
            self.books[symbol] = book
        self.server: WsServer = sim._runner.app[WS_KEY]
        self.server._flush(fast=True)  # nobody subscribed yet: nothing is sent
        self.server._flush(fast=False)

    def _move(self, symbol: str) -> None:
        """The book of `symbol` moves (one DepthUpdate, pending until the next flush)."""
        sim = self._sim
        bids, asks = self.books[symbol].next_diff()
        engine = sim.exchange.engine
        sim.exchange.publish(engine.apply_background_diff(symbol, bids, asks, time.time_ns()))

    def _sim_id(self, symbol: str) -> int:
        return self._sim.exchange.engine.depth(symbol, 1)[0]

    async def _start(self) -> None:
        rig = self.rig
        assert rig is not None
        await rig.start(prepare=self._prepare)
        self._sim = rig.running_sim
        # from here the bench publishes every depth diff itself (t0 is its flush): the
        # simulator's 100 ms flush would otherwise publish a move whenever it fell due
        task = self.server._ticker_task
        if task is not None:
            task.cancel()
        assert rig.feed is not None
        self.feed = rig.feed
        self.stream = rig.feed.stream(SYMBOL)
        # the first quotes: placed when the book became ready if the strategy was running by
        # then, else with the first diff (as in the engine); then one requote untimed: how many
        # messages a tick brings the adapter
        self.messages_per_tick = 0
        await asyncio.wait_for(rig.oms.drain(), TIMEOUT_S)
        await rig.quiet(0.05)
        await self._engine_settled()
        if not rig.live_quotes():
            await self._engine_tick(timed=False, expected=2)
        self.messages_per_tick = 0
        await self._engine_tick(timed=False)
        # the naive client: ETHUSDT's stream and its own WS API session
        sim = self._sim
        client = self.client = NaiveClient(sim.urls.ws_api)
        await client.start()
        eth = sim.exchange.engine.instrument("ETHUSDT")
        pipes: list[NaivePipeline] = []

        def on_frame(text: str) -> list[str]:
            return pipes[0].on_frame(text) if pipes else []

        await client.stream(f"{sim.urls.ws_public}/stream?streams=ethusdt@depth@100ms", on_frame)
        snapshot = await client.get_json(f"{sim.urls.rest}/api/v3/depth?symbol=ETHUSDT&limit=1000")
        pipes.append(
            NaivePipeline(
                eth,
                orjson.dumps(snapshot),
                NaiveMarketMaker(
                    MarketMakingParams.parse(
                        {**MM_PARAMS, "order_size": NAIVE_ETH_SIZE, "max_position": "1"}
                    ).quoter_params(eth)
                ),
                api_key=NAIVE_CREDENTIALS.api_key,
                secret=NAIVE_CREDENTIALS.api_secret,
                risk=RISK,
                journal=self.naive_journal,
            )
        )
        self.pipe = pipes[0]
        for _ in range(2):  # its first quotes, then a requote, untimed
            await self._naive_tick(timed=False)

    # -- settling -----------------------------------------------------------------------------

    async def _engine_settled(self) -> None:
        """(Every answer and report in:) the engine's own order changes published and in its
        book, the stream's extra messages (bookTicker) drained."""
        rig = self.rig
        assert rig is not None
        self.server._flush(fast=True)  # our orders' own depth changes
        target = self._sim_id(SYMBOL)
        await rig.until(lambda: self.stream.last_id >= target, "the engine's book to catch up")
        self.feed.tap.drain()
        quotes = rig.live_quotes()
        if quotes and (len(quotes) != 2 or any(pending for *_, pending in quotes)):
            raise RuntimeError(f"the engine's quotes after a tick: {quotes}")

    async def _naive_settled(self) -> None:
        client = self.client
        assert client is not None
        await client.answers(client.sent)
        self.server._flush(fast=True)
        target = self._sim_id("ETHUSDT")
        await client.wait(lambda: self.pipe.last >= target, "the naive book to catch up")

    # -- ticks --------------------------------------------------------------------------------

    async def _engine_tick(self, timed: bool = True, expected: int = 0) -> int:
        rig = self.rig
        assert rig is not None
        probe, venue, loop = rig.probe, self.venue, self.loop
        expected = expected or rig.per_tick
        before = rig.messages
        self._move(SYMBOL)
        # the move's bookTicker reaches the engine first (on the same connection): let it be
        # handled before the diff goes out, so the tick is the depth diff's alone
        await rig.until(lambda: len(self.feed.tap) > 0, "the engine's bookTicker")
        probe.arm(expected, loop)
        done = venue.arm(expected, loop)
        guard = loop.call_later(TIMEOUT_S, venue.expire, "loopback: requests not received")
        t0 = time.perf_counter_ns()
        self.server._flush(fast=True)
        await done
        guard.cancel()
        first, last = venue.received()
        if timed:
            sends = probe.sends
            stamp = self.recorder.stamp
            for i, ns in enumerate(
                (t0, probe.book, probe.intents, sends[0], sends[-1], first, last)
            ):
                stamp(i, ns)
            self.recorder.finish()
            rig.journal_share.record(probe.journal_ns)
            rig.after_last_send.record(probe.sink_done - sends[-1])
            self.ours.append(last - t0)
            self.ours_first.append(first - t0)
        if not self.messages_per_tick:  # learning: as many as arrive until it is quiet
            await asyncio.wait_for(rig.oms.drain(), TIMEOUT_S)
            self.messages_per_tick = await rig.quiet(0.05) - before
        else:
            await rig.settle(before + self.messages_per_tick)
        await self._engine_settled()
        return last - t0

    async def _naive_tick(self, timed: bool = True) -> int:
        client, venue, loop = self.client, self.venue, self.loop
        assert client is not None
        self._move("ETHUSDT")  # nobody subscribes to ETHUSDT's bookTicker: nothing is sent
        expected = 2  # its first quotes, or a cancelReplace a quote
        done = venue.arm(expected, loop)
        guard = loop.call_later(TIMEOUT_S, venue.expire, "loopback: naive requests not received")
        t0 = time.perf_counter_ns()
        self.server._flush(fast=True)
        try:
            await done
        except TickTimeout:
            if client.error is not None:
                raise RuntimeError(client.error) from None
            raise
        guard.cancel()
        first, last = venue.received()
        if timed:
            for i, ns in enumerate((t0, first, last)):
                self.naive_recorder.stamp(i, ns)
            self.naive_recorder.finish()
            self.theirs.append(last - t0)
            self.theirs_first.append(first - t0)
        await self._naive_settled()
        return last - t0

    async def _many(self, tick: Callable[[], Any], n: int) -> int:
        await asyncio.sleep(0)
        total = 0
        for _ in range(n):
            total += await tick()
        return total

    def candidate(self, n: int) -> int:
        return int(self.run(self._many(self._engine_tick, n)))

    def baseline(self, n: int) -> int:
        return int(self.run(self._many(self._naive_tick, n)))

    # -- report -------------------------------------------------------------------------------

    def update_report(self) -> None:
        rig, client = self.rig, self.client
        assert rig is not None and client is not None
        keep = self.keep
        mine = _spread(self.ours[-keep:], tail=True)
        naive = _spread(self.theirs[-keep:], tail=True)
        self.report.update(mine)
        self.report.update({f"baseline_{k}": v for k, v in naive.items()})
        if mine["median_us"] > 0:
            self.report["ratio_per_tick"] = round(naive["median_us"] / mine["median_us"], 2)
        first = _spread(self.ours_first[-keep:], tail=True)
        naive_first = _spread(self.theirs_first[-keep:], tail=True)
        self.report["first_request"] = {k: v for k, v in first.items() if k != "count"}
        self.report["baseline_first_request"] = {
            k: v for k, v in naive_first.items() if k != "count"
        }
        self.report["stages_us"] = _stages(self.recorder, rig=rig)
        self.report["baseline_stages_us"] = _stages(self.naive_recorder)
        self.report["engine_stamps_us"] = _engine_stamps(rig)
        self.report["requests_per_tick"] = rig.per_tick
        self.report["pipeline"] = {
            **rig.summary(),
            "ticks": len(self.ours),
            "messages_per_tick": self.messages_per_tick,
            "feed_frames": self.stream.applied,
            "naive_requests": client.sent,
            "naive_answers": client.answered,
            "naive_frames": client.frames,
            "naive_journal_lines": self.pipe.journaled,
        }

    def pair(self) -> Pair:
        self.update_report()
        return Pair(
            self.candidate,
            self.baseline,
            batch=self.batch,
            about=LOOPBACK_ABOUT,
            between=self.between,
            report=self.report,
            self_timed=True,
        )


@case("tick_to_trade.loopback", about=LOOPBACK_ABOUT)
def loopback(opts: Options) -> Pair:
    return _Loopback(opts).pair()


__all__ = ["TouchQuoter", "close_all"]
