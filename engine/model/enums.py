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
    # members are singletons compared by identity: hashing by identity too keeps dict
    # lookups in C (Enum's own __hash__ is Python code, ~3x slower on the order path)
    __hash__ = object.__hash__

    MARKET = "market"
    LIMIT = "limit"
    # Post-only: rests as maker or is rejected (Binance LIMIT_MAKER, OKX post_only, Gate poc).
    LIMIT_MAKER = "limit_maker"


class TimeInForce(enum.Enum):
    # members are singletons compared by identity: hashing by identity too keeps dict
    # lookups in C (Enum's own __hash__ is Python code, ~3x slower on the order path)
    __hash__ = object.__hash__

    GTC = "gtc"  # good till cancelled
    IOC = "ioc"  # immediate or cancel: fill what can be filled now, cancel the rest
    FOK = "fok"  # fill or kill: fill completely now or not at all


class OrderStatus(enum.Enum):
    """An order's state; which change is allowed from which state is the OMS order table's
    rule (engine/oms/orders_ref.py)."""

    # members are singletons compared by identity: hashing by identity too keeps dict
    # lookups in C (Enum's own __hash__ is Python code, ~3x slower on the order path)
    __hash__ = object.__hash__

    PENDING_NEW = "pending_new"  # journaled and sent, not yet acknowledged
    NEW = "new"  # acknowledged and resting
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"  # cancel sent, not yet confirmed
    PENDING_AMEND = "pending_amend"  # amend sent, not yet confirmed
    UNKNOWN = "unknown"  # a request got no answer in time: a report or a query will say
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


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)
