# Per-connection frame handlers: one call per received frame routes it to its symbol, decodes
# it, checks the venue's sequence rule (and OKX's checksum), applies it to the book, stamps the
# book and calls on_book. Python is entered only on a status other than OK/SKIPPED.
# Reference semantics: engine/data/frames_ref.py; the rules per venue: docs/ARCHITECTURE.md.
from libc.stdint cimport int64_t, uint64_t

from engine._core.book cimport OrderBook
from engine._core.depth_decode cimport DepthDecoder
from engine._core.fixedpoint cimport Grid

# Status of one frame. OK and SKIPPED need nothing from the caller; the other non-negative
# codes ask the caller's slow path to act; a negative code means the stream is back to
# STREAM_WAITING and its book must be resynchronised (the caller marks it not ready).
# Negative codes below -79 are this module's; above, the decoder's own (-1..-53, malformed).
cdef enum:
    FRAME_OK = 0  # applied; the book is stamped and on_book was called
    FRAME_SKIPPED = 1  # nothing to do: already in the book, a heartbeat, ignorable while syncing
    FRAME_BUFFER = 2  # the stream is syncing: the caller keeps (copies) the frame for replay
    FRAME_SNAPSHOT = 3  # the frame held a whole book, now loaded: the stream is live again
    FRAME_OTHER = 4  # not a depth push of a known stream: trades, tickers, acks, pongs
    FRAME_CALLBACK_ERROR = 5  # applied, but on_book raised: the error waits in take_error()
    FRAME_ERR_GAP = -80  # the sequence does not continue the book
    FRAME_ERR_CROSSED = -81  # the update (or snapshot) left best bid >= best ask
    FRAME_ERR_CHECKSUM = -82  # OKX's CRC32 of the top levels does not match ours
    FRAME_ERR_TIME = -83  # an event time outside 0..MAX_EVENT_TIME_MS (no int64 in ns): malformed

# The last millisecond whose time in nanoseconds fits int64 (the year 2262); a macro, since
# a C enum holds only int.
cdef extern from *:
    """
    #define HFT_MAX_EVENT_TIME_MS ((int64_t)9223372036854LL)
    """
    const int64_t MAX_EVENT_TIME_MS "HFT_MAX_EVENT_TIME_MS"

# BookStream.state
cdef enum:
    STREAM_WAITING = 0  # not synchronised: frames are buffered or ignored, never applied
    STREAM_LIVE = 1


cdef class BookStream:
    """The book of one symbol on a connection and its sync state."""
    cdef readonly OrderBook book
    cdef readonly DepthDecoder decoder
    cdef readonly str instrument_id
    cdef readonly str symbol
    cdef readonly bytes key  # the routing key of its depth pushes (venue-specific, see .pyx)
    cdef readonly int state
    # Binance/Gate: `u` of the last update in the book; OKX: the last seqId.
    cdef readonly int64_t last_id
    cdef readonly bint straddle  # Gate: the next update may straddle last_id + 1
    cdef readonly int64_t applied  # frames that changed the book
    cdef Grid _price_grid
    cdef Grid _qty_grid

    cdef void c_go_live(self, int64_t last_id, bint straddle) noexcept nogil
    cdef void c_wait(self) noexcept nogil


cdef class FrameHandler:
    """Frames of one connection (see frame_handler.pyx); subclassed per venue."""
    cdef list _streams  # of BookStream, index = position in the constructor's list
    cdef public object on_book  # callable(instrument_id, book, timestamp_ns) or None
    cdef readonly Py_ssize_t last_index  # stream of the last frame; -1 when none is known
    cdef readonly int last_status
    cdef readonly int64_t frames
    cdef readonly int64_t skipped
    cdef object _error  # the exception on_book raised (FRAME_CALLBACK_ERROR), until taken
    # open-addressing table of the streams' keys: slot -> stream index + 1 (0 = empty); the
    # key bytes stay owned by the streams, these arrays only point into them
    cdef Py_ssize_t* _slots
    cdef uint64_t _mask
    cdef const char** _key_ptrs
    cdef Py_ssize_t* _key_lens
    cdef Py_ssize_t _count

    cdef Py_ssize_t _lookup(self, const unsigned char* key, Py_ssize_t n) noexcept nogil
    # the venue's parts: where a frame goes (a depth_decode ROUTE_* code and the key span) and
    # what a decoded depth frame does to its stream (a FRAME_* status)
    cdef int _route(self, const unsigned char* p, Py_ssize_t n, Py_ssize_t* key_off,
                    Py_ssize_t* key_len) noexcept nogil
    cdef int _rule(self, BookStream s, int64_t recv_ns, bint publish) noexcept
    cdef void _insert(self, Py_ssize_t index) noexcept nogil
    cdef int _applied(self, BookStream s, int64_t exchange_ns, int64_t recv_ns,
                      bint publish) noexcept
    cdef int _fail(self, BookStream s, int status) noexcept
    cdef int _decoded(self, BookStream s, const unsigned char* p, Py_ssize_t n) noexcept
    cdef int c_frame(self, const unsigned char* p, Py_ssize_t n, int64_t recv_ns) noexcept
    cdef int c_replay(self, BookStream s, const unsigned char* p, Py_ssize_t n,
                      int64_t recv_ns) noexcept


cdef class BinanceFrameHandler(FrameHandler):
    pass


cdef class OkxFrameHandler(FrameHandler):
    cdef readonly bint verify_checksum
    cdef readonly int64_t checksums_checked
    cdef readonly int64_t last_checksum_ours  # of the last mismatch, for the log line

    cdef int _checksum_ok(self, BookStream s, int64_t expected) noexcept nogil


cdef class GateFrameHandler(FrameHandler):
    pass


# CRC32 (IEEE, as zlib) of OKX's checksum string for the top `depth` levels of `book`,
# prices and sizes written as OKX prints them (no trailing zeros), as a signed int32.
# ERR: -1 << 40 if a level cannot be formatted (never for a book on the grids given).
cdef int64_t okx_book_checksum(OrderBook book, Grid price_grid, Grid qty_grid,
                               int depth) noexcept nogil
