"""The OMS's fill ledger (reference semantics: engine/oms/fills_ref.py).

Remembers, per instrument, the last `capacity` trade ids booked, oldest forgotten first (one
FIFO over every id). A trade id that is a plain decimal number (1..18 digits, no sign, no
leading zero) lives in a C open-addressing int64 hash set (linear probing, backward-shift
deletion, at most half full); any other id lives in a Python set, its place in the FIFO
marked. `apply_fill` books a fill in one call: de-duplication, the instrument's
`PositionCore`, then the order's transition in the `OrderTable`. The C buffers of an
instrument are allocated at its first trade id; nothing allocates after that for numeric ids.
"""

from collections import deque
from decimal import Decimal

from cpython.long cimport PyLong_AsLong
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int64_t, uint64_t

from engine._core.fixedpoint cimport int128, int128_fits_i64
from engine._core.orders cimport (
    ORD_FILLED,
    ORD_PENDING_CANCEL,
    ORD_PENDING_NEW,
    ORD_UNKNOWN,
    OrderRow,
    OrderTable,
)
from engine._core.position cimport PositionCore

DUPLICATE = FILL_DUPLICATE
NOT_LIVE = FILL_NOT_LIVE
NO_REPORT = FILL_NO_REPORT
ERR_ARG = FILL_ERR_ARG
PYTHON = FILL_PYTHON
MAX_CAPACITY = 1 << 24

_DESCRIPTIONS = {
    FILL_DUPLICATE: "trade id booked already",
    FILL_NOT_LIVE: "order not live",
    FILL_NO_REPORT: "status says only 'received'",
    FILL_ERR_ARG: "no such instrument",
    FILL_PYTHON: "a field for the Python path",
}


def describe(code):
    """A code's name, for logs."""
    return _DESCRIPTIONS.get(code, f"code {code}")


cdef inline int64_t _numeric(str s) noexcept:
    """The id's value when it is a plain decimal number of 1..18 digits, else -1."""
    cdef Py_ssize_t n = len(s)
    cdef int64_t v = 0
    cdef Py_UCS4 ch
    cdef int64_t d
    cdef bint first = True
    if n == 0 or n > FILL_MAX_DIGITS:
        return -1
    for ch in s:
        d = <int64_t>ch - 48
        if d < 0 or d > 9 or (first and d == 0 and n > 1):
            return -1
        first = False
        v = v * 10 + d
    return v


def fee_units(str text not None, mantissa, int exp):
    """A fee's text (`str` of a finite Decimal: digits, an optional point, an optional
    exponent) in notional units of `mantissa * 10**-exp`, rounded up (ceil, so a rebate rounds
    toward zero): exactly `Instrument.fee_to_units`. None when the text has another form or
    needs more than int128 on the way or int64 at the end (the caller then asks the Python)."""
    cdef int64_t out = 0
    if not 0 < mantissa < (1 << 63):
        return None
    return out if _fee_text_units(text, mantissa, exp, &out) else None


cdef bint _fee_text_units(str text, int64_t m, int64_t exp, int64_t* out) noexcept:
    """fee_units in C: True with the units in *out, False for None. m > 0."""
    cdef Py_ssize_t n = len(text)
    cdef Py_ssize_t i = 0
    cdef Py_UCS4 ch
    cdef bint negative = False
    cdef bint point = False
    cdef bint exp_negative = False
    cdef int64_t digits = 0  # significant digits taken (leading zeros are not counted)
    cdef int64_t value = 0
    cdef int64_t fraction = 0  # digits after the point
    cdef int64_t e = 0
    cdef bint any_digit = False
    cdef int64_t shift
    cdef int128 num
    cdef int128 den
    cdef int128 q
    if n and text[0] == "-":
        negative = True
        i = 1
    if i >= n:
        return False
    while i < n:
        ch = text[i]
        if ch == ".":
            if point:
                return False
            point = True
        elif 48 <= <int64_t>ch <= 57:
            any_digit = True
            if value or ch != "0":
                digits += 1
                if digits > FILL_MAX_DIGITS:
                    return False
                value = value * 10 + (<int64_t>ch - 48)
            if point:
                fraction += 1
        elif ch == "E":
            break
        else:
            return False
        i += 1
    if not any_digit:
        return False
    if i < n:  # an exponent: E, a sign, 1..4 digits
        i += 1
        if i < n and (text[i] == "+" or text[i] == "-"):
            exp_negative = text[i] == "-"
            i += 1
        if i >= n or n - i > 4:
            return False
        while i < n:
            ch = text[i]
            if not 48 <= <int64_t>ch <= 57:
                return False
            e = e * 10 + (<int64_t>ch - 48)
            i += 1
        if exp_negative:
            e = -e
    if value == 0:
        out[0] = 0
        return True
    # units = ceil(value * 10**(e - fraction + exp) / m)
    shift = e - fraction + exp
    if shift > FILL_MAX_DIGITS or shift < -FILL_MAX_DIGITS:
        return False
    num = value
    den = m
    while shift > 0:
        num *= 10
        shift -= 1
    while shift < 0:
        den *= 10
        shift += 1
    if negative:
        q = -(num / den)  # ceil of a negative quotient: truncation
    else:
        q = (num + den - 1) / den
    if not int128_fits_i64(q):
        return False
    out[0] = <int64_t>q
    return True


cdef object _ZERO = Decimal(0)
cdef object _DECIMAL = Decimal


cdef inline int64_t _home(int64_t key, int64_t mask) noexcept nogil:
    cdef uint64_t x = <uint64_t>key * <uint64_t>0x9E3779B97F4A7C15
    return <int64_t>((x ^ (x >> 31)) & <uint64_t>mask)


cdef inline int64_t _find(SeenIds* s, int64_t key) noexcept nogil:
    cdef int64_t i = _home(key, s.mask)
    cdef int64_t k
    while True:
        k = s.keys[i]
        if k == key:
            return i
        if k == FILL_EMPTY:
            return -1
        i = (i + 1) & s.mask


cdef inline void _remove(SeenIds* s, int64_t key) noexcept nogil:
    cdef int64_t i = _find(s, key)
    cdef int64_t j
    cdef int64_t k
    cdef int64_t home
    if i < 0:
        return
    j = i
    while True:
        j = (j + 1) & s.mask
        k = s.keys[j]
        if k == FILL_EMPTY:
            break
        home = _home(k, s.mask)
        # k may move back to i when i lies on its probe path (cyclically between home and j)
        if ((j - home) & s.mask) >= ((j - i) & s.mask):
            s.keys[i] = k
            i = j
    s.keys[i] = FILL_EMPTY


cdef class FillLedger:
    """Trade ids booked per instrument, and the fill booking of the order manager."""

    def __cinit__(self, positions, OrderTable table not None, capacity=65_536, *,
                  quotes=None, notional_units=None, status_codes=None):
        cdef Py_ssize_t i
        cdef int64_t cap = capacity
        self.positions = list(positions)
        for p in self.positions:
            if not isinstance(p, PositionCore):
                raise TypeError(f"positions must be PositionCore, got {type(p).__name__}")
        if cap < 1 or cap > MAX_CAPACITY:
            raise ValueError(f"capacity must be in 1..{MAX_CAPACITY}, got {cap}")
        self.table = table
        self.capacity = cap
        self.instruments = len(self.positions)
        self.text_seen = [set() for _ in range(self.instruments)]
        self.text_order = [deque() for _ in range(self.instruments)]
        self.quotes = None
        self.status_codes = None
        if quotes is not None and notional_units is not None and status_codes is not None:
            self.quotes = [str(q) for q in quotes]
            units = list(notional_units)
            if len(self.quotes) != self.instruments or len(units) != self.instruments:
                raise ValueError("one quote asset and one notional unit per instrument")
            self.mantissas = [m for m, _ in units]
            for m in self.mantissas:
                if not 0 < m < (1 << 63):
                    raise ValueError(f"a notional unit's mantissa must be in 1..2**63-1: {m}")
            self.exps = [int(e) for _, e in units]
            self.last_fees = [_ZERO] * self.instruments
            self.last_units = [0] * self.instruments
            self.status_codes = dict(status_codes)
        self.seen = <SeenIds*>PyMem_Malloc((self.instruments or 1) * sizeof(SeenIds))
        if self.seen == NULL:
            raise MemoryError()
        for i in range(self.instruments):
            self.seen[i].keys = NULL
            self.seen[i].ring = NULL
            self.seen[i].mask = 0
            self.seen[i].head = 0
            self.seen[i].count = 0

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.seen != NULL:
            for i in range(self.instruments):
                PyMem_Free(self.seen[i].keys)
                PyMem_Free(self.seen[i].ring)
            PyMem_Free(self.seen)

    cdef int _allocate(self, SeenIds* s) except -1:
        cdef int64_t size = 2
        cdef int64_t i
        while size < 2 * self.capacity:
            size <<= 1
        s.keys = <int64_t*>PyMem_Malloc(size * sizeof(int64_t))
        s.ring = <int64_t*>PyMem_Malloc(self.capacity * sizeof(int64_t))
        if s.keys == NULL or s.ring == NULL:
            PyMem_Free(s.keys)
            PyMem_Free(s.ring)
            s.keys = NULL
            s.ring = NULL
            raise MemoryError()
        for i in range(size):
            s.keys[i] = FILL_EMPTY
        s.mask = size - 1
        return 0

    cdef int c_add(self, Py_ssize_t index, str trade_id) except -1:
        """1 when the id is new (now remembered), 0 when it was booked already."""
        cdef SeenIds* s = &self.seen[index]
        cdef int64_t key = _numeric(trade_id)
        cdef int64_t old
        cdef int64_t i
        if s.keys == NULL:
            self._allocate(s)
        if key >= 0:
            if _find(s, key) >= 0:
                return 0
        elif trade_id in <set>self.text_seen[index]:
            return 0
        if s.count == self.capacity:  # forget the oldest id first
            old = s.ring[s.head]
            if old == FILL_TEXT:
                (<set>self.text_seen[index]).discard(self.text_order[index].popleft())
            else:
                _remove(s, old)
        else:
            s.count += 1
        if key >= 0:
            i = _home(key, s.mask)
            while s.keys[i] != FILL_EMPTY:
                i = (i + 1) & s.mask
            s.keys[i] = key
            s.ring[s.head] = key
        else:
            (<set>self.text_seen[index]).add(trade_id)
            self.text_order[index].append(trade_id)
            s.ring[s.head] = FILL_TEXT
        s.head += 1
        if s.head == self.capacity:
            s.head = 0
        return 1

    def add(self, Py_ssize_t index, str trade_id not None):
        """Remember a trade id: True when it is new, False when it was booked already."""
        if index < 0 or index >= self.instruments:
            raise IndexError(f"no instrument {index}")
        return self.c_add(index, trade_id) == 1

    def contains(self, Py_ssize_t index, str trade_id not None):
        cdef SeenIds* s
        cdef int64_t key
        if index < 0 or index >= self.instruments:
            raise IndexError(f"no instrument {index}")
        s = &self.seen[index]
        key = _numeric(trade_id)
        if key < 0:
            return trade_id in <set>self.text_seen[index]
        return s.keys != NULL and _find(s, key) >= 0

    def count(self, Py_ssize_t index):
        """How many trade ids the instrument remembers."""
        if index < 0 or index >= self.instruments:
            raise IndexError(f"no instrument {index}")
        return self.seen[index].count

    def ids(self, Py_ssize_t index):
        """The remembered trade ids, oldest first (tests)."""
        cdef SeenIds* s
        cdef int64_t i
        cdef int64_t k
        if index < 0 or index >= self.instruments:
            raise IndexError(f"no instrument {index}")
        s = &self.seen[index]
        out = []
        texts = iter(self.text_order[index])
        start = s.head - s.count
        if start < 0:
            start += self.capacity
        for i in range(s.count):
            k = s.ring[(start + i) % self.capacity]
            out.append(next(texts) if k == FILL_TEXT else str(k))
        return out

    cdef int c_apply_fill(self, Py_ssize_t index, int64_t order_id, int status_code,
                          int64_t cum_lots, int64_t last_lots, long side, int64_t price_ticks,
                          int64_t fee_units, str trade_id, int64_t now_ns) except? -1000:
        cdef int64_t delta = 0
        cdef OrderRow* row
        cdef int code
        self.terminal = False
        if index < 0 or index >= self.instruments:
            return FILL_ERR_ARG
        if side < -128 or side > 127:
            side = 0  # not a side: the position refuses it (POS_ERR_SIDE)
        if self.c_add(index, trade_id) == 0:
            return FILL_DUPLICATE
        self.position_status = (<PositionCore>self.positions[index]).fill(
            <int>side, price_ticks, last_lots, fee_units, &delta
        )
        row = self.table.c_find(order_id)
        if row == NULL:
            return FILL_NOT_LIVE
        if (
            status_code == ORD_PENDING_NEW
            or status_code == ORD_PENDING_CANCEL
            or status_code == ORD_UNKNOWN
        ):
            return FILL_NO_REPORT
        code = self.table.c_report(order_id, status_code, cum_lots, last_lots, now_ns)
        if code >= 0:
            self.terminal = row.status >= ORD_FILLED
        return code

    def apply_fill(self, Py_ssize_t index, int64_t order_id, int status_code, int64_t cum_lots,
                   int64_t last_lots, object side, int64_t price_ticks, int64_t fee_units,
                   str trade_id not None, int64_t now_ns):
        """Book one fill: FILL_DUPLICATE (nothing changed) or FILL_ERR_ARG; else the fill is
        in the position (`position_status` 0, or its refusal code) and the result is
        FILL_NOT_LIVE, FILL_NO_REPORT, or the table's code for the report (`terminal` tells
        whether the order ended). `side` is an int (an IntEnum member too: read as a C long,
        Cython's own conversion of an int subclass costs ~0.25 us)."""
        cdef long side_value = PyLong_AsLong(side)  # raises TypeError / OverflowError
        return self.c_apply_fill(index, order_id, status_code, cum_lots, last_lots, side_value,
                                 price_ticks, fee_units, trade_id, now_ns)

    def book(self, object report, Py_ssize_t index, int64_t order_id, int64_t now_ns):
        """apply_fill straight from an ExecutionReport (a tuple: venue, symbol,
        client_order_id, venue_order_id, status, side, cum_filled_lots, trade_id,
        last_price_ticks, last_lots, fee, fee_asset, ...) when its fee is none or in the
        instrument's quote asset: FILL_PYTHON, with nothing changed, when a field is one the C
        does not convert (another fee asset or type, a fee with no C form, a signalling NaN, a
        status not in the map, lots or ticks not an exact int or beyond int64, a side not an
        int or beyond a C long, a trade id that is not a str), else
        apply_fill's code. Needs the constructor's quotes, notional_units and status_codes."""
        cdef object fee
        cdef object status_code
        cdef object trade_id
        cdef int64_t fee_value
        cdef int status
        cdef int64_t cum_lots
        cdef int64_t last_lots
        cdef long side
        cdef int64_t price_ticks
        if (
            self.status_codes is None
            or index < 0
            or index >= self.instruments
            or not isinstance(report, tuple)
            or len(<tuple>report) < 12
        ):
            return FILL_PYTHON
        fee = (<tuple>report)[10]
        try:
            if not fee:
                fee_value = 0
            elif type(fee) is not _DECIMAL or (<tuple>report)[11] != self.quotes[index]:
                return FILL_PYTHON
            elif fee == self.last_fees[index]:  # equal fees convert equally
                fee_value = self.last_units[index]
            else:
                if not _fee_text_units(str(fee), self.mantissas[index], self.exps[index],
                                       &fee_value):
                    return FILL_PYTHON
                self.last_fees[index] = fee
                self.last_units[index] = fee_value
            status_code = self.status_codes.get((<tuple>report)[4])
            trade_id = (<tuple>report)[7]
            if status_code is None or not isinstance(trade_id, str):
                return FILL_PYTHON
            status = status_code
            # exact ints only, as the Python path's as_int64 (a float or a bool goes there)
            if (
                type((<tuple>report)[6]) is not int
                or type((<tuple>report)[8]) is not int
                or type((<tuple>report)[9]) is not int
            ):
                return FILL_PYTHON
            cum_lots = (<tuple>report)[6]
            side = PyLong_AsLong((<tuple>report)[5])
            price_ticks = (<tuple>report)[8]
            last_lots = (<tuple>report)[9]
        except (ArithmeticError, TypeError, OverflowError, ValueError):
            return FILL_PYTHON  # raised before anything changed
        return self.c_apply_fill(index, order_id, status, cum_lots, last_lots, side,
                                 price_ticks, fee_value, <str>trade_id, now_ns)

    def __repr__(self):
        return f"FillLedger(instruments={self.instruments}, capacity={self.capacity})"
