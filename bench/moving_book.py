"""A Binance book whose touch jumps up and down by a fixed number of ticks, for the
tick-to-trade cases (bench/cases/tick_to_trade.py).

Two states alternate. Down: bids at base, base-1, ... (`depth` levels), asks at base+1 ...
Up: the same ladder `move` ticks higher. Each diff takes the book from one state to the other
in one frame of `2 * move` bid and `2 * move` ask levels (5 + 5 moving the touch: 10 + 10 levels
with the default, the size of a real Binance 100 ms diff): the levels the touch crosses are
inserted on one side and deleted on the other, and as many at the far end of each side are
added or removed so the depth stays `depth`. Sizes are seeded random lots, new with every
frame. The mid moves by `move` ticks on every frame, so a quoter whose quotes follow the mid
must move both of them every time.

The same diffs serve three consumers: the engine's frame handler (`frame`: a combined-stream
`depthUpdate` as Binance sends it, prices and sizes with 8 decimals), the naive pipeline (the
same bytes) and the simulator's background book (`next_diff` as (ticks, lots) rows, applied
with `MatchingEngine.apply_background_diff`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal

import orjson

from engine.model.instrument import Instrument

Rows = list[tuple[int, int]]

EVENT_MS = 1_765_000_000_000  # event time of the first frame (ms); +100 ms per frame


def _text(decimals: int) -> Callable[[int], str]:
    """Grid units -> the venue's text with 8 decimals ("65000.01000000")."""
    scale = 10**decimals
    pad = "0" * (8 - decimals)

    def text(units: int) -> str:
        whole, frac = divmod(units, scale)
        return f"{whole}.{frac:0{decimals}d}{pad}" if decimals else f"{whole}.{pad}"

    return text


def _decimals(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # a finite step
    return max(0, -exponent)


class MovingBook:
    """The book and its diffs; `next_diff()` / `frame()` advance it by one move."""

    def __init__(
        self,
        instrument: Instrument,
        *,
        base_ticks: int,
        depth: int = 1000,
        move: int = 5,
        seed: int = 16,
        first_update_id: int = 1_000_000,
        min_lots: int = 100,
        max_lots: int = 50_000,
    ) -> None:
        if move < 1 or depth <= move:
            raise ValueError("need 1 <= move < depth")
        self.instrument = instrument
        self.base = base_ticks
        self.depth = depth
        self.move = move
        self.up = False  # the state the book is in now
        self.update_id = first_update_id  # the last update id published
        self.frames = 0
        self._rng = random.Random(seed)
        self._min, self._max = min_lots, max_lots
        self._price = _text(_decimals(instrument.tick_size))
        self._qty = _text(_decimals(instrument.lot_size))
        self._key = f"{instrument.symbol.lower()}@depth@100ms"

    def _lots(self) -> int:
        return self._rng.randint(self._min, self._max)

    # -- the state ----------------------------------------------------------------------------

    def touch(self) -> tuple[int, int]:
        """(best bid, best ask) in ticks now."""
        bid = self.base + (self.move if self.up else 0)
        return bid, bid + 1

    def snapshot_rows(self) -> tuple[Rows, Rows]:
        """Every level of the book now, best first (fresh sizes)."""
        bid, ask = self.touch()
        bids = [(bid - k, self._lots()) for k in range(self.depth)]
        asks = [(ask + k, self._lots()) for k in range(self.depth)]
        return bids, asks

    def snapshot(self) -> bytes:
        """The body of `GET /api/v3/depth` for the book now (`lastUpdateId` = update_id)."""
        bids, asks = self.snapshot_rows()
        doc = {
            "lastUpdateId": self.update_id,
            "bids": [[self._price(p), self._qty(q)] for p, q in bids],
            "asks": [[self._price(p), self._qty(q)] for p, q in asks],
        }
        return orjson.dumps(doc)

    # -- the diffs ----------------------------------------------------------------------------

    def next_diff(self) -> tuple[Rows, Rows]:
        """Move the book to the other state: the (bids, asks) rows that do it, absolute lots,
        0 deleting a level, each side best first."""
        m, d = self.move, self.depth
        lo = self.base  # the down state's best bid
        if not self.up:  # up: bids gain lo+1..lo+m, asks lose them and grow at the far end
            bids = [(lo + k, self._lots()) for k in range(m, 0, -1)]
            bids += [(lo - d + k, 0) for k in range(m, 0, -1)]
            asks = [(lo + k, 0) for k in range(1, m + 1)]
            asks += [(lo + d + k, self._lots()) for k in range(1, m + 1)]
        else:  # down: the reverse
            bids = [(lo + k, 0) for k in range(m, 0, -1)]
            bids += [(lo - d + k, self._lots()) for k in range(m, 0, -1)]
            asks = [(lo + k, self._lots()) for k in range(1, m + 1)]
            asks += [(lo + d + k, 0) for k in range(1, m + 1)]
        self.up = not self.up
        self.frames += 1
        return bids, asks

    def frame(self) -> bytes:
        """The next diff as the combined-stream frame Binance sends (one update id)."""
        bids, asks = self.next_diff()
        self.update_id += 1
        price, qty = self._price, self._qty
        data = {
            "e": "depthUpdate",
            "E": EVENT_MS + 100 * self.frames,
            "s": self.instrument.symbol,
            "U": self.update_id,
            "u": self.update_id,
            "b": [[price(p), qty(q)] for p, q in bids],
            "a": [[price(p), qty(q)] for p, q in asks],
        }
        return orjson.dumps({"stream": self._key, "data": data})
