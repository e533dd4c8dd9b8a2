"""Pure-Python reference of engine/_core/depth_decode.pyx: orjson.loads, then plain dict walks
with Decimal-based grid conversion (engine.model.fixedpoint_ref), no shared code with the
scanner.

Each decode_* function returns a `DepthResult`: the status (0 or the same negative code the
Cython decoder returns), the header under the Cython attribute names, and the level rows per
side. Fields are read in document order and the first failing check wins, as in the scanner;
missing keys are checked after the walk. The scanner is stricter in a few corners that a dict
cannot see (a duplicated key, escapes in keys/prices/enum values, nesting over 64 deep,
numbers of magnitude >= 1e300): there it returns an error where this module may not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from engine._core.fixedpoint import DecimalSyntaxError, FixedPointOverflowError, OffGridError
from engine.model import fixedpoint_ref

OK = 0
ERR_SYNTAX = -1
ERR_OFF_GRID = -2
ERR_OVERFLOW = -3
ERR_PRICE = -33
ERR_SIZE = -34
ERR_COUNT = -35
ERR_JSON = -48
ERR_MISSING = -49
ERR_TYPE = -50
ERR_VALUE = -51
ERR_DUPLICATE = -52
ERR_LEVEL = -53

OKX_SNAPSHOT = 1
OKX_UPDATE = 2
GATE_ORDER_BOOK_UPDATE = 1
GATE_OBU = 2
GATE_REST_SNAPSHOT = 3

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_PRICE = 2**62 - 1
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


class GridLike(Protocol):
    @property
    def step_mantissa(self) -> int: ...
    @property
    def exp(self) -> int: ...


class DepthError(Exception):
    """Internal: carries a status code out of the walk."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


Header = dict[str, int | bool | str]


@dataclass(slots=True)
class DepthResult:
    status: int
    header: Header = field(default_factory=dict)
    bids: list[tuple[int, int]] = field(default_factory=list)
    asks: list[tuple[int, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status >= 0


class _Walk:
    """One decode: grids, capacity, the header being filled and the levels pushed."""

    def __init__(self, price: GridLike, qty: GridLike, capacity: int) -> None:
        self.price = price
        self.qty = qty
        self.capacity = capacity
        self.header: Header = {
            "snapshot": False,
            "first_update_id": 0,
            "last_update_id": 0,
            "event_time_ms": 0,
            "symbol": "",
        }
        self.bids: list[tuple[int, int]] = []
        self.asks: list[tuple[int, int]] = []

    @staticmethod
    def units(text: str, grid: GridLike) -> int:
        try:
            return fixedpoint_ref.parse_units(text, grid.step_mantissa, grid.exp)
        except DecimalSyntaxError:
            raise DepthError(ERR_SYNTAX) from None
        except FixedPointOverflowError:
            raise DepthError(ERR_OVERFLOW) from None
        except OffGridError:
            raise DepthError(ERR_OFF_GRID) from None

    def levels(self, value: object, side: list[tuple[int, int]], nfields: int) -> None:
        if type(value) is not list:
            raise DepthError(ERR_TYPE)
        for level in value:
            if type(level) is not list:
                raise DepthError(ERR_TYPE)
            price = size = 0
            for idx, item in enumerate(level):
                if idx >= nfields:
                    raise DepthError(ERR_LEVEL)
                if type(item) is not str:
                    raise DepthError(ERR_TYPE)
                if idx == 0:
                    price = self.units(item, self.price)
                elif idx == 1:
                    size = self.units(item, self.qty)
            if len(level) < nfields:
                raise DepthError(ERR_LEVEL)
            if price <= 0 or price > MAX_PRICE:
                raise DepthError(ERR_PRICE)
            if size < 0:
                raise DepthError(ERR_SIZE)
            if len(side) >= self.capacity:
                raise DepthError(ERR_COUNT)
            side.append((price, size))

    def result(self) -> DepthResult:
        return DepthResult(OK, self.header, self.bids, self.asks)


def _int(value: object) -> int:
    if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
        raise DepthError(ERR_TYPE)
    return value


def _str(value: object) -> str:
    if type(value) is not str:
        raise DepthError(ERR_TYPE)
    return value


def _dict(value: object) -> dict[str, Any]:
    if type(value) is not dict:
        raise DepthError(ERR_TYPE)
    return value


def _load(frame: bytes | bytearray | memoryview) -> dict[str, Any]:
    try:
        doc = orjson.loads(frame)
    except orjson.JSONDecodeError:
        raise DepthError(ERR_JSON) from None
    return _dict(doc)


def _run(fn: Any, frame: bytes | bytearray | memoryview, *args: Any) -> DepthResult:
    try:
        result: DepthResult = fn(frame, *args)
    except DepthError as exc:
        return DepthResult(exc.status)
    return result


# --- Binance ---------------------------------------------------------------------------------

_BN_EVENT = ("e", "E", "s", "U", "u", "b", "a")
_BN_SNAPSHOT = ("lastUpdateId", "bids", "asks")


def _binance(frame: bytes, price: GridLike, qty: GridLike, capacity: int, snap: bool) -> Any:
    w = _Walk(price, qty, capacity)
    keys = _BN_SNAPSHOT if snap else _BN_EVENT
    seen: set[str] = set()
    h = w.header

    def member(key: str, value: object) -> None:
        seen.add(key)
        if key in ("b", "bids"):
            w.levels(value, w.bids, 2)
        elif key in ("a", "asks"):
            w.levels(value, w.asks, 2)
        elif key == "U":
            h["first_update_id"] = _int(value)
        elif key in ("u", "lastUpdateId"):
            h["last_update_id"] = _int(value)
        elif key == "E":
            h["event_time_ms"] = _int(value)
        elif key == "s":
            h["symbol"] = _str(value)
        elif _str(value) != "depthUpdate":  # key "e"
            raise DepthError(ERR_VALUE)

    doc = _load(frame)
    top_fields = False
    for key, value in doc.items():
        if key == "data":
            for inner_key, inner_value in _dict(value).items():
                if inner_key in keys:
                    member(inner_key, inner_value)
        elif key in keys:
            top_fields = True
            member(key, value)
    if "data" in doc and top_fields:
        raise DepthError(ERR_VALUE)
    if not seen.issuperset(keys):
        raise DepthError(ERR_MISSING)
    h["snapshot"] = snap
    return w.result()


def decode_binance(frame: bytes, price: GridLike, qty: GridLike, capacity: int) -> DepthResult:
    """A Binance depthUpdate, raw or in the combined-stream envelope."""
    return _run(_binance, frame, price, qty, capacity, False)


def decode_binance_snapshot(
    frame: bytes, price: GridLike, qty: GridLike, capacity: int
) -> DepthResult:
    """A Binance REST /api/v3/depth body (or partial-depth push)."""
    return _run(_binance, frame, price, qty, capacity, True)


# --- OKX -------------------------------------------------------------------------------------

_OKX_REQUIRED = {"arg", "action", "data", "channel", "instId", "asks", "bids", "ts", "seqId"}
_OKX_REQUIRED |= {"prevSeqId"}


def _okx(frame: bytes, price: GridLike, qty: GridLike, capacity: int) -> DepthResult:
    w = _Walk(price, qty, capacity)
    h = w.header
    h.update(action=0, seq_id=0, prev_seq_id=0, checksum=0)
    seen: set[str] = set()
    for key, value in _load(frame).items():
        if key == "arg":
            seen.add(key)
            for k, v in _dict(value).items():
                if k == "channel":
                    seen.add(k)
                    _str(v)
                elif k == "instId":
                    seen.add(k)
                    h["symbol"] = _str(v)
        elif key == "action":
            seen.add(key)
            action = _str(value)
            if action == "snapshot":
                h["action"] = OKX_SNAPSHOT
            elif action == "update":
                h["action"] = OKX_UPDATE
            else:
                raise DepthError(ERR_VALUE)
        elif key == "data":
            seen.add(key)
            if type(value) is not list:
                raise DepthError(ERR_TYPE)
            if not value:
                raise DepthError(ERR_VALUE)
            for k, v in _dict(value[0]).items():
                if k == "asks":
                    w.levels(v, w.asks, 4)
                elif k == "bids":
                    w.levels(v, w.bids, 4)
                elif k == "ts":
                    ts = _str(v)
                    if _DIGITS.fullmatch(ts) is None or int(ts) > INT64_MAX:
                        raise DepthError(ERR_VALUE)
                    h["event_time_ms"] = int(ts)
                elif k == "seqId":
                    h["seq_id"] = _int(v)
                elif k == "prevSeqId":
                    h["prev_seq_id"] = _int(v)
                elif k == "checksum":
                    h["checksum"] = _int(v)
                else:
                    continue
                seen.add(k)
            if len(value) > 1:
                raise DepthError(ERR_VALUE)
    if not seen.issuperset(_OKX_REQUIRED):
        raise DepthError(ERR_MISSING)
    h["snapshot"] = h["action"] == OKX_SNAPSHOT
    return w.result()


def decode_okx(frame: bytes, price: GridLike, qty: GridLike, capacity: int) -> DepthResult:
    """An OKX books push (action snapshot or update)."""
    return _run(_okx, frame, price, qty, capacity)


# --- Gate ------------------------------------------------------------------------------------


def _gate_header(w: _Walk) -> Header:
    h = w.header
    h.update(channel=0, full=False, time_s=0, message_time_ms=0)
    return h


def _gate(frame: bytes, price: GridLike, qty: GridLike, capacity: int) -> DepthResult:
    w = _Walk(price, qty, capacity)
    h = _gate_header(w)
    seen: set[str] = set()
    for key, value in _load(frame).items():
        if key == "result":
            seen.add(key)
            for k, v in _dict(value).items():
                if k == "t":
                    h["event_time_ms"] = _int(v)
                elif k == "s":
                    h["symbol"] = _str(v)
                elif k == "U":
                    h["first_update_id"] = _int(v)
                elif k == "u":
                    h["last_update_id"] = _int(v)
                elif k == "b":
                    w.levels(v, w.bids, 2)
                elif k == "a":
                    w.levels(v, w.asks, 2)
                elif k == "full":
                    if type(v) is not bool:
                        raise DepthError(ERR_TYPE)
                    h["full"] = v
                else:
                    continue
                seen.add(k)
        elif key == "channel":
            seen.add(key)
            channel = _str(value)
            if channel == "spot.order_book_update":
                h["channel"] = GATE_ORDER_BOOK_UPDATE
            elif channel == "spot.obu":
                h["channel"] = GATE_OBU
            else:
                raise DepthError(ERR_VALUE)
        elif key == "event":
            if _str(value) != "update":
                raise DepthError(ERR_VALUE)
        elif key == "time":
            h["time_s"] = _int(value)
        elif key == "time_ms":
            h["message_time_ms"] = _int(value)
    if not seen.issuperset(("channel", "result", "t", "s", "u")):
        raise DepthError(ERR_MISSING)
    if "U" not in seen and (h["channel"] == GATE_ORDER_BOOK_UPDATE or not h["full"]):
        raise DepthError(ERR_MISSING)
    h["snapshot"] = h["full"]
    return w.result()


def _gate_snapshot(frame: bytes, price: GridLike, qty: GridLike, capacity: int) -> DepthResult:
    w = _Walk(price, qty, capacity)
    h = _gate_header(w)
    seen: set[str] = set()
    for key, value in _load(frame).items():
        if key == "id":
            h["last_update_id"] = _int(value)
        elif key == "current":
            h["message_time_ms"] = _int(value)
        elif key == "update":
            h["event_time_ms"] = _int(value)
        elif key == "asks":
            w.levels(value, w.asks, 2)
        elif key == "bids":
            w.levels(value, w.bids, 2)
        else:
            continue
        seen.add(key)
    if not seen.issuperset(("id", "asks", "bids")):
        raise DepthError(ERR_MISSING)
    h.update(channel=GATE_REST_SNAPSHOT, full=True, snapshot=True)
    return w.result()


def decode_gate(frame: bytes, price: GridLike, qty: GridLike, capacity: int) -> DepthResult:
    """A Gate spot.order_book_update or spot.obu push."""
    return _run(_gate, frame, price, qty, capacity)


def decode_gate_snapshot(
    frame: bytes, price: GridLike, qty: GridLike, capacity: int
) -> DepthResult:
    """A Gate REST /spot/order_book body (with_id=true)."""
    return _run(_gate_snapshot, frame, price, qty, capacity)
