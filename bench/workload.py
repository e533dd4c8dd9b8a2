"""Synthetic depth streams for the feed benchmarks: a snapshot and the diffs that follow it.

`generate(venue)` returns a `Workload`: the venue's snapshot (Binance: a REST /api/v3/depth
body; OKX: a `books` push with `"action":"snapshot"`; Gate: a REST
/spot/order_book?with_id=true body), the update id it stands at, and `FRAMES` consecutive diff
frames as the venue's WebSocket sends them (Binance in the combined-stream envelope, OKX
`books` updates, Gate `spot.order_book_update` pushes), each continuing the last exactly
(Binance and Gate: U = previous u + 1; OKX: prevSeqId = previous seqId), so every frame
applies. Nothing here times anything; a benchmark plays the frames in order. (A later
`--frames FILE` will build a Workload from recorded frames instead.)

The shape, all drawn from one `random.Random(seed)`:

- instruments as the venues list BTC/USDT: Binance tick 0.01 / lot 0.00001, prices and sizes
  printed with 8 decimals; OKX tick 0.1 / lot 0.00000001 and Gate tick 0.1 / lot 0.000001,
  printed without trailing zeros; mid near 65,000.
- snapshot depth: Binance 1,000 levels a side (the feed's snapshot_limit), OKX 400 (`books`),
  Gate 100 (the Gate feed's snapshot_limit). Spread one tick; the k-th level from the touch
  is 1 + Exp(mean 0.3 + k/40) ticks below the previous one: ~77% of ticks filled at the top,
  gaps of ~25 ticks a thousand levels down.
- levels a frame: Binance exactly 10 bids + 10 asks; OKX 1 + Poisson(9) a side (mean 10);
  Gate 1 + Poisson(7) a side (mean 8). One price at most once per side in a frame, bids
  best first, asks best first.
- each level sits int(Exp(mean 25)) ticks from the touch of its side (the best price the
  generator keeps the mid at, whether or not a level is there at that moment).
- deletions (size "0"): Poisson(2) a side (~4 a frame), always of a level that exists: the
  first existing level at or beyond a distance drawn as above. The other levels are size
  changes when the price exists and inserts when it does not; inserts and deletions balance
  with ~75% of the 50 ticks next to the touch filled (Gate ~67%).
- sizes: lognormal, median 0.05 BTC, sigma 1.5, on the lot grid.
- the mid drifts: with probability 0.1 a frame it moves 1-3 ticks up or down; the levels it
  crosses are deleted in that frame (the side moving away) and the side moving in gets a new
  best level at the new touch. The book is never crossed or locked.
- levels the mid leaves behind would pile up, so while a side holds more levels than the
  snapshot did, a frame also cancels one level anywhere in it with probability excess / 20:
  over 10,000 frames the depth stays within 95-101% of the snapshot's on Binance, 84-103% on
  OKX, 66-118% on Gate (shallow: the mid's walk matters more). Measured: ~4.1
  deletes, ~4.1 inserts, the rest size changes; Binance 775 bytes a frame, OKX 796, Gate 554.
- OKX: checksum 0 (OKX deprecated it) unless `checksum=True`, when every frame carries OKX's
  CRC32 of the top 25 levels a side after it applies.
- event times (`E`, `ts`, `t`) advance 100 ms a frame; update ids by 1-40 a frame.

`FRAMES` diffs take about a second to generate per venue; results are cached per arguments.
`python -m bench.workload` prints each venue's shape and first frame.
"""

from __future__ import annotations

import bisect
import functools
import math
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import orjson

from engine.model.instrument import Instrument

Venue = Literal["binance", "okx", "gate"]
VENUES: tuple[Venue, ...] = ("binance", "okx", "gate")

FRAMES = 10_000  # diffs a workload holds
SEED = 12
MEAN_DISTANCE = 25.0  # ticks from the touch, mean of the exponential
DELETES_PER_SIDE = 2.0  # Poisson mean
DRIFT_PROBABILITY = 0.1  # per frame
DRIFT_TICKS = (1, 1, 1, 2, 2, 3)
SIZE_MEDIAN_BTC = 0.05
SIZE_SIGMA = 1.5
MID_PRICE = 65_000
CHECKSUM_DEPTH = 25  # OKX's legacy checksum: top 25 levels a side
START_MS = 1_700_000_000_000
FRAME_MS = 100

Level = tuple[int, int]  # (price in ticks, size in lots)


@dataclass(frozen=True, slots=True)
class Workload:
    """A depth stream ready to play: snapshot, then `frames` in order."""

    venue: Venue
    instrument: Instrument
    key: bytes  # the stream's routing key on its connection (frame_handler)
    snapshot: bytes
    snapshot_id: int  # Binance lastUpdateId, OKX seqId, Gate id
    frames: list[bytes]
    # the generator's book after the last frame, best first, at most 50 levels a side (None
    # for recorded frames): lets a benchmark check it applied every frame as the venue meant
    final_bids: list[Level] | None = None
    final_asks: list[Level] | None = None
    stats: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        s = self.stats
        return (
            f"{self.venue} {self.instrument.symbol}: {len(self.frames)} frames after a "
            f"{s.get('snapshot_levels', 0):.0f}-level snapshot, {s.get('levels', 0):.1f} "
            f"levels a frame ({s.get('deletes', 0):.1f} deletes, {s.get('inserts', 0):.1f} "
            f"inserts, {s.get('changes', 0):.1f} size changes), {s.get('bytes', 0):.0f} bytes, "
            f"{s.get('drifts', 0):.0f} mid moves"
        )


# ------------------------------------------------------------------------------ instruments


def instrument(venue: Venue) -> Instrument:
    """BTC/USDT on `venue`, with the venue's published grids."""
    if venue == "binance":
        return Instrument(
            "BTCUSDT", "binance", "BTC", "USDT",
            Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal("5"), 2, 5,
        )  # fmt: skip
    if venue == "okx":
        return Instrument(
            "BTC-USDT", "okx", "BTC", "USDT",
            Decimal("0.1"), Decimal("0.00000001"), Decimal("0.00001"), Decimal("0"), 1, 8,
        )  # fmt: skip
    if venue == "gate":
        return Instrument(
            "BTC_USDT", "gate", "BTC", "USDT",
            Decimal("0.1"), Decimal("0.000001"), Decimal("0.00001"), Decimal("3"), 1, 6,
        )  # fmt: skip
    raise ValueError(f"unknown venue {venue!r}")


def routing_key(inst: Instrument) -> bytes:
    """The key frame_handler routes this instrument's depth frames by."""
    if inst.venue == "binance":
        return f"{inst.symbol.lower()}@depth@100ms".encode()
    if inst.venue == "okx":
        return f'{{"arg":{{"channel":"books","instId":"{inst.symbol}"'.encode()
    return inst.symbol.encode()


# ------------------------------------------------------------------------------ numbers


def _fixed(decimals: int, width: int) -> Callable[[int], str]:
    """units -> units * 10**-decimals printed with `width` fraction digits (>= decimals)."""
    scale = 10**decimals
    pad = "0" * (width - decimals)
    spec = f"0{decimals}d"

    def text(units: int) -> str:
        whole, frac = divmod(units, scale)
        return f"{whole}.{frac:{spec}}{pad}"

    return text


def _plain(decimals: int) -> Callable[[int], str]:
    """units -> the number as OKX and Gate print it: no trailing zeros, no trailing point."""
    fixed = _fixed(decimals, decimals)

    def text(units: int) -> str:
        return fixed(units).rstrip("0").rstrip(".")

    return text


def _poisson(rng: random.Random, mean: float) -> int:
    limit = math.exp(-mean)
    k = 0
    p = rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


# ------------------------------------------------------------------------------ the book


class _Side:
    """One side of the generator's book in `coord` space, where smaller is better on both
    sides (bids: -price, asks: price), so the same code serves both."""

    __slots__ = ("anchor", "coords", "sign", "sizes")

    def __init__(self, sign: int, touch: int) -> None:
        self.sign = sign  # -1 bids, +1 asks
        self.anchor = sign * touch  # coord of the touch the mid implies
        self.sizes: dict[int, int] = {}
        self.coords: list[int] = []  # sorted ascending = best first

    def price(self, coord: int) -> int:
        return self.sign * coord

    def set(self, coord: int, lots: int) -> None:
        if lots:
            if coord not in self.sizes:
                bisect.insort(self.coords, coord)
            self.sizes[coord] = lots
        elif coord in self.sizes:
            del self.sizes[coord]
            del self.coords[bisect.bisect_left(self.coords, coord)]

    def existing_from(self, coord: int) -> int:
        """The first existing level at or beyond `coord` (the last one when none is)."""
        i = bisect.bisect_left(self.coords, coord)
        return self.coords[min(i, len(self.coords) - 1)]

    def top(self, n: int) -> list[Level]:
        return [(self.price(c), self.sizes[c]) for c in self.coords[:n]]


@dataclass(frozen=True, slots=True)
class _Shape:
    venue: Venue
    depth: int  # snapshot levels a side
    rows: Callable[[random.Random], int]  # levels a side in one frame
    price_text: Callable[[int], str]
    size_text: Callable[[int], str]


def _shape(inst: Instrument) -> _Shape:
    pd = inst.price_grid.exp
    qd = inst.qty_grid.exp
    if inst.venue == "binance":
        return _Shape(
            "binance",
            1000,
            lambda rng: 10,
            _fixed(pd, 8),
            _fixed(qd, 8),
        )
    if inst.venue == "okx":
        return _Shape(
            "okx",
            400,
            lambda rng: 1 + _poisson(rng, 9.0),
            _plain(pd),
            _plain(qd),
        )
    return _Shape(
        "gate",
        100,
        lambda rng: 1 + _poisson(rng, 7.0),
        _plain(pd),
        _plain(qd),
    )


class _Generator:
    def __init__(self, inst: Instrument, seed: int) -> None:
        self.inst = inst
        self.shape = _shape(inst)
        self.rng = random.Random(seed)
        touch_bid = inst.price_grid.to_units(Decimal(MID_PRICE)) - 1
        self.bids = _Side(-1, touch_bid)
        self.asks = _Side(1, touch_bid + 1)
        self.size_mu = math.log(SIZE_MEDIAN_BTC * 10**inst.qty_grid.exp)
        self.counts = {"deletes": 0, "inserts": 0, "changes": 0, "drifts": 0}
        for side in (self.bids, self.asks):
            coord = side.anchor
            for k in range(self.shape.depth):
                side.set(coord, self.size())
                coord += 1 + int(self.rng.expovariate(1.0 / (0.3 + k / 40)))

    def size(self) -> int:
        return max(1, int(math.exp(self.rng.gauss(self.size_mu, SIZE_SIGMA))))

    def distance(self) -> int:
        return int(-MEAN_DISTANCE * math.log(1.0 - self.rng.random()))

    def drift(self) -> tuple[dict[int, int], dict[int, int]]:
        """Maybe move the mid; the rows that move forces on each side (coord -> lots)."""
        forced: tuple[dict[int, int], dict[int, int]] = ({}, {})
        if self.rng.random() >= DRIFT_PROBABILITY:
            return forced
        self.counts["drifts"] += 1
        ticks = self.rng.choice(DRIFT_TICKS) * self.rng.choice((-1, 1))
        for side, rows in zip((self.bids, self.asks), forced, strict=True):
            new_anchor = side.anchor + side.sign * ticks
            if new_anchor > side.anchor:  # this side retreats: levels now crossed go
                for coord in side.coords:
                    if coord >= new_anchor:
                        break
                    rows[coord] = 0
            else:  # this side advances: a new best level at the new touch
                rows[new_anchor] = self.size()
            side.anchor = new_anchor
        return forced

    def side_rows(self, side: _Side, forced: dict[int, int]) -> list[Level]:
        rng = self.rng
        rows = dict(forced)
        want = max(self.shape.rows(rng), len(rows))
        deletes = min(_poisson(rng, DELETES_PER_SIDE), want)
        deleted = sum(1 for lots in rows.values() if lots == 0)
        excess = len(side.coords) - self.shape.depth
        if excess > 0 and len(rows) < want and rng.random() < excess / 20:
            # levels the mid left behind pile up; cancel one anywhere in the book, which
            # holds the depth near the snapshot's
            coord = side.coords[rng.randrange(len(side.coords))]
            if coord not in rows:
                rows[coord] = 0
                deletes += 1
                deleted += 1
        tries = 0
        while deleted < deletes and len(rows) < want and tries < 100:
            tries += 1
            coord = side.existing_from(side.anchor + self.distance())
            if coord in rows or coord < side.anchor:
                continue
            rows[coord] = 0
            deleted += 1
        while len(rows) < want:
            coord = side.anchor + self.distance()
            if coord not in rows:
                rows[coord] = self.size()
        out = []
        for coord in sorted(rows):
            lots = rows[coord]
            if lots == 0:
                self.counts["deletes"] += 1
            elif coord in side.sizes:
                self.counts["changes"] += 1
            else:
                self.counts["inserts"] += 1
            side.set(coord, lots)
            out.append((side.price(coord), lots))
        return out

    def step(self) -> tuple[list[Level], list[Level]]:
        forced_bids, forced_asks = self.drift()
        return self.side_rows(self.bids, forced_bids), self.side_rows(self.asks, forced_asks)

    def text_rows(self, levels: list[Level], extra: bool) -> list[list[str]]:
        price, size = self.shape.price_text, self.shape.size_text
        if not extra:
            return [[price(p), size(q)] for p, q in levels]
        # OKX: [px, sz, liquidated orders (always "0"), orders at the level]
        rng = self.rng
        return [[price(p), size(q), "0", str(rng.randint(1, 30) if q else 0)] for p, q in levels]

    def checksum(self) -> int:
        """OKX's CRC32 of the top 25 levels a side, bid then ask, as a signed int32."""
        price, size = self.shape.price_text, self.shape.size_text
        bids = self.bids.top(CHECKSUM_DEPTH)
        asks = self.asks.top(CHECKSUM_DEPTH)
        parts = []
        for i in range(CHECKSUM_DEPTH):
            for side in (bids, asks):
                if i < len(side):
                    p, q = side[i]
                    parts.append(f"{price(p)}:{size(q)}")
        crc = zlib.crc32(":".join(parts).encode())
        return crc - (1 << 32) if crc >= 1 << 31 else crc


def _binance(gen: _Generator, count: int, key: bytes) -> tuple[bytes, int, list[bytes]]:
    last = 78_423_155_531
    snapshot = orjson.dumps(
        {
            "lastUpdateId": last,
            "bids": gen.text_rows(gen.bids.top(gen.shape.depth), False),
            "asks": gen.text_rows(gen.asks.top(gen.shape.depth), False),
        }
    )
    stream = key.decode()
    frames = []
    snapshot_id = last
    for k in range(count):
        bids, asks = gen.step()
        first = last + 1
        last = first + gen.rng.randint(0, 39)
        doc: dict[str, Any] = {
            "e": "depthUpdate",
            "E": START_MS + FRAME_MS * (k + 1),
            "s": gen.inst.symbol,
            "U": first,
            "u": last,
            "b": gen.text_rows(bids, False),
            "a": gen.text_rows(asks, False),
        }
        frames.append(orjson.dumps({"stream": stream, "data": doc}))
    return snapshot, snapshot_id, frames


def _okx(gen: _Generator, count: int, checksum: bool) -> tuple[bytes, int, list[bytes]]:
    arg = {"channel": "books", "instId": gen.inst.symbol}
    last = 123_456_789
    snapshot = orjson.dumps(
        {
            "arg": arg,
            "action": "snapshot",
            "data": [
                {
                    "asks": gen.text_rows(gen.asks.top(gen.shape.depth), True),
                    "bids": gen.text_rows(gen.bids.top(gen.shape.depth), True),
                    "ts": str(START_MS),
                    "checksum": gen.checksum() if checksum else 0,
                    "prevSeqId": -1,
                    "seqId": last,
                }
            ],
        }
    )
    snapshot_id = last
    frames = []
    for k in range(count):
        bids, asks = gen.step()
        prev = last
        last = prev + gen.rng.randint(1, 40)
        data = {
            "asks": gen.text_rows(asks, True),
            "bids": gen.text_rows(bids, True),
            "ts": str(START_MS + FRAME_MS * (k + 1)),
            "checksum": gen.checksum() if checksum else 0,
            "prevSeqId": prev,
            "seqId": last,
        }
        frames.append(orjson.dumps({"arg": arg, "action": "update", "data": [data]}))
    return snapshot, snapshot_id, frames


def _gate(gen: _Generator, count: int) -> tuple[bytes, int, list[bytes]]:
    last = 48_776_301
    snapshot = orjson.dumps(
        {
            "id": last,
            "current": START_MS,
            "update": START_MS - 3,
            "asks": gen.text_rows(gen.asks.top(gen.shape.depth), False),
            "bids": gen.text_rows(gen.bids.top(gen.shape.depth), False),
        }
    )
    snapshot_id = last
    frames = []
    for k in range(count):
        bids, asks = gen.step()
        first = last + 1
        last = first + gen.rng.randint(0, 39)
        ms = START_MS + FRAME_MS * (k + 1)
        doc = {
            "time": ms // 1000,
            "time_ms": ms + 4,
            "channel": "spot.order_book_update",
            "event": "update",
            "result": {
                "t": ms,
                "l": "100",
                "e": "depthUpdate",
                "E": ms // 1000,
                "s": gen.inst.symbol,
                "U": first,
                "u": last,
                "b": gen.text_rows(bids, False),
                "a": gen.text_rows(asks, False),
            },
        }
        frames.append(orjson.dumps(doc))
    return snapshot, snapshot_id, frames


@functools.lru_cache(maxsize=8)
def generate(
    venue: Venue, frames: int = FRAMES, seed: int = SEED, *, checksum: bool = False
) -> Workload:
    """A snapshot and `frames` consecutive diffs for BTC/USDT on `venue` (see the module
    docstring); the same arguments give the same bytes. `checksum`: OKX only."""
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    if checksum and venue != "okx":
        raise ValueError("checksums are OKX's only")
    inst = instrument(venue)
    key = routing_key(inst)
    gen = _Generator(inst, seed)
    if venue == "binance":
        snapshot, snapshot_id, out = _binance(gen, frames, key)
    elif venue == "okx":
        snapshot, snapshot_id, out = _okx(gen, frames, checksum)
    else:
        snapshot, snapshot_id, out = _gate(gen, frames)
    levels = gen.counts["deletes"] + gen.counts["inserts"] + gen.counts["changes"]
    stats = {name: count / frames for name, count in gen.counts.items() if name != "drifts"}
    stats["levels"] = levels / frames
    stats["drifts"] = gen.counts["drifts"]
    stats["bytes"] = sum(map(len, out)) / frames
    stats["snapshot_levels"] = gen.shape.depth
    stats["final_bid_levels"] = len(gen.bids.coords)
    stats["final_ask_levels"] = len(gen.asks.coords)
    return Workload(
        venue=venue,
        instrument=inst,
        key=key,
        snapshot=snapshot,
        snapshot_id=snapshot_id,
        frames=out,
        final_bids=gen.bids.top(50),
        final_asks=gen.asks.top(50),
        stats=stats,
    )


if __name__ == "__main__":  # a look at the shapes: python -m bench.workload
    import time

    for name in VENUES:
        t0 = time.perf_counter()
        w = generate(name)
        print(f"{w.describe()} ({time.perf_counter() - t0:.2f} s)")
        print("  ", w.frames[0][:300])
