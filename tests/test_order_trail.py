"""The order manager's trail in a running engine: every order and fill lands in the history
database, and an engine that died with live orders takes them back from its journal at the
next start (matched at the venue as its own, not cancelled as another run's).
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis
from netproxy import CuttableProxy
from support import until
from test_trading_component import SYMBOL, Quoter, _venue

from engine.app import Engine
from engine.clock import LiveClock, SimClock
from engine.config import ConfigStore, load_config
from engine.config.schema import CacheConfig, DatabaseConfig
from engine.events import EventDispatcher, FeedStatus
from engine.model.enums import OrderStatus
from engine.oms.persistence import open_orders_in
from engine.oms.trading import TradingComponent
from engine.sim.server import ACCOUNT, RunningSim, start_sim
from engine.storage.backend import open_backend
from engine.storage.component import StorageComponent
from engine.storage.journal import ChangeRecord, Journal, decode_order_event
from engine.storage.recorder import iter_frames, recordings
from engine.storage.schema import TODAYS_FILLS


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    clock = SimClock(time.time_ns())
    async with start_sim("gate", seed=9, market=False, clock=clock, tls=True) as running:
        yield running


def _storage(tmp_path: Path) -> StorageComponent:
    database = DatabaseConfig(
        sqlite_path=str(tmp_path / "trail.sqlite3"),
        journal_path=str(tmp_path / "orders.wal"),
        flush_interval_ms=20,
    )
    return StorageComponent(database, CacheConfig(), LiveClock())


async def test_a_dead_engines_live_orders_come_back_from_the_journal(
    sim: RunningSim, tmp_path: Path
) -> None:
    instruments = sim.exchange.instruments()
    inst = sim.exchange.engine.instrument(SYMBOL)

    # the first run places an order and dies: no cancel, no stop of its trading
    storage = _storage(tmp_path)
    await storage.start()
    events, quoter = EventDispatcher(), Quoter()
    events.add(quoter)
    first = TradingComponent(
        [_venue(sim, cancel_on_stop=False)], events, LiveClock(), lambda: instruments,
        storage=storage,
    )  # fmt: skip
    await first.start()
    events.start(LiveClock(), instruments)
    events.on_feed_status(FeedStatus(inst.instrument_id, True, "ready", 0))
    await until(lambda: any(u.status is OrderStatus.NEW for u in quoter.updates))
    (resting,) = sim.exchange.engine.open_orders(ACCOUNT)
    cid = resting.client_order_id.removeprefix("t-")  # Gate's text id: "t-" + ours
    for adapter in first.adapters.values():  # the process is gone: its sockets close
        await adapter.close()
    events.stop()
    await storage.stop()  # what the OS keeps of a killed process: the journal on disk

    with Journal.open(tmp_path / "orders.wal", "os") as journal:
        live = open_orders_in(journal, instruments)
    assert [order.client_order_id for _, order in live] == [cid]

    # the next run takes it back before reconciling: matched, not cancelled as foreign
    storage = _storage(tmp_path)
    await storage.start()
    second = TradingComponent(
        [_venue(sim)], EventDispatcher(), LiveClock(), lambda: instruments, storage=storage
    )
    await second.start()
    try:
        manager = second.manager
        assert manager is not None
        assert manager.counters.canceled_foreign == 0 and manager.counters.adopted == 0
        assert [o.client_order_id for o in sim.exchange.engine.open_orders(ACCOUNT)] == [
            resting.client_order_id
        ]
        assert [c for c, _ in manager.open_orders()] == [cid]
    finally:
        await second.stop()  # cancels it: it is ours
        await storage.stop()
    assert sim.exchange.engine.open_orders(ACCOUNT) == []
    backend = _storage(tmp_path)
    await backend.start()
    try:
        assert backend.backend is not None
        rows = await backend.backend.fetch(
            "SELECT status FROM orders WHERE client_order_id = $1", cid
        )
        assert rows == [("canceled",)]
        events_rows = await backend.backend.fetch(
            "SELECT event FROM order_events WHERE client_order_id = $1 ORDER BY ts_ns", cid
        )
        assert events_rows[0] == ("new",)
    finally:
        await backend.stop()
    await asyncio.sleep(0)


async def test_a_paper_run_leaves_its_orders_and_fills_in_the_database(tmp_path: Path) -> None:
    """The engine quoting on the simulator for a few seconds: every fill the order manager
    booked is a row of `fills` (today's, by the documented query), every order a row of
    `orders` in a final state after the stop, and nothing is left live in the journal."""
    path = _paper_config(tmp_path, 50)
    path.write_text(
        path.read_text().replace("[database]\n", "[database]\ndepth_snapshot_interval_s = 1.0\n")
        + f'\n[recorder]\nenabled = true\ndirectory = "{tmp_path / "frames"}"\n'
    )
    engine = Engine(ConfigStore(load_config(path, environ={})), config_path=path)
    assert await engine.run(duration=8.0, console_log=False) == 0
    host = engine.host
    assert host is not None and host.trading.manager is not None
    booked = host.trading.manager.positions[0].fills
    assert booked > 0, "no fill in 8 s of quoting"
    database = engine.config.database
    backend = open_backend(database)
    await backend.start()
    try:
        fills = await backend.fetch(TODAYS_FILLS["sqlite"])
        assert len(fills) == booked
        statuses = {row[0] for row in await backend.fetch("SELECT status FROM orders")}
        assert statuses <= {"filled", "canceled", "rejected", "expired"}, statuses
        assert await backend.fetch("SELECT count(*) FROM market_bbo") != [(0,)]
        # the positions the run ended with, and its PnL, exact: the order manager's own
        position = host.trading.manager.positions[0]
        inst = host.trading.manager.instruments[0]
        (last,) = await backend.fetch(
            "SELECT quantity, realized, fees FROM positions ORDER BY ts_ns DESC LIMIT 1"
        )
        assert last == (
            inst.lots_to_qty(position.qty),
            inst.notional_to_decimal(position.realized),
            inst.notional_to_decimal(position.fees),
        )
        assert await backend.fetch("SELECT count(*) FROM pnl_snapshots") != [(0,)]
        # the market as it was: public trades, and 20 levels a side every second
        assert await backend.fetch("SELECT count(*) FROM market_trades") != [(0,)]
        (bids, asks) = (await backend.fetch("SELECT bids, asks FROM depth_snapshots"))[-1]
        bid_levels, ask_levels = orjson.loads(bids), orjson.loads(asks)
        assert len(bid_levels) == len(ask_levels) == 20
        assert Decimal(bid_levels[0][0]) < Decimal(ask_levels[0][0])
    finally:
        await backend.close()
    with Journal.open(tmp_path / "state" / "journal" / "orders.wal", "os") as journal:
        assert open_orders_in(journal, host.trading.manager.instruments) == []
    # every raw frame of the feed, as received: the replay's input
    (recording,) = recordings(tmp_path / "frames", "binance")
    frames = list(iter_frames(recording))
    assert len(frames) > 100
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(frames))  # receive order
    assert any(b'"stream"' in frame for _, frame in frames)  # Binance's combined streams


def _paper_config(tmp_path: Path, flush_interval_ms: int) -> Path:
    path = tmp_path / "engine.toml"
    path.write_text(
        f"""
[system]
log_level = "warning"
log_dir = "{tmp_path / "log"}"
state_dir = "{tmp_path / "state"}"

[database]
sqlite_path = "{tmp_path / "paper.sqlite3"}"
flush_interval_ms = {flush_interval_ms}
batch_size = 100000

[strategy]
enabled = true
status_interval_s = 0

[strategy.parameters]
order_size = "0.001"
min_half_spread_ticks = 1.0
requote_interval_s = 0.1

[risk]
max_order_notional = "5000"

[venues.binance]
enabled = true
simulated = true
symbols = ["BTCUSDT"]
key_source = "none"
"""
    )
    return path


def _journal_fills(path: Path) -> set[str]:
    with Journal.open(path, "os") as journal:
        events = (decode_order_event(kind, p) for _, kind, p in journal.replay())
        return {e.trade_id for e in events if isinstance(e, ChangeRecord) and e.fill_lots}


async def test_an_engine_killed_mid_run_restarts_with_every_fill_and_event_once(
    tmp_path: Path,
) -> None:
    """SIGKILL while the writer holds rows (it would flush after 60 s): only the journal has
    them. The next start writes them from the journal, each once, beside its own run's."""
    path = _paper_config(tmp_path, 60_000)
    wal = tmp_path / "state" / "journal" / "orders.wal"
    engine = subprocess.Popen(
        [sys.executable, "-m", "engine", "run", "--config", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.sleep(6.0)  # the journal is locked while the engine runs: wait, then kill
    finally:
        engine.send_signal(signal.SIGKILL)
        engine.wait(10)
    before = _journal_fills(wal)
    assert len(before) >= 3, "the first run booked no fills"
    killed = open_backend(load_config(path, environ={}).database)
    await killed.start()
    try:  # what the killed run had written: not its fills
        assert not before & {r[0] for r in await killed.fetch("SELECT trade_id FROM fills")}
    finally:
        await killed.close()

    again = Engine(ConfigStore(load_config(path, environ={})), config_path=path)
    assert await again.run(duration=3.0, console_log=False) == 0
    backend = open_backend(again.config.database)
    await backend.start()
    try:
        stored = [row[0] for row in await backend.fetch("SELECT trade_id FROM fills")]
        assert len(stored) == len(set(stored)), "a fill stored twice"
        assert before <= set(stored), before - set(stored)
        events = await backend.fetch(
            "SELECT client_order_id, ts_ns, event, status, filled, count(*) FROM order_events "
            "GROUP BY client_order_id, ts_ns, event, status, filled HAVING count(*) > 1"
        )
        assert events == [], "an order event stored twice"
    finally:
        await backend.close()


@pytest.mark.services
async def test_postgresql_away_mid_run_loses_no_order_or_fill(
    tmp_path: Path, pg_dsn: str, redis_url: str
) -> None:
    """The engine on PostgreSQL (through a proxy the test cuts for 5 s mid-run) and Redis:
    every fill it booked is in PostgreSQL once at the end, and the cache holds its book."""
    schema = f"run_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    proxy = CuttableProxy("127.0.0.1", 5432)
    port = await proxy.start()
    url = pg_dsn.replace("127.0.0.1:5432", f"127.0.0.1:{port}") + f"?search_path={schema}"
    prefix = f"hft-test-{uuid.uuid4().hex[:8]}:"
    path = _paper_config(tmp_path, 50)
    path.write_text(
        path.read_text().replace("[database]\n", f'[database]\nurl = "{url}"\n')
        + f'\n[cache]\nurl = "{redis_url}"\nkey_prefix = "{prefix}"\n'
    )
    engine = Engine(ConfigStore(load_config(path, environ={})), config_path=path)
    run = asyncio.create_task(engine.run(console_log=False))
    try:
        await asyncio.sleep(4.0)
        await proxy.cut()  # the database is gone for 5 s while the engine trades
        await asyncio.sleep(5.0)
        await proxy.restore()
        await asyncio.sleep(4.0)
    finally:
        engine.request_stop("test")
        assert await run == 0
    host = engine.host
    assert host is not None and host.trading.manager is not None
    booked = host.trading.manager.positions[0].fills
    assert booked > 0
    conn = await asyncpg.connect(pg_dsn, server_settings={"search_path": schema})
    client = aioredis.from_url(redis_url)
    try:
        trades = [r["trade_id"] for r in await conn.fetch("SELECT trade_id FROM fills")]
        assert len(trades) == len(set(trades)) == booked
        assert await client.exists(f"{prefix}bbo:binance:BTCUSDT") == 1
    finally:
        await client.delete(*[k async for k in client.scan_iter(f"{prefix}*")] or ["none"])
        await client.aclose()
        await conn.close()
        await proxy.cut()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
