"""The Python-boundary checks that make boundscheck/wraparound off safe in
engine/_core/intents.pyx.

The C code writes row `count` only after checking count < capacity (or compacting), reads rows
head..count-1 only, and the consumer indexes its instrument table with a row's instrument, so
that index must be inside the table. Every value that could break one of those comes from
Python through a check driven here; a rejected call leaves the buffer as it was (apart from the
`rejected` counter), and the reference (engine/model/intents_ref.py) rejects the same inputs.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine._core.fixedpoint import FixedPointOverflowError
from engine._core.intents import (
    BUY,
    ERR_FULL,
    ERR_INSTRUMENT,
    ERR_SIDE,
    ERR_TIF,
    ERR_TYPE,
    GTC,
    LIMIT,
    MAX_INSTRUMENTS,
    IntentBuffer,
)
from engine.model.intents_ref import IntentBufferRef

INT64_MAX = 2**63 - 1
CLASSES = (IntentBuffer, IntentBufferRef)


def filled(cls: type[IntentBuffer] | type[IntentBufferRef], capacity: int = 3) -> Any:
    buf = cls(capacity, 4)
    for i in range(capacity):
        buf.push_new(i % 4, BUY, 100 + i, 1 + i, i)
    return buf


def state(buf: IntentBuffer | IntentBufferRef) -> tuple[Any, ...]:
    return (
        [buf.read(i) for i in range(len(buf))],
        buf.pushed,
        buf.high_water,
        buf.instrument_count,
    )


def rejects(method: str, args: tuple[object, ...], error: type[Exception], match: str) -> None:
    """Same error from the Cython buffer and the reference; neither buffer changes."""
    for cls in CLASSES:
        buf = filled(cls, 4)
        buf.pop()  # leave one free row so that only the argument can be the reason
        before = state(buf)
        with pytest.raises(error, match=match):
            getattr(buf, method)(*args)
        assert state(buf) == before, cls


# ----------------------------------------------------------------------------- construction


@pytest.mark.parametrize("capacity", [0, -1])
def test_capacity_must_be_positive(capacity: int) -> None:
    for cls in CLASSES:
        with pytest.raises(ValueError, match="capacity must be >= 1"):
            cls(capacity)


@pytest.mark.parametrize("capacity", [2.0, True, "4", None])
def test_capacity_must_be_an_int(capacity: object) -> None:
    for cls in CLASSES:
        with pytest.raises(TypeError):
            cls(capacity)  # type: ignore[arg-type]


def test_capacity_too_large_to_allocate_fails_cleanly() -> None:
    # 2**62 rows * 40 bytes: numpy must refuse before any pointer into it is taken
    with pytest.raises((MemoryError, ValueError)):
        IntentBuffer(2**62)


@pytest.mark.parametrize("count", [-1, MAX_INSTRUMENTS + 1, 2**40])
def test_instrument_count_outside_int32(count: int) -> None:
    for cls in CLASSES:
        with pytest.raises(ValueError, match=r"instrument_count must be in 0\.\."):
            cls(1, count)
        buf = cls(1)
        with pytest.raises(ValueError, match=r"instrument_count must be in 0\.\."):
            buf.set_instrument_count(count)
        assert buf.instrument_count == MAX_INSTRUMENTS


# ----------------------------------------------------------------------------- full buffer


@pytest.mark.parametrize("capacity", [1, 2, 7])
def test_full_buffer_rejects_every_kind_and_writes_nothing(capacity: int) -> None:
    for cls in CLASSES:
        buf = filled(cls, capacity)
        before = state(buf)
        assert buf.try_push_new(0, BUY, 1, 1) == ERR_FULL
        assert buf.try_push_cancel(0, 1) == ERR_FULL
        assert buf.try_push_replace(0, 1, BUY, 1, 1) == ERR_FULL
        for method, args in (
            ("push_new", (0, BUY, 1, 1)),
            ("push_cancel", (0, 1)),
            ("push_replace", (0, 1, BUY, 1, 1)),
        ):
            with pytest.raises(ValueError, match="intent buffer is full"):
                getattr(buf, method)(*args)
        assert state(buf) == before and buf.rejected == 6
        assert len(buf) == capacity


# ----------------------------------------------------------------------------- reads


@pytest.mark.parametrize("index", [-1, -3, 3, 4, 2**31, INT64_MAX])
def test_read_outside_the_pending_rows(index: int) -> None:
    for cls in CLASSES:
        buf = filled(cls, 3)
        with pytest.raises(IndexError, match=r"outside 0\.\.2"):
            buf.read(index)


def test_read_after_pop_and_clear_sees_only_pending_rows() -> None:
    for cls in CLASSES:
        buf = filled(cls, 3)
        buf.pop()
        assert buf.read(1)[5] == 102
        with pytest.raises(IndexError, match=r"outside 0\.\.1"):
            buf.read(2)  # row 2 of the storage still holds data: it must not be readable
        buf.clear()
        with pytest.raises(IndexError, match=r"outside 0\.\.-1"):
            buf.read(0)
        assert buf.pop() is None and len(buf.view()) == 0


@pytest.mark.parametrize(("index", "error"), [(2**64, OverflowError), (1.0, TypeError)])
def test_read_index_must_be_an_int64(index: object, error: type[Exception]) -> None:
    for cls in CLASSES:
        with pytest.raises(error):
            filled(cls).read(index)


# ----------------------------------------------------------------------------- bad enums


@pytest.mark.parametrize(
    "side", [0, 2, -2, 2**31 - 1, 2**32 + 1, -(2**32) - 1, 2**32 - 1, INT64_MAX]
)
def test_bad_side(side: int) -> None:
    # 2**32 + 1 would truncate to 1 (BUY) and 2**32 - 1 to -1 (SELL) in a C int
    rejects("push_new", (0, side, 1, 1), ValueError, "side must be BUY")
    rejects("push_replace", (0, 1, side, 1, 1), ValueError, "side must be BUY")
    for cls in CLASSES:
        assert cls(1).try_push_new(0, side, 1, 1) == ERR_SIDE


@pytest.mark.parametrize("order_type", [0, 4, -1, 2**32 + 1, INT64_MAX])
def test_bad_order_type(order_type: int) -> None:
    rejects("push_new", (0, BUY, 1, 1, 0, order_type), ValueError, "order_type must be")
    for cls in CLASSES:
        assert cls(1).try_push_replace(0, 1, BUY, 1, 1, 0, order_type) == ERR_TYPE


@pytest.mark.parametrize("tif", [0, 4, -1, 2**32 + 1, -(2**63)])
def test_bad_time_in_force(tif: int) -> None:
    rejects("push_new", (0, BUY, 1, 1, 0, LIMIT, tif), ValueError, "tif must be")
    for cls in CLASSES:
        assert cls(1).try_push_new(0, BUY, 1, 1, 0, LIMIT, tif) == ERR_TIF


@pytest.mark.parametrize("instrument", [-1, 4, 5, 2**31, 2**32, 2**32 + 1, -(2**63)])
def test_instrument_index_outside_the_table(instrument: int) -> None:
    # 2**32 + 1 would truncate to 1, a valid index, in an int32
    rejects("push_new", (instrument, BUY, 1, 1), ValueError, r"instrument index must be in 0\.\.3")
    rejects("push_cancel", (instrument, 1), ValueError, r"instrument index must be in 0\.\.3")
    for cls in CLASSES:
        assert cls(1, 4).try_push_cancel(instrument, 1) == ERR_INSTRUMENT


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((0, BUY, 1.0, 1), TypeError),  # floats never carry money
        ((0, BUY, 1, 1.5), TypeError),
        ((0, True, 1, 1), TypeError),
        ((0.0, BUY, 1, 1), TypeError),
        ((0, BUY, 2**63, 1), FixedPointOverflowError),
        ((0, BUY, 1, -(2**63) - 1), FixedPointOverflowError),
        ((0, BUY, 1, 1, 2**63), FixedPointOverflowError),
        ((0, BUY, 1, 1, 0, LIMIT, 2**64), FixedPointOverflowError),
        ((2**64, BUY, 1, 1, 0, LIMIT, GTC), FixedPointOverflowError),
    ],
)
def test_arguments_must_be_int64(args: tuple[object, ...], error: type[Exception]) -> None:
    for cls in CLASSES:
        buf = filled(cls, 2)
        buf.pop()
        before = (state(buf), buf.rejected)
        with pytest.raises(error):
            buf.try_push_new(*args)
        # refused before the C call: not even counted as a rejected push
        assert (state(buf), buf.rejected) == before, cls
