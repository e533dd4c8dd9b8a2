# Quoting maths of the market maker: one instrument's two-sided quote, prices in int64 ticks
# and sizes in int64 lots of its grid, written into a caller's preallocated QuoteSet. Cython
# callers (strategies) use the c_* methods (status codes, no Python, no GIL, no allocation);
# Python callers use the wrappers of quoting.pyx. Formulas, units and rounding rules are in
# quoting.pyx's docstring; reference semantics: engine/strategy/quoting_ref.py.
cimport cython
from libc.stdint cimport int32_t, int64_t

from engine._core.book cimport BookTop

cdef enum:
    # reference price
    QUOTE_REF_MID = 1
    QUOTE_REF_MICRO = 2  # size-weighted: bid + (ask - bid) * bid_qty / (bid_qty + ask_qty)
    QUOTE_REF_LAST = 3  # last trade price (c_on_trade)
    QUOTE_REF_EXTERNAL = 4  # another venue's price in this grid's ticks (c_set_external)

    # spread and reservation price
    QUOTE_MODEL_SPREAD = 1  # half = max(min, base + k*sigma); linear inventory skew
    QUOTE_MODEL_AS = 2  # Avellaneda-Stoikov, horizon T-t held at horizon_s
    QUOTE_MODEL_GLFT = 3  # Gueant-Lehalle-Fernandez-Tapia infinite-horizon approximation

    # size per level: qty * factor**i (geometric) or qty * (1 + factor*i) (linear)
    QUOTE_SIZE_GEOMETRIC = 1
    QUOTE_SIZE_LINEAR = 2

    QUOTE_MAX_LEVELS = 16  # levels per side in a QuoteSet

    # c_refresh verdicts (non-negative: informative)
    QUOTE_KEEP = 0
    QUOTE_REPLACE_PRICE = 1  # the ideal price moved more than refresh_ticks
    QUOTE_REPLACE_SIZE = 2  # the ideal size differs by more than size_tol_bps of the resting
    QUOTE_REPLACE_AGE = 3  # the resting order is max_age_ns old or older
    QUOTE_CANCEL = 4  # the ideal size is 0: that level is not quoted any more

# Statuses. Negative: an error; the quoter's state is as it was and a QuoteSet written by a
# failed c_compute holds no quotes (n_bids = n_asks = 0). fixedpoint owns -1..-15 (its
# ERR_OVERFLOW = -3 is reused here for every value out of range), position -16..-18, book
# -32..-35, depth_decode -48..-53, intents -64..-72, frame_handler -80..-83, orders
# -96..-101, risk -112..-143; quoting owns -144..-159.
cdef enum:
    QUOTE_OK = 0
    QUOTE_ERR_OVERFLOW = -3  # a price, size or time past QUOTE_MAX, or a quote beyond it
    QUOTE_ERR_EMPTY = -144  # a book side is empty (price <= 0), or no book seen yet
    QUOTE_ERR_CROSSED = -145  # best bid >= best ask
    QUOTE_ERR_SIZE = -146  # a book size < 0; c_refresh: resting size <= 0 or ideal < 0
    QUOTE_ERR_PRICE = -147  # a trade/external price <= 0; c_refresh: a price <= 0
    QUOTE_ERR_TIME = -148  # a book event older than the previous one, or now < placed_ns
    QUOTE_ERR_NO_REF = -149  # the reference (last trade, external) has not been set

# Every price, size, inventory and time difference is within +-QUOTE_MAX = 2**52: exact in a
# double (the float part of the maths) and far from int64 overflow in the integer part.
cdef extern from *:
    """
    #define HFT_QUOTE_MAX ((int64_t)4503599627370496LL)
    """
    const int64_t QUOTE_MAX "HFT_QUOTE_MAX"


cdef struct Quote:
    int64_t price_ticks
    int64_t qty_lots


# The output of one c_compute: bids[0..n_bids-1] best (highest) first, asks[0..n_asks-1]
# best (lowest) first, and the float intermediates, for logs and tests.
cdef struct QuoteSet:
    int32_t n_bids
    int32_t n_asks
    double reference  # s, ticks
    double reservation  # r, ticks
    double half_spread  # ticks, after the min_half_spread floor
    double sigma  # ticks / sqrt(second)
    Quote bids[QUOTE_MAX_LEVELS]
    Quote asks[QUOTE_MAX_LEVELS]


# Parameters, set and checked by Quoter's constructor (quoting.pyx); derived fields last.
cdef struct QuoteParams:
    int ref
    int model
    int size_mode
    int32_t levels  # 1..QUOTE_MAX_LEVELS per side
    int64_t level_spacing_ticks  # >= 1
    int64_t qty_lots  # base size of level 0, >= 1
    double size_factor  # >= 0
    double min_half_spread  # ticks, > 0
    double base_half_spread  # ticks, >= 0
    double vol_mult  # k, sqrt(seconds), >= 0
    int64_t half_life_ns  # of the sigma EWMA, >= 1
    int64_t max_position_lots  # |inventory| limit, >= 1
    int64_t target_lots  # target inventory, |target| <= max_position_lots
    double skew_ticks  # SPREAD: reservation shift at full deviation, >= 0
    double size_shrink  # 0..1: size factor 1 - size_shrink*|x| on the side that adds
    double gamma  # risk aversion, 1/(tick * clip), > 0
    double kappa  # order-arrival decay, 1/tick, > 0
    double arrival  # A, order arrivals per second at the touch, > 0
    double horizon_s  # AS: T - t in seconds, > 0
    int64_t min_qty_lots  # >= 1
    int64_t min_notional_units  # >= 0 (notional unit = tick * lot)
    int64_t refresh_ticks  # >= 0
    int64_t max_age_ns  # >= 0; 0: no age limit
    int64_t size_tol_bps  # >= 0
    # derived
    double tau_ns  # half_life_ns / ln 2: decay exp(-dt / tau_ns)
    double as_const  # (2 / gamma) * log1p(gamma / kappa)
    double glft_c1  # log1p(gamma / kappa) / gamma
    double glft_c2  # sqrt(gamma / (2 A kappa) * (1 + gamma / kappa) ** (1 + kappa / gamma))
    double level_factor[QUOTE_MAX_LEVELS]  # size multiplier of level i


# State fed by the events: the book's top, the last trade, the external reference, sigma.
cdef struct QuoteState:
    int64_t bid
    int64_t bid_qty
    int64_t ask
    int64_t ask_qty
    int64_t book_ns  # time of the last book event; meaningful when events > 0
    int64_t last_trade  # 0: none yet
    int64_t external  # 0: none yet
    int64_t events  # book events taken
    double last_mid  # ticks
    double var_sum  # decayed sum of squared mid log-returns
    double weight_s  # decayed elapsed seconds: the EWMA kernel's integral
    double sigma  # ticks / sqrt(second): sqrt(var_sum / weight_s) * mid


@cython.final
cdef class Quoter:
    cdef QuoteParams p
    cdef QuoteState st
    cdef QuoteSet _out  # the Python wrappers' QuoteSet

    # A book event: the top of book at ts_ns (ns). Updates the top and sigma. Errors:
    # QUOTE_ERR_EMPTY, _CROSSED, _SIZE, _TIME, QUOTE_ERR_OVERFLOW (past QUOTE_MAX).
    cdef int c_on_book(self, int64_t bid, int64_t bid_qty, int64_t ask, int64_t ask_qty,
                       int64_t ts_ns) noexcept nogil
    cdef int c_on_trade(self, int64_t price_ticks) noexcept nogil
    cdef int c_set_external(self, int64_t price_ticks) noexcept nogil
    # The quote for `inventory_lots` (signed) on the last book; writes *out completely.
    cdef int c_compute(self, int64_t inventory_lots, QuoteSet* out) noexcept nogil
    # Keep or replace a resting quote: QUOTE_KEEP, QUOTE_REPLACE_*, QUOTE_CANCEL or an error.
    cdef int c_refresh(self, int64_t resting_price, int64_t resting_qty, int64_t placed_ns,
                       int64_t ideal_price, int64_t ideal_qty, int64_t now_ns) noexcept nogil
    cdef void c_reset(self) noexcept nogil
    # One side's levels from its level-0 price; `room`: lots it may add before the limit.
    cdef int _side(self, int64_t start, int64_t step, double shrink, int64_t room,
                   Quote* rows, int32_t* n) noexcept nogil

    cdef inline int c_on_top(self, const BookTop* top, int64_t ts_ns) noexcept nogil:
        return self.c_on_book(top.bid_price, top.bid_size, top.ask_price, top.ask_size, ts_ns)
