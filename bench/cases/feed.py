"""Feed-frame cases: one venue depth frame as bytes in hand -> `FrameHandler.on_frame` (route,
decode, sequence check, apply, stamp) -> the registered on_book called, beside the naive path.

The frames are a bench.workload stream (see its docstring for the shape): a realistic snapshot
(Binance 1,000 levels a side, OKX 400, Gate 100), then 10,000 consecutive diffs, played in
order so each applies to the book the previous ones left. Candidate and baseline play the same
frames in the same order, each on its own book; when fewer than a batch remain, each side goes
back to the snapshot between samples (untimed: runner.Pair.between), so no reload falls inside
a timing.

`python -m bench feed.binance_frame --frames FILE` (and feed.okx_frame, feed.gate_frame) plays
a user's own recording instead (bench.workload.read_frames has the format): the case loads its
snapshot, plays every line once through the engine's frame handler, and stops with a
`FramesError` naming the line of anything the handler refuses (a frame its decoder does not
take, a gap in the sequence, a crossed book); lines the handler routes elsewhere (OTHER:
trades, acks, other symbols) are counted and left out of the timing. The case reports the
book's final best bid and ask, on the instrument's grid, in its JSON output.

Before timing, each case plays the whole sequence once on both sides and checks that every
frame was applied and published, and that both books end where the generator's did (a
recording: that our book and the naive one agree on the top levels).

The baseline is the naive path: orjson.loads, the routing key looked up in a dict, the venue's
sequence rule in Python, `Decimal` of every price and size (exact, as money must be; keys of a
dict book per side, size 0 deletes), then the same Python on_book. It keeps no sorted view and
does not check for a crossed book, so it is, if anything, flattered.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from bench.play import Player, both, fit_batch, skip_for
from bench.runner import CaseError, Options, Pair, case
from bench.workload import FRAMES, NAMES, FramesError, Venue, Workload, generate, read_frames
from engine._core.book import ASK, BID, CROSSED, OrderBook, UpdateBuffer
from engine._core.depth_decode import (
    OK,
    BinanceDepthDecoder,
    DepthDecoder,
    GateDepthDecoder,
    OkxBooksDecoder,
)
from engine._core.frame_handler import (
    ERR_CHECKSUM,
    ERR_CROSSED,
    ERR_GAP,
    ERR_TIME,
    OTHER,
    SKIPPED,
    SNAPSHOT,
    BinanceFrameHandler,
    BookStream,
    FrameHandler,
    GateFrameHandler,
    OkxFrameHandler,
)
from engine._core.frame_handler import OK as FRAME_OK
from engine.data.feed import FeedOptions

CAPACITY = FeedOptions().book_capacity  # levels a book keeps (the engine's default, 1000)
BATCH = 1000  # frames a timed sample; FRAMES is a whole number of batches
RECV_NS = 1_700_000_000_123_456_789  # the receive time passed with every frame
NS_PER_MS = 1_000_000
CHECK_LEVELS = 50  # top levels compared with the generator's book after a full pass
RECORDED_CHECK_LEVELS = 20  # top levels our book and the naive one must agree on (--frames)
CHECKSUM_DEPTH = 25

NAIVE_OK = 0
NAIVE_SKIPPED = 1
NAIVE_OTHER = 2
NAIVE_GAP = -1
NAIVE_CHECKSUM = -2

OnBook = Callable[[str, Any, int], object]
Top = tuple[list[tuple[int, int]], list[tuple[int, int]]]

# what a decoder status means to someone holding the file (depth_decode.pxd, fixedpoint.pxd,
# book.pxd own the codes)
_DECODER_TEXT = {
    -48: "not well-formed JSON",
    -49: "a field the venue always sends is missing",
    -50: "a field of the wrong JSON type (or an integer beyond int64)",
    -51: "a field with a value this venue's depth decoder does not take",
    -52: "a key appears twice",
    -53: "a price level that is not a [price, size, ...] array of the venue's length",
    -1: "a price or size that is not a plain decimal number",
    -3: "a price or size too large for int64 on the instrument's grid",
    -33: "a price that is zero, negative or too large",
    -34: "a negative size",
    -35: "more levels a side in one frame than the book's capacity",
}


def _on_book_sink() -> OnBook:
    """The trivial on_book both sides call while timed: it keeps the book's timestamp."""
    last = [0]

    def on_book(instrument_id: str, book: object, timestamp_ns: int) -> None:
        last[0] = timestamp_ns

    return on_book


def _decoder(w: Workload, capacity: int) -> DepthDecoder:
    if w.venue == "binance":
        return BinanceDepthDecoder.from_instrument(w.instrument, capacity)
    if w.venue == "okx":
        return OkxBooksDecoder.from_instrument(w.instrument, capacity)
    return GateDepthDecoder.from_instrument(w.instrument, capacity)


def _decode_snapshot(decoder: DepthDecoder, snapshot: bytes) -> int:
    if isinstance(decoder, OkxBooksDecoder):
        return decoder.decode(snapshot)
    assert isinstance(decoder, BinanceDepthDecoder | GateDepthDecoder)
    return decoder.decode_snapshot(snapshot)


def _snapshot_error(w: Workload, message: str) -> FramesError:
    return FramesError(w.source, w.snapshot_line, message)


def _decoder_text(w: Workload, status: int) -> str:
    if status == -2:
        inst = w.instrument
        return (
            f"a price or size off the instrument's grid (tick {inst.tick_size}, lot "
            f"{inst.lot_size}): give the instrument's --tick and --lot"
        )
    return _DECODER_TEXT.get(status, f"status {status}")


# ------------------------------------------------------------------------------ candidate


class _Candidate:
    """One stream on a venue's FrameHandler, synced on the workload's snapshot the way the
    feeds do it; restart() reloads the snapshot (decoded once more and kept) and goes live."""

    def __init__(self, w: Workload, on_book: OnBook, capacity: int) -> None:
        self.w = w
        self.on_book = on_book
        self.straddle = w.venue == "gate"  # Gate: the first diff may straddle the REST id
        decoder = _decoder(w, capacity)
        self.stream = BookStream(w.instrument, decoder, OrderBook(capacity), w.key)
        handler: FrameHandler
        if w.venue == "binance":
            handler = BinanceFrameHandler([self.stream], on_book)
        elif w.venue == "okx":
            handler = OkxFrameHandler([self.stream], on_book)  # checksums verified (default)
        else:
            handler = GateFrameHandler([self.stream], on_book)
        self.handler = handler
        self._first_sync()
        # the snapshot decoded once more and kept, to reload from
        keep = _decoder(w, capacity)
        if _decode_snapshot(keep, w.snapshot) != OK:
            raise AssertionError(f"{w.venue} snapshot: status {keep.last_status}")
        self.snapshot: UpdateBuffer = keep.buffer
        self._keep = keep

    def _first_sync(self) -> None:
        w, stream, decoder = self.w, self.stream, self.stream.decoder
        if isinstance(decoder, OkxBooksDecoder):
            status = self.handler.on_frame(w.snapshot, RECV_NS)
            if status != SNAPSHOT:
                if status == OTHER:
                    why = (
                        "the engine's OKX handler does not take it as the books snapshot push: "
                        'it must be the push exactly as OKX sent it, starting {"arg":{"channel":'
                    )
                elif status == ERR_CROSSED:
                    why = "the snapshot is crossed (best bid >= best ask)"
                elif status == ERR_CHECKSUM:
                    why = "its checksum does not match the levels it carries"
                elif status == ERR_TIME:
                    why = "its ts is not a millisecond timestamp"
                else:
                    why = _decoder_text(w, status)
                raise _snapshot_error(w, f"not a usable OKX snapshot: {why}")
        else:
            status = _decode_snapshot(decoder, w.snapshot)
            if status != OK:
                raise _snapshot_error(
                    w,
                    f"the {NAMES[w.venue]} decoder refuses the snapshot: "
                    f"{_decoder_text(w, status)}",
                )
            if stream.load_snapshot() == CROSSED:
                raise _snapshot_error(w, "the snapshot is crossed (best bid >= best ask)")
            stream.go_live(decoder.last_update_id, self.straddle)
        if not stream.live or stream.last_id != w.snapshot_id:
            raise AssertionError(f"{w.venue}: not live at the snapshot: {stream!r}")

    def set_on_book(self, on_book: OnBook) -> None:
        self.on_book = on_book
        self.handler.on_book = on_book

    def restart(self) -> None:
        if self.stream.book.load_snapshot(self.snapshot) == CROSSED:
            raise AssertionError("snapshot does not reload")
        self.stream.go_live(self.w.snapshot_id, self.straddle)

    def run(self, frames: Sequence[bytes]) -> None:
        on_frame = self.handler.on_frame
        for frame in frames:
            if on_frame(frame, RECV_NS) < 0:  # OK, SKIPPED, SNAPSHOT: fine
                raise AssertionError(
                    f"frame refused: status {self.handler.last_status}, {self.stream!r}"
                )

    def top(self, levels: int = CHECK_LEVELS) -> Top:
        book = self.stream.book
        return book.levels(BID, levels), book.levels(ASK, levels)


@dataclass(slots=True)
class _Tally:
    applied: int = 0
    skipped: int = 0
    other: int = 0
    snapshots: int = 0


def _refused(w: Workload, ours: _Candidate, status: int, before: int, tally: _Tally) -> str:
    """What is wrong with a frame the handler refused, and what to do, in one line."""
    d = ours.stream.decoder
    if status == ERR_GAP:
        if isinstance(d, OkxBooksDecoder):
            return (
                f"out of sequence: prevSeqId {d.prev_seq_id} but the last seqId was {before}: "
                "frames are missing or out of order; the file must hold every books push of "
                "the stream in order, as received (after a reconnect, start a new file)"
            )
        text = (
            f"out of sequence: the frame starts at update id {d.first_update_id} but the book "
            f"stands at {before}, so updates {before + 1}..{d.first_update_id - 1} are missing; "
            "the file must hold every depth frame of the stream in order, as received (after "
            "a reconnect, start a new file)"
        )
        if tally.applied == 0:
            text += (
                "; the first frame applied must straddle the snapshot's id + 1: start "
                "recording before fetching the snapshot"
            )
        return text
    if status == ERR_CROSSED:
        return (
            "this frame leaves the book crossed (best bid >= best ask): frames are missing, or "
            "the snapshot was not taken from this stream"
        )
    if status == ERR_CHECKSUM:
        assert isinstance(ours.handler, OkxFrameHandler)
        return (
            f"OKX checksum {d.checksum if isinstance(d, OkxBooksDecoder) else '?'} does not "
            f"match the book's ({ours.handler.last_checksum_ours}): a frame before it is "
            "missing or altered"
        )
    if status == ERR_TIME:
        return "an event time that is not a millisecond timestamp (fix or delete the line)"
    text = f"the {NAMES[w.venue]} depth decoder refuses this frame: {_decoder_text(w, status)}"
    return text if status == -2 else f"{text} (fix or delete the line)"


def _play_checked(w: Workload, ours: _Candidate) -> tuple[_Tally, list[bytes]]:
    """Every frame once through the handler, one call each; the frames to time (those it
    does not route elsewhere). A refused frame is a FramesError naming its line."""
    tally = _Tally()
    timed: list[bytes] = []
    on_frame = ours.handler.on_frame
    stream = ours.stream
    for i, frame in enumerate(w.frames):
        before = stream.last_id
        status = on_frame(frame, RECV_NS)
        if status == FRAME_OK:
            tally.applied += 1
        elif status == SKIPPED:
            tally.skipped += 1
        elif status == OTHER:
            tally.other += 1
            continue
        elif status == SNAPSHOT:
            tally.snapshots += 1
        else:
            raise FramesError(w.source, w.line_of(i), _refused(w, ours, status, before, tally))
        timed.append(frame)
    return tally, timed


# ------------------------------------------------------------------------------ baseline


class _NaiveStream:
    """A dict book per side, Decimal price -> Decimal size, and the last update id."""

    __slots__ = ("_snap", "asks", "bids", "instrument_id", "last", "on_book", "straddle")

    def __init__(self, instrument_id: str, on_book: OnBook) -> None:
        self.instrument_id = instrument_id
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.last = 0
        self.straddle = False
        self.on_book = on_book
        self._snap: tuple[dict[Decimal, Decimal], dict[Decimal, Decimal], int, bool] = (
            {},
            {},
            0,
            False,
        )

    def load(
        self, bids: list[list[str]], asks: list[list[str]], last: int, straddle: bool = False
    ) -> None:
        snap_bids = {Decimal(row[0]): Decimal(row[1]) for row in bids}
        snap_asks = {Decimal(row[0]): Decimal(row[1]) for row in asks}
        self._snap = (snap_bids, snap_asks, last, straddle)
        self.restart()

    def restart(self) -> None:
        snap_bids, snap_asks, self.last, self.straddle = self._snap
        self.bids, self.asks = dict(snap_bids), dict(snap_asks)


def _apply(side: dict[Decimal, Decimal], rows: list[list[str]]) -> None:
    for row in rows:
        price = Decimal(row[0])
        size = Decimal(row[1])
        if size:
            side[price] = size
        else:
            side.pop(price, None)


def _naive_binance(streams: dict[Any, _NaiveStream]) -> Callable[[bytes], int]:
    loads = orjson.loads

    def handle(frame: bytes) -> int:
        doc = loads(frame)
        s = streams.get(doc.get("stream"))
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


def _naive_okx(streams: dict[Any, _NaiveStream]) -> Callable[[bytes], int]:
    loads = orjson.loads

    def handle(frame: bytes) -> int:
        doc = loads(frame)
        arg = doc.get("arg") or {}
        s = streams.get((arg.get("channel"), arg.get("instId")))
        if s is None or "data" not in doc:
            return NAIVE_OTHER
        d = doc["data"][0]
        if doc.get("action") == "snapshot":
            s.load(d["bids"], d["asks"], d["seqId"])
            return NAIVE_OK
        if d["prevSeqId"] != s.last:
            return NAIVE_GAP
        if not d["bids"] and not d["asks"]:
            s.last = d["seqId"]
            return NAIVE_SKIPPED  # a heartbeat
        _apply(s.bids, d["bids"])
        _apply(s.asks, d["asks"])
        checksum = d.get("checksum", 0)
        if checksum and _naive_okx_checksum(s) != checksum:
            return NAIVE_CHECKSUM
        s.last = d["seqId"]
        s.on_book(s.instrument_id, s, int(d["ts"]) * NS_PER_MS)
        return NAIVE_OK

    return handle


def _naive_gate(streams: dict[Any, _NaiveStream]) -> Callable[[bytes], int]:
    loads = orjson.loads

    def handle(frame: bytes) -> int:
        doc = loads(frame)
        r = doc.get("result")
        if doc.get("channel") != "spot.order_book_update" or not isinstance(r, dict):
            return NAIVE_OTHER
        s = streams.get(r.get("s"))
        if s is None:
            return NAIVE_OTHER
        if r["u"] < s.last + 1:
            return NAIVE_SKIPPED
        if r["U"] > s.last + 1 or (r["U"] != s.last + 1 and not s.straddle):
            return NAIVE_GAP
        _apply(s.bids, r["b"])
        _apply(s.asks, r["a"])
        s.last = r["u"]
        s.straddle = False
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
            arg = snap["arg"]
            self.handle = _naive_okx({(arg["channel"], arg["instId"]): self.stream})
        else:
            self.stream.load(snap["bids"], snap["asks"], snap["id"], straddle=True)
            self.handle = _naive_gate({w.key.decode(): self.stream})
        self._price = inst.price_to_ticks
        self._qty = inst.qty_to_lots

    def restart(self) -> None:
        self.stream.restart()

    def run(self, frames: Sequence[bytes]) -> None:
        handle = self.handle
        for frame in frames:
            if handle(frame) < 0:
                raise AssertionError("naive path refused a frame")

    def top(self, levels: int = CHECK_LEVELS) -> Top:
        s = self.stream
        bids = heapq.nlargest(levels, s.bids)
        asks = heapq.nsmallest(levels, s.asks)
        return (
            [(self._price(p), self._qty(s.bids[p])) for p in bids],
            [(self._price(p), self._qty(s.asks[p])) for p in asks],
        )


# ------------------------------------------------------------------------------ cases


def _final_book(w: Workload, ours: _Candidate) -> dict[str, Any]:
    book = ours.stream.book
    bid, bid_size, ask, ask_size = book.top()
    price, qty = w.instrument.price_grid.to_str, w.instrument.qty_grid.to_str
    return {
        "best_bid": price(bid) if bid_size else None,
        "best_bid_size": qty(bid_size) if bid_size else None,
        "best_ask": price(ask) if ask_size else None,
        "best_ask_size": qty(ask_size) if ask_size else None,
        "bid_levels": book.bids_count,
        "ask_levels": book.asks_count,
        "last_update_id": ours.stream.last_id,
    }


def _pair(
    w: Workload,
    about: str,
    opts: Options,
    *,
    batch: int = BATCH,
    check_baseline: bool = True,
) -> Pair:
    calls = [0]

    def counting(instrument_id: str, book: object, timestamp_ns: int) -> None:
        calls[0] += 1

    recorded = w.final_bids is None
    capacity = max(CAPACITY, w.depth)
    ours = _Candidate(w, counting, capacity)
    tally, timed = _play_checked(w, ours)
    if calls[0] != tally.applied:
        raise AssertionError(f"on_book called {calls[0]} times for {tally.applied} frames")
    report: dict[str, Any] = {}
    if recorded:
        if not tally.applied:
            raise FramesError(
                w.source,
                None,
                f"no depth frame after the snapshot applied to the book ({tally.skipped} were "
                f"already in the snapshot, {tally.other} lines were not depth frames of "
                f"{w.instrument.symbol}): record for longer after fetching the snapshot",
            )
        final = _final_book(w, ours)
        report["frames_file"] = {
            "path": w.source,
            "symbol": w.instrument.symbol,
            "tick": f"{w.instrument.tick_size:f}",
            "lot": f"{w.instrument.lot_size:f}",
            "lines": w.line_of(len(w.frames) - 1),
            "snapshot_levels": w.depth,
            "applied": tally.applied,
            "skipped": tally.skipped,
            "snapshots": tally.snapshots,
            "other": tally.other,
        }
        report["final_book"] = final
        want: Top | None = None
    else:
        if tally.applied != len(w.frames):
            raise AssertionError(f"{tally.applied} of {len(w.frames)} generated frames applied")
        assert w.final_bids is not None and w.final_asks is not None
        want = (w.final_bids, w.final_asks)
        if ours.top() != want:
            raise AssertionError("the engine's book differs from the generator's")
    theirs = _Baseline(w, counting)
    if check_baseline:
        theirs.run(timed)
        if want is not None and theirs.top() != want:
            raise AssertionError("the naive book differs from the generator's")
        if recorded and theirs.top(RECORDED_CHECK_LEVELS) != ours.top(RECORDED_CHECK_LEVELS):
            raise AssertionError(
                f"{w.source}: after the last line the engine's book and the naive Decimal book "
                "differ in their top levels (a bug: please report it with the file)"
            )
        theirs.restart()
    ours.restart()
    on_book = _on_book_sink()
    ours.set_on_book(on_book)
    theirs.stream.on_book = on_book
    batch = fit_batch(len(timed), batch)
    skip = skip_for(len(timed), batch, opts)
    mine = Player(timed, ours.run, ours.restart, batch=batch, skip=skip)
    naive = Player(timed, theirs.run, theirs.restart, batch=batch, skip=skip)
    return Pair(
        mine.ops, naive.ops, batch=batch, about=about, between=both(mine, naive), report=report
    )


def _recorded(venue: Venue, opts: Options, about: str) -> Pair:
    assert opts.frames is not None
    try:
        w = read_frames(opts.frames, venue, opts.tick, opts.lot)
        return _pair(w, f"{about} (frames from {opts.frames})", opts)
    except FramesError as exc:
        raise CaseError(str(exc)) from None


BASELINE = "baseline: orjson.loads + sequence check + Decimal per level + dict book + on_book"
BINANCE_ABOUT = (
    "Binance combined-stream depthUpdate 10+10 levels on a 1000-level book, bytes -> "
    f"BinanceFrameHandler.on_frame -> on_book; {BASELINE}"
)
OKX_ABOUT = (
    "OKX books update (~10+10 levels, checksum 0) on a 400-level book, bytes -> "
    f"OkxFrameHandler.on_frame -> on_book; {BASELINE}"
)
OKX_CHECKSUM_ABOUT = (
    "as feed.okx_frame, but every frame carries OKX's CRC32 of the top 25 levels a side "
    "and both sides verify it"
)
GATE_ABOUT = (
    "Gate spot.order_book_update (~8+8 levels) on a 100-level book, bytes -> "
    f"GateFrameHandler.on_frame -> on_book; {BASELINE}"
)


@case("feed.binance_frame", frames=True, about=BINANCE_ABOUT)
def binance_frame(opts: Options) -> Pair:
    if opts.frames is not None:
        return _recorded("binance", opts, BINANCE_ABOUT)
    return _pair(generate("binance", FRAMES), BINANCE_ABOUT, opts)


@case("feed.okx_frame", frames=True, about=OKX_ABOUT)
def okx_frame(opts: Options) -> Pair:
    if opts.frames is not None:
        return _recorded("okx", opts, OKX_ABOUT)
    return _pair(generate("okx", FRAMES), OKX_ABOUT, opts)


@case("feed.okx_frame_checksum", about=OKX_CHECKSUM_ABOUT)
def okx_frame_checksum(opts: Options) -> Pair:
    w = generate("okx", FRAMES, checksum=True)
    # the naive side (heapq over Decimal keys, 50 formats, crc32) is ~0.3 ms a frame: smaller
    # batches keep the run short, and it checks every checksum itself, so no check pass
    return _pair(w, OKX_CHECKSUM_ABOUT, opts, batch=100, check_baseline=False)


@case("feed.gate_frame", frames=True, about=GATE_ABOUT)
def gate_frame(opts: Options) -> Pair:
    if opts.frames is not None:
        return _recorded("gate", opts, GATE_ABOUT)
    return _pair(generate("gate", FRAMES), GATE_ABOUT, opts)
