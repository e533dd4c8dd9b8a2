"""Batch decoder for recorded Binance `depthUpdate` frames: many frames, one Numba kernel call.

Input: one contiguous uint8 array holding the frames back to back, and an int64 array of frame
starts (`pack_frames` builds both). Frame k spans `data[offsets[k]:offsets[k + 1]]`; the last
frame ends at `len(data)`. Output (`DecodedBatch`): per message the update ids, the event time,
the slice of its levels and a status; per level the side (0 bid, 1 ask), the price in ticks and
the size in lots, exact int64 on the instrument grids. No float is used anywhere.

Accepted grammar (per frame; `ws` is any run of space, tab, CR, LF):

    frame    := ws object ws                     nothing else may follow the object
    object   := '{' ws [member (ws ',' ws member)*] ws '}'
    member   := key ws ':' ws value
    key      := a JSON string compared byte for byte with the known names below, without
                decoding escapes (so "\\u0065" is not "e"); any other key is skipped
    known keys and their values:
      "e"     the string "depthUpdate" exactly; any other value (or type) -> ERR_NOT_DEPTH
      "E"     event time        uint    (required)
      "U"     first update id   uint    (required)
      "u"     last update id    uint    (required)
      "b"     bids              levels  (required)
      "a"     asks              levels  (required)
      "data"  top level only, an object: the combined-stream payload, read in place with
              this same member grammar, so {"stream":"btcusdt@depth@100ms","data":{...}}
              and the raw form both decode (the "stream" value is skipped like any unknown
              key; known keys beside "data" count as well, and one seen twice anywhere is
              ERR_DUPLICATE); a "data" value that is not an object, or a "data" key inside
              the payload, is skipped
      "e" is required too. "s" and every unknown key take any JSON value, which is skipped
      with a validating scanner (strings with escapes, numbers, true/false/null, arrays and
      objects nested at most 62 deep). Strings may not hold control bytes (< 0x20); bytes
      >= 0x80 are not checked for valid UTF-8.
    uint     := digit+ (JSON: no sign, no leading zero unless the number is 0, no fraction or
                exponent); beyond int64 -> ERR_OVERFLOW
    levels   := '[' ws [level (ws ',' ws level)*] ws ']'
    level    := '[' ws price ws ',' ws qty ws ']'          exactly two strings
    price, qty := '"' digit+ ['.' digit+] '"'              no sign, exponent or escape;
                leading zeros and any number of fraction digits are accepted

A decimal v on a grid `step = step_mantissa * 10**-exp` gives units = v * 10**exp /
step_mantissa. Like engine._core.fixedpoint, the scaled value floor(v * 10**exp) must fit
int64 (else ERR_OVERFLOW); then fraction digits past `exp` must be zeros ("65000.10000000" is
fine on a 0.01 grid) and the scaled value must divide by step_mantissa (else ERR_OFF_GRID).

Status priority for one frame: a structural failure (ERR_SYNTAX: outside the grammar or
truncated; ERR_DUPLICATE: a known key twice; ERR_CAPACITY: level output full) stops the scan
at once. Otherwise ERR_NOT_DEPTH if "e" is not "depthUpdate", then ERR_MISSING if a required
key is absent, then the first ERR_OVERFLOW / ERR_OFF_GRID in document order. A message that is
not OK has zero ids/time, `level_count` 0, and `error_pos` = the byte offset (within its frame)
where the failure was found; its levels are not kept. Levels keep document order (asks come
first if "a" precedes "b"). The scan never reads outside [offsets[k], end of frame k); offsets
outside the data give ERR_BOUNDS. Semantics such as U <= u are left to the book sync.

Speed notes: the per-frame work is one function (`_decode_one`) with the number parsing
written out in it, because every call that passes a Numba array costs reference-count
atomics; prices and sizes of up to 7 integer and 8 fraction digits are read 8 bytes at a time
(SWAR; little-endian only), longer ones and the last bytes of a frame byte by byte. The level
outputs are sized from the byte length (a level takes at least 9 bytes), not by a counting
pass; pages of np.empty that are never written are never committed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba.core import types
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

if TYPE_CHECKING:
    from engine.model.instrument import Instrument

if sys.byteorder != "little":  # pragma: no cover - the 8-byte SWAR loads assume it
    raise ImportError("engine.data.replay_decode needs a little-endian machine")

OK = 0
ERR_SYNTAX = 1
ERR_NOT_DEPTH = 2
ERR_MISSING = 3
ERR_DUPLICATE = 4
ERR_OVERFLOW = 5
ERR_OFF_GRID = 6
ERR_BOUNDS = 7
ERR_CAPACITY = 8

STATUS_NAMES: dict[int, str] = {
    OK: "ok",
    ERR_SYNTAX: "syntax",
    ERR_NOT_DEPTH: "not_depth",
    ERR_MISSING: "missing",
    ERR_DUPLICATE: "duplicate",
    ERR_OVERFLOW: "overflow",
    ERR_OFF_GRID: "off_grid",
    ERR_BOUNDS: "bounds",
    ERR_CAPACITY: "capacity",
}

BID = 0
ASK = 1

MAX_EXP = 18  # 10**18 is the largest power of ten within int64

_INT64_MAX = 9223372036854775807
_LIM = 922337203685477580  # INT64_MAX // 10; INT64_MAX % 10 == 7
_MAX_NEST = 62
_MIN_LEVEL_BYTES = 9  # ["0","0"]
_WS_MASK = (1 << 32) | (1 << 9) | (1 << 10) | (1 << 13)  # JSON whitespace bytes

# key bits
_K_E = 1  # "e"
_K_TIME = 2  # "E"
_K_FIRST = 4  # "U"
_K_LAST = 8  # "u"
_K_BIDS = 16  # "b"
_K_ASKS = 32  # "a"
_K_REQUIRED = 63
_K_DATA = 64  # "data"

_DEPTH_UPDATE = np.frombuffer(b"depthUpdate", dtype=np.uint8).copy()
_DATA = np.frombuffer(b"data", dtype=np.uint8).copy()
_POW10 = np.array([10**k for k in range(MAX_EXP + 1)], dtype=np.int64)

_U = np.uint64  # an unsigned index spares Numba the negative-index wraparound
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
_inline = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")


def _load8_typer(typingctx: Any, arr: Any, idx: Any) -> Any:
    """8 bytes of a uint8 array from `idx` as one little-endian uint64 (unaligned load).

    The caller guarantees idx + 8 <= the end of the frame, so it never reads past it.
    """
    if not (isinstance(arr, types.Array) and arr.dtype == types.uint8 and arr.layout == "C"):
        return None
    sig = types.uint64(arr, types.intp)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        return builder.load(builder.bitcast(ptr, ir.IntType(64).as_pointer()), align=1)

    return sig, codegen


# typed Any: numba's own annotations describe the typing-time signature, not the call
_load8: Any = intrinsic(_load8_typer)
_ctz: Any = trailing_zeros

_LOW_NIBBLES = np.uint64(0x0F0F0F0F0F0F0F0F)
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)
_THREES = np.uint64(0x3030303030303030)
_SIXES = np.uint64(0x0606060606060606)
_BYTE_MASK = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)


@_jit
def _swar_run(w: Any) -> int:
    """How many of the 8 bytes in w (first byte lowest) are ASCII digits before a non-digit."""
    # a byte is a digit iff its high nibble is 3 and stays 3 after adding 6; a carry out of a
    # byte >= 0xFA only reaches later bytes, past the first non-digit
    z = ((w & _HIGH_NIBBLES) ^ _THREES) | (((w + _SIXES) & _HIGH_NIBBLES) ^ _THREES)
    if z == 0:
        return 8
    return int(np.int64(_ctz(z))) >> 3


@_jit
def _swar_value(w: Any, k: int) -> int:
    """The value of the first k (1..8) bytes of w, all ASCII digits (8-digit SWAR combine)."""
    v = (w & _LOW_NIBBLES) << np.uint64(8 * (8 - k))
    v = (v * np.uint64(2561)) >> np.uint64(8)
    v = ((v & np.uint64(0x00FF00FF00FF00FF)) * np.uint64(6553601)) >> np.uint64(16)
    v = ((v & np.uint64(0x0000FFFF0000FFFF)) * np.uint64(42949672960001)) >> np.uint64(32)
    return int(np.int64(v))


@_jit
def _swar_any_nonzero(w: Any, lo: int, hi: int) -> bool:
    """Whether a digit byte lo..hi-1 of w is not '0'."""
    return bool((w & _LOW_NIBBLES & (_BYTE_MASK[hi] ^ _BYTE_MASK[lo])) != np.uint64(0))


@_jit
def _ws(buf: Any, i: int, end: int) -> int:
    while i < end:
        c = buf[i]
        if c > 32 or not (_WS_MASK >> c) & 1:
            return i
        i += 1
    return i


@_jit
def _is_hex(c: int) -> bool:
    return (48 <= c <= 57) or (65 <= c <= 70) or (97 <= c <= 102)


@_jit
def _skip_string(buf: Any, i: int, end: int) -> int:
    """buf[i] is '"'; index after the closing quote, or -1."""
    i += 1
    while i < end:
        c = buf[i]
        if c == 34:
            return i + 1
        if c == 92:
            i += 1
            if i >= end:
                return -1
            c = buf[i]
            if c == 117:  # \uXXXX
                if i + 4 >= end:
                    return -1
                for k in range(1, 5):
                    if not _is_hex(buf[i + k]):
                        return -1
                i += 5
                continue
            if c not in (34, 92, 47, 98, 102, 110, 114, 116):  # " \\ / b f n r t
                return -1
        elif c < 32:
            return -1
        i += 1
    return -1


@_jit
def _skip_digits(buf: Any, i: int, end: int) -> int:
    while i < end and 48 <= buf[i] <= 57:
        i += 1
    return i


@_jit
def _skip_number(buf: Any, i: int, end: int) -> int:
    """A JSON number starting at buf[i]; index after it, or -1."""
    if buf[i] == 45:
        i += 1
    if i >= end or not (48 <= buf[i] <= 57):
        return -1
    if buf[i] == 48:
        i += 1
    else:
        i = _skip_digits(buf, i, end)
    if i < end and buf[i] == 46:
        j = _skip_digits(buf, i + 1, end)
        if j == i + 1:
            return -1
        i = j
    if i < end and (buf[i] == 101 or buf[i] == 69):
        i += 1
        if i < end and (buf[i] == 43 or buf[i] == 45):
            i += 1
        j = _skip_digits(buf, i, end)
        if j == i:
            return -1
        i = j
    return i


@_jit
def _skip_literal(buf: Any, i: int, end: int) -> int:
    c = buf[i]
    if c == 116:  # true
        if i + 4 <= end and buf[i + 1] == 114 and buf[i + 2] == 117 and buf[i + 3] == 101:
            return i + 4
    elif c == 102:  # false
        if (i + 5 <= end and buf[i + 1] == 97 and buf[i + 2] == 108 and buf[i + 3] == 115
                and buf[i + 4] == 101):  # fmt: skip
            return i + 5
    elif (
        c == 110 and i + 4 <= end and buf[i + 1] == 117 and buf[i + 2] == 108 and buf[i + 3] == 108
    ):
        return i + 4
    return -1


@_jit
def _skip_value(buf: Any, i: int, end: int) -> int:
    """Any JSON value starting at buf[i] (no leading ws); index after it, or -1."""
    depth = 0
    stack = 0  # bit k set: nesting level k is an object
    expect_value = True
    while True:
        i = _ws(buf, i, end)
        if expect_value:
            if i >= end:
                return -1
            c = buf[i]
            if c in (123, 91):
                if depth >= _MAX_NEST:
                    return -1
                is_obj = c == 123
                stack = (stack << 1) | (1 if is_obj else 0)
                depth += 1
                i = _ws(buf, i + 1, end)
                if i >= end:
                    return -1
                if buf[i] == (125 if is_obj else 93):
                    stack >>= 1
                    depth -= 1
                    i += 1
                    expect_value = False
                    continue
                if is_obj:
                    if buf[i] != 34:
                        return -1
                    i = _skip_string(buf, i, end)
                    if i < 0:
                        return -1
                    i = _ws(buf, i, end)
                    if i >= end or buf[i] != 58:
                        return -1
                    i += 1
                continue
            if c == 34:
                i = _skip_string(buf, i, end)
            elif c == 45 or 48 <= c <= 57:
                i = _skip_number(buf, i, end)
            else:
                i = _skip_literal(buf, i, end)
            if i < 0:
                return -1
            expect_value = False
            continue
        # after a value
        if depth == 0:
            return i
        if i >= end:
            return -1
        c = buf[i]
        top_obj = (stack & 1) == 1
        if c == 44:
            i = _ws(buf, i + 1, end)
            if top_obj:
                if i >= end or buf[i] != 34:
                    return -1
                i = _skip_string(buf, i, end)
                if i < 0:
                    return -1
                i = _ws(buf, i, end)
                if i >= end or buf[i] != 58:
                    return -1
                i += 1
            expect_value = True
        elif (c == 125 and top_obj) or (c == 93 and not top_obj):
            stack >>= 1
            depth -= 1
            i += 1
        else:
            return -1


@_jit
def _decode_one(  # noqa: PLR0917
    buf: Any,
    start: int,
    end: int,
    p_step: int,
    p_exp: int,
    q_step: int,
    q_exp: int,
    side: Any,
    price: Any,
    size: Any,
    cursor: int,
) -> tuple[int, int, int, int, int, int]:
    """One frame: (status, position, new level cursor, U, u, E).

    Written as one function on purpose: every call that takes an array costs Numba reference
    count updates (atomics), so the common path (no whitespace, no escapes, no unknown values
    other than plain strings) calls nothing; the rare paths call the `_skip_*` helpers.
    """
    if start < 0 or end > buf.shape[0] or start > end:
        return ERR_BOUNDS, 0, cursor, 0, 0, 0
    cap = side.shape[0]
    seen = 0
    not_depth = False
    val_err = OK
    val_pos = 0
    level = 0
    first = 0
    last = 0
    etime = 0
    i = start
    while i < end and buf[_U(i)] <= 32 and (_WS_MASK >> buf[_U(i)]) & 1:
        i += 1
    if i >= end or buf[_U(i)] != 123:
        return ERR_SYNTAX, i, cursor, 0, 0, 0
    i += 1
    while i < end and buf[_U(i)] <= 32 and (_WS_MASK >> buf[_U(i)]) & 1:
        i += 1
    done = i < end and buf[_U(i)] == 125
    if done:
        i += 1
    while not done:
        # ---- key: a string; known keys have no escapes
        if i >= end or buf[_U(i)] != 34:
            return ERR_SYNTAX, i, cursor, 0, 0, 0
        ks = i + 1
        j = ks
        while j < end and buf[_U(j)] != 34 and buf[_U(j)] != 92 and buf[_U(j)] >= 32:
            j += 1
        if j >= end:
            return ERR_SYNTAX, j, cursor, 0, 0, 0
        key = -1  # unknown
        if buf[_U(j)] == 34:
            klen = j - ks
            i = j + 1
            if klen == 1:
                k = buf[_U(ks)]
                if k == 101:
                    key = _K_E
                elif k == 69:
                    key = _K_TIME
                elif k == 85:
                    key = _K_FIRST
                elif k == 117:
                    key = _K_LAST
                elif k == 98:
                    key = _K_BIDS
                elif k == 97:
                    key = _K_ASKS
            elif klen == 4 and level == 0:
                key = _K_DATA
                for t in range(4):
                    if buf[_U(ks + t)] != _DATA[t]:
                        key = -1
                        break
        else:  # an escape or a control byte: validate, and it is no key we know
            i = _skip_string(buf, i, end)
            if i < 0:
                return ERR_SYNTAX, j, cursor, 0, 0, 0
        while i < end and buf[_U(i)] <= 32 and (_WS_MASK >> buf[_U(i)]) & 1:
            i += 1
        if i >= end or buf[_U(i)] != 58:
            return ERR_SYNTAX, i, cursor, 0, 0, 0
        i += 1
        while i < end and buf[_U(i)] <= 32 and (_WS_MASK >> buf[_U(i)]) & 1:
            i += 1
        if i >= end:
            return ERR_SYNTAX, i, cursor, 0, 0, 0
        c = buf[_U(i)]
        if key == _K_DATA and c != 123:
            key = -1  # "data" that is not an object is skipped like any unknown value
        if key > 0:
            if seen & key:
                return ERR_DUPLICATE, i, cursor, 0, 0, 0
            seen |= key
        # ---- value
        if key == -1:
            j = i + 1
            if c == 34:  # a plain string inline, anything else through the validating skipper
                while j < end and buf[_U(j)] != 34 and buf[_U(j)] != 92 and buf[_U(j)] >= 32:
                    j += 1
            if c == 34 and j < end and buf[_U(j)] == 34:
                i = j + 1
            else:
                j = _skip_value(buf, i, end)
                if j < 0:
                    return ERR_SYNTAX, i, cursor, 0, 0, 0
                i = j
        elif key == _K_DATA:
            level = 1
            i += 1
            while i < end and buf[_U(i)] <= 32 and (_WS_MASK >> buf[_U(i)]) & 1:
                i += 1
            if i < end and buf[_U(i)] == 125:  # "data":{}
                level = 0
                i += 1
            else:
                continue  # the members of the payload
        elif key == _K_E:
            match = c == 34 and i + 12 < end and buf[_U(i + 12)] == 34
            if match:
                for t in range(11):
                    if buf[_U(i + 1 + t)] != _DEPTH_UPDATE[t]:
                        match = False
                        break
            if match:
                i += 13
            else:
                not_depth = True
                j = _skip_value(buf, i, end)
                if j < 0:
                    return ERR_SYNTAX, i, cursor, 0, 0, 0
                i = j
        elif key in (_K_BIDS, _K_ASKS):
            sd = BID if key == _K_BIDS else ASK
            if c != 91:
                return ERR_SYNTAX, i, cursor, 0, 0, 0
            i += 1
            while i < end and buf[_U(i)] <= 32 and (_WS_MASK >> buf[_U(i)]) & 1:
                i += 1
            if i < end and buf[_U(i)] == 93:
                i += 1
            else:
                p = 0
                while True:
                    # ---- level: '[' price ',' qty ']'
                    if i >= end or buf[_U(i)] != 91:
                        return ERR_SYNTAX, i, cursor, 0, 0, 0
                    i += 1
                    step = p_step
                    exp = p_exp
                    while i < end and buf[_U(i)] <= 32 and (_WS_MASK >> buf[_U(i)]) & 1:
                        i += 1
                    if i >= end or buf[_U(i)] != 34:
                        return ERR_SYNTAX, i, cursor, 0, 0, 0
                    # ---- a quoted plain decimal, scaled to 10**-exp then divided by step
                    pos = i
                    i += 1
                    s0 = i
                    mag = 0
                    ovf = False
                    off = False
                    frac = 0
                    fast = False
                    if exp <= 8 and s0 + 8 <= end:
                        # SWAR: up to 7 integer and 8 fraction digits, 8 bytes at a time
                        w = _load8(buf, s0)
                        ni = _swar_run(w)
                        if 0 < ni < 8:
                            c = buf[_U(s0 + ni)]
                            if c == 34:
                                mag = _swar_value(w, ni)
                                i = s0 + ni + 1
                                fast = True
                            elif c == 46 and s0 + ni + 10 <= end:
                                f0 = s0 + ni + 1
                                w2 = _load8(buf, f0)
                                nf = _swar_run(w2)
                                if nf > 0 and buf[_U(f0 + nf)] == 34:
                                    frac = min(nf, exp)
                                    mag = _swar_value(w, ni)
                                    if frac > 0:
                                        mag = mag * _POW10[frac] + _swar_value(w2, frac)
                                    off = _swar_any_nonzero(w2, frac, nf)
                                    i = f0 + nf + 1
                                    fast = True
                    while not fast and i < end:
                        d = int(buf[_U(i)]) - 48
                        if d < 0 or d > 9:
                            break
                        if mag < _LIM or (mag == _LIM and d <= 7):
                            mag = mag * 10 + d
                        else:
                            ovf = True
                            mag = _INT64_MAX
                        i += 1
                    if not fast and (i == s0 or i >= end):
                        return ERR_SYNTAX, i, cursor, 0, 0, 0
                    if not fast and buf[_U(i)] == 46:
                        i += 1
                        f0 = i
                        lim = min(f0 + exp, end)
                        while i < lim:
                            d = int(buf[_U(i)]) - 48
                            if d < 0 or d > 9:
                                break
                            if mag < _LIM or (mag == _LIM and d <= 7):
                                mag = mag * 10 + d
                            else:
                                ovf = True
                                mag = _INT64_MAX
                            i += 1
                        frac = i - f0
                        # past the grid's decimals venues pad with zeros; other digits are
                        # off-grid
                        while i < end:
                            c = buf[_U(i)]
                            if c == 48:
                                i += 1
                            elif 49 <= c <= 57:
                                off = True
                                i += 1
                            else:
                                break
                        if i == f0 or i >= end:
                            return ERR_SYNTAX, i, cursor, 0, 0, 0
                    if not fast:
                        if buf[_U(i)] != 34:
                            return ERR_SYNTAX, i, cursor, 0, 0, 0
                        i += 1
                    while frac < exp and not ovf:
                        if mag <= _LIM:
                            mag *= 10
                        else:
                            ovf = True
                        frac += 1
                    st = OK
                    if ovf:
                        st = ERR_OVERFLOW
                    else:
                        if step != 1:
                            q = mag // step
                            if q * step != mag:
                                off = True
                            mag = q
                        if off:
                            st = ERR_OFF_GRID
                    if st != OK and val_err == OK:
                        val_err = st
                        val_pos = pos
                    p = mag
                    # ---- ',' then the quantity
                    step = q_step
                    exp = q_exp
                    while i < end and buf[_U(i)] <= 32 and (_WS_MASK >> buf[_U(i)]) & 1:
                        i += 1
                    if i >= end or buf[_U(i)] != 44:
                        return ERR_SYNTAX, i, cursor, 0, 0, 0
                    i += 1
                    while i < end and buf[_U(i)] <= 32 and (_WS_MASK >> buf[_U(i)]) & 1:
                        i += 1
                    if i >= end or buf[_U(i)] != 34:
                        return ERR_SYNTAX, i, cursor, 0, 0, 0
                    # ---- a quoted plain decimal, scaled to 10**-exp then divided by step
                    pos = i
                    i += 1
                    s0 = i
                    mag = 0
                    ovf = False
                    off = False
                    frac = 0
                    fast = False
                    if exp <= 8 and s0 + 8 <= end:
                        # SWAR: up to 7 integer and 8 fraction digits, 8 bytes at a time
                        w = _load8(buf, s0)
                        ni = _swar_run(w)
                        if 0 < ni < 8:
                            c = buf[_U(s0 + ni)]
                            if c == 34:
                                mag = _swar_value(w, ni)
                                i = s0 + ni + 1
                                fast = True
                            elif c == 46 and s0 + ni + 10 <= end:
                                f0 = s0 + ni + 1
                                w2 = _load8(buf, f0)
                                nf = _swar_run(w2)
                                if nf > 0 and buf[_U(f0 + nf)] == 34:
                                    frac = min(nf, exp)
                                    mag = _swar_value(w, ni)
                                    if frac > 0:
                                        mag = mag * _POW10[frac] + _swar_value(w2, frac)
                                    off = _swar_any_nonzero(w2, frac, nf)
                                    i = f0 + nf + 1
                                    fast = True
                    while not fast and i < end:
                        d = int(buf[_U(i)]) - 48
                        if d < 0 or d > 9:
                            break
                        if mag < _LIM or (mag == _LIM and d <= 7):
                            mag = mag * 10 + d
                        else:
                            ovf = True
                            mag = _INT64_MAX
                        i += 1
                    if not fast and (i == s0 or i >= end):
                        return ERR_SYNTAX, i, cursor, 0, 0, 0
                    if not fast and buf[_U(i)] == 46:
                        i += 1
                        f0 = i
                        lim = min(f0 + exp, end)
                        while i < lim:
                            d = int(buf[_U(i)]) - 48
                            if d < 0 or d > 9:
                                break
                            if mag < _LIM or (mag == _LIM and d <= 7):
                                mag = mag * 10 + d
                            else:
                                ovf = True
                                mag = _INT64_MAX
                            i += 1
                        frac = i - f0
                        # past the grid's decimals venues pad with zeros; other digits are
                        # off-grid
                        while i < end:
                            c = buf[_U(i)]
                            if c == 48:
                                i += 1
                            elif 49 <= c <= 57:
                                off = True
                                i += 1
                            else:
                                break
                        if i == f0 or i >= end:
                            return ERR_SYNTAX, i, cursor, 0, 0, 0
                    if not fast:
                        if buf[_U(i)] != 34:
                            return ERR_SYNTAX, i, cursor, 0, 0, 0
                        i += 1
                    while frac < exp and not ovf:
                        if mag <= _LIM:
                            mag *= 10
                        else:
                            ovf = True
                        frac += 1
                    st = OK
                    if ovf:
                        st = ERR_OVERFLOW
                    else:
                        if step != 1:
                            q = mag // step
                            if q * step != mag:
                                off = True
                            mag = q
                        if off:
                            st = ERR_OFF_GRID
                    if st != OK and val_err == OK:
                        val_err = st
                        val_pos = pos
                    while i < end and buf[_U(i)] <= 32 and (_WS_MASK >> buf[_U(i)]) & 1:
                        i += 1
                    if i >= end or buf[_U(i)] != 93:
                        return ERR_SYNTAX, i, cursor, 0, 0, 0
                    if cursor >= cap:
                        return ERR_CAPACITY, i, cursor, 0, 0, 0
                    side[_U(cursor)] = sd
                    price[_U(cursor)] = p
                    size[_U(cursor)] = mag
                    cursor += 1
                    i += 1
                    while i < end and buf[_U(i)] <= 32 and (_WS_MASK >> buf[_U(i)]) & 1:
                        i += 1
                    if i < end and buf[_U(i)] == 44:
                        i += 1
                        while i < end and buf[_U(i)] <= 32 and (_WS_MASK >> buf[_U(i)]) & 1:
                            i += 1
                        continue
                    if i < end and buf[_U(i)] == 93:
                        i += 1
                        break
                    return ERR_SYNTAX, i, cursor, 0, 0, 0
        else:  # "E", "U", "u": a non-negative JSON integer
            pos = i
            s0 = i
            v = 0
            ovf = False
            while i < end:
                d = int(buf[_U(i)]) - 48
                if d < 0 or d > 9:
                    break
                if v < _LIM or (v == _LIM and d <= 7):
                    v = v * 10 + d
                else:
                    ovf = True
                    v = _INT64_MAX
                i += 1
            if i == s0 or (buf[_U(s0)] == 48 and i - s0 > 1):
                return ERR_SYNTAX, s0, cursor, 0, 0, 0
            if i < end and (buf[_U(i)] == 46 or buf[_U(i)] == 101 or buf[_U(i)] == 69):
                return ERR_SYNTAX, i, cursor, 0, 0, 0
            if ovf and val_err == OK:
                val_err = ERR_OVERFLOW
                val_pos = pos
            if key == _K_TIME:
                etime = v
            elif key == _K_FIRST:
                first = v
            else:
                last = v
        # ---- after a member value: ',' or '}' (closing the payload, then the wrapper)
        while True:
            while i < end and buf[_U(i)] <= 32 and (_WS_MASK >> buf[_U(i)]) & 1:
                i += 1
            if i >= end:
                return ERR_SYNTAX, i, cursor, 0, 0, 0
            c = buf[_U(i)]
            if c == 44:
                i += 1
                while i < end and buf[_U(i)] <= 32 and (_WS_MASK >> buf[_U(i)]) & 1:
                    i += 1
                break
            if c == 125:
                i += 1
                if level == 1:
                    level = 0
                    continue
                done = True
                break
            return ERR_SYNTAX, i, cursor, 0, 0, 0
    while i < end and buf[_U(i)] <= 32 and (_WS_MASK >> buf[_U(i)]) & 1:
        i += 1
    if i != end:
        return ERR_SYNTAX, i, cursor, 0, 0, 0
    if not_depth:
        return ERR_NOT_DEPTH, 0, cursor, 0, 0, 0
    if (seen & _K_REQUIRED) != _K_REQUIRED:
        return ERR_MISSING, i, cursor, 0, 0, 0
    if val_err != OK:
        return val_err, val_pos, cursor, 0, 0, 0
    return OK, 0, cursor, first, last, etime


@_jit
def decode_depth_kernel(  # noqa: PLR0917
    data: Any,
    offsets: Any,
    p_step: int,
    p_exp: int,
    q_step: int,
    q_exp: int,
    first_update_id: Any,
    last_update_id: Any,
    event_time: Any,
    level_start: Any,
    level_count: Any,
    status: Any,
    error_pos: Any,
    side: Any,
    price: Any,
    size: Any,
) -> int:
    """Decode every frame into the preallocated outputs; returns the number of levels kept.

    The message arrays need len(offsets) rows, the level arrays any capacity (a message that
    does not fit gets ERR_CAPACITY). See the module docstring for the grammar and statuses.
    """
    n = offsets.shape[0]
    total = data.shape[0]
    cursor: Any = np.int64(0)  # not a literal: one compiled signature of _decode_one
    for m in range(n):
        start = offsets[m]
        end = offsets[m + 1] if m + 1 < n else total
        st, pos, new_cursor, first, last, etime = _decode_one(
            data, start, end, p_step, p_exp, q_step, q_exp, side, price, size, cursor
        )
        level_start[m] = cursor
        status[m] = st
        if st == OK:
            level_count[m] = new_cursor - cursor
            cursor = new_cursor
            error_pos[m] = -1
        else:
            level_count[m] = 0
            error_pos[m] = pos - start if st != ERR_BOUNDS and pos >= start else 0
        first_update_id[m] = first
        last_update_id[m] = last
        event_time[m] = etime
    return int(cursor)


I64Array = npt.NDArray[np.int64]
U8Array = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """Columnar result: message rows (one per frame) and level rows (kept levels only)."""

    first_update_id: I64Array  # U
    last_update_id: I64Array  # u
    event_time: I64Array  # E, ms
    level_start: I64Array  # first level row of the message
    level_count: I64Array  # its number of levels (0 unless status is OK)
    status: U8Array  # OK or ERR_*
    error_pos: I64Array  # byte offset of the failure within the frame; -1 when OK
    side: U8Array  # BID 0 / ASK 1
    price: I64Array  # ticks
    size: I64Array  # lots; 0 deletes the level

    def __len__(self) -> int:
        return int(self.status.shape[0])

    @property
    def n_levels(self) -> int:
        return int(self.side.shape[0])

    @property
    def ok(self) -> npt.NDArray[np.bool_]:
        mask: npt.NDArray[np.bool_] = self.status == OK
        return mask

    def levels(self, message: int) -> tuple[U8Array, I64Array, I64Array]:
        """(side, price, size) views of one message's levels, in document order."""
        lo = int(self.level_start[message])
        hi = lo + int(self.level_count[message])
        return self.side[lo:hi], self.price[lo:hi], self.size[lo:hi]


def pack_frames(frames: Sequence[bytes]) -> tuple[U8Array, I64Array]:
    """Frames back to back in one writable uint8 array, and the int64 start of each frame."""
    lengths = np.fromiter((len(f) for f in frames), dtype=np.int64, count=len(frames))
    offsets = np.zeros(len(frames), dtype=np.int64)
    if len(frames) > 1:
        np.cumsum(lengths[:-1], out=offsets[1:])
    data = np.frombuffer(bytearray(b"".join(frames)), dtype=np.uint8)
    return data, offsets


def _check_grid(name: str, step_mantissa: int, exp: int) -> None:
    for what, value in ((f"{name}_step_mantissa", step_mantissa), (f"{name}_exp", exp)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{what} must be an int, got {value!r}")
    if not 1 <= step_mantissa <= _INT64_MAX:
        raise ValueError(f"{name}_step_mantissa must be in 1..2**63-1, got {step_mantissa}")
    if not 0 <= exp <= MAX_EXP:
        raise ValueError(f"{name}_exp must be in 0..{MAX_EXP}, got {exp}")


def decode_depth_batch(  # noqa: PLR0917 - the documented call shape
    data: U8Array,
    offsets: I64Array,
    price_step_mantissa: int,
    price_exp: int,
    qty_step_mantissa: int,
    qty_exp: int,
) -> DecodedBatch:
    """Decode every frame of a packed batch (see `pack_frames`) on the given grids.

    A grid is `Grid.step_mantissa` and `Grid.exp` (e.g. tick 0.01 -> 1, 2; tick 0.5 -> 5, 1).
    Bad frames get an error status and are skipped; bad arguments (dtype, offsets that are
    negative, decreasing or past the data) raise TypeError / ValueError.
    """
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 1:
        raise TypeError("data must be a 1-D uint8 numpy array")
    if not isinstance(offsets, np.ndarray) or offsets.dtype != np.int64 or offsets.ndim != 1:
        raise TypeError("offsets must be a 1-D int64 numpy array")
    _check_grid("price", price_step_mantissa, price_exp)
    _check_grid("qty", qty_step_mantissa, qty_exp)
    data = np.ascontiguousarray(data)
    offsets = np.ascontiguousarray(offsets)
    n = int(offsets.shape[0])
    if n and (
        int(offsets[0]) < 0
        or int(offsets[-1]) > data.shape[0]
        or bool(np.any(offsets[1:] < offsets[:-1]))
    ):
        raise ValueError("offsets must be non-decreasing starts within data")
    # A kept level spans at least the 9 bytes ["0","0"] of its own frame, so this bounds the
    # level rows without a counting pass; np.empty pages that are never written cost no memory.
    cap = (int(data.shape[0]) - int(offsets[0])) // _MIN_LEVEL_BYTES if n else 0
    first = np.empty(n, dtype=np.int64)
    last = np.empty(n, dtype=np.int64)
    etime = np.empty(n, dtype=np.int64)
    lstart = np.empty(n, dtype=np.int64)
    lcount = np.empty(n, dtype=np.int64)
    status = np.empty(n, dtype=np.uint8)
    epos = np.empty(n, dtype=np.int64)
    side = np.empty(cap, dtype=np.uint8)
    price = np.empty(cap, dtype=np.int64)
    size = np.empty(cap, dtype=np.int64)
    used = int(
        decode_depth_kernel(
            data,
            offsets,
            int(price_step_mantissa),
            int(price_exp),
            int(qty_step_mantissa),
            int(qty_exp),
            first,
            last,
            etime,
            lstart,
            lcount,
            status,
            epos,
            side,
            price,
            size,
        )
    )
    return DecodedBatch(
        first, last, etime, lstart, lcount, status, epos, side[:used], price[:used], size[:used]
    )


def decode_depth_batch_for(
    instrument: Instrument, data: U8Array, offsets: I64Array
) -> DecodedBatch:
    """`decode_depth_batch` on an instrument's price and quantity grids."""
    price, qty = instrument.price_grid, instrument.qty_grid
    return decode_depth_batch(
        data, offsets, price.step_mantissa, price.exp, qty.step_mantissa, qty.exp
    )
