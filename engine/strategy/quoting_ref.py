"""Pure-Python reference of engine/_core/quoting.pyx: the same statuses and integers.

The formulas, units and rounding rules are in quoting.pyx's docstring. Every float is computed
with the same operations in the same order as the C code (Python floats are IEEE doubles and
math.exp/log/log1p/sqrt and `**` call the same libm), and every rounding decision is taken on
integers, so the quotes agree exactly; the float intermediates agree bit for bit on one
machine (the differential tests allow a relative 1e-12). Nothing here is meant to be fast.
"""

from __future__ import annotations

import math
from typing import Any

from engine._core.fixedpoint import FixedPointOverflowError

REF_MID = 1
REF_MICRO = 2
REF_LAST = 3
REF_EXTERNAL = 4
MODEL_SPREAD = 1
MODEL_AS = 2
MODEL_GLFT = 3
SIZE_GEOMETRIC = 1
SIZE_LINEAR = 2
MAX_LEVELS = 16
MAX = 2**52

KEEP = 0
REPLACE_PRICE = 1
REPLACE_SIZE = 2
REPLACE_AGE = 3
CANCEL = 4

OK = 0
ERR_OVERFLOW = -3
ERR_EMPTY = -144
ERR_CROSSED = -145
ERR_SIZE = -146
ERR_PRICE = -147
ERR_TIME = -148
ERR_NO_REF = -149

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_LN2 = 0.6931471805599453
_MAXD = float(MAX)

DEFAULTS: dict[str, int | float] = {
    "ref": REF_MID,
    "model": MODEL_SPREAD,
    "size_mode": SIZE_GEOMETRIC,
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

Level = tuple[int, int]


def _arg(value: object, what: str) -> int:
    """Like fixedpoint.as_int64: int-like, not bool, not float, within int64."""
    if isinstance(value, float):
        raise TypeError(f"{what} must be an int, got float {value!r}: floats never carry money")
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise FixedPointOverflowError(f"{what} {value} does not fit int64")
    return int(value)


def _int_param(params: dict[str, Any], name: str, lo: int, hi: int) -> int:
    v = _arg(params[name], name)
    if v < lo or v > hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {v}")
    return v


def _float_param(params: dict[str, Any], name: str, lo: float, lo_open: bool, hi: float) -> float:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < lo or (lo_open and v == lo) or v > hi:
        bound = "> " if lo_open else ">= "
        raise ValueError(f"{name} must be finite, {bound}{lo} and <= {hi}, got {value!r}")
    return v


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class QuoterRef:
    """The reference of quoting.Quoter: same constructor, methods and statuses."""

    def __init__(self, **given: Any) -> None:
        unknown = sorted(set(given) - set(DEFAULTS))
        if unknown:
            raise TypeError(f"unknown quoting parameter(s): {', '.join(unknown)}")
        params = {**DEFAULTS, **given}
        self.ref = _int_param(params, "ref", REF_MID, REF_EXTERNAL)
        self.model = _int_param(params, "model", MODEL_SPREAD, MODEL_GLFT)
        self.size_mode = _int_param(params, "size_mode", SIZE_GEOMETRIC, SIZE_LINEAR)
        self.levels = _int_param(params, "levels", 1, MAX_LEVELS)
        self.level_spacing_ticks = _int_param(params, "level_spacing_ticks", 1, MAX)
        self.qty_lots = _int_param(params, "qty_lots", 1, MAX)
        self.size_factor = _float_param(params, "size_factor", 0.0, False, _MAXD)
        self.min_half_spread = _float_param(params, "min_half_spread", 0.0, True, _MAXD)
        self.base_half_spread = _float_param(params, "base_half_spread", 0.0, False, _MAXD)
        self.vol_mult = _float_param(params, "vol_mult", 0.0, False, _MAXD)
        self.half_life_ns = _int_param(params, "half_life_ns", 1, MAX)
        self.max_position_lots = _int_param(params, "max_position_lots", 1, MAX)
        self.target_lots = _int_param(
            params, "target_lots", -self.max_position_lots, self.max_position_lots
        )
        self.skew_ticks = _float_param(params, "skew_ticks", 0.0, False, _MAXD)
        self.size_shrink = _float_param(params, "size_shrink", 0.0, False, 1.0)
        self.gamma = _float_param(params, "gamma", 0.0, True, _MAXD)
        self.kappa = _float_param(params, "kappa", 0.0, True, _MAXD)
        self.arrival = _float_param(params, "arrival", 0.0, True, _MAXD)
        self.horizon_s = _float_param(params, "horizon_s", 0.0, True, _MAXD)
        self.min_qty_lots = _int_param(params, "min_qty_lots", 1, MAX)
        self.min_notional_units = _int_param(params, "min_notional_units", 0, MAX)
        self.refresh_ticks = _int_param(params, "refresh_ticks", 0, MAX)
        self.max_age_ns = _int_param(params, "max_age_ns", 0, INT64_MAX)
        self.size_tol_bps = _int_param(params, "size_tol_bps", 0, MAX)
        # derived, in quoting.pyx's operation order; float overflow gives inf as C does
        gamma, kappa = self.gamma, self.kappa
        self.tau_ns = float(self.half_life_ns) / _LN2
        self.as_const = (2.0 / gamma) * math.log1p(gamma / kappa)
        self.glft_c1 = math.log1p(gamma / kappa) / gamma
        self.glft_c2 = math.sqrt(
            _div(gamma, 2.0 * self.arrival * kappa) * _pow(1.0 + gamma / kappa, 1.0 + kappa / gamma)
        )
        if self.model == MODEL_AS and not math.isfinite(self.as_const):
            raise ValueError("gamma and kappa give a non-finite Avellaneda-Stoikov spread term")
        if self.model == MODEL_GLFT and not (
            math.isfinite(self.glft_c1) and math.isfinite(self.glft_c2)
        ):
            raise ValueError("gamma, kappa and arrival give a non-finite GLFT constant")
        self.level_factor = [
            _pow(self.size_factor, float(i))
            if self.size_mode == SIZE_GEOMETRIC
            else 1.0 + self.size_factor * float(i)
            for i in range(MAX_LEVELS)
        ]
        for i in range(self.levels):
            top = float(self.qty_lots) * self.level_factor[i]
            if not top <= _MAXD:
                raise ValueError(
                    f"qty_lots * size factor of level {i} is {top!r}, past 2**52 ({MAX})"
                )
        self.params = {name: getattr(self, name) for name in DEFAULTS}
        self.reset()

    # ------------------------------------------------------------------ events

    def reset(self) -> None:
        self.bid = self.bid_qty = self.ask = self.ask_qty = 0
        self.book_ns = 0
        self.last_trade = 0
        self.external = 0
        self.events = 0
        self.last_mid = 0.0
        self.var_sum = 0.0
        self.weight_s = 0.0
        self.sigma = 0.0
        self._bids: list[Level] = []
        self._asks: list[Level] = []
        self._values = (0.0, 0.0, 0.0, 0.0)

    def on_book(self, bid: int, bid_qty: int, ask: int, ask_qty: int, ts_ns: int) -> int:
        bid, bid_qty = _arg(bid, "bid"), _arg(bid_qty, "bid_qty")
        ask, ask_qty = _arg(ask, "ask"), _arg(ask_qty, "ask_qty")
        ts_ns = _arg(ts_ns, "ts_ns")
        if bid <= 0 or ask <= 0:
            return ERR_EMPTY
        if bid > MAX or ask > MAX:
            return ERR_OVERFLOW
        if bid_qty < 0 or ask_qty < 0:
            return ERR_SIZE
        if bid_qty > MAX or ask_qty > MAX:
            return ERR_OVERFLOW
        if bid >= ask:
            return ERR_CROSSED
        if ts_ns < 0 or (self.events > 0 and ts_ns < self.book_ns):
            return ERR_TIME
        mid = (float(bid) + float(ask)) * 0.5
        if self.events > 0:
            dt = ts_ns - self.book_ns
            d = math.exp(-float(dt) / self.tau_ns)
            r = math.log(mid / self.last_mid) if mid != self.last_mid else 0.0
            self.var_sum = self.var_sum * d + r * r
            self.weight_s = self.weight_s * d + float(dt) * 1e-9
        if self.weight_s > 0.0:
            self.sigma = math.sqrt(self.var_sum / self.weight_s) * mid
        else:
            self.sigma = 0.0
        self.last_mid = mid
        self.bid, self.bid_qty, self.ask, self.ask_qty = bid, bid_qty, ask, ask_qty
        self.book_ns = ts_ns
        self.events += 1
        return OK

    def on_trade(self, price_ticks: int) -> int:
        price = _arg(price_ticks, "price_ticks")
        if price <= 0:
            return ERR_PRICE
        if price > MAX:
            return ERR_OVERFLOW
        self.last_trade = price
        return OK

    def set_external(self, price_ticks: int) -> int:
        price = _arg(price_ticks, "price_ticks")
        if price <= 0:
            return ERR_PRICE
        if price > MAX:
            return ERR_OVERFLOW
        self.external = price
        return OK

    # ------------------------------------------------------------------ the quote

    def _side(self, start: int, step: int, shrink: float, room: int) -> tuple[int, list[Level]]:
        rows: list[Level] = []
        for i in range(self.levels):
            price = start + step * i
            if price < 1:
                break
            if price > MAX:
                return ERR_OVERFLOW, []
            size_d = (float(self.qty_lots) * self.level_factor[i]) * shrink
            if not size_d <= _MAXD:
                return ERR_OVERFLOW, []
            size = math.floor(size_d)
            if size <= 0:
                continue
            need = max(self.min_qty_lots, _ceil_div(self.min_notional_units, price))
            size = min(max(size, need), room)
            if size < need:
                break
            room -= size
            rows.append((price, size))
        return OK, rows

    def _compute(self, inventory: int) -> int:
        self._bids, self._asks = [], []
        self._values = (0.0, 0.0, 0.0, 0.0)
        if self.events == 0:
            return ERR_EMPTY
        if not -MAX <= inventory <= MAX:
            return ERR_OVERFLOW
        if self.ref == REF_MID:
            s = (float(self.bid) + float(self.ask)) * 0.5
        elif self.ref == REF_MICRO:
            total = float(self.bid_qty) + float(self.ask_qty)
            if total > 0.0:
                s = float(self.bid) + float(self.ask - self.bid) * (float(self.bid_qty) / total)
            else:
                s = (float(self.bid) + float(self.ask)) * 0.5
        elif self.ref == REF_LAST:
            if self.last_trade == 0:
                return ERR_NO_REF
            s = float(self.last_trade)
        else:
            if self.external == 0:
                return ERR_NO_REF
            s = float(self.external)
        sigma = self.sigma
        dev = inventory - self.target_lots
        x = min(1.0, max(-1.0, float(dev) / float(self.max_position_lots)))
        if self.model == MODEL_SPREAD:
            half = self.base_half_spread + self.vol_mult * sigma
            r = s - self.skew_ticks * x
        elif self.model == MODEL_AS:
            qc = float(dev) / float(self.qty_lots)
            var_t = sigma * sigma * self.horizon_s
            r = s - qc * self.gamma * var_t
            half = (self.gamma * var_t + self.as_const) * 0.5
        else:
            qc = float(dev) / float(self.qty_lots)
            omega = sigma * self.glft_c2
            r = s - qc * omega
            half = self.glft_c1 + 0.5 * omega
        half = max(half, self.min_half_spread)  # NaN stays NaN, as in C
        bid_f = r - half
        ask_f = r + half
        if not (-_MAXD <= bid_f <= _MAXD and -_MAXD <= ask_f <= _MAXD):
            return ERR_OVERFLOW
        b0 = math.floor(bid_f)
        a0 = math.ceil(ask_f)
        if a0 <= b0:
            a0 = b0 + 1
        b0 = min(b0, self.ask - 1)
        a0 = max(a0, self.bid + 1)
        shrink = 1.0 - self.size_shrink * abs(x)
        shrink_bid = shrink if dev > 0 else 1.0
        shrink_ask = shrink if dev < 0 else 1.0
        status, bids = self._side(
            b0, -self.level_spacing_ticks, shrink_bid, self.max_position_lots - inventory
        )
        if status != OK:
            return status
        status, asks = self._side(
            a0, self.level_spacing_ticks, shrink_ask, self.max_position_lots + inventory
        )
        if status != OK:
            return status
        self._bids, self._asks = bids, asks
        self._values = (s, r, half, sigma)
        return OK

    def compute(self, inventory_lots: int) -> tuple[int, list[Level], list[Level]]:
        status = self._compute(_arg(inventory_lots, "inventory_lots"))
        return status, *self.quotes()

    def step(  # noqa: PLR0917 - the Cython quoter's call shape
        self, bid: int, bid_qty: int, ask: int, ask_qty: int, ts_ns: int, inventory_lots: int
    ) -> int:
        status = self.on_book(bid, bid_qty, ask, ask_qty, ts_ns)
        inventory = _arg(inventory_lots, "inventory_lots")
        if status != OK:
            self._bids, self._asks = [], []
            return status
        return self._compute(inventory)

    def quotes(self) -> tuple[list[Level], list[Level]]:
        return list(self._bids), list(self._asks)

    def values(self) -> tuple[float, float, float, float]:
        return self._values

    def refresh(  # noqa: PLR0917 - the Cython quoter's call shape
        self,
        resting_price: int,
        resting_qty: int,
        placed_ns: int,
        ideal_price: int,
        ideal_qty: int,
        now_ns: int,
    ) -> int:
        rp, rq = _arg(resting_price, "resting_price"), _arg(resting_qty, "resting_qty")
        placed = _arg(placed_ns, "placed_ns")
        ip, iq = _arg(ideal_price, "ideal_price"), _arg(ideal_qty, "ideal_qty")
        now = _arg(now_ns, "now_ns")
        if rp <= 0:
            return ERR_PRICE
        if rp > MAX:
            return ERR_OVERFLOW
        if rq <= 0:
            return ERR_SIZE
        if rq > MAX:
            return ERR_OVERFLOW
        if iq < 0:
            return ERR_SIZE
        if iq > MAX:
            return ERR_OVERFLOW
        if iq > 0:
            if ip <= 0:
                return ERR_PRICE
            if ip > MAX:
                return ERR_OVERFLOW
        if placed < 0 or now < placed:
            return ERR_TIME
        if iq == 0:
            return CANCEL
        if abs(ip - rp) > self.refresh_ticks:
            return REPLACE_PRICE
        if abs(iq - rq) * 10_000 > self.size_tol_bps * rq:
            return REPLACE_SIZE
        if self.max_age_ns > 0 and now - placed >= self.max_age_ns:
            return REPLACE_AGE
        return KEEP


def _div(a: float, b: float) -> float:
    """C division of doubles: b may have underflowed to 0 (a > 0 here): inf, not an error."""
    return a / b if b != 0.0 else math.copysign(math.inf, a)


def _pow(base: float, exponent: float) -> float:
    """C pow(): inf on overflow where Python's float ** raises OverflowError."""
    try:
        return float(base**exponent)
    except OverflowError:
        return math.inf
