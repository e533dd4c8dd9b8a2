"""The control API in a running engine: `Engine.run` in this process against its simulated
Binance (real TLS, real orders), the monitor's aiohttp server on a loopback port, a real
HTTP client, the audit rows read back from the engine's SQLite file after it stopped.

- Without HFT_CONTROL_TOKEN the /control routes do not exist (404) and the log says so; the
  server binds loopback by default.
- A missing or malformed Authorization header is 401, a wrong token 403; the token is in no
  log line, no answer and no audit row, for a refused request as for an accepted one.
- Pause pulls every quote and the strategy reads PAUSED, risk untouched; resume quotes again;
  set and reload change hot keys; kill halts and persists the halt (source api). Each is one
  audit row (action, who, outcome, before/after) and one log line.
- A cold key, a bad value, a parameter the strategy refuses and a reload that touches a cold
  key are refused naming the key (409), and the running config stays exactly as it was.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from engine._core.intents import CANCEL, IntentBuffer
from engine.app import Engine
from engine.config import ConfigStore, MonitorConfig, load_config
from engine.host.component import StrategyHost, cancels_only
from engine.monitor import MonitorServer
from engine.monitor.control import MIN_TOKEN_CHARS, TOKEN_ENV
from engine.risk.halt import HaltStore
from engine.sim.component import SimulatorComponent
from engine.strategy.base import Strategy
from engine.strategy.market_making import MarketMakingStrategy

CONFIG = """
[system]
log_level = "debug"
log_dir = "{tmp}/log"
state_dir = "{tmp}/state"

[database]
sqlite_path = "{tmp}/engine.sqlite3"

[strategy]
enabled = true
status_interval_s = 0
{strategy_class}

[strategy.parameters]
order_size = "0.001"
base_half_spread_ticks = {spread}
requote_interval_s = 0.05

[risk]
max_order_notional = "{notional}"
max_open_orders = {max_open}

[venues.binance]
enabled = true
simulated = true
symbols = ["BTCUSDT"]
key_source = "none"

[monitor]
port = 0
"""


def write_config(
    tmp: Path,
    *,
    spread: float = 2.0,
    max_open: int = 10,
    notional: str = "5000",
    strategy: str = "",
) -> Path:
    path = tmp / "engine.toml"
    text = CONFIG.format(
        tmp=tmp,
        spread=spread,
        max_open=max_open,
        notional=notional,
        strategy_class=f'class = "{strategy}"' if strategy else "",
    )
    path.write_text(text)
    return path


class Stubborn(Strategy):
    """Rests one order a side a little away from the touch, whatever `trading_state()`
    says: what a paused engine must keep from reaching the venue."""

    def on_book(self, instrument_id: str, book: Any, timestamp_ns: int) -> None:
        if instrument_id not in self.indexes:
            return
        bid, _, ask, _ = book.top()
        inst = self.instrument(instrument_id)
        lots = max(inst.min_qty_lots, -(-inst.min_notional_units // bid))
        sides = {order.side for order in self.open_orders(instrument_id)}
        if 1 not in sides:
            self.buy(instrument_id, bid - 20, lots, tag=1)
        if -1 not in sides:
            self.sell(instrument_id, ask + 20, lots, tag=2)


def make_token() -> str:
    return f"CtlTok{secrets.token_hex(16)}Zq"  # letters and digits: nothing hides in escapes


class Running:
    """An engine started in this process, and what the tests read of it."""

    def __init__(self, engine: Engine, task: asyncio.Task[int], tmp: Path) -> None:
        self.engine = engine
        self.task = task
        self.tmp = tmp

    @property
    def host(self) -> StrategyHost:
        host = self.engine.host
        assert host is not None
        return host

    @property
    def url(self) -> str:
        monitor = next(c for c in self.engine.components if isinstance(c, MonitorServer))
        assert monitor.url is not None
        return monitor.url

    @property
    def strategy(self) -> MarketMakingStrategy:
        strategy = self.host.strategy
        assert isinstance(strategy, MarketMakingStrategy)
        return strategy

    def sim_orders(self) -> list[Any]:
        """Our orders resting at the simulated venue, as the venue holds them."""
        (sim,) = [c.sim for c in self.engine.components if isinstance(c, SimulatorComponent)]
        if sim is None:  # not started yet
            return []
        found = sim.exchange.account_for_key(sim.api_key)
        assert found is not None
        return list(sim.exchange.engine.open_orders(found[1]))

    async def until(self, predicate: Callable[[], Any], what: str, timeout: float = 20) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(f"not in {timeout:.0f} s: {what}")
            await asyncio.sleep(0.05)

    async def stop(self) -> int:
        self.engine.request_stop("test")
        return await asyncio.wait_for(self.task, 30)

    def log_text(self) -> str:
        return "\n".join(p.read_text() for p in sorted((self.tmp / "log").glob("*")))

    def audit_rows(self) -> list[dict[str, Any]]:
        """`audit_events` from the engine's SQLite file (read after the engine stopped)."""
        with sqlite3.connect(self.tmp / "engine.sqlite3") as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM audit_events ORDER BY ts_ns").fetchall()
        return [dict(row) for row in rows]


Start = Callable[..., Any]


@pytest.fixture
async def start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Any]]:
    """Starts an engine (with `token` as HFT_CONTROL_TOKEN, or none) once it quotes."""
    started: list[Running] = []

    async def run(token: str | None, **settings: Any) -> Running:
        if token is None:
            monkeypatch.delenv(TOKEN_ENV, raising=False)
        else:
            monkeypatch.setenv(TOKEN_ENV, token)
        path = write_config(tmp_path, **settings)
        engine = Engine(ConfigStore(load_config(path, environ={})), config_path=path)
        task = asyncio.create_task(engine.run(console_log=False))
        running = Running(engine, task, tmp_path)
        started.append(running)
        await running.until(lambda: running.sim_orders() if not task.done() else True, "a quote")
        assert not task.done(), task.result()
        return running

    yield run
    for running in started:
        if not running.task.done():
            await running.stop()


async def _call(
    url: str,
    path: str,
    token: str | None,
    body: Any = None,
    *,
    authorization: str | None = None,
    method: str = "POST",
) -> tuple[int, dict[str, Any], str]:
    """One request; (status, JSON answer, raw text). `authorization` overrides the header."""
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{url}{path}", json=body, headers=headers) as resp,
    ):
        text = await resp.text()
        doc = json.loads(text) if resp.content_type == "application/json" else {}
        return resp.status, doc, text


def test_a_paused_sink_lets_only_cancels_through() -> None:
    """What keeps a paused engine from placing orders even for a strategy that ignores the
    PAUSED state: new orders and replaces never reach risk and the OMS."""
    buffer = IntentBuffer(8, 4)
    buffer.push_new(0, 1, 100, 2, 11)
    buffer.push_cancel(1, 42, 12)
    buffer.push_replace(2, 43, -1, 101, 3, 13)
    buffer.push_cancel(3, 44, 14)
    seen: list[Any] = []
    cancels_only(lambda b: seen.extend(b.drain()))(buffer)
    assert [(row[0], row[1], row[7], row[8]) for row in seen] == [
        (1, CANCEL, 12, 42),
        (3, CANCEL, 14, 44),
    ]
    assert len(buffer) == 0
    buffer.push_new(0, 1, 100, 2, 11)
    calls: list[int] = []
    cancels_only(lambda b: calls.append(len(b)))(buffer)
    assert calls == [] and len(buffer) == 0  # nothing left to send: the sink is not called


async def test_without_a_token_the_control_routes_do_not_exist(start: Start) -> None:
    running = await start(None)
    assert MonitorConfig().host == "127.0.0.1"  # loopback unless an operator says otherwise
    assert running.url.startswith("http://127.0.0.1:")
    for method, path in (("GET", "/control/status"), ("POST", "/control/kill")):
        status, _, _ = await _call(running.url, path, "x" * 32, {}, method=method)
        assert status == 404, path
    status, _, _ = await _call(running.url, "/metrics", None, method="GET")
    assert status == 200
    assert running.host.risk is not None and running.host.risk.state_name == "ACTIVE"
    assert await running.stop() == 0
    assert f"control API disabled: {TOKEN_ENV} is not set" in running.log_text()


async def test_a_short_token_leaves_the_control_api_off(start: Start) -> None:
    short = "Sh0rtTok"
    assert len(short) < MIN_TOKEN_CHARS
    running = await start(short)
    status, _, _ = await _call(running.url, "/control/status", short, method="GET")
    assert status == 404
    assert await running.stop() == 0
    text = running.log_text()
    assert f"{TOKEN_ENV} is shorter than {MIN_TOKEN_CHARS} characters" in text
    assert short not in text


async def test_credentials_are_checked_and_the_token_never_shows(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = make_token()
    running = await start(token)
    url = running.url
    answers = []
    for authorization, expected in (
        (None, 401),  # no header at all
        (f"Basic {token}", 401),  # the token, but not as a bearer token
        ("Bearer", 401),
        ("Bearer   ", 401),
        (f"Bearer {token}x", 403),  # one character more
        (f"Bearer {token[:-1]}", 403),  # one character less
        (f"Bearer {token.lower()}", 403),
    ):
        status, doc, text = await _call(
            url, "/control/pause", None, {}, authorization=authorization
        )
        assert status == expected, (authorization, text)
        assert doc["ok"] is False and doc["error"]
        answers.append(text)
    assert not running.host.paused  # nothing refused was carried out
    status, doc, text = await _call(url, "/control/status", token, method="GET")
    assert status == 200 and doc["paused"] is False and doc["risk_state"] == "ACTIVE"
    answers.append(text)
    status, doc, text = await _call(url, "/control/pause", token, {"reason": "check"})
    assert status == 200 and doc["paused"] is True
    answers.append(text)
    assert await running.stop() == 0

    rows = running.audit_rows()
    assert [r["outcome"] for r in rows] == ["unauthorized"] * 4 + ["forbidden"] * 3 + ["ok"]
    assert {r["who"] for r in rows} == {"127.0.0.1"}
    for where, text in (
        ("answers", "\n".join(answers)),
        ("log files", running.log_text()),
        ("captured records", "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)),
        ("audit rows", repr(rows)),
    ):
        assert token not in text, where
        assert token[:-1] not in text, where  # nor a near miss: the 403 request's own value
    assert any("control pause: forbidden" in r.getMessage() for r in caplog.records)


async def test_each_action_is_carried_out_and_audited(start: Start) -> None:
    token = make_token()
    running = await start(token, spread=2.0)
    url, host, strategy = running.url, running.host, running.strategy
    assert host.risk is not None

    # pause: every quote pulled, the strategy reads PAUSED, risk untouched
    status, doc, _ = await _call(url, "/control/pause", token, {"reason": "lunch"})
    assert status == 200 and doc == {
        "ok": True, "paused": True, "changed": True, "risk_state": "ACTIVE",
    }  # fmt: skip
    assert host.view is not None and host.view.trading_state() == "PAUSED"
    await running.until(lambda: not running.sim_orders(), "the venue holds none of our orders")
    await asyncio.sleep(0.5)  # and none comes back while paused
    assert running.sim_orders() == []
    assert host.risk.state_name == "ACTIVE"
    assert HaltStore(running.tmp / "state").load() is None  # nothing persisted
    status, doc, _ = await _call(url, "/control/pause", token)
    assert status == 200 and doc["changed"] is False  # a second pause is harmless
    status, doc, _ = await _call(url, "/control/status", token, method="GET")
    assert doc["paused"] is True and doc["status"]["engine"]["risk_state"] == "ACTIVE"

    # resume: quotes again
    status, doc, _ = await _call(url, "/control/resume", token)
    assert status == 200 and doc["paused"] is False and doc["changed"] is True
    assert host.view.trading_state() == "ACTIVE"
    await running.until(running.sim_orders, "quotes back after the resume")

    # set: a strategy parameter and a risk limit in one request
    values = {"strategy.parameters.base_half_spread_ticks": 6.5, "risk.max_open_orders": 7}
    status, doc, _ = await _call(url, "/control/set", token, {"values": values})
    assert status == 200, doc
    assert doc["changed"] == {
        "strategy.parameters.base_half_spread_ticks": {"before": 2.0, "after": 6.5},
        "risk.max_open_orders": {"before": 10, "after": 7},
    }
    assert strategy.settings.base_half_spread_ticks == 6.5
    assert host.risk.core.limits(0).max_open_orders == 7
    status, doc, _ = await _call(url, "/control/status", token, method="GET")
    assert doc["overrides"]["risk.max_open_orders"] == 7
    assert doc["overrides"]["strategy.parameters"]["base_half_spread_ticks"] == 6.5

    # reload: the file's hot change applies; a key set at run time stays as set
    write_config(running.tmp, spread=2.0, max_open=9, notional="6000")
    status, doc, _ = await _call(url, "/control/reload", token)
    assert status == 200
    assert doc["changed"] == {"risk.max_order_notional": {"before": "5000", "after": "6000"}}
    assert host.risk.config.max_order_notional == 6000
    assert host.risk.core.limits(0).max_open_orders == 7
    status, doc, _ = await _call(url, "/control/reload", token)
    assert status == 200 and doc["changed"] == {}  # read again: nothing new

    # kill: halted now, every order cancelled, the halt persisted with source "api"
    status, doc, _ = await _call(url, "/control/kill", token, {"reason": "drill"})
    assert status == 200 and doc["risk_state"] == "HALTED"
    await running.until(lambda: not running.sim_orders(), "orders cancelled by the kill")
    await running.until(lambda: HaltStore(running.tmp / "state").load(), "the halt persisted")
    record = HaltStore(running.tmp / "state").load()
    assert record is not None and (record.source, record.reason) == ("api", "drill")
    # resume lifts a pause only: HALTED stays, and says how it ends
    status, doc, _ = await _call(url, "/control/resume", token)
    assert status == 200 and doc["changed"] is False and "kill --reset" in doc["message"]
    assert host.risk.state_name == "HALTED"
    assert await running.stop() == 0

    rows = running.audit_rows()
    assert [(r["action"], r["outcome"]) for r in rows] == [
        ("pause", "ok"), ("pause", "ok"), ("resume", "ok"), ("set", "ok"), ("reload", "ok"),
        ("reload", "ok"), ("kill", "ok"), ("resume", "ok"),
    ]  # fmt: skip
    assert all(r["who"].startswith("127.0.0.1") for r in rows)
    pause = rows[0]
    assert (json.loads(pause["before"]), json.loads(pause["after"])) == (
        {"paused": False},
        {"paused": True},
    )
    assert pause["detail"] == "lunch"
    assert json.loads(rows[3]["after"]) == values
    assert json.loads(rows[4]["before"]) == {"risk.max_order_notional": "5000"}
    assert json.loads(rows[5]["before"]) == {}
    kill = rows[6]
    assert json.loads(kill["before"]) == {"risk_state": "ACTIVE"}
    assert json.loads(kill["after"]) == {"risk_state": "HALTED"}
    assert kill["detail"] == "drill"
    text = running.log_text()
    for action in ("pause", "resume", "set", "reload", "kill"):
        assert f"control {action}: ok" in text, action


async def test_a_strategy_that_ignores_the_pause_still_places_nothing(start: Start) -> None:
    token = make_token()
    running = await start(token, strategy=f"{__name__}:Stubborn")
    assert isinstance(running.host.strategy, Stubborn)
    status, doc, _ = await _call(running.url, "/control/pause", token)
    assert status == 200 and doc["paused"] is True
    await running.until(lambda: not running.sim_orders(), "orders cancelled by the pause")
    view = running.host.view
    assert view is not None and view.trading_state() == "PAUSED"
    seen = view.book(0).updates

    def moved() -> bool:
        book = view.book(0)
        return book is not None and book.updates > seen + 20

    await running.until(moved, "book events, each one a chance to quote")
    assert running.sim_orders() == []  # it pushed new orders on every event: none went out
    status, doc, _ = await _call(running.url, "/control/resume", token)
    assert status == 200 and doc["paused"] is False
    await running.until(lambda: len(running.sim_orders()) == 2, "its orders back")


async def test_refused_changes_leave_the_running_config_as_it_was(start: Start) -> None:
    token = make_token()
    running = await start(token)
    url, store, strategy = running.url, running.engine.store, running.strategy
    before = store.current
    settings = strategy.settings
    for values, named in (
        ({"system.worker_threads": 3}, "system.worker_threads: is not hot-reloadable"),
        ({"venues.binance.symbols": ["ETHUSDT"]}, "venues.binance.symbols"),
        ({"risk.max_open_orders": 0}, "risk.max_open_orders: 0 is out of range"),
        ({"risk.max_position": 0.5}, "risk.max_position: 0.5 is a float"),
        ({"risk.max_postion": "1"}, "did you mean 'max_position'"),
        ({"strategy.parameters.levels": 99}, "strategy.parameters.levels"),
        ({"strategy.parameters.base_half_spread_ticks": -1.0}, "base_half_spread_ticks"),
        # one good, one bad: neither is applied
        ({"risk.max_open_orders": 5, "system.worker_threads": 3}, "system.worker_threads"),
        ({"strategy.parameters.levels": 2, "risk.max_open_orders": 0}, "risk.max_open_orders"),
    ):
        status, doc, text = await _call(url, "/control/set", token, {"values": values})
        assert status == 409, text
        assert named in doc["error"] and "nothing changed" in doc["error"], doc["error"]
        assert store.current is before, values
        assert store.overrides == {}
        assert strategy.settings is settings
    for body in ({}, {"key": "risk.max_open_orders"}, {"values": []}, {"values": {"": 1}}):
        status, doc, _ = await _call(url, "/control/set", token, body)
        assert status == 400, body
    # a reload whose file changes a cold key is refused whole, naming it
    path = running.tmp / "engine.toml"
    path.write_text(path.read_text().replace("[system]\n", "[system]\nworker_threads = 3\n"))
    path.write_text(path.read_text().replace("max_open_orders = 10", "max_open_orders = 4"))
    status, doc, _ = await _call(url, "/control/reload", token)
    assert status == 409 and "system.worker_threads" in doc["error"]
    assert store.current is before
    assert running.host.risk is not None
    assert running.host.risk.core.limits(0).max_open_orders == 10
    assert await running.stop() == 0

    rows = running.audit_rows()
    assert [r["action"] for r in rows] == ["set"] * 13 + ["reload"]
    assert {r["outcome"] for r in rows} == {"refused"}
    assert "system.worker_threads" in rows[0]["detail"]
    assert json.loads(rows[0]["before"]) == {"system.worker_threads": before.system.worker_threads}
