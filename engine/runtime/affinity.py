"""CPU pinning with `os.sched_setaffinity` (Linux); a no-op report elsewhere."""

from __future__ import annotations

import os


def available_cpus() -> set[int]:
    """CPUs this process may run on (its current affinity mask)."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def pin_process(cpus: list[int]) -> set[int]:
    """Pin the calling process (all its threads created later) to `cpus`; empty = leave as is.

    Returns the affinity in force afterwards. Raises ValueError naming the available CPUs when
    the list asks for one this process cannot use (config validation catches that earlier;
    this guards callers that skip it).
    """
    if not cpus:
        return available_cpus()
    allowed = available_cpus()
    missing = sorted(set(cpus) - allowed)
    if missing:
        raise ValueError(
            f"CPUs {missing} are not available; this process may use {sorted(allowed)}"
        )
    if not hasattr(os, "sched_setaffinity"):
        return allowed
    os.sched_setaffinity(0, set(cpus))
    return available_cpus()
