"""Reference semantics of engine/_core/orders.pyx (the OMS's order table), in plain Python.

The Cython `OrderTable` must agree with this class on every status code, order id and row;
tests/test_orders_table.py drives both with the same random operations.

An order lives in one of `capacity` preallocated slots. Its engine-wide id is
`generation << slot_bits | slot` (slot_bits = log2(capacity), generation >= 1 and bumped
each time the slot is reused), so a lookup is one mask and one compare, and an id that
outlived its order is refused instead of reaching the slot's next order.

Every change is one of the explicit transitions below; anything else is refused with a
negative code, counted, and changes nothing:

- `open`: a new order, PENDING_NEW (journaled and sent, no answer yet).
- `report`: what the venue said: NEW, PARTIALLY_FILLED, FILLED, CANCELED, REJECTED or
  EXPIRED, with the order's cumulative fill when the venue gives it (`cum_lots`, -1 when it
  does not) and the lots of this report's own fill (`fill_lots`). The fill is kept as
  max(filled, cum) when the cumulative is known, so a late or repeated report never counts a
  fill twice, else as filled + fill_lots; FILLED means filled = quantity. NEW and
  PARTIALLY_FILLED only say the order rests: its status follows from its fill (a fill seen
  before the acknowledgement is not undone by it), and while a cancel or amend is in flight
  the order stays PENDING_CANCEL / PENDING_AMEND. REJECTED is only possible before the order
  was acknowledged. A terminal order takes no report.
- `cancel_sent`, `amend_sent`: a request went out; the order remembers the status to return
  to if the venue refuses it (`request_failed`). `amended`: the venue took the amend.
- `timed_out`: a request got no answer in time: UNKNOWN until a report or a query says.
- `release`: a terminal order's slot is free again.
"""

from __future__ import annotations

from dataclasses import dataclass

# statuses (the table's int8 codes; engine.oms.states maps them to OrderStatus)
FREE = 0
PENDING_NEW = 1
NEW = 2
PARTIALLY_FILLED = 3
PENDING_CANCEL = 4
PENDING_AMEND = 5
UNKNOWN = 6
FILLED = 7
CANCELED = 8
REJECTED = 9
EXPIRED = 10

TERMINAL = frozenset({FILLED, CANCELED, REJECTED, EXPIRED})
VENUE_STATUSES = frozenset({NEW, PARTIALLY_FILLED, FILLED, CANCELED, REJECTED, EXPIRED})

# codes
OK = 0
UNCHANGED = 1  # a repeated report or request: nothing to change
ERR_UNKNOWN_ORDER = -96  # no live order has this id
ERR_TRANSITION = -97  # the order's status does not allow it
ERR_OVERFILL = -98  # the fill would exceed the order's quantity
ERR_FULL = -99  # every slot holds a live order
ERR_ARG = -100  # a field out of range
ERR_NOT_TERMINAL = -101  # release of an order that is still live

BUY, SELL = 1, -1
LIMIT, MARKET, LIMIT_MAKER = 1, 2, 3
GTC, IOC, FOK = 1, 2, 3

MIN_CAPACITY = 1
MAX_CAPACITY = 1 << 24


@dataclass(slots=True)
class OrderRow:
    order_id: int = 0  # 0 = free slot
    instrument: int = 0
    side: int = 0
    order_type: int = 0
    tif: int = 0
    status: int = FREE
    base_status: int = FREE  # where a refused cancel/amend returns to
    price_ticks: int = 0
    qty_lots: int = 0
    filled_lots: int = 0
    pending_price_ticks: int = 0  # the amend in flight
    pending_qty_lots: int = 0
    tag: int = 0
    created_ns: int = 0
    updated_ns: int = 0

    def as_tuple(self) -> tuple[int, ...]:
        return (
            self.order_id,
            self.instrument,
            self.side,
            self.order_type,
            self.tif,
            self.status,
            self.price_ticks,
            self.qty_lots,
            self.filled_lots,
            self.pending_price_ticks,
            self.pending_qty_lots,
            self.tag,
            self.created_ns,
            self.updated_ns,
        )


def slot_bits_for(capacity: int) -> int:
    if not MIN_CAPACITY <= capacity <= MAX_CAPACITY or capacity & (capacity - 1):
        raise ValueError(
            f"capacity must be a power of two in {MIN_CAPACITY}..{MAX_CAPACITY}, got {capacity}"
        )
    return capacity.bit_length() - 1


def check_order(side: int, order_type: int, tif: int, price: int, qty: int) -> bool:
    """The fields of a new order (the intent buffer's rule: intents.pxd)."""
    if side not in (BUY, SELL) or order_type not in (LIMIT, MARKET, LIMIT_MAKER):
        return False
    if tif not in (GTC, IOC, FOK) or (order_type == LIMIT_MAKER and tif != GTC):
        return False
    if (order_type == MARKET and price != 0) or (order_type != MARKET and price <= 0):
        return False
    return qty > 0


def _resting(filled: int) -> int:
    return PARTIALLY_FILLED if filled > 0 else NEW


class OrderTableRef:
    def __init__(self, capacity: int) -> None:
        self.slot_bits = slot_bits_for(capacity)
        self.capacity = capacity
        self.rows = [OrderRow() for _ in range(capacity)]
        self.generations = [0] * capacity
        # free slots as a stack: the next open takes the last one; 0 is taken first
        self.free = list(range(capacity - 1, -1, -1))
        self.opened = 0
        self.refused = 0  # every negative code, of any operation
        self.overfills = 0
        self.unknown_ids = 0

    @property
    def live(self) -> int:
        return self.capacity - len(self.free)

    def _refuse(self, code: int) -> int:
        self.refused += 1
        if code == ERR_OVERFILL:
            self.overfills += 1
        elif code == ERR_UNKNOWN_ORDER:
            self.unknown_ids += 1
        return code

    def _row(self, order_id: int) -> OrderRow | None:
        if order_id <= 0:
            return None
        row = self.rows[order_id & (self.capacity - 1)]
        return row if row.order_id == order_id else None

    def open(  # noqa: PLR0917 - the C signature, positional like every table method
        self,
        instrument: int,
        side: int,
        order_type: int,
        tif: int,
        price_ticks: int,
        qty_lots: int,
        tag: int,
        now_ns: int,
    ) -> tuple[int, int]:
        if not 0 <= instrument < 2**31 or not check_order(
            side, order_type, tif, price_ticks, qty_lots
        ):
            return self._refuse(ERR_ARG), 0
        if not self.free:
            return self._refuse(ERR_FULL), 0
        slot = self.free.pop()
        self.generations[slot] += 1
        order_id = (self.generations[slot] << self.slot_bits) | slot
        self.rows[slot] = OrderRow(
            order_id=order_id,
            instrument=instrument,
            side=side,
            order_type=order_type,
            tif=tif,
            status=PENDING_NEW,
            base_status=PENDING_NEW,
            price_ticks=price_ticks,
            qty_lots=qty_lots,
            tag=tag,
            created_ns=now_ns,
            updated_ns=now_ns,
        )
        self.opened += 1
        return OK, order_id

    def report(self, order_id: int, status: int, cum_lots: int, fill_lots: int, now_ns: int) -> int:
        row = self._row(order_id)
        if row is None:
            return self._refuse(ERR_UNKNOWN_ORDER)
        if status not in VENUE_STATUSES or cum_lots < -1 or fill_lots < 0:
            return self._refuse(ERR_ARG)
        current = row.status
        if current in TERMINAL:
            return self._refuse(ERR_TRANSITION)
        if status == REJECTED and current not in (PENDING_NEW, UNKNOWN):
            return self._refuse(ERR_TRANSITION)
        filled = max(row.filled_lots, cum_lots) if cum_lots >= 0 else row.filled_lots + fill_lots
        if filled > row.qty_lots:
            return self._refuse(ERR_OVERFILL)
        if status == FILLED:
            filled = row.qty_lots
        base = row.base_status
        if status in TERMINAL:
            target = status
        elif current in (PENDING_CANCEL, PENDING_AMEND):
            target = current  # the request is still in flight; if refused, the order rests
            base = _resting(filled)
        else:
            target = _resting(filled)
        if target == current and filled == row.filled_lots and base == row.base_status:
            return UNCHANGED
        row.status = target
        row.base_status = base
        row.filled_lots = filled
        row.updated_ns = now_ns
        return OK

    def cancel_sent(self, order_id: int, now_ns: int) -> int:
        row = self._row(order_id)
        if row is None:
            return self._refuse(ERR_UNKNOWN_ORDER)
        current = row.status
        if current == PENDING_CANCEL:
            return UNCHANGED
        if current in TERMINAL:
            return self._refuse(ERR_TRANSITION)
        if current != PENDING_AMEND:  # an amend in flight keeps the status it returns to
            row.base_status = current
        row.status = PENDING_CANCEL
        row.updated_ns = now_ns
        return OK

    def amend_sent(self, order_id: int, price_ticks: int, qty_lots: int, now_ns: int) -> int:
        row = self._row(order_id)
        if row is None:
            return self._refuse(ERR_UNKNOWN_ORDER)
        if row.status not in (NEW, PARTIALLY_FILLED):
            return self._refuse(ERR_TRANSITION)
        if row.order_type == MARKET or price_ticks <= 0 or qty_lots <= row.filled_lots:
            return self._refuse(ERR_ARG)
        row.base_status = row.status
        row.status = PENDING_AMEND
        row.pending_price_ticks = price_ticks
        row.pending_qty_lots = qty_lots
        row.updated_ns = now_ns
        return OK

    def amended(self, order_id: int, now_ns: int) -> int:
        row = self._row(order_id)
        if row is None:
            return self._refuse(ERR_UNKNOWN_ORDER)
        if row.status != PENDING_AMEND:
            return self._refuse(ERR_TRANSITION)
        if row.pending_qty_lots <= row.filled_lots:  # filled meanwhile past the new size
            return self._refuse(ERR_OVERFILL)
        row.price_ticks = row.pending_price_ticks
        row.qty_lots = row.pending_qty_lots
        row.pending_price_ticks = row.pending_qty_lots = 0
        row.status = _resting(row.filled_lots)
        row.updated_ns = now_ns
        return OK

    def request_failed(self, order_id: int, now_ns: int) -> int:
        row = self._row(order_id)
        if row is None:
            return self._refuse(ERR_UNKNOWN_ORDER)
        if row.status not in (PENDING_CANCEL, PENDING_AMEND):
            return self._refuse(ERR_TRANSITION)
        base = row.base_status
        row.status = _resting(row.filled_lots) if base in (NEW, PARTIALLY_FILLED) else base
        row.pending_price_ticks = row.pending_qty_lots = 0
        row.updated_ns = now_ns
        return OK

    def timed_out(self, order_id: int, now_ns: int) -> int:
        row = self._row(order_id)
        if row is None:
            return self._refuse(ERR_UNKNOWN_ORDER)
        if row.status == UNKNOWN:
            return UNCHANGED
        if row.status not in (PENDING_NEW, PENDING_CANCEL, PENDING_AMEND):
            return self._refuse(ERR_TRANSITION)
        row.status = UNKNOWN
        row.base_status = UNKNOWN
        row.pending_price_ticks = row.pending_qty_lots = 0
        row.updated_ns = now_ns
        return OK

    def release(self, order_id: int) -> int:
        row = self._row(order_id)
        if row is None:
            return self._refuse(ERR_UNKNOWN_ORDER)
        if row.status not in TERMINAL:
            return self._refuse(ERR_NOT_TERMINAL)
        slot = order_id & (self.capacity - 1)
        self.rows[slot] = OrderRow()
        self.free.append(slot)
        return OK

    def get(self, order_id: int) -> tuple[int, ...] | None:
        row = self._row(order_id)
        return None if row is None else row.as_tuple()
