"""A frozen feed end to end: the simulated Binance keeps the public socket open and stops
sending (fault `freeze_connection`); the stale-feed alert fires, its notification reaches a
real webhook receiver on loopback over HTTP, the automatic recovery reconnects the feed,
the book syncs again and the alert resolves (also notified).

The transport's own stale watchdog is set far beyond the test (60 s), so the reconnect seen
here is the alert's doing. The end condition is the feed ready again and the resolution
delivered; a strategy host quoting on it is left out (docs/ALERTS.md says so)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from support import until
from test_notify import Receiver

from engine.alerts import Actions, Signals, build_alerts
from engine.clock import NS_PER_SECOND, LiveClock
from engine.config import EngineConfig
from engine.events import EventHandler
from engine.gateway.binance.feed import BinanceBookFeed
from engine.gateway.ws import WsOptions
from engine.sim.faults import FaultKind
from engine.sim.server import RunningSim, start_sim

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
