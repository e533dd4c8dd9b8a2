"""Python's cyclic garbage collector, kept off the hot path.

A full collection walks every container object the process holds: with the engine's
modules, books, tables and clients loaded that is over 100,000 objects, 20-70 ms on this
machine (bench/RESULTS.md, "Garbage collection"), a pause that lands on whichever frame or
flush allocates when it falls due. Almost all of those objects live for the whole run, so
once the engine has started they are collected and then frozen (`gc.freeze`: moved to a
permanent generation no collection walks). Collections still run, over what was made after
the start, so a leaked cycle is still freed.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger("engine.runtime")


def freeze_after_start() -> int:
    """Collect once, then freeze every object alive: the number frozen."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "startup objects frozen out of garbage collection",
        extra={"frozen": frozen, "collect_ms": round((time.perf_counter() - started) * 1e3, 1)},
    )
    return frozen
