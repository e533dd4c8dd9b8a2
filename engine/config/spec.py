"""Field metadata: what the schema says about each key besides its type.

Every schema field is declared with `setting(...)` (a leaf) or `section(...)` (a nested
table); the metadata they attach is what validation, the env layer, hot updates and the
renderers read, so the dataclasses stay the single source of truth.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

T = TypeVar("T")
Number = int | float | Decimal
# A check returns None when the (already typed) value is fine, else the problem in words.
Check = Callable[[Any], str | None]

_META = "hft_spec"


@dataclass(frozen=True, slots=True)
class Spec:
    doc: str
    hot: bool = False
    bounds: tuple[Number | None, Number | None] = (None, None)
    exclusive_min: bool = False
    choices: tuple[str, ...] = ()
    check: Check | None = None
    toml_name: str = ""
    # set for URL fields: a password in the URL is refused from a file, with this hint
    credential_hint: str = ""

    def allowed(self) -> str:
        """`1..256`, `> 0`, `>= 0`, `one of: a, b` or '' when anything of the type goes."""
        lo, hi = self.bounds
        if self.choices:
            return "one of: " + ", ".join(c if c else '""' for c in self.choices)
        if lo is not None and hi is not None and not self.exclusive_min:
            return f"{lo}..{hi}"
        parts = []
        if lo is not None:
            parts.append(f"{'>' if self.exclusive_min else '>='} {lo}")
        if hi is not None:
            parts.append(f"<= {hi}")
        return " and ".join(parts)


def setting(
    default: T,
    doc: str,
    *,
    hot: bool = False,
    bounds: tuple[Number | None, Number | None] = (None, None),
    exclusive_min: bool = False,
    choices: tuple[str, ...] = (),
    check: Check | None = None,
    toml_name: str = "",
    credential_hint: str = "",
) -> T:
    """A leaf field. Mutable defaults (lists, dicts) get a fresh copy per instance."""
    spec = Spec(doc, hot, bounds, exclusive_min, choices, check, toml_name, credential_hint)
    metadata = {_META: spec}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def section(factory: Callable[[], T], doc: str, *, choices: tuple[str, ...] = ()) -> T:
    """A nested table (a dataclass) or, with `choices`, a table of them keyed by name."""
    return field(default_factory=factory, metadata={_META: Spec(doc, choices=choices)})


def spec_of(fld: dataclasses.Field[Any]) -> Spec:
    spec = fld.metadata.get(_META)
    if not isinstance(spec, Spec):
        raise TypeError(f"schema field {fld.name!r} was not declared with setting()/section()")
    return spec
