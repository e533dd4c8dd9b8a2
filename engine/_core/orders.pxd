# The OMS's order table contract: live orders in preallocated slots, every change an explicit
# transition with a status code, no Python on the C path. Reference semantics (and the why of
# each rule): engine/oms/orders_ref.py. Python callers use the methods of orders.pyx, which
# return the same codes.
cimport cython
from libc.stdint cimport int8_t, int32_t, int64_t

cdef enum:
    # order statuses; 0 marks a free slot
    ORD_FREE = 0
    ORD_PENDING_NEW = 1
    ORD_NEW = 2
    ORD_PARTIALLY_FILLED = 3
    ORD_PENDING_CANCEL = 4
    ORD_PENDING_AMEND = 5
    ORD_UNKNOWN = 6
    ORD_FILLED = 7  # statuses >= ORD_FILLED are terminal
    ORD_CANCELED = 8
    ORD_REJECTED = 9
    ORD_EXPIRED = 10

# Codes. fixedpoint owns -1..-15, position -16..-18, book -32..-35, depth_decode -48..-53,
# intents -64..-72, frame_handler -80..-95.
cdef enum:
    ORD_OK = 0
    ORD_UNCHANGED = 1  # a repeated report or request: nothing changed
    ORD_ERR_UNKNOWN_ORDER = -96
    ORD_ERR_TRANSITION = -97
    ORD_ERR_OVERFILL = -98
    ORD_ERR_FULL = -99
    ORD_ERR_ARG = -100
    ORD_ERR_NOT_TERMINAL = -101

    ORD_MAX_CAPACITY = 1 << 24


# One order, int64 fields first so every field is naturally aligned.
cdef struct OrderRow:
    int64_t order_id  # generation << slot_bits | slot; 0 = free
    int64_t price_ticks
    int64_t qty_lots
    int64_t filled_lots
    int64_t pending_price_ticks  # the amend in flight
    int64_t pending_qty_lots
    int64_t tag  # the strategy's own id of the quote
    int64_t created_ns
    int64_t updated_ns
    int32_t instrument
    int8_t side
    int8_t order_type
    int8_t tif
    int8_t status
    int8_t base_status  # where a refused cancel/amend returns to


cdef inline bint ord_terminal(int status) noexcept nogil:
    return status >= ORD_FILLED


cdef inline int ord_resting(int64_t filled) noexcept nogil:
    return ORD_PARTIALLY_FILLED if filled > 0 else ORD_NEW


@cython.final
cdef class OrderTable:
    cdef OrderRow* rows  # capacity rows inside _storage
    cdef int64_t* generations
    cdef int32_t* free  # stack of free slots; free[0..free_count-1]
    cdef readonly Py_ssize_t capacity
    cdef readonly int slot_bits
    cdef Py_ssize_t free_count
    cdef readonly int64_t opened
    cdef readonly int64_t refused  # every negative code, of any operation
    cdef readonly int64_t overfills
    cdef readonly int64_t unknown_ids

    cdef inline int _refuse(self, int code) noexcept nogil:
        self.refused += 1
        if code == ORD_ERR_OVERFILL:
            self.overfills += 1
        elif code == ORD_ERR_UNKNOWN_ORDER:
            self.unknown_ids += 1
        return code

    # The live order with this id, or NULL (a stale id of a released order included).
    cdef inline OrderRow* c_find(self, int64_t order_id) noexcept nogil:
        cdef OrderRow* row
        if order_id <= 0:
            return NULL
        row = &self.rows[order_id & (self.capacity - 1)]
        return row if row.order_id == order_id else NULL

    cdef int c_open(self, int32_t instrument, int side, int order_type, int tif,
                    int64_t price_ticks, int64_t qty_lots, int64_t tag, int64_t now_ns,
                    int64_t* order_id) noexcept nogil
    cdef int c_report(self, int64_t order_id, int status, int64_t cum_lots, int64_t fill_lots,
                      int64_t now_ns) noexcept nogil
    cdef int c_cancel_sent(self, int64_t order_id, int64_t now_ns) noexcept nogil
    cdef int c_amend_sent(self, int64_t order_id, int64_t price_ticks, int64_t qty_lots,
                          int64_t now_ns) noexcept nogil
    cdef int c_amended(self, int64_t order_id, int64_t now_ns) noexcept nogil
    cdef int c_request_failed(self, int64_t order_id, int64_t now_ns) noexcept nogil
    cdef int c_timed_out(self, int64_t order_id, int64_t now_ns) noexcept nogil
    cdef int c_release(self, int64_t order_id) noexcept nogil
