"""Latency histogram case: recording one latency (ns) into engine/_core/latency.pyx's
log-linear Histogram (default layout: 1 ns .. 60 s, 8 sub-bucket bits, 3,808 buckets) from
Python, beside the naive way: bisect the value into a sorted list of the same bucket bounds and
increment a list slot.

The figure that matters for the hot path is a Cython caller's: Histogram.c_record inlined in a
Cython loop (`latency.bench_loop`), reported as `c_median_ns`; `many_median_ns` is record_many
over a numpy array, and `stage_pass_median_ns` one whole StageRecorder pass (5 stamps + finish:
4 stage deltas and the total recorded)."""

from __future__ import annotations

import statistics
import time
from bisect import bisect_left
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from bench.runner import Options, Pair, case
from engine._core import latency
from engine._core.latency import Histogram, StageRecorder

VALUES = 1000  # latencies per timed sample
STAGES = ("frame_received", "book_applied", "strategy_done", "risk_done", "bytes_written")


def _values(seed: int = 24) -> npt.NDArray[np.int64]:
    """Log-normal latencies around 20 us (sigma 1: most 3-150 us, a tail into ms)."""
    rng = np.random.default_rng(seed)
    return rng.lognormal(np.log(20_000.0), 1.0, VALUES).astype(np.int64)


def _median_ns(run: Callable[[], tuple[int, int]], quick: bool) -> float:
    samples = []
    for _ in range(15 if quick else 101):
        elapsed, n = run()
        samples.append(elapsed / n)
    return statistics.median(samples)


def _stage_figure(quick: bool) -> float:
    """Median ns of one 5-stage pass (stamps + finish), timed inside Cython."""
    rng = np.random.default_rng(5)
    steps = rng.integers(200, 20_000, size=(VALUES, len(STAGES)), dtype=np.int64)
    steps[:, 0] = 0
    offsets = np.ascontiguousarray(np.cumsum(steps, axis=1))
    rec = StageRecorder(STAGES)

    def run() -> tuple[int, int]:
        elapsed, n, status = latency.bench_stage_loop(rec, offsets, 10)
        if status != len(STAGES):
            raise RuntimeError(f"bench_stage_loop ended with {latency.describe(status)}")
        return elapsed, n

    return _median_ns(run, quick)


ABOUT = (
    "record one latency into a 3,808-bucket log-linear histogram from Python "
    "(Histogram.record); baseline: bisect into the sorted bucket bounds + list increment"
)


@case("latency.record", about=ABOUT)
def record(opts: Options) -> Pair:
    array = _values()
    values = array.tolist()
    ours = Histogram()
    highest = ours.highest_ns
    uppers = [ours.bucket_bounds(i)[1] for i in range(ours.n_buckets)]
    counts = [0] * len(uppers)

    def naive(n: int) -> None:
        for v in values[:n]:
            counts[bisect_left(uppers, min(v, highest))] += 1

    # both must bucket the same before either is timed
    for v in values:
        ours.record(v)
    naive(VALUES)
    if ours.buckets() != [(uppers[i], c) for i, c in enumerate(counts) if c]:
        raise RuntimeError("latency.record: Histogram and the bisect baseline differ")

    def candidate(n: int) -> None:
        rec = ours.record
        for v in values[:n]:
            rec(v)

    c_hist, many_hist = Histogram(), Histogram()

    def c_run() -> tuple[int, int]:
        elapsed, n = latency.bench_loop(c_hist, array, 10)
        return int(elapsed), int(n)

    def many_run() -> tuple[int, int]:
        t0 = time.perf_counter_ns()
        many_hist.record_many(array)
        return time.perf_counter_ns() - t0, VALUES

    return Pair(
        candidate,
        naive,
        batch=VALUES,
        about=ABOUT,
        report={
            "c_median_ns": round(_median_ns(c_run, opts.quick), 2),
            "c_about": "Histogram.c_record inlined in a Cython loop (no Python call)",
            "many_median_ns": round(_median_ns(many_run, opts.quick), 2),
            "stage_pass_median_ns": round(_stage_figure(opts.quick), 1),
            "buckets": ours.n_buckets,
        },
    )
