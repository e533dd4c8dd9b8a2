"""Client order ids: unique across restarts, valid on every venue, and cheap to map back.

The one alphabet every venue takes is letters and digits (OKX `clOrdId`: 1-32 of them;
Binance `newClientOrderId`: up to 36 of [A-Za-z0-9_-]; Gate `text`: `t-` + up to 28 of
[0-9A-Za-z_.-]; docs/VENUES.md). An id is the run's prefix followed by the order table's
int64 order id in lowercase hex (formatted in C, unlike base 36):

    <run: 7 base-36 chars of the start time in ms><2 random base-36 chars><order id, hex>

The start time makes ids of different runs differ (and sort by run), the random pair guards
two engines started in the same millisecond; the order id part is at most 16 characters, so
an id never exceeds 25 characters (Gate's `text` allows 28 after its `t-`). `order_id_of`
maps an id of this run back to the order table's id with no dictionary, and answers 0 for an
id of another run or another client.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
RUN_CHARS = 9
MAX_LENGTH = RUN_CHARS + 16  # hex of 2**63 - 1 has 16 digits


def base36(value: int) -> str:
    if value < 0:
        raise ValueError(f"base36 of a negative number: {value}")
    digits = []
    while True:
        value, digit = divmod(value, 36)
        digits.append(ALPHABET[digit])
        if value == 0:
            return "".join(reversed(digits))


class ClientOrderIds:
    """Ids of one run of the engine: `ClientOrderIds(start_ms)` with the engine clock's time."""

    def __init__(self, start_ms: int, *, salt: str | None = None) -> None:
        run = base36(start_ms % 36**7).rjust(7, "0")
        salt = salt if salt is not None else base36(secrets.randbelow(36**2)).rjust(2, "0")
        if len(salt) != 2 or any(c not in ALPHABET for c in salt):
            raise ValueError(f"salt must be 2 base-36 characters, got {salt!r}")
        self.prefix = run + salt

    def of(self, order_id: int) -> str:
        """The client order id of the order table's `order_id` (> 0)."""
        if order_id <= 0:
            raise ValueError(f"order id must be > 0, got {order_id}")
        return self.prefix + format(order_id, "x")

    def order_id_of(self, client_order_id: str) -> int:
        """The order table's id behind one of this run's client order ids; 0 otherwise."""
        if len(client_order_id) <= RUN_CHARS or not client_order_id.startswith(self.prefix):
            return 0
        tail = client_order_id[RUN_CHARS:]
        # lowercase hex digits only: int() alone would also take "0x", "_", "+" and capitals
        if len(tail) > 16 or not tail.isalnum() or "x" in tail:
            return 0
        if not (tail.islower() or tail.isdigit()):
            return 0
        try:
            value = int(tail, 16)
        except ValueError:  # letters past f
            return 0
        return value if 0 < value < 2**63 else 0
