"""Playing a long stream in timed batches (the book, depth and feed cases).

A `Player` plays `items` (frames, decoded diffs) in order, `n` per timed call, each call
continuing where the last stopped, so every operation sees the book the previous ones left.
Its `between()` runs untimed after each sample (runner.Pair.between): it plays `skip` items
untimed when the run's samples would not otherwise reach the end of the sequence (`--quick`),
and when fewer than a batch remain it rewinds to the snapshot (`restart`), so a reload never
falls inside a timing and every timed batch is `batch` consecutive items of the sequence.
With `warm`, it then plays that many items untimed right before the next timed batch, so the
batch starts in the state a steady stream leaves (not the state the baseline's sample left).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from bench.runner import Options

T = TypeVar("T")


def fit_batch(total: int, batch: int) -> int:
    """The batch closest to `batch` (not above it) that leaves the shortest tail of a
    `total`-item sequence: e.g. 1,500 items in batches of 750, 240 in one of 240."""
    if total < 1:
        raise ValueError("nothing to play")
    batches = math.ceil(total / batch)
    return total // batches


def skip_for(total: int, batch: int, options: Options) -> int:
    """Items to play untimed after each timed batch so that the run (warm-up included)
    covers the whole `total`-item sequence at least once; 0 when it already does."""
    per_sample = math.ceil(total / (options.samples + options.warmup))
    return max(0, per_sample - batch)


class Player(Generic[T]):
    __slots__ = ("batch", "end", "items", "play", "pos", "restart", "skip", "warm")

    def __init__(
        self,
        items: Sequence[T],
        play: Callable[[Sequence[T]], object],
        restart: Callable[[], object],
        *,
        batch: int,
        skip: int = 0,
        warm: int = 0,
    ) -> None:
        if not 1 <= batch + warm <= len(items):
            raise ValueError(f"batch {batch} + warm {warm} outside 1..{len(items)} items")
        self.items = items
        self.play = play
        self.restart = restart
        self.batch = batch
        self.skip = skip
        self.warm = warm
        self.end = len(items)
        self.pos = 0

    def ops(self, n: int) -> None:
        """Play the next `n` items (timed by the runner)."""
        pos = self.pos
        if pos + n > self.end:  # driven without between() (pytest-benchmark): rewind here
            if n > self.end:
                raise ValueError(f"{n} operations in one call: the sequence holds {self.end}")
            self.restart()
            pos = 0
        self.play(self.items[pos : pos + n])
        self.pos = pos + n

    def between(self) -> None:
        """Untimed: skip ahead when asked, rewind when less than a batch remains (and the
        warm-up), then the warm-up."""
        if self.skip and self.pos < self.end:
            k = min(self.skip, self.end - self.pos)
            self.play(self.items[self.pos : self.pos + k])
            self.pos += k
        if self.pos + self.warm + self.batch > self.end:
            self.restart()
            self.pos = 0
        if self.warm:
            self.play(self.items[self.pos : self.pos + self.warm])
            self.pos += self.warm


def both(*players: Player[Any]) -> Callable[[], None]:
    """One between() for a pair's sides, in this order (a side that warms up goes last)."""

    def between() -> None:
        for p in players:
            p.between()

    return between
