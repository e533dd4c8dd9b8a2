"""Order book cases on the workload the engine sees: a Binance BTC/USDT book seeded from a
1,000-level snapshot (the depth sweep: 100, 1,000 and 5,000 levels a side) and then the
10,000 consecutive generated diffs of bench.workload (10 bids + 10 asks a frame, levels at
exponentially distributed distances from the touch, ~4 deletions a frame, the mid drifting),
played in order, the book rewound to the snapshot between samples when the sequence runs
out. The diffs are already decoded (int64 ticks/lots, into UpdateBuffers prepared before
timing): these cases time the book alone. Each baseline is a plain dict book per side
(price -> size) fed the same updates in the same order, its best recomputed with max()/min()
of the keys, as a Python engine without a sorted structure would.

- book.apply_depth_N: one diff per operation; each timed batch follows an untimed one, so
  that what the baseline's sample left in the caches (more, the deeper its dicts) is not
  charged to the book: the sweep is about the book's cost against its depth.
- book.level_update: one level per operation, a one-row UpdateBuffer each.
- book.best: one OrderBook.top() right after each diff, each read timed alone (a read of a
  book that has not changed since the last read would flatter a cached answer).

Before timing, each case plays the whole sequence once on both sides and checks that the
books end where the generator's did (top 50 levels a side).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.play import Player, both, skip_for
from bench.runner import Ops, Options, Pair, case
from bench.workload import Diff, Level, Workload, generate
from engine._core.book import ASK, BID, OrderBook, UpdateBuffer
from engine.data.feed import FeedOptions

CAPACITY = FeedOptions().book_capacity  # levels a book keeps (the engine's default, 1000)
CHECK_LEVELS = 50
SWEEP_BATCH = 250  # diffs a timed sample, after as many untimed (10,000 = 20 such pairs)
LEVEL_BATCH = 1024  # level updates a timed sample
BEST_BATCH = 1024  # top() reads a timed sample

Row = tuple[int, int, int]  # (side, price, size) of one level update


def _workload(depth: int = 1000) -> Workload:
    return generate("binance", depth=depth)


def _buffer(bids: Sequence[Level], asks: Sequence[Level]) -> UpdateBuffer:
    buf = UpdateBuffer(max(len(bids), len(asks), 1))
    for price, size in bids:
        buf.push(BID, price, size)
    for price, size in asks:
        buf.push(ASK, price, size)
    return buf


class _Book:
    """Our side: an OrderBook loaded from the workload's snapshot, and the diffs prepared as
    UpdateBuffers (one per frame, as a decoder leaves them)."""

    def __init__(self, w: Workload, capacity: int) -> None:
        self.snapshot = _buffer(w.snapshot_bids, w.snapshot_asks)
        self.book = OrderBook(capacity)
        self.restart()
        self.diffs = [_buffer(bids, asks) for bids, asks in w.diffs]

    def restart(self) -> None:
        if self.book.load_snapshot(self.snapshot) != 0:
            raise AssertionError("the snapshot does not load")

    def apply(self, bufs: Sequence[UpdateBuffer]) -> None:
        apply = self.book.apply
        for buf in bufs:
            apply(buf)

    def top(self) -> tuple[list[Level], list[Level]]:
        return self.book.levels(BID, CHECK_LEVELS), self.book.levels(ASK, CHECK_LEVELS)


class _DictBook:
    """The baseline's book: a dict per side, price -> size."""

    def __init__(self, w: Workload) -> None:
        self.snap_bids = dict(w.snapshot_bids)
        self.snap_asks = dict(w.snapshot_asks)
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.best = [0, 0]
        self.restart()

    def restart(self) -> None:
        self.bids = dict(self.snap_bids)
        self.asks = dict(self.snap_asks)

    def apply(self, diffs: Sequence[Diff]) -> None:
        """Untimed updates (the dict operations only): skipping ahead, checking."""
        bids, asks = self.bids, self.asks
        for new_bids, new_asks in diffs:
            for levels, rows in ((bids, new_bids), (asks, new_asks)):
                for price, size in rows:
                    if size:
                        levels[price] = size
                    else:
                        levels.pop(price, None)

    def apply_with_best(self, diffs: Sequence[Diff]) -> None:
        """The timed baseline: each diff's rows, then the best recomputed."""
        bids, asks, best = self.bids, self.asks, self.best
        for new_bids, new_asks in diffs:
            for price, size in new_bids:
                if size:
                    bids[price] = size
                else:
                    bids.pop(price, None)
            for price, size in new_asks:
                if size:
                    asks[price] = size
                else:
                    asks.pop(price, None)
            best[0] = max(bids) if bids else 0
            best[1] = min(asks) if asks else 0

    def top(self) -> tuple[list[Level], list[Level]]:
        bids = sorted(self.bids.items(), reverse=True)[:CHECK_LEVELS]
        asks = sorted(self.asks.items())[:CHECK_LEVELS]
        return bids, asks


def _check(w: Workload, ours: _Book, theirs: _DictBook) -> None:
    """One pass over the whole sequence on both sides: both books end where the generator's
    did; then both back to the snapshot."""
    ours.apply(ours.diffs)
    theirs.apply(w.diffs)
    want = (w.final_bids, w.final_asks)
    if ours.top() != want:
        raise AssertionError("OrderBook differs from the generator's book after the sequence")
    if theirs.top() != want:
        raise AssertionError("the dict book differs from the generator's after the sequence")
    ours.restart()
    theirs.restart()


# ------------------------------------------------------------------------------ the sweep


def _sweep(depth: int, opts: Options) -> Pair:
    w = _workload(depth)
    ours = _Book(w, max(depth, 1))  # capacity N: the engine with book_depth = N
    theirs = _DictBook(w)
    _check(w, ours, theirs)
    # ours plays one batch untimed before each timed one: the baseline's sample in between
    # (at 5,000 levels, max() over 5,000 dict keys 250 times) otherwise costs our next batch
    # more the deeper the book (RESULTS.md, the depth sweep), which is not the book's cost
    skip = skip_for(len(w.diffs), 2 * SWEEP_BATCH, opts)
    mine = Player(
        ours.diffs, ours.apply, ours.restart, batch=SWEEP_BATCH, skip=skip, warm=SWEEP_BATCH
    )
    naive = Player(w.diffs, theirs.apply_with_best, theirs.restart, batch=SWEEP_BATCH)
    return Pair(
        mine.ops,
        naive.ops,
        batch=SWEEP_BATCH,
        about=_sweep_about(depth),
        between=both(naive, mine),
    )


def _sweep_about(depth: int) -> str:
    return (
        f"one Binance 10+10 diff (decoded, in an UpdateBuffer) -> OrderBook.apply on a book "
        f"seeded with {depth:,} levels a side (capacity {depth:,}), 10,000 consecutive diffs "
        "(each timed batch after an untimed one); baseline: the same rows into a dict book + "
        "max()/min() of the keys"
    )


@case("book.apply_depth_100", about=_sweep_about(100))
def apply_depth_100(opts: Options) -> Pair:
    return _sweep(100, opts)


@case("book.apply_depth_1000", about=_sweep_about(1000))
def apply_depth_1000(opts: Options) -> Pair:
    return _sweep(1000, opts)


@case("book.apply_depth_5000", about=_sweep_about(5000))
def apply_depth_5000(opts: Options) -> Pair:
    return _sweep(5000, opts)


# ------------------------------------------------------------------------------ one level


def _rows(w: Workload) -> list[Row]:
    """The diffs as single level updates, in order (each frame's bids, then its asks)."""
    rows: list[Row] = []
    for bids, asks in w.diffs:
        rows += [(BID, price, size) for price, size in bids]
        rows += [(ASK, price, size) for price, size in asks]
    return rows


class _LevelPlayer:
    """book.level_update, our side: each timed batch applies `batch` one-row UpdateBuffers
    filled, untimed, from the next rows of the sequence."""

    def __init__(self, ours: _Book, rows: list[Row], batch: int, skip: int) -> None:
        self.ours = ours
        self.rows = rows
        self.batch = batch
        self.skip = skip
        self.pos = 0
        self.pool = [UpdateBuffer(1) for _ in range(batch)]
        self.ready = False

    def _prepare(self) -> None:
        if self.pos + self.batch > len(self.rows):
            self.ours.restart()
            self.pos = 0
        for buf, (side, price, size) in zip(
            self.pool, self.rows[self.pos : self.pos + self.batch], strict=True
        ):
            buf.reset()
            buf.push(side, price, size)
        self.ready = True

    def ops(self, n: int) -> None:
        if not self.ready or n != self.batch:  # without between() (pytest-benchmark)
            self._prepare()
        apply = self.ours.book.apply
        for buf in self.pool:
            apply(buf)
        self.pos += self.batch
        self.ready = False

    def between(self) -> None:
        k = min(self.skip, len(self.rows) - self.pos)
        set_level = self.ours.book.set_level
        for side, price, size in self.rows[self.pos : self.pos + k]:
            set_level(side, price, size)
        self.pos += k
        self._prepare()


LEVEL_ABOUT = (
    "one level update (a one-row UpdateBuffer) -> OrderBook.apply, the rows of 10,000 "
    "consecutive Binance diffs in order on a 1,000-level book; baseline: dict set/del + "
    "max()/min() of the keys after each"
)


@case("book.level_update", about=LEVEL_ABOUT)
def level_update(opts: Options) -> Pair:
    w = _workload()
    ours = _Book(w, CAPACITY)
    theirs = _DictBook(w)
    _check(w, ours, theirs)
    rows = _rows(w)
    skip = skip_for(len(rows), LEVEL_BATCH, opts)
    mine = _LevelPlayer(ours, rows, LEVEL_BATCH, skip)

    def update(seq: Sequence[Row]) -> None:
        sides = (theirs.bids, theirs.asks)
        bids, asks, best = theirs.bids, theirs.asks, theirs.best
        for side, price, size in seq:
            levels = sides[side]
            if size:
                levels[price] = size
            else:
                levels.pop(price, None)
            best[0] = max(bids) if bids else 0
            best[1] = min(asks) if asks else 0

    def untimed(seq: Sequence[Row]) -> None:
        sides = (theirs.bids, theirs.asks)
        for side, price, size in seq:
            if size:
                sides[side][price] = size
            else:
                sides[side].pop(price, None)

    naive = Player(rows, update, theirs.restart, batch=LEVEL_BATCH)

    def between() -> None:
        mine.between()
        # the same skip as ours, then the same rewind
        k = min(skip, len(rows) - naive.pos)
        untimed(rows[naive.pos : naive.pos + k])
        naive.pos += k
        naive.between()

    return Pair(mine.ops, naive.ops, batch=LEVEL_BATCH, about=LEVEL_ABOUT, between=between)


# ------------------------------------------------------------------------------ best


def _reads(
    diffs: Sequence[object],
    apply: Callable[[Any], object],
    restart: Callable[[], object],
    read: Callable[[], object],
) -> Ops:
    """n reads, each right after the next diff is applied (untimed), each timed alone: the
    timer's own cost, measured back to back just before, subtracted. The batch's ns."""
    end = len(diffs)
    pos = 0

    def ops(n: int) -> int:
        nonlocal pos
        clock = time.perf_counter_ns
        total = 0
        for _ in range(n):
            if pos == end:
                restart()
                pos = 0
            apply(diffs[pos])
            pos += 1
            t0 = clock()
            t1 = clock()
            read()
            t2 = clock()
            total += (t2 - t1) - (t1 - t0)
        return total

    return ops


BEST_ABOUT = (
    "best bid and ask with sizes in one call from Python, OrderBook.top(), read once after "
    "each of 10,000 consecutive Binance diffs on a 1,000-level book (the diff untimed, each "
    "read timed alone); baseline: max()/min() over dict books + the two sizes"
)


@case("book.best", about=BEST_ABOUT)
def best() -> Pair:
    w = _workload()
    ours = _Book(w, CAPACITY)
    theirs = _DictBook(w)
    _check(w, ours, theirs)

    def naive_apply(diff: Diff) -> None:
        theirs.apply((diff,))

    def naive_read() -> tuple[int, int, int, int]:
        bids, asks = theirs.bids, theirs.asks
        bid = max(bids)
        ask = min(asks)
        return bid, bids[bid], ask, asks[ask]

    def check() -> None:  # the two books agree at the top after every sample
        if ours.book.top() != naive_read():
            raise AssertionError(f"top() {ours.book.top()} differs from the dict book's")

    return Pair(
        _reads(ours.diffs, ours.book.apply, ours.restart, ours.book.top),
        _reads(w.diffs, naive_apply, theirs.restart, naive_read),
        batch=BEST_BATCH,
        about=BEST_ABOUT,
        between=check,
        self_timed=True,
    )
