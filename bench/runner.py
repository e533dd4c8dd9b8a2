"""Benchmark runner: each case is timed beside its naive baseline in the same run.

A case is a factory registered with `@case(name)` that returns a `Pair`: two callables that
each perform `n` operations (ours and the naive baseline). Samples alternate candidate and
baseline so both see the same machine noise; each sample times one batch and is divided by
the batch size, so `median_ns`/`p99_ns` are per operation (the p99 of batch means when the
batch is larger than 1; cases that need a true per-event tail use batch=1).
"""

from __future__ import annotations

import importlib
import math
import pkgutil
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Ops = Callable[[int], Any]


@dataclass(frozen=True, slots=True)
class Pair:
    candidate: Ops
    baseline: Ops
    batch: int = 1000  # operations per timed sample
    about: str = ""  # one line: what one operation is, and what the baseline does


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    median_ns: float
    p99_ns: float
    baseline_median_ns: float
    baseline_p99_ns: float
    n: int

    @property
    def ratio(self) -> float:
        """How many times faster than the baseline (baseline median / our median)."""
        return self.baseline_median_ns / self.median_ns if self.median_ns > 0 else float("inf")

    def as_json(self) -> dict[str, float | int]:
        return {
            "median_ns": round(self.median_ns, 1),
            "p99_ns": round(self.p99_ns, 1),
            "baseline_median_ns": round(self.baseline_median_ns, 1),
            "baseline_p99_ns": round(self.baseline_p99_ns, 1),
            "ratio": round(self.ratio, 2),
            "n": self.n,
        }


REGISTRY: dict[str, Callable[[], Pair]] = {}


def case(name: str) -> Callable[[Callable[[], Pair]], Callable[[], Pair]]:
    def register(factory: Callable[[], Pair]) -> Callable[[], Pair]:
        if name in REGISTRY:
            raise ValueError(f"benchmark case {name!r} registered twice")
        REGISTRY[name] = factory
        return factory

    return register


def discover() -> dict[str, Callable[[], Pair]]:
    """Import every module of bench.cases so their @case decorators register."""
    import bench.cases

    for info in pkgutil.iter_modules(bench.cases.__path__):
        importlib.import_module(f"bench.cases.{info.name}")
    return REGISTRY


def select(names: Iterable[str]) -> list[str]:
    """Exact names or prefixes (`depth` selects every `depth.*`); all when empty."""
    wanted = list(names)
    known = sorted(discover())
    if not wanted:
        return known
    chosen: list[str] = []
    for want in wanted:
        hits = [n for n in known if n == want or n.startswith(want.rstrip(".") + ".")]
        if not hits:
            raise KeyError(f"no benchmark case {want!r}; known: {', '.join(known)}")
        chosen += [h for h in hits if h not in chosen]
    return chosen


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: a reported p99 is a measured sample)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def _time_batch(ops: Ops, batch: int) -> float:
    t0 = time.perf_counter_ns()
    ops(batch)
    return (time.perf_counter_ns() - t0) / batch


def measure(name: str, pair: Pair, samples: int, warmup: int) -> Result:
    for _ in range(warmup):
        pair.candidate(pair.batch)
        pair.baseline(pair.batch)
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(samples):
        ours.append(_time_batch(pair.candidate, pair.batch))
        theirs.append(_time_batch(pair.baseline, pair.batch))
    return Result(
        name=name,
        median_ns=statistics.median(ours),
        p99_ns=percentile(ours, 99),
        baseline_median_ns=statistics.median(theirs),
        baseline_p99_ns=percentile(theirs, 99),
        n=samples * pair.batch,
    )


def run(names: Iterable[str], *, quick: bool, progress: bool = True) -> list[Result]:
    samples, warmup = (40, 5) if quick else (300, 30)
    results = []
    chosen = select(names)
    for i, name in enumerate(chosen, 1):
        if progress:
            print(f"[{i}/{len(chosen)}] {name} ...", file=sys.stderr, flush=True)
        results.append(measure(name, REGISTRY[name](), samples, warmup))
    return results


def table(results: list[Result]) -> str:
    head = (
        f"{'case':28} {'median ns':>10} {'p99 ns':>10} {'base med':>10} {'base p99':>10} "
        f"{'ratio':>7} {'n':>9}"
    )
    rows = [head, "-" * len(head)]
    for r in results:
        rows.append(
            f"{r.name:28} {r.median_ns:10.1f} {r.p99_ns:10.1f} {r.baseline_median_ns:10.1f} "
            f"{r.baseline_p99_ns:10.1f} {r.ratio:6.1f}x {r.n:9d}"
        )
    return "\n".join(rows)
