"""Pure-Python reference of engine/_core/latency.pyx: the same buckets, statuses and answers.

The bucket maths is written here from its definition (latency.pyx's docstring) with Python's
unbounded ints and `int.bit_length`, not from the C bit tricks, so the differential tests
check one against the other. The one float operation of each query (the percentile rank, the
mean) is the same IEEE double operation in the same order, so the answers agree exactly.
Nothing here is meant to be fast.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable
from typing import Any

from engine._core.fixedpoint import FixedPointOverflowError

OK = 0
CLAMPED = 1
ERR_NEGATIVE = -192
ERR_STAGE = -193
ERR_ORDER = -194
ERR_LAYOUT = -195
MIN_BITS = 2
MAX_BITS = 16
DEFAULT_LOWEST_NS = 1
DEFAULT_HIGHEST_NS = 60_000_000_000
DEFAULT_BITS = 8
TOTAL = "total"
PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9), ("p99.99", 99.99))
MAX_STAGES = 64
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def _arg(value: object, what: str) -> int:
    """Like fixedpoint.as_int64: int-like, not bool, not float, within int64."""
    if isinstance(value, float):
        raise TypeError(f"{what} must be an int, got float {value!r}: floats never carry money")
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise FixedPointOverflowError(f"{what} {value} does not fit int64")
    return int(value)


def _percent(p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"a percentile must be a number, got {type(p).__name__} {p!r}")
    q = float(p)
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"a percentile must be in 0..100, got {p!r}")
    return q


def bucket_index(value: int, unit: int, bits: int) -> int:
    """The bucket of value >= 0: u = value >> unit itself below 2**bits, else
    2**(bits-1) sub-buckets per power of two (u's top `bits` bits, after `shift` buckets'
    worth of lower powers)."""
    u = value >> unit
    if u < 1 << bits:
        return u
    shift = u.bit_length() - bits  # floor(log2 u) - (bits - 1)
    return (shift << (bits - 1)) + (u >> shift)


def bucket_bounds(index: int, unit: int, bits: int) -> tuple[int, int]:
    """(lowest, highest) value of bucket `index`: the inverse of bucket_index."""
    half = 1 << (bits - 1)
    shift = max(0, index // half - 1)
    width = 1 << (shift + unit)
    low = (index - shift * half) * width
    return low, low + width - 1


class HistogramRef:
    """The reference of latency.Histogram: same constructor, methods and statuses."""

    def __init__(
        self,
        *,
        lowest_ns: int = DEFAULT_LOWEST_NS,
        highest_ns: int = DEFAULT_HIGHEST_NS,
        sub_bucket_bits: int = DEFAULT_BITS,
    ) -> None:
        lowest = _arg(lowest_ns, "lowest_ns")
        highest = _arg(highest_ns, "highest_ns")
        bits = _arg(sub_bucket_bits, "sub_bucket_bits")
        if not MIN_BITS <= bits <= MAX_BITS:
            raise ValueError(f"sub_bucket_bits must be in {MIN_BITS}..{MAX_BITS}, got {bits}")
        if lowest < 1:
            raise ValueError(f"lowest_ns must be >= 1, got {lowest}")
        if highest < 2 * lowest:
            raise ValueError(f"highest_ns must be >= 2 * lowest_ns ({lowest}), got {highest}")
        self.lowest_ns = lowest
        self.highest_ns = highest
        self.sub_bucket_bits = bits
        self.unit = lowest.bit_length() - 1
        self.n_buckets = bucket_index(highest, self.unit, bits) + 1
        self.reset()

    def reset(self) -> None:
        self.counts = [0] * self.n_buckets
        self.count = 0
        self.overflow = 0
        self.refused = 0
        self.sum = 0
        self._min = INT64_MAX
        self._max = -1

    def record(self, value: int) -> int:
        v = _arg(value, "value")
        if v < 0:
            self.refused += 1
            return ERR_NEGATIVE
        status = OK
        if v > self.highest_ns:
            self.overflow += 1
            v = self.highest_ns
            status = CLAMPED
        self.counts[bucket_index(v, self.unit, self.sub_bucket_bits)] += 1
        self.count += 1
        self.sum += v
        self._min = min(self._min, v)
        self._max = max(self._max, v)
        return status

    def record_many(self, values: Iterable[int]) -> int:
        return sum(1 for v in values if self.record(int(v)) >= 0)

    @property
    def min(self) -> int:
        return self._min if self.count else 0

    @property
    def max(self) -> int:
        return self._max if self.count else 0

    @property
    def mean(self) -> float:
        return float(self.sum) / float(self.count) if self.count else 0.0

    def index_of(self, value: int) -> int:
        v = _arg(value, "value")
        if not 0 <= v <= self.highest_ns:
            raise ValueError(f"value must be in 0..{self.highest_ns}, got {v}")
        return bucket_index(v, self.unit, self.sub_bucket_bits)

    def bucket_bounds(self, index: int) -> tuple[int, int]:
        i = _arg(index, "index")
        if not 0 <= i < self.n_buckets:
            raise IndexError(f"bucket index must be in 0..{self.n_buckets - 1}, got {i}")
        return bucket_bounds(i, self.unit, self.sub_bucket_bits)

    def _high(self, index: int) -> int:
        return bucket_bounds(index, self.unit, self.sub_bucket_bits)[1]

    def percentile(self, p: float) -> int:
        q = _percent(p)
        if self.count == 0:
            return 0
        # the C code's double operations: ceil of a double, compared as doubles
        x = float(math.ceil(q / 100.0 * float(self.count)))
        if x < 1.0:
            rank = 1
        elif x >= float(self.count):
            rank = self.count
        else:
            rank = int(x)
        seen = 0
        for i, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                return self._high(i)
        raise AssertionError("the counts do not sum to count")

    def percentiles(self, ps: Iterable[float]) -> list[int]:
        return [self.percentile(p) for p in ps]

    def _layout(self) -> tuple[int, int, int]:
        return self.lowest_ns, self.highest_ns, self.sub_bucket_bits

    def merge(self, other: HistogramRef) -> None:
        if other._layout() != self._layout():
            raise ValueError(
                "cannot merge histograms of different layouts (lowest_ns, highest_ns, bits): "
                f"{self._layout()} and {other._layout()}"
            )
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.count += other.count
        self.overflow += other.overflow
        self.refused += other.refused
        self.sum += other.sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    def buckets(self) -> list[tuple[int, int]]:
        return [(self._high(i), n) for i, n in enumerate(self.counts) if n]

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"count": self.count, "min": self.min, "max": self.max}
        doc["mean"] = self.mean
        for key, p in PERCENTILES:
            doc[key] = self.percentile(p)
        doc.update(
            overflow=self.overflow,
            refused=self.refused,
            lowest_ns=self.lowest_ns,
            highest_ns=self.highest_ns,
            sub_bucket_bits=self.sub_bucket_bits,
            buckets=[[high, n] for high, n in self.buckets()],
        )
        return doc


class StageRecorderRef:
    """The reference of latency.StageRecorder."""

    def __init__(self, stage_names: Iterable[str], **layout: int) -> None:
        names = tuple(stage_names)
        if not 2 <= len(names) <= MAX_STAGES:
            raise ValueError(f"a StageRecorder takes 2..{MAX_STAGES} stages, got {len(names)}")
        for name in names:
            if not isinstance(name, str) or not name:
                raise ValueError(f"a stage name must be a non-empty str, got {name!r}")
        if len(set(names)) != len(names) or TOTAL in names:
            raise ValueError(f"stage names must be unique and not {TOTAL!r}: {names!r}")
        self.stage_names = names
        self._hists = [HistogramRef(**layout) for _ in names]  # [0]: the total
        self._stamps: dict[int, int] = {}

    def stamp(self, stage: int, now_ns: int) -> int:
        s, t = _arg(stage, "stage"), _arg(now_ns, "now_ns")
        if not 0 <= s < len(self.stage_names):
            return ERR_STAGE
        if t < 0:
            return ERR_NEGATIVE
        self._stamps[s] = t
        return OK

    def finish(self) -> int:
        order = sorted(self._stamps)
        backwards = False
        for prev, stage in itertools.pairwise(order):
            delta = self._stamps[stage] - self._stamps[prev]
            backwards |= self._hists[stage].record(delta) < 0
        if len(order) >= 2:
            total = self._stamps[order[-1]] - self._stamps[order[0]]
            backwards |= self._hists[0].record(total) < 0
        self._stamps.clear()
        return ERR_ORDER if backwards else len(order)

    def index(self, name: str) -> int:
        if name not in self.stage_names:
            raise ValueError(f"no stage {name!r}; stages: {', '.join(self.stage_names)}")
        return self.stage_names.index(name)

    @property
    def histograms(self) -> dict[str, HistogramRef]:
        doc = {name: self._hists[i] for i, name in enumerate(self.stage_names) if i}
        doc[TOTAL] = self._hists[0]
        return doc

    def histogram(self, name: str) -> HistogramRef:
        hists = self.histograms
        if name not in hists:
            raise KeyError(f"no histogram {name!r}; histograms: {', '.join(hists)}")
        return hists[name]

    @property
    def total(self) -> HistogramRef:
        return self._hists[0]

    def reset(self) -> None:
        for h in self._hists:
            h.reset()
        self._stamps.clear()

    def to_dict(self) -> dict[str, Any]:
        return {name: h.to_dict() for name, h in self.histograms.items()}
