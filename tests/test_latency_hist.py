"""engine/_core/latency.pyx: the bucket layout checked from its definition at every power of two,
differential runs against engine/runtime/latency_ref.py, percentile accuracy against numpy,
the bounds that make boundscheck off safe, the stage recorder, and the JSON helpers."""

from __future__ import annotations

import json
import math
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine._core import latency
from engine._core.fixedpoint import FixedPointOverflowError
from engine._core.latency import (
    CLAMPED,
    ERR_LAYOUT,
    ERR_NEGATIVE,
    ERR_ORDER,
    ERR_STAGE,
    OK,
    Histogram,
    StageRecorder,
)
from engine.runtime import latency_ref
from engine.runtime.latency import StageClock, dump_json, summary_line
from engine.runtime.latency_ref import HistogramRef, StageRecorderRef

INT64_MAX = 2**63 - 1
STAGES = ("frame_received", "book_applied", "strategy_done", "risk_done", "bytes_written")


def both(**layout: int) -> tuple[Histogram, HistogramRef]:
    return Histogram(**layout), HistogramRef(**layout)


def same(fast: Histogram, ref: HistogramRef) -> None:
    assert fast.to_dict() == ref.to_dict()
    assert (fast.count, fast.min, fast.max, fast.overflow, fast.refused) == (
        ref.count,
        ref.min,
        ref.max,
        ref.overflow,
        ref.refused,
    )


# ----------------------------------------------------------------------------- constants


def test_constants_match_the_reference() -> None:
    names = [
        "OK", "CLAMPED", "ERR_NEGATIVE", "ERR_STAGE", "ERR_ORDER", "ERR_LAYOUT", "MIN_BITS",
        "MAX_BITS", "DEFAULT_LOWEST_NS", "DEFAULT_HIGHEST_NS", "DEFAULT_BITS", "TOTAL",
        "PERCENTILES", "MAX_STAGES",
    ]  # fmt: skip
    for name in names:
        assert getattr(latency_ref, name) == getattr(latency, name), name
    errors = [ERR_NEGATIVE, ERR_STAGE, ERR_ORDER, ERR_LAYOUT]
    # the reserved range, below fills' -176..-191
    assert len(set(errors)) == len(errors) and all(-207 <= c <= -192 for c in errors)
    for code in [OK, CLAMPED, *errors]:
        assert "unknown" not in latency.describe(code)
    assert "unknown" in latency.describe(-1000)


def test_default_layout_resolves_1ns_to_60s_within_one_percent() -> None:
    h = Histogram()
    assert (h.lowest_ns, h.highest_ns, h.sub_bucket_bits) == (1, 60_000_000_000, 8)
    assert h.n_buckets == 3808
    assert 2.0 ** -(h.sub_bucket_bits - 1) < 0.01
    low, high = h.bucket_bounds(h.index_of(60_000_000_000))
    assert low <= 60_000_000_000 <= high and h.index_of(60_000_000_000) == h.n_buckets - 1


BAD: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"sub_bucket_bits": 1}, ValueError, "sub_bucket_bits must be in 2..16, got 1"),
    ({"sub_bucket_bits": 17}, ValueError, "sub_bucket_bits must be in 2..16"),
    ({"lowest_ns": 0}, ValueError, "lowest_ns must be >= 1, got 0"),
    ({"lowest_ns": 10, "highest_ns": 19}, ValueError, "highest_ns must be >= 2 * lowest_ns"),
    ({"lowest_ns": 2**62 + 1, "highest_ns": INT64_MAX}, ValueError, "highest_ns must be >= 2"),
    ({"highest_ns": 2**63}, FixedPointOverflowError, "does not fit int64"),
    ({"highest_ns": 1e9}, TypeError, "highest_ns must be an int, got float"),
    ({"sub_bucket_bits": True}, TypeError, "sub_bucket_bits must be an int"),
]


@pytest.mark.parametrize(("layout", "error", "text"), BAD)
def test_a_bad_layout_is_refused_by_name(
    layout: dict[str, Any], error: type[Exception], text: str
) -> None:
    with pytest.raises(error) as fast:
        Histogram(**layout)
    with pytest.raises(error) as ref:
        HistogramRef(**layout)
    assert text in str(fast.value)
    assert str(fast.value) == str(ref.value)


# ----------------------------------------------------------------------------- bucket layout


def _layout_id(d: dict[str, int]) -> str:
    return f"b{d['sub_bucket_bits']}l{d['lowest_ns']}"


LAYOUTS = [
    {"sub_bucket_bits": b, "lowest_ns": lo, "highest_ns": INT64_MAX}
    for b in (2, 3, 7, 8, 11)
    for lo in (1, 8, 1000)
]


def _near_powers(highest: int) -> list[int]:
    out = {v for k in range(64) for v in range(2**k - 2, 2**k + 3) if 0 <= v <= highest}
    return sorted(out | {highest, highest - 1})


@pytest.mark.parametrize("layout", LAYOUTS, ids=_layout_id)
def test_buckets_around_every_power_of_two(layout: dict[str, int]) -> None:
    h, ref = both(**layout)
    bits, unit = h.sub_bucket_bits, h.lowest_ns.bit_length() - 1
    assert h.n_buckets == ref.n_buckets
    for v in _near_powers(h.highest_ns):
        i = h.index_of(v)
        assert i == ref.index_of(v), v
        low, high = h.bucket_bounds(i)
        assert low <= v <= high, (v, low, high)
        width = high - low + 1
        if v >> unit < 2**bits:
            assert width == 2**unit  # the linear region: one bucket per unit
        else:
            # the stated relative error, and a bucket never spans a power of two
            assert width <= v * 2.0 ** -(bits - 1), (v, width)
            assert low.bit_length() == high.bit_length() == v.bit_length()


@pytest.mark.parametrize("layout", LAYOUTS, ids=_layout_id)
def test_buckets_tile_zero_to_int64_max(layout: dict[str, int]) -> None:
    h, ref = both(**layout)
    edge = -1
    for i in range(h.n_buckets):
        low, high = h.bucket_bounds(i)
        assert (low, high) == ref.bucket_bounds(i)
        assert h.index_of(low) == h.index_of(high) == i
        assert low == edge + 1  # contiguous, in order
        edge = high
    assert edge == INT64_MAX


def test_values_below_2_pow_bits_are_exact() -> None:
    h = Histogram(sub_bucket_bits=7)
    for v in range(2**7):
        assert h.bucket_bounds(h.index_of(v)) == (v, v)
    assert h.bucket_bounds(h.index_of(128)) == (128, 129)  # the first split power of two


# ----------------------------------------------------------------------------- differential

values_st = st.lists(
    st.one_of(
        st.integers(0, 300),
        st.integers(0, 10**8),
        st.integers(-(2**63), -1),
        st.integers(0, INT64_MAX),
        st.integers(2**40 - 5, 2**40 + 5),
    ),
    max_size=300,
)
layout_st: st.SearchStrategy[dict[str, int]] = st.builds(
    dict,
    sub_bucket_bits=st.integers(2, 12),
    lowest_ns=st.sampled_from([1, 2, 7, 1000]),
    highest_ns=st.sampled_from([2_000, 10**9, 60 * 10**9, INT64_MAX]),
)
percent_st = st.one_of(st.sampled_from([0, 0.0001, 50, 99.9, 99.99, 100]), st.floats(0, 100))


@settings(max_examples=250, deadline=None)
@given(layout=layout_st, values=values_st, ps=st.lists(percent_st, max_size=8))
def test_same_answers_as_the_reference(
    layout: dict[str, int], values: list[int], ps: list[float]
) -> None:
    fast, ref = both(**layout)
    for v in values:
        assert fast.record(v) == ref.record(v), v
    same(fast, ref)
    assert fast.percentiles(ps) == ref.percentiles(ps)
    assert fast.percentiles(np.array(ps, dtype=np.float64)) == ref.percentiles(ps)
    assert fast.buckets() == ref.buckets()


@settings(max_examples=100, deadline=None)
@given(layout=layout_st, a=values_st, b=values_st)
def test_record_many_and_merge_match_the_reference(
    layout: dict[str, int], a: list[int], b: list[int]
) -> None:
    fast_a, ref_a = both(**layout)
    fast_b, ref_b = both(**layout)
    assert fast_a.record_many(np.array(a, dtype=np.int64)) == ref_a.record_many(a)
    assert fast_b.record_many(np.array(b, dtype=np.int64)) == ref_b.record_many(b)
    fast_a.merge(fast_b)
    ref_a.merge(ref_b)
    same(fast_a, ref_a)
    one = Histogram(**layout)
    one.record_many(np.array(a + b, dtype=np.int64))
    assert one.to_dict() == fast_a.to_dict()  # merging is recording both


# ----------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("bits", [7, 8, 10])
def test_percentiles_within_the_stated_error_of_numpy(bits: int) -> None:
    rng = np.random.default_rng(bits)
    sample = np.concatenate(
        [
            rng.lognormal(np.log(20_000), 1.2, 200_000),  # ~20 us with a long tail
            rng.uniform(0, 300, 5_000),  # the exact region
            rng.pareto(1.5, 5_000) * 1e6,  # stalls up to seconds
        ]
    ).astype(np.int64)
    h = Histogram(sub_bucket_bits=bits)
    assert h.record_many(sample) == len(sample)
    assert h.overflow == 0
    bound = 2.0 ** -(bits - 1)
    ps = [0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100]
    for p, got in zip(ps, h.percentiles(ps), strict=True):
        # numpy's inverted_cdf is the same rank rule: the sample at ceil(p/100 * n)
        exact = int(np.percentile(sample, p, method="inverted_cdf"))
        assert exact <= got <= exact + max(0, math.floor(exact * bound)), (p, exact, got)
    assert h.min == sample.min() and h.max == sample.max()
    assert h.mean == pytest.approx(sample.mean(), rel=1e-12)


# ----------------------------------------------------------------------------- paths


def test_overflow_is_clamped_and_negative_refused() -> None:
    for h in both(highest_ns=1_000):
        assert h.record(999) == OK
        assert h.record(1_001) == CLAMPED
        assert h.record(INT64_MAX) == CLAMPED
        assert h.record(-1) == ERR_NEGATIVE
        assert h.record(-(2**63)) == ERR_NEGATIVE
        assert (h.count, h.overflow, h.refused, h.max, h.min) == (3, 2, 2, 1_000, 999)
        assert h.mean == (999 + 2 * 1_000) / 3
        d = h.to_dict()
        assert d["overflow"] == 2 and d["refused"] == 2 and d["p99.99"] >= 1_000
    h = Histogram(highest_ns=1_000)
    assert h.record_many(np.array([5, -5, 2_000, 7], dtype=np.int64)) == 3
    assert (h.count, h.refused, h.overflow) == (3, 1, 1)


def test_empty_histogram_answers_zero() -> None:
    for h in both():
        assert (h.count, h.min, h.max, h.mean) == (0, 0, 0, 0.0)
        assert h.percentiles([0, 50, 100]) == [0, 0, 0]
        assert h.buckets() == []
    assert Histogram().to_dict() == HistogramRef().to_dict()


def test_bad_percentile_and_record_arguments() -> None:
    h, ref = both()
    for bad in (-0.1, 100.5, math.nan, math.inf):
        for hist in (h, ref):
            with pytest.raises(ValueError, match=r"a percentile must be in 0\.\.100"):
                hist.percentile(bad)
    for hist in (h, ref):
        with pytest.raises(TypeError, match="a percentile must be a number"):
            hist.percentile("50")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="value must be an int, got float"):
            hist.record(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):  # a wrong dtype is never reinterpreted
        h.record_many(np.array([1.0, 2.0]))
    with pytest.raises(ValueError):
        h.record_many(np.array([1, 2], dtype=np.int32))
    assert h.count == 0


def test_merge_needs_the_same_layout() -> None:
    for cls in (Histogram, HistogramRef):
        a = cls()
        for other in (
            cls(sub_bucket_bits=7),
            cls(highest_ns=10**9),
            cls(lowest_ns=2),
        ):
            with pytest.raises(ValueError, match="cannot merge histograms of different layouts"):
                a.merge(other)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Histogram().merge(None)  # type: ignore[arg-type]
    h = Histogram()
    h.record(10)
    h.merge(h)  # itself: everything doubles
    assert (h.count, h.buckets()) == (2, [(10, 2)])
    assert latency.ERR_LAYOUT == ERR_LAYOUT


def test_reset_keeps_the_layout() -> None:
    h = Histogram(sub_bucket_bits=5, highest_ns=10**6)
    h.record_many(np.arange(-5, 2_000_000, 997, dtype=np.int64))
    h.reset()
    assert h.to_dict() == Histogram(sub_bucket_bits=5, highest_ns=10**6).to_dict()


# ----------------------------------------------------------------------------- bounds

# boundscheck is off: every index comes from lat_index of a value clamped into 0..highest, so
# the index is at most lat_index(highest) = n_buckets - 1. These drive the extremes.


@pytest.mark.parametrize("bits", range(2, 17))
def test_extremes_of_int64(bits: int) -> None:
    h, ref = both(sub_bucket_bits=bits, highest_ns=INT64_MAX)
    top = h.n_buckets - 1
    assert h.index_of(INT64_MAX) == top == ref.index_of(INT64_MAX)
    assert h.bucket_bounds(top)[1] == INT64_MAX
    for v in (INT64_MAX, INT64_MAX - 1, 2**62, 2**62 - 1, 0):
        assert h.record(v) == ref.record(v) == OK
    assert h.percentile(100) == INT64_MAX
    same(h, ref)
    with pytest.raises(IndexError):
        h.bucket_bounds(top + 1)
    with pytest.raises(IndexError):
        h.bucket_bounds(-1)
    with pytest.raises(ValueError, match=r"value must be in 0\.\."):
        h.index_of(-1)


def test_sum_does_not_wrap() -> None:
    # 1,000 values of INT64_MAX: the sum needs 73 bits; a wrapped int64 would give garbage
    h = Histogram(highest_ns=INT64_MAX)
    assert h.record_many(np.full(1_000, INT64_MAX, dtype=np.int64)) == 1_000
    assert h.mean == float(INT64_MAX)


def test_out_of_int64_is_an_error_not_a_truncation() -> None:
    for h in both(highest_ns=10**9):
        for bad in (2**63, -(2**63) - 1, 2**64 + 5):
            with pytest.raises(FixedPointOverflowError, match="does not fit int64"):
                h.record(bad)
        assert (h.count, h.refused, h.overflow) == (0, 0, 0)
    h = Histogram(highest_ns=10**9)
    with pytest.raises(ValueError, match=r"value must be in 0..1000000000"):
        h.index_of(10**9 + 1)
    with pytest.raises(FixedPointOverflowError):
        h.index_of(2**64)


def test_smallest_and_largest_layouts() -> None:
    # lowest at 2**61 (the largest with highest_ns >= 2 * lowest_ns): unit 61, 4 buckets
    h, ref = both(lowest_ns=2**61, highest_ns=INT64_MAX, sub_bucket_bits=2)
    assert h.n_buckets == ref.n_buckets == 4
    bounds = [(0, 2**61 - 1), (2**61, 2**62 - 1), (2**62, 3 * 2**61 - 1), (3 * 2**61, INT64_MAX)]
    assert [h.bucket_bounds(i) for i in range(4)] == bounds
    h.record(INT64_MAX)
    assert h.percentile(50) == INT64_MAX
    tiny = Histogram(lowest_ns=1, highest_ns=2, sub_bucket_bits=2)
    assert tiny.n_buckets == 3 and tiny.record(3) == CLAMPED and tiny.max == 2


# ----------------------------------------------------------------------------- stages


def test_stage_pass_records_deltas_and_total() -> None:
    rec = StageRecorder(STAGES)
    for i, t in enumerate((1_000, 1_300, 1_700, 1_750, 2_000)):
        assert rec.stamp(i, t) == OK
    assert rec.finish() == 5
    got = {name: h.buckets() for name, h in rec.histograms.items()}
    assert got == {
        "book_applied": [(301, 1)],  # 300 lies in the 2-wide bucket 300..301
        "strategy_done": [(401, 1)],
        "risk_done": [(50, 1)],
        "bytes_written": [(250, 1)],  # below 2**8: exact
        "total": [(1003, 1)],  # 4-wide: 1000..1003
    }
    assert list(rec.to_dict()) == [*STAGES[1:], "total"]
    assert rec.histogram("total") is rec.total
    with pytest.raises(KeyError, match="no histogram 'frame_received'"):
        rec.histogram("frame_received")  # the origin has no delta
    assert rec.index("risk_done") == 3
    with pytest.raises(ValueError, match="no stage 'nope'"):
        rec.index("nope")


def test_unstamped_stages_are_skipped() -> None:
    rec = StageRecorder(STAGES)
    rec.stamp(0, 100)
    rec.stamp(3, 160)  # 1 and 2 not reached in this pass
    rec.stamp(4, 170)
    assert rec.finish() == 3
    assert rec.histogram("risk_done").buckets() == [(60, 1)]
    assert rec.histogram("bytes_written").buckets() == [(10, 1)]
    assert rec.histogram("book_applied").count == 0
    assert rec.total.buckets() == [(70, 1)]
    rec.stamp(2, 500)  # a single stamp: no delta, no total
    assert rec.finish() == 1
    assert rec.finish() == 0  # nothing stamped
    assert rec.total.count == 1
    rec.stamp(1, 10)
    rec.stamp(1, 20)  # a second stamp of a stage replaces the first
    rec.stamp(2, 25)
    assert rec.finish() == 2
    assert rec.histogram("strategy_done").buckets()[-1] == (5, 1)


def test_stage_errors() -> None:
    for rec in (StageRecorder(STAGES), StageRecorderRef(STAGES)):
        assert rec.stamp(5, 1) == ERR_STAGE
        assert rec.stamp(-1, 1) == ERR_STAGE
        assert rec.stamp(2**32, 1) == ERR_STAGE  # not wrapped to stage 0 by an int32 cast
        assert rec.stamp(0, -1) == ERR_NEGATIVE
        rec.stamp(0, 500)
        rec.stamp(1, 400)  # earlier than stage 0
        rec.stamp(2, 450)
        assert rec.finish() == ERR_ORDER
        assert rec.histogram("book_applied").refused == 1
        assert rec.histogram("strategy_done").buckets() == [(50, 1)]
        assert rec.total.refused == 1  # 450 - 500 too
        assert rec.finish() == 0  # the pass was cleared anyway
        rec.reset()
        assert all(h.count == h.refused == 0 for h in rec.histograms.values())
    for bad in (["a"], ["a", "a"], ["a", "total"], ["a", ""], ["a", 3], ["s"] * 65):
        for cls in (StageRecorder, StageRecorderRef):
            with pytest.raises(ValueError):
                cls(bad)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    passes=st.lists(
        st.lists(st.tuples(st.integers(-1, 5), st.integers(-5, 2**40)), max_size=7),
        max_size=12,
    )
)
def test_stage_recorder_matches_the_reference(passes: list[list[tuple[int, int]]]) -> None:
    fast = StageRecorder(STAGES, sub_bucket_bits=6, highest_ns=10**12)
    ref = StageRecorderRef(STAGES, sub_bucket_bits=6, highest_ns=10**12)
    for stamps in passes:
        for stage, t in stamps:
            assert fast.stamp(stage, t) == ref.stamp(stage, t)
        assert fast.finish() == ref.finish()
    assert fast.to_dict() == ref.to_dict()


def test_stage_layout_is_passed_to_every_histogram() -> None:
    rec = StageRecorder(["a", "b"], lowest_ns=4, highest_ns=10**6, sub_bucket_bits=5)
    for h in rec.histograms.values():
        assert (h.lowest_ns, h.highest_ns, h.sub_bucket_bits) == (4, 10**6, 5)
    with pytest.raises(ValueError, match="sub_bucket_bits"):
        StageRecorder(["a", "b"], sub_bucket_bits=30)


# ----------------------------------------------------------------------------- no allocation


def test_recording_allocates_nothing() -> None:
    h = Histogram()
    rec = StageRecorder(STAGES)
    values = np.random.default_rng(1).integers(0, 10**8, 10_000, dtype=np.int64)
    small = [int(v) % 200 for v in values[:1000]]  # cached small ints: no allocation to read
    record, stamp, finish = h.record, rec.stamp, rec.finish
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(20):
            h.record_many(values)
            for v in small:
                record(v)
                stamp(0, v)
                stamp(4, v + 1)
                finish()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert h.count == 20 * 11_000
    assert after - before <= 2048
    assert peak - before <= 2048


def test_bench_loops_record_what_they_time() -> None:
    h = Histogram()
    values = np.arange(1, 101, dtype=np.int64)
    elapsed, n = latency.bench_loop(h, values, 3)
    assert n == 300 and h.count == 300 and elapsed >= 0
    rec = StageRecorder(["a", "b", "c"])
    offsets = np.array([[0, 10, 30]] * 4, dtype=np.int64)
    _, passes, status = latency.bench_stage_loop(rec, offsets, 2)
    assert (passes, status) == (8, 3)
    assert rec.histogram("c").buckets() == [(20, 8)] and rec.total.buckets() == [(30, 8)]
    with pytest.raises(ValueError):
        latency.bench_stage_loop(rec, np.zeros((2, 2), dtype=np.int64), 1)


# ----------------------------------------------------------------------------- JSON, helpers


def test_to_dict_survives_json() -> None:
    h = Histogram()
    h.record_many(np.random.default_rng(3).integers(-10, 10**7, 5_000, dtype=np.int64))
    doc = h.to_dict()
    assert json.loads(json.dumps(doc)) == doc
    assert set(doc) >= {"count", "min", "max", "mean", "p50", "p90", "p99", "p99.9", "p99.99"}
    assert sum(n for _, n in doc["buckets"]) == doc["count"] == 5_000 - h.refused
    rec = StageRecorder(STAGES)
    rec.stamp(0, 1)
    rec.stamp(4, 90)
    rec.finish()
    assert json.loads(json.dumps(rec.to_dict())) == rec.to_dict()


def test_dump_json_is_atomic_and_complete(tmp_path: Path) -> None:
    target = tmp_path / "latency.json"
    target.write_text("old")
    rec = StageRecorder(STAGES)
    rec.stamp(0, 1_000)
    rec.stamp(1, 13_300)
    rec.finish()
    h = Histogram()
    h.record(5)
    dump_json(target, {"feed": rec, "wire": h})
    doc = json.loads(target.read_text())
    assert doc == {"feed": rec.to_dict(), "wire": h.to_dict()}
    assert [p.name for p in tmp_path.iterdir()] == ["latency.json"]  # no temporary left
    with pytest.raises(AttributeError):
        dump_json(target, {"bad": object()})  # type: ignore[dict-item]
    assert json.loads(target.read_text()) == doc  # a failed dump leaves the old file
    (tmp_path / "taken").mkdir()
    with pytest.raises(OSError):  # the rename fails: the temporary must not stay behind
        dump_json(tmp_path / "taken", {"wire": h})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latency.json", "taken"]


def test_summary_line() -> None:
    h = Histogram()
    assert summary_line(h) == "p50=0.0us p99=0.0us n=0"
    for v in range(1, 101):
        h.record(v * 1_000)
    # p50: 50,000 in the 256-wide bucket 49,920..50,175; p99: 99,000 in 98,816..99,327
    assert summary_line(h) == "p50=50.2us p99=99.3us n=100"
    small = Histogram(highest_ns=10_000)
    small.record(50_000)
    assert summary_line(small).endswith("n=1 over=1")
    rec = StageRecorder(["a", "b"])
    rec.stamp(0, 0)
    rec.stamp(1, 12_000)  # in 11,968..12,031
    rec.finish()
    assert summary_line(rec) == "p50=12.0us p99=12.0us n=1"


def test_stage_clock_marks_by_name() -> None:
    times = iter([100, 250, 600])
    clock = StageClock(StageRecorder(STAGES), now=lambda: next(times))
    assert clock.mark("frame_received") == OK
    assert clock.mark("book_applied") == OK
    assert clock.mark("bytes_written", now_ns=1_000) == OK  # an explicit time wins
    assert clock.finish() == 3
    assert clock.recorder.histogram("bytes_written").buckets() == [(751, 1)]
    with pytest.raises(KeyError):
        clock.mark("typo")
