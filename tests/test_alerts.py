"""engine/alerts: every rule kind fires and resolves on a driven SimClock, z-score anomaly
detection, hysteresis against flapping, actions with retries, backoff and escalation, the
component's timer, config validation, and a daily-loss breach that halts a real RiskManager
and reaches a real webhook receiver.

Signals are plain callables over values the test sets (what the composition root hands the
alert engine in production); actions are callables that record their calls, as the engine's
own are injected."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import until
from test_notify import Receiver

from engine._core.latency import Histogram
from engine.alerts import Actions, AlertEngine, AlertsComponent, Signals, build_alerts
from engine.alerts.rules import threshold_of
from engine.alerts.windows import percentile
from engine.alerts.zscore import RollingZ
from engine.clock import NS_PER_SECOND, SimClock
from engine.config import ConfigError, ConfigStore, EngineConfig, load_config
from engine.config.schema import AlertRuleConfig, AnomalyConfig, RiskConfig
from engine.host.metric_sources import alert_metrics
from engine.model.instrument import Instrument
from engine.monitor import EngineMetrics, Sources
from engine.notify import Notification
from engine.risk.manager import RiskManager

NS = NS_PER_SECOND
T0 = 1_700_000_000 * NS + 3_600 * NS  # an hour past a daily reset: no roll in a test


def with_rules(base: EngineConfig | None = None, **rules: dict[str, Any]) -> EngineConfig:
    """The default config with the named rules changed (and every other rule off, so a test
    hears only the rule it is about); anomalies off unless a test turns them on."""
    cfg = base or EngineConfig()
    table = {
        kind: dataclasses.replace(rule, **rules[kind])
        if kind in rules
        else dataclasses.replace(rule, enabled=False)
        for kind, rule in cfg.alerts.rules.items()
    }
    anomalies = {n: dataclasses.replace(a, enabled=False) for n, a in cfg.alerts.anomalies.items()}
    alerts = dataclasses.replace(cfg.alerts, rules=table, anomalies=anomalies)
    return dataclasses.replace(cfg, alerts=alerts)


class Rig:
    """An AlertEngine on a SimClock with settable signals and recording actions."""

    def __init__(self, config: EngineConfig, **actions: Callable[[str], object]) -> None:
        self.config = config
        self.clock = SimClock(T0)
        self.pnl: float = 0.0
        self.ages: dict[str, float] = {}
        self.ready: dict[str, bool] = {}
        self.orders = (0, 0)
        self.hist = Histogram()
        self.usage: dict[str, float] = {}
        self.messages = 0
        self.notes: list[Notification] = []
        self.calls: list[tuple[str, str]] = []
        signals = Signals(
            daily_pnl=lambda: self.pnl,
            feed_ready=lambda: self.ready,
            feed_age_s=lambda: self.ages,
            orders=lambda: self.orders,
            latency=self.hist.buckets,
            rate_limit_usage=lambda: self.usage,
            messages=lambda: self.messages,
        )
        self.engine = AlertEngine(
            lambda: self.config, signals, Actions(**actions), self.clock, self.notes.append
        )

    def record(self, name: str, answer: object = None) -> Callable[[str], object]:
        def call(arg: str) -> object:
            self.calls.append((name, arg))
            return answer

        return call

    def step(self, seconds: float = 1.0) -> None:
        """Advance the clock (firing action timers on the way), then evaluate."""
        self.clock.advance_to(self.clock.time_ns() + int(seconds * NS))
        self.engine.evaluate()

    def states(self) -> list[str]:
        return [n.fields["state"] for n in self.notes]


# -- each rule kind ------------------------------------------------------------------------


def _daily_loss(rig: Rig, bad: bool) -> None:
    rig.pnl = -150.0 if bad else -20.0


def _feed_stale(rig: Rig, bad: bool) -> None:
    rig.ages = {"binance:BTCUSDT": 12.0 if bad else 0.1, "okx:BTC-USDT": 0.2}


def _reject_rate(rig: Rig, bad: bool) -> None:
    sent, rejected = rig.orders
    rig.orders = (sent + 100, rejected + (80 if bad else 0))


def _latency_p99(rig: Rig, bad: bool) -> None:
    for _ in range(200):
        rig.hist.record(9_000_000 if bad else 40_000)  # 9 ms, or 40 µs


def _rate_limit(rig: Rig, bad: bool) -> None:
    rig.usage = {"binance": 0.97 if bad else 0.3}


CASES = [
    (
        "daily_loss",
        {"threshold": 100.0, "clear_s": 0.0, "action": "notify", "severity": "warning"},
        _daily_loss,
        "engine",
    ),
    ("feed_stale", {"threshold": 5.0, "clear_s": 0.0}, _feed_stale, "binance:BTCUSDT"),
    ("reject_rate", {"threshold": 0.5, "window_s": 1.0, "clear_s": 0.0}, _reject_rate, "orders"),
    (
        "latency_p99",
        {"threshold": 1000.0, "window_s": 2.0, "min_count": 100, "clear_s": 0.0},
        _latency_p99,
        "tick_to_trade",
    ),
    ("rate_limit", {"threshold": 0.9, "clear_s": 0.0}, _rate_limit, "binance"),
]


@pytest.mark.parametrize(("kind", "rule", "drive", "subject"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_fires_and_resolves(
    kind: str, rule: dict[str, Any], drive: Callable[[Rig, bool], None], subject: str
) -> None:
    rig = Rig(with_rules(**{kind: rule}))
    for _ in range(3):  # healthy: nothing
        drive(rig, False)
        rig.step()
    assert rig.notes == []
    drive(rig, True)
    rig.step()
    assert [(n.key, n.severity) for n in rig.notes] == [(f"{kind}:{subject}:firing", "warning")]
    assert "is above" in rig.notes[0].text
    assert rig.engine.firing(kind, subject)
    for _ in range(3):  # windowed kinds need the bad samples to leave the window
        drive(rig, False)
        rig.step()
    assert rig.states() == ["firing", "resolved"]
    assert not rig.engine.firing(kind, subject)
    recent = rig.engine.recent()
    assert [(r["rule"], r["subject"], r["state"]) for r in recent] == [
        (kind, subject, "resolved"),
        (kind, subject, "firing"),
    ]
    assert all(type(v) in (int, float, str) for r in recent for v in r.values())


def test_zero_thresholds_take_the_engines_own_limits() -> None:
    base = EngineConfig()
    base = dataclasses.replace(
        base,
        risk=dataclasses.replace(base.risk, max_daily_loss=Decimal(40)),
        monitor=dataclasses.replace(base.monitor, stale_feed_seconds=2.0),
    )
    rig = Rig(with_rules(base, daily_loss={}, feed_stale={}))
    rig.pnl, rig.ages = -39.0, {"gate:BTC_USDT": 1.9}
    rig.step()
    assert rig.notes == []
    rig.pnl, rig.ages = -41.0, {"gate:BTC_USDT": 2.1}
    rig.step()
    assert sorted(n.key for n in rig.notes) == [
        "daily_loss:engine:firing",
        "feed_stale:gate:BTC_USDT:firing",
    ]


def test_a_book_not_ready_for_long_is_a_stale_feed() -> None:
    rig = Rig(with_rules(feed_stale={"threshold": 3.0, "clear_s": 0.0}))
    rig.ready = {"binance:BTCUSDT": False}  # frames flow (age 0) but the book never syncs
    rig.ages = {"binance:BTCUSDT": 0.0}
    for _ in range(4):  # not ready since the first look: 0, 1, 2, 3 s
        rig.step()
    assert rig.notes == []
    rig.step()
    assert rig.states() == ["firing"]
    rig.ready = {"binance:BTCUSDT": True}
    rig.step()
    assert rig.states() == ["firing", "resolved"]


# -- hysteresis ----------------------------------------------------------------------------


def test_a_flapping_signal_is_one_alert() -> None:
    rig = Rig(with_rules(rate_limit={"threshold": 0.9, "hysteresis": 0.1, "clear_s": 5.0}))
    for i in range(20):  # over, under, over, ... every second
        rig.usage = {"okx": 0.95 if i % 2 == 0 else 0.5}
        rig.step()
    assert rig.states() == ["firing"]  # never resolved: it never stayed clear for 5 s
    rig.usage = {"okx": 0.85}  # under the threshold but above the clear level (0.81)
    for _ in range(10):
        rig.step()
    assert rig.states() == ["firing"]
    rig.usage = {"okx": 0.5}
    for _ in range(5):
        rig.step()
    assert rig.states() == ["firing"]  # clear for 4 s of the 5 (since its first clear look)
    rig.step()
    assert rig.states() == ["firing", "resolved"]


def test_for_s_delays_firing_until_the_breach_lasts() -> None:
    rig = Rig(with_rules(rate_limit={"threshold": 0.9, "for_s": 3.0}))
    rig.usage = {"okx": 0.95}
    rig.step()  # breach starts
    rig.step()
    rig.step()
    assert rig.notes == []
    rig.step()  # 3 s on
    assert rig.states() == ["firing"]


# -- z-score ---------------------------------------------------------------------------------


def test_rolling_z_scores_against_the_past() -> None:
    z = RollingZ(window=5)
    assert [z.score(v, min_samples=3) for v in (10.0, 12.0)] == [None, None]
    assert z.score(11.0, min_samples=3) is None  # two samples before it
    assert z.score(11.0, min_samples=3) == pytest.approx(0.0)  # mean 11, sd 1
    assert z.score(14.0, min_samples=3) == pytest.approx((14 - 11) / (2 / 3) ** 0.5)
    assert len(z) == 5
    flat = RollingZ(window=10)
    for _ in range(5):
        assert flat.score(7.0, min_samples=2) is None  # a flat series has no scale


def test_a_message_rate_collapse_is_an_anomaly() -> None:
    cfg = with_rules()
    anomalies = dict(cfg.alerts.anomalies)
    anomalies["message_rate"] = AnomalyConfig(window=30, threshold=4.0, min_samples=10, clear_s=2.0)
    cfg = dataclasses.replace(cfg, alerts=dataclasses.replace(cfg.alerts, anomalies=anomalies))
    rig = Rig(cfg)
    for i in range(20):  # about 1000 messages a second
        rig.messages += 1000 + (i % 3) * 10
        rig.step()
    assert rig.notes == []
    rig.step()  # no message at all this second
    assert [n.key for n in rig.notes] == ["anomaly.message_rate:message_rate:firing"]
    assert rig.notes[0].fields["value"] > 4.0
    for _ in range(4):
        rig.messages += 1000
        rig.step()
    assert rig.states() == ["firing", "resolved"]


def test_percentile_of_buckets() -> None:
    assert percentile([], 99.0) == (0, 0)
    buckets = [(10, 98), (20, 1), (30, 1)]
    assert percentile(buckets, 99.0) == (100, 20)
    assert percentile(buckets, 50.0) == (100, 10)
    assert percentile(buckets, 100.0) == (100, 30)


# -- actions, retries, escalation ----------------------------------------------------------

FEED = "binance:BTCUSDT"


def stale_rule(**extra: Any) -> EngineConfig:
    rule = {"threshold": 5.0, "clear_s": 0.0, "action": "reconnect_feed", "retries": 3,
            "backoff_s": 2.0, "backoff_max_s": 60.0, **extra}  # fmt: skip
    return with_rules(feed_stale=rule)


def test_a_recovery_runs_and_ends_when_the_alert_resolves() -> None:
    rig = Rig(stale_rule())
    rig.engine.actions = Actions(reconnect_feed=rig.record("reconnect"))
    rig.ages = {FEED: 6.0}
    rig.step()
    assert rig.calls == [("reconnect", FEED)]
    rig.ages = {FEED: 0.1}  # the reconnect worked
    rig.step()
    rig.step(30)
    assert rig.calls == [("reconnect", FEED)]  # resolved: no retry
    assert rig.states() == ["firing", "resolved"]


def test_a_failing_recovery_backs_off_then_escalates_to_an_emergency_stop() -> None:
    rig = Rig(stale_rule(escalate="emergency_stop"))
    times: list[int] = []

    def reconnect(key: str) -> bool:
        times.append(rig.clock.time_ns() - T0)
        raise ConnectionError("venue down")

    rig.engine.actions = Actions(reconnect_feed=reconnect, emergency_stop=rig.record("stop"))
    rig.ages = {FEED: 9.0}
    rig.step()
    for _ in range(40):
        rig.ages = {FEED: rig.ages[FEED] + 1}
        rig.step()
    # the first attempt at the firing (t = 1 s), then after 2, 4 and 8 s
    assert times == [1 * NS, 3 * NS, 7 * NS, 15 * NS]
    assert rig.states() == ["firing", "escalated"]
    escalated = rig.notes[1]
    assert escalated.severity == "critical"
    assert "reconnect_feed failed 4 times (ConnectionError: venue down)" in escalated.text
    assert rig.calls == [("stop", f"alert feed_stale {FEED}: reconnect_feed failed 4 times")]
    assert rig.engine.counters.escalations == 1
    assert rig.engine.recent()[0]["state"] == "escalated"
    assert rig.engine.recent()[0]["attempts"] == 4


def test_a_recovery_that_answers_but_does_not_help_is_retried() -> None:
    rig = Rig(stale_rule(retries=1, escalate="notify"))
    rig.engine.actions = Actions(restart_venue=rig.record("restart", True))
    rig.config = stale_rule(retries=1, action="restart_venue")
    rig.ages = {FEED: 9.0}
    for _ in range(10):
        rig.step()
    assert rig.calls == [("restart", "binance"), ("restart", "binance")]  # a venue, not a feed
    assert rig.states() == ["firing", "escalated"]
    assert "the alert is still firing" in rig.notes[1].text


async def test_an_async_action_is_awaited_and_its_failure_counted() -> None:
    rig = Rig(stale_rule(retries=0, escalate="pause"))
    attempts: list[str] = []

    async def resync(key: str) -> bool:
        attempts.append(key)
        return False

    rig.engine.actions = Actions(resync_book=resync, pause=rig.record("pause"))
    rig.config = stale_rule(retries=0, escalate="pause", action="resync_book")
    rig.ages = {FEED: 9.0}
    rig.step()
    await until(lambda: attempts == [FEED])
    rig.step(3)
    assert rig.calls == [("pause", f"alert feed_stale {FEED}: resync_book failed 1 times")]
    assert "answered False" in rig.notes[1].text
    await rig.engine.close()


def test_an_action_not_wired_escalates() -> None:
    rig = Rig(with_rules(rate_limit={"threshold": 0.5, "action": "restart_venue", "retries": 0}))
    rig.usage = {"gate": 0.9}
    rig.step()
    rig.step(5)
    assert rig.states() == ["firing", "escalated"]
    assert "not available in this engine" in rig.notes[1].text


def test_recent_is_a_bounded_ring() -> None:
    rig = Rig(with_rules(rate_limit={"threshold": 0.5, "clear_s": 0.0}))
    rig.engine = AlertEngine(
        lambda: rig.config, rig.engine.signals, Actions(), rig.clock, rig.notes.append, recent=3
    )
    for i in range(5):
        rig.usage = {"v": 0.9 if i % 2 == 0 else 0.1}
        rig.step()
    recent = rig.engine.recent()
    assert [r["id"] for r in recent] == [5, 4, 3]
    assert recent[0]["state"] == "firing"


async def test_the_component_evaluates_on_the_clock_and_stops_cleanly() -> None:
    clock = SimClock(T0)
    usage = {"binance": 0.95}
    cfg = with_rules(rate_limit={"threshold": 0.9})
    cfg = dataclasses.replace(cfg, alerts=dataclasses.replace(cfg.alerts, interval_s=0.5))
    component = build_alerts(
        cfg, Signals(rate_limit_usage=lambda: usage), Actions(), clock=clock, environ={}
    )
    assert isinstance(component, AlertsComponent)
    await component.start()
    try:
        clock.advance_to(T0 + 2 * NS)
        assert component.engine.counters.evaluations == 4
        assert [a["subject"] for a in component.status()["active"]] == ["binance"]
        await until(lambda: component.notifier.counters.sinks["log"].sent == 1)
    finally:
        await component.stop()
    clock.advance_to(T0 + 10 * NS)
    assert component.engine.counters.evaluations == 4  # the timer went with the component


def _alert_samples(metrics: EngineMetrics) -> dict[tuple[str, frozenset[str]], float]:
    """{(sample name, its label values): value} of the alert families of one scrape."""
    return {
        (s.name, frozenset(s.labels.values())): s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        if family.name.startswith(("hft_alert", "hft_notification"))
        for s in family.samples
    }


async def test_a_firing_alert_is_in_metrics_until_it_resolves() -> None:
    """The real component through the monitor's reader (`alert_metrics` over `status()`):
    firing shows as 1 and is gone once resolved; fired, resolved, the log sink's sends and
    the repeat storm control held are counted."""
    clock = SimClock(T0)
    usage = {"binance": 0.95}
    cfg = with_rules(rate_limit={"threshold": 0.9, "clear_s": 1.0})
    cfg = dataclasses.replace(cfg, alerts=dataclasses.replace(cfg.alerts, interval_s=0.5))
    component = build_alerts(
        cfg, Signals(rate_limit_usage=lambda: usage), Actions(), clock=clock, environ={}
    )
    metrics = EngineMetrics(Sources(alerts=lambda: alert_metrics(component.status())))

    def key(name: str, *labels: str) -> tuple[str, frozenset[str]]:
        return name, frozenset(labels)

    firing = key("hft_alerts_firing", "rate_limit", "binance")
    fired = key("hft_alert_events_total", "fired")
    await component.start()
    try:
        before = _alert_samples(metrics)
        assert firing not in before
        assert before[fired] == 0
        clock.advance_to(T0 + NS)
        now = _alert_samples(metrics)
        assert now[firing] == 1
        assert now[fired] == 1
        usage["binance"] = 0.1
        clock.advance_to(T0 + 3 * NS)
        await until(lambda: component.notifier.counters.sinks["log"].sent == 2)
        now = _alert_samples(metrics)
        assert not any(name == "hft_alerts_firing" for name, _ in now)
        assert now[key("hft_alert_events_total", "resolved")] == 1
        assert now[key("hft_notifications_total", "queued")] == 2
        assert now[key("hft_notification_deliveries_total", "log", "sent")] == 2
        usage["binance"] = 0.95  # fires again within the storm window: held, not sent
        clock.advance_to(T0 + 4 * NS)
        now = _alert_samples(metrics)
        assert now[firing] == 1
        assert now[fired] == 2
        assert now[key("hft_notifications_total", "held")] == 1
        evaluations = component.engine.counters.evaluations
        assert now[key("hft_alert_evaluations_total")] == evaluations
    finally:
        await component.stop()


def test_a_signal_that_raises_blinds_only_its_rules() -> None:
    def broken() -> float:
        raise RuntimeError("risk manager gone")

    notes: list[Notification] = []
    cfg = with_rules(daily_loss={"threshold": 10.0}, rate_limit={"threshold": 0.5})
    engine = AlertEngine(
        lambda: cfg,
        Signals(daily_pnl=broken, rate_limit_usage=lambda: {"okx": 0.9}),
        Actions(),
        SimClock(T0),
        notes.append,
    )
    engine.evaluate()
    assert [n.key for n in notes] == ["rate_limit:okx:firing"]
    assert engine.counters.signal_errors == 1


# -- config ----------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "engine.toml"
    path.write_text(text)
    return path


def test_rules_load_from_toml_and_env(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[alerts.rules.feed_stale]\nthreshold = 3\naction = "resync_book"\n'
        "[alerts.anomalies.latency]\nenabled = false\n"
        "[notify]\nstorm_window_s = 30\n",
    )
    cfg = load_config(path, environ={"HFT__ALERTS__RULES__REJECT_RATE__WINDOW_S": "120"})
    assert cfg.alerts.rules["feed_stale"] == dataclasses.replace(
        AlertRuleConfig(action="reconnect_feed", clear_s=5.0), threshold=3.0, action="resync_book"
    )
    assert cfg.alerts.rules["reject_rate"].window_s == 120.0
    assert not cfg.alerts.anomalies["latency"].enabled
    assert cfg.notify.storm_window_s == 30.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[alerts.rules.daily_loss]\naction = "reconnect_feed"\n',
            "alerts.rules.daily_loss.action: reconnect_feed acts on a feed or venue; "
            "it is for feed_stale only",
        ),
        (
            "[alerts.rules.feed_stale]\nthreshold = -1\n",
            "alerts.rules.feed_stale.threshold: -1.0 is out of range (allowed >= 0)",
        ),
        (
            "[alerts.rules.latency]\nthreshold = 1\n",
            "alerts.rules.latency: unknown name 'latency' (did you mean 'latency_p99'?)",
        ),
        (
            '[alerts.rules.rate_limit]\nseverity = "page"\n',
            "alerts.rules.rate_limit.severity: 'page' is not one of: info, warning, critical",
        ),
        (
            "[alerts.rules.rate_limit]\nbackoff_s = 10\nbackoff_max_s = 5\n",
            "alerts.rules.rate_limit.backoff_max_s: must be >= backoff_s",
        ),
        (
            "[alerts.anomalies.pnl_change]\nwindow = 10\nmin_samples = 20\n",
            "alerts.anomalies.pnl_change.min_samples: must be <= window",
        ),
        (
            '[notify]\ntelegram_token_env = "BOT"\n',
            "notify.telegram_chat_id: is required when notify.telegram_token_env is set",
        ),
        (
            '[notify]\ntelegram_token = "123:abc"\n',
            "notify.telegram_token: secrets are not allowed in the config file",
        ),
        (
            '[notify]\nwebhook_url = "https://hooks.example.com/T/B/x"\n',
            "notify.webhook_url: unknown key 'webhook_url' (did you mean 'webhook_url_env'?)",
        ),
    ],
)
def test_bad_alert_config_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), environ={})
    line = str(info.value)
    assert "\n" not in line
    assert message in line


# -- a daily-loss breach on a real risk manager ----------------------------------------------

BINANCE = Instrument(
    "BTCUSDT", "binance", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"),
    Decimal("0.00001"), Decimal(0), 2, 5,
)  # fmt: skip


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    await rec.start()
    try:
        yield rec
    finally:
        await rec.stop()


async def test_a_daily_loss_breach_halts_and_notifies(receiver: Receiver) -> None:
    clock = SimClock(T0)
    halts: list[tuple[str, str]] = []
    # the risk manager's own limit far away: the alert is what halts here
    risk = RiskManager(
        [BINANCE], [0], RiskConfig(max_daily_loss=Decimal(1000)), clock,
        on_halt=lambda reason, source: halts.append((reason, source)),
    )  # fmt: skip

    def daily_pnl() -> Decimal:
        _, _, equity, day_start, _ = risk.core.pnl()
        return Decimal(equity - day_start).scaleb(-risk.pnl_exp)

    cfg = with_rules(
        daily_loss={"threshold": 100.0, "action": "emergency_stop", "severity": "critical"}
    )
    cfg = dataclasses.replace(
        cfg, notify=dataclasses.replace(cfg.notify, webhook_url_env="HOOK", storm_window_s=0.0)
    )
    component = build_alerts(
        cfg,
        Signals(daily_pnl=daily_pnl),
        Actions(emergency_stop=lambda reason: risk.emergency_stop(reason, "alert")),
        clock=clock,
        environ={"HOOK": receiver.url("/hook/abc123")},
    )
    await component.start()
    try:
        now = clock.time_ns()
        assert risk.core.on_fill(0, 1, 100_000, 0, now) == 0  # 1 BTC long
        risk.core.on_mark(0, 5_000_000, -risk.pnl_units(Decimal(60)), now)
        clock.advance_to(now + NS)
        assert risk.state_name == "ACTIVE" and halts == []
        risk.core.on_mark(0, 4_990_000, -risk.pnl_units(Decimal(150)), clock.time_ns())
        clock.advance_to(clock.time_ns() + NS)
        assert risk.state_name == "HALTED"
        assert halts == [("alert daily_loss engine", "alert")]
        await until(lambda: len(receiver.posts) == 1)
    finally:
        await component.stop()
    (body,) = receiver.bodies("/hook/")
    assert body["key"] == "daily_loss:engine:firing" and body["severity"] == "critical"
    assert body["text"] == "150 quote is above 100; action: emergency_stop"
    assert body["fields"]["value"] == 150.0


def test_a_hot_threshold_change_applies_at_the_next_evaluation() -> None:
    store = ConfigStore(with_rules(rate_limit={"threshold": 0.9, "clear_s": 0.0}))
    rig = Rig(store.current)
    rig.engine = AlertEngine(
        lambda: store.current, rig.engine.signals, Actions(), rig.clock, rig.notes.append
    )
    rig.usage = {"okx": 0.95}
    rig.step()
    assert rig.states() == ["firing"]
    store.update("alerts.rules.rate_limit.threshold", "1.2")  # hot: no restart (clear 1.08)
    rig.step()
    assert rig.states() == ["firing", "resolved"]
    with pytest.raises(ConfigError, match="not hot-reloadable"):
        store.update("alerts.interval_s", "5")


def test_the_shipped_configs_alert_as_they_say() -> None:
    root = Path(__file__).resolve().parents[1] / "config"
    paper = load_config(root / "paper.toml", environ={})
    assert paper.alerts.enabled and paper.notify.enabled
    assert threshold_of("daily_loss", paper.alerts.rules["daily_loss"], paper) == 100.0
    assert paper.alerts.rules["feed_stale"].action == "reconnect_feed"
    prod = load_config(root / "prod.toml", environ={})
    daily = prod.alerts.rules["daily_loss"]
    assert daily.threshold < float(prod.risk.max_daily_loss)  # stops before the risk limit
    assert daily.action == "emergency_stop" and daily.severity == "critical"
    stale = prod.alerts.rules["feed_stale"].threshold
    assert stale < prod.monitor.stale_feed_seconds  # before the transport's own reconnect
    assert prod.notify.webhook_url_env == "HFT_ALERT_WEBHOOK_URL"
    assert prod.notify.min_severity == "warning"
