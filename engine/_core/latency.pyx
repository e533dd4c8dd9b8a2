"""Latency histograms for the hot path (reference: engine/runtime/latency_ref.py).

Layout (the HdrHistogram log-linear scheme; b = sub_bucket_bits, unit = floor(log2 lowest_ns),
u = value >> unit, so values are counted in units of 2**unit ns):

- u in 0 .. 2**b - 1: one bucket per unit (exact when lowest_ns = 1);
- u in [2**k, 2**(k+1)), k >= b: 2**(b-1) linear sub-buckets of width 2**(k-b+1) units.

So index(u) = shift * 2**(b-1) + (u >> shift), shift = max(b-1, floor(log2 u)) - (b-1): the
buckets are contiguous and increasing in u, a bucket never spans a power of two, and its width
is at most 2**-(b-1) of any value in it (above the exact region). b = 8 (the default) gives
<= 0.78%, b = 7 1.56%. The default range 1 ns .. 60 s at b = 8 takes 3,808 buckets (30 KB).

Recording: a negative value is refused (LAT_ERR_NEGATIVE, counted in `refused`, nothing
else changes); a value above highest_ns is recorded as highest_ns and counted in `overflow`
(LAT_CLAMPED), so count/min/max/mean/percentiles all see highest_ns for it: with overflow > 0
they are lower bounds. Counts live in one calloc'ed int64 array; min, max, count and an exact
128-bit sum are kept as values arrive.

Percentile p (0..100): rank = ceil(p / 100 * count) clamped to 1..count; the answer is the
highest value of the bucket where the running count reaches rank ("highest equivalent value",
as HdrHistogram reports), so it is >= the true sample percentile by less than one bucket width
and may exceed max by as much. An empty histogram answers 0 to every query.
"""

from cpython.long cimport PyLong_AsLongLongAndOverflow
from libc.math cimport ceil
from libc.stdint cimport INT64_MAX, int32_t, int64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memset

from engine._core.fixedpoint cimport as_int64

import numbers
import time

OK = LAT_OK
CLAMPED = LAT_CLAMPED
ERR_NEGATIVE = LAT_ERR_NEGATIVE
ERR_STAGE = LAT_ERR_STAGE
ERR_ORDER = LAT_ERR_ORDER
ERR_LAYOUT = LAT_ERR_LAYOUT
MIN_BITS = LAT_MIN_BITS
MAX_BITS = LAT_MAX_BITS

DEFAULT_LOWEST_NS = 1
DEFAULT_HIGHEST_NS = 60_000_000_000  # 60 s: anything slower is a stall, not a latency
DEFAULT_BITS = 8  # <= 0.78% relative error
TOTAL = "total"  # the StageRecorder's first-to-last histogram
# to_dict's percentile keys
PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9), ("p99.99", 99.99))
MAX_STAGES = 64


def describe(status):
    """One line saying what a status means."""
    return {
        LAT_OK: "ok",
        LAT_CLAMPED: "above highest_ns: recorded as highest_ns and counted in overflow",
        LAT_ERR_NEGATIVE: "a negative value or time: refused and counted in refused",
        LAT_ERR_STAGE: "a stage index outside the recorder's stages",
        LAT_ERR_ORDER: "a stage stamped earlier than the stage before it (delta refused)",
        LAT_ERR_LAYOUT: "histograms of different layouts (lowest_ns, highest_ns, bits)",
    }.get(status, f"unknown latency status {status}")


cdef inline int64_t _i64(object value, str what) except? -1:
    # an exact int within int64 is read without allocating; anything else gets as_int64's
    # checks (TypeError for floats and bools, FixedPointOverflowError past int64)
    cdef int overflow = 0
    cdef long long v
    if type(value) is int:
        v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0:
            return v
    return as_int64(value, what)


cdef inline int64_t _bucket_low(const LatHist* h, int32_t index) noexcept nogil:
    # inverse of lat_index: shift = index // half - 1 (0 in the exact region), and the
    # sub-bucket (index - shift * half) is the value's top b bits
    cdef int32_t half = 1 << (h.bits - 1)
    cdef int32_t shift = index // half - 1
    if shift < 0:
        shift = 0
    return (<int64_t>(index - shift * half)) << (shift + h.unit)


cdef inline int64_t _bucket_high(const LatHist* h, int32_t index) noexcept nogil:
    # low + width - 1 stays <= INT64_MAX: a bucket never spans a power of two
    cdef int32_t half = 1 << (h.bits - 1)
    cdef int32_t shift = index // half - 1
    if shift < 0:
        shift = 0
    return _bucket_low(h, index) + ((<int64_t>1 << (shift + h.unit)) - 1)


cdef inline void _clear(LatHist* h) noexcept nogil:
    memset(h.counts, 0, <size_t>h.n_buckets * sizeof(int64_t))
    h.total = 0
    h.overflow = 0
    h.refused = 0
    h.min_value = INT64_MAX
    h.max_value = -1
    h.sum = 0


cdef class Histogram:
    """Counts of int64 values (ns) in fixed log-linear buckets; see the module docstring.

    `Histogram(lowest_ns=1, highest_ns=60e9, sub_bucket_bits=8)`: 1 <= lowest_ns,
    2 * lowest_ns <= highest_ns <= 2**63 - 1, bits 2..16; a bad one raises ValueError naming
    it. All memory is allocated here: recording never allocates. Not thread-safe: one writer.
    """

    def __cinit__(self, *, lowest_ns=DEFAULT_LOWEST_NS, highest_ns=DEFAULT_HIGHEST_NS,
                  sub_bucket_bits=DEFAULT_BITS):
        cdef int64_t lowest = _i64(lowest_ns, "lowest_ns")
        cdef int64_t highest = _i64(highest_ns, "highest_ns")
        cdef int64_t bits = _i64(sub_bucket_bits, "sub_bucket_bits")
        if bits < LAT_MIN_BITS or bits > LAT_MAX_BITS:
            raise ValueError(
                f"sub_bucket_bits must be in {LAT_MIN_BITS}..{LAT_MAX_BITS}, got {bits}"
            )
        if lowest < 1:
            raise ValueError(f"lowest_ns must be >= 1, got {lowest}")
        if highest // 2 < lowest:  # highest < 2 * lowest, without 2 * lowest overflowing
            raise ValueError(f"highest_ns must be >= 2 * lowest_ns ({lowest}), got {highest}")
        self.h.bits = <int32_t>bits
        self.h.lowest = lowest
        self.h.highest = highest
        self.h.unit = 63 - hft_lat_clz64(<uint64_t>lowest)
        self.h.n_buckets = lat_index(highest, self.h.unit, self.h.bits) + 1
        self.h.counts = <int64_t*>calloc(self.h.n_buckets, sizeof(int64_t))
        if self.h.counts == NULL:
            raise MemoryError()
        _clear(&self.h)

    def __dealloc__(self):
        free(self.h.counts)

    # ------------------------------------------------------------------ C API

    cdef int64_t c_percentile(self, double p) noexcept nogil:
        cdef const LatHist* h = &self.h
        cdef double x
        cdef int64_t rank
        cdef int64_t seen = 0
        cdef int32_t i
        if h.total == 0:
            return 0
        x = ceil(p / 100.0 * <double>h.total)
        if x < 1.0:
            rank = 1
        elif x >= <double>h.total:
            rank = h.total
        else:
            rank = <int64_t>x
        # nothing lies below min's bucket
        for i in range(lat_index(h.min_value, h.unit, h.bits), h.n_buckets):
            seen += h.counts[i]
            if seen >= rank:
                return _bucket_high(h, i)
        return _bucket_high(h, h.n_buckets - 1)  # not reached: the counts sum to total

    cdef int c_merge(self, Histogram other) noexcept:
        cdef LatHist* h = &self.h
        cdef const LatHist* o = &other.h
        cdef int32_t i
        if o.lowest != h.lowest or o.highest != h.highest or o.bits != h.bits:
            return LAT_ERR_LAYOUT
        for i in range(h.n_buckets):
            h.counts[i] += o.counts[i]
        h.total += o.total
        h.overflow += o.overflow
        h.refused += o.refused
        h.sum += o.sum
        if o.min_value < h.min_value:
            h.min_value = o.min_value
        if o.max_value > h.max_value:
            h.max_value = o.max_value
        return LAT_OK

    cdef void c_reset(self) noexcept nogil:
        _clear(&self.h)

    # ------------------------------------------------------------------ Python API

    def record(self, value):
        """Record one value (ns): OK, CLAMPED (recorded as highest_ns) or ERR_NEGATIVE."""
        return lat_record(&self.h, _i64(value, "value"))

    def record_many(self, values):
        """Record a 1-D int64 array (numpy, or any int64 buffer; another dtype raises
        ValueError); returns how many were recorded (the rest were negative: `refused`)."""
        cdef const int64_t[:] v = values
        cdef Py_ssize_t i
        cdef int64_t recorded = 0
        with nogil:
            for i in range(v.shape[0]):
                if lat_record(&self.h, v[i]) >= 0:
                    recorded += 1
        return recorded

    def percentile(self, p):
        """The value at percentile p (0..100), as the bucket's highest value; 0 when empty."""
        cdef double q = _percent(p)
        return self.c_percentile(q)

    def percentiles(self, ps):
        """[percentile(p) for p in ps]."""
        return [self.c_percentile(_percent(p)) for p in ps]

    def merge(self, Histogram other not None):
        """Add `other`'s counts and stats into this one; ValueError unless both have the same
        lowest_ns, highest_ns and sub_bucket_bits."""
        if self.c_merge(other) != LAT_OK:
            raise ValueError(
                "cannot merge histograms of different layouts (lowest_ns, highest_ns, bits): "
                f"{(self.h.lowest, self.h.highest, self.h.bits)} and "
                f"{(other.h.lowest, other.h.highest, other.h.bits)}"
            )

    def reset(self):
        """Forget every value (the layout stays)."""
        self.c_reset()

    def buckets(self):
        """[(highest value of the bucket, count), ...] of the non-empty buckets, ascending."""
        cdef int32_t i
        return [(_bucket_high(&self.h, i), self.h.counts[i])
                for i in range(self.h.n_buckets) if self.h.counts[i] != 0]

    def index_of(self, value):
        """The bucket index of a value in 0..highest_ns (ValueError outside)."""
        cdef int64_t v = _i64(value, "value")
        if v < 0 or v > self.h.highest:
            raise ValueError(f"value must be in 0..{self.h.highest}, got {v}")
        return lat_index(v, self.h.unit, self.h.bits)

    def bucket_bounds(self, index):
        """(lowest, highest) value of bucket `index` (0..n_buckets-1, else IndexError)."""
        cdef int64_t i = _i64(index, "index")
        if i < 0 or i >= self.h.n_buckets:
            raise IndexError(f"bucket index must be in 0..{self.h.n_buckets - 1}, got {i}")
        return _bucket_low(&self.h, <int32_t>i), _bucket_high(&self.h, <int32_t>i)

    def to_dict(self):
        """count, min, max, mean, p50..p99.99, overflow, refused, the layout and the
        non-empty buckets as [[highest value, count], ...]: JSON-ready (ints, floats, lists)."""
        doc = {"count": self.count, "min": self.min, "max": self.max, "mean": self.mean}
        for key, p in PERCENTILES:
            doc[key] = self.c_percentile(p)
        doc["overflow"] = self.h.overflow
        doc["refused"] = self.h.refused
        doc["lowest_ns"] = self.h.lowest
        doc["highest_ns"] = self.h.highest
        doc["sub_bucket_bits"] = self.h.bits
        doc["buckets"] = [[high, n] for high, n in self.buckets()]
        return doc

    @property
    def count(self):
        """Values recorded (clamped ones included, refused ones not)."""
        return self.h.total

    @property
    def min(self):
        return self.h.min_value if self.h.total else 0

    @property
    def max(self):
        return self.h.max_value if self.h.total else 0

    @property
    def mean(self):
        """The exact sum over the count, rounded to a double; 0.0 when empty."""
        return <double>self.h.sum / <double>self.h.total if self.h.total else 0.0

    @property
    def overflow(self):
        """Values above highest_ns, recorded as highest_ns."""
        return self.h.overflow

    @property
    def refused(self):
        """Negative values, not recorded."""
        return self.h.refused

    @property
    def lowest_ns(self):
        return self.h.lowest

    @property
    def highest_ns(self):
        return self.h.highest

    @property
    def sub_bucket_bits(self):
        return self.h.bits

    @property
    def n_buckets(self):
        return self.h.n_buckets

    def __repr__(self):
        return (f"Histogram(count={self.h.total}, p50={self.c_percentile(50.0)}, "
                f"p99={self.c_percentile(99.0)}, overflow={self.h.overflow})")


cdef double _percent(object p) except? -1.0:
    # numbers.Real: numpy scalars too (a percentile list may come from an array)
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"a percentile must be a number, got {type(p).__name__} {p!r}")
    cdef double q = float(p)
    if not 0.0 <= q <= 100.0:  # also refuses NaN
        raise ValueError(f"a percentile must be in 0..100, got {p!r}")
    return q


cdef class StageRecorder:
    """Per-stage latency histograms of a pipeline (see latency.pxd for the C contract).

    `StageRecorder(stage_names, lowest_ns=..., highest_ns=..., sub_bucket_bits=...)`: 2 to 64
    unique non-empty names in pipeline order, none of them "total"; the layout keywords are
    Histogram's. Each pass: stamp(stage, now_ns) per stage reached, then finish(). Stage i >= 1
    records the time since the previous stamped stage, "total" the first-to-last time; stages
    not stamped are skipped. Stamping and finishing never allocate. One writer.
    """

    def __cinit__(self, stage_names, *, lowest_ns=DEFAULT_LOWEST_NS,
                  highest_ns=DEFAULT_HIGHEST_NS, sub_bucket_bits=DEFAULT_BITS):
        cdef tuple names = tuple(stage_names)
        cdef Py_ssize_t i
        if not 2 <= len(names) <= MAX_STAGES:
            raise ValueError(f"a StageRecorder takes 2..{MAX_STAGES} stages, got {len(names)}")
        for name in names:
            if not isinstance(name, str) or not name:
                raise ValueError(f"a stage name must be a non-empty str, got {name!r}")
        if len(set(names)) != len(names) or TOTAL in names:
            raise ValueError(f"stage names must be unique and not {TOTAL!r}: {names!r}")
        self._names = names
        self._hists = tuple(
            Histogram(lowest_ns=lowest_ns, highest_ns=highest_ns, sub_bucket_bits=sub_bucket_bits)
            for _ in names
        )
        self.n = <int32_t>len(names)
        self.stamps = <int64_t*>malloc(self.n * sizeof(int64_t))
        self.slots = <LatHist**>malloc(self.n * sizeof(LatHist*))
        if self.stamps == NULL or self.slots == NULL:
            raise MemoryError()
        for i in range(self.n):
            self.slots[i] = &(<Histogram>self._hists[i]).h
            self.stamps[i] = -1

    def __dealloc__(self):
        free(self.stamps)
        free(self.slots)

    # ------------------------------------------------------------------ C API

    cdef int c_finish(self) noexcept nogil:
        cdef int32_t i
        cdef int32_t first = -1
        cdef int32_t prev = -1
        cdef int stamped = 0
        cdef bint backwards = False
        for i in range(self.n):
            if self.stamps[i] < 0:
                continue
            stamped += 1
            if prev < 0:
                first = i
            elif lat_record(self.slots[i], self.stamps[i] - self.stamps[prev]) < 0:
                backwards = True
            prev = i
        # slot 0 is the total (stage 0 never has a delta of its own)
        if stamped >= 2 and lat_record(self.slots[0], self.stamps[prev] - self.stamps[first]) < 0:
            backwards = True
        for i in range(self.n):
            self.stamps[i] = -1
        return LAT_ERR_ORDER if backwards else stamped

    cdef void c_reset(self) noexcept nogil:
        cdef int32_t i
        for i in range(self.n):
            _clear(self.slots[i])
            self.stamps[i] = -1

    # ------------------------------------------------------------------ Python API

    def stamp(self, stage, now_ns):
        """Stage `stage` (an index: see index()) reached at now_ns: OK, ERR_STAGE or
        ERR_NEGATIVE."""
        cdef int64_t s = _i64(stage, "stage")
        cdef int64_t t = _i64(now_ns, "now_ns")
        if s < 0 or s >= self.n:  # before the int32 cast, which could wrap it into range
            return LAT_ERR_STAGE
        return self.c_stamp(<int32_t>s, t)

    def finish(self):
        """Record the pass and clear its stamps: how many stages were stamped, or ERR_ORDER."""
        return self.c_finish()

    def index(self, name):
        """The index of a stage name (ValueError if unknown): look it up once, stamp by index."""
        try:
            return self._names.index(name)
        except ValueError:
            raise ValueError(f"no stage {name!r}; stages: {', '.join(self._names)}") from None

    def histogram(self, name):
        """The live Histogram of a stage (1..n-1) or of "total"; stage 0 is the origin and has
        none (KeyError)."""
        if name == TOTAL:
            return self._hists[0]
        if name in self._names[1:]:
            return self._hists[self._names.index(name)]
        raise KeyError(f"no histogram {name!r}; histograms: "
                       f"{', '.join([*self._names[1:], TOTAL])}")

    @property
    def stage_names(self):
        return self._names

    @property
    def histograms(self):
        """{stage name: Histogram} for stages 1..n-1, then "total"."""
        doc = {self._names[i]: self._hists[i] for i in range(1, self.n)}
        doc[TOTAL] = self._hists[0]
        return doc

    @property
    def total(self):
        return self._hists[0]

    def reset(self):
        """Forget every value and the pass in progress."""
        self.c_reset()

    def to_dict(self):
        """{stage name: Histogram.to_dict(), ..., "total": ...} (stages 1..n-1)."""
        return {name: h.to_dict() for name, h in self.histograms.items()}

    def __repr__(self):
        return f"StageRecorder({list(self._names)!r}, passes={self._hists[0].count})"


# ---------------------------------------------------------------------- benchmark loops

def bench_loop(Histogram hist not None, values, int64_t repeat):
    """Pure-C timing for the benchmark: `repeat` passes of c_record over a 1-D int64 array.
    Returns (nanoseconds, values recorded)."""
    cdef const int64_t[:] v = values
    cdef Py_ssize_t n = v.shape[0]
    cdef Py_ssize_t i
    cdef int64_t _k
    if n < 1 or repeat < 1:
        raise ValueError("values must not be empty and repeat must be >= 1")
    t0 = time.perf_counter_ns()
    with nogil:
        for _k in range(repeat):
            for i in range(n):
                hist.c_record(v[i])
    elapsed = time.perf_counter_ns() - t0
    return elapsed, n * repeat


def bench_stage_loop(StageRecorder rec not None, deltas, int64_t repeat):
    """Pure-C timing of whole passes: for each row of `deltas`, a 2-D (passes, n_stages) int64
    array of per-stage offsets from the pass start, one c_stamp per stage then c_finish.
    Returns (nanoseconds, passes, last finish status)."""
    cdef const int64_t[:, ::1] d = deltas
    cdef Py_ssize_t n = d.shape[0]
    cdef Py_ssize_t i
    cdef int32_t s
    cdef int64_t _k
    cdef int64_t base = 0
    cdef int status = 0
    if n < 1 or d.shape[1] != rec.n or repeat < 1:
        raise ValueError("deltas must be (passes >= 1, n_stages) and repeat >= 1")
    t0 = time.perf_counter_ns()
    with nogil:
        for _k in range(repeat):
            for i in range(n):
                for s in range(rec.n):
                    rec.c_stamp(s, base + d[i, s])
                status = rec.c_finish()
                base += 1_000_000
    elapsed = time.perf_counter_ns() - t0
    return elapsed, n * repeat, status
