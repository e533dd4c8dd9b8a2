"""Windowed figures from cumulative counters: the engine counts since start, a rule judges
the last `window` seconds, so each evaluation keeps a sample and subtracts the one a window
old. Percentiles come from HDR buckets the same way (bucket counts are cumulative too)."""

from __future__ import annotations

import collections
import math
from collections.abc import Mapping, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class History(Generic[T]):
    """Timestamped samples, kept back to the longest window asked for."""

    def __init__(self) -> None:
        self._samples: collections.deque[tuple[int, T]] = collections.deque()

    def push(self, t_ns: int, value: T) -> None:
        self._samples.append((t_ns, value))

    def base(self, window_ns: int) -> T | None:
        """The newest sample at least `window_ns` old (the oldest one while the history is
        younger than the window); None with fewer than two samples."""
        samples = self._samples
        if len(samples) < 2:
            return None
        edge = samples[-1][0] - window_ns
        # drop what no window of this length needs: keep one sample at or before the edge
        while len(samples) > 2 and samples[1][0] <= edge:
            samples.popleft()
        return samples[0][1]

    def __len__(self) -> int:
        return len(self._samples)


def bucket_delta(
    new: Sequence[tuple[int, int]], old: Mapping[int, int] | None
) -> list[tuple[int, int]]:
    """Counts per bucket added since `old` (upper_ns -> cumulative count), in bucket order."""
    out = []
    for upper, count in sorted(new):
        added = count - (old.get(upper, 0) if old else 0)
        if added > 0:
            out.append((upper, added))
    return out


def percentile(buckets: Sequence[tuple[int, int]], q: float) -> tuple[int, int]:
    """(sample count, the bucket upper edge holding the q-th percentile); (0, 0) if empty.
    An upper edge never reports a value lower than a sample in it."""
    total = sum(count for _, count in buckets)
    if total == 0:
        return 0, 0
    rank = max(1, math.ceil(total * q / 100))
    seen = 0
    for upper, count in buckets:
        seen += count
        if seen >= rank:
            return total, upper
    return total, buckets[-1][0]
