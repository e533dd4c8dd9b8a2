"""The logical schema, its DDL on PostgreSQL and SQLite, and the ordered list of migrations.

Both backends hold the same tables with the same columns in the same order (`TABLES`);
rows are plain tuples in that order. Column kinds:

- MONEY: prices, quantities, fees, PnL. PostgreSQL `numeric` (unconstrained, so the scale
  written is the scale read back), SQLite `DECIMAL_TEXT` (TEXT affinity, written with
  `format(value, "f")`, read back as `Decimal` by a converter). Never a float.
- NS: int64 nanoseconds since the Unix epoch (`bigint` / INTEGER), names ending in `_ns`.
- TEXT and INT (`integer`): as they say.

PostgreSQL partitions every table except `schema_version` by RANGE on its partition column
(`created_ns` for orders, `ts_ns` for the rest), one partition per UTC day whose bounds are
the day's first ns and the next day's first ns. The partitions themselves are not part of
the schema: the backend creates them ahead of time and drops them after the retention.

Migrations. `MIGRATIONS` is ordered by version, starting at 1, without gaps. Version 1 is
the whole schema, rendered from `_V1` below. A migration, once released, never changes:
to evolve the schema, append `Migration(2, ...)` with its statements for both backends
(an `ALTER TABLE ... ADD COLUMN`, a `CREATE INDEX`) and, when columns change, update
`TABLE_SPECS` (the current tables, which the write paths use) — never `_V1`. All pending
migrations are applied in one transaction, recorded in `schema_version`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

from engine.storage.names import identifier, quoted


class Kind(Enum):
    TEXT = "text"
    MONEY = "money"
    NS = "ns"
    INT = "int"


_PG_TYPE = {Kind.TEXT: "text", Kind.MONEY: "numeric", Kind.NS: "bigint", Kind.INT: "integer"}
# DECIMAL_TEXT: the word TEXT gives it TEXT affinity (a declared type of DECIMAL alone would
# get NUMERIC affinity, and SQLite would turn '0.10' into the float 0.1).
SQLITE_DECIMAL = "DECIMAL_TEXT"
_SQLITE_TYPE = {
    Kind.TEXT: "TEXT",
    Kind.MONEY: SQLITE_DECIMAL,
    Kind.NS: "INTEGER",
    Kind.INT: "INTEGER",
}


class Conflict(Enum):
    """What a row whose key is already stored does."""

    NONE = "none"  # no key: every row is appended
    IGNORE = "ignore"  # the stored row stays (fills: the same trade seen twice)
    UPDATE = "update"  # the newer row replaces it (orders: by updated_ns)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    not_null: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    partition_column: str  # the NS column PostgreSQL partitions by day
    key: tuple[str, ...] = ()  # the logical unique key
    conflict: Conflict = Conflict.NONE
    indexes: tuple[tuple[str, ...], ...] = ()  # besides the key's own index

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def pg_key(self) -> tuple[str, ...]:
        """PostgreSQL's unique key on a partitioned table must hold the partition column; the
        same trade always has the same ts_ns, so adding it changes nothing."""
        if not self.key or self.partition_column in self.key:
            return self.key
        return (*self.key, self.partition_column)

    def index(self, name: str) -> int:
        return self.column_names.index(name)

    def money_indexes(self) -> tuple[int, ...]:
        return tuple(i for i, c in enumerate(self.columns) if c.kind is Kind.MONEY)


def _t(name: str) -> Column:
    return Column(name, Kind.TEXT)


def _m(name: str) -> Column:
    return Column(name, Kind.MONEY)


def _ns(name: str, *, not_null: bool = True) -> Column:
    return Column(name, Kind.NS, not_null)


def _key(name: str) -> Column:
    return Column(name, Kind.TEXT, not_null=True)


# Version 1, frozen: never edit; add a migration instead (see the module docstring).
_V1: tuple[Table, ...] = (
    Table(
        "orders",
        (
            _key("client_order_id"),
            _t("venue"),
            _t("symbol"),
            _t("side"),
            _t("order_type"),
            _t("time_in_force"),
            _m("price"),
            _m("quantity"),
            _t("status"),
            _t("venue_order_id"),
            _ns("created_ns"),
            _ns("updated_ns"),
        ),
        partition_column="created_ns",
        key=("client_order_id", "created_ns"),
        conflict=Conflict.UPDATE,
        # the key (client_order_id, created_ns) already indexes client_order_id
        indexes=(("symbol", "created_ns"),),
    ),
    Table(
        "order_events",
        (
            _ns("ts_ns"),
            _t("client_order_id"),
            _t("venue"),
            _t("symbol"),
            _t("event"),
            _t("status"),
            _m("price"),
            _m("quantity"),
            _m("filled"),
            _t("reason"),
        ),
        partition_column="ts_ns",
        indexes=(("symbol", "ts_ns"), ("client_order_id",)),
    ),
    Table(
        "fills",
        (
            _ns("ts_ns"),
            _key("venue"),
            _key("symbol"),
            _t("side"),
            _m("price"),
            _m("quantity"),
            _m("fee"),
            _t("fee_asset"),
            _key("trade_id"),
            _t("client_order_id"),
            _t("venue_order_id"),
            _ns("recv_ns", not_null=False),
        ),
        partition_column="ts_ns",
        key=("venue", "symbol", "trade_id"),
        conflict=Conflict.IGNORE,
        indexes=(("symbol", "ts_ns"), ("client_order_id",)),
    ),
    Table(
        "positions",
        (
            _ns("ts_ns"),
            _t("venue"),
            _t("symbol"),
            _m("quantity"),
            _m("cost"),
            _m("realized"),
            _m("fees"),
        ),
        partition_column="ts_ns",
        indexes=(("symbol", "ts_ns"),),
    ),
    Table(
        "pnl_snapshots",
        (
            _ns("ts_ns"),
            _t("venue"),
            _t("symbol"),
            _m("realized"),
            _m("unrealized"),
            _m("fees"),
            _m("equity"),
        ),
        partition_column="ts_ns",
        indexes=(("symbol", "ts_ns"),),
    ),
    Table(
        "risk_events",
        (
            _ns("ts_ns"),
            _t("kind"),
            Column("code", Kind.INT),
            _t("reason"),
            _t("state"),
            _t("detail"),
        ),
        partition_column="ts_ns",
        # no symbol column: the kind of event plays its part
        indexes=(("kind", "ts_ns"),),
    ),
    Table(
        "market_bbo",
        (
            _ns("ts_ns"),
            _t("venue"),
            _t("symbol"),
            _m("bid"),
            _m("bid_qty"),
            _m("ask"),
            _m("ask_qty"),
        ),
        partition_column="ts_ns",
        indexes=(("symbol", "ts_ns"),),
    ),
    Table(
        "market_trades",
        (
            _ns("ts_ns"),
            _t("venue"),
            _t("symbol"),
            _m("price"),
            _m("quantity"),
            _t("side"),
            _t("trade_id"),
        ),
        partition_column="ts_ns",
        indexes=(("symbol", "ts_ns"),),
    ),
    Table(
        "depth_snapshots",
        (_ns("ts_ns"), _t("venue"), _t("symbol"), _t("bids"), _t("asks")),
        partition_column="ts_ns",
        indexes=(("symbol", "ts_ns"),),
    ),
)

# Version 2: an order event has a key, so that rows rebuilt from the order journal (at start,
# after a spill) land once: the same order, time, kind, state and filled quantity is the same
# event (two fills of one order in one millisecond differ by their cumulative fill).
_EVENT_KEY = ("client_order_id", "ts_ns", "event", "status", "filled")
_V2_ORDER_EVENTS = replace(
    next(t for t in _V1 if t.name == "order_events"), key=_EVENT_KEY, conflict=Conflict.IGNORE
)

# Version 3: the control API's audit trail (docs/CONTROL.md), one row per request: what was
# asked, by whom (the client's address), how it ended, and the values before and after (JSON
# text, secrets masked). Day-partitioned on PostgreSQL like every other table.
_V3_AUDIT_EVENTS = Table(
    "audit_events",
    (
        _ns("ts_ns"),
        _t("action"),
        _t("who"),
        _t("outcome"),
        _t("before"),
        _t("after"),
        _t("detail"),
    ),
    partition_column="ts_ns",
    indexes=(("action", "ts_ns"),),
)

# The tables as the code writes them now (the latest version's columns and keys).
TABLE_SPECS: dict[str, Table] = (
    {t.name: t for t in _V1}
    | {"order_events": _V2_ORDER_EVENTS}
    | {_V3_AUDIT_EVENTS.name: _V3_AUDIT_EVENTS}
)
# table -> column names in order: the shape of the rows `Backend.write` takes. The ten
# tables written through `write`; `schema_version` is kept by the migrations alone.
TABLES: dict[str, tuple[str, ...]] = {t.name: t.column_names for t in TABLE_SPECS.values()}
PARTITION_COLUMN: dict[str, str] = {t.name: t.partition_column for t in TABLE_SPECS.values()}
SCHEMA_VERSION_TABLE = "schema_version"


def _index_name(table: str, columns: Sequence[str]) -> str:
    suffix = "_".join("ts" if c in ("ts_ns", "created_ns") else c for c in columns)
    return identifier(f"{table}_{suffix}_idx")


def _column_list(columns: Sequence[str]) -> str:
    return ", ".join(quoted(c) for c in columns)


def _create_table(table: Table, postgres: bool) -> str:
    types = _PG_TYPE if postgres else _SQLITE_TYPE
    lines = [
        f"    {quoted(c.name)} {types[c.kind]}{' NOT NULL' if c.not_null else ''}"
        for c in table.columns
    ]
    key = table.pg_key if postgres else table.key
    if key:
        kind = "PRIMARY KEY" if table.conflict is Conflict.UPDATE else "UNIQUE"
        constraint = quoted(f"{table.name}_key")
        lines.append(f"    CONSTRAINT {constraint} {kind} ({_column_list(key)})")
    body = ",\n".join(lines)
    tail = f" PARTITION BY RANGE ({quoted(table.partition_column)})" if postgres else ""
    return f"CREATE TABLE {quoted(table.name)} (\n{body}\n){tail}"


def _create_indexes(table: Table) -> list[str]:
    # on a partitioned PostgreSQL table, an index on the parent is created on every partition
    return [
        f"CREATE INDEX {quoted(_index_name(table.name, cols))} "
        f"ON {quoted(table.name)} ({_column_list(cols)})"
        for cols in table.indexes
    ]


def create_statements(tables: Sequence[Table], postgres: bool) -> tuple[str, ...]:
    out: list[str] = []
    for table in tables:
        out.append(_create_table(table, postgres))
        out.extend(_create_indexes(table))
    return tuple(out)


# Made before anything else, so the version can be read on an empty database.
SCHEMA_VERSION_DDL = {
    "postgresql": (
        'CREATE TABLE IF NOT EXISTS "schema_version" '
        '("version" integer PRIMARY KEY, "applied_at_ns" bigint NOT NULL)'
    ),
    "sqlite": (
        'CREATE TABLE IF NOT EXISTS "schema_version" '
        '("version" INTEGER PRIMARY KEY, "applied_at_ns" INTEGER NOT NULL)'
    ),
}


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema version: the statements that bring version-1 to it, per backend."""

    version: int
    description: str
    postgresql: tuple[str, ...]
    sqlite: tuple[str, ...]

    def statements(self, backend: str) -> tuple[str, ...]:
        return self.postgresql if backend == "postgresql" else self.sqlite


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "the whole schema: orders, order events, fills, positions, PnL, risk events, market data",
        postgresql=create_statements(_V1, postgres=True),
        sqlite=create_statements(_V1, postgres=False),
    ),
    Migration(
        2,
        "order events keyed: rows rebuilt from the journal are written once",
        postgresql=(
            f'ALTER TABLE "order_events" ADD CONSTRAINT "order_events_key" '
            f"UNIQUE ({_column_list(_EVENT_KEY)})",
        ),
        sqlite=(
            'CREATE UNIQUE INDEX "order_events_key" '
            f'ON "order_events" ({_column_list(_EVENT_KEY)})',
        ),
    ),
    Migration(
        3,
        "audit events: the control API's requests, who asked and what changed",
        postgresql=create_statements((_V3_AUDIT_EVENTS,), postgres=True),
        sqlite=create_statements((_V3_AUDIT_EVENTS,), postgres=False),
    ),
)
LATEST_VERSION = MIGRATIONS[-1].version


def check_migrations(migrations: Sequence[Migration]) -> int:
    """The latest version of `migrations`; ValueError unless they run 1, 2, ... n."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations must be numbered 1..n in order, got {versions}")
    return len(versions)


# "Today's fills" (UTC) as an operator types it into psql / sqlite3; docs/STORAGE.md shows
# them and the tests run them.
TODAYS_FILLS = {
    "postgresql": (
        "SELECT * FROM fills WHERE ts_ns >= "
        "extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'UTC'))::bigint * 1000000000 "
        "ORDER BY ts_ns"
    ),
    "sqlite": (
        "SELECT * FROM fills WHERE ts_ns >= "
        "CAST(strftime('%s', 'now', 'start of day') AS INTEGER) * 1000000000 "
        "ORDER BY ts_ns"
    ),
}
