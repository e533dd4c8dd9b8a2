"""The risk core's limits, codes and helpers as Python objects, shared by the Cython core
(engine/_core/risk.pyx) and its reference (engine/risk/risk_ref.py); pure Python, so the
bottom room need not import the reference."""

from __future__ import annotations

from dataclasses import dataclass, fields

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
NO_LIMIT = INT64_MAX
BPS = 10_000
DAY_NS = 86_400 * 10**9
MAX_RATE_CAPACITY = 1 << 20

# trading states
STATE_ACTIVE = 0
STATE_REDUCING = 1
STATE_HALTED = 2
STATE_NAMES = {STATE_ACTIVE: "ACTIVE", STATE_REDUCING: "REDUCING", STATE_HALTED: "HALTED"}

# codes (risk.pxd owns -112..-143)
OK = 0
INSTRUMENT = -112
ARG = -113
HALTED = -114
REDUCING = -115
QTY = -116
NO_REFERENCE = -117
PRICE_BAND = -118
NOTIONAL = -119
MIN_NOTIONAL = -120
OPEN_ORDERS = -121
POSITION = -122
EXPOSURE = -123
TOTAL_EXPOSURE = -124
RATE = -125
CANCEL_RATE = -126
DAILY_LOSS = -127
DRAWDOWN = -128
MANUAL = -129
OVERFLOW = -130

CODES = (
    INSTRUMENT, ARG, HALTED, REDUCING, QTY, NO_REFERENCE, PRICE_BAND, NOTIONAL, MIN_NOTIONAL,
    OPEN_ORDERS, POSITION, EXPOSURE, TOTAL_EXPOSURE, RATE, CANCEL_RATE, DAILY_LOSS, DRAWDOWN,
    MANUAL, OVERFLOW,
)  # fmt: skip

DESCRIPTIONS = {
    OK: "ok",
    INSTRUMENT: "instrument index outside the risk table",
    ARG: "a field out of range (side, order type, tif, price, quantity, lots)",
    HALTED: "trading is HALTED: only cancels pass",
    REDUCING: "trading is REDUCING: only orders that reduce the position, never past flat",
    QTY: "quantity over max_qty_lots",
    NO_REFERENCE: "no reference price yet for a MARKET order, a price band or an exposure limit",
    PRICE_BAND: "price outside the band around the reference (band_ticks / band_bps)",
    NOTIONAL: "notional over max_notional",
    MIN_NOTIONAL: "notional under min_notional",
    OPEN_ORDERS: "open orders of the instrument already at max_open_orders",
    POSITION: "worst-case position past max_long_lots / max_short_lots",
    EXPOSURE: "worst-case notional exposure of the instrument over max_exposure",
    TOTAL_EXPOSURE: "notional exposure over all instruments over max_total_exposure",
    RATE: "order rate: the window already holds order_rate orders (instrument or global)",
    CANCEL_RATE: "cancel rate: the window holds cancel_rate cancels (instrument or global)",
    DAILY_LOSS: "the day's loss (realized + unrealized) over daily_loss_limit",
    DRAWDOWN: "drawdown from the day's peak equity over max_drawdown",
    MANUAL: "halted by the operator",
    OVERFLOW: "the event's value would not fit int64: not applied",
}

BUY, SELL = 1, -1
LIMIT, MARKET, LIMIT_MAKER = 1, 2, 3
GTC, IOC, FOK = 1, 2, 3


def describe(code: int) -> str:
    """One line saying what a code means (for logs)."""
    return DESCRIPTIONS.get(code, f"unknown risk code {code}")


def next_daily_reset_ns(now_ns: int, hour_utc: int) -> int:
    """The first instant strictly after `now_ns` (ns since the Unix epoch, UTC) at which the
    clock reads `hour_utc`:00:00 UTC: the `next_reset_ns` of `set_day_reset`."""
    if type(hour_utc) is not int or not 0 <= hour_utc <= 23:
        raise ValueError(f"hour_utc must be an int in 0..23, got {hour_utc!r}")
    offset = hour_utc * 3600 * 10**9
    return ((now_ns - offset) // DAY_NS + 1) * DAY_NS + offset


def _check_int(owner: str, name: str, value: object, low: int) -> None:
    if type(value) is not int:
        raise TypeError(f"{owner}.{name} must be an int, got {type(value).__name__} {value!r}")
    if not low <= value <= INT64_MAX:
        raise ValueError(f"{owner}.{name} must be in {low}..{INT64_MAX}, got {value}")


@dataclass(frozen=True, slots=True)
class InstrumentLimits:
    """Limits of one instrument (lots, ticks, notional units); NO_LIMIT = off."""

    max_qty_lots: int = NO_LIMIT
    max_notional: int = NO_LIMIT
    min_notional: int = 0  # 0 = off
    band_ticks: int = NO_LIMIT
    band_bps: int = NO_LIMIT
    max_open_orders: int = NO_LIMIT
    max_long_lots: int = NO_LIMIT
    max_short_lots: int = NO_LIMIT
    max_exposure: int = NO_LIMIT
    order_rate: int = NO_LIMIT  # orders per window (<= the core's rate_capacity, or off)
    cancel_rate: int = NO_LIMIT

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_int("InstrumentLimits", f.name, getattr(self, f.name), 0)

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True, slots=True)
class GlobalLimits:
    """Limits over every instrument; NO_LIMIT = off."""

    max_total_exposure: int = NO_LIMIT
    order_rate: int = NO_LIMIT
    cancel_rate: int = NO_LIMIT
    daily_loss_limit: int = NO_LIMIT
    max_drawdown: int = NO_LIMIT
    window_ns: int = 10**9  # the rate windows' length

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_int("GlobalLimits", f.name, getattr(self, f.name), 0)
        if self.window_ns < 1:
            raise ValueError(f"GlobalLimits.window_ns must be >= 1, got {self.window_ns}")

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


INSTRUMENT_LIMIT_FIELDS = tuple(f.name for f in fields(InstrumentLimits))
GLOBAL_LIMIT_FIELDS = tuple(f.name for f in fields(GlobalLimits))


def check_rates(limits_rates: tuple[int, ...], capacity: int, owner: str) -> None:
    """Rate limits must fit the windows' capacity (or be off)."""
    for name, value in zip(("order_rate", "cancel_rate"), limits_rates, strict=True):
        if value != NO_LIMIT and value > capacity:
            raise ValueError(
                f"{owner}.{name} {value} exceeds the rate capacity {capacity} "
                "(the core's rate_capacity; NO_LIMIT turns the limit off)"
            )
