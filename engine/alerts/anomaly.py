"""Anomaly detection: per evaluation, one value of each series (the p99 latency of the
period's samples, the PnL change over the period, the message rate), scored by a rolling
z-score against its recent past. The result is |z|, judged against the detector's threshold
by the same state machine as the rules."""

from __future__ import annotations

from collections.abc import Mapping

from engine.alerts.signals import Snapshot
from engine.alerts.windows import bucket_delta, percentile
from engine.alerts.zscore import RollingZ
from engine.clock import NS_PER_SECOND
from engine.config.schema import AnomalyConfig


class AnomalyWatch:
    def __init__(self) -> None:
        self._last: Snapshot | None = None
        self._latency: dict[int, int] | None = None
        self._scores: dict[str, RollingZ] = {}

    def series(self, snap: Snapshot) -> dict[str, float]:
        """This period's value of each series the snapshot allows."""
        last, self._last = self._last, snap
        out: dict[str, float] = {}
        if snap.latency is not None:
            count, p99 = percentile(bucket_delta(snap.latency, self._latency), 99.0)
            self._latency = dict(snap.latency)
            if count:  # a period without quotes says nothing about latency
                out["latency"] = p99 / 1000
        if last is None:
            return out
        if snap.daily_pnl is not None and last.daily_pnl is not None:
            out["pnl_change"] = snap.daily_pnl - last.daily_pnl
        dt = (snap.ts_ns - last.ts_ns) / NS_PER_SECOND
        if snap.messages is not None and last.messages is not None and dt > 0:
            out["message_rate"] = (snap.messages - last.messages) / dt
        return out

    def observe(
        self, snap: Snapshot, configs: Mapping[str, AnomalyConfig]
    ) -> dict[str, float | None]:
        """|z| per enabled series this period (None: no judgement yet)."""
        out: dict[str, float | None] = {}
        for name, value in self.series(snap).items():
            cfg = configs.get(name)
            if cfg is None or not cfg.enabled:
                continue
            scorer = self._scores.get(name)
            if scorer is None or scorer.window != cfg.window:  # a hot change starts afresh
                scorer = self._scores[name] = RollingZ(cfg.window)
            z = scorer.score(value, cfg.min_samples)
            out[name] = None if z is None else abs(z)
        return out
