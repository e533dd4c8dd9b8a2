"""PostgreSQL through asyncpg: a pool sized by `database.pool_size`, daily range partitions,
COPY for every insert.

Partitioning: every table is `PARTITION BY RANGE` on its bigint ns column (`created_ns` for
orders, `ts_ns` for the rest; a generated timestamptz cannot be a partition key), one
partition per UTC day, `<table>_pYYYYMMDD`, FROM the day's first ns TO the next day's.
`maintain(now_ns)` creates today's and `partitions_ahead_days` more, and drops those whose
day is more than `retention_days` before today. A row whose day has no partition (a replay
of old orders, a clock far off) makes its partition on the spot: the batch is rolled back,
the missing days are created, the batch is written again — never lost for want of a table.

Writes, one transaction each, all rows through `copy_records_to_table` (binary COPY). The
driver encodes the rows on the event loop; they reach it as an asynchronous iterable that
hands the loop back every `ROWS_PER_STEP` rows, so a batch of any size holds the loop only
as long as a slice takes to encode (bench: storage.pg_copy `max_flush_hold_cpu_ms`), in one
COPY all the same:
- plain tables: COPY straight into the partitioned table;
- fills: COPY into a per-connection temp table (`ON COMMIT DELETE ROWS`), then
  `INSERT INTO fills SELECT ... ON CONFLICT DO NOTHING`: a fill already stored, or twice in
  the batch, is skipped without error (COPY alone would abort the batch on the first one);
- orders: the same staging, then `INSERT ... SELECT DISTINCT ON (key) ... ORDER BY key,
  updated_ns DESC, arrival DESC ON CONFLICT (key) DO UPDATE ... WHERE stored.updated_ns <=
  new.updated_ns`: one version per order per batch (the newest), and a stale version (a
  replayed journal) never overwrites a newer one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg

from engine.config.credentials import mask_url
from engine.storage.backend import StorageConfigError, StorageDataError, StorageUnavailable
from engine.storage.names import DAY_NS, day_of, partition_day, partition_name, quoted
from engine.storage.schema import (
    MIGRATIONS,
    SCHEMA_VERSION_DDL,
    TABLE_SPECS,
    Conflict,
    Migration,
    Table,
    check_migrations,
)

if TYPE_CHECKING:
    from engine.config import DatabaseConfig

log = logging.getLogger("engine.storage")

CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 60.0
# DDL on a partitioned table waits for its lock; past this it gives up rather than queue
# every writer behind it (maintain runs again later)
DDL_LOCK_TIMEOUT = "5s"
# pg_advisory_xact_lock(class, hashtext(current_schema())): two engines starting on the same
# schema migrate and make partitions one after the other
_LOCK_MIGRATE = 0x6D696772
_LOCK_PARTITIONS = 0x70617274
# SQLSTATE classes that mean "not now": connection, insufficient resources, operator
# intervention (shutdown), system error, transaction rollback (deadlock), lock not available
_TRANSIENT = ("08", "53", "57", "58", "40", "55")
_SETTING = "database.url (HFT__DATABASE__URL)"


@dataclass(frozen=True, slots=True)
class _Where:
    host: str
    port: str
    user: str
    database: str

    @property
    def at(self) -> str:
        return f"PostgreSQL at {self.host}:{self.port}"


def _where(url: str) -> _Where:
    """host, port, user and database as asyncpg resolves them (URL, then PG* variables)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    try:
        host = parts.hostname
        port = str(parts.port) if parts.port else ""
    except ValueError:  # a malformed port: asyncpg reports it
        host, port = None, ""
    user = unquote(parts.username) if parts.username else ""
    database = unquote(parts.path.lstrip("/"))
    host = host or query.get("host", [""])[0] or os.environ.get("PGHOST", "") or "localhost"
    port = port or query.get("port", [""])[0] or os.environ.get("PGPORT", "") or "5432"
    user = user or query.get("user", [""])[0] or os.environ.get("PGUSER", "")
    if not user:
        try:
            import getpass  # noqa: PLC0415

            user = getpass.getuser()
        except (KeyError, OSError):
            user = "?"
    database = database or os.environ.get("PGDATABASE", "") or user
    return _Where(host, port, user, database)


def _first_line(exc: BaseException, secret: str) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.replace(secret, "***") if secret else text


ROWS_PER_STEP = 64  # rows the driver encodes between two passes of the event loop


async def in_steps(
    rows: Sequence[tuple[Any, ...]], per_step: int = ROWS_PER_STEP
) -> AsyncIterator[tuple[Any, ...]]:
    """`rows` for `copy_records_to_table`, the event loop run between slices of `per_step`:
    the driver encodes a row as it takes it, so no slice holds the loop for long."""
    for start in range(0, len(rows), per_step):
        if start:
            await asyncio.sleep(0)
        for row in rows[start : start + per_step]:
            yield row


def _status_count(status: str) -> int:
    """`INSERT 0 12` / `COPY 12` -> 12."""
    return int(status.rsplit(" ", 1)[-1])


def _create_partition(table: str, name: str, day: int) -> str:
    """DDL of one day's partition; the bounds are integers we computed, the names checked."""
    low, high = int(day) * DAY_NS, (int(day) + 1) * DAY_NS
    return (
        f"CREATE TABLE {quoted(name)} PARTITION OF {quoted(table)} "
        f"FOR VALUES FROM ({low}) TO ({high})"
    )


def _no_partition(exc: BaseException) -> bool:
    return isinstance(exc, asyncpg.CheckViolationError) and "no partition" in str(exc)


class PostgresBackend:
    """The `Backend` on PostgreSQL. Not thread-safe; one event loop."""

    name = "postgresql"

    def __init__(
        self,
        config: DatabaseConfig,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        server_settings: Mapping[str, str] | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._url = config.url
        self.location = mask_url(config.url)
        self._password = urlsplit(config.url).password or ""
        self._where = _where(config.url)
        self._pool_size = config.pool_size
        self._retention_days = config.retention_days
        self._ahead_days = config.partitions_ahead_days
        self._server_settings = dict(server_settings or {})
        self._migrations = tuple(migrations)
        self._latest = check_migrations(self._migrations)
        self._clock_ns = clock_ns
        self._pool: asyncpg.Pool | None = None
        self._writers = {name: self._plan(spec) for name, spec in TABLE_SPECS.items()}

    # ---- lifecycle -------------------------------------------------------------------

    async def connect(self) -> None:
        if self._pool is not None:
            return
        try:
            self._pool = await asyncpg.create_pool(
                self._url,
                min_size=1,
                max_size=self._pool_size,
                server_settings=self._server_settings or None,
                timeout=CONNECT_TIMEOUT_S,
                command_timeout=COMMAND_TIMEOUT_S,
            )
        except Exception as exc:
            raise self._connect_error(exc) from exc
        log.info("storage: PostgreSQL %s, pool of %d", self.location, self._pool_size)

    async def start(self) -> None:
        await self.connect()
        try:
            await self.migrate()
            await self.maintain(self._clock_ns())
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), CONNECT_TIMEOUT_S)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()

    def _connect_error(self, exc: BaseException) -> Exception:
        w = self._where
        detail = _first_line(exc, self._password)
        if isinstance(exc, asyncpg.InvalidPasswordError):
            return StorageConfigError(
                f"{w.at} refused the password of user {w.user!r}: set the right password in "
                "HFT__DATABASE__URL or PGPASSWORD"
            )
        if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
            return StorageConfigError(
                f"{w.at} refused user {w.user!r} ({detail}): fix the user in "
                "HFT__DATABASE__URL, or create the role / allow it in pg_hba.conf"
            )
        if isinstance(exc, asyncpg.InvalidCatalogNameError):
            return StorageConfigError(
                f"{w.at} has no database {w.database!r}: create it (createdb {w.database}) "
                f"or fix the database name in {_SETTING}"
            )
        if isinstance(exc, socket.gaierror):
            return StorageConfigError(
                f"PostgreSQL host {w.host!r} does not resolve ({detail}): fix {_SETTING}"
            )
        if isinstance(exc, ConnectionRefusedError):
            return StorageUnavailable(
                f"{w.at} refused the connection (no server listening): start PostgreSQL "
                f"there, or fix the host/port in {_SETTING}"
            )
        if isinstance(exc, TimeoutError):
            return StorageUnavailable(
                f"{w.at} did not answer within {CONNECT_TIMEOUT_S:g} s: check the server and "
                f"the network, or fix the host/port in {_SETTING}"
            )
        if isinstance(exc, OSError):
            return StorageUnavailable(
                f"{w.at} is not reachable ({detail}): start PostgreSQL there, or fix {_SETTING}"
            )
        if isinstance(exc, asyncpg.PostgresError):
            if (exc.sqlstate or "")[:2] in _TRANSIENT:
                return StorageUnavailable(f"{w.at} cannot take a connection now ({detail})")
            return StorageConfigError(f"{w.at} refused the connection ({detail}): check {_SETTING}")
        return StorageConfigError(f"{_SETTING} {self.location}: {detail}")

    def _error(self, exc: BaseException, doing: str) -> Exception:
        """A driver error after connecting, as one of the storage errors."""
        if isinstance(exc, StorageUnavailable | StorageConfigError | StorageDataError):
            return exc
        at = self._where.at
        detail = _first_line(exc, self._password)
        if isinstance(exc, OSError):  # includes TimeoutError, ConnectionError
            return StorageUnavailable(f"{at}: {doing} failed, connection lost ({detail})")
        if isinstance(exc, asyncpg.PostgresError):
            state = exc.sqlstate or ""
            if state[:2] in _TRANSIENT:
                return StorageUnavailable(f"{at}: {doing} failed, server unavailable ({detail})")
            if state == "42501":
                return StorageConfigError(
                    f"{at}: {doing} needs a privilege user {self._where.user!r} lacks "
                    f"({detail}): grant it or use another user in {_SETTING}"
                )
            if state == "3F000":
                return StorageConfigError(
                    f"{at}: no schema to create tables in ({detail}): check the search_path "
                    f"of user {self._where.user!r}"
                )
            return StorageDataError(f"{at}: {doing} refused ({state}: {detail})")
        if isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc):
            return StorageUnavailable(f"{at}: {doing} failed, connection closed ({detail})")
        return StorageDataError(f"{at}: {doing} failed ({type(exc).__name__}: {detail})")

    def _require_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the PostgreSQL backend is not started (call start() first)")
        return self._pool

    # ---- migrations ------------------------------------------------------------------

    async def schema_version(self) -> int:
        pool = self._require_pool()
        try:
            async with pool.acquire() as conn:
                if await conn.fetchval("SELECT to_regclass('schema_version')") is None:
                    return 0
                return int(
                    await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
                )
        except Exception as exc:
            raise self._error(exc, "reading the schema version") from exc

    def _check_version(self, current: int) -> None:
        if current > self._latest:
            raise StorageConfigError(
                f"{self._where.at}, database {self._where.database!r}: schema version {current} "
                f"is newer than this engine knows ({self._latest}): upgrade the engine, or "
                f"point {_SETTING} at another database"
            )

    async def migrate(self) -> list[int]:
        pool = self._require_pool()
        applied: list[int] = []
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", _LOCK_MIGRATE
                )
                await conn.execute(SCHEMA_VERSION_DDL["postgresql"])
                current = int(
                    await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
                )
                self._check_version(current)
                for migration in self._migrations[current:]:
                    await conn.execute(";\n".join(migration.postgresql))
                    await conn.execute(
                        "INSERT INTO schema_version (version, applied_at_ns) VALUES ($1, $2)",
                        migration.version,
                        time.time_ns(),
                    )
                    applied.append(migration.version)
        except Exception as exc:
            raise self._error(exc, "migrating the schema") from exc
        if applied:
            log.info("storage: schema migrated to version %d (applied %s)", applied[-1], applied)
        return applied

    # ---- partitions ------------------------------------------------------------------

    async def partitions(self) -> dict[str, list[str]]:
        pool = self._require_pool()
        try:
            async with pool.acquire() as conn:
                return await self._partitions(conn)
        except Exception as exc:
            raise self._error(exc, "listing partitions") from exc

    @staticmethod
    async def _partitions(conn: asyncpg.Connection) -> dict[str, list[str]]:
        rows = await conn.fetch(
            "SELECT parent.relname, child.relname FROM pg_inherits i "
            "JOIN pg_class child ON child.oid = i.inhrelid "
            "JOIN pg_class parent ON parent.oid = i.inhparent "
            "WHERE parent.relnamespace = current_schema()::regnamespace "
            "AND child.relkind IN ('r', 'p') AND parent.relname = ANY($1::text[]) "
            "ORDER BY parent.relname, child.relname",
            list(TABLE_SPECS),
        )
        out: dict[str, list[str]] = {name: [] for name in TABLE_SPECS}
        for parent, child in rows:
            out[parent].append(child)
        return out

    async def maintain(self, now_ns: int) -> None:
        today = day_of(now_ns)
        days = range(today, today + self._ahead_days + 1)
        await self._change_partitions(
            {table: days for table in TABLE_SPECS}, drop_before=today - self._retention_days
        )

    async def _change_partitions(
        self, wanted: Mapping[str, Iterable[int]], drop_before: int | None
    ) -> None:
        """Create the partitions of `wanted` days that are missing; with `drop_before`, drop
        those of earlier days. One transaction, one round trip for the DDL."""
        pool = self._require_pool()
        created: list[str] = []
        dropped: list[str] = []
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(f"SET LOCAL lock_timeout = '{DDL_LOCK_TIMEOUT}'")
                await conn.execute(
                    "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))",
                    _LOCK_PARTITIONS,
                )
                existing = await self._partitions(conn)
                ddl: list[str] = []
                for table, days in wanted.items():
                    have = set(existing[table])
                    for day in sorted(set(days)):
                        name = partition_name(table, day)
                        if name not in have:
                            ddl.append(_create_partition(table, name, day))
                            created.append(name)
                    if drop_before is None:
                        continue
                    for name in existing[table]:
                        held = partition_day(table, name)
                        if held is not None and held < drop_before:
                            ddl.append(f"DROP TABLE {quoted(name)}")
                            dropped.append(name)
                if ddl:
                    await conn.execute(";\n".join(ddl))
        except Exception as exc:
            raise self._error(exc, "maintaining partitions") from exc
        if created:
            log.info(
                "storage: created %d partitions (%s .. %s)", len(created), created[0], created[-1]
            )
        if dropped:
            log.info("storage: dropped %d partitions past retention: %s", len(dropped), dropped)

    # ---- writes ----------------------------------------------------------------------
    # (in_steps, below: the rows of a COPY with the loop handed back between slices)

    def _plan(self, spec: Table) -> Callable[[asyncpg.Connection, Sequence[tuple[Any, ...]]], Any]:
        columns = spec.column_names
        table = quoted(spec.name)
        column_list = ", ".join(quoted(c) for c in columns)
        if spec.conflict is Conflict.NONE:

            async def copy(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> int:
                status = await conn.copy_records_to_table(
                    spec.name, records=in_steps(rows), columns=columns
                )
                return _status_count(status)

            return copy

        stage_name = f"stage_{spec.name}"
        stage = quoted(stage_name)
        key = ", ".join(quoted(c) for c in spec.pg_key)
        if spec.conflict is Conflict.IGNORE:
            stage_ddl = (
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DELETE ROWS"
            )
            # identifiers from the schema, checked by quoted()
            merge = (
                f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {stage} "  # noqa: S608
                "ON CONFLICT DO NOTHING"
            )
        else:
            # stage_seq keeps the arrival order: among versions with the same updated_ns the
            # last one written wins, as it does on SQLite
            stage_ddl = (
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}, "
                '"stage_seq" bigint GENERATED ALWAYS AS IDENTITY) ON COMMIT DELETE ROWS'
            )
            updates = ", ".join(
                f"{quoted(c)} = EXCLUDED.{quoted(c)}" for c in columns if c not in spec.pg_key
            )
            merge = (
                f"INSERT INTO {table} ({column_list}) "  # noqa: S608
                f"SELECT DISTINCT ON ({key}) {column_list} FROM {stage} "
                f'ORDER BY {key}, "updated_ns" DESC, "stage_seq" DESC '
                f"ON CONFLICT ({key}) DO UPDATE SET {updates} "
                f'WHERE {table}."updated_ns" <= EXCLUDED."updated_ns"'
            )

        async def stage_and_merge(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> int:
            await conn.execute(stage_ddl)
            await conn.copy_records_to_table(stage_name, records=in_steps(rows), columns=columns)
            return _status_count(await conn.execute(merge))

        return stage_and_merge

    async def write(self, table: str, rows: Sequence[tuple[Any, ...]]) -> int:
        plan = self._writers.get(table)
        if plan is None:
            raise StorageDataError(
                f"no table {table!r} to write (tables: {', '.join(TABLE_SPECS)})"
            )
        if not rows:
            return 0
        pool = self._require_pool()
        try:
            try:
                async with pool.acquire() as conn, conn.transaction():
                    return int(await plan(conn, rows))
            except asyncpg.CheckViolationError as exc:
                if not _no_partition(exc):
                    raise
            # a day without its partition: make it, then write the batch again (once)
            column = TABLE_SPECS[table].index(TABLE_SPECS[table].partition_column)
            days = {day_of(row[column]) for row in rows if isinstance(row[column], int)}
            await self._change_partitions({table: days}, drop_before=None)
            async with pool.acquire() as conn, conn.transaction():
                return int(await plan(conn, rows))
        except Exception as exc:
            raise self._error(exc, f"writing {len(rows)} rows to {table}") from exc

    async def fetch(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        pool = self._require_pool()
        try:
            async with pool.acquire() as conn:
                records = await conn.fetch(query, *args)
        except Exception as exc:
            mapped = self._error(exc, "reading")
            if isinstance(mapped, StorageUnavailable):
                raise mapped from exc
            raise  # a mistake in the query: the driver's own error says it best
        return [tuple(r) for r in records]
