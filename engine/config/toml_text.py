"""A small TOML writer for plain data (tomllib only reads). Tables become `[a.b]` sections,
tables inside arrays stay inline; `Note` adds a trailing comment, `Omitted` writes the key as
a comment only."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


@dataclass(frozen=True, slots=True)
class Note:
    value: Any
    comment: str


@dataclass(frozen=True, slots=True)
class Omitted:
    comment: str


def dumps(table: Mapping[str, Any]) -> str:
    lines: list[str] = []
    _table(table, (), lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(table: Mapping[str, Any], path: tuple[str, ...], lines: list[str]) -> None:
    body: list[str] = []
    subtables: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            subtables.append((key, value))
        elif isinstance(value, Omitted):
            body.append(f"# {_key(key)} = ...  # {_comment(value.comment)}")
        elif isinstance(value, Note):
            body.append(f"{_key(key)} = {_value(value.value)}  # {_comment(value.comment)}")
        else:
            body.append(f"{_key(key)} = {_value(value)}")
    # a table holding only tables needs no header; an empty one does, or it would vanish
    if path and (body or not subtables):
        lines.extend(["", f"[{'.'.join(_key(p) for p in path)}]"])
    lines.extend(body)
    for key, sub in subtables:
        _table(sub, (*path, key), lines)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _comment(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:  # TOML forbids raw control characters
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Decimal):
        return _string(str(value))  # money is written quoted so it reads back exact
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
