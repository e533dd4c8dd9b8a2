"""Typing of engine/_core/orders.pyx (the OMS's order table)."""

from typing import Final

FREE: Final[int]
PENDING_NEW: Final[int]
NEW: Final[int]
PARTIALLY_FILLED: Final[int]
PENDING_CANCEL: Final[int]
PENDING_AMEND: Final[int]
UNKNOWN: Final[int]
FILLED: Final[int]
CANCELED: Final[int]
REJECTED: Final[int]
EXPIRED: Final[int]

OK: Final[int]
UNCHANGED: Final[int]
ERR_UNKNOWN_ORDER: Final[int]
ERR_TRANSITION: Final[int]
ERR_OVERFILL: Final[int]
ERR_FULL: Final[int]
ERR_ARG: Final[int]
ERR_NOT_TERMINAL: Final[int]
MAX_CAPACITY: Final[int]

def describe(code: int) -> str: ...

# (order_id, instrument, side, order_type, tif, status, price_ticks, qty_lots, filled_lots,
#  pending_price_ticks, pending_qty_lots, tag, created_ns, updated_ns)
_Row = tuple[int, int, int, int, int, int, int, int, int, int, int, int, int, int]

class OrderTable:
    capacity: Final[int]
    slot_bits: Final[int]
    opened: Final[int]
    refused: Final[int]
    overfills: Final[int]
    unknown_ids: Final[int]
    def __init__(self, capacity: int) -> None: ...
    @property
    def live(self) -> int: ...
    def open(
        self,
        instrument: int,
        side: int,
        order_type: int,
        tif: int,
        price_ticks: int,
        qty_lots: int,
        tag: int,
        now_ns: int,
    ) -> tuple[int, int]: ...
    def report(
        self, order_id: int, status: int, cum_lots: int, fill_lots: int, now_ns: int
    ) -> int: ...
    def cancel_sent(self, order_id: int, now_ns: int) -> int: ...
    def amend_sent(self, order_id: int, price_ticks: int, qty_lots: int, now_ns: int) -> int: ...
    def amended(self, order_id: int, now_ns: int) -> int: ...
    def request_failed(self, order_id: int, now_ns: int) -> int: ...
    def timed_out(self, order_id: int, now_ns: int) -> int: ...
    def release(self, order_id: int) -> int: ...
    def get(self, order_id: int) -> _Row | None: ...
    def status_of(self, order_id: int) -> int: ...
