"""Pure-Python reference of engine/_core/fixedpoint.pyx, written with Decimal and Fraction.

It shares nothing with the Cython code but the exception classes, so a differential test
(same units or the same error class) checks the C parser and formatter against plain
arithmetic. Too slow for the hot path; it is the baseline for tests and benchmarks.

Rules mirrored from the Cython module:
- text must be `-?[0-9]+(\\.[0-9]+)?` (ASCII; no exponent, spaces or '+');
- range: trunc(value * 10**exp) must fit int64 (so units * step_mantissa fits int64);
- error priority: syntax, then overflow, then off-grid.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, InvalidOperation
from fractions import Fraction

from engine._core.fixedpoint import (
    DecimalSyntaxError,
    FixedPointOverflowError,
    GridError,
    OffGridError,
)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_EXP = 18
MAX_DECIMALS = 30

_PLAIN = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?")
# Wide enough that formatting any int64 with MAX_DECIMALS digits is exact.
_WIDE = Context(prec=100)


def _fits(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


def step_parts(step: str | Decimal | int) -> tuple[int, int]:
    """(mantissa, exp) with step = mantissa * 10**-exp and the smallest exp >= 0."""
    if isinstance(step, float | bool):
        raise TypeError(f"step must be a str, Decimal or int, got {step!r}")
    try:
        d = Decimal(step)
    except InvalidOperation:
        raise DecimalSyntaxError(f"step {step!r} is not a decimal") from None
    if not d.is_finite() or d <= 0:
        raise GridError(f"step must be a positive finite decimal, got {step!r}")
    frac = Fraction(d)
    exp = 0
    while (frac * 10**exp).denominator != 1:
        exp += 1
        if exp > MAX_EXP:
            raise GridError(f"step {step} has more than {MAX_EXP} decimals")
    mantissa = int(frac * 10**exp)
    if mantissa > INT64_MAX:
        raise GridError(f"step {step} does not fit int64")
    return mantissa, exp


def _units_of(value: Fraction, step_mantissa: int, exp: int, shown: object) -> int:
    scaled = value * 10**exp
    whole = int(scaled)  # Fraction.__int__ truncates toward zero
    if not _fits(whole):
        raise FixedPointOverflowError(f"{shown!r} does not fit int64 on this step")
    if scaled != whole or whole % step_mantissa:
        raise OffGridError(f"{shown!r} is not a multiple of the step")
    return whole // step_mantissa


def parse_units(text: str | bytes, step_mantissa: int, exp: int) -> int:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if _PLAIN.fullmatch(data) is None:
        raise DecimalSyntaxError(f"{text!r} is not a plain decimal")
    return _units_of(Fraction(Decimal(data.decode("ascii"))), step_mantissa, exp, text)


def decimal_to_units(value: Decimal | int, step_mantissa: int, exp: int) -> int:
    if isinstance(value, float | bool):
        raise TypeError(f"value must be a Decimal or int, got {value!r}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise DecimalSyntaxError(f"{value} is not a finite decimal")
    return _units_of(Fraction(value), step_mantissa, exp, value)


def round_units(value: Decimal | int, step_mantissa: int, exp: int, *, up: bool) -> int:
    if isinstance(value, Decimal) and not value.is_finite():
        raise DecimalSyntaxError(f"{value} is not a finite decimal")
    ratio = Fraction(value) * Fraction(10**exp, step_mantissa)
    floor = ratio.numerator // ratio.denominator
    units = floor + (ratio.denominator != 1) if up else floor
    if not _fits(units * step_mantissa):
        raise FixedPointOverflowError(f"{value} does not fit int64 on this step")
    return units


def format_units(units: int, step_mantissa: int, exp: int, decimals: int) -> str:
    if decimals < exp:
        raise GridError(f"decimals {decimals} < exp {exp}")
    if not _fits(units):
        raise FixedPointOverflowError(f"units {units} does not fit int64")
    scaled = units * step_mantissa
    if not _fits(scaled):
        raise FixedPointOverflowError(f"{units} * {step_mantissa} does not fit int64")
    value = _WIDE.scaleb(Decimal(scaled), -exp)
    return f"{value:.{decimals}f}"


class GridRef:
    """Same methods and errors as engine._core.fixedpoint.Grid, in plain Python."""

    def __init__(self, step: str | Decimal | int, decimals: int | None = None) -> None:
        self.step_mantissa, self.exp = step_parts(step)
        self.decimals = self.exp if decimals is None else decimals
        if not self.exp <= self.decimals <= MAX_DECIMALS:
            raise GridError(f"decimals {self.decimals} outside {self.exp}..{MAX_DECIMALS}")
        self.step = Decimal(self.step_mantissa).scaleb(-self.exp)

    def to_units(self, value: str | bytes | Decimal | int) -> int:
        if isinstance(value, str | bytes):
            return parse_units(value, self.step_mantissa, self.exp)
        return decimal_to_units(value, self.step_mantissa, self.exp)

    def _number(self, value: str | bytes | Decimal | int) -> Decimal | int:
        if isinstance(value, str | bytes):
            data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
            if _PLAIN.fullmatch(data) is None:
                raise DecimalSyntaxError(f"{value!r} is not a plain decimal")
            return Decimal(data.decode("ascii"))
        return value

    def floor_units(self, value: str | bytes | Decimal | int) -> int:
        return round_units(self._number(value), self.step_mantissa, self.exp, up=False)

    def ceil_units(self, value: str | bytes | Decimal | int) -> int:
        return round_units(self._number(value), self.step_mantissa, self.exp, up=True)

    def to_str(self, units: int) -> str:
        return format_units(units, self.step_mantissa, self.exp, self.decimals)

    def to_decimal(self, units: int) -> Decimal:
        return Decimal(self.to_str(units))
