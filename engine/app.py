"""Composition root: builds the engine's components from config, starts them in order and
stops them in reverse. The only module that knows every room of the package."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine import __version__
from engine.alerts import AlertsComponent, build_alerts
from engine.clock import Clock, LiveClock
from engine.component import Component
from engine.config import ConfigError, ConfigStore, EngineConfig, VenueConfig, masked_dict
from engine.config.schema import RecorderConfig
from engine.config.venue_credentials import load_credentials
from engine.data.feed import BookFeed, FeedOptions
from engine.events import EventDispatcher, EventHandler
from engine.gateway.adapter import VenueEndpoints
from engine.gateway.binance import feed as binance_feed
from engine.gateway.binance import instruments as binance_instruments
from engine.gateway.factory import endpoints_of
from engine.gateway.gate import feed as gate_feed
from engine.gateway.gate import instruments as gate_instruments
from engine.gateway.instrument_cache import InstrumentCache
from engine.gateway.okx import feed as okx_feed
from engine.gateway.okx import instruments as okx_instruments
from engine.gateway.venue_data import FeedFactory, InstrumentLoader, VenueMarketData
from engine.gateway.ws import WsOptions
from engine.host.alerting import alert_actions, alert_signals
from engine.host.component import StrategyHost
from engine.host.monitoring import EngineHooks, build_monitor
from engine.logs import LoggingHandle, setup_logging
from engine.model.instrument import Instrument
from engine.oms.trading import TradingComponent, VenueTrading
from engine.risk.halt import SOURCE_API, SOURCE_OPERATOR, SOURCE_SIGNAL, PidFile
from engine.runtime.affinity import pin_process
from engine.runtime.gc_policy import freeze_after_start
from engine.runtime.loop import loop_name
from engine.sim.component import SimulatorComponent
from engine.sim.server import RunningSim, SimOptions
from engine.storage.component import StorageComponent
from engine.storage.recorder import FrameRecorder
from engine.wire.credentials import Credentials

log = logging.getLogger("engine.app")

# Said at start so nobody mistakes what is built for what is not (README lists them too).
NOT_YET_WIRED: tuple[str, ...] = ()


INSTRUMENT_LOADERS: dict[str, InstrumentLoader] = {
    "binance": binance_instruments.load_instruments,
    "okx": okx_instruments.load_instruments,
    "gate": gate_instruments.load_instruments,
}


def _ws_options(stale_after_s: float, keepalive_s: float) -> WsOptions:
    """The venue's application ping, at least twice per stale limit: its answer is a frame,
    so a quiet but healthy connection is never taken for a dead one."""
    return WsOptions(stale_after_s=stale_after_s, keepalive_s=min(keepalive_s, stale_after_s / 2))


def _feed_factory(  # noqa: PLR0917 - what a venue's feed is built from
    venue: str,
    config: VenueConfig,
    events: EventHandler,
    clock: Clock,
    stale_after_s: float,
    recorder: RecorderConfig | None = None,
) -> FeedFactory:
    """How to build `venue`'s book feed once its instruments are loaded."""
    options = FeedOptions(book_capacity=config.book_depth)

    def make(instruments: list[Instrument], rest: str, ws: str, ca_file: str) -> BookFeed:
        feed = _make(instruments, rest, ws, ca_file)
        if recorder is not None:  # `[recorder] enabled`: every raw frame to files
            feed.frame_recorder = FrameRecorder.from_config(recorder, venue)
        return feed

    def _make(instruments: list[Instrument], rest: str, ws: str, ca_file: str) -> BookFeed:
        if venue == "binance":
            return binance_feed.BinanceBookFeed(
                instruments,
                events,
                rest_url=rest,
                ws_url=ws,
                clock=clock,
                options=options,
                ws_options=WsOptions(stale_after_s=stale_after_s),
                ca_file=ca_file,
            )
        if venue == "okx":  # syncs from the WebSocket alone: no REST snapshot
            return okx_feed.OkxBookFeed(
                instruments,
                events,
                ws_url=ws,
                clock=clock,
                options=options,
                ws_options=_ws_options(stale_after_s, okx_feed.KEEPALIVE_S),
                ca_file=ca_file,
            )
        return gate_feed.GateBookFeed(
            instruments,
            events,
            rest_url=rest,
            ws_url=ws,
            clock=clock,
            options=options,
            ws_options=_ws_options(stale_after_s, gate_feed.KEEPALIVE_S),
            ca_file=ca_file,
        )

    return make


def build_components(
    config: EngineConfig,
    events: EventDispatcher,
    clock: Clock,
    current: Callable[[], EngineConfig] | None = None,
    hooks: EngineHooks | None = None,
) -> list[Component]:
    """The components this config asks for, in start order: simulated venues before the
    feeds that connect to them. Everything built here gets the engine's clock and events;
    `hooks` (the engine's emergency stop, config store and reload) arm the control API.

    A simulated venue serves TLS as a real one does (https://, wss://, a CA made at its
    start), and the venue's clients verify it against that CA's file; a real venue's are
    verified against `venues.<name>.ca_file` ("" = the system trust store)."""
    simulators = {
        name: SimulatorComponent(name, SimOptions(tls=True))
        for name, venue in sorted(config.venues.items())
        if venue.enabled and venue.simulated
    }

    def urls(name: str, venue: VenueConfig) -> tuple[str, str]:
        sim = simulators.get(name)
        if sim is not None:
            return sim.urls.rest, sim.urls.ws_public
        return venue.rest_url, venue.ws_public_url

    def ca_file(name: str, venue: VenueConfig) -> str:
        sim = simulators.get(name)
        if sim is not None:
            if sim.sim is None:
                raise RuntimeError(f"simulated {name} is not running")
            return sim.sim.ca_file
        return venue.ca_file

    def running(name: str) -> RunningSim:
        sim = simulators[name].sim
        if sim is None:
            raise RuntimeError(f"simulated {name} is not running")
        return sim

    def endpoints(name: str, venue: VenueConfig) -> VenueEndpoints:
        if name not in simulators:
            return endpoints_of(venue)
        sim = running(name)
        return VenueEndpoints(
            sim.urls.rest, sim.urls.ws_public, sim.urls.ws_private, ca_file=sim.ca_file
        )

    def credentials(name: str, venue: VenueConfig) -> Credentials:
        if name in simulators:  # the keys the simulator made for this run
            sim = running(name)
            return Credentials(sim.api_key, sim.api_secret, sim.passphrase or None)
        loaded = load_credentials(name, venue)
        if loaded is None:
            raise ConfigError(f"venues.{name}: trading needs credentials (key_source)")
        return loaded

    instrument_cache = InstrumentCache(Path(config.system.state_dir) / "instruments")
    feeds = [
        VenueMarketData(
            name,
            venue.symbols,
            INSTRUMENT_LOADERS[name],
            _feed_factory(
                name, venue, events, clock, config.monitor.stale_feed_seconds, config.recorder
            ),
            lambda name=name, venue=venue: urls(name, venue),  # type: ignore[misc]
            ca_file=lambda name=name, venue=venue: ca_file(name, venue),  # type: ignore[misc]
            cache=None if name in simulators else instrument_cache,
        )
        for name, venue in sorted(config.venues.items())
        if venue.enabled and venue.symbols
    ]
    trading = [
        VenueTrading(
            name,
            lambda name=name, venue=venue: endpoints(name, venue),  # type: ignore[misc]
            lambda name=name, venue=venue: credentials(name, venue),  # type: ignore[misc]
            dead_man_seconds=venue.dead_man_seconds,
            adopt_unknown=venue.adopt_unknown_orders,
            cancel_on_stop=venue.cancel_on_stop,
        )
        for name, venue in sorted(config.venues.items())
        if venue.enabled
        and venue.trade
        and venue.symbols
        and (venue.simulated or venue.key_source != "none")
    ]
    components: list[Component] = [*simulators.values()]
    storage: StorageComponent | None = None
    if trading:  # the order journal and the history come up before any order can go out
        storage = StorageComponent(config.database, config.cache, clock, config.system.state_dir)
        components.append(storage)
    components += feeds
    if trading:
        trader = TradingComponent(
            trading, events, clock, lambda: instrument_table(feeds), storage=storage
        )
        components.append(trader)
        host = StrategyHost(
            current or (lambda: config),
            events,
            clock,
            trader,
            lambda: [f.feed for f in feeds if f.feed is not None],
            lambda: instrument_table(feeds),
        )
        components.append(host)
        live_feeds = lambda: [f.feed for f in feeds if f.feed is not None]  # noqa: E731
        alerts: AlertsComponent | None = None
        if config.alerts.enabled:  # after trading (it reads it), stopped before it
            alerts = build_alerts(
                current or (lambda: config),
                alert_signals(host, live_feeds, clock),
                alert_actions(host, live_feeds),
                clock=clock,
            )
            components.append(alerts)
        if config.monitor.enabled:  # /metrics, /status, /health, /: last up, first down
            components.append(
                build_monitor(
                    config.monitor,
                    host,
                    live_feeds,
                    hooks,
                    alerts=alerts.recent if alerts is not None else None,
                    alert_status=alerts.status if alerts is not None else None,
                )
            )
    return components


def instrument_table(components: Sequence[Component]) -> list[Instrument]:
    """Every loaded instrument, venue by venue: an intent's instrument index is a position
    in this list, fixed for the run (the dispatcher and the order manager share it)."""
    return [
        inst
        for component in components
        if isinstance(component, VenueMarketData)
        for inst in component.instruments
    ]


class Engine:
    """One engine process: config, clock, dispatcher, components, lifecycle."""

    def __init__(self, store: ConfigStore, *, config_path: Path | None = None) -> None:
        self.store = store
        self.config_path = config_path
        self.clock: Clock = LiveClock()
        self.events = EventDispatcher()
        hooks = EngineHooks(
            store, lambda reason: self.emergency_stop(reason, SOURCE_API), self.reload
        )
        self.components: list[Component] = build_components(
            store.current, self.events, self.clock, lambda: self.store.current, hooks
        )
        self.pidfile = PidFile(Path(store.current.system.state_dir))
        self._started: list[Component] = []
        self._stop = asyncio.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._logging: LoggingHandle | None = None

    @property
    def config(self) -> EngineConfig:
        return self.store.current

    def request_stop(self, reason: str = "requested") -> None:
        if not self._stop.is_set():
            log.info("stop requested", extra={"reason": reason})
            self._stop.set()

    def reload(self) -> EngineConfig:
        """Re-read the config file (the control API's reload): only hot keys may change;
        ConfigError refuses it, with nothing changed."""
        if self.config_path is None:
            raise ConfigError("the engine runs on built-in defaults: there is no file to reload")
        new = self.store.reload(self.config_path)
        log.info("config reloaded", extra={"path": str(self.config_path)})
        return new

    def reload_config(self) -> None:
        """Hot update from the file (SIGHUP): only hot keys may change."""
        if self.config_path is None:
            log.warning("config reload ignored: the engine runs on built-in defaults")
            return
        try:
            self.reload()
        except ConfigError as exc:
            log.error("config reload refused: %s", exc)

    @property
    def host(self) -> StrategyHost | None:
        return next((c for c in self.components if isinstance(c, StrategyHost)), None)

    def emergency_stop(self, reason: str, source: str = SOURCE_SIGNAL) -> None:
        """SIGUSR1, `python -m engine kill`, risk.kill_switch, the control API (source api):
        halt, cancel everything."""
        host = self.host
        if host is None or not host.running:
            log.error("emergency stop: no trading to stop", extra={"reason": reason})
            return
        host.emergency_stop(reason, source)

    def operator_reset(self) -> None:
        """SIGUSR2 (sent by `python -m engine kill --reset`): resume if the halt is cleared."""
        host = self.host
        if host is not None and host.running:
            host.operator_reset()

    def _check_config(self, new: EngineConfig) -> None:
        """Refuse a reload the running strategy cannot take (its parameters checked)."""
        host = self.host
        if host is not None and host.strategy is not None:
            on_params = getattr(host.strategy, "check_params", None)
            if on_params is not None:
                on_params(new.strategy.parameters)

    def _on_config_change(self, old: EngineConfig, new: EngineConfig) -> None:
        if self._logging is not None and old.system.log_level != new.system.log_level:
            self._logging.set_level(new.system.log_level)
        host = self.host
        if host is None or not host.running:
            return
        if new.risk != old.risk and host.risk is not None:
            host.risk.apply_config(new.risk)
            log.info("risk limits reloaded")
        if new.risk.kill_switch and not old.risk.kill_switch:
            self.emergency_stop("risk.kill_switch set", SOURCE_OPERATOR)
        if new.strategy.parameters != old.strategy.parameters and host.strategy is not None:
            on_params = getattr(host.strategy, "on_params", None)
            if on_params is not None:
                on_params(new.strategy.parameters)
                log.info("strategy parameters reloaded")

    async def run(self, duration: float | None = None, *, console_log: bool = True) -> int:
        """Start, wait for a stop signal (or `duration` seconds), stop. Returns an exit code."""
        cfg = self.config
        self._logging = setup_logging(
            cfg.system.log_level,
            cfg.system.log_dir,
            max_bytes=cfg.system.log_max_bytes,
            backups=cfg.system.log_backups,
            console=console_log,
        )
        unsubscribe = self.store.subscribe(self._on_config_change)
        remove_check = self.store.add_check(self._check_config)
        loop = asyncio.get_running_loop()
        try:
            self._install_signal_handlers(loop)
            self.pidfile.write()  # after the handlers: a `kill` now is caught, not fatal
            cpus = pin_process(cfg.system.cpus)
            self._executor = ThreadPoolExecutor(
                max_workers=cfg.system.worker_threads, thread_name_prefix="engine-worker"
            )
            loop.set_default_executor(self._executor)
            log.info(
                "engine starting",
                extra={
                    "version": __version__,
                    "config": str(self.config_path) if self.config_path else "defaults",
                    "loop": loop_name(loop),
                    "cpus": sorted(cpus),
                    "pinned": bool(cfg.system.cpus),
                    "worker_threads": cfg.system.worker_threads,
                    "venues": sorted(n for n, v in cfg.venues.items() if v.enabled),
                    "database": masked_dict(cfg)["database"]["url"] or "embedded sqlite",
                    "cache": masked_dict(cfg)["cache"]["url"] or "in-process memory",
                },
            )
            if NOT_YET_WIRED:
                log.warning("not yet wired in this version: %s", ", ".join(NOT_YET_WIRED))
            try:
                await self._start_components()
            except Exception as exc:  # the reason belongs in the log too, not only on stderr
                log.error("engine failed to start", extra={"error": f"{type(exc).__name__}: {exc}"})
                raise
            log.info("engine running; Ctrl-C or SIGTERM stops it, SIGHUP reloads the config")
            if duration is None:
                await self._stop.wait()
            else:
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=duration)
                except TimeoutError:
                    log.info("run duration reached", extra={"seconds": duration})
            return 0
        finally:
            await self._stop_components()
            self.pidfile.remove()
            self._remove_signal_handlers(loop)
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
            unsubscribe()
            remove_check()
            log.info("engine stopped")
            self._logging.stop()

    async def _start_components(self) -> None:
        for component in self.components:
            self._started.append(component)
            await component.start()
        # the instrument table is known once the venues' metadata is loaded
        host = self.host
        try:
            self.events.start(
                self.clock,
                instrument_table(self.components),
                host.view if host is not None else None,
            )
        except ValueError as exc:  # a strategy refusing its parameters: configuration
            raise ConfigError(str(exc)) from exc
        if self.config.system.gc_freeze:  # what started lives for the run: never walked again
            freeze_after_start()

    async def _stop_components(self) -> None:
        self.events.stop()
        while self._started:
            component = self._started.pop()
            try:
                await component.stop()
            except Exception:
                log.exception("component %s failed to stop cleanly", component.name)

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        loop.add_signal_handler(signal.SIGHUP, self.reload_config)
        loop.add_signal_handler(signal.SIGUSR1, self.emergency_stop, "SIGUSR1")
        loop.add_signal_handler(signal.SIGUSR2, self.operator_reset)

    def _remove_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
            loop.remove_signal_handler(sig)
