"""engine/_core/frame_handler.pyx at its edges: truncated, padded and mutated frames, the
route's partial JSON walk, frames at the very end of readable memory, indexes out of range,
bad constructor arguments, many streams in the key table.

The handler reads frames with bounds checks off: what keeps route and decode inside a frame
is their own i < n tests, driven here by every truncation of valid frames of each venue
(never a crash, and never a half-applied book: a rejected frame leaves every book as it
was). Where the reference can say what must happen, the Pair compares against it.
"""

from __future__ import annotations

import ctypes
import mmap
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_frame_handler import (
    BN_REST,
    BOOK_CAPACITY,
    CY_DECODER,
    CY_HANDLER,
    GATE_REST,
    OKX_SNAP,
    REF_DECODER,
    REF_HANDLER,
    SNAP_CRC,
    SPECS,
    Pair,
    Spec,
    bn,
    book_state,
    gate_obu,
    gate_upd,
    maybe_stricter,
    okx_upd,
)

from engine._core import depth_decode as dd
from engine._core import frame_handler as fh
from engine._core.book import BID, OrderBook
from engine.data import frames_ref as ref
from engine.data.book_ref import BookRef

INT64_MAX = 2**63 - 1
NEGATIVE_OK = range(-79, 0)  # a decoder's own error codes
MALFORMED = (*NEGATIVE_OK, fh.ERR_TIME)  # refused before anything is applied


def live_pair(venue: str) -> Pair:
    """Every stream of the venue live with a book in it."""
    pair = Pair(venue)
    if venue == "binance":
        pair.sync(0, BN_REST, 100)
    elif venue == "okx":
        assert pair.frame(OKX_SNAP % SNAP_CRC) == fh.SNAPSHOT
    else:
        pair.sync(0, GATE_REST, 1000)
        assert pair.frame(gate_obu(0, 50, '["5000","1"]', '["5010","2"]', True)) == fh.SNAPSHOT
    pair.go_live(1, 7)
    return pair


# (venue, stream index, a valid frame, its status on live_pair(venue))
VALID: list[tuple[str, int, bytes, int]] = [
    ("binance", 0, bn(101, 103, '["64999.99","0.5"]', '["65000.01","1"]'), fh.OK),
    ("binance", 0, bn(90, 100, '["64999.99","0.5"]'), fh.SKIPPED),
    (
        "okx",
        0,
        okx_upd(123456, 123460, '["65000","0.8","0","3"]', '["65000.1","0","0","0"]'),
        fh.OK,
    ),
    ("okx", 0, OKX_SNAP % SNAP_CRC, fh.SNAPSHOT),
    ("gate", 0, gate_upd(1001, 1003, '["65000","0.7"]', '["65000.1","0"]'), fh.OK),
    ("gate", 0, gate_upd(990, 1005, '["65000","0.8"]', '["65000.1","0.4"]', True), fh.SNAPSHOT),
    ("gate", 2, gate_obu(51, 52, '["5000","0"]', '["5010","3"]'), fh.OK),
]
VALID_IDS = ["bn_diff", "bn_stale", "okx_update", "okx_snapshot", "gate_update", "gate_full"]
VALID_IDS += ["gate_obu"]


def books(pair: Pair) -> list[tuple[Any, ...]]:
    return [book_state(s.book) for s in pair.cy_streams]


@pytest.mark.parametrize(("venue", "index", "frame", "status"), VALID, ids=VALID_IDS)
def test_every_truncation_leaves_the_books_alone(
    venue: str, index: int, frame: bytes, status: int
) -> None:
    assert live_pair(venue).frame(frame) == status
    for cut in range(len(frame)):
        pair = live_pair(venue)
        before = books(pair)
        got = pair.frame(frame[:cut])  # compared with the reference
        assert got == fh.OTHER or got in NEGATIVE_OK, (cut, got)
        assert books(pair) == before, cut
        assert pair.cy_streams[index].applied == pair.ref_streams[index].applied
        if got < 0:
            assert pair.cy.last_index == index
            assert pair.cy_streams[index].state == fh.WAITING
        else:
            assert pair.cy.last_index == -1
        # the same prefix inside a larger buffer: the handler must stop at its end
        again = live_pair(venue)
        assert again.cy.on_frame(memoryview(bytearray(frame))[:cut], 1) == got
        assert books(again) == before


@pytest.mark.parametrize(("venue", "index", "frame", "status"), VALID, ids=VALID_IDS)
def test_every_truncated_replay_is_refused(
    venue: str, index: int, frame: bytes, status: int
) -> None:
    for cut in range(0, len(frame), 3):
        pair = live_pair(venue)
        before = books(pair)
        assert pair.replay(index, frame[:cut]) in NEGATIVE_OK
        assert books(pair) == before
        assert pair.cy_streams[index].state == fh.WAITING
        assert (pair.cy.frames, pair.cy_log) == (pair.ref.frames, [])


@pytest.mark.parametrize(("venue", "index", "frame", "status"), VALID, ids=VALID_IDS)
def test_padding_and_trailing_bytes(venue: str, index: int, frame: bytes, status: int) -> None:
    pair = live_pair(venue)
    before = books(pair)
    # trailing bytes after the object make it malformed as a whole: nothing applied
    for tail in (b"x", b"}", b",", frame):
        assert pair.frame(frame + tail) in NEGATIVE_OK
        assert books(pair)[index] == before[index]
    # whitespace around it is fine (the routes of Binance and OKX need it at byte 0)
    pair = live_pair(venue)
    got = pair.frame(frame + b" \r\n\t")
    assert got == status
    pair = live_pair(venue)
    got = pair.frame(b" " + frame)
    assert got == (status if venue == "gate" else fh.OTHER)


# --- the route's partial walk (Gate) and prefixes (Binance, OKX) ------------------------------

GATE_TAIL = b'"result":{"t":1,"s":"BTC_USDT","U":1001,"u":1001,"b":[["65000","2"]],"a":[]}}'


def gate_with(value: bytes, where: str = "top") -> bytes:
    """A valid Gate update with an extra member `value` before the channel (top) or before
    "s" inside result."""
    if where == "top":
        return b'{"x":' + value + b',"channel":"spot.order_book_update",' + GATE_TAIL
    return (
        b'{"channel":"spot.order_book_update","result":{"t":1,"x":'
        + value
        + b',"s":"BTC_USDT","U":1001,"u":1001,"b":[["65000","2"]],"a":[]}}'
    )


ROUTE_VALUES: list[tuple[bytes, bool]] = [  # (value, the frame routes and applies)
    (b"1e299", True),
    (b"1e300", False),  # magnitude 1e300 and above: refused (orjson fails near 1.8e308)
    (b"10e299", False),
    (b"0.001e302", True),
    (b"0.0001e304", False),
    (b"-9.99e299", True),
    (b"0.0e999999", True),
    (b"1e-999999", True),
    (b"-0", True),
    (b"01", False),
    (b"1.", False),
    (b".5", False),
    (b"-", False),
    (b"1e", False),
    (b"1e+", False),
    (b"[" * 64 + b"1" + b"]" * 64, True),
    (b"[" * 65 + b"1" + b"]" * 65, False),
    (b'{"a":' * 64 + b"1" + b"}" * 64, True),
    (b'{"a":' * 65 + b"1" + b"}" * 65, False),
    (b"[" * 100 + b"]" * 100, False),
    (b"[[]]", True),
    (b"{}", True),
    (b"[1,]", False),
    (b'{"a":1,}', False),
    (b"[1 2]", False),
    (b'{"a" 1}', False),
    (b"{1:2}", False),
    (b"tru", False),
    (b"nul", False),
    (b"true", True),
    (b'"\\ud83d\\ude00\\u00e9\\n\\/"', True),
    (b'"\\ud800"', False),
    (b'"\\udc00"', False),
    (b'"\\ud800\\u0041"', False),
    (b'"\\x"', False),
    (b'"\\u12"', False),
    (b'"\x1f"', False),
    (b'"\xc0\x80"', False),
    (b'"\xed\xa0\x80"', False),
    (b'"\xf4\x90\x80\x80"', False),
    (b'"\x80"', False),
    (b'"\xf0\x9f\x98\x80"', True),
    (b'"a', False),
]


@pytest.mark.parametrize(("value", "routes"), ROUTE_VALUES, ids=range(len(ROUTE_VALUES)))
@pytest.mark.parametrize("where", ["top", "result"])
def test_gate_route_validates_what_it_walks(value: bytes, routes: bool, where: str) -> None:
    pair = live_pair("gate")
    frame = gate_with(value, where)
    got = pair.frame(frame)
    assert got == (fh.OK if routes else fh.OTHER), frame
    assert ref.gate_route(frame)[0] == (ref.ROUTE_DEPTH if routes else ref.ROUTE_NONE)


@pytest.mark.parametrize(
    ("frame", "route", "key"),
    [
        (
            b'{"channel":"spot.obu","result":{"s":"ob.SOL_USDT.50"',
            ref.ROUTE_DEPTH,
            b"ob.SOL_USDT.50",
        ),
        (b'{"result":{"s":"BTC_USDT"},"channel":"spot.obu"', ref.ROUTE_DEPTH, b"BTC_USDT"),
        (b'{"result":{"s":"BTC_USDT"},"channel":"spot.obu"}', ref.ROUTE_DEPTH, b"BTC_USDT"),
        (b'{"result":{"s":"BTC_USDT"},"channel":"spot.trades"', ref.ROUTE_OTHER, b""),
        (b'{"channel":"spot.trades","result":', ref.ROUTE_OTHER, b""),
        (b'{"result":{"s":"A"},"result":{"s":"B"},"channel":"spot.obu"}', ref.ROUTE_DEPTH, b"B"),
        (b'{"result":{"s":"A"},"channel":"spot.obu","result":{"s":"B"}}', ref.ROUTE_DEPTH, b"A"),
        (b'{"channel":"spot.obu","channel":"spot.pong","result":{"s":"A"}}', ref.ROUTE_OTHER, b""),
        (b'{"result":"x","channel":"spot.obu","result":{"s":"A"}}', ref.ROUTE_DEPTH, b"A"),
        (b'{"result":{"s":"A","x":[}},"channel":"spot.obu"}', ref.ROUTE_NONE, b""),
        (b'{"channel":"spot.obu","result":{"s":7}}', ref.ROUTE_NONE, b""),
        (b'{"channel":5,"result":{"s":"A"}}', ref.ROUTE_NONE, b""),
        (b' \t\n{ "channel" : "spot.obu" , "result" : { "s" : "A" } }', ref.ROUTE_DEPTH, b"A"),
        (b'{"channel":"spot.obu","result":{"s":"A\\"B"}}', ref.ROUTE_DEPTH, b'A\\"B'),
        (b"{", ref.ROUTE_NONE, b""),
        (b"", ref.ROUTE_NONE, b""),
    ],
)
def test_gate_route_reference_cases(frame: bytes, route: int, key: bytes) -> None:
    assert ref.gate_route(frame) == (route, key)
    spec = Spec("gate", "X_USDT", "0.1", "0.1", key or b"unused", "spot.obu")
    pair = Pair("gate", [spec])
    # compared with the reference, except for duplicated keys (depth_ref reads the last)
    got = pair.cy.on_frame(frame, 1) if maybe_stricter(frame) else pair.frame(frame)
    assert (got == fh.OTHER) == (route != ref.ROUTE_DEPTH)
    assert pair.cy.last_index == (0 if route == ref.ROUTE_DEPTH else -1)


@pytest.mark.parametrize(
    ("venue", "frame", "route", "key"),
    [
        ("binance", b'{"stream":"@depth"', ref.ROUTE_DEPTH, b"@depth"),
        ("binance", b'{"stream":"a@dept"', ref.ROUTE_OTHER, b"a@dept"),
        ("binance", b'{"stream":"depth@x"', ref.ROUTE_OTHER, b"depth@x"),
        ("binance", b'{"stream":"btcusdt@depth@100ms"', ref.ROUTE_DEPTH, b"btcusdt@depth@100ms"),
        ("binance", b'{"stream":"btcusdt@depth\\u0040100ms"', ref.ROUTE_NONE, b""),
        ("binance", b'{"stream":"btcusdt@depth', ref.ROUTE_NONE, b""),
        ("binance", b'{"stream":""', ref.ROUTE_OTHER, b""),
        ("binance", b'{ "stream":"x@depth"', ref.ROUTE_NONE, b""),
        ("okx", b'{"arg":{"channel":"books","instId":"A"', ref.ROUTE_DEPTH, b""),
        ("okx", b'{"arg":{"channel":"","instId":""', ref.ROUTE_DEPTH, b""),
        ("okx", b'{"arg":{"channel":"books","instId":"A', ref.ROUTE_NONE, b""),
        ("okx", b'{"arg":{"channel":"books","instId":"\\u0041"', ref.ROUTE_NONE, b""),
        ("okx", b'{"arg":{"channel":"bo\\"oks","instId":"A"', ref.ROUTE_NONE, b""),
        ("okx", b'{"arg":{"channel":"books" ,"instId":"A"', ref.ROUTE_NONE, b""),
        ("okx", b'{"arg":{"instId":"A","channel":"books"', ref.ROUTE_NONE, b""),
    ],
)
def test_prefix_routes(venue: str, frame: bytes, route: int, key: bytes) -> None:
    fn = ref.binance_route if venue == "binance" else ref.okx_route
    got_route, got_key = fn(frame)
    assert got_route == route
    if venue == "binance" or route != ref.ROUTE_DEPTH:
        assert got_key == key
    else:
        assert got_key == frame  # OKX: the whole prefix through the instId's quote
    if route == ref.ROUTE_DEPTH:
        spec = Spec(venue, "X-USDT", "0.1", "0.1", got_key, "books")
        pair = Pair(venue, [spec])
        assert pair.frame(frame) in NEGATIVE_OK  # routed to the stream, then malformed
        assert pair.cy.last_index == 0


# --- random damage ---------------------------------------------------------------------------


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(range(len(VALID))))
def test_mutated_frames(data: st.DataObject, which: int) -> None:
    """Any damage to a valid frame: no crash; against the reference (outside the corners
    where depth_ref is knowingly more lenient); and the book unchanged on a decode error."""
    venue, _, frame, _ = VALID[which]
    buf = bytearray(frame)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(0, len(buf) - 1)))
        if op == "flip" and buf:
            buf[pos] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del buf[pos:]
        elif op == "insert":
            buf[pos:pos] = data.draw(st.sampled_from([b"0", b"-", b'"', b"\\", b"{", b"]", b","]))
        elif buf:
            del buf[pos : pos + data.draw(st.integers(1, 8))]
    mutated = bytes(buf)
    pair = live_pair(venue)
    before = books(pair)
    # where depth_ref may accept what the scanner refuses, the Cython runs alone
    got = pair.cy.on_frame(mutated, 1) if maybe_stricter(mutated) else pair.frame(mutated)
    assert got in MALFORMED or got in range(0, 6) or got in (-80, -81, -82)
    if got in MALFORMED:
        assert books(pair) == before


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(["binance", "okx", "gate"]), st.booleans())
def test_random_bytes(blob: bytes, venue: str, prefixed: bool) -> None:
    prefix = {
        "binance": b'{"stream":"btcusdt@depth@100ms","data":',
        "okx": b'{"arg":{"channel":"books","instId":"BTC-USDT"},',
        "gate": b'{"channel":"spot.obu","result":{"s":"ob.SOL_USDT.50",',
    }[venue]
    frame = prefix + blob if prefixed else blob
    pair = live_pair(venue)
    before = books(pair)
    got = pair.cy.on_frame(frame, 1) if maybe_stricter(frame) else pair.frame(frame)
    if got in MALFORMED or got == fh.OTHER:
        assert books(pair) == before


# --- the end of readable memory --------------------------------------------------------------


class GuardedBuffer:
    """A page followed by a PROT_NONE page: a frame placed at the end of the first page is
    followed by unreadable memory, so any read past its end faults at once."""

    def __init__(self) -> None:
        self.page = mmap.PAGESIZE
        self.mem = mmap.mmap(-1, 2 * self.page)
        libc = ctypes.CDLL(None, use_errno=True)
        anchor = ctypes.c_char.from_buffer(self.mem)
        addr = ctypes.addressof(anchor)
        del anchor
        self.ok = libc.mprotect(ctypes.c_void_p(addr + self.page), self.page, 0) == 0
        self.view = memoryview(self.mem)

    def place(self, frame: bytes) -> memoryview:
        start = self.page - len(frame)
        self.view[start : self.page] = frame
        return self.view[start : self.page]


@pytest.fixture(scope="module")
def guarded() -> GuardedBuffer:
    guard = GuardedBuffer()
    if not guard.ok:
        pytest.skip("mprotect unavailable")
    return guard


@pytest.mark.parametrize(("venue", "index", "frame", "status"), VALID, ids=VALID_IDS)
def test_no_read_past_the_end(
    guarded: GuardedBuffer, venue: str, index: int, frame: bytes, status: int
) -> None:
    assert live_pair(venue).cy.on_frame(guarded.place(frame), 1) == status
    for cut in range(len(frame)):
        pair = live_pair(venue)
        got = pair.cy.on_frame(guarded.place(frame[:cut]), 1)
        assert got == fh.OTHER or got in NEGATIVE_OK
        pair = live_pair(venue)
        assert pair.cy.replay(index, guarded.place(frame[:cut]), 1) in NEGATIVE_OK


# --- indexes, constructors, arguments --------------------------------------------------------


@pytest.mark.parametrize("venue", ["binance", "okx", "gate"])
@pytest.mark.parametrize("index", [-1, 3, 4, 2**31, -(2**31)])
def test_index_out_of_range(venue: str, index: int) -> None:
    pair = live_pair(venue)
    frame = VALID[0][2]
    for handler in (pair.cy, pair.ref):
        with pytest.raises(IndexError):
            handler.replay(index, frame, 1)
        with pytest.raises(IndexError):
            handler.publish(index)
        with pytest.raises(IndexError):
            handler.stream(index)
    pair.check()  # nothing moved
    assert pair.cy.stream(2) is pair.cy_streams[2] and len(pair.cy) == 3


def make_streams(venue: str, keys: list[bytes], *, use_ref: bool) -> list[Any]:
    spec = SPECS[venue][0]
    if use_ref:
        return [
            ref.BookStreamRef(
                spec.instrument,
                REF_DECODER[venue].from_instrument(spec.instrument, 8),
                BookRef(BOOK_CAPACITY),
                key,
            )
            for key in keys
        ]
    return [
        fh.BookStream(
            spec.instrument,
            CY_DECODER[venue].from_instrument(spec.instrument, 8),
            OrderBook(BOOK_CAPACITY),
            key,
        )
        for key in keys
    ]


@pytest.mark.parametrize("venue", ["binance", "okx", "gate"])
@pytest.mark.parametrize("use_ref", [False, True])
def test_constructor_refuses_bad_streams(venue: str, use_ref: bool) -> None:
    handler = (REF_HANDLER if use_ref else CY_HANDLER)[venue]
    with pytest.raises(ValueError, match="share the routing key"):
        handler(make_streams(venue, [b"a", b"b", b"a"], use_ref=use_ref))
    with pytest.raises(ValueError, match="empty"):
        make_streams(venue, [b""], use_ref=use_ref)
    with pytest.raises(TypeError):
        make_streams(venue, ["a"], use_ref=use_ref)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        handler([object()])
    assert len(handler([])) == 0
    base = ref.FramesRef if use_ref else fh.FrameHandler
    with pytest.raises(TypeError, match="abstract"):
        base([])


@pytest.mark.parametrize("use_ref", [False, True])
def test_okx_and_gate_need_their_decoders(use_ref: bool) -> None:
    for venue, wrong in (("okx", "gate"), ("gate", "okx"), ("okx", "binance")):
        streams = make_streams(wrong, [b"k"], use_ref=use_ref)
        with pytest.raises(TypeError, match="needs a"):
            (REF_HANDLER if use_ref else CY_HANDLER)[venue](streams)


@pytest.mark.parametrize("use_ref", [False, True])
def test_unknown_keyword_refused(use_ref: bool) -> None:
    """verify_checksum is OKX's; a Binance or Gate handler does not take it silently."""
    for venue in ("binance", "gate"):
        handler = (REF_HANDLER if use_ref else CY_HANDLER)[venue]
        streams = make_streams(venue, [b"k"], use_ref=use_ref)
        with pytest.raises(TypeError):
            handler(streams, None, verify_checksum=False)
        with pytest.raises(TypeError):
            handler(streams, None, 5)


def test_arguments_are_checked_before_counting() -> None:
    pair = live_pair("binance")
    for handler in (pair.cy, pair.ref):
        with pytest.raises(OverflowError):
            handler.on_frame(VALID[0][2], 2**63)
        with pytest.raises(TypeError):
            handler.on_frame("not a buffer", 1)
    for stream in (pair.cy_streams[0], pair.ref_streams[0]):
        with pytest.raises(OverflowError):
            stream.go_live(2**63)
    pair.check()
    assert pair.cy.frames == 0


def test_many_streams_in_the_key_table() -> None:
    """Hundreds of keys sharing long prefixes: every one found, every other one not."""
    venue = "binance"
    keys = [b"sym%dusdt@depth@100ms" % i for i in range(300)]
    cy = fh.BinanceFrameHandler(make_streams(venue, keys, use_ref=False))
    rf = ref.BinanceFramesRef(make_streams(venue, keys, use_ref=True))
    for i, key in enumerate(keys):
        assert cy.index_of(key) == rf.index_of(key) == i
        frame = b'{"stream":"%s","data":{}}' % key
        assert cy.on_frame(frame, 1) == rf.on_frame(frame, 1) == dd.ERR_MISSING
        assert cy.last_index == rf.last_index == i
    for missing in (b"sym300usdt@depth@100ms", b"sym1usdt@depth@100m", b"", b"x" * 1000):
        assert cy.index_of(missing) == rf.index_of(missing) == -1
    assert [s.key for s in cy.streams] == keys and len(cy) == 300


def test_streams_list_is_a_copy() -> None:
    pair = live_pair("gate")
    streams = pair.cy.streams
    streams.clear()
    assert len(pair.cy.streams) == 3 and len(pair.cy) == 3


# --- divergences from the written semantics (see the module docstring of frames_ref) ---------


def test_gate_last_id_at_int64_max_skips_like_the_reference() -> None:
    """Live at last_id INT64_MAX (a full push whose u is INT64_MAX), every later update has
    u < last + 1 and is SKIPPED; the Cython computes last + 1 in int64, which wraps, and
    reports a gap instead."""
    pair = Pair("gate")
    full = gate_upd(INT64_MAX - 3, INT64_MAX, '["65000","1"]', '["65000.1","1"]', True)
    assert pair.frame(full) == fh.SNAPSHOT
    assert pair.frame(gate_upd(1, 2, '["65000","2"]')) == fh.SKIPPED


@pytest.mark.parametrize("venue", ["binance", "okx", "gate"])
def test_base_exception_in_on_book_does_not_vanish(venue: str) -> None:
    """on_book raising KeyboardInterrupt (any BaseException): CALLBACK_ERROR and the
    exception in take_error(), like any other exception; not printed and dropped with
    the frame reported OK."""
    pair = live_pair(venue)

    def on_book(instrument_id: str, book: Any, ts: int) -> None:
        raise KeyboardInterrupt("stop")

    pair.cy.on_book = pair.ref.on_book = on_book
    frame = {"binance": VALID[0][2], "okx": VALID[2][2], "gate": VALID[4][2]}[venue]
    assert pair.ref.on_frame(frame, 1) == fh.CALLBACK_ERROR
    assert isinstance(pair.ref.take_error(), KeyboardInterrupt)
    assert pair.cy.on_frame(frame, 1) == fh.CALLBACK_ERROR
    assert isinstance(pair.cy.take_error(), KeyboardInterrupt)


def test_okx_checksum_of_an_empty_or_one_sided_book() -> None:
    price, qty = SPECS["okx"][0].instrument.price_grid, SPECS["okx"][0].instrument.qty_grid
    empty, empty_ref = OrderBook(4), BookRef(4)
    assert fh.okx_checksum(empty, price, qty) == ref.okx_checksum_ref(empty_ref, price, qty) == 0
    one, one_ref = OrderBook(4), BookRef(4)
    one.set_level(BID, 650000, 1)
    one_ref.set_level(BID, 650000, 1)
    expected = ref.crc32_signed(b"65000:0.00000001")
    assert fh.okx_checksum(one, price, qty) == ref.okx_checksum_ref(one_ref, price, qty)
    assert fh.okx_checksum(one, price, qty) == expected


def test_reference_route_on_random_prefixes_is_total() -> None:
    """The reference routes never raise, whatever the bytes."""
    rng = random.Random(3)
    for _ in range(2000):
        blob = bytes(rng.getrandbits(8) for _ in range(rng.randrange(40)))
        for fn in (ref.binance_route, ref.okx_route, ref.gate_route):
            route, key = fn(blob)
            assert route in (ref.ROUTE_NONE, ref.ROUTE_DEPTH, ref.ROUTE_OTHER)
            assert isinstance(key, bytes)
