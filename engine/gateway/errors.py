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


class VenueError(Exception):
    """A venue refused or failed a trading request: its own code and message, verbatim.

    `code` is the venue's error code as it prints it (Binance -2010, OKX "51008", Gate
    "BALANCE_NOT_ENOUGH"), or "" for a transport failure. The message never contains a
    secret: adapters build it from the venue's answer, not from the request they signed.
    """

    def __init__(self, venue: str, code: str | int, message: str, *, status: int | None = None):
        super().__init__(f"{venue} {code}: {message}" if code != "" else f"{venue}: {message}")
        self.venue = venue
        self.code = str(code)
        self.venue_message = message
        self.status = status  # the HTTP status, when the answer came over HTTP


class InsufficientBalance(VenueError):
    """Not enough free balance for the order."""


class InvalidOrder(VenueError):
    """The order breaks one of the venue's filters (tick, lot, min notional, price band...)."""


class PostOnlyWouldCross(VenueError):
    """A post-only order would have taken liquidity and was refused or cancelled for it."""


class RateLimited(VenueError):
    """The venue's rate limit was hit (HTTP 429/418, OKX 50011/50061, Gate TOO_MANY_REQUESTS).

    `retry_after_s` is the venue's own hint when it gave one, else None.
    """

    def __init__(
        self,
        venue: str,
        code: str | int,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(venue, code, message, status=status)
        self.retry_after_s = retry_after_s


class AuthError(VenueError):
    """The key, signature, passphrase, permission or environment was refused."""


class ClockSkew(VenueError):
    """The request's timestamp fell outside the venue's window (Binance -1021, OKX 50102)."""


class OrderNotFound(VenueError):
    """The venue knows no such order (never placed, or already gone from its open orders)."""


class VenueUnavailable(VenueError):
    """The venue could not be reached or answered with a server error; the outcome of the
    request is unknown when it was an order (the OMS resolves it by query)."""
