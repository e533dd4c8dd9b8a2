"""engine/_core/book.pyx as a price-indexed ladder, walked far and long against BookRef.

Per side the Cython book keeps a window of `window` ticks (sizes by tick offset, an occupancy
bitmap) plus exact sorted overflow arrays for the levels outside it: worse than the window,
or better than it once the price has walked away; recenter() moves the window onto the mid.
None of that may show: after every operation every read equals the pure-Python reference's
(engine/data/book_ref.py), which has no window at all, and recenter() changes nothing a
caller can read. The walks use small windows (64, 128 ticks) so that a few thousand steps
drift many windows away and back, fill small sides (drops and evictions wherever the worst
level sits), reload snapshots wider than the window and run into price 1 and MAX_PRICE,
beyond which a window cannot extend.
"""

from __future__ import annotations

import itertools
import math
import random
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple, Protocol

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine._core.book import (
    ASK,
    BID,
    CROSSED,
    DROPPED,
    EVICTED,
    MAX_PRICE,
    NO_PRICE,
    OK,
    OrderBook,
    UpdateBuffer,
)
from engine.data.book_ref import BookRef

INT64_MAX = 2**63 - 1
BUFFER_ROWS = 4096  # rows per side of the one UpdateBuffer a Pair reuses
CENTRE = 1_000_000  # far from both ends of the price range

# An operation, applied the same way to both books: ("set", side, price, size),
# ("apply", rows), ("snapshot", rows), ("clear",), ("recenter",), ("recenter_wanted",)
# (recenter only if the book asks for it), with rows = [(side, price, size), ...].
Op = tuple[Any, ...]
Row = tuple[int, int, int]


# ----------------------------------------------------------------------------- comparing


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        value = fn()
    except (ValueError, OverflowError) as exc:
        return "raised", type(exc).__name__
    if isinstance(value, float):
        return "float", "nan" if math.isnan(value) else value
    return "value", value


def probes(ref: BookRef) -> tuple[list[int], list[tuple[int, int]]]:
    """The n and qty arguments worth reading: ends, middles and exact level boundaries."""
    longest = max(ref.bids_count, ref.asks_count)
    ns = sorted({0, 1, 3, longest // 2, ref.capacity + 1})
    qtys: list[tuple[int, int]] = []
    for side in (BID, ASK):
        sizes = [size for _, size in ref.levels(side)]
        half = sum(sizes[: len(sizes) // 2])
        total = sum(sizes)
        for qty in sorted({1, half, half + 1, total, total + 1, INT64_MAX}):
            if qty <= INT64_MAX:
                qtys.append((side, qty))
    return ns, qtys


def observe(
    book: OrderBook | BookRef, ns: list[int], qtys: list[tuple[int, int]]
) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = [
        ("bids", book.levels(BID)),
        ("asks", book.levels(ASK)),
        ("top", book.top()),
        ("best", (book.best_bid(), book.best_ask())),
        (
            "props",
            (book.best_bid_price, book.best_bid_size, book.best_ask_price, book.best_ask_size),
        ),
        ("counts", (book.bids_count, book.asks_count)),
        ("counters", (book.updates, book.crossed_count, book.dropped_levels)),
        ("crossed", (book.crossed, book.is_valid())),
        ("spread", (book.spread(), book.mid_x2())),
        ("mid", outcome(book.mid)),
        ("microprice", outcome(book.microprice)),
    ]
    for n in ns:
        seen.append((f"levels(n={n})", (book.levels(BID, n), book.levels(ASK, n))))
        seen.append((f"imbalance({n})", outcome(partial(book.imbalance, n))))
        for side in (BID, ASK):
            seen.append((f"depth_n({side}, {n})", outcome(partial(book.depth_n, side, n))))
    for side, qty in qtys:
        seen.append(
            (f"vwap_for_qty({side}, {qty})", outcome(partial(book.vwap_for_qty, side, qty)))
        )
    return seen


def short(op: Op) -> str:
    text = repr(op)
    return text if len(text) <= 300 else text[:300] + "...]"


class Pair:
    """The Cython book and the reference, fed the same operations, compared after each."""

    def __init__(self, capacity: int, window: int) -> None:
        self.fast = OrderBook(capacity, window=window)
        self.ref = BookRef(capacity)
        self.buf = UpdateBuffer(BUFFER_ROWS)
        # the same two read-only arrays per side on every call, `capacity` rows
        self.views = (self.fast.top_view(BID), self.fast.top_view(ASK))
        for prices, sizes in self.views:
            assert prices.shape == sizes.shape == (capacity,)
            assert not prices.flags.writeable and not sizes.flags.writeable
        self.out = (np.zeros(capacity, np.int64), np.zeros(capacity, np.int64))
        self.steps = 0

    def do(self, op: Op, where: str = "") -> int | None:
        """Apply `op` to both books, check the statuses and then everything readable."""
        self.steps += 1
        where = f"{where} step {self.steps}: {short(op)}"
        kind = op[0]
        status: int | None = None
        if kind == "recenter":
            self.fast.recenter()
        elif kind == "recenter_wanted":
            if self.fast.recenter_wanted:
                self.fast.recenter()
        elif kind == "clear":
            self.fast.clear()
            self.ref.clear()
        elif kind == "set":
            status = self.fast.set_level(*op[1:])
            assert status == self.ref.set_level(*op[1:]), where
        else:
            self.buf.reset()
            for side, price, size in op[1]:
                self.buf.push(side, price, size)
            name = "apply" if kind == "apply" else "load_snapshot"
            status = getattr(self.fast, name)(self.buf)
            assert status == getattr(self.ref, name)(self.buf), where
        self.check(where)
        return status

    def check(self, where: str) -> None:
        ns, qtys = probes(self.ref)
        got, want = observe(self.fast, ns, qtys), observe(self.ref, ns, qtys)
        if got != want:
            for (name, mine), (_, theirs) in zip(got, want, strict=True):
                assert mine == theirs, f"{where}: {name}: cython {mine!r}, reference {theirs!r}"
        assert type(self.fast.recenter_wanted) is bool, where
        for side, rows in ((BID, want[0][1]), (ASK, want[1][1])):
            prices, sizes = self.fast.top_view(side)
            assert prices is self.views[side][0] and sizes is self.views[side][1], where
            n = len(rows)
            assert list(zip(prices[:n].tolist(), sizes[:n].tolist(), strict=True)) == rows, (
                f"{where}: top_view({side})"
            )
            out_prices, out_sizes = self.out
            assert self.fast.copy_top(side, len(out_prices), out_prices, out_sizes) == n, where
            assert list(zip(out_prices[:n].tolist(), out_sizes[:n].tolist(), strict=True)) == (
                rows
            ), f"{where}: copy_top({side})"


# ----------------------------------------------------------------------------- the market


class Dice(Protocol):
    def below(self, n: int) -> int: ...


class SeededDice:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def below(self, n: int) -> int:
        return self.rng.randrange(n) if n > 1 else 0


class DrawnDice:
    """Hypothesis draws, so that a failing walk shrinks to a short one."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def below(self, n: int) -> int:
        return self.data.draw(st.integers(0, n - 1)) if n > 1 else 0


class Market:
    """Venue-like operations around a mid that trends, jumps whole windows and turns back.

    It reads the reference to aim at real levels (the best, a random one) and deletes the
    levels a new price would cross before inserting it, as a venue's diffs do, so that a
    crossed book comes from the deliberate crossing operations (then stays latched until the
    next snapshot or clear).
    """

    def __init__(
        self,
        dice: Dice,
        window: int,
        mid: int,
        *,
        lo: int = 1,
        hi: int = MAX_PRICE,
        deepest: int = 400,
    ) -> None:
        self.dice = dice
        self.deepest = deepest  # rows a side in a snapshot, at most
        self.window = window
        self.lo, self.hi = lo, hi
        self.mid = mid
        self.trend = 1
        self.recentring = True  # off for stretches: the price walks away from the window

    def chance(self, percent: int) -> bool:
        return self.dice.below(100) < percent

    def clamp(self, price: int) -> int:
        return min(self.hi, max(self.lo, price))

    def size(self) -> int:
        if self.dice.below(100) == 0:  # huge: the overflow paths of depth_n and vwap
            return 2**61 + self.dice.below(2**61)
        return 1 + self.dice.below(9)

    def level(self, side: int, span: int) -> int:
        """A price on `side`'s own side of the mid, most often near the top."""
        distance = 1 + self.dice.below(1 + self.dice.below(span))
        return self.clamp(self.mid - distance if side == BID else self.mid + distance)

    def move(self) -> None:
        if self.chance(4):
            self.trend = -self.trend
        if self.chance(5):
            step = self.window * (2 + self.dice.below(10))  # a gap of several windows
        else:
            step = self.dice.below(self.window // 4 + 1)
        self.mid = min(self.hi - 1, max(self.lo + 1, self.mid + self.trend * step))

    def make_way(self, ref: BookRef, side: int, price: int) -> list[Row]:
        """Deletes of the other side's levels that `price` would lock or cross."""
        if side == BID:
            return [
                (ASK, p, 0)
                for p, _ in itertools.takewhile(lambda r: r[0] <= price, ref.levels(ASK))
            ]
        return [
            (BID, p, 0) for p, _ in itertools.takewhile(lambda r: r[0] >= price, ref.levels(BID))
        ]

    def existing(self, ref: BookRef, side: int) -> int | None:
        rows = ref.levels(side)
        return rows[self.dice.below(len(rows))][0] if rows else None

    def quote(self, ref: BookRef) -> list[Op]:
        side = self.dice.below(2)
        roll = self.dice.below(100)
        price = self.existing(ref, side) if roll < 35 else None
        if price is not None:
            return [("set", side, price, 0 if roll < 20 else self.size())]  # delete / resize
        price = self.level(side, self.window)
        if roll < 45:
            return [("set", side, price, 0)]  # a delete that may well be absent
        ops: list[Op] = [("set", *row) for row in self.make_way(ref, side, price)]
        return [*ops, ("set", side, price, self.size())]

    def frame(self, ref: BookRef) -> list[Op]:
        """One diff shaped like Binance's: up to 10 rows a side, deletes among them."""
        rows: list[Row] = []
        for side in (BID, ASK):
            for _ in range(self.dice.below(11)):
                roll = self.dice.below(100)
                price = self.existing(ref, side) if roll < 25 else None
                if price is None:
                    price = self.level(side, 2 * self.window)
                rows.append((side, price, 0 if roll < 40 else self.size()))
        bids = [p for side, p, size in rows if side == BID and size]
        asks = [p for side, p, size in rows if side == ASK and size]
        if bids:
            rows += self.make_way(ref, BID, max(bids))
        if asks:
            rows += self.make_way(ref, ASK, min(asks))
        if rows and self.chance(10):
            rows.append((*rows[self.dice.below(len(rows))][:2], self.size()))  # repeat: last wins
        return [("apply", rows)]

    def snapshot(self) -> list[Op]:
        rows: list[Row] = []
        span = self.window * (1 + self.dice.below(8))  # wider than the window
        for side in (BID, ASK):
            for _ in range(self.dice.below(self.deepest + 1)):
                size = 0 if self.chance(5) else self.size()
                rows.append((side, self.level(side, span), size))
        if self.chance(10):  # a crossed snapshot: flagged at once
            rows.append((BID, self.clamp(self.mid + 1), 1))
        return [("snapshot", rows)]

    def ops(self, ref: BookRef) -> list[Op]:
        if self.chance(2):
            self.recentring = not self.recentring
        roll = self.dice.below(100)
        bid, ask = ref.best_bid_price, ref.best_ask_price
        if roll < 35:
            if self.chance(30):
                self.move()
            return self.quote(ref)
        if roll < 55:
            if self.chance(50):
                self.move()
            return self.frame(ref)
        if roll < 62:  # deletes of the best level, again and again
            side = self.dice.below(2)
            rows = [(side, p, 0) for p, _ in ref.levels(side, 1 + self.dice.below(8))]
            return [("apply", rows)] if self.chance(30) else [("set", *row) for row in rows]
        if roll < 67 and NO_PRICE not in (bid, ask) and ask - bid >= 2:
            price = bid + 1 + self.dice.below(ask - bid - 1)  # inside the spread
            return [("set", self.dice.below(2), price, self.size())]
        if roll < 70:  # lock or cross on purpose
            if self.chance(50) and ask != NO_PRICE:
                return [("set", BID, self.clamp(ask + self.dice.below(3)), self.size())]
            if bid != NO_PRICE:
                return [("set", ASK, self.clamp(bid - self.dice.below(3)), self.size())]
            return self.quote(ref)
        if roll < 76:  # far worse than the mid: windows away
            side = self.dice.below(2)
            distance = self.window * (1 + self.dice.below(30)) + self.dice.below(self.window)
            price = self.clamp(self.mid - distance if side == BID else self.mid + distance)
            return [("set", side, price, self.size())]
        if roll < 80:
            if self.chance(50):
                self.move()
            return self.snapshot()
        if roll < 82:
            return [("clear",)]
        if roll < 90 and self.recentring:
            return [("recenter",) if self.chance(50) else ("recenter_wanted",)]
        side = self.dice.below(2)  # a level anywhere in the book: resize or delete
        found = self.existing(ref, side)
        if found is None:
            return self.quote(ref)
        return [("set", side, found, 0 if self.chance(50) else self.size())]


def walk(pair: Pair, market: Market, steps: int, where: str) -> None:
    for _ in range(steps):
        for op in market.ops(pair.ref):
            pair.do(op, where)


# ----------------------------------------------------------------------------- long walks


class WalkCase(NamedTuple):
    seed: int
    window: int
    capacity: int
    mid: int  # where the mid starts
    lo: int  # the price range the market stays in
    hi: int
    steps: int


WALKS = [
    WalkCase(1, 64, 5, CENTRE, 1, MAX_PRICE, 2500),
    WalkCase(2, 64, 50, CENTRE, 1, MAX_PRICE, 2500),
    WalkCase(3, 128, 16, CENTRE, 1, MAX_PRICE, 2500),
    WalkCase(4, 64, 120, CENTRE, 1, MAX_PRICE, 1500),
    WalkCase(5, 64, 20, 10, 1, 40 * 64, 2500),  # against price 1
    WalkCase(6, 128, 40, MAX_PRICE - 10, MAX_PRICE - 40 * 128, MAX_PRICE, 2500),  # MAX_PRICE
    WalkCase(7, 4096, 50, CENTRE, 1, MAX_PRICE, 1000),  # the default window, many of them
]


@pytest.mark.parametrize("case", WALKS, ids=lambda case: f"seed{case.seed}")
def test_long_seeded_walk_matches_the_reference(case: WalkCase) -> None:
    pair = Pair(case.capacity, case.window)
    market = Market(SeededDice(case.seed), case.window, case.mid, lo=case.lo, hi=case.hi)
    lowest = highest = case.mid
    for _ in range(case.steps):
        walk(pair, market, 1, f"seed {case.seed}")
        lowest, highest = min(lowest, market.mid), max(highest, market.mid)
    # the walk did what it is for: many windows away, full sides, crossings
    assert highest - lowest >= 10 * case.window, (lowest, highest)
    assert pair.ref.dropped_levels > 0
    assert pair.ref.crossed_count > 0


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    window=st.sampled_from([64, 128]),
    capacity=st.integers(1, 12),
    region=st.sampled_from(["centre", "low", "high"]),
    steps=st.integers(1, 60),
)
def test_drawn_walk_matches_the_reference(
    data: st.DataObject, window: int, capacity: int, region: str, steps: int
) -> None:
    dice = DrawnDice(data)
    if region == "low":
        market = Market(dice, window, 2, lo=1, hi=30 * window, deepest=20)
    elif region == "high":
        market = Market(dice, window, MAX_PRICE - 1, lo=MAX_PRICE - 30 * window, deepest=20)
    else:
        market = Market(dice, window, CENTRE, deepest=20)
    walk(Pair(capacity, window), market, steps, "drawn")


# ----------------------------------------------------------------------------- directed


def fill(pair: Pair, side: int, best: int, count: int, gap: int) -> list[int]:
    """`count` levels on `side` from `best` down the book, `gap` ticks apart; their prices."""
    worse = -1 if side == BID else 1
    prices = [best + worse * gap * i for i in range(count)]
    for i, price in enumerate(prices):
        pair.do(("set", side, price, 1 + i))
    return prices


def centred(capacity: int, window: int, centre: int = CENTRE) -> Pair:
    """An empty pair whose window was last centred on `centre` (levels then deleted one by one)."""
    pair = Pair(capacity, window)
    pair.do(("snapshot", [(BID, centre - 1, 1), (ASK, centre + 1, 1)]))
    pair.do(("recenter",))
    pair.do(("set", BID, centre - 1, 0))
    pair.do(("set", ASK, centre + 1, 0))
    return pair


@pytest.mark.parametrize("side", [BID, ASK])
@pytest.mark.parametrize("capacity", [1, 5])
def test_full_side_drops_and_evicts_wherever_the_levels_sit(side: int, capacity: int) -> None:
    # the kept levels sit worse than the window, in it, across its edges or better than it;
    # inserts land worse than all of them (dropped) or better than the worst (evicting it)
    window = 64
    better = 1 if side == BID else -1
    for offset in (-40, -3, -1, -0.5, 0, 0.5, 1, 3, 40):
        for gap in (1, 5, 40):
            pair = centred(capacity, window)
            where = f"offset {offset} gap {gap}"
            best = CENTRE + better * int(offset * window)
            prices = fill(pair, side, best, capacity, gap)
            worst = prices[-1]
            for distance in (1, window, 20 * window):
                status = pair.do(("set", side, worst - better * distance, 7), where)
                assert status == DROPPED, where
            if capacity > 1 and gap > 1:  # between the kept levels
                assert pair.do(("set", side, worst + better, 8), where) == EVICTED, where
            for distance in (1, window, 20 * window):
                status = pair.do(("set", side, best + better * distance, 9), where)
                assert status == EVICTED, where
            pair.do(("recenter",), where)
            pair.do(("set", side, pair.ref.levels(side)[0][0], 0), where)  # the best
            if capacity > 1:
                pair.do(("set", side, pair.ref.levels(side)[-1][0], 0), where)  # the worst
            pair.do(("set", side, worst - better * 3 * window, 1), where)  # room again: kept
            assert pair.ref.dropped_levels >= 3


@pytest.mark.parametrize("recenter_every", [0, 10])
def test_deleting_the_best_level_until_the_side_is_empty(recenter_every: int) -> None:
    # levels spread over many windows: the best walks out of the window into the overflow
    window = 64
    pair = Pair(400, window)
    rows: list[Row] = []
    for i in range(150):
        distance = 1 + 2 * i + (i // 30) * 3 * window
        rows += [(BID, CENTRE - distance, 1 + i % 7), (ASK, CENTRE + distance, 1 + i % 5)]
    pair.do(("snapshot", rows))
    pair.do(("recenter",))
    for side in (BID, ASK):
        deleted = 0
        while pair.ref.levels(side):
            pair.do(("set", side, pair.ref.levels(side)[0][0], 0), f"side {side}")
            deleted += 1
            if recenter_every and deleted % recenter_every == 0:
                pair.do(("recenter",))
        assert deleted == 150
        pair.do(("set", side, CENTRE - 50 * window if side == BID else CENTRE + 50 * window, 3))
        pair.do(("set", side, CENTRE, 4))  # back at the old centre: better than the far one


@pytest.mark.parametrize("recenter", [False, True])
def test_levels_inserted_inside_a_spread_wider_than_the_window(recenter: bool) -> None:
    window = 64
    pair = Pair(8, window)
    pair.do(("snapshot", [(BID, CENTRE, 5), (ASK, CENTRE + 20 * window, 5)]))
    rng = random.Random(7)
    while pair.ref.spread() > 0:
        bid, ask = pair.ref.best_bid_price, pair.ref.best_ask_price
        side = rng.randrange(2)
        step = 1 + rng.randrange(max(1, (ask - bid) // 2))
        price = bid + step if side == BID else ask - step
        status = pair.do(("set", side, price, 1 + rng.randrange(9)))
        if recenter and rng.randrange(3) == 0:
            pair.do(("recenter",))
        if pair.ref.spread() <= 0:
            assert status == CROSSED
    assert pair.ref.crossed_count == 1 and not pair.fast.is_valid()
    pair.do(("set", BID, pair.ref.best_bid_price, 0))  # the top uncrosses, the flag stays
    assert pair.fast.crossed
    pair.do(("snapshot", [(BID, CENTRE, 1), (ASK, CENTRE + 1, 1)]))
    assert pair.fast.is_valid()


def test_recenter_changes_nothing_a_caller_can_read() -> None:
    window = 64
    books: list[list[Op]] = [
        [],  # empty
        [("set", BID, CENTRE, 1)],  # bids only: no mid
        [("set", ASK, CENTRE, 1)],  # asks only
        [("set", BID, CENTRE, 1), ("set", ASK, CENTRE, 2)],  # locked
        [("set", BID, CENTRE + 9, 1), ("set", ASK, CENTRE, 2)],  # crossed
        [("set", BID, CENTRE - 10 * window, 1), ("set", ASK, CENTRE + 10 * window, 2)],
        [("set", BID, 1, 1), ("set", ASK, 2, 2)],  # the bottom of the price range
        [("set", BID, MAX_PRICE - 1, 1), ("set", ASK, MAX_PRICE, 2)],  # the top
        [("set", BID, 1, 1), ("set", ASK, MAX_PRICE, 2)],  # the whole range
        [("set", BID, 3, 1), ("set", ASK, MAX_PRICE - 3, 2), ("set", BID, 1, 2)],
    ]
    for capacity in (1, 3, 64):
        for setup in books:
            pair = Pair(capacity, window)
            for op in setup:
                pair.do(op)
            for _ in range(3):
                pair.do(("recenter",))  # twice in a row too
            # the book keeps working from the new window, on both sides of every level
            for op in setup:
                price = op[2]
                for delta in (-window - 1, -1, 1, window + 1):
                    if 0 < price + delta <= MAX_PRICE:
                        pair.do(("set", op[1], price + delta, 3))
                        pair.do(("recenter",))
                pair.do(("set", op[1], price, 0))
                pair.do(("recenter",))


@pytest.mark.parametrize("window", [64, 128])
@pytest.mark.parametrize("edge", ["low", "high"])
def test_a_window_at_the_ends_of_the_price_range(window: int, edge: str) -> None:
    # centring on a mid within half a window of 1 or MAX_PRICE cannot centre the window
    pair = Pair(3 * window, window)
    if edge == "low":
        bids = [(BID, p, p) for p in range(1, window)]
        asks = [(ASK, p, p) for p in range(window, 3 * window)]
    else:
        bids = [(BID, MAX_PRICE - p, p) for p in range(window, 3 * window)]
        asks = [(ASK, MAX_PRICE - p, p + 1) for p in range(window - 1)]
    pair.do(("snapshot", bids + asks))
    for step in range(4):
        pair.do(("recenter",))
        for side, price, _ in bids[:: 5 + step] + asks[:: 7 + step]:
            pair.do(("set", side, price, 0))
            pair.do(("set", side, price, 1 + step))
        pair.do(("set", BID, bids[0][1] if edge == "low" else bids[-1][1], 0))
    extreme = 1 if edge == "low" else MAX_PRICE
    pair.do(("clear",))
    pair.do(("recenter",))
    side = BID if edge == "low" else ASK
    pair.do(("set", side, extreme, 5))
    pair.do(("recenter",))
    pair.do(("set", 1 - side, extreme, 5))  # locks the book at the very end of the range
    assert pair.fast.crossed
    pair.do(("snapshot", [(BID, 1, 1), (ASK, MAX_PRICE, 1)]))
    pair.do(("recenter",))
    for price in (1, 2, window, MAX_PRICE // 2, MAX_PRICE - window, MAX_PRICE - 1):
        pair.do(("set", BID, price, 2))
        pair.do(("set", BID, price, 0))
        pair.do(("set", ASK, MAX_PRICE + 1 - price, 2))
        pair.do(("recenter_wanted",))


@pytest.mark.parametrize("capacity", [50, 1000])
def test_snapshots_wider_than_the_window_reloaded_after_drift(capacity: int) -> None:
    window = 64
    pair = Pair(capacity, window)
    rng = random.Random(11)
    for centre in (CENTRE, CENTRE + 1000 * window, CENTRE - 300 * window, CENTRE + 7):
        rows: list[Row] = []
        for side, sign in ((BID, -1), (ASK, 1)):
            rows += [
                (side, centre + sign * (1 + rng.randrange(100 * window)), 1 + rng.randrange(9))
                for _ in range(600)
            ]
        assert pair.do(("snapshot", sorted(rows))) == OK
        for _ in range(40):  # then updates near the new mid, with and without recentring
            side = rng.randrange(2)
            distance = 1 + rng.randrange(2 * window)
            price = centre - distance if side == BID else centre + distance
            pair.do(("set", side, price, rng.randrange(4)))
            if rng.randrange(8) == 0:
                pair.do(("recenter",))
    assert pair.ref.updates > 4 * 1200


# ----------------------------------------------------------------------------- allocations


ALWAYS = "recenter"
IF_WANTED = "recenter if wanted"


def binance_frames(count: int, seed: int) -> list[UpdateBuffer]:
    """`count` diffs of 10 bids + 10 asks around a mid that drifts away and comes back.

    Levels at exponential distances from the mid (mean 25 ticks), about 4 deletes a frame,
    and the deletes a venue sends when the mid moves, so the book never crosses.
    """
    rng = random.Random(seed)
    half = [rng.choice((-1, 0, 1, 1, 2, 3)) for _ in range(count // 2)]
    moves = half + [-m for m in reversed(half)]  # back where it started: the list can loop
    mid = 50_000_000
    frames = []
    for move in moves:
        previous, mid = mid, mid + move
        bids = [(p, 0) for p in range(mid, previous)]  # bids must stay below the mid
        asks = [(p, 0) for p in range(previous + 1, mid + 1)]  # asks above it
        for rows, sign in ((bids, -1), (asks, 1)):
            while len(rows) < 10:
                price = mid + sign * (1 + int(rng.expovariate(1 / 25)))
                rows.append((price, 0 if rng.random() < 0.2 else 1 + rng.randrange(50)))
        buf = UpdateBuffer(10)
        for price, size in bids:
            buf.push(BID, price, size)
        for price, size in asks:
            buf.push(ASK, price, size)
        frames.append(buf)
    return frames


@pytest.mark.parametrize("window", [64, 4096])
def test_100k_drifting_frames_with_recentring_allocate_nothing(window: int) -> None:
    frames = binance_frames(4000, seed=window)
    book, ref = OrderBook(1000, window=window), BookRef(1000)
    snapshot = UpdateBuffer(1000)
    for i in range(1000):
        snapshot.push(BID, 50_000_000 - 1 - i, 1 + i % 9)
        snapshot.push(ASK, 50_000_000 + 1 + i, 1 + i % 7)
    book.load_snapshot(snapshot)
    ref.load_snapshot(snapshot)
    for buf in frames:  # one lap first: the deep book settles, and it is still exact
        book.apply(buf)
        ref.apply(buf)
    assert book.levels(BID) == ref.levels(BID) and book.levels(ASK) == ref.levels(ASK)
    assert (book.updates, book.dropped_levels) == (ref.updates, ref.dropped_levels)
    # 25 laps = 100k frames; between them recenter() after every 100th and, after every
    # 50th, recenter() if the book wants it (sentinels in the prebuilt list, so that the
    # loop itself creates no int objects)
    sequence: list[UpdateBuffer | str] = []
    for _ in range(25):
        for i, buf in enumerate(frames):
            sequence.append(buf)
            if i % 50 == 49:
                sequence.append(ALWAYS if i % 100 == 99 else IF_WANTED)
    apply, recenter = book.apply, book.recenter
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for item in sequence:
            if isinstance(item, UpdateBuffer):
                apply(item)
            elif item is ALWAYS or book.recenter_wanted:
                recenter()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert book.updates == ref.updates + 100_000 * 20
    assert book.crossed_count == 0 and book.is_valid()
    # 100k frames leaking one 32-byte int each would be 3.2 MB; a few hundred bytes is
    # CPython creating something lazily once
    assert after - before <= 2048
    assert peak - before <= 2048


def test_top_view_arrays_after_the_window_moved() -> None:
    # the arrays are refilled at each call, from the window and both overflows alike
    pair = Pair(6, 64)
    pair.do(("snapshot", [(BID, CENTRE - 1, 1), (ASK, CENTRE + 1, 1)]))
    pair.do(("recenter",))
    pair.do(("set", ASK, CENTRE + 1, 0))  # bids only: a bid far above the window is fine
    for price, size in ((CENTRE + 10 * 64, 2), (CENTRE - 10 * 64, 3), (CENTRE - 2, 4)):
        pair.do(("set", BID, price, size))
    prices, sizes = pair.fast.top_view(BID)
    assert prices[:4].tolist() == [CENTRE + 640, CENTRE - 1, CENTRE - 2, CENTRE - 640]
    assert sizes[:4].tolist() == [2, 1, 4, 3]
    # straight to both books: Pair.do would call top_view itself
    assert pair.fast.set_level(BID, CENTRE + 640, 0) == pair.ref.set_level(BID, CENTRE + 640, 0)
    assert prices[0] == CENTRE + 640  # filled at the call: the delete shows at the next one
    again, _ = pair.fast.top_view(BID)
    assert again is prices and prices[:3].tolist() == [CENTRE - 1, CENTRE - 2, CENTRE - 640]
    pair.check("after the delete")
    assert isinstance(prices, np.ndarray) and prices.dtype == np.int64
