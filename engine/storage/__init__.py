"""Storage: the history of everything the engine sees and does, on PostgreSQL or SQLite.

`open_backend(config.database)` gives the backend `database.url` names; the writer talks to
it through the `Backend` protocol. See docs/STORAGE.md.
"""

from engine.storage.backend import (
    Backend,
    ManagedBackend,
    StorageConfigError,
    StorageDataError,
    StorageUnavailable,
    open_backend,
)
from engine.storage.schema import (
    LATEST_VERSION,
    MIGRATIONS,
    PARTITION_COLUMN,
    TABLES,
    Migration,
)

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "PARTITION_COLUMN",
    "TABLES",
    "Backend",
    "ManagedBackend",
    "Migration",
    "StorageConfigError",
    "StorageDataError",
    "StorageUnavailable",
    "open_backend",
]
