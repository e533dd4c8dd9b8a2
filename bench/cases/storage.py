"""Storage cases: the hot path's enqueue and the writer's sustained rate into PostgreSQL.

- `storage.enqueue`: one trade row into the writer's buffer (`TableBuffer.put`: append and
  a length check) against a naive baseline: `asyncio.Queue.put_nowait` of a dict per row,
  what a first version would write.
- `storage.pg_copy`: ns per trade row, sustained through the writer into PostgreSQL (COPY
  in batches of `BATCH_ROWS`), against row-by-row `INSERT` on one connection, in the same
  run. How long a flush holds the event loop, two ways: the writer task's steps timed
  (bench/loop_hold.py), `p999_flush_hold_cpu_ms` / `max_flush_hold_cpu_ms` in the thread's
  CPU time (the writer's own work between two awaits: converting, the driver encoding the
  COPY), `flush_steps_over_1ms_cpu` how many steps took longer, `max_flush_hold_wall_ms` the
  longest in wall time (plus whatever the machine took meanwhile); and a loop-lag probe (a
  task asking for 1 ms sleeps), `max_loop_lag_ms` / `p99_loop_lag_ms` the extra wait it
  saw, for any reason (the producer's bursts, the database server taking the CPU on a
  2-core machine). Python's garbage collections are timed apart (`gc_collections`,
  `gc_max_pause_ms`) and taken out of the flush's steps: a collection pauses the whole
  process wherever it falls. `cpu_steal_ms` is the time the hypervisor took the machine's
  CPUs meanwhile (a step's CPU time includes such spells). Needs PostgreSQL
  (`HFT_TEST_PG_DSN`, default postgresql://postgres@127.0.0.1/test); without it the case
  says so and is skipped.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import time
import uuid
from decimal import Decimal
from typing import Any

from bench.loop_hold import StepTimes, steal_ns, timed
from bench.runner import Pair, case
from engine.config.schema import DatabaseConfig
from engine.storage.backend import StorageUnavailable, open_backend
from engine.storage.schema import TABLES
from engine.storage.writer import StorageWriter

PG_DSN = os.environ.get("HFT_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
BATCH_ROWS = 500  # rows per COPY: one batch holds the loop well under 1 ms
BURST = 200  # rows the producer puts between two loop passes
T0 = time.time_ns()  # today: its partition exists once the backend started


def trade(n: int) -> tuple[Any, ...]:
    return (T0 + n, "binance", "BTCUSDT", Decimal("65000.01"), Decimal("0.001"), "BUY", str(n))


@case("storage.enqueue")
def enqueue() -> Pair:
    rows = [trade(n) for n in range(1000)]
    loop = asyncio.new_event_loop()

    class _NoBackend:  # the case times the hot path only: nothing is ever written
        name = "none"

    writer = StorageWriter(
        _NoBackend(),  # type: ignore[arg-type]
        TABLES,
        batch_size=10**9,
        max_buffered_rows=10**9,
    )
    buffer = writer.buffer("market_trades")
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    columns = TABLES["market_trades"]

    def ours(n: int) -> None:
        put = buffer.put
        for row in rows[:n]:
            put(row)

    def naive(n: int) -> None:
        put = queue.put_nowait
        for row in rows[:n]:
            put(dict(zip(columns, row, strict=True)))

    def between() -> None:
        buffer.rows.clear()
        while not queue.empty():
            queue.get_nowait()

    del loop
    return Pair(
        ours,
        naive,
        batch=1000,
        between=between,
        about="one trade row into the writer's buffer; baseline: asyncio.Queue.put_nowait "
        "of a dict per row",
    )


async def _probe(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - t0 - 0.001)


@case("storage.pg_copy", about="trade rows into PostgreSQL through the writer vs row-by-row")
def pg_copy() -> Pair:
    import asyncpg

    loop = asyncio.new_event_loop()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = loop.run_until_complete(asyncpg.connect(PG_DSN, timeout=3))
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(f"storage.pg_copy needs PostgreSQL at {PG_DSN}: {exc}") from exc
    loop.run_until_complete(admin.execute(f'CREATE SCHEMA "{schema}"'))

    def drop_schema() -> None:  # the bench leaves nothing behind in the database
        loop.run_until_complete(conn.close())
        loop.run_until_complete(backend.close())
        loop.run_until_complete(admin.execute(f'DROP SCHEMA "{schema}" CASCADE'))
        loop.run_until_complete(admin.close())

    atexit.register(drop_schema)
    backend = open_backend(
        DatabaseConfig(url=PG_DSN, pool_size=2), server_settings={"search_path": schema}
    )
    loop.run_until_complete(backend.start())
    conn = loop.run_until_complete(asyncpg.connect(PG_DSN, server_settings={"search_path": schema}))
    counter = {"n": 0}
    lags: list[float] = []
    all_lags: list[float] = []
    holds_all: list[int] = []
    holds = StepTimes()
    steal_at_start = steal_ns()
    report: dict[str, Any] = {}

    async def through_writer(n: int) -> None:
        writer = StorageWriter(
            backend, ["market_trades"], batch_size=BATCH_ROWS, flush_interval_ms=5
        )
        stop = asyncio.Event()
        probe = asyncio.get_running_loop().create_task(_probe(lags, stop))
        run = writer._run
        writer._run = lambda: timed(run(), holds)  # type: ignore[method-assign]
        holds.gc.install()
        writer.start()
        put = writer.buffer("market_trades").put
        start = counter["n"]
        rows = [trade(start + k) for k in range(n)]  # made before: the case times the writer
        for k in range(n):
            put(rows[k])
            if k % BURST == BURST - 1:
                await asyncio.sleep(0)  # a market-data burst, then the loop runs
        counter["n"] = start + n
        await writer.stop()
        holds.gc.remove()
        stop.set()
        await probe
        if writer.counters()["market_trades"]["written"] != n:
            raise StorageUnavailable(f"the writer wrote {writer.counters()} of {n}")

    async def row_by_row(n: int) -> None:
        start = counter["n"]
        sql = (
            "INSERT INTO market_trades (ts_ns, venue, symbol, price, quantity, side, trade_id) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        for k in range(n):
            await conn.execute(sql, *trade(start + k))
        counter["n"] = start + n

    def between() -> None:
        if lags:
            worst = max(report.get("max_loop_lag_ms", 0.0), max(lags) * 1e3)
            report["max_loop_lag_ms"] = round(worst, 3)
            all_lags.extend(lags)
            ordered = sorted(all_lags)
            report["p99_loop_lag_ms"] = round(ordered[int(len(ordered) * 0.99)] * 1e3, 3)
        lags.clear()
        if holds.steps:
            for key, ns in (
                ("max_flush_hold_cpu_ms", holds.max_cpu_ns),
                ("max_flush_hold_wall_ms", holds.max_wall_ns),
            ):
                report[key] = round(max(report.get(key, 0.0), ns / 1e6), 3)
            report["flush_steps"] = report.get("flush_steps", 0) + holds.steps
            report["gc_collections"] = report.get("gc_collections", 0) + holds.gc.count
            report["gc_max_pause_ms"] = round(
                max(report.get("gc_max_pause_ms", 0.0), holds.gc.max_ns / 1e6), 3
            )
            over = sum(1 for ns in holds.cpu if ns > 1_000_000)
            report["flush_steps_over_1ms_cpu"] = report.get("flush_steps_over_1ms_cpu", 0) + over
            holds_all.extend(holds.cpu)
            ordered_holds = sorted(holds_all)
            p999 = ordered_holds[int(len(ordered_holds) * 0.999)]
            report["p999_flush_hold_cpu_ms"] = round(p999 / 1e6, 3)
            report["cpu_steal_ms"] = round((steal_ns() - steal_at_start) / 1e6, 1)
        holds.clear()

    return Pair(
        lambda n: loop.run_until_complete(through_writer(n)),
        lambda n: loop.run_until_complete(row_by_row(n)),
        batch=10_000,
        between=between,
        report=report,
        about=f"one trade row into PostgreSQL through the writer (COPY, batches of {BATCH_ROWS}); "
        "baseline: row-by-row INSERT on one connection",
    )
