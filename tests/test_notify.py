"""engine/notify: sinks against a real aiohttp receiver on loopback (real HTTP POSTs), the
dispatcher's bounded queue and per-sink timeout, storm control on a driven clock, and
secrets kept out of every log record."""

from __future__ import annotations

import asyncio
import logging
import queue
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from support import until

from engine.clock import NS_PER_SECOND, LiveClock, SimClock
from engine.config import load_config
from engine.logs import RedactingQueueHandler, extra_fields
from engine.notify import (
    LogSink,
    Notification,
    Notifier,
    SlackSink,
    TelegramSink,
    WebhookSink,
)
from engine.notify.build import build_sinks
from engine.notify.dispatcher import NotifierOptions
from engine.notify.redact import Redactor, mask_url

TOKEN = "123456789:AAHsecretBotTokenValue_xyz"
HOOK_SECRET = "T000/B000/hooksecretvalue42"


class Receiver:
    """A webhook endpoint on a loopback port: records every POST (path, JSON body).
    `/slow...` answers after `slow_s`, `/fail...` with HTTP 500."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Any]] = []
        self.slow_s = 5.0
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        if path.startswith("/slow"):
            await asyncio.sleep(self.slow_s)
        body = orjson.loads(await request.read())
        self.posts.append((path, body))
        if path.startswith("/fail"):
            return web.Response(status=500, text="down")
        return web.json_response({"ok": True})

    def bodies(self, prefix: str) -> list[Any]:
        return [body for path, body in self.posts if path.startswith(prefix)]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    await rec.start()
    try:
        yield rec
    finally:
        await rec.stop()


def note(key: str = "feed_stale:binance:BTCUSDT:firing", severity: str = "warning") -> Notification:
    return Notification(key, severity, "feed_stale binance:BTCUSDT firing", "7 s is above 5", 42)


def engine_log_text(records: list[logging.LogRecord]) -> str:
    """Every engine record's message and attributes (extra fields included), as text (the
    test receiver's own access log is not ours)."""
    ours = [r for r in records if r.name.startswith("engine")]
    return "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in ours)


async def test_each_sink_posts_its_payload(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    sinks = [
        WebhookSink(receiver.url(f"/hook/{HOOK_SECRET}")),
        SlackSink(receiver.url(f"/slack/{HOOK_SECRET}")),
        TelegramSink(receiver.url("/"), TOKEN, "-100200300"),
        LogSink(),
    ]
    notifier = Notifier(sinks, LiveClock())
    await notifier.start()
    try:
        with caplog.at_level(logging.INFO, "engine.notify"):
            assert notifier.publish(note())
            await until(lambda: len(receiver.posts) == 3)
    finally:
        await notifier.stop()
    (logged,) = [r for r in caplog.records if r.getMessage().startswith("alert: ")]
    assert logged.levelno == logging.WARNING
    assert (
        logged.getMessage() == "alert: [WARNING] feed_stale binance:BTCUSDT firing: 7 s is above 5"
    )
    # through the engine's log redaction the alert's key survives (it is no credential)
    prepared = RedactingQueueHandler(queue.SimpleQueue()).prepare(logged)
    assert extra_fields(prepared)["notification"] == "feed_stale:binance:BTCUSDT:firing"
    (hook,) = receiver.bodies("/hook/")
    assert hook["key"] == "feed_stale:binance:BTCUSDT:firing"
    assert hook["severity"] == "warning" and hook["text"] == "7 s is above 5"
    assert hook["count"] == 1 and hook["summary"] is False and hook["ts_ns"] == 42
    (slack,) = receiver.bodies("/slack/")
    assert slack == {"text": "[WARNING] feed_stale binance:BTCUSDT firing: 7 s is above 5"}
    (telegram,) = receiver.bodies(f"/bot{TOKEN}/sendMessage")
    assert telegram == {"chat_id": "-100200300", "text": slack["text"]}
    assert notifier.counters.sinks["telegram"].sent == 1
    assert notifier.counters.sinks["log"].sent == 1


async def test_a_storm_sends_one_message_then_one_summary(receiver: Receiver) -> None:
    clock = SimClock(1_000 * NS_PER_SECOND)
    options = NotifierOptions(storm_window_s=60.0)
    notifier = Notifier([WebhookSink(receiver.url("/hook"))], clock, lambda: options)
    await notifier.start()
    try:
        sent = [notifier.publish(note()) for _ in range(50)]
        assert sent == [True] + [False] * 49
        assert notifier.publish(note("other:key:firing"))  # another key is its own storm
        await until(lambda: len(receiver.posts) == 2)
        clock.advance_to(clock.time_ns() + 59 * NS_PER_SECOND)
        await asyncio.sleep(0.05)
        assert len(receiver.posts) == 2  # the window is still open
        clock.advance_to(clock.time_ns() + 1 * NS_PER_SECOND)  # it closes: one summary
        await until(lambda: len(receiver.posts) == 3)
        summary = receiver.posts[2][1]
        assert summary["key"] == "feed_stale:binance:BTCUSDT:firing"
        assert summary["summary"] is True and summary["count"] == 49
        # a quiet window after the summary ends the storm; the next one is sent at once
        clock.advance_to(clock.time_ns() + 61 * NS_PER_SECOND)
        assert notifier.publish(note())
        await until(lambda: len(receiver.posts) == 4)
    finally:
        await notifier.stop()
    assert notifier.storm.held == 49 and notifier.storm.summaries == 1
    assert SlackSink("http://x").payload(note().summarize(49))["text"].endswith("(49 times)")


async def test_a_slow_and_a_failing_sink_block_nothing(receiver: Receiver) -> None:
    receiver.slow_s = 2.0
    slow = WebhookSink(receiver.url("/slow"))
    slow.name = "slow"
    failing = SlackSink(receiver.url("/fail"))
    good = TelegramSink(receiver.url("/"), TOKEN, "1")
    options = NotifierOptions(queue_size=2, timeout_s=0.2, storm_window_s=0)
    notifier = Notifier([slow, failing, good], LiveClock(), lambda: options)
    await notifier.start()
    try:
        loop = asyncio.get_running_loop()
        began = loop.time()
        results = [notifier.publish(note(f"k{i}:firing")) for i in range(4)]
        assert loop.time() - began < 0.05  # publish never waits for a sink
        assert results == [True, True, False, False]  # two fit the queue, two are dropped
        assert notifier.counters.dropped == 2
        await until(lambda: notifier.counters.sinks["telegram"].sent == 2, timeout=10)
        # while the slow sink held the dispatcher, publishing still returned at once
        began = loop.time()
        assert notifier.publish(note("k9:firing"))
        assert loop.time() - began < 0.05
        await until(lambda: notifier.counters.sinks["telegram"].sent == 3, timeout=10)
    finally:
        await notifier.stop()
    assert notifier.counters.sinks["slow"].timeouts == 3  # each cut at 0.2 s, not 2 s
    assert notifier.counters.sinks["slack"].failed == 3
    assert notifier.counters.sinks["telegram"].failed == 0


async def test_below_min_severity_is_not_sent(receiver: Receiver) -> None:
    options = NotifierOptions(min_severity="warning")
    notifier = Notifier([WebhookSink(receiver.url("/hook"))], LiveClock(), lambda: options)
    await notifier.start()
    try:
        assert not notifier.publish(note("a:resolved", severity="info"))
        assert notifier.publish(note("b:firing", severity="critical"))
        await until(lambda: len(receiver.posts) == 1)
    finally:
        await notifier.stop()
    assert receiver.bodies("/hook")[0]["key"] == "b:firing"
    assert notifier.counters.below_severity == 1


async def test_secrets_never_reach_the_logs(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    # a refused connection (aiohttp's error quotes host and path), an HTTP 500 with the
    # secret echoed in its body, and a healthy Telegram sink whose URL holds the token
    closed = f"http://127.0.0.1:1/hook/{HOOK_SECRET}"
    failing = SlackSink(receiver.url(f"/fail/{HOOK_SECRET}"))
    telegram = TelegramSink(receiver.url("/fail"), TOKEN, "1")
    webhook = WebhookSink(closed)
    options = NotifierOptions(timeout_s=5.0, storm_window_s=0)
    notifier = Notifier([webhook, failing, telegram], LiveClock(), lambda: options)
    with caplog.at_level(logging.DEBUG):
        await notifier.start()
        try:
            notifier.publish(note())
            await until(
                lambda: sum(c.failed for c in notifier.counters.sinks.values()) == 3, timeout=10
            )
        finally:
            await notifier.stop()
    text = engine_log_text(caplog.records)
    assert "notification not delivered" in text  # the failures were logged...
    assert "127.0.0.1" in text  # ...saying where, with the host
    for secret in (TOKEN, HOOK_SECRET, "AAHsecretBotTokenValue", "hooksecretvalue42"):
        assert secret not in text  # ...but never the token or the webhook path


def test_the_redactor_masks_urls_and_tokens() -> None:
    url = f"https://hooks.slack.com/services/{HOOK_SECRET}"
    assert mask_url(url) == "https://hooks.slack.com/***"
    redact = Redactor([url, TOKEN])
    quoted = f"Cannot connect to {url} (bot{TOKEN.replace(':', '%3A')})"
    assert redact.text(quoted) == "Cannot connect to *** (bot***)"
    assert redact.text("nothing secret") == "nothing secret"


async def test_sinks_come_from_the_environment_named_in_config(tmp_path: Any) -> None:
    path = tmp_path / "engine.toml"
    path.write_text(
        '[monitor]\nalert_webhook_env = "OLD_HOOK"\n\n'
        '[notify]\nslack_webhook_env = "MY_SLACK"\ntelegram_token_env = "MY_BOT"\n'
        'telegram_chat_id = "42"\ntelegram_api_url = "http://127.0.0.1:9"\n'
    )
    config = load_config(path, environ={})
    environ = {"OLD_HOOK": "https://example.com/h/abcdef", "MY_SLACK": "https://s.example/x/yz1234"}
    names = [s.name for s in build_sinks(config, environ)]
    assert names == ["log", "webhook", "slack"]  # the bot token is not set: no Telegram
    sinks = build_sinks(config, {**environ, "MY_BOT": TOKEN})
    assert [s.name for s in sinks] == ["log", "webhook", "slack", "telegram"]
    assert sinks[3].target == "http://127.0.0.1:9/***"
    # the newer key wins over monitor.alert_webhook_env
    path.write_text(path.read_text() + 'webhook_url_env = "NEW_HOOK"\n')
    config = load_config(path, environ={})
    sinks = build_sinks(config, {"NEW_HOOK": "https://new.example/abcdef", "OLD_HOOK": "x"})
    assert [s.target for s in sinks if s.name == "webhook"] == ["https://new.example/***"]


async def test_stop_sends_what_is_queued(receiver: Receiver) -> None:
    notifier = Notifier([WebhookSink(receiver.url("/hook"))], LiveClock())
    await notifier.start()
    for i in range(3):
        notifier.publish(note(f"last-words-{i}:firing"))
    await notifier.stop()  # the engine stops right after an emergency stop, say
    assert [body["key"] for body in receiver.bodies("/hook")] == [
        "last-words-0:firing",
        "last-words-1:firing",
        "last-words-2:firing",
    ]
