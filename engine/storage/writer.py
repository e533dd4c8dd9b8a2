"""The storage write path: bounded in-memory buffers on the hot path, one task that writes
them in batches, and back-pressure that never loses an order or a fill (docs/STORAGE.md).

The hot path calls `TableBuffer.put(row)`: one list append and one length check, no I/O, no
await. The writer task wakes every `flush_interval_ms`, or at once when a buffer reaches
`batch_size`, and hands each non-empty buffer to the backend as one transaction
(`Backend.write`: COPY on PostgreSQL, executemany on SQLite).

When the database is slow or down, rows wait in their buffers up to `max_buffered_rows` per
table. Past it, market data (`market_bbo`, `market_trades`, `depth_snapshots`) is dropped
first and counted; the order tables (`orders`, `order_events`, `fills`, and the accounting
tables) are never dropped: their rows past the cap leave memory only because the order
journal already holds what they were made from, and `spill` tells the owner from which
journal sequence the database is missing rows, so it can rebuild them from the journal once
the database is back (`restore`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.storage.backend import Backend, StorageDataError, StorageUnavailable

log = logging.getLogger("engine.storage")

MARKET_TABLES = frozenset({"market_bbo", "market_trades", "depth_snapshots"})
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0


@dataclass(slots=True)
class TableCounters:
    written: int = 0
    dropped: int = 0  # market rows dropped while the database was behind
    spilled: int = 0  # order rows left to the journal while the database was behind
    batches: int = 0
    failures: int = 0
    refused: int = 0  # rows the database refused as data (StorageDataError)


@dataclass(slots=True)
class TableBuffer:
    """One table's pending rows. `put` is the hot path."""

    table: str
    cap: int
    batch_size: int
    wake: Callable[[], None]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    counters: TableCounters = field(default_factory=TableCounters)
    critical: bool = True
    spilling: bool = False  # rows past the cap are being left to the journal
    on_spill: Callable[[str], None] | None = None

    def put(self, row: tuple[Any, ...]) -> None:
        rows = self.rows
        if len(rows) < self.cap:
            rows.append(row)
            if len(rows) == self.batch_size:
                self.wake()
            return
        if not self.critical:
            self.counters.dropped += 1
            return
        self.counters.spilled += 1
        if not self.spilling:
            # told at the first row left out, while it is the journal's newest record: the
            # owner rebuilds from there once the database is back
            self.spilling = True
            if self.on_spill is not None:
                self.on_spill(self.table)


class StorageWriter:
    def __init__(
        self,
        backend: Backend,
        tables: Iterable[str],
        *,
        batch_size: int = 1000,
        flush_interval_ms: int = 200,
        max_buffered_rows: int = 100_000,
        on_spill: Callable[[str], None] | None = None,
        converters: Mapping[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]] | None = None,
    ) -> None:
        """`on_spill(table)`: called with the first row of `table` left to the journal since
        the database fell behind, during that row's `put` (the owner notes the journal's
        newest record: the database misses every row from there)."""
        self.backend = backend
        # table -> what turns a buffered row into the table's row at the flush: the hot path
        # buffers grid ints and the Decimals are made here, off it
        self.converters = dict(converters or {})
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_ms / 1000
        self.on_spill = on_spill
        self._wake = asyncio.Event()
        self.buffers = {
            t: TableBuffer(
                t,
                max_buffered_rows,
                batch_size,
                self._wake.set,
                critical=t not in MARKET_TABLES,
                on_spill=on_spill,
            )
            for t in tables
        }
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.healthy = True
        self.longest_write_s = 0.0

    def buffer(self, table: str) -> TableBuffer:
        return self.buffers[table]

    def put(self, table: str, row: tuple[Any, ...]) -> None:
        """The slower spelling of `buffer(table).put(row)`."""
        self.buffers[table].put(row)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="storage-writer")

    async def stop(self) -> None:
        """Write everything pending (one last try per table), then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    @property
    def pending(self) -> int:
        return sum(len(b.rows) for b in self.buffers.values())

    # ------------------------------------------------------------------ the task

    async def _run(self) -> None:
        delay = RETRY_FIRST_S
        while True:
            with contextlib.suppress(TimeoutError):  # the interval passed: flush anyway
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            self._wake.clear()
            ok = await self.flush()
            while ok and self._closing and self.pending:  # rows put during the last flush
                ok = await self.flush()
            if self._closing:
                if not ok and self.pending:
                    log.error(
                        "storage stopped with rows not written",
                        extra={"rows": self.pending, "backend": self.backend.name},
                    )
                return
            if ok:
                delay = RETRY_FIRST_S
                continue
            await asyncio.sleep(delay)  # the database is away: try again, less often
            delay = min(delay * 2, RETRY_MAX_S)

    async def flush(self) -> bool:
        """Write every non-empty buffer, `batch_size` rows per transaction; False when the
        database could not take them (the rows stay, in order, for the next try)."""
        for buffer in self.buffers.values():
            while buffer.rows:
                if not await self._write_batch(buffer):
                    return False
        if not self.healthy:
            self.healthy = True
            log.warning(
                "database back: buffered rows written", extra={"backend": self.backend.name}
            )
        return True

    async def _write_batch(self, buffer: TableBuffer) -> bool:
        """The oldest `batch_size` rows of `buffer` in one transaction: a batch is what holds
        the event loop (the driver encodes it there), so batches stay small."""
        if len(buffer.rows) <= self.batch_size:
            rows, buffer.rows = buffer.rows, []
        else:
            rows, buffer.rows = buffer.rows[: self.batch_size], buffer.rows[self.batch_size :]
        convert = self.converters.get(buffer.table)
        try:
            started = time.perf_counter()
            table_rows = rows if convert is None else await _converted(rows, convert)
            written = await self.backend.write(buffer.table, table_rows)
            self.longest_write_s = max(self.longest_write_s, time.perf_counter() - started)
        except StorageUnavailable as exc:
            buffer.counters.failures += 1
            buffer.rows = self._requeue(buffer, rows)
            if self.healthy:
                self.healthy = False
                log.error(
                    "database unavailable: rows are kept, market data dropped past the cap",
                    extra={"backend": self.backend.name, "error": str(exc)},
                )
            return False
        except (StorageDataError, ValueError, TypeError, ArithmeticError) as exc:
            # the rows themselves are refused, by the database or by their conversion (a bug,
            # not an outage): retrying them would block the table for good; they are logged
            # and left to the journal
            buffer.counters.failures += 1
            buffer.counters.refused += len(rows)
            log.error(
                "rows refused by the database",
                extra={"table": buffer.table, "rows": len(rows), "error": str(exc)},
            )
            return True
        buffer.counters.written += written
        buffer.counters.batches += 1
        return True

    def _requeue(self, buffer: TableBuffer, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The rows that failed go back before the ones that came since. Order rows all stay
        (at most twice the cap: `put` stops taking them at the cap); market rows keep the
        newest within the cap."""
        merged = rows + buffer.rows
        overflow = len(merged) - buffer.cap
        if overflow <= 0 or buffer.critical:
            return merged
        buffer.counters.dropped += overflow
        return merged[overflow:]  # market data: the oldest is the least useful

    def restore(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Rows rebuilt from the journal after a spill: back in line, ahead of nothing (the
        backend ignores duplicates of fills and upserts orders, so overlap is harmless)."""
        buffer = self.buffers[table]
        buffer.rows.extend(rows)
        buffer.spilling = False
        self._wake.set()

    def counters(self) -> dict[str, dict[str, int]]:
        return {
            t: {
                "written": b.counters.written,
                "dropped": b.counters.dropped,
                "spilled": b.counters.spilled,
                "failures": b.counters.failures,
                "refused": b.counters.refused,
                "pending": len(b.rows),
            }
            for t, b in self.buffers.items()
        }


CONVERT_PER_STEP = 64  # rows converted between two passes of the event loop


async def _converted(
    rows: list[tuple[Any, ...]], convert: Callable[[tuple[Any, ...]], tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """`convert` over `rows`, the event loop run between slices (a batch's Decimals would
    hold it for milliseconds at once)."""
    out: list[tuple[Any, ...]] = []
    for start in range(0, len(rows), CONVERT_PER_STEP):
        if start:
            await asyncio.sleep(0)
        out.extend(map(convert, rows[start : start + CONVERT_PER_STEP]))
    return out
