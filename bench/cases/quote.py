"""Quoting case: one full two-sided quote per book event, the quoting maths of
engine/_core/quoting.pyx called from Python (`Quoter.step`: the book event's sigma update,
then 3 levels a side with inventory skew, size scaling, tick/lot/min-notional rounding and the
post-only clamp, written into the Quoter's preallocated QuoteSet), beside the pure-Python
reference engine/strategy/quoting_ref.py doing the same on the same events.

A Cython strategy calls c_on_book + c_compute directly, without the Python call and the
argument conversions: the case reports that figure too (`c_median_ns`), timed by a loop inside
Cython (`quoting.bench_loop`) over the same events."""

from __future__ import annotations

import random
import statistics
from typing import Any

import numpy as np

from bench.runner import Options, Pair, case
from engine._core import quoting
from engine._core.quoting import OK, Quoter
from engine.strategy.quoting_ref import QuoterRef

EVENTS = 1000  # book events per timed sample (one pass; the state is reset between samples)
PARAMS: dict[str, Any] = {
    "levels": 3,
    "level_spacing_ticks": 2,
    "qty_lots": 1_500,
    "size_factor": 1.5,
    "min_half_spread": 1.0,
    "base_half_spread": 1.0,
    "vol_mult": 2.0,
    "half_life_ns": 5_000_000_000,
    "max_position_lots": 20_000,
    "skew_ticks": 4.0,
    "size_shrink": 0.5,
    "min_qty_lots": 10,
    "min_notional_units": 50_000_000,
}


def _events(seed: int = 16) -> list[tuple[int, int, int, int, int, int]]:
    """A random walk of the top of book around 6,500,000 ticks, 0.1-3 ms apart, with an
    inventory drifting between the limits: (bid, bid_qty, ask, ask_qty, ts_ns, inventory)."""
    rng = random.Random(seed)
    bid, ts, inventory = 6_500_000, 0, 0
    rows = []
    for _ in range(EVENTS):
        bid += rng.choice((-1, 0, 0, 0, 1))
        ask = bid + rng.choice((1, 1, 2, 3))
        ts += rng.randint(100_000, 3_000_000)
        inventory = max(-25_000, min(25_000, inventory + rng.randint(-1_500, 1_500)))
        rows.append((bid, rng.randint(1, 50_000), ask, rng.randint(1, 50_000), ts, inventory))
    return rows


def _c_figure(rows: list[tuple[int, int, int, int, int, int]], quick: bool) -> float:
    """Median ns of one c_on_book + c_compute, timed inside Cython."""
    array = np.array(rows, dtype=np.int64)
    array[:, 4] -= array[0, 4]
    quoter = Quoter(**PARAMS)
    samples = []
    for _ in range(15 if quick else 101):
        elapsed, n, status = quoting.bench_loop(quoter, array, 10)
        if status != OK:
            raise RuntimeError(f"bench_loop ended with {quoting.describe(status)}")
        samples.append(elapsed / n)
    return statistics.median(samples)


ABOUT = (
    "one two-sided quote from Python (book event -> sigma update -> 3 levels a side with skew, "
    "rounding, post-only clamp) by Quoter.step; baseline: the pure-Python reference "
    "QuoterRef.step"
)


@case("quote.compute", about=ABOUT)
def compute(opts: Options) -> Pair:
    rows = _events()
    ours, ref = Quoter(**PARAMS), QuoterRef(**PARAMS)
    # both must quote the same before either is timed
    for row in rows:
        if ours.step(*row) != OK or ref.step(*row) != OK or ours.quotes() != ref.quotes():
            raise RuntimeError(f"quote.compute: Cython and reference differ at {row}")
    sided = sum(1 for row in rows if row[5] >= 20_000 or row[5] <= -20_000)
    ours.reset()
    ref.reset()
    columns = tuple(list(c) for c in zip(*rows, strict=True))
    bids, bqs, asks, aqs, stamps, invs = columns

    def make(step: Any) -> Any:
        def run(n: int) -> None:
            for i in range(n):
                step(bids[i], bqs[i], asks[i], aqs[i], stamps[i], invs[i])

        return run

    def between() -> None:
        ours.reset()
        ref.reset()

    return Pair(
        make(ours.step),
        make(ref.step),
        batch=EVENTS,
        between=between,
        about=ABOUT,
        report={
            "c_median_ns": round(_c_figure(rows, opts.quick), 1),
            "c_about": "c_on_book + c_compute inside a Cython loop (no Python call)",
            "events_one_sided": sided,
        },
    )
