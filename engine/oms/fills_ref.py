"""Pure-Python reference of engine/_core/fills.pyx: the order manager's fill booking as it
was written before it moved to C (a set and a deque of trade ids per instrument, the fee
through `Instrument.fee_to_units`'s rounding, then the position and the order table).

The Cython `FillLedger` must agree with `FillLedgerRef` on every code, every remembered id
(in FIFO order), every position and every order row; `fee_units` with `fee_units_ref`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from engine._core.fixedpoint import FixedPointOverflowError
from engine.model.instrument import _ceil_units

DUPLICATE = -176  # the trade id was booked already: nothing changed
NOT_LIVE = -177  # booked into the position; the order is not live
NO_REPORT = -178  # booked; the status says only "received": the table not consulted
ERR_ARG = -179  # no such instrument: nothing changed
PYTHON = -180  # book(): a field the C does not convert; nothing changed
MAX_CAPACITY = 1 << 24
MAX_DIGITS = 18

POS_ERR_SIDE, POS_ERR_PRICE, POS_ERR_LOTS, ERR_OVERFLOW = -16, -17, -18, -3
PENDING_NEW, PENDING_CANCEL, UNKNOWN, FILLED = 1, 4, 6, 7
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class _Position(Protocol):
    def apply_fill(self, side: int, price_ticks: int, lots: int, fee_units: int = 0) -> int: ...


class _Table(Protocol):
    def report(
        self, order_id: int, status: int, cum_lots: int, fill_lots: int, now_ns: int
    ) -> int: ...

    def get(self, order_id: int) -> tuple[int, ...] | None: ...


def fee_units_ref(text: str, mantissa: int, exp: int) -> int | None:
    """`Instrument.fee_to_units` of `Decimal(text)`, or None where the C declines: a text
    that is not digits with an optional point and an optional exponent of 1..4 digits, more
    than 18 significant digits, a scale beyond 10**+-18, a mantissa outside 1..2**63-1, or a
    result beyond int64."""
    if not 0 < mantissa < 2**63:
        return None
    body, _, e_text = text.partition("E")
    sign = body.startswith("-")
    body = body[1:] if sign else body
    if "E" in text:
        digits_e = e_text[1:] if e_text[:1] in "+-" else e_text
        if not digits_e or len(digits_e) > 4 or not digits_e.isascii() or not digits_e.isdigit():
            return None
        e = int(e_text)
    else:
        e = 0
    whole, _, frac = body.partition(".")
    if "." in frac or not (whole + frac) or not (whole + frac).isascii():
        return None
    if not (whole + frac).isdigit():
        return None
    value = int(whole + frac)
    if value == 0:
        return 0
    if len(str(value)) > MAX_DIGITS:
        return None
    if not -MAX_DIGITS <= e - len(frac) + exp <= MAX_DIGITS:
        return None
    try:
        units = _ceil_units(Decimal(text), mantissa, exp)
    except (FixedPointOverflowError, InvalidOperation):
        return None
    return units


def _numeric(trade_id: str) -> bool:
    n = len(trade_id)
    ok = 0 < n <= MAX_DIGITS and trade_id.isascii() and trade_id.isdigit()
    return ok and (n == 1 or trade_id[0] != "0")


class FillLedgerRef:
    def __init__(
        self,
        positions: Sequence[_Position],
        table: _Table,
        capacity: int = 65_536,
        *,
        quotes: Sequence[str] | None = None,
        notional_units: Sequence[tuple[int, int]] | None = None,
        status_codes: Mapping[Any, int] | None = None,
    ) -> None:
        if not 1 <= capacity <= MAX_CAPACITY:
            raise ValueError(f"capacity must be in 1..{MAX_CAPACITY}, got {capacity}")
        self.configured = None not in (quotes, notional_units, status_codes)
        self.quotes = list(quotes or ())
        self.units = list(notional_units or ())
        self.status_codes = dict(status_codes or {})
        self.last_fees: list[Decimal] = [Decimal(0)] * len(positions)
        self.last_units = [0] * len(positions)
        self.positions = list(positions)
        self.table = table
        self.capacity = capacity
        self.instruments = len(self.positions)
        self._seen: list[set[str]] = [set() for _ in self.positions]
        self._order: list[deque[str]] = [deque() for _ in self.positions]
        self.position_status = 0
        self.terminal = False

    def _check(self, index: int) -> None:
        if not 0 <= index < self.instruments:
            raise IndexError(f"no instrument {index}")

    def _add(self, index: int, trade_id: str) -> bool:
        # the manager's set + deque, as it was: append, then forget the oldest beyond capacity
        seen = self._seen[index]
        if trade_id in seen:
            return False
        seen.add(trade_id)
        order = self._order[index]
        order.append(trade_id)
        if len(order) > self.capacity:
            seen.discard(order.popleft())
        return True

    def add(self, index: int, trade_id: str) -> bool:
        self._check(index)
        return self._add(index, trade_id)

    def contains(self, index: int, trade_id: str) -> bool:
        self._check(index)
        return trade_id in self._seen[index]

    def count(self, index: int) -> int:
        self._check(index)
        return len(self._order[index])

    def ids(self, index: int) -> list[str]:
        self._check(index)
        # the C side keeps numeric ids as numbers: the same text, as they are canonical
        return list(self._order[index])

    def _fill(self, index: int, side: int, price_ticks: int, lots: int, fee_units: int) -> int:
        if side not in {1, -1}:
            return POS_ERR_SIDE
        if price_ticks <= 0:
            return POS_ERR_PRICE
        if lots <= 0:
            return POS_ERR_LOTS
        try:
            self.positions[index].apply_fill(side, price_ticks, lots, fee_units)
        except FixedPointOverflowError:
            return ERR_OVERFLOW
        return 0

    def apply_fill(  # noqa: PLR0917 - the C signature
        self,
        index: int,
        order_id: int,
        status_code: int,
        cum_lots: int,
        last_lots: int,
        side: int,
        price_ticks: int,
        fee_units: int,
        trade_id: str,
        now_ns: int,
    ) -> int:
        self.terminal = False
        if not 0 <= index < self.instruments:
            return ERR_ARG
        if not self._add(index, trade_id):
            return DUPLICATE
        self.position_status = self._fill(index, side, price_ticks, last_lots, fee_units)
        if self.table.get(order_id) is None:
            return NOT_LIVE
        if status_code in {PENDING_NEW, PENDING_CANCEL, UNKNOWN}:
            return NO_REPORT
        code = self.table.report(order_id, status_code, cum_lots, last_lots, now_ns)
        if code >= 0:
            row = self.table.get(order_id)
            self.terminal = row is not None and row[5] >= FILLED
        return code

    def book(self, report: Any, index: int, order_id: int, now_ns: int) -> int:
        """apply_fill from an ExecutionReport's fields; PYTHON (nothing changed) for a field
        the C does not convert."""
        if not self.configured or not 0 <= index < self.instruments:
            return PYTHON
        if not isinstance(report, tuple) or len(report) < 12:
            return PYTHON
        fee = report[10]
        try:
            if not fee:
                units = 0
            elif type(fee) is not Decimal or report[11] != self.quotes[index]:
                return PYTHON
            elif fee == self.last_fees[index]:
                units = self.last_units[index]
            else:
                converted = fee_units_ref(str(fee), *self.units[index])
                if converted is None:
                    return PYTHON
                units = converted
                self.last_fees[index], self.last_units[index] = fee, units
        except ArithmeticError:  # a signalling NaN
            return PYTHON
        status = self.status_codes.get(report[4])
        trade_id = report[7]
        cum, side, price, lots = report[6], report[5], report[8], report[9]
        if status is None or not isinstance(trade_id, str):
            return PYTHON
        if not all(type(v) is int and INT64_MIN <= v <= INT64_MAX for v in (cum, price, lots)):
            return PYTHON
        if not isinstance(side, int) or not INT64_MIN <= side <= INT64_MAX:
            return PYTHON  # a C long
        return self.apply_fill(
            index, order_id, status, cum, lots, int(side), price, units, trade_id, now_ns
        )
