"""engine/_core/intents.pyx: hand-made buffers, and differential runs against
engine/model/intents_ref.py."""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine._core import intents
from engine._core.intents import (
    BUY,
    CANCEL,
    DTYPE,
    ERR_FULL,
    ERR_INSTRUMENT,
    ERR_ORDER_ID,
    ERR_PRICE,
    ERR_QTY,
    ERR_SIDE,
    ERR_TIF,
    ERR_TYPE,
    FIELDS,
    FOK,
    GTC,
    IOC,
    LIMIT,
    LIMIT_MAKER,
    MARKET,
    NEW,
    OK,
    REPLACE,
    SELL,
    IntentBuffer,
)
from engine.model import intents_ref
from engine.model.enums import OrderSide
from engine.model.intents_ref import IntentBufferRef

Buffer = IntentBuffer | IntentBufferRef

# ----------------------------------------------------------------------------- constants


def test_constants_match_the_reference_and_the_model_enums() -> None:
    names = [
        "NEW", "CANCEL", "REPLACE", "BUY", "SELL", "LIMIT", "MARKET", "LIMIT_MAKER", "GTC",
        "IOC", "FOK", "NO_PRICE", "NO_ORDER", "MAX_INSTRUMENTS", "OK", "ERR_FULL",
        "ERR_INSTRUMENT", "ERR_SIDE", "ERR_TYPE", "ERR_TIF", "ERR_PRICE", "ERR_QTY",
        "ERR_ORDER_ID", "ERR_INDEX", "FIELDS",
    ]  # fmt: skip
    for name in names:
        assert getattr(intents_ref, name) == getattr(intents, name), name
    assert (BUY, SELL) == (OrderSide.BUY, OrderSide.SELL)
    # this module's codes are its own: fixedpoint -1..-15, position -16..-18, book -32..-35,
    # depth_decode -48..-53, frame_handler -80 and below
    codes = [getattr(intents, n) for n in names if n.startswith("ERR_")]
    assert len(set(codes)) == len(codes) and all(-79 <= c <= -64 for c in codes)
    for code in [OK, *codes]:
        assert intents.describe(code)


def test_row_layout_is_the_c_struct() -> None:
    assert DTYPE.itemsize == 40
    assert DTYPE.names == FIELDS
    # the offsets come from the struct: no field overlaps another
    fields = DTYPE.fields
    assert fields is not None
    spans = sorted((fields[n][1], fields[n][1] + fields[n][0].itemsize) for n in FIELDS)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


# ----------------------------------------------------------------------------- by hand


def test_push_read_pop_in_order() -> None:
    buf = IntentBuffer(4)
    buf.push_new(0, BUY, 100, 5, tag=7)
    buf.push_cancel(1, 99, tag=8)
    buf.push_replace(2, 98, SELL, 105, 3, tag=9, order_type=LIMIT_MAKER)
    buf.push_new(0, SELL, 0, 2, order_type=MARKET, tif=IOC)
    assert len(buf) == 4
    assert buf.read(0) == (0, NEW, BUY, LIMIT, GTC, 100, 5, 7, 0)
    assert buf.read(1) == (1, CANCEL, 0, 0, 0, 0, 0, 8, 99)
    assert buf.read(2) == (2, REPLACE, SELL, LIMIT_MAKER, GTC, 105, 3, 9, 98)
    assert buf.read(3) == (0, NEW, SELL, MARKET, IOC, 0, 2, 0, 0)
    assert buf.pop() == (0, NEW, BUY, LIMIT, GTC, 100, 5, 7, 0)
    assert len(buf) == 3 and buf.read(0)[1] == CANCEL
    assert [row[1] for row in buf.drain()] == [CANCEL, REPLACE, NEW]
    assert len(buf) == 0 and buf.pop() is None and buf.drain() == []
    assert (buf.pushed, buf.rejected, buf.high_water) == (4, 0, 4)


def test_every_enum_value_is_accepted() -> None:
    buf = IntentBuffer(64)
    for side in (BUY, SELL):
        for tif in (GTC, IOC, FOK):
            assert buf.try_push_new(0, side, 10, 1, 0, LIMIT, tif) == OK
            assert buf.try_push_new(0, side, 0, 1, 0, MARKET, tif) == OK
        assert buf.try_push_new(0, side, 10, 1, 0, LIMIT_MAKER, GTC) == OK
    assert len(buf) == 14


def test_rejections_write_nothing_and_are_counted() -> None:
    buf = IntentBuffer(2, instrument_count=3)
    buf.push_new(2, BUY, 10, 1)
    before = buf.view().copy()
    assert buf.try_push_new(3, BUY, 10, 1) == ERR_INSTRUMENT
    assert buf.try_push_new(0, 0, 10, 1) == ERR_SIDE
    assert buf.try_push_new(0, BUY, 10, 1, 0, 4) == ERR_TYPE
    assert buf.try_push_new(0, BUY, 10, 1, 0, LIMIT, 0) == ERR_TIF
    assert buf.try_push_new(0, BUY, 10, 1, 0, LIMIT_MAKER, IOC) == ERR_TIF
    assert buf.try_push_new(0, BUY, 0, 1) == ERR_PRICE
    assert buf.try_push_new(0, BUY, -5, 1) == ERR_PRICE
    assert buf.try_push_new(0, BUY, 10, 1, 0, MARKET) == ERR_PRICE  # MARKET has no price
    assert buf.try_push_new(0, BUY, 10, 0) == ERR_QTY
    assert buf.try_push_cancel(0, 0) == ERR_ORDER_ID
    assert buf.try_push_replace(0, -1, BUY, 10, 1) == ERR_ORDER_ID
    assert buf.try_push_replace(0, 5, BUY, 10, -1) == ERR_QTY
    assert buf.rejected == 12 and buf.pushed == 1
    assert buf.view().tolist() == before.tolist()
    buf.push_cancel(0, 5)
    assert buf.try_push_cancel(0, 6) == ERR_FULL
    # a bad argument is reported as such even on a full buffer
    assert buf.try_push_new(0, BUY, 0, 1) == ERR_PRICE


def test_raising_methods_name_the_problem() -> None:
    buf = IntentBuffer(1, instrument_count=2)
    cases: list[tuple[Callable[[], None], str]] = [
        (lambda: buf.push_new(2, BUY, 10, 1), r"instrument index must be in 0\.\.1, got 2"),
        (lambda: buf.push_new(0, 3, 10, 1), r"side must be BUY \(1\) or SELL \(-1\), got 3"),
        (lambda: buf.push_new(0, BUY, 10, 1, 0, 9), r"order_type must be .*got 9"),
        (lambda: buf.push_new(0, BUY, 10, 1, 0, LIMIT, 9), r"tif must be GTC .*got 9"),
        (lambda: buf.push_new(0, BUY, 10, 1, 0, LIMIT_MAKER, FOK), r"LIMIT_MAKER must rest.*FOK"),
        (lambda: buf.push_new(0, BUY, 0, 1), r"price_ticks must be > 0 for a LIMIT intent"),
        (lambda: buf.push_new(0, BUY, 3, 1, 0, MARKET), r"MARKET intent has no price.*got 3"),
        (lambda: buf.push_new(0, BUY, 10, 0), r"qty_lots must be > 0, got 0"),
        (lambda: buf.push_cancel(0, 0), r"order_id to cancel or replace must be > 0, got 0"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()
    buf.push_new(0, BUY, 10, 1)
    with pytest.raises(ValueError, match="intent buffer is full: 1 intents pending"):
        buf.push_cancel(0, 1)
    assert len(buf) == 1


def test_model_enums_are_accepted_as_ints() -> None:
    buf = IntentBuffer(1)
    buf.push_new(0, OrderSide.SELL, 10, 1)
    assert buf.read(0)[2] == SELL


def test_a_full_buffer_compacts_after_the_consumer_took_rows() -> None:
    buf = IntentBuffer(3)
    for tag in range(3):
        buf.push_new(0, BUY, 10 + tag, 1, tag)
    assert buf.try_push_new(0, BUY, 99, 1) == ERR_FULL
    assert buf.pop() is not None
    # the tail is at capacity but one row is free at the head: the pending rows move down
    assert buf.try_push_new(0, BUY, 13, 1, 3) == OK
    assert [row[7] for row in (buf.read(0), buf.read(1), buf.read(2))] == [1, 2, 3]
    assert buf.try_push_new(0, BUY, 99, 1) == ERR_FULL
    assert [row[7] for row in buf.drain()] == [1, 2, 3]


def test_view_is_zero_copy_read_only_and_lives_until_the_next_change() -> None:
    buf = IntentBuffer(4)
    buf.push_new(0, BUY, 100, 5, 7)
    buf.push_new(1, SELL, 101, 6, 8)
    view = buf.view()
    assert view.dtype == DTYPE and len(view) == 2
    assert view["price_ticks"].tolist() == [100, 101]
    assert view[1]["tag"] == 8 and view[1]["side"] == SELL
    with pytest.raises(ValueError, match="read-only"):
        view["price_ticks"][0] = 1
    buf.pop()
    assert buf.view()["tag"].tolist() == [8]  # the pending rows only
    buf.clear()
    buf.push_new(3, BUY, 55, 1, 9)
    # the old view shows the same memory, now holding the new row: no copy was made
    assert view[0]["price_ticks"] == 55 and view[0]["instrument"] == 3
    assert len(buf.view()) == 1


def test_instrument_count_bounds_indexes_and_changes_only_when_empty() -> None:
    buf = IntentBuffer(2)
    assert buf.instrument_count == intents.MAX_INSTRUMENTS
    assert buf.try_push_new(2**31 - 2, BUY, 1, 1) == OK
    with pytest.raises(ValueError, match="pending"):
        buf.set_instrument_count(1)
    buf.clear()
    buf.set_instrument_count(1)
    assert buf.try_push_new(1, BUY, 1, 1) == ERR_INSTRUMENT
    assert buf.try_push_new(0, BUY, 1, 1) == OK
    buf.clear()
    buf.set_instrument_count(0)  # no table: every intent is refused
    assert buf.try_push_cancel(0, 1) == ERR_INSTRUMENT


def test_steady_state_pushes_pops_and_clears_allocate_nothing() -> None:
    buf = IntentBuffer(256)
    new, cancel, replace, clear = buf.push_new, buf.push_cancel, buf.push_replace, buf.clear
    # ints outside the small-int cache are made once here, not per call
    price, qty, tag, oid = 6_500_001, 1_000, 123_456, 987_654

    def run(n: int) -> None:
        for _ in range(n):
            for _ in range(84):
                new(1, BUY, price, qty, tag, LIMIT_MAKER, GTC)
                cancel(1, oid, tag)
                replace(1, oid, SELL, price, qty, tag)
            clear()

    run(100)
    tracemalloc.start()
    try:
        run(10)
        before = tracemalloc.get_traced_memory()[0]
        run(400)  # 100_800 pushes
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 512
    assert buf.pushed == 510 * 252


# ----------------------------------------------------------------------------- differential

INSTRUMENTS = st.one_of(st.integers(-2, 5), st.sampled_from([2**31 - 1, 2**31, 2**32, -(2**40)]))
SIDES = st.one_of(st.sampled_from([BUY, SELL]), st.sampled_from([0, 2, 2**32 + 1, -(2**32) - 1]))
TYPES = st.one_of(st.sampled_from([LIMIT, MARKET, LIMIT_MAKER]), st.sampled_from([0, 4, 2**32 + 1]))
TIFS = st.one_of(st.sampled_from([GTC, IOC, FOK]), st.sampled_from([0, 4, -1, 2**32 + 1]))
PRICES = st.one_of(
    st.integers(-2, 3), st.sampled_from([0, 100, 2**62, 2**63 - 1, -(2**63)])
)  # fmt: skip
QTYS = st.one_of(st.integers(-1, 3), st.sampled_from([2**63 - 1, -(2**63)]))
IDS = st.one_of(st.integers(-1, 3), st.sampled_from([2**63 - 1, -(2**63)]))
TAGS = st.integers(-(2**63), 2**63 - 1)

OPS = st.one_of(
    st.tuples(st.just("new"), st.tuples(INSTRUMENTS, SIDES, PRICES, QTYS, TAGS, TYPES, TIFS)),
    st.tuples(st.just("cancel"), st.tuples(INSTRUMENTS, IDS, TAGS)),
    st.tuples(
        st.just("replace"),
        st.tuples(INSTRUMENTS, IDS, SIDES, PRICES, QTYS, TAGS, TYPES, TIFS),
    ),
    st.tuples(st.just("new!"), st.tuples(INSTRUMENTS, SIDES, PRICES, QTYS, TAGS, TYPES, TIFS)),
    st.tuples(st.just("cancel!"), st.tuples(INSTRUMENTS, IDS, TAGS)),
    st.tuples(st.just("pop"), st.just(())),
    st.tuples(st.just("drain"), st.just(())),
    st.tuples(st.just("clear"), st.just(())),
    st.tuples(st.just("read"), st.tuples(st.integers(-2, 8))),
    st.tuples(st.just("count"), st.tuples(st.integers(0, 6))),
)


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "value", fn()
    except (ValueError, IndexError, TypeError, OverflowError) as exc:
        return "raised", (type(exc).__name__, str(exc))


def step(buf: Buffer, op: str, args: tuple[Any, ...]) -> tuple[str, Any]:
    calls: dict[str, Callable[[], Any]] = {
        "new": lambda: buf.try_push_new(*args),
        "cancel": lambda: buf.try_push_cancel(*args),
        "replace": lambda: buf.try_push_replace(*args),
        "new!": lambda: buf.push_new(*args),
        "cancel!": lambda: buf.push_cancel(*args),
        "pop": buf.pop,
        "drain": buf.drain,
        "clear": buf.clear,
        "read": lambda: buf.read(*args),
        "count": lambda: buf.set_instrument_count(*args),
    }
    return outcome(calls[op])


def observe(buf: Buffer) -> tuple[Any, ...]:
    rows = [buf.read(i) for i in range(len(buf))]
    return (
        len(buf),
        rows,
        buf.view().tolist(),
        buf.pushed,
        buf.rejected,
        buf.high_water,
        buf.instrument_count,
    )


@settings(max_examples=400, deadline=None)
@given(capacity=st.integers(1, 5), count=st.integers(0, 4), ops=st.lists(OPS, max_size=60))
def test_cython_buffer_matches_the_reference_after_every_step(
    capacity: int, count: int, ops: list[tuple[str, tuple[Any, ...]]]
) -> None:
    fast, ref = IntentBuffer(capacity, count), IntentBufferRef(capacity, count)
    for op, args in ops:
        assert step(fast, op, args) == step(ref, op, args), (op, args)
        assert observe(fast) == observe(ref), (op, args)


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(1, 4),
    batches=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=30),
)
def test_producer_consumer_interleaving_keeps_push_order(
    capacity: int, batches: list[tuple[int, int]]
) -> None:
    """Pushes and partial takes interleaved (the compaction path) against the reference."""
    fast, ref = IntentBuffer(capacity), IntentBufferRef(capacity)
    tag = 0
    for pushes, pops in batches:
        for _ in range(pushes):
            tag += 1
            assert fast.try_push_new(0, BUY, tag, 1, tag) == ref.try_push_new(0, BUY, tag, 1, tag)
        for _ in range(pops):
            assert fast.pop() == ref.pop()
        assert observe(fast) == observe(ref)
    taken = [row[7] for row in fast.drain()]
    assert taken == sorted(taken)
