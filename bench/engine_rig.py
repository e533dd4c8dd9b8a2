"""The engine's trading path wired as `engine/app.py` wires it, against the in-process Binance
simulator over loopback, with the bench's probes around it: the rig of the tick-to-trade
cases (bench/cases/tick_to_trade.py).

What runs is the engine's own code: the storage component as the engine starts it whenever it
trades (`StorageComponent`: the order journal with the engine's default policy, fsync
"interval" every 10 ms, and the history writer on the embedded SQLite store, both in the rig's
temporary directory, the in-process cache; the trading component builds its
`OrderPersistence` from them, the strategy host adds the `MarketHistory` handler), the Binance
book feed (its frame handler and book; with `live_feed` the feed itself, connected to the
simulator's market streams), the event dispatcher, the trading component (one
`BinanceAdapter` on the simulator's WS API, the `OrderManager`), and the strategy host (risk
manager first, then the strategy behind its guard, the risk manager as intent sink), started
in the engine's order (the instrument table is the simulator's own BTCUSDT, where the engine
would load it from exchangeInfo). With `journal=False` the persistence runs without its
journal (history rows and market history stay): a diagnostic, to show the journal's share.
Nothing of the engine is changed; the probes are wrappers the bench puts around it, each one
Python call and a clock read or two:

- the frame handler's `on_book` callback: when the dispatcher is called (book applied);
- the dispatcher's intent sink (the host's: the risk manager behind the engine's own latency
  stamps, engine/host/latency.py): entered (every handler ran: the strategy pushed its
  intents) and left (risk checks passed, the order manager journaled and wrote every
  request: the adapter's `submit_*` write synchronously, inside the sink);
- `OrderPersistence.intent` (the journal record of each request, and its history rows, before
  the adapter builds and writes the request) and, where the OMS batches a sink pass's records,
  `OrderPersistence.flush` (their one write): the time inside them summed per tick, the
  journal's share;
- the `send_text` of the adapter's WS API connection (engine.gateway.ws.WsConnection on
  picows): stamped when it returned, i.e. the request's frame masked and written to the socket;
  while the OMS corks the connection for a pass of the intent sink (its requests framed into
  one buffer), its `uncork` instead: the pass's frames written in one write, each stamped then.
  The tick ends at the write of its last request.

Outside the tick the adapter's `on_report` and the frames of its WS API connection are
counted: between ticks the bench waits until all of a tick's answers, reports and balance
updates are in.

The simulator is told not to count: its order-rate and request-weight limits are raised out of
reach, and so are the adapter's rate budgets (the limiter still runs on every request).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine._core.latency import Histogram, StageRecorder
from engine.clock import LiveClock
from engine.config.schema import (
    CacheConfig,
    DatabaseConfig,
    EngineConfig,
    RiskConfig,
    StrategyConfig,
    SystemConfig,
    VenueConfig,
)
from engine.events import EventDispatcher
from engine.gateway.adapter import ExecutionReport, VenueEndpoints
from engine.gateway.binance.feed import BinanceBookFeed
from engine.gateway.binance.trading import BinanceAdapter
from engine.gateway.ws import WsOptions
from engine.host.component import StrategyHost
from engine.model.instrument import Instrument
from engine.oms.manager import OrderManager
from engine.oms.persistence import OrderPersistence
from engine.oms.trading import TradingComponent, VenueTrading
from engine.risk.manager import RiskManager
from engine.runtime.gc_policy import freeze_after_start
from engine.sim.server import ACCOUNT, RunningSim, SimOptions, launch
from engine.sim.venues.binance import venue_state
from engine.storage.component import StorageComponent
from engine.wire.credentials import Credentials

SYMBOL = "BTCUSDT"
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
TIMEOUT_S = 5.0  # a tick whose requests are not all written by then is a failure
SETTLE_S = 5.0
UNLIMITED = 1 << 60
# the split of one tick, in order (StageRecorder: each stage records the time since the last)
STAGES = ("frame", "book", "intents", "first_send", "last_send")
RISK = RiskConfig(
    max_orders_per_second=4_000,
    max_cancels_per_second=4_000,
    max_position=Decimal("1"),
)


class TickTimeout(RuntimeError):
    """The pipeline did not write the requests the tick should have led to."""


class Probe:
    """The bench's stamps of one tick (see the module docstring); perf_counter_ns values."""

    __slots__ = (
        "book",
        "done",
        "expected",
        "intents",
        "journal_ns",
        "journaled",
        "sends",
        "sink_done",
        "writes",
    )

    def __init__(self) -> None:
        self.book = self.intents = self.sink_done = self.journal_ns = 0
        self.sends: list[int] = []
        self.expected = 0
        self.writes = 0  # request frames written in all
        self.journaled = 0  # OrderPersistence.intent calls in all (one per journal INTENT)
        self.done: asyncio.Future[None] | None = None

    def arm(self, expected: int, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        self.book = self.intents = self.sink_done = self.journal_ns = 0
        self.sends.clear()
        self.expected = expected
        self.done = loop.create_future()
        return self.done

    def sent(self, now: int) -> None:
        self.writes += 1
        sends = self.sends
        sends.append(now)
        if len(sends) == self.expected and self.done is not None and not self.done.done():
            self.done.set_result(None)

    def expire(self, why: str) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(TickTimeout(why))


@dataclass
class RigOptions:
    strategy_class: str
    parameters: dict[str, Any]
    live_feed: bool = False  # the feed connects to the simulator's streams (else: frames by hand)
    book_depth: int = 1000
    extra_accounts: dict[str, Credentials] = field(default_factory=dict)
    journal: bool = True  # False: the order persistence without its journal (diagnostic)


class EngineRig:
    """One engine against one simulated Binance, on the rig's own event loop."""

    def __init__(self, options: RigOptions) -> None:
        self.options = options
        self.clock = LiveClock()
        self.events = EventDispatcher()
        self.probe = Probe()
        self.recorder = StageRecorder(STAGES)
        self.journal_share = Histogram()  # per tick: ns inside OrderPersistence.intent
        self.after_last_send = Histogram()  # per tick: the sink's work after the last write
        self.reports = 0  # execution reports the adapter handed on
        self.messages = 0  # text frames the adapter's WS API connection received
        self._changed: asyncio.Event | None = None
        self._state_dir = tempfile.TemporaryDirectory(prefix="bench-t2t-")
        self.sim: RunningSim | None = None
        self.storage: StorageComponent | None = None
        self.feed: BinanceBookFeed | None = None
        self.trading: TradingComponent | None = None
        self.host: StrategyHost | None = None
        self.instrument: Instrument | None = None
        self.per_tick = 4  # requests a requote of both quotes makes (set at start)

    # -- parts, once started ------------------------------------------------------------------

    @property
    def adapter(self) -> BinanceAdapter:
        assert self.trading is not None
        adapter = self.trading.adapters["binance"]
        assert isinstance(adapter, BinanceAdapter)
        return adapter

    @property
    def oms(self) -> OrderManager:
        assert self.trading is not None and self.trading.manager is not None
        return self.trading.manager

    @property
    def persistence(self) -> OrderPersistence:
        assert self.trading is not None and self.trading.persistence is not None
        return self.trading.persistence

    @property
    def risk(self) -> RiskManager:
        assert self.host is not None and self.host.risk is not None
        return self.host.risk

    @property
    def running_sim(self) -> RunningSim:
        assert self.sim is not None
        return self.sim

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(
        self,
        sync: Callable[[BinanceBookFeed], None] | None = None,
        prepare: Callable[[RunningSim], None] | None = None,
    ) -> None:
        """Simulator (then `prepare(sim)`), storage, feed, trading, strategy host, dispatcher,
        in the engine's order; then the book is synced (`sync(feed)` for frames by hand, else
        the live feed's own sync)."""
        opts = self.options
        sim = self.sim = await launch(
            "binance", SimOptions(market=False, api_key=API_KEY, api_secret=SECRET)
        )
        venue = venue_state(sim.exchange)
        venue.limits.weight_per_minute = UNLIMITED
        venue.limits.orders_per_10s = UNLIMITED
        venue.limits.orders_per_day = UNLIMITED
        venue.knobs.incoming_per_s = None
        for account, creds in opts.extra_accounts.items():
            balances = {"USDT": Decimal(10**7), "BTC": Decimal(100), "ETH": Decimal(1000)}
            sim.exchange.open_account(account, balances, creds)
        if prepare is not None:
            prepare(sim)
        self.instrument = sim.exchange.engine.instrument(SYMBOL)
        instruments = [self.instrument]
        state_dir = self._state_dir.name
        # the engine's defaults (journal fsync "interval" every 10 ms, SQLite, market data
        # kept), the files in the rig's temporary directory
        database = DatabaseConfig(sqlite_path=str(Path(state_dir) / "engine.sqlite3"))
        self.storage = StorageComponent(database, CacheConfig(), self.clock, state_dir)
        self.feed = BinanceBookFeed(
            instruments,
            self.events,
            rest_url=sim.urls.rest,
            ws_url=sim.urls.ws_public,
            clock=self.clock,
            ws_options=WsOptions(stale_after_s=30.0),
            snapshot_limit=opts.book_depth,
        )
        endpoints = VenueEndpoints(sim.urls.rest, sim.urls.ws_public, sim.urls.ws_api)
        creds = Credentials(sim.api_key, sim.api_secret)
        self.trading = TradingComponent(
            [VenueTrading("binance", lambda: endpoints, lambda: creds)],
            self.events,
            self.clock,
            lambda: instruments,
            storage=self.storage,
        )
        config = EngineConfig(
            system=SystemConfig(state_dir=state_dir, log_dir=state_dir),
            database=database,
            strategy=StrategyConfig(
                enabled=True,
                class_=opts.strategy_class,
                venue="binance",
                symbols=[SYMBOL],
                status_interval_s=0.0,
                parameters=opts.parameters,
            ),
            risk=RISK,
            venues={"binance": VenueConfig(enabled=True, symbols=[SYMBOL])},
        )
        feed = self.feed
        self.host = StrategyHost(
            lambda: config,
            self.events,
            self.clock,
            self.trading,
            lambda: [feed],
            lambda: instruments,
        )
        await self.storage.start()
        if opts.live_feed:
            await feed.start()
        await self.trading.start()
        if not opts.journal and self.trading.persistence is not None:
            self.trading.persistence.journal = None  # its history rows and market history stay
        await self.host.start()
        self.events.start(self.clock, instruments, self.host.view)
        if config.system.gc_freeze:  # as the engine does once started (engine/app.py)
            freeze_after_start()
        adapter = self.adapter  # an amend or a one-request replace per quote, else cancel + new
        self.per_tick = 2 if adapter.amends_in_place or adapter.replaces_in_one_request else 4
        self._instrument()
        if sync is not None:
            sync(feed)
        else:
            await self.until(lambda: feed.ready[SYMBOL], "the live feed's book to sync")

    def _instrument(self) -> None:
        """Put the probes in place (see the module docstring) and lift the rate budgets."""
        probe, feed, adapter = self.probe, self.feed, self.adapter
        assert feed is not None
        handler = feed.connections[0].frame_handler
        dispatch = handler.on_book
        assert dispatch is not None

        def on_book(instrument_id: str, book: Any, timestamp_ns: int) -> None:
            probe.book = time.perf_counter_ns()
            dispatch(instrument_id, book, timestamp_ns)

        handler.on_book = on_book
        # the host's sink: the risk manager's consume behind the engine's own latency stamps
        consume = self.events._sink
        assert consume is not None

        def sink(buffer: Any) -> None:
            probe.intents = time.perf_counter_ns()
            consume(buffer)
            probe.sink_done = time.perf_counter_ns()

        self.events.set_intent_sink(sink)
        for bucket in adapter.limiter.buckets.values():
            bucket.capacity = UNLIMITED
        persistence = self.trading.persistence if self.trading is not None else None
        if persistence is not None:
            intent = persistence.intent

            def timed_intent(*args: Any) -> None:
                start = time.perf_counter_ns()
                intent(*args)
                probe.journal_ns += time.perf_counter_ns() - start
                probe.journaled += 1

            persistence.intent = timed_intent  # type: ignore[method-assign,assignment]
            # where the OMS keeps a sink pass's records for one write at its end, that write
            # is the journal's too (looked up: older engines have no flush)
            flush = getattr(persistence, "flush", None)
            if flush is not None:

                def timed_flush() -> None:
                    start = time.perf_counter_ns()
                    flush()
                    probe.journal_ns += time.perf_counter_ns() - start

                setattr(persistence, "flush", timed_flush)  # noqa: B010 - absent before batching
        ws = adapter._ws
        assert ws is not None and adapter.ws_ready, "the adapter's WS API session is not up"
        send_text = ws.send_text

        def stamped_send(text: str | bytes) -> bool:
            sent = send_text(text)
            if not ws.corked:  # written now (corked: when the OMS uncorks, below)
                probe.sent(time.perf_counter_ns())  # the adapter sends requests only (no pings)
            return sent

        ws.send_text = stamped_send  # type: ignore[method-assign]
        uncork = ws.uncork

        def stamped_uncork() -> int:
            frames = uncork()
            now = time.perf_counter_ns()
            for _ in range(frames):  # the pass's requests, written together
                probe.sent(now)
            return frames

        ws.uncork = stamped_uncork  # type: ignore[method-assign]
        changed = self._changed = asyncio.Event()
        on_report = adapter.on_report

        def counting_report(report: ExecutionReport) -> None:
            self.reports += 1
            on_report(report)
            changed.set()

        adapter.on_report = counting_report
        on_frame = adapter._on_frame

        def counting_frame(payload: str | bytes | memoryview, recv_ns: int) -> None:
            self.messages += 1
            on_frame(payload, recv_ns)
            changed.set()

        adapter._on_frame = counting_frame  # type: ignore[method-assign]

    async def close(self) -> None:
        self.events.stop()
        for part in (self.host, self.trading, self.feed, self.storage):
            if part is not None:
                with contextlib.suppress(Exception):
                    await part.stop()
        if self.sim is not None:
            await self.sim.stop()
            self.sim = None
        self._state_dir.cleanup()

    # -- waiting ------------------------------------------------------------------------------

    async def until(self, done: Callable[[], bool], what: str, timeout: float = SETTLE_S) -> None:
        """Until `done()`, yielding to the loop without sleeping: the process never idles
        (a tick that follows an idle spell starts colder still, whatever the machine ran)."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TickTimeout(f"timed out waiting for {what}")
            await asyncio.sleep(0)

    async def settle(self, messages: int) -> None:
        """Until every request in flight has its answer and the adapter has received
        `messages` text frames in all (answers and user-data events): nothing of this tick
        is left to arrive during the next."""
        await asyncio.wait_for(self.oms.drain(), SETTLE_S)
        changed = self._changed
        assert changed is not None
        deadline = time.monotonic() + SETTLE_S
        while self.messages < messages:
            changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TickTimeout(
                    f"the adapter received {self.messages} of {messages} messages expected"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), left)

    async def quiet(self, seconds: float = 0.02) -> int:
        """Wait until the adapter received nothing for `seconds`; its message count then."""
        while True:
            before = self.messages
            await asyncio.sleep(seconds)
            if self.messages == before:
                return before

    # -- what the engine holds ------------------------------------------------------------------

    def live_quotes(self) -> list[tuple[int, int, int, bool]]:
        """(order id, side, price ticks, pending) of the engine's live orders."""
        return [(o.order_ref, o.side, o.price_ticks, o.pending) for o in self.oms.open_orders_of(0)]

    def summary(self) -> dict[str, Any]:
        oms, adapter, risk = self.oms, self.adapter, self.risk
        sim = self.running_sim
        persistence = self.trading.persistence if self.trading is not None else None
        journal = persistence.journal if persistence is not None else None
        writer = self.storage.writer if self.storage is not None else None
        return {
            "requests_written": self.probe.writes,
            "oms_requests": oms.counters.requests,
            "oms_rejected": oms.counters.rejected,
            "oms_timeouts": oms.counters.timeouts,
            "reports": self.reports,
            "risk_refusals": sum(risk.refusals().values()),
            "rate_refused": adapter.limiter.refused,
            "open_orders_at_venue": len(sim.exchange.engine.open_orders(ACCOUNT)),
            "persistence_intents": self.probe.journaled,
            "journal_records": journal.records if journal is not None else 0,
            "journal_fsyncs": journal.syncs if journal is not None else 0,
            "journal_errors": persistence.errors if persistence is not None else 0,
            "history_rows_written": (
                sum(t["written"] for t in writer.counters().values()) if writer is not None else 0
            ),
        }


def run_on(loop: asyncio.AbstractEventLoop, coroutine: Any) -> Any:
    """Run a coroutine to completion on the rig's loop (the runner itself is synchronous)."""
    return loop.run_until_complete(coroutine)


__all__ = ["STAGES", "EngineRig", "Probe", "RigOptions", "TickTimeout", "run_on"]
