"""Typing of engine/_core/intents.pyx (order intents in a preallocated buffer)."""

from typing import Final

import numpy as np
import numpy.typing as npt

NEW: Final[int]
CANCEL: Final[int]
REPLACE: Final[int]
BUY: Final[int]
SELL: Final[int]
LIMIT: Final[int]
MARKET: Final[int]
LIMIT_MAKER: Final[int]
GTC: Final[int]
IOC: Final[int]
FOK: Final[int]
NO_PRICE: Final[int]  # price_ticks of MARKET and CANCEL rows
NO_ORDER: Final[int]  # order_id of NEW rows
MAX_INSTRUMENTS: Final[int]  # default instrument_count: 2**31 - 1

# statuses of try_push_* (and of the C API)
OK: Final[int]
ERR_FULL: Final[int]
ERR_INSTRUMENT: Final[int]
ERR_SIDE: Final[int]
ERR_TYPE: Final[int]
ERR_TIF: Final[int]
ERR_PRICE: Final[int]
ERR_QTY: Final[int]
ERR_ORDER_ID: Final[int]
ERR_INDEX: Final[int]

FIELDS: Final[tuple[str, ...]]
DTYPE: Final[np.dtype[np.void]]

# (instrument, kind, side, order_type, tif, price_ticks, qty_lots, tag, order_id)
_Row = tuple[int, int, int, int, int, int, int, int, int]

def describe(status: int) -> str: ...

class IntentBuffer:
    def __init__(self, capacity: int, instrument_count: int = ...) -> None: ...
    @property
    def capacity(self) -> int: ...
    @property
    def instrument_count(self) -> int: ...
    @property
    def pushed(self) -> int: ...
    @property
    def rejected(self) -> int: ...
    @property
    def high_water(self) -> int: ...
    def set_instrument_count(self, instrument_count: int) -> None: ...
    def try_push_new(
        self,
        instrument: int,
        side: int,
        price_ticks: int,
        qty_lots: int,
        tag: int = 0,
        order_type: int = ...,
        tif: int = ...,
    ) -> int: ...
    def try_push_cancel(self, instrument: int, order_id: int, tag: int = 0) -> int: ...
    def try_push_replace(
        self,
        instrument: int,
        order_id: int,
        side: int,
        price_ticks: int,
        qty_lots: int,
        tag: int = 0,
        order_type: int = ...,
        tif: int = ...,
    ) -> int: ...
    def push_new(
        self,
        instrument: int,
        side: int,
        price_ticks: int,
        qty_lots: int,
        tag: int = 0,
        order_type: int = ...,
        tif: int = ...,
    ) -> None: ...
    def push_cancel(self, instrument: int, order_id: int, tag: int = 0) -> None: ...
    def push_replace(
        self,
        instrument: int,
        order_id: int,
        side: int,
        price_ticks: int,
        qty_lots: int,
        tag: int = 0,
        order_type: int = ...,
        tif: int = ...,
    ) -> None: ...
    def __len__(self) -> int: ...
    def read(self, i: int) -> _Row: ...
    def pop(self) -> _Row | None: ...
    def drain(self) -> list[_Row]: ...
    def clear(self) -> None: ...
    def view(self) -> npt.NDArray[np.void]: ...
