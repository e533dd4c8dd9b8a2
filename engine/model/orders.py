"""The seed's `Order`: the Python-facing, Decimal view of one order.

The OMS keeps live orders in preallocated integer slots (a later issue); this immutable view
is what reports, storage and the strategy API see. Changes produce a new value
(`dataclasses.replace`), so a view handed out can never change under its reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce


@dataclass(frozen=True, slots=True)
class Order:
    id: str  # our client order id: the key across venues, journal and reports
    venue: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    status: OrderStatus = OrderStatus.PENDING_NEW
    time_in_force: TimeInForce = TimeInForce.GTC
    timestamp_ns: int = 0  # creation time on the engine's clock, ns since the epoch
    filled_quantity: Decimal = Decimal(0)
    venue_order_id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("order id must not be empty")
        for name in ("quantity", "filled_quantity"):
            if not isinstance(getattr(self, name), Decimal):
                raise TypeError(f"Order.{name} must be a Decimal, got {getattr(self, name)!r}")
        if self.quantity <= 0:
            raise ValueError(f"order {self.id}: quantity must be positive, got {self.quantity}")
        if not 0 <= self.filled_quantity <= self.quantity:
            raise ValueError(
                f"order {self.id}: filled quantity {self.filled_quantity} "
                f"outside 0..{self.quantity}"
            )
        if self.order_type is OrderType.MARKET:
            if self.price is not None:
                raise ValueError(f"order {self.id}: a market order takes no price")
            if self.time_in_force is TimeInForce.GTC:
                raise ValueError(f"order {self.id}: a market order cannot rest (use IOC or FOK)")
        else:
            if not isinstance(self.price, Decimal) or self.price <= 0:
                raise ValueError(f"order {self.id}: a limit order needs a positive Decimal price")
            if (
                self.order_type is OrderType.LIMIT_MAKER
                and self.time_in_force is not TimeInForce.GTC
            ):
                raise ValueError(f"order {self.id}: a post-only order rests, so it must be GTC")

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ns / 1e9, tz=UTC)
