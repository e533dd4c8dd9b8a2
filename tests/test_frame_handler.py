"""engine/_core/frame_handler.pyx against its reference engine/data/frames_ref.py.

Every scenario runs the Cython handler and the reference side by side over the same frames
(a `Pair`) and compares, after each step: the status, last_index, the handler's counters,
every stream's sync state, the books (levels, stamps, counters), the on_book calls and the
error waiting in take_error(). Hand-written frames pin each status of each venue; random
sequences (hypothesis) mix in-sequence diffs, duplicates, overlaps, gaps, malformed and
truncated frames, unknown symbols, other channels, snapshots, heartbeats, bad checksums,
crossing updates, syncs and replays.
"""

from __future__ import annotations

import copy
import json
import random
import re
import tracemalloc
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine._core import depth_decode as dd
from engine._core import frame_handler as fh
from engine._core.book import ASK, BID, OrderBook, UpdateBuffer
from engine._core.fixedpoint import Grid
from engine.data import frames_ref as ref
from engine.data.book_ref import BookRef
from engine.model.instrument import Instrument

D = Decimal
BOOK_CAPACITY = 16
DECODER_CAPACITY = 64
T0_MS = 1_700_000_000_000
RECV0 = 1_700_000_000_000_000_000
SETTINGS = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- instruments and streams -----------------------------------------------------------------


def make_instrument(venue: str, symbol: str, tick: str, lot: str) -> Instrument:
    parts = re.split(r"[-_]", symbol)
    base, quote = parts if len(parts) == 2 else (symbol[:-4], symbol[-4:])
    t, q = D(tick), D(lot)
    return Instrument(symbol, venue, base, quote, t, q, q, D(0), Grid(t).exp, Grid(q).exp)


def okx_key(channel: str, inst_id: str) -> bytes:
    return b'{"arg":{"channel":"%s","instId":"%s"' % (channel.encode(), inst_id.encode())


@dataclass(frozen=True)
class Spec:
    venue: str
    symbol: str
    tick: str
    lot: str
    key: bytes
    channel: str = ""  # OKX: books / books-l2-tbt; Gate: spot.order_book_update / spot.obu

    @cached_property
    def instrument(self) -> Instrument:
        return make_instrument(self.venue, self.symbol, self.tick, self.lot)


OBU = "spot.obu"
OBUPD = "spot.order_book_update"
BINANCE = [
    Spec("binance", "BTCUSDT", "0.01", "0.00001", b"btcusdt@depth@100ms"),
    Spec("binance", "ETHUSDT", "0.05", "0.0001", b"ethusdt@depth"),
    Spec("binance", "DOGEUSDT", "0.00001", "1", b"dogeusdt@depth@100ms"),
]
OKX = [
    Spec("okx", "BTC-USDT", "0.1", "0.00000001", okx_key("books", "BTC-USDT"), "books"),
    Spec(
        "okx", "ETH-USDT", "0.01", "0.000001", okx_key("books-l2-tbt", "ETH-USDT"), "books-l2-tbt"
    ),
    Spec("okx", "SHIB-USDT", "0.00000001", "100", okx_key("books", "SHIB-USDT"), "books"),
]
GATE = [
    Spec("gate", "BTC_USDT", "0.1", "0.0001", b"BTC_USDT", OBUPD),
    Spec("gate", "ETH_USDT", "0.05", "0.001", b"ETH_USDT", OBUPD),
    Spec("gate", "SOL_USDT", "10", "0.01", b"ob.SOL_USDT.50", OBU),
]
SPECS = {"binance": BINANCE, "okx": OKX, "gate": GATE}
# depth pushes of symbols no stream has (routed, then not found)
UNKNOWN = {
    "binance": Spec("binance", "XRPUSDT", "0.0001", "0.1", b"xrpusdt@depth@100ms"),
    "okx": Spec("okx", "BTC-USDT", "0.1", "0.00000001", okx_key("books5", "BTC-USDT"), "books5"),
    "gate": Spec("gate", "XRP_USDT", "0.0001", "0.1", b"XRP_USDT", OBUPD),
}

CY_DECODER: dict[str, Any] = {
    "binance": dd.BinanceDepthDecoder,
    "okx": dd.OkxBooksDecoder,
    "gate": dd.GateDepthDecoder,
}
REF_DECODER: dict[str, Any] = {
    "binance": ref.BinanceDecoderRef,
    "okx": ref.OkxDecoderRef,
    "gate": ref.GateDecoderRef,
}
CY_HANDLER: dict[str, Any] = {
    "binance": fh.BinanceFrameHandler,
    "okx": fh.OkxFrameHandler,
    "gate": fh.GateFrameHandler,
}
REF_HANDLER: dict[str, Any] = {
    "binance": ref.BinanceFramesRef,
    "okx": ref.OkxFramesRef,
    "gate": ref.GateFramesRef,
}


# --- frames ----------------------------------------------------------------------------------

Levels = list[tuple[int, int]]
Book2 = tuple[Levels, Levels]  # (bids, asks)


def fmt(units: int, grid: Grid, pad: int = 0) -> str:
    """units on grid as a venue prints it, with `pad` extra trailing zeros."""
    text = format(D(units * grid.step_mantissa).scaleb(-grid.exp), "f")
    if pad:
        text += ("" if "." in text else ".") + "0" * pad
    return text


def rows(spec: Spec, levels: Levels, extra: int = 0) -> list[list[str]]:
    inst = spec.instrument
    out = []
    for i, (price, size) in enumerate(levels):
        row = [fmt(price, inst.price_grid, i % 2), fmt(size, inst.qty_grid)]
        out.append([*row, "0", str(i)] if extra else row)
    return out


def bn_diff(spec: Spec, first: int, last: int, ms: int, levels: Book2) -> bytes:
    bids, asks = levels
    data = {
        "e": "depthUpdate",
        "E": ms,
        "s": spec.symbol,
        "U": first,
        "u": last,
        "b": rows(spec, bids),
        "a": rows(spec, asks),
    }
    return orjson.dumps({"stream": spec.key.decode(), "data": data})


def bn_rest(spec: Spec, last: int, bids: Levels, asks: Levels) -> bytes:
    return orjson.dumps({"lastUpdateId": last, "bids": rows(spec, bids), "asks": rows(spec, asks)})


def okx_push(
    spec: Spec, action: str, ids: tuple[int, int], ms: int, levels: Book2, *, checksum: int | None
) -> bytes:
    """ids: (seqId, prevSeqId)"""
    (seq, prev), (bids, asks) = ids, levels
    data: dict[str, Any] = {
        "asks": rows(spec, asks, 2),
        "bids": rows(spec, bids, 2),
        "ts": str(ms),
    }
    if checksum is not None:
        data["checksum"] = checksum
    data.update(prevSeqId=prev, seqId=seq)
    doc = {"arg": {"channel": spec.channel, "instId": spec.symbol}, "action": action}
    return orjson.dumps({**doc, "data": [data]})


def gate_push(
    spec: Spec,
    first: int,
    last: int,
    ms: int,
    levels: Book2,
    *,
    full: bool = False,
    rng: random.Random | None = None,
) -> bytes:
    bids, asks = levels
    result: dict[str, Any] = {"t": ms, "s": spec.key.decode(), "U": first, "u": last}
    if full:
        result["full"] = True
    result.update(b=rows(spec, bids), a=rows(spec, asks))
    doc: dict[str, Any]
    if spec.channel == OBUPD:
        result.update(e="depthUpdate", E=ms // 1000, l="100")
        doc = {"time": ms // 1000, "time_ms": ms, "channel": OBUPD, "event": "update"}
        doc["result"] = result
    else:
        doc = {"channel": OBU, "result": result, "time_ms": ms + 3}
    if rng is not None:  # any member order: the route must find channel and s wherever
        doc = shuffled(doc, rng)
        doc["result"] = shuffled(doc["result"], rng)
    return orjson.dumps(doc)


def gate_rest(spec: Spec, last: int, bids: Levels, asks: Levels) -> bytes:
    return orjson.dumps(
        {
            "id": last,
            "current": T0_MS,
            "update": T0_MS,
            "asks": rows(spec, asks),
            "bids": rows(spec, bids),
        }
    )


def shuffled(d: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    keys = list(d)
    rng.shuffle(keys)
    return {k: d[k] for k in keys}


OTHER_FRAMES: dict[str, list[bytes]] = {
    "binance": [
        b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1700000000100,"s":"BTCUSDT",'
        b'"t":12345,"p":"65000.00","q":"0.001","T":1700000000099,"m":true,"M":true}}',
        b'{"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"65000.00",'
        b'"B":"1.0","a":"65000.01","A":"2.0"}}',
        b'{"stream":"btcusdt@depth5@100ms","data":{"lastUpdateId":1,"bids":[],"asks":[]}}',
        b'{"result":null,"id":1}',
        b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}',
        b' {"stream":"btcusdt@depth@100ms","data":{}}',
        b'{"stream":"btcusdt\\u0040depth@100ms","data":{}}',
        b'{"stream":"btcusdt@dep',
        b"",
        b"pong",
    ],
    "okx": [
        b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",'
        b'"tradeId":"1","px":"65000.1","sz":"0.1","side":"buy","ts":"1700000000000"}]}',
        b'{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3"}',
        b'{"event":"error","code":"60012","msg":"Invalid request","connId":"a4d3"}',
        b'{"arg":{"instId":"BTC-USDT","channel":"books"},"action":"update","data":[]}',
        b'{"arg":{"channel":"books","instId":"BTC-USD\\u0054"},"action":"update","data":[]}',
        b'{"arg":{"channel":"books","instId":"BTC-USDT-SWAP"},"action":"update","data":[]}',
        b'{"arg": {"channel":"books","instId":"BTC-USDT"},"action":"update","data":[]}',
        b'{"arg":{"channel":"books","instId":"BTC-US',
        b"pong",
        b"",
    ],
    "gate": [
        b'{"time":1700000000,"time_ms":1700000000001,"channel":"spot.trades","event":"update",'
        b'"result":{"id":1,"create_time":1700000000,"side":"buy","currency_pair":"BTC_USDT",'
        b'"amount":"0.1","price":"65000"}}',
        b'{"time":1700000000,"time_ms":1700000000001,"channel":"spot.pong","event":"",'
        b'"result":null}',
        b'{"time":1700000000,"time_ms":1700000000001,"id":1,"conn_id":"c","trace_id":"t",'
        b'"channel":"spot.order_book_update","event":"subscribe","payload":["BTC_USDT",'
        b'"100ms"],"result":{"status":"success"}}',
        b'{"result":{"s":"BTC_USDT","u":1},"channel":"spot.tickers"}',
        b'{"channel":"spot.obu","result":{"t":1,"s":5,"u":1}}',
        b'{"channel":"spot.obu","result":[{"s":"BTC_USDT"}]}',
        b'{"channel":"spot.obu","result":{}}',
        b'{"channel":"spot.order_book_update"}',
        b'{"result":{"s":"BTC_USDT"}}',
        b'[{"channel":"spot.obu"}]',
        b'{"channel":"spot.obu","result":{"s":"BTC\\u005fUSDT","u":1}}',
        b'{"chan\\u006eel":"spot.obu","result":{"s":"BTC_USDT","u":1}}',
        b'{"x":1e400,"channel":"spot.obu","result":{"s":"BTC_USDT","u":1}}',
        b"{}",
        b"",
    ],
}


def _has_duplicate_keys(frame: bytes) -> bool:
    dup = False

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal dup
        if len({k for k, _ in pairs}) != len(pairs):
            dup = True
        return dict(pairs)

    try:
        json.loads(frame, object_pairs_hook=hook)
    except ValueError:
        return False
    return dup


def maybe_stricter(frame: bytes) -> bool:
    """Frames where the scanner may refuse what orjson + depth_ref accept (documented in
    depth_ref): escapes, exponents or huge numbers, deep nesting, duplicated keys."""
    return (
        b"\\" in frame
        or re.search(rb"[0-9][eE]|[0-9]{250}", frame) is not None
        or frame.count(b"[") + frame.count(b"{") > 64
        or _has_duplicate_keys(frame)
    )


def well_formed(frame: bytes) -> bool:
    try:
        orjson.loads(frame)
    except orjson.JSONDecodeError:
        return False
    return True


GARBAGE = [b",", b"{", b"}", b"[", b"]", b'"', b"null", b"-", b"1.5", b"x", b" ", b'"b":[],']


def corrupt(frame: bytes, rng: random.Random) -> bytes:
    """A malformed or truncated version of a valid frame (never one of depth_ref's known
    lenient corners)."""
    kind = rng.randrange(7)
    pos = rng.randrange(len(frame))
    if kind == 0:
        out = frame[:pos]
    elif kind == 1:
        out = frame[:pos] + frame[pos + rng.randint(1, 8) :]
    elif kind == 2:
        out = frame[:pos] + bytes([rng.choice(b'x}],"0 :.')]) + frame[pos + 1 :]
    elif kind == 3:
        out = frame[:pos] + rng.choice(GARBAGE) + frame[pos:]
    elif kind == 4:  # one price off its grid, or a negative size
        out = re.sub(rb'\[\["[0-9.]+"', b'[["0.0000000001"', frame, count=1)
        out = out if out != frame else frame.replace(b'","', b'","-', 1)
    elif kind == 5:
        out = frame + rng.choice([frame, b"x", b"}", b",1"])
    else:  # a required key renamed
        out = re.sub(rb'"(u|seqId|ts|E|s|action)":', b'"zz":', frame, count=1)
    return frame[:pos] if maybe_stricter(out) else out


# --- the pair under test ---------------------------------------------------------------------


def assert_status(got: int, want: int, frame: bytes) -> None:
    """Equal, except that two decode errors may differ in their code, as the decoders'
    own contract allows (tests/test_depth_decode.py): orjson refuses a malformed frame as a
    whole where the scanner names the first fault it meets, and a key met both in Binance's
    envelope and in its data is DUPLICATE to the scanner, VALUE to depth_ref."""
    if got == want:
        return
    assert -80 < got < 0 and -80 < want < 0, (frame, got, want, well_formed(frame))


def book_state(book: OrderBook | BookRef) -> tuple[Any, ...]:
    return (
        book.levels(BID),
        book.levels(ASK),
        book.exchange_ts_ns,
        book.recv_ts_ns,
        book.crossed,
        book.crossed_count,
        book.dropped_levels,
        book.updates,
    )


def stream_state(s: fh.BookStream | ref.BookStreamRef) -> tuple[Any, ...]:
    return (s.state, s.live, s.last_id, s.straddle, s.applied, s.instrument_id, s.key)


class LevelRows:
    """A LevelSource (what BookRef.apply reads) over plain rows."""

    def __init__(self, bids: Levels, asks: Levels) -> None:
        self.bids, self.asks = bids, asks

    def entries(self, side: int) -> list[tuple[int, int]]:
        return self.bids if side == BID else self.asks


Log = list[tuple[Any, ...]]


class Pair:
    """The Cython handler and the reference over the same instruments and frames."""

    def __init__(
        self,
        venue: str,
        specs: Sequence[Spec] | None = None,
        *,
        verify_checksum: bool = True,
        with_on_book: bool = True,
    ) -> None:
        self.venue = venue
        self.specs = list(specs if specs is not None else SPECS[venue])
        cy_dec, ref_dec = CY_DECODER[venue], REF_DECODER[venue]
        self.cy_streams = [
            fh.BookStream(
                s.instrument,
                cy_dec.from_instrument(s.instrument, DECODER_CAPACITY),
                OrderBook(BOOK_CAPACITY),
                s.key,
            )
            for s in self.specs
        ]
        self.ref_streams = [
            ref.BookStreamRef(
                s.instrument,
                ref_dec.from_instrument(s.instrument, DECODER_CAPACITY),
                BookRef(BOOK_CAPACITY),
                s.key,
            )
            for s in self.specs
        ]
        self.cy_log: Log = []
        self.ref_log: Log = []
        self.raise_on_book = False
        kwargs = {"verify_checksum": verify_checksum} if venue == "okx" else {}
        cy_cb = self._recorder(self.cy_log) if with_on_book else None
        ref_cb = self._recorder(self.ref_log) if with_on_book else None
        self.cy = CY_HANDLER[venue](self.cy_streams, cy_cb, **kwargs)
        self.ref = REF_HANDLER[venue](self.ref_streams, ref_cb, **kwargs)
        self.recv = RECV0
        self.last_frame = b""
        self.statuses: list[int] = []

    def _recorder(self, log: Log) -> Callable[[str, Any, int], None]:
        def on_book(instrument_id: str, book: Any, ts: int) -> None:
            log.append((instrument_id, *book_state(book), ts))
            if self.raise_on_book:
                raise RuntimeError(f"on_book failed for {instrument_id}")

        return on_book

    # steps, each compared at once
    def frame(self, data: bytes, *, as_view: bool = False) -> int:
        self.recv += 1
        self.last_frame = data
        cy_frame = memoryview(bytearray(data)) if as_view else data
        got = self.cy.on_frame(cy_frame, self.recv)
        want = self.ref.on_frame(data, self.recv)
        assert_status(got, want, data)
        self.check()
        self.statuses.append(got)
        return int(got)

    def replay(self, index: int, data: bytes) -> int:
        self.recv += 1
        got = self.cy.replay(index, data, self.recv)
        want = self.ref.replay(index, data, self.recv)
        assert_status(got, want, data)
        self.check()
        return int(got)

    def publish(self, index: int) -> int:
        got = self.cy.publish(index)
        assert got == self.ref.publish(index)
        self.check()
        return int(got)

    def sync(self, index: int, rest: bytes, last_id: int, *, straddle: bool = False) -> int:
        """The caller's sync machine: decode a REST snapshot, load it, go live."""
        c, r = self.cy_streams[index], self.ref_streams[index]
        cy_dec: Any = c.decoder  # Binance or Gate: both decode REST snapshots
        ref_dec: Any = r.decoder
        assert cy_dec.decode_snapshot(rest) == ref_dec.decode_snapshot(rest) == dd.OK
        status = c.load_snapshot()
        assert status == r.load_snapshot()
        c.go_live(last_id, straddle)
        r.go_live(last_id, straddle)
        self.check()
        return int(status)

    def go_live(self, index: int, last_id: int, straddle: bool = False) -> None:
        self.cy_streams[index].go_live(last_id, straddle)
        self.ref_streams[index].go_live(last_id, straddle)
        self.check()

    def begin_sync(self, index: int) -> None:
        self.cy_streams[index].begin_sync()
        self.ref_streams[index].begin_sync()
        self.check()

    def check(self) -> None:
        cy, rf = self.cy, self.ref
        assert (cy.last_index, cy.frames, cy.skipped) == (rf.last_index, rf.frames, rf.skipped)
        assert_status(cy.last_status, rf.last_status, self.last_frame)
        if self.venue == "okx":
            assert (cy.checksums_checked, cy.last_checksum_ours) == (
                rf.checksums_checked,
                rf.last_checksum_ours,
            )
        for i, (c, r) in enumerate(zip(self.cy_streams, self.ref_streams, strict=True)):
            assert stream_state(c) == stream_state(r), i
            assert book_state(c.book) == book_state(r.book), i
        assert self.cy_log == self.ref_log
        cy_error, ref_error = cy.take_error(), rf.take_error()
        assert repr(cy_error) == repr(ref_error)

    # the venue-side view used by the generators
    def ref_book(self, index: int) -> BookRef:
        return self.ref_streams[index].book


# --- hand-written frames, one test per status per venue ----------------------------------------

BN = BINANCE[0]  # BTCUSDT, tick 0.01, lot 0.00001


def bn(first: int, last: int, bids: str = "", asks: str = "", ms: int = 1700000000100) -> bytes:
    return (
        b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":%d,"s":"BTCUSDT",'
        b'"U":%d,"u":%d,"b":[%s],"a":[%s]}}' % (ms, first, last, bids.encode(), asks.encode())
    )


BN_REST = (
    b'{"lastUpdateId":100,"bids":[["64999.99000000","1.00000000"],["64999.50","2"]],'
    b'"asks":[["65000.00000000","3.00212000"]]}'
)


def bn_live() -> Pair:
    pair = Pair("binance")
    assert pair.sync(0, BN_REST, 100) == 0
    return pair


def test_binance_other_frames() -> None:
    pair = Pair("binance")
    for frame in OTHER_FRAMES["binance"]:
        assert pair.frame(frame) == fh.OTHER
        assert pair.cy.last_index == -1
    assert pair.frame(bn_diff(UNKNOWN["binance"], 1, 2, T0_MS, ([(5, 5)], []))) == fh.OTHER
    assert pair.cy.frames == len(OTHER_FRAMES["binance"]) + 1


def test_binance_buffer_while_waiting() -> None:
    pair = Pair("binance")
    assert pair.frame(bn(101, 103, '["64999.99","0"]')) == fh.BUFFER
    assert pair.cy.last_index == 0
    assert pair.cy_streams[0].book.levels(BID) == [] and pair.cy_log == []


def test_binance_ok_stamps_and_publishes() -> None:
    pair = bn_live()
    assert pair.frame(bn(101, 103, '["64999.99","0.5"]', '["65000.01","1"]')) == fh.OK
    s = pair.cy_streams[0]
    assert (s.last_id, s.applied, s.state) == (103, 1, fh.LIVE)
    assert s.book.levels(BID) == [(6499999, 50000), (6499950, 200000)]
    assert s.book.levels(ASK) == [(6500000, 300212), (6500001, 100000)]
    assert (s.book.exchange_ts_ns, s.book.recv_ts_ns) == (1700000000100 * 10**6, pair.recv)
    assert len(pair.cy_log) == 1 and pair.cy_log[0][0] == "binance:BTCUSDT"
    assert pair.cy_log[0][-1] == 1700000000100 * 10**6
    # an overlapping diff (U <= last + 1 < u) continues the book
    assert pair.frame(bn(102, 106, '["64999.98","1"]')) == fh.OK
    assert s.last_id == 106


def test_binance_skipped() -> None:
    pair = bn_live()
    assert pair.frame(bn(90, 100, '["64999.99","7"]')) == fh.SKIPPED
    assert pair.frame(bn(1, 1)) == fh.SKIPPED
    assert pair.cy.skipped == 2 and pair.cy_streams[0].applied == 0


def test_binance_gap() -> None:
    pair = bn_live()
    assert pair.frame(bn(102, 104, '["64999.99","7"]')) == fh.ERR_GAP
    s = pair.cy_streams[0]
    assert (s.state, s.last_id) == (fh.WAITING, 100)
    assert s.book.levels(BID)[0] == (6499999, 100000)  # untouched
    assert pair.frame(bn(101, 104)) == fh.BUFFER


def test_binance_crossed() -> None:
    pair = bn_live()
    assert pair.frame(bn(101, 101, '["65000.00","1"]')) == fh.ERR_CROSSED
    assert pair.cy_streams[0].state == fh.WAITING
    assert pair.cy_streams[0].book.crossed
    assert pair.cy_log == []


def test_binance_malformed() -> None:
    pair = bn_live()
    frame = bn(101, 103, '["64999.99","0.5"]')
    assert pair.frame(frame[:-1]) == dd.ERR_JSON
    assert pair.cy_streams[0].state == fh.WAITING
    assert pair.frame(frame.replace(b'"64999.99"', b'"64999.995"')) == -2  # off grid


def test_an_event_time_with_no_ns_value_is_malformed() -> None:
    """Past the year 2262 a millisecond time has no int64 value in ns: the frame is refused
    (ERR_TIME) before anything is applied, instead of stamping a wrapped time."""
    pair = bn_live()
    last_ok = (2**63 - 1) // 10**6  # 9223372036854 ms
    assert pair.frame(bn(101, 101, '["64999.99","0.5"]', ms=last_ok)) == fh.OK
    assert pair.cy_streams[0].book.exchange_ts_ns == last_ok * 10**6
    before = pair.cy_streams[0].book.levels(BID)
    assert pair.frame(bn(102, 102, '["64999.99","0.7"]', ms=last_ok + 1)) == fh.ERR_TIME
    s = pair.cy_streams[0]
    assert s.state == fh.WAITING and s.book.levels(BID) == before
    assert pair.frame(bn(101, 101, ms=-1)) == fh.ERR_TIME  # while waiting: not buffered


@pytest.mark.parametrize("bad", [1.5, True, "1"])
def test_recv_ns_must_be_an_int(bad: object) -> None:
    pair = bn_live()
    frame = bn(101, 101, '["64999.99","0.5"]')
    with pytest.raises(TypeError):
        pair.cy.on_frame(frame, bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pair.ref.on_frame(frame, bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pair.cy.replay(0, frame, bad)  # type: ignore[arg-type]
    assert pair.cy.frames == 0


# OKX: BTC-USDT, tick 0.1, lot 0.00000001

OKX_SNAP = (
    b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":'
    b'[["65000.1","0.5","0","3"],["65000.2","1.2","0","1"]],"bids":[["65000","0.3","0","2"],'
    b'["64999.9","2","0","5"]],"ts":"1700000000000","checksum":%d,"prevSeqId":-1,'
    b'"seqId":123456}]}'
)


def okx_upd(prev: int, seq: int, bids: str = "", asks: str = "", checksum: int = 0) -> bytes:
    return (
        b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[%s],'
        b'"bids":[%s],"ts":"1700000000100","checksum":%d,"prevSeqId":%d,"seqId":%d}]}'
        % (asks.encode(), bids.encode(), checksum, prev, seq)
    )


def crc(text: str) -> int:
    return ref.crc32_signed(text.encode())


SNAP_CRC = crc("65000:0.3:65000.1:0.5:64999.9:2:65000.2:1.2")


def okx_live(**kwargs: Any) -> Pair:
    pair = Pair("okx", **kwargs)
    assert pair.frame(OKX_SNAP % SNAP_CRC) == fh.SNAPSHOT
    return pair


def test_okx_snapshot_goes_live_without_on_book() -> None:
    pair = okx_live()
    s = pair.cy_streams[0]
    assert (s.state, s.last_id, s.applied) == (fh.LIVE, 123456, 1)
    assert s.book.levels(ASK) == [(650001, 50000000), (650002, 120000000)]
    assert (s.book.exchange_ts_ns, s.book.recv_ts_ns) == (1700000000000 * 10**6, pair.recv)
    assert pair.cy_log == []
    assert pair.cy.checksums_checked == 1


def test_okx_update_ok_with_checksum() -> None:
    pair = okx_live()
    ours = crc("65000:0.8:65000.2:1.2:64999.9:2")
    frame = okx_upd(123456, 123460, '["65000","0.8","0","3"]', '["65000.1","0","0","0"]', ours)
    assert pair.frame(frame) == fh.OK
    assert pair.cy_streams[0].last_id == 123460
    assert pair.cy.checksums_checked == 2 and len(pair.cy_log) == 1


def test_okx_update_skipped_while_waiting() -> None:
    pair = Pair("okx")
    assert pair.frame(okx_upd(5, 6, '["65000","0.8","0","3"]')) == fh.SKIPPED
    assert pair.cy.skipped == 1 and pair.cy.last_index == 0


def test_okx_heartbeat_advances_seq() -> None:
    pair = okx_live()
    assert pair.frame(okx_upd(123456, 123456, checksum=SNAP_CRC)) == fh.SKIPPED
    assert pair.frame(okx_upd(123456, 123457)) == fh.SKIPPED
    s = pair.cy_streams[0]
    assert (s.last_id, s.applied, s.state) == (123457, 1, fh.LIVE)
    assert pair.cy.checksums_checked == 2


def test_okx_gap() -> None:
    pair = okx_live()
    assert pair.frame(okx_upd(123455, 123460, '["65000","0.8","0","3"]')) == fh.ERR_GAP
    assert pair.cy_streams[0].state == fh.WAITING


def test_okx_crossed_update_and_snapshot() -> None:
    pair = okx_live()
    assert pair.frame(okx_upd(123456, 123457, '["65000.1","1","0","1"]')) == fh.ERR_CROSSED
    assert pair.cy_streams[0].state == fh.WAITING
    crossed = OKX_SNAP.replace(b'["65000","0.3"', b'["65000.1","0.3"') % 0
    assert pair.frame(crossed) == fh.ERR_CROSSED
    assert pair.cy_streams[0].state == fh.WAITING


def test_okx_bad_checksum() -> None:
    pair = okx_live()
    frame = okx_upd(123456, 123457, '["65000","0.8","0","3"]', checksum=SNAP_CRC)
    assert pair.frame(frame) == fh.ERR_CHECKSUM
    assert pair.cy.last_checksum_ours == crc("65000:0.8:65000.1:0.5:64999.9:2:65000.2:1.2")
    assert pair.cy_streams[0].state == fh.WAITING
    assert pair.frame(OKX_SNAP % (SNAP_CRC ^ 1)) == fh.ERR_CHECKSUM
    assert pair.cy.last_checksum_ours == SNAP_CRC
    assert SNAP_CRC == 2133728183  # the example's own checksum (test_depth_decode.py)
    assert pair.frame(OKX_SNAP % (SNAP_CRC - 2**32)) == fh.ERR_CHECKSUM  # same bits, not int32


def test_okx_checksum_zero_or_disabled_is_not_compared() -> None:
    pair = okx_live()
    assert pair.frame(okx_upd(123456, 123457, '["65000","0.8","0","3"]', checksum=0)) == fh.OK
    assert pair.cy.checksums_checked == 1
    off = okx_live(verify_checksum=False)
    assert off.cy.checksums_checked == 0 and not off.cy.verify_checksum
    assert off.frame(okx_upd(123456, 123457, '["65000","0.8","0","3"]', checksum=7)) == fh.OK


def test_okx_other_frames() -> None:
    pair = okx_live()
    for frame in OTHER_FRAMES["okx"]:
        assert pair.frame(frame) == fh.OTHER
    assert pair.cy_streams[0].state == fh.LIVE


def test_okx_malformed() -> None:
    pair = okx_live()
    assert pair.frame(okx_upd(123456, 123457).replace(b'"ts":"1700000000100"', b'"ts":7')) == (
        dd.ERR_TYPE
    )
    assert pair.cy_streams[0].state == fh.WAITING


# Gate: BTC_USDT (order_book_update), SOL_USDT (obu, key ob.SOL_USDT.50, tick 10)


def gate_upd(first: int, last: int, bids: str = "", asks: str = "", full: bool = False) -> bytes:
    return (
        b'{"time":1700000000,"time_ms":1700000000236,"channel":"spot.order_book_update",'
        b'"event":"update","result":{"t":1700000000123,%s"l":"100","e":"depthUpdate",'
        b'"E":1700000000,"s":"BTC_USDT","U":%d,"u":%d,"b":[%s],"a":[%s]}}'
        % (b'"full":true,' if full else b"", first, last, bids.encode(), asks.encode())
    )


def gate_obu(first: int, last: int, bids: str = "", asks: str = "", full: bool = False) -> bytes:
    return (
        b'{"channel":"spot.obu","result":{"t":1747054612695,%s"s":"ob.SOL_USDT.50","U":%d,'
        b'"u":%d,"b":[%s],"a":[%s]},"time_ms":1747054612925}'
        % (b'"full":true,' if full else b"", first, last, bids.encode(), asks.encode())
    )


GATE_REST = (
    b'{"id":1000,"current":1700000000300,"update":1700000000299,'
    b'"asks":[["65000.1","0.4"]],"bids":[["65000","0.8"],["64999.9","1.5"]]}'
)


def test_gate_full_push_is_a_snapshot() -> None:
    pair = Pair("gate")
    assert pair.frame(gate_upd(990, 1005, '["65000","0.8"]', '["65000.1","0.4"]', True)) == (
        fh.SNAPSHOT
    )
    s = pair.cy_streams[0]
    assert (s.state, s.last_id, s.straddle, s.applied) == (fh.LIVE, 1005, False, 1)
    assert s.book.exchange_ts_ns == 1700000000123 * 10**6 and pair.cy_log == []
    assert pair.frame(gate_obu(0, 50, '["5000","1"]', '["5010","2"]', True)) == fh.SNAPSHOT
    assert pair.cy_streams[2].book.levels(BID) == [(500, 100)]


def test_gate_waiting_buffers_updates_and_skips_obu() -> None:
    pair = Pair("gate")
    assert pair.frame(gate_upd(1, 2, '["65000","0.8"]')) == fh.BUFFER
    assert pair.frame(gate_obu(1, 2, '["5000","1"]')) == fh.SKIPPED
    assert pair.cy.last_index == 2


def test_gate_straddle_after_rest_snapshot() -> None:
    pair = Pair("gate")
    pair.sync(0, GATE_REST, 1000, straddle=True)
    assert pair.frame(gate_upd(995, 1000, '["65000","9"]')) == fh.SKIPPED  # u < 1001
    assert pair.frame(gate_upd(998, 1003, '["65000","0.7"]')) == fh.OK  # straddles 1001
    s = pair.cy_streams[0]
    assert (s.last_id, s.straddle, s.applied) == (1003, False, 1)
    assert pair.frame(gate_upd(1003, 1006)) == fh.ERR_GAP  # no straddle any more: U == 1004
    assert s.state == fh.WAITING


def test_gate_ok_and_gap() -> None:
    pair = Pair("gate")
    pair.sync(0, GATE_REST, 1000)
    assert pair.frame(gate_upd(1001, 1001, '["64999.9","0"]')) == fh.OK
    assert pair.cy_streams[0].book.levels(BID) == [(650000, 8000)]
    assert pair.frame(gate_upd(1003, 1004)) == fh.ERR_GAP


def test_gate_crossed() -> None:
    pair = Pair("gate")
    pair.sync(0, GATE_REST, 1000)
    assert pair.frame(gate_upd(1001, 1002, asks='["65000","1"]')) == fh.ERR_CROSSED
    assert pair.cy_streams[0].state == fh.WAITING


def test_gate_other_frames_and_member_order() -> None:
    pair = Pair("gate")
    for frame in OTHER_FRAMES["gate"]:
        assert pair.frame(frame) == fh.OTHER
    # result before channel, "s" after other members: still routed
    late = (
        b'{"result":{"t":1,"x":[1,{"y":null}],"U":1,"u":2,"s":"BTC_USDT","b":[],"a":[]},'
        b'"time":1,"channel":"spot.order_book_update","event":"update"}'
    )
    assert pair.frame(late) == fh.BUFFER and pair.cy.last_index == 0


def test_gate_malformed() -> None:
    pair = Pair("gate")
    pair.sync(0, GATE_REST, 1000)
    assert pair.frame(gate_upd(1001, 1002).replace(b'"u":1002,', b"")) == dd.ERR_MISSING
    assert pair.cy_streams[0].state == fh.WAITING


# --- on_book errors, replay, publish ---------------------------------------------------------


@pytest.mark.parametrize("venue", ["binance", "okx", "gate"])
def test_on_book_raising_gives_callback_error(venue: str) -> None:
    errors: list[Exception] = []

    def on_book(instrument_id: str, book: Any, ts: int) -> None:
        errors.append(ValueError(f"boom {instrument_id} {ts}"))
        raise errors[-1]

    spec = SPECS[venue][0]
    book = OrderBook(BOOK_CAPACITY)
    stream = fh.BookStream(
        spec.instrument, CY_DECODER[venue].from_instrument(spec.instrument, 8), book, spec.key
    )
    handler = CY_HANDLER[venue]([stream], on_book)
    if venue == "binance":
        stream.go_live(100)
        frame = bn(101, 101, '["64999.99","1"]')
    elif venue == "okx":
        assert handler.on_frame(OKX_SNAP % 0, 1) == fh.SNAPSHOT
        frame = okx_upd(123456, 123457, '["65000","0.8","0","3"]')
    else:
        stream.go_live(1000)
        frame = gate_upd(1001, 1001, '["65000","1"]')
    assert handler.on_frame(frame, 5) == fh.CALLBACK_ERROR
    assert handler.last_status == fh.CALLBACK_ERROR
    error = handler.take_error()
    assert error is errors[-1]
    assert handler.take_error() is None
    # the frame was applied all the same
    assert stream.live and stream.applied >= 1 and book.recv_ts_ns == 5
    assert handler.publish(0) == fh.CALLBACK_ERROR
    assert handler.take_error() is errors[-1] and len(errors) == 2
    handler.on_book = None
    assert handler.publish(0) == fh.OK


@pytest.mark.parametrize("venue", ["binance", "okx", "gate"])
def test_publish_and_reference_agree(venue: str) -> None:
    pair = Pair(venue)
    pair.go_live(1, 7)
    assert pair.publish(1) == fh.OK
    pair.raise_on_book = True
    assert pair.publish(1) == fh.CALLBACK_ERROR
    assert pair.cy_log[-1][-1] == 0  # never stamped: exchange_ts_ns 0


def test_replay_after_sync_applies_buffered_frames_without_on_book() -> None:
    pair = Pair("binance")
    kept = [bn(95, 99, '["64999.99","4"]'), bn(100, 102, '["64999.98","1"]'), bn(103, 104)]
    for frame in kept:
        assert pair.frame(frame) == fh.BUFFER
    pair.sync(0, BN_REST, 100)
    assert [pair.replay(0, f) for f in kept] == [fh.SKIPPED, fh.OK, fh.OK]
    s = pair.cy_streams[0]
    assert (s.last_id, s.applied, pair.cy.frames, pair.cy.skipped) == (104, 2, 3, 0)
    assert pair.cy.last_status == fh.BUFFER  # replay leaves the last frame's status
    assert pair.cy_log == []
    assert pair.publish(0) == fh.OK and len(pair.cy_log) == 1
    assert pair.replay(0, bn(110, 111)) == fh.ERR_GAP
    assert pair.replay(0, b"{") == dd.ERR_JSON


# --- OKX checksum ----------------------------------------------------------------------------


def book_of(bids: Levels, asks: Levels, capacity: int = 64) -> tuple[OrderBook, BookRef]:
    cy, rf = OrderBook(capacity), BookRef(capacity)
    buf = LevelRows(bids, asks)
    ub = UpdateBuffer(max(1, len(bids) + len(asks)))
    for side, levels in ((BID, bids), (ASK, asks)):
        for p, s in levels:
            ub.push(side, p, s)
    cy.load_snapshot(ub)
    rf.load_snapshot(buf)
    return cy, rf


def test_okx_checksum_published_example() -> None:
    """OKX's API docs (books channel, "Checksum"): bids [3366.1, 7], asks [3366.8, 9],
    [3368, 8], [3372, 8] give the string "3366.1:7:3366.8:9:3368:8:3372:8", whose CRC32 is
    831078360 (also asserted by bmoscon/orderbook tests/test_checksums.py)."""
    price, qty = Grid("0.1"), Grid("1")
    cy, rf = book_of([(33661, 7)], [(33668, 9), (33680, 8), (33720, 8)])
    assert fh.okx_checksum(cy, price, qty) == 831078360
    assert ref.okx_checksum_ref(rf, price, qty) == 831078360
    # the docs' other example (both sides deeper), hand-computed with zlib
    cy, rf = book_of([(432311, 4), (432310, 6)], [(432328, 9), (432329, 8)])
    expected = zlib.crc32(b"43231.1:4:43232.8:9:43231:6:43232.9:8") - 2**32
    assert expected == -1504501796
    assert fh.okx_checksum(cy, price, qty) == ref.okx_checksum_ref(rf, price, qty) == expected


def okx_text(units: int, step: str) -> str:
    return format((units * D(step)).normalize(), "f")


def test_okx_checksum_formatting_and_depth() -> None:
    """Trailing zeros and points go, integer grids keep their zeros, 25 levels only."""
    price, qty = Grid("0.01"), Grid("0.00000100")
    bids = [(6500000 - i, 10 * (i + 1)) for i in range(30)]
    asks = [(6500010, 1000000), (6500100, 1)]
    cy, rf = book_of(bids, asks)
    parts: list[str] = []
    for i in range(25):
        for levels in (bids, asks):
            if i < len(levels):
                parts += [okx_text(levels[i][0], "0.01"), okx_text(levels[i][1], "0.000001")]
    assert parts[:6] == ["65000", "0.00001", "65000.1", "1", "64999.99", "0.00002"]
    assert fh.okx_checksum(cy, price, qty) == ref.okx_checksum_ref(rf, price, qty)
    assert fh.okx_checksum(cy, price, qty) == crc(":".join(parts))
    assert fh.okx_checksum(cy, price, qty, 1) == crc("65000:0.00001:65000.1:1")
    assert fh.okx_checksum(cy, price, qty, 0) == ref.okx_checksum_ref(rf, price, qty, 0) == 0
    tens = Grid("10")
    cy, rf = book_of([(7, 20)], [(9, 3)])
    assert fh.okx_checksum(cy, tens, tens) == crc("70:200:90:30")
    assert ref.okx_checksum_ref(rf, tens, tens) == crc("70:200:90:30")
    with pytest.raises(ValueError):
        fh.okx_checksum(cy, tens, tens, -1)
    with pytest.raises(ValueError):
        ref.okx_checksum_ref(rf, tens, tens, -1)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 10**12), st.integers(1, 10**12)), max_size=40),
    st.lists(st.tuples(st.integers(1, 10**12), st.integers(1, 10**12)), max_size=40),
    st.sampled_from(["0.1", "0.01", "0.00000001", "0.5", "25", "1", "0.0000025"]),
    st.sampled_from(["1", "0.001", "0.00000001", "100", "0.05"]),
    st.integers(0, 40),
)
def test_okx_checksum_differential(
    bids: Levels, asks: Levels, tick: str, lot: str, depth: int
) -> None:
    price, qty = Grid(tick), Grid(lot)
    cy, rf = book_of(bids, asks)
    assert cy.levels(BID) == rf.levels(BID)
    assert fh.okx_checksum(cy, price, qty, depth) == ref.okx_checksum_ref(rf, price, qty, depth)


# --- random sequences, both implementations side by side -------------------------------------


@dataclass
class VenueSide:
    """What the venue has sent for one stream: its sequence and its recent frames."""

    seq: int
    mid: int = 50_000
    history: list[bytes] = field(default_factory=list)
    buffered: list[bytes] = field(default_factory=list)


def size_of(rng: random.Random, allow_zero: bool = True) -> int:
    return 0 if allow_zero and rng.random() < 0.25 else rng.randint(1, 10**6)


def levels_of(
    rng: random.Random, side: VenueSide, n: int = 5, snap: bool = False
) -> tuple[Levels, Levels]:
    bids = [
        (side.mid - rng.randint(1, 30), size_of(rng, not snap)) for _ in range(rng.randint(0, n))
    ]
    asks = [
        (side.mid + rng.randint(1, 30), size_of(rng, not snap)) for _ in range(rng.randint(0, n))
    ]
    return bids, asks


def crossing(rng: random.Random, side: VenueSide, bids: Levels, asks: Levels) -> None:
    if rng.random() < 0.5:
        bids.append((side.mid + rng.randint(0, 3), rng.randint(1, 100)))
    else:
        asks.append((side.mid - rng.randint(0, 3), rng.randint(1, 100)))


ACTIONS = (
    ["next"] * 8
    + ["overlap", "overlap", "dup", "stale", "gap", "gap", "cross", "malformed", "malformed"]
    + ["unknown", "other", "other", "sync", "sync", "begin_sync", "publish", "raise", "replay"]
    + ["go_live", "view", "snapshot", "snapshot", "heartbeat", "heartbeat", "bad_checksum"]
)
STEPS = st.lists(
    st.tuples(st.sampled_from(ACTIONS), st.integers(0, 2), st.integers(0, 2**32 - 1)),
    min_size=8,
    max_size=60,
)


class Scenario:
    """Drives a Pair with venue-like traffic for one venue."""

    def __init__(self, venue: str, seed: int) -> None:
        self.venue = venue
        self.pair = Pair(venue, verify_checksum=seed % 5 != 0, with_on_book=seed % 7 != 0)
        self.sides = [VenueSide(seq=1000 * (i + 1)) for i in range(len(self.pair.specs))]
        self.ms = T0_MS
        rng = random.Random(seed)
        for i in range(len(self.sides)):  # start mostly live, as after a first sync
            if rng.random() < 0.2:
                continue
            if venue == "okx":
                self.snapshot(i, rng)
            else:
                self.sync(i, rng)

    # frame builders on the venue side
    def diff(self, i: int, rng: random.Random, ids: tuple[int, int], levels: Book2) -> bytes:
        """ids: (U, u)"""
        spec, side = self.pair.specs[i], self.sides[i]
        self.ms += 1
        if self.venue == "binance":
            frame = bn_diff(spec, *ids, self.ms, levels)
        else:
            frame = gate_push(spec, *ids, self.ms, levels, rng=rng)
        side.history = [*side.history[-7:], frame]
        return frame

    def okx_frame(
        self,
        i: int,
        rng: random.Random,
        action: str,
        ids: tuple[int, int],
        levels: Book2,
        *,
        bad: bool = False,
    ) -> bytes:
        """ids: (seqId, prevSeqId); the checksum is right, absent or (bad) wrong."""
        spec, side = self.pair.specs[i], self.sides[i]
        bids, asks = levels
        book = (
            BookRef(BOOK_CAPACITY) if action == "snapshot" else copy.deepcopy(self.pair.ref_book(i))
        )
        (book.load_snapshot if action == "snapshot" else book.apply)(LevelRows(bids, asks))
        checksum: int | None = ref.okx_checksum_ref(
            book, spec.instrument.price_grid, spec.instrument.qty_grid
        )
        roll = rng.random()
        if bad or roll < 0.1:
            checksum = (checksum or 0) ^ (1 << rng.randrange(31))
        elif roll < 0.25:
            checksum = None
        self.ms += 1
        frame = okx_push(spec, action, ids, self.ms, levels, checksum=checksum)
        side.history = [*side.history[-7:], frame]
        return frame

    def next_frame(
        self, i: int, rng: random.Random, *, cross: bool = False, bad: bool = False
    ) -> bytes:
        side = self.sides[i]
        bids, asks = levels_of(rng, side)
        if cross:
            crossing(rng, side, bids, asks)
        if self.venue == "okx":
            prev, side.seq = side.seq, side.seq + rng.randint(1, 3)
            return self.okx_frame(i, rng, "update", (side.seq, prev), (bids, asks), bad=bad)
        first = side.seq + 1
        side.seq = first + rng.randint(0, 3)
        return self.diff(i, rng, (first, side.seq), (bids, asks))

    # the caller's side
    def sync(self, i: int, rng: random.Random) -> None:
        spec, side = self.pair.specs[i], self.sides[i]
        last = max(0, side.seq - rng.randint(0, 3))
        bids, asks = levels_of(rng, side, 8, snap=True)
        rest = (bn_rest if self.venue == "binance" else gate_rest)(spec, last, bids, asks)
        self.pair.sync(i, rest, last, straddle=self.venue == "gate")
        for frame in side.buffered:
            self.pair.replay(i, frame)
        side.buffered.clear()
        self.pair.publish(i)

    def snapshot(self, i: int, rng: random.Random) -> None:
        side = self.sides[i]
        side.seq += rng.randint(0, 5)
        levels = levels_of(rng, side, 8, snap=True)
        if rng.random() < 0.15:
            crossing(rng, side, *levels)
        self.send(i, self.okx_frame(i, rng, "snapshot", (side.seq, -1), levels), rng)

    def send(self, i: int, frame: bytes, rng: random.Random, as_view: bool = False) -> None:
        status = self.pair.frame(frame, as_view=as_view)
        if status == fh.BUFFER:
            self.sides[i].buffered.append(frame)

    def step(self, action: str, i: int, seed: int) -> None:
        rng = random.Random(seed)
        i %= len(self.sides)
        side, spec, venue = self.sides[i], self.pair.specs[i], self.venue
        if action in ("next", "view"):
            self.send(i, self.next_frame(i, rng), rng, as_view=action == "view")
        elif action == "cross":
            self.send(i, self.next_frame(i, rng, cross=True), rng)
        elif action == "bad_checksum" and venue == "okx":
            self.send(i, self.next_frame(i, rng, bad=True), rng)
        elif action == "gap":
            side.seq += rng.randint(1, 4)
            self.send(i, self.next_frame(i, rng), rng)
        elif action == "overlap" and venue != "okx":
            first = max(1, side.seq - rng.randint(0, 3))
            side.seq += rng.randint(1, 3)
            self.send(i, self.diff(i, rng, (first, side.seq), levels_of(rng, side)), rng)
        elif action == "stale" and venue != "okx":
            last = max(1, side.seq - rng.randint(0, 5))
            frame = self.diff(
                i, rng, (max(1, last - rng.randint(0, 3)), last), levels_of(rng, side)
            )
            self.send(i, frame, rng)
        elif action in ("dup", "overlap", "stale") and side.history:
            self.send(i, rng.choice(side.history), rng)
        elif action == "malformed":
            self.send(i, corrupt(self.next_frame(i, rng), rng), rng)
        elif action == "unknown":
            other = UNKNOWN[venue]
            levels = levels_of(rng, side)
            if venue == "binance":
                frame = bn_diff(other, 1, 2, self.ms, levels)
            elif venue == "okx":
                frame = okx_push(other, "update", (2, 1), self.ms, levels, checksum=None)
            else:
                frame = gate_push(other, 1, 2, self.ms, levels, rng=rng)
            self.send(i, frame, rng)
        elif action == "other":
            self.send(i, rng.choice(OTHER_FRAMES[venue]), rng)
        elif action == "sync" and venue != "okx":
            self.sync(i, rng)
        elif action in ("sync", "snapshot") and venue == "okx":
            self.snapshot(i, rng)
        elif action == "snapshot" and venue == "gate":  # a full push
            side.seq += rng.randint(0, 5)
            bids, asks = levels_of(rng, side, 8, snap=True)
            if rng.random() < 0.2:
                crossing(rng, side, bids, asks)
            self.ms += 1
            frame = gate_push(
                spec, side.seq - 3, side.seq, self.ms, (bids, asks), full=True, rng=rng
            )
            self.send(i, frame, rng)
        elif action == "heartbeat" and venue == "okx":
            if rng.random() < 0.5:
                side.seq += 1  # a heartbeat that skips a seqId is a gap
            self.send(i, self.okx_frame(i, rng, "update", (side.seq, side.seq), ([], [])), rng)
        elif action == "begin_sync":
            self.pair.begin_sync(i)
        elif action == "publish":
            self.pair.publish(i)
        elif action == "raise":
            self.pair.raise_on_book = not self.pair.raise_on_book
        elif action == "replay" and side.history:
            self.pair.replay(i, rng.choice(side.history))
        elif action == "go_live":
            self.pair.go_live(i, side.seq, rng.random() < 0.5 and venue == "gate")
        else:
            self.send(i, self.next_frame(i, rng), rng)


def run_scenario(venue: str, seed: int, steps: list[tuple[str, int, int]]) -> Scenario:
    scenario = Scenario(venue, seed)
    for action, index, step_seed in steps:
        scenario.step(action, index, step_seed)
    return scenario


@SETTINGS
@given(st.integers(0, 2**32 - 1), STEPS)
def test_binance_random_sequences(seed: int, steps: list[tuple[str, int, int]]) -> None:
    run_scenario("binance", seed, steps)


@SETTINGS
@given(st.integers(0, 2**32 - 1), STEPS)
def test_okx_random_sequences(seed: int, steps: list[tuple[str, int, int]]) -> None:
    run_scenario("okx", seed, steps)


@SETTINGS
@given(st.integers(0, 2**32 - 1), STEPS)
def test_gate_random_sequences(seed: int, steps: list[tuple[str, int, int]]) -> None:
    run_scenario("gate", seed, steps)


@pytest.mark.parametrize("venue", ["binance", "okx", "gate"])
def test_random_sequences_reach_every_status(venue: str) -> None:
    """The generators are worth their name: long runs meet every status the venue has."""
    seen: set[int] = set()
    rng = random.Random(7)
    for seed in range(12):
        scenario = Scenario(venue, seed)
        for _ in range(150):
            scenario.step(rng.choice(ACTIONS), rng.randrange(3), rng.getrandbits(32))
        seen.update(scenario.pair.statuses)
    expected = {fh.OK, fh.SKIPPED, fh.OTHER, fh.CALLBACK_ERROR, fh.ERR_GAP, fh.ERR_CROSSED}
    expected |= {dd.ERR_JSON}
    expected |= {
        "binance": {fh.BUFFER},
        "okx": {fh.SNAPSHOT, fh.ERR_CHECKSUM},
        "gate": {fh.BUFFER, fh.SNAPSHOT},
    }[venue]
    assert expected <= seen, expected - seen


# --- no allocation in steady state -----------------------------------------------------------


def steady_frames(venue: str, n: int) -> tuple[Any, list[bytes]]:
    """A live handler and n in-sequence frames for it, built before measuring: the best bid
    alternates between two sizes (so OKX's checksum alternates between two values)."""
    spec = SPECS[venue][0]
    stream = fh.BookStream(
        spec.instrument,
        CY_DECODER[venue].from_instrument(spec.instrument, 16),
        OrderBook(64),
        spec.key,
    )
    handler = CY_HANDLER[venue]([stream], lambda instrument_id, book, ts: None)
    grids = (spec.instrument.price_grid, spec.instrument.qty_grid)
    checksum = {
        size: fh.okx_checksum(book_of([(50_000, size)], [(50_001, 3)])[0], *grids)
        for size in (1, 2)
    }
    frames: list[bytes] = []
    for k in range(1, n + 1):
        bids, asks = [(50_000, k % 2 + 1)], [(50_001, 3)]
        if venue == "binance":
            frames.append(bn_diff(spec, k, k, T0_MS + k, (bids, asks)))
        elif venue == "gate":
            frames.append(gate_push(spec, k, k, T0_MS + k, (bids, asks)))
        else:
            frames.append(
                okx_push(
                    spec, "update", (k, k - 1), T0_MS + k, (bids, []), checksum=checksum[k % 2 + 1]
                )
            )
    if venue == "okx":
        snap = okx_push(
            spec, "snapshot", (0, -1), T0_MS, ([(50_000, 1)], [(50_001, 3)]), checksum=checksum[1]
        )
        assert handler.on_frame(snap, 1) == fh.SNAPSHOT
    else:
        stream.go_live(0)
    return handler, frames


def test_steady_state_allocates_nothing() -> None:
    """100k frames through on_frame (route, decode, rule, checksum, apply, stamp, on_book)
    leave the traced memory where it was."""
    sizes = {"binance": 34_000, "okx": 33_000, "gate": 33_000}
    runs = {venue: steady_frames(venue, n + 1000) for venue, n in sizes.items()}
    for handler, frames in runs.values():  # warm up: first calls may cache
        for frame in frames[:1000]:
            assert handler.on_frame(frame, RECV0) == fh.OK
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for handler, frames in runs.values():
            for frame in frames[1000:]:
                handler.on_frame(frame, RECV0)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 2048
    for venue, (handler, frames) in runs.items():
        assert handler.last_status == fh.OK and handler.skipped == 0
        assert handler.stream(0).applied == len(frames) + (venue == "okx")
    assert runs["okx"][0].checksums_checked == sizes["okx"] + 1001
