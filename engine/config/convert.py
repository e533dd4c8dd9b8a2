"""Turning raw values into typed, checked ones, by the schema field's type.

Three origins: a TOML file gives typed values and is checked strictly (a TOML float is never
money); the environment gives strings, parsed by type; a runtime update accepts either.
"""

from __future__ import annotations

import enum
import json
import math
import typing
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.config.credentials import show, url_has_password
from engine.config.errors import Invalid
from engine.config.spec import Spec
from engine.config.tree import Node

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class Origin(enum.Enum):
    FILE = "file"  # typed TOML values, checked strictly
    ENV = "env"  # strings, parsed by type
    RUNTIME = "runtime"  # strings parsed as ENV, typed values checked as FILE


def convert(raw: Any, node: Node, origin: Origin) -> Any:
    """The typed, range-checked value for `node`, or Invalid saying what is wrong."""
    spec = node.spec
    try:
        if origin is Origin.ENV or (
            origin is Origin.RUNTIME and isinstance(raw, str) and node.tp is not str
        ):
            value = _parse(raw, node.tp)
        else:
            value = _typed(raw, node.tp, origin)
    except Invalid as exc:
        allowed = spec.allowed()
        raise Invalid(f"{exc.problem} (allowed {allowed})" if allowed else exc.problem) from None
    _check(value, spec, origin)
    return value


def _type_name(tp: Any) -> str:
    names = {str: "a string", int: "an int", float: "a number", bool: "a boolean"}
    if tp in names:
        return names[tp]
    if tp is Decimal:
        return "a decimal number"
    if typing.get_origin(tp) is list:
        return {int: "a list of ints", str: "a list of strings"}[typing.get_args(tp)[0]]
    return "a table"


def _not(raw: Any, tp: Any) -> Invalid:
    return Invalid(f"{show(raw)} is not {_type_name(tp)}")


def _typed(raw: Any, tp: Any, origin: Origin) -> Any:
    if tp is bool:
        if isinstance(raw, bool):
            return raw
    elif tp is int:
        if isinstance(raw, int) and not isinstance(raw, bool):  # bool is an int in Python
            return raw
    elif tp is float:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return _finite(float(raw), raw)
    elif tp is str:
        if isinstance(raw, str):
            return raw
    elif tp is Decimal:
        return _decimal(raw, origin)
    elif typing.get_origin(tp) is list:
        if isinstance(raw, list) or (origin is Origin.RUNTIME and isinstance(raw, tuple)):
            (item_tp,) = typing.get_args(tp)
            out = []
            for i, item in enumerate(raw):
                try:
                    out.append(_typed(item, item_tp, origin))
                except Invalid as exc:
                    raise Invalid(f"item {i}: {exc.problem}") from None
            return out
    elif isinstance(raw, Mapping):
        return _plain(raw, "")
    raise _not(raw, tp)


def _decimal(raw: Any, origin: Origin) -> Decimal:
    # Money is exact: a binary float (1.1 is 1.100000000000000088...) never becomes one.
    if isinstance(raw, float):
        where = "a TOML float" if origin is Origin.FILE else "a float"
        raise Invalid(f'{show(raw)} is {where}; quote it ("{raw}") so the amount stays exact')
    if isinstance(raw, Decimal):
        return _finite_decimal(raw, raw)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return Decimal(raw)
    if isinstance(raw, str):
        return _parse(raw, Decimal)  # type: ignore[no-any-return]
    raise _not(raw, Decimal)


def _finite(value: float, raw: Any) -> float:
    if not math.isfinite(value):
        raise Invalid(f"{show(raw)} is not a finite number")
    return value


def _finite_decimal(value: Decimal, raw: Any) -> Decimal:
    if not value.is_finite():
        raise Invalid(f"{show(raw)} is not a finite number")
    return value


def _parse(text: str, tp: Any) -> Any:
    """Parse an environment (or runtime) string by the field's type."""
    stripped = text.strip()
    if tp is str:
        return text
    if tp is bool:
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return False
        raise Invalid(f"{show(text)} is not a boolean (true/false/1/0/yes/no)")
    if tp is int:
        try:
            return int(stripped, 10)
        except ValueError:
            raise _not(text, tp) from None
    if tp is float:
        try:
            return _finite(float(stripped), text)
        except ValueError:
            raise _not(text, tp) from None
    if tp is Decimal:
        try:
            return _finite_decimal(Decimal(stripped), text)
        except InvalidOperation:
            raise _not(text, tp) from None
    if typing.get_origin(tp) is list:
        if stripped.startswith("["):
            return _typed(_json(text), tp, Origin.RUNTIME)
        (item_tp,) = typing.get_args(tp)
        items = [part.strip() for part in stripped.split(",") if part.strip()]
        out = []
        for i, item in enumerate(items):
            try:
                out.append(_parse(item, item_tp))
            except Invalid as exc:
                raise Invalid(f"item {i}: {exc.problem}") from None
        return out
    data = _json(text)
    if not isinstance(data, dict):
        raise Invalid(f"{show(text)} is not a JSON object")
    return _plain(data, "")


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid(f"{show(text)} is not valid JSON ({exc.msg} at column {exc.colno})") from None


def _plain(value: Any, at: str) -> Any:
    """A copy of free-form data, limited to what JSON and TOML can both carry."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Invalid(f"key {show(key)} is not a string")
            out[key] = _plain(item, f"{at}.{key}" if at else key)
        return out
    if isinstance(value, list):
        return [_plain(item, f"{at}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, float):
        return _finite(value, value)
    if isinstance(value, str | int):  # bool is an int
        return value
    kind = "null" if value is None else type(value).__name__
    where = f"{at}: " if at else ""
    raise Invalid(
        f"{where}{kind} values are not supported (strings, numbers, booleans, lists, tables)"
    )


def _check(value: Any, spec: Spec, origin: Origin) -> None:
    if spec.credential_hint and origin is Origin.FILE and url_has_password(value):
        raise Invalid(
            "a password in the URL is not allowed in the config file; "
            f"put it in {spec.credential_hint}"
        )
    if spec.choices and value not in spec.choices:
        raise Invalid(f"{show(value)} is not {spec.allowed()}")
    lo, hi = spec.bounds
    if lo is not None or hi is not None:
        below = lo is not None and (value <= lo if spec.exclusive_min else value < lo)
        if below or (hi is not None and value > hi):
            raise Invalid(f"{show(value)} is out of range (allowed {spec.allowed()})")
    if spec.check is not None:
        problem = spec.check(value)
        if problem:
            raise Invalid(problem)
