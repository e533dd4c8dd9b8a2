"""The seed's `MarketData`: best bid/ask, last trade and volume of one instrument at one time.

This is the Decimal face for reports, storage and slow consumers. The hot path reads the
integer book directly; a `MarketData` is built only when someone asks for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class MarketData:
    venue: str
    symbol: str
    bid: Decimal
    ask: Decimal
    last_price: Decimal
    volume: (
        Decimal  # size of the last trade, or the venue's rolling volume where that is the source
    )
    timestamp_ns: int  # exchange event time, ns since the epoch

    def __post_init__(self) -> None:
        for name in ("bid", "ask", "last_price", "volume"):
            if not isinstance(getattr(self, name), Decimal):
                raise TypeError(f"MarketData.{name} must be a Decimal, got {getattr(self, name)!r}")
        if self.bid > 0 and self.ask > 0 and self.bid >= self.ask:
            # a crossed or locked top of book means a missed message upstream
            raise ValueError(
                f"{self.venue}:{self.symbol}: crossed book bid {self.bid} >= ask {self.ask}"
            )

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal:
        return self.ask - self.bid

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ns / 1e9, tz=UTC)
