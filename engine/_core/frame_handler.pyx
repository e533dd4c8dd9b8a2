"""Per-connection frame handlers: one call per frame, from the socket's buffer to on_book.

`c_frame(ptr, n, recv_ns)` (Cython callers: the picows listener of engine/gateway) or
`on_frame(frame, recv_ns)` (Python callers, tests, benchmarks) does, with no Python object
created on the way:

  route    which stream of this connection the frame is for, from its first bytes
           (depth_decode's binance_route / okx_route / gate_route and a hash table of keys)
  decode   the stream's own decoder (its grids), into its UpdateBuffer
  sequence the venue's rule against the stream's last id (and OKX's checksum)
  apply    to the stream's OrderBook, then stamp the book with the exchange and receive time
  publish  on_book(instrument_id, book, exchange_ts_ns)

and returns a FRAME_* status (frame_handler.pxd). OK and SKIPPED need nothing further; any
other status is for the caller's slow path: keep a frame while syncing (BUFFER), mark a book
ready (SNAPSHOT), parse a trade or an ack (OTHER), log a handler error (CALLBACK_ERROR), or
resynchronise after a gap, a crossed book, a bad checksum or a malformed frame (negative,
an event time with no int64 value in ns included: the stream is already back to WAITING,
so nothing more is applied to it until the caller's sync machine brings it live again with
go_live).

The venue rules (docs/VENUES.md §1.4, §2.4, §3.4 have the venues' own words):
- Binance: while WAITING every decoded diff is BUFFER; live, `u <= last` is SKIPPED,
  `U > last + 1` is a gap, otherwise the diff applies and last = u.
- OKX: a snapshot replaces the book and makes the stream live (SNAPSHOT); updates while
  WAITING are SKIPPED; prevSeqId must equal the last seqId; an update with no levels is a
  heartbeat (SKIPPED, the seqId still advances); a non-zero checksum must match ours.
- Gate: `full: true` replaces the book (SNAPSHOT); while WAITING order_book_update pushes are
  BUFFER and obu increments SKIPPED; live, `u < last + 1` is SKIPPED, and U must equal
  last + 1 (or, right after a REST snapshot, straddle it: U <= last + 1).

Reference semantics: engine/data/frames_ref.py (differential tests in
tests/test_frame_handler.py).
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.string cimport memcmp

from engine._core.book cimport (
    BOOK_ASK,
    BOOK_BID,
    BOOK_CROSSED,
    LevelCursor,
    OrderBook,
    UpdateBuffer,
)
from engine._core.depth_decode cimport (
    GATE_OBU,
    OKX_SNAPSHOT,
    ROUTE_DEPTH,
    DepthDecoder,
    GateDepthDecoder,
    OkxBooksDecoder,
    binance_route,
    gate_route,
    okx_route,
)
from engine._core.fixedpoint cimport Grid, as_int64, format_units

OK = FRAME_OK
SKIPPED = FRAME_SKIPPED
BUFFER = FRAME_BUFFER
SNAPSHOT = FRAME_SNAPSHOT
OTHER = FRAME_OTHER
CALLBACK_ERROR = FRAME_CALLBACK_ERROR
ERR_GAP = FRAME_ERR_GAP
ERR_CROSSED = FRAME_ERR_CROSSED
ERR_CHECKSUM = FRAME_ERR_CHECKSUM
ERR_TIME = FRAME_ERR_TIME
WAITING = STREAM_WAITING
LIVE = STREAM_LIVE

cdef int64_t NS_PER_MS = 1000000
cdef int CHECKSUM_DEPTH = 25  # levels per side in OKX's legacy checksum


# ------------------------------------------------------------------------------ CRC32 (IEEE)

cdef uint32_t _CRC_TABLE[256]


cdef void _crc_init() noexcept nogil:
    cdef uint32_t c
    cdef int i
    cdef int _
    for i in range(256):
        c = <uint32_t>i
        for _ in range(8):
            c = (c >> 1) ^ (0xEDB88320u if c & 1u else 0u)
        _CRC_TABLE[i] = c


_crc_init()


cdef inline uint32_t _crc(uint32_t crc, const char* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        crc = _CRC_TABLE[(crc ^ <unsigned char>p[i]) & 0xFFu] ^ (crc >> 8)
    return crc


cdef inline Py_ssize_t _okx_number(int64_t units, Grid grid, char* out) noexcept nogil:
    """`units` on `grid` as OKX prints it: no trailing zeros, no trailing point."""
    cdef Py_ssize_t n = format_units(units, grid.step_mantissa, grid.exp, grid.exp, out, 64)
    if n <= 0:
        return -1
    if grid.exp > 0:
        while n > 1 and out[n - 1] == 48:  # '0'
            n -= 1
        if out[n - 1] == 46:  # '.'
            n -= 1
    return n


cdef int64_t okx_book_checksum(OrderBook book, Grid price_grid, Grid qty_grid,
                               int depth) noexcept nogil:
    cdef char text[64]
    cdef uint32_t crc = 0xFFFFFFFFu
    cdef bint first = True
    cdef int64_t price = 0
    cdef int64_t size = 0
    cdef Py_ssize_t n
    cdef Py_ssize_t _
    cdef int side
    cdef LevelCursor cursors[2]
    cdef bint more[2]
    book.c_first(&cursors[BOOK_BID], BOOK_BID)
    book.c_first(&cursors[BOOK_ASK], BOOK_ASK)
    more[0] = more[1] = True
    for _ in range(depth):
        for side in range(2):  # bid then ask, level by level
            if not more[side]:
                continue
            more[side] = book.c_next(&cursors[side], &price, &size)
            if not more[side]:
                continue
            if not first:
                crc = _crc(crc, ":", 1)
            first = False
            n = _okx_number(price, price_grid, text)
            if n < 0:
                return -(1 << 40)
            crc = _crc(crc, text, n)
            crc = _crc(crc, ":", 1)
            n = _okx_number(size, qty_grid, text)
            if n < 0:
                return -(1 << 40)
            crc = _crc(crc, text, n)
    return <int32_t>(crc ^ 0xFFFFFFFFu)


def okx_checksum(OrderBook book not None, Grid price_grid not None, Grid qty_grid not None,
                 int depth=CHECKSUM_DEPTH):
    """OKX's CRC32 (signed int32) of the top `depth` levels of `book`."""
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    return okx_book_checksum(book, price_grid, qty_grid, depth)


# ------------------------------------------------------------------------------ streams

@cython.final
@cython.auto_pickle(False)
cdef class BookStream:
    """The book of one symbol on a connection, its decoder and its sync state.

    A new stream is WAITING: nothing is applied to its book until the caller's sync machine
    loads a snapshot and calls go_live (or a frame that carries a whole book arrives).
    """

    def __cinit__(self, instrument, DepthDecoder decoder not None, OrderBook book not None,
                  bytes key not None):
        if len(key) == 0:
            raise ValueError("a stream's routing key cannot be empty")
        self.book = book
        self.decoder = decoder
        self.instrument_id = instrument.instrument_id
        self.symbol = instrument.symbol
        self._price_grid = instrument.price_grid
        self._qty_grid = instrument.qty_grid
        self.key = key
        self.state = STREAM_WAITING

    cdef void c_go_live(self, int64_t last_id, bint straddle) noexcept nogil:
        self.state = STREAM_LIVE
        self.last_id = last_id
        self.straddle = straddle

    cdef void c_wait(self) noexcept nogil:
        self.state = STREAM_WAITING
        self.straddle = False

    @property
    def live(self):
        return self.state == STREAM_LIVE

    def begin_sync(self):
        """Back to WAITING: frames are buffered or ignored until go_live."""
        self.c_wait()

    def load_snapshot(self):
        """Load the snapshot the decoder just decoded into the book (state unchanged);
        the book's status (OK or CROSSED)."""
        return self.book.load_snapshot(self.decoder.buffer)

    def go_live(self, int64_t last_id, bint straddle=False):
        """The book holds everything up to `last_id`: apply frames from here on."""
        self.c_go_live(last_id, straddle)

    def __repr__(self):
        state = "live" if self.state == STREAM_LIVE else "waiting"
        return f"BookStream({self.instrument_id}, {state}, last_id={self.last_id})"


# ------------------------------------------------------------------------------ handlers

cdef inline uint64_t _hash(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    # FNV-1a: keys are short ASCII names; one multiply per byte
    cdef uint64_t h = 1469598103934665603ULL
    cdef Py_ssize_t i
    for i in range(n):
        h = (h ^ p[i]) * 1099511628211ULL
    return h


cdef inline int _frame_buffer(object frame, Py_buffer* view) except -1:
    PyObject_GetBuffer(frame, view, PyBUF_SIMPLE)
    return 0


@cython.auto_pickle(False)
cdef class FrameHandler:
    """The depth frames of one connection, for any number of symbols (see module docstring).

    Not used directly: BinanceFrameHandler, OkxFrameHandler and GateFrameHandler supply the
    venue's routing and rule.
    """

    def __cinit__(self, streams, on_book=None, *args, **kwargs):
        cdef Py_ssize_t n
        cdef Py_ssize_t size = 8
        cdef Py_ssize_t i
        cdef BookStream s
        if type(self) is FrameHandler:
            raise TypeError("FrameHandler is abstract: use a venue's handler")
        self._streams = list(streams)
        n = len(self._streams)
        while size < 2 * n:
            size *= 2
        self._mask = <uint64_t>(size - 1)
        self._slots = <Py_ssize_t*>PyMem_Malloc(size * sizeof(Py_ssize_t))
        self._key_ptrs = <const char**>PyMem_Malloc((n + 1) * sizeof(char*))
        self._key_lens = <Py_ssize_t*>PyMem_Malloc((n + 1) * sizeof(Py_ssize_t))
        if self._slots == NULL or self._key_ptrs == NULL or self._key_lens == NULL:
            raise MemoryError()
        for i in range(size):
            self._slots[i] = 0
        for i in range(n):
            s = self._streams[i]
            if not isinstance(s, BookStream):
                raise TypeError(f"streams[{i}] is {type(s).__name__}, not a BookStream")
            if self._lookup(<const unsigned char*>PyBytes_AS_STRING(s.key),
                            PyBytes_GET_SIZE(s.key)) >= 0:
                raise ValueError(f"two streams share the routing key {s.key!r}")
            self._key_ptrs[i] = PyBytes_AS_STRING(s.key)
            self._key_lens[i] = PyBytes_GET_SIZE(s.key)
            self._count = i + 1
            self._insert(i)
        self.on_book = on_book
        self.last_index = -1

    def __dealloc__(self):
        PyMem_Free(self._slots)
        PyMem_Free(<void*>self._key_ptrs)
        PyMem_Free(self._key_lens)

    cdef void _insert(self, Py_ssize_t index) noexcept nogil:
        cdef uint64_t h = _hash(<const unsigned char*>self._key_ptrs[index],
                                self._key_lens[index]) & self._mask
        while self._slots[h] != 0:
            h = (h + 1) & self._mask
        self._slots[h] = index + 1

    cdef Py_ssize_t _lookup(self, const unsigned char* key, Py_ssize_t n) noexcept nogil:
        cdef uint64_t h = _hash(key, n) & self._mask
        cdef Py_ssize_t i
        while True:
            i = self._slots[h] - 1
            if i < 0:
                return -1
            if self._key_lens[i] == n and memcmp(self._key_ptrs[i], key, <size_t>n) == 0:
                return i
            h = (h + 1) & self._mask

    cdef int _route(self, const unsigned char* p, Py_ssize_t n, Py_ssize_t* key_off,
                    Py_ssize_t* key_len) noexcept nogil:
        return 0

    cdef int _rule(self, BookStream s, int64_t recv_ns, bint publish) noexcept:
        return FRAME_OTHER

    cdef int _applied(self, BookStream s, int64_t exchange_ns, int64_t recv_ns,
                      bint publish) noexcept:
        """The frame changed the book: stamp it, count it, and (live frames) tell on_book;
        then, off the frame -> strategy path, move the book's window if the price walked."""
        cdef int status = FRAME_OK
        s.book.c_stamp(exchange_ns, recv_ns)
        s.applied += 1
        if publish and self.on_book is not None:
            try:
                self.on_book(s.instrument_id, s.book, exchange_ns)
            except BaseException as exc:  # even an interrupt: kept for the caller, not lost in C
                self._error = exc
                status = FRAME_CALLBACK_ERROR
        if s.book.c_recenter_wanted():
            s.book.c_recenter()
        return status

    cdef int _fail(self, BookStream s, int status) noexcept:
        s.c_wait()
        return status

    cdef int _decoded(self, BookStream s, const unsigned char* p, Py_ssize_t n) noexcept:
        """Decode into the stream's decoder; a decoder error, or an event time whose ns would
        not fit int64, fails the stream (nothing is applied)."""
        cdef int status = s.decoder.c_decode(p, n)
        if status < 0:
            return self._fail(s, status)
        if s.decoder.event_time_ms < 0 or s.decoder.event_time_ms > MAX_EVENT_TIME_MS:
            return self._fail(s, FRAME_ERR_TIME)
        return status

    cdef int c_frame(self, const unsigned char* p, Py_ssize_t n, int64_t recv_ns) noexcept:
        cdef Py_ssize_t off = 0
        cdef Py_ssize_t length = 0
        cdef Py_ssize_t i = -1
        cdef int status
        cdef BookStream s
        self.frames += 1
        if self._route(p, n, &off, &length) == ROUTE_DEPTH:
            i = self._lookup(p + off, length)
        self.last_index = i
        if i < 0:
            self.last_status = FRAME_OTHER
            return FRAME_OTHER
        s = <BookStream>self._streams[i]
        status = self._decoded(s, p, n)
        if status >= 0:
            status = self._rule(s, recv_ns, True)
        if status == FRAME_SKIPPED:
            self.skipped += 1
        self.last_status = status
        return status

    cdef int c_replay(self, BookStream s, const unsigned char* p, Py_ssize_t n,
                      int64_t recv_ns) noexcept:
        cdef int status = self._decoded(s, p, n)
        if status < 0:
            return status
        return self._rule(s, recv_ns, False)

    # ------------------------------------------------------------------ Python API

    @property
    def streams(self):
        return list(self._streams)

    def __len__(self):
        return len(self._streams)

    def stream(self, Py_ssize_t index):
        if index < 0 or index >= len(self._streams):
            raise IndexError(f"stream index {index} outside 0..{len(self._streams) - 1}")
        return self._streams[index]

    def index_of(self, bytes key not None):
        """The index of the stream routed by `key`, or -1."""
        return self._lookup(<const unsigned char*>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key))

    def on_frame(self, frame, recv_ns):
        """Handle one received frame (any contiguous buffer, read in place, not kept)."""
        cdef Py_buffer view
        cdef int status
        cdef int64_t t = as_int64(recv_ns, "recv_ns")  # an int: a float would be truncated
        if PyBytes_CheckExact(frame):
            return self.c_frame(<const unsigned char*>PyBytes_AS_STRING(frame),
                                PyBytes_GET_SIZE(frame), t)
        _frame_buffer(frame, &view)
        status = self.c_frame(<const unsigned char*>view.buf, view.len, t)
        PyBuffer_Release(&view)
        return status

    def replay(self, Py_ssize_t index, frame, recv_ns):
        """Apply a frame kept while syncing to the (now live) stream `index`, without
        on_book; the same statuses as on_frame."""
        cdef int64_t t = as_int64(recv_ns, "recv_ns")
        cdef BookStream s = self.stream(index)
        cdef Py_buffer view
        cdef int status
        _frame_buffer(frame, &view)
        status = self.c_replay(s, <const unsigned char*>view.buf, view.len, t)
        PyBuffer_Release(&view)
        return status

    def publish(self, Py_ssize_t index):
        """Call on_book for stream `index` now (after a sync: ready first, then the book)."""
        cdef BookStream s = self.stream(index)
        if self.on_book is None:
            return FRAME_OK
        try:
            self.on_book(s.instrument_id, s.book, s.book.exchange_ts_ns)
        except BaseException as exc:  # even an interrupt: kept for the caller, not lost in C
            self._error = exc
            return FRAME_CALLBACK_ERROR
        return FRAME_OK

    def take_error(self):
        """The exception on_book raised (after CALLBACK_ERROR), once; else None."""
        error, self._error = self._error, None
        return error

    def __repr__(self):
        return (
            f"{type(self).__name__}(streams={len(self._streams)}, frames={self.frames}, "
            f"last_status={self.last_status})"
        )


@cython.final
@cython.auto_pickle(False)
cdef class BinanceFrameHandler(FrameHandler):
    """Binance combined streams (`/stream?streams=...`): a stream's key is its depth stream
    name, e.g. b"btcusdt@depth@100ms"."""

    def __init__(self, streams, on_book=None):
        pass  # __cinit__ did the work; this signature refuses unknown arguments

    cdef int _route(self, const unsigned char* p, Py_ssize_t n, Py_ssize_t* key_off,
                    Py_ssize_t* key_len) noexcept nogil:
        return binance_route(p, n, key_off, key_len)

    cdef int _rule(self, BookStream s, int64_t recv_ns, bint publish) noexcept:
        cdef DepthDecoder d = s.decoder
        if s.state != STREAM_LIVE:
            return FRAME_BUFFER
        if d.last_update_id <= s.last_id:
            return FRAME_SKIPPED
        if d.first_update_id > s.last_id + 1:
            return self._fail(s, FRAME_ERR_GAP)
        if s.book.c_apply(d.buffer) == BOOK_CROSSED:
            return self._fail(s, FRAME_ERR_CROSSED)
        s.last_id = d.last_update_id
        return self._applied(s, d.event_time_ms * NS_PER_MS, recv_ns, publish)


@cython.final
@cython.auto_pickle(False)
cdef class OkxFrameHandler(FrameHandler):
    """OKX `books` / `books-l2-tbt` on one public connection: a stream's key is the frame's
    prefix through its instId, e.g. b'{"arg":{"channel":"books","instId":"BTC-USDT"'."""

    def __init__(self, streams, on_book=None, *, bint verify_checksum=True):
        cdef BookStream s
        for s in self._streams:
            if not isinstance(s.decoder, OkxBooksDecoder):
                raise TypeError(f"{s.instrument_id}: an OKX stream needs an OkxBooksDecoder")
        self.verify_checksum = verify_checksum

    cdef int _route(self, const unsigned char* p, Py_ssize_t n, Py_ssize_t* key_off,
                    Py_ssize_t* key_len) noexcept nogil:
        return okx_route(p, n, key_off, key_len)

    cdef int _checksum_ok(self, BookStream s, int64_t expected) noexcept nogil:
        cdef int64_t ours
        if expected == 0 or not self.verify_checksum:
            return True  # 0: not sent (OKX deprecated it)
        self.checksums_checked += 1
        ours = okx_book_checksum(s.book, s._price_grid, s._qty_grid, CHECKSUM_DEPTH)
        if ours == expected:
            return True
        self.last_checksum_ours = ours
        return False

    cdef int _rule(self, BookStream s, int64_t recv_ns, bint publish) noexcept:
        cdef OkxBooksDecoder d = <OkxBooksDecoder>s.decoder
        cdef UpdateBuffer buf = d.buffer
        cdef bint changed
        if d.action == OKX_SNAPSHOT:
            if s.book.c_load_snapshot(buf) == BOOK_CROSSED:
                return self._fail(s, FRAME_ERR_CROSSED)
            if not self._checksum_ok(s, d.checksum):
                return self._fail(s, FRAME_ERR_CHECKSUM)
            s.c_go_live(d.seq_id, False)
            s.book.c_stamp(d.event_time_ms * NS_PER_MS, recv_ns)
            s.applied += 1
            return FRAME_SNAPSHOT
        if s.state != STREAM_LIVE:
            return FRAME_SKIPPED  # before the snapshot, or the tail of a left subscription
        if d.prev_seq_id != s.last_id:
            return self._fail(s, FRAME_ERR_GAP)
        changed = buf.bid_count + buf.ask_count > 0
        if changed and s.book.c_apply(buf) == BOOK_CROSSED:
            return self._fail(s, FRAME_ERR_CROSSED)
        if not self._checksum_ok(s, d.checksum):
            return self._fail(s, FRAME_ERR_CHECKSUM)
        s.last_id = d.seq_id
        if not changed:
            return FRAME_SKIPPED  # a heartbeat
        return self._applied(s, d.event_time_ms * NS_PER_MS, recv_ns, publish)


@cython.final
@cython.auto_pickle(False)
cdef class GateFrameHandler(FrameHandler):
    """Gate `spot.order_book_update` or `spot.obu`: a stream's key is what the pushes carry
    in result.s: the currency pair for order_book_update (b"BTC_USDT"), the stream name for
    obu (b"ob.BTC_USDT.400")."""

    def __init__(self, streams, on_book=None):
        cdef BookStream s
        for s in self._streams:
            if not isinstance(s.decoder, GateDepthDecoder):
                raise TypeError(f"{s.instrument_id}: a Gate stream needs a GateDepthDecoder")

    cdef int _route(self, const unsigned char* p, Py_ssize_t n, Py_ssize_t* key_off,
                    Py_ssize_t* key_len) noexcept nogil:
        return gate_route(p, n, key_off, key_len)

    cdef int _rule(self, BookStream s, int64_t recv_ns, bint publish) noexcept:
        cdef GateDepthDecoder d = <GateDepthDecoder>s.decoder
        cdef int64_t expected
        cdef bint in_sequence
        if d.full:
            if s.book.c_load_snapshot(d.buffer) == BOOK_CROSSED:
                return self._fail(s, FRAME_ERR_CROSSED)
            s.c_go_live(d.last_update_id, False)
            s.book.c_stamp(d.event_time_ms * NS_PER_MS, recv_ns)
            s.applied += 1
            return FRAME_SNAPSHOT
        if s.state != STREAM_LIVE:
            # obu increments before the full push of a subscription mean nothing
            return FRAME_SKIPPED if d.channel == GATE_OBU else FRAME_BUFFER
        if d.last_update_id <= s.last_id:
            return FRAME_SKIPPED
        expected = s.last_id + 1  # cannot overflow: last_id < u <= INT64_MAX
        if s.straddle:
            in_sequence = d.first_update_id <= expected
        else:
            in_sequence = d.first_update_id == expected
        if not in_sequence:
            return self._fail(s, FRAME_ERR_GAP)
        if s.book.c_apply(d.buffer) == BOOK_CROSSED:
            return self._fail(s, FRAME_ERR_CROSSED)
        s.last_id = d.last_update_id
        s.straddle = False
        return self._applied(s, d.event_time_ms * NS_PER_MS, recv_ns, publish)
