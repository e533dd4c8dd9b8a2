"""Typing of engine/_core/quoting.pyx (the market maker's quoting maths)."""

from typing import Any, Final

import numpy as np
import numpy.typing as npt

REF_MID: Final[int]
REF_MICRO: Final[int]
REF_LAST: Final[int]
REF_EXTERNAL: Final[int]
MODEL_SPREAD: Final[int]
MODEL_AS: Final[int]
MODEL_GLFT: Final[int]
SIZE_GEOMETRIC: Final[int]
SIZE_LINEAR: Final[int]
MAX_LEVELS: Final[int]
MAX: Final[int]  # 2**52: bound of every price, size, inventory

# verdicts of refresh()
KEEP: Final[int]
REPLACE_PRICE: Final[int]
REPLACE_SIZE: Final[int]
REPLACE_AGE: Final[int]
CANCEL: Final[int]

# statuses
OK: Final[int]
ERR_OVERFLOW: Final[int]
ERR_EMPTY: Final[int]
ERR_CROSSED: Final[int]
ERR_SIZE: Final[int]
ERR_PRICE: Final[int]
ERR_TIME: Final[int]
ERR_NO_REF: Final[int]

DEFAULTS: Final[dict[str, int | float]]

Level = tuple[int, int]  # (price_ticks, qty_lots)

def describe(status: int) -> str: ...
def refresh_name(verdict: int) -> str: ...

class Quoter:
    def __init__(self, **params: Any) -> None: ...
    @property
    def params(self) -> dict[str, int | float]: ...
    def on_book(self, bid: int, bid_qty: int, ask: int, ask_qty: int, ts_ns: int) -> int: ...
    def on_trade(self, price_ticks: int) -> int: ...
    def set_external(self, price_ticks: int) -> int: ...
    def compute(self, inventory_lots: int) -> tuple[int, list[Level], list[Level]]: ...
    def step(
        self, bid: int, bid_qty: int, ask: int, ask_qty: int, ts_ns: int, inventory_lots: int
    ) -> int: ...
    def quotes(self) -> tuple[list[Level], list[Level]]: ...
    def values(self) -> tuple[float, float, float, float]: ...
    def refresh(
        self,
        resting_price: int,
        resting_qty: int,
        placed_ns: int,
        ideal_price: int,
        ideal_qty: int,
        now_ns: int,
    ) -> int: ...
    @property
    def sigma(self) -> float: ...
    @property
    def events(self) -> int: ...
    def reset(self) -> None: ...

def bench_loop(
    quoter: Quoter, events: npt.NDArray[np.int64], repeat: int
) -> tuple[int, int, int]: ...
