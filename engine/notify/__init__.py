"""Notifications (docs/ALERTS.md): sinks (log, webhook, Telegram, Slack), a bounded queue with
one dispatcher task so a slow or failing sink never blocks the engine, and storm control."""

from engine.notify.dispatcher import Notifier, NotifierCounters
from engine.notify.message import SEVERITIES, Notification
from engine.notify.redact import Redactor
from engine.notify.sinks import LogSink, SinkError, SlackSink, TelegramSink, WebhookSink
from engine.notify.storm import StormFilter

__all__ = [
    "SEVERITIES",
    "LogSink",
    "Notification",
    "Notifier",
    "NotifierCounters",
    "Redactor",
    "SinkError",
    "SlackSink",
    "StormFilter",
    "TelegramSink",
    "WebhookSink",
]
