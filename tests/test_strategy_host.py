"""The strategy host in a running engine: a bad strategy parameter or class stops the start
with a message naming it (exit 2); a reload applies good parameters and refuses bad ones,
leaving the running values; risk limits and the kill switch are hot; the latency histograms
are written at exit."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from engine.app import Engine
from engine.config import ConfigError, ConfigStore, load_config
from engine.monitor import MonitorServer
from engine.risk.halt import HaltStore
from engine.strategy.market_making import MarketMakingStrategy

BASE = """
[system]
log_level = "warning"
log_dir = "{tmp}/log"
state_dir = "{tmp}/state"

[strategy]
enabled = true
{strategy}
status_interval_s = 0

[strategy.parameters]
order_size = "0.001"
min_half_spread_ticks = 2.0
requote_interval_s = 0.05
{parameters}

[risk]
max_order_notional = "5000"

[venues.binance]
enabled = true
simulated = true
symbols = ["BTCUSDT"]
key_source = "none"

[monitor]
port = 0
"""


def _write(tmp_path: Path, *, strategy: str = "", parameters: str = "") -> Path:
    path = tmp_path / "engine.toml"
    path.write_text(BASE.format(tmp=tmp_path, strategy=strategy, parameters=parameters))
    return path


@pytest.mark.parametrize(
    ("strategy", "parameters", "named"),
    [
        ("", "levels = 99", "strategy.parameters.levels"),
        ("", "reference = 'binance:NOPE'", "strategy.parameters.reference"),
        ("", "max_position = 0.1", "strategy.parameters.max_position"),
        ("", "leverls = 2", "leverls"),
        ('class = "no_such_module:Nope"', "", "strategy.class"),
    ],
)
def test_a_bad_strategy_setting_stops_the_start_naming_it(
    tmp_path: Path, strategy: str, parameters: str, named: str
) -> None:
    path = _write(tmp_path, strategy=strategy, parameters=parameters)
    done = subprocess.run(
        [sys.executable, "-m", "engine", "run", "--config", str(path), "--duration", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert named in last, last


async def _started(engine: Engine) -> asyncio.Task[int]:
    run = asyncio.create_task(engine.run(console_log=False))
    for _ in range(400):
        await asyncio.sleep(0.05)
        host = engine.host
        if host is not None and host.running and host.latency.total.count > 0:
            return run
    raise AssertionError("the engine did not quote within 20 s")


async def test_reload_applies_good_parameters_and_refuses_bad_ones(tmp_path: Path) -> None:
    path = _write(tmp_path)
    engine = Engine(ConfigStore(load_config(path, environ={})), config_path=path)
    run = await _started(engine)
    try:
        host = engine.host
        assert host is not None and isinstance(host.strategy, MarketMakingStrategy)
        strategy = host.strategy
        assert strategy.settings.levels == 1
        _write(tmp_path, parameters="levels = 2")
        engine.store.reload(path)
        assert strategy.settings.levels == 2
        _write(tmp_path, parameters="levels = 2\nskew_ticks = -1.0")
        with pytest.raises(ConfigError, match=r"strategy\.parameters\.skew_ticks"):
            engine.store.reload(path)
        assert strategy.settings.levels == 2 and strategy.settings.skew_ticks == 0.0
        assert engine.config.strategy.parameters.get("skew_ticks") is None  # nothing applied
        engine.reload_config()  # SIGHUP's path: refused and logged, the engine runs on
        assert host.running

        # the monitor serves what the engine holds
        monitor = next(c for c in engine.components if isinstance(c, MonitorServer))
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{monitor.url}/metrics") as answer:
                text = await answer.text()
            assert 'hft_position_base{symbol="BTCUSDT",venue="binance"}' in text
            assert 'hft_tick_to_trade_seconds_count{stage="total"}' in text
            async with http.get(f"{monitor.url}/health") as answer:
                assert answer.status == 200 and (await answer.json())["ready"] is True
            async with http.get(f"{monitor.url}/status") as answer:
                assert (await answer.json())["engine"]["risk_state"] == "ACTIVE"

        # risk limits are hot
        engine.store.update("risk.max_open_orders", 3)
        assert host.risk is not None
        assert host.risk.core.limits(0).max_open_orders == 3

        # the kill switch is the emergency stop: halted, persisted
        engine.store.update("risk.kill_switch", True)
        assert host.risk.state_name == "HALTED"
        for _ in range(100):
            record = HaltStore(tmp_path / "state").load()
            if record is not None:
                break
            await asyncio.sleep(0.02)
        assert record is not None and record.source == "operator"
        async with (  # a halted engine is not ready
            aiohttp.ClientSession() as http,
            http.get(f"{monitor.url}/health") as answer,
        ):
            assert answer.status == 503
            assert "trading is HALTED" in (await answer.json())["reasons"]
    finally:
        engine.request_stop("test")
        assert await run == 0
    dump = json.loads((tmp_path / "log" / "latency.json").read_text())
    total = dump["tick_to_trade"]["total"]
    assert total["count"] > 0 and 0 < total["p50"] <= total["p99"]
    assert set(dump["tick_to_trade"]) >= {"dispatched", "strategy_done", "risk_done", "total"}


@pytest.mark.parametrize(
    ("database", "code", "named"),
    [
        ('url = "postgresql://postgres@127.0.0.1:1/test"', 1, "127.0.0.1:1"),
        ('sqlite_path = "/proc/no/such/dir/x.sqlite3"', 2, "/proc/no/such/dir/x.sqlite3"),
        ('journal_path = "/proc/no/such/dir/orders.wal"', 2, "database.journal_path"),
    ],
)
def test_a_bad_database_or_journal_stops_the_start_in_one_line(
    tmp_path: Path, database: str, code: int, named: str
) -> None:
    path = _write(tmp_path)
    path.write_text(path.read_text() + f"\n[database]\n{database}\n")
    done = subprocess.run(
        [sys.executable, "-m", "engine", "run", "--config", str(path), "--duration", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == code, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert named in last, last
    assert "Traceback" not in done.stderr
