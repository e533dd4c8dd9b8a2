"""engine/_core/book.pyx: hand-made books, and differential runs against engine/data/book_ref.py."""

from __future__ import annotations

import array
import math
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine._core.book import (
    ABSENT,
    ASK,
    BID,
    CROSSED,
    DROPPED,
    EVICTED,
    MAX_PRICE,
    NO_PRICE,
    NO_SPREAD,
    OK,
    OrderBook,
    UpdateBuffer,
)
from engine._core.fixedpoint import FixedPointOverflowError
from engine.data import book_ref
from engine.data.book_ref import BookRef

Book = OrderBook | BookRef


def buffer(rows: list[tuple[int, int, int]], capacity: int | None = None) -> UpdateBuffer:
    buf = UpdateBuffer(capacity or max(1, len(rows)))
    for side, price, size in rows:
        buf.push(side, price, size)
    return buf


def book_of(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], capacity: int = 8
) -> OrderBook:
    book = OrderBook(capacity)
    book.load_snapshot(buffer([(BID, p, s) for p, s in bids] + [(ASK, p, s) for p, s in asks]))
    return book


# ----------------------------------------------------------------------------- constants


def test_constants_match_the_reference() -> None:
    for name in ("BID", "ASK", "NO_PRICE", "NO_SPREAD", "MAX_PRICE"):
        assert getattr(book_ref, name) == globals()[name], name
    for name in ("OK", "ABSENT", "DROPPED", "EVICTED", "CROSSED"):
        assert getattr(book_ref, name) == globals()[name], name
    assert MAX_PRICE == 2**62 - 1
    assert NO_SPREAD == -(2**63)


# ----------------------------------------------------------------------------- ordering


def test_sides_are_kept_best_first_whatever_the_arrival_order() -> None:
    book = OrderBook(8)
    for price in (100, 97, 99, 101, 98):
        assert book.set_level(BID, price, price - 90) == OK
    for price in (110, 104, 107, 105):
        assert book.set_level(ASK, price, 1) == OK
    assert book.levels(BID) == [(101, 11), (100, 10), (99, 9), (98, 8), (97, 7)]
    assert book.levels(ASK) == [(104, 1), (105, 1), (107, 1), (110, 1)]
    assert book.levels(BID, 2) == [(101, 11), (100, 10)]
    assert book.levels(ASK, 100) == book.levels(ASK)
    assert (book.bids_count, book.asks_count) == (5, 4)
    assert book.best_bid() == (101, 11)
    assert book.best_ask() == (104, 1)
    assert (book.best_bid_price, book.best_bid_size) == (101, 11)
    assert (book.best_ask_price, book.best_ask_size) == (104, 1)


def test_size_update_delete_and_delete_of_an_absent_level() -> None:
    book = book_of([(100, 1), (99, 2), (98, 3)], [(101, 1)])
    assert book.set_level(BID, 99, 20) == OK
    assert book.levels(BID) == [(100, 1), (99, 20), (98, 3)]
    assert book.set_level(BID, 100, 0) == OK  # delete of the best level: row 0
    assert book.set_level(BID, 98, 0) == OK  # delete of the last row
    assert book.levels(BID) == [(99, 20)]
    assert book.set_level(BID, 50, 0) == ABSENT
    assert book.set_level(ASK, 200, 0) == ABSENT
    assert book.levels(BID) == [(99, 20)]
    assert book.updates == 4 + 5  # the snapshot's rows count, absent deletes too
    assert book.dropped_levels == 0


def test_empty_book_reads_give_the_sentinels() -> None:
    book = OrderBook(4)
    assert book.best_bid() == (NO_PRICE, 0)
    assert book.best_ask() == (NO_PRICE, 0)
    assert book.best_bid_price == NO_PRICE
    assert book.spread() == NO_SPREAD
    assert book.mid_x2() == NO_PRICE
    assert math.isnan(book.mid())
    assert math.isnan(book.microprice())
    assert math.isnan(book.imbalance(5))
    assert book.depth_n(BID, 5) == 0
    assert book.vwap_for_qty(ASK, 10) == (0, 0)
    book.set_level(BID, 100, 1)  # one side only: still no spread, mid or microprice
    assert book.spread() == NO_SPREAD
    assert book.mid_x2() == NO_PRICE
    assert math.isnan(book.microprice())
    assert book.imbalance(1) == 1.0
    assert book.is_valid()


# ----------------------------------------------------------------------------- capacity


def test_full_side_drops_worse_inserts_and_evicts_for_better_ones() -> None:
    book = OrderBook(3)
    for price in (100, 99, 98):
        assert book.set_level(BID, price, 1) == OK
    assert book.set_level(BID, 97, 5) == DROPPED  # worse than every kept level
    assert book.levels(BID) == [(100, 1), (99, 1), (98, 1)]
    assert book.set_level(BID, 98, 7) == OK  # existing level on a full side: plain update
    assert book.set_level(BID, 101, 2) == EVICTED  # new best: 98 falls off
    assert book.levels(BID) == [(101, 2), (100, 1), (99, 1)]
    assert book.set_level(BID, 99, 0) == OK
    assert book.set_level(BID, 98, 0) == ABSENT  # it was evicted: the venue's delete is fine
    assert book.dropped_levels == 2
    for price in (110, 111, 112, 109):
        book.set_level(ASK, price, 1)
    assert book.levels(ASK) == [(109, 1), (110, 1), (111, 1)]
    assert book.dropped_levels == 3


def test_snapshot_deeper_than_capacity_keeps_the_top() -> None:
    book = OrderBook(3)
    rows = [(BID, 100 - i, 1 + i) for i in range(6)] + [(ASK, 101 + i, 1) for i in range(5)]
    assert book.load_snapshot(buffer(rows, 6)) == OK
    assert book.levels(BID) == [(100, 1), (99, 2), (98, 3)]
    assert book.levels(ASK) == [(101, 1), (102, 1), (103, 1)]
    assert book.dropped_levels == 5
    assert book.updates == 11
    # worst-first order reaches the same book, through evictions instead of drops
    worst_first = OrderBook(3)
    worst_first.load_snapshot(buffer(list(reversed(rows)), 6))
    assert worst_first.levels(BID) == book.levels(BID)
    assert worst_first.levels(ASK) == book.levels(ASK)


def test_capacity_one() -> None:
    book = OrderBook(1)
    assert book.set_level(ASK, 10, 1) == OK
    assert book.set_level(ASK, 11, 1) == DROPPED
    assert book.set_level(ASK, 9, 3) == EVICTED
    assert book.levels(ASK) == [(9, 3)]
    assert book.set_level(ASK, 9, 0) == OK
    assert book.asks_count == 0


# ----------------------------------------------------------------------------- crossed


def test_locked_and_crossed_updates_are_flagged_and_latched_until_clear() -> None:
    book = book_of([(100, 1)], [(102, 1)])
    assert book.is_valid() and not book.crossed
    assert book.set_level(BID, 102, 1) == CROSSED  # locked: bid == ask
    assert book.crossed and not book.is_valid()
    assert book.crossed_count == 1
    assert book.spread() == 0
    assert book.set_level(BID, 103, 1) == CROSSED  # crossed
    assert book.spread() == -1
    assert book.crossed_count == 2
    # deleting the offending bids uncrosses the top, but the flag stays: resync needed
    assert book.set_level(BID, 103, 0) == CROSSED
    assert book.set_level(BID, 102, 0) == OK
    assert book.crossed and book.crossed_count == 3
    book.clear()
    assert not book.crossed and book.is_valid()
    assert book.crossed_count == 3  # counters survive clear()
    assert book.bids_count == book.asks_count == 0


def test_crossing_status_wins_over_drop_and_absent() -> None:
    book = book_of([(100, 1)], [(101, 1)], capacity=1)
    assert book.set_level(BID, 101, 1) == CROSSED  # evicts 100 and locks
    assert book.dropped_levels == 1
    assert book.set_level(BID, 5, 0) == CROSSED  # absent delete, still crossed


def test_batch_is_checked_once_on_its_result() -> None:
    book = book_of([(100, 1)], [(102, 1)])
    # the bid moves up before the ask does; in between the book is crossed, after it is not
    assert book.apply(buffer([(BID, 103, 1), (BID, 100, 0), (ASK, 102, 0), (ASK, 104, 1)])) == OK
    assert book.is_valid() and book.crossed_count == 0
    assert book.apply(buffer([(ASK, 103, 1)])) == CROSSED
    assert book.crossed_count == 1
    # a snapshot clears the flag, then checks its own result
    assert book.load_snapshot(buffer([(BID, 99, 1), (ASK, 101, 1)])) == OK
    assert book.is_valid()
    assert book.load_snapshot(buffer([(BID, 101, 1), (ASK, 101, 1)])) == CROSSED
    assert book.crossed and book.crossed_count == 2


# ----------------------------------------------------------------------------- signals


def test_hand_made_book_signals() -> None:
    book = book_of([(100, 3), (99, 5), (98, 2)], [(102, 1), (103, 4), (105, 10)])
    assert book.spread() == 2
    assert book.mid_x2() == 202
    assert book.mid() == 101.0
    # (100 * 1 + 102 * 3) / (3 + 1): the thin ask pulls the fair price towards it
    assert book.microprice() == 101.5
    assert book.imbalance(1) == (3 - 1) / (3 + 1)
    assert book.imbalance(2) == (8 - 5) / (8 + 5)
    assert book.imbalance(10) == (10 - 15) / (10 + 15)
    assert book.imbalance(0) != book.imbalance(0)  # NaN: nothing on either side
    assert book.depth_n(BID, 2) == 8
    assert book.depth_n(ASK, 3) == 15
    assert book.depth_n(ASK, 99) == 15
    assert book.depth_n(ASK, 0) == 0


def test_vwap_for_qty_walks_the_side_and_reports_partial_fills() -> None:
    book = book_of([(100, 3), (99, 5), (98, 2)], [(102, 1), (103, 4), (105, 10)])
    assert book.vwap_for_qty(ASK, 1) == (102, 1)
    assert book.vwap_for_qty(ASK, 3) == (102 + 2 * 103, 3)
    assert book.vwap_for_qty(BID, 4) == (3 * 100 + 99, 4)
    assert book.vwap_for_qty(BID, 0) == (0, 0)
    # more than the book holds: everything, and filled tells how much
    assert book.vwap_for_qty(BID, 1000) == (300 + 495 + 196, 10)
    assert book.vwap_for_qty(ASK, 16) == (102 + 412 + 1050, 15)


def test_depth_and_vwap_overflow_raise_instead_of_wrapping() -> None:
    big = 2**62
    book = OrderBook(4)
    book.set_level(BID, MAX_PRICE, big)
    book.set_level(BID, MAX_PRICE - 1, big)
    assert book.depth_n(BID, 1) == big
    with pytest.raises(FixedPointOverflowError):
        book.depth_n(BID, 2)
    assert book.vwap_for_qty(BID, 2) == (2 * MAX_PRICE, 2)  # 2**63 - 2 lots*ticks: fits
    with pytest.raises(FixedPointOverflowError):
        book.vwap_for_qty(BID, 3)
    assert book.mid_x2() == NO_PRICE
    book.set_level(ASK, MAX_PRICE, 1)
    assert book.mid_x2() == 2 * MAX_PRICE  # the price cap keeps this inside int64
    assert book.imbalance(2) == (2 * big - 1) / (2 * big + 1)


# ----------------------------------------------------------------------------- buffers


def test_top_view_returns_the_same_read_only_arrays_filled_at_each_call() -> None:
    book = OrderBook(4)
    prices, sizes = book.top_view(BID)
    assert prices.dtype == sizes.dtype == np.int64
    assert prices.shape == sizes.shape == (4,)  # `capacity` rows, levels first
    assert not prices.flags.writeable and not sizes.flags.writeable
    book.set_level(BID, 100, 5)
    book.set_level(BID, 101, 6)
    again_prices, again_sizes = book.top_view(BID)
    assert again_prices is prices and again_sizes is sizes  # made once, refilled per call
    assert prices[: book.bids_count].tolist() == [101, 100]
    assert sizes[: book.bids_count].tolist() == [6, 5]
    ask_prices, ask_sizes = book.top_view(ASK)
    arrays = (prices, sizes, ask_prices, ask_sizes)
    for i, one in enumerate(arrays):
        for other in arrays[i + 1 :]:
            assert not np.shares_memory(one, other)
    book.set_level(BID, 101, 0)
    book.set_level(BID, 99, 7)
    assert prices[:2].tolist() == [101, 100]  # what it held at the call, not the live book
    book.top_view(BID)
    assert prices[:2].tolist() == [100, 99]
    assert sizes[:2].tolist() == [5, 7]
    with pytest.raises(ValueError, match="read-only"):
        prices[0] = 1
    with pytest.raises(ValueError, match="read-only"):
        sizes[0] = 1


def test_copy_top_into_caller_buffers() -> None:
    book = book_of([(100, 3), (99, 5), (98, 2)], [(102, 1)])
    out_p = np.full(8, -1, dtype=np.int64)
    out_s = np.full(8, -1, dtype=np.int64)
    assert book.copy_top(BID, 2, out_p, out_s) == 2
    assert out_p[:3].tolist() == [100, 99, -1]
    assert out_s[:3].tolist() == [3, 5, -1]
    assert book.copy_top(BID, 8, out_p, out_s) == 3  # n beyond count: what there is
    assert book.copy_top(ASK, 0, out_p, out_s) == 0
    ap, az = array.array("q", [0] * 4), array.array("q", [0] * 4)
    assert book.copy_top(ASK, 4, ap, az) == 1
    assert (ap[0], az[0]) == (102, 1)
    strided = np.zeros(16, dtype=np.int64)[::2]
    assert book.copy_top(BID, 3, strided, out_s) == 3
    assert strided[:3].tolist() == [100, 99, 98]


def test_update_buffer_push_reset_entries() -> None:
    buf = UpdateBuffer(2)
    assert (buf.capacity, buf.bid_count, buf.ask_count) == (2, 0, 0)
    buf.push(BID, 100, 1)
    buf.push(ASK, 101, 0)
    buf.push(BID, 99, 2)
    assert buf.entries(BID) == [(100, 1), (99, 2)]
    assert buf.entries(ASK) == [(101, 0)]
    assert (buf.bid_count, buf.ask_count) == (2, 1)
    assert "bid_count=2" in repr(buf)
    buf.reset()
    assert (buf.bid_count, buf.ask_count) == (0, 0)
    assert buf.entries(BID) == []


def test_repeated_price_in_one_batch_last_wins() -> None:
    book = OrderBook(4)
    book.apply(buffer([(BID, 100, 1), (BID, 100, 7), (ASK, 105, 2), (ASK, 105, 0)]))
    assert book.levels(BID) == [(100, 7)]
    assert book.levels(ASK) == []


def test_repr_names_the_top() -> None:
    book = book_of([(100, 3)], [(102, 1)])
    assert repr(book) == (
        "OrderBook(capacity=8, bid=(100, 3), ask=(102, 1), bids=1, asks=1, crossed=False)"
    )


# ----------------------------------------------------------------------------- allocations


def test_steady_state_batch_updates_allocate_nothing() -> None:
    book = book_of([(100 - i, 10) for i in range(20)], [(102 + i, 10) for i in range(20)], 64)
    cycle = [
        buffer([(BID, 101, 7)]),  # new best bid: insert at row 0
        buffer([(ASK, 103, 9)]),  # size change one row down
        buffer([(BID, 101, 0)]),  # delete row 0
        buffer([(BID, 98, 4)]),  # size change two rows down
    ]
    # the loop walks a prebuilt list so the loop itself creates no int objects
    sequence = cycle * 25_000
    apply = book.apply
    for buf in cycle * 100:
        apply(buf)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for buf in sequence:
            apply(buf)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert book.updates >= 100_000
    # Tolerance: 0 is what is measured; 256 bytes leaves room for one small object that
    # CPython may create lazily on the first traced call (e.g. a cached int or a dict
    # resize inside the interpreter), which is constant, not per update. 100k updates
    # leaking even one 32-byte int each would be 3.2 MB.
    assert after - before <= 256
    assert peak - before <= 256


# ----------------------------------------------------------------------------- differential

Row = tuple[int, int, int]

PRICES = st.one_of(
    st.integers(95, 106),  # a narrow band: collisions, crossings and deep books are common
    st.sampled_from([1, MAX_PRICE, MAX_PRICE - 1]),  # the edges of the accepted range
)
SIZES = st.one_of(st.integers(0, 4), st.just(0), st.sampled_from([2**62, 2**63 - 1]))
ROWS = st.tuples(st.sampled_from([BID, ASK]), PRICES, SIZES)
OPS = st.one_of(
    st.tuples(st.just("set"), ROWS),
    st.tuples(st.just("apply"), st.lists(ROWS, max_size=10)),
    st.tuples(st.just("snapshot"), st.lists(ROWS, max_size=14)),
    st.tuples(st.just("clear"), st.none()),
)


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        value = fn()
    except (ValueError, OverflowError) as exc:
        return "raised", type(exc).__name__
    if isinstance(value, float):
        return "float", "nan" if math.isnan(value) else value
    return "value", value


def observe(book: Book) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = [
        ("levels", (book.levels(BID), book.levels(ASK))),
        ("best", (book.best_bid(), book.best_ask())),
        (
            "props",
            (book.best_bid_price, book.best_bid_size, book.best_ask_price, book.best_ask_size),
        ),
        ("counts", (book.bids_count, book.asks_count)),
        ("counters", (book.updates, book.crossed_count, book.dropped_levels)),
        ("crossed", (book.crossed, book.is_valid())),
        ("spread", (book.spread(), book.mid_x2())),
        ("mid", outcome(book.mid)),
        ("microprice", outcome(book.microprice)),
    ]
    for n in (0, 1, 2, 5):
        seen.append((f"imbalance{n}", outcome(partial(book.imbalance, n))))
        for side in (BID, ASK):
            seen.append((f"depth{side}/{n}", outcome(partial(book.depth_n, side, n))))
    for qty in (0, 1, 3, 7, 2**62):
        for side in (BID, ASK):
            seen.append((f"vwap{side}/{qty}", outcome(partial(book.vwap_for_qty, side, qty))))
    return seen


def step(book: Book, op: str, arg: Any) -> int:
    if op == "set":
        return book.set_level(*arg)
    if op == "clear":
        book.clear()
        return OK
    buf = buffer(arg, max(1, len(arg)))
    return book.apply(buf) if op == "apply" else book.load_snapshot(buf)


@settings(max_examples=400, deadline=None)
@given(capacity=st.integers(1, 6), ops=st.lists(OPS, max_size=40))
def test_cython_book_matches_the_reference_after_every_step(
    capacity: int, ops: list[tuple[str, Any]]
) -> None:
    fast, ref = OrderBook(capacity), BookRef(capacity)
    for op, arg in ops:
        assert step(fast, op, arg) == step(ref, op, arg), (op, arg)
        assert observe(fast) == observe(ref), (op, arg)
        # the numpy views agree with the level lists
        for side, count in ((BID, fast.bids_count), (ASK, fast.asks_count)):
            prices, sizes = fast.top_view(side)
            assert list(zip(prices[:count].tolist(), sizes[:count].tolist(), strict=True)) == (
                ref.levels(side)
            )


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(1, 5),
    snapshot=st.lists(st.tuples(st.sampled_from([BID, ASK]), st.integers(1, 30), SIZES)),
    updates=st.lists(st.tuples(st.sampled_from([BID, ASK]), st.integers(1, 30), SIZES)),
)
def test_random_snapshot_then_updates_one_by_one(
    capacity: int, snapshot: list[Row], updates: list[Row]
) -> None:
    fast, ref = OrderBook(capacity), BookRef(capacity)
    buf = buffer(snapshot, max(1, len(snapshot)))
    assert fast.load_snapshot(buf) == ref.load_snapshot(buf)
    assert observe(fast) == observe(ref)
    for side, price, size in updates:
        assert fast.set_level(side, price, size) == ref.set_level(side, price, size)
        assert observe(fast) == observe(ref)


def test_top_shares_one_tuple_until_the_top_changes() -> None:
    book = OrderBook(8)
    book.set_level(BID, 100, 3)
    book.set_level(ASK, 102, 1)
    first = book.top()
    assert first == (100, 3, 102, 1) and book.top() is first  # no allocation per reader
    book.set_level(BID, 99, 5)  # below the top: the same tuple
    assert book.top() is first
    book.set_level(BID, 100, 4)
    assert book.top() == (100, 4, 102, 1) and book.top() is not first
    book.set_level(ASK, 102, 0)
    assert book.top() == (100, 4, NO_PRICE, 0)


def test_top_recycles_only_what_no_caller_holds() -> None:
    """top() may refill its tuple (and ints only that tuple holds) once the caller dropped
    them; a tuple or an int someone still holds never changes."""
    book = OrderBook(8)
    book.set_level(BID, 5_000_000, 300)
    book.set_level(ASK, 5_000_002, 400)
    held = book.top()
    held_size = held[1]
    book.set_level(BID, 5_000_000, 301)
    assert book.top() == (5_000_000, 301, 5_000_002, 400)
    assert held == (5_000_000, 300, 5_000_002, 400) and held_size == 300
    del held
    kept_size = book.top()[1]  # the tuple dropped, one of its ints held
    identity = id(book.top())
    for size in (302, 7, 2**40, 303, 2**29, 1):  # one digit, small-int cache, two digits
        book.set_level(BID, 5_000_000, size)
        assert book.top() == (5_000_000, size, 5_000_002, 400)
        assert id(book.top()) == identity  # recycled: nobody held it between the reads
    assert kept_size == 301
    book.set_level(ASK, 5_000_002, 0)
    assert book.top() == (5_000_000, 1, NO_PRICE, 0)
    rows: list[tuple[int, int, int, int]] = []
    for size in range(500, 520):  # every tuple kept: each a new one, none changed since
        book.set_level(BID, 5_000_000, size)
        rows.append(book.top())
    assert rows == [(5_000_000, s, NO_PRICE, 0) for s in range(500, 520)]
