"""Alerts (docs/ALERTS.md): threshold rules and z-score anomaly detection over signals the
engine hands in, hysteresis, actions with retries and escalation, and notifications."""

from engine.alerts.actions import Actions
from engine.alerts.component import AlertsComponent, build_alerts
from engine.alerts.engine import AlertEngine
from engine.alerts.signals import Signals, Snapshot

__all__ = ["Actions", "AlertEngine", "AlertsComponent", "Signals", "Snapshot", "build_alerts"]
