"""One alert's state with hysteresis, per (rule, subject).

It fires once the value has stayed above the threshold for `for_ns`; it resolves once the
value has stayed at or below the clear level (under the threshold by the hysteresis) for
`clear_ns`. A value between the two levels keeps whatever state the alert is in, and any
return above the clear level restarts the clear timer: a signal flapping around its
threshold is one alert, never a storm of fired/resolved pairs."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Transition(enum.Enum):
    FIRED = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Levels:
    """What one alert is judged by (ns on the engine clock)."""

    threshold: float
    clear_level: float
    for_ns: int = 0
    clear_for_ns: int = 0


class AlertState:
    __slots__ = ("breach_ns", "clear_ns", "fired_ns", "firing", "value")

    def __init__(self) -> None:
        self.firing = False
        self.value = 0.0
        self.breach_ns: int | None = None  # above the threshold since
        self.clear_ns: int | None = None  # at or below the clear level since
        self.fired_ns = 0

    def update(self, value: float, levels: Levels, now_ns: int) -> Transition | None:
        self.value = value
        if not self.firing:
            if value <= levels.threshold:
                self.breach_ns = None
                return None
            if self.breach_ns is None:
                self.breach_ns = now_ns
            if now_ns - self.breach_ns < levels.for_ns:
                return None
            self.firing, self.fired_ns, self.clear_ns = True, now_ns, None
            return Transition.FIRED
        if value > levels.clear_level:
            self.clear_ns = None
            return None
        if self.clear_ns is None:
            self.clear_ns = now_ns
        if now_ns - self.clear_ns < levels.clear_for_ns:
            return None
        self.firing, self.breach_ns, self.clear_ns = False, None, None
        return Transition.RESOLVED
