"""Average-cost position accounting in exact int64 (reference: engine/model/position_ref.py).

A reduction removes `trunc(cost * closed / |qty|)` of the cost basis: the average price is kept
and the truncation remainder stays in the open cost, so once the position is flat again the
realized PnL equals the signed proceeds minus fees exactly.
"""

from libc.stdint cimport INT64_MIN, int64_t

from engine._core.fixedpoint cimport (
    ERR_OVERFLOW,
    FP_OK,
    as_int64,
    checked_add_i64,
    checked_mul_i64,
    checked_sub_i64,
    int128,
    int128_fits_i64,
    muldiv_trunc_i64,
)

from engine._core.fixedpoint import FixedPointOverflowError

BUY = SIDE_BUY
SELL = SIDE_SELL


cdef class PositionCore:
    """Signed position of one instrument; see the module docstring for the cost rule."""

    cdef int fill(self, int side, int64_t price_ticks, int64_t lots, int64_t fee_units,
                  int64_t* realized_delta) noexcept nogil:
        cdef int64_t q = self.qty
        cdef int64_t c = self.cost
        cdef int64_t notional
        cdef int64_t new_q
        cdef int64_t new_c
        cdef int64_t pnl = 0
        cdef int64_t open_qty
        cdef int64_t closed
        cdef int64_t removed
        cdef int64_t delta
        cdef int64_t new_realized
        cdef int64_t new_fees
        cdef int64_t new_volume
        cdef int64_t new_fills
        if side != SIDE_BUY and side != SIDE_SELL:
            return POS_ERR_SIDE
        if price_ticks <= 0:
            return POS_ERR_PRICE
        if lots <= 0:
            return POS_ERR_LOTS
        if q == INT64_MIN:
            return ERR_OVERFLOW
        # everything goes into locals first so that an error leaves the position untouched
        if q == 0 or (q > 0) == (side > 0):
            if checked_mul_i64(price_ticks, lots, &notional) != FP_OK:
                return ERR_OVERFLOW
            if checked_add_i64(c, side * notional, &new_c) != FP_OK:
                return ERR_OVERFLOW
            if checked_add_i64(q, side * lots, &new_q) != FP_OK or new_q == INT64_MIN:
                return ERR_OVERFLOW
        else:
            open_qty = -q if q < 0 else q
            closed = lots if lots < open_qty else open_qty
            if muldiv_trunc_i64(c, closed, open_qty, &removed) != FP_OK:
                return ERR_OVERFLOW
            if checked_mul_i64(price_ticks, closed, &notional) != FP_OK:
                return ERR_OVERFLOW
            if checked_sub_i64(notional if q > 0 else -notional, removed, &pnl) != FP_OK:
                return ERR_OVERFLOW
            # |removed| <= |c| with the same sign, and closed <= |q|: neither can overflow
            new_c = c - removed
            new_q = q + side * closed
            if lots > closed:
                # flip: new_q is 0 and new_c is 0 here; the rest opens at the fill price
                if checked_mul_i64(price_ticks, lots - closed, &notional) != FP_OK:
                    return ERR_OVERFLOW
                new_c = side * notional
                new_q = side * (lots - closed)
        if checked_sub_i64(pnl, fee_units, &delta) != FP_OK:
            return ERR_OVERFLOW
        if checked_add_i64(self.realized, delta, &new_realized) != FP_OK:
            return ERR_OVERFLOW
        if checked_add_i64(self.fees, fee_units, &new_fees) != FP_OK:
            return ERR_OVERFLOW
        if checked_add_i64(self.volume, lots, &new_volume) != FP_OK:
            return ERR_OVERFLOW
        if checked_add_i64(self.fills, 1, &new_fills) != FP_OK:
            return ERR_OVERFLOW
        self.qty = new_q
        self.cost = new_c
        self.realized = new_realized
        self.fees = new_fees
        self.volume = new_volume
        self.fills = new_fills
        realized_delta[0] = delta
        return FP_OK

    cdef int mark(self, int64_t mark_ticks, int64_t* unrealized) noexcept nogil:
        cdef int128 v
        if mark_ticks <= 0:
            return POS_ERR_PRICE
        v = <int128>self.qty * <int128>mark_ticks - <int128>self.cost
        if not int128_fits_i64(v):
            return ERR_OVERFLOW
        unrealized[0] = <int64_t>v
        return FP_OK

    cdef void clear(self) noexcept nogil:
        self.qty = 0
        self.cost = 0
        self.realized = 0
        self.fees = 0
        self.volume = 0
        self.fills = 0

    def apply_fill(self, side, price_ticks, lots, fee_units=0):
        """Apply one fill; returns the change of realized PnL (net of this fill's fee)."""
        cdef int64_t s = as_int64(side, "side")
        cdef int64_t p = as_int64(price_ticks, "price_ticks")
        cdef int64_t n = as_int64(lots, "lots")
        cdef int64_t f = as_int64(fee_units, "fee_units")
        cdef int64_t delta = 0
        cdef int status
        if s != SIDE_BUY and s != SIDE_SELL:
            raise ValueError(f"side must be BUY (1) or SELL (-1), got {side!r}")
        status = self.fill(<int>s, p, n, f, &delta)
        if status == FP_OK:
            return delta
        if status == POS_ERR_PRICE:
            raise ValueError(f"price_ticks must be > 0, got {p}")
        if status == POS_ERR_LOTS:
            raise ValueError(f"lots must be > 0, got {n}")
        raise FixedPointOverflowError(
            f"fill side={s} price_ticks={p} lots={n} fee_units={f} overflows int64 on "
            f"{self!r}; position unchanged"
        )

    def unrealized(self, mark_ticks):
        """qty * mark - cost in notional units."""
        cdef int64_t m = as_int64(mark_ticks, "mark_ticks")
        cdef int64_t out = 0
        cdef int status = self.mark(m, &out)
        if status == POS_ERR_PRICE:
            raise ValueError(f"mark_ticks must be > 0, got {m}")
        if status != FP_OK:
            raise FixedPointOverflowError(
                f"unrealized PnL of {self!r} at mark {m} does not fit int64"
            )
        return out

    def avg_price_num_den(self):
        """(cost, qty): the average price in ticks is cost / qty (undefined when flat)."""
        return self.cost, self.qty

    def reset(self):
        self.clear()

    def __repr__(self):
        return (
            f"PositionCore(qty={self.qty}, cost={self.cost}, realized={self.realized}, "
            f"fees={self.fees}, volume={self.volume}, fills={self.fills})"
        )
