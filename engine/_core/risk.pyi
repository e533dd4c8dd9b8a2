"""Typing of engine/_core/risk.pyx (pre-trade risk checks and the trading state machine)."""

from typing import Final

from engine._core.intents import IntentBuffer
from engine._core.risk_limits import DAY_NS as DAY_NS
from engine._core.risk_limits import GlobalLimits as GlobalLimits
from engine._core.risk_limits import InstrumentLimits as InstrumentLimits
from engine._core.risk_limits import next_daily_reset_ns as next_daily_reset_ns

STATE_ACTIVE: Final[int]
STATE_REDUCING: Final[int]
STATE_HALTED: Final[int]
STATE_NAMES: Final[dict[int, str]]

# codes: 0 passes; the rest refuse an order or cancel, cause a state change, or refuse an event
OK: Final[int]
INSTRUMENT: Final[int]
ARG: Final[int]
HALTED: Final[int]
REDUCING: Final[int]
QTY: Final[int]
NO_REFERENCE: Final[int]
PRICE_BAND: Final[int]
NOTIONAL: Final[int]
MIN_NOTIONAL: Final[int]
OPEN_ORDERS: Final[int]
POSITION: Final[int]
EXPOSURE: Final[int]
TOTAL_EXPOSURE: Final[int]
RATE: Final[int]
CANCEL_RATE: Final[int]
DAILY_LOSS: Final[int]
DRAWDOWN: Final[int]
MANUAL: Final[int]
OVERFLOW: Final[int]
CODES: Final[tuple[int, ...]]

NO_LIMIT: Final[int]  # 2**63 - 1: a limit that is off
BPS: Final[int]
MAX_RATE_CAPACITY: Final[int]

def describe(code: int) -> str: ...

class RiskCore:
    instrument_count: Final[int]
    rate_capacity: Final[int]
    state: Final[int]
    cause: Final[int]
    next_reset_ns: Final[int]
    reset_period_ns: Final[int]
    passed: Final[int]
    refused: Final[int]
    errors: Final[int]
    state_changes: Final[int]
    def __init__(self, instrument_count: int, rate_capacity: int = 1024) -> None: ...
    def set_limits(self, instrument: int, limits: InstrumentLimits) -> None: ...
    def limits(self, instrument: int) -> InstrumentLimits: ...
    def set_global_limits(self, limits: GlobalLimits) -> None: ...
    def global_limits(self) -> GlobalLimits: ...
    def set_day_reset(self, next_reset_ns: int, period_ns: int = ...) -> None: ...
    def check_new(
        self,
        instrument: int,
        side: int,
        price_ticks: int,
        qty_lots: int,
        now_ns: int,
        order_type: int = ...,
        tif: int = ...,
    ) -> int: ...
    def check_replace(
        self,
        instrument: int,
        side: int,
        price_ticks: int,
        qty_lots: int,
        old_side: int,
        old_lots: int,
        now_ns: int,
        order_type: int = ...,
        tif: int = ...,
    ) -> int: ...
    def check_cancel(self, instrument: int, now_ns: int) -> int: ...
    def check_pending(
        self, buffer: IntentBuffer, index: int, now_ns: int, old_side: int = 0, old_lots: int = 0
    ) -> int: ...
    def on_order_open(self, instrument: int, side: int, lots: int) -> int: ...
    def on_order_close(self, instrument: int, side: int, remaining_lots: int) -> int: ...
    def on_fill(
        self, instrument: int, side: int, lots: int, realized_delta: int, now_ns: int
    ) -> int: ...
    def on_mark(self, instrument: int, mark_ticks: int, unrealized: int, now_ns: int) -> int: ...
    def roll(self, now_ns: int) -> int: ...
    def halt(self) -> int: ...
    def reset(self) -> int: ...
    # (ref_ticks, position, open_buy_lots, open_sell_lots, open_orders, exposure, unrealized)
    def instrument(self, instrument: int) -> tuple[int, int, int, int, int, int, int]: ...
    # (realized, unrealized, equity, day_start_equity, day_peak_equity)
    def pnl(self) -> tuple[int, int, int, int, int]: ...
    @property
    def exposure_total(self) -> int: ...
    def refusals(self) -> dict[int, int]: ...
    def breaches(self) -> dict[int, int]: ...
