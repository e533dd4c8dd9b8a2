"""engine/_core/depth_decode.pyx against its reference engine/data/depth_ref.py.

The decoders run with boundscheck off: what keeps them inside the frame is the scanner's own
i < n tests, driven here by every truncation of valid frames, byte flips and random bytes.
The contract checked on every input: never raise, and either the reference's exact result
or an error with an empty buffer and a zero header.
"""

from __future__ import annotations

import json
import random
import re
import tracemalloc
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine._core import depth_decode as dd
from engine._core.book import ASK, BID, OrderBook
from engine._core.fixedpoint import Grid
from engine.data import depth_ref as ref
from engine.data.book_ref import BookRef

INT64_MAX = 2**63 - 1
Frame = bytes
RefFn = Callable[[bytes, Any, Any, int], ref.DepthResult]

COMMON = ("snapshot", "first_update_id", "last_update_id", "event_time_ms")
EXTRA = {
    dd.BinanceDepthDecoder: (),
    dd.OkxBooksDecoder: ("action", "seq_id", "prev_seq_id", "checksum"),
    dd.GateDepthDecoder: ("channel", "full", "time_s", "message_time_ms"),
}


# --- helpers ---------------------------------------------------------------------------------


def header_of(dec: Any, frame: bytes) -> dict[str, Any]:
    h = {name: getattr(dec, name) for name in COMMON + EXTRA[type(dec)]}
    raw = dec.symbol(frame)
    h["symbol"] = orjson.loads(b'"' + raw + b'"') if dec.symbol_length else ""
    return h


def is_clear(dec: Any) -> bool:
    zero = all(not getattr(dec, name) for name in COMMON + EXTRA[type(dec)])
    return (
        zero
        and dec.buffer.bid_count == 0
        and dec.buffer.ask_count == 0
        and dec.symbol_offset == 0
        and dec.symbol_length == 0
    )


def _has_duplicate_keys(frame: bytes) -> bool:
    dup = False

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal dup
        if len({k for k, _ in pairs}) != len(pairs):
            dup = True
        return dict(pairs)

    json.loads(frame, object_pairs_hook=hook)
    return dup


def maybe_stricter(frame: bytes) -> bool:
    """Inputs where the scanner may refuse what orjson + the reference accept (documented)."""
    return (
        b"\\" in frame
        or re.search(rb"[0-9][eE]|[0-9]{250}", frame) is not None
        or frame.count(b"[") + frame.count(b"{") > 64
        or _has_duplicate_keys(frame)
    )


def agree(dec: Any, decode: Callable[[Any], int], ref_fn: RefFn, frame: bytes) -> int:
    """Decode both ways and check the contract; the fast status. The frame is also decoded
    at the very end of a page followed by an unreadable one (any overread faults)."""
    guard = guard_page()
    guarded_status = decode(guard.place(frame)) if guard and len(frame) <= guard.page else None
    status = decode(frame)
    assert guarded_status in (None, status)
    expected = ref_fn(frame, PRICE_OF[id(dec)], QTY_OF[id(dec)], dec.buffer.capacity)
    if status >= 0:
        assert expected.ok, (frame, status, expected.status)
        assert status == expected.status
        assert dec.buffer.entries(BID) == expected.bids
        assert dec.buffer.entries(ASK) == expected.asks
        assert header_of(dec, frame) == expected.header
    else:
        assert is_clear(dec), frame
        if expected.ok:
            assert maybe_stricter(frame), (frame, status)
    assert dec.last_status == status
    return status


PRICE_OF: dict[int, Any] = {}
QTY_OF: dict[int, Any] = {}


def make(cls: Any, price: Grid, qty: Grid, capacity: int = 64) -> Any:
    dec = cls(price, qty, capacity)
    PRICE_OF[id(dec)] = price
    QTY_OF[id(dec)] = qty
    return dec


def fmt(units: int, grid: Grid, pad: int) -> str:
    """units on grid as the venue would print it, with `pad` extra trailing zeros."""
    value = Decimal(units) * grid.step
    text = f"{value:.{grid.exp}f}"
    if pad:
        text += ("" if "." in text else ".") + "0" * pad
    return text


def dump(value: Any, rng: random.Random, spaced: bool) -> bytes:
    """JSON text of value with random whitespace between tokens when spaced."""

    def ws() -> str:
        if not spaced or rng.random() < 0.6:
            return ""
        return "".join(rng.choice(" \t\r\n") for _ in range(rng.randint(1, 3)))

    def out(v: Any) -> str:
        if isinstance(v, dict):
            items = [f"{ws()}{json.dumps(k)}{ws()}:{ws()}{out(x)}{ws()}" for k, x in v.items()]
            return "{" + ",".join(items) + ws() + "}"
        if isinstance(v, list):
            return "[" + ",".join(f"{ws()}{out(x)}{ws()}" for x in v) + ws() + "]"
        return json.dumps(v)

    return (ws() + out(value) + ws()).encode()


def shuffled(d: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    keys = list(d)
    rng.shuffle(keys)
    return {k: d[k] for k in keys}


EXTRAS: list[tuple[str, Any]] = [
    ("x", {"y": [1, -2.5e-3, None, True, False, "\u00e9\u20ac\U0001f600"], "z": {}}),
    ("pu", 123),
    ("note", 'a "quoted" \\ string \n'),
    ("empty", []),
]


# --- frame generators ------------------------------------------------------------------------

GRIDS = st.tuples(
    st.sampled_from([1, 2, 5, 25]), st.integers(0, 8), st.sampled_from([1, 5]), st.integers(0, 8)
)


def grids(spec: tuple[int, int, int, int]) -> tuple[Grid, Grid]:
    pm, pe, qm, qe = spec
    return Grid(Decimal(pm).scaleb(-pe)), Grid(Decimal(qm).scaleb(-qe))


@st.composite
def level_lists(draw: st.DrawFn, price: Grid, qty: Grid, nfields: int) -> list[list[str]]:
    rows = draw(
        st.lists(
            st.tuples(st.integers(1, 10**9), st.integers(0, 10**9), st.integers(0, 3)), max_size=12
        )
    )
    out = []
    for p, q, pad in rows:
        level = [fmt(p, price, pad), fmt(q, qty, pad)]
        if nfields == 4:
            level += ["0", str(p % 7)]
        out.append(level)
    return out


@st.composite
def binance_frames(draw: st.DrawFn, price: Grid, qty: Grid) -> tuple[bytes, bool]:
    """(frame, snapshot?)"""
    rng = random.Random(draw(st.integers(0, 2**32)))
    snap = draw(st.booleans())
    bids = draw(level_lists(price, qty, 2))
    asks = draw(level_lists(price, qty, 2))
    ids = draw(st.tuples(st.integers(0, INT64_MAX), st.integers(0, INT64_MAX)))
    if snap:
        body: dict[str, Any] = {"lastUpdateId": ids[1], "bids": bids, "asks": asks}
    else:
        body = {
            "e": "depthUpdate",
            "E": draw(st.integers(0, 2**45)),
            "s": draw(st.sampled_from(["BTCUSDT", "ETHUSDT", "X"])),
            "U": ids[0],
            "u": ids[1],
            "b": bids,
            "a": asks,
        }
    if draw(st.booleans()):
        body.update(draw(st.lists(st.sampled_from(EXTRAS), max_size=2)))
    body = shuffled(body, rng)
    doc: dict[str, Any] = body
    if draw(st.booleans()):
        doc = shuffled({"stream": "btcusdt@depth@100ms", "data": body}, rng)
    return dump(doc, rng, draw(st.booleans())), snap


@st.composite
def okx_frames(draw: st.DrawFn, price: Grid, qty: Grid) -> bytes:
    rng = random.Random(draw(st.integers(0, 2**32)))
    data: dict[str, Any] = {
        "asks": draw(level_lists(price, qty, 4)),
        "bids": draw(level_lists(price, qty, 4)),
        "ts": str(draw(st.integers(0, 2**45))),
        "seqId": draw(st.integers(0, INT64_MAX)),
        "prevSeqId": draw(st.integers(-1, INT64_MAX)),
    }
    if draw(st.booleans()):
        data["checksum"] = draw(st.integers(-(2**31), 2**31 - 1))
    if draw(st.booleans()):
        data["instId"] = "BTC-USDT"
    doc = {
        "arg": shuffled(
            {"channel": "books", "instId": draw(st.sampled_from(["BTC-USDT", "A"]))}, rng
        ),
        "action": draw(st.sampled_from(["snapshot", "update"])),
        "data": [shuffled(data, rng)],
    }
    if draw(st.booleans()):
        doc.update(draw(st.lists(st.sampled_from(EXTRAS), max_size=2)))
    return dump(shuffled(doc, rng), rng, draw(st.booleans()))


@st.composite
def gate_frames(draw: st.DrawFn, price: Grid, qty: Grid) -> tuple[bytes, bool]:
    """(frame, REST snapshot?)"""
    rng = random.Random(draw(st.integers(0, 2**32)))
    kind = draw(st.sampled_from(["update", "obu", "rest"]))
    bids = draw(level_lists(price, qty, 2))
    asks = draw(level_lists(price, qty, 2))
    u = draw(st.integers(1, INT64_MAX))
    if kind == "rest":
        doc: dict[str, Any] = {"id": u, "asks": asks, "bids": bids}
        if draw(st.booleans()):
            doc["current"] = draw(st.integers(0, 2**45))
            doc["update"] = draw(st.integers(0, 2**45))
        return dump(shuffled(doc, rng), rng, draw(st.booleans())), True
    result: dict[str, Any] = {"t": draw(st.integers(0, 2**45)), "u": u, "b": bids, "a": asks}
    full = draw(st.booleans())
    if full:
        result["full"] = True
    if kind == "update":
        result.update(s="BTC_USDT", U=u - 3, e="depthUpdate", E=17, l="100")
        doc = {
            "time": 1700000000,
            "time_ms": 1700000000236,
            "channel": "spot.order_book_update",
            "event": "update",
        }
    else:
        result["s"] = "ob.BTC_USDT.50"
        if not full or draw(st.booleans()):
            result["U"] = u - 1
        doc = {"channel": "spot.obu", "time_ms": 1747054612848}
    for side in ("a", "b"):
        if draw(st.integers(0, 5)) == 0:
            del result[side]
    doc["result"] = shuffled(result, rng)
    if draw(st.booleans()):
        doc.update(draw(st.lists(st.sampled_from(EXTRAS), max_size=2)))
    return dump(shuffled(doc, rng), rng, draw(st.booleans())), False


# --- canned frames (docs/VENUES.md examples) -------------------------------------------------

BN_PRICE, BN_QTY = Grid("0.01"), Grid("0.00001")
BN_UPDATE = (
    b'{"e":"depthUpdate","E":1700000000100,"s":"BTCUSDT","U":78423155532,"u":78423155540,'
    b'"b":[["64999.99000000","1.10731000"],["64999.50000000","0.00000000"]],'
    b'"a":[["65000.00000000","3.00212000"]]}'
)
BN_COMBINED = b'{"stream":"btcusdt@depth@100ms","data":' + BN_UPDATE + b"}"
BN_SNAPSHOT = (
    b'{"lastUpdateId":78423155540,"bids":[["64999.99000000","1.10731000"]],'
    b'"asks":[["65000.00000000","3.00212000"]]}'
)
OKX_PRICE, OKX_QTY = Grid("0.1"), Grid("0.00000001")
OKX_SNAP = (
    b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":'
    b'[["65000.1","0.5","0","3"],["65000.2","1.2","0","1"]],"bids":[["65000","0.3","0","2"],'
    b'["64999.9","2","0","5"]],"ts":"1700000000000","checksum":2133728183,"prevSeqId":-1,'
    b'"seqId":123456}]}'
)
OKX_UPD = (
    b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":'
    b'[["65000.1","0","0","0"]],"bids":[["65000","0.8","0","3"]],"ts":"1700000000100",'
    b'"checksum":591934856,"prevSeqId":123456,"seqId":123460}]}'
)
GATE_PRICE, GATE_QTY = Grid("0.1"), Grid("0.0001")
GATE_UPD = (
    b'{"time":1700000000,"time_ms":1700000000236,"channel":"spot.order_book_update",'
    b'"event":"update","result":{"t":1700000000123,"l":"100","e":"depthUpdate","E":1700000000,'
    b'"s":"BTC_USDT","U":48776302,"u":48776306,"b":[["65000","0.8"],["64999.9","0"]],'
    b'"a":[["65000.1","0.4"]]}}'
)
GATE_FULL = (
    b'{"time":1700000001,"time_ms":1700000001236,"channel":"spot.order_book_update",'
    b'"event":"update","result":{"t":1700000001123,"full":true,"l":"100","e":"depthUpdate",'
    b'"E":1700000001,"s":"BTC_USDT","U":48776307,"u":48776320,"b":[["65000","0.8"]],'
    b'"a":[["65000.1","0.4"]]}}'
)
GATE_OBU_FULL = (
    b'{"channel":"spot.obu","result":{"t":1747054612673,"full":true,"s":"ob.BTC_USDT.50",'
    b'"u":73777715168,"b":[["104027.1","509392"]],"a":[["104027.2","44617"]]},'
    b'"time_ms":1747054612848}'
)
GATE_OBU_INC = (
    b'{"channel":"spot.obu","result":{"t":1747054612695,"s":"ob.BTC_USDT.50","U":73777715169,'
    b'"u":73777715212,"b":[["104024.5","10343"]],"a":[["104027.2","0"]]},"time_ms":1747054612925}'
)
GATE_REST = (
    b'{"id":48776306,"current":1700000000300,"update":1700000000299,'
    b'"asks":[["65000.1","0.4"]],"bids":[["65000","0.8"],["64999.9","1.5"]]}'
)


def cases() -> list[tuple[Any, str, RefFn, bytes]]:
    """(decoder, method name, reference fn, frame) for every canned frame."""
    bn = make(dd.BinanceDepthDecoder, BN_PRICE, BN_QTY)
    okx = make(dd.OkxBooksDecoder, OKX_PRICE, OKX_QTY)
    gate = make(dd.GateDepthDecoder, GATE_PRICE, GATE_QTY)
    return [
        (bn, "decode", ref.decode_binance, BN_UPDATE),
        (bn, "decode", ref.decode_binance, BN_COMBINED),
        (bn, "decode_snapshot", ref.decode_binance_snapshot, BN_SNAPSHOT),
        (okx, "decode", ref.decode_okx, OKX_SNAP),
        (okx, "decode", ref.decode_okx, OKX_UPD),
        (gate, "decode", ref.decode_gate, GATE_UPD),
        (gate, "decode", ref.decode_gate, GATE_FULL),
        (gate, "decode", ref.decode_gate, GATE_OBU_FULL),
        (gate, "decode", ref.decode_gate, GATE_OBU_INC),
        (gate, "decode_snapshot", ref.decode_gate_snapshot, GATE_REST),
    ]


CASE_IDS = [
    "bn_update",
    "bn_combined",
    "bn_snapshot",
    "okx_snap",
    "okx_upd",
    "gate_upd",
    "gate_full",
    "gate_obu_full",
    "gate_obu_inc",
    "gate_rest",
]


# --- tests -----------------------------------------------------------------------------------


def test_binance_example_fields() -> None:
    dec = make(dd.BinanceDepthDecoder, BN_PRICE, BN_QTY)
    for frame in (BN_UPDATE, BN_COMBINED):
        assert dec.decode(frame) == dd.OK
        assert (dec.first_update_id, dec.last_update_id) == (78423155532, 78423155540)
        assert dec.event_time_ms == 1700000000100
        assert dec.symbol(frame) == b"BTCUSDT"
        assert not dec.snapshot
        assert dec.buffer.entries(BID) == [(6499999, 110731), (6499950, 0)]
        assert dec.buffer.entries(ASK) == [(6500000, 300212)]
    assert dec.decode_snapshot(BN_SNAPSHOT) == dd.OK
    assert dec.snapshot and dec.last_update_id == 78423155540
    assert (dec.decoded, dec.errors) == (3, 0)


def test_okx_and_gate_example_fields() -> None:
    okx = make(dd.OkxBooksDecoder, OKX_PRICE, OKX_QTY)
    assert okx.decode(OKX_SNAP) == dd.OK
    assert (okx.action, okx.snapshot, okx.seq_id, okx.prev_seq_id) == (
        dd.SNAPSHOT,
        True,
        123456,
        -1,
    )
    assert (okx.checksum, okx.event_time_ms, okx.symbol(OKX_SNAP)) == (
        2133728183,
        1700000000000,
        b"BTC-USDT",
    )
    assert okx.buffer.entries(ASK) == [(650001, 50000000), (650002, 120000000)]
    gate = make(dd.GateDepthDecoder, GATE_PRICE, GATE_QTY)
    assert gate.decode(GATE_UPD) == dd.OK
    assert (gate.channel, gate.first_update_id, gate.last_update_id) == (
        dd.ORDER_BOOK_UPDATE,
        48776302,
        48776306,
    )
    assert (gate.full, gate.snapshot, gate.time_s, gate.message_time_ms) == (
        False,
        False,
        1700000000,
        1700000000236,
    )
    assert gate.decode(GATE_OBU_FULL) == dd.OK
    assert (gate.channel, gate.full, gate.snapshot, gate.first_update_id) == (dd.OBU, True, True, 0)
    assert gate.decode_snapshot(GATE_REST) == dd.OK
    assert (gate.channel, gate.snapshot, gate.last_update_id) == (dd.REST_SNAPSHOT, True, 48776306)


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_every_truncation_and_padding(index: int) -> None:
    dec, method, ref_fn, frame = cases()[index]
    decode = getattr(dec, method)
    assert agree(dec, decode, ref_fn, frame) == dd.OK
    for cut in range(len(frame)):
        assert agree(dec, decode, ref_fn, frame[:cut]) < 0
        # the same prefix at the end of a larger buffer: the scanner must stop at n
        backing = bytearray(frame)
        view = memoryview(backing)[:cut]
        assert decode(view) < 0
        assert is_clear(dec)
    assert agree(dec, decode, ref_fn, b" \n\t" + frame + b"\r\n ") == dd.OK
    assert agree(dec, decode, ref_fn, frame + b"x") == dd.ERR_JSON
    assert agree(dec, decode, ref_fn, frame + frame) == dd.ERR_JSON


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_every_single_byte_change(index: int) -> None:
    dec, method, ref_fn, frame = cases()[index]
    decode = getattr(dec, method)
    for pos in range(len(frame)):
        for byte in (0x00, 0x20, 0x22, 0x2C, 0x30, 0x39, 0x5C, 0x7D, 0x5D, 0x80, 0xFF):
            mutated = frame[:pos] + bytes([byte]) + frame[pos + 1 :]
            agree(dec, decode, ref_fn, mutated)
        agree(dec, decode, ref_fn, frame[:pos] + frame[pos + 1 :])  # deletion
        agree(dec, decode, ref_fn, frame[:pos] + frame[pos : pos + 1] * 2 + frame[pos + 1 :])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), GRIDS)
def test_binance_differential(data: st.DataObject, spec: tuple[int, int, int, int]) -> None:
    price, qty = grids(spec)
    dec = make(dd.BinanceDepthDecoder, price, qty)
    frame, snap = data.draw(binance_frames(price, qty))
    decode = dec.decode_snapshot if snap else dec.decode
    fn = ref.decode_binance_snapshot if snap else ref.decode_binance
    assert agree(dec, decode, fn, frame) == dd.OK
    assert decode(memoryview(bytearray(frame))) == dd.OK


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), GRIDS)
def test_okx_differential(data: st.DataObject, spec: tuple[int, int, int, int]) -> None:
    price, qty = grids(spec)
    dec = make(dd.OkxBooksDecoder, price, qty)
    frame = data.draw(okx_frames(price, qty))
    assert agree(dec, dec.decode, ref.decode_okx, frame) == dd.OK


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), GRIDS)
def test_gate_differential(data: st.DataObject, spec: tuple[int, int, int, int]) -> None:
    price, qty = grids(spec)
    dec = make(dd.GateDepthDecoder, price, qty)
    frame, rest = data.draw(gate_frames(price, qty))
    decode = dec.decode_snapshot if rest else dec.decode
    fn = ref.decode_gate_snapshot if rest else ref.decode_gate
    assert agree(dec, decode, fn, frame) == dd.OK


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), GRIDS, st.sampled_from(["bn", "okx", "gate"]))
def test_mutated_frames_agree(
    data: st.DataObject, spec: tuple[int, int, int, int], venue: str
) -> None:
    price, qty = grids(spec)
    if venue == "bn":
        dec = make(dd.BinanceDepthDecoder, price, qty, 8)
        frame, snap = data.draw(binance_frames(price, qty))
        decode = dec.decode_snapshot if snap else dec.decode
        fn = ref.decode_binance_snapshot if snap else ref.decode_binance
    elif venue == "okx":
        dec = make(dd.OkxBooksDecoder, price, qty, 8)
        frame = data.draw(okx_frames(price, qty))
        decode, fn = dec.decode, ref.decode_okx
    else:
        dec = make(dd.GateDepthDecoder, price, qty, 8)
        frame, rest = data.draw(gate_frames(price, qty))
        decode = dec.decode_snapshot if rest else dec.decode
        fn = ref.decode_gate_snapshot if rest else ref.decode_gate
    buf = bytearray(frame)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(0, len(buf) - 1)))
        if op == "flip" and buf:
            buf[pos] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del buf[pos:]
        elif op == "insert":
            buf[pos:pos] = data.draw(
                st.sampled_from(
                    [
                        b"0",
                        b"-",
                        b"9" * 25,
                        b".5",
                        b",",
                        b"[",
                        b"]",
                        b"{",
                        b"}",
                        b'"',
                        b" ",
                        b'"0",',
                        b"\xc3\xa9",
                        b"e5",
                        b"null",
                        b'"b":[],',
                        b'"U":1,',
                    ]
                )
            )
        elif buf:
            del buf[pos : pos + data.draw(st.integers(1, 8))]
    agree(dec, decode, fn, bytes(buf))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(range(len(CASE_IDS))))
def test_random_bytes_never_crash(blob: bytes, index: int) -> None:
    dec, method, ref_fn, _ = cases()[index]
    agree(dec, getattr(dec, method), ref_fn, blob)
    agree(dec, getattr(dec, method), ref_fn, b'{"data":' + blob + b"}")


# One fault in an otherwise valid frame gives the same status from both decoders.
SINGLE_FAULTS: list[tuple[bytes, bytes, int]] = [
    (b'"64999.99000000"', b'"64999.995"', -2),
    (b'"64999.99000000"', b'"99999999999999999999"', -3),
    (b'"64999.99000000"', b'"-1.00"', -33),
    (b'"64999.99000000"', b'"0"', -33),
    (b'"64999.99000000"', b'"1e5"', -1),
    (b'"64999.99000000"', b'""', -1),
    (b'"64999.99000000"', b'" 1"', -1),
    (b'"64999.99000000"', b"64999.99", dd.ERR_TYPE),
    (b'"1.10731000"', b'"-1"', -34),
    (b'"1.10731000"', b'"1.000001"', -2),
    (b'["64999.50000000","0.00000000"]', b'["64999.50000000"]', dd.ERR_LEVEL),
    (b'["64999.50000000","0.00000000"]', b"[]", dd.ERR_LEVEL),
    (b'["64999.50000000","0.00000000"]', b'["64999.50000000","0","1"]', dd.ERR_LEVEL),
    (b'["64999.50000000","0.00000000"]', b'"64999.5"', dd.ERR_TYPE),
    (b'"U":78423155532', b'"U":"78423155532"', dd.ERR_TYPE),
    (b'"U":78423155532', b'"U":9223372036854775808', dd.ERR_TYPE),
    (b'"U":78423155532', b'"U":18446744073709551616', dd.ERR_TYPE),
    (b'"U":78423155532', b'"U":1' + b"0" * 40, dd.ERR_TYPE),
    (b'"U":78423155532', b'"U":-9223372036854775808', dd.OK),
    (b'"U":78423155532', b'"U":1.0', dd.ERR_TYPE),
    (b'"U":78423155532', b'"U":null', dd.ERR_TYPE),
    (b'"U":78423155532,', b"", dd.ERR_MISSING),
    (b'"s":"BTCUSDT",', b"", dd.ERR_MISSING),
    (b'"s":"BTCUSDT"', b'"s":5', dd.ERR_TYPE),
    (b'"e":"depthUpdate"', b'"e":"trade"', dd.ERR_VALUE),
    (b'"b":[', b'"b":{},"x":[', dd.ERR_TYPE),
    (b'"1.10731000"]', b'"1.10731000" x]', dd.ERR_JSON),
    (b"{", b'{"pu":[1,{"q":[true,false,null,-0.5e-3,"\xc3\xa9"]}],', dd.OK),
]


@pytest.mark.parametrize(("old", "new", "status"), SINGLE_FAULTS)
def test_single_fault_binance(old: bytes, new: bytes, status: int) -> None:
    assert old in BN_UPDATE
    frame = BN_UPDATE.replace(old, new, 1)
    dec = make(dd.BinanceDepthDecoder, BN_PRICE, BN_QTY)
    assert agree(dec, dec.decode, ref.decode_binance, frame) == status
    assert ref.decode_binance(frame, BN_PRICE, BN_QTY, 64).status == status


@pytest.mark.parametrize(
    ("old", "new", "status"),
    [
        (b'"action":"snapshot"', b'"action":"partial"', dd.ERR_VALUE),
        (b'"action":"snapshot",', b"", dd.ERR_MISSING),
        (b'"ts":"1700000000000"', b'"ts":1700000000000', dd.ERR_TYPE),
        (b'"ts":"1700000000000"', b'"ts":"17x"', dd.ERR_VALUE),
        (b'"ts":"1700000000000"', b'"ts":"99999999999999999999"', dd.ERR_VALUE),
        (b'"ts":"1700000000000"', b'"ts":""', dd.ERR_VALUE),
        (b',"checksum":2133728183', b"", dd.OK),
        (b'"prevSeqId":-1,', b"", dd.ERR_MISSING),
        (b'"0","3"]', b'"0"]', dd.ERR_LEVEL),
        (b'"0","3"]', b'"0",3]', dd.ERR_TYPE),
        (b'"0","3"]', b'"0","3","x"]', dd.ERR_LEVEL),
        (b'"instId":"BTC-USDT"', b'"instId":null', dd.ERR_TYPE),
        (b'"data":[{', b'"data":[{"instId":"BTC-USDT",', dd.OK),
        (b'"seqId":123456}]', b'"seqId":123456},{}]', dd.ERR_VALUE),
        (
            b'"data":[{"asks":[["65000.1","0.5","0","3"],["65000.2","1.2","0","1"]],'
            b'"bids":[["65000","0.3","0","2"],["64999.9","2","0","5"]],"ts":"1700000000000",'
            b'"checksum":2133728183,"prevSeqId":-1,"seqId":123456}]',
            b'"data":[]',
            dd.ERR_VALUE,
        ),
    ],
)
def test_single_fault_okx(old: bytes, new: bytes, status: int) -> None:
    assert old in OKX_SNAP
    frame = OKX_SNAP.replace(old, new, 1)
    dec = make(dd.OkxBooksDecoder, OKX_PRICE, OKX_QTY)
    assert agree(dec, dec.decode, ref.decode_okx, frame) == status


@pytest.mark.parametrize(
    ("frame", "old", "new", "status"),
    [
        (GATE_UPD, b'"U":48776302,', b"", dd.ERR_MISSING),
        (GATE_UPD, b'"channel":"spot.order_book_update"', b'"channel":"spot.trades"', dd.ERR_VALUE),
        (GATE_UPD, b'"event":"update"', b'"event":"subscribe"', dd.ERR_VALUE),
        (GATE_UPD, b'"event":"update",', b"", dd.OK),
        (GATE_UPD, b',"a":[["65000.1","0.4"]]', b"", dd.OK),
        (GATE_UPD, b'"t":1700000000123,', b"", dd.ERR_MISSING),
        (GATE_FULL, b'"full":true', b'"full":1', dd.ERR_TYPE),
        (GATE_FULL, b'"full":true', b'"full":false', dd.OK),
        (GATE_OBU_FULL, b'"full":true,', b"", dd.ERR_MISSING),
        (GATE_OBU_INC, b'"U":73777715169,', b"", dd.ERR_MISSING),
        (GATE_OBU_INC, b'"s":"ob.BTC_USDT.50",', b"", dd.ERR_MISSING),
        (GATE_REST, b'"id":48776306,', b"", dd.ERR_MISSING),
        (GATE_REST, b'"current":1700000000300,', b"", dd.OK),
    ],
)
def test_single_fault_gate(frame: bytes, old: bytes, new: bytes, status: int) -> None:
    assert old in frame
    mutated = frame.replace(old, new, 1)
    dec = make(dd.GateDepthDecoder, GATE_PRICE, GATE_QTY)
    if frame is GATE_REST:
        assert agree(dec, dec.decode_snapshot, ref.decode_gate_snapshot, mutated) == status
    else:
        assert agree(dec, dec.decode, ref.decode_gate, mutated) == status


@pytest.mark.parametrize(
    "frame",
    [
        b'{"e":"depthUpdate","e":"depthUpdate"' + BN_UPDATE[18:],
        BN_UPDATE[:-1] + b',"b":[]}',
        b'{"U":1,"data":' + BN_UPDATE + b"}",
        b'{"stream":"x","data":' + BN_UPDATE + b',"data":' + BN_UPDATE + b"}",
    ],
)
def test_binance_duplicates_and_mixed_forms_rejected(frame: bytes) -> None:
    dec = make(dd.BinanceDepthDecoder, BN_PRICE, BN_QTY)
    assert dec.decode(frame) in (dd.ERR_DUPLICATE, dd.ERR_VALUE)
    assert is_clear(dec)
    assert dec.errors == 1


def test_capacity_overflow_rejects_whole_frame() -> None:
    dec = make(dd.BinanceDepthDecoder, BN_PRICE, BN_QTY, 1)
    assert agree(dec, dec.decode, ref.decode_binance, BN_UPDATE) == -35  # BOOK_ERR_COUNT
    assert is_clear(dec)


@pytest.mark.parametrize(
    "text",
    [
        b'"\\ud800"',
        b'"\\udc00"',
        b'"\\ud800\\u0041"',
        b'"\\x"',
        b'"\\u12"',
        b'"\x1f"',
        b'"\xc0\x80"',
        b'"\xed\xa0\x80"',
        b'"\xf4\x90\x80\x80"',
        b'"\x80"',
        b'"\xe2\x82"',
        b"01",
        b"-",
        b"1.",
        b".5",
        b"1e",
        b"1e+",
        b"-01",
        b"tru",
        b"nul",
        b"[1,]",
        b"[1 2]",
        b'{"a" 1}',
        b"{1:2}",
        b"2e308",
        b"1e99999999999999999999",
        b"NaN",
        b"[" * 70 + b"]" * 70,
    ],
)
def test_skipped_values_are_validated(text: bytes) -> None:
    dec = make(dd.BinanceDepthDecoder, BN_PRICE, BN_QTY)
    frame = BN_UPDATE[:-1] + b',"extra":' + text + b"}"
    assert dec.decode(frame) == dd.ERR_JSON
    assert is_clear(dec)


@pytest.mark.parametrize(
    "text",
    [
        b'"\\ud83d\\ude00"',
        b'"\\u00e9\\n\\/"',
        b'"\xf0\x9f\x98\x80\xef\xbf\xbf"',
        b"-0",
        b"0.0e400",
        b"1e-99999999999999999999",
        b"1E+2",
        b"[" * 60 + b"]" * 60,
        b"{}",
        b"[]",
        b'""',
    ],
)
def test_skipped_values_accepted(text: bytes) -> None:
    dec = make(dd.BinanceDepthDecoder, BN_PRICE, BN_QTY)
    frame = BN_UPDATE[:-1] + b',"extra":' + text + b"}"
    assert agree(dec, dec.decode, ref.decode_binance, frame) == dd.OK


def test_memoryview_inputs() -> None:
    dec = make(dd.BinanceDepthDecoder, BN_PRICE, BN_QTY)
    backing = bytearray(b"xx" + BN_UPDATE + b"yy")
    view = memoryview(backing)[2 : 2 + len(BN_UPDATE)]
    assert dec.decode(view) == dd.OK
    assert dec.symbol(view) == b"BTCUSDT"
    assert dec.decode(bytearray(BN_UPDATE)) == dd.OK
    assert dec.buffer.entries(ASK) == [(6500000, 300212)]
    with pytest.raises(TypeError):
        dec.decode("not a buffer")


def test_from_instrument_and_abstract_base() -> None:
    from engine.model.instrument import Instrument

    inst = Instrument(
        "BTCUSDT",
        "binance",
        "BTC",
        "USDT",
        Decimal("0.01"),
        Decimal("0.00001"),
        Decimal("0.00001"),
        Decimal("5"),
        2,
        5,
    )
    dec = dd.BinanceDepthDecoder.from_instrument(inst, 16)
    assert dec.decode(BN_UPDATE) == dd.OK
    assert dec.buffer.capacity == 16
    with pytest.raises(TypeError):
        dd.DepthDecoder(BN_PRICE, BN_QTY, 4)
    with pytest.raises(TypeError):  # no instance without its buffer
        dd.BinanceDepthDecoder.__new__(dd.BinanceDepthDecoder)


class _Levels:
    def __init__(self, result: ref.DepthResult) -> None:
        self.result = result

    def entries(self, side: int) -> list[tuple[int, int]]:
        return self.result.bids if side == BID else self.result.asks


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), GRIDS)
def test_book_from_decoder_matches_reference(
    data: st.DataObject, spec: tuple[int, int, int, int]
) -> None:
    price, qty = grids(spec)
    dec = make(dd.OkxBooksDecoder, price, qty, 64)
    book, book_ref = OrderBook(8), BookRef(8)
    for _ in range(data.draw(st.integers(1, 6))):
        frame = data.draw(okx_frames(price, qty))
        status = dec.decode(frame)
        expected = ref.decode_okx(frame, price, qty, 64)
        assert status == expected.status == dd.OK
        if dec.snapshot:
            got, want = book.load_snapshot(dec.buffer), book_ref.load_snapshot(_Levels(expected))
        else:
            got, want = book.apply(dec.buffer), book_ref.apply(_Levels(expected))
        assert got == want
        assert book.levels(BID) == book_ref.levels(BID)
        assert book.levels(ASK) == book_ref.levels(ASK)


def test_steady_state_allocates_nothing() -> None:
    bn = make(dd.BinanceDepthDecoder, BN_PRICE, BN_QTY)
    okx = make(dd.OkxBooksDecoder, OKX_PRICE, OKX_QTY)
    gate = make(dd.GateDepthDecoder, GATE_PRICE, GATE_QTY)
    book = OrderBook(64)
    view = memoryview(bytearray(GATE_UPD))
    frames = [(bn, BN_UPDATE), (okx, OKX_UPD), (gate, view), (bn, b"{bad")]

    def run(n: int) -> None:
        for _ in range(n):
            for dec, frame in frames:
                if dec.decode(frame) >= 0:
                    book.apply(dec.buffer)

    run(1000)
    tracemalloc.start()
    try:
        run(10)
        before = tracemalloc.get_traced_memory()[0]
        run(25_000)  # 100k decodes
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 512
    assert bn.errors == 26_010 and bn.decoded == 26_010


@settings(max_examples=1500, deadline=None)
@given(
    st.from_regex(r"\A-?[0-9]{0,22}(\.[0-9]{0,22})?\Z"),
    st.from_regex(r"\A[0-9]{1,20}(\.[0-9]{0,20})?[ x]?\Z"),
    GRIDS,
)
def test_level_numbers_parse_like_parse_units(
    price_text: str, size_text: str, spec: tuple[int, int, int, int]
) -> None:
    """Every shape of price/size string, through the one-pass and the fallback parsers."""
    price, qty = grids(spec)
    dec = make(dd.BinanceDepthDecoder, price, qty)
    frame = (
        b'{"lastUpdateId":1,"asks":[],"bids":[["'
        + price_text.encode()
        + b'","'
        + size_text.encode()
        + b'"]]}'
    )
    agree(dec, dec.decode_snapshot, ref.decode_binance_snapshot, frame)


class GuardedBuffer:
    """A page of memory followed by a PROT_NONE page: a read past a frame placed at the end of
    the first page faults at once (the test process dies) instead of going unnoticed."""

    def __init__(self) -> None:
        import ctypes
        import mmap

        self.page = mmap.PAGESIZE
        self.mem = mmap.mmap(-1, 2 * self.page)
        libc = ctypes.CDLL(None, use_errno=True)
        anchor = ctypes.c_char.from_buffer(self.mem)
        addr = ctypes.addressof(anchor)
        del anchor  # release the export; the mapping itself stays
        prot_none = 0
        self.ok = libc.mprotect(ctypes.c_void_p(addr + self.page), self.page, prot_none) == 0
        self.view = memoryview(self.mem)

    def place(self, frame: bytes) -> memoryview:
        start = self.page - len(frame)
        self.view[start : self.page] = frame
        return self.view[start : self.page]


_GUARD: list[GuardedBuffer] = []


def guard_page() -> GuardedBuffer | None:
    if not _GUARD:
        _GUARD.append(GuardedBuffer())
    return _GUARD[0] if _GUARD[0].ok else None


@pytest.fixture
def guarded() -> GuardedBuffer:
    guard = guard_page()
    if guard is None:
        pytest.skip("mprotect unavailable")
    return guard


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_no_read_past_the_end(guarded: GuardedBuffer, index: int) -> None:
    dec, method, _, frame = cases()[index]
    decode = getattr(dec, method)
    assert decode(guarded.place(frame)) == dd.OK
    for cut in range(len(frame)):
        assert decode(guarded.place(frame[:cut])) < 0
        assert is_clear(dec)
    # every frame end inside a level number, where the 8-byte digit loads run
    for tail in (b"12345678901", b"1.2345678", b"1.23456789012", b'"0.00000000'):
        body = frame[: frame.find(b'"', frame.find(b"[[")) + 1] + tail
        for cut in range(len(body) - len(tail), len(body) + 1):
            assert decode(guarded.place(body[:cut])) < 0
