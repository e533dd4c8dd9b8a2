"""Benchmark runner: each case is timed beside its naive baseline in the same run.

A case is a factory registered with `@case(name)` that returns a `Pair`: two callables that
each perform `n` operations (ours and the naive baseline). A factory may take one argument,
the run's `Options` (quick or full, a user's `--frames` file and its grid); most take none.
Samples alternate candidate and baseline so both see the same machine noise; each sample
times one batch and is divided by the batch size, so `median_ns`/`p99_ns` are per operation
(the p99 of batch means when the batch is larger than 1; cases that need a true per-event
tail use batch=1). After every candidate/baseline pair of samples (warm-up included) the
runner calls the pair's `between()`, untimed: a case that plays a long stream uses it to
rewind to its snapshot or prepare the next batch, so no reload ever falls inside a timing.
A `self_timed` pair's callables time each operation themselves (when each must follow untimed
work) and return the batch's nanoseconds.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

Ops = Callable[[int], Any]

QUICK = (40, 5)  # samples, warm-up batches per side
FULL = (300, 30)


def _nothing() -> None:
    pass


@dataclass(frozen=True, slots=True)
class Pair:
    candidate: Ops
    baseline: Ops
    batch: int = 1000  # operations per timed sample
    about: str = ""  # one line: what one operation is, and what the baseline does
    between: Callable[[], None] = _nothing  # untimed, after each candidate+baseline sample
    report: dict[str, Any] = field(default_factory=dict)  # extra fields for the JSON output
    # the ops time themselves and return the batch's nanoseconds (for an operation that must
    # follow untimed work each time, e.g. a read after each update)
    self_timed: bool = False


@dataclass(frozen=True, slots=True)
class Options:
    """What a run was asked for, for the factories that care (`def factory(opts)`)."""

    quick: bool = False
    frames: Path | None = None  # --frames FILE: a user's own depth stream (feed.* cases)
    tick: Decimal | None = None  # --tick / --lot: its instrument's grid (None: the default)
    lot: Decimal | None = None

    @property
    def samples(self) -> int:
        return (QUICK if self.quick else FULL)[0]

    @property
    def warmup(self) -> int:
        return (QUICK if self.quick else FULL)[1]


class CaseError(Exception):
    """A case cannot run on what it was given (a bad --frames file): one line for the user,
    exit status 2."""


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    median_ns: float
    p99_ns: float
    baseline_median_ns: float
    baseline_p99_ns: float
    n: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """How many times faster than the baseline (baseline median / our median)."""
        return self.baseline_median_ns / self.median_ns if self.median_ns > 0 else float("inf")

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "median_ns": round(self.median_ns, 1),
            "p99_ns": round(self.p99_ns, 1),
            "baseline_median_ns": round(self.baseline_median_ns, 1),
            "baseline_p99_ns": round(self.baseline_p99_ns, 1),
            "ratio": round(self.ratio, 2),
            "n": self.n,
        }
        doc.update(self.extra)
        return doc


Factory = Callable[[Options], Pair]
REGISTRY: dict[str, Factory] = {}
ABOUT: dict[str, str] = {}  # what `--list` prints for cases too costly to build for it
TAKES_FRAMES: list[str] = []  # the cases that can play a --frames file


def case(
    name: str, *, about: str = "", frames: bool = False
) -> Callable[[Callable[..., Pair]], Callable[..., Pair]]:
    """Register a factory, `() -> Pair` or `(Options) -> Pair`; `about`, when given, is what
    `--list` prints without building the case; `frames`: it plays `Options.frames`."""

    def register(factory: Callable[..., Pair]) -> Callable[..., Pair]:
        if name in REGISTRY:
            raise ValueError(f"benchmark case {name!r} registered twice")
        if inspect.signature(factory).parameters:
            REGISTRY[name] = factory
        else:
            REGISTRY[name] = lambda _opts: factory()
        if about:
            ABOUT[name] = about
        if frames:
            TAKES_FRAMES.append(name)
        return factory

    return register


def discover() -> dict[str, Factory]:
    """Import every module of bench.cases so their @case decorators register."""
    import bench.cases

    for info in pkgutil.iter_modules(bench.cases.__path__):
        importlib.import_module(f"bench.cases.{info.name}")
    return REGISTRY


def build(name: str, options: Options | None = None) -> Pair:
    """The case `name`, whatever has been imported so far."""
    return discover()[name](options or Options())


def about(name: str) -> str:
    return ABOUT.get(name) or build(name).about


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


def _time_batch(ops: Ops, batch: int, self_timed: bool = False) -> float:
    if self_timed:
        return float(ops(batch)) / batch
    t0 = time.perf_counter_ns()
    ops(batch)
    return (time.perf_counter_ns() - t0) / batch


def measure(name: str, pair: Pair, samples: int, warmup: int) -> Result:
    between = pair.between
    for _ in range(warmup):
        pair.candidate(pair.batch)
        pair.baseline(pair.batch)
        between()
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(samples):
        ours.append(_time_batch(pair.candidate, pair.batch, pair.self_timed))
        theirs.append(_time_batch(pair.baseline, pair.batch, pair.self_timed))
        between()
    return Result(
        name=name,
        median_ns=statistics.median(ours),
        p99_ns=percentile(ours, 99),
        baseline_median_ns=statistics.median(theirs),
        baseline_p99_ns=percentile(theirs, 99),
        n=samples * pair.batch,
        extra=dict(pair.report),
    )


def run(
    names: Iterable[str], *, quick: bool, progress: bool = True, options: Options | None = None
) -> list[Result]:
    """Build and measure each case in turn. With a --frames file the case is built (the file
    read and checked) before its progress line, so a bad file is the only line on stderr."""
    opts = options or Options(quick=quick)
    results = []
    chosen = select(names)
    for i, name in enumerate(chosen, 1):
        pair = build(name, opts) if opts.frames is not None else None
        if progress:
            print(f"[{i}/{len(chosen)}] {name} ...", file=sys.stderr, flush=True)
        if pair is None:
            pair = build(name, opts)
        results.append(measure(name, pair, opts.samples, opts.warmup))
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
