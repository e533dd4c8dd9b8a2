"""Request-timestamp window checks shared by the venue signers.

Nothing here reads the wall clock: the server time is always an argument (epoch milliseconds
from the engine clock, or the simulator's clock).
"""

from __future__ import annotations

import enum
import re
from decimal import Decimal

__all__ = ["TimestampCheck", "seconds_to_ms", "window"]


class TimestampCheck(enum.Enum):
    """Outcome of a request-timestamp window check."""

    OK = "ok"
    AHEAD = "ahead"  # too far in the future (Binance -1021 "...ahead of the server's time")
    EXPIRED = "expired"  # too old (Binance -1021 recvWindow, OKX 50102, Gate REQUEST_EXPIRED)
    INVALID = "invalid"  # not a timestamp at all (OKX 50112 / 60004)


def window(delta_ms: float, ahead_ms: float, behind_ms: float) -> TimestampCheck:
    """`delta_ms` = client timestamp - server time. Both bounds are inclusive."""
    if delta_ms > ahead_ms:
        return TimestampCheck.AHEAD
    if -delta_ms > behind_ms:
        return TimestampCheck.EXPIRED
    return TimestampCheck.OK


_DECIMAL_SECONDS = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")


def seconds_to_ms(text: str) -> Decimal | None:
    """`"1541993715"` or `"1700000000.123456"` -> milliseconds; None when malformed."""
    if not _DECIMAL_SECONDS.fullmatch(text):
        return None
    return Decimal(text) * 1000
