"""What the alert engine reads, and nothing else: callables the composition root hands it
(engine/app.py), read once per evaluation into a `Snapshot`. The alert engine never reaches
into a component; a reader that raises is left out of that evaluation and counted."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

log = logging.getLogger("engine.alerts")


@dataclass(frozen=True, slots=True)
class Signals:
    """Each may be None (the rules that need it see nothing and stay quiet).

    daily_pnl: today's PnL in quote currency (realized + unrealized since the daily reset).
    feed_ready: readiness per feed, {"binance:BTCUSDT": True, ...}.
    feed_age_s: seconds since each feed's last message, same keys.
    orders: cumulative (requests sent to the venues, new orders the venues rejected).
    latency: cumulative tick-to-trade HDR buckets, [(upper_ns, count), ...].
    rate_limit_usage: per venue, the fullest request budget's used share (0..1).
    messages: cumulative market-data messages received.
    """

    daily_pnl: Callable[[], Decimal | float] | None = None
    feed_ready: Callable[[], Mapping[str, bool]] | None = None
    feed_age_s: Callable[[], Mapping[str, float]] | None = None
    orders: Callable[[], tuple[int, int]] | None = None
    latency: Callable[[], Sequence[tuple[int, int]]] | None = None
    rate_limit_usage: Callable[[], Mapping[str, float]] | None = None
    messages: Callable[[], int] | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    ts_ns: int
    daily_pnl: float | None = None
    feed_ready: Mapping[str, bool] = field(default_factory=dict)
    feed_age_s: Mapping[str, float] = field(default_factory=dict)
    orders: tuple[int, int] | None = None
    latency: Sequence[tuple[int, int]] | None = None
    rate_limit_usage: Mapping[str, float] = field(default_factory=dict)
    messages: int | None = None
    errors: tuple[str, ...] = ()  # the signals that raised this time


_EMPTY: dict[str, Any] = {
    "feed_ready": {},
    "feed_age_s": {},
    "rate_limit_usage": {},
}


def read(signals: Signals, now_ns: int) -> Snapshot:
    values: dict[str, Any] = {}
    errors: list[str] = []
    for name in Signals.__dataclass_fields__:
        reader = getattr(signals, name)
        if reader is None:
            continue
        try:
            value = reader()
        except Exception as exc:  # one broken reader must not blind every rule
            errors.append(name)
            log.warning("alert signal failed", extra={"signal": name, "error": repr(exc)})
            continue
        if name == "daily_pnl" and value is not None:
            value = float(value)
        values[name] = value
    for name, empty in _EMPTY.items():
        if values.get(name) is None:
            values[name] = empty
    return Snapshot(now_ns, errors=tuple(errors), **values)
