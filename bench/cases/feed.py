"""Feed-frame cases: one venue depth frame as bytes in hand -> `FrameHandler.on_frame` (route,
decode, sequence check, apply, stamp) -> the registered on_book called, beside the naive path.

The frames are a bench.workload stream (see its docstring for the shape): a realistic snapshot
(Binance 1,000 levels a side, OKX 400, Gate 100), then 10,000 consecutive diffs, played in
order so each applies to the book the previous ones left. Candidate and baseline play the same
frames in the same order, each on its own book; after the last frame each side goes back to
the snapshot and starts over. The runner times whole batches, so a restart falls inside a
timed batch (the first of every tenth: the sequence is ten batches long); to keep its cost out
of the figures each side holds SPARES books loaded from the snapshot in advance, and a restart
takes the next one (a swap). A full run needs 33; once they are used up (pytest-benchmark's
many rounds) a restart reloads in place, inside the batch: about 0.1 ms for Binance's 2 x
1,000 levels, against ~1 ms for the batch.

Before timing, each case plays the whole sequence once on both sides and checks that every
frame was applied and published, and that both books end where the generator's did.

The baseline is the naive path: orjson.loads, the routing key looked up in a dict, the venue's
sequence rule in Python, `Decimal` of every price and size (exact, as money must be; keys of a
dict book per side, size 0 deletes), then the same Python on_book. It keeps no sorted view and
does not check for a crossed book, so it is, if anything, flattered.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

from bench.runner import Ops, Pair, case
from bench.workload import FRAMES, Workload, generate
from engine._core.book import ASK, BID, OrderBook, UpdateBuffer
from engine._core.depth_decode import (
    OK,
    BinanceDepthDecoder,
    DepthDecoder,
    GateDepthDecoder,
    OkxBooksDecoder,
)
from engine._core.frame_handler import (
    SNAPSHOT,
    BinanceFrameHandler,
    BookStream,
    FrameHandler,
    GateFrameHandler,
    OkxFrameHandler,
)
from engine.data.feed import FeedOptions

CAPACITY = FeedOptions().book_capacity  # levels a book keeps (the engine's default, 1000)
BATCH = 1000  # frames a timed sample; FRAMES is a whole number of batches
RECV_NS = 1_700_000_000_123_456_789  # the receive time passed with every frame
NS_PER_MS = 1_000_000
CHECK_LEVELS = 50  # top levels compared with the generator's book after a full pass
CHECKSUM_DEPTH = 25
# books synced in advance on each side, one taken at each restart: 33 restarts in a full run
# (330 batches of 1,000 frames over 10,000 frames) plus the check pass
SPARES = 36

NAIVE_OK = 0
NAIVE_SKIPPED = 1
NAIVE_OTHER = 2
NAIVE_GAP = -1
NAIVE_CHECKSUM = -2

OnBook = Callable[[str, Any, int], object]


def _on_book_sink() -> OnBook:
    """The trivial on_book both sides call while timed: it keeps the book's timestamp."""
    last = [0]

    def on_book(instrument_id: str, book: object, timestamp_ns: int) -> None:
        last[0] = timestamp_ns

    return on_book


def _player(
    frames: list[bytes], run: Callable[[list[bytes]], None], restart: Callable[[], None]
) -> Ops:
    """n frames per call, continuing where the last call stopped; at the end of the
    sequence, `restart()` (the book back to the snapshot) and from the first frame again."""
    end = len(frames)
    pos = 0

    def ops(n: int) -> None:
        nonlocal pos
        while n > 0:
            if pos == end:
                restart()
                pos = 0
            take = min(n, end - pos)
            run(frames[pos : pos + take])
            pos += take
            n -= take

    return ops


# ------------------------------------------------------------------------------ candidate


class _Candidate:
    """One stream on a venue's FrameHandler, synced on the workload's snapshot, and SPARES
    more handlers already synced, so that a restart is a swap rather than a reload."""

    def __init__(self, w: Workload, on_book: OnBook) -> None:
        self.w = w
        self.on_book = on_book
        inst = w.instrument
        decoder: DepthDecoder
        if w.venue == "binance":
            decoder = BinanceDepthDecoder.from_instrument(inst, CAPACITY)
        elif w.venue == "okx":
            decoder = OkxBooksDecoder.from_instrument(inst, CAPACITY)
        else:
            decoder = GateDepthDecoder.from_instrument(inst, CAPACITY)
        self.decoder = decoder  # one decoder serves every handler: one plays at a time
        self.handler, self.stream = self._handler()
        # the first sync the way the feeds do it
        if isinstance(decoder, OkxBooksDecoder):
            status = self.handler.on_frame(w.snapshot, RECV_NS)
            if status != SNAPSHOT:
                raise AssertionError(f"okx snapshot frame: status {status}")
        else:
            assert isinstance(decoder, BinanceDepthDecoder | GateDepthDecoder)
            if decoder.decode_snapshot(w.snapshot) != OK:
                raise AssertionError(f"{w.venue} snapshot: status {decoder.last_status}")
            if self.stream.load_snapshot() != OK:
                raise AssertionError(f"{w.venue} snapshot does not load")
            self.stream.go_live(decoder.last_update_id)
        if not self.stream.live or self.stream.last_id != w.snapshot_id:
            raise AssertionError(f"{w.venue}: not live at the snapshot: {self.stream!r}")
        # the snapshot decoded once more and kept, to load the spares from
        keep = type(decoder).from_instrument(inst, CAPACITY)
        if isinstance(keep, OkxBooksDecoder):
            status = keep.decode(w.snapshot)
        else:
            assert isinstance(keep, BinanceDepthDecoder | GateDepthDecoder)
            status = keep.decode_snapshot(w.snapshot)
        if status != OK:
            raise AssertionError(f"{w.venue} snapshot: status {status}")
        self.snapshot: UpdateBuffer = keep.buffer
        self.spares = [self._synced() for _ in range(SPARES)]
        self.used: list[tuple[FrameHandler, BookStream]] = []

    def _handler(self) -> tuple[FrameHandler, BookStream]:
        w = self.w
        stream = BookStream(w.instrument, self.decoder, OrderBook(CAPACITY), w.key)
        handler: FrameHandler
        if w.venue == "binance":
            handler = BinanceFrameHandler([stream], self.on_book)
        elif w.venue == "okx":
            handler = OkxFrameHandler([stream], self.on_book)  # checksums verified (default)
        else:
            handler = GateFrameHandler([stream], self.on_book)
        return handler, stream

    def _synced(self) -> tuple[FrameHandler, BookStream]:
        handler, stream = self._handler()
        self._reload(stream)
        return handler, stream

    def _reload(self, stream: BookStream) -> None:
        if stream.book.load_snapshot(self.snapshot) != OK:
            raise AssertionError("snapshot does not reload")
        stream.go_live(self.w.snapshot_id)

    def set_on_book(self, on_book: OnBook) -> None:
        self.on_book = on_book
        self.handler.on_book = on_book

    def restart(self) -> None:
        """Back to the snapshot: the next spare, or (none left) a reload in place."""
        if self.spares:
            self.used.append((self.handler, self.stream))  # no deallocation while timed
            self.handler, self.stream = self.spares.pop()
            self.handler.on_book = self.on_book
        else:
            self._reload(self.stream)

    def run(self, frames: list[bytes]) -> None:
        on_frame = self.handler.on_frame
        for frame in frames:
            if on_frame(frame, RECV_NS):  # 0 = OK: applied and published
                raise AssertionError(
                    f"frame refused: status {self.handler.last_status}, {self.stream!r}"
                )

    def top(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        book = self.stream.book
        return book.levels(BID, CHECK_LEVELS), book.levels(ASK, CHECK_LEVELS)


# ------------------------------------------------------------------------------ baseline


class _NaiveStream:
    """A dict book per side, Decimal price -> Decimal size, and the last update id; SPARES
    copies of the snapshot books ready, so that a restart is a swap rather than a copy."""

    __slots__ = ("_snap", "_spares", "_used", "asks", "bids", "instrument_id", "last", "on_book")

    def __init__(self, instrument_id: str, on_book: OnBook) -> None:
        self.instrument_id = instrument_id
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.last = 0
        self.on_book = on_book
        self._snap: tuple[dict[Decimal, Decimal], dict[Decimal, Decimal], int] = ({}, {}, 0)
        self._spares: list[tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]] = []
        self._used: list[tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]] = []

    def load(self, bids: list[list[str]], asks: list[list[str]], last: int) -> None:
        snap_bids = {Decimal(row[0]): Decimal(row[1]) for row in bids}
        snap_asks = {Decimal(row[0]): Decimal(row[1]) for row in asks}
        self._snap = (snap_bids, snap_asks, last)
        self._spares = [(dict(snap_bids), dict(snap_asks)) for _ in range(SPARES)]
        self.bids, self.asks, self.last = dict(snap_bids), dict(snap_asks), last

    def restart(self) -> None:
        snap_bids, snap_asks, last = self._snap
        if self._spares:
            self._used.append((self.bids, self.asks))  # no deallocation while timed
            self.bids, self.asks = self._spares.pop()
        else:
            self.bids, self.asks = dict(snap_bids), dict(snap_asks)
        self.last = last


def _apply(side: dict[Decimal, Decimal], rows: list[list[str]]) -> None:
    for row in rows:
        price = Decimal(row[0])
        size = Decimal(row[1])
        if size:
            side[price] = size
        else:
            side.pop(price, None)


def _naive_binance(streams: dict[str, _NaiveStream]) -> Callable[[bytes], int]:
    loads = orjson.loads

    def handle(frame: bytes) -> int:
        doc = loads(frame)
        s = streams.get(doc["stream"])
        if s is None:
            return NAIVE_OTHER
        d = doc["data"]
        if d["u"] <= s.last:
            return NAIVE_SKIPPED
        if d["U"] > s.last + 1:
            return NAIVE_GAP
        _apply(s.bids, d["b"])
        _apply(s.asks, d["a"])
        s.last = d["u"]
        s.on_book(s.instrument_id, s, d["E"] * NS_PER_MS)
        return NAIVE_OK

    return handle


def _naive_okx_checksum(s: _NaiveStream) -> int:
    bids = heapq.nlargest(CHECKSUM_DEPTH, s.bids)
    asks = heapq.nsmallest(CHECKSUM_DEPTH, s.asks)
    parts = []
    for i in range(CHECKSUM_DEPTH):
        if i < len(bids):
            parts.append(f"{bids[i]:f}:{s.bids[bids[i]]:f}")
        if i < len(asks):
            parts.append(f"{asks[i]:f}:{s.asks[asks[i]]:f}")
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def _naive_okx(streams: dict[str, _NaiveStream]) -> Callable[[bytes], int]:
    loads = orjson.loads

    def handle(frame: bytes) -> int:
        doc = loads(frame)
        s = streams.get(doc["arg"]["instId"])
        if s is None:
            return NAIVE_OTHER
        d = doc["data"][0]
        if d["prevSeqId"] != s.last:
            return NAIVE_GAP
        _apply(s.bids, d["bids"])
        _apply(s.asks, d["asks"])
        checksum = d.get("checksum", 0)
        if checksum and _naive_okx_checksum(s) != checksum:
            return NAIVE_CHECKSUM
        s.last = d["seqId"]
        s.on_book(s.instrument_id, s, int(d["ts"]) * NS_PER_MS)
        return NAIVE_OK

    return handle


def _naive_gate(streams: dict[str, _NaiveStream]) -> Callable[[bytes], int]:
    loads = orjson.loads

    def handle(frame: bytes) -> int:
        doc = loads(frame)
        r = doc["result"]
        s = streams.get(r["s"])
        if s is None:
            return NAIVE_OTHER
        if r["u"] < s.last + 1:
            return NAIVE_SKIPPED
        if r["U"] != s.last + 1:
            return NAIVE_GAP
        _apply(s.bids, r["b"])
        _apply(s.asks, r["a"])
        s.last = r["u"]
        s.on_book(s.instrument_id, s, r["t"] * NS_PER_MS)
        return NAIVE_OK

    return handle


class _Baseline:
    def __init__(self, w: Workload, on_book: OnBook) -> None:
        inst = w.instrument
        self.stream = _NaiveStream(inst.instrument_id, on_book)
        snap = orjson.loads(w.snapshot)
        if w.venue == "binance":
            self.stream.load(snap["bids"], snap["asks"], snap["lastUpdateId"])
            self.handle = _naive_binance({w.key.decode(): self.stream})
        elif w.venue == "okx":
            data = snap["data"][0]
            self.stream.load(data["bids"], data["asks"], data["seqId"])
            self.handle = _naive_okx({inst.symbol: self.stream})
        else:
            self.stream.load(snap["bids"], snap["asks"], snap["id"])
            self.handle = _naive_gate({inst.symbol: self.stream})
        self._price = inst.price_to_ticks
        self._qty = inst.qty_to_lots

    def restart(self) -> None:
        self.stream.restart()

    def run(self, frames: list[bytes]) -> None:
        handle = self.handle
        for frame in frames:
            if handle(frame):
                raise AssertionError("naive path refused a frame")

    def top(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        s = self.stream
        bids = heapq.nlargest(CHECK_LEVELS, s.bids)
        asks = heapq.nsmallest(CHECK_LEVELS, s.asks)
        return (
            [(self._price(p), self._qty(s.bids[p])) for p in bids],
            [(self._price(p), self._qty(s.asks[p])) for p in asks],
        )


# ------------------------------------------------------------------------------ cases


def _verify(w: Workload, side: _Candidate | _Baseline, calls: list[int]) -> None:
    """One pass over the whole sequence: every frame published, the book where the
    generator's ended."""
    before = calls[0]
    side.run(w.frames)
    if calls[0] - before != len(w.frames):
        raise AssertionError(f"on_book called {calls[0] - before} times for {len(w.frames)}")
    if w.final_bids is not None and w.final_asks is not None:
        bids, asks = side.top()
        if bids != w.final_bids or asks != w.final_asks:
            raise AssertionError(f"{type(side).__name__} book differs from the generator's")
    side.restart()


def _pair(w: Workload, about: str, *, batch: int = BATCH, check_baseline: bool = True) -> Pair:
    if len(w.frames) % batch:
        raise ValueError(f"{len(w.frames)} frames is not a whole number of {batch}-batches")
    calls = [0]

    def counting(instrument_id: str, book: object, timestamp_ns: int) -> None:
        calls[0] += 1

    on_book = _on_book_sink()
    ours = _Candidate(w, counting)
    theirs = _Baseline(w, counting)
    _verify(w, ours, calls)
    if check_baseline:
        _verify(w, theirs, calls)
    ours.set_on_book(on_book)
    theirs.stream.on_book = on_book
    return Pair(
        _player(w.frames, ours.run, ours.restart),
        _player(w.frames, theirs.run, theirs.restart),
        batch=batch,
        about=about,
    )


BASELINE = "baseline: orjson.loads + sequence check + Decimal per level + dict book + on_book"


@case("feed.binance_frame")
def binance_frame() -> Pair:
    w = generate("binance", FRAMES)
    return _pair(
        w,
        "Binance combined-stream depthUpdate 10+10 levels on a 1000-level book, bytes -> "
        f"BinanceFrameHandler.on_frame -> on_book; {BASELINE}",
    )


@case("feed.okx_frame")
def okx_frame() -> Pair:
    w = generate("okx", FRAMES)
    return _pair(
        w,
        "OKX books update (~10+10 levels, checksum 0) on a 400-level book, bytes -> "
        f"OkxFrameHandler.on_frame -> on_book; {BASELINE}",
    )


@case("feed.okx_frame_checksum")
def okx_frame_checksum() -> Pair:
    w = generate("okx", FRAMES, checksum=True)
    # the naive side (heapq over Decimal keys, 50 formats, crc32) is ~0.3 ms a frame: smaller
    # batches keep the run short, and it checks every checksum itself, so no check pass
    return _pair(
        w,
        "as feed.okx_frame, but every frame carries OKX's CRC32 of the top 25 levels a side "
        "and both sides verify it",
        batch=100,
        check_baseline=False,
    )


@case("feed.gate_frame")
def gate_frame() -> Pair:
    w = generate("gate", FRAMES)
    return _pair(
        w,
        "Gate spot.order_book_update (~8+8 levels) on a 100-level book, bytes -> "
        f"GateFrameHandler.on_frame -> on_book; {BASELINE}",
    )
