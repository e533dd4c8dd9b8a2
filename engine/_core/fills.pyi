"""Typing of engine/_core/fills.pyx (the OMS's fill ledger)."""

from collections.abc import Mapping, Sequence
from typing import Any, Final

from engine._core.orders import OrderTable
from engine._core.position import PositionCore

DUPLICATE: Final[int]
NOT_LIVE: Final[int]
NO_REPORT: Final[int]
ERR_ARG: Final[int]
PYTHON: Final[int]
MAX_CAPACITY: Final[int]

def describe(code: int) -> str: ...
def fee_units(text: str, mantissa: int, exp: int) -> int | None: ...

class FillLedger:
    instruments: Final[int]
    capacity: Final[int]
    position_status: Final[int]
    terminal: Final[bool]
    def __init__(
        self,
        positions: Sequence[PositionCore],
        table: OrderTable,
        capacity: int = 65_536,
        *,
        quotes: Sequence[str] | None = None,
        notional_units: Sequence[tuple[int, int]] | None = None,
        status_codes: Mapping[Any, int] | None = None,
    ) -> None: ...
    def add(self, index: int, trade_id: str) -> bool: ...
    def contains(self, index: int, trade_id: str) -> bool: ...
    def count(self, index: int) -> int: ...
    def ids(self, index: int) -> list[str]: ...
    def apply_fill(
        self,
        index: int,
        order_id: int,
        status_code: int,
        cum_lots: int,
        last_lots: int,
        side: int,
        price_ticks: int,
        fee_units: int,
        trade_id: str,
        now_ns: int,
    ) -> int: ...
    def book(self, report: tuple[Any, ...], index: int, order_id: int, now_ns: int) -> int: ...
