"""`python -m engine ctl` as an operator runs it: a subprocess with HFT_CONTROL_TOKEN in its
environment, against an engine running in this process (its simulated Binance, the monitor
on a loopback port). Output, exit codes (0 done, 1 refused, 2 usage or unreachable) and the
engine's state after each command are checked; the token is never printed."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from drills import clean_env
from test_control_api import Running, make_token, write_config

from engine.app import Engine
from engine.config import ConfigStore, load_config
from engine.ctl_cli import parse_assignments, parse_value
from engine.monitor.control import TOKEN_ENV
from engine.risk.halt import HaltStore


async def ctl(*args: str, token: str | None) -> tuple[int, str, str]:
    """`python -m engine ctl ARGS` with `token` as HFT_CONTROL_TOKEN; (code, stdout, stderr)."""
    env = clean_env({TOKEN_ENV: token} if token is not None else None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine", "ctl", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _engine(tmp: Path, monkeypatch: pytest.MonkeyPatch, token: str | None) -> Running:
    if token is None:
        monkeypatch.delenv(TOKEN_ENV, raising=False)
    else:
        monkeypatch.setenv(TOKEN_ENV, token)
    path = write_config(tmp)
    engine = Engine(ConfigStore(load_config(path, environ={})), config_path=path)
    running = Running(engine, asyncio.create_task(engine.run(console_log=False)), tmp)
    await running.until(lambda: running.sim_orders() or running.task.done(), "a quote")
    assert not running.task.done(), running.task.result()
    return running


@pytest.fixture
async def engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Running, str]]:
    token = make_token()
    running = await _engine(tmp_path, monkeypatch, token)
    yield running, token
    if not running.task.done():
        await running.stop()


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("engine: error: ctl: "), err
    return lines[0]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("2.5", 2.5),
        ("true", True),
        ('"0.001"', "0.001"),
        ("[1, 2]", [1, 2]),
        ("mid", "mid"),  # not TOML: the text itself
        ("binance:BTCUSDT", "binance:BTCUSDT"),
        ("", ""),
    ],
)
def test_values_are_read_as_toml_where_they_are(text: str, value: Any) -> None:
    got = parse_value(text)
    assert got == value and type(got) is type(value)


def test_assignments_split_at_the_first_equals_sign() -> None:
    assert parse_assignments(["a.b=1", " c.d = x=y "]) == {"a.b": 1, "c.d": "x=y"}
    for bad in ("novalue", "=1"):
        with pytest.raises(ValueError, match="KEY=VALUE"):
            parse_assignments([bad])


async def test_every_command_against_a_running_engine(engine: tuple[Running, str]) -> None:
    running, token = engine
    url = ["--url", running.url]
    host = running.host
    assert host.risk is not None

    code, out, err = await ctl(*url, "status", token=token)
    assert code == 0, err
    doc = orjson.loads(out)
    assert doc["paused"] is False and doc["risk_state"] == "ACTIVE" and doc["overrides"] == {}

    code, out, err = await ctl(*url, "pause", "--reason", "cli test", token=token)
    assert (code, out.strip()) == (
        0,
        "paused: quoting stopped, open orders cancelled (risk ACTIVE)",
    )
    await running.until(lambda: not running.sim_orders(), "quotes pulled by the pause")
    code, out, _ = await ctl(*url, "pause", token=token)
    assert (code, out.strip()) == (0, "already paused (risk ACTIVE)")
    code, out, _ = await ctl(*url, "resume", token=token)
    assert (code, out.strip()) == (0, "quoting (risk ACTIVE)")
    await running.until(running.sim_orders, "quotes back after the resume")

    code, out, err = await ctl(
        *url, "set", "strategy.parameters.base_half_spread_ticks=4.5",
        'risk.max_position="0.5"', "risk.max_open_orders=8", token=token,
    )  # fmt: skip
    assert code == 0, err
    assert out.splitlines() == [
        "strategy.parameters.base_half_spread_ticks: 2.0 -> 4.5",
        'risk.max_position: "1" -> "0.5"',
        "risk.max_open_orders: 10 -> 8",
    ]
    assert running.strategy.settings.base_half_spread_ticks == 4.5
    assert host.risk.config.max_position == Decimal("0.5")
    assert host.risk.core.limits(0).max_open_orders == 8

    # refused by the engine: exit 1, one line naming the key, nothing changed
    before = running.engine.store.current
    for assignment, named in (
        ("system.worker_threads=3", "system.worker_threads: is not hot-reloadable"),
        ("risk.max_open_orders=0", "risk.max_open_orders: 0 is out of range"),
        ("risk.max_position=0.7", 'quote it ("0.7")'),
        ("strategy.parameters.levels=99", "strategy.parameters.levels"),
    ):
        code, out, err = await ctl(*url, "set", assignment, token=token)
        assert code == 1 and out == "", (assignment, err)
        assert named in _one_line(err), err
    assert running.engine.store.current is before

    write_config(running.tmp, notional="7000")
    code, out, err = await ctl(*url, "reload", token=token)
    assert (code, out.strip()) == (0, 'risk.max_order_notional: "5000" -> "7000"'), err

    code, out, err = await ctl(*url, "kill", "--reason", "cli drill", token=token)
    assert code == 0 and "halted" in out, err
    assert host.risk.state_name == "HALTED"
    await running.until(lambda: HaltStore(running.tmp / "state").load(), "the halt persisted")
    record = HaltStore(running.tmp / "state").load()
    assert record is not None and (record.source, record.reason) == ("api", "cli drill")
    assert await running.stop() == 0
    who = {row["who"] for row in running.audit_rows()}
    assert len(who) == 1 and who.pop().startswith("127.0.0.1 (")  # the operator it names


async def test_refusals_usage_and_unreachable_engines(
    engine: tuple[Running, str], tmp_path: Path
) -> None:
    running, token = engine
    url = ["--url", running.url]
    wrong = make_token()
    code, out, err = await ctl(*url, "pause", token=wrong)
    line = _one_line(err)
    assert code == 1 and out == "" and "wrong token (403)" in line and TOKEN_ENV in line
    assert wrong not in out + err and token not in out + err
    assert not running.host.paused

    code, _, err = await ctl(*url, "status", token=None)
    assert code == 2 and f"{TOKEN_ENV} is not set" in _one_line(err)
    for args in (("set",), ("status", "a=1"), ("set", "novalue"), ("bogus",)):
        code, _, err = await ctl(*url, *args, token=token)
        assert code == 2, (args, err)

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    code, out, err = await ctl("--url", closed, "status", token=token)
    line = _one_line(err)
    assert code == 2 and f"cannot reach the engine at {closed}" in line and "--url" in line
    code, _, err = await ctl("--url", "ftp://127.0.0.1:1", "status", token=token)
    assert code == 2 and "want http://HOST:PORT" in _one_line(err)
    assert await running.stop() == 0


async def test_an_engine_without_a_token_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = await _engine(tmp_path, monkeypatch, None)
    try:
        code, out, err = await ctl("--url", running.url, "status", token=make_token())
        line = _one_line(err)
        assert code == 1 and out == ""
        assert "has no control API (404)" in line and f"with {TOKEN_ENV} set" in line
    finally:
        assert await running.stop() == 0
