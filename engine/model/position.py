"""The seed's `Position`: a Decimal view over the integer accounting in `PositionCore`.

It holds no numbers of its own (apart from an optional mark price): every property converts
the core's current integers, so it can never disagree with what risk and the strategy see.
"""

from __future__ import annotations

from decimal import Context, Decimal, localcontext

from engine._core.fixedpoint import OffGridError
from engine._core.position import PositionCore
from engine.model.instrument import Instrument

# Average prices rarely terminate (1/3); 40 significant digits is far below any tick.
_AVG_CONTEXT = Context(prec=40)
# Products of an int64 quantity and a mark are exact under this precision.
_EXACT_CONTEXT = Context(prec=120)


class Position:
    __slots__ = ("core", "instrument", "mark_price")

    def __init__(
        self,
        instrument: Instrument,
        core: PositionCore | None = None,
        mark_price: Decimal | None = None,
    ) -> None:
        self.instrument = instrument
        self.core = PositionCore() if core is None else core
        self.mark_price = mark_price  # used by unrealized_pnl() when no mark is passed

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def instrument_id(self) -> str:
        return self.instrument.instrument_id

    @property
    def quantity(self) -> Decimal:
        """Signed base quantity: positive long, negative short."""
        return self.instrument.lots_to_qty(self.core.qty)

    @property
    def average_price(self) -> Decimal | None:
        """Average entry price of the open quantity; None when flat.

        Exact when cost / qty terminates, otherwise rounded to 40 significant digits; never
        shown with fewer than `price_decimals` fraction digits.
        """
        cost, qty = self.core.avg_price_num_den()
        if qty == 0:
            return None
        grid = self.instrument.price_grid
        places = self.instrument.price_decimals
        with localcontext(_AVG_CONTEXT):
            avg = Decimal(cost * grid.step_mantissa) / Decimal(qty).scaleb(grid.exp)
            exponent = avg.as_tuple().exponent
            if isinstance(exponent, int) and exponent > -places:
                avg = avg.quantize(Decimal(1).scaleb(-places))
        return avg

    @property
    def cost_basis(self) -> Decimal:
        """Signed quote amount paid for the open quantity (negative for a short)."""
        return self.instrument.notional_to_decimal(self.core.cost)

    @property
    def realized_pnl(self) -> Decimal:
        """Realized PnL in quote, net of fees."""
        return self.instrument.notional_to_decimal(self.core.realized)

    @property
    def fees(self) -> Decimal:
        """Fees paid in quote (negative when rebates exceeded fees)."""
        return self.instrument.notional_to_decimal(self.core.fees)

    @property
    def volume(self) -> Decimal:
        return self.instrument.lots_to_qty(self.core.volume)

    @property
    def fills(self) -> int:
        return self.core.fills

    def unrealized_pnl(self, mark: Decimal | None = None) -> Decimal:
        """quantity * mark - cost basis in quote, at `mark` or else the stored mark_price.

        A mark between ticks (a mid price) is valued exactly in Decimal; on the grid the
        integer core computes it.
        """
        if mark is None:
            mark = self.mark_price
        if self.core.qty == 0:
            return self.instrument.notional_to_decimal(0)
        if mark is None:
            raise ValueError(f"{self.instrument_id}: no mark price for the unrealized PnL")
        if not isinstance(mark, Decimal):
            raise TypeError(f"mark must be a Decimal, got {mark!r}")
        if not mark.is_finite() or mark <= 0:
            raise ValueError(f"{self.instrument_id}: mark must be a positive price, got {mark}")
        try:
            ticks = self.instrument.price_to_ticks(mark)
        except OffGridError:
            with localcontext(_EXACT_CONTEXT):
                return self.quantity * mark - self.cost_basis
        return self.instrument.notional_to_decimal(self.core.unrealized(ticks))

    def __repr__(self) -> str:
        return (
            f"Position({self.instrument_id}, quantity={self.quantity}, "
            f"average_price={self.average_price}, realized_pnl={self.realized_pnl}, "
            f"fees={self.fees})"
        )
