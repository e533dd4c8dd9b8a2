"""The alert engine: once per evaluation it reads the signals, judges every rule and
anomaly detector per subject through a hysteresis state, and on a transition notifies,
records the alert for the status page and starts (or stops) the rule's action.

Rules and their thresholds are read from the live config at every evaluation, so hot
changes apply at the next one. Everything runs on the engine clock; `evaluate` is
synchronous and cheap (a handful of callables and dict operations)."""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.alerts.actions import ActionRun, Actions, Backoff, argument
from engine.alerts.anomaly import AnomalyWatch
from engine.alerts.rules import UNITS, WATCHES, Watch, threshold_of
from engine.alerts.signals import Signals, Snapshot, read
from engine.alerts.state import AlertState, Levels, Transition
from engine.clock import NS_PER_SECOND, Clock
from engine.config.schema import AlertRuleConfig, EngineConfig
from engine.notify.message import Notification

log = logging.getLogger("engine.alerts")

ANOMALY = "anomaly"  # rule name prefix of the z-score detectors: "anomaly.latency"


@dataclass(slots=True)
class AlertCounters:
    evaluations: int = 0
    signal_errors: int = 0
    rule_errors: int = 0
    fired: int = 0
    resolved: int = 0
    escalations: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class AlertEngine:
    def __init__(
        self,
        config: Callable[[], EngineConfig],
        signals: Signals,
        actions: Actions,
        clock: Clock,
        notify: Callable[[Notification], object],
        *,
        recent: int = 200,
    ) -> None:
        self._config = config
        self.signals = signals
        self.actions = actions
        self.clock = clock
        self._notify = notify
        self.counters = AlertCounters()
        self._watches: dict[str, Watch] = {kind: cls() for kind, cls in WATCHES.items()}
        self._anomaly = AnomalyWatch()
        self._states: dict[tuple[str, str], AlertState] = {}
        self._runs: dict[tuple[str, str], ActionRun] = {}
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=recent)
        self._seq = 0
        self._tasks: set[asyncio.Future[object]] = set()

    # -- reading ---------------------------------------------------------------------------

    def recent(self) -> list[dict[str, Any]]:
        """The last alerts (fired, resolved, escalated), newest first, as plain dicts."""
        return [dict(item) for item in reversed(self._recent)]

    def active(self) -> list[dict[str, Any]]:
        """The alerts firing now."""
        return [
            {"rule": rule, "subject": subject, "value": state.value, "since_ns": state.fired_ns}
            for (rule, subject), state in sorted(self._states.items())
            if state.firing
        ]

    def firing(self, rule: str, subject: str) -> bool:
        state = self._states.get((rule, subject))
        return state is not None and state.firing

    # -- evaluation ------------------------------------------------------------------------

    def evaluate(self) -> None:
        now = self.clock.time_ns()
        config = self._config()
        snap = read(self.signals, now)
        self.counters.evaluations += 1
        self.counters.signal_errors += len(snap.errors)
        for kind, rule in config.alerts.rules.items():
            try:
                values = self._watches[kind].observe(snap, rule) if rule.enabled else {}
                self._judge_rule(kind, rule, values, threshold_of(kind, rule, config), now)
            except Exception:  # a bug in one rule must not silence the others
                self.counters.rule_errors += 1
                log.exception("alert rule failed", extra={"rule": kind})
        try:
            self._judge_anomalies(snap, config, now)
        except Exception:
            self.counters.rule_errors += 1
            log.exception("anomaly detection failed")

    def _judge_anomalies(self, snap: Snapshot, config: EngineConfig, now: int) -> None:
        scores = self._anomaly.observe(snap, config.alerts.anomalies)
        for name, cfg in config.alerts.anomalies.items():
            z = scores.get(name)
            key = (f"{ANOMALY}.{name}", name)
            state = self._states.get(key)
            if z is None and state is None:
                continue
            state = self._states.setdefault(key, AlertState())
            levels = Levels(cfg.threshold, cfg.threshold, 0, int(cfg.clear_s * NS_PER_SECOND))
            value = 0.0 if z is None or not cfg.enabled else z
            change = state.update(value, levels, now)
            if change is not None:
                self._transition(key, change, value, cfg.threshold, cfg.severity, "notify", "|z|")

    def _judge_rule(
        self,
        kind: str,
        rule: AlertRuleConfig,
        values: Mapping[str, float],
        threshold: float,
        now: int,
    ) -> None:
        subjects = set(values) | {s for (k, s) in self._states if k == kind}
        levels = Levels(
            threshold,
            threshold * (1 - rule.hysteresis),
            int(rule.for_s * NS_PER_SECOND),
            int(rule.clear_s * NS_PER_SECOND),
        )
        for subject in sorted(subjects):
            value = float(values.get(subject, 0.0))
            state = self._states.setdefault((kind, subject), AlertState())
            change = state.update(value, levels, now)
            if change is not None:
                key = (kind, subject)
                self._transition(
                    key, change, value, threshold, rule.severity, rule.action, UNITS[kind]
                )
                if change is Transition.FIRED:
                    self._start_action(key, rule, threshold)

    # -- transitions -----------------------------------------------------------------------

    def _transition(  # noqa: PLR0917 - one alert's change and how to word it
        self,
        key: tuple[str, str],
        change: Transition,
        value: float,
        threshold: float,
        severity: str,
        action: str,
        unit: str,
    ) -> None:
        rule, subject = key
        if change is Transition.FIRED:
            self.counters.fired += 1
            text = f"{value:.6g} {unit} is above {threshold:.6g}"
            if action != "notify":
                text += f"; action: {action}"
        else:
            self.counters.resolved += 1
            text = f"back to {value:.6g} {unit} (threshold {threshold:.6g})"
            run = self._runs.pop(key, None)
            if run is not None:
                run.cancel()
        self._emit(rule, subject, change.value, severity, text, value, threshold, action)

    def _emit(  # noqa: PLR0917 - the fields of one alert record
        self,
        rule: str,
        subject: str,
        state: str,
        severity: str,
        text: str,
        value: float,
        threshold: float,
        action: str,
    ) -> None:
        now = self.clock.time_ns()
        self._seq += 1
        run = self._runs.get((rule, subject))
        record = {
            "id": self._seq,
            "ts_ns": now,
            "rule": rule,
            "subject": subject,
            "state": state,
            "severity": severity,
            "value": value,
            "threshold": threshold,
            "action": action,
            "attempts": run.attempts if run is not None else 0,
            "message": text,
        }
        self._recent.append(record)
        # the record of every transition; the log sink carries it at its severity, storm
        # controlled, as a notification
        log.info("alert %s: %s %s: %s", state, rule, subject, text)
        title = f"{rule} {subject} {state}"
        fields = {
            "rule": rule,
            "subject": subject,
            "state": state,
            "value": value,
            "threshold": threshold,
        }
        note = Notification(f"{rule}:{subject}:{state}", severity, title, text, now, fields=fields)
        try:
            self._notify(note)
        except Exception:  # the notifier never raises by design; if it does, alerts go on
            log.exception("alert notification failed", extra={"rule": rule})

    # -- actions ---------------------------------------------------------------------------

    def _start_action(self, key: tuple[str, str], rule: AlertRuleConfig, threshold: float) -> None:
        if rule.action == "notify":
            return
        kind, subject = key
        reason = f"alert {kind} {subject}"
        run = ActionRun(
            self.clock,
            rule.action,
            getattr(self.actions, rule.action),
            argument(rule.action, subject, reason),
            Backoff(
                rule.retries,
                int(rule.backoff_s * NS_PER_SECOND),
                int(rule.backoff_max_s * NS_PER_SECOND),
            ),
            lambda attempts, error: self._escalate(key, rule, threshold, attempts, error),
            self._track,
        )
        self._runs[key] = run
        run.start()

    def _escalate(
        self,
        key: tuple[str, str],
        rule: AlertRuleConfig,
        threshold: float,
        attempts: int,
        error: str,
    ) -> None:
        """The action kept failing: say so loudly, then pause or stop if configured."""
        self.counters.escalations += 1
        kind, subject = key
        text = f"{rule.action} failed {attempts} times ({error}); escalation: {rule.escalate}"
        state = self._states.get(key)
        value = state.value if state is not None else 0.0
        if rule.escalate == "none":
            self._runs.pop(key, None)
            log.error("alert escalation: %s %s: %s", kind, subject, text)
            return
        self._emit(kind, subject, "escalated", "critical", text, value, threshold, rule.escalate)
        self._runs.pop(key, None)
        if rule.escalate in ("pause", "emergency_stop"):
            call = getattr(self.actions, rule.escalate)
            reason = f"alert {kind} {subject}: {rule.action} failed {attempts} times"
            if call is None:
                log.error("alert escalation not available", extra={"action": rule.escalate})
                return
            try:
                outcome = call(reason)
            except Exception:
                log.exception("alert escalation failed", extra={"action": rule.escalate})
                return
            if outcome is False:
                log.error("alert escalation refused", extra={"action": rule.escalate})
            elif inspect.isawaitable(outcome):
                self._track(asyncio.ensure_future(outcome))

    def _track(self, future: asyncio.Future[object]) -> None:
        self._tasks.add(future)
        future.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop every action run and wait for the attempts still running."""
        for run in self._runs.values():
            run.cancel()
        self._runs.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
