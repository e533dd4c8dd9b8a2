"""Typing of engine/_core/reports.pyx (private-stream frame bytes -> execution reports)."""

from collections.abc import Iterable
from typing import Any, Final, Generic, NamedTuple, Protocol, TypeVar

from engine._core.fixedpoint import Grid

# statuses (ReportError.status; also fixedpoint's -1..-3 from a price or quantity)
OK: Final[int]
ERR_JSON: Final[int]
ERR_MISSING: Final[int]
ERR_TYPE: Final[int]
ERR_VALUE: Final[int]
ERR_DUPLICATE: Final[int]
ERR_SYMBOL: Final[int]

class ReportError(ValueError):
    status: int
    def __init__(self, status: int, detail: str = "") -> None: ...

class _Instrument(Protocol):
    @property
    def symbol(self) -> str: ...
    @property
    def quote(self) -> str: ...
    @property
    def price_grid(self) -> Grid: ...
    @property
    def qty_grid(self) -> Grid: ...

class GateOrder(NamedTuple):
    """A spot.orders item: its report, Gate's `event`, the order's amount and price."""

    report: Any  # the decoder's report_type (ExecutionReport)
    event: str
    qty_lots: int
    price_ticks: int

# any object exposing a contiguous byte buffer: bytes, bytearray, memoryview, ...
_Frame = bytes | bytearray | memoryview | str  # str: UTF-8, read in place (aiohttp text frames)

R = TypeVar("R")

class ReportDecoder(Generic[R]):
    """Records are built as `report_type` (ExecutionReport: this core module knows nothing
    of the gateway, the adapter hands the type in)."""

    def __init__(
        self,
        instruments: Iterable[_Instrument],
        *,
        report_type: type[R],
        status_type: Any,
        side_type: Any,
    ) -> None: ...
    @property
    def reports(self) -> int: ...
    @property
    def errors(self) -> int: ...
    def binance(self, frame: _Frame, recv_ns: int) -> R | None: ...
    def okx(self, frame: _Frame, recv_ns: int) -> list[R | ReportError] | None: ...
    def gate(
        self, frame: _Frame, recv_ns: int
    ) -> list[R | GateOrder | ReportError | None] | None: ...
