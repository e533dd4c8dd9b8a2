# Position accounting in exact integers: price in ticks, quantity in lots, money in notional
# units (tick * lot). Cython callers use fill()/mark() (status codes, no Python); Python callers
# use the raising methods defined in position.pyx.
from libc.stdint cimport int64_t

cdef enum:
    # equal to engine.model.enums.OrderSide values, so `side * lots` is signed quantity
    SIDE_BUY = 1
    SIDE_SELL = -1

    # codes below fixedpoint's (ERR_OVERFLOW = -3 is reused for every overflow)
    POS_ERR_SIDE = -16
    POS_ERR_PRICE = -17
    POS_ERR_LOTS = -18


cdef class PositionCore:
    cdef readonly int64_t qty  # signed lots: + long, - short; never INT64_MIN
    cdef readonly int64_t cost  # cost basis of the open qty, notional units, sign of qty
    cdef readonly int64_t realized  # realized PnL net of fees, notional units
    cdef readonly int64_t fees  # fees paid (negative = net rebate), notional units
    cdef readonly int64_t volume  # lots traded
    cdef readonly int64_t fills

    # On any non-zero status nothing has changed. realized_delta includes -fee_units.
    cdef int fill(self, int side, int64_t price_ticks, int64_t lots, int64_t fee_units,
                  int64_t* realized_delta) noexcept nogil
    cdef int mark(self, int64_t mark_ticks, int64_t* unrealized) noexcept nogil
    cdef void clear(self) noexcept nogil
