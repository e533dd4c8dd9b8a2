"""Pure-Python reference of engine/_core/position.pyx: the same integer semantics in plain ints.

Every intermediate the Cython code holds in an int64 is range-checked here at the same point,
so both raise on exactly the same fills and both leave their state unchanged when they do.
Division truncates toward zero (C semantics), not Python's floor division.
"""

from __future__ import annotations

from engine._core.fixedpoint import FixedPointOverflowError

BUY = 1
SELL = -1
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def _i64(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise FixedPointOverflowError(f"{value} does not fit int64; position unchanged")
    return value


def _arg(value: object, what: str) -> int:
    if isinstance(value, float):
        raise TypeError(f"{what} must be an int, got float {value!r}: floats never carry money")
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise FixedPointOverflowError(f"{what} {value} does not fit int64")
    return value


def trunc_div(a: int, b: int) -> int:
    """a / b rounded toward zero, as C integer division does."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


class PositionRef:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.qty = 0
        self.cost = 0
        self.realized = 0
        self.fees = 0
        self.volume = 0
        self.fills = 0

    def apply_fill(self, side: int, price_ticks: int, lots: int, fee_units: int = 0) -> int:
        side = _arg(side, "side")
        price_ticks = _arg(price_ticks, "price_ticks")
        lots = _arg(lots, "lots")
        fee_units = _arg(fee_units, "fee_units")
        if side not in (BUY, SELL):
            raise ValueError(f"side must be BUY (1) or SELL (-1), got {side!r}")
        if price_ticks <= 0:
            raise ValueError(f"price_ticks must be > 0, got {price_ticks}")
        if lots <= 0:
            raise ValueError(f"lots must be > 0, got {lots}")
        q, c = self.qty, self.cost
        pnl = 0
        if q == 0 or (q > 0) == (side > 0):
            notional = _i64(price_ticks * lots)
            new_c = _i64(c + side * notional)
            new_q = _i64(q + side * lots)
            if new_q == INT64_MIN:  # |qty| must stay representable, as in the Cython code
                raise FixedPointOverflowError(f"qty {new_q}: its magnitude does not fit int64")
        else:
            closed = min(lots, abs(q))
            removed = trunc_div(c * closed, abs(q))
            notional = _i64(price_ticks * closed)
            pnl = _i64((notional if q > 0 else -notional) - removed)
            new_c = c - removed
            new_q = q + side * closed
            if lots > closed:
                new_c = side * _i64(price_ticks * (lots - closed))
                new_q = side * (lots - closed)
        delta = _i64(pnl - fee_units)
        new_realized = _i64(self.realized + delta)
        new_fees = _i64(self.fees + fee_units)
        new_volume = _i64(self.volume + lots)
        new_fills = _i64(self.fills + 1)
        self.qty, self.cost = new_q, new_c
        self.realized, self.fees = new_realized, new_fees
        self.volume, self.fills = new_volume, new_fills
        return delta

    def unrealized(self, mark_ticks: int) -> int:
        mark_ticks = _arg(mark_ticks, "mark_ticks")
        if mark_ticks <= 0:
            raise ValueError(f"mark_ticks must be > 0, got {mark_ticks}")
        return _i64(self.qty * mark_ticks - self.cost)

    def avg_price_num_den(self) -> tuple[int, int]:
        return self.cost, self.qty

    def __repr__(self) -> str:
        return (
            f"PositionRef(qty={self.qty}, cost={self.cost}, realized={self.realized}, "
            f"fees={self.fees}, volume={self.volume}, fills={self.fills})"
        )
