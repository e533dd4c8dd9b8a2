"""Order book cases: one level update through the batch API and the best bid/ask read, each
beside a plain dict book (price -> size, best recomputed with max()/min() of the keys)."""

from __future__ import annotations

from bench.runner import Pair, case
from engine._core.book import ASK, BID, OrderBook, UpdateBuffer

DEPTH = 20  # levels per side, a typical top-of-book subscription
BEST_BID = 6_500_000
BEST_ASK = BEST_BID + 2

# One market-data message = one level update, cycling through what a venue sends near the
# top: a new best bid (insert at row 0, all rows shift), a size change one level down on the
# ask, the delete of that new bid (rows shift back), a size change two levels down on the bid.
# The cycle returns the book to the same state, so every sample sees the same work.
CYCLE = (
    (BID, BEST_BID + 1, 7),
    (ASK, BEST_ASK + 1, 9),
    (BID, BEST_BID + 1, 0),
    (BID, BEST_BID - 2, 4),
)


def _dict_book() -> tuple[dict[int, int], dict[int, int]]:
    bids = {BEST_BID - i: 10 + i for i in range(DEPTH)}
    asks = {BEST_ASK + i: 10 + i for i in range(DEPTH)}
    return bids, asks


def _book() -> OrderBook:
    book = OrderBook(64)
    snap = UpdateBuffer(DEPTH)
    bids, asks = _dict_book()
    for price, size in bids.items():
        snap.push(BID, price, size)
    for price, size in asks.items():
        snap.push(ASK, price, size)
    book.load_snapshot(snap)
    return book


@case("book.level_update")
def level_update() -> Pair:
    book = _book()
    bufs = []
    for side, price, size in CYCLE:
        buf = UpdateBuffer(1)
        buf.push(side, price, size)
        bufs.append(buf)
    b0, b1, b2, b3 = bufs

    def ours(n: int) -> None:
        apply = book.apply
        for _ in range(n >> 2):
            apply(b0)
            apply(b1)
            apply(b2)
            apply(b3)

    bids, asks = _dict_book()
    sides = (bids, asks)
    best = [0, 0]

    def update(side: int, price: int, size: int) -> None:
        levels = sides[side]
        if size:
            levels[price] = size
        else:
            levels.pop(price, None)
        best[0] = max(bids) if bids else 0
        best[1] = min(asks) if asks else 0

    u0, u1, u2, u3 = CYCLE

    def naive(n: int) -> None:
        for _ in range(n >> 2):
            update(*u0)
            update(*u1)
            update(*u2)
            update(*u3)

    return Pair(
        ours,
        naive,
        batch=1024,
        about="one level update via UpdateBuffer + OrderBook.apply (20 levels/side); "
        "baseline: dict set/del + max()/min() of the keys",
    )


@case("book.best")
def best() -> Pair:
    book = _book()
    bids, asks = _dict_book()

    def ours(n: int) -> None:
        for _ in range(n):
            book.best_bid_price  # noqa: B018 - the property read is what is timed
            book.best_ask_price  # noqa: B018

    def naive(n: int) -> None:
        for _ in range(n):
            max(bids)
            min(asks)

    return Pair(
        ours,
        naive,
        batch=1024,
        about="best bid and best ask price read from Python (20 levels/side); "
        "baseline: max()/min() over dict books",
    )
