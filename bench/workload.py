"""Depth streams for the benchmarks: a snapshot and the diffs that follow it, generated or a
user's own recording.

`generate(venue)` returns a `Workload`: the venue's snapshot (Binance: a REST /api/v3/depth
body; OKX: a `books` push with `"action":"snapshot"`; Gate: a REST
/spot/order_book?with_id=true body), the update id it stands at, and `FRAMES` consecutive diff
frames as the venue's WebSocket sends them (Binance in the combined-stream envelope, OKX
`books` updates, Gate `spot.order_book_update` pushes), each continuing the last exactly
(Binance and Gate: U = previous u + 1; OKX: prevSeqId = previous seqId), so every frame
applies; also the same snapshot and diffs as int64 ticks/lots (`snapshot_bids`, `diffs`), for
the cases that start from decoded updates. Nothing here times anything; a benchmark plays the
frames in order. `read_frames(path, venue)` builds a Workload from a user's file instead (see
"Recorded frames" below), and `recording(venue)` writes such a file from a generated stream.

The shape, all drawn from one `random.Random(seed)`:

- instruments as the venues list BTC/USDT: Binance tick 0.01 / lot 0.00001, prices and sizes
  printed with 8 decimals; OKX tick 0.1 / lot 0.00000001 and Gate tick 0.1 / lot 0.000001,
  printed without trailing zeros; mid near 65,000.
- snapshot depth: Binance 1,000 levels a side (the feed's snapshot_limit), OKX 400 (`books`),
  Gate 100 (the Gate feed's snapshot_limit); `depth=N` for another (the book depth sweep).
  Spread one tick; the k-th level from the touch is 1 + Exp(mean 0.3 + k/40) ticks below the
  previous one: ~77% of ticks filled at the top, gaps of ~25 ticks a thousand levels down.
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

Recorded frames (`python -m bench feed.binance_frame --frames FILE`): JSON lines, the first the
venue's snapshot (Binance: the /api/v3/depth body; Gate: the /spot/order_book?with_id=true
body; OKX: the `books` push with `"action":"snapshot"` itself), the rest the raw WebSocket
frames in order as received (Binance: combined-stream frames, `{"stream":...,"data":...}`).
Lines that are not depth frames of the stream (trades, acks, other symbols) are allowed: the
handler returns OTHER for them, and they are left out of the timing; blank lines and bare
`ping`/`pong` keepalives are skipped. `read_frames` checks what it can without the engine
(well-formed JSON, the snapshot's shape, the stream the frames are for) and raises
`FramesError` naming the line; the feed cases then play the file through the engine's frame
handler and name the line of any frame it refuses or that does not continue the sequence.
`python -m bench.workload --sample binance FILE` writes a small recording (the sample under
bench/data/ was made so).
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
from pathlib import Path
from typing import Any, Literal, cast

import orjson

from engine._core.fixedpoint import Grid, GridError
from engine.model.instrument import Instrument

Venue = Literal["binance", "okx", "gate"]
VENUES: tuple[Venue, ...] = ("binance", "okx", "gate")
NAMES: dict[Venue, str] = {"binance": "Binance", "okx": "OKX", "gate": "Gate"}

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


Diff = tuple[list[Level], list[Level]]  # one frame's (bids, asks) rows, best first, size 0 = delete


class FramesError(ValueError):
    """A --frames file the benchmark cannot play: `str()` is one line naming the file and the
    line (and what to do)."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line


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
    # generated streams: the snapshot and every frame's rows as ints (empty when recorded)
    snapshot_bids: list[Level] = field(default_factory=list)
    snapshot_asks: list[Level] = field(default_factory=list)
    diffs: list[Diff] = field(default_factory=list)
    # recorded streams: the file, and the line number of each frame in it (1 = the snapshot)
    source: str = "generated"
    snapshot_line: int = 1
    lines: list[int] = field(default_factory=list)

    @property
    def depth(self) -> int:
        """Levels a side in the snapshot."""
        return int(self.stats.get("snapshot_levels", 0))

    def line_of(self, index: int) -> int:
        """The file line of frames[index] (1-based; generated: index + 2, the snapshot first)."""
        return self.lines[index] if self.lines else index + 2

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


DEFAULT_GRIDS: dict[Venue, tuple[str, str]] = {  # BTC/USDT: (tick, lot)
    "binance": ("0.01", "0.00001"),
    "okx": ("0.1", "0.00000001"),
    "gate": ("0.1", "0.000001"),
}
_QUOTES = ("USDT", "USDC", "FDUSD", "TUSD", "BUSD", "BTC", "ETH", "BNB", "EUR", "TRY", "USD")


def instrument_for(venue: Venue, symbol: str, tick: Decimal, lot: Decimal) -> Instrument:
    """An instrument for a recorded stream: the venue's symbol, the grid the user gives."""
    if venue == "okx":
        base, _, quote = symbol.partition("-")
    elif venue == "gate":
        base, _, quote = symbol.partition("_")
    else:
        quote = next((q for q in _QUOTES if symbol.endswith(q) and symbol != q), "")
        base = symbol[: len(symbol) - len(quote)]
    return Instrument(
        symbol, venue, base or symbol, quote or "?", tick, lot, Decimal(0), Decimal(0),
        Grid(tick).exp, Grid(lot).exp,
    )  # fmt: skip


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


DEPTHS: dict[Venue, int] = {"binance": 1000, "okx": 400, "gate": 100}  # snapshot levels


def _shape(inst: Instrument, depth: int | None = None) -> _Shape:
    pd = inst.price_grid.exp
    qd = inst.qty_grid.exp
    venue = cast(Venue, inst.venue)
    levels = DEPTHS[venue] if depth is None else depth
    if venue == "binance":
        return _Shape(
            "binance",
            levels,
            lambda rng: 10,
            _fixed(pd, 8),
            _fixed(qd, 8),
        )
    if inst.venue == "okx":
        return _Shape(
            "okx",
            levels,
            lambda rng: 1 + _poisson(rng, 9.0),
            _plain(pd),
            _plain(qd),
        )
    return _Shape(
        "gate",
        levels,
        lambda rng: 1 + _poisson(rng, 7.0),
        _plain(pd),
        _plain(qd),
    )


class _Generator:
    def __init__(self, inst: Instrument, seed: int, depth: int | None = None) -> None:
        self.inst = inst
        self.shape = _shape(inst, depth)
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


# ------------------------------------------------------------------------------ venue formats


class _Format:
    """How one venue prints a snapshot, a diff frame and a trade (the lines a recording
    interleaves); `first_id` is the update id the stream starts at."""

    first_id = 0

    def __init__(self, gen: _Generator, key: bytes, checksum: bool) -> None:
        self.gen = gen
        self.key = key
        self.checksum = checksum

    def snapshot(self, last: int, ms: int) -> bytes:
        raise NotImplementedError

    def frame(self, k: int, bids: list[Level], asks: list[Level], last: int) -> tuple[bytes, int]:
        """Diff frame k (0-based) continuing update id `last`; the frame and its last id."""
        raise NotImplementedError

    def trade(self, rng: random.Random, k: int, trade_id: int) -> bytes:
        raise NotImplementedError

    def _trade_fields(self, rng: random.Random) -> tuple[str, str, bool]:
        """A trade at the touch: price text, size text, whether the buyer was the maker."""
        gen = self.gen
        sell = rng.random() < 0.5
        side = gen.bids if sell else gen.asks
        price = side.price(side.coords[0]) if side.coords else side.price(side.anchor)
        return gen.shape.price_text(price), gen.shape.size_text(gen.size()), sell


class _BinanceFormat(_Format):
    first_id = 78_423_155_531

    def snapshot(self, last: int, ms: int) -> bytes:
        gen = self.gen
        return orjson.dumps(
            {
                "lastUpdateId": last,
                "bids": gen.text_rows(gen.bids.top(gen.shape.depth), False),
                "asks": gen.text_rows(gen.asks.top(gen.shape.depth), False),
            }
        )

    def frame(self, k: int, bids: list[Level], asks: list[Level], last: int) -> tuple[bytes, int]:
        gen = self.gen
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
        return orjson.dumps({"stream": self.key.decode(), "data": doc}), last

    def trade(self, rng: random.Random, k: int, trade_id: int) -> bytes:
        price, size, maker = self._trade_fields(rng)
        ms = START_MS + FRAME_MS * (k + 1) + 7
        symbol = self.gen.inst.symbol
        data = {"e": "trade", "E": ms, "s": symbol, "t": trade_id, "p": price, "q": size,
                "T": ms - 1, "m": maker, "M": True}  # fmt: skip
        return orjson.dumps({"stream": f"{symbol.lower()}@trade", "data": data})


class _OkxFormat(_Format):
    first_id = 123_456_789

    def _arg(self) -> dict[str, str]:
        return {"channel": "books", "instId": self.gen.inst.symbol}

    def snapshot(self, last: int, ms: int) -> bytes:
        gen = self.gen
        data = {
            "asks": gen.text_rows(gen.asks.top(gen.shape.depth), True),
            "bids": gen.text_rows(gen.bids.top(gen.shape.depth), True),
            "ts": str(ms),
            "checksum": gen.checksum() if self.checksum else 0,
            "prevSeqId": -1,
            "seqId": last,
        }
        return orjson.dumps({"arg": self._arg(), "action": "snapshot", "data": [data]})

    def frame(self, k: int, bids: list[Level], asks: list[Level], last: int) -> tuple[bytes, int]:
        gen = self.gen
        prev = last
        last = prev + gen.rng.randint(1, 40)
        data = {
            "asks": gen.text_rows(asks, True),
            "bids": gen.text_rows(bids, True),
            "ts": str(START_MS + FRAME_MS * (k + 1)),
            "checksum": gen.checksum() if self.checksum else 0,
            "prevSeqId": prev,
            "seqId": last,
        }
        return orjson.dumps({"arg": self._arg(), "action": "update", "data": [data]}), last

    def trade(self, rng: random.Random, k: int, trade_id: int) -> bytes:
        price, size, maker = self._trade_fields(rng)
        symbol = self.gen.inst.symbol
        data = {"instId": symbol, "tradeId": str(trade_id), "px": price, "sz": size,
                "side": "sell" if maker else "buy", "ts": str(START_MS + FRAME_MS * (k + 1) + 7),
                "count": "1"}  # fmt: skip
        return orjson.dumps({"arg": {"channel": "trades", "instId": symbol}, "data": [data]})


class _GateFormat(_Format):
    first_id = 48_776_301

    def snapshot(self, last: int, ms: int) -> bytes:
        gen = self.gen
        return orjson.dumps(
            {
                "id": last,
                "current": ms,
                "update": ms - 3,
                "asks": gen.text_rows(gen.asks.top(gen.shape.depth), False),
                "bids": gen.text_rows(gen.bids.top(gen.shape.depth), False),
            }
        )

    def frame(self, k: int, bids: list[Level], asks: list[Level], last: int) -> tuple[bytes, int]:
        gen = self.gen
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
        return orjson.dumps(doc), last

    def trade(self, rng: random.Random, k: int, trade_id: int) -> bytes:
        price, size, maker = self._trade_fields(rng)
        ms = START_MS + FRAME_MS * (k + 1) + 7
        result = {"id": trade_id, "create_time": ms // 1000, "create_time_ms": f"{ms}.000",
                  "side": "sell" if maker else "buy", "currency_pair": self.gen.inst.symbol,
                  "amount": size, "price": price, "range": f"{trade_id}-{trade_id}"}  # fmt: skip
        doc = {"time": ms // 1000, "time_ms": ms + 2, "channel": "spot.trades",
               "event": "update", "result": result}  # fmt: skip
        return orjson.dumps(doc)


_FORMATS: dict[Venue, type[_Format]] = {
    "binance": _BinanceFormat,
    "okx": _OkxFormat,
    "gate": _GateFormat,
}


@dataclass(slots=True)
class _Stream:
    gen: _Generator
    fmt: _Format
    snapshot: bytes
    snapshot_id: int
    snapshot_bids: list[Level]
    snapshot_asks: list[Level]
    frames: list[bytes]  # every frame, including those before the snapshot
    diffs: list[Diff]  # the rows of the frames after the snapshot


def _stream(
    venue: Venue, frames: int, *, seed: int, depth: int | None, checksum: bool, snapshot_at: int
) -> _Stream:
    """`frames` consecutive diffs, and the snapshot of the book as it stood after
    `snapshot_at` of them (0: before the first)."""
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    if checksum and venue != "okx":
        raise ValueError("checksums are OKX's only")
    if not 0 <= snapshot_at < frames:
        raise ValueError(f"snapshot_at must be in 0..{frames - 1}, got {snapshot_at}")
    inst = instrument(venue)
    gen = _Generator(inst, seed, depth)
    fmt = _FORMATS[venue](gen, routing_key(inst), checksum)
    last = fmt.first_id
    out: list[bytes] = []
    diffs: list[Diff] = []
    snapshot = b""
    snapshot_id = 0
    snap_bids: list[Level] = []
    snap_asks: list[Level] = []
    for k in range(frames):
        if k == snapshot_at:
            snapshot = fmt.snapshot(last, START_MS + FRAME_MS * k)
            snapshot_id = last
            snap_bids = gen.bids.top(gen.shape.depth)
            snap_asks = gen.asks.top(gen.shape.depth)
            gen.counts = dict.fromkeys(gen.counts, 0)  # the stats describe what follows
        bids, asks = gen.step()
        if k >= snapshot_at:
            diffs.append((bids, asks))
        frame, last = fmt.frame(k, bids, asks, last)
        out.append(frame)
    return _Stream(gen, fmt, snapshot, snapshot_id, snap_bids, snap_asks, out, diffs)


def _stats(s: _Stream) -> dict[str, float]:
    gen = s.gen
    count = len(s.diffs)
    levels = gen.counts["deletes"] + gen.counts["inserts"] + gen.counts["changes"]
    stats = {name: n / count for name, n in gen.counts.items() if name != "drifts"}
    stats["levels"] = levels / count
    stats["drifts"] = gen.counts["drifts"]
    stats["bytes"] = sum(map(len, s.frames)) / len(s.frames)
    stats["snapshot_levels"] = gen.shape.depth
    stats["final_bid_levels"] = len(gen.bids.coords)
    stats["final_ask_levels"] = len(gen.asks.coords)
    return stats


@functools.lru_cache(maxsize=8)
def _generated(venue: Venue, frames: int, seed: int, checksum: bool, depth: int) -> Workload:
    s = _stream(venue, frames, seed=seed, depth=depth, checksum=checksum, snapshot_at=0)
    # the frames one after another in memory, as read_frames leaves a file's lines: among the
    # generator's objects they were scattered, which cost ~5-10% a frame in feed.*
    s.frames = b"\n".join(s.frames).split(b"\n")
    return Workload(
        venue=venue,
        instrument=s.gen.inst,
        key=s.fmt.key,
        snapshot=s.snapshot,
        snapshot_id=s.snapshot_id,
        frames=s.frames,
        final_bids=s.gen.bids.top(50),
        final_asks=s.gen.asks.top(50),
        stats=_stats(s),
        snapshot_bids=s.snapshot_bids,
        snapshot_asks=s.snapshot_asks,
        diffs=s.diffs,
    )


def generate(
    venue: Venue,
    frames: int = FRAMES,
    seed: int = SEED,
    *,
    checksum: bool = False,
    depth: int | None = None,
) -> Workload:
    """A snapshot and `frames` consecutive diffs for BTC/USDT on `venue` (see the module
    docstring); the same arguments give the same bytes, and the same object within a
    process (cached). `checksum`: OKX only; `depth`: snapshot levels a side (default the
    venue's: Binance 1,000, OKX 400, Gate 100)."""
    if venue not in DEPTHS:
        raise ValueError(f"unknown venue {venue!r}")
    return _generated(venue, frames, seed, checksum, DEPTHS[venue] if depth is None else depth)


# ------------------------------------------------------------------------------ recordings

SAMPLE_FRAMES = 200
SAMPLE_DEPTH = 100
SAMPLE_STALE = 3  # frames received before the snapshot (Binance, Gate): the file skips them
SAMPLE_TRADE_EVERY = 20
SAMPLE_DIR = Path(__file__).parent / "data"


def recording(
    venue: Venue,
    frames: int = SAMPLE_FRAMES,
    *,
    depth: int = SAMPLE_DEPTH,
    seed: int = SEED,
    stale: int | None = None,
    trade_every: int = SAMPLE_TRADE_EVERY,
) -> tuple[list[bytes], Workload]:
    """The lines of a --frames file as a user would record it, and the Workload the stream
    came from (its final book): the snapshot first (taken after `stale` frames had arrived:
    default 3 for Binance and Gate, whose REST snapshot comes after the subscription; OKX
    pushes its snapshot first, so 0), then every frame as received, a trade after every
    `trade_every` frames (0: none). The trades draw from their own random stream, so the
    depth frames are those of generate(venue, frames, seed, depth=depth)."""
    if stale is None:
        stale = 0 if venue == "okx" else SAMPLE_STALE
    if venue == "okx" and stale:
        raise ValueError("OKX sends the snapshot before any update: stale must be 0")
    s = _stream(venue, frames, seed=seed, depth=depth, checksum=False, snapshot_at=stale)
    rng = random.Random(seed + 1)
    lines = [s.snapshot]
    for k, frame in enumerate(s.frames):
        lines.append(frame)
        if trade_every and (k + 1) % trade_every == 0:
            lines.append(s.fmt.trade(rng, k, 3_100_000_000 + k))
    w = Workload(
        venue=venue,
        instrument=s.gen.inst,
        key=s.fmt.key,
        snapshot=s.snapshot,
        snapshot_id=s.snapshot_id,
        frames=s.frames,
        final_bids=s.gen.bids.top(50),
        final_asks=s.gen.asks.top(50),
        stats=_stats(s),
        snapshot_bids=s.snapshot_bids,
        snapshot_asks=s.snapshot_asks,
        diffs=s.diffs,
    )
    return lines, w


def write_recording(path: Path | str, venue: Venue, **kwargs: Any) -> Workload:
    """recording(venue, **kwargs) written to `path`, one line each."""
    lines, w = recording(venue, **kwargs)
    Path(path).write_bytes(b"\n".join(lines) + b"\n")
    return w


def sample_path(venue: Venue) -> Path:
    """The sample recording shipped under bench/data/ (Binance only is shipped)."""
    return SAMPLE_DIR / f"{venue}_{instrument(venue).symbol.lower().replace('-', '_')}.jsonl"


# ------------------------------------------------------------------------------ reading a file

KEEPALIVES = (b"ping", b"pong")  # OKX and Gate keepalives are bare text, not JSON
_SNAPSHOT_HINT: dict[Venue, str] = {
    "binance": "the body of GET /api/v3/depth?symbol=...&limit=1000 (lastUpdateId, bids, asks)",
    "okx": 'the books push with "action":"snapshot" itself (arg, action, data[0].seqId)',
    "gate": "the body of GET /api/v4/spot/order_book?currency_pair=...&limit=100&with_id=true "
    "(id, bids, asks)",
}


def _levels(rows: object) -> int:
    return len(rows) if isinstance(rows, list) else 0


def _deletes(rows: object) -> int:
    """Rows with size zero ("0", "0.00000000")."""
    if not isinstance(rows, list):
        return 0
    return sum(
        1
        for row in rows
        if isinstance(row, list)
        and len(row) > 1
        and isinstance(row[1], str)
        and not row[1].strip("0.")
    )


def _snapshot_fields(venue: Venue, doc: Any) -> tuple[int, int, bytes | None, str | None]:
    """(snapshot id, levels a side, OKX's routing key, OKX's symbol) or raise ValueError."""
    if not isinstance(doc, dict):
        raise ValueError("not an object")
    if venue == "okx":
        arg = doc.get("arg")
        data = doc.get("data")
        if not isinstance(arg, dict) or doc.get("action") != "snapshot":
            raise ValueError('no "arg", or "action" is not "snapshot"')
        channel, inst_id = arg.get("channel"), arg.get("instId")
        if not isinstance(channel, str) or not channel.startswith("books"):
            raise ValueError(f'arg.channel {channel!r} is not a "books" channel')
        if not isinstance(inst_id, str) or not inst_id:
            raise ValueError("no arg.instId")
        if not isinstance(data, list) or not data or not isinstance(data[0], dict):
            raise ValueError('no "data" entry')
        seq = data[0].get("seqId")
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise ValueError("no integer data[0].seqId")
        depth = max(_levels(data[0].get("bids")), _levels(data[0].get("asks")))
        key = f'{{"arg":{{"channel":"{channel}","instId":"{inst_id}"'.encode()
        return seq, depth, key, inst_id
    name = "lastUpdateId" if venue == "binance" else "id"
    ident = doc.get(name)
    if not isinstance(ident, int) or isinstance(ident, bool):
        raise ValueError(f'no integer "{name}"')
    if not isinstance(doc.get("bids"), list) or not isinstance(doc.get("asks"), list):
        raise ValueError('no "bids"/"asks" arrays')
    return ident, max(_levels(doc["bids"]), _levels(doc["asks"])), None, None


def _stream_of(venue: Venue, doc: Any) -> tuple[bytes, str] | None:
    """(routing key, symbol) when `doc` is a depth diff frame of `venue`, else None."""
    if not isinstance(doc, dict):
        return None
    if venue == "binance":
        stream, data = doc.get("stream"), doc.get("data")
        if isinstance(stream, str) and "@depth" in stream and isinstance(data, dict):
            symbol = data.get("s")
            name = symbol if isinstance(symbol, str) and symbol else stream.split("@")[0].upper()
            return stream.encode(), name
        return None
    if venue == "gate":
        result = doc.get("result")
        if (
            doc.get("channel") == "spot.order_book_update"
            and doc.get("event") == "update"
            and isinstance(result, dict)
            and isinstance(result.get("s"), str)
        ):
            return result["s"].encode(), result["s"]
        return None
    return None  # OKX: the snapshot names the stream


def _frame_rows(venue: Venue, doc: Any) -> tuple[object, object]:
    if venue == "binance":
        d = doc["data"]
        return d.get("b"), d.get("a")
    if venue == "gate":
        r = doc["result"]
        return r.get("b"), r.get("a")
    data = doc.get("data")
    d = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    return d.get("bids"), d.get("asks")


def read_frames(
    path: Path | str, venue: Venue, tick: Decimal | None = None, lot: Decimal | None = None
) -> Workload:
    """A user's recorded stream (the module docstring's "Recorded frames") as a Workload,
    with `tick`/`lot` for its instrument (default: the venue's BTC/USDT grid). Raises
    FramesError naming the line for a malformed line, a first line that is not the venue's
    snapshot, or a file with no depth frame of the venue's kind."""
    if venue not in DEPTHS:
        raise ValueError(f"unknown venue {venue!r}")
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise FramesError(path, None, f"cannot read it: {exc.strerror or exc}") from None
    entries = [(i, line.strip()) for i, line in enumerate(raw.split(b"\n"), 1)]
    entries = [(i, line) for i, line in entries if line and line not in KEEPALIVES]
    if not entries:
        raise FramesError(
            path, None, f"no lines: the first must be the snapshot, {_SNAPSHOT_HINT[venue]}"
        )
    docs: list[Any] = []
    for number, line in entries:
        try:
            docs.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise FramesError(
                path,
                number,
                f"not valid JSON ({exc.msg} at column {exc.colno}): each line must hold one "
                "whole frame as received (fix or delete the line)",
            ) from None
    first_line, snapshot = entries[0]
    try:
        snapshot_id, depth, key, symbol = _snapshot_fields(venue, docs[0])
    except ValueError as exc:
        raise FramesError(
            path,
            first_line,
            f"not {'an' if venue == 'okx' else 'a'} {NAMES[venue]} snapshot ({exc}): the first "
            f"line must be {_SNAPSHOT_HINT[venue]}",
        ) from None
    if key is None or symbol is None:
        found = next((s for s in (_stream_of(venue, d) for d in docs[1:]) if s is not None), None)
        if found is None:
            raise FramesError(path, None, _no_frames(venue, entries, docs))
        key, symbol = found
    tick_text, lot_text = DEFAULT_GRIDS[venue]
    tick = Decimal(tick_text) if tick is None else tick
    lot = Decimal(lot_text) if lot is None else lot
    try:
        inst = instrument_for(venue, symbol, tick, lot)
    except (ValueError, TypeError, GridError) as exc:
        raise FramesError(path, None, f"--tick {tick} / --lot {lot}: {exc}") from None
    frames = [line for _, line in entries[1:]]
    lines = [number for number, _ in entries[1:]]
    if not frames:
        raise FramesError(path, None, "only a snapshot: the frames received must follow it")
    depth_frames = 0
    levels = 0
    deletes = 0
    for doc in docs[1:]:
        if venue == "okx":
            is_depth = isinstance(doc, dict) and doc.get("arg") == docs[0].get("arg")
        else:
            found = _stream_of(venue, doc)
            is_depth = found is not None and found[0] == key
        if is_depth:
            depth_frames += 1
            bids, asks = _frame_rows(venue, doc)
            levels += _levels(bids) + _levels(asks)
            deletes += _deletes(bids) + _deletes(asks)
    per = max(depth_frames, 1)
    stats = {
        "snapshot_levels": depth,
        "depth_frames": depth_frames,
        "levels": levels / per,
        "deletes": deletes / per,
        "bytes": sum(map(len, frames)) / len(frames),
    }
    return Workload(
        venue=venue,
        instrument=inst,
        key=key,
        snapshot=snapshot,
        snapshot_id=snapshot_id,
        frames=frames,
        stats=stats,
        source=str(path),
        snapshot_line=first_line,
        lines=lines,
    )


def _no_frames(venue: Venue, entries: list[tuple[int, bytes]], docs: list[Any]) -> str:
    if venue == "binance":
        for (number, _), doc in zip(entries[1:], docs[1:], strict=True):
            if isinstance(doc, dict) and doc.get("e") == "depthUpdate":
                return (
                    f"line {number} is a raw-stream depthUpdate: record the combined stream "
                    "(wss://stream.binance.com:9443/stream?streams=<symbol>@depth@100ms), whose "
                    'frames are {"stream":"<symbol>@depth@100ms","data":{...}} as the engine '
                    "receives them"
                )
        return (
            'no Binance depth frame ({"stream":"<symbol>@depth@100ms","data":{...}}) after '
            "the snapshot line"
        )
    return (
        'no spot.order_book_update frame ({"channel":"spot.order_book_update",'
        '"event":"update","result":{"s":...}}) after the snapshot line'
    )


# ------------------------------------------------------------------------------ command line


def main(argv: list[str] | None = None) -> int:
    import argparse
    import time

    parser = argparse.ArgumentParser(
        prog="python -m bench.workload",
        description="Print each venue's generated shape, or write a sample --frames file.",
    )
    parser.add_argument("--sample", choices=VENUES, help="write a recording of this venue")
    parser.add_argument("path", nargs="?", help="where --sample writes (default: bench/data/)")
    parser.add_argument("--frames", type=int, default=SAMPLE_FRAMES, help="diffs in the sample")
    parser.add_argument("--depth", type=int, default=SAMPLE_DEPTH, help="snapshot levels a side")
    args = parser.parse_args(argv)
    if args.sample:
        venue = cast(Venue, args.sample)
        path = Path(args.path) if args.path else sample_path(venue)
        w = write_recording(path, venue, frames=args.frames, depth=args.depth)
        bid, ask = (w.final_bids or [(0, 0)])[0], (w.final_asks or [(0, 0)])[0]
        grid_p, grid_q = w.instrument.price_grid, w.instrument.qty_grid
        print(
            f"{path}: {w.describe()}; final best bid {grid_p.to_str(bid[0])} x "
            f"{grid_q.to_str(bid[1])}, best ask {grid_p.to_str(ask[0])} x {grid_q.to_str(ask[1])}"
        )
        return 0
    for name in VENUES:
        t0 = time.perf_counter()
        w = generate(name)
        print(f"{w.describe()} ({time.perf_counter() - t0:.2f} s)")
        print("  ", w.frames[0][:300])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
