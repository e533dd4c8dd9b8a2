"""Storage as an engine component: the database backend and its writer, the order journal,
and the real-time cache, started before trading and stopped after it (docs/STORAGE.md).

Start: the journal is opened first (a full disk or a journal of a newer format stops the
start before any order), then the backend (SQLite by default, PostgreSQL when `database.url`
is set; a database that cannot be reached, wrong credentials or a newer schema stop the start
with one line naming it), then the writer and the cache. Partitions are kept (created ahead,
dropped past retention) once an hour. Stop: the writer writes what it holds, the cache its
last values, the journal is synced and closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import cast

from engine.clock import NS_PER_SECOND, Clock
from engine.component import Component
from engine.config.schema import CacheConfig, DatabaseConfig
from engine.storage.backend import ManagedBackend, StorageConfigError, open_backend
from engine.storage.cache import Cache, make_cache
from engine.storage.journal import FsyncPolicy, Journal, JournalError
from engine.storage.schema import TABLES
from engine.storage.writer import StorageWriter

log = logging.getLogger("engine.storage")

MAINTAIN_EVERY_S = 3600.0


class StorageComponent(Component):
    def __init__(
        self, database: DatabaseConfig, cache: CacheConfig, clock: Clock, state_dir: str = "var"
    ) -> None:
        super().__init__(name="storage")
        self.database = database
        self.journal_path = database.journal_path or str(Path(state_dir) / "journal" / "orders.wal")
        self.cache_config = cache
        self.clock = clock
        self.journal: Journal | None = None
        self.backend: ManagedBackend | None = None
        self.writer: StorageWriter | None = None
        self.cache: Cache = make_cache(CacheConfig())  # off until started
        self._task: asyncio.Task[None] | None = None

    async def _on_start(self) -> None:
        db = self.database
        try:
            self.journal = Journal.open(
                self.journal_path,
                cast(FsyncPolicy, db.journal_fsync),  # the schema allows only its choices
                db.journal_fsync_interval_ms,
            )
        except JournalError as exc:
            raise StorageConfigError(f"database.journal_path: {exc}") from exc
        backend = open_backend(db, clock_ns=self.clock.time_ns)
        await backend.start()
        self.backend = backend
        tables = [t for t in TABLES if db.market_data or t not in ("market_bbo", "market_trades")]
        self.writer = StorageWriter(
            backend,
            tables,
            batch_size=db.batch_size,
            flush_interval_ms=db.flush_interval_ms,
            max_buffered_rows=db.max_buffered_rows,
        )
        self.writer.start()
        self.cache = make_cache(self.cache_config)
        await self.cache.start()
        self._task = asyncio.get_running_loop().create_task(self._maintain())
        log.info(
            "storage ready",
            extra={
                "backend": backend.name,
                "where": backend.location,
                "journal": self.journal_path,
            },
        )

    async def _maintain(self) -> None:
        while True:
            await self.clock.sleep_ns(int(MAINTAIN_EVERY_S * NS_PER_SECOND))
            if self.backend is None:
                continue
            try:
                await self.backend.maintain(self.clock.time_ns())
            except Exception as exc:  # the next hour tries again; writes go on meanwhile
                log.error("partition maintenance failed", extra={"error": str(exc)})

    async def _on_stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.writer is not None:
            await self.writer.stop()
            log.info("storage flushed", extra={"tables": self.writer.counters()})
        await self.cache.stop()
        if self.backend is not None:
            await self.backend.close()
        if self.journal is not None:
            self.journal.close()
