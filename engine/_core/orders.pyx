"""The OMS's order table (reference semantics: engine/oms/orders_ref.py).

Live orders sit in `capacity` preallocated C rows; an order's id is
`generation << slot_bits | slot`, so finding it is one mask and one compare and an id that
outlived its order is refused. Every change is an explicit transition returning a code:
a refused one (negative) changes nothing but the counters. Nothing here allocates after
construction; the Python methods only convert arguments and return the same codes.
"""

from cpython.mem cimport PyMem_Calloc, PyMem_Free
from libc.stdint cimport INT32_MAX, int32_t, int64_t
from libc.string cimport memset

from engine._core.fixedpoint cimport as_int64
from engine._core.intents cimport INTENT_OK, intent_check_order

FREE = ORD_FREE
PENDING_NEW = ORD_PENDING_NEW
NEW = ORD_NEW
PARTIALLY_FILLED = ORD_PARTIALLY_FILLED
PENDING_CANCEL = ORD_PENDING_CANCEL
PENDING_AMEND = ORD_PENDING_AMEND
UNKNOWN = ORD_UNKNOWN
FILLED = ORD_FILLED
CANCELED = ORD_CANCELED
REJECTED = ORD_REJECTED
EXPIRED = ORD_EXPIRED

OK = ORD_OK
UNCHANGED = ORD_UNCHANGED
ERR_UNKNOWN_ORDER = ORD_ERR_UNKNOWN_ORDER
ERR_TRANSITION = ORD_ERR_TRANSITION
ERR_OVERFILL = ORD_ERR_OVERFILL
ERR_FULL = ORD_ERR_FULL
ERR_ARG = ORD_ERR_ARG
ERR_NOT_TERMINAL = ORD_ERR_NOT_TERMINAL
MAX_CAPACITY = ORD_MAX_CAPACITY


def describe(code):
    """One line saying what a code means (for logs)."""
    return {
        ORD_OK: "ok",
        ORD_UNCHANGED: "nothing to change (a repeated report or request)",
        ORD_ERR_UNKNOWN_ORDER: "no live order has this id",
        ORD_ERR_TRANSITION: "the order's status does not allow this change",
        ORD_ERR_OVERFILL: "the fill would exceed the order's quantity",
        ORD_ERR_FULL: "every slot of the order table holds a live order",
        ORD_ERR_ARG: "a field is out of range",
        ORD_ERR_NOT_TERMINAL: "the order is still live: only a terminal order is released",
    }.get(code, f"unknown order table code {code}")


cdef inline int _status_arg(object value) except? -1:
    # a venue status outside the int8 range must be refused, never truncated into a valid one
    cdef int64_t v = as_int64(value, "status")
    return <int>v if ORD_FREE <= v <= ORD_EXPIRED else -1


cdef inline int _small(object value, str what) except? -1:
    cdef int64_t v = as_int64(value, what)
    return <int>v if -128 <= v <= 127 else 0


cdef class OrderTable:
    """Up to `capacity` (a power of two, 1..2**24) live orders."""

    def __cinit__(self, capacity):
        cdef int64_t n = as_int64(capacity, "capacity")
        cdef Py_ssize_t i
        if n < 1 or n > ORD_MAX_CAPACITY or n & (n - 1):
            raise ValueError(
                f"capacity must be a power of two in 1..{ORD_MAX_CAPACITY}, got {n}"
            )
        self.capacity = n
        self.slot_bits = 0
        while (1 << self.slot_bits) < n:
            self.slot_bits += 1
        self.rows = <OrderRow*>PyMem_Calloc(n, sizeof(OrderRow))
        self.generations = <int64_t*>PyMem_Calloc(n, sizeof(int64_t))
        self.free = <int32_t*>PyMem_Calloc(n, sizeof(int32_t))
        if self.rows == NULL or self.generations == NULL or self.free == NULL:
            raise MemoryError()
        # a stack: slot 0 on top, taken first
        for i in range(n):
            self.free[i] = <int32_t>(n - 1 - i)
        self.free_count = n

    def __dealloc__(self):
        PyMem_Free(self.rows)
        PyMem_Free(self.generations)
        PyMem_Free(self.free)

    cdef int c_open(self, int32_t instrument, int side, int order_type, int tif,
                    int64_t price_ticks, int64_t qty_lots, int64_t tag, int64_t now_ns,
                    int64_t* order_id) noexcept nogil:
        cdef int32_t slot
        cdef OrderRow* row
        if instrument < 0 or intent_check_order(side, price_ticks, qty_lots, order_type,
                                                tif) != INTENT_OK:
            return self._refuse(ORD_ERR_ARG)
        if self.free_count == 0:
            return self._refuse(ORD_ERR_FULL)
        self.free_count -= 1
        slot = self.free[self.free_count]
        self.generations[slot] += 1
        row = &self.rows[slot]
        row.order_id = (self.generations[slot] << self.slot_bits) | slot
        row.instrument = instrument
        row.side = <signed char>side
        row.order_type = <signed char>order_type
        row.tif = <signed char>tif
        row.status = ORD_PENDING_NEW
        row.base_status = ORD_PENDING_NEW
        row.price_ticks = price_ticks
        row.qty_lots = qty_lots
        row.filled_lots = 0
        row.pending_price_ticks = 0
        row.pending_qty_lots = 0
        row.tag = tag
        row.created_ns = now_ns
        row.updated_ns = now_ns
        self.opened += 1
        order_id[0] = row.order_id
        return ORD_OK

    cdef int c_report(self, int64_t order_id, int status, int64_t cum_lots, int64_t fill_lots,
                      int64_t now_ns) noexcept nogil:
        cdef OrderRow* row = self.c_find(order_id)
        cdef int current
        cdef int target
        cdef int base
        cdef int64_t filled
        if row == NULL:
            return self._refuse(ORD_ERR_UNKNOWN_ORDER)
        if status < ORD_NEW or status == ORD_PENDING_CANCEL or status == ORD_PENDING_AMEND \
                or status == ORD_UNKNOWN or status > ORD_EXPIRED or cum_lots < -1 \
                or fill_lots < 0:
            return self._refuse(ORD_ERR_ARG)
        current = row.status
        if ord_terminal(current):
            return self._refuse(ORD_ERR_TRANSITION)
        if status == ORD_REJECTED and current != ORD_PENDING_NEW and current != ORD_UNKNOWN:
            return self._refuse(ORD_ERR_TRANSITION)
        if cum_lots >= 0:
            filled = cum_lots if cum_lots > row.filled_lots else row.filled_lots
        else:
            if fill_lots > row.qty_lots - row.filled_lots:  # also keeps the sum in int64
                return self._refuse(ORD_ERR_OVERFILL)
            filled = row.filled_lots + fill_lots
        if filled > row.qty_lots:
            return self._refuse(ORD_ERR_OVERFILL)
        if status == ORD_FILLED:
            filled = row.qty_lots
        base = row.base_status
        if ord_terminal(status):
            target = status
        elif current == ORD_PENDING_CANCEL or current == ORD_PENDING_AMEND:
            target = current
            base = ord_resting(filled)
        else:
            target = ord_resting(filled)
        if target == current and filled == row.filled_lots and base == row.base_status:
            return ORD_UNCHANGED
        row.status = <signed char>target
        row.base_status = <signed char>base
        row.filled_lots = filled
        row.updated_ns = now_ns
        return ORD_OK

    cdef int c_cancel_sent(self, int64_t order_id, int64_t now_ns) noexcept nogil:
        cdef OrderRow* row = self.c_find(order_id)
        if row == NULL:
            return self._refuse(ORD_ERR_UNKNOWN_ORDER)
        if row.status == ORD_PENDING_CANCEL:
            return ORD_UNCHANGED
        if ord_terminal(row.status):
            return self._refuse(ORD_ERR_TRANSITION)
        if row.status != ORD_PENDING_AMEND:
            row.base_status = row.status
        row.status = ORD_PENDING_CANCEL
        row.updated_ns = now_ns
        return ORD_OK

    cdef int c_amend_sent(self, int64_t order_id, int64_t price_ticks, int64_t qty_lots,
                          int64_t now_ns) noexcept nogil:
        cdef OrderRow* row = self.c_find(order_id)
        if row == NULL:
            return self._refuse(ORD_ERR_UNKNOWN_ORDER)
        if row.status != ORD_NEW and row.status != ORD_PARTIALLY_FILLED:
            return self._refuse(ORD_ERR_TRANSITION)
        if row.order_type == 2 or price_ticks <= 0 or qty_lots <= row.filled_lots:  # 2: MARKET
            return self._refuse(ORD_ERR_ARG)
        row.base_status = row.status
        row.status = ORD_PENDING_AMEND
        row.pending_price_ticks = price_ticks
        row.pending_qty_lots = qty_lots
        row.updated_ns = now_ns
        return ORD_OK

    cdef int c_amended(self, int64_t order_id, int64_t now_ns) noexcept nogil:
        cdef OrderRow* row = self.c_find(order_id)
        if row == NULL:
            return self._refuse(ORD_ERR_UNKNOWN_ORDER)
        if row.status != ORD_PENDING_AMEND:
            return self._refuse(ORD_ERR_TRANSITION)
        if row.pending_qty_lots <= row.filled_lots:
            return self._refuse(ORD_ERR_OVERFILL)
        row.price_ticks = row.pending_price_ticks
        row.qty_lots = row.pending_qty_lots
        row.pending_price_ticks = 0
        row.pending_qty_lots = 0
        row.status = <signed char>ord_resting(row.filled_lots)
        row.updated_ns = now_ns
        return ORD_OK

    cdef int c_request_failed(self, int64_t order_id, int64_t now_ns) noexcept nogil:
        cdef OrderRow* row = self.c_find(order_id)
        cdef int base
        if row == NULL:
            return self._refuse(ORD_ERR_UNKNOWN_ORDER)
        if row.status != ORD_PENDING_CANCEL and row.status != ORD_PENDING_AMEND:
            return self._refuse(ORD_ERR_TRANSITION)
        base = row.base_status
        if base == ORD_NEW or base == ORD_PARTIALLY_FILLED:
            base = ord_resting(row.filled_lots)
        row.status = <signed char>base
        row.pending_price_ticks = 0
        row.pending_qty_lots = 0
        row.updated_ns = now_ns
        return ORD_OK

    cdef int c_timed_out(self, int64_t order_id, int64_t now_ns) noexcept nogil:
        cdef OrderRow* row = self.c_find(order_id)
        if row == NULL:
            return self._refuse(ORD_ERR_UNKNOWN_ORDER)
        if row.status == ORD_UNKNOWN:
            return ORD_UNCHANGED
        if (row.status != ORD_PENDING_NEW and row.status != ORD_PENDING_CANCEL
                and row.status != ORD_PENDING_AMEND):
            return self._refuse(ORD_ERR_TRANSITION)
        row.status = ORD_UNKNOWN
        row.base_status = ORD_UNKNOWN
        row.pending_price_ticks = 0
        row.pending_qty_lots = 0
        row.updated_ns = now_ns
        return ORD_OK

    cdef int c_release(self, int64_t order_id) noexcept nogil:
        cdef OrderRow* row = self.c_find(order_id)
        cdef int32_t slot
        if row == NULL:
            return self._refuse(ORD_ERR_UNKNOWN_ORDER)
        if not ord_terminal(row.status):
            return self._refuse(ORD_ERR_NOT_TERMINAL)
        slot = <int32_t>(order_id & (self.capacity - 1))
        memset(row, 0, sizeof(OrderRow))  # order_id 0 marks the slot free
        self.free[self.free_count] = slot
        self.free_count += 1
        return ORD_OK

    # ---- Python API: the same codes as the C methods, arguments checked for type ----

    @property
    def live(self):
        """Slots holding an order (live or terminal, not yet released)."""
        return self.capacity - self.free_count

    def open(self, instrument, side, order_type, tif, price_ticks, qty_lots, tag, now_ns):
        """(code, order_id); order_id 0 when the code is negative."""
        cdef int64_t order_id = 0
        cdef int64_t inst = as_int64(instrument, "instrument")
        cdef int code = self.c_open(
            <int32_t>inst if 0 <= inst <= INT32_MAX else -1,
            _small(side, "side"), _small(order_type, "order_type"), _small(tif, "tif"),
            as_int64(price_ticks, "price_ticks"), as_int64(qty_lots, "qty_lots"),
            as_int64(tag, "tag"), as_int64(now_ns, "now_ns"), &order_id)
        return code, order_id

    def report(self, order_id, status, cum_lots, fill_lots, now_ns):
        return self.c_report(as_int64(order_id, "order_id"), _status_arg(status),
                             as_int64(cum_lots, "cum_lots"), as_int64(fill_lots, "fill_lots"),
                             as_int64(now_ns, "now_ns"))

    def cancel_sent(self, order_id, now_ns):
        return self.c_cancel_sent(as_int64(order_id, "order_id"), as_int64(now_ns, "now_ns"))

    def amend_sent(self, order_id, price_ticks, qty_lots, now_ns):
        return self.c_amend_sent(as_int64(order_id, "order_id"),
                                 as_int64(price_ticks, "price_ticks"),
                                 as_int64(qty_lots, "qty_lots"), as_int64(now_ns, "now_ns"))

    def amended(self, order_id, now_ns):
        return self.c_amended(as_int64(order_id, "order_id"), as_int64(now_ns, "now_ns"))

    def request_failed(self, order_id, now_ns):
        return self.c_request_failed(as_int64(order_id, "order_id"),
                                     as_int64(now_ns, "now_ns"))

    def timed_out(self, order_id, now_ns):
        return self.c_timed_out(as_int64(order_id, "order_id"), as_int64(now_ns, "now_ns"))

    def release(self, order_id):
        return self.c_release(as_int64(order_id, "order_id"))

    def get(self, order_id):
        """The order's row as a tuple (orders_ref.OrderRow.as_tuple order), None if unknown."""
        cdef OrderRow* r = self.c_find(as_int64(order_id, "order_id"))
        if r == NULL:
            return None
        return (r.order_id, r.instrument, r.side, r.order_type, r.tif, r.status,
                r.price_ticks, r.qty_lots, r.filled_lots, r.pending_price_ticks,
                r.pending_qty_lots, r.tag, r.created_ns, r.updated_ns)

    def status_of(self, order_id):
        """The order's status code; FREE (0) when no live order has this id."""
        cdef OrderRow* r = self.c_find(as_int64(order_id, "order_id"))
        return ORD_FREE if r == NULL else r.status

    def __repr__(self):
        return (f"OrderTable(capacity={self.capacity}, live={self.live}, "
                f"opened={self.opened}, refused={self.refused})")
