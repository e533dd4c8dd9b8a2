"""`python -m engine db migrate|status --config FILE`: the storage schema from the shell.

    db migrate --config F   connect to database.url (or the SQLite file at
                            database.sqlite_path), apply pending migrations, create today's
                            partitions and those ahead, drop those past retention (PostgreSQL)
    db status --config F    the schema version against this engine's, and the partitions;
                            changes nothing

Credentials come from the environment (HFT__DATABASE__URL, PGPASSWORD), as for the engine;
the URL is printed masked.

Exit codes: 0 done / up to date, 1 the database cannot be reached now or (status) migrations
are pending, 2 bad usage or bad config (a wrong URL, credentials, a schema newer than this
engine). Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from engine.config import ConfigError, DatabaseConfig, load_config
from engine.storage.backend import (
    ManagedBackend,
    StorageConfigError,
    StorageDataError,
    StorageUnavailable,
    open_backend,
)
from engine.storage.names import partition_day
from engine.storage.schema import LATEST_VERSION

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=("migrate", "status"),
        help="migrate: apply pending migrations and make partitions; status: show them",
    )
    parser.add_argument(
        "--config",
        type=Path,
        dest="db_config",
        metavar="PATH",
        help="the engine's TOML config file (its [database] section; default: built-in)",
    )


def _fail(message: str, code: int) -> int:
    print(f"engine: error: {message}", file=sys.stderr)
    return code


def _describe(backend: ManagedBackend) -> str:
    return f"{backend.name} {backend.location}"


async def _migrate(config: DatabaseConfig) -> int:
    backend = open_backend(config)
    try:
        await backend.connect()
        before = await backend.schema_version()
        await backend.start()  # migrates, then makes and drops partitions
        after = await backend.schema_version()
        partitions = await backend.partitions()
    finally:
        await backend.close()
    if after == before:
        print(f"{_describe(backend)}: schema up to date at version {after}")
    else:
        print(f"{_describe(backend)}: schema migrated from version {before} to {after}")
    if partitions:
        print(_partition_summary(partitions))
    return EXIT_OK


async def _status(config: DatabaseConfig) -> int:
    if not config.url and not Path(config.sqlite_path).exists():
        print(
            f"sqlite {config.sqlite_path}: no database yet (schema version 0, this engine "
            f"{LATEST_VERSION}): `python -m engine db migrate` creates it"
        )
        return EXIT_FAILED
    backend = open_backend(config)
    try:
        await backend.connect()
        version = await backend.schema_version()
        partitions = await backend.partitions() if version else {}
    finally:
        await backend.close()
    if version > LATEST_VERSION:
        return _fail(
            f"{_describe(backend)}: schema version {version} is newer than this engine knows "
            f"({LATEST_VERSION}): upgrade the engine",
            EXIT_CONFIG,
        )
    if version < LATEST_VERSION:
        print(
            f"{_describe(backend)}: schema version {version}, this engine {LATEST_VERSION}: "
            f"{LATEST_VERSION - version} migration(s) pending, run `python -m engine db migrate`"
        )
        return EXIT_FAILED
    print(f"{_describe(backend)}: schema up to date at version {version}")
    if partitions:
        print(_partition_summary(partitions))
    return EXIT_OK


def _partition_summary(partitions: dict[str, list[str]]) -> str:
    """One line per table: how many daily partitions, first and last day."""
    lines = ["partitions (daily, UTC):"]
    for table, names in partitions.items():
        days = sorted(d for d in (partition_day(table, n) for n in names) if d is not None)
        if not days:
            lines.append(f"  {table}: none")
            continue
        first, last = (_day_text(d) for d in (days[0], days[-1]))
        lines.append(f"  {table}: {len(days)} ({first} .. {last})")
    return "\n".join(lines)


def _day_text(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))


def main(args: argparse.Namespace, config: Path | None = None) -> int:
    """Run the `db` subcommand. `config` is the top-level --config, used when the
    subcommand's own is not given."""
    path: Path | None = getattr(args, "db_config", None) or config
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    work = _migrate if args.action == "migrate" else _status
    try:
        return asyncio.run(work(cfg.database))
    except StorageConfigError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    except (StorageUnavailable, StorageDataError) as exc:
        return _fail(str(exc), EXIT_FAILED)
