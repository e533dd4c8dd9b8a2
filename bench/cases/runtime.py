"""Runtime case: one full garbage collection in a process holding what the engine imports
(its modules, the clients, numpy and numba: ~110,000 container objects before it builds a
single book), with those objects frozen out of the collector as the engine does once it has
started (`system.gc_freeze`, engine/runtime/gc_policy.py), against the same collection with
nothing frozen: the pause a full collection puts on whichever frame or flush it lands.
"""

from __future__ import annotations

import gc
import time

from bench.runner import Pair, case


def _collections(n: int) -> int:
    start = time.perf_counter_ns()
    for _ in range(n):
        gc.collect()
    return time.perf_counter_ns() - start


def _frozen(n: int) -> int:
    gc.collect()
    gc.freeze()
    try:
        return _collections(n)
    finally:
        gc.unfreeze()  # the bench process goes on as it was


@case(
    "runtime.gc_full",
    about="one full gc.collect() with the engine's startup objects frozen (gc.freeze); "
    "baseline: the same collection with nothing frozen",
)
def gc_full() -> Pair:
    import engine.app  # noqa: F401 - what a running engine holds, at least

    return Pair(
        _frozen,
        _collections,
        batch=2,
        self_timed=True,
        report={"tracked_objects": len(gc.get_objects())},
        about="one full gc.collect() with the engine's startup objects frozen; baseline: "
        "nothing frozen",
    )
