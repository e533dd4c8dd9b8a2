"""The storage writer over real backends: batches by size and by time, everything written at
stop, and, with PostgreSQL cut off by a real network outage, market data dropped past the
cap while order rows are kept (or left to the journal, with the owner told once) and all
written when the database is back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from netproxy import CuttableProxy
from support import until

from engine.config.schema import DatabaseConfig
from engine.model.enums import OrderSide, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.oms.persistence import OrderPersistence
from engine.storage.backend import ManagedBackend, open_backend
from engine.storage.journal import IntentAction, Journal
from engine.storage.postgres import ROWS_PER_STEP
from engine.storage.schema import TABLES
from engine.storage.writer import StorageWriter

D = Decimal


def fill(n: int) -> tuple[Any, ...]:
    return (
        1_800_000_000_000_000_000 + n, "binance", "BTCUSDT", "BUY", D("65000.01"), D("0.001"),
        D("0.0650"), "USDT", f"t{n}", f"c{n}", f"v{n}", 1_800_000_000_000_000_500 + n,
    )  # fmt: skip


def bbo(n: int) -> tuple[Any, ...]:
    return (1_800_000_000_000_000_000 + n, "binance", "BTCUSDT", D("1.1"), D("2"), D("1.2"), D("3"))


def event(n: int) -> tuple[Any, ...]:
    return (
        1_800_000_000_000_000_000 + n, f"c{n}", "binance", "BTCUSDT", "new", "NEW",
        D("65000.01"), D("0.001"), D("0"), "",
    )  # fmt: skip


def test_rows_match_the_schema() -> None:
    assert len(fill(0)) == len(TABLES["fills"])
    assert len(bbo(0)) == len(TABLES["market_bbo"])
    assert len(event(0)) == len(TABLES["order_events"])


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[ManagedBackend]:
    backend = open_backend(DatabaseConfig(sqlite_path=str(tmp_path / "w.sqlite3")))
    await backend.start()
    yield backend
    await backend.close()


async def test_batches_by_size_and_time_and_everything_at_stop(sqlite: ManagedBackend) -> None:
    writer = StorageWriter(sqlite, TABLES, batch_size=10, flush_interval_ms=60_000)
    writer.start()
    fills = writer.buffer("fills")
    for n in range(10):  # a full batch wakes the writer at once, long before the interval
        fills.put(fill(n))
    await until(lambda: writer.buffers["fills"].counters.written == 10, timeout=5)
    for n in range(10, 13):
        fills.put(fill(n))
    fills.put(fill(3))  # the same trade again: ignored by the backend
    writer.put("market_bbo", bbo(1))
    await writer.stop()  # the partial batches go at stop
    rows = await sqlite.fetch("SELECT trade_id, price, fee FROM fills ORDER BY ts_ns")
    assert [r[0] for r in rows] == [f"t{n}" for n in range(13)]
    assert rows[0][1:] == (D("65000.01"), D("0.0650"))  # exact, scale kept
    assert writer.counters()["fills"]["written"] == 13
    assert await sqlite.fetch("SELECT count(*) FROM market_bbo") == [(1,)]


async def test_a_partial_batch_goes_after_the_flush_interval(sqlite: ManagedBackend) -> None:
    writer = StorageWriter(sqlite, TABLES, batch_size=1000, flush_interval_ms=50)
    writer.start()
    writer.put("order_events", event(1))
    await until(lambda: writer.buffers["order_events"].counters.written == 1, timeout=5)
    await writer.stop()


@pytest.fixture
async def pg_behind_proxy(pg_dsn: str) -> AsyncIterator[tuple[ManagedBackend, CuttableProxy]]:
    schema = f"w_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(pg_dsn)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    proxy = CuttableProxy("127.0.0.1", 5432)
    port = await proxy.start()
    url = pg_dsn.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
    backend = open_backend(
        DatabaseConfig(url=url, pool_size=2), server_settings={"search_path": schema}
    )
    try:
        await backend.start()
        yield backend, proxy
    finally:
        await proxy.cut()
        await backend.close()
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


@pytest.mark.services
async def test_an_outage_drops_market_data_first_and_loses_no_order_row(
    pg_behind_proxy: tuple[ManagedBackend, CuttableProxy],
) -> None:
    backend, proxy = pg_behind_proxy
    spilled: list[str] = []
    writer = StorageWriter(
        backend, TABLES, batch_size=50, flush_interval_ms=20, max_buffered_rows=100,
        on_spill=spilled.append,
    )  # fmt: skip
    writer.start()
    writer.put("fills", fill(0))
    await until(lambda: writer.buffers["fills"].counters.written == 1, timeout=10)

    await proxy.cut()  # the database is gone (connections reset, connects refused)
    for n in range(1, 80):
        writer.put("fills", fill(n))
    for n in range(150):
        writer.put("market_bbo", bbo(n))
    await until(lambda: not writer.healthy, timeout=10)
    for n in range(80, 130):  # past the cap: left to the journal, the owner told once
        writer.put("fills", fill(n))
    counters = writer.counters()
    assert counters["market_bbo"]["dropped"] >= 50  # market data went first
    assert counters["fills"]["dropped"] == 0
    # 129 fills arrived while it was away; 100 fit under the cap, 29 were left to the journal
    assert counters["fills"]["spilled"] == 29 and spilled == ["fills"]

    await asyncio.sleep(0.3)  # retries meanwhile fail and keep every order row
    await proxy.restore()
    await until(lambda: writer.healthy and writer.pending == 0, timeout=30)
    # rebuilt from the journal from where the spill began (overlap is harmless: the backend
    # keeps one row per trade)
    writer.restore("fills", [fill(n) for n in range(80, 130)])
    await writer.stop()
    rows = await backend.fetch("SELECT trade_id FROM fills ORDER BY ts_ns")
    assert [r[0] for r in rows] == [f"t{n}" for n in range(130)]  # each fill exactly once


@pytest.mark.services
async def test_rows_left_to_the_journal_are_rebuilt_once_the_database_is_back(
    pg_behind_proxy: tuple[ManagedBackend, CuttableProxy], tmp_path: Path
) -> None:
    """The order trail past the writer's cap while PostgreSQL is away: the rows leave memory,
    the journal keeps them, and once the database answers again they are rebuilt from the
    journal: every order and event stored, each once."""
    backend, proxy = pg_behind_proxy
    inst = Instrument(
        "BTCUSDT", "binance", "BTC", "USDT", D("0.01"), D("0.00001"), D("0.00001"), D("5"), 2, 5
    )
    writer = StorageWriter(
        backend, TABLES, batch_size=50, flush_interval_ms=20, max_buffered_rows=10
    )
    journal = Journal.open(tmp_path / "orders.wal", "os")
    trail = OrderPersistence([inst], journal, writer)
    writer.converters.update(trail.converters())
    writer.start()
    await proxy.cut()
    for n in range(30):  # 30 orders: an event row and an orders row each, 60 rows > cap 10
        trail.intent(
            f"c{n}", 0, OrderSide.BUY, OrderType.LIMIT_MAKER, TimeInForce.GTC, 6_500_000 + n,
            100, 1_800_000_000_000_000_000 + n, IntentAction.NEW,
        )  # fmt: skip
    assert trail.spilled_from > 0 and trail.safe_to_compact() < trail.spilled_from
    await until(lambda: not writer.healthy, timeout=10)
    assert trail.restore_spilled() == 0  # still away: nothing to do yet
    await proxy.restore()
    rounds = 0
    while trail.spilled_from:  # each round rebuilds what fits under the cap, as the engine's
        await until(lambda: writer.healthy and writer.pending == 0, timeout=30)  # 2 s check
        assert trail.restore_spilled() > 0
        rounds += 1
    assert 1 < rounds <= 10
    await writer.stop()
    orders = await backend.fetch("SELECT client_order_id FROM orders ORDER BY created_ns")
    assert [r[0] for r in orders] == [f"c{n}" for n in range(30)]
    events = await backend.fetch("SELECT client_order_id FROM order_events")
    assert sorted(r[0] for r in events) == sorted(f"c{n}" for n in range(30))  # each once
    journal.close()


@pytest.mark.services
async def test_a_large_batch_hands_the_loop_back_while_it_is_written(
    pg_behind_proxy: tuple[ManagedBackend, CuttableProxy],
) -> None:
    """One batch of 1,000 rows is converted and encoded a slice at a time (the loop runs
    between slices: no flush holds it for a whole batch) and still goes in one COPY. The
    rows note which pass of a ticker task they are converted and encoded in."""
    backend, _proxy = pg_behind_proxy
    passes = 0
    converted_in: set[int] = set()
    encoded_in: set[int] = set()

    class Spy(tuple):  # type: ignore[type-arg]
        """A row that notes the ticker's pass when the driver reads its first field."""

        def __getitem__(self, index: Any) -> Any:
            if index == 0:
                encoded_in.add(passes)
            return super().__getitem__(index)

    def convert(row: tuple[Any, ...]) -> tuple[Any, ...]:
        converted_in.add(passes)
        return Spy(row)

    writer = StorageWriter(
        backend, ["market_bbo"], batch_size=1000, flush_interval_ms=60_000,
        converters={"market_bbo": convert},
    )  # fmt: skip
    stop = asyncio.Event()

    async def ticker() -> None:  # one increment per pass of the loop it gets
        nonlocal passes
        while not stop.is_set():
            passes += 1
            await asyncio.sleep(0)

    for n in range(1000):
        writer.put("market_bbo", bbo(n))
    ticking = asyncio.get_running_loop().create_task(ticker())
    writer.start()  # the full batch wakes it at once
    await until(lambda: writer.buffers["market_bbo"].counters.written == 1000, timeout=10)
    stop.set()
    await ticking
    await writer.stop()
    assert writer.buffers["market_bbo"].counters.batches == 1  # one transaction, one COPY
    slices = -(-1000 // ROWS_PER_STEP)
    assert len(converted_in) >= slices and len(encoded_in) >= slices, (converted_in, encoded_in)
    assert await backend.fetch("SELECT count(*) FROM market_bbo") == [(1000,)]
