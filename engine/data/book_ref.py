"""Pure-Python reference of engine/_core/book.pyx: the same book semantics in plain ints.

Written differently on purpose (a dict of levels plus a sorted key list, not arrays and
memmove) so that the differential tests compare two independent implementations of one
contract: at most `capacity` levels per side, on a full side an insert worse than every kept
level is dropped and a better one evicts the worst (both counted in `dropped_levels`), a
crossed or locked book after an update (or a whole batch) returns CROSSED, counts in
`crossed_count` and latches `crossed` until clear() / load_snapshot().
"""

from __future__ import annotations

import bisect
import math
from typing import Protocol

from engine._core.fixedpoint import FixedPointOverflowError

BID = 0
ASK = 1
NO_PRICE = 0
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
NO_SPREAD = INT64_MIN
MAX_PRICE = 2**62 - 1

OK = 0
ABSENT = 1
DROPPED = 2
EVICTED = 3
CROSSED = 4


class LevelSource(Protocol):
    """What apply() reads: the (price, size) updates of each side in order (UpdateBuffer)."""

    def entries(self, side: int) -> list[tuple[int, int]]: ...


def _arg(value: object, what: str) -> int:
    # the Cython book converts every Python int argument the same way (fixedpoint.as_int64)
    if isinstance(value, float):
        raise TypeError(f"{what} must be an int, got float {value!r}: floats never carry money")
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise FixedPointOverflowError(f"{what} {value} does not fit int64")
    return value


def _check_side(side: int) -> None:
    if _arg(side, "side") not in (BID, ASK):
        raise ValueError(f"side must be BID (0) or ASK (1), got {side}")


def _check_count(n: int, what: str) -> None:
    if _arg(n, what) < 0:
        raise ValueError(f"{what} must be >= 0, got {n}")


def _check_level(side: int, price: int, size: int) -> None:
    _check_side(side)
    if not 0 < _arg(price, "price") <= MAX_PRICE:
        raise ValueError(f"price must be in 1..{MAX_PRICE} ticks, got {price}")
    _check_count(size, "size")


def _fits(total: int) -> int:
    if not INT64_MIN <= total <= INT64_MAX:
        raise FixedPointOverflowError(f"{total} does not fit int64")
    return total


class _Side:
    """Levels of one side: `keys` sorted so that the best level comes first."""

    def __init__(self, descending: bool) -> None:
        self.sign = -1 if descending else 1
        self.keys: list[int] = []  # sign * price, ascending
        self.size: dict[int, int] = {}  # price -> size

    def update(self, price: int, size: int, capacity: int) -> int:
        key = self.sign * price
        if size == 0:
            if price not in self.size:
                return ABSENT
            del self.size[price]
            self.keys.remove(key)
            return OK
        if price in self.size:
            self.size[price] = size
            return OK
        status = OK
        if len(self.keys) == capacity:
            if key > self.keys[-1]:
                return DROPPED
            del self.size[self.sign * self.keys.pop()]
            status = EVICTED
        bisect.insort(self.keys, key)
        self.size[price] = size
        return status

    def rows(self, n: int | None = None) -> list[tuple[int, int]]:
        keys = self.keys if n is None else self.keys[:n]
        return [(self.sign * k, self.size[self.sign * k]) for k in keys]


class BookRef:
    """Same public methods and results as engine._core.book.OrderBook, minus the numpy views."""

    def __init__(self, capacity: int) -> None:
        if _arg(capacity, "capacity") < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._sides = (_Side(descending=True), _Side(descending=False))
        self.updates = 0
        self.crossed_count = 0
        self.dropped_levels = 0
        self.crossed = False
        self.exchange_ts_ns = 0
        self.recv_ts_ns = 0

    def _after_update(self, status: int) -> int:
        bid, ask = self._sides
        if bid.keys and ask.keys and -bid.keys[0] >= ask.keys[0]:
            self.crossed = True
            self.crossed_count += 1
            return CROSSED
        return status

    def set_level(self, side: int, price: int, size: int) -> int:
        _check_level(side, price, size)
        status = self._sides[side].update(price, size, self.capacity)
        self.updates += 1
        if status in (DROPPED, EVICTED):
            self.dropped_levels += 1
        return self._after_update(status)

    @staticmethod
    def _rows(buf: LevelSource) -> list[tuple[int, int, int]]:
        # every row is checked before any is applied: a bad batch leaves the book unchanged
        rows = [(side, p, s) for side in (BID, ASK) for p, s in buf.entries(side)]
        for side, price, size in rows:
            _check_level(side, price, size)
        return rows

    def _apply_rows(self, rows: list[tuple[int, int, int]]) -> int:
        for side, price, size in rows:
            if self._sides[side].update(price, size, self.capacity) in (DROPPED, EVICTED):
                self.dropped_levels += 1
        self.updates += len(rows)
        return self._after_update(OK)

    def apply(self, buf: LevelSource) -> int:
        return self._apply_rows(self._rows(buf))

    def load_snapshot(self, buf: LevelSource) -> int:
        rows = self._rows(buf)
        self.clear()
        return self._apply_rows(rows)

    def clear(self) -> None:
        self._sides = (_Side(descending=True), _Side(descending=False))
        self.crossed = False

    def is_valid(self) -> bool:
        return not self.crossed

    def _best(self, side: int) -> tuple[int, int]:
        rows = self._sides[side].rows(1)
        return rows[0] if rows else (NO_PRICE, 0)

    def top(self) -> tuple[int, int, int, int]:
        return (*self._best(BID), *self._best(ASK))

    def stamp(self, exchange_ts_ns: int, recv_ts_ns: int) -> None:
        self.exchange_ts_ns = _arg(exchange_ts_ns, "exchange_ts_ns")
        self.recv_ts_ns = _arg(recv_ts_ns, "recv_ts_ns")

    def best_bid(self) -> tuple[int, int]:
        return self._best(BID)

    def best_ask(self) -> tuple[int, int]:
        return self._best(ASK)

    @property
    def best_bid_price(self) -> int:
        return self._best(BID)[0]

    @property
    def best_bid_size(self) -> int:
        return self._best(BID)[1]

    @property
    def best_ask_price(self) -> int:
        return self._best(ASK)[0]

    @property
    def best_ask_size(self) -> int:
        return self._best(ASK)[1]

    @property
    def bids_count(self) -> int:
        return len(self._sides[BID].keys)

    @property
    def asks_count(self) -> int:
        return len(self._sides[ASK].keys)

    def _both(self) -> bool:
        return bool(self._sides[BID].keys and self._sides[ASK].keys)

    def spread(self) -> int:
        return self.best_ask_price - self.best_bid_price if self._both() else NO_SPREAD

    def mid_x2(self) -> int:
        return self.best_ask_price + self.best_bid_price if self._both() else NO_PRICE

    def mid(self) -> float:
        return self.mid_x2() / 2.0 if self._both() else math.nan

    def microprice(self) -> float:
        if not self._both():
            return math.nan
        (bp, bs), (ap, as_) = self.best_bid(), self.best_ask()
        # the operation order of the C code, so both round identically
        return (float(bp) * float(as_) + float(ap) * float(bs)) / (float(bs) + float(as_))

    def imbalance(self, n: int) -> float:
        _check_count(n, "n")
        bid = sum(s for _, s in self._sides[BID].rows(n))
        ask = sum(s for _, s in self._sides[ASK].rows(n))
        if bid + ask == 0:
            return math.nan
        return float(bid - ask) / float(bid + ask)

    def depth_n(self, side: int, n: int) -> int:
        _check_side(side)
        _check_count(n, "n")
        return _fits(sum(s for _, s in self._sides[side].rows(n)))

    def vwap_for_qty(self, side: int, qty: int) -> tuple[int, int]:
        _check_side(side)
        _check_count(qty, "qty")
        notional = 0
        left = qty
        for price, size in self._sides[side].rows():
            if left == 0:
                break
            take = min(size, left)
            # the C code checks each product and each running sum
            notional = _fits(notional + _fits(price * take))
            left -= take
        return notional, qty - left

    def levels(self, side: int, n: int | None = None) -> list[tuple[int, int]]:
        _check_side(side)
        if n is not None:
            _check_count(n, "n")
        return self._sides[side].rows(n)
