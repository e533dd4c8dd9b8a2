# Execution-report decoders: a private stream's raw frame bytes -> ExecutionReport, prices
# and quantities parsed straight onto the instrument's grids. They use the scanner of
# jsonscan.pxd, which the depth decoders use too: every byte it walks past is validated, and
# every read follows an i < n test. Reference semantics: engine/gateway/<venue>/orders_wire.py.
from libc.stdint cimport int64_t

from engine._core.jsonscan cimport Cursor

# Status of a decode (carried by ReportError.status): fixedpoint's ERR_SYNTAX/ERR_OFF_GRID/
# ERR_OVERFLOW (-1..-3) come from a price or quantity string; the decoder's own are -160..-175
# (intents owns -64..-72).
cdef enum:
    REP_OK = 0
    REP_ERR_JSON = -160  # not well-formed JSON (incl. truncated), or a nesting over 64 deep
    REP_ERR_MISSING = -161  # a required field is absent
    REP_ERR_TYPE = -162  # a field of the wrong JSON type, or an integer outside int64
    REP_ERR_VALUE = -163  # a value the decoder does not take (status, side, fee, escaped key)
    REP_ERR_DUPLICATE = -164  # a key the decoder reads appears twice in one object
    REP_ERR_SYMBOL = -165  # an OKX item whose instId is not one of the decoder's instruments

# JSON kind of one field's value (Val.kind)
cdef enum:
    V_ABSENT = 0
    V_STR = 1
    V_INT = 2  # an integer within int64: Val.num
    V_NUM = 3  # any other number (fraction, exponent, beyond int64)
    V_TRUE = 4
    V_FALSE = 5
    V_NULL = 6
    V_OBJ = 7
    V_ARR = 8

    KEYS_MAX = 24  # fields one object table may read
    KEY_SLOTS = 256  # open-addressing slots of a key table


# One field of an object as met: its JSON kind and raw span (a string's content between the
# quotes, escapes left as written: `esc` says there are some; a number's text).
cdef struct Val:
    int kind
    bint esc
    Py_ssize_t off
    Py_ssize_t len
    int64_t num


# The keys one object of a venue's message is read for: key -> field index, by a hash of
# (length, first byte, last byte) with linear probing; -1 for a key not read.
cdef struct KeyTable:
    signed char slot[KEY_SLOTS]
    const char* names[KEYS_MAX]
    Py_ssize_t lens[KEYS_MAX]
    int count


# One instrument as the decoder needs it: symbol, quote asset, its two grids.
cdef class _Inst:
    cdef str symbol
    cdef str quote
    cdef bytes key
    cdef int64_t pstep
    cdef int64_t qstep
    cdef int pexp
    cdef int qexp


cdef class ReportDecoder:
    cdef readonly int64_t reports  # reports (and Gate order updates) produced
    cdef readonly int64_t errors  # frames raised as ReportError plus error entries returned
    cdef dict _by_bytes  # the venue's symbol as bytes -> _Inst
    cdef dict _by_str
    cdef object _last  # _Inst of the last lookup (one memcmp instead of a dict lookup)
    cdef object _report  # the ExecutionReport type the records are built as
    cdef object _gate_order
    cdef object _buy
    cdef object _sell
    cdef object _st_new
    cdef object _st_partial
    cdef object _st_filled
    cdef object _st_canceled
    cdef object _st_expired
    cdef dict _binance_status

    cdef object _inst(self, const unsigned char* p, Val* v)
    cdef object _make(self, str venue, _Inst inst, object cid, object oid, object status,
                      object side, object cum, object trade_id, object price, object qty,
                      object fee, object fee_asset, object maker, object reason, object ts,
                      object recv_ns)
    cdef object _binance(self, const unsigned char* p, Py_ssize_t n, object recv_ns)
    cdef object _binance_report(self, const unsigned char* p, Val* f, _Inst inst,
                                object recv_ns)
    cdef object _okx(self, const unsigned char* p, Py_ssize_t n, object recv_ns)
    cdef int _okx_items(self, Cursor* c, list out, object recv_ns) except? -1000
    cdef object _okx_item(self, const unsigned char* p, Val* f, object recv_ns)
    cdef object _gate(self, const unsigned char* p, Py_ssize_t n, object recv_ns)
    cdef int _gate_items(self, Cursor* c, list out, bint trades, object recv_ns) except? -1000
    cdef object _gate_item(self, const unsigned char* p, Val* f, bint trades, object recv_ns)
    cdef int64_t _gate_lots(self, const unsigned char* p, Val* v, _Inst inst,
                            str name) except? -1
