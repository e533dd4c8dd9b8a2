"""The storage interface: one `Backend` protocol, PostgreSQL and SQLite behind it.

`open_backend(config)` picks the backend from `database.url`: a `postgresql://` URL gives
PostgreSQL (asyncpg), `""` the embedded SQLite file at `database.sqlite_path`. Credentials
only ever come from that URL (set through HFT__DATABASE__URL) or PGPASSWORD, never the TOML;
the URL is shown masked (`engine.config.credentials.mask_url`) wherever it is shown.

Errors, all one line naming what and where:
- StorageUnavailable: the database cannot be reached now (refused, timed out, shutting down,
  disk full, locked): retry later; nothing was written.
- StorageConfigError: a setting is wrong (unknown host or database, credentials, a schema
  newer than this engine, an unwritable SQLite path, missing privileges): retrying will not
  help.
- StorageDataError: the database refused the rows themselves (a NULL key, a value out of
  range, a row of the wrong length, an unknown table): a bug in the caller; the same rows
  fail again, nothing of the batch was written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engine.config import DatabaseConfig
    from engine.storage.schema import Migration


class StorageUnavailable(Exception):
    """The database cannot be reached now: retry later."""


class StorageConfigError(Exception):
    """A setting is wrong (bad URL, credentials, newer schema): one line naming what and where."""


class StorageDataError(Exception):
    """The database refused the rows (not the connection): retrying the same rows fails again."""


class Backend(Protocol):
    """What the writer needs. Every method is a coroutine that never blocks the event loop
    for longer than a network round trip's bookkeeping."""

    name: str  # "postgresql" | "sqlite"

    async def start(self) -> None:
        """Connect, apply pending migrations, create today's partitions and those ahead.
        StorageConfigError / StorageUnavailable."""
        ...

    async def write(self, table: str, rows: Sequence[tuple[Any, ...]]) -> int:
        """Write `rows` (tuples in TABLES[table] order) in one transaction, all or nothing.
        Returns the rows written: fills already stored (venue, symbol, trade_id) are ignored
        and not counted; an order row replaces the stored one with the same
        (client_order_id, created_ns) unless the stored one has a newer updated_ns, and
        several versions of one order in a batch count once (the newest wins)."""
        ...

    async def maintain(self, now_ns: int) -> None:
        """Create the partitions of `now_ns`'s UTC day and `partitions_ahead_days` after it;
        drop those older than `retention_days` before it. No-op on SQLite."""
        ...

    async def fetch(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        """A parameterised read, `$1`, `$2`... placeholders on both backends."""
        ...

    async def close(self) -> None: ...


class ManagedBackend(Backend, Protocol):
    """What `python -m engine db` needs besides the writer's interface."""

    location: str  # the masked URL or the SQLite path: safe to print

    async def connect(self) -> None:
        """Open the connection(s) without migrating (start() calls it)."""
        ...

    async def schema_version(self) -> int:
        """The version recorded in schema_version; 0 on an empty database."""
        ...

    async def migrate(self) -> list[int]:
        """Apply pending migrations in one transaction; returns the versions applied."""
        ...

    async def partitions(self) -> dict[str, list[str]]:
        """table -> its partitions' names, oldest first ({} on SQLite)."""
        ...


def open_backend(
    config: DatabaseConfig,
    *,
    migrations: Sequence[Migration] | None = None,
    server_settings: Mapping[str, str] | None = None,
    clock_ns: Callable[[], int] = time.time_ns,
) -> ManagedBackend:
    """The backend `config.url` names, not yet started. `migrations` (default: all the
    engine knows), `server_settings` (PostgreSQL session settings such as search_path) and
    `clock_ns` (the time start() makes partitions for) are for tests and tools."""
    from engine.storage.schema import MIGRATIONS  # noqa: PLC0415

    chosen = tuple(MIGRATIONS if migrations is None else migrations)
    if config.url:
        # imported here: asyncpg is not loaded by a process that stores to SQLite
        from engine.storage.postgres import PostgresBackend  # noqa: PLC0415

        return PostgresBackend(
            config, migrations=chosen, server_settings=server_settings, clock_ns=clock_ns
        )
    from engine.storage.sqlite import SqliteBackend  # noqa: PLC0415

    return SqliteBackend(config, migrations=chosen, clock_ns=clock_ns)
