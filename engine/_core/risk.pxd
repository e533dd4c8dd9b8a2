# Pre-trade risk contract: per-order, per-position, rate and PnL limits over a fixed set of
# instruments (index = the intent buffer's instrument index), and the trading state machine
# ACTIVE -> REDUCING -> HALTED. Cython callers (the engine's intent consumer) use the c_*
# methods: status codes, no Python, no allocation, no GIL. Python callers use the validating
# wrappers of risk.pyx, which return the same codes. Reference semantics (and every rule,
# stated once): engine/risk/risk_ref.py.
cimport cython
from libc.stdint cimport INT64_MAX, int32_t, int64_t

from engine._core.fixedpoint cimport int128
from engine._core.intents cimport Intent

cdef enum:
    # trading states, in escalation order: a breach only ever raises the state
    RISK_STATE_ACTIVE = 0
    RISK_STATE_REDUCING = 1  # only orders that reduce the position, never past flat
    RISK_STATE_HALTED = 2  # nothing but cancels

# Codes. 0 passes; a negative code is the reason an order or cancel was refused (counted per
# reason), the cause of a state change, or an event the core did not apply (RISK_INSTRUMENT,
# RISK_ARG, RISK_OVERFLOW: nothing changed). fixedpoint owns -1..-15, position -16..-18,
# book -32..-35, depth_decode -48..-53, intents -64..-72, frame_handler -80..-95,
# orders -96..-101; risk owns -112..-143.
cdef enum:
    RISK_OK = 0
    RISK_INSTRUMENT = -112  # instrument index outside 0..instrument_count-1
    RISK_ARG = -113  # a field the intent buffer would refuse (side, type, tif, price, qty)
    RISK_HALTED = -114  # state HALTED: no new order
    RISK_REDUCING = -115  # state REDUCING and the order does not reduce the position
    RISK_QTY = -116  # qty_lots > max_qty_lots
    RISK_NO_REFERENCE = -117  # no reference price yet: a MARKET order, or a band is set
    RISK_PRICE_BAND = -118  # |price - reference| over band_ticks or band_bps
    RISK_NOTIONAL = -119  # price * qty > max_notional
    RISK_MIN_NOTIONAL = -120  # price * qty < min_notional
    RISK_OPEN_ORDERS = -121  # open orders already at max_open_orders (NEW only)
    RISK_POSITION = -122  # worst-case position past max_long / max_short
    RISK_EXPOSURE = -123  # worst-case notional exposure of the instrument past its limit
    RISK_TOTAL_EXPOSURE = -124  # the sum over instruments past max_total_exposure
    RISK_RATE = -125  # orders in the sliding window at the instrument's or the global limit
    RISK_CANCEL_RATE = -126  # cancels in the window at the instrument's or the global limit
    RISK_DAILY_LOSS = -127  # cause of a halt: the day's loss past daily_loss_limit
    RISK_DRAWDOWN = -128  # cause of a halt: drawdown from the day's peak past max_drawdown
    RISK_MANUAL = -129  # cause of a halt: halt() by the operator or the emergency stop
    RISK_OVERFLOW = -130  # an event whose value would not fit int64: not applied

    RISK_CODE_BASE = -112  # counters index: RISK_CODE_BASE - code, 0..RISK_CODE_SLOTS-1
    RISK_CODE_SLOTS = 32

    RISK_BPS = 10000
    RISK_MAX_RATE_CAPACITY = 1 << 20


# A limit equal to RISK_NO_LIMIT (INT64_MAX) is off; min_notional is off at 0.
cdef extern from *:
    """
    #define RISK_NO_LIMIT INT64_MAX
    """
    const int64_t RISK_NO_LIMIT


# Limits of one instrument. Lots, ticks, notional units (tick * lot) of that instrument.
cdef struct RiskLimits:
    int64_t max_qty_lots
    int64_t max_notional
    int64_t min_notional
    int64_t band_ticks
    int64_t band_bps
    int64_t max_open_orders
    int64_t max_long_lots
    int64_t max_short_lots
    int64_t max_exposure
    int64_t order_rate  # orders (NEW and REPLACE) per window
    int64_t cancel_rate  # cancels per window


# Limits over every instrument. Money in notional units summed over instruments: meaningful
# when every instrument's notional unit is the same money (one quote asset and tick * lot).
cdef struct RiskGlobalLimits:
    int64_t max_total_exposure
    int64_t order_rate
    int64_t cancel_rate
    int64_t daily_loss_limit
    int64_t max_drawdown
    int64_t window_ns  # the rate windows' length (> 0)


# The accepted events of one rate window: the last min(count, capacity) timestamps, newest at
# ts[(head - 1) mod capacity]. An event at t passes a limit L when fewer than L events are
# stored or the L-th newest is <= t - window_ns (out of the window (t - window_ns, t]).
cdef struct RateRing:
    int64_t* ts
    int64_t head  # next slot written
    int64_t count  # events stored, <= capacity


# What the core knows of one instrument.
cdef struct RiskInstrument:
    RiskLimits limits
    int64_t ref_ticks  # the reference (mark) price; 0 = none yet
    int64_t position  # signed lots
    int64_t open_buy_lots  # remaining lots of open buy orders
    int64_t open_sell_lots
    int64_t open_orders
    int64_t exposure  # min(|position| * ref_ticks, INT64_MAX): saturated above every limit
    int64_t unrealized  # as last fed by c_on_mark
    RateRing orders
    RateRing cancels


@cython.cdivision(True)
cdef inline int64_t risk_sat_mul(int64_t a, int64_t b) noexcept nogil:
    """a * b for a, b >= 0, INT64_MAX when it does not fit: above every limit that is on."""
    if a == 0 or b == 0:
        return 0
    if a > INT64_MAX // b:
        return INT64_MAX
    return a * b


@cython.final
cdef class RiskCore:
    cdef RiskInstrument* inst  # instrument_count rows, owned
    cdef int64_t* ring_storage  # every ring's timestamps, owned
    cdef readonly int32_t instrument_count
    cdef readonly int64_t rate_capacity  # the largest rate limit that can be set
    cdef RiskGlobalLimits glimits
    cdef RateRing g_orders
    cdef RateRing g_cancels
    cdef readonly int state
    cdef readonly int cause  # the code that set the state; RISK_OK while ACTIVE
    cdef int128 exposure_total  # sum of the instruments' exposure
    cdef int128 realized_total  # sum of the realized deltas fed
    cdef int128 unrealized_total  # sum of the instruments' unrealized
    cdef int128 day_start_equity
    cdef int128 day_peak_equity
    cdef readonly int64_t next_reset_ns  # INT64_MAX: no daily reset
    cdef readonly int64_t reset_period_ns
    cdef readonly int64_t passed  # orders and cancels that passed
    cdef readonly int64_t refused  # orders and cancels refused (every reason)
    cdef readonly int64_t errors  # events not applied (RISK_INSTRUMENT/ARG/OVERFLOW)
    cdef readonly int64_t state_changes
    cdef int64_t refusal_counts[RISK_CODE_SLOTS]  # per refusal reason
    cdef int64_t breach_counts[RISK_CODE_SLOTS]  # per cause of a state change

    cdef int _refuse(self, int code) noexcept nogil
    cdef int _error(self, int code) noexcept nogil
    cdef int _check(self, int32_t instrument, int side, int64_t price, int64_t qty,
                    int order_type, int tif, int old_side, int64_t old_lots, bint replace,
                    int64_t now_ns) noexcept nogil
    cdef void _revalue(self, RiskInstrument* r) noexcept nogil
    cdef void _enter(self, int state, int cause) noexcept nogil
    cdef void _evaluate_pnl(self) noexcept nogil
    cdef void _evaluate(self, const RiskInstrument* r) noexcept nogil
    cdef void _evaluate_all(self) noexcept nogil
    cdef int32_t _index(self, object instrument) except -1

    # The C API: codes as documented in risk_ref.py, no Python, no allocation.
    cdef int c_check_new(self, int32_t instrument, int side, int64_t price_ticks,
                         int64_t qty_lots, int order_type, int tif,
                         int64_t now_ns) noexcept nogil
    cdef int c_check_replace(self, int32_t instrument, int side, int64_t price_ticks,
                             int64_t qty_lots, int order_type, int tif, int old_side,
                             int64_t old_lots, int64_t now_ns) noexcept nogil
    cdef int c_check_cancel(self, int32_t instrument, int64_t now_ns) noexcept nogil
    # One row of the intent buffer: NEW, CANCEL, or REPLACE of an order whose side and
    # remaining lots the caller looked up (old_side, old_lots); RISK_ARG for any other kind.
    cdef int c_check_intent(self, const Intent* row, int old_side, int64_t old_lots,
                            int64_t now_ns) noexcept nogil
    cdef int c_on_order_open(self, int32_t instrument, int side, int64_t lots) noexcept nogil
    cdef int c_on_order_close(self, int32_t instrument, int side,
                              int64_t remaining_lots) noexcept nogil
    cdef int c_on_fill(self, int32_t instrument, int side, int64_t lots, int64_t realized_delta,
                       int64_t now_ns) noexcept nogil
    cdef int c_on_mark(self, int32_t instrument, int64_t mark_ticks, int64_t unrealized,
                       int64_t now_ns) noexcept nogil
    cdef int c_roll(self, int64_t now_ns) noexcept nogil
    cdef int c_halt(self) noexcept nogil
    cdef int c_reset(self) noexcept nogil
