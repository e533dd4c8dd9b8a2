"""Depth-frame decoders for Binance, OKX and Gate: raw bytes straight into an UpdateBuffer.

What a decoder guarantees, for any input bytes:
- it never raises on frame content and never reads outside the frame (every p[i] is read
  behind an i < n test; tests/test_depth_decode.py truncates valid frames at every offset);
- a status >= 0 means the whole frame parsed: `buffer` holds every level of the frame in
  frame order (bids and asks apart), prices in ticks and sizes in lots of the decoder's grids,
  and the header attributes hold the frame's fields;
- a negative status means nothing of the frame is kept: `buffer` is empty and the header is
  zero. The status says why (see the module constants);
- no allocation: the frame is read in place (bytes, or any contiguous buffer such as a
  memoryview of the socket's receive buffer) and the header spans (`symbol_offset`,
  `symbol_length`) point into that frame, valid for as long as the caller keeps it unchanged.

It is strict where it reads (exact keys, exact level arity, integers that fit int64, prices
and sizes on the grid) and validating where it skips (unknown keys are walked with full JSON
checks, UTF-8 included), so a frame it accepts is one orjson accepts and the reference
decoder (engine/data/depth_ref.py) reads the same way. It is stricter than orjson in a few
documented corners, all rejected: a key it reads appearing twice (orjson keeps the last), a
key, price, size or enum value written with escapes, nesting deeper than 64, and a number of
magnitude >= 1e300 (orjson's limit is the double range).

Cython callers (the feed handler on picows's receive buffer) call c_decode(ptr, n) /
c_decode_snapshot(ptr, n) without the GIL and then OrderBook.c_apply / c_load_snapshot on
`buffer`; Python callers use decode(frame) / decode_snapshot(frame).
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from libc.stdint cimport INT64_MAX, int64_t, uint32_t, uint64_t
from libc.string cimport memcmp

from engine._core.book cimport BOOK_ASK, BOOK_BID, UpdateBuffer
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

OK = DEPTH_OK
ERR_JSON = DEPTH_ERR_JSON
ERR_MISSING = DEPTH_ERR_MISSING
ERR_TYPE = DEPTH_ERR_TYPE
ERR_VALUE = DEPTH_ERR_VALUE
ERR_DUPLICATE = DEPTH_ERR_DUPLICATE
ERR_LEVEL = DEPTH_ERR_LEVEL
SNAPSHOT = OKX_SNAPSHOT
UPDATE = OKX_UPDATE
ORDER_BOOK_UPDATE = GATE_ORDER_BOOK_UPDATE
OBU = GATE_OBU
REST_SNAPSHOT = GATE_REST_SNAPSHOT

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    /* SWAR digit helpers (little-endian only; elsewhere eight_digits reports "no" and the
       byte loop does the work). Byte k of the loaded word is p[k]. */
    static inline int hft_dd_eight_digits(const unsigned char *p, uint64_t *out) {
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint64_t v;
        memcpy(&v, p, 8);
        if (((v & 0xF0F0F0F0F0F0F0F0ULL)
             | (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4))
            != 0x3333333333333333ULL)
            return 0;
        *out = v;
        return 1;
    #else
        (void)p; (void)out;
        return 0;
    #endif
    }
    /* The value of eight ASCII digits, p[0] the most significant. */
    static inline uint64_t hft_dd_parse_eight(uint64_t v) {
        const uint64_t mask = 0x000000FF000000FFULL;
        v -= 0x3030303030303030ULL;
        v = v * 10 + (v >> 8);
        v = ((v & mask) * (100 + (1000000ULL << 32))
             + ((v >> 16) & mask) * (1 + (10000ULL << 32))) >> 32;
        return v;
    }
    static const uint64_t hft_dd_pow10[9] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
        100000000ULL};
    """
    bint eight_digits "hft_dd_eight_digits"(const unsigned char* p, uint64_t* out) nogil
    uint64_t parse_eight "hft_dd_parse_eight"(uint64_t v) nogil
    const uint64_t* POW10 "hft_dd_pow10"

cdef uint64_t ZEROS8 = 0x3030303030303030ULL  # eight ASCII '0'


# ---------------------------------------------------------------------------------------------
# Field readers over the shared scanner (jsonscan.pxd): pure C, every read behind an explicit
# c.i < c.n test.

cdef int level_field(Cursor* c, int64_t step, int exp, int64_t* out) noexcept nogil:
    """A price/size string at c.p[c.i] == '"' parsed onto the grid (step, exp) in one pass.

    The common shape (digits, optional point and digits, at most 18 significant places once
    scaled, on the grid) is parsed here; anything else (sign, escapes, off-grid, overflow,
    syntax) goes through scan_string + parse_units, so results and error codes are always
    parse_units's own.
    """
    cdef const unsigned char* p = c.p
    cdef Py_ssize_t n = c.n
    cdef Py_ssize_t i = c.i + 1
    cdef Py_ssize_t first = i
    cdef uint64_t mag = 0
    cdef uint64_t q
    cdef unsigned int d
    cdef int ndig = 0
    cdef int nfrac = 0
    cdef int need
    cdef int shift
    cdef uint64_t v
    while i < n:
        d = p[i] - 48u
        if d > 9u:
            break
        mag = mag * 10u + d
        ndig += 1
        i += 1
    if i == first or ndig > 18 or i >= n:
        return _level_field_slow(c, step, exp, out)
    if p[i] == 46:
        i += 1
        first = i
        need = exp
        if need > 0 and i + 8 <= n and eight_digits(p + i, &v):
            if need >= 8:
                mag = mag * 100000000u + parse_eight(v)
                need = 8
            else:
                # the digits past the grid's last decimal must be zeros
                if ((v ^ ZEROS8) >> (need * 8)) != 0:
                    return _level_field_slow(c, step, exp, out)
                shift = (8 - need) * 8
                mag = mag * POW10[need] + parse_eight((v << shift) | (ZEROS8 >> (64 - shift)))
            ndig += need
            nfrac += need
            i += 8
        while i < n:
            d = p[i] - 48u
            if d > 9u:
                break
            if nfrac < exp:
                mag = mag * 10u + d
                ndig += 1
                nfrac += 1
            elif d != 0u:
                return _level_field_slow(c, step, exp, out)
            i += 1
        if i == first or i >= n:
            return _level_field_slow(c, step, exp, out)
    if p[i] != 34 or ndig + exp - nfrac > 18:
        return _level_field_slow(c, step, exp, out)
    while nfrac < exp:
        mag *= 10u
        nfrac += 1
    if step != 1:
        q = mag / <uint64_t>step
        if q * <uint64_t>step != mag:
            return _level_field_slow(c, step, exp, out)
        mag = q
    out[0] = <int64_t>mag
    c.i = i + 1
    return DEPTH_OK


cdef int _level_field_slow(Cursor* c, int64_t step, int exp, int64_t* out) noexcept nogil:
    cdef bint esc
    cdef Py_ssize_t s
    cdef Py_ssize_t m
    cdef int r = scan_string(c, &s, &m, &esc)
    if r != DEPTH_OK:
        return r
    return parse_units(<const char*>(c.p + s), m, step, exp, out)


cdef int open_object(Cursor* c, bint* empty) noexcept nogil:
    """'{' of an object the decoder reads (TYPE if the value is something else)."""
    cdef int b = peek(c)
    if b < 0:
        return DEPTH_ERR_JSON
    if b != 123:
        return DEPTH_ERR_TYPE
    c.i += 1
    empty[0] = peek(c) == 125
    if empty[0]:
        c.i += 1
    return DEPTH_OK


cdef int read_int(Cursor* c, int64_t* out) noexcept nogil:
    cdef int b = peek(c)
    cdef bint is_int = False
    cdef int r
    if b < 0:
        return DEPTH_ERR_JSON
    if b != 45 and not is_digit(b):
        return DEPTH_ERR_TYPE
    r = scan_number(c, out, &is_int)
    if r != DEPTH_OK:
        return r
    return DEPTH_OK if is_int else DEPTH_ERR_TYPE


cdef int read_str(Cursor* c, Py_ssize_t* start, Py_ssize_t* length) noexcept nogil:
    """A string value. Its escapes stay as written, so an escaped value matches no literal
    that the decoder compares it with."""
    cdef int b = peek(c)
    cdef bint esc
    if b < 0:
        return DEPTH_ERR_JSON
    if b != 34:
        return DEPTH_ERR_TYPE
    return scan_string(c, start, length, &esc)


cdef int read_bool(Cursor* c, bint* out) noexcept nogil:
    cdef int b = peek(c)
    if b < 0:
        return DEPTH_ERR_JSON
    if b == 116:
        out[0] = True
    elif b == 102:
        out[0] = False
    else:
        return DEPTH_ERR_TYPE
    return scan_literal(c)


cdef int digits_int(const unsigned char* p, Py_ssize_t n, int64_t* out) noexcept nogil:
    """A string field holding a non-negative integer ("1700000000000"): [0-9]+ within int64."""
    cdef uint64_t v = 0
    cdef unsigned int d
    cdef Py_ssize_t i
    if n <= 0:
        return DEPTH_ERR_VALUE
    for i in range(n):
        d = p[i] - 48u
        if d > 9u or v > (<uint64_t>INT64_MAX - d) / 10u:
            return DEPTH_ERR_VALUE
        v = v * 10u + d
    out[0] = <int64_t>v
    return DEPTH_OK


cdef inline int claim(uint32_t* seen, uint32_t bit) noexcept nogil:
    if seen[0] & bit:
        return DEPTH_ERR_DUPLICATE
    seen[0] |= bit
    return DEPTH_OK


# ---------------------------------------------------------------------------------------------

cdef void clear_common(DepthDecoder d) noexcept nogil:
    d.snapshot = False
    d.first_update_id = 0
    d.last_update_id = 0
    d.event_time_ms = 0
    d.symbol_offset = 0
    d.symbol_length = 0
    d._seen = 0


@cython.auto_pickle(False)
cdef class DepthDecoder:
    """Common part of the venue decoders (not used directly).

    `decode(frame)` returns a status (>= 0 ok, negative error, never raises on content);
    after an ok status `buffer` holds the levels (apply them with OrderBook.apply, or
    OrderBook.load_snapshot when `snapshot` is true) and the header attributes hold the
    frame's fields; both stay valid until the next decode. `frame` is any object exposing a
    contiguous byte buffer; it is read in place and not kept.
    """

    def __cinit__(self, Grid price_grid not None, Grid qty_grid not None, Py_ssize_t capacity):
        # __cinit__, not __init__: no instance can exist without its buffer (c_push on None)
        if type(self) is DepthDecoder:
            raise TypeError("DepthDecoder is abstract: use a venue decoder")
        self.buffer = UpdateBuffer(capacity)
        self._pstep = price_grid.step_mantissa
        self._pexp = price_grid.exp
        self._qstep = qty_grid.step_mantissa
        self._qexp = qty_grid.exp
        self._clear_header()

    @classmethod
    def from_instrument(cls, instrument, Py_ssize_t capacity):
        """A decoder on the instrument's price and quantity grids."""
        return cls(instrument.price_grid, instrument.qty_grid, capacity)

    cdef void _clear_header(self) noexcept nogil:
        clear_common(self)

    cdef int _finish(self, int status) noexcept nogil:
        if status < 0:
            self.buffer.c_reset()
            self._clear_header()
            self.errors += 1
        else:
            self.decoded += 1
        self.last_status = status
        return status

    cdef int _levels(self, Cursor* c, int side, int nfields) noexcept nogil:
        """`[[price, size, ...], ...]`: nfields strings per level, the first two parsed."""
        cdef int b = peek(c)
        cdef int f
        cdef int r
        cdef bint esc
        cdef Py_ssize_t s
        cdef Py_ssize_t m
        cdef int64_t price = 0
        cdef int64_t size = 0
        if b < 0:
            return DEPTH_ERR_JSON
        if b != 91:
            return DEPTH_ERR_TYPE
        c.i += 1
        if peek(c) == 93:
            c.i += 1
            return DEPTH_OK
        while True:
            b = peek(c)
            if b < 0:
                return DEPTH_ERR_JSON
            if b != 91:
                return DEPTH_ERR_TYPE
            c.i += 1
            for f in range(nfields):
                if f > 0:
                    b = peek(c)
                    if b == 93:
                        return DEPTH_ERR_LEVEL
                    if b != 44:
                        return DEPTH_ERR_JSON
                    c.i += 1
                b = peek(c)
                if b < 0:
                    return DEPTH_ERR_JSON
                if b == 93 and f == 0:
                    return DEPTH_ERR_LEVEL
                if b != 34:
                    return DEPTH_ERR_TYPE
                if f == 0:
                    r = level_field(c, self._pstep, self._pexp, &price)
                elif f == 1:
                    r = level_field(c, self._qstep, self._qexp, &size)
                else:
                    r = scan_string(c, &s, &m, &esc)
                if r != DEPTH_OK:
                    return r
            b = peek(c)
            if b == 44:
                return DEPTH_ERR_LEVEL
            if b != 93:
                return DEPTH_ERR_JSON
            c.i += 1
            r = self.buffer.c_push(side, price, size)
            if r != 0:
                return r
            b = peek(c)
            if b == 44:
                c.i += 1
            elif b == 93:
                c.i += 1
                return DEPTH_OK
            else:
                return DEPTH_ERR_JSON

    cdef int c_decode(self, const unsigned char* p, Py_ssize_t n) noexcept nogil:
        return self._finish(DEPTH_ERR_VALUE)

    def decode(self, frame):
        """Decode one pushed frame; the status (>= 0 ok). See the class docstring."""
        cdef Py_buffer view
        cdef int status
        if PyBytes_CheckExact(frame):
            return self.c_decode(<const unsigned char*>PyBytes_AS_STRING(frame),
                                 PyBytes_GET_SIZE(frame))
        PyObject_GetBuffer(frame, &view, PyBUF_SIMPLE)
        status = self.c_decode(<const unsigned char*>view.buf, view.len)
        PyBuffer_Release(&view)
        return status

    def symbol(self, frame):
        """The symbol's raw bytes in `frame` (the frame just decoded): a copy, for tests/logs."""
        return bytes(memoryview(frame).cast("B")[
            self.symbol_offset:self.symbol_offset + self.symbol_length])

    def __repr__(self):
        return (
            f"{type(self).__name__}(last_status={self.last_status}, decoded={self.decoded}, "
            f"errors={self.errors})"
        )


# Binance keys, one bit each
cdef enum:
    BN_E_TYPE = 1 << 0
    BN_E_TIME = 1 << 1
    BN_SYMBOL = 1 << 2
    BN_FIRST = 1 << 3
    BN_LAST = 1 << 4
    BN_BIDS = 1 << 5
    BN_ASKS = 1 << 6
    BN_DATA = 1 << 7
    BN_TOP_FIELD = 1 << 8  # a frame field met outside "data" (not a key)
    BN_EVENT_KEYS = (BN_E_TYPE | BN_E_TIME | BN_SYMBOL | BN_FIRST | BN_LAST | BN_BIDS
                     | BN_ASKS)
    BN_SNAPSHOT_KEYS = BN_LAST | BN_BIDS | BN_ASKS


@cython.auto_pickle(False)
cdef class BinanceDepthDecoder(DepthDecoder):
    """Binance spot `depthUpdate` (raw or combined `{"stream":..,"data":{..}}`) and, through
    decode_snapshot, the REST /api/v3/depth body or a partial-depth push (`lastUpdateId`).

    Header: first_update_id = U, last_update_id = u (lastUpdateId for a snapshot),
    event_time_ms = E, symbol = s. Required: e (== "depthUpdate"), E, s, U, u, b, a;
    a snapshot needs lastUpdateId, bids, asks.
    """

    cdef int _object(self, Cursor* c, int depth, bint snap) noexcept nogil:
        cdef bint empty = False
        cdef bint more = True
        cdef int r
        cdef uint32_t bit
        cdef bint esc
        cdef Py_ssize_t ks
        cdef Py_ssize_t kl
        cdef Py_ssize_t s
        cdef Py_ssize_t m
        cdef const unsigned char* k
        r = open_object(c, &empty)
        if r != DEPTH_OK or empty:
            return r
        while more:
            r = member_key(c, &ks, &kl, &esc)
            if r != DEPTH_OK:
                return r
            k = c.p + ks
            bit = 0
            if depth == 0 and same(k, kl, "data", 4):
                bit = BN_DATA
            elif not snap and kl == 1:
                if k[0] == 101:  # e
                    bit = BN_E_TYPE
                elif k[0] == 69:  # E
                    bit = BN_E_TIME
                elif k[0] == 115:  # s
                    bit = BN_SYMBOL
                elif k[0] == 85:  # U
                    bit = BN_FIRST
                elif k[0] == 117:  # u
                    bit = BN_LAST
                elif k[0] == 98:  # b
                    bit = BN_BIDS
                elif k[0] == 97:  # a
                    bit = BN_ASKS
            elif snap:
                if same(k, kl, "lastUpdateId", 12):
                    bit = BN_LAST
                elif same(k, kl, "bids", 4):
                    bit = BN_BIDS
                elif same(k, kl, "asks", 4):
                    bit = BN_ASKS
            if bit == 0:
                r = skip_value(c)
            else:
                r = claim(&self._seen, bit)
                if r != DEPTH_OK:
                    return r
                if depth == 0 and bit != BN_DATA:
                    self._seen |= BN_TOP_FIELD
                if bit == BN_BIDS:
                    r = self._levels(c, BOOK_BID, 2)
                elif bit == BN_ASKS:
                    r = self._levels(c, BOOK_ASK, 2)
                elif bit == BN_FIRST:
                    r = read_int(c, &self.first_update_id)
                elif bit == BN_LAST:
                    r = read_int(c, &self.last_update_id)
                elif bit == BN_E_TIME:
                    r = read_int(c, &self.event_time_ms)
                elif bit == BN_SYMBOL:
                    r = read_str(c, &self.symbol_offset, &self.symbol_length)
                elif bit == BN_E_TYPE:
                    r = read_str(c, &s, &m)
                    if r == DEPTH_OK and not same(c.p + s, m, "depthUpdate", 11):
                        r = DEPTH_ERR_VALUE
                else:
                    r = self._object(c, 1, snap)
            if r != DEPTH_OK:
                return r
            r = next_member(c, &more)
            if r != DEPTH_OK:
                return r
        return DEPTH_OK

    cdef int _run(self, const unsigned char* p, Py_ssize_t n, bint snap) noexcept nogil:
        cdef Cursor c
        cdef int r
        cdef uint32_t need = BN_SNAPSHOT_KEYS if snap else BN_EVENT_KEYS
        self.buffer.c_reset()
        self._clear_header()
        c = cursor(p, n, DEPTH_ERR_JSON)
        r = self._object(&c, 0, snap)
        if r == DEPTH_OK:
            r = finish_frame(&c)
        if r == DEPTH_OK and (self._seen & BN_DATA) and (self._seen & BN_TOP_FIELD):
            r = DEPTH_ERR_VALUE  # fields both inside and outside the combined envelope
        if r == DEPTH_OK and (self._seen & need) != need:
            r = DEPTH_ERR_MISSING
        if r == DEPTH_OK:
            self.snapshot = snap
        return self._finish(r)

    cdef int c_decode(self, const unsigned char* p, Py_ssize_t n) noexcept nogil:
        return self._run(p, n, False)

    cdef int c_decode_snapshot(self, const unsigned char* p, Py_ssize_t n) noexcept nogil:
        return self._run(p, n, True)

    def decode_snapshot(self, frame):
        """Decode a REST /api/v3/depth body (or a partial-depth push); sets `snapshot`."""
        cdef Py_buffer view
        cdef int status
        if PyBytes_CheckExact(frame):
            return self.c_decode_snapshot(<const unsigned char*>PyBytes_AS_STRING(frame),
                                          PyBytes_GET_SIZE(frame))
        PyObject_GetBuffer(frame, &view, PyBUF_SIMPLE)
        status = self.c_decode_snapshot(<const unsigned char*>view.buf, view.len)
        PyBuffer_Release(&view)
        return status


# OKX keys
cdef enum:
    OK_ARG = 1 << 0
    OK_ACTION = 1 << 1
    OK_DATA = 1 << 2
    OK_CHANNEL = 1 << 3
    OK_INST = 1 << 4
    OK_ASKS = 1 << 5
    OK_BIDS = 1 << 6
    OK_TS = 1 << 7
    OK_CHECKSUM = 1 << 8
    OK_SEQ = 1 << 9
    OK_PREV = 1 << 10
    OK_REQUIRED = (OK_ARG | OK_ACTION | OK_DATA | OK_CHANNEL | OK_INST | OK_ASKS | OK_BIDS
                   | OK_TS | OK_SEQ | OK_PREV)


@cython.auto_pickle(False)
cdef class OkxBooksDecoder(DepthDecoder):
    """OKX `books` / `books-l2-tbt` / `books50-l2-tbt` push (`action` snapshot or update).

    Header: action, seq_id, prev_seq_id, checksum (optional, 0 if absent), event_time_ms =
    ts (a digit string), symbol = arg.instId; `snapshot` is action == "snapshot". Levels are
    `[px, sz, liquidated, orders]`, four strings (the last two checked, not kept). `data`
    must hold exactly one object.
    """

    cdef void _clear_header(self) noexcept nogil:
        clear_common(self)
        self.action = 0
        self.seq_id = 0
        self.prev_seq_id = 0
        self.checksum = 0

    cdef int _arg(self, Cursor* c) noexcept nogil:
        cdef bint empty = False
        cdef bint more = True
        cdef int r
        cdef bint esc
        cdef Py_ssize_t ks
        cdef Py_ssize_t kl
        cdef Py_ssize_t s
        cdef Py_ssize_t m
        r = open_object(c, &empty)
        if r != DEPTH_OK or empty:
            return r
        while more:
            r = member_key(c, &ks, &kl, &esc)
            if r != DEPTH_OK:
                return r
            if same(c.p + ks, kl, "channel", 7):
                r = claim(&self._seen, OK_CHANNEL)
                if r == DEPTH_OK:
                    r = read_str(c, &s, &m)
            elif same(c.p + ks, kl, "instId", 6):
                r = claim(&self._seen, OK_INST)
                if r == DEPTH_OK:
                    r = read_str(c, &self.symbol_offset, &self.symbol_length)
            else:
                r = skip_value(c)
            if r != DEPTH_OK:
                return r
            r = next_member(c, &more)
            if r != DEPTH_OK:
                return r
        return DEPTH_OK

    cdef int _data(self, Cursor* c) noexcept nogil:
        cdef bint empty = False
        cdef bint more = True
        cdef int r
        cdef bint esc
        cdef Py_ssize_t ks
        cdef Py_ssize_t kl
        cdef Py_ssize_t s
        cdef Py_ssize_t m
        cdef const unsigned char* k
        r = open_object(c, &empty)
        if r != DEPTH_OK or empty:
            return r
        while more:
            r = member_key(c, &ks, &kl, &esc)
            if r != DEPTH_OK:
                return r
            k = c.p + ks
            if same(k, kl, "asks", 4):
                r = claim(&self._seen, OK_ASKS)
                if r == DEPTH_OK:
                    r = self._levels(c, BOOK_ASK, 4)
            elif same(k, kl, "bids", 4):
                r = claim(&self._seen, OK_BIDS)
                if r == DEPTH_OK:
                    r = self._levels(c, BOOK_BID, 4)
            elif same(k, kl, "ts", 2):
                r = claim(&self._seen, OK_TS)
                if r == DEPTH_OK:
                    r = read_str(c, &s, &m)
                if r == DEPTH_OK:
                    r = digits_int(c.p + s, m, &self.event_time_ms)
            elif same(k, kl, "seqId", 5):
                r = claim(&self._seen, OK_SEQ)
                if r == DEPTH_OK:
                    r = read_int(c, &self.seq_id)
            elif same(k, kl, "prevSeqId", 9):
                r = claim(&self._seen, OK_PREV)
                if r == DEPTH_OK:
                    r = read_int(c, &self.prev_seq_id)
            elif same(k, kl, "checksum", 8):
                r = claim(&self._seen, OK_CHECKSUM)
                if r == DEPTH_OK:
                    r = read_int(c, &self.checksum)
            else:
                r = skip_value(c)
            if r != DEPTH_OK:
                return r
            r = next_member(c, &more)
            if r != DEPTH_OK:
                return r
        return DEPTH_OK

    cdef int c_decode(self, const unsigned char* p, Py_ssize_t n) noexcept nogil:
        cdef Cursor cur
        cdef Cursor* c = &cur
        cdef bint empty = False
        cdef bint more = True
        cdef int r
        cdef int b
        cdef bint esc
        cdef Py_ssize_t ks
        cdef Py_ssize_t kl
        cdef Py_ssize_t s
        cdef Py_ssize_t m
        cdef const unsigned char* k
        self.buffer.c_reset()
        self._clear_header()
        cur = cursor(p, n, DEPTH_ERR_JSON)
        r = open_object(c, &empty)
        more = not empty
        while r == DEPTH_OK and more:
            r = member_key(c, &ks, &kl, &esc)
            if r != DEPTH_OK:
                break
            k = c.p + ks
            if same(k, kl, "arg", 3):
                r = claim(&self._seen, OK_ARG)
                if r == DEPTH_OK:
                    r = self._arg(c)
            elif same(k, kl, "action", 6):
                r = claim(&self._seen, OK_ACTION)
                if r == DEPTH_OK:
                    r = read_str(c, &s, &m)
                if r == DEPTH_OK:
                    if same(c.p + s, m, "snapshot", 8):
                        self.action = OKX_SNAPSHOT
                    elif same(c.p + s, m, "update", 6):
                        self.action = OKX_UPDATE
                    else:
                        r = DEPTH_ERR_VALUE
            elif same(k, kl, "data", 4):
                r = claim(&self._seen, OK_DATA)
                if r == DEPTH_OK:
                    b = peek(c)
                    if b < 0:
                        r = DEPTH_ERR_JSON
                    elif b != 91:
                        r = DEPTH_ERR_TYPE
                    else:
                        c.i += 1
                        if peek(c) == 93:
                            r = DEPTH_ERR_VALUE  # no book object
                        else:
                            r = self._data(c)
                        if r == DEPTH_OK:
                            b = peek(c)
                            if b == 44:
                                r = DEPTH_ERR_VALUE  # more than one book object
                            elif b != 93:
                                r = DEPTH_ERR_JSON
                            else:
                                c.i += 1
            else:
                r = skip_value(c)
            if r == DEPTH_OK:
                r = next_member(c, &more)
        if r == DEPTH_OK:
            r = finish_frame(c)
        if r == DEPTH_OK and (self._seen & OK_REQUIRED) != OK_REQUIRED:
            r = DEPTH_ERR_MISSING
        if r == DEPTH_OK:
            self.snapshot = self.action == OKX_SNAPSHOT
        return self._finish(r)


# Gate keys
cdef enum:
    GT_TIME = 1 << 0
    GT_TIME_MS = 1 << 1
    GT_CHANNEL = 1 << 2
    GT_EVENT = 1 << 3
    GT_RESULT = 1 << 4
    GT_T = 1 << 5
    GT_SYMBOL = 1 << 6
    GT_FIRST = 1 << 7
    GT_LAST = 1 << 8
    GT_BIDS = 1 << 9
    GT_ASKS = 1 << 10
    GT_FULL = 1 << 11
    GT_CURRENT = 1 << 12
    GT_UPDATE = 1 << 13
    GT_COMMON = GT_CHANNEL | GT_RESULT | GT_T | GT_SYMBOL | GT_LAST
    GT_REST = GT_LAST | GT_BIDS | GT_ASKS


@cython.auto_pickle(False)
cdef class GateDepthDecoder(DepthDecoder):
    """Gate `spot.order_book_update` and `spot.obu` pushes; decode_snapshot takes the REST
    /spot/order_book?with_id=true body.

    Header: channel, event_time_ms = result.t, symbol = result.s, first_update_id = U (0 if
    absent), last_update_id = u (REST: id), full, time_s = time, message_time_ms = time_ms
    (REST: current; event_time_ms = update). `snapshot` = full (always true for REST).
    Required: channel, result, t, s, u; U too for order_book_update and for an obu increment;
    b and a may be absent (no change on that side). REST requires id, asks, bids.
    """

    cdef void _clear_header(self) noexcept nogil:
        clear_common(self)
        self.channel = 0
        self.full = False
        self.time_s = 0
        self.message_time_ms = 0

    cdef int _result(self, Cursor* c) noexcept nogil:
        cdef bint empty = False
        cdef bint more = True
        cdef int r
        cdef uint32_t bit
        cdef bint esc
        cdef Py_ssize_t ks
        cdef Py_ssize_t kl
        cdef const unsigned char* k
        r = open_object(c, &empty)
        if r != DEPTH_OK or empty:
            return r
        while more:
            r = member_key(c, &ks, &kl, &esc)
            if r != DEPTH_OK:
                return r
            k = c.p + ks
            bit = 0
            if kl == 1:
                if k[0] == 116:  # t
                    bit = GT_T
                elif k[0] == 115:  # s
                    bit = GT_SYMBOL
                elif k[0] == 85:  # U
                    bit = GT_FIRST
                elif k[0] == 117:  # u
                    bit = GT_LAST
                elif k[0] == 98:  # b
                    bit = GT_BIDS
                elif k[0] == 97:  # a
                    bit = GT_ASKS
            elif same(k, kl, "full", 4):
                bit = GT_FULL
            if bit == 0:
                r = skip_value(c)
            else:
                r = claim(&self._seen, bit)
                if r != DEPTH_OK:
                    return r
                if bit == GT_BIDS:
                    r = self._levels(c, BOOK_BID, 2)
                elif bit == GT_ASKS:
                    r = self._levels(c, BOOK_ASK, 2)
                elif bit == GT_T:
                    r = read_int(c, &self.event_time_ms)
                elif bit == GT_SYMBOL:
                    r = read_str(c, &self.symbol_offset, &self.symbol_length)
                elif bit == GT_FIRST:
                    r = read_int(c, &self.first_update_id)
                elif bit == GT_LAST:
                    r = read_int(c, &self.last_update_id)
                else:
                    r = read_bool(c, &self.full)
            if r != DEPTH_OK:
                return r
            r = next_member(c, &more)
            if r != DEPTH_OK:
                return r
        return DEPTH_OK

    cdef int c_decode(self, const unsigned char* p, Py_ssize_t n) noexcept nogil:
        cdef Cursor cur
        cdef Cursor* c = &cur
        cdef bint empty = False
        cdef bint more = True
        cdef int r
        cdef bint esc
        cdef Py_ssize_t ks
        cdef Py_ssize_t kl
        cdef Py_ssize_t s
        cdef Py_ssize_t m
        cdef const unsigned char* k
        self.buffer.c_reset()
        self._clear_header()
        cur = cursor(p, n, DEPTH_ERR_JSON)
        r = open_object(c, &empty)
        more = not empty
        while r == DEPTH_OK and more:
            r = member_key(c, &ks, &kl, &esc)
            if r != DEPTH_OK:
                break
            k = c.p + ks
            if same(k, kl, "result", 6):
                r = claim(&self._seen, GT_RESULT)
                if r == DEPTH_OK:
                    r = self._result(c)
            elif same(k, kl, "channel", 7):
                r = claim(&self._seen, GT_CHANNEL)
                if r == DEPTH_OK:
                    r = read_str(c, &s, &m)
                if r == DEPTH_OK:
                    if same(c.p + s, m, "spot.order_book_update", 22):
                        self.channel = GATE_ORDER_BOOK_UPDATE
                    elif same(c.p + s, m, "spot.obu", 8):
                        self.channel = GATE_OBU
                    else:
                        r = DEPTH_ERR_VALUE
            elif same(k, kl, "event", 5):
                r = claim(&self._seen, GT_EVENT)
                if r == DEPTH_OK:
                    r = read_str(c, &s, &m)
                if r == DEPTH_OK and not same(c.p + s, m, "update", 6):
                    r = DEPTH_ERR_VALUE
            elif same(k, kl, "time", 4):
                r = claim(&self._seen, GT_TIME)
                if r == DEPTH_OK:
                    r = read_int(c, &self.time_s)
            elif same(k, kl, "time_ms", 7):
                r = claim(&self._seen, GT_TIME_MS)
                if r == DEPTH_OK:
                    r = read_int(c, &self.message_time_ms)
            else:
                r = skip_value(c)
            if r == DEPTH_OK:
                r = next_member(c, &more)
        if r == DEPTH_OK:
            r = finish_frame(c)
        if r == DEPTH_OK and (self._seen & GT_COMMON) != GT_COMMON:
            r = DEPTH_ERR_MISSING
        if (r == DEPTH_OK and not (self._seen & GT_FIRST)
                and (self.channel == GATE_ORDER_BOOK_UPDATE or not self.full)):
            r = DEPTH_ERR_MISSING
        if r == DEPTH_OK:
            self.snapshot = self.full
        return self._finish(r)

    cdef int c_decode_snapshot(self, const unsigned char* p, Py_ssize_t n) noexcept nogil:
        cdef Cursor cur
        cdef Cursor* c = &cur
        cdef bint empty = False
        cdef bint more = True
        cdef int r
        cdef bint esc
        cdef Py_ssize_t ks
        cdef Py_ssize_t kl
        cdef const unsigned char* k
        self.buffer.c_reset()
        self._clear_header()
        cur = cursor(p, n, DEPTH_ERR_JSON)
        r = open_object(c, &empty)
        more = not empty
        while r == DEPTH_OK and more:
            r = member_key(c, &ks, &kl, &esc)
            if r != DEPTH_OK:
                break
            k = c.p + ks
            if same(k, kl, "id", 2):
                r = claim(&self._seen, GT_LAST)
                if r == DEPTH_OK:
                    r = read_int(c, &self.last_update_id)
            elif same(k, kl, "current", 7):
                r = claim(&self._seen, GT_CURRENT)
                if r == DEPTH_OK:
                    r = read_int(c, &self.message_time_ms)
            elif same(k, kl, "update", 6):
                r = claim(&self._seen, GT_UPDATE)
                if r == DEPTH_OK:
                    r = read_int(c, &self.event_time_ms)
            elif same(k, kl, "asks", 4):
                r = claim(&self._seen, GT_ASKS)
                if r == DEPTH_OK:
                    r = self._levels(c, BOOK_ASK, 2)
            elif same(k, kl, "bids", 4):
                r = claim(&self._seen, GT_BIDS)
                if r == DEPTH_OK:
                    r = self._levels(c, BOOK_BID, 2)
            else:
                r = skip_value(c)
            if r == DEPTH_OK:
                r = next_member(c, &more)
        if r == DEPTH_OK:
            r = finish_frame(c)
        if r == DEPTH_OK and (self._seen & GT_REST) != GT_REST:
            r = DEPTH_ERR_MISSING
        if r == DEPTH_OK:
            self.channel = GATE_REST_SNAPSHOT
            self.full = True
            self.snapshot = True
        return self._finish(r)

    def decode_snapshot(self, frame):
        """Decode a REST /spot/order_book body (with_id=true); sets `snapshot`."""
        cdef Py_buffer view
        cdef int status
        if PyBytes_CheckExact(frame):
            return self.c_decode_snapshot(<const unsigned char*>PyBytes_AS_STRING(frame),
                                          PyBytes_GET_SIZE(frame))
        PyObject_GetBuffer(frame, &view, PyBUF_SIMPLE)
        status = self.c_decode_snapshot(<const unsigned char*>view.buf, view.len)
        PyBuffer_Release(&view)
        return status


# ---------------------------------------------------------------------------------------------
# Routing (see depth_decode.pxd). These read only as far as the key; the venue decoder then
# validates the whole frame, so a frame routed here and malformed further on is still refused.

cdef inline bint _starts(const unsigned char* p, Py_ssize_t n, const char* lit,
                         Py_ssize_t m) noexcept nogil:
    return n >= m and memcmp(p, lit, <size_t>m) == 0


cdef inline Py_ssize_t _quote(const unsigned char* p, Py_ssize_t n, Py_ssize_t i) noexcept nogil:
    """Index of the next '"' from i, or -1 (a backslash first: not a plain key, -1 too)."""
    while i < n:
        if p[i] == 34:
            return i
        if p[i] == 92:
            return -1
        i += 1
    return -1


cdef int binance_route(const unsigned char* p, Py_ssize_t n, Py_ssize_t* key_off,
                       Py_ssize_t* key_len) noexcept nogil:
    cdef Py_ssize_t end
    cdef Py_ssize_t i
    if not _starts(p, n, b'{"stream":"', 11):
        return ROUTE_NONE
    end = _quote(p, n, 11)
    if end < 0:
        return ROUTE_NONE
    key_off[0] = 11
    key_len[0] = end - 11
    for i in range(11, end - 5):
        if memcmp(p + i, b"@depth", 6) == 0:
            return ROUTE_DEPTH
    return ROUTE_OTHER


cdef int okx_route(const unsigned char* p, Py_ssize_t n, Py_ssize_t* key_off,
                   Py_ssize_t* key_len) noexcept nogil:
    cdef Py_ssize_t end
    if not _starts(p, n, b'{"arg":{"channel":"', 19):
        return ROUTE_NONE
    end = _quote(p, n, 19)
    if end < 0 or not _starts(p + end, n - end, b'","instId":"', 12):
        return ROUTE_NONE
    end = _quote(p, n, end + 12)
    if end < 0:
        return ROUTE_NONE
    key_off[0] = 0
    key_len[0] = end + 1
    return ROUTE_DEPTH


cdef int _gate_symbol(Cursor* c, Py_ssize_t* key_off, Py_ssize_t* key_len) noexcept nogil:
    """Walk the result object up to its "s" member; DEPTH_OK with the span, else an error."""
    cdef bint empty = False
    cdef bint more = True
    cdef bint esc
    cdef Py_ssize_t ks
    cdef Py_ssize_t kl
    cdef int r = open_object(c, &empty)
    if r != DEPTH_OK:
        return r
    if empty:
        return DEPTH_ERR_MISSING
    while more:
        r = member_key(c, &ks, &kl, &esc)
        if r != DEPTH_OK:
            return r
        if kl == 1 and c.p[ks] == 115:  # s
            return read_str(c, key_off, key_len)
        r = skip_value(c)
        if r == DEPTH_OK:
            r = next_member(c, &more)
        if r != DEPTH_OK:
            return r
    return DEPTH_ERR_MISSING


cdef int gate_route(const unsigned char* p, Py_ssize_t n, Py_ssize_t* key_off,
                    Py_ssize_t* key_len) noexcept nogil:
    cdef Cursor cur
    cdef Cursor* c = &cur
    cdef bint empty = False
    cdef bint more = True
    cdef int kind = ROUTE_NONE  # of the channel, once read
    cdef bint have_symbol = False
    cdef bint esc
    cdef Py_ssize_t ks
    cdef Py_ssize_t kl
    cdef Py_ssize_t s
    cdef Py_ssize_t m
    cdef int r
    cur = cursor(p, n, DEPTH_ERR_JSON)
    if open_object(c, &empty) != DEPTH_OK or empty:
        return ROUTE_NONE
    while more:
        if member_key(c, &ks, &kl, &esc) != DEPTH_OK:
            return ROUTE_NONE
        if same(p + ks, kl, "channel", 7):
            if read_str(c, &s, &m) != DEPTH_OK:
                return ROUTE_NONE
            if same(p + s, m, "spot.order_book_update", 22) or same(p + s, m, "spot.obu", 8):
                kind = ROUTE_DEPTH
            else:
                return ROUTE_OTHER
            if have_symbol:
                return ROUTE_DEPTH
        elif same(p + ks, kl, "result", 6) and peek(c) == 123:
            r = _gate_symbol(c, key_off, key_len)
            if r != DEPTH_OK:
                return ROUTE_NONE
            if kind == ROUTE_DEPTH:
                return ROUTE_DEPTH
            # the channel comes later in this frame: finish the result object first
            have_symbol = True
            while True:
                if next_member(c, &more) != DEPTH_OK:
                    return ROUTE_NONE
                if not more:
                    break
                if member_key(c, &s, &m, &esc) != DEPTH_OK or skip_value(c) != DEPTH_OK:
                    return ROUTE_NONE
        elif skip_value(c) != DEPTH_OK:
            return ROUTE_NONE
        if next_member(c, &more) != DEPTH_OK:
            return ROUTE_NONE
    return ROUTE_NONE
