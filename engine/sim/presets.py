"""Instruments and synthetic-market parameters the simulator ships with.

Grids follow each venue's published spot rules for the pair (tick, step, minimums); the
market parameters are typical of a liquid spot book, chosen to keep a market maker busy:
volatility is the standard deviation of the mid's log return per square-root second.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.model.instrument import Instrument

D = Decimal


@dataclass(frozen=True, slots=True)
class MarketParams:
    start_price: Decimal
    volatility_per_sqrt_s: float  # stdev of log(mid) change over one second
    drift_per_s: float = 0.0
    half_spread_ticks: int = 1  # background best bid/ask sit this far from the mid
    levels: int = 25  # background levels kept per side
    level_qty: Decimal = Decimal("0.5")  # mean background size per level (base asset)
    limit_rate: float = 400.0  # background limit orders per second (both sides)
    cancel_rate: float = 350.0  # background cancels per second
    market_rate: float = 20.0  # background market orders per second
    market_qty: Decimal = Decimal("0.05")  # mean market order size (base asset)


# (symbol format, tick, step, min qty, min notional, price decimals, qty decimals) per venue
_GRIDS: dict[str, dict[str, tuple[str, str, str, str, str, int, int]]] = {
    "binance": {
        "BTC": ("BTCUSDT", "0.01", "0.00001", "0.00001", "5", 8, 8),
        "ETH": ("ETHUSDT", "0.01", "0.0001", "0.0001", "5", 8, 8),
    },
    "okx": {
        "BTC": ("BTC-USDT", "0.1", "0.00000001", "0.00001", "0", 1, 8),
        "ETH": ("ETH-USDT", "0.01", "0.000001", "0.0001", "0", 2, 6),
    },
    "gate": {
        "BTC": ("BTC_USDT", "0.1", "0.000001", "0.00001", "3", 1, 6),
        "ETH": ("ETH_USDT", "0.01", "0.0001", "0.001", "3", 2, 4),
    },
}

MARKETS: dict[str, MarketParams] = {
    "BTC": MarketParams(
        start_price=D("65000"),
        volatility_per_sqrt_s=0.0004,
        level_qty=D("0.4"),
        market_qty=D("0.02"),
    ),
    "ETH": MarketParams(
        start_price=D("3500"),
        volatility_per_sqrt_s=0.0006,
        level_qty=D("4"),
        market_qty=D("0.3"),
    ),
}

VENUES = tuple(_GRIDS)


def instrument(venue: str, base: str, quote: str = "USDT") -> Instrument:
    try:
        symbol, tick, step, min_qty, min_notional, pdec, qdec = _GRIDS[venue][base]
    except KeyError:
        raise ValueError(f"no preset for {base} on {venue}; presets: {sorted(_GRIDS)}") from None
    return Instrument(
        symbol=symbol,
        venue=venue,
        base=base,
        quote=quote,
        tick_size=D(tick),
        lot_size=D(step),
        min_qty=D(min_qty),
        min_notional=D(min_notional),
        price_decimals=pdec,
        qty_decimals=qdec,
    )


def default_instruments(venue: str) -> list[Instrument]:
    return [instrument(venue, base) for base in ("BTC", "ETH")]


DEFAULT_BALANCES: dict[str, Decimal] = {"USDT": D("100000"), "BTC": D("1"), "ETH": D("10")}
