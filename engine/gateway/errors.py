"""Errors shared by the venue gateways."""

from __future__ import annotations


class InstrumentLoadError(ValueError):
    """A venue's instrument metadata could not be turned into an `Instrument`.

    Raised for an unknown symbol, an HTTP or transport failure, metadata that is missing or
    malformed, and a symbol that exists but is not trading. `status` is the HTTP status when
    the venue answered with an error status, else None.
    """

    def __init__(self, venue: str, symbol: str, reason: str, *, status: int | None = None) -> None:
        super().__init__(f"{venue} instrument {symbol}: {reason}")
        self.venue = venue
        self.symbol = symbol
        self.reason = reason
        self.status = status
