# Order intents contract: what a strategy asks for, in int64 ticks and lots, written into a
# preallocated buffer that the consumer (risk, then the OMS) takes in push order. Cython
# callers (strategies) use the c_* methods (status codes, no Python, no GIL); Python callers
# use the validating, raising methods of intents.pyx. Reference semantics:
# engine/model/intents_ref.py.
cimport cython
from libc.stdint cimport int8_t, int32_t, int64_t
from libc.string cimport memmove

# Every enum starts at 1 (side: +-1) so that a zeroed row, or a field a kind does not use,
# never reads as a valid value.
cdef enum:
    INTENT_NEW = 1
    INTENT_CANCEL = 2
    # cancel order_id and place the new order the row describes; the OMS chooses between the
    # venue's amend, cancel-replace or a cancel followed by a new order
    INTENT_REPLACE = 3

    # equal to engine.model.enums.OrderSide and position.pxd SIDE_BUY/SIDE_SELL
    INTENT_BUY = 1
    INTENT_SELL = -1

    INTENT_LIMIT = 1
    INTENT_MARKET = 2
    INTENT_LIMIT_MAKER = 3  # post-only: rests as maker or the venue rejects it

    INTENT_GTC = 1
    INTENT_IOC = 2
    INTENT_FOK = 3

    # price_ticks of a MARKET intent and of a cancel; order_id of a NEW intent. Real prices
    # and order ids are > 0.
    INTENT_NO_PRICE = 0
    INTENT_NO_ORDER = 0

# Status of a push. Negative: rejected, and nothing was written. Arguments are checked in
# the order instrument, order_id, side, order type, time in force, price, quantity, and the
# free room last, so a bad argument is reported as such even when the buffer is also full.
# fixedpoint owns -1..-15, position -16..-18, book -32..-35, depth_decode -48..-53,
# frame_handler -80 and below.
cdef enum:
    INTENT_OK = 0
    INTENT_ERR_FULL = -64  # capacity rows are pending: the consumer has not drained them
    INTENT_ERR_INSTRUMENT = -65  # instrument index outside 0..instrument_count-1
    INTENT_ERR_SIDE = -66
    INTENT_ERR_TYPE = -67  # order type not LIMIT, MARKET or LIMIT_MAKER
    INTENT_ERR_TIF = -68  # not GTC/IOC/FOK, or LIMIT_MAKER with IOC/FOK (it could never rest)
    INTENT_ERR_PRICE = -69  # LIMIT/LIMIT_MAKER price <= 0, or a MARKET price other than 0
    INTENT_ERR_QTY = -70  # quantity <= 0
    INTENT_ERR_ORDER_ID = -71  # cancel/replace of order id <= 0
    INTENT_ERR_INDEX = -72  # c_get of a row outside 0..len-1


# One intent, 40 bytes, no padding: int64 fields first so every field is naturally aligned.
# intents.pyx checks at import that its numpy dtype has these exact offsets.
cdef struct Intent:
    int64_t price_ticks  # INTENT_NO_PRICE for MARKET and CANCEL
    int64_t qty_lots  # 0 for CANCEL
    int64_t tag  # the strategy's own id of the quote, carried through untouched
    int64_t order_id  # the order to cancel or replace; INTENT_NO_ORDER for NEW
    int32_t instrument  # index into the engine's instrument table
    int8_t kind
    int8_t side  # 0 for CANCEL
    int8_t order_type  # 0 for CANCEL
    int8_t tif  # 0 for CANCEL


cdef inline int intent_check_order(int side, int64_t price_ticks, int64_t qty_lots,
                                   int order_type, int tif) noexcept nogil:
    """The fields of a NEW or REPLACE intent, in the documented order."""
    if side != INTENT_BUY and side != INTENT_SELL:
        return INTENT_ERR_SIDE
    if (order_type != INTENT_LIMIT and order_type != INTENT_MARKET
            and order_type != INTENT_LIMIT_MAKER):
        return INTENT_ERR_TYPE
    if tif != INTENT_GTC and tif != INTENT_IOC and tif != INTENT_FOK:
        return INTENT_ERR_TIF
    if order_type == INTENT_LIMIT_MAKER and tif != INTENT_GTC:
        return INTENT_ERR_TIF
    if order_type == INTENT_MARKET:
        if price_ticks != INTENT_NO_PRICE:
            return INTENT_ERR_PRICE
    elif price_ticks <= 0:
        return INTENT_ERR_PRICE
    if qty_lots <= 0:
        return INTENT_ERR_QTY
    return INTENT_OK


@cython.final
cdef class IntentBuffer:
    """Pending intents: rows head..count-1 of `rows`, oldest first (see intents.pyx)."""
    cdef Intent* rows  # capacity rows inside _storage, which owns them; never resized
    cdef readonly Py_ssize_t capacity
    cdef readonly int32_t instrument_count  # valid indexes are 0..instrument_count-1
    cdef Py_ssize_t head  # next row the consumer takes
    cdef Py_ssize_t count  # one past the last pending row
    cdef readonly int64_t pushed  # intents accepted since creation
    cdef readonly int64_t rejected  # pushes refused with a negative status
    cdef readonly Py_ssize_t high_water  # most intents pending at once: sizes `capacity`
    cdef object _storage  # the structured numpy array behind rows
    cdef object _view  # read-only view of _storage handed out (sliced) by view()

    # Room for one more row, compacting the pending rows to the front when the tail is at
    # capacity but the consumer has taken rows from the head; NULL when capacity rows are
    # pending. The row is committed only by _commit, so a rejected push writes nothing.
    cdef inline Intent* _reserve(self) noexcept nogil:
        cdef Py_ssize_t pending
        if self.count == self.capacity:
            if self.head == 0:
                return NULL
            pending = self.count - self.head
            memmove(self.rows, self.rows + self.head, <size_t>pending * sizeof(Intent))
            self.head = 0
            self.count = pending
        return &self.rows[self.count]

    cdef inline int _commit(self) noexcept nogil:
        self.count += 1
        self.pushed += 1
        if self.count - self.head > self.high_water:
            self.high_water = self.count - self.head
        return INTENT_OK

    cdef inline int _reject(self, int status) noexcept nogil:
        self.rejected += 1
        return status

    cdef inline bint _instrument_ok(self, int32_t instrument) noexcept nogil:
        return 0 <= instrument < self.instrument_count

    cdef inline int c_push_new(self, int32_t instrument, int side, int64_t price_ticks,
                               int64_t qty_lots, int64_t tag, int order_type,
                               int tif) noexcept nogil:
        cdef int status
        cdef Intent* row
        if not self._instrument_ok(instrument):
            return self._reject(INTENT_ERR_INSTRUMENT)
        status = intent_check_order(side, price_ticks, qty_lots, order_type, tif)
        if status != INTENT_OK:
            return self._reject(status)
        row = self._reserve()
        if row == NULL:
            return self._reject(INTENT_ERR_FULL)
        row.price_ticks = price_ticks
        row.qty_lots = qty_lots
        row.tag = tag
        row.order_id = INTENT_NO_ORDER
        row.instrument = instrument
        row.kind = INTENT_NEW
        row.side = <int8_t>side
        row.order_type = <int8_t>order_type
        row.tif = <int8_t>tif
        return self._commit()

    cdef inline int c_push_cancel(self, int32_t instrument, int64_t order_id,
                                  int64_t tag) noexcept nogil:
        cdef Intent* row
        if not self._instrument_ok(instrument):
            return self._reject(INTENT_ERR_INSTRUMENT)
        if order_id <= 0:
            return self._reject(INTENT_ERR_ORDER_ID)
        row = self._reserve()
        if row == NULL:
            return self._reject(INTENT_ERR_FULL)
        row.price_ticks = INTENT_NO_PRICE
        row.qty_lots = 0
        row.tag = tag
        row.order_id = order_id
        row.instrument = instrument
        row.kind = INTENT_CANCEL
        row.side = 0
        row.order_type = 0
        row.tif = 0
        return self._commit()

    cdef inline int c_push_replace(self, int32_t instrument, int64_t order_id, int side,
                                   int64_t price_ticks, int64_t qty_lots, int64_t tag,
                                   int order_type, int tif) noexcept nogil:
        cdef int status
        cdef Intent* row
        if not self._instrument_ok(instrument):
            return self._reject(INTENT_ERR_INSTRUMENT)
        if order_id <= 0:
            return self._reject(INTENT_ERR_ORDER_ID)
        status = intent_check_order(side, price_ticks, qty_lots, order_type, tif)
        if status != INTENT_OK:
            return self._reject(status)
        row = self._reserve()
        if row == NULL:
            return self._reject(INTENT_ERR_FULL)
        row.price_ticks = price_ticks
        row.qty_lots = qty_lots
        row.tag = tag
        row.order_id = order_id
        row.instrument = instrument
        row.kind = INTENT_REPLACE
        row.side = <int8_t>side
        row.order_type = <int8_t>order_type
        row.tif = <int8_t>tif
        return self._commit()

    cdef inline Py_ssize_t c_len(self) noexcept nogil:
        return self.count - self.head

    # Pending row i (0 = oldest). Unchecked: 0 <= i < c_len() is the caller's promise, and
    # the pointer is valid until the next push, pop or clear (a push may compact the rows).
    cdef inline const Intent* c_row(self, Py_ssize_t i) noexcept nogil:
        return &self.rows[self.head + i]

    # Checked copy of pending row i; INTENT_ERR_INDEX (out untouched) outside 0..len-1.
    cdef inline int c_get(self, Py_ssize_t i, Intent* out) noexcept nogil:
        if i < 0 or i >= self.count - self.head:
            return INTENT_ERR_INDEX
        out[0] = self.rows[self.head + i]
        return INTENT_OK

    # The consumer's read: copies the oldest pending row into out and drops it from the
    # buffer; False (out untouched) when nothing is pending.
    cdef inline bint c_pop(self, Intent* out) noexcept nogil:
        if self.head == self.count:
            return False
        out[0] = self.rows[self.head]
        self.head += 1
        if self.head == self.count:
            # drained: start again at row 0 so the next pushes need no compaction
            self.head = 0
            self.count = 0
        return True

    cdef inline void c_clear(self) noexcept nogil:
        # O(1): rows outside head..count-1 are never read
        self.head = 0
        self.count = 0
