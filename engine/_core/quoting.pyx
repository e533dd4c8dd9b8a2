"""Quoting maths of the market maker (reference: engine/strategy/quoting_ref.py).

One Quoter per instrument: book events update the top of book and sigma, `c_compute` writes
the two-sided quote for an inventory into a caller's QuoteSet. Prices are int64 ticks and
sizes int64 lots of the instrument's grid; the float part of the maths runs in doubles on
values within QUOTE_MAX = 2**52 (exact in a double), and every rounding decision is then taken
on integers, so the reference (same float operations in the same order, the same libm) gives
the same integers. Floats (reference, reservation, half spread, sigma) agree bit for bit on one
machine; the differential tests allow a relative 1e-12 in case of a libm or FMA difference.

Units and formulas (s: reference price, ticks; q: inventory):

- **Reference s**: MID (bid + ask) / 2; MICRO bid + (ask - bid) * Qb / (Qb + Qa) (mid when both
  sizes are 0); LAST the last trade; EXTERNAL another venue's price already in our ticks.
- **sigma** (ticks / sqrt(second)): per book event with mid m after dt ns,
  r = ln(m / m_prev), d = exp(-dt / tau), tau = half_life_ns / ln 2,
  V = V*d + r^2, W = W*d + dt*1e-9 (W: the decay kernel's integral, seconds);
  sigma = sqrt(V / W) * m (0 until time has passed). V/W is the time-weighted variance
  rate of log-returns, so events may arrive at any spacing.
- **Inventory**: dev = q - target_lots (lots); x = clamp(dev / max_position_lots, -1, 1);
  AS/GLFT use q_c = dev / qty_lots (inventory in clips of the base size).
- **SPREAD**: half = max(min_half_spread, base_half_spread + vol_mult * sigma), vol_mult in
  sqrt(seconds) (vol_mult = sqrt(h): the one-sigma move over h seconds);
  r = s - skew_ticks * x.
- **AS** (Avellaneda-Stoikov 2008, T - t held at horizon_s: a rolling horizon):
  r = s - q_c * gamma * sigma^2 * horizon_s; spread = gamma * sigma^2 * horizon_s +
  (2 / gamma) * ln(1 + gamma / kappa); half = max(min_half_spread, spread / 2).
  gamma: 1 / (tick * clip), kappa: 1 / tick.
- **GLFT** (Gueant-Lehalle-Fernandez-Tapia 2013, infinite-horizon approximation, Delta = 1
  clip): c1 = ln(1 + gamma / kappa) / gamma,
  c2 = sqrt(gamma / (2 * A * kappa) * (1 + gamma / kappa) ** (1 + kappa / gamma)),
  omega = sigma * c2; r = s - q_c * omega; half = max(min_half_spread, c1 + omega / 2).
  A: order arrivals per second at the touch.
- **Prices**: bid0 = floor(r - half), ask0 = ceil(r + half) (|r +- half| <= QUOTE_MAX, else
  QUOTE_ERR_OVERFLOW); ask0 = bid0 + 1 if ask0 <= bid0; post-only: bid0 <= best_ask - 1,
  ask0 >= best_bid + 1. Level i: bid0 - i*spacing, ask0 + i*spacing; bids below 1 tick are
  left out, an ask past QUOTE_MAX is QUOTE_ERR_OVERFLOW. So bids < asks, bids < best ask,
  asks > best bid, always.
- **Sizes**: level i: floor(qty_lots * f_i * shrink), f_i = size_factor**i (GEOMETRIC) or
  1 + size_factor*i (LINEAR); shrink = 1 - size_shrink*|x| on the side that adds to dev (bids
  when dev > 0, asks when dev < 0), 1 on the other. A level that floors to 0 is left out;
  otherwise it is raised to max(min_qty_lots, ceil(min_notional_units / price)). Each side's
  total is capped by its room to the position limit (bids: max_position_lots - q, asks:
  max_position_lots + q); a level the room cannot hold at the minimum stops that side, so at
  the limit that side is not quoted at all.
- **Refresh** (c_refresh): CANCEL if the ideal size is 0; REPLACE_PRICE if
  |ideal - resting| > refresh_ticks; REPLACE_SIZE if |dq| * 10_000 > size_tol_bps * resting_qty;
  REPLACE_AGE if max_age_ns > 0 and now - placed >= max_age_ns; else KEEP.
"""

from libc.math cimport ceil, exp, fabs, floor, log, log1p, pow, sqrt
from cpython.long cimport PyLong_AsLongLongAndOverflow
from libc.stdint cimport INT64_MAX, int64_t

from engine._core.fixedpoint cimport as_int64, int128

import math
import time

REF_MID = QUOTE_REF_MID
REF_MICRO = QUOTE_REF_MICRO
REF_LAST = QUOTE_REF_LAST
REF_EXTERNAL = QUOTE_REF_EXTERNAL
MODEL_SPREAD = QUOTE_MODEL_SPREAD
MODEL_AS = QUOTE_MODEL_AS
MODEL_GLFT = QUOTE_MODEL_GLFT
SIZE_GEOMETRIC = QUOTE_SIZE_GEOMETRIC
SIZE_LINEAR = QUOTE_SIZE_LINEAR
MAX_LEVELS = QUOTE_MAX_LEVELS
MAX = QUOTE_MAX

KEEP = QUOTE_KEEP
REPLACE_PRICE = QUOTE_REPLACE_PRICE
REPLACE_SIZE = QUOTE_REPLACE_SIZE
REPLACE_AGE = QUOTE_REPLACE_AGE
CANCEL = QUOTE_CANCEL

OK = QUOTE_OK
ERR_OVERFLOW = QUOTE_ERR_OVERFLOW
ERR_EMPTY = QUOTE_ERR_EMPTY
ERR_CROSSED = QUOTE_ERR_CROSSED
ERR_SIZE = QUOTE_ERR_SIZE
ERR_PRICE = QUOTE_ERR_PRICE
ERR_TIME = QUOTE_ERR_TIME
ERR_NO_REF = QUOTE_ERR_NO_REF

# The same literal in the reference: ln 2 rounded to a double.
cdef double _LN2 = 0.6931471805599453
cdef double _MAXD = <double>QUOTE_MAX

# Parameter names in the order they are checked (and the defaults), shared with the reference.
DEFAULTS = {
    "ref": QUOTE_REF_MID,
    "model": QUOTE_MODEL_SPREAD,
    "size_mode": QUOTE_SIZE_GEOMETRIC,
    "levels": 1,
    "level_spacing_ticks": 1,
    "qty_lots": 1,
    "size_factor": 1.0,
    "min_half_spread": 1.0,
    "base_half_spread": 1.0,
    "vol_mult": 0.0,
    "half_life_ns": 10_000_000_000,
    "max_position_lots": 100,
    "target_lots": 0,
    "skew_ticks": 0.0,
    "size_shrink": 1.0,
    "gamma": 0.1,
    "kappa": 1.0,
    "arrival": 1.0,
    "horizon_s": 1.0,
    "min_qty_lots": 1,
    "min_notional_units": 0,
    "refresh_ticks": 0,
    "max_age_ns": 0,
    "size_tol_bps": 0,
}


def describe(status):
    """One line saying what a status (or refresh verdict) means."""
    return {
        QUOTE_OK: "ok",
        QUOTE_ERR_OVERFLOW: f"a price, size, inventory or quote outside +-2**52 ({QUOTE_MAX})",
        QUOTE_ERR_EMPTY: "a book side is empty, or no book event yet",
        QUOTE_ERR_CROSSED: "best bid >= best ask",
        QUOTE_ERR_SIZE: "a book size < 0, or a resting/ideal quote size out of range",
        QUOTE_ERR_PRICE: "a trade, reference or quote price <= 0",
        QUOTE_ERR_TIME: "time went backwards (book event older than the last, now < placed)",
        QUOTE_ERR_NO_REF: "the reference price (last trade or external) is not set yet",
    }.get(status, f"unknown quoting status {status}")


def refresh_name(verdict):
    """KEEP, REPLACE_PRICE, REPLACE_SIZE, REPLACE_AGE or CANCEL."""
    return {
        QUOTE_KEEP: "KEEP", QUOTE_REPLACE_PRICE: "REPLACE_PRICE",
        QUOTE_REPLACE_SIZE: "REPLACE_SIZE", QUOTE_REPLACE_AGE: "REPLACE_AGE",
        QUOTE_CANCEL: "CANCEL",
    }.get(verdict, describe(verdict))


# ----------------------------------------------------------------------- parameter checks

cdef int64_t _int_param(dict params, str name, int64_t lo, int64_t hi) except? -1:
    value = params[name]
    cdef int64_t v = as_int64(value, name)
    if v < lo or v > hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {v}")
    return v


cdef double _float_param(dict params, str name, double lo, bint lo_open,
                         double hi) except? -1.0:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    cdef double v = float(value)
    if not math.isfinite(v) or v < lo or (lo_open and v == lo) or v > hi:
        bound = "> " if lo_open else ">= "
        raise ValueError(f"{name} must be finite, {bound}{lo} and <= {hi}, got {value!r}")
    return v


cdef int _set_params(QuoteParams* p, dict given) except -1:
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"unknown quoting parameter(s): {', '.join(unknown)}")
    cdef dict params = {**DEFAULTS, **given}
    cdef QuoteParams n
    cdef int i
    cdef double top
    n.ref = <int>_int_param(params, "ref", QUOTE_REF_MID, QUOTE_REF_EXTERNAL)
    n.model = <int>_int_param(params, "model", QUOTE_MODEL_SPREAD, QUOTE_MODEL_GLFT)
    n.size_mode = <int>_int_param(params, "size_mode", QUOTE_SIZE_GEOMETRIC, QUOTE_SIZE_LINEAR)
    n.levels = <int>_int_param(params, "levels", 1, QUOTE_MAX_LEVELS)
    n.level_spacing_ticks = _int_param(params, "level_spacing_ticks", 1, QUOTE_MAX)
    n.qty_lots = _int_param(params, "qty_lots", 1, QUOTE_MAX)
    n.size_factor = _float_param(params, "size_factor", 0.0, False, _MAXD)
    n.min_half_spread = _float_param(params, "min_half_spread", 0.0, True, _MAXD)
    n.base_half_spread = _float_param(params, "base_half_spread", 0.0, False, _MAXD)
    n.vol_mult = _float_param(params, "vol_mult", 0.0, False, _MAXD)
    n.half_life_ns = _int_param(params, "half_life_ns", 1, QUOTE_MAX)
    n.max_position_lots = _int_param(params, "max_position_lots", 1, QUOTE_MAX)
    n.target_lots = _int_param(params, "target_lots", -n.max_position_lots, n.max_position_lots)
    n.skew_ticks = _float_param(params, "skew_ticks", 0.0, False, _MAXD)
    n.size_shrink = _float_param(params, "size_shrink", 0.0, False, 1.0)
    n.gamma = _float_param(params, "gamma", 0.0, True, _MAXD)
    n.kappa = _float_param(params, "kappa", 0.0, True, _MAXD)
    n.arrival = _float_param(params, "arrival", 0.0, True, _MAXD)
    n.horizon_s = _float_param(params, "horizon_s", 0.0, True, _MAXD)
    n.min_qty_lots = _int_param(params, "min_qty_lots", 1, QUOTE_MAX)
    n.min_notional_units = _int_param(params, "min_notional_units", 0, QUOTE_MAX)
    n.refresh_ticks = _int_param(params, "refresh_ticks", 0, QUOTE_MAX)
    n.max_age_ns = _int_param(params, "max_age_ns", 0, INT64_MAX)
    n.size_tol_bps = _int_param(params, "size_tol_bps", 0, QUOTE_MAX)
    # derived, in the reference's operation order
    n.tau_ns = <double>n.half_life_ns / _LN2
    n.as_const = (2.0 / n.gamma) * log1p(n.gamma / n.kappa)
    n.glft_c1 = log1p(n.gamma / n.kappa) / n.gamma
    n.glft_c2 = sqrt(n.gamma / (2.0 * n.arrival * n.kappa)
                     * pow(1.0 + n.gamma / n.kappa, 1.0 + n.kappa / n.gamma))
    if n.model == QUOTE_MODEL_AS and not math.isfinite(n.as_const):
        raise ValueError("gamma and kappa give a non-finite Avellaneda-Stoikov spread term")
    if n.model == QUOTE_MODEL_GLFT and not (math.isfinite(n.glft_c1)
                                            and math.isfinite(n.glft_c2)):
        raise ValueError("gamma, kappa and arrival give a non-finite GLFT constant")
    for i in range(QUOTE_MAX_LEVELS):
        if n.size_mode == QUOTE_SIZE_GEOMETRIC:
            n.level_factor[i] = pow(n.size_factor, <double>i)
        else:
            n.level_factor[i] = 1.0 + n.size_factor * <double>i
    for i in range(n.levels):
        top = <double>n.qty_lots * n.level_factor[i]
        if not top <= _MAXD:
            raise ValueError(
                f"qty_lots * size factor of level {i} is {top!r}, past 2**52 ({QUOTE_MAX})"
            )
    p[0] = n
    return 0


cdef inline int64_t _i64(object value, str what) except? -1:
    # an exact int within int64 is read without allocating (fixedpoint.as_int64 builds Python
    # ints for its bounds); anything else goes to as_int64 for its checks and errors
    cdef int overflow = 0
    cdef long long v
    if type(value) is int:
        v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0:
            return v
    return as_int64(value, what)


cdef inline int64_t _ceil_div(int64_t a, int64_t b) noexcept nogil:
    # a >= 0, b > 0
    return a // b + (1 if a % b != 0 else 0)


cdef class Quoter:
    """Quoting maths of one instrument; see the module docstring for formulas and units.

    Parameters are keyword arguments (DEFAULTS lists them), checked here: a bad one raises
    ValueError (TypeError for a wrong type) naming it. Cython callers feed events with
    c_on_book / c_on_trade / c_set_external and read c_compute into their own QuoteSet;
    Python callers use the methods below, which return the same statuses.
    """

    def __cinit__(self, **params):
        # in __cinit__: even Quoter.__new__(Quoter) gets checked (default) parameters
        _set_params(&self.p, params)
        self.c_reset()

    @property
    def params(self):
        """The parameters in force (DEFAULTS' keys)."""
        cdef dict d = self.p
        return {name: d[name] for name in DEFAULTS}

    # ------------------------------------------------------------------ C API

    cdef int c_on_book(self, int64_t bid, int64_t bid_qty, int64_t ask, int64_t ask_qty,
                       int64_t ts_ns) noexcept nogil:
        cdef QuoteState* st = &self.st
        cdef double mid
        cdef double d
        cdef double r
        cdef int64_t dt
        if bid <= 0 or ask <= 0:
            return QUOTE_ERR_EMPTY
        if bid > QUOTE_MAX or ask > QUOTE_MAX:
            return QUOTE_ERR_OVERFLOW
        if bid_qty < 0 or ask_qty < 0:
            return QUOTE_ERR_SIZE
        if bid_qty > QUOTE_MAX or ask_qty > QUOTE_MAX:
            return QUOTE_ERR_OVERFLOW
        if bid >= ask:
            return QUOTE_ERR_CROSSED
        if ts_ns < 0 or (st.events > 0 and ts_ns < st.book_ns):
            return QUOTE_ERR_TIME
        mid = (<double>bid + <double>ask) * 0.5
        if st.events > 0:
            dt = ts_ns - st.book_ns
            d = exp(-(<double>dt) / self.p.tau_ns)
            # most events leave the mid where it was: no log for those
            r = log(mid / st.last_mid) if mid != st.last_mid else 0.0
            st.var_sum = st.var_sum * d + r * r
            st.weight_s = st.weight_s * d + <double>dt * 1e-9
        if st.weight_s > 0.0:
            st.sigma = sqrt(st.var_sum / st.weight_s) * mid
        else:
            st.sigma = 0.0
        st.last_mid = mid
        st.bid = bid
        st.bid_qty = bid_qty
        st.ask = ask
        st.ask_qty = ask_qty
        st.book_ns = ts_ns
        st.events += 1
        return QUOTE_OK

    cdef int c_on_trade(self, int64_t price_ticks) noexcept nogil:
        if price_ticks <= 0:
            return QUOTE_ERR_PRICE
        if price_ticks > QUOTE_MAX:
            return QUOTE_ERR_OVERFLOW
        self.st.last_trade = price_ticks
        return QUOTE_OK

    cdef int c_set_external(self, int64_t price_ticks) noexcept nogil:
        if price_ticks <= 0:
            return QUOTE_ERR_PRICE
        if price_ticks > QUOTE_MAX:
            return QUOTE_ERR_OVERFLOW
        self.st.external = price_ticks
        return QUOTE_OK

    cdef int _side(self, int64_t start, int64_t step, double shrink, int64_t room,
                   Quote* rows, int32_t* n) noexcept nogil:
        cdef const QuoteParams* p = &self.p
        cdef int32_t i
        cdef int32_t k = 0
        cdef int64_t price
        cdef int64_t size
        cdef int64_t need
        cdef int64_t by_notional
        cdef double size_d
        for i in range(p.levels):
            price = start + step * i
            if price < 1:
                break
            if price > QUOTE_MAX:
                return QUOTE_ERR_OVERFLOW
            size_d = (<double>p.qty_lots * p.level_factor[i]) * shrink
            if not size_d <= _MAXD:
                return QUOTE_ERR_OVERFLOW
            size = <int64_t>floor(size_d)
            if size <= 0:
                continue
            need = p.min_qty_lots
            by_notional = _ceil_div(p.min_notional_units, price)
            if by_notional > need:
                need = by_notional
            if size < need:
                size = need
            if size > room:
                size = room
            if size < need:
                break
            room -= size
            rows[k].price_ticks = price
            rows[k].qty_lots = size
            k += 1
        n[0] = k
        return QUOTE_OK

    cdef int c_compute(self, int64_t inventory_lots, QuoteSet* out) noexcept nogil:
        cdef const QuoteParams* p = &self.p
        cdef const QuoteState* st = &self.st
        cdef double s
        cdef double total
        cdef double sigma = st.sigma
        cdef double x
        cdef double qc
        cdef double var_t
        cdef double omega
        cdef double r
        cdef double half
        cdef double bid_f
        cdef double ask_f
        cdef double shrink
        cdef double shrink_bid = 1.0
        cdef double shrink_ask = 1.0
        cdef int64_t dev
        cdef int64_t b0
        cdef int64_t a0
        cdef int status
        out.n_bids = 0
        out.n_asks = 0
        out.reference = 0.0
        out.reservation = 0.0
        out.half_spread = 0.0
        out.sigma = 0.0
        if st.events == 0:
            return QUOTE_ERR_EMPTY
        if inventory_lots < -QUOTE_MAX or inventory_lots > QUOTE_MAX:
            return QUOTE_ERR_OVERFLOW
        if p.ref == QUOTE_REF_MID:
            s = (<double>st.bid + <double>st.ask) * 0.5
        elif p.ref == QUOTE_REF_MICRO:
            total = <double>st.bid_qty + <double>st.ask_qty
            if total > 0.0:
                s = <double>st.bid + <double>(st.ask - st.bid) * (<double>st.bid_qty / total)
            else:
                s = (<double>st.bid + <double>st.ask) * 0.5
        elif p.ref == QUOTE_REF_LAST:
            if st.last_trade == 0:
                return QUOTE_ERR_NO_REF
            s = <double>st.last_trade
        else:
            if st.external == 0:
                return QUOTE_ERR_NO_REF
            s = <double>st.external
        dev = inventory_lots - p.target_lots
        x = <double>dev / <double>p.max_position_lots
        if x > 1.0:
            x = 1.0
        elif x < -1.0:
            x = -1.0
        if p.model == QUOTE_MODEL_SPREAD:
            half = p.base_half_spread + p.vol_mult * sigma
            r = s - p.skew_ticks * x
        elif p.model == QUOTE_MODEL_AS:
            qc = <double>dev / <double>p.qty_lots
            var_t = sigma * sigma * p.horizon_s
            r = s - qc * p.gamma * var_t
            half = (p.gamma * var_t + p.as_const) * 0.5
        else:
            qc = <double>dev / <double>p.qty_lots
            omega = sigma * p.glft_c2
            r = s - qc * omega
            half = p.glft_c1 + 0.5 * omega
        if half < p.min_half_spread:
            half = p.min_half_spread
        bid_f = r - half
        ask_f = r + half
        # also false for NaN and infinities
        if not (-_MAXD <= bid_f <= _MAXD and -_MAXD <= ask_f <= _MAXD):
            return QUOTE_ERR_OVERFLOW
        b0 = <int64_t>floor(bid_f)
        a0 = <int64_t>ceil(ask_f)
        if a0 <= b0:
            a0 = b0 + 1
        if b0 >= st.ask:
            b0 = st.ask - 1
        if a0 <= st.bid:
            a0 = st.bid + 1
        shrink = 1.0 - p.size_shrink * fabs(x)
        if dev > 0:
            shrink_bid = shrink
        elif dev < 0:
            shrink_ask = shrink
        status = self._side(b0, -p.level_spacing_ticks, shrink_bid,
                            p.max_position_lots - inventory_lots, out.bids, &out.n_bids)
        if status == QUOTE_OK:
            status = self._side(a0, p.level_spacing_ticks, shrink_ask,
                                p.max_position_lots + inventory_lots, out.asks, &out.n_asks)
        if status != QUOTE_OK:
            out.n_bids = 0
            out.n_asks = 0
            return status
        out.reference = s
        out.reservation = r
        out.half_spread = half
        out.sigma = sigma
        return QUOTE_OK

    cdef int c_refresh(self, int64_t resting_price, int64_t resting_qty, int64_t placed_ns,
                       int64_t ideal_price, int64_t ideal_qty, int64_t now_ns) noexcept nogil:
        cdef const QuoteParams* p = &self.p
        cdef int64_t dp
        cdef int64_t dq
        if resting_price <= 0:
            return QUOTE_ERR_PRICE
        if resting_price > QUOTE_MAX:
            return QUOTE_ERR_OVERFLOW
        if resting_qty <= 0:
            return QUOTE_ERR_SIZE
        if resting_qty > QUOTE_MAX:
            return QUOTE_ERR_OVERFLOW
        if ideal_qty < 0:
            return QUOTE_ERR_SIZE
        if ideal_qty > QUOTE_MAX:
            return QUOTE_ERR_OVERFLOW
        if ideal_qty > 0:
            if ideal_price <= 0:
                return QUOTE_ERR_PRICE
            if ideal_price > QUOTE_MAX:
                return QUOTE_ERR_OVERFLOW
        if placed_ns < 0 or now_ns < placed_ns:
            return QUOTE_ERR_TIME
        if ideal_qty == 0:
            return QUOTE_CANCEL
        dp = ideal_price - resting_price
        if dp > p.refresh_ticks or -dp > p.refresh_ticks:
            return QUOTE_REPLACE_PRICE
        dq = ideal_qty - resting_qty
        if dq < 0:
            dq = -dq
        if <int128>dq * 10000 > <int128>p.size_tol_bps * <int128>resting_qty:
            return QUOTE_REPLACE_SIZE
        if p.max_age_ns > 0 and now_ns - placed_ns >= p.max_age_ns:
            return QUOTE_REPLACE_AGE
        return QUOTE_KEEP

    cdef void c_reset(self) noexcept nogil:
        self.st.bid = 0
        self.st.bid_qty = 0
        self.st.ask = 0
        self.st.ask_qty = 0
        self.st.book_ns = 0
        self.st.last_trade = 0
        self.st.external = 0
        self.st.events = 0
        self.st.last_mid = 0.0
        self.st.var_sum = 0.0
        self.st.weight_s = 0.0
        self.st.sigma = 0.0
        self._out.n_bids = 0
        self._out.n_asks = 0
        self._out.reference = 0.0
        self._out.reservation = 0.0
        self._out.half_spread = 0.0
        self._out.sigma = 0.0

    # ------------------------------------------------------------------ Python API

    def on_book(self, bid, bid_qty, ask, ask_qty, ts_ns):
        """A book event (top of book at ts_ns); returns OK or the negative status."""
        return self.c_on_book(_i64(bid, "bid"), _i64(bid_qty, "bid_qty"),
                              _i64(ask, "ask"), _i64(ask_qty, "ask_qty"),
                              _i64(ts_ns, "ts_ns"))

    def on_trade(self, price_ticks):
        """A trade at price_ticks (the LAST reference); returns OK or the status."""
        return self.c_on_trade(_i64(price_ticks, "price_ticks"))

    def set_external(self, price_ticks):
        """The EXTERNAL reference price, in this instrument's ticks; returns OK or the status."""
        return self.c_set_external(_i64(price_ticks, "price_ticks"))

    def compute(self, inventory_lots):
        """(status, bids, asks): bids and asks as [(price_ticks, qty_lots), ...] best first
        (empty when the status is an error)."""
        cdef int status = self.c_compute(_i64(inventory_lots, "inventory_lots"), &self._out)
        return status, *self.quotes()

    def step(self, bid, bid_qty, ask, ask_qty, ts_ns, inventory_lots):
        """on_book then compute, into the Quoter's own QuoteSet; returns the first non-OK
        status (or OK). Read the result with quotes() / values()."""
        cdef int status = self.c_on_book(_i64(bid, "bid"), _i64(bid_qty, "bid_qty"),
                                         _i64(ask, "ask"), _i64(ask_qty, "ask_qty"),
                                         _i64(ts_ns, "ts_ns"))
        cdef int64_t inventory = _i64(inventory_lots, "inventory_lots")
        if status != QUOTE_OK:
            self._out.n_bids = 0
            self._out.n_asks = 0
            return status
        return self.c_compute(inventory, &self._out)

    def quotes(self):
        """(bids, asks) of the last compute/step, as lists of (price_ticks, qty_lots)."""
        cdef int32_t i
        bids = [(self._out.bids[i].price_ticks, self._out.bids[i].qty_lots)
                for i in range(self._out.n_bids)]
        asks = [(self._out.asks[i].price_ticks, self._out.asks[i].qty_lots)
                for i in range(self._out.n_asks)]
        return bids, asks

    def values(self):
        """(reference, reservation, half_spread, sigma) of the last successful compute."""
        return (self._out.reference, self._out.reservation, self._out.half_spread,
                self._out.sigma)

    def refresh(self, resting_price, resting_qty, placed_ns, ideal_price, ideal_qty, now_ns):
        """Keep or replace a resting quote: KEEP, REPLACE_PRICE/_SIZE/_AGE, CANCEL, or an
        error status."""
        return self.c_refresh(
            _i64(resting_price, "resting_price"), _i64(resting_qty, "resting_qty"),
            _i64(placed_ns, "placed_ns"), _i64(ideal_price, "ideal_price"),
            _i64(ideal_qty, "ideal_qty"), _i64(now_ns, "now_ns"))

    @property
    def sigma(self):
        """sigma after the last book event, ticks / sqrt(second)."""
        return self.st.sigma

    @property
    def events(self):
        """Book events taken since construction or reset()."""
        return self.st.events

    def reset(self):
        """Forget the book, the references and sigma (parameters stay)."""
        self.c_reset()

    def __repr__(self):
        return f"Quoter(events={self.st.events}, sigma={self.st.sigma!r})"


def bench_loop(Quoter quoter, events, int64_t repeat):
    """Pure-C timing for the benchmark: `repeat` passes over `events`, an (n, 6) C-contiguous
    int64 array of (bid, bid_qty, ask, ask_qty, ts_offset_ns, inventory_lots); each row is one
    c_on_book + c_compute. Timestamps advance by the last row's offset on every pass. Returns
    (nanoseconds, rows computed, last status)."""
    cdef const int64_t[:, ::1] ev = events
    cdef Py_ssize_t n = ev.shape[0]
    cdef Py_ssize_t i
    cdef int64_t _k
    cdef int64_t base = quoter.st.book_ns
    cdef int64_t span
    cdef int status = QUOTE_OK
    cdef QuoteSet out
    if n < 1 or ev.shape[1] != 6 or repeat < 1:
        raise ValueError("events must be (n >= 1, 6) and repeat >= 1")
    span = ev[n - 1, 4] + 1
    t0 = time.perf_counter_ns()
    with nogil:
        for _k in range(repeat):
            for i in range(n):
                status = quoter.c_on_book(ev[i, 0], ev[i, 1], ev[i, 2], ev[i, 3],
                                          base + ev[i, 4])
                if status == QUOTE_OK:
                    status = quoter.c_compute(ev[i, 5], &out)
            base += span
    elapsed = time.perf_counter_ns() - t0
    return elapsed, n * repeat, status
