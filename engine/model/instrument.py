"""The instrument spec: one venue's spot pair, its grids and its minimums.

Everything the hot path needs about an instrument is an integer derived here once: prices in
ticks, quantities in lots, money in notional units (tick * lot). The Decimal fields are the
venue's published filters, kept for reports and for the encoders' exact strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from engine._core.fixedpoint import FixedPointOverflowError, Grid, GridError, notional_units

_INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str  # the venue's own spelling: BTCUSDT (Binance), BTC-USDT (OKX), BTC_USDT (Gate)
    venue: str  # "binance" | "okx" | "gate" | "sim" ...
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal  # quantity step
    min_qty: Decimal
    min_notional: Decimal  # in quote; 0 when the venue has no such filter
    price_decimals: int  # fraction digits the venue prints and accepts for prices
    qty_decimals: int

    price_grid: Grid = field(init=False, repr=False, compare=False)
    qty_grid: Grid = field(init=False, repr=False, compare=False)
    notional_unit: Decimal = field(init=False, repr=False, compare=False)
    min_qty_lots: int = field(init=False, repr=False, compare=False)
    min_notional_units: int = field(init=False, repr=False, compare=False)
    # notional_unit = _notional_mantissa * 10**-_notional_exp, kept as ints for exact maths
    _notional_mantissa: int = field(init=False, repr=False, compare=False)
    _notional_exp: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"{self.venue}:{self.symbol}"
        for name in ("symbol", "venue", "base", "quote"):
            text = getattr(self, name)
            if not isinstance(text, str) or not text:
                raise ValueError(f"instrument {where}: {name} must be a non-empty str")
        for name in ("tick_size", "lot_size", "min_qty", "min_notional"):
            value = getattr(self, name)
            if not isinstance(value, Decimal):
                raise TypeError(f"instrument {where}: {name} must be a Decimal, got {value!r}")
            if not value.is_finite():
                raise ValueError(f"instrument {where}: {name} must be finite, got {value}")
        for name in ("tick_size", "lot_size"):
            if getattr(self, name) <= 0:
                raise ValueError(
                    f"instrument {where}: {name} must be positive, got {getattr(self, name)}"
                )
        for name in ("min_qty", "min_notional"):
            if getattr(self, name) < 0:
                raise ValueError(
                    f"instrument {where}: {name} must be >= 0, got {getattr(self, name)}"
                )
        for name in ("price_decimals", "qty_decimals"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"instrument {where}: {name} must be an int, got {value!r}")

        price_grid = self._grid("tick_size", self.tick_size, "price_decimals", self.price_decimals)
        qty_grid = self._grid("lot_size", self.lot_size, "qty_decimals", self.qty_decimals)
        try:
            min_qty_lots = qty_grid.to_units(self.min_qty)
        except GridError as exc:
            raise ValueError(
                f"instrument {where}: min_qty {self.min_qty} is not on the lot grid "
                f"{self.lot_size}: {exc}"
            ) from None
        mantissa = price_grid.step_mantissa * qty_grid.step_mantissa
        exp = price_grid.exp + qty_grid.exp
        if mantissa > _INT64_MAX:
            raise ValueError(f"instrument {where}: tick_size * lot_size does not fit int64")
        # a notional at or above min_notional has at least ceil(min / unit) units
        try:
            min_notional_units = _ceil_units(self.min_notional, mantissa, exp)
        except FixedPointOverflowError:
            raise ValueError(
                f"instrument {where}: min_notional {self.min_notional} does not fit int64 "
                "in units of tick * lot"
            ) from None
        setattr_ = object.__setattr__
        setattr_(self, "price_grid", price_grid)
        setattr_(self, "qty_grid", qty_grid)
        setattr_(self, "notional_unit", Decimal((0, tuple(map(int, str(mantissa))), -exp)))
        setattr_(self, "min_qty_lots", min_qty_lots)
        setattr_(self, "min_notional_units", min_notional_units)
        setattr_(self, "_notional_mantissa", mantissa)
        setattr_(self, "_notional_exp", exp)

    def _grid(self, step_name: str, step: Decimal, decimals_name: str, decimals: int) -> Grid:
        where = f"{self.venue}:{self.symbol}"
        try:
            exp = Grid(step).exp
        except GridError as exc:
            raise ValueError(f"instrument {where}: {step_name} {step} is unusable: {exc}") from None
        if decimals < exp:
            raise ValueError(
                f"instrument {where}: {decimals_name} {decimals} is below the {exp} decimals "
                f"of {step_name} {step}"
            )
        try:
            return Grid(step, decimals)
        except GridError as exc:
            raise ValueError(f"instrument {where}: {decimals_name}: {exc}") from None

    @property
    def instrument_id(self) -> str:
        return f"{self.venue}:{self.symbol}"

    def price_to_ticks(self, price: str | bytes | Decimal) -> int:
        """Exact ticks; raises OffGridError for a price between ticks."""
        return self.price_grid.to_units(price)

    def ticks_to_price(self, ticks: int) -> Decimal:
        return self.price_grid.to_decimal(ticks)

    def ticks_to_str(self, ticks: int) -> str:
        """The price as the venue's string, `price_decimals` fraction digits."""
        return self.price_grid.to_str(ticks)

    def qty_to_lots(self, qty: str | bytes | Decimal) -> int:
        return self.qty_grid.to_units(qty)

    def lots_to_qty(self, lots: int) -> Decimal:
        return self.qty_grid.to_decimal(lots)

    def lots_to_str(self, lots: int) -> str:
        return self.qty_grid.to_str(lots)

    def notional(self, ticks: int, lots: int) -> int:
        """ticks * lots in notional units, overflow-checked."""
        return notional_units(ticks, lots)

    def notional_to_decimal(self, units: int) -> Decimal:
        """Notional units as an exact quote amount."""
        if isinstance(units, bool) or not isinstance(units, int):
            raise TypeError(f"notional units must be an int, got {units!r}")
        scaled = units * self._notional_mantissa
        return Decimal((int(scaled < 0), tuple(map(int, str(abs(scaled)))), -self._notional_exp))

    def fee_to_units(self, fee: Decimal) -> int:
        """A quote-asset fee in notional units, rounded up so costs are never understated.

        Rebates (negative fees) round up too, i.e. toward zero. Fees charged in another asset
        must be converted to the quote asset by the caller first.
        """
        if not isinstance(fee, Decimal):
            raise TypeError(f"fee must be a Decimal, got {fee!r}")
        if not fee.is_finite():
            raise ValueError(f"fee must be finite, got {fee}")
        return _ceil_units(fee, self._notional_mantissa, self._notional_exp)


def _ceil_units(value: Decimal, mantissa: int, exp: int) -> int:
    """ceil(value / (mantissa * 10**-exp)), exact, within int64 (mantissa in 1..2**63)."""
    if not value:
        return 0
    scale = value.adjusted() + exp  # value / 10**-exp is below 10**(scale + 1)
    if scale > 40:  # beyond int64 whatever the mantissa; spares the big ints
        units = _INT64_MAX + 1 if value > 0 else -_INT64_MAX - 2
    elif scale < -40:  # far below one unit
        return 1 if value > 0 else 0
    else:
        p, q = value.as_integer_ratio()  # exact, in C
        if exp >= 0:
            units = -((-p * 10**exp) // (q * mantissa))
        else:
            units = -((-p) // (q * mantissa * 10**-exp))
    if not -_INT64_MAX - 1 <= units <= _INT64_MAX:
        raise FixedPointOverflowError(f"{value} does not fit int64 in units of {mantissa}e-{exp}")
    return units
