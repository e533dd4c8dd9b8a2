"""SQLite (the standard library's sqlite3): the embedded default, same logical schema.

One dedicated thread owns the connection and runs every statement, so the event loop only
awaits a future: a flush never blocks it, and sqlite3's same-thread rule holds. The file is
in WAL mode (readers, such as `python -m engine db status` or an operator's sqlite3 shell,
do not block the writer) with `synchronous=FULL`: a committed batch survives a power loss,
which matters because the order journal is compacted once its records are committed here.

Money columns are declared `DECIMAL_TEXT` (TEXT affinity) and written as plain decimal
text (`format(value, "f")`: `0.10` stays `0.10`, `1E+2` becomes `100`, as PostgreSQL's
numeric does); a converter registered for that declared type reads them back as `Decimal`
(columns selected directly; an expression such as `sum(price)` comes back as SQLite
computes it). Writes are one `executemany` in one `BEGIN IMMEDIATE` transaction.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from engine.storage.backend import StorageConfigError, StorageDataError, StorageUnavailable
from engine.storage.names import quoted
from engine.storage.schema import (
    MIGRATIONS,
    SCHEMA_VERSION_DDL,
    SQLITE_DECIMAL,
    TABLE_SPECS,
    Conflict,
    Migration,
    Table,
    check_migrations,
)

if TYPE_CHECKING:
    from engine.config import DatabaseConfig

log = logging.getLogger("engine.storage")

T = TypeVar("T")
BUSY_TIMEOUT_S = 5.0
_SETTING = "database.sqlite_path (HFT__DATABASE__SQLITE_PATH)"
_PLACEHOLDER = re.compile(r"\$([0-9]+)")
# primary result codes (sqlite3.h)
_BUSY, _LOCKED, _NOMEM, _IOERR, _FULL = 5, 6, 7, 10, 13
_PERM, _READONLY, _CORRUPT, _CANTOPEN, _NOTADB = 3, 8, 11, 14, 26


def _decimal_from_text(raw: bytes) -> Decimal:
    return Decimal(raw.decode())


sqlite3.register_converter(SQLITE_DECIMAL, _decimal_from_text)


def _decimal_text(value: object) -> str:
    """Decimal (or int, str) -> plain decimal text. A float is taken at its exact binary
    value, as asyncpg does for numeric: rows should carry Decimal."""
    number = value if isinstance(value, Decimal) else Decimal(value)  # type: ignore[arg-type]
    return format(number, "f")


def _result_code(exc: BaseException) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0)) & 0xFF


class _Statement:
    """How one table is written: the SQL, which columns are money, how rows are merged."""

    __slots__ = ("key", "money", "sql", "updated", "width")

    def __init__(self, spec: Table) -> None:
        columns = spec.column_names
        self.width = len(columns)
        self.money = spec.money_indexes()
        column_list = ", ".join(quoted(c) for c in columns)
        values = ", ".join("?" for _ in columns)
        # identifiers from the schema, checked by quoted(); values are ? parameters
        sql = f"INSERT INTO {quoted(spec.name)} ({column_list}) VALUES ({values})"  # noqa: S608
        self.key: tuple[int, ...] = ()
        self.updated = -1
        if spec.conflict is Conflict.IGNORE:
            sql += " ON CONFLICT DO NOTHING"
        elif spec.conflict is Conflict.UPDATE:
            key = ", ".join(quoted(c) for c in spec.key)
            updates = ", ".join(
                f"{quoted(c)} = excluded.{quoted(c)}" for c in columns if c not in spec.key
            )
            sql += (
                f" ON CONFLICT ({key}) DO UPDATE SET {updates} "
                f'WHERE excluded."updated_ns" >= {quoted(spec.name)}."updated_ns"'
            )
            self.key = tuple(spec.index(c) for c in spec.key)
            self.updated = spec.index("updated_ns")
        self.sql = sql

    def rows(self, rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
        if self.key:
            rows = self._newest(rows)
        out: list[list[Any]] = []
        money = self.money
        for row in rows:
            if len(row) != self.width:
                raise StorageDataError(f"a row of {len(row)} values, the table has {self.width}")
            values = list(row)
            for i in money:
                value = values[i]
                if value is not None:
                    values[i] = _decimal_text(value)
            out.append(values)
        return out

    def _newest(self, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """One row per key, the one with the highest updated_ns (the later on a tie), as the
        PostgreSQL backend's DISTINCT ON does: both then count one row per order."""
        newest: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        key, updated = self.key, self.updated
        for row in rows:
            k = tuple(row[i] for i in key)
            seen = newest.get(k)
            if seen is None or row[updated] >= seen[updated]:
                newest[k] = row
        return list(newest.values())


class SqliteBackend:
    """The `Backend` on an SQLite file. Not thread-safe; one event loop."""

    name = "sqlite"

    def __init__(
        self,
        config: DatabaseConfig,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.path = Path(config.sqlite_path)
        self.location = str(self.path)
        self._migrations = tuple(migrations)
        self._latest = check_migrations(self._migrations)
        self._clock_ns = clock_ns
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # used in the executor's thread only
        self._statements = {name: _Statement(spec) for name, spec in TABLE_SPECS.items()}

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise RuntimeError("the SQLite backend is not started (call start() first)")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # ---- lifecycle -------------------------------------------------------------------

    async def connect(self) -> None:
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="storage-sqlite")
        try:
            await self._call(self._open)
        except BaseException:
            await self.close()
            raise
        log.info("storage: SQLite %s", self.location)

    async def start(self) -> None:
        await self.connect()
        try:
            await self.migrate()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._close)
        finally:
            executor.shutdown(wait=False)

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            why = exc.strerror or str(exc)
            if isinstance(exc, FileExistsError | NotADirectoryError):
                why = "a file stands where a directory of the path should be"
            raise StorageConfigError(
                f"{_SETTING} {self.path}: cannot create its directory ({why}): "
                "choose a writable path"
            ) from exc
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_S,
                detect_types=sqlite3.PARSE_DECLTYPES,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE ... COMMIT
            )
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous=FULL")
            # take the write lock once: a read-only file fails here, at start, not at a flush
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise self._error(exc, "opening the database") from exc
        if str(mode).lower() != "wal":
            log.warning("storage: SQLite %s runs in journal mode %s, not WAL", self.path, mode)
        self._conn = conn

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _error(self, exc: BaseException, doing: str) -> Exception:
        if isinstance(exc, StorageUnavailable | StorageConfigError | StorageDataError):
            return exc
        where = f"SQLite {self.path}"
        code = _result_code(exc)
        if code in (_BUSY, _LOCKED):
            return StorageUnavailable(
                f"{where}: {doing} failed, the file is locked by another process ({exc})"
            )
        if code in (_FULL, _IOERR, _NOMEM):
            return StorageUnavailable(f"{where}: {doing} failed ({exc}): free disk space")
        if code in (_PERM, _READONLY, _CANTOPEN, _NOTADB, _CORRUPT):
            return StorageConfigError(
                f"{_SETTING} {self.path}: {doing} failed ({exc}): choose a writable path "
                "to an SQLite file"
            )
        return StorageDataError(f"{where}: {doing} refused ({type(exc).__name__}: {exc})")

    def _in_transaction(self, work: Callable[[sqlite3.Connection], T], doing: str) -> T:
        conn = self._conn
        if conn is None:
            raise RuntimeError("the SQLite backend is closed")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except (sqlite3.Error, TypeError, ValueError, InvalidOperation) as exc:
            raise self._error(exc, doing) from exc
        return result

    # ---- migrations ------------------------------------------------------------------

    async def schema_version(self) -> int:
        return await self._call(self._schema_version)

    def _schema_version(self) -> int:
        conn = self._conn
        assert conn is not None
        try:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            ).fetchone()
            if found is None:
                return 0
            return int(
                conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
            )
        except sqlite3.Error as exc:
            raise self._error(exc, "reading the schema version") from exc

    async def migrate(self) -> list[int]:
        applied: list[int] = await self._call(
            self._in_transaction, self._migrate, "migrating the schema"
        )
        if applied:
            log.info("storage: schema migrated to version %d (applied %s)", applied[-1], applied)
        return applied

    def _migrate(self, conn: sqlite3.Connection) -> list[int]:
        conn.execute(SCHEMA_VERSION_DDL["sqlite"])
        current = int(
            conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
        )
        if current > self._latest:
            raise StorageConfigError(
                f"SQLite {self.path}: schema version {current} is newer than this engine knows "
                f"({self._latest}): upgrade the engine, or point {_SETTING} at another file"
            )
        applied: list[int] = []
        for migration in self._migrations[current:]:
            for statement in migration.sqlite:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at_ns) VALUES (?, ?)",
                (migration.version, time.time_ns()),
            )
            applied.append(migration.version)
        return applied

    # ---- partitions: none on SQLite --------------------------------------------------

    async def maintain(self, now_ns: int) -> None:
        return None

    async def partitions(self) -> dict[str, list[str]]:
        return {}

    # ---- writes and reads ------------------------------------------------------------

    async def write(self, table: str, rows: Sequence[tuple[Any, ...]]) -> int:
        statement = self._statements.get(table)
        if statement is None:
            raise StorageDataError(
                f"no table {table!r} to write (tables: {', '.join(TABLE_SPECS)})"
            )
        if not rows:
            return 0
        return await self._call(self._write, statement, rows, table)

    def _write(self, statement: _Statement, rows: Sequence[tuple[Any, ...]], table: str) -> int:
        def work(conn: sqlite3.Connection) -> int:
            return conn.executemany(statement.sql, statement.rows(rows)).rowcount

        return self._in_transaction(work, f"writing {len(rows)} rows to {table}")

    async def fetch(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        """`$1`, `$2`... are rewritten to SQLite's numbered `?1`, `?2`..., so one query text
        serves both backends."""
        return await self._call(self._fetch, _PLACEHOLDER.sub(r"?\1", query), args)

    def _fetch(self, query: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        conn = self._conn
        if conn is None:
            raise RuntimeError("the SQLite backend is closed")
        try:
            rows = conn.execute(query, args).fetchall()
        except sqlite3.OperationalError as exc:
            mapped = self._error(exc, "reading")
            if isinstance(mapped, StorageUnavailable) and _result_code(exc) in (_BUSY, _LOCKED):
                raise mapped from exc
            raise
        return [tuple(row) for row in rows]
