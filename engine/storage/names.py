"""The only way an identifier reaches SQL text: table, index, partition and schema names.

Values always travel as query parameters; identifiers cannot, so every name put into a
statement (a daily partition `fills_p20260309`, a schema chosen by a test) is first checked
against `^[a-z_][a-z0-9_]{0,62}$`: lower-case ASCII, no quotes, no blanks, no semicolons, at
most 63 bytes (PostgreSQL's limit, beyond which it silently truncates). The match is a
`fullmatch`, so a trailing newline is refused too (`$` alone would let `"x\\n"` through).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
DAY_NS = 86_400 * 10**9
_EPOCH = date(1970, 1, 1)
_PARTITION_SUFFIX = re.compile(r"_p([0-9]{4})([0-9]{2})([0-9]{2})")


class InvalidName(ValueError):
    """A name that may not appear in SQL text."""


def identifier(name: str) -> str:
    """`name` itself if it is a safe identifier, else InvalidName."""
    if not isinstance(name, str) or IDENTIFIER.fullmatch(name) is None:
        raise InvalidName(
            f"{name!r} is not a valid SQL name (lower-case letters, digits and _, "
            "starting with a letter or _, at most 63 characters)"
        )
    return name


def quoted(name: str) -> str:
    """The checked name in double quotes, ready for SQL text (quoting also keeps a name that
    happens to be a reserved word from being read as one)."""
    return f'"{identifier(name)}"'


def day_of(ts_ns: int) -> int:
    """Days since 1970-01-01 (UTC) of a time in ns since the epoch; floors before 1970."""
    return ts_ns // DAY_NS


def day_date(day: int) -> date:
    return _EPOCH + timedelta(days=day)


def partition_name(table: str, day: int) -> str:
    """`fills`, day of 2026-03-09 -> `fills_p20260309` (checked)."""
    d = day_date(day)
    return identifier(f"{identifier(table)}_p{d.year:04d}{d.month:02d}{d.day:02d}")


def partition_day(table: str, name: str) -> int | None:
    """The day a partition named by `partition_name(table, day)` holds, None for any other
    name (a partition someone made by hand is never touched by retention)."""
    prefix = identifier(table)
    if not name.startswith(prefix):
        return None
    match = _PARTITION_SUFFIX.fullmatch(name, len(prefix))
    if match is None:
        return None
    try:
        d = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return (d - _EPOCH).days
