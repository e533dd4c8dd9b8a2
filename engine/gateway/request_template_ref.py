"""Pure-Python reference of engine/gateway/request_template.pyx, for the differential tests.

Same constructor and `fill` as the Cython `RequestTemplate`, written for clarity: the decimal
text of a grid value from integer arithmetic (`divmod` by the exponent's power of ten), the
HMAC from the standard library. It shares no code with the Cython module, so a formatting or
signing bug in one shows up as a difference (tests/test_request_template.py).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence

from engine._core.fixedpoint import Grid

__all__ = [
    "ID",
    "ID2",
    "PRICE",
    "QTY",
    "RID",
    "SIG",
    "TIME",
    "HmacSha256Ref",
    "RequestTemplateRef",
    "TemplateError",
]

RID, TIME, PRICE, QTY, ID, ID2, SIG = range(1, 8)
_NAMES = {
    RID: "request id",
    TIME: "timestamp",
    PRICE: "price",
    QTY: "quantity",
    ID: "id",
    ID2: "second id",
    SIG: "signature",
}
_INT64_MAX = 2**63 - 1
_NUM_MAX = 19
_SIG_HEX = 64
_SIG_MAX = 128
_ID_MAX = 72
_SIG_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/=")

Program = Sequence[bytes | str | int]


class TemplateError(ValueError):
    """A value a template cannot write as the venue's text."""


class HmacSha256Ref:
    """Lowercase hex HMAC-SHA256 (the standard library's)."""

    def __init__(self, key: str | bytes) -> None:
        if not isinstance(key, str | bytes | bytearray | memoryview):
            raise TypeError(f"an HMAC key is str or bytes, not {type(key).__name__}")
        self._key = key.encode() if isinstance(key, str) else bytes(key)
        if not self._key:
            raise ValueError("HmacSha256 needs a non-empty key")

    def hexdigest(self, data: bytes) -> str:
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()


def grid_text(grid: Grid, units: int) -> str:
    """`units` of `grid` as its exact decimal text: integer part, then `decimals` digits."""
    scaled = units * grid.step_mantissa
    if not -(2**63) <= scaled <= _INT64_MAX:
        raise OverflowError
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10**grid.exp)
    if grid.decimals == 0:
        return f"{sign}{whole}"
    digits = str(frac).rjust(grid.exp, "0") if grid.exp else ""
    return f"{sign}{whole}.{digits.ljust(grid.decimals, '0')}"


def _int64(slot: int, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{_NAMES[slot]} must be an int, got {value!r}")
    if not -(2**63) <= value <= _INT64_MAX:
        raise OverflowError(f"{_NAMES[slot]} does not fit int64")
    return value


def _compile(program: Program, which: str) -> list[bytes | int]:
    out: list[bytes | int] = []
    for item in program:
        if isinstance(item, bytes | str):
            piece = item.encode("ascii") if isinstance(item, str) else item
            if not piece:
                continue
            if out and isinstance(out[-1], bytes):
                out[-1] += piece
            else:
                out.append(piece)
        elif isinstance(item, int) and not isinstance(item, bool) and RID <= item <= SIG:
            out.append(item)
        else:
            raise TypeError(f"{which} program item {item!r} is neither a literal nor a slot")
    if len(out) > 48:
        raise ValueError(f"{which} program has more than 48 ops")
    return out


class RequestTemplateRef:
    """See `engine.gateway.request_template.RequestTemplate`."""

    def __init__(
        self,
        frame: Program,
        payload: Program | None = None,
        *,
        price_grid: Grid | None = None,
        qty_grid: Grid | None = None,
        ids: Iterable[tuple[str, str | bytes, int]] = (),
        signer: HmacSha256Ref | None = None,
        sign: Callable[[str], str] | None = None,
        capacity: int | None = None,
    ) -> None:
        self._frame = _compile(frame, "frame")
        self._payload = _compile(payload or (), "payload")
        if SIG in self._payload:
            raise ValueError("the payload cannot hold its own signature")
        uses = {op for op in self._frame + self._payload if isinstance(op, int)}
        if SIG in uses:
            if payload is None:
                raise ValueError("a SIG slot needs a payload program to sign")
            if signer is None and sign is None:
                raise ValueError("a SIG slot needs a signer or a sign callable")
        elif payload is not None:
            raise ValueError("a payload program without a SIG slot in the frame")
        if PRICE in uses and price_grid is None:
            raise ValueError("a PRICE slot needs price_grid")
        if QTY in uses and qty_grid is None:
            raise ValueError("a QTY slot needs qty_grid")
        self._uses = uses
        self._price = price_grid
        self._qty = qty_grid
        self._signer = signer
        self._sign = None if signer is not None else sign
        rules = list(ids)
        if len(rules) > 2:
            raise ValueError("at most two id slots (ID, ID2)")
        self._ids: list[tuple[str, frozenset[str], int]] = []
        for name, alphabet, max_len in rules:
            chars = alphabet.decode("ascii") if isinstance(alphabet, bytes) else alphabet
            if not 0 < max_len <= _ID_MAX:
                raise ValueError(f"{name}: max length {max_len} outside 1..{_ID_MAX}")
            for c in chars:
                if not " " <= c <= "~" or c in '"\\':
                    raise ValueError(f"{name}: {c!r} would need escaping")
            self._ids.append((str(name), frozenset(chars), max_len))
        for slot in (ID, ID2):
            if slot in uses and len(self._ids) <= slot - ID:
                raise ValueError(f"{_NAMES[slot]} slot without its rule in ids")
        literals = sum(len(op) for op in self._frame + self._payload if isinstance(op, bytes))
        self.max_size = literals + max(self._widest(self._frame), self._widest(self._payload))
        if capacity is None:
            self.capacity = self.max_size
        elif isinstance(capacity, bool) or not isinstance(capacity, int) or capacity <= 0:
            raise ValueError(f"capacity must be a positive int, got {capacity!r}")
        else:
            self.capacity = capacity

    @property
    def signed(self) -> bool:
        return bool(self._payload)

    def _widest(self, program: list[bytes | int]) -> int:
        width = 0
        for op in program:
            if op in (RID, TIME):
                width += _NUM_MAX
            elif op == PRICE and self._price is not None:
                width += _NUM_MAX + 1 + self._price.decimals
            elif op == QTY and self._qty is not None:
                width += _NUM_MAX + 1 + self._qty.decimals
            elif op in (ID, ID2):
                width += self._ids[op - ID][2]
            elif op == SIG:
                width += _SIG_HEX if self._signer is not None else _SIG_MAX
        return width

    def _values(  # noqa: PLR0917 - the Cython template's call shape
        self, rid: object, time: object, price: object, qty: object, id1: object, id2: object
    ) -> dict[int, bytes]:
        values: dict[int, bytes] = {}
        if RID in self._uses:
            number = _int64(RID, rid)
            if number < 0:
                raise TemplateError(f"request id must be >= 0, got {number}")
            values[RID] = str(number).encode()
        if TIME in self._uses:
            number = _int64(TIME, time)
            if number <= 0:
                raise TemplateError(f"timestamp must be positive, got {number}")
            values[TIME] = str(number).encode()
        for slot, grid, arg in ((PRICE, self._price, price), (QTY, self._qty, qty)):
            if slot in self._uses and grid is not None:
                units = _int64(slot, arg)
                if units <= 0:
                    raise TemplateError(f"{_NAMES[slot]} must be positive, got {units}")
                try:
                    values[slot] = grid_text(grid, units).encode()
                except OverflowError:
                    raise TemplateError(
                        f"{_NAMES[slot]} {units} overflows int64 on its grid (step {grid.step})"
                    ) from None
        if ID in self._uses:
            values[ID] = self._id(0, id1)
        if ID2 in self._uses:
            values[ID2] = self._id(1, id2)
        return values

    def _id(self, k: int, value: object) -> bytes:
        name, allowed, max_len = self._ids[k]
        if not isinstance(value, str):
            raise TemplateError(f"{name} must be a str, got {value!r}")
        if not 0 < len(value) <= max_len:
            raise TemplateError(f"{name} {value!r} must be 1-{max_len} characters")
        for c in value:
            if c not in allowed:  # ASCII only: the alphabets are
                raise TemplateError(f"{name} {value!r}: {c!r} is outside the venue's alphabet")
        return value.encode("ascii")

    def _run(self, program: list[bytes | int], values: dict[int, bytes], what: str) -> bytes:
        out = b"".join(op if isinstance(op, bytes) else values[op] for op in program)
        if len(out) > self.capacity:
            raise TemplateError(f"{what} needs more than the buffer's {self.capacity} bytes")
        return out

    def _signature(self, payload: bytes) -> bytes:
        if self._signer is not None:
            return self._signer.hexdigest(payload).encode()
        assert self._sign is not None
        signature = self._sign(payload.decode("ascii"))
        if not isinstance(signature, str):
            raise TemplateError(f"the signer returned {type(signature).__name__}, not str")
        if not 0 < len(signature) <= _SIG_MAX:
            raise TemplateError(f"a signature of {len(signature)} characters does not fit its slot")
        if not _SIG_CHARS.issuperset(signature):
            raise TemplateError("the signature is neither hex nor base64")
        return signature.encode()

    def payload(  # noqa: PLR0917 - the Cython template's call shape
        self, rid: object, time: object, price: object, qty: object, id1: object, id2: object
    ) -> bytes:
        if not self._payload:
            return b""
        return self._run(self._payload, self._values(rid, time, price, qty, id1, id2), "payload")

    def fill(  # noqa: PLR0917 - the Cython template's call shape
        self, rid: object, time: object, price: object, qty: object, id1: object, id2: object
    ) -> bytes:
        values = self._values(rid, time, price, qty, id1, id2)
        if self._payload:
            payload = self._run(self._payload, values, "the signed payload")
            values[SIG] = self._signature(payload)
        return self._run(self._frame, values, "the request")
