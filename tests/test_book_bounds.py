"""The Python-boundary checks that make boundscheck/wraparound off safe in engine/_core/book.pyx.

The C code indexes its arrays with a side (0 or 1), a row below `count <= capacity`, the n
of copy_top below both `capacity` and the caller's buffer lengths, and a window slot
`price - base` only once it lies in 0..window-1 (the window size itself is checked when the
book is made; the slots either side of both ends are driven here). Every value that could
break one of those comes from Python through a check driven here, and a rejected call leaves
the book as it was. The reference (engine/data/book_ref.py) rejects the same inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine._core.book import ASK, BID, MAX_PRICE, OrderBook, UpdateBuffer
from engine._core.fixedpoint import FixedPointOverflowError
from engine.data.book_ref import BookRef

INT64_MAX = 2**63 - 1


def filled(cls: type[OrderBook] | type[BookRef] = OrderBook, capacity: int = 4) -> Any:
    book = cls(capacity)
    for i in range(capacity):
        book.set_level(BID, 100 - i, 1 + i)
        book.set_level(ASK, 101 + i, 1 + i)
    return book


def state(book: OrderBook | BookRef) -> tuple[Any, ...]:
    return (
        book.levels(BID),
        book.levels(ASK),
        book.updates,
        book.crossed_count,
        book.dropped_levels,
        book.crossed,
    )


def rejects(
    method: str, args: tuple[object, ...], error: type[Exception], match: str | None = None
) -> None:
    """Same error from the Cython book and the reference, and neither book changes."""
    for cls in (OrderBook, BookRef):
        book = filled(cls)
        before = state(book)
        with pytest.raises(error, match=match):
            getattr(book, method)(*args)
        assert state(book) == before, cls


# ----------------------------------------------------------------------------- construction


@pytest.mark.parametrize("capacity", [0, -1])
def test_capacity_must_be_positive(capacity: int) -> None:
    for cls in (OrderBook, BookRef, UpdateBuffer):
        with pytest.raises(ValueError, match="capacity must be >= 1"):
            cls(capacity)


@pytest.mark.parametrize(("capacity", "error"), [(2.0, TypeError), (True, TypeError)])
def test_capacity_must_be_an_int(capacity: object, error: type[Exception]) -> None:
    for cls in (OrderBook, BookRef, UpdateBuffer):
        with pytest.raises(error):
            cls(capacity)  # type: ignore[arg-type]


def test_capacity_too_large_to_allocate_fails_cleanly() -> None:
    # 2**62 rows * 8 bytes would wrap a size_t: it must fail, never allocate a short block
    for cls in (OrderBook, UpdateBuffer):
        with pytest.raises((MemoryError, ValueError)):
            cls(2**62)


# ----------------------------------------------------------------------------- set_level


@pytest.mark.parametrize("side", [-1, 2, 255])
def test_bad_side(side: int) -> None:
    rejects("set_level", (side, 100, 1), ValueError, "side must be BID")
    rejects("depth_n", (side, 1), ValueError, "side must be BID")
    rejects("vwap_for_qty", (side, 1), ValueError, "side must be BID")
    rejects("levels", (side,), ValueError, "side must be BID")
    with pytest.raises(ValueError, match="side must be BID"):
        filled().top_view(side)
    with pytest.raises(ValueError, match="side must be BID"):
        filled().copy_top(side, 1, np.zeros(1, np.int64), np.zeros(1, np.int64))


@pytest.mark.parametrize("price", [0, -1, -(2**63), MAX_PRICE + 1, INT64_MAX])
def test_price_outside_the_accepted_range(price: int) -> None:
    rejects("set_level", (BID, price, 1), ValueError, "price must be in")
    rejects("set_level", (ASK, price, 0), ValueError, "price must be in")


def test_negative_size() -> None:
    rejects("set_level", (BID, 100, -1), ValueError, "size must be >= 0")
    rejects("set_level", (ASK, 101, -(2**63)), ValueError, "size must be >= 0")


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_ints_outside_int64_raise_overflow(value: int) -> None:
    # FixedPointOverflowError is both a ValueError and an OverflowError
    for args in ((value, 100, 1), (BID, value, 1), (BID, 100, value)):
        rejects("set_level", args, FixedPointOverflowError, "does not fit int64")
    rejects("vwap_for_qty", (BID, value), FixedPointOverflowError)
    rejects("depth_n", (BID, value), FixedPointOverflowError)


@pytest.mark.parametrize("value", [1.0, 100.5, True, "100", None])
def test_non_int_arguments_are_type_errors(value: object) -> None:
    # a float must never be truncated into a price or a size
    for args in ((value, 100, 1), (BID, value, 1), (BID, 100, value)):
        rejects("set_level", args, TypeError)
    rejects("vwap_for_qty", (BID, value), TypeError)
    rejects("imbalance", (value,), TypeError)


# ----------------------------------------------------------------------------- counts


@pytest.mark.parametrize("n", [-1, -(2**63)])
def test_negative_counts(n: int) -> None:
    rejects("depth_n", (BID, n), ValueError, "n must be >= 0")
    rejects("imbalance", (n,), ValueError, "n must be >= 0")
    rejects("levels", (ASK, n), ValueError, "n must be >= 0")
    rejects("vwap_for_qty", (ASK, n), ValueError, "qty must be >= 0")


def test_counts_beyond_the_book_are_clamped_not_read_past() -> None:
    for cls in (OrderBook, BookRef):
        book = filled(cls)
        assert book.depth_n(BID, INT64_MAX) == 1 + 2 + 3 + 4
        assert book.levels(ASK, INT64_MAX) == [(101, 1), (102, 2), (103, 3), (104, 4)]
        assert book.imbalance(INT64_MAX) == 0.0
        assert book.vwap_for_qty(ASK, INT64_MAX) == (101 + 204 + 309 + 416, 10)


# ----------------------------------------------------------------------------- copy_top


def test_copy_top_n_outside_capacity() -> None:
    book = filled(capacity=4)
    out = np.zeros(10, np.int64)
    for n in (-1, 5, 2**40):
        with pytest.raises(ValueError, match=r"n must be in 0\.\.4"):
            book.copy_top(BID, n, out, out.copy())
    assert book.copy_top(BID, 4, out, out.copy()) == 4


@pytest.mark.parametrize(("len_prices", "len_sizes"), [(2, 3), (3, 2), (0, 0)])
def test_copy_top_buffers_too_small(len_prices: int, len_sizes: int) -> None:
    book = filled(capacity=4)
    prices, sizes = np.zeros(len_prices, np.int64), np.zeros(len_sizes, np.int64)
    with pytest.raises(ValueError, match="needed"):
        book.copy_top(BID, 3, prices, sizes)
    assert book.copy_top(BID, min(len_prices, len_sizes), prices, sizes) == min(
        len_prices, len_sizes
    )


def test_copy_top_rejects_buffers_it_cannot_write() -> None:
    book = filled()
    ok = np.zeros(4, np.int64)
    readonly = np.zeros(4, np.int64)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        book.copy_top(BID, 1, readonly, ok)
    with pytest.raises(ValueError, match="dtype mismatch"):
        book.copy_top(BID, 1, np.zeros(4, np.int32), ok)
    with pytest.raises(ValueError, match="required"):
        book.copy_top(BID, 1, None, ok)
    with pytest.raises(ValueError, match="required"):
        book.copy_top(BID, 1, ok, None)


def test_top_view_rows_are_exactly_capacity() -> None:
    book = filled(capacity=3)
    for side in (BID, ASK):
        prices, sizes = book.top_view(side)
        assert prices.shape == sizes.shape == (3,)


# ----------------------------------------------------------------------------- UpdateBuffer


def test_update_buffer_rejects_bad_rows_and_overfill() -> None:
    buf = UpdateBuffer(2)
    for args, error in (
        ((2, 100, 1), ValueError),
        ((BID, 0, 1), ValueError),
        ((BID, MAX_PRICE + 1, 1), ValueError),
        ((BID, 100, -1), ValueError),
        ((BID, 100.0, 1), TypeError),
        ((BID, 100, 2**63), OverflowError),
    ):
        with pytest.raises(error):
            buf.push(*args)
    assert (buf.bid_count, buf.ask_count) == (0, 0)
    buf.push(BID, 100, 1)
    buf.push(BID, 99, 1)
    with pytest.raises(ValueError, match="full"):
        buf.push(BID, 98, 1)
    buf.push(ASK, 101, 1)  # the other side has its own rows
    buf.push(ASK, 102, 1)
    with pytest.raises(ValueError, match="full"):
        buf.push(ASK, 103, 1)
    assert buf.entries(BID) == [(100, 1), (99, 1)]
    with pytest.raises(ValueError, match="side must be BID"):
        buf.entries(7)


def test_apply_rejects_none() -> None:
    book: Any = filled()  # Any: None is what the call must refuse
    with pytest.raises(TypeError):
        book.apply(None)
    with pytest.raises(TypeError):
        book.load_snapshot(None)


def test_batches_larger_than_the_book_stay_inside_it() -> None:
    # a buffer far larger than the book: every row lands in, is dropped or evicts
    book, ref = OrderBook(2), BookRef(2)
    buf = UpdateBuffer(1000)
    for i in range(1000):
        buf.push(BID, 1 + (i * 7919) % 500, 1 + i % 3)
        buf.push(ASK, 600 + (i * 104729) % 500, 1 + i % 5)
    assert book.load_snapshot(buf) == ref.load_snapshot(buf)
    assert state(book) == state(ref)
    assert [p for p, _ in book.levels(BID)] == [500, 499]
    assert [p for p, _ in book.levels(ASK)] == [600, 601]


def test_rows_at_both_ends_of_a_full_side() -> None:
    # insert at row 0, at the last row, past it; delete row 0 and the last row, on a full side
    for side, better, worse in ((BID, 1, -1), (ASK, -1, 1)):
        book, ref = OrderBook(3), BookRef(3)
        base = 100
        for b in (book, ref):
            for k in range(3):
                b.set_level(side, base + worse * k, 1)
        for price, size in (
            (base + better, 2),  # new best: evicts the worst, shifts every row
            (base + worse * 1, 3),  # now the last row: update in place
            (base + worse * 5, 1),  # past the end: dropped
            (base + better, 0),  # delete row 0
            (base + worse * 1, 0),  # delete the last row
            (base + worse * 9, 4),  # append at the end of a non-full side
        ):
            assert book.set_level(side, price, size) == ref.set_level(side, price, size)
            assert state(book) == state(ref)


# ----------------------------------------------------------------------------- window


@pytest.mark.parametrize("window", [0, -64, 1, 2, 32, 63, 65, 96, 100, 192, 4095, 4097])
def test_window_must_be_a_power_of_two_of_at_least_64(window: int) -> None:
    with pytest.raises(ValueError, match="window"):
        OrderBook(4, window=window)


@pytest.mark.parametrize("window", [2**40, 2**50, 2**62, 2**63 - 1])
def test_window_too_large_to_allocate_fails_cleanly(window: int) -> None:
    # 2**62 slots * 8 bytes would wrap a size_t: refused, never a short block
    with pytest.raises((ValueError, MemoryError), match="window"):
        OrderBook(4, window=window)


@pytest.mark.parametrize(
    ("window", "error"),
    [
        (64.0, TypeError),
        (True, TypeError),
        ("64", TypeError),
        (None, TypeError),
        (2**64, OverflowError),
    ],
)
def test_window_must_be_an_int(window: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="window"):
        OrderBook(4, window=window)  # type: ignore[arg-type]


@pytest.mark.parametrize("window", [64, 128, 4096, 2**16])
def test_accepted_windows_hold_levels_on_both_sides_of_them(window: int) -> None:
    book, ref = OrderBook(6, window=window), BookRef(6)
    mid = 10**7
    for b in (book, ref):
        for price, size in ((mid - 1, 1), (mid - window, 2), (mid - 3 * window, 3), (2, 4)):
            b.set_level(BID, price, size)
        for price, size in ((mid + 1, 1), (mid + window, 2), (mid + 5 * window, 3)):
            b.set_level(ASK, price, size)
    assert state(book) == state(ref)
    book.recenter()
    assert state(book) == state(ref)


def test_recenter_on_an_empty_book() -> None:
    book, ref = OrderBook(4, window=64), BookRef(4)
    assert book.recenter_wanted is False  # no level: nowhere to move to
    book.recenter()
    book.recenter()
    assert state(book) == state(ref)
    assert book.top() == ref.top() == (0, 0, 0, 0)
    # then the first levels may land anywhere, the ends of the price range included
    for b in (book, ref):
        b.set_level(BID, 1, 1)
        b.set_level(ASK, MAX_PRICE, 2)
    book.recenter()
    assert state(book) == state(ref)
    # emptied by deletes, by clear() and by an empty snapshot: recenter() is still a no-op
    for b in (book, ref):
        b.set_level(BID, 1, 0)
        b.set_level(ASK, MAX_PRICE, 0)
    book.recenter()
    assert state(book) == state(ref)
    for b in (book, ref):
        b.set_level(BID, 5000, 3)  # far from where the window was
    assert state(book) == state(ref)
    book.clear()
    ref.clear()
    book.recenter()
    assert state(book) == state(ref) and book.levels(BID) == []
    empty = UpdateBuffer(1)
    assert book.load_snapshot(empty) == ref.load_snapshot(empty)
    book.recenter()
    assert state(book) == state(ref)
    assert book.set_level(ASK, 7, 0) == ref.set_level(ASK, 7, 0)  # absent: nothing to delete
    assert state(book) == state(ref)


def test_recenter_wanted_is_read_only_and_recenter_takes_nothing() -> None:
    book: Any = OrderBook(4, window=64)  # Any: the calls below are what must be refused
    with pytest.raises(AttributeError):
        book.recenter_wanted = True
    with pytest.raises(TypeError):
        book.recenter(1)


@pytest.mark.parametrize("mid", [2, 40, 1000, MAX_PRICE - 40, MAX_PRICE - 1])
def test_levels_at_the_exact_edges_of_the_window(mid: int) -> None:
    # every slot index is price - base: the prices either side of each end of the window,
    # also where the window hangs over price 1 or MAX_PRICE
    window = 64
    book, ref = OrderBook(16, window=window), BookRef(16)
    snapshot = UpdateBuffer(1)
    snapshot.push(BID, mid - 1, 1)
    snapshot.push(ASK, mid + 1, 1)
    book.load_snapshot(snapshot)
    ref.load_snapshot(snapshot)
    edges = [book.base + d for d in (-2, -1, 0, 1, window - 2, window - 1, window, window + 1)]
    for side in (BID, ASK):
        for price in edges:
            if not 0 < price <= MAX_PRICE:
                continue
            for size in (5, 6, 0, 7):
                assert book.set_level(side, price, size) == ref.set_level(side, price, size)
                assert state(book) == state(ref), (side, price, size)
                assert book.top() == ref.top()
        book.recenter()
        assert state(book) == state(ref)
        for price in edges:
            if 0 < price <= MAX_PRICE:
                book.set_level(side, price, 0)
                ref.set_level(side, price, 0)
                assert state(book) == state(ref)
