"""Value checks the schema attaches to fields (beyond type, range and choices).

Each returns None when the value is fine, else the problem in a few words; the loader adds
the source and the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from engine.config.credentials import show
from engine.config.spec import Check

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CLASS_PATH = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?::[A-Za-z_]\w*)?$")


def url(*schemes: str, empty_ok: bool) -> Check:
    """The URL must start with one of `schemes` (`postgresql://`, ...); '' allowed if empty_ok."""

    def check(value: Any) -> str | None:
        if value == "" and empty_ok:
            return None
        if not value.startswith(schemes) or value in schemes:
            empty = ' or ""' if empty_ok else ""
            return f"{show(value)} must start with {' or '.join(schemes)}{empty}"
        return None

    return check


def not_empty(value: Any) -> str | None:
    return "must not be empty" if value == "" else None


def env_name(value: Any) -> str | None:
    """The name (never the value) of an environment variable, or '' for none."""
    if value == "" or _ENV_NAME.match(value):
        return None
    return f"{show(value)} is not an environment variable name (letters, digits, _)"


def class_path(value: Any) -> str | None:
    if _CLASS_PATH.match(value):
        return None
    return f"{show(value)} is not a dotted class path like 'package.module:ClassName'"


def symbols(value: Any) -> str | None:
    for item in value:
        if not item or any(ch.isspace() for ch in item):
            return f"{show(item)} is not a symbol (no blanks, not empty)"
    return None


def available_cpus() -> set[int]:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def _ranges(cpus: Iterable[int]) -> str:
    """{0,1,2,3,8} -> '0-3,8': a 128-CPU host stays readable in a one-line error."""
    runs: list[list[int]] = []
    for cpu in sorted(cpus):
        if runs and runs[-1][1] == cpu - 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in runs)


def cpus(value: Any) -> str | None:
    """Pinning to a CPU outside the affinity mask fails at start; say so at load instead."""
    allowed = available_cpus()
    seen: set[int] = set()
    for cpu in value:
        if cpu in seen:
            return f"CPU {cpu} is listed twice"
        seen.add(cpu)
        if cpu not in allowed:
            return f"CPU {cpu} is not available to this process (available: {_ranges(allowed)})"
    return None
