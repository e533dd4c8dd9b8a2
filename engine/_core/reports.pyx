"""Execution-report decoders: a private stream's frame bytes straight to ExecutionReports.

One `ReportDecoder` per adapter, built on the adapter's instruments. Each venue method reads
one whole frame as the private stream delivers it and returns:

- `binance(frame, recv_ns)`: the `ExecutionReport` of an `executionReport` event (inside the
  WS API subscription envelope `{"subscriptionId":N,"event":{...}}`, or bare as on the
  listenKey stream); None for any other frame (another event, a WS API answer) or a symbol
  not among the instruments: the adapter's general path takes those;
- `okx(frame, recv_ns)`: for an `orders` channel push, one entry per `data` item in order,
  the item's `ExecutionReport` or the `ReportError` it raised (returned, not raised: the
  adapter counts it and goes on, as its reference loop does); None for any other frame;
- `gate(frame, recv_ns)`: for a `spot.usertrades` or `spot.orders` `update`, one entry per
  `result` item: a trade's `ExecutionReport` (status PARTIALLY_FILLED, cum_filled_lots -1:
  the adapter's order track completes both, and de-duplicates by trade id, as before), an
  order's `GateOrder(report, event, qty_lots, price_ticks)` (the adapter's amend/fill
  decision needs the last two), None for a currency pair not among the instruments, or a
  `ReportError`; None for any other frame.

None is always safe: the frame is not a report this decoder makes, and the adapter's general
path (orjson and its dispatch) takes it as before.

A frame that is not well-formed JSON, or whose report cannot be decoded exactly (a missing
or mistyped field, an unknown status or side, a price or quantity off the grid, a malformed
fee), raises `ReportError` (a ValueError) carrying a status; never a wrong report.
Reports are the same tuples, field for field, that the Python reference decoders make from
`orjson.loads` of the same bytes (`binance.orders_wire.execution_report`,
`okx.orders_wire.report_from_push`, and for Gate the orders_wire-based decoding written out in
tests/test_reports_decode.py, which the adapter ran before this module): the test runs both
side by side.

Stricter than the reference, each refused with a ReportError (documented corners): a price,
quantity or text field that is not a JSON string (null stays "absent" where the reference
reads it so); a key written with escapes, or a key read twice in one object (orjson keeps
the last); a number written with escapes; an event timestamp of the wrong JSON type; a side
other than the venue's two words; a fee that is not a finite decimal; a Gate trade without
id, amount or price, or an order without id. A Binance event type written with escapes is
not recognised (None: the general path decodes it).

The scanner (engine/_core/jsonscan.pxd, which the depth decoders use too) walks the frame
once and validates every byte it passes, so anything orjson rejects is rejected here too; it
never reads outside the frame: every p[i] is behind an i < n test, and the tests truncate
valid frames at every offset (bounds checks are off in this project). The frame is read in place
(bytes, a str as aiohttp delivers text frames, or any contiguous buffer such as a memoryview
of the receive buffer); nothing of it is kept. Only the values a report carries become
Python objects: on the bench machine a whole Binance report costs about what orjson.loads
alone does, and half of orjson.loads plus C-level field conversion (paired runs).
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport (
    PyBytes_AS_STRING,
    PyBytes_CheckExact,
    PyBytes_FromStringAndSize,
    PyBytes_GET_SIZE,
)
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_Check, PyUnicode_DecodeUTF8
from libc.stdint cimport int64_t
from libc.string cimport memcmp, memset

from engine._core.fixedpoint cimport Grid, parse_units
from engine._core.jsonscan cimport (
    Cursor,
    cursor,
    finish_frame,
    is_digit,
    member_key,
    next_member,
    peek,
    same,
    scan_literal,
    scan_number,
    scan_string,
    skip_value,
)

from collections import namedtuple
from decimal import Decimal, InvalidOperation

import orjson

OK = REP_OK
ERR_JSON = REP_ERR_JSON
ERR_MISSING = REP_ERR_MISSING
ERR_TYPE = REP_ERR_TYPE
ERR_VALUE = REP_ERR_VALUE
ERR_DUPLICATE = REP_ERR_DUPLICATE
ERR_SYMBOL = REP_ERR_SYMBOL

_WHY = {
    -1: "a price or quantity that is not a plain decimal",
    -2: "a price or quantity off the instrument's grid",
    -3: "a price or quantity beyond int64 on the grid",
    REP_ERR_JSON: "not well-formed JSON",
    REP_ERR_MISSING: "a required field is absent",
    REP_ERR_TYPE: "a field of the wrong JSON type",
    REP_ERR_VALUE: "a value the decoder does not take",
    REP_ERR_DUPLICATE: "a field given twice",
    REP_ERR_SYMBOL: "an instrument this decoder does not have",
}


class ReportError(ValueError):
    """A frame (or one item of it) the decoder cannot turn into an exact report.

    `status` is one of the module's ERR_* (or fixedpoint's -1..-3 for a number)."""

    def __init__(self, status, detail=""):
        self.status = status
        why = _WHY.get(status, f"status {status}")
        super().__init__(f"{why}: {detail}" if detail else why)


GateOrder = namedtuple("GateOrder", ["report", "event", "qty_lots", "price_ticks"])
GateOrder.__doc__ = """A spot.orders item: the report (side from the push; the adapter's track
may know better), Gate's `event` ("put", "update", "finish"; "" when absent) and the
order's amount and price in grid units (0 when absent)."""

cdef object _tuple_new = tuple.__new__
cdef object _DEC_ZERO = Decimal(0)
cdef object _DEC_ZERO_TEXT = Decimal("0")
cdef int64_t NS_PER_MS = 1000000
cdef int64_t MS_FAST_MAX = 9223372036854  # ms * NS_PER_MS within int64

cdef extern from *:
    """
    /* A tuple subclass instance of n empty items, as tuple.__new__(cls, ...) allocates it. */
    static inline PyObject *hft_rp_alloc(PyObject *tp, Py_ssize_t n) {
        return ((PyTypeObject *)tp)->tp_alloc((PyTypeObject *)tp, n);
    }
    """
    object alloc_tuple "hft_rp_alloc"(object tp, Py_ssize_t n)

# ---------------------------------------------------------------------------------------------
# Values and objects over the shared scanner (jsonscan.pxd): C helpers, every read behind an
# explicit c.i < c.n test, each value recorded as a typed Val.

cdef inline bint val_is(const unsigned char* p, const Val* v, const char* lit,
                        Py_ssize_t m) noexcept nogil:
    """The field is a string without escapes spelling `lit`."""
    return v.kind == V_STR and not v.esc and same(p + v.off, v.len, lit, m)


cdef int read_value(Cursor* c, Val* v) noexcept nogil:
    """Any JSON value at the cursor, recorded in v (containers are walked, not kept)."""
    cdef int b = peek(c)
    cdef int r
    cdef bint is_int = False
    if b < 0:
        return REP_ERR_JSON
    v.esc = False
    v.num = 0
    if b == 34:
        v.kind = V_STR
        return scan_string(c, &v.off, &v.len, &v.esc)
    v.off = c.i
    if b == 45 or is_digit(b):
        r = scan_number(c, &v.num, &is_int)
        v.kind = V_INT if is_int else V_NUM
    elif b == 116 or b == 102 or b == 110:
        v.kind = V_TRUE if b == 116 else (V_FALSE if b == 102 else V_NULL)
        r = scan_literal(c)
    elif b == 123 or b == 91:
        v.kind = V_OBJ if b == 123 else V_ARR
        r = skip_value(c)
    else:
        return REP_ERR_JSON
    v.len = c.i - v.off
    return r


cdef int key_index(const KeyTable* kt, const unsigned char* k, Py_ssize_t n) noexcept nogil:
    """The field index of key k[:n] in kt, or -1."""
    cdef unsigned int h
    cdef int idx
    if n <= 0:
        return -1
    h = (<unsigned int>n * 31u + <unsigned int>k[0] * 7u + <unsigned int>k[n - 1]) & 255u
    while True:
        idx = kt.slot[h]
        if idx < 0:
            return -1
        if kt.lens[idx] == n and memcmp(kt.names[idx], k, <size_t>n) == 0:
            return idx
        h = (h + 1u) & 255u


cdef int scan_object(Cursor* c, const KeyTable* kt, Val* vals, int* soft) noexcept nogil:
    """The object at the cursor ('{' already checked by the caller): the fields of kt into
    vals (cleared first). Returns only structural (JSON) errors; an escaped key or a field
    met twice sets `soft` (first one kept) and the walk goes on to the object's end."""
    cdef bint more = True
    cdef bint esc
    cdef int r
    cdef int idx
    cdef Py_ssize_t ks
    cdef Py_ssize_t kl
    cdef Val skipped
    memset(vals, 0, sizeof(Val) * kt.count)
    c.i += 1
    if peek(c) == 125:
        c.i += 1
        return REP_OK
    while more:
        r = member_key(c, &ks, &kl, &esc)
        if r != REP_OK:
            return r
        idx = -1 if esc else key_index(kt, c.p + ks, kl)
        if esc or (idx >= 0 and vals[idx].kind != V_ABSENT):
            if soft[0] == REP_OK:
                soft[0] = REP_ERR_VALUE if esc else REP_ERR_DUPLICATE
            idx = -1
        r = read_value(c, &skipped if idx < 0 else &vals[idx])
        if r != REP_OK:
            return r
        r = next_member(c, &more)
        if r != REP_OK:
            return r
    return REP_OK


cdef object not_object(Cursor* c):
    """A frame whose top level is not an object: None when it is well-formed JSON (not a
    report: the adapter's general path decides), else ReportError."""
    cdef int r = skip_value(c)
    if r == REP_OK:
        r = finish_frame(c)
    if r != REP_OK:
        raise ReportError(r, "frame")
    return None


cdef inline void put(object rec, Py_ssize_t i, object value):
    Py_INCREF(value)  # PyTuple_SET_ITEM steals it
    PyTuple_SET_ITEM(rec, i, value)


cdef int units(const unsigned char* p, const Val* v, int64_t step, int exp,
               int64_t* out) noexcept nogil:
    """A price/quantity string onto a grid (escapes are a syntax error)."""
    if v.kind != V_STR:
        return REP_ERR_TYPE
    if v.esc:
        return -1  # fixedpoint's ERR_SYNTAX
    return parse_units(<const char*>(p + v.off), v.len, step, exp, out)


# ---------------------------------------------------------------------------------------------
# Key tables

cdef list _KEEP = []  # the key names' bytes, alive as long as the module


cdef void build_table(KeyTable* kt, tuple names) except *:
    cdef bytes b
    cdef unsigned int h
    cdef Py_ssize_t n
    cdef int i
    memset(kt.slot, 0xFF, sizeof(kt.slot))
    kt.count = len(names)
    assert kt.count <= KEYS_MAX
    for i in range(kt.count):
        b = names[i].encode()
        _KEEP.append(b)
        n = len(b)
        kt.names[i] = PyBytes_AS_STRING(b)
        kt.lens[i] = n
        h = (<unsigned int>n * 31u + <unsigned char>b[0] * 7u + <unsigned char>b[n - 1]) & 255u
        while kt.slot[h] >= 0:
            h = (h + 1u) & 255u
        kt.slot[h] = i


# Binance executionReport fields (single letters, case-sensitive) and the envelope's "event"
cdef enum:
    BN_e, BN_E, BN_s, BN_c, BN_C, BN_S, BN_x, BN_X, BN_r, BN_i, BN_z, BN_t, BN_L, BN_l, BN_n
    BN_N, BN_m, BN_COUNT

cdef KeyTable BN_KEYS
build_table(&BN_KEYS, ("e", "E", "s", "c", "C", "S", "x", "X", "r", "i", "z", "t", "L", "l",
                       "n", "N", "m"))

# OKX orders item fields; the envelope's arg
cdef enum:
    OK_instId, OK_state, OK_tradeId, OK_fillSz, OK_cancelSource, OK_amendResult, OK_fillFee
    OK_fillFeeCcy, OK_feeCcy, OK_uTime, OK_fillTime, OK_accFillSz, OK_clOrdId, OK_ordId
    OK_side, OK_fillPx, OK_execType, OK_COUNT

cdef KeyTable OK_KEYS
build_table(&OK_KEYS, ("instId", "state", "tradeId", "fillSz", "cancelSource", "amendResult",
                       "fillFee", "fillFeeCcy", "feeCcy", "uTime", "fillTime", "accFillSz",
                       "clOrdId", "ordId", "side", "fillPx", "execType"))
cdef KeyTable OK_ARG_KEYS
build_table(&OK_ARG_KEYS, ("channel",))
cdef enum:
    OK_TOP_arg, OK_TOP_data, OK_TOP_COUNT
cdef KeyTable OK_TOP_KEYS
build_table(&OK_TOP_KEYS, ("arg", "data"))

# Gate spot.usertrades / spot.orders item fields; the envelope's
cdef enum:
    GT_currency_pair, GT_id, GT_order_id, GT_amount, GT_text, GT_side, GT_price, GT_fee
    GT_fee_currency, GT_role, GT_create_time_ms, GT_event, GT_filled_amount, GT_left
    GT_status, GT_finish_as, GT_update_time_ms, GT_COUNT

cdef KeyTable GT_KEYS
build_table(&GT_KEYS, ("currency_pair", "id", "order_id", "amount", "text", "side", "price",
                       "fee", "fee_currency", "role", "create_time_ms", "event",
                       "filled_amount", "left", "status", "finish_as", "update_time_ms"))
cdef enum:
    GT_TOP_channel, GT_TOP_event, GT_TOP_result, GT_TOP_request_id, GT_TOP_COUNT
cdef KeyTable GT_TOP_KEYS
build_table(&GT_TOP_KEYS, ("channel", "event", "result", "request_id"))


# ---------------------------------------------------------------------------------------------
# Field values as Python objects (with the GIL; errors raise ReportError)

cdef object text(const unsigned char* p, const Val* v):
    """A string field's value; escapes decoded by orjson (the rare path)."""
    if v.esc:
        return orjson.loads(b'"' + PyBytes_FromStringAndSize(<const char*>(p + v.off), v.len)
                            + b'"')
    return PyUnicode_DecodeUTF8(<const char*>(p + v.off), v.len, NULL)


cdef object opt_text(const unsigned char* p, const Val* v, str name):
    """A string field that may be absent or null (""); another type is refused."""
    if v.kind == V_STR:
        return text(p, v) if v.len else ""
    if v.kind == V_ABSENT or v.kind == V_NULL:
        return ""
    raise ReportError(REP_ERR_TYPE, name)


cdef object id_text(const unsigned char* p, const Val* v, str name):
    """An id given as a string or an integer, as the reference's str() of it."""
    if v.kind == V_STR:
        return text(p, v)
    if v.kind == V_INT:
        if p[v.off] != 45:  # a JSON integer without sign is str(int) already
            return PyUnicode_DecodeUTF8(<const char*>(p + v.off), v.len, NULL)
        return str(v.num)
    if v.kind == V_ABSENT:
        raise ReportError(REP_ERR_MISSING, name)
    raise ReportError(REP_ERR_TYPE, name)


cdef object ms_int_ns(int64_t ms):
    if -MS_FAST_MAX <= ms <= MS_FAST_MAX:
        return ms * NS_PER_MS
    return <object>ms * NS_PER_MS


cdef int64_t grid(const unsigned char* p, const Val* v, int64_t step, int exp,
                  str name) except? -1:
    cdef int64_t out = 0
    cdef int r = units(p, v, step, exp, &out)
    if r != 0:
        if v.kind == V_ABSENT:
            r = REP_ERR_MISSING
        raise ReportError(r, name)
    return out


cdef object finite_decimal(object s, str name):
    try:
        d = Decimal(s)
    except InvalidOperation:
        raise ReportError(REP_ERR_VALUE, name) from None
    if not d.is_finite():
        raise ReportError(REP_ERR_VALUE, name)
    return d


def _okx_ms_slow(s):
    """The reference's own conversion (orders_wire._ms_to_ns) for the uncommon shapes; what
    it raises on ("²" is a digit to str.isdigit, not to int) is a ReportError."""
    try:
        return int(s) * 1000000 if s.isdigit() else 0
    except ValueError:
        raise ReportError(REP_ERR_VALUE, "timestamp") from None


def _gate_ms_slow(value):
    """The reference's conversion (gate orders_wire.ms_to_ns) for the uncommon shapes; an
    infinite value (the reference raises OverflowError) is a ReportError."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int):
        return value * 1000000
    try:
        return int(Decimal(str(value)) * 1000000)
    except (InvalidOperation, ValueError):
        return 0
    except OverflowError:
        raise ReportError(REP_ERR_VALUE, "timestamp") from None


cdef object okx_ms(const unsigned char* p, const Val* v):
    """orders_wire._ms_to_ns of an OKX string field ("" / absent / null: 0)."""
    cdef int64_t ms = 0
    cdef Py_ssize_t i
    cdef unsigned int d
    if v.kind == V_ABSENT or v.kind == V_NULL:
        return 0
    if v.kind != V_STR:
        raise ReportError(REP_ERR_TYPE, "timestamp")
    if v.len == 0:
        return 0
    if v.esc or v.len > 13:
        return _okx_ms_slow(text(p, v))
    for i in range(v.len):
        d = p[v.off + i] - 48u
        if d > 9u:
            return _okx_ms_slow(text(p, v))
        ms = ms * 10 + d
    if ms > MS_FAST_MAX:
        return _okx_ms_slow(text(p, v))
    return ms * NS_PER_MS


cdef object gate_ms(const unsigned char* p, const Val* v):
    """gate orders_wire.ms_to_ns: "1700000000213.4578", 1700000000213 or absent (0)."""
    cdef int64_t ms = 0
    cdef int64_t frac = 0
    cdef int nfrac = 0
    cdef Py_ssize_t i
    cdef Py_ssize_t end
    cdef Py_ssize_t dot = -1
    cdef Py_ssize_t int_digits
    cdef Py_ssize_t frac_digits
    cdef unsigned int d
    if v.kind == V_ABSENT or v.kind == V_NULL or v.kind == V_TRUE or v.kind == V_FALSE:
        return 0
    if v.kind == V_INT:
        return ms_int_ns(v.num)
    if v.kind == V_NUM:
        return _gate_ms_slow(orjson.loads(PyBytes_FromStringAndSize(
            <const char*>(p + v.off), v.len)))
    if v.kind != V_STR:
        raise ReportError(REP_ERR_TYPE, "timestamp")
    end = v.off + v.len
    # the common shape: 1-13 digits, optionally a point and 1-12 digits (exact in Decimal's
    # 28 digits, so truncation here is the reference's int())
    if v.esc or v.len == 0 or v.len > 26:
        return _gate_ms_slow(text(p, v))
    for i in range(v.off, end):
        d = p[i] - 48u
        if d <= 9u:
            if dot < 0:
                ms = ms * 10 + d
            elif nfrac < 6:
                frac = frac * 10 + d
                nfrac += 1
        elif p[i] == 46 and dot < 0:
            dot = i
        else:
            return _gate_ms_slow(text(p, v))
    int_digits = (dot if dot >= 0 else end) - v.off
    frac_digits = end - dot - 1 if dot >= 0 else 0
    if int_digits == 0 or int_digits > 13 or frac_digits > 12 or (dot >= 0 and frac_digits == 0):
        return _gate_ms_slow(text(p, v))
    if ms > MS_FAST_MAX:
        return _gate_ms_slow(text(p, v))
    while nfrac < 6:
        frac *= 10
        nfrac += 1
    return ms * NS_PER_MS + frac


# ---------------------------------------------------------------------------------------------

@cython.final
@cython.auto_pickle(False)
cdef class _Inst:
    pass


cdef inline Py_ssize_t frame_view(object frame, Py_buffer* view, const unsigned char** p,
                                  bint* held) except -1:
    """The frame's bytes in place: bytes directly, a str through its UTF-8 form (the text
    itself for an ASCII str: aiohttp hands text frames over as str), any other buffer through
    a view (held: the caller releases it)."""
    cdef Py_ssize_t n = 0
    held[0] = False
    if PyBytes_CheckExact(frame):
        p[0] = <const unsigned char*>PyBytes_AS_STRING(frame)
        return PyBytes_GET_SIZE(frame)
    if PyUnicode_Check(frame):
        try:
            p[0] = <const unsigned char*>PyUnicode_AsUTF8AndSize(frame, &n)
        except UnicodeError:  # lone surrogates have no UTF-8 form
            raise ReportError(REP_ERR_JSON, "a str frame that is not valid Unicode") from None
        return n
    PyObject_GetBuffer(frame, view, PyBUF_SIMPLE)
    held[0] = True
    p[0] = <const unsigned char*>view.buf
    return view.len


_BINANCE_STATUS_NAMES = (
    ("PENDING_NEW", "PENDING_NEW"),
    ("NEW", "NEW"),
    ("PARTIALLY_FILLED", "PARTIALLY_FILLED"),
    ("FILLED", "FILLED"),
    ("CANCELED", "CANCELED"),
    ("PENDING_CANCEL", "PENDING_CANCEL"),
    ("REJECTED", "REJECTED"),
    ("EXPIRED", "EXPIRED"),
    ("EXPIRED_IN_MATCH", "EXPIRED"),  # ended by self-trade prevention
)

_REPORT_FIELDS = (
    "venue", "symbol", "client_order_id", "venue_order_id", "status", "side",
    "cum_filled_lots", "trade_id", "last_price_ticks", "last_lots", "fee", "fee_asset",
    "is_maker", "reason", "exchange_ts_ns", "recv_ts_ns",
)

_OKX_CANCEL_SOURCES = {
    "1": "canceled by user",
    "13": "FOK order not filled",
    "14": "IOC order remainder canceled",
    "31": "post_only order would have taken liquidity",
    "32": "self-trade prevention",
}


@cython.auto_pickle(False)
cdef class ReportDecoder:
    """Frame bytes -> execution reports for one adapter's instruments (see the module doc).

    `report_type` is the record built (engine.gateway.adapter.ExecutionReport: this core
    module imports nothing of the engine), `status_type`/`side_type` the enums whose members
    (OrderStatus.NEW..., OrderSide.BUY/SELL) fill it. Instruments need `symbol`, `quote`,
    `price_grid` and `qty_grid`. Not thread-safe (one adapter, one thread).
    """

    def __init__(self, instruments, *, report_type, status_type, side_type):
        cdef _Inst e
        # records are allocated as tuple.__new__ would (tp_alloc + items): only a plain
        # named tuple of the 16 ExecutionReport fields may be built that way
        if not (isinstance(report_type, type) and issubclass(report_type, tuple)
                and getattr(report_type, "_fields", None) == _REPORT_FIELDS
                and "__init__" not in report_type.__dict__):
            raise TypeError(f"report_type must be a named tuple with the fields "
                            f"{_REPORT_FIELDS}, got {report_type!r}")
        self._by_bytes = {}
        self._by_str = {}
        for inst in instruments:
            e = _Inst.__new__(_Inst)
            e.symbol = inst.symbol
            e.quote = inst.quote
            e.key = inst.symbol.encode()
            e.pstep = (<Grid?>inst.price_grid).step_mantissa
            e.pexp = (<Grid>inst.price_grid).exp
            e.qstep = (<Grid?>inst.qty_grid).step_mantissa
            e.qexp = (<Grid>inst.qty_grid).exp
            self._by_bytes[e.key] = e
            self._by_str[e.symbol] = e
        self._last = None
        self._report = report_type
        self._gate_order = GateOrder
        self._buy = side_type.BUY
        self._sell = side_type.SELL
        self._st_new = status_type.NEW
        self._st_partial = status_type.PARTIALLY_FILLED
        self._st_filled = status_type.FILLED
        self._st_canceled = status_type.CANCELED
        self._st_expired = status_type.EXPIRED
        self._binance_status = {
            name.encode(): getattr(status_type, member) for name, member in _BINANCE_STATUS_NAMES
        }

    cdef object _inst(self, const unsigned char* p, Val* v):
        """The _Inst of a symbol field, or None (not a string, or not ours)."""
        cdef _Inst last = <_Inst?>self._last if self._last is not None else None
        cdef object key
        if v.kind != V_STR:
            return None
        if v.esc:
            return self._by_str.get(text(p, v))
        if last is not None and same(p + v.off, v.len, PyBytes_AS_STRING(last.key),
                                     PyBytes_GET_SIZE(last.key)):
            return last
        key = PyBytes_FromStringAndSize(<const char*>(p + v.off), v.len)
        found = self._by_bytes.get(key)
        if found is not None:
            self._last = found
        return found

    cdef object _make(self, str venue, _Inst inst, object cid, object oid, object status,
                      object side, object cum, object trade_id, object price, object qty,
                      object fee, object fee_asset, object maker, object reason, object ts,
                      object recv_ns):
        # the record built as tuple.__new__ builds a subclass instance (tp_alloc, then the
        # items), without the intermediate 16-tuple that tuple.__new__(cls, items) copies
        cdef object rec = alloc_tuple(self._report, 16)
        put(rec, 0, venue)
        put(rec, 1, inst.symbol)
        put(rec, 2, cid)
        put(rec, 3, oid)
        put(rec, 4, status)
        put(rec, 5, side)
        put(rec, 6, cum)
        put(rec, 7, trade_id)
        put(rec, 8, price)
        put(rec, 9, qty)
        put(rec, 10, fee)
        put(rec, 11, fee_asset)
        put(rec, 12, maker)
        put(rec, 13, reason)
        put(rec, 14, ts)
        put(rec, 15, recv_ns)
        self.reports += 1
        return rec

    # -- Binance -------------------------------------------------------------------------

    def binance(self, frame, recv_ns):
        """A Binance user-data frame -> ExecutionReport, or None (not an executionReport of
        ours). Raises ReportError for a malformed frame or report."""
        cdef Py_buffer view
        cdef const unsigned char* p = NULL
        cdef bint held = False
        cdef Py_ssize_t n = frame_view(frame, &view, &p, &held)
        try:
            return self._binance(p, n, recv_ns)
        except ReportError:
            self.errors += 1
            raise
        finally:
            if held:
                PyBuffer_Release(&view)

    cdef object _binance(self, const unsigned char* p, Py_ssize_t n, object recv_ns):
        cdef Cursor c
        cdef Val top[BN_COUNT]
        cdef Val ev[BN_COUNT]
        cdef Val* f
        cdef bint has_event = False
        cdef bint more = True
        cdef bint esc
        cdef int r
        cdef int idx
        cdef int soft_top = REP_OK
        cdef int soft_ev = REP_OK
        cdef Py_ssize_t ks
        cdef Py_ssize_t kl
        cdef _Inst inst
        c = cursor(p, n, REP_ERR_JSON)
        memset(top, 0, sizeof(top))
        memset(ev, 0, sizeof(ev))
        r = peek(&c)
        if r != 123:
            return not_object(&c)
        c.i += 1
        if peek(&c) == 125:
            c.i += 1
            more = False
        r = REP_OK
        while more:
            r = member_key(&c, &ks, &kl, &esc)
            if r != REP_OK:
                break
            if not esc and same(p + ks, kl, "event", 5):
                if has_event:
                    soft_ev = REP_ERR_DUPLICATE
                if peek(&c) == 123 and not has_event:
                    has_event = True
                    r = scan_object(&c, &BN_KEYS, ev, &soft_ev)
                else:
                    r = skip_value(&c)
            else:
                idx = -1 if esc else key_index(&BN_KEYS, p + ks, kl)
                if esc or (idx >= 0 and top[idx].kind != V_ABSENT):
                    if soft_top == REP_OK:
                        soft_top = REP_ERR_VALUE if esc else REP_ERR_DUPLICATE
                    idx = -1
                r = skip_value(&c) if idx < 0 else read_value(&c, &top[idx])
            if r != REP_OK:
                break
            r = next_member(&c, &more)
            if r != REP_OK:
                break
        if r == REP_OK:
            r = finish_frame(&c)
        if r != REP_OK:
            raise ReportError(r, "binance frame")
        if has_event:
            f = ev
            r = soft_ev
        else:
            f = top
            r = soft_top
        if not val_is(p, &f[BN_e], "executionReport", 15):
            return None
        if r != REP_OK:
            raise ReportError(r, "executionReport")
        inst = self._inst(p, &f[BN_s])
        if inst is None:
            return None
        return self._binance_report(p, f, inst, recv_ns)

    cdef object _binance_report(self, const unsigned char* p, Val* f, _Inst inst,
                                object recv_ns):
        cdef Val* v
        cdef bint trade
        cdef bint orig_wins
        cdef object cid
        cdef object status
        cdef object side
        cdef object reason
        cdef object fee
        cdef object cum
        cdef object ts
        # exec type: a cancel's report carries the order's id (C), not the cancel's (c)
        v = &f[BN_x]
        if v.kind != V_STR and v.kind != V_ABSENT and v.kind != V_NULL:
            raise ReportError(REP_ERR_TYPE, "x")
        trade = val_is(p, v, "TRADE", 5)
        orig_wins = (val_is(p, v, "CANCELED", 8) or val_is(p, v, "EXPIRED", 7)
                     or val_is(p, v, "REPLACED", 8))
        if v.kind == V_STR and v.esc:
            raise ReportError(REP_ERR_VALUE, "x")
        cid = opt_text(p, &f[BN_c], "c")
        if orig_wins:
            orig = opt_text(p, &f[BN_C], "C")
            if orig:
                cid = orig
        v = &f[BN_X]
        if v.kind == V_ABSENT:
            raise ReportError(REP_ERR_MISSING, "X")
        if v.kind != V_STR:
            raise ReportError(REP_ERR_TYPE, "X")
        status = None
        if not v.esc:
            # the common statuses by comparison, the rest (and EXPIRED_IN_MATCH) by table
            if val_is(p, v, "PARTIALLY_FILLED", 16):
                status = self._st_partial
            elif val_is(p, v, "FILLED", 6):
                status = self._st_filled
            elif val_is(p, v, "NEW", 3):
                status = self._st_new
            elif val_is(p, v, "CANCELED", 8):
                status = self._st_canceled
            else:
                status = self._binance_status.get(
                    PyBytes_FromStringAndSize(<const char*>(p + v.off), v.len))
        if status is None:
            raise ReportError(REP_ERR_VALUE, "X")
        v = &f[BN_S]
        if val_is(p, v, "BUY", 3):
            side = self._buy
        elif val_is(p, v, "SELL", 4):
            side = self._sell
        elif v.kind == V_ABSENT:
            raise ReportError(REP_ERR_MISSING, "S")
        else:
            raise ReportError(REP_ERR_VALUE, "S")
        if val_is(p, &f[BN_r], "NONE", 4):
            reason = ""
        else:
            reason = opt_text(p, &f[BN_r], "r")
            if reason == "NONE":  # written with escapes
                reason = ""
        cum = -1 if f[BN_z].kind == V_ABSENT else grid(p, &f[BN_z], inst.qstep, inst.qexp, "z")
        v = &f[BN_E]
        if v.kind == V_INT:
            ts = ms_int_ns(v.num)
        elif v.kind == V_ABSENT or v.kind == V_NULL:
            ts = 0
        else:
            raise ReportError(REP_ERR_TYPE, "E")
        v = &f[BN_i]
        oid = "" if v.kind == V_ABSENT else id_text(p, v, "i")
        if not trade:
            return self._make("binance", inst, cid, oid, status, side, cum, "", 0, 0,
                              _DEC_ZERO, "", False, reason, ts, recv_ns)
        v = &f[BN_n]
        if v.kind == V_STR and v.len:
            fee = finite_decimal(text(p, v), "n")
        elif v.kind == V_STR or v.kind == V_ABSENT or v.kind == V_NULL:
            fee = _DEC_ZERO_TEXT
        else:
            raise ReportError(REP_ERR_TYPE, "n")
        v = &f[BN_m]
        if v.kind != V_TRUE and v.kind != V_FALSE and v.kind != V_ABSENT and v.kind != V_NULL:
            raise ReportError(REP_ERR_TYPE, "m")
        return self._make(
            "binance", inst, cid, oid, status, side, cum, id_text(p, &f[BN_t], "t"),
            grid(p, &f[BN_L], inst.pstep, inst.pexp, "L"),
            grid(p, &f[BN_l], inst.qstep, inst.qexp, "l"),
            fee, opt_text(p, &f[BN_N], "N"), v.kind == V_TRUE, reason, ts, recv_ns)

    # -- OKX -----------------------------------------------------------------------------

    def okx(self, frame, recv_ns):
        """An OKX private frame -> one entry per `orders` data item (ExecutionReport or
        ReportError), or None (not an orders push). Raises ReportError for a frame that is
        not well-formed JSON or whose `data` is not an array."""
        cdef Py_buffer view
        cdef const unsigned char* p = NULL
        cdef bint held = False
        cdef Py_ssize_t n = frame_view(frame, &view, &p, &held)
        try:
            return self._okx(p, n, recv_ns)
        except ReportError:
            self.errors += 1
            raise
        finally:
            if held:
                PyBuffer_Release(&view)

    cdef object _okx(self, const unsigned char* p, Py_ssize_t n, object recv_ns):
        cdef Cursor c
        cdef Val arg[1]
        cdef bint more = True
        cdef bint esc
        cdef bint has_arg = False
        cdef bint orders = False
        cdef int r
        cdef int soft = REP_OK
        cdef Py_ssize_t ks
        cdef Py_ssize_t kl
        cdef Py_ssize_t data_at = -1
        cdef list out = None
        c = cursor(p, n, REP_ERR_JSON)
        r = peek(&c)
        if r != 123:
            return not_object(&c)
        c.i += 1
        if peek(&c) == 125:
            c.i += 1
            more = False
        r = REP_OK
        while more:
            r = member_key(&c, &ks, &kl, &esc)
            if r != REP_OK:
                break
            if esc:
                soft = REP_ERR_VALUE
                r = skip_value(&c)
            elif same(p + ks, kl, "arg", 3):
                if has_arg:
                    soft = REP_ERR_DUPLICATE
                    r = skip_value(&c)
                elif peek(&c) == 123:
                    has_arg = True
                    r = scan_object(&c, &OK_ARG_KEYS, arg, &soft)
                    orders = val_is(p, &arg[0], "orders", 6)
                else:
                    has_arg = True
                    r = skip_value(&c)
            elif same(p + ks, kl, "data", 4):
                if data_at >= 0:
                    soft = REP_ERR_DUPLICATE
                    r = skip_value(&c)
                else:
                    data_at = c.i
                    if orders and peek(&c) == 91:
                        out = []
                        r = self._okx_items(&c, out, recv_ns)
                    else:
                        r = skip_value(&c)
            else:
                r = skip_value(&c)
            if r != REP_OK:
                break
            r = next_member(&c, &more)
            if r != REP_OK:
                break
        if r == REP_OK:
            r = finish_frame(&c)
        if r != REP_OK:
            raise ReportError(r, "okx frame")
        if not orders or data_at < 0:
            return None
        if soft != REP_OK:
            raise ReportError(soft, "okx orders push")
        if out is None:
            # data came before arg (or is not an array): read it now
            c.i = data_at
            if peek(&c) != 91:
                raise ReportError(REP_ERR_TYPE, "data")
            out = []
            r = self._okx_items(&c, out, recv_ns)
            if r != REP_OK:
                raise ReportError(r, "okx frame")
        return out

    cdef int _okx_items(self, Cursor* c, list out, object recv_ns) except? -1000:
        """The data array at the cursor ('[' checked): one entry per item into out."""
        cdef Val f[OK_COUNT]
        cdef int r
        cdef int b
        cdef int soft
        c.i += 1
        if peek(c) == 93:
            c.i += 1
            return REP_OK
        while True:
            b = peek(c)
            if b < 0:
                return REP_ERR_JSON
            if b != 123:
                r = skip_value(c)
                if r != REP_OK:
                    return r
                self.errors += 1
                out.append(ReportError(REP_ERR_TYPE, "okx data item"))
            else:
                soft = REP_OK
                r = scan_object(c, &OK_KEYS, f, &soft)
                if r != REP_OK:
                    return r
                if soft != REP_OK:
                    self.errors += 1
                    out.append(ReportError(soft, "okx data item"))
                else:
                    try:
                        out.append(self._okx_item(c.p, f, recv_ns))
                    except ReportError as exc:
                        self.errors += 1
                        out.append(exc)
            b = peek(c)
            if b == 44:
                c.i += 1
            elif b == 93:
                c.i += 1
                return REP_OK
            else:
                return REP_ERR_JSON

    cdef object _okx_item(self, const unsigned char* p, Val* f, object recv_ns):
        """orders_wire.report_from_push of one data item."""
        cdef _Inst inst = self._inst(p, &f[OK_instId])
        cdef Val* v
        cdef int64_t last_lots = 0
        cdef object status
        cdef object side
        cdef object reason = ""
        cdef object fee = _DEC_ZERO
        cdef object fee_asset = ""
        cdef object ts
        cdef object trade_id
        cdef object cum
        cdef int64_t price = 0
        if inst is None:
            if f[OK_instId].kind in (V_ABSENT, V_STR, V_NULL):
                raise ReportError(REP_ERR_SYMBOL, "instId")
            raise ReportError(REP_ERR_TYPE, "instId")
        v = &f[OK_state]
        if val_is(p, v, "live", 4):
            status = self._st_new
        elif val_is(p, v, "partially_filled", 16):
            status = self._st_partial
        elif val_is(p, v, "filled", 6):
            status = self._st_filled
        elif val_is(p, v, "canceled", 8) or val_is(p, v, "mmp_canceled", 12):
            status = self._st_canceled
        else:
            raise ReportError(REP_ERR_VALUE, "state")
        trade_id = opt_text(p, &f[OK_tradeId], "tradeId")
        v = &f[OK_fillSz]
        if trade_id and v.kind == V_STR and v.len:
            last_lots = grid(p, v, inst.qstep, inst.qexp, "fillSz")
        elif v.kind != V_STR and v.kind != V_ABSENT and v.kind != V_NULL:
            raise ReportError(REP_ERR_TYPE, "fillSz")
        source = opt_text(p, &f[OK_cancelSource], "cancelSource")
        if source:
            reason = (f"cancelSource {source}: "
                      f"{_OKX_CANCEL_SOURCES.get(source, 'canceled by the venue')}")
        elif opt_text(p, &f[OK_amendResult], "amendResult") == "0":
            reason = "amended"
        ts = okx_ms(p, &f[OK_uTime])
        if last_lots:
            v = &f[OK_fillFee]
            if v.kind == V_STR and v.len:
                fee = _DEC_ZERO - finite_decimal(text(p, v), "fillFee")
            elif v.kind != V_STR and v.kind != V_ABSENT and v.kind != V_NULL:
                raise ReportError(REP_ERR_TYPE, "fillFee")
            fee_asset = (opt_text(p, &f[OK_fillFeeCcy], "fillFeeCcy")
                         or opt_text(p, &f[OK_feeCcy], "feeCcy"))
            ts = okx_ms(p, &f[OK_fillTime]) or ts
            v = &f[OK_fillPx]
            if v.kind == V_STR and v.len:
                price = grid(p, v, inst.pstep, inst.pexp, "fillPx")
            elif v.kind != V_STR and v.kind != V_ABSENT and v.kind != V_NULL:
                raise ReportError(REP_ERR_TYPE, "fillPx")
        v = &f[OK_accFillSz]
        if v.kind == V_STR and v.len:
            cum = grid(p, v, inst.qstep, inst.qexp, "accFillSz")
        elif v.kind == V_STR or v.kind == V_ABSENT or v.kind == V_NULL:
            cum = -1
        else:
            raise ReportError(REP_ERR_TYPE, "accFillSz")
        v = &f[OK_side]
        if val_is(p, v, "buy", 3):
            side = self._buy
        elif val_is(p, v, "sell", 4):
            side = self._sell
        else:
            raise ReportError(REP_ERR_VALUE, "side")
        v = &f[OK_execType]
        if v.kind != V_STR and v.kind != V_ABSENT and v.kind != V_NULL:
            raise ReportError(REP_ERR_TYPE, "execType")
        return self._make(
            "okx", inst, opt_text(p, &f[OK_clOrdId], "clOrdId"),
            opt_text(p, &f[OK_ordId], "ordId"), status, side, cum,
            trade_id if last_lots else "", price, last_lots, fee, fee_asset,
            val_is(p, v, "M", 1) or (v.esc and text(p, v) == "M"), reason, ts, recv_ns)

    # -- Gate ----------------------------------------------------------------------------

    def gate(self, frame, recv_ns):
        """A Gate private frame -> one entry per spot.usertrades / spot.orders `update` item
        (ExecutionReport, GateOrder, None for a pair not ours, or ReportError), or None (any
        other frame). Raises ReportError for a frame that is not well-formed JSON."""
        cdef Py_buffer view
        cdef const unsigned char* p = NULL
        cdef bint held = False
        cdef Py_ssize_t n = frame_view(frame, &view, &p, &held)
        try:
            return self._gate(p, n, recv_ns)
        except ReportError:
            self.errors += 1
            raise
        finally:
            if held:
                PyBuffer_Release(&view)

    cdef object _gate(self, const unsigned char* p, Py_ssize_t n, object recv_ns):
        cdef Cursor c
        cdef Val top[GT_TOP_COUNT]
        cdef bint more = True
        cdef bint esc
        cdef bint trades = False
        cdef bint wanted = False
        cdef int r
        cdef int idx
        cdef int soft = REP_OK
        cdef Py_ssize_t ks
        cdef Py_ssize_t kl
        cdef list out = None
        c = cursor(p, n, REP_ERR_JSON)
        memset(top, 0, sizeof(top))
        r = peek(&c)
        if r != 123:
            return not_object(&c)
        c.i += 1
        if peek(&c) == 125:
            c.i += 1
            more = False
        r = REP_OK
        while more:
            r = member_key(&c, &ks, &kl, &esc)
            if r != REP_OK:
                break
            idx = -1 if esc else key_index(&GT_TOP_KEYS, p + ks, kl)
            if esc or (idx >= 0 and top[idx].kind != V_ABSENT):
                if soft == REP_OK:
                    soft = REP_ERR_VALUE if esc else REP_ERR_DUPLICATE
                idx = -1
            if idx == GT_TOP_result and wanted and peek(&c) == 91:
                # channel and event came first (as Gate sends them): one pass
                top[idx].kind = V_ARR
                top[idx].off = c.i
                out = []
                r = self._gate_items(&c, out, trades, recv_ns)
            elif idx < 0:
                r = skip_value(&c)
            else:
                r = read_value(&c, &top[idx])
                if idx == GT_TOP_channel or idx == GT_TOP_event:
                    trades = val_is(p, &top[GT_TOP_channel], "spot.usertrades", 15)
                    wanted = (val_is(p, &top[GT_TOP_event], "update", 6)
                              and (trades or val_is(p, &top[GT_TOP_channel], "spot.orders", 11)))
            if r != REP_OK:
                break
            r = next_member(&c, &more)
            if r != REP_OK:
                break
        if r == REP_OK:
            r = finish_frame(&c)
        if r != REP_OK:
            raise ReportError(r, "gate frame")
        if not wanted or top[GT_TOP_request_id].kind != V_ABSENT:
            return None
        if top[GT_TOP_result].kind != V_ARR:
            return None  # the adapter ignores an update without a result list
        if soft != REP_OK:
            raise ReportError(soft, "gate push")
        if out is None:
            c.i = top[GT_TOP_result].off
            out = []
            r = self._gate_items(&c, out, trades, recv_ns)
            if r != REP_OK:
                raise ReportError(r, "gate frame")
        return out

    cdef int _gate_items(self, Cursor* c, list out, bint trades, object recv_ns) except? -1000:
        cdef Val f[GT_COUNT]
        cdef int r
        cdef int b
        cdef int soft
        c.i += 1
        if peek(c) == 93:
            c.i += 1
            return REP_OK
        while True:
            b = peek(c)
            if b < 0:
                return REP_ERR_JSON
            if b != 123:
                r = skip_value(c)
                if r != REP_OK:
                    return r
                self.errors += 1
                out.append(ReportError(REP_ERR_TYPE, "gate result item"))
            else:
                soft = REP_OK
                r = scan_object(c, &GT_KEYS, f, &soft)
                if r != REP_OK:
                    return r
                if soft != REP_OK:
                    self.errors += 1
                    out.append(ReportError(soft, "gate result item"))
                else:
                    try:
                        out.append(self._gate_item(c.p, f, trades, recv_ns))
                    except ReportError as exc:
                        self.errors += 1
                        out.append(exc)
            b = peek(c)
            if b == 44:
                c.i += 1
            elif b == 93:
                c.i += 1
                return REP_OK
            else:
                return REP_ERR_JSON

    cdef object _gate_item(self, const unsigned char* p, Val* f, bint trades, object recv_ns):
        """A spot.usertrades item as the adapter's _on_trade reports it before its order track
        (status PARTIALLY_FILLED, cum -1), or a spot.orders item as its _on_order does."""
        cdef _Inst inst = self._inst(p, &f[GT_currency_pair])
        cdef Val* v
        cdef object side
        cdef object cid = ""
        cdef object fee
        cdef object fee_asset
        cdef object status
        cdef object event
        cdef object finish_as
        cdef int64_t qty = 0
        cdef int64_t filled = 0
        cdef int64_t price = 0
        if inst is None:
            if f[GT_currency_pair].kind in (V_ABSENT, V_STR, V_NULL):
                return None  # not ours: the adapter ignores it
            raise ReportError(REP_ERR_TYPE, "currency_pair")
        v = &f[GT_text]
        if v.kind == V_STR:
            if not v.esc and v.len >= 2 and p[v.off] == 116 and p[v.off + 1] == 45:  # "t-"
                cid = PyUnicode_DecodeUTF8(<const char*>(p + v.off + 2), v.len - 2, NULL)
            elif v.esc:
                t = text(p, v)
                cid = t[2:] if t.startswith("t-") else ""
        elif v.kind != V_ABSENT and v.kind != V_NULL:
            raise ReportError(REP_ERR_TYPE, "text")
        v = &f[GT_side]
        if val_is(p, v, "buy", 3):
            side = self._buy
        elif val_is(p, v, "sell", 4):
            side = self._sell
        else:
            raise ReportError(REP_ERR_VALUE, "side")
        if trades:
            v = &f[GT_fee]
            if v.kind == V_STR and v.len:
                fee = finite_decimal(text(p, v), "fee")
            elif v.kind == V_STR or v.kind == V_ABSENT or v.kind == V_NULL:
                fee = _DEC_ZERO
            else:
                raise ReportError(REP_ERR_TYPE, "fee")
            fee_asset = opt_text(p, &f[GT_fee_currency], "fee_currency") or inst.quote
            v = &f[GT_role]
            if v.kind != V_STR and v.kind != V_ABSENT and v.kind != V_NULL:
                raise ReportError(REP_ERR_TYPE, "role")
            v = &f[GT_order_id]
            return self._make(
                "gate", inst, cid, "" if v.kind == V_ABSENT else id_text(p, v, "order_id"),
                self._st_partial, side, -1, id_text(p, &f[GT_id], "id"),
                grid(p, &f[GT_price], inst.pstep, inst.pexp, "price"),
                grid(p, &f[GT_amount], inst.qstep, inst.qexp, "amount"),
                fee, fee_asset, val_is(p, &f[GT_role], "maker", 5), "",
                gate_ms(p, &f[GT_create_time_ms]), recv_ns)
        # spot.orders: wire.order_lots, wire.ticks, wire.status_of, wire.reason_of
        qty = self._gate_lots(p, &f[GT_amount], inst, "amount")
        v = &f[GT_filled_amount]
        if v.kind == V_STR and v.len:
            filled = grid(p, v, inst.qstep, inst.qexp, "filled_amount")
        else:
            self._gate_lots(p, v, inst, "filled_amount")  # type check only
            filled = qty - self._gate_lots(p, &f[GT_left], inst, "left")
            if filled < 0:
                filled = 0
        v = &f[GT_price]
        if v.kind == V_STR and v.len:
            price = grid(p, v, inst.pstep, inst.pexp, "price")
        elif v.kind != V_STR and v.kind != V_ABSENT and v.kind != V_NULL:
            raise ReportError(REP_ERR_TYPE, "price")
        event = opt_text(p, &f[GT_event], "event")
        finish_as = opt_text(p, &f[GT_finish_as], "finish_as")
        gstatus = opt_text(p, &f[GT_status], "status")
        if gstatus == "closed" or finish_as == "filled":
            status = self._st_filled
        elif gstatus == "cancelled" or (finish_as not in ("", "open") and event == "finish"):
            if finish_as in ("cancelled", "poc", "liquidate_cancelled", "-", ""):
                status = self._st_canceled
            else:
                status = self._st_expired
        elif event == "finish":
            status = self._st_filled if qty and filled >= qty else self._st_canceled
        else:
            status = self._st_partial if filled > 0 else self._st_new
        reason = finish_as if (status is self._st_canceled or status is self._st_expired) else ""
        report = self._make(
            "gate", inst, cid, id_text(p, &f[GT_id], "id"), status, side, filled, "", 0, 0,
            _DEC_ZERO, "", False, reason, gate_ms(p, &f[GT_update_time_ms]), recv_ns)
        return _tuple_new(self._gate_order, (report, event, qty, price))

    cdef int64_t _gate_lots(self, const unsigned char* p, Val* v, _Inst inst,
                            str name) except? -1:
        """wire.lots: a non-empty string onto the lot grid, 0 when absent, "" or null."""
        if v.kind == V_STR and v.len:
            return grid(p, v, inst.qstep, inst.qexp, name)
        if v.kind == V_STR or v.kind == V_ABSENT or v.kind == V_NULL:
            return 0
        raise ReportError(REP_ERR_TYPE, name)

    def __repr__(self):
        return f"ReportDecoder(reports={self.reports}, errors={self.errors})"
