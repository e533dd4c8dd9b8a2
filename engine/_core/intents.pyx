"""Order intents in a preallocated buffer (reference: engine/model/intents_ref.py).

A strategy answers an event by pushing intents (new order, cancel, replace) into the one
IntentBuffer the engine handed it; the consumer (risk, then the OMS) takes them in push order
after the event. Rows are fixed 40-byte C structs inside one numpy array allocated at
construction and never resized, so pushing, popping and clearing allocate nothing; Python
readers get zero-copy read-only views of the same memory.

A push is validated completely before anything is written: a rejected push (negative status)
leaves the buffer as it was, apart from the `rejected` counter. The checks are the contract's
(intents.pxd), in its documented order, so the C and Python paths reject the same things.

Pending rows are head..count-1. Popping advances head; once every row is taken both go back
to 0. A push that finds the tail at capacity while rows were already taken from the head
moves the pending rows to the front (memmove) instead of reporting a full buffer, so the
buffer is full only when `capacity` intents are really pending.
"""

from libc.stdint cimport INT32_MAX, INT32_MIN, int64_t, uintptr_t

from engine._core.fixedpoint cimport as_int64

import numpy as np

NEW = INTENT_NEW
CANCEL = INTENT_CANCEL
REPLACE = INTENT_REPLACE
BUY = INTENT_BUY
SELL = INTENT_SELL
LIMIT = INTENT_LIMIT
MARKET = INTENT_MARKET
LIMIT_MAKER = INTENT_LIMIT_MAKER
GTC = INTENT_GTC
IOC = INTENT_IOC
FOK = INTENT_FOK
NO_PRICE = INTENT_NO_PRICE
NO_ORDER = INTENT_NO_ORDER
MAX_INSTRUMENTS = INT32_MAX

OK = INTENT_OK
ERR_FULL = INTENT_ERR_FULL
ERR_INSTRUMENT = INTENT_ERR_INSTRUMENT
ERR_SIDE = INTENT_ERR_SIDE
ERR_TYPE = INTENT_ERR_TYPE
ERR_TIF = INTENT_ERR_TIF
ERR_PRICE = INTENT_ERR_PRICE
ERR_QTY = INTENT_ERR_QTY
ERR_ORDER_ID = INTENT_ERR_ORDER_ID
ERR_INDEX = INTENT_ERR_INDEX

# The order of read()'s tuple and of the view's fields.
FIELDS = (
    "instrument", "kind", "side", "order_type", "tif", "price_ticks", "qty_lots", "tag",
    "order_id",
)


cdef object _dtype():
    # Offsets come from the C struct itself, so the numpy view can never disagree with what
    # the C code writes, whatever the compiler's layout.
    cdef Intent probe
    cdef char* base = <char*>&probe
    offsets = {
        "instrument": <char*>&probe.instrument - base,
        "kind": <char*>&probe.kind - base,
        "side": <char*>&probe.side - base,
        "order_type": <char*>&probe.order_type - base,
        "tif": <char*>&probe.tif - base,
        "price_ticks": <char*>&probe.price_ticks - base,
        "qty_lots": <char*>&probe.qty_lots - base,
        "tag": <char*>&probe.tag - base,
        "order_id": <char*>&probe.order_id - base,
    }
    formats = {
        "instrument": np.int32, "kind": np.int8, "side": np.int8, "order_type": np.int8,
        "tif": np.int8, "price_ticks": np.int64, "qty_lots": np.int64, "tag": np.int64,
        "order_id": np.int64,
    }
    return np.dtype({
        "names": list(FIELDS),
        "formats": [formats[f] for f in FIELDS],
        "offsets": [offsets[f] for f in FIELDS],
        "itemsize": sizeof(Intent),
    })


DTYPE = _dtype()

_TYPE_NAMES = {INTENT_LIMIT: "LIMIT", INTENT_MARKET: "MARKET", INTENT_LIMIT_MAKER: "LIMIT_MAKER"}
_TIF_NAMES = {INTENT_GTC: "GTC", INTENT_IOC: "IOC", INTENT_FOK: "FOK"}


def describe(status):
    """One line saying what a status code means (for logs of C callers' statuses)."""
    return {
        INTENT_OK: "ok",
        INTENT_ERR_FULL: "intent buffer full: the consumer has not drained it",
        INTENT_ERR_INSTRUMENT: "instrument index outside the instrument table",
        INTENT_ERR_SIDE: "side is not BUY (1) or SELL (-1)",
        INTENT_ERR_TYPE: "order type is not LIMIT (1), MARKET (2) or LIMIT_MAKER (3)",
        INTENT_ERR_TIF: "time in force is not GTC (1), IOC (2) or FOK (3), "
                        "or LIMIT_MAKER with IOC/FOK",
        INTENT_ERR_PRICE: "price must be > 0 ticks for LIMIT/LIMIT_MAKER and 0 for MARKET",
        INTENT_ERR_QTY: "quantity must be > 0 lots",
        INTENT_ERR_ORDER_ID: "order id to cancel or replace must be > 0",
        INTENT_ERR_INDEX: "row index outside the pending intents",
    }.get(status, f"unknown intent status {status}")


# Python arguments go through as_int64 (TypeError for floats and bools, overflow error past
# int64), then are narrowed for the C signature. A value that does not fit the C type must
# still be rejected, never truncated into a valid one (2**32 + 1 would become side 1), so it
# maps to a value the check refuses: enums start at 1 (side +-1), indexes at 0.
cdef inline int _enum_arg(object value, str what) except? -1:
    cdef int64_t v = as_int64(value, what)
    if v < INT32_MIN or v > INT32_MAX:
        return 0
    return <int>v


cdef inline int32_t _index_arg(object value) except? -2:
    cdef int64_t v = as_int64(value, "instrument")
    if v < 0 or v > INT32_MAX:
        return -1
    return <int32_t>v


cdef inline tuple _row_tuple(const Intent* r):
    return (r.instrument, r.kind, r.side, r.order_type, r.tif, r.price_ticks, r.qty_lots,
            r.tag, r.order_id)


cdef int _set_count(IntentBuffer buf, object instrument_count) except -1:
    cdef int64_t n = as_int64(instrument_count, "instrument_count")
    if n < 0 or n > INT32_MAX:
        raise ValueError(f"instrument_count must be in 0..{INT32_MAX}, got {n}")
    buf.instrument_count = <int32_t>n
    return 0


cdef int _new(IntentBuffer buf, object instrument, object side, object price_ticks,
              object qty_lots, object tag, object order_type, object tif) except? -1:
    return buf.c_push_new(
        _index_arg(instrument), _enum_arg(side, "side"), as_int64(price_ticks, "price_ticks"),
        as_int64(qty_lots, "qty_lots"), as_int64(tag, "tag"),
        _enum_arg(order_type, "order_type"), _enum_arg(tif, "tif"))


cdef int _cancel(IntentBuffer buf, object instrument, object order_id,
                 object tag) except? -1:
    return buf.c_push_cancel(_index_arg(instrument), as_int64(order_id, "order_id"),
                             as_int64(tag, "tag"))


cdef int _replace(IntentBuffer buf, object instrument, object order_id, object side,
                  object price_ticks, object qty_lots, object tag, object order_type,
                  object tif) except? -1:
    return buf.c_push_replace(
        _index_arg(instrument), as_int64(order_id, "order_id"), _enum_arg(side, "side"),
        as_int64(price_ticks, "price_ticks"), as_int64(qty_lots, "qty_lots"),
        as_int64(tag, "tag"), _enum_arg(order_type, "order_type"), _enum_arg(tif, "tif"))


cdef int _raise(IntentBuffer buf, int status, object instrument, object order_id, object side,
                object price, object qty, object order_type, object tif) except -1:
    if status == INTENT_ERR_FULL:
        raise ValueError(
            f"intent buffer is full: {buf.capacity} intents pending, the consumer has "
            "not drained them"
        )
    if status == INTENT_ERR_INSTRUMENT:
        raise ValueError(
            f"instrument index must be in 0..{buf.instrument_count - 1}, got {instrument}"
        )
    if status == INTENT_ERR_ORDER_ID:
        raise ValueError(f"order_id to cancel or replace must be > 0, got {order_id}")
    if status == INTENT_ERR_SIDE:
        raise ValueError(f"side must be BUY (1) or SELL (-1), got {side}")
    if status == INTENT_ERR_TYPE:
        raise ValueError(
            f"order_type must be LIMIT (1), MARKET (2) or LIMIT_MAKER (3), got {order_type}"
        )
    if status == INTENT_ERR_TIF:
        if order_type == INTENT_LIMIT_MAKER and tif in _TIF_NAMES:
            raise ValueError(f"LIMIT_MAKER must rest: tif must be GTC, got {_TIF_NAMES[tif]}")
        raise ValueError(f"tif must be GTC (1), IOC (2) or FOK (3), got {tif}")
    if status == INTENT_ERR_PRICE:
        if order_type == INTENT_MARKET:
            raise ValueError(f"a MARKET intent has no price: price_ticks must be 0, got {price}")
        raise ValueError(
            f"price_ticks must be > 0 for a {_TYPE_NAMES[order_type]} intent, got {price}"
        )
    if status == INTENT_ERR_QTY:
        raise ValueError(f"qty_lots must be > 0, got {qty}")
    raise ValueError(describe(status))


cdef class IntentBuffer:
    """Up to `capacity` pending order intents, taken by the consumer in push order.

    Allocated once and reused. Cython strategies push with c_push_new / c_push_cancel /
    c_push_replace (statuses); Python code with push_* (ValueError on a rejected intent) or
    try_push_* (the status, as C callers get it). `instrument_count` bounds the instrument
    index so that the consumer can index its instrument table without a check; it defaults to
    MAX_INSTRUMENTS (only >= 0 is checked) until set_instrument_count() is told the table.
    """

    def __cinit__(self, capacity, instrument_count=MAX_INSTRUMENTS):
        cdef int64_t cap = as_int64(capacity, "capacity")
        if cap < 1:
            raise ValueError(f"capacity must be >= 1, got {cap}")
        _set_count(self, instrument_count)
        # numpy raises (ValueError/MemoryError) for a size it cannot allocate, before any
        # pointer is taken; zeros, so stale rows read as no intent at all
        self._storage = np.zeros(cap, dtype=DTYPE)
        self.rows = <Intent*><uintptr_t>self._storage.ctypes.data
        self._view = self._storage.view()
        self._view.flags.writeable = False
        self.capacity = cap

    def set_instrument_count(self, instrument_count):
        """Bound instrument indexes to 0..instrument_count-1 (the engine's instrument table).

        Only while nothing is pending: a pending row must stay valid for the consumer.
        """
        if self.count != self.head:
            raise ValueError(
                f"instrument_count cannot change while {self.count - self.head} intents are "
                "pending"
            )
        _set_count(self, instrument_count)

    # ------------------------------------------------------------------ Python API: statuses

    def try_push_new(self, instrument, side, price_ticks, qty_lots, tag=0, order_type=LIMIT,
                     tif=GTC):
        """Push a new order; returns OK or the negative status (nothing written)."""
        return _new(self, instrument, side, price_ticks, qty_lots, tag, order_type, tif)

    def try_push_cancel(self, instrument, order_id, tag=0):
        """Push a cancel of `order_id`; returns OK or the negative status."""
        return _cancel(self, instrument, order_id, tag)

    def try_push_replace(self, instrument, order_id, side, price_ticks, qty_lots, tag=0,
                         order_type=LIMIT, tif=GTC):
        """Push a replace of `order_id` by the order described; returns OK or the status."""
        return _replace(self, instrument, order_id, side, price_ticks, qty_lots, tag,
                        order_type, tif)

    # ------------------------------------------------------------------ Python API: raising

    def push_new(self, instrument, side, price_ticks, qty_lots, tag=0, order_type=LIMIT,
                 tif=GTC):
        """Push a new order; ValueError (buffer unchanged) if it is invalid or no room."""
        cdef int status = _new(self, instrument, side, price_ticks, qty_lots, tag, order_type,
                               tif)
        if status != INTENT_OK:
            _raise(self, status, instrument, NO_ORDER, side, price_ticks, qty_lots, order_type,
                   tif)

    def push_cancel(self, instrument, order_id, tag=0):
        """Push a cancel; ValueError (buffer unchanged) if it is invalid or no room."""
        cdef int status = _cancel(self, instrument, order_id, tag)
        if status != INTENT_OK:
            _raise(self, status, instrument, order_id, 0, 0, 0, 0, 0)

    def push_replace(self, instrument, order_id, side, price_ticks, qty_lots, tag=0,
                     order_type=LIMIT, tif=GTC):
        """Push a replace; ValueError (buffer unchanged) if it is invalid or no room."""
        cdef int status = _replace(self, instrument, order_id, side, price_ticks, qty_lots, tag,
                                   order_type, tif)
        if status != INTENT_OK:
            _raise(self, status, instrument, order_id, side, price_ticks, qty_lots, order_type,
                   tif)

    # ------------------------------------------------------------------ Python API: reading

    def __len__(self):
        """Intents pending (pushed and not yet taken)."""
        return self.count - self.head

    def read(self, i):
        """Pending row i (0 = oldest) as a tuple in FIELDS order; IndexError outside 0..len-1."""
        cdef int64_t k = as_int64(i, "index")
        cdef Intent row
        if k < 0 or k >= self.count - self.head:
            raise IndexError(f"intent index {k} outside 0..{self.count - self.head - 1}")
        self.c_get(<Py_ssize_t>k, &row)
        return _row_tuple(&row)

    def pop(self):
        """Take the oldest pending intent (a FIELDS tuple); None when nothing is pending."""
        cdef Intent row
        if not self.c_pop(&row):
            return None
        return _row_tuple(&row)

    def drain(self):
        """Take every pending intent, oldest first, as a list of FIELDS tuples (empties it)."""
        cdef Py_ssize_t i
        rows = [_row_tuple(&self.rows[i]) for i in range(self.head, self.count)]
        self.c_clear()
        return rows

    def clear(self):
        """Drop every pending intent; the counters keep counting."""
        self.c_clear()

    def view(self):
        """The pending rows as a read-only structured numpy array (DTYPE), no copy.

        Valid until the next push, pop or clear: all of them may move or overwrite these
        rows. Copy (`.copy()`) what must survive.
        """
        return self._view[self.head:self.count]

    def __repr__(self):
        return (
            f"IntentBuffer(capacity={self.capacity}, pending={self.count - self.head}, "
            f"pushed={self.pushed}, rejected={self.rejected})"
        )
