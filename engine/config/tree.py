"""Walking the schema: fields by TOML name, dotted keys to fields, copy-on-write assignment
and iteration over every leaf value. Knows nothing about where values come from."""

from __future__ import annotations

import dataclasses
import enum
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from engine.config.errors import Invalid, unknown
from engine.config.schema import EngineConfig
from engine.config.spec import Spec, spec_of


class Kind(enum.Enum):
    LEAF = "leaf"  # a value
    SECTION = "section"  # a nested dataclass
    TABLE = "table"  # dict of dataclasses keyed by a name from spec.choices (venues)


@dataclass(frozen=True, slots=True)
class Node:
    name: str  # the TOML / env / dotted-key name
    attr: str  # the dataclass attribute (differs for `class` -> `class_`)
    tp: Any
    spec: Spec
    kind: Kind
    child: type[Any] | None  # the dataclass inside a SECTION or TABLE


@dataclass(frozen=True, slots=True)
class Leaf:
    dotted: str  # strategy.class, venues.binance.enabled
    attrs: tuple[str, ...]  # ("strategy", "class_"), ("venues", "binance", "enabled")
    node: Node


_NODES: dict[type[Any], dict[str, Node]] = {}


def nodes(cls: type[Any]) -> dict[str, Node]:
    """The fields of a schema dataclass keyed by their TOML name, in declaration order."""
    cached = _NODES.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls)
    out: dict[str, Node] = {}
    for fld in dataclasses.fields(cls):
        spec = spec_of(fld)
        tp = hints[fld.name]
        args = typing.get_args(tp)
        if dataclasses.is_dataclass(tp):
            kind, child = Kind.SECTION, typing.cast(type[Any], tp)
        elif typing.get_origin(tp) is dict and args and dataclasses.is_dataclass(args[1]):
            kind, child = Kind.TABLE, typing.cast(type[Any], args[1])
        else:
            kind, child = Kind.LEAF, None
        name = spec.toml_name or fld.name
        out[name] = Node(name, fld.name, tp, spec, kind, child)
    _NODES[cls] = out
    return out


def lookup(cls: type[Any], name: str, at: Sequence[str]) -> Node:
    found = nodes(cls).get(name)
    if found is None:
        raise Invalid(unknown("key", name, nodes(cls)), key=".".join([*at, name]))
    return found


def table_entry(node: Node, name: str, at: Sequence[str]) -> str:
    """Check a TABLE entry name (a venue) against the schema's allowed names."""
    if name not in node.spec.choices:
        raise Invalid(unknown("name", name, node.spec.choices), key=".".join([*at, name]))
    return name


def resolve(parts: Sequence[str]) -> Leaf:
    """`("risk", "max_position")` -> the leaf, or Invalid naming the first wrong part."""
    cls: type[Any] = EngineConfig
    dotted: list[str] = []
    attrs: list[str] = []
    i = 0
    while i < len(parts):
        node = lookup(cls, parts[i], dotted)
        dotted.append(node.name)
        attrs.append(node.attr)
        i += 1
        if node.kind is Kind.LEAF:
            if i < len(parts):
                raise Invalid(
                    f"{node.name} is a value, not a table", key=".".join([*dotted, *parts[i:]])
                )
            return Leaf(".".join(dotted), tuple(attrs), node)
        if node.kind is Kind.TABLE and i < len(parts):
            entry = table_entry(node, parts[i], dotted)
            dotted.append(entry)
            attrs.append(entry)
            i += 1
        assert node.child is not None
        cls = node.child
    raise Invalid("is a table, not a value; set one of its keys", key=".".join(dotted))


def assign(obj: Any, attrs: Sequence[str], value: Any) -> Any:
    """A copy of `obj` with the value at `attrs` replaced; untouched parts are shared."""
    head, rest = attrs[0], attrs[1:]
    if isinstance(obj, dict):
        new = dict(obj)
        new[head] = assign(obj[head], rest, value) if rest else value
        return new
    child = assign(getattr(obj, head), rest, value) if rest else value
    return dataclasses.replace(obj, **{head: child})


def leaves(
    obj: Any, at: tuple[str, ...] = (), attrs: tuple[str, ...] = ()
) -> Iterator[tuple[Leaf, Any]]:
    """Every leaf of a config (or of one section) with its value, in schema order."""
    for node in nodes(type(obj)).values():
        value = getattr(obj, node.attr)
        here, here_attrs = (*at, node.name), (*attrs, node.attr)
        if node.kind is Kind.LEAF:
            yield Leaf(".".join(here), here_attrs, node), value
        elif node.kind is Kind.SECTION:
            yield from leaves(value, here, here_attrs)
        else:
            for name, entry in value.items():
                yield from leaves(entry, (*here, name), (*here_attrs, name))
