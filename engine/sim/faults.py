"""Fault injection for the simulator: what can go wrong between a venue and us, on demand.

A fault is armed for a channel ("rest", "ws.public", "ws.private", "ws.api" or "*" for any)
and a number of occurrences; the protocol layer asks `take(kind, channel)` at the point where
the fault would happen and, when it gets True, misbehaves once. Every fault taken is counted,
so a test can assert that the client really met it. Latency (fixed plus seeded jitter) is a
standing setting per channel rather than a one-shot fault.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass


class FaultKind(enum.StrEnum):
    DROP_CONNECTION = "drop_connection"  # close the socket abruptly
    FREEZE_CONNECTION = "freeze_connection"  # keep the socket, stop sending
    SKIP_SEQUENCE = "skip_sequence"  # drop one diff so the client sees a gap
    BAD_CHECKSUM = "bad_checksum"  # send a wrong book checksum (OKX)
    DUPLICATE_MESSAGE = "duplicate_message"
    REORDER_MESSAGES = "reorder_messages"  # swap two consecutive messages
    MALFORMED_FRAME = "malformed_frame"  # truncated JSON
    DELAY_ACK = "delay_ack"  # order acknowledgement late (the order rests meanwhile)
    LOSE_ACK = "lose_ack"  # order acknowledgement never sent (the order still rests)
    REST_5XX = "rest_5xx"
    REST_TIMEOUT = "rest_timeout"  # never answer
    FORCE_429 = "force_429"


ANY_CHANNEL = "*"


@dataclass(slots=True)
class _Armed:
    kind: FaultKind
    channel: str
    remaining: int  # occurrences left; -1 = until disarmed


class FaultInjector:
    """Armed faults, latency settings and counters of one simulated venue."""

    def __init__(self, seed: int = 0) -> None:
        self._armed: list[_Armed] = []
        self._latency: dict[str, tuple[float, float]] = {}
        self._counts: dict[str, int] = {}
        self._rng = random.Random(seed)

    def arm(self, kind: FaultKind | str, channel: str = ANY_CHANNEL, count: int = 1) -> None:
        """Make `kind` happen on `channel` for the next `count` occasions (-1: every one)."""
        if count == 0 or count < -1:
            raise ValueError(f"count must be positive or -1 (always), got {count}")
        self._armed.append(_Armed(FaultKind(kind), channel, count))

    def disarm(self, kind: FaultKind | str | None = None) -> None:
        """Forget armed faults of `kind` (all kinds when None) and every latency setting."""
        if kind is None:
            self._armed.clear()
            self._latency.clear()
        else:
            self._armed = [a for a in self._armed if a.kind is not FaultKind(kind)]

    def take(self, kind: FaultKind, channel: str) -> bool:
        """True, once per armed occurrence, when `kind` is armed for `channel`; counted."""
        for armed in self._armed:
            if armed.kind is kind and armed.channel in (channel, ANY_CHANNEL):
                if armed.remaining > 0:
                    armed.remaining -= 1
                    if armed.remaining == 0:
                        self._armed.remove(armed)
                self._counts[kind.value] = self._counts.get(kind.value, 0) + 1
                return True
        return False

    def armed(self) -> list[dict[str, object]]:
        return [
            {"fault": a.kind.value, "channel": a.channel, "remaining": a.remaining}
            for a in self._armed
        ]

    def set_latency(self, channel: str, fixed_s: float, jitter_s: float = 0.0) -> None:
        """Delay every message or response on `channel` by fixed + uniform(0, jitter) seconds."""
        if fixed_s < 0 or jitter_s < 0:
            raise ValueError("latency must not be negative")
        self._latency[channel] = (fixed_s, jitter_s)

    def latency_s(self, channel: str) -> float:
        fixed, jitter = self._latency.get(channel) or self._latency.get(ANY_CHANNEL) or (0.0, 0.0)
        if fixed == 0.0 and jitter == 0.0:
            return 0.0
        self._counts["latency"] = self._counts.get("latency", 0) + 1
        return fixed + (self._rng.uniform(0.0, jitter) if jitter else 0.0)

    def counters(self) -> dict[str, int]:
        return dict(self._counts)
