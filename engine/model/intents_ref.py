"""Pure-Python reference of engine/_core/intents.pyx: the same statuses, rows and counters.

A list of pending rows instead of C structs: what the Cython buffer does with its head, count
and compaction is invisible from outside, so the reference does not model it. The arguments
are checked in the contract's order (instrument, order id, side, order type, time in force,
price, quantity, then room), so both give the same status for the same push. Nothing here
is meant to be fast: differential tests run it beside the Cython buffer.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine._core.fixedpoint import FixedPointOverflowError

NEW = 1
CANCEL = 2
REPLACE = 3
BUY = 1
SELL = -1
LIMIT = 1
MARKET = 2
LIMIT_MAKER = 3
GTC = 1
IOC = 2
FOK = 3
NO_PRICE = 0
NO_ORDER = 0
MAX_INSTRUMENTS = 2**31 - 1

OK = 0
ERR_FULL = -64
ERR_INSTRUMENT = -65
ERR_SIDE = -66
ERR_TYPE = -67
ERR_TIF = -68
ERR_PRICE = -69
ERR_QTY = -70
ERR_ORDER_ID = -71
ERR_INDEX = -72

FIELDS = (
    "instrument",
    "kind",
    "side",
    "order_type",
    "tif",
    "price_ticks",
    "qty_lots",
    "tag",
    "order_id",
)
_FORMATS = ("i4", "i1", "i1", "i1", "i1", "i8", "i8", "i8", "i8")

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

Row = tuple[int, int, int, int, int, int, int, int, int]


def _arg(value: object, what: str) -> int:
    """Like fixedpoint.as_int64: int-like, not bool, not float, within int64."""
    if isinstance(value, float):
        raise TypeError(f"{what} must be an int, got float {value!r}: floats never carry money")
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise FixedPointOverflowError(f"{what} {value} does not fit int64")
    return int(value)


def check_order(side: int, price_ticks: int, qty_lots: int, order_type: int, tif: int) -> int:
    """The fields of a NEW or REPLACE intent, in the contract's order."""
    if side not in (BUY, SELL):
        return ERR_SIDE
    if order_type not in (LIMIT, MARKET, LIMIT_MAKER):
        return ERR_TYPE
    if tif not in (GTC, IOC, FOK):
        return ERR_TIF
    if order_type == LIMIT_MAKER and tif != GTC:
        return ERR_TIF  # a post-only order that may not rest could never be placed
    if order_type == MARKET:
        if price_ticks != NO_PRICE:
            return ERR_PRICE
    elif price_ticks <= 0:
        return ERR_PRICE
    if qty_lots <= 0:
        return ERR_QTY
    return OK


class IntentBufferRef:
    def __init__(self, capacity: int, instrument_count: int = MAX_INSTRUMENTS) -> None:
        cap = _arg(capacity, "capacity")
        if cap < 1:
            raise ValueError(f"capacity must be >= 1, got {cap}")
        self.capacity = cap
        self.instrument_count = 0
        self._set_count(instrument_count)
        self._rows: list[Row] = []
        self.pushed = 0
        self.rejected = 0
        self.high_water = 0

    def _set_count(self, instrument_count: int) -> None:
        n = _arg(instrument_count, "instrument_count")
        if not 0 <= n <= MAX_INSTRUMENTS:
            raise ValueError(f"instrument_count must be in 0..{MAX_INSTRUMENTS}, got {n}")
        self.instrument_count = n

    def set_instrument_count(self, instrument_count: int) -> None:
        if self._rows:
            raise ValueError(
                f"instrument_count cannot change while {len(self._rows)} intents are pending"
            )
        self._set_count(instrument_count)

    def _push(self, status: int, row: Row) -> int:
        if status == OK and len(self._rows) >= self.capacity:
            status = ERR_FULL
        if status != OK:
            self.rejected += 1
            return status
        self._rows.append(row)
        self.pushed += 1
        self.high_water = max(self.high_water, len(self._rows))
        return OK

    def _instrument_status(self, instrument: int) -> int:
        return OK if 0 <= instrument < self.instrument_count else ERR_INSTRUMENT

    def try_push_new(  # noqa: PLR0917 - the Cython buffer's call shape
        self,
        instrument: int,
        side: int,
        price_ticks: int,
        qty_lots: int,
        tag: int = 0,
        order_type: int = LIMIT,
        tif: int = GTC,
    ) -> int:
        i = _arg(instrument, "instrument")
        s, p = _arg(side, "side"), _arg(price_ticks, "price_ticks")
        q, t = _arg(qty_lots, "qty_lots"), _arg(tag, "tag")
        ot, tf = _arg(order_type, "order_type"), _arg(tif, "tif")
        status = self._instrument_status(i) or check_order(s, p, q, ot, tf)
        return self._push(status, (i, NEW, s, ot, tf, p, q, t, NO_ORDER))

    def try_push_cancel(self, instrument: int, order_id: int, tag: int = 0) -> int:
        i, o, t = _arg(instrument, "instrument"), _arg(order_id, "order_id"), _arg(tag, "tag")
        status = self._instrument_status(i) or (OK if o > 0 else ERR_ORDER_ID)
        return self._push(status, (i, CANCEL, 0, 0, 0, NO_PRICE, 0, t, o))

    def try_push_replace(  # noqa: PLR0917 - the Cython buffer's call shape
        self,
        instrument: int,
        order_id: int,
        side: int,
        price_ticks: int,
        qty_lots: int,
        tag: int = 0,
        order_type: int = LIMIT,
        tif: int = GTC,
    ) -> int:
        i, o = _arg(instrument, "instrument"), _arg(order_id, "order_id")
        s, p = _arg(side, "side"), _arg(price_ticks, "price_ticks")
        q, t = _arg(qty_lots, "qty_lots"), _arg(tag, "tag")
        ot, tf = _arg(order_type, "order_type"), _arg(tif, "tif")
        status = (
            self._instrument_status(i)
            or (OK if o > 0 else ERR_ORDER_ID)
            or check_order(s, p, q, ot, tf)
        )
        return self._push(status, (i, REPLACE, s, ot, tf, p, q, t, o))

    def push_new(  # noqa: PLR0917 - the Cython buffer's call shape
        self,
        instrument: int,
        side: int,
        price_ticks: int,
        qty_lots: int,
        tag: int = 0,
        order_type: int = LIMIT,
        tif: int = GTC,
    ) -> None:
        status = self.try_push_new(instrument, side, price_ticks, qty_lots, tag, order_type, tif)
        if status != OK:
            raise ValueError(
                self._message(
                    status,
                    instrument=instrument,
                    side=side,
                    price=price_ticks,
                    qty=qty_lots,
                    order_type=order_type,
                    tif=tif,
                )
            )

    def push_cancel(self, instrument: int, order_id: int, tag: int = 0) -> None:
        status = self.try_push_cancel(instrument, order_id, tag)
        if status != OK:
            raise ValueError(self._message(status, instrument=instrument, order_id=order_id))

    def push_replace(  # noqa: PLR0917 - the Cython buffer's call shape
        self,
        instrument: int,
        order_id: int,
        side: int,
        price_ticks: int,
        qty_lots: int,
        tag: int = 0,
        order_type: int = LIMIT,
        tif: int = GTC,
    ) -> None:
        status = self.try_push_replace(
            instrument, order_id, side, price_ticks, qty_lots, tag, order_type, tif
        )
        if status != OK:
            raise ValueError(
                self._message(
                    status,
                    instrument=instrument,
                    order_id=order_id,
                    side=side,
                    price=price_ticks,
                    qty=qty_lots,
                    order_type=order_type,
                    tif=tif,
                )
            )

    def _message(
        self,
        status: int,
        *,
        instrument: int,
        order_id: int = 0,
        side: int = 0,
        price: int = 0,
        qty: int = 0,
        order_type: int = 0,
        tif: int = 0,
    ) -> str:
        tifs = {GTC: "GTC", IOC: "IOC", FOK: "FOK"}
        types = {LIMIT: "LIMIT", MARKET: "MARKET", LIMIT_MAKER: "LIMIT_MAKER"}
        if status == ERR_FULL:
            return (
                f"intent buffer is full: {self.capacity} intents pending, the consumer has "
                "not drained them"
            )
        if status == ERR_INSTRUMENT:
            return f"instrument index must be in 0..{self.instrument_count - 1}, got {instrument}"
        if status == ERR_ORDER_ID:
            return f"order_id to cancel or replace must be > 0, got {order_id}"
        if status == ERR_SIDE:
            return f"side must be BUY (1) or SELL (-1), got {side}"
        if status == ERR_TYPE:
            return f"order_type must be LIMIT (1), MARKET (2) or LIMIT_MAKER (3), got {order_type}"
        if status == ERR_TIF:
            if order_type == LIMIT_MAKER and tif in tifs:
                return f"LIMIT_MAKER must rest: tif must be GTC, got {tifs[tif]}"
            return f"tif must be GTC (1), IOC (2) or FOK (3), got {tif}"
        if status == ERR_PRICE:
            if order_type == MARKET:
                return f"a MARKET intent has no price: price_ticks must be 0, got {price}"
            return f"price_ticks must be > 0 for a {types[order_type]} intent, got {price}"
        return f"qty_lots must be > 0, got {qty}"

    def __len__(self) -> int:
        return len(self._rows)

    def read(self, i: int) -> Row:
        k = _arg(i, "index")
        if not 0 <= k < len(self._rows):
            raise IndexError(f"intent index {k} outside 0..{len(self._rows) - 1}")
        return self._rows[k]

    def pop(self) -> Row | None:
        return self._rows.pop(0) if self._rows else None

    def drain(self) -> list[Row]:
        rows, self._rows = self._rows, []
        return rows

    def clear(self) -> None:
        self._rows = []

    def view(self) -> npt.NDArray[np.void]:
        """A copy here (the Cython buffer's is a zero-copy view): same fields, same values."""
        return np.array(self._rows, dtype=np.dtype({"names": FIELDS, "formats": _FORMATS}))
