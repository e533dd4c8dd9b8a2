"""Foundation cases: exact decimal parsing and position accounting, each beside its naive
pure-Python counterpart."""

from __future__ import annotations

from decimal import Decimal

from bench.runner import Pair, case
from engine._core.fixedpoint import Grid
from engine._core.position import BUY, SELL, PositionCore
from engine.model.position_ref import PositionRef

PRICES = [b"65000.10", b"64999.99", b"65001.00000000", b"65000.01"]


@case("fixed.parse_price")
def parse_price() -> Pair:
    grid = Grid("0.01")
    tick = Decimal("0.01")
    prices = PRICES * 256
    texts = [p.decode() for p in prices]

    def ours(n: int) -> None:
        to_units = grid.to_units
        for i in range(n):
            to_units(prices[i & 1023])

    def naive(n: int) -> None:
        for i in range(n):
            units, rest = divmod(Decimal(texts[i & 1023]), tick)
            if rest:
                raise ValueError("off grid")
            int(units)

    return Pair(
        ours, naive, batch=1024, about="price string -> int ticks; baseline: Decimal divmod"
    )


def _fills(position: PositionCore | PositionRef, n: int) -> None:
    apply = position.apply_fill
    for i in range(n):
        # a market maker's flow: alternate sides around a mid, so adds, reduces and flips mix
        apply(BUY if i & 1 else SELL, 6_500_000 + (i & 7), 1 + (i & 3), 3)


@case("position.fill")
def position_fill() -> Pair:
    core, ref = PositionCore(), PositionRef()
    return Pair(
        lambda n: _fills(core, n),
        lambda n: _fills(ref, n),
        batch=1024,
        about="one fill through average-cost accounting; baseline: the pure-Python reference",
    )
