"""L2 order book over preallocated int64 arrays (reference: engine/data/book_ref.py).

Each side keeps at most `capacity` levels in a contiguous array sorted best first (bids
descending, asks ascending), so the best level is row 0. An update finds its row by binary
search and shifts the rows below it with memmove; venue updates land near the top, where the
shift is short. Nothing is allocated per update.

A venue's book is deeper than the one kept here. On a full side, an insert worse than every
kept level is dropped and an insert better than the worst level pushes the worst level out;
both count in `dropped_levels`. The kept top stays exact, but once levels near the bottom
have been dropped and later ones above them are deleted, the bottom rows may miss levels the
venue still has: size `capacity` well above the depth the strategy reads, and let periodic
snapshots refill the tail.

After every update (one set_level, or one whole batch) the book checks best bid < best ask
when both sides exist. If not, the update returns BOOK_CROSSED, `crossed_count` grows and the
`crossed` flag is set and stays set until clear() or load_snapshot(): a crossed or locked
book means a message was missed or reordered, and a later update that happens to uncross the
top does not prove the rest is right.

Float results (mid, microprice, imbalance) are signals for quoting decisions, never money;
money-exact reads are integers (spread, mid_x2 in ticks * 2, depth, vwap notional).
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.math cimport NAN
from libc.stdint cimport int64_t
from libc.string cimport memmove

from engine._core.fixedpoint cimport (
    ERR_OVERFLOW,
    FP_OK,
    as_int64,
    checked_add_i64,
    checked_mul_i64,
    int128,
)

import numpy as np

from engine._core.fixedpoint import FixedPointOverflowError

BID = BOOK_BID
ASK = BOOK_ASK
NO_PRICE = BOOK_NO_PRICE
NO_SPREAD = BOOK_NO_SPREAD
MAX_PRICE = BOOK_MAX_PRICE

OK = BOOK_OK
ABSENT = BOOK_ABSENT
DROPPED = BOOK_DROPPED
EVICTED = BOOK_EVICTED
CROSSED = BOOK_CROSSED


cdef inline Py_ssize_t _row(const int64_t* prices, Py_ssize_t n, int64_t price,
                            bint descending) noexcept nogil:
    """First row whose price is not better than `price`: its row if present, else where it goes."""
    cdef Py_ssize_t lo = 0
    cdef Py_ssize_t hi = n
    cdef Py_ssize_t mid
    if descending:
        while lo < hi:
            mid = (lo + hi) >> 1
            if prices[mid] > price:
                lo = mid + 1
            else:
                hi = mid
    else:
        while lo < hi:
            mid = (lo + hi) >> 1
            if prices[mid] < price:
                lo = mid + 1
            else:
                hi = mid
    return lo


cdef inline int _update(BookSide* s, bint descending, Py_ssize_t capacity, int64_t price,
                        int64_t size) noexcept nogil:
    """One validated level update on one side; returns OK, ABSENT, DROPPED or EVICTED."""
    cdef Py_ssize_t n = s.count
    cdef Py_ssize_t i = _row(s.prices, n, price, descending)
    cdef int status = BOOK_OK
    cdef bint found = i < n and s.prices[i] == price
    if size == 0:
        if not found:
            return BOOK_ABSENT
        memmove(&s.prices[i], &s.prices[i + 1], <size_t>(n - i - 1) * sizeof(int64_t))
        memmove(&s.sizes[i], &s.sizes[i + 1], <size_t>(n - i - 1) * sizeof(int64_t))
        s.count = n - 1
        return BOOK_OK
    if found:
        s.sizes[i] = size
        return BOOK_OK
    if n == capacity:
        if i == n:
            return BOOK_DROPPED
        # the worst row falls off the end: shift one row fewer
        n -= 1
        status = BOOK_EVICTED
    memmove(&s.prices[i + 1], &s.prices[i], <size_t>(n - i) * sizeof(int64_t))
    memmove(&s.sizes[i + 1], &s.sizes[i], <size_t>(n - i) * sizeof(int64_t))
    s.prices[i] = price
    s.sizes[i] = size
    s.count = n + 1
    return status


cdef inline bint _valid(int64_t price, int64_t size) noexcept nogil:
    return 0 < price <= BOOK_MAX_PRICE and size >= 0


cdef inline bint _check_crossed(OrderBook book) noexcept nogil:
    cdef BookSide* b = &book._sides[BOOK_BID]
    cdef BookSide* a = &book._sides[BOOK_ASK]
    if b.count > 0 and a.count > 0 and b.prices[0] >= a.prices[0]:
        book.crossed = True
        book.crossed_count += 1
        return True
    return False


cdef inline int128 _sum_top(const BookSide* s, Py_ssize_t n) noexcept nogil:
    # 128 bits: capacity * INT64_MAX cannot overflow it, so the float signals need no check
    cdef int128 total = 0
    cdef Py_ssize_t i
    if n > s.count:
        n = s.count
    for i in range(n):
        total += s.sizes[i]
    return total


# Python arguments go through as_int64 rather than typed C arguments: Cython's own
# conversion would truncate a float (1.5 -> 1) and accept a bool, and no float carries money.
cdef int _side_arg(object side) except -1:
    cdef int64_t s = as_int64(side, "side")
    if s != BOOK_BID and s != BOOK_ASK:
        raise ValueError(f"side must be BID (0) or ASK (1), got {s}")
    return <int>s


cdef int64_t _price_arg(object price) except -1:
    cdef int64_t p = as_int64(price, "price")
    if p <= 0 or p > BOOK_MAX_PRICE:
        raise ValueError(f"price must be in 1..{BOOK_MAX_PRICE} ticks, got {p}")
    return p


cdef int64_t _count_arg(object n, str what) except -1:
    cdef int64_t v = as_int64(n, what)
    if v < 0:
        raise ValueError(f"{what} must be >= 0, got {v}")
    return v


cdef int _raise_batch(int status) except -1:
    if status == BOOK_ERR_COUNT:
        raise ValueError("update buffer count outside 0..capacity")
    raise ValueError(
        "update buffer holds a price outside 1..MAX_PRICE or a negative size; book unchanged"
    )


cdef class UpdateBuffer:
    """Up to `capacity` bid and `capacity` ask level updates, applied by OrderBook.apply.

    Allocated once and reused: reset() between messages. Python fills it with push(); Cython
    decoders with c_push(). Entries are kept in push order (a repeated price: last wins).
    """

    def __cinit__(self, capacity):
        cdef int64_t cap = as_int64(capacity, "capacity")
        if cap < 1:
            raise ValueError(f"capacity must be >= 1, got {cap}")
        if cap > PY_SSIZE_T_MAX // <int64_t>sizeof(int64_t):
            # the byte count below would wrap, and c_push would then write past a short block
            raise MemoryError(f"capacity {cap} rows is more than memory can address")
        cdef size_t nbytes = <size_t>cap * sizeof(int64_t)
        self.bid_prices = <int64_t*>PyMem_Malloc(nbytes)
        self.bid_sizes = <int64_t*>PyMem_Malloc(nbytes)
        self.ask_prices = <int64_t*>PyMem_Malloc(nbytes)
        self.ask_sizes = <int64_t*>PyMem_Malloc(nbytes)
        if (self.bid_prices == NULL or self.bid_sizes == NULL or self.ask_prices == NULL
                or self.ask_sizes == NULL):
            raise MemoryError()
        self.capacity = cap

    def __dealloc__(self):
        PyMem_Free(self.bid_prices)
        PyMem_Free(self.bid_sizes)
        PyMem_Free(self.ask_prices)
        PyMem_Free(self.ask_sizes)

    def push(self, side, price, size):
        """Append one level update (size 0 deletes); ValueError if invalid or the side is full."""
        cdef int s = _side_arg(side)
        cdef int64_t p = _price_arg(price)
        cdef int64_t z = _count_arg(size, "size")
        if self.c_push(s, p, z) != BOOK_OK:
            raise ValueError(f"update buffer side {side} is full ({self.capacity} rows)")

    def reset(self):
        self.c_reset()

    def entries(self, side):
        """The pushed (price, size) rows of one side, in push order (slow: tests, debug)."""
        if _side_arg(side) == BOOK_BID:
            return [(self.bid_prices[i], self.bid_sizes[i]) for i in range(self.bid_count)]
        return [(self.ask_prices[i], self.ask_sizes[i]) for i in range(self.ask_count)]

    def __repr__(self):
        return (
            f"UpdateBuffer(capacity={self.capacity}, bid_count={self.bid_count}, "
            f"ask_count={self.ask_count})"
        )


cdef class OrderBook:
    """L2 book of one instrument; see the module docstring for what it guarantees.

    Python reads of the best level (best_bid_price & co.) are properties that allocate
    nothing but the returned int; writes go through UpdateBuffer + apply(), which allocates
    nothing at all.
    """

    def __cinit__(self, capacity):
        cdef int64_t[::1] view
        cdef int side
        cdef int64_t cap = as_int64(capacity, "capacity")
        if cap < 1:
            raise ValueError(f"capacity must be >= 1, got {cap}")
        self.capacity = cap
        # numpy owns the storage so that top_view() can hand out zero-copy views of it
        self._storage = tuple(np.zeros(cap, dtype=np.int64) for _ in range(4))
        views = []
        for arr in self._storage:
            v = arr.view()
            v.flags.writeable = False
            views.append(v)
        self._views = tuple(views)
        for side in range(2):
            view = self._storage[2 * side]
            self._sides[side].prices = &view[0]
            view = self._storage[2 * side + 1]
            self._sides[side].sizes = &view[0]
            self._sides[side].count = 0

    # ------------------------------------------------------------------ C API

    cdef int c_set_level(self, int side, int64_t price, int64_t size) noexcept nogil:
        cdef int status
        if side != BOOK_BID and side != BOOK_ASK:
            return BOOK_ERR_SIDE
        if price <= 0 or price > BOOK_MAX_PRICE:
            return BOOK_ERR_PRICE
        if size < 0:
            return BOOK_ERR_SIZE
        status = _update(&self._sides[side], side == BOOK_BID, self.capacity, price, size)
        self.updates += 1
        if status >= BOOK_DROPPED:
            self.dropped_levels += 1
        if _check_crossed(self):
            return BOOK_CROSSED
        return status

    cdef void c_clear(self) noexcept nogil:
        # O(1): rows past count are never read, so the arrays are left as they are
        self._sides[BOOK_BID].count = 0
        self._sides[BOOK_ASK].count = 0
        self.crossed = False

    cdef int c_apply_arrays(self, const int64_t* bid_prices, const int64_t* bid_sizes,
                            Py_ssize_t n_bids, const int64_t* ask_prices,
                            const int64_t* ask_sizes, Py_ssize_t n_asks) noexcept nogil:
        cdef Py_ssize_t i
        cdef Py_ssize_t cap = self.capacity
        cdef int64_t dropped = 0
        if n_bids < 0 or n_asks < 0:
            return BOOK_ERR_COUNT
        # validate everything first so that a bad row never leaves half a message applied
        for i in range(n_bids):
            if not _valid(bid_prices[i], bid_sizes[i]):
                return BOOK_ERR_PRICE if bid_sizes[i] >= 0 else BOOK_ERR_SIZE
        for i in range(n_asks):
            if not _valid(ask_prices[i], ask_sizes[i]):
                return BOOK_ERR_PRICE if ask_sizes[i] >= 0 else BOOK_ERR_SIZE
        for i in range(n_bids):
            if _update(&self._sides[BOOK_BID], True, cap, bid_prices[i],
                       bid_sizes[i]) >= BOOK_DROPPED:
                dropped += 1
        for i in range(n_asks):
            if _update(&self._sides[BOOK_ASK], False, cap, ask_prices[i],
                       ask_sizes[i]) >= BOOK_DROPPED:
                dropped += 1
        self.updates += n_bids + n_asks
        self.dropped_levels += dropped
        if _check_crossed(self):
            return BOOK_CROSSED
        return BOOK_OK

    cdef int c_apply(self, UpdateBuffer buf) noexcept nogil:
        # the counts are public C fields: a decoder writing them directly is checked here
        if buf.bid_count > buf.capacity or buf.ask_count > buf.capacity:
            return BOOK_ERR_COUNT
        return self.c_apply_arrays(buf.bid_prices, buf.bid_sizes, buf.bid_count,
                                   buf.ask_prices, buf.ask_sizes, buf.ask_count)

    cdef int c_load_snapshot(self, UpdateBuffer buf) noexcept nogil:
        cdef BookSide saved_bid = self._sides[BOOK_BID]
        cdef BookSide saved_ask = self._sides[BOOK_ASK]
        cdef bint saved_crossed = self.crossed
        cdef int status
        self.c_clear()
        status = self.c_apply(buf)
        if status < 0:
            # rejected before any row was written: the old levels are still in the arrays
            self._sides[BOOK_BID] = saved_bid
            self._sides[BOOK_ASK] = saved_ask
            self.crossed = saved_crossed
        return status

    cdef int64_t c_spread(self) noexcept nogil:
        if self._sides[BOOK_BID].count == 0 or self._sides[BOOK_ASK].count == 0:
            return BOOK_NO_SPREAD
        return self._sides[BOOK_ASK].prices[0] - self._sides[BOOK_BID].prices[0]

    cdef int64_t c_mid_x2(self) noexcept nogil:
        if self._sides[BOOK_BID].count == 0 or self._sides[BOOK_ASK].count == 0:
            return BOOK_NO_PRICE
        # both prices <= BOOK_MAX_PRICE = 2**62 - 1: the sum fits int64
        return self._sides[BOOK_ASK].prices[0] + self._sides[BOOK_BID].prices[0]

    cdef double c_microprice(self) noexcept nogil:
        cdef BookSide* b = &self._sides[BOOK_BID]
        cdef BookSide* a = &self._sides[BOOK_ASK]
        if b.count == 0 or a.count == 0:
            return NAN
        # the bid is weighted by the ask size: a thin ask pulls the fair price up to it.
        # Same operation order as the reference, so both round the same way.
        return (
            (<double>b.prices[0] * <double>a.sizes[0] + <double>a.prices[0] * <double>b.sizes[0])
            / (<double>b.sizes[0] + <double>a.sizes[0])
        )

    cdef double c_imbalance(self, Py_ssize_t n) noexcept nogil:
        cdef int128 bid = _sum_top(&self._sides[BOOK_BID], n)
        cdef int128 ask = _sum_top(&self._sides[BOOK_ASK], n)
        if bid + ask == 0:
            return NAN
        return <double>(bid - ask) / <double>(bid + ask)

    cdef int c_depth(self, int side, Py_ssize_t n, int64_t* out) noexcept nogil:
        cdef BookSide* s = &self._sides[side]
        cdef int64_t total = 0
        cdef Py_ssize_t i
        if n > s.count:
            n = s.count
        for i in range(n):
            if checked_add_i64(total, s.sizes[i], &total) != FP_OK:
                return ERR_OVERFLOW
        out[0] = total
        return BOOK_OK

    cdef int c_vwap(self, int side, int64_t qty, int64_t* notional,
                    int64_t* filled) noexcept nogil:
        cdef BookSide* s = &self._sides[side]
        cdef int64_t left = qty
        cdef int64_t total = 0
        cdef int64_t take
        cdef int64_t part
        cdef Py_ssize_t i
        if qty < 0:
            return BOOK_ERR_SIZE
        for i in range(s.count):
            if left == 0:
                break
            take = s.sizes[i] if s.sizes[i] < left else left
            if checked_mul_i64(s.prices[i], take, &part) != FP_OK:
                return ERR_OVERFLOW
            if checked_add_i64(total, part, &total) != FP_OK:
                return ERR_OVERFLOW
            left -= take
        notional[0] = total
        filled[0] = qty - left
        return BOOK_OK

    # ------------------------------------------------------------------ Python API

    def set_level(self, side, price, size):
        """Set one level (size 0 deletes); returns OK, ABSENT, DROPPED, EVICTED or CROSSED."""
        cdef int s = _side_arg(side)
        cdef int64_t p = _price_arg(price)
        cdef int64_t z = _count_arg(size, "size")
        return self.c_set_level(s, p, z)

    def apply(self, UpdateBuffer buf not None):
        """Apply a whole message; returns OK or CROSSED. ValueError leaves the book unchanged."""
        cdef int status = self.c_apply(buf)
        if status < 0:
            _raise_batch(status)
        return status

    def load_snapshot(self, UpdateBuffer buf not None):
        """clear() then apply(buf); returns OK or CROSSED. ValueError leaves the book unchanged."""
        cdef int status = self.c_load_snapshot(buf)
        if status < 0:
            _raise_batch(status)
        return status

    def clear(self):
        """Drop every level and the crossed flag; the counters keep counting."""
        self.c_clear()

    def is_valid(self):
        """False from the first crossed/locked update until clear() or load_snapshot()."""
        return not self.crossed

    @property
    def best_bid_price(self):
        return self.c_best_price(BOOK_BID)

    @property
    def best_bid_size(self):
        return self.c_best_size(BOOK_BID)

    @property
    def best_ask_price(self):
        return self.c_best_price(BOOK_ASK)

    @property
    def best_ask_size(self):
        return self.c_best_size(BOOK_ASK)

    @property
    def bids_count(self):
        return self._sides[BOOK_BID].count

    @property
    def asks_count(self):
        return self._sides[BOOK_ASK].count

    def top(self):
        """(bid price, bid size, ask price, ask size) in one call; NO_PRICE and 0 for an
        empty side."""
        return (self.c_best_price(BOOK_BID), self.c_best_size(BOOK_BID),
                self.c_best_price(BOOK_ASK), self.c_best_size(BOOK_ASK))

    def stamp(self, exchange_ts_ns, recv_ts_ns):
        """Record the venue's event time and our receive time of the frame just applied."""
        self.c_stamp(as_int64(exchange_ts_ns, "exchange_ts_ns"),
                     as_int64(recv_ts_ns, "recv_ts_ns"))

    def best_bid(self):
        """(price, size); (NO_PRICE, 0) when there is no bid."""
        return self.c_best_price(BOOK_BID), self.c_best_size(BOOK_BID)

    def best_ask(self):
        """(price, size); (NO_PRICE, 0) when there is no ask."""
        return self.c_best_price(BOOK_ASK), self.c_best_size(BOOK_ASK)

    def spread(self):
        """best ask - best bid in ticks (<= 0 when crossed/locked); NO_SPREAD if a side is empty."""
        return self.c_spread()

    def mid_x2(self):
        """best bid + best ask in ticks (twice the mid, kept integer); NO_PRICE if a side empty."""
        return self.c_mid_x2()

    def mid(self):
        """Mid in ticks as a float signal; NaN if a side is empty."""
        cdef int64_t m = self.c_mid_x2()
        return NAN if m == BOOK_NO_PRICE else m / 2.0

    def microprice(self):
        """Size-weighted mid (bid*ask_size + ask*bid_size)/(bid_size+ask_size) in ticks.

        A float signal, never money; NaN if a side is empty.
        """
        return self.c_microprice()

    def imbalance(self, n):
        """(bid depth - ask depth)/(sum) over the top n levels, in [-1, 1]; NaN if both empty."""
        return self.c_imbalance(_count_arg(n, "n"))

    def depth_n(self, side, n):
        """Total size in lots of the top n levels of `side` (fewer if the side is shorter)."""
        cdef int64_t out = 0
        cdef int s = _side_arg(side)
        if self.c_depth(s, _count_arg(n, "n"), &out) != BOOK_OK:
            raise FixedPointOverflowError(f"depth of the top {n} levels does not fit int64")
        return out

    def vwap_for_qty(self, side, qty):
        """(notional in ticks*lots, filled lots) to take `qty` lots from `side`, best first.

        filled < qty when the side holds less; the average price is notional / filled.
        """
        cdef int64_t notional = 0
        cdef int64_t filled = 0
        cdef int s = _side_arg(side)
        cdef int64_t q = _count_arg(qty, "qty")
        if self.c_vwap(s, q, &notional, &filled) != BOOK_OK:
            raise FixedPointOverflowError(f"notional of {q} lots does not fit int64")
        return notional, filled

    def levels(self, side, n=None):
        """The top n (default: all) (price, size) rows of `side`, best first (slow: tests)."""
        cdef BookSide* s = &self._sides[_side_arg(side)]
        cdef int64_t m = s.count if n is None else _count_arg(n, "n")
        if m > s.count:
            m = s.count
        return [(s.prices[i], s.sizes[i]) for i in range(m)]

    def copy_top(self, side, n, int64_t[:] out_prices, int64_t[:] out_sizes):
        """Copy the top min(n, count) rows of `side` into the caller's buffers; returns that count.

        ValueError if n is outside 0..capacity or a buffer is shorter than n.
        """
        cdef BookSide* s = &self._sides[_side_arg(side)]
        cdef int64_t k = as_int64(n, "n")
        cdef Py_ssize_t i
        cdef Py_ssize_t m
        if k < 0 or k > self.capacity:
            raise ValueError(f"n must be in 0..{self.capacity}, got {k}")
        if out_prices is None or out_sizes is None:
            raise ValueError("out_prices and out_sizes are required")
        if out_prices.shape[0] < k or out_sizes.shape[0] < k:
            raise ValueError(
                f"out buffers hold {out_prices.shape[0]} and {out_sizes.shape[0]} rows, "
                f"{k} needed"
            )
        m = k if k < s.count else s.count
        for i in range(m):
            out_prices[i] = s.prices[i]
            out_sizes[i] = s.sizes[i]
        return m

    def top_view(self, side):
        """(prices, sizes): read-only numpy views of `side`'s own storage, no copy.

        Both have `capacity` rows; only the first bids_count / asks_count are levels, the rest
        are stale. Valid as long as the book lives; the contents change with every update,
        so copy what must survive the next one.
        """
        cdef int s = _side_arg(side)
        return self._views[2 * s], self._views[2 * s + 1]

    def __repr__(self):
        return (
            f"OrderBook(capacity={self.capacity}, bid={self.best_bid()}, ask={self.best_ask()}, "
            f"bids={self.bids_count}, asks={self.asks_count}, crossed={self.crossed})"
        )
