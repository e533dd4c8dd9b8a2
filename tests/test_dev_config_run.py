"""A paper run on config/dev.toml leaves its orders, fills and PnL in PostgreSQL and Redis
(issue 17).

`python -m engine --config config/dev.toml --duration N` runs as a subprocess, on the file
as shipped. Only the places it writes to are moved, through HFT__SECTION__KEY variables:
- its log and state directories go into the test's temporary directory;
- the monitor listens on a free port;
- PostgreSQL is the test server, with the tables in a fresh schema (`?search_path=`, as the
  other PostgreSQL tests do);
- Redis is the test server, with a key prefix of this test's own.

The rows are checked against the order journal the run left, which holds every order it
placed and every fill it booked. The Redis keys are checked against the rows. The README's
"today's fills" psql command is run as written.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from drills import ROOT, clean_env

from engine.config import load_config
from engine.storage.journal import ChangeRecord, IntentAction, Journal, decode_order_event
from engine.storage.schema import TODAYS_FILLS

pytestmark = [pytest.mark.services, pytest.mark.slow]  # ~15 s, part of the default run

RUN_S = 10
DEV = ROOT / "config" / "dev.toml"
SYMBOL_KEY = "binance:BTCUSDT"
NS_PER_DAY = 86_400 * 1_000_000_000


def _readme_psql() -> tuple[str, str]:
    """(URL, query) of the README's psql command for today's fills."""
    found = re.search(r'^psql (\S+) -c "(.+)"$', (ROOT / "README.md").read_text(), re.MULTILINE)
    assert found, "README.md has no psql command for today's fills"
    return found[1], found[2]


async def test_a_dev_run_leaves_orders_fills_and_pnl_in_postgresql_and_redis(
    tmp_path: Path, pg_dsn: str, redis_url: str
) -> None:
    readme_url, readme_query = _readme_psql()
    dev = load_config(DEV, environ={})
    # the README reads where dev.toml writes, with the query the code keeps
    assert readme_url == dev.database.url
    assert readme_query == TODAYS_FILLS["postgresql"]
    assert dev.strategy.enabled, "config/dev.toml does not quote: a run leaves no order"

    schema = f"dev_{uuid.uuid4().hex[:12]}"
    prefix = f"hft-test-{uuid.uuid4().hex[:8]}:"
    admin = await asyncpg.connect(pg_dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    client = aioredis.from_url(redis_url, decode_responses=True)
    env = clean_env(
        {
            "HFT__SYSTEM__LOG_DIR": str(tmp_path / "log"),
            "HFT__SYSTEM__STATE_DIR": str(tmp_path / "state"),
            "HFT__MONITOR__PORT": "0",
            "HFT__DATABASE__URL": f"{pg_dsn}?search_path={schema}",
            "HFT__CACHE__URL": redis_url,
            "HFT__CACHE__KEY_PREFIX": prefix,
        }
    )
    started = time.monotonic()
    try:
        with (tmp_path / "stderr.txt").open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "engine", "--config", str(DEV), "--duration", str(RUN_S),
                stdout=subprocess.DEVNULL, stderr=err, cwd=tmp_path, env=env,
            )  # fmt: skip
        try:
            # while it runs, the cache is written (not only at the stop)
            deadline = time.monotonic() + RUN_S + 30
            live: dict[str, str] = {}
            while not live and proc.returncode is None and time.monotonic() < deadline:
                live = await client.hgetall(f"{prefix}bbo:{SYMBOL_KEY}")
                await asyncio.sleep(0.05)
            code = await asyncio.wait_for(proc.wait(), RUN_S + 60)
        finally:
            if proc.returncode is None:  # a failed wait leaves no engine behind
                proc.kill()
                await proc.wait()
        elapsed = time.monotonic() - started
        assert code == 0, (tmp_path / "stderr.txt").read_text()[-3000:]
        assert live, "no best bid/offer in Redis during the run"

        with Journal.open(tmp_path / "state" / "journal" / "orders.wal", "os") as journal:
            records = [decode_order_event(k, p) for _, k, p in journal.replay()]
        journal_fills = {
            r.trade_id: r.ts_ns for r in records if isinstance(r, ChangeRecord) and r.fill_lots
        }
        placed = {
            r.client_order_id
            for r in records
            if not isinstance(r, ChangeRecord) and r.action is IntentAction.NEW
        }
        assert journal_fills, f"no fill in {RUN_S} s of quoting"

        conn = await asyncpg.connect(pg_dsn, server_settings={"search_path": schema})
        try:
            fills = await conn.fetch("SELECT trade_id, side, quantity, fee, fee_asset FROM fills")
            orders = await conn.fetch("SELECT client_order_id, status FROM orders")
            (position,) = await conn.fetch(
                "SELECT ts_ns, quantity, realized, fees FROM positions ORDER BY ts_ns DESC LIMIT 1"
            )
            (pnl,) = await conn.fetch(
                "SELECT ts_ns, realized, unrealized, fees, equity FROM pnl_snapshots "
                "ORDER BY ts_ns DESC LIMIT 1"
            )
            events = await conn.fetchval("SELECT count(*) FROM order_events")
        finally:
            await conn.close()
        # every fill and order the run journaled, once, and every order ended by the stop
        trade_ids = [r["trade_id"] for r in fills]
        assert sorted(trade_ids) == sorted(journal_fills)
        assert sorted(r["client_order_id"] for r in orders) == sorted(placed)
        assert {r["status"] for r in orders} <= {"filled", "canceled", "rejected", "expired"}
        # the position and PnL the run ended with are its fills'
        sign = {"BUY": 1, "SELL": -1}
        assert position["quantity"] == sum(sign[r["side"]] * r["quantity"] for r in fills)
        assert all(r["fee_asset"] == "USDT" for r in fills)  # so `fees` is their sum
        assert position["fees"] == sum(r["fee"] for r in fills)
        assert (pnl["ts_ns"], pnl["realized"], pnl["fees"]) == (
            position["ts_ns"], position["realized"], position["fees"],
        )  # fmt: skip
        assert pnl["equity"] == pnl["realized"] + pnl["unrealized"]

        # Redis: the last position as stored, the book's last top, both expiring, and no
        # orders hash (docs/CACHE.md: gone once no order is open)
        cached = await client.hgetall(f"{prefix}pos:{SYMBOL_KEY}")
        assert {k: Decimal(cached[k]) for k in ("quantity", "realized", "fees")} == {
            k: position[k] for k in ("quantity", "realized", "fees")
        }
        bbo = await client.hgetall(f"{prefix}bbo:{SYMBOL_KEY}")
        assert Decimal(bbo["bid"]) < Decimal(bbo["ask"])
        assert int(bbo["ts_ns"]) >= int(live["ts_ns"])
        for kind in ("pos", "bbo"):
            assert 0 < await client.ttl(f"{prefix}{kind}:{SYMBOL_KEY}") <= dev.cache.ttl_s
        assert await client.exists(f"{prefix}orders:{SYMBOL_KEY}") == 0
        keys = [k async for k in client.scan_iter(f"{prefix}*")]

        # the README's command, as written, reads this run's fills (its schema first)
        day_start = time.time_ns() // NS_PER_DAY * NS_PER_DAY
        out = subprocess.run(
            ["psql", pg_dsn, "-X", "-A", "-t", "-F", "|", "-c", readme_query],
            capture_output=True, text=True, timeout=30, check=True,
            env={**os.environ, "PGOPTIONS": f"-c search_path={schema}"},
        ).stdout  # fmt: skip
        columns = [line.split("|") for line in out.splitlines() if line]
        assert sorted(c[8] for c in columns) == sorted(  # trade_id: the 9th column
            t for t, ts in journal_fills.items() if ts >= day_start
        )
    finally:
        await client.delete(*[k async for k in client.scan_iter(f"{prefix}*")] or ["none"])
        await client.aclose()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
    print(  # the numbers behind the claim, for the run's record (pytest -s)
        f"\ndev.toml run {RUN_S} s ({elapsed:.1f} s with start and stop): orders {len(orders)}, "
        f"order events {events}, fills {len(fills)} ({len(columns)} by the README's query), "
        f"position {position['quantity']}, realized {pnl['realized']}, fees {pnl['fees']}; "
        f"Redis keys left: {sorted(keys)}"
    )
