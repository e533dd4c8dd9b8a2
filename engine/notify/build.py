"""Sinks from `[notify]`: each HTTP sink is on when the environment variable its setting
names holds a value. URLs and tokens only ever come from the environment (the config file
names the variables), and are never logged: a sink is described by its masked target."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from engine.config.schema import EngineConfig, NotifyConfig
from engine.notify.dispatcher import NotifierOptions
from engine.notify.sinks import LogSink, Sink, SlackSink, TelegramSink, WebhookSink

log = logging.getLogger("engine.notify")


def notifier_options(config: NotifyConfig) -> NotifierOptions:
    return NotifierOptions(
        queue_size=config.queue_size,
        timeout_s=config.timeout_s,
        storm_window_s=config.storm_window_s,
        min_severity=config.min_severity,
    )


def webhook_env(config: EngineConfig) -> str:
    """notify.webhook_url_env, or the older monitor.alert_webhook_env when that is ''."""
    return config.notify.webhook_url_env or config.monitor.alert_webhook_env


def build_sinks(config: EngineConfig, environ: Mapping[str, str]) -> list[Sink]:
    """The log sink, plus every HTTP sink whose variable is set (a named but empty or
    missing variable is said once at start: the operator meant to have it)."""
    notify = config.notify
    sinks: list[Sink] = [LogSink()]

    def value(setting: str, name: str) -> str:
        if not name:
            return ""
        found = environ.get(name, "").strip()
        if not found:
            log.warning(
                "notification sink off: its environment variable is not set",
                extra={"setting": setting, "variable": name},
            )
        return found

    url = value("notify.webhook_url_env", webhook_env(config))
    if url:
        sinks.append(WebhookSink(url))
    url = value("notify.slack_webhook_env", notify.slack_webhook_env)
    if url:
        sinks.append(SlackSink(url))
    token = value("notify.telegram_token_env", notify.telegram_token_env)
    if token:
        sinks.append(TelegramSink(notify.telegram_api_url, token, notify.telegram_chat_id))
    return sinks
