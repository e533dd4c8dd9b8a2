"""Pre-trade risk checks and the trading state machine (reference: engine/risk/risk_ref.py,
where every rule is stated: check order, inclusive limits, worst-case position, rate windows,
daily reset, which breach leads to which state).

All state is in C arrays allocated at construction: one row per instrument and one block of
rate-window timestamps. A check or an event touches only those, in int64 with saturation or
int128 where a sum could leave int64, so nothing wraps and nothing allocates. The Python
methods convert and range-check their arguments (TypeError for floats and bools, an overflow
error past int64) and return the same codes as the C methods.
"""

cimport cython
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.mem cimport PyMem_Calloc, PyMem_Free
from libc.stdint cimport INT32_MAX, INT32_MIN, INT64_MAX, int32_t, int64_t, uint64_t

from engine._core.fixedpoint cimport as_int64, int128
from engine._core.intents cimport (
    INTENT_BUY,
    INTENT_CANCEL,
    INTENT_GTC,
    INTENT_LIMIT,
    INTENT_MARKET,
    INTENT_NEW,
    INTENT_OK,
    INTENT_REPLACE,
    INTENT_SELL,
    Intent,
    IntentBuffer,
    intent_check_order,
)

from engine._core.risk_limits import (
    DAY_NS,
    DESCRIPTIONS,
    GlobalLimits,
    InstrumentLimits,
    check_rates,
    next_daily_reset_ns,
)

STATE_ACTIVE = RISK_STATE_ACTIVE
STATE_REDUCING = RISK_STATE_REDUCING
STATE_HALTED = RISK_STATE_HALTED
STATE_NAMES = {RISK_STATE_ACTIVE: "ACTIVE", RISK_STATE_REDUCING: "REDUCING",
               RISK_STATE_HALTED: "HALTED"}

OK = RISK_OK
INSTRUMENT = RISK_INSTRUMENT
ARG = RISK_ARG
HALTED = RISK_HALTED
REDUCING = RISK_REDUCING
QTY = RISK_QTY
NO_REFERENCE = RISK_NO_REFERENCE
PRICE_BAND = RISK_PRICE_BAND
NOTIONAL = RISK_NOTIONAL
MIN_NOTIONAL = RISK_MIN_NOTIONAL
OPEN_ORDERS = RISK_OPEN_ORDERS
POSITION = RISK_POSITION
EXPOSURE = RISK_EXPOSURE
TOTAL_EXPOSURE = RISK_TOTAL_EXPOSURE
RATE = RISK_RATE
CANCEL_RATE = RISK_CANCEL_RATE
DAILY_LOSS = RISK_DAILY_LOSS
DRAWDOWN = RISK_DRAWDOWN
MANUAL = RISK_MANUAL
OVERFLOW = RISK_OVERFLOW
CODES = tuple(range(RISK_INSTRUMENT, RISK_OVERFLOW - 1, -1))

NO_LIMIT = RISK_NO_LIMIT
BPS = RISK_BPS
MAX_RATE_CAPACITY = RISK_MAX_RATE_CAPACITY

__all__ = ["DAY_NS", "GlobalLimits", "InstrumentLimits", "RiskCore", "describe",
           "next_daily_reset_ns"]


def describe(code):
    """One line saying what a code means (for logs)."""
    return DESCRIPTIONS.get(code, f"unknown risk code {code}")


# ---------------------------------------------------------------------------- C helpers

cdef inline int64_t _abs128_sat(int128 v) noexcept nogil:
    # |v| as int64, INT64_MAX when it does not fit
    if v < 0:
        v = -v
    return <int64_t>v if v <= <int128>INT64_MAX else INT64_MAX


@cython.cdivision(True)
cdef inline bint _window_full(const RateRing* ring, int64_t limit, int64_t capacity,
                              int64_t now_ns, int64_t window_ns) noexcept nogil:
    """The window (now - window, now] already holds `limit` events (see RateRing)."""
    cdef int64_t k
    if limit == RISK_NO_LIMIT:
        return False
    if limit == 0:
        return True
    if ring.count < limit:
        return False
    k = ring.head - limit
    if k < 0:
        k += capacity
    return <int128>ring.ts[k] > <int128>now_ns - <int128>window_ns


cdef inline void _record(RateRing* ring, int64_t capacity, int64_t now_ns) noexcept nogil:
    ring.ts[ring.head] = now_ns
    ring.head += 1
    if ring.head == capacity:
        ring.head = 0
    if ring.count < capacity:
        ring.count += 1


cdef object _py128(int128 v):
    # exact Python int of an int128 (sums of int64 values)
    cdef int64_t hi = <int64_t>(v >> 64)
    cdef uint64_t lo = <uint64_t>v  # the low 64 bits
    high = hi
    low = lo
    return (high << 64) + low


# Python arguments: an exact int that fits int64 is converted in place (the hot path);
# anything else goes through as_int64, which raises what every _core module raises
# (TypeError for floats and bools, an overflow error past int64) or converts an int subclass
# (IntEnum). A value that does not fit the C type must still be refused, never truncated into
# a valid one (2**32 + 1 would become side 1): it maps to a value the check refuses (enums
# start at 1, indexes at 0).
cdef inline int64_t _i64(object value, str what) except? -1:
    cdef int overflow = 0
    cdef long long v
    if type(value) is int:
        v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0:
            return v
    return as_int64(value, what)


cdef inline int _enum_arg(object value, str what) except? -1:
    cdef int64_t v = _i64(value, what)
    if v < INT32_MIN or v > INT32_MAX:
        return 0
    return <int>v


cdef inline int32_t _index_arg(object value) except? -2:
    cdef int64_t v = _i64(value, "instrument")
    if v < 0 or v > INT32_MAX:
        return -1
    return <int32_t>v


cdef int64_t _limit_field(object limits, str name, int64_t low) except? -1:
    cdef int64_t v = as_int64(getattr(limits, name), name)
    if v < low:
        raise ValueError(f"{name} must be in {low}..{INT64_MAX}, got {v}")
    return v


cdef void _limits_off(RiskLimits* lim) noexcept nogil:
    lim.max_qty_lots = RISK_NO_LIMIT
    lim.max_notional = RISK_NO_LIMIT
    lim.min_notional = 0
    lim.band_ticks = RISK_NO_LIMIT
    lim.band_bps = RISK_NO_LIMIT
    lim.max_open_orders = RISK_NO_LIMIT
    lim.max_long_lots = RISK_NO_LIMIT
    lim.max_short_lots = RISK_NO_LIMIT
    lim.max_exposure = RISK_NO_LIMIT
    lim.order_rate = RISK_NO_LIMIT
    lim.cancel_rate = RISK_NO_LIMIT


cdef class RiskCore:
    """Risk checks over `instrument_count` instruments, all limits off until set.

    Cython callers use the c_* methods (codes, nogil); Python callers the methods of the same
    names without the prefix. `rate_capacity` (1..MAX_RATE_CAPACITY) is the number of
    timestamps each rate window keeps: the largest rate limit that can be set.
    """

    def __cinit__(self, instrument_count, rate_capacity=1024):
        cdef int64_t n = as_int64(instrument_count, "instrument_count")
        cdef int64_t cap = as_int64(rate_capacity, "rate_capacity")
        cdef int64_t i
        cdef int64_t j
        cdef RiskInstrument* r
        if n < 0 or n > INT32_MAX:
            raise ValueError(f"instrument_count must be in 0..{INT32_MAX}, got {n}")
        if cap < 1 or cap > RISK_MAX_RATE_CAPACITY:
            raise ValueError(
                f"rate_capacity must be in 1..{RISK_MAX_RATE_CAPACITY}, got {cap}"
            )
        self.instrument_count = <int32_t>n
        self.rate_capacity = cap
        # + 1: PyMem_Calloc(0) may return NULL
        self.inst = <RiskInstrument*>PyMem_Calloc(<size_t>n + 1, sizeof(RiskInstrument))
        self.ring_storage = <int64_t*>PyMem_Calloc(<size_t>(2 * n + 2) * <size_t>cap,
                                                   sizeof(int64_t))
        if self.inst == NULL or self.ring_storage == NULL:
            raise MemoryError()
        j = 0
        for i in range(n):
            r = &self.inst[i]
            _limits_off(&r.limits)
            r.orders.ts = self.ring_storage + j * cap
            r.cancels.ts = self.ring_storage + (j + 1) * cap
            j += 2
        self.g_orders.ts = self.ring_storage + j * cap
        self.g_cancels.ts = self.ring_storage + (j + 1) * cap
        self.glimits.max_total_exposure = RISK_NO_LIMIT
        self.glimits.order_rate = RISK_NO_LIMIT
        self.glimits.cancel_rate = RISK_NO_LIMIT
        self.glimits.daily_loss_limit = RISK_NO_LIMIT
        self.glimits.max_drawdown = RISK_NO_LIMIT
        self.glimits.window_ns = 1_000_000_000
        self.state = RISK_STATE_ACTIVE
        self.cause = RISK_OK
        self.next_reset_ns = RISK_NO_LIMIT
        self.reset_period_ns = DAY_NS

    def __dealloc__(self):
        PyMem_Free(self.inst)
        PyMem_Free(self.ring_storage)

    # ------------------------------------------------------------------ C API: checks

    cdef int _refuse(self, int code) noexcept nogil:
        self.refused += 1
        self.refusal_counts[RISK_CODE_BASE - code] += 1
        return code

    cdef int _error(self, int code) noexcept nogil:
        self.errors += 1
        return code

    cdef int _check(self, int32_t instrument, int side, int64_t price, int64_t qty,
                    int order_type, int tif, int old_side, int64_t old_lots, bint replace,
                    int64_t now_ns) noexcept nogil:
        cdef RiskInstrument* r
        cdef RiskLimits* lim
        cdef int64_t same
        cdef int64_t pos
        cdef int64_t ref
        cdef int64_t px
        cdef int64_t dev
        cdef int64_t notional
        cdef int64_t exposure
        cdef int64_t window
        cdef int128 w
        cdef int128 abs_pos
        if instrument < 0 or instrument >= self.instrument_count:
            return self._refuse(RISK_INSTRUMENT)
        if intent_check_order(side, price, qty, order_type, tif) != INTENT_OK:
            return self._refuse(RISK_ARG)
        if replace and ((old_side != INTENT_BUY and old_side != INTENT_SELL) or old_lots < 0):
            return self._refuse(RISK_ARG)
        if now_ns >= self.next_reset_ns:
            self.c_roll(now_ns)
        if self.state == RISK_STATE_HALTED:
            return self._refuse(RISK_HALTED)
        r = &self.inst[instrument]
        lim = &r.limits
        same = r.open_buy_lots if side == INTENT_BUY else r.open_sell_lots
        if replace and old_side == side:
            same -= old_lots if old_lots < same else same
        pos = r.position
        if self.state == RISK_STATE_REDUCING:
            abs_pos = -<int128>pos if pos < 0 else <int128>pos
            if pos == 0 or (pos > 0) == (side > 0) or <int128>same + qty > abs_pos:
                return self._refuse(RISK_REDUCING)
        if qty > lim.max_qty_lots:
            return self._refuse(RISK_QTY)
        ref = r.ref_ticks
        if ref == 0 and (order_type == INTENT_MARKET or lim.band_ticks != RISK_NO_LIMIT
                         or lim.band_bps != RISK_NO_LIMIT
                         or lim.max_exposure != RISK_NO_LIMIT
                         or self.glimits.max_total_exposure != RISK_NO_LIMIT):
            return self._refuse(RISK_NO_REFERENCE)
        if order_type == INTENT_MARKET:
            px = ref
        else:
            px = price
            # both > 0 (ref may be 0 only with the band off): the difference fits int64
            dev = price - ref if price >= ref else ref - price
            if lim.band_ticks != RISK_NO_LIMIT and dev > lim.band_ticks:
                return self._refuse(RISK_PRICE_BAND)
            if lim.band_bps != RISK_NO_LIMIT and \
                    <int128>dev * RISK_BPS > <int128>ref * lim.band_bps:
                return self._refuse(RISK_PRICE_BAND)
        notional = risk_sat_mul(px, qty)
        if notional > lim.max_notional:
            return self._refuse(RISK_NOTIONAL)
        if notional < lim.min_notional:
            return self._refuse(RISK_MIN_NOTIONAL)
        if not replace and r.open_orders >= lim.max_open_orders:
            return self._refuse(RISK_OPEN_ORDERS)
        w = <int128>pos + <int128>side * (<int128>same + qty)
        if side == INTENT_BUY:
            if w > <int128>lim.max_long_lots:
                return self._refuse(RISK_POSITION)
        elif -w > <int128>lim.max_short_lots:
            return self._refuse(RISK_POSITION)
        # past the position check |w| fits int64 (a buy: pos < w <= max_long; a sell alike)
        if _abs128_sat(w) > _abs128_sat(pos):
            exposure = risk_sat_mul(_abs128_sat(w), ref)
            if exposure > lim.max_exposure:
                return self._refuse(RISK_EXPOSURE)
            if self.glimits.max_total_exposure != RISK_NO_LIMIT and \
                    self.exposure_total - r.exposure + exposure \
                    > <int128>self.glimits.max_total_exposure:
                return self._refuse(RISK_TOTAL_EXPOSURE)
        window = self.glimits.window_ns
        if _window_full(&r.orders, lim.order_rate, self.rate_capacity, now_ns, window) or \
                _window_full(&self.g_orders, self.glimits.order_rate, self.rate_capacity,
                             now_ns, window):
            return self._refuse(RISK_RATE)
        _record(&r.orders, self.rate_capacity, now_ns)
        _record(&self.g_orders, self.rate_capacity, now_ns)
        self.passed += 1
        return RISK_OK

    cdef int c_check_new(self, int32_t instrument, int side, int64_t price_ticks,
                         int64_t qty_lots, int order_type, int tif,
                         int64_t now_ns) noexcept nogil:
        return self._check(instrument, side, price_ticks, qty_lots, order_type, tif, 0, 0,
                           False, now_ns)

    cdef int c_check_replace(self, int32_t instrument, int side, int64_t price_ticks,
                             int64_t qty_lots, int order_type, int tif, int old_side,
                             int64_t old_lots, int64_t now_ns) noexcept nogil:
        return self._check(instrument, side, price_ticks, qty_lots, order_type, tif, old_side,
                           old_lots, True, now_ns)

    cdef int c_check_cancel(self, int32_t instrument, int64_t now_ns) noexcept nogil:
        cdef RiskInstrument* r
        if instrument < 0 or instrument >= self.instrument_count:
            return self._refuse(RISK_INSTRUMENT)
        if now_ns >= self.next_reset_ns:
            self.c_roll(now_ns)
        r = &self.inst[instrument]
        if _window_full(&r.cancels, r.limits.cancel_rate, self.rate_capacity, now_ns,
                        self.glimits.window_ns) or \
                _window_full(&self.g_cancels, self.glimits.cancel_rate, self.rate_capacity,
                             now_ns, self.glimits.window_ns):
            return self._refuse(RISK_CANCEL_RATE)
        _record(&r.cancels, self.rate_capacity, now_ns)
        _record(&self.g_cancels, self.rate_capacity, now_ns)
        self.passed += 1
        return RISK_OK

    cdef int c_check_intent(self, const Intent* row, int old_side, int64_t old_lots,
                            int64_t now_ns) noexcept nogil:
        if row.kind == INTENT_NEW:
            return self._check(row.instrument, row.side, row.price_ticks, row.qty_lots,
                               row.order_type, row.tif, 0, 0, False, now_ns)
        if row.kind == INTENT_CANCEL:
            return self.c_check_cancel(row.instrument, now_ns)
        if row.kind == INTENT_REPLACE:
            return self._check(row.instrument, row.side, row.price_ticks, row.qty_lots,
                               row.order_type, row.tif, old_side, old_lots, True, now_ns)
        return self._refuse(RISK_ARG)

    # ------------------------------------------------------------------ C API: events

    cdef int c_on_order_open(self, int32_t instrument, int side, int64_t lots) noexcept nogil:
        cdef RiskInstrument* r
        cdef int64_t* open_lots
        if instrument < 0 or instrument >= self.instrument_count:
            return self._error(RISK_INSTRUMENT)
        if (side != INTENT_BUY and side != INTENT_SELL) or lots <= 0:
            return self._error(RISK_ARG)
        r = &self.inst[instrument]
        open_lots = &r.open_buy_lots if side == INTENT_BUY else &r.open_sell_lots
        if open_lots[0] > INT64_MAX - lots or r.open_orders == INT64_MAX:
            return self._error(RISK_OVERFLOW)
        open_lots[0] += lots
        r.open_orders += 1
        return RISK_OK

    cdef int c_on_order_close(self, int32_t instrument, int side,
                              int64_t remaining_lots) noexcept nogil:
        cdef RiskInstrument* r
        cdef int64_t* open_lots
        if instrument < 0 or instrument >= self.instrument_count:
            return self._error(RISK_INSTRUMENT)
        if (side != INTENT_BUY and side != INTENT_SELL) or remaining_lots < 0:
            return self._error(RISK_ARG)
        r = &self.inst[instrument]
        open_lots = &r.open_buy_lots if side == INTENT_BUY else &r.open_sell_lots
        open_lots[0] -= remaining_lots if remaining_lots < open_lots[0] else open_lots[0]
        if r.open_orders > 0:
            r.open_orders -= 1
        return RISK_OK

    cdef int c_on_fill(self, int32_t instrument, int side, int64_t lots, int64_t realized_delta,
                       int64_t now_ns) noexcept nogil:
        cdef RiskInstrument* r
        cdef int64_t* open_lots
        cdef int128 pos
        if instrument < 0 or instrument >= self.instrument_count:
            return self._error(RISK_INSTRUMENT)
        if (side != INTENT_BUY and side != INTENT_SELL) or lots <= 0:
            return self._error(RISK_ARG)
        r = &self.inst[instrument]
        pos = <int128>r.position + <int128>side * lots
        if pos > <int128>INT64_MAX or pos < -<int128>INT64_MAX:
            return self._error(RISK_OVERFLOW)
        if now_ns >= self.next_reset_ns:
            self.c_roll(now_ns)
        r.position = <int64_t>pos
        open_lots = &r.open_buy_lots if side == INTENT_BUY else &r.open_sell_lots
        open_lots[0] -= lots if lots < open_lots[0] else open_lots[0]
        self.realized_total += realized_delta
        self._revalue(r)
        self._evaluate_pnl()
        self._evaluate(r)
        return RISK_OK

    cdef int c_on_mark(self, int32_t instrument, int64_t mark_ticks, int64_t unrealized,
                       int64_t now_ns) noexcept nogil:
        cdef RiskInstrument* r
        if instrument < 0 or instrument >= self.instrument_count:
            return self._error(RISK_INSTRUMENT)
        if mark_ticks <= 0:
            return self._error(RISK_ARG)
        if now_ns >= self.next_reset_ns:
            self.c_roll(now_ns)
        r = &self.inst[instrument]
        r.ref_ticks = mark_ticks
        self.unrealized_total += <int128>unrealized - r.unrealized
        r.unrealized = unrealized
        self._revalue(r)
        self._evaluate_pnl()
        self._evaluate(r)
        return RISK_OK

    @cython.cdivision(True)
    cdef int c_roll(self, int64_t now_ns) noexcept nogil:
        """A new day when now_ns reached the reset boundary: 1 if it started one, else 0."""
        cdef int128 periods
        cdef int128 next_ns
        if now_ns < self.next_reset_ns:
            return 0
        self.day_start_equity = self.realized_total + self.unrealized_total
        self.day_peak_equity = self.day_start_equity
        periods = (<int128>now_ns - self.next_reset_ns) / self.reset_period_ns + 1
        next_ns = self.next_reset_ns + periods * self.reset_period_ns
        self.next_reset_ns = <int64_t>next_ns if next_ns < <int128>INT64_MAX else INT64_MAX
        return 1

    cdef int c_halt(self) noexcept nogil:
        self._enter(RISK_STATE_HALTED, RISK_MANUAL)
        return self.state

    cdef int c_reset(self) noexcept nogil:
        if self.state != RISK_STATE_ACTIVE:
            self.state = RISK_STATE_ACTIVE
            self.state_changes += 1
        self.cause = RISK_OK
        self._evaluate_all()
        return self.state

    # ------------------------------------------------------------------ state machine

    cdef void _revalue(self, RiskInstrument* r) noexcept nogil:
        cdef int64_t exposure = risk_sat_mul(_abs128_sat(r.position), r.ref_ticks)
        self.exposure_total += <int128>exposure - r.exposure
        r.exposure = exposure

    cdef void _enter(self, int state, int cause) noexcept nogil:
        if state > self.state:
            self.state = state
            self.cause = cause
            self.state_changes += 1
            self.breach_counts[RISK_CODE_BASE - cause] += 1

    cdef void _evaluate_pnl(self) noexcept nogil:
        cdef int128 equity = self.realized_total + self.unrealized_total
        if equity > self.day_peak_equity:
            self.day_peak_equity = equity
        if self.glimits.daily_loss_limit != RISK_NO_LIMIT and \
                self.day_start_equity - equity > <int128>self.glimits.daily_loss_limit:
            self._enter(RISK_STATE_HALTED, RISK_DAILY_LOSS)
        if self.glimits.max_drawdown != RISK_NO_LIMIT and \
                self.day_peak_equity - equity > <int128>self.glimits.max_drawdown:
            self._enter(RISK_STATE_HALTED, RISK_DRAWDOWN)

    cdef void _evaluate(self, const RiskInstrument* r) noexcept nogil:
        if r.position > r.limits.max_long_lots or -r.position > r.limits.max_short_lots:
            self._enter(RISK_STATE_REDUCING, RISK_POSITION)
        if r.exposure > r.limits.max_exposure:
            self._enter(RISK_STATE_REDUCING, RISK_EXPOSURE)
        if self.glimits.max_total_exposure != RISK_NO_LIMIT and \
                self.exposure_total > <int128>self.glimits.max_total_exposure:
            self._enter(RISK_STATE_REDUCING, RISK_TOTAL_EXPOSURE)

    cdef void _evaluate_all(self) noexcept nogil:
        cdef int32_t i
        self._evaluate_pnl()
        for i in range(self.instrument_count):
            self._evaluate(&self.inst[i])

    # ------------------------------------------------------------------ Python API: limits

    def set_limits(self, instrument, limits):
        """Set one instrument's limits (an InstrumentLimits); the state may rise at once."""
        cdef int32_t i = self._index(instrument)
        cdef RiskLimits new
        if not isinstance(limits, InstrumentLimits):
            raise TypeError(f"limits must be InstrumentLimits, got {type(limits).__name__}")
        new.max_qty_lots = _limit_field(limits, "max_qty_lots", 0)
        new.max_notional = _limit_field(limits, "max_notional", 0)
        new.min_notional = _limit_field(limits, "min_notional", 0)
        new.band_ticks = _limit_field(limits, "band_ticks", 0)
        new.band_bps = _limit_field(limits, "band_bps", 0)
        new.max_open_orders = _limit_field(limits, "max_open_orders", 0)
        new.max_long_lots = _limit_field(limits, "max_long_lots", 0)
        new.max_short_lots = _limit_field(limits, "max_short_lots", 0)
        new.max_exposure = _limit_field(limits, "max_exposure", 0)
        new.order_rate = _limit_field(limits, "order_rate", 0)
        new.cancel_rate = _limit_field(limits, "cancel_rate", 0)
        check_rates((new.order_rate, new.cancel_rate), self.rate_capacity, "InstrumentLimits")
        self.inst[i].limits = new
        self._evaluate_all()

    def limits(self, instrument):
        """The instrument's limits as an InstrumentLimits."""
        cdef RiskLimits* lim = &self.inst[self._index(instrument)].limits
        return InstrumentLimits(
            lim.max_qty_lots, lim.max_notional, lim.min_notional, lim.band_ticks, lim.band_bps,
            lim.max_open_orders, lim.max_long_lots, lim.max_short_lots, lim.max_exposure,
            lim.order_rate, lim.cancel_rate)

    def set_global_limits(self, limits):
        """Set the limits over every instrument (a GlobalLimits); the state may rise at once."""
        cdef RiskGlobalLimits new
        if not isinstance(limits, GlobalLimits):
            raise TypeError(f"limits must be GlobalLimits, got {type(limits).__name__}")
        new.max_total_exposure = _limit_field(limits, "max_total_exposure", 0)
        new.order_rate = _limit_field(limits, "order_rate", 0)
        new.cancel_rate = _limit_field(limits, "cancel_rate", 0)
        new.daily_loss_limit = _limit_field(limits, "daily_loss_limit", 0)
        new.max_drawdown = _limit_field(limits, "max_drawdown", 0)
        new.window_ns = _limit_field(limits, "window_ns", 1)
        check_rates((new.order_rate, new.cancel_rate), self.rate_capacity, "GlobalLimits")
        self.glimits = new
        self._evaluate_all()

    def global_limits(self):
        cdef RiskGlobalLimits* g = &self.glimits
        return GlobalLimits(g.max_total_exposure, g.order_rate, g.cancel_rate,
                            g.daily_loss_limit, g.max_drawdown, g.window_ns)

    def set_day_reset(self, next_reset_ns, period_ns=DAY_NS):
        """The next daily reset boundary (see next_daily_reset_ns) and the period after it;
        NO_LIMIT: no daily reset."""
        cdef int64_t nxt = as_int64(next_reset_ns, "next_reset_ns")
        cdef int64_t period = as_int64(period_ns, "period_ns")
        if period < 1:
            raise ValueError(f"period_ns must be in 1..{INT64_MAX}, got {period}")
        self.next_reset_ns = nxt
        self.reset_period_ns = period

    cdef int32_t _index(self, object instrument) except -1:
        cdef int64_t i = as_int64(instrument, "instrument")
        if i < 0 or i >= self.instrument_count:
            raise IndexError(f"instrument {i} outside 0..{self.instrument_count - 1}")
        return <int32_t>i

    # ------------------------------------------------------------------ Python API: codes

    def check_new(self, instrument, side, price_ticks, qty_lots, now_ns,
                  order_type=INTENT_LIMIT, tif=INTENT_GTC):
        """Check a NEW order; OK (recorded in the order windows) or the reason it is refused."""
        return self.c_check_new(
            _index_arg(instrument), _enum_arg(side, "side"), _i64(price_ticks, "price_ticks"),
            _i64(qty_lots, "qty_lots"), _enum_arg(order_type, "order_type"),
            _enum_arg(tif, "tif"), _i64(now_ns, "now_ns"))

    def check_replace(self, instrument, side, price_ticks, qty_lots, old_side, old_lots, now_ns,
                      order_type=INTENT_LIMIT, tif=INTENT_GTC):
        """Check a REPLACE of an order (old_side, old_lots remaining) by the one described."""
        return self.c_check_replace(
            _index_arg(instrument), _enum_arg(side, "side"), _i64(price_ticks, "price_ticks"),
            _i64(qty_lots, "qty_lots"), _enum_arg(order_type, "order_type"),
            _enum_arg(tif, "tif"), _enum_arg(old_side, "old_side"),
            _i64(old_lots, "old_lots"), _i64(now_ns, "now_ns"))

    def check_pending(self, IntentBuffer buffer not None, index, now_ns, old_side=0, old_lots=0):
        """Check pending row `index` of an IntentBuffer (c_check_intent): a NEW, CANCEL or
        REPLACE (of an order on old_side with old_lots remaining) as the consumer takes it."""
        cdef Intent row
        cdef int64_t i = _i64(index, "index")
        if i < 0 or i >= buffer.c_len():
            raise IndexError(f"intent index {i} outside 0..{buffer.c_len() - 1}")
        buffer.c_get(<Py_ssize_t>i, &row)
        return self.c_check_intent(&row, _enum_arg(old_side, "old_side"),
                                   _i64(old_lots, "old_lots"), _i64(now_ns, "now_ns"))

    def check_cancel(self, instrument, now_ns):
        """Check a cancel; OK (recorded in the cancel windows) or CANCEL_RATE."""
        return self.c_check_cancel(_index_arg(instrument), _i64(now_ns, "now_ns"))

    def on_order_open(self, instrument, side, lots):
        return self.c_on_order_open(_index_arg(instrument), _enum_arg(side, "side"),
                                    _i64(lots, "lots"))

    def on_order_close(self, instrument, side, remaining_lots):
        return self.c_on_order_close(_index_arg(instrument), _enum_arg(side, "side"),
                                     _i64(remaining_lots, "remaining_lots"))

    def on_fill(self, instrument, side, lots, realized_delta, now_ns):
        return self.c_on_fill(_index_arg(instrument), _enum_arg(side, "side"),
                              _i64(lots, "lots"), _i64(realized_delta, "realized_delta"),
                              _i64(now_ns, "now_ns"))

    def on_mark(self, instrument, mark_ticks, unrealized, now_ns):
        return self.c_on_mark(_index_arg(instrument), _i64(mark_ticks, "mark_ticks"),
                              _i64(unrealized, "unrealized"), _i64(now_ns, "now_ns"))

    def roll(self, now_ns):
        """Start a new day if now_ns reached the reset boundary; 1 if it did."""
        return self.c_roll(as_int64(now_ns, "now_ns"))

    def halt(self):
        """Enter HALTED (cause MANUAL); returns the state."""
        return self.c_halt()

    def reset(self):
        """Back to ACTIVE, then every standing breach again; returns the new state."""
        return self.c_reset()

    # ------------------------------------------------------------------ Python API: reading

    def instrument(self, instrument):
        """(ref_ticks, position, open_buy_lots, open_sell_lots, open_orders, exposure,
        unrealized)"""
        cdef RiskInstrument* r = &self.inst[self._index(instrument)]
        return (r.ref_ticks, r.position, r.open_buy_lots, r.open_sell_lots, r.open_orders,
                r.exposure, r.unrealized)

    def pnl(self):
        """(realized, unrealized, equity, day_start_equity, day_peak_equity)"""
        return (_py128(self.realized_total), _py128(self.unrealized_total),
                _py128(self.realized_total + self.unrealized_total),
                _py128(self.day_start_equity), _py128(self.day_peak_equity))

    @property
    def exposure_total(self):
        return _py128(self.exposure_total)

    def refusals(self):
        """Refused orders and cancels per reason (reasons never seen are left out)."""
        return _counts(self.refusal_counts)

    def breaches(self):
        """State changes per cause (causes never seen are left out)."""
        return _counts(self.breach_counts)

    def __repr__(self):
        return (f"RiskCore(instruments={self.instrument_count}, "
                f"state={STATE_NAMES[self.state]}, passed={self.passed}, "
                f"refused={self.refused})")


cdef dict _counts(const int64_t* slots):
    cdef int k
    out = {}
    for k in range(RISK_CODE_SLOTS - 1, -1, -1):
        if slots[k]:
            out[RISK_CODE_BASE - k] = slots[k]
    return out
