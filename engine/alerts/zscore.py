"""Rolling z-score: how unusual a value is against the last `window` values of its series.
Pure Python over a deque; it runs once per evaluation period, never per tick."""

from __future__ import annotations

import collections
import math


class RollingZ:
    def __init__(self, window: int) -> None:
        self.window = window
        self._values: collections.deque[float] = collections.deque(maxlen=window)

    def score(self, value: float, min_samples: int) -> float | None:
        """z of `value` against the values before it (None while fewer than `min_samples`,
        or when they do not vary); then `value` joins the window."""
        values = self._values
        z = None
        n = len(values)
        if n >= min_samples:
            mean = sum(values) / n
            var = sum((v - mean) ** 2 for v in values) / (n - 1)
            std = math.sqrt(var)
            # a flat series has no scale to judge by: any change would be infinite z
            if std > 1e-12 * max(1.0, abs(mean)):
                z = (value - mean) / std
        values.append(value)
        return z

    def __len__(self) -> int:
        return len(self._values)
