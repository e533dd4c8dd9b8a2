"""Depth-frame cases: raw venue bytes in hand -> book updated, through the Cython decoders and
OrderBook.apply, beside the naive path (orjson.loads, float() of every price and size, a dict
book per side; no best-price recomputation, so the baseline is, if anything, flattered)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from bench.runner import Pair, case
from engine._core.book import OrderBook
from engine._core.depth_decode import BinanceDepthDecoder, GateDepthDecoder, OkxBooksDecoder
from engine._core.fixedpoint import Grid

LEVELS = 10  # per side in each update


def _rows(base: int, step: int, decimals: int, sizes: list[str]) -> list[list[str]]:
    return [
        [f"{(base + step * i) / 10**decimals:.{decimals}f}", sizes[i % len(sizes)]]
        for i in range(LEVELS)
    ]


def _binance(sizes: list[str]) -> bytes:
    bids = _rows(6_499_999, -1, 2, sizes)
    asks = _rows(6_500_000, 1, 2, sizes)
    doc = {
        "e": "depthUpdate",
        "E": 1700000000100,
        "s": "BTCUSDT",
        "U": 78423155532,
        "u": 78423155540,
        "b": [[p + "000000", q] for p, q in bids],  # Binance pads to 8 decimals
        "a": [[p + "000000", q] for p, q in asks],
    }
    return orjson.dumps(doc)


def _okx(sizes: list[str]) -> bytes:
    asks = [[p, q, "0", "3"] for p, q in _rows(650_001, 1, 1, sizes)]
    bids = [[p, q, "0", "2"] for p, q in _rows(650_000, -1, 1, sizes)]
    doc = {
        "arg": {"channel": "books", "instId": "BTC-USDT"},
        "action": "update",
        "data": [
            {
                "asks": asks,
                "bids": bids,
                "ts": "1700000000100",
                "checksum": 0,
                "prevSeqId": 123456,
                "seqId": 123460,
            }
        ],
    }
    return orjson.dumps(doc)


def _gate(sizes: list[str]) -> bytes:
    doc = {
        "time": 1700000000,
        "time_ms": 1700000000236,
        "channel": "spot.order_book_update",
        "event": "update",
        "result": {
            "t": 1700000000123,
            "l": "100",
            "e": "depthUpdate",
            "E": 1700000000,
            "s": "BTC_USDT",
            "U": 48776302,
            "u": 48776306,
            "b": _rows(650_000, -1, 1, sizes),
            "a": _rows(650_001, 1, 1, sizes),
        },
    }
    return orjson.dumps(doc)


# Two updates per venue, cycled: the second changes every size and deletes two levels, the
# first puts them back, so each sample does the same mix of replace, delete and insert.
SIZES_A = ["1.10731000", "0.50000000", "2.00000000", "0.01000000", "3.30000000"]
SIZES_B = ["0.90000000", "0.00000000", "1.25000000", "0.02000000", "4.00000000", "1.0"]


def _pair(
    decoder: Any,
    frames: tuple[bytes, bytes],
    naive_levels: Callable[[dict[str, Any]], tuple[list[list[str]], list[list[str]]]],
    about: str,
) -> Pair:
    book = OrderBook(64)
    f0, f1 = frames
    decoder.decode(f0)
    book.load_snapshot(decoder.buffer)
    for frame in frames:
        if decoder.decode(frame) != 0:
            raise AssertionError(f"bench frame rejected: {decoder.last_status}")

    def ours(n: int) -> None:
        decode = decoder.decode
        apply = book.apply
        buf = decoder.buffer
        for _ in range(n >> 1):
            decode(f0)
            apply(buf)
            decode(f1)
            apply(buf)

    bids: dict[float, float] = {}
    asks: dict[float, float] = {}

    def update(frame: bytes) -> None:
        new_bids, new_asks = naive_levels(orjson.loads(frame))
        for side, rows in ((bids, new_bids), (asks, new_asks)):
            for row in rows:
                price = float(row[0])
                size = float(row[1])
                if size == 0.0:
                    side.pop(price, None)
                else:
                    side[price] = size

    def naive(n: int) -> None:
        for _ in range(n >> 1):
            update(f0)
            update(f1)

    return Pair(ours, naive, batch=1024, about=about)


@case("depth.binance_10x10")
def binance_10x10() -> Pair:
    dec = BinanceDepthDecoder(Grid("0.01"), Grid("0.00001"), 64)
    return _pair(
        dec,
        (_binance(SIZES_A), _binance(SIZES_B)),
        lambda d: (d["b"], d["a"]),
        "Binance depthUpdate 10+10 levels, bytes -> BinanceDepthDecoder -> OrderBook.apply; "
        "baseline: orjson.loads + float() per level + dict book",
    )


@case("depth.okx_books")
def okx_books() -> Pair:
    dec = OkxBooksDecoder(Grid("0.1"), Grid("0.00000001"), 64)
    return _pair(
        dec,
        (_okx(SIZES_A), _okx(SIZES_B)),
        lambda d: (d["data"][0]["bids"], d["data"][0]["asks"]),
        "OKX books update 10+10 levels, bytes -> OkxBooksDecoder -> OrderBook.apply; "
        "baseline: orjson.loads + float() per level + dict book",
    )


@case("depth.gate_update")
def gate_update() -> Pair:
    dec = GateDepthDecoder(Grid("0.1"), Grid("0.00000001"), 64)
    return _pair(
        dec,
        (_gate(SIZES_A), _gate(SIZES_B)),
        lambda d: (d["result"]["b"], d["result"]["a"]),
        "Gate spot.order_book_update 10+10 levels, bytes -> GateDepthDecoder -> "
        "OrderBook.apply; baseline: orjson.loads + float() per level + dict book",
    )
