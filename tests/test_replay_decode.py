"""engine.data.replay_decode: the batch depthUpdate kernel against an independent reference
(orjson.loads + exact Decimal/int arithmetic written here), frame by frame and level by level."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine._core.fixedpoint import FixedPointOverflowError, Grid, OffGridError
from engine.data import replay_decode as rd
from engine.data.replay_decode import (
    ERR_BOUNDS,
    ERR_CAPACITY,
    ERR_DUPLICATE,
    ERR_MISSING,
    ERR_NOT_DEPTH,
    ERR_OFF_GRID,
    ERR_OVERFLOW,
    ERR_SYNTAX,
    OK,
    DecodedBatch,
    decode_depth_batch,
    pack_frames,
)

INT64_MAX = 2**63 - 1
PLAIN = re.compile(r"[0-9]+(?:\.[0-9]+)?")

# ---------------------------------------------------------------- the independent reference


def step_parts(step: str) -> tuple[int, int]:
    """(mantissa, exp) with step = mantissa * 10**-exp and the smallest exp >= 0."""
    sign, digits, e = Decimal(step).as_tuple()
    assert isinstance(e, int) and not sign
    n = int("".join(map(str, digits)))
    exp = -e
    while exp > 0 and n % 10 == 0:
        n //= 10
        exp -= 1
    if exp < 0:
        n *= 10**-exp
        exp = 0
    return n, exp


def ref_units(text: Any, mantissa: int, exp: int) -> tuple[int, int]:
    if not isinstance(text, str) or not PLAIN.fullmatch(text):
        return ERR_SYNTAX, 0
    _, digits, e = Decimal(text).as_tuple()
    assert isinstance(e, int)
    n = int("".join(map(str, digits)))
    k = e + exp
    if k >= 0:
        scaled, rest = n * 10**k, 0
    else:
        scaled, rest = divmod(n, 10**-k)
    if scaled > INT64_MAX:
        return ERR_OVERFLOW, 0
    if rest or scaled % mantissa:
        return ERR_OFF_GRID, 0
    return OK, scaled // mantissa


Ref = tuple[int, int, int, int, list[tuple[int, int, int]]]  # status, U, u, E, levels


def ref_decode(frame: bytes, pgrid: tuple[int, int], qgrid: tuple[int, int]) -> Ref:
    """What the kernel must say about a frame that is valid JSON (orjson's word for it)."""
    obj = orjson.loads(frame)
    if not isinstance(obj, dict):
        return ERR_SYNTAX, 0, 0, 0, []
    members: list[tuple[str, Any]] = []  # document order, a "data" object read in place
    for key, value in obj.items():
        if key == "data" and isinstance(value, dict):
            members += value.items()
        else:
            members.append((key, value))
    payload = dict(members)
    if "e" in payload and payload["e"] != "depthUpdate":
        return ERR_NOT_DEPTH, 0, 0, 0, []
    if not {"e", "E", "U", "u", "b", "a"} <= payload.keys():
        return ERR_MISSING, 0, 0, 0, []
    first_error = OK
    levels: list[tuple[int, int, int]] = []
    for key, value in members:
        if key in ("E", "U", "u") and value > INT64_MAX and first_error == OK:
            first_error = ERR_OVERFLOW
        if key in ("b", "a"):
            for p, q in value:
                sp, ticks = ref_units(p, *pgrid)
                sq, lots = ref_units(q, *qgrid)
                for status in (sp, sq):
                    if status != OK and first_error == OK:
                        first_error = status
                levels.append((0 if key == "b" else 1, ticks, lots))
    if first_error != OK:
        return first_error, 0, 0, 0, []
    return OK, payload["U"], payload["u"], payload["E"], levels


def got(batch: DecodedBatch, k: int) -> Ref:
    side, price, size = batch.levels(k)
    levels = [(int(s), int(p), int(q)) for s, p, q in zip(side, price, size, strict=True)]
    return (
        int(batch.status[k]),
        int(batch.first_update_id[k]),
        int(batch.last_update_id[k]),
        int(batch.event_time[k]),
        levels,
    )


def decode(frames: list[bytes], pgrid: tuple[int, int], qgrid: tuple[int, int]) -> DecodedBatch:
    data, offsets = pack_frames(frames)
    return decode_depth_batch(data, offsets, *pgrid, *qgrid)


def check_invariants(batch: DecodedBatch) -> None:
    cursor = 0
    for k in range(len(batch)):
        assert batch.level_start[k] == cursor
        if batch.status[k] == OK:
            assert batch.error_pos[k] == -1
        else:
            assert batch.level_count[k] == 0
            assert batch.error_pos[k] >= 0
        cursor += int(batch.level_count[k])
    assert cursor == batch.n_levels


BTC = (1, 2)  # tick 0.01
BTC_LOT = (1, 5)  # lot 0.00001

EXAMPLE = (
    b'{"e":"depthUpdate","E":1700000000100,"s":"BTCUSDT","U":78423155532,"u":78423155540,'
    b'"b":[["64999.99000000","1.10731000"],["64999.50000000","0.00000000"]],'
    b'"a":[["65000.00000000","3.00212000"]]}'
)
EXAMPLE_LEVELS = [(0, 6499999, 110731), (0, 6499950, 0), (1, 6500000, 300212)]


def combined(payload: bytes) -> bytes:
    return b'{"stream":"btcusdt@depth@100ms","data":' + payload + b"}"


# ---------------------------------------------------------------- examples


def test_protocol_example_raw_and_combined() -> None:
    batch = decode([EXAMPLE, combined(EXAMPLE)], BTC, BTC_LOT)
    for k in range(2):
        assert got(batch, k) == (OK, 78423155532, 78423155540, 1700000000100, EXAMPLE_LEVELS)
    check_invariants(batch)


def test_instrument_grids() -> None:
    from decimal import Decimal as D

    from engine.model.instrument import Instrument

    btc = Instrument("BTCUSDT", "binance", "BTC", "USDT", D("0.01"), D("0.00001"), D("0.00001"),
                     D("5"), 2, 5)  # fmt: skip
    data, offsets = pack_frames([EXAMPLE, b"{}"])
    batch = rd.decode_depth_batch_for(btc, data, offsets)
    assert got(batch, 0) == (OK, 78423155532, 78423155540, 1700000000100, EXAMPLE_LEVELS)
    assert list(batch.ok) == [True, False]
    assert [btc.ticks_to_str(int(p)) for p in batch.levels(0)[1]] == [
        "64999.99",
        "64999.50",
        "65000.00",
    ]


def test_empty_batch() -> None:
    data, offsets = pack_frames([])
    assert data.shape == (0,) and offsets.shape == (0,)
    batch = decode_depth_batch(data, offsets, *BTC, *BTC_LOT)
    assert len(batch) == 0 and batch.n_levels == 0


def test_grids_and_padding() -> None:
    frame = (
        b'{"e":"depthUpdate","E":1,"U":2,"u":3,"b":[["65000.50000000","0.00000000"],'
        b'["7","12.000"]],"a":[["0.5","100"]]}'
    )
    assert got(decode([frame], (5, 1), (1, 0)), 0) == (
        OK,
        2,
        3,
        1,
        [(0, 130001, 0), (0, 14, 12), (1, 1, 100)],
    )
    assert got(decode([frame], (1, 8), (1, 3)), 0)[4][0] == (0, 6500050000000, 0)


def test_level_order_is_document_order_and_empty_sides() -> None:
    frame = b'{"a":[["2","1"]],"b":[["1","1"]],"u":3,"U":2,"E":1,"e":"depthUpdate"}'
    assert got(decode([frame], (1, 0), (1, 0)), 0) == (OK, 2, 3, 1, [(1, 2, 1), (0, 1, 1)])
    empty = b'{"e":"depthUpdate","E":1,"U":2,"u":3,"b":[],"a":[ ]}'
    assert got(decode([empty], (1, 0), (1, 0)), 0) == (OK, 2, 3, 1, [])


def test_whitespace_unknown_keys_and_escapes() -> None:
    frame = (
        b' \r\n{ "e" : "depthUpdate" ,\t"pu": -12.5e-3, "x": {"y": [true, false, null, {}, []],'
        b' "z\\"\\u00e9": "a\\\\b\\/"}, "\\u0062": 7, "E" : 1 , "U" :2,"u":3 ,"b" : [ [ "1.0" ,'
        b' "2" ] , ["3","4"] ] , "a":[],"s":"BTCUSDT" }\n'
    )
    assert orjson.loads(frame)  # valid JSON
    assert got(decode([frame], (1, 0), (1, 0)), 0) == (OK, 2, 3, 1, [(0, 1, 2), (0, 3, 4)])


def test_combined_stream_variants() -> None:
    payload = b'{"e":"depthUpdate","E":1,"U":2,"u":3,"b":[["1","1"]],"a":[]}'
    frames = [
        b'{"data":' + payload + b',"stream":"btcusdt@depth"}',
        b'{ "stream" : "x" , "data" : ' + payload + b" }",
        b'{"stream":"x","data":"not an object"}',  # skipped -> required keys missing
        b'{"stream":"x","data":{}}',
        b'{"stream":"x","data":' + payload + b',"data":' + payload + b"}",
        b'{"stream":"x","data":{"data":' + payload + b"}}",  # only one level of wrapping
    ]
    batch = decode(frames, (1, 0), (1, 0))
    assert got(batch, 0) == (OK, 2, 3, 1, [(0, 1, 1)])
    assert got(batch, 1) == (OK, 2, 3, 1, [(0, 1, 1)])
    assert list(batch.status[2:]) == [ERR_MISSING, ERR_MISSING, ERR_DUPLICATE, ERR_MISSING]
    check_invariants(batch)


def test_statuses_keep_neighbours() -> None:
    frames = [
        b'{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1"}',
        EXAMPLE,
        b'{"lastUpdateId":1,"bids":[["1","1"]],"asks":[]}',
        EXAMPLE,
        EXAMPLE.replace(b'"U":', b'"u":1,"U":'),
        EXAMPLE,
        EXAMPLE.replace(b"64999.50000000", b"64999.505"),
        EXAMPLE,
        EXAMPLE.replace(b"1.10731000", b"1.107315"),
        EXAMPLE,
        EXAMPLE.replace(b"64999.99000000", b"92233720368547758.08"),
        EXAMPLE.replace(b"1700000000100", b"9223372036854775808"),
        EXAMPLE.replace(b"64999.99000000", b"64999.99e0"),
        EXAMPLE.replace(b'"1.10731000"', b"1.10731"),
        EXAMPLE.replace(b'"e":"depthUpdate"', b'"e":"depth\\u0055pdate"'),
        b"",
        b"   ",
        b"null",
        b"[]",
        b"{}",
        EXAMPLE + b"}",
        EXAMPLE + b" x",
        EXAMPLE,
    ]
    batch = decode(frames, BTC, BTC_LOT)
    expected = [
        ERR_NOT_DEPTH,
        OK,
        ERR_MISSING,
        OK,
        ERR_DUPLICATE,
        OK,
        ERR_OFF_GRID,
        OK,
        ERR_OFF_GRID,
        OK,
        ERR_OVERFLOW,
        ERR_OVERFLOW,
        ERR_SYNTAX,
        ERR_SYNTAX,
        ERR_NOT_DEPTH,
        ERR_SYNTAX,
        ERR_SYNTAX,
        ERR_SYNTAX,
        ERR_SYNTAX,
        ERR_MISSING,
        ERR_SYNTAX,
        ERR_SYNTAX,
        OK,
    ]
    assert [rd.STATUS_NAMES[int(s)] for s in batch.status] == [rd.STATUS_NAMES[s] for s in expected]
    for k, frame in enumerate(frames):
        if expected[k] == OK:
            assert got(batch, k) == ref_decode(frame, BTC, BTC_LOT)
    assert batch.error_pos[6] == EXAMPLE.index(b'"64999.50000000"')
    check_invariants(batch)


def test_int64_edges() -> None:
    top = b'{"e":"depthUpdate","E":9223372036854775807,"U":0,"u":9223372036854775807,'
    ok = top + b'"b":[["92233720368547758.07","9223372036854775807"]],"a":[]}'
    over_price = top + b'"b":[["92233720368547758.08","1"]],"a":[]}'
    over_zero_pad = top + b'"b":[["922337203685477581","1"]],"a":[]}'  # overflows once scaled
    long_zeros = top + b'"b":[["0000000000000000000000000.010000000000000000000","1"]],"a":[]}'
    over_then_off = top + b'"b":[["92233720368547758.085","1"]],"a":[]}'
    batch = decode([ok, over_price, over_zero_pad, long_zeros, over_then_off], BTC, (1, 0))
    assert got(batch, 0) == (OK, 0, INT64_MAX, INT64_MAX, [(0, INT64_MAX, INT64_MAX)])
    assert list(batch.status[1:]) == [ERR_OVERFLOW, ERR_OVERFLOW, OK, ERR_OVERFLOW]
    assert got(batch, 3)[4] == [(0, 1, 1)]
    # step 5 at the top of the range: the scaled value fits, the quotient is exact
    five = top + b'"b":[["9223372036854775805","1"]],"a":[]}'
    assert got(decode([five], (5, 0), (1, 0)), 0)[4] == [(0, INT64_MAX // 5, 1)]


def test_capacity_is_reported_and_skipped() -> None:
    frames = [EXAMPLE, EXAMPLE.replace(b'"a":[', b'"a":[["65000.01","1"],'), EXAMPLE]
    data, offsets = pack_frames(frames)
    outs = [np.zeros(3, dtype=np.int64) for _ in range(5)]
    status = np.zeros(3, dtype=np.uint8)
    epos = np.zeros(3, dtype=np.int64)
    side = np.zeros(6, dtype=np.uint8)  # room for the first and the last frame only
    price = np.zeros(6, dtype=np.int64)
    size = np.zeros(6, dtype=np.int64)
    used = rd.decode_depth_kernel(
        data, offsets, *BTC, *BTC_LOT, *outs, status, epos, side, price, size
    )
    assert list(status) == [OK, ERR_CAPACITY, OK]
    assert used == 6
    assert list(outs[3]) == [0, 3, 3] and list(outs[4]) == [3, 0, 3]
    assert list(price[3:6]) == [6499999, 6499950, 6500000]


def test_kernel_bounds_and_wrapper_arguments() -> None:
    data, _ = pack_frames([EXAMPLE])
    outs = [np.zeros(2, dtype=np.int64) for _ in range(5)]
    status = np.zeros(2, dtype=np.uint8)
    epos = np.zeros(2, dtype=np.int64)
    lv = [np.zeros(8, dtype=np.uint8), np.zeros(8, dtype=np.int64), np.zeros(8, dtype=np.int64)]
    bad = np.array([5, 2], dtype=np.int64)  # the first frame ends before it starts
    rd.decode_depth_kernel(data, bad, *BTC, *BTC_LOT, *outs, status, epos, *lv)
    assert status[0] == ERR_BOUNDS
    beyond = np.array([len(data) + 1], dtype=np.int64)
    rd.decode_depth_kernel(data, beyond, *BTC, *BTC_LOT, *outs[:5], status, epos, *lv)
    assert status[0] == ERR_BOUNDS

    offsets = np.zeros(1, dtype=np.int64)
    with pytest.raises(ValueError):
        decode_depth_batch(data, bad, *BTC, *BTC_LOT)
    with pytest.raises(ValueError):
        decode_depth_batch(data, beyond, *BTC, *BTC_LOT)
    with pytest.raises(ValueError):
        decode_depth_batch(data, np.array([-1], dtype=np.int64), *BTC, *BTC_LOT)
    with pytest.raises(TypeError):
        decode_depth_batch(data.astype(np.int8), offsets, *BTC, *BTC_LOT)
    with pytest.raises(TypeError):
        decode_depth_batch(data, offsets.astype(np.int32), *BTC, *BTC_LOT)
    with pytest.raises(ValueError):
        decode_depth_batch(data, offsets, 0, 2, *BTC_LOT)
    with pytest.raises(ValueError):
        decode_depth_batch(data, offsets, *BTC, 1, 19)
    with pytest.raises(TypeError):
        decode_depth_batch(data, offsets, *BTC, True, 5)


@pytest.mark.parametrize("wrap", [False, True])
def test_every_truncation_is_a_syntax_error(wrap: bool) -> None:
    frame = combined(EXAMPLE) if wrap else EXAMPLE
    frames = []
    for cut in range(len(frame)):
        frames += [frame, frame[:cut]]
    frames.append(frame)
    batch = decode(frames, BTC, BTC_LOT)
    check_invariants(batch)
    for k in range(0, len(frames), 2):
        assert got(batch, k) == (OK, 78423155532, 78423155540, 1700000000100, EXAMPLE_LEVELS)
    for k in range(1, len(frames), 2):
        assert batch.status[k] == ERR_SYNTAX, frames[k]
        assert 0 <= batch.error_pos[k] <= len(frames[k])


def test_frames_need_no_padding_after_them() -> None:
    # each truncated frame alone in its own exactly-sized array: no read past the end
    for cut in range(len(EXAMPLE)):
        data = np.frombuffer(bytearray(EXAMPLE[:cut]), dtype=np.uint8)
        batch = decode_depth_batch(data, np.zeros(1, dtype=np.int64), *BTC, *BTC_LOT)
        assert batch.status[0] == ERR_SYNTAX


def test_number_lengths_around_the_8_byte_blocks() -> None:
    """Every integer/fraction digit count from 1/0 to 20, mid-frame and at the frame's end
    (where the 8-byte loads do not fit and the byte loop takes over), on each grid."""
    rng = np.random.default_rng(5)
    texts = []
    for ni in range(1, 21):
        for nf in range(21):
            for _ in range(2):
                whole = "".join(str(d) for d in rng.integers(0, 10, ni))
                frac = "".join(str(d) for d in rng.integers(0, 10, nf))
                texts.append(whole + ("." + frac if nf else ""))
                texts.append(whole + ("." + frac[: nf // 2] + "0" * (nf - nf // 2) if nf else ""))
    for step in STEPS:
        grid = step_parts(step)
        frames = []
        for text in texts:
            head = b'{"e":"depthUpdate","E":1,"U":2,"u":3,"a":[],"b":[["'
            frames.append(head + text.encode() + b'","' + text.encode() + b'"]]}')
            frames.append(head + text.encode() + b'","1"]]}')
        batch = decode(frames, grid, grid)
        check_invariants(batch)
        for k, frame in enumerate(frames):
            assert got(batch, k) == ref_decode(frame, grid, grid), (step, frame)
        # the same numbers as the last bytes of an exactly-sized frame: no room for 8 bytes
        for text in texts[::7]:
            frame = b'{"e":"depthUpdate","E":1,"U":2,"u":3,"a":[],"b":[["1","' + text.encode()
            cut = np.frombuffer(bytearray(frame), dtype=np.uint8)
            alone = decode_depth_batch(cut, np.zeros(1, dtype=np.int64), *grid, *grid)
            assert alone.status[0] == ERR_SYNTAX


# ---------------------------------------------------------------- generated frames

STEPS = ["0.01", "0.5", "0.00001", "1", "0.25", "10", "0.00000001", "0.1"]
WS = st.sampled_from(["", "", "", " ", "\n", "\t", " \r\n "])
UNKNOWN = [
    '"s":"BTCUSDT"',
    '"pu":-12',
    '"x":{"y":[1,2.5e-3,true,null,"a\\"b"],"z":{}}',
    '"T":1.5',
    '"m":false',
]


@st.composite
def decimal_text(draw: st.DrawFn, mantissa: int, exp: int) -> str:
    kind = draw(st.sampled_from(["ok"] * 8 + ["off", "big"]))
    if kind == "big":
        digits = draw(st.integers(19, 25))
        return str(draw(st.integers(10 ** (digits - 1), 10**digits - 1))) + draw(
            st.sampled_from(["", ".0", ".5"])
        )
    units = draw(st.one_of(st.integers(0, 10**6), st.integers(0, (INT64_MAX // mantissa))))
    scaled = units * mantissa
    if kind == "off":
        scaled = scaled * 10 + draw(st.integers(1, 9))
        extra = exp + 1
    else:
        extra = exp
    whole, frac = divmod(scaled, 10**extra)
    pad = draw(st.integers(0, 6))
    text = str(whole)
    if extra or pad:
        text += "." + (f"{frac:0{extra}d}" if extra else "") + "0" * (pad if pad or extra else 1)
    return text


@st.composite
def depth_frame(draw: st.DrawFn, pgrid: tuple[int, int], qgrid: tuple[int, int]) -> bytes:
    ws = draw(WS)

    def levels() -> str:
        rows = []
        for _ in range(draw(st.integers(0, 6))):
            p = draw(decimal_text(*pgrid))
            q = draw(decimal_text(*qgrid))
            rows.append(f'[{ws}"{p}"{ws},{ws}"{q}"{ws}]')
        return "[" + ws + f"{ws},{ws}".join(rows) + ws + "]"

    def uint() -> int:
        return draw(st.one_of(st.integers(0, 2**40), st.integers(INT64_MAX - 3, INT64_MAX + 3)))

    members = [
        '"e":"depthUpdate"',
        f'"E":{uint()}',
        f'"U":{uint()}',
        f'"u":{uint()}',
        f'"b":{levels()}',
        f'"a":{levels()}',
    ]
    members += draw(st.lists(st.sampled_from(UNKNOWN), max_size=2, unique=True))
    members = draw(st.permutations(members))
    if draw(st.integers(0, 9)) == 0:  # occasionally not a depth frame at all
        members = [m for m in members if not m.startswith('"e"')] + ['"e":"trade"']
    body = "{" + ws + f"{ws},{ws}".join(m.replace(":", ws + ":" + ws, 1) for m in members)
    body += ws + "}"
    if draw(st.booleans()):
        body = f'{{"stream":"btcusdt@depth@100ms",{ws}"data":{ws}{body}}}'
    return (draw(WS) + body + draw(WS)).encode()


@st.composite
def batches(draw: st.DrawFn) -> tuple[tuple[int, int], tuple[int, int], list[bytes]]:
    pgrid = step_parts(draw(st.sampled_from(STEPS)))
    qgrid = step_parts(draw(st.sampled_from(STEPS)))
    frames = draw(st.lists(depth_frame(pgrid, qgrid), min_size=1, max_size=6))
    return pgrid, qgrid, frames


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_differential_against_orjson_and_decimal(
    case: tuple[tuple[int, int], tuple[int, int], list[bytes]],
) -> None:
    pgrid, qgrid, frames = case
    batch = decode(frames, pgrid, qgrid)
    check_invariants(batch)
    for k, frame in enumerate(frames):
        assert got(batch, k) == ref_decode(frame, pgrid, qgrid), frame


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(STEPS),
    st.one_of(
        st.from_regex(r"[0-9]{1,22}(\.[0-9]{1,22})?", fullmatch=True),
        st.from_regex(r"[0-9+\-.eE ]{0,8}", fullmatch=True),
    ),
)
def test_numbers_agree_with_fixedpoint_grid(step: str, text: str) -> None:
    """The kernel's number rules are those of engine._core.fixedpoint.Grid (no sign here)."""
    mantissa, exp = step_parts(step)
    frame = f'{{"e":"depthUpdate","E":1,"U":2,"u":3,"b":[["{text}","1"]],"a":[]}}'.encode()
    status, *_, levels = got(decode([frame], (mantissa, exp), (1, 0)), 0)
    grid = Grid(step)
    if not PLAIN.fullmatch(text):
        assert status == ERR_SYNTAX
    else:
        try:
            expected = grid.to_units(text)
        except FixedPointOverflowError:
            assert status == ERR_OVERFLOW
        except OffGridError:
            assert status == ERR_OFF_GRID
        else:
            assert status == OK and levels == [(0, expected, 1)]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_frames_never_lie(data: st.DataObject) -> None:
    """Flip, drop or insert bytes of valid frames: whatever the kernel accepts is valid JSON
    that the reference decodes to the same thing, and the valid neighbours are untouched."""
    frame = bytearray(data.draw(st.sampled_from([EXAMPLE, combined(EXAMPLE)])))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(frame) - 1))
        byte = data.draw(st.sampled_from(b'{}[]",:. 0159eE-\\u\x00\x1f'))
        action = data.draw(st.sampled_from(["set", "drop", "insert"]))
        if action == "set":
            frame[at] = byte
        elif action == "drop":
            del frame[at]
        else:
            frame.insert(at, byte)
    mutated = bytes(frame)
    batch = decode([EXAMPLE, mutated, EXAMPLE], BTC, BTC_LOT)
    check_invariants(batch)
    for k in (0, 2):
        assert got(batch, k) == (OK, 78423155532, 78423155540, 1700000000100, EXAMPLE_LEVELS)
    if batch.status[1] == OK:
        assert got(batch, 1) == ref_decode(mutated, BTC, BTC_LOT)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_random_bytes_are_rejected_safely(frames: list[bytes]) -> None:
    batch = decode([*frames, EXAMPLE], BTC, BTC_LOT)
    check_invariants(batch)
    assert got(batch, len(frames)) == (
        OK,
        78423155532,
        78423155540,
        1700000000100,
        EXAMPLE_LEVELS,
    )
    for k in range(len(frames)):
        assert batch.status[k] != OK  # 64 random bytes never make a depthUpdate
