# L2 order book contract: prices in ticks, sizes in lots, both int64, in preallocated memory.
# Cython callers (feed decoders, strategies) use the c_* methods (status codes, no Python, no
# GIL); Python callers use the validating, raising methods of book.pyx. Reference semantics:
# engine/data/book_ref.py.
cimport cython
from libc.stdint cimport int64_t, uint64_t

cdef extern from *:
    """
    #include <stdint.h>
    /* Spread of a book with an empty side; a real spread is ask - bid, any other value. */
    #define HFT_BOOK_NO_SPREAD INT64_MIN
    /* Prices are capped at 2**62 - 1 so that bid + ask (mid_x2) can never overflow int64. */
    #define HFT_BOOK_MAX_PRICE ((int64_t)4611686018427387903LL)
    """
    const int64_t BOOK_NO_SPREAD "HFT_BOOK_NO_SPREAD"
    const int64_t BOOK_MAX_PRICE "HFT_BOOK_MAX_PRICE"

# Sides index the per-side arrays of OrderBook directly.
cdef enum:
    BOOK_BID = 0
    BOOK_ASK = 1

# Best price of an empty side and mid_x2 of a book with an empty side: real prices are > 0.
cdef enum:
    BOOK_NO_PRICE = 0

# Status of an update. Non-negative: applied or harmlessly ignored; negative: rejected, and
# the book is untouched. BOOK_CROSSED wins over the other non-negative codes because it is
# the one a caller must act on (resynchronise).
cdef enum:
    BOOK_OK = 0
    BOOK_ABSENT = 1  # delete (size 0) of a price not in the book: nothing to do
    BOOK_DROPPED = 2  # insert worse than every kept level on a full side: not kept
    BOOK_EVICTED = 3  # insert on a full side: kept, the worst level was pushed out
    BOOK_CROSSED = 4  # applied, and now best bid >= best ask (crossed or locked)

    # fixedpoint owns -1..-15 (ERR_OVERFLOW = -3 is reused by depth/vwap), position -16..-18
    BOOK_ERR_SIDE = -32
    BOOK_ERR_PRICE = -33  # price <= 0 or > BOOK_MAX_PRICE
    BOOK_ERR_SIZE = -34  # size (or quantity) < 0
    BOOK_ERR_COUNT = -35  # a count outside 0..capacity, or a full UpdateBuffer


# The top of a book in one read (C callers: strategy, risk). A missing side reads
# BOOK_NO_PRICE and size 0.
cdef struct BookTop:
    int64_t bid_price
    int64_t bid_size
    int64_t ask_price
    int64_t ask_size


# A sorted run of levels: `count` valid rows at the front of `prices`/`sizes`, best first
# (bids descending, asks ascending), prices unique. Rows at index >= count are never read.
cdef struct BookSide:
    int64_t* prices
    int64_t* sizes
    Py_ssize_t count


# The window of one side: `sizes[price - base]` for every price inside [base, base + window),
# 0 where there is no level, with one occupancy bit per slot so that the next level is found
# a word (64 ticks) at a time.
cdef struct Ladder:
    int64_t* sizes
    uint64_t* bits
    Py_ssize_t count  # levels in the window
    int64_t best  # best price in the window; BOOK_NO_PRICE when count == 0


# Walks one side's levels best first (c_first, then c_next until it returns False).
cdef struct LevelCursor:
    int side
    int region  # 0 through (better than the window), 1 window, 2 far (worse), 3 done
    Py_ssize_t i  # row in a sorted run, or slot in the window


@cython.final
cdef class UpdateBuffer:
    """Level updates of one venue message, filled by a decoder and applied in one call."""
    cdef int64_t* bid_prices
    cdef int64_t* bid_sizes
    cdef int64_t* ask_prices
    cdef int64_t* ask_sizes
    cdef readonly Py_ssize_t capacity  # rows per side
    cdef readonly Py_ssize_t bid_count
    cdef readonly Py_ssize_t ask_count

    # Validates like OrderBook.c_set_level so a full buffer or a bad value is caught while
    # the decoder still knows which field it came from.
    cdef inline int c_push(self, int side, int64_t price, int64_t size) noexcept nogil:
        if price <= 0 or price > BOOK_MAX_PRICE:
            return BOOK_ERR_PRICE
        if size < 0:
            return BOOK_ERR_SIZE
        if side == BOOK_BID:
            if self.bid_count >= self.capacity:
                return BOOK_ERR_COUNT
            self.bid_prices[self.bid_count] = price
            self.bid_sizes[self.bid_count] = size
            self.bid_count += 1
        elif side == BOOK_ASK:
            if self.ask_count >= self.capacity:
                return BOOK_ERR_COUNT
            self.ask_prices[self.ask_count] = price
            self.ask_sizes[self.ask_count] = size
            self.ask_count += 1
        else:
            return BOOK_ERR_SIDE
        return BOOK_OK

    cdef inline void c_reset(self) noexcept nogil:
        self.bid_count = 0
        self.ask_count = 0


@cython.final
cdef class OrderBook:
    """L2 book of one instrument, at most `capacity` levels per side (see book.pyx)."""
    # Per side: the window (price-indexed), and the exact sorted runs of levels outside it.
    cdef Ladder _win[2]
    cdef BookSide _through[2]  # better than the window (the price walked past it)
    cdef BookSide _far[2]  # worse than the window
    cdef readonly int64_t base  # price of window slot 0, shared by both sides
    cdef readonly Py_ssize_t window  # slots per side, a power of two
    cdef Py_ssize_t _words  # window // 64
    cdef bint _placed  # the window has a base (set by the first level or a snapshot)
    cdef readonly Py_ssize_t capacity
    cdef readonly int64_t updates  # level updates processed (set_level calls + batch rows)
    cdef readonly int64_t crossed_count  # updates/batches that left best bid >= best ask
    cdef readonly int64_t dropped_levels  # inserts dropped + levels evicted on a full side
    cdef readonly int64_t recenters  # times the window moved to the mid
    cdef readonly bint crossed  # latched until clear()/load_snapshot()
    # Of the frame that last changed the book: the venue's event time and our receive time
    # (ns since the epoch, 0 until stamped), so receive -> book -> strategy can be measured.
    cdef readonly int64_t exchange_ts_ns
    cdef readonly int64_t recv_ts_ns
    cdef void* _memory  # one block behind every array above; owned
    cdef int64_t* _spare  # 4 * capacity rows inside _memory: both sides, while recentring
    cdef tuple _scratch  # numpy arrays that top_view() fills: bid px, bid sz, ask px, ask sz
    cdef tuple _views  # read-only views of _scratch
    # top() hands out the same tuple while the top is unchanged: every reader of one update
    # (strategy, risk, a monitor) shares one allocation
    cdef BookTop _top_seen
    cdef tuple _top_tuple

    cdef inline int64_t c_best_price(self, int side) noexcept nogil:
        # side must be BOOK_BID or BOOK_ASK: C callers are trusted, Python goes through checks
        if self._through[side].count:
            return self._through[side].prices[0]
        if self._win[side].count:
            return self._win[side].best
        if self._far[side].count:
            return self._far[side].prices[0]
        return BOOK_NO_PRICE

    cdef inline int64_t c_best_size(self, int side) noexcept nogil:
        if self._through[side].count:
            return self._through[side].sizes[0]
        if self._win[side].count:
            return self._win[side].sizes[self._win[side].best - self.base]
        if self._far[side].count:
            return self._far[side].sizes[0]
        return 0

    cdef inline Py_ssize_t c_count(self, int side) noexcept nogil:
        return self._through[side].count + self._win[side].count + self._far[side].count

    cdef inline void c_top(self, BookTop* out) noexcept nogil:
        out.bid_price = self.c_best_price(BOOK_BID)
        out.bid_size = self.c_best_size(BOOK_BID)
        out.ask_price = self.c_best_price(BOOK_ASK)
        out.ask_size = self.c_best_size(BOOK_ASK)

    cdef inline void c_stamp(self, int64_t exchange_ts_ns, int64_t recv_ts_ns) noexcept nogil:
        self.exchange_ts_ns = exchange_ts_ns
        self.recv_ts_ns = recv_ts_ns

    # Levels best first: c_first(&cur, side), then c_next(&cur, &price, &size) until False.
    # O(levels read + empty 64-tick words skipped in the window). The book must not change
    # during a walk.
    cdef void c_first(self, LevelCursor* cur, int side) noexcept nogil
    cdef bint c_next(self, LevelCursor* cur, int64_t* price, int64_t* size) noexcept nogil

    cdef int c_set_level(self, int side, int64_t price, int64_t size) noexcept nogil
    cdef void c_clear(self) noexcept nogil
    # All rows are validated before any is applied: a negative status leaves the book as it
    # was. Bids are applied first, then asks, each in array order (a repeated price: last
    # wins); the crossed check runs once, on the result.
    cdef int c_apply_arrays(self, const int64_t* bid_prices, const int64_t* bid_sizes,
                            Py_ssize_t n_bids, const int64_t* ask_prices,
                            const int64_t* ask_sizes, Py_ssize_t n_asks) noexcept nogil
    cdef int c_apply(self, UpdateBuffer buf) noexcept nogil
    cdef int c_load_snapshot(self, UpdateBuffer buf) noexcept nogil
    # True when the window should move to the mid: the price walked past it, or the mid is
    # more than a quarter window from its centre. c_recenter moves it (O(levels + window/64));
    # no observable of the book changes. Call it off the per-frame path.
    cdef bint c_recenter_wanted(self) noexcept nogil
    cdef void c_recenter(self) noexcept nogil

    cdef int64_t c_spread(self) noexcept nogil  # BOOK_NO_SPREAD if a side is empty
    cdef int64_t c_mid_x2(self) noexcept nogil  # bid + ask; BOOK_NO_PRICE if a side is empty
    cdef double c_microprice(self) noexcept nogil  # NaN if a side is empty
    cdef double c_imbalance(self, Py_ssize_t n) noexcept nogil  # NaN if both top-n are empty
    # n is clamped to 0..count. ERR_OVERFLOW if the sum does not fit int64.
    cdef int c_depth(self, int side, Py_ssize_t n, int64_t* out) noexcept nogil
    # Walks `side` from the best level until qty lots are taken or the side ends:
    # notional = sum(price * lots taken), filled <= qty. ERR_OVERFLOW, BOOK_ERR_SIZE (qty < 0).
    cdef int c_vwap(self, int side, int64_t qty, int64_t* notional,
                    int64_t* filled) noexcept nogil
