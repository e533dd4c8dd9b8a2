"""The strategy host as an engine component: loads `strategy.class`, builds the risk manager
between it and the order manager, wires the emergency stop, and prints the status line.

Start (after the feeds and the trading component): the instrument table is known, so the
risk manager gets its limits, the strategy its instruments (`strategy.venue` / `symbols`,
"" / [] meaning every trading venue / symbol) and both are added to the event dispatcher
(risk first: it marks the book before the strategy quotes on it); the risk manager becomes
the intent sink, handing what passes to the order manager. A persisted halt
(engine/risk/halt.py) halts the risk core before the first event.

The emergency stop (a limit, SIGUSR1, `python -m engine kill`, the control API) halts the
core at once, then cancels every open order on every venue and persists the halt.

A pause (the control API) is lighter: quoting stops until a resume, risk stays as it is and
nothing is persisted. The strategy reads "PAUSED" from `trading_state()`, the intent sink lets
only cancels through (so a strategy that ignores the state still places nothing), and every
open order is cancelled.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine._core.intents import CANCEL, IntentBuffer
from engine._core.latency import StageRecorder
from engine.clock import Clock
from engine.component import Component
from engine.config import ConfigError, EngineConfig
from engine.data.feed import BookFeed
from engine.events import EventDispatcher, EventHandler
from engine.host.guard import StrategyGuard
from engine.host.latency import STAGES, BookArrived, HandlersDone, timed_sink
from engine.host.snapshots import HistorySnapshots
from engine.host.status import StatusLine
from engine.host.view import EngineView
from engine.model.instrument import Instrument
from engine.oms.trading import TradingComponent
from engine.risk.halt import SOURCE_LIMIT, HaltStore, operator_name
from engine.risk.manager import RiskManager
from engine.runtime.latency import dump_json
from engine.storage.history import MarketHistory

log = logging.getLogger("engine.host")

LATENCY_FILE = "latency.json"


def load_strategy_class(path: str) -> type[EventHandler]:
    """`package.module:ClassName` -> the class; ConfigError naming strategy.class."""
    module_name, _, class_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # an import error of the user's module, whatever it is
        raise ConfigError(f"strategy.class: cannot import {module_name}: {exc}") from exc
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type) or not issubclass(cls, EventHandler):
        raise ConfigError(
            f"strategy.class: {path} is not a Strategy (engine.strategy.base.Strategy subclass)"
        )
    return cls


def quoted_instruments(config: EngineConfig, instruments: Sequence[Instrument]) -> list[str]:
    """The instrument ids the strategy quotes: those of its venue ("" = all) and symbols
    ([] = all) among the venues that trade."""
    strategy = config.strategy
    trading = {n for n, v in config.venues.items() if v.enabled and v.trade}
    chosen = [
        inst.instrument_id
        for inst in instruments
        if inst.venue in trading
        and (not strategy.venue or inst.venue == strategy.venue)
        and (not strategy.symbols or inst.symbol in strategy.symbols)
    ]
    return chosen


PAUSED = "PAUSED"


class HostView(EngineView):
    """The engine's view with the operator's pause on top of the risk state: "PAUSED" while
    paused, whatever risk says, except HALTED, which stays the stronger word."""

    paused = False

    def trading_state(self) -> str:
        state = super().trading_state()
        return PAUSED if self.paused and state != "HALTED" else state


def cancels_only(sink: Callable[[IntentBuffer], None]) -> Callable[[IntentBuffer], None]:
    """`sink` fed only the pending cancels: the paused engine's intent sink. New orders and
    replaces are dropped (a replace would place an order)."""

    def consume(buffer: IntentBuffer) -> None:
        for row in buffer.drain():
            if row[1] == CANCEL:  # (instrument, kind, ..., tag, order_id)
                buffer.push_cancel(row[0], row[8], row[7])
        if len(buffer):
            sink(buffer)

    return consume


class StrategyHost(Component):
    def __init__(  # noqa: PLR0917 - the engine's parts it stands on, in start order
        self,
        config: Callable[[], EngineConfig],
        events: EventDispatcher,
        clock: Clock,
        trading: TradingComponent,
        feeds: Callable[[], Sequence[BookFeed]],
        instruments: Callable[[], Sequence[Instrument]],
    ) -> None:
        super().__init__(name="strategy")
        self._config = config
        self.events = events
        self.clock = clock
        self.trading = trading
        self._feeds = feeds
        self._instruments = instruments
        self.risk: RiskManager | None = None
        self.strategy: EventHandler | None = None
        self.guard: StrategyGuard | None = None
        self.view: HostView | None = None
        self._sink: Callable[[IntentBuffer], None] | None = None
        self.halts = HaltStore(Path(config().system.state_dir))
        self.status: StatusLine | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._handlers: list[EventHandler] = []
        self.latency = StageRecorder(STAGES)  # frame -> risk done, per frame that quoted
        self.snapshots = HistorySnapshots(self)

    async def _on_start(self) -> None:
        config = self._config()
        instruments = list(self._instruments())
        oms = self.trading.manager
        chosen = quoted_instruments(config, instruments)
        index = {inst.instrument_id: n for n, inst in enumerate(instruments)}
        risk = RiskManager(
            instruments,
            [index[i] for i in chosen],
            config.risk,
            self.clock,
            on_halt=self._on_halt,
        )
        risk.oms = oms  # type: ignore[assignment]  # OrderManager is an OrderSink
        self.risk = risk
        self.view = HostView(instruments, self._feeds, oms, risk)
        record = self.halts.load()
        if record is not None:
            risk.core.halt()
            risk._halted_reported = True
            log.error(
                "engine starts HALTED: %s (by %s, %s); `python -m engine kill --reset` "
                "resumes trading",
                record.reason,
                record.by,
                record.source,
            )
        self._handlers = [BookArrived(self.latency, self.clock), risk]
        if config.strategy.enabled:
            if not chosen:
                raise ConfigError(
                    "strategy.symbols: none of them is traded (check venues.<name>.symbols "
                    "and venues.<name>.trade)"
                )
            cls = load_strategy_class(config.strategy.class_)
            try:
                strategy = cls(config.strategy.parameters, chosen)  # type: ignore[call-arg]
            except ValueError as exc:
                raise ConfigError(str(exc)) from exc
            self.strategy = strategy
            self.guard = StrategyGuard(strategy, tuple(chosen))
            self._handlers.append(self.guard)
            log.info(
                "strategy loaded",
                extra={"class": config.strategy.class_, "instruments": chosen},
            )
        else:
            log.warning("strategy.enabled = false: the engine watches the market, quotes nothing")
        self._handlers.append(HandlersDone(self.latency, self.clock))
        storage = self.trading.storage
        late: list[EventHandler] = []
        if storage is not None:  # history and cache after the requests: off the quoting path
            late.append(
                MarketHistory(
                    storage.writer,
                    storage.cache,
                    config.database.market_data,
                    config.database.depth_snapshot_interval_s,
                )
            )
        for handler in self._handlers:
            self.events.add(handler)
        for handler in late:
            self.events.add(handler, after_intents=True)
        self._handlers += late
        self._sink = timed_sink(risk.consume, self.latency, self.clock)
        self.events.set_intent_sink(self._sink)
        self.snapshots.start()
        self.status = StatusLine(self, config.strategy.status_interval_s)
        self.status.latency = self.latency.total
        self.status.start()

    async def _on_stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status.emit()  # the last word: what the run ended with
        self.dump_latency()
        self.snapshots.stop()
        self.snapshots.take()  # the positions the run ended with
        self.events.set_intent_sink(None)
        for handler in self._handlers:
            if handler in self.events._handlers:
                self.events.remove(handler)
        for task in list(self._tasks):
            await asyncio.gather(task, return_exceptions=True)

    def dump_latency(self) -> Path | None:
        """The hot path's latency histograms as JSON in the log directory (LATENCY_FILE),
        for monitoring and `tools/`; None when it could not be written (logged)."""
        directory = Path(self._config().system.log_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / LATENCY_FILE
            dump_json(path, {"tick_to_trade": self.latency})
        except OSError as exc:
            log.error("latency histograms not written", extra={"error": str(exc)})
            return None
        log.info("latency histograms written", extra={"path": str(path)})
        return path

    # ------------------------------------------------------------------ emergency stop

    def emergency_stop(self, reason: str, source: str) -> None:
        """Halt now, then cancel every open order everywhere and persist the halt."""
        if self.risk is None:
            return
        self.risk.emergency_stop(reason, source)

    def _on_halt(self, reason: str, source: str) -> None:
        """The risk manager halted (once per halt): cancel everything, persist."""
        # the strategy sees trading_state() == "HALTED" and stops quoting by itself
        code = self.risk.core.cause if self.risk is not None else 0
        self.snapshots.risk_event("halt", code, reason, "HALTED", source)
        self._spawn(self._cancel_and_persist(reason, source))

    async def _cancel_and_persist(self, reason: str, source: str) -> None:
        cancelled = await self.trading.cancel_everything()
        log.error("emergency stop: orders cancelled", extra={"cancelled": cancelled})
        if source == SOURCE_LIMIT or self.halts.load() is None:
            # a record the CLI wrote a moment ago stays as written
            await asyncio.get_running_loop().run_in_executor(
                None, self.halts.halt, reason, source, self.clock.time_ns(), operator_name()
            )

    def operator_reset(self) -> None:
        """SIGUSR2 (after `kill --reset`): resume if the persisted halt is gone."""
        if self.risk is None:
            return
        record = self.halts.load()
        if record is not None:
            log.warning(
                "resume refused: the halt is still persisted (%s); run "
                "`python -m engine kill --reset` first",
                record.reason,
            )
            return
        self.risk.resume()
        self.snapshots.risk_event("resume", 0, "operator reset", self.risk.state_name)

    # ------------------------------------------------------------------ pause

    @property
    def paused(self) -> bool:
        return self.view is not None and self.view.paused

    def pause(self, reason: str) -> bool:
        """Stop quoting until `resume`: the strategy sees PAUSED, only cancels pass, every open
        order is cancelled. Risk is untouched and nothing is persisted (a restart quotes).
        False when already paused or not started."""
        if self.view is None or self._sink is None or self.view.paused:
            return False
        self.view.paused = True
        self.events.set_intent_sink(cancels_only(self._sink))
        log.warning("quoting paused: cancelling every open order", extra={"reason": reason})
        self._spawn(self._cancel_for_pause())
        return True

    async def _cancel_for_pause(self) -> None:
        cancelled = await self.trading.cancel_everything()
        log.warning("quoting paused: orders cancelled", extra={"cancelled": cancelled})

    def resume(self, reason: str) -> bool:
        """Quote again after `pause` (a HALTED risk state still stops it: that takes
        `python -m engine kill --reset`). False when not paused."""
        if self.view is None or self._sink is None or not self.view.paused:
            return False
        self.view.paused = False
        self.events.set_intent_sink(self._sink)
        log.warning("quoting resumed", extra={"reason": reason})
        return True

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
