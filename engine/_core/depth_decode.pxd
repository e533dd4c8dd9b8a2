# Depth-frame decoders: raw venue bytes -> ticks/lots in an UpdateBuffer plus a small header,
# with no float, no Decimal, no Python object and no copy. They use the hand-written scanner of
# jsonscan.pxd (not a general JSON parser), which still validates every byte it walks past, so
# anything orjson would reject is rejected here too. Reference semantics: engine/data/depth_ref.py.
from libc.stdint cimport int64_t, uint32_t

from engine._core.book cimport UpdateBuffer
from engine._core.jsonscan cimport Cursor

# Status of a decode: 0 ok; negative is an error and leaves the buffer empty and the header
# zeroed. fixedpoint's ERR_SYNTAX/ERR_OFF_GRID/ERR_OVERFLOW (-1..-3) come from a price or size
# string, book's BOOK_ERR_PRICE/SIZE/COUNT (-33..-35) from UpdateBuffer.c_push; the decoder's
# own codes are -48..-53.
cdef enum:
    DEPTH_OK = 0
    DEPTH_ERR_JSON = -48  # not well-formed JSON (incl. truncated), or a nesting over 64 deep
    DEPTH_ERR_MISSING = -49  # a required key is absent
    DEPTH_ERR_TYPE = -50  # a field of the wrong JSON type, or an integer outside int64
    DEPTH_ERR_VALUE = -51  # a field with a value this decoder does not take (event, action...)
    DEPTH_ERR_DUPLICATE = -52  # a key the decoder reads appears twice
    DEPTH_ERR_LEVEL = -53  # a level array with the wrong number of elements

# OkxBooksDecoder.action
cdef enum:
    OKX_SNAPSHOT = 1
    OKX_UPDATE = 2

# GateDepthDecoder.channel
cdef enum:
    GATE_ORDER_BOOK_UPDATE = 1
    GATE_OBU = 2
    GATE_REST_SNAPSHOT = 3


cdef class DepthDecoder:
    """Base of the venue decoders: the level buffer, the grids, the common header."""
    cdef readonly UpdateBuffer buffer
    cdef readonly int64_t decoded  # frames decoded ok
    cdef readonly int64_t errors  # frames rejected
    cdef readonly int last_status
    # header of the last frame (all zero after an error)
    cdef readonly bint snapshot  # the levels replace the whole book (load_snapshot)
    cdef readonly int64_t first_update_id
    cdef readonly int64_t last_update_id
    cdef readonly int64_t event_time_ms
    cdef readonly Py_ssize_t symbol_offset  # the symbol's raw bytes: frame[off:off + length]
    cdef readonly Py_ssize_t symbol_length
    cdef int64_t _pstep
    cdef int64_t _qstep
    cdef int _pexp
    cdef int _qexp
    cdef uint32_t _seen  # keys met so far in this frame (duplicate and missing-key checks)

    cdef void _clear_header(self) noexcept nogil
    cdef int _finish(self, int status) noexcept nogil
    cdef int _levels(self, Cursor* c, int side, int nfields) noexcept nogil
    cdef int c_decode(self, const unsigned char* p, Py_ssize_t n) noexcept nogil


cdef class BinanceDepthDecoder(DepthDecoder):
    cdef int _object(self, Cursor* c, int depth, bint snap) noexcept nogil
    cdef int _run(self, const unsigned char* p, Py_ssize_t n, bint snap) noexcept nogil
    cdef int c_decode_snapshot(self, const unsigned char* p, Py_ssize_t n) noexcept nogil


cdef class OkxBooksDecoder(DepthDecoder):
    cdef readonly int action  # OKX_SNAPSHOT or OKX_UPDATE
    cdef readonly int64_t seq_id
    cdef readonly int64_t prev_seq_id
    cdef readonly int64_t checksum  # 0 when absent (deprecated by OKX in 2026)

    cdef int _arg(self, Cursor* c) noexcept nogil
    cdef int _data(self, Cursor* c) noexcept nogil


cdef class GateDepthDecoder(DepthDecoder):
    cdef readonly int channel  # GATE_ORDER_BOOK_UPDATE, GATE_OBU or GATE_REST_SNAPSHOT
    cdef readonly bint full
    cdef readonly int64_t time_s  # envelope "time" (0 if absent)
    cdef readonly int64_t message_time_ms  # envelope "time_ms" / REST "current" (0 if absent)

    cdef int _result(self, Cursor* c) noexcept nogil
    cdef int c_decode_snapshot(self, const unsigned char* p, Py_ssize_t n) noexcept nogil


# Routing: which stream a pushed frame belongs to, read from its first fields without
# decoding its levels (so a connection carrying many symbols needs no Python per frame).
cdef enum:
    ROUTE_NONE = 0  # not in the shape this venue's pushes have: the caller's slow path decides
    ROUTE_DEPTH = 1  # a depth push; the key span names its stream
    ROUTE_OTHER = 2  # a push of another channel (trades, tickers), an ack or a pong

# Binance combined stream `{"stream":"<name>",...`: ROUTE_DEPTH with the name's span when the
# name holds "@depth", ROUTE_OTHER for another stream, ROUTE_NONE for any other shape.
cdef int binance_route(const unsigned char* p, Py_ssize_t n, Py_ssize_t* key_off,
                       Py_ssize_t* key_len) noexcept nogil
# OKX push `{"arg":{"channel":"<c>","instId":"<i>"`: the key is that whole prefix (channel and
# instrument together); ROUTE_DEPTH whatever the channel (the caller's table knows which
# prefixes are books), ROUTE_NONE for another shape (events, pong, another key order).
cdef int okx_route(const unsigned char* p, Py_ssize_t n, Py_ssize_t* key_off,
                   Py_ssize_t* key_len) noexcept nogil
# Gate push: by its "channel" field. ROUTE_DEPTH (spot.order_book_update / spot.obu) with the
# span of result.s, ROUTE_OTHER for any other channel, ROUTE_NONE if the top level is not an
# object with a string channel (and, for depth, a result object with a string "s").
cdef int gate_route(const unsigned char* p, Py_ssize_t n, Py_ssize_t* key_off,
                    Py_ssize_t* key_len) noexcept nogil
