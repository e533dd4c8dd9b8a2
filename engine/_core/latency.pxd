# Latency histograms of the hot path: fixed log-linear buckets (the HdrHistogram layout) in a
# counts array allocated once, so recording a value is a few integer operations and one
# increment, no allocation, no GIL. Cython callers record through the inline c_record /
# c_stamp below (status codes, never an exception); Python callers use the wrappers of
# latency.pyx. Bucket maths: latency.pyx's docstring; reference: engine/runtime/latency_ref.py.
cimport cython
from libc.stdint cimport int32_t, int64_t, uint64_t

from engine._core.fixedpoint cimport int128

cdef extern from *:
    """
    /* GCC/Clang: one instruction (lzcnt/bsr); the argument is never 0 here (see lat_index) */
    static inline int hft_lat_clz64(unsigned long long x) { return __builtin_clzll(x); }
    """
    int hft_lat_clz64(uint64_t x) noexcept nogil

cdef enum:
    LAT_MIN_BITS = 2  # sub_bucket_bits bounds: 2 gives 50% error, 16 gives 0.003% (1.6M buckets)
    LAT_MAX_BITS = 16

# Statuses. Non-negative: the value was recorded (LAT_CLAMPED: at highest_ns, counted in
# `overflow`). Negative: an error, nothing recorded (a refused value is counted in `refused`).
# fixedpoint owns -1..-15, position -16..-18, book -32..-35, depth_decode -48..-53, intents
# -64..-72, frame_handler -80..-83, orders -96..-101, risk -112..-143, quoting -144..-159,
# reports -160..-165, fills -176..-191; latency owns -192..-207.
cdef enum:
    LAT_OK = 0
    LAT_CLAMPED = 1  # above highest_ns: recorded as highest_ns
    LAT_ERR_NEGATIVE = -192  # a negative value or time: refused
    LAT_ERR_STAGE = -193  # a stage index outside 0..n_stages-1
    LAT_ERR_ORDER = -194  # finish(): a stage stamped earlier than the stage before it
    LAT_ERR_LAYOUT = -195  # merge of histograms whose (lowest, highest, bits) differ


# One histogram's layout, counts and running stats. Index of a value v >= 0, u = v >> unit:
# u < 2**bits: u itself (exact); above: 2**(bits-1) linear sub-buckets per power of two.
cdef struct LatHist:
    int64_t* counts  # n_buckets counters, calloc'ed by the owning Histogram
    int32_t n_buckets  # lat_index(highest) + 1: every clamped value indexes inside
    int32_t bits  # sub_bucket_bits
    int32_t unit  # floor(log2(lowest_ns)): values are counted in units of 2**unit ns
    int64_t lowest  # lowest_ns as given (>= 1)
    int64_t highest  # highest_ns: larger values are clamped to it
    int64_t total  # values recorded (clamped ones included)
    int64_t overflow  # values clamped to highest
    int64_t refused  # negative values, not recorded
    int64_t min_value  # INT64_MAX while empty
    int64_t max_value  # -1 while empty
    int128 sum  # of the recorded (clamped) values: exact whatever the count


# Bucket of `value` (0 <= value <= highest, so the result is < n_buckets). OR-ing the exact
# region's mask keeps clz's argument non-zero and folds u < 2**bits into the same formula:
# m = max(bits - 1, floor(log2 u)), shift = m - (bits - 1),
# index = shift * 2**(bits-1) + (u >> shift).
cdef inline int32_t lat_index(int64_t value, int32_t unit, int32_t bits) noexcept nogil:
    cdef uint64_t u = (<uint64_t>value) >> unit
    cdef int32_t shift = 63 - hft_lat_clz64(u | ((<uint64_t>1 << bits) - 1)) - (bits - 1)
    return (shift << (bits - 1)) + <int32_t>(u >> shift)


cdef inline int lat_record(LatHist* h, int64_t value) noexcept nogil:
    cdef int status = LAT_OK
    if value < 0:
        h.refused += 1
        return LAT_ERR_NEGATIVE
    if value > h.highest:
        h.overflow += 1
        value = h.highest
        status = LAT_CLAMPED
    h.counts[lat_index(value, h.unit, h.bits)] += 1
    h.total += 1
    h.sum += value
    if value < h.min_value:
        h.min_value = value
    if value > h.max_value:
        h.max_value = value
    return status


@cython.final
cdef class Histogram:
    cdef LatHist h  # inline: its address is stable for the object's life (StageRecorder keeps it)

    cdef inline int c_record(self, int64_t value) noexcept nogil:
        return lat_record(&self.h, value)

    # The highest value of the bucket holding the rank ceil(p/100 * total) (clamped to
    # 1..total); 0 when empty. p must be 0..100 (the Python wrapper checks it).
    cdef int64_t c_percentile(self, double p) noexcept nogil
    cdef int c_merge(self, Histogram other) noexcept  # LAT_OK or LAT_ERR_LAYOUT
    cdef void c_reset(self) noexcept nogil


# Per-stage latency of a pipeline pass: c_stamp(stage, t) per stage reached, c_finish() once
# per pass. Stage i >= 1 records t[i] - t[previous stamped stage]; the total records
# t[last stamped] - t[first stamped] when two or more were stamped. Histogram slot 0 is the
# total, slot i the stage i (stage 0 is the origin: it has no delta of its own).
@cython.final
cdef class StageRecorder:
    cdef int32_t n  # stages, >= 2
    cdef int64_t* stamps  # n times of this pass; -1: not stamped
    cdef LatHist** slots  # n borrowed pointers into the Histograms of _hists
    cdef tuple _hists  # (total, stage 1, ..., stage n-1): keeps `slots` alive
    cdef tuple _names

    cdef inline int c_stamp(self, int32_t stage, int64_t now_ns) noexcept nogil:
        # a second stamp of the same stage in a pass replaces the first
        if stage < 0 or stage >= self.n:
            return LAT_ERR_STAGE
        if now_ns < 0:
            return LAT_ERR_NEGATIVE
        self.stamps[stage] = now_ns
        return LAT_OK

    # Record this pass and clear its stamps: the number of stages stamped (0..n), or
    # LAT_ERR_ORDER when a delta was negative (that delta is refused and counted in its
    # histogram's `refused`, the others are recorded; the pass is cleared either way).
    cdef int c_finish(self) noexcept nogil
    cdef void c_reset(self) noexcept nogil
