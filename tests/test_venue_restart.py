"""Restarting one venue's trading session (`TradingComponent.restart`, the alerts'
`restart_venue` action) against the real simulators over TLS on loopback.

- A running engine quoting on the simulated Binance: the production alert action restarts the
  session (a new WS API connection), quoting goes on with new orders at the simulator, and
  the engine's open orders are the simulator's.
- The Gate simulator's port closed: a restart answers False, the alert's retries fail and it
  escalates through the existing action machinery; once the venue listens again the
  background retry brings it back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import time
from pathlib import Path
from typing import Any

import pytest
from support import until
from test_monitor_sources import CONFIG

from engine._core import intents as ib
from engine._core import orders as codes
from engine.alerts import Actions, Signals, build_alerts
from engine.app import Engine
from engine.clock import LiveClock
from engine.config import ConfigStore, EngineConfig, load_config
from engine.data.feed import BookFeed
from engine.events import EventDispatcher
from engine.gateway.adapter import VenueEndpoints
from engine.gateway.venue_data import VenueMarketData
from engine.host.alerting import alert_actions
from engine.host.component import StrategyHost
from engine.model.enums import OrderStatus
from engine.oms import trading
from engine.oms.manager import OrderManager
from engine.oms.trading import TradingComponent, VenueTrading
from engine.sim.component import SimulatorComponent
from engine.sim.server import RunningSim, SimOptions, launch
from engine.wire.credentials import Credentials

LIVE = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


def _sim_open(sim: RunningSim) -> set[str]:
    """Client order ids of our orders resting at the simulator (its own view; Gate's text
    field carries them behind its "t-")."""
    found = sim.exchange.account_for_key(sim.api_key)
    assert found is not None
    return {o.client_order_id.removeprefix("t-") for o in sim.exchange.engine.open_orders(found[1])}


def _feeds(engine: Engine) -> list[BookFeed]:
    return [
        c.feed for c in engine.components if isinstance(c, VenueMarketData) and c.feed is not None
    ]


def _engine_open(oms: OrderManager) -> set[str] | None:
    """Client order ids of the engine's live orders; None while a request is unanswered."""
    orders = oms.open_orders()
    if any(status not in LIVE for _, status in orders):
        return None
    return {cid for cid, _ in orders}


async def test_an_alert_restart_keeps_the_engine_quoting_and_in_step(tmp_path: Path) -> None:
    path = tmp_path / "engine.toml"
    path.write_text(CONFIG.format(tmp=tmp_path))
    engine = Engine(ConfigStore(load_config(path, environ={})), config_path=path)
    run = asyncio.create_task(engine.run(console_log=False))
    try:
        await until(lambda: isinstance(engine.host, StrategyHost), 60)
        host = engine.host
        assert isinstance(host, StrategyHost)
        await until(lambda: host.trading.manager is not None, 60)
        oms = host.trading.manager
        assert oms is not None
        (sim,) = (c.sim for c in engine.components if isinstance(c, SimulatorComponent))
        assert sim is not None
        await until(lambda: bool(_sim_open(sim)))  # quoting
        before, session = _sim_open(sim), host.trading.adapters["binance"].order_session

        restart = alert_actions(host, lambda: _feeds(engine)).restart_venue
        assert restart is not None
        outcome = restart("binance")
        assert inspect.isawaitable(outcome)
        assert await outcome is True

        assert host.trading.restarts == {"binance": 1}
        assert host.trading.ready["binance"]
        assert host.trading.adapters["binance"].order_session is not session  # a new session
        # quoting goes on: orders placed after the restart rest at the simulator ...
        await until(lambda: bool(_sim_open(sim) - before))
        # ... and, between requests, the engine's live orders are exactly the simulator's
        await until(lambda: _engine_open(oms) == _sim_open(sim) != set())
        assert oms.counters.foreign_reports == 0
    finally:
        engine.request_stop("test over")
        assert await asyncio.wait_for(run, 60) == 0


# -- the Gate simulator, a trading component alone ---------------------------------------------


def _venue(sim: RunningSim) -> VenueTrading:
    endpoints = VenueEndpoints(
        sim.urls.rest, sim.urls.ws_public, sim.urls.ws_private, ca_file=sim.ca_file
    )
    credentials = Credentials(sim.api_key, sim.api_secret)
    return VenueTrading("gate", lambda: endpoints, lambda: credentials, dead_man_seconds=10)


def _port(sim: RunningSim) -> int:
    return int(sim.urls.rest.rsplit(":", 1)[1].split("/", 1)[0])


def _restart_alerts(restart: Any) -> Any:
    """The rate-limit rule with `restart_venue`, quick retries, escalating to a notification,
    fed a venue at its limit (the signal is the engine's input; the action is real)."""
    cfg = EngineConfig()
    rules = {k: dataclasses.replace(r, enabled=False) for k, r in cfg.alerts.rules.items()}
    rules["rate_limit"] = dataclasses.replace(
        cfg.alerts.rules["rate_limit"],
        threshold=0.5,
        action="restart_venue",
        retries=1,
        backoff_s=0.2,
        backoff_max_s=1.0,
        escalate="notify",
    )
    anomalies = {n: dataclasses.replace(a, enabled=False) for n, a in cfg.alerts.anomalies.items()}
    alerts = dataclasses.replace(cfg.alerts, interval_s=0.05, rules=rules, anomalies=anomalies)
    config = dataclasses.replace(cfg, alerts=alerts)
    return build_alerts(
        config,
        Signals(rate_limit_usage=lambda: {"gate": 1.0}),
        Actions(restart_venue=restart),
        clock=LiveClock(),
        environ={},
    )


async def test_a_restart_on_gate_reconnects_and_a_closed_port_fails_and_escalates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trading, "RETRY_FIRST_S", 0.05)
    options = SimOptions(market=False, tls=True, ca_path=str(tmp_path / "ca.pem"))
    sim: RunningSim | None = await launch("gate", options)
    assert sim is not None
    port, key, secret = _port(sim), sim.api_key, sim.api_secret
    instruments = sim.exchange.instruments()
    index = next(n for n, i in enumerate(instruments) if i.symbol == "BTC_USDT")
    inst = instruments[index]
    component = TradingComponent([_venue(sim)], EventDispatcher(), LiveClock(), lambda: instruments)
    await component.start()
    try:
        oms = component.manager
        assert oms is not None
        price, lots = inst.price_to_ticks("60000"), inst.qty_to_lots("0.01")
        first = oms.place(index, ib.BUY, ib.LIMIT, ib.GTC, price, lots, 0)
        await until(lambda: oms.table.status_of(first) == codes.NEW)
        session = component.adapters["gate"].order_session
        started = time.monotonic()

        assert await component.restart("gate") is True
        assert time.monotonic() - started < 5
        assert component.restarts == {"gate": 1} and component.ready["gate"]
        assert component.adapters["gate"].order_session is not session
        assert await component.restart("okx") is False  # not a venue of this engine
        # the order of before the restart is still ours and still working at the venue
        assert oms.table.status_of(first) == codes.NEW
        assert _sim_open(sim) == {oms.client_order_id(first)}
        second = oms.place(index, ib.BUY, ib.LIMIT, ib.GTC, price - 10, lots, 0)
        await until(lambda: oms.table.status_of(second) == codes.NEW)  # the new session
        assert _sim_open(sim) == {oms.client_order_id(first), oms.client_order_id(second)}

        await sim.stop()  # the venue's port closes
        sim = None
        alerts = _restart_alerts(component.restart)
        await alerts.start()
        try:
            await until(lambda: any(r["state"] == "escalated" for r in alerts.recent()))
        finally:
            await alerts.stop()
        escalated = next(r for r in alerts.recent() if r["state"] == "escalated")
        assert escalated["rule"] == "rate_limit" and escalated["subject"] == "gate"
        assert "restart_venue failed 2 times (answered False)" in escalated["message"]
        assert not component.ready["gate"] and component.restarts == {"gate": 1}

        # the venue listens again: the background retry reconnects and reconciles
        again = dataclasses.replace(options, port=port, api_key=key, api_secret=secret)
        sim = await launch("gate", again)
        await until(lambda: component.ready["gate"])
    finally:
        await component.stop()
        if sim is not None:
            await sim.stop()
