"""Depth-frame cases: raw venue bytes in hand -> book updated, through the Cython decoders and
OrderBook.apply, beside the naive path (orjson.loads, float() of every price and size, a dict
book per side; no best-price recomputation, so the baseline is, if anything, flattered).

The frames are the feed cases' bench.workload streams: a book loaded from the venue's
snapshot (Binance 1,000 levels a side, OKX `books` 400, Gate 100; capacity the engine's
default 1,000), then 10,000 consecutive diffs played in order (Binance 10+10 levels a frame,
OKX ~10+10, Gate ~8+8), the book rewound to the snapshot between samples when the sequence
runs out. No routing, sequence check or on_book: feed.* time those. Before timing, both sides
play the whole sequence once and must end where the generator's book did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from bench.play import Player, both, skip_for
from bench.runner import Options, Pair, case
from bench.workload import FRAMES, Venue, Workload, generate
from engine._core.book import ASK, BID, OrderBook, UpdateBuffer
from engine._core.depth_decode import (
    OK,
    BinanceDepthDecoder,
    DepthDecoder,
    GateDepthDecoder,
    OkxBooksDecoder,
)
from engine.data.feed import FeedOptions

CAPACITY = FeedOptions().book_capacity  # levels a book keeps (the engine's default, 1000)
BATCH = 1000  # frames a timed sample
CHECK_LEVELS = 50

Rows = list[list[str]]
Levels = Callable[[dict[str, Any]], tuple[Rows, Rows]]


def _decoder(w: Workload) -> DepthDecoder:
    if w.venue == "binance":
        return BinanceDepthDecoder.from_instrument(w.instrument, CAPACITY)
    if w.venue == "okx":
        return OkxBooksDecoder.from_instrument(w.instrument, CAPACITY)
    return GateDepthDecoder.from_instrument(w.instrument, CAPACITY)


def _snapshot(w: Workload) -> UpdateBuffer:
    """The workload's snapshot decoded by the venue's decoder (kept: the book reloads it)."""
    dec = _decoder(w)
    if isinstance(dec, OkxBooksDecoder):
        status = dec.decode(w.snapshot)
    else:
        assert isinstance(dec, BinanceDepthDecoder | GateDepthDecoder)
        status = dec.decode_snapshot(w.snapshot)
    if status != OK:
        raise AssertionError(f"{w.venue} snapshot: status {status}")
    return dec.buffer


class _Ours:
    def __init__(self, w: Workload) -> None:
        self.decoder = _decoder(w)
        self.snapshot = _snapshot(w)
        self.book = OrderBook(CAPACITY)
        self.restart()

    def restart(self) -> None:
        if self.book.load_snapshot(self.snapshot) != 0:
            raise AssertionError("the snapshot does not load")

    def play(self, frames: Sequence[bytes]) -> None:
        decode = self.decoder.decode
        apply = self.book.apply
        buf = self.decoder.buffer
        for frame in frames:
            decode(frame)
            apply(buf)

    def check(self, frames: Sequence[bytes]) -> None:
        for frame in frames:
            if self.decoder.decode(frame) != OK:
                raise AssertionError(f"bench frame rejected: {self.decoder.last_status}")
            self.book.apply(self.decoder.buffer)

    def top(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return self.book.levels(BID, CHECK_LEVELS), self.book.levels(ASK, CHECK_LEVELS)


class _Naive:
    def __init__(self, w: Workload, snapshot_levels: Levels, levels: Levels) -> None:
        bids, asks = snapshot_levels(orjson.loads(w.snapshot))
        self.snap_bids = {float(p): float(q) for p, q, *_ in bids}
        self.snap_asks = {float(p): float(q) for p, q, *_ in asks}
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.levels = levels
        self.price_scale = 10**w.instrument.price_grid.exp
        self.qty_scale = 10**w.instrument.qty_grid.exp
        self.restart()

    def restart(self) -> None:
        self.bids = dict(self.snap_bids)
        self.asks = dict(self.snap_asks)

    def play(self, frames: Sequence[bytes]) -> None:
        levels = self.levels
        loads = orjson.loads
        for frame in frames:
            new_bids, new_asks = levels(loads(frame))
            for side, rows in ((self.bids, new_bids), (self.asks, new_asks)):
                for row in rows:
                    price = float(row[0])
                    size = float(row[1])
                    if size == 0.0:
                        side.pop(price, None)
                    else:
                        side[price] = size

    def top(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        ps, qs = self.price_scale, self.qty_scale
        bids = sorted(self.bids.items(), reverse=True)[:CHECK_LEVELS]
        asks = sorted(self.asks.items())[:CHECK_LEVELS]
        return (
            [(round(p * ps), round(q * qs)) for p, q in bids],
            [(round(p * ps), round(q * qs)) for p, q in asks],
        )


def _pair(venue: Venue, snapshot_levels: Levels, levels: Levels, about: str, opts: Options) -> Pair:
    w = generate(venue, FRAMES)
    ours = _Ours(w)
    theirs = _Naive(w, snapshot_levels, levels)
    ours.check(w.frames)
    theirs.play(w.frames)
    want = (w.final_bids, w.final_asks)
    if ours.top() != want:
        raise AssertionError(f"{venue}: the book differs from the generator's")
    if theirs.top() != want:
        raise AssertionError(f"{venue}: the naive book differs from the generator's")
    ours.restart()
    theirs.restart()
    skip = skip_for(len(w.frames), BATCH, opts)
    mine = Player(w.frames, ours.play, ours.restart, batch=BATCH, skip=skip)
    naive = Player(w.frames, theirs.play, theirs.restart, batch=BATCH, skip=skip)
    return Pair(mine.ops, naive.ops, batch=BATCH, about=about, between=both(mine, naive))


NAIVE = "baseline: orjson.loads + float() per level + dict book"
BINANCE_ABOUT = (
    "Binance combined-stream depthUpdate 10+10 levels, bytes -> BinanceDepthDecoder -> "
    f"OrderBook.apply on a 1,000-level book, 10,000 consecutive diffs; {NAIVE}"
)
OKX_ABOUT = (
    "OKX books update ~10+10 levels, bytes -> OkxBooksDecoder -> OrderBook.apply on a "
    f"400-level book, 10,000 consecutive diffs; {NAIVE}"
)
GATE_ABOUT = (
    "Gate spot.order_book_update ~8+8 levels, bytes -> GateDepthDecoder -> OrderBook.apply "
    f"on a 100-level book, 10,000 consecutive diffs; {NAIVE}"
)


@case("depth.binance_10x10", about=BINANCE_ABOUT)
def binance_10x10(opts: Options) -> Pair:
    return _pair(
        "binance",
        lambda d: (d["bids"], d["asks"]),
        lambda d: (d["data"]["b"], d["data"]["a"]),
        BINANCE_ABOUT,
        opts,
    )


@case("depth.okx_books", about=OKX_ABOUT)
def okx_books(opts: Options) -> Pair:
    return _pair(
        "okx",
        lambda d: (d["data"][0]["bids"], d["data"][0]["asks"]),
        lambda d: (d["data"][0]["bids"], d["data"][0]["asks"]),
        OKX_ABOUT,
        opts,
    )


@case("depth.gate_update", about=GATE_ABOUT)
def gate_update(opts: Options) -> Pair:
    return _pair(
        "gate",
        lambda d: (d["bids"], d["asks"]),
        lambda d: (d["result"]["b"], d["result"]["a"]),
        GATE_ABOUT,
        opts,
    )
