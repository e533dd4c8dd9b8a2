"""The engine as a market maker, end to end: `Engine.run` against the simulator of all three
venues at once (real TLS, real WebSockets, real signatures), quoting every symbol.

One run of 60 s must produce fills on both sides on every venue, never breach a limit, and
end with the engine's positions equal to what the simulator's accounts hold. The emergency
stop is driven by a real SIGUSR1 and survives a restart.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

from engine._core import risk as risk_codes
from engine.app import Engine
from engine.config import ConfigStore, load_config
from engine.events import EventHandler, OrderUpdate
from engine.host.component import StrategyHost
from engine.risk.halt import HaltStore
from engine.sim.component import SimulatorComponent
from engine.sim.presets import DEFAULT_BALANCES

SYMBOLS = {"binance": "BTCUSDT", "okx": "BTC-USDT", "gate": "BTC_USDT"}
RUN_S = 60.0


def _config(tmp_path: Path, venues: dict[str, str], *, extra: str = "") -> Path:
    text = f"""
[system]
log_level = "warning"
log_dir = "{tmp_path / "log"}"
state_dir = "{tmp_path / "state"}"

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

[risk]
max_position = "0.02"
max_order_notional = "5000"
max_open_orders = 10
max_orders_per_second = 20
max_cancels_per_second = 40
max_daily_loss = "500"
price_band_bps = 200
{extra}
"""
    for name, symbol in venues.items():
        text += f"""
[venues.{name}]
enabled = true
simulated = true
symbols = ["{symbol}"]
key_source = "none"
"""
    path = tmp_path / "engine.toml"
    path.write_text(text)
    return path


class FillSides(EventHandler):
    """Counts our fills per (instrument, side) as the strategy sees them, and keeps the
    running simulators (a stopped SimulatorComponent lets go of its simulator)."""

    def __init__(self, engine: Engine) -> None:
        self.sides: Counter[tuple[str, int]] = Counter()
        self.engine = engine
        self.sims: dict[str, Any] = {}

    def on_start(self, context: Any) -> None:
        self.sims = _sims(self.engine)

    def on_order_update(self, update: OrderUpdate) -> None:
        if update.last_fill_lots > 0:
            self.sides[f"{update.venue}:{update.symbol}", update.side] += 1


def _host(engine: Engine) -> StrategyHost:
    host = engine.host
    assert host is not None
    return host


def _sims(engine: Engine) -> dict[str, Any]:
    return {c.venue: c.sim for c in engine.components if isinstance(c, SimulatorComponent)}


def _sim_open_orders(sim: Any) -> list[Any]:
    """Our orders resting at the simulated venue (the simulator's own view)."""
    found = sim.exchange.account_for_key(sim.api_key)
    assert found is not None
    account = found[1]
    return [o for o in sim.exchange.engine.open_orders(account)]


async def test_a_minute_of_market_making_on_three_venues(tmp_path: Path) -> None:
    path = _config(tmp_path, SYMBOLS)
    engine = Engine(ConfigStore(load_config(path, environ={})), config_path=path)
    fills = FillSides(engine)
    engine.events.add(fills)
    code = await engine.run(duration=RUN_S, console_log=False)
    assert code == 0

    host = _host(engine)
    oms = host.trading.manager
    assert oms is not None and host.risk is not None
    # no limit was breached: still ACTIVE, nothing entered a breach state
    assert host.risk.state_name == "ACTIVE"
    assert not any(host.risk.core.breaches().values())
    assert host.risk.core.cause == risk_codes.OK
    for venue, symbol in SYMBOLS.items():
        instrument_id = f"{venue}:{symbol}"
        assert fills.sides[instrument_id, 1] > 0, f"no buy fill on {instrument_id}: {fills.sides}"
        assert fills.sides[instrument_id, -1] > 0, f"no sell fill on {instrument_id}"
    # the engine's books against the simulator's accounts
    sims = fills.sims
    for index, instrument in enumerate(oms.instruments):
        sim = sims[instrument.venue]
        found = sim.exchange.account_for_key(sim.api_key)
        balances = sim.exchange.balances(found[1])
        position = oms.positions[index]
        base_free, base_locked = balances[instrument.base]
        held = base_free + base_locked - DEFAULT_BALANCES[instrument.base]
        # a fee charged in the base asset leaves the account but is not position
        expected = instrument.lots_to_qty(position.qty) - oms.fees_in_base[index]
        assert held == expected, f"{instrument.instrument_id}: venue {held}, engine {expected}"
        quote_free, quote_locked = balances[instrument.quote]
        paid = quote_free + quote_locked - DEFAULT_BALANCES[instrument.quote]
        # cash = realized PnL (net of quote fees) minus what the open position cost
        cash = instrument.notional_to_decimal(position.realized - position.cost)
        assert paid == cash, f"{instrument.instrument_id}: venue {paid}, engine {cash}"
        assert _sim_open_orders(sim) == [], "orders left resting after the stop"


async def test_sigusr1_cancels_everything_within_a_second_and_a_restart_stays_halted(
    tmp_path: Path,
) -> None:
    path = _config(tmp_path, {"binance": "BTCUSDT"}, extra="")
    engine = Engine(ConfigStore(load_config(path, environ={})), config_path=path)
    run = asyncio.create_task(engine.run(console_log=False))
    sim = None
    for _ in range(400):  # wait until quotes rest at the venue (a fill may take one away)
        await asyncio.sleep(0.05)
        sims = _sims(engine)
        sim = sims.get("binance")
        if sim is not None and len(_sim_open_orders(sim)) >= 1:
            break
    assert sim is not None and _sim_open_orders(sim), "no quote rested"
    os.kill(os.getpid(), signal.SIGUSR1)  # the engine's own handler, as `kill` sends it
    deadline = asyncio.get_running_loop().time() + 1.0
    while _sim_open_orders(sim) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    assert _sim_open_orders(sim) == [], "orders still resting 1 s after SIGUSR1"
    host = _host(engine)
    assert host.risk is not None and host.risk.state_name == "HALTED"
    await asyncio.sleep(0.5)  # quotes are not put back
    assert _sim_open_orders(sim) == []
    for _ in range(50):
        if HaltStore(tmp_path / "state").load() is not None:
            break
        await asyncio.sleep(0.02)
    record = HaltStore(tmp_path / "state").load()
    assert record is not None and record.source == "signal"
    storage = host.trading.storage
    assert storage is not None and storage.writer is not None
    assert (
        storage.writer.buffers["risk_events"].counters.written
        + len(storage.writer.buffers["risk_events"].rows)
        == 1
    )  # the halt, kept in the history
    engine.request_stop("test")
    assert await run == 0

    # a restart stays halted: the risk core is HALTED before the first event
    again = Engine(ConfigStore(load_config(path, environ={})), config_path=path)
    run = asyncio.create_task(again.run(console_log=False))
    await asyncio.sleep(3.0)
    host = _host(again)
    assert host.risk is not None and host.risk.state_name == "HALTED"
    sim = _sims(again)["binance"]
    assert _sim_open_orders(sim) == []
    assert host.trading.manager is not None
    assert host.trading.manager.counters.requests == 0  # the strategy sees HALTED, sends nothing
    HaltStore(tmp_path / "state").clear("test", 0)
    os.kill(os.getpid(), signal.SIGUSR2)  # `kill --reset`: resumes
    for _ in range(200):
        await asyncio.sleep(0.05)
        if _sim_open_orders(sim):
            break
    assert host.risk.state_name == "ACTIVE"
    assert _sim_open_orders(sim), "quoting did not resume after the reset"
    again.request_stop("test")
    assert await run == 0
