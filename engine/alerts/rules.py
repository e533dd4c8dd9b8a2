"""Threshold rules: each kind turns a snapshot into {subject: value}, in the unit its
threshold is given in (schema `AlertRuleConfig.threshold`). Larger is always worse, so one
state machine (state.py) judges every kind. Kinds that measure over a window keep their
own history of the cumulative counters."""

from __future__ import annotations

from collections.abc import Mapping

from engine.alerts.signals import Snapshot
from engine.alerts.windows import History, bucket_delta, percentile
from engine.clock import NS_PER_SECOND
from engine.config.schema import AlertRuleConfig, EngineConfig

UNITS = {
    "daily_loss": "quote",
    "feed_stale": "s",
    "reject_rate": "of orders",
    "latency_p99": "µs",
    "rate_limit": "of budget",
}


def threshold_of(kind: str, rule: AlertRuleConfig, config: EngineConfig) -> float:
    """0 means "the engine's own figure" for the two kinds that already have one."""
    if rule.threshold == 0:
        if kind == "daily_loss":
            return float(config.risk.max_daily_loss)
        if kind == "feed_stale":
            return config.monitor.stale_feed_seconds
    return rule.threshold


class Watch:
    """One rule kind's reading of snapshots."""

    def observe(self, snap: Snapshot, rule: AlertRuleConfig) -> Mapping[str, float]:
        raise NotImplementedError


class DailyLoss(Watch):
    def observe(self, snap: Snapshot, rule: AlertRuleConfig) -> Mapping[str, float]:
        return {} if snap.daily_pnl is None else {"engine": -snap.daily_pnl}


class FeedStale(Watch):
    """Seconds since the feed's last message, or since its book stopped being ready when
    that is longer: a feed whose frames flow but whose book never syncs is stale too."""

    def __init__(self) -> None:
        self._not_ready_since: dict[str, int] = {}

    def observe(self, snap: Snapshot, rule: AlertRuleConfig) -> Mapping[str, float]:
        out = dict(snap.feed_age_s)
        for key, ready in snap.feed_ready.items():
            if ready:
                self._not_ready_since.pop(key, None)
                out.setdefault(key, 0.0)
                continue
            since = self._not_ready_since.setdefault(key, snap.ts_ns)
            out[key] = max(out.get(key, 0.0), (snap.ts_ns - since) / NS_PER_SECOND)
        return out


class RejectRate(Watch):
    """Rejected / sent over the window; quiet (0) until the window holds `min_count` orders."""

    def __init__(self) -> None:
        self._history: History[tuple[int, int]] = History()

    def observe(self, snap: Snapshot, rule: AlertRuleConfig) -> Mapping[str, float]:
        if snap.orders is None:
            return {}
        self._history.push(snap.ts_ns, snap.orders)
        base = self._history.base(int(rule.window_s * NS_PER_SECOND))
        if base is None:
            return {"orders": 0.0}
        sent = snap.orders[0] - base[0]
        rejected = snap.orders[1] - base[1]
        return {"orders": rejected / sent if sent >= rule.min_count else 0.0}


class LatencyP99(Watch):
    """The p99 of the tick-to-trade samples recorded within the window, in microseconds."""

    def __init__(self) -> None:
        self._history: History[dict[int, int]] = History()

    def observe(self, snap: Snapshot, rule: AlertRuleConfig) -> Mapping[str, float]:
        if snap.latency is None:
            return {}
        self._history.push(snap.ts_ns, dict(snap.latency))
        base = self._history.base(int(rule.window_s * NS_PER_SECOND))
        count, p99_ns = percentile(bucket_delta(snap.latency, base), 99.0)
        return {"tick_to_trade": p99_ns / 1000 if count >= rule.min_count else 0.0}


class RateLimit(Watch):
    def observe(self, snap: Snapshot, rule: AlertRuleConfig) -> Mapping[str, float]:
        return dict(snap.rate_limit_usage)


WATCHES: dict[str, type[Watch]] = {
    "daily_loss": DailyLoss,
    "feed_stale": FeedStale,
    "reject_rate": RejectRate,
    "latency_p99": LatencyP99,
    "rate_limit": RateLimit,
}
