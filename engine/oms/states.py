"""The order table's status codes as the public `OrderStatus`, both ways."""

from __future__ import annotations

from engine._core import orders as table
from engine.model.enums import OrderStatus

STATUS_OF_CODE: dict[int, OrderStatus] = {
    table.PENDING_NEW: OrderStatus.PENDING_NEW,
    table.NEW: OrderStatus.NEW,
    table.PARTIALLY_FILLED: OrderStatus.PARTIALLY_FILLED,
    table.PENDING_CANCEL: OrderStatus.PENDING_CANCEL,
    table.PENDING_AMEND: OrderStatus.PENDING_AMEND,
    table.UNKNOWN: OrderStatus.UNKNOWN,
    table.FILLED: OrderStatus.FILLED,
    table.CANCELED: OrderStatus.CANCELED,
    table.REJECTED: OrderStatus.REJECTED,
    table.EXPIRED: OrderStatus.EXPIRED,
}
CODE_OF_STATUS: dict[OrderStatus, int] = {status: code for code, status in STATUS_OF_CODE.items()}
