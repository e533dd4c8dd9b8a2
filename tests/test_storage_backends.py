"""The storage backends: one suite over PostgreSQL (real server, a fresh schema per test) and
SQLite (a fresh file per test), plus what only PostgreSQL has (partitions) and the errors a
wrong setting gives.

Wrong credentials: the test server trusts every local connection, so a wrong password is
tested against a minimal PostgreSQL-protocol server on loopback that asks for a password and
refuses it the way PostgreSQL does (SQLSTATE 28P01); an unknown role, an unknown database and
a closed port are tested against the real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from engine.__main__ import main as engine_main
from engine.config import DatabaseConfig
from engine.storage import (
    LATEST_VERSION,
    MIGRATIONS,
    TABLES,
    ManagedBackend,
    Migration,
    StorageConfigError,
    StorageDataError,
    StorageUnavailable,
    open_backend,
)
from engine.storage.names import (
    DAY_NS,
    InvalidName,
    day_of,
    identifier,
    partition_day,
    partition_name,
    quoted,
)
from engine.storage.schema import TABLE_SPECS, TODAYS_FILLS, Kind


def _ns(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp()) * 10**9


DAY0 = _ns(2026, 3, 9)  # 2026-03-09 00:00 UTC
NOON = DAY0 + DAY_NS // 2 + 123_456_789  # ns precision survives
EVE = DAY0 + DAY_NS - 1  # 2026-03-09 23:59:59.999999999
INT64_MAX = 2**63 - 1

# a migration after the engine's latest: the upgrade path and "newer than the engine"
V_NEXT = Migration(
    LATEST_VERSION + 1,
    "index fills by venue and time",
    postgresql=('CREATE INDEX "fills_venue_ts_idx" ON "fills" ("venue", "ts_ns")',),
    sqlite=('CREATE INDEX "fills_venue_ts_idx" ON "fills" ("venue", "ts_ns")',),
)


def order(
    status: str = "new",
    updated_ns: int = NOON,
    *,
    client_order_id: str = "c-1",
    created_ns: int = NOON,
    venue_order_id: str | None = None,
) -> tuple[Any, ...]:
    return (
        client_order_id,
        "binance",
        "BTCUSDT",
        "buy",
        "limit",
        "GTC",
        D("65000.10"),
        D("0.00100000"),
        status,
        venue_order_id,
        created_ns,
        updated_ns,
    )


def fill(
    trade_id: str = "t-1", ts_ns: int = NOON, *, venue: str = "binance", fee: str = "-0.00000001"
) -> tuple[Any, ...]:
    return (
        ts_ns,
        venue,
        "BTCUSDT",
        "buy",
        D("65000.10"),
        D("0.00040000"),
        D(fee),
        "BNB",
        trade_id,
        "c-1",
        "v-1",
        INT64_MAX,
    )


# one row per table, in TABLES order: exact scales, negative and tiny and huge values, NULLs
ROWS: dict[str, tuple[Any, ...]] = {
    "orders": order(),
    "order_events": (
        NOON,
        "c-1",
        "binance",
        "BTCUSDT",
        "ack",
        "open",
        D("65000.10"),
        D("0.00100000"),
        D("0"),
        None,
    ),
    "fills": fill(),
    "positions": (NOON, "binance", "BTCUSDT", D("0.0004"), D("26.00004"), D("0E-8"), D("0.000001")),
    "pnl_snapshots": (
        NOON,
        "okx",
        "BTC-USDT",
        D("1.50"),
        D("-0.25"),
        D("0.01"),
        D("1000000000000.123456789012345678"),
    ),
    "risk_events": (NOON, "limit", 3, "position limit", "halted", '{"symbol": "BTCUSDT"}'),
    "market_bbo": (NOON, "okx", "BTC-USDT", D("64999.9"), D("1.25"), D("65000.1"), D("0.5")),
    "market_trades": (NOON, "gate", "BTC_USDT", D("65000"), D("0.01"), "sell", "987654321"),
    "depth_snapshots": (NOON, "binance", "BTCUSDT", '[["64999.9","1.25"]]', '[["65000.1","0.5"]]'),
    "audit_events": (
        NOON,
        "set",
        "127.0.0.1 (ops@host)",
        "ok",
        '{"risk.max_position": "1"}',
        '{"risk.max_position": "0.5"}',
        "risk.max_position",
    ),
}


@dataclasses.dataclass
class Store:
    """Opens backends on one fresh database (a PostgreSQL schema or an SQLite file)."""

    kind: str
    config: DatabaseConfig
    server_settings: dict[str, str]
    schema: str = ""
    opened: list[ManagedBackend] = dataclasses.field(default_factory=list)

    def open(
        self,
        *,
        migrations: Sequence[Migration] | None = None,
        clock_ns: Callable[[], int] = lambda: NOON,
        **settings: Any,
    ) -> ManagedBackend:
        backend = open_backend(
            dataclasses.replace(self.config, **settings),
            migrations=migrations,
            server_settings=self.server_settings or None,
            clock_ns=clock_ns,
        )
        self.opened.append(backend)
        return backend

    async def start(self, **kwargs: Any) -> ManagedBackend:
        backend = self.open(**kwargs)
        await backend.start()
        return backend

    async def close_all(self) -> None:
        for backend in self.opened:
            await backend.close()


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.services), "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s = Store("sqlite", DatabaseConfig(sqlite_path=str(tmp_path / "engine.sqlite3")), {})
        yield s
        await s.close_all()
        return
    dsn = request.getfixturevalue("pg_dsn")
    schema = identifier(f"test_storage_{uuid.uuid4().hex[:12]}")
    admin = await asyncpg.connect(dsn)
    await admin.execute(f"CREATE SCHEMA {quoted(schema)}")
    s = Store(
        "postgresql",
        DatabaseConfig(url=dsn, pool_size=2),
        {"search_path": schema, "application_name": schema, "TimeZone": "Asia/Tokyo"},
        schema,
    )
    try:
        yield s
    finally:
        await s.close_all()
        await admin.execute(f"DROP SCHEMA {quoted(schema)} CASCADE")
        await admin.close()


postgres_only = pytest.mark.parametrize("store", ["postgresql"], indirect=True)


async def columns_of(backend: ManagedBackend, table: str) -> list[tuple[str, str]]:
    if backend.name == "postgresql":
        query = (
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        )
    else:
        query = "SELECT name, type FROM pragma_table_info($1) ORDER BY cid"
    return [(str(name), str(kind)) for name, kind in await backend.fetch(query, table)]


async def indexes_of(backend: ManagedBackend, table: str) -> set[str]:
    if backend.name == "postgresql":
        query = (
            "SELECT indexname FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = $1"
        )
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1"
    return {str(name) for (name,) in await backend.fetch(query, table)}


async def catalog_partitions(backend: ManagedBackend, table: str) -> list[str]:
    """Straight from pg_inherits / pg_class, not through the backend's own listing."""
    rows = await backend.fetch(
        "SELECT child.relname FROM pg_inherits i "
        "JOIN pg_class child ON child.oid = i.inhrelid "
        "JOIN pg_class parent ON parent.oid = i.inhparent "
        "JOIN pg_namespace n ON n.oid = parent.relnamespace "
        "WHERE n.nspname = current_schema() AND parent.relname = $1 AND child.relkind = 'r' "
        "ORDER BY child.relname",
        table,
    )
    return [str(name) for (name,) in rows]


async def count(backend: ManagedBackend, table: str) -> int:
    ((n,),) = await backend.fetch(f"SELECT count(*) FROM {quoted(table)}")
    return int(n)


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert text and "\n" not in text, text
    return text


# ---- migrations --------------------------------------------------------------------------


async def test_migrates_from_empty_to_the_whole_schema(store: Store) -> None:
    backend = store.open()
    await backend.connect()
    assert await backend.schema_version() == 0
    await backend.start()
    assert await backend.schema_version() == LATEST_VERSION
    assert await backend.fetch("SELECT version FROM schema_version ORDER BY version") == [
        (v,) for v in range(1, LATEST_VERSION + 1)
    ]
    money = "numeric" if store.kind == "postgresql" else "DECIMAL_TEXT"
    ns = "bigint" if store.kind == "postgresql" else "INTEGER"
    for table, names in TABLES.items():
        found = await columns_of(backend, table)
        assert tuple(name for name, _ in found) == names, table
        for column, (_, kind) in zip(TABLE_SPECS[table].columns, found, strict=True):
            if column.kind is Kind.MONEY:
                assert kind == money, (table, column.name)
            if column.name.endswith("_ns"):
                assert kind == ns, (table, column.name)
            assert "float" not in kind.lower() and "real" not in kind.lower(), (table, column)
    assert "fills_symbol_ts_idx" in await indexes_of(backend, "fills")
    assert "fills_client_order_id_idx" in await indexes_of(backend, "fills")
    assert "orders_symbol_ts_idx" in await indexes_of(backend, "orders")
    await backend.close()
    # a second start finds nothing to do
    again = store.open()
    await again.connect()
    assert await again.migrate() == []
    assert await again.fetch("SELECT version FROM schema_version ORDER BY version") == [
        (v,) for v in range(1, LATEST_VERSION + 1)
    ]


async def test_upgrades_from_the_previous_version(store: Store) -> None:
    # migrated only: `start` would also make partitions of every table this code knows,
    # the latest version's included, which the previous version's schema does not hold
    previous = store.open(migrations=MIGRATIONS[:-1])
    await previous.connect()
    assert await previous.migrate() == list(range(1, LATEST_VERSION))
    assert await previous.write("fills", [fill()]) == 1
    await previous.close()

    current = store.open(migrations=MIGRATIONS)
    await current.connect()
    assert await current.schema_version() == LATEST_VERSION - 1
    assert await current.migrate() == [LATEST_VERSION]
    assert await current.fetch("SELECT trade_id FROM fills") == [("t-1",)]
    # version 2: an order event rebuilt from the journal lands once
    assert await current.write("order_events", [ROWS["order_events"]] * 2) == 1
    assert await current.write("order_events", [ROWS["order_events"]]) == 0
    # version 3: the control API's audit trail
    assert await current.write("audit_events", [ROWS["audit_events"]]) == 1
    assert await current.fetch("SELECT action, outcome FROM audit_events") == [("set", "ok")]
    await current.close()

    later = store.open(migrations=[*MIGRATIONS, V_NEXT])
    await later.connect()
    assert await later.migrate() == [V_NEXT.version]
    assert await later.schema_version() == V_NEXT.version
    assert "fills_venue_ts_idx" in await indexes_of(later, "fills")
    assert await later.fetch("SELECT trade_id FROM fills") == [("t-1",)]


async def test_a_schema_newer_than_the_engine_is_refused(store: Store) -> None:
    newer = await store.start(migrations=[*MIGRATIONS, V_NEXT])
    await newer.close()
    older = store.open(migrations=MIGRATIONS)
    with pytest.raises(StorageConfigError) as err:
        await older.start()
    text = one_line(err)
    assert (
        f"schema version {V_NEXT.version} is newer than this engine knows ({LATEST_VERSION})"
        in text
    )
    assert "upgrade the engine" in text
    where = "127.0.0.1:" if store.kind == "postgresql" else str(store.config.sqlite_path)
    assert where in text
    check = store.open(migrations=[*MIGRATIONS, V_NEXT])
    await check.connect()
    assert await check.schema_version() == V_NEXT.version  # untouched


def test_migrations_must_be_numbered_in_order() -> None:
    with pytest.raises(ValueError, match=r"1\.\.n"):
        open_backend(DatabaseConfig(sqlite_path="unused.sqlite3"), migrations=[V_NEXT])


# ---- writes and reads --------------------------------------------------------------------


async def test_every_table_round_trips_exactly(store: Store) -> None:
    backend = await store.start()
    for table, row in ROWS.items():
        assert len(row) == len(TABLES[table]), table
        assert await backend.write(table, [row]) == 1, table
        got = await backend.fetch(f"SELECT * FROM {quoted(table)}")
        assert got == [row], table
        # the same digits and scale, not only the same value; ints stay ints
        assert [repr(v) for v in got[0]] == [repr(v) for v in row], table
    ((recv_ns,),) = await backend.fetch("SELECT recv_ns FROM fills WHERE trade_id = $1", "t-1")
    assert recv_ns == INT64_MAX


async def test_fills_duplicates_are_ignored(store: Store) -> None:
    backend = await store.start()
    assert await backend.write("fills", [fill("t-1"), fill("t-2"), fill("t-1")]) == 2
    # across batches; a duplicate with other values keeps the stored row
    assert await backend.write("fills", [fill("t-2", fee="9"), fill("t-3")]) == 1
    # the key is venue + symbol + trade id: the same id on another venue is another trade
    assert await backend.write("fills", [fill("t-1", venue="okx")]) == 1
    assert await backend.write("fills", [fill("t-1"), fill("t-3")]) == 0
    rows = await backend.fetch("SELECT venue, trade_id, fee FROM fills ORDER BY venue, trade_id")
    assert rows == [
        ("binance", "t-1", D("-0.00000001")),
        ("binance", "t-2", D("-0.00000001")),
        ("binance", "t-3", D("-0.00000001")),
        ("okx", "t-1", D("-0.00000001")),
    ]


async def test_orders_are_upserted_newest_wins(store: Store) -> None:
    backend = await store.start()
    assert await backend.write("orders", [order("new", NOON)]) == 1
    # several versions in one batch, out of order: one row written, the newest
    batch = [order("filled", NOON + 20, venue_order_id="v-1"), order("open", NOON + 10)]
    assert await backend.write("orders", batch) == 1
    status = "SELECT status, venue_order_id, updated_ns FROM orders WHERE client_order_id = $1"
    assert await backend.fetch(status, "c-1") == [("filled", "v-1", NOON + 20)]
    # a stale version (a replayed journal) never overwrites a newer one
    assert await backend.write("orders", [order("open", NOON + 10)]) == 0
    assert await backend.fetch(status, "c-1") == [("filled", "v-1", NOON + 20)]
    # on a tie the later write wins, within a batch and against the stored row
    tie = [order("filled", NOON + 20, venue_order_id="v-2"), order("done", NOON + 20)]
    assert await backend.write("orders", tie) == 1
    assert await backend.fetch(status, "c-1") == [("done", None, NOON + 20)]
    # the key is client order id + created time
    other = [order(client_order_id="c-2"), order(created_ns=NOON + 1)]
    assert await backend.write("orders", other) == 2
    assert await count(backend, "orders") == 3


async def test_a_batch_is_all_or_nothing(store: Store) -> None:
    backend = await store.start()
    bad_key = (*fill("t-9")[:8], None, *fill("t-9")[9:])  # no trade id
    with pytest.raises(StorageDataError) as err:
        await backend.write("fills", [fill("t-8"), bad_key])
    one_line(err)
    short = ROWS["market_trades"][:-1]
    with pytest.raises(StorageDataError):
        await backend.write("market_trades", [ROWS["market_trades"], short])
    assert await count(backend, "fills") == 0
    assert await count(backend, "market_trades") == 0
    with pytest.raises(StorageDataError, match="no table 'fill'"):
        await backend.write("fill", [fill()])
    assert await backend.write("fills", []) == 0
    # the backend is still usable
    assert await backend.write("fills", [fill("t-8")]) == 1


async def test_todays_fills_query_of_the_docs(store: Store) -> None:
    now = time.time_ns()
    backend = await store.start(clock_ns=time.time_ns)
    today, yesterday = fill("today", now), fill("yesterday", now - DAY_NS)
    assert await backend.write("fills", [yesterday, today]) == 2
    rows = await backend.fetch(TODAYS_FILLS[store.kind])
    assert [row[TABLES["fills"].index("trade_id")] for row in rows] == ["today"]


async def test_a_row_for_a_day_without_partition_is_still_written(store: Store) -> None:
    backend = await store.start()
    old, future = DAY0 - 400 * DAY_NS, DAY0 + 40 * DAY_NS
    assert await backend.write("market_trades", [(*ROWS["market_trades"][:6], "x")]) == 1
    rows = [(old, *ROWS["market_trades"][1:]), (future, *ROWS["market_trades"][1:])]
    assert await backend.write("market_trades", rows) == 2
    assert await count(backend, "market_trades") == 3
    if store.kind == "postgresql":
        found = await backend.fetch(
            "SELECT tableoid::regclass::text FROM market_trades ORDER BY ts_ns"
        )
        assert found == [
            ("market_trades_p20250202",),
            ("market_trades_p20260309",),
            ("market_trades_p20260418",),
        ]


# ---- partitions (PostgreSQL) -------------------------------------------------------------


@postgres_only
async def test_partitions_roll_over_at_utc_midnight(store: Store) -> None:
    backend = await store.start(clock_ns=lambda: EVE, partitions_ahead_days=2)
    expected = ["fills_p20260309", "fills_p20260310", "fills_p20260311"]
    assert await catalog_partitions(backend, "fills") == expected
    for table in TABLES:
        assert len(await catalog_partitions(backend, table)) == 3, table
    assert await backend.write("fills", [fill("last", EVE), fill("first", EVE + 1)]) == 2
    placed = await backend.fetch("SELECT trade_id, tableoid::regclass::text FROM fills")
    assert sorted(placed) == [("first", "fills_p20260310"), ("last", "fills_p20260309")]
    ((bound,),) = await backend.fetch(
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = $1 "
        "AND relnamespace = current_schema()::regnamespace",
        "fills_p20260310",
    )
    assert bound == f"FOR VALUES FROM ('{EVE + 1}') TO ('{EVE + 1 + DAY_NS}')"
    # the clock passes midnight: one more day ahead, nothing dropped
    await backend.maintain(EVE + 1)
    assert await catalog_partitions(backend, "fills") == [*expected, "fills_p20260312"]
    assert await backend.partitions() == {
        t: [partition_name(t, day_of(EVE) + d) for d in range(4)] for t in TABLES
    }


@postgres_only
async def test_partitions_past_retention_are_dropped(store: Store) -> None:
    backend = await store.start(clock_ns=lambda: NOON, retention_days=2, partitions_ahead_days=1)
    assert await catalog_partitions(backend, "fills") == ["fills_p20260309", "fills_p20260310"]
    await backend.write("fills", [fill("old", NOON), fill("kept", NOON + DAY_NS)])
    # a partition made by hand is never dropped by retention
    await backend.fetch(
        'CREATE TABLE "fills_manual" PARTITION OF "fills" FOR VALUES FROM (0) TO (1)'
    )
    await backend.maintain(NOON + 3 * DAY_NS)  # 2026-03-12: keeps 03-10 and later
    assert await catalog_partitions(backend, "fills") == [
        "fills_manual",
        "fills_p20260310",
        "fills_p20260312",
        "fills_p20260313",
    ]
    assert await backend.fetch("SELECT trade_id FROM fills") == [("kept",)]
    assert "orders_p20260309" not in await catalog_partitions(backend, "orders")
    await backend.maintain(NOON + 3 * DAY_NS)  # idempotent
    # the pool's connections write on after the DDL
    assert await backend.write("fills", [fill("new", NOON + 3 * DAY_NS)]) == 1
    assert await backend.write("orders", [order(created_ns=NOON + 3 * DAY_NS)]) == 1


async def test_sqlite_maintain_is_a_no_op(tmp_path: Path) -> None:
    backend = open_backend(DatabaseConfig(sqlite_path=str(tmp_path / "x.sqlite3")))
    await backend.start()
    try:
        await backend.maintain(NOON)
        assert await backend.partitions() == {}
    finally:
        await backend.close()


# ---- errors: one line naming what and where ----------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _with(dsn: str, *, user: str | None = None, database: str | None = None) -> str:
    parts = urlsplit(dsn)
    netloc = parts.netloc.rpartition("@")[2]
    netloc = f"{user or parts.username or 'postgres'}@{netloc}"
    path = f"/{database}" if database else parts.path
    return urlunsplit((parts.scheme, netloc, path, parts.query, parts.fragment))


async def test_a_closed_port_is_unavailable_naming_host_and_port() -> None:
    port = _free_port()
    backend = open_backend(DatabaseConfig(url=f"postgresql://postgres@127.0.0.1:{port}/test"))
    with pytest.raises(StorageUnavailable) as err:
        await backend.start()
    text = one_line(err)
    assert f"127.0.0.1:{port}" in text
    assert "HFT__DATABASE__URL" in text


@pytest.mark.services
async def test_an_unknown_database_names_it(pg_dsn: str) -> None:
    name = f"no_such_db_{uuid.uuid4().hex[:8]}"
    backend = open_backend(DatabaseConfig(url=_with(pg_dsn, database=name)))
    with pytest.raises(StorageConfigError) as err:
        await backend.start()
    text = one_line(err)
    assert f"no database {name!r}" in text and "HFT__DATABASE__URL" in text


@pytest.mark.services
async def test_an_unknown_user_names_it(pg_dsn: str) -> None:
    user = f"no_such_role_{uuid.uuid4().hex[:8]}"
    backend = open_backend(DatabaseConfig(url=_with(pg_dsn, user=user)))
    with pytest.raises(StorageConfigError) as err:
        await backend.start()
    text = one_line(err)
    assert f"user {user!r}" in text and "HFT__DATABASE__URL" in text


@contextlib.asynccontextmanager
async def password_refusing_server() -> AsyncIterator[int]:
    """A loopback server speaking just enough of the PostgreSQL protocol: it declines TLS,
    asks for a cleartext password, then answers 28P01 as PostgreSQL does."""

    async def read_message(reader: asyncio.StreamReader) -> bytes:
        size = int.from_bytes(await reader.readexactly(4), "big")
        return await reader.readexactly(size - 4)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # SSLRequest / GSSENCRequest, then the StartupMessage
                body = await read_message(reader)
                if int.from_bytes(body[:4], "big") not in (80877103, 80877104):
                    break
                writer.write(b"N")
            writer.write(b"R" + (8).to_bytes(4, "big") + (3).to_bytes(4, "big"))
            await writer.drain()
            await reader.readexactly(1)  # 'p', the password message
            await read_message(reader)
            fields = (
                b"SFATAL\x00VFATAL\x00C28P01\x00"
                b'Mpassword authentication failed for user "trader"\x00\x00'
            )
            writer.write(b"E" + (len(fields) + 4).to_bytes(4, "big") + fields)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def test_a_wrong_password_names_the_user_and_the_setting() -> None:
    async with password_refusing_server() as port:
        url = f"postgresql://trader:wrong-secret@127.0.0.1:{port}/test"
        backend = open_backend(DatabaseConfig(url=url))
        assert "wrong-secret" not in backend.location
        with pytest.raises(StorageConfigError) as err:
            await backend.start()
    text = one_line(err)
    assert "user 'trader'" in text
    assert "HFT__DATABASE__URL" in text and "PGPASSWORD" in text
    assert f"127.0.0.1:{port}" in text
    assert "wrong-secret" not in text


@pytest.mark.parametrize("case", ["parent is a file", "path is a directory", "not sqlite"])
async def test_an_unwritable_sqlite_path_names_it(tmp_path: Path, case: str) -> None:
    blocker = tmp_path / "blocker"
    if case == "parent is a file":
        blocker.write_text("x")
        path = blocker / "engine.sqlite3"
    elif case == "path is a directory":
        path = tmp_path
    else:
        path = tmp_path / "notes.txt"
        path.write_text("not a database, just text that is long enough to have a header\n" * 20)
    backend = open_backend(DatabaseConfig(sqlite_path=str(path)))
    with pytest.raises(StorageConfigError) as err:
        await backend.start()
    text = one_line(err)
    assert str(path) in text and "database.sqlite_path" in text


# ---- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "fills; DROP TABLE orders",
        'fills"; DROP TABLE orders; --',
        "fills--",
        "Fills",
        "fills\n",
        "fills\x00",
        "fïlls",
        "1fills",
        "",
        "fills p",
        "public.fills",
        "a" * 64,
        "fills_p2026'0309",
    ],
)
def test_names_refuse_injection(name: str) -> None:
    with pytest.raises(InvalidName):
        identifier(name)
    with pytest.raises(InvalidName):
        quoted(name)
    with pytest.raises(InvalidName):
        partition_name(name, day_of(NOON))


def test_partition_names_round_trip() -> None:
    assert identifier("a" * 63) == "a" * 63
    assert quoted("fills") == '"fills"'
    assert partition_name("fills", day_of(EVE)) == "fills_p20260309"
    assert partition_name("fills", day_of(EVE + 1)) == "fills_p20260310"
    assert partition_day("fills", "fills_p20260309") == day_of(NOON)
    assert partition_name("fills", day_of(-1)) == "fills_p19691231"
    for other in ("fills_manual", "fills_p2026030", "fills_p20261332", "orders_p20260309"):
        assert partition_day("fills", other) is None


# ---- python -m engine db ----------------------------------------------------------------


def test_db_cli_on_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    db = tmp_path / "var" / "paper.sqlite3"
    config = tmp_path / "paper.toml"
    config.write_text(f'[database]\nsqlite_path = "{db}"\n')
    assert engine_main(["db", "status", "--config", str(config)]) == 1
    assert "no database yet" in capsys.readouterr().out
    assert not db.exists()
    assert engine_main(["db", "migrate", "--config", str(config)]) == 0
    assert (
        f"sqlite {db}: schema migrated from version 0 to {LATEST_VERSION}"
        in capsys.readouterr().out
    )
    assert engine_main(["db", "status", "--config", str(config)]) == 0
    assert f"schema up to date at version {LATEST_VERSION}" in capsys.readouterr().out
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("INSERT INTO schema_version VALUES (7, 0)")
    assert engine_main(["db", "status", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        "\n" not in err
        and f"schema version 7 is newer than this engine knows ({LATEST_VERSION})" in err
    )
    assert engine_main(["db", "migrate", "--config", str(config)]) == 2
    assert "upgrade the engine" in capsys.readouterr().err


@pytest.mark.services
def test_db_cli_on_postgres(
    pg_dsn: str,
    capsys: pytest.CaptureFixture[str],
    clean_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schema = identifier(f"test_storage_cli_{uuid.uuid4().hex[:8]}")

    async def admin(statement: str) -> None:
        conn = await asyncpg.connect(pg_dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin(f"CREATE SCHEMA {quoted(schema)}"))
    try:
        # asyncpg passes unknown URL parameters on as session settings
        monkeypatch.setenv("HFT__DATABASE__URL", f"{pg_dsn}?search_path={schema}")
        assert engine_main(["db", "status"]) == 1
        assert f"{LATEST_VERSION} migration(s) pending" in capsys.readouterr().out
        assert engine_main(["db", "migrate"]) == 0
        out = capsys.readouterr().out
        assert f"schema migrated from version 0 to {LATEST_VERSION}" in out
        assert "fills: 4 (" in out  # today and partitions_ahead_days = 3
        assert engine_main(["db", "status"]) == 0
        assert f"schema up to date at version {LATEST_VERSION}" in capsys.readouterr().out
        port = _free_port()
        monkeypatch.setenv("HFT__DATABASE__URL", f"postgresql://postgres@127.0.0.1:{port}/x")
        assert engine_main(["db", "migrate"]) == 1
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and f"127.0.0.1:{port}" in err
    finally:
        asyncio.run(admin(f"DROP SCHEMA {quoted(schema)} CASCADE"))
