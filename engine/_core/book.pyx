"""L2 order book whose update cost does not grow with its depth (reference:
engine/data/book_ref.py).

Each side keeps at most `capacity` levels in three exact parts:

- a window: `window` ticks (a power of two) shared by both sides, placed around the mid, where
  a level's size sits at `sizes[price - base]` with one occupancy bit per tick. Setting,
  deleting or inserting a level there is O(1); the best price is kept, and when the best is
  deleted the next one is found a 64-tick word at a time, never by rescanning the book;
- `far`: the levels worse than the window, a sorted run (venues rarely touch them);
- `through`: levels better than the window, a sorted run, empty unless the price walked past
  the window before it was re-centred.

Why a window (after hftbacktest's region-of-interest depth, without its loss of the levels
outside): venue updates land near the touch, so a price-indexed array makes their cost
independent of how many levels the book keeps (100 or 5,000), where a sorted array shifts
every row below each insert or delete. The sorted runs keep the book exact outside the
window. `c_recenter()` moves the window to the mid when the price walks away; no observable
changes, and the frame handlers call it after on_book, off the frame -> strategy path.

On a full side an insert worse than every kept level is dropped and an insert better than
the worst level pushes the worst out; both count in `dropped_levels`. The kept top stays
exact, but once levels near the bottom have been dropped and later ones above them are
deleted, the bottom may miss levels the venue still has: size `capacity` well above the depth
the strategy reads, and let periodic snapshots refill the tail.

After every update (one set_level, or one whole batch) the book checks best bid < best ask
when both sides exist. If not, the update returns BOOK_CROSSED, `crossed_count` grows and the
`crossed` flag is set and stays set until clear() or load_snapshot(): a crossed or locked
book means a message was missed or reordered, and a later update that happens to uncross the
top does not prove the rest is right.

Float results (mid, microprice, imbalance) are signals for quoting decisions, never money;
money-exact reads are integers (spread, mid_x2 in ticks * 2, depth, vwap notional).
"""

from cpython.mem cimport PyMem_Calloc, PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_New, PyTuple_SET_ITEM
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.math cimport NAN
from libc.stdint cimport int64_t, uint64_t
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

DEFAULT_WINDOW = 4096  # ticks: a few hundred levels either side of the touch at a tight tick
MIN_WINDOW = 64
MAX_WINDOW = 1 << 22

cdef extern from *:
    """
    static inline int hft_ctz64(unsigned long long x) { return __builtin_ctzll(x); }
    static inline int hft_clz64(unsigned long long x) { return __builtin_clzll(x); }
    """
    int hft_ctz64(uint64_t x) noexcept nogil
    int hft_clz64(uint64_t x) noexcept nogil

cdef enum:
    _THROUGH = 0
    _WINDOW = 1
    _FAR = 2
    _DONE = 3


# ----------------------------------------------------------------------------- sorted runs

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


cdef inline bint _run_has(const BookSide* s, int64_t price, bint descending) noexcept nogil:
    cdef Py_ssize_t i = _row(s.prices, s.count, price, descending)
    return i < s.count and s.prices[i] == price


cdef inline int _run_set(BookSide* s, bint descending, int64_t price,
                         int64_t size) noexcept nogil:
    """Set, insert (the caller has made room) or delete a level of a sorted run: OK or ABSENT."""
    cdef Py_ssize_t n = s.count
    cdef Py_ssize_t i = _row(s.prices, n, price, descending)
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
    memmove(&s.prices[i + 1], &s.prices[i], <size_t>(n - i) * sizeof(int64_t))
    memmove(&s.sizes[i + 1], &s.sizes[i], <size_t>(n - i) * sizeof(int64_t))
    s.prices[i] = price
    s.sizes[i] = size
    s.count = n + 1
    return BOOK_OK


# ----------------------------------------------------------------------------- the window

cdef inline Py_ssize_t _next_set(const uint64_t* bits, Py_ssize_t words,
                                 Py_ssize_t slot) noexcept nogil:
    """Lowest occupied slot >= slot, or -1."""
    cdef Py_ssize_t w
    cdef uint64_t word
    if slot < 0:
        slot = 0
    w = slot >> 6
    if w >= words:
        return -1
    word = bits[w] & (~(<uint64_t>0) << (slot & 63))
    while word == 0:
        w += 1
        if w >= words:
            return -1
        word = bits[w]
    return (w << 6) + hft_ctz64(word)


cdef inline Py_ssize_t _prev_set(const uint64_t* bits, Py_ssize_t words,
                                 Py_ssize_t slot) noexcept nogil:
    """Highest occupied slot <= slot, or -1."""
    cdef Py_ssize_t w
    cdef uint64_t word
    cdef int bit
    if slot < 0:
        return -1
    w = slot >> 6
    if w >= words:
        w = words - 1
        bit = 63
    else:
        bit = slot & 63
    word = bits[w] & (~(<uint64_t>0) >> (63 - bit))
    while word == 0:
        if w == 0:
            return -1
        w -= 1
        word = bits[w]
    return (w << 6) + 63 - hft_clz64(word)


cdef inline int _region(OrderBook b, int side, int64_t price) noexcept nogil:
    cdef int64_t slot = price - b.base
    if 0 <= slot < b.window:
        return _WINDOW
    if (slot >= b.window) == (side == BOOK_BID):
        return _THROUGH  # a bid above the window, an ask below it
    return _FAR


cdef inline bint _better(int side, int64_t a, int64_t b) noexcept nogil:
    return a > b if side == BOOK_BID else a < b


cdef inline int _win_set(OrderBook b, int side, int64_t price, int64_t size) noexcept nogil:
    """Set, insert (the caller has made room) or delete a level in the window."""
    cdef Ladder* w = &b._win[side]
    cdef Py_ssize_t slot = <Py_ssize_t>(price - b.base)
    cdef Py_ssize_t nxt
    cdef uint64_t bit = (<uint64_t>1) << (slot & 63)
    if size == 0:
        if w.sizes[slot] == 0:
            return BOOK_ABSENT
        w.sizes[slot] = 0
        w.bits[slot >> 6] &= ~bit
        w.count -= 1
        if price == w.best:
            # the next best, a word of 64 ticks at a time in the worse direction
            if side == BOOK_BID:
                nxt = _prev_set(w.bits, b._words, slot - 1)
            else:
                nxt = _next_set(w.bits, b._words, slot + 1)
            w.best = BOOK_NO_PRICE if nxt < 0 else b.base + nxt
        return BOOK_OK
    if w.sizes[slot] == 0:
        w.bits[slot >> 6] |= bit
        w.count += 1
        if w.count == 1 or _better(side, price, w.best):
            w.best = price
    w.sizes[slot] = size
    return BOOK_OK


cdef inline int64_t _win_worst(OrderBook b, int side) noexcept nogil:
    cdef Py_ssize_t slot
    if side == BOOK_BID:
        slot = _next_set(b._win[side].bits, b._words, 0)
    else:
        slot = _prev_set(b._win[side].bits, b._words, b.window - 1)
    return b.base + slot


cdef inline int64_t _worst(OrderBook b, int side) noexcept nogil:
    """The worst kept price of a side that holds at least one level."""
    cdef BookSide* run = &b._far[side]
    if run.count:
        return run.prices[run.count - 1]
    if b._win[side].count:
        return _win_worst(b, side)
    run = &b._through[side]
    return run.prices[run.count - 1]


cdef inline int _set(OrderBook b, int side, int64_t price, int64_t size) noexcept nogil:
    """One validated level update of one side; OK, ABSENT, DROPPED or EVICTED."""
    cdef int region
    cdef int64_t worst
    cdef bint exists
    cdef bint desc = side == BOOK_BID
    if not b._placed:
        if size == 0:
            return BOOK_ABSENT  # an empty book: nothing to delete
        b.base = price - b.window // 2  # the first level centres the window
        b._placed = True
    region = _region(b, side, price)
    if region == _WINDOW:
        exists = b._win[side].sizes[price - b.base] != 0
    elif region == _FAR:
        exists = _run_has(&b._far[side], price, desc)
    else:
        exists = _run_has(&b._through[side], price, desc)
    if size != 0 and not exists and b.c_count(side) >= b.capacity:
        worst = _worst(b, side)
        if not _better(side, price, worst):
            return BOOK_DROPPED
        _set(b, side, worst, 0)
        _set(b, side, price, size)
        return BOOK_EVICTED
    if region == _WINDOW:
        return _win_set(b, side, price, size)
    if region == _FAR:
        return _run_set(&b._far[side], desc, price, size)
    return _run_set(&b._through[side], desc, price, size)


cdef inline bint _valid(int64_t price, int64_t size) noexcept nogil:
    return 0 < price <= BOOK_MAX_PRICE and size >= 0


cdef inline bint _check_crossed(OrderBook book) noexcept nogil:
    cdef int64_t bid = book.c_best_price(BOOK_BID)
    cdef int64_t ask = book.c_best_price(BOOK_ASK)
    if bid != BOOK_NO_PRICE and ask != BOOK_NO_PRICE and bid >= ask:
        book.crossed = True
        book.crossed_count += 1
        return True
    return False


cdef inline int128 _sum_top(OrderBook b, int side, Py_ssize_t n) noexcept nogil:
    # 128 bits: capacity * INT64_MAX cannot overflow it, so the float signals need no check
    cdef int128 total = 0
    cdef LevelCursor cur
    cdef int64_t price
    cdef int64_t size
    b.c_first(&cur, side)
    while n > 0 and b.c_next(&cur, &price, &size):
        total += size
        n -= 1
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


cdef extern from *:
    """
    /* The value of a one-digit int object that nothing but the caller references, rewritten
       in place: no reader can tell (CPython grows a str in place the same way when its
       reference count is 1). Only on CPython 3.11, whose int layout this knows, and only
       for values that stay one positive digit outside the small-int cache; anything else
       answers 0 and the caller allocates. */
    #if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000 && !defined(Py_LIMITED_API)
    static inline int engine_int_rewrite(PyObject *o, int64_t v) {
        if (Py_REFCNT(o) != 1 || !PyLong_CheckExact(o) || Py_SIZE(o) != 1
                || v <= 256 || v >= ((int64_t)1 << PyLong_SHIFT))
            return 0;
        ((PyLongObject *)o)->ob_digit[0] = (digit)v;
        return 1;
    }
    #else
    static inline int engine_int_rewrite(PyObject *o, int64_t v) { (void)o; (void)v; return 0; }
    #endif
    """
    bint engine_int_rewrite(PyObject* o, int64_t v) noexcept nogil


cdef inline void _top_item_set(PyObject* tup, Py_ssize_t i, int64_t value):
    """Item i of the tuple `tup` (held by nobody else) becomes the int `value`."""
    cdef PyObject* old = PyTuple_GET_ITEM(<object>tup, i)
    if engine_int_rewrite(old, value):
        return
    cdef object fresh = value
    Py_INCREF(fresh)
    PyTuple_SET_ITEM(<object>tup, i, fresh)
    Py_XDECREF(old)


cdef tuple _top_tuple_update(tuple current, bint sole, BookTop* seen, BookTop* now):
    """The top tuple for `now`, from `current` (the tuple for `seen`).

    A tuple is immutable to everyone who holds one: when `current` is held only by the
    book (`sole`: the caller dropped the last one it read), its changed items are replaced in
    place, as CPython's own zip() and enumerate() recycle their result tuple (and an int
    only that tuple holds takes its new value in place, engine_int_rewrite); otherwise a
    new tuple is built. Either way an unchanged field keeps its int object.
    """
    cdef int64_t[4] was = [seen.bid_price, seen.bid_size, seen.ask_price, seen.ask_size]
    cdef int64_t[4] new = [now.bid_price, now.bid_size, now.ask_price, now.ask_size]
    cdef Py_ssize_t i
    if sole:
        for i in range(4):
            if was[i] != new[i]:
                _top_item_set(<PyObject*>current, i, new[i])
        return current
    fresh = PyTuple_New(4)
    for i in range(4):
        if was[i] != new[i]:
            item = new[i]
        else:
            item = <object>PyTuple_GET_ITEM(current, i)
        Py_INCREF(item)
        PyTuple_SET_ITEM(fresh, i, item)
    return fresh


cdef class OrderBook:
    """L2 book of one instrument; see the module docstring for what it guarantees.

    Python reads of the top (top(), best_bid_price & co.) allocate nothing but the returned
    ints; writes go through UpdateBuffer + apply(), which allocates nothing at all.
    """

    def __cinit__(self, capacity, window=DEFAULT_WINDOW):
        cdef int64_t cap = as_int64(capacity, "capacity")
        cdef int64_t win = as_int64(window, "window")
        cdef size_t run_bytes
        cdef size_t total
        cdef char* p
        cdef int side
        cdef int k
        cdef BookSide* run
        if cap < 1:
            raise ValueError(f"capacity must be >= 1, got {cap}")
        if win < MIN_WINDOW or win > MAX_WINDOW or (win & (win - 1)) != 0:
            raise ValueError(
                f"window must be a power of two in {MIN_WINDOW}..{MAX_WINDOW} ticks, got {win}"
            )
        if cap > PY_SSIZE_T_MAX // 64:
            raise MemoryError(f"capacity {cap} rows is more than memory can address")
        self.capacity = cap
        self.window = win
        self._words = win // 64
        # one zeroed block: per side the window's sizes and bits, then four sorted runs
        run_bytes = <size_t>cap * sizeof(int64_t)
        total = 2 * (<size_t>win * sizeof(int64_t) + <size_t>self._words * sizeof(uint64_t))
        total += 12 * run_bytes  # four sorted runs (8 arrays) + 4 spare arrays for recentring
        self._memory = PyMem_Calloc(total, 1)
        if self._memory == NULL:
            raise MemoryError()
        p = <char*>self._memory
        for side in range(2):
            self._win[side].sizes = <int64_t*>p
            p += <size_t>win * sizeof(int64_t)
            self._win[side].bits = <uint64_t*>p
            p += <size_t>self._words * sizeof(uint64_t)
            self._win[side].best = BOOK_NO_PRICE
            for k in range(2):
                run = &self._through[side] if k == 0 else &self._far[side]
                run.prices = <int64_t*>p
                p += run_bytes
                run.sizes = <int64_t*>p
                p += run_bytes
        self._spare = <int64_t*>p
        self._scratch = tuple(np.zeros(cap, dtype=np.int64) for _ in range(4))
        views = []
        for arr in self._scratch:
            v = arr.view()
            v.flags.writeable = False
            views.append(v)
        self._views = tuple(views)

    def __dealloc__(self):
        PyMem_Free(self._memory)

    # ------------------------------------------------------------------ C API

    cdef void c_first(self, LevelCursor* cur, int side) noexcept nogil:
        cur.side = side
        cur.region = _THROUGH
        cur.i = 0

    cdef bint c_next(self, LevelCursor* cur, int64_t* price, int64_t* size) noexcept nogil:
        cdef int side = cur.side
        cdef BookSide* run
        cdef Ladder* w
        cdef Py_ssize_t slot
        while True:
            if cur.region == _THROUGH or cur.region == _FAR:
                run = &self._through[side] if cur.region == _THROUGH else &self._far[side]
                if cur.i < run.count:
                    price[0] = run.prices[cur.i]
                    size[0] = run.sizes[cur.i]
                    cur.i += 1
                    return True
                if cur.region == _FAR:
                    cur.region = _DONE
                    return False
                # into the window, from its best level
                cur.region = _WINDOW
                w = &self._win[side]
                cur.i = -1 if w.count == 0 else <Py_ssize_t>(w.best - self.base)
            elif cur.region == _WINDOW:
                if cur.i >= 0:
                    w = &self._win[side]
                    slot = cur.i
                    price[0] = self.base + slot
                    size[0] = w.sizes[slot]
                    if side == BOOK_BID:
                        cur.i = _prev_set(w.bits, self._words, slot - 1)
                    else:
                        cur.i = _next_set(w.bits, self._words, slot + 1)
                    return True
                cur.region = _FAR
                cur.i = 0
            else:
                return False

    cdef int c_set_level(self, int side, int64_t price, int64_t size) noexcept nogil:
        cdef int status
        if side != BOOK_BID and side != BOOK_ASK:
            return BOOK_ERR_SIDE
        if price <= 0 or price > BOOK_MAX_PRICE:
            return BOOK_ERR_PRICE
        if size < 0:
            return BOOK_ERR_SIZE
        status = _set(self, side, price, size)
        self.updates += 1
        if status >= BOOK_DROPPED:
            self.dropped_levels += 1
        if _check_crossed(self):
            return BOOK_CROSSED
        return status

    cdef void c_clear(self) noexcept nogil:
        # O(levels + window / 64): only occupied slots are zeroed, the runs just forget rows
        cdef int side
        cdef Py_ssize_t slot
        cdef Ladder* w
        for side in range(2):
            w = &self._win[side]
            slot = _next_set(w.bits, self._words, 0)
            while slot >= 0:
                w.sizes[slot] = 0
                slot = _next_set(w.bits, self._words, slot + 1)
            for slot in range(self._words):
                w.bits[slot] = 0
            w.count = 0
            w.best = BOOK_NO_PRICE
            self._through[side].count = 0
            self._far[side].count = 0
        self._placed = False
        self.crossed = False

    cdef int c_apply_arrays(self, const int64_t* bid_prices, const int64_t* bid_sizes,
                            Py_ssize_t n_bids, const int64_t* ask_prices,
                            const int64_t* ask_sizes, Py_ssize_t n_asks) noexcept nogil:
        cdef Py_ssize_t i
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
            if _set(self, BOOK_BID, bid_prices[i], bid_sizes[i]) >= BOOK_DROPPED:
                dropped += 1
        for i in range(n_asks):
            if _set(self, BOOK_ASK, ask_prices[i], ask_sizes[i]) >= BOOK_DROPPED:
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
        cdef Py_ssize_t i
        cdef int64_t bid = BOOK_NO_PRICE
        cdef int64_t ask = BOOK_NO_PRICE
        if buf.bid_count > buf.capacity or buf.ask_count > buf.capacity:
            return BOOK_ERR_COUNT
        # validated before the book is cleared, so a refused snapshot leaves it as it was
        for i in range(buf.bid_count):
            if not _valid(buf.bid_prices[i], buf.bid_sizes[i]):
                return BOOK_ERR_PRICE if buf.bid_sizes[i] >= 0 else BOOK_ERR_SIZE
            if buf.bid_sizes[i] > 0 and buf.bid_prices[i] > bid:
                bid = buf.bid_prices[i]
        for i in range(buf.ask_count):
            if not _valid(buf.ask_prices[i], buf.ask_sizes[i]):
                return BOOK_ERR_PRICE if buf.ask_sizes[i] >= 0 else BOOK_ERR_SIZE
            if buf.ask_sizes[i] > 0 and (ask == BOOK_NO_PRICE or buf.ask_prices[i] < ask):
                ask = buf.ask_prices[i]
        self.c_clear()
        if bid != BOOK_NO_PRICE or ask != BOOK_NO_PRICE:
            # the window centred on the snapshot's mid (or its one side's best)
            if bid == BOOK_NO_PRICE:
                bid = ask
            elif ask == BOOK_NO_PRICE:
                ask = bid
            self.base = bid + (ask - bid) // 2 - self.window // 2
            self._placed = True
        return self.c_apply(buf)

    cdef bint c_recenter_wanted(self) noexcept nogil:
        cdef int64_t mid_x2
        if self._through[BOOK_BID].count or self._through[BOOK_ASK].count:
            return True
        mid_x2 = self.c_mid_x2()
        if mid_x2 == BOOK_NO_PRICE:
            return False
        # |mid - centre| > window / 4, in doubled ticks to stay exact
        mid_x2 -= 2 * self.base + self.window
        return mid_x2 > self.window // 2 or mid_x2 < -(self.window // 2)

    cdef void c_recenter(self) noexcept nogil:
        cdef int64_t mid_x2 = self.c_mid_x2()
        cdef int64_t centre
        cdef int side
        cdef Py_ssize_t n[2]
        cdef Py_ssize_t i
        cdef int64_t* prices
        cdef int64_t* sizes
        cdef LevelCursor cur
        cdef BookSide* run
        cdef int region
        cdef bint crossed
        if mid_x2 == BOOK_NO_PRICE:
            centre = self.c_best_price(BOOK_BID)
            if centre == BOOK_NO_PRICE:
                centre = self.c_best_price(BOOK_ASK)
            if centre == BOOK_NO_PRICE:
                return
        else:
            centre = mid_x2 // 2
        # both sides out, best first, into the spare rows; then back in around the new base.
        # Appending best first keeps every run sorted with no shifting: O(levels + window/64)
        for side in range(2):
            prices = self._spare + 2 * side * self.capacity
            sizes = prices + self.capacity
            n[side] = 0
            self.c_first(&cur, side)
            while self.c_next(&cur, &prices[n[side]], &sizes[n[side]]):
                n[side] += 1
        crossed = self.crossed
        self.c_clear()
        self.crossed = crossed  # nothing observable changes
        self.base = centre - self.window // 2
        self._placed = True
        for side in range(2):
            prices = self._spare + 2 * side * self.capacity
            sizes = prices + self.capacity
            for i in range(n[side]):
                region = _region(self, side, prices[i])
                if region == _WINDOW:
                    _win_set(self, side, prices[i], sizes[i])
                else:
                    run = &self._through[side] if region == _THROUGH else &self._far[side]
                    run.prices[run.count] = prices[i]
                    run.sizes[run.count] = sizes[i]
                    run.count += 1
        self.recenters += 1

    cdef int64_t c_spread(self) noexcept nogil:
        cdef int64_t bid = self.c_best_price(BOOK_BID)
        cdef int64_t ask = self.c_best_price(BOOK_ASK)
        if bid == BOOK_NO_PRICE or ask == BOOK_NO_PRICE:
            return BOOK_NO_SPREAD
        return ask - bid

    cdef int64_t c_mid_x2(self) noexcept nogil:
        cdef int64_t bid = self.c_best_price(BOOK_BID)
        cdef int64_t ask = self.c_best_price(BOOK_ASK)
        if bid == BOOK_NO_PRICE or ask == BOOK_NO_PRICE:
            return BOOK_NO_PRICE
        # both prices <= BOOK_MAX_PRICE = 2**62 - 1: the sum fits int64
        return ask + bid

    cdef double c_microprice(self) noexcept nogil:
        cdef int64_t bid = self.c_best_price(BOOK_BID)
        cdef int64_t ask = self.c_best_price(BOOK_ASK)
        cdef int64_t bid_size
        cdef int64_t ask_size
        if bid == BOOK_NO_PRICE or ask == BOOK_NO_PRICE:
            return NAN
        bid_size = self.c_best_size(BOOK_BID)
        ask_size = self.c_best_size(BOOK_ASK)
        # the bid is weighted by the ask size: a thin ask pulls the fair price up to it.
        # Same operation order as the reference, so both round the same way.
        return (
            (<double>bid * <double>ask_size + <double>ask * <double>bid_size)
            / (<double>bid_size + <double>ask_size)
        )

    cdef double c_imbalance(self, Py_ssize_t n) noexcept nogil:
        cdef int128 bid = _sum_top(self, BOOK_BID, n)
        cdef int128 ask = _sum_top(self, BOOK_ASK, n)
        if bid + ask == 0:
            return NAN
        return <double>(bid - ask) / <double>(bid + ask)

    cdef int c_depth(self, int side, Py_ssize_t n, int64_t* out) noexcept nogil:
        cdef int64_t total = 0
        cdef LevelCursor cur
        cdef int64_t price
        cdef int64_t size
        self.c_first(&cur, side)
        while n > 0 and self.c_next(&cur, &price, &size):
            if checked_add_i64(total, size, &total) != FP_OK:
                return ERR_OVERFLOW
            n -= 1
        out[0] = total
        return BOOK_OK

    cdef int c_vwap(self, int side, int64_t qty, int64_t* notional,
                    int64_t* filled) noexcept nogil:
        cdef int64_t left = qty
        cdef int64_t total = 0
        cdef int64_t take
        cdef int64_t part
        cdef LevelCursor cur
        cdef int64_t price
        cdef int64_t size
        if qty < 0:
            return BOOK_ERR_SIZE
        self.c_first(&cur, side)
        while left > 0 and self.c_next(&cur, &price, &size):
            take = size if size < left else left
            if checked_mul_i64(price, take, &part) != FP_OK:
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
        return self.c_count(BOOK_BID)

    @property
    def asks_count(self):
        return self.c_count(BOOK_ASK)

    @property
    def recenter_wanted(self):
        """The price walked away from the window's centre: recenter() would move it."""
        return self.c_recenter_wanted()

    def recenter(self):
        """Move the window to the mid (O(levels + window/64)); no observable changes."""
        self.c_recenter()

    def top(self):
        """(bid price, bid size, ask price, ask size) in one call; NO_PRICE and 0 for an
        empty side. The same tuple object comes back until the top changes."""
        cdef BookTop t
        cdef bint sole
        self.c_top(&t)
        if self._top_tuple is None:
            self._top_seen = t
            self._top_tuple = (t.bid_price, t.bid_size, t.ask_price, t.ask_size)
        elif (t.bid_price != self._top_seen.bid_price or t.bid_size != self._top_seen.bid_size
                or t.ask_price != self._top_seen.ask_price
                or t.ask_size != self._top_seen.ask_size):
            # held only by the book when the caller dropped what it last read (a cast to
            # PyObject* takes no reference of its own)
            sole = (<PyObject*>self._top_tuple).ob_refcnt == 1
            self._top_tuple = _top_tuple_update(self._top_tuple, sole, &self._top_seen, &t)
            self._top_seen = t
        return self._top_tuple

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
        cdef int sd = _side_arg(side)
        cdef int64_t m = self.c_count(sd) if n is None else _count_arg(n, "n")
        cdef LevelCursor cur
        cdef int64_t price
        cdef int64_t size
        rows = []
        self.c_first(&cur, sd)
        while m > 0 and self.c_next(&cur, &price, &size):
            rows.append((price, size))
            m -= 1
        return rows

    def copy_top(self, side, n, int64_t[:] out_prices, int64_t[:] out_sizes):
        """Copy the top min(n, count) rows of `side` into the caller's buffers; returns that count.

        ValueError if n is outside 0..capacity or a buffer is shorter than n.
        """
        cdef int sd = _side_arg(side)
        cdef int64_t k = as_int64(n, "n")
        cdef Py_ssize_t m = 0
        cdef LevelCursor cur
        cdef int64_t price
        cdef int64_t size
        if k < 0 or k > self.capacity:
            raise ValueError(f"n must be in 0..{self.capacity}, got {k}")
        if out_prices is None or out_sizes is None:
            raise ValueError("out_prices and out_sizes are required")
        if out_prices.shape[0] < k or out_sizes.shape[0] < k:
            raise ValueError(
                f"out buffers hold {out_prices.shape[0]} and {out_sizes.shape[0]} rows, "
                f"{k} needed"
            )
        self.c_first(&cur, sd)
        while m < k and self.c_next(&cur, &price, &size):
            out_prices[m] = price
            out_sizes[m] = size
            m += 1
        return m

    def top_view(self, side):
        """(prices, sizes): read-only numpy arrays of `side`'s levels best first, filled at
        this call (O(levels)); the same two arrays on every call, `capacity` rows, of which
        the first bids_count / asks_count are levels. Call again after an update."""
        cdef int s = _side_arg(side)
        self.copy_top(s, self.c_count(s), self._scratch[2 * s], self._scratch[2 * s + 1])
        return self._views[2 * s], self._views[2 * s + 1]

    def __repr__(self):
        return (
            f"OrderBook(capacity={self.capacity}, bid={self.best_bid()}, ask={self.best_ask()}, "
            f"bids={self.bids_count}, asks={self.asks_count}, crossed={self.crossed})"
        )
