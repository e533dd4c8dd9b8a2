"""The seed's order enums, with the venue-neutral meanings the engine relies on."""

from __future__ import annotations

import enum


class OrderSide(enum.IntEnum):
    """Values are the sign of the position change, so `side * lots` is signed quantity."""

    BUY = 1
    SELL = -1

    @property
    def opposite(self) -> OrderSide:
        return OrderSide(-self.value)


class OrderType(enum.Enum):
    MARKET = "market"
    LIMIT = "limit"
    # Post-only: rests as maker or is rejected (Binance LIMIT_MAKER, OKX post_only, Gate poc).
    LIMIT_MAKER = "limit_maker"


class TimeInForce(enum.Enum):
    GTC = "gtc"  # good till cancelled
    IOC = "ioc"  # immediate or cancel: fill what can be filled now, cancel the rest
    FOK = "fok"  # fill or kill: fill completely now or not at all


class OrderStatus(enum.Enum):
    PENDING_NEW = "pending_new"  # journaled and sent, not yet acknowledged
    NEW = "new"  # acknowledged and resting
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"  # cancel sent, not yet confirmed
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        return not self.is_terminal

    def can_become(self, new: OrderStatus) -> bool:
        """Whether a report may move an order from this status to `new`."""
        return new in _TRANSITIONS[self]


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)

# Reports can overtake each other (a fill after our cancel was sent, an ack lost while the
# fill arrives), so every open status may jump to any later one; terminal ones never move.
_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING_NEW: frozenset(OrderStatus) - {OrderStatus.PENDING_NEW},
    OrderStatus.NEW: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.PENDING_CANCEL,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.PENDING_CANCEL,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.PENDING_CANCEL: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
            OrderStatus.NEW,  # the cancel was rejected: the order rests on
        }
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}
