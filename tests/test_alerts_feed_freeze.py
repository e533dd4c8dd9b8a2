"""A frozen feed end to end: the simulated Binance keeps the public socket open and stops
sending (fault `freeze_connection`); the stale-feed alert fires, its notification reaches a
real webhook receiver on loopback over HTTP, the automatic recovery reconnects the feed,
the book syncs again and the alert resolves (also notified).

- A feed and an alert engine alone: alert, webhook, reconnect, book synced, resolution.
- A paper engine in this process quoting on that feed (the production wiring: the alert
  rule from the config file, `alert_actions`' reconnect, the market-making strategy): while
  the feed is frozen the strategy pulls its quotes (book stale) before the alert even fires,
  so nothing of ours rests at the simulator; after the alert's reconnect the strategy quotes
  again: new orders reach the simulator and the engine's live orders are the simulator's.

The transport's own stale watchdog is set far beyond the test (60 s), so the reconnect seen
here is the alert's doing."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support import until
from test_notify import Receiver
from test_venue_restart import _engine_open, _feeds, _sim_open

from engine.alerts import Actions, Signals, build_alerts
from engine.app import Engine
from engine.clock import NS_PER_SECOND, LiveClock
from engine.config import ConfigStore, EngineConfig, load_config
from engine.events import EventHandler
from engine.gateway.binance.feed import BinanceBookFeed
from engine.gateway.ws import WsOptions
from engine.host.component import StrategyHost
from engine.sim.component import SimulatorComponent
from engine.sim.faults import FaultKind
from engine.sim.server import RunningSim, start_sim
from engine.strategy.market_making import MarketMakingStrategy

SYMBOL = "BTCUSDT"
KEY = f"binance:{SYMBOL}"


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    async with start_sim("binance", seed=7, market_interval_ms=5, tls=True) as running:
        yield running


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    await rec.start()
    try:
        yield rec
    finally:
        await rec.stop()


def alert_config() -> EngineConfig:
    cfg = EngineConfig()
    stale = dataclasses.replace(
        cfg.alerts.rules["feed_stale"],
        threshold=1.0,
        clear_s=0.5,
        action="reconnect_feed",
        retries=2,
        backoff_s=3.0,
    )
    rules = {k: r if k == "feed_stale" else dataclasses.replace(r, enabled=False)
             for k, r in cfg.alerts.rules.items()}  # fmt: skip
    anomalies = {n: dataclasses.replace(a, enabled=False) for n, a in cfg.alerts.anomalies.items()}
    rules["feed_stale"] = stale
    alerts = dataclasses.replace(cfg.alerts, interval_s=0.1, rules=rules, anomalies=anomalies)
    notify = dataclasses.replace(cfg.notify, webhook_url_env="ALERT_HOOK", storm_window_s=0.0)
    return dataclasses.replace(cfg, alerts=alerts, notify=notify)


async def test_a_frozen_feed_is_alerted_and_reconnected(
    sim: RunningSim, receiver: Receiver
) -> None:
    clock = LiveClock()
    inst = next(i for i in sim.exchange.instruments() if i.symbol == SYMBOL)
    feed = BinanceBookFeed(
        [inst],
        EventHandler(),
        rest_url=sim.urls.rest,
        ws_url=sim.urls.ws_public,
        clock=clock,
        ws_options=WsOptions(
            stale_after_s=60.0, backoff_base_s=0.01, backoff_max_s=0.05, watchdog_s=0.05
        ),
        seed=1,
        ca_file=sim.ca_file,
    )

    def ages() -> dict[str, float]:
        conn = feed.connection_of(SYMBOL)
        if conn is None:
            return {}
        return {KEY: (clock.monotonic_ns() - conn.last_message_ns) / NS_PER_SECOND}

    def reconnect(key: str) -> None:
        conn = feed.connection_of(key.partition(":")[2])
        assert conn is not None
        conn.reconnect("alert: feed stale")

    alerts = build_alerts(
        alert_config(),
        Signals(
            feed_ready=lambda: {feed.instrument_id(s): r for s, r in feed.ready.items()},
            feed_age_s=ages,
        ),
        Actions(reconnect_feed=reconnect),
        clock=clock,
        environ={"ALERT_HOOK": receiver.url("/hook/s3cr3t-token")},
    )
    await feed.start()
    await alerts.start()
    try:
        await until(lambda: feed.ready[SYMBOL], timeout=15)
        conn = feed.connection_of(SYMBOL)
        assert conn is not None
        assert receiver.posts == []  # a live feed raises nothing

        sim.exchange.faults.arm(FaultKind.FREEZE_CONNECTION, "ws.public")
        await until(lambda: len(receiver.posts) >= 1, timeout=10)
        fired = receiver.bodies("/hook/")[0]
        assert fired["key"] == f"feed_stale:{KEY}:firing"
        assert "action: reconnect_feed" in fired["text"]
        assert sim.exchange.faults.counters()["freeze_connection"] == 1

        # the alert's reconnect (the transport's own watchdog waits 60 s), a fresh sync
        await until(lambda: conn.counters.reconnects >= 1, timeout=10)
        assert conn.counters.stale == 0
        await until(lambda: feed.ready[SYMBOL], timeout=15)
        await until(lambda: len(receiver.posts) >= 2, timeout=10)
        resolved = receiver.bodies("/hook/")[1]
        assert resolved["key"] == f"feed_stale:{KEY}:resolved"
    finally:
        await alerts.stop()
        await feed.stop()
    states = [(r["rule"], r["state"]) for r in alerts.recent()]
    assert states == [("feed_stale", "resolved"), ("feed_stale", "firing")]
    assert alerts.notifier.counters.sinks["webhook"].sent == 2


# A paper engine quoting BTCUSDT on the simulated Binance. The strategy calls its book stale
# after 1 s without a book event (its check runs every 0.5 s: pulled 1 to 1.5 s into the
# freeze); the alert fires at 3 s without a frame, so the pull comes first. The transport's
# own stale limit (monitor.stale_feed_seconds) is 60 s: the reconnect is the alert's.
ENGINE_CONFIG = """
[system]
log_level = "warning"
log_dir = "{tmp}/log"
state_dir = "{tmp}/state"

[database]
sqlite_path = "{tmp}/engine.sqlite3"

[monitor]
enabled = false
stale_feed_seconds = 60

[notify]
webhook_url_env = "ALERT_HOOK"
storm_window_s = 0

[alerts]
interval_s = 0.1

[alerts.rules.feed_stale]
threshold = 3.0
clear_s = 0.5
action = "reconnect_feed"
retries = 2
backoff_s = 3.0

[alerts.rules.daily_loss]
enabled = false

[alerts.rules.reject_rate]
enabled = false

[alerts.rules.latency_p99]
enabled = false

[alerts.rules.rate_limit]
enabled = false

[alerts.anomalies.latency]
enabled = false

[alerts.anomalies.pnl_change]
enabled = false

[alerts.anomalies.message_rate]
enabled = false

[strategy]
enabled = true
status_interval_s = 0

[strategy.parameters]
order_size = "0.001"
max_position = "0.01"
levels = 1
min_half_spread_ticks = 1.0
base_half_spread_ticks = 1.0
skew_ticks = 20.0
refresh_ticks = 2
requote_interval_s = 0.25
fill_cooldown_s = 0.0
stale_book_s = 1.0

[risk]
max_position = "0.02"
max_order_notional = "5000"
max_open_orders = 10
max_orders_per_second = 20
max_cancels_per_second = 40
max_daily_loss = "500"
max_drawdown = "400"
price_band_bps = 200

[venues.binance]
enabled = true
simulated = true
symbols = ["BTCUSDT"]
key_source = "none"
"""


async def test_quoting_is_pulled_on_a_frozen_feed_and_resumes_after_the_alerts_reconnect(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERT_HOOK", receiver.url("/hook/s3cr3t-token"))
    path = tmp_path / "engine.toml"
    path.write_text(ENGINE_CONFIG.format(tmp=tmp_path))
    engine = Engine(ConfigStore(load_config(path, environ={})), config_path=path)
    run = asyncio.create_task(engine.run(console_log=False))
    try:
        await until(lambda: isinstance(engine.host, StrategyHost), 60)
        host = engine.host
        assert isinstance(host, StrategyHost)
        await until(lambda: host.strategy is not None, 60)
        oms = host.trading.manager
        assert oms is not None
        strategy = host.strategy
        assert isinstance(strategy, MarketMakingStrategy)
        (sim,) = (c.sim for c in engine.components if isinstance(c, SimulatorComponent))
        assert sim is not None
        (feed,) = _feeds(engine)
        conn = feed.connection_of(SYMBOL)  # type: ignore[attr-defined]
        await until(lambda: bool(_sim_open(sim)))  # quoting on the live feed
        assert receiver.posts == []  # a live feed raises nothing
        quoted, pulls = _sim_open(sim), strategy.counters["pulls"]

        sim.exchange.faults.arm(FaultKind.FREEZE_CONNECTION, "ws.public")
        # frozen: the strategy calls the book stale and pulls every quote; the feed has not
        # noticed (its book is still "ready"), the alert has not fired, nothing reconnected
        await until(lambda: strategy.counters["pulls"] > pulls and not _sim_open(sim), 10)
        assert conn.counters.reconnects == 0 and feed.ready[SYMBOL]
        assert receiver.posts == []
        assert sim.exchange.faults.counters()["freeze_connection"] == 1
        await until(lambda: _engine_open(oms) == set())  # the cancels answered
        requests = oms.counters.requests

        # the alert fires and is delivered; its reconnect (not the transport's) resyncs
        await until(lambda: len(receiver.posts) >= 1, 10)
        fired = receiver.bodies("/hook/")[0]
        assert fired["key"] == f"feed_stale:{KEY}:firing"
        assert "action: reconnect_feed" in fired["text"]
        await until(lambda: conn.counters.reconnects >= 1, 10)
        assert conn.counters.stale == 0
        await until(lambda: feed.ready[SYMBOL], 15)

        # quoting resumes: new orders reach the simulator, and between requests the
        # engine's live orders are exactly the simulator's
        await until(lambda: bool(_sim_open(sim)), 10)
        assert not _sim_open(sim) & quoted  # all new: the old ones were cancelled
        assert oms.counters.requests > requests
        await until(lambda: _engine_open(oms) == _sim_open(sim) != set(), 10)
        assert oms.counters.foreign_reports == 0

        await until(lambda: len(receiver.posts) >= 2, 10)
        resolved = receiver.bodies("/hook/")[1]
        assert resolved["key"] == f"feed_stale:{KEY}:resolved"
        assert len(receiver.posts) == 2  # one alert, fired once, resolved once
    finally:
        engine.request_stop("test over")
        assert await asyncio.wait_for(run, 60) == 0
