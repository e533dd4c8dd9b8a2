"""The config schema: the single source of truth for every key, its type, default, allowed
values, whether it may change at run time (`hot`) and what it is for.

Loading, the env layer, runtime updates, masking and rendering are all driven from these
dataclasses; adding a key here is the whole job. Instances are built and validated by
`load_config` / `ConfigStore`; constructing one directly (tests) skips validation. The list
and dict fields are shared between successive configs: read them, never mutate them.
"""

# RUF009 guards against shared mutable defaults; setting()/section() return dataclass
# fields (with default factories for lists and dicts), which is exactly the safe form.
# ruff: noqa: RUF009

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.config import checks
from engine.config.spec import section, setting

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
VENUE_NAMES = ("binance", "okx", "gate")
KEY_SOURCES = ("env", "keyfile", "none")


@dataclass(frozen=True, slots=True)
class SystemConfig:
    name: str = setting(
        "hft-engine", "engine instance name, in logs and metrics", check=checks.not_empty
    )
    log_level: str = setting(
        "info", "minimum level written to the logs", hot=True, choices=LOG_LEVELS
    )
    log_dir: str = setting(
        "var/log", "directory of the JSON-lines log files", check=checks.not_empty
    )
    log_max_bytes: int = setting(
        50 * 1024 * 1024, "rotate a log file at this size", bounds=(1024, 1 << 40)
    )
    log_backups: int = setting(5, "rotated log files kept", bounds=(0, 100))
    state_dir: str = setting(
        "var/state",
        "directory of the engine's own state (the venues' instruments as last loaded)",
        check=checks.not_empty,
    )
    worker_threads: int = setting(4, "threads of the blocking-work executor", bounds=(1, 256))
    cpus: list[int] = setting(
        [], "CPUs to pin the process to; [] leaves the affinity alone", check=checks.cpus
    )
    gc_freeze: bool = setting(
        True, "freeze the objects alive after start out of garbage collection (no long pauses)"
    )


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    url: str = setting(
        "",
        "PostgreSQL URL; '' uses the embedded SQLite store",
        check=checks.url("postgresql://", "postgres://", empty_ok=True),
        credential_hint="the environment variable HFT__DATABASE__URL or PGPASSWORD",
    )
    sqlite_path: str = setting(
        "var/engine.sqlite3", "SQLite file used when url is ''", check=checks.not_empty
    )
    pool_size: int = setting(10, "connections in the PostgreSQL pool", bounds=(1, 100))
    batch_size: int = setting(1000, "rows written per batch", bounds=(1, 100_000))
    flush_interval_ms: int = setting(
        200, "longest wait before a partial batch is written", hot=True, bounds=(1, 60_000)
    )
    retention_days: int = setting(
        30, "daily partitions older than this are dropped (PostgreSQL)", bounds=(1, 36_500)
    )
    partitions_ahead_days: int = setting(
        3, "daily partitions created ahead of time (PostgreSQL)", bounds=(1, 366)
    )
    max_buffered_rows: int = setting(
        100_000,
        "rows held in memory per table while the database is slow; market data past it is "
        "dropped (counted), orders and fills spill to the journal",
        bounds=(100, 10_000_000),
    )
    market_data: bool = setting(True, "keep best bid/offer and trades in the history")
    depth_snapshot_interval_s: float = setting(
        10.0, "seconds between two stored depth snapshots per symbol (0 = none)", bounds=(0, 86_400)
    )
    journal_path: str = setting(
        "",
        "order journal: every intent and order change, written before the request is sent "
        "('' = journal/orders.wal under system.state_dir)",
    )
    journal_fsync: str = setting(
        "interval",
        "journal durability: every record (always), every journal_fsync_interval_ms "
        "(interval), or when the OS writes (os)",
        choices=("always", "interval", "os"),
    )
    journal_fsync_interval_ms: int = setting(
        10, "fsync period of journal_fsync = interval", bounds=(1, 10_000)
    )


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    enabled: bool = setting(False, "append every raw venue frame to rotating files")
    directory: str = setting("var/frames", "where the frame files go", check=checks.not_empty)
    max_file_mb: int = setting(256, "a frame file rotates at this size", bounds=(1, 100_000))


@dataclass(frozen=True, slots=True)
class CacheConfig:
    url: str = setting(
        "",
        "Redis URL; '' keeps the cache in process memory",
        check=checks.url("redis://", "rediss://", "unix://", empty_ok=True),
        credential_hint="the environment variable HFT__CACHE__URL",
    )
    key_prefix: str = setting("hft:", "prefix of every cache key")
    ttl_s: int = setting(
        60,
        "seconds a cached value lives without a refresh (a dead engine's state expires)",
        bounds=(1, 86_400),
    )
    flush_interval_ms: int = setting(
        50, "longest wait before pending cache writes go out in one pipeline", bounds=(1, 60_000)
    )
    status_channel: str = setting(
        "status",
        "pub/sub channel (after key_prefix) carrying status changes",
        check=checks.not_empty,
    )


@dataclass(frozen=True, slots=True)
class StrategyConfig:
    enabled: bool = setting(False, "quote (true) or only watch the market (false)", hot=True)
    class_: str = setting(
        "engine.strategy.market_making:MarketMakingStrategy",
        "strategy class as 'package.module:ClassName'",
        check=checks.class_path,
        toml_name="class",
    )
    venue: str = setting(
        "",
        'venue the strategy trades on ("" = every venue that trades)',
        choices=("", *VENUE_NAMES),
    )
    symbols: list[str] = setting(
        [], "symbols the strategy quotes ([] = every symbol of its venues)", check=checks.symbols
    )
    status_interval_s: float = setting(
        5.0, "seconds between two status lines (0 = none)", hot=True, bounds=(0, 3600)
    )
    parameters: dict[str, Any] = setting({}, "free-form strategy parameters", hot=True)


@dataclass(frozen=True, slots=True)
class RiskConfig:
    max_position: Decimal = setting(
        Decimal("1"), "largest absolute position, base quantity", hot=True, bounds=(0, None)
    )
    max_order_notional: Decimal = setting(
        Decimal("1000"),
        "largest order value, quote currency",
        hot=True,
        bounds=(0, None),
        exclusive_min=True,
    )
    max_open_orders: int = setting(20, "open orders at once", hot=True, bounds=(1, 10_000))
    max_orders_per_second: int = setting(10, "new orders per second", hot=True, bounds=(1, 10_000))
    max_daily_loss: Decimal = setting(
        Decimal("100"),
        "loss in quote currency that stops trading for the day",
        hot=True,
        bounds=(0, None),
        exclusive_min=True,
    )
    kill_switch: bool = setting(False, "true cancels everything and stops quoting", hot=True)
    max_order_quantity: Decimal = setting(
        Decimal(0), "largest order, base quantity (0 = no limit)", hot=True, bounds=(0, None)
    )
    min_order_notional: Decimal = setting(
        Decimal(0),
        "smallest order value, quote currency (0 = the venue's own minimum)",
        hot=True,
        bounds=(0, None),
    )
    price_band_bps: int = setting(
        500,
        "fat-finger band: a limit price further than this from the mid is refused (0 = off)",
        hot=True,
        bounds=(0, 10_000),
    )
    max_exposure: Decimal = setting(
        Decimal(0),
        "largest position value per symbol, quote currency (0 = no limit)",
        hot=True,
        bounds=(0, None),
    )
    max_total_exposure: Decimal = setting(
        Decimal(0),
        "largest position value over all symbols, quote currency (0 = no limit)",
        hot=True,
        bounds=(0, None),
    )
    max_cancels_per_second: int = setting(
        50, "cancels per second per symbol", hot=True, bounds=(1, 10_000)
    )
    max_total_orders_per_second: int = setting(
        0, "new orders per second over all symbols (0 = no limit)", hot=True, bounds=(0, 10_000)
    )
    max_drawdown: Decimal = setting(
        Decimal(0),
        "drop from the day's peak equity that stops trading, quote currency (0 = no limit)",
        hot=True,
        bounds=(0, None),
    )
    daily_reset_hour_utc: int = setting(
        0, "hour (UTC) at which the daily loss and drawdown start again", bounds=(0, 23)
    )


_HTTP = checks.url("http://", "https://", empty_ok=False)


@dataclass(frozen=True, slots=True)
class VenueConfig:
    enabled: bool = setting(False, "connect to this venue")
    simulated: bool = setting(
        False, "start the local exchange simulator for this venue and use its URLs"
    )
    rest_url: str = setting("", "REST base URL", check=_HTTP)
    ws_public_url: str = setting(
        "", "public WebSocket URL", check=checks.url("ws://", "wss://", empty_ok=False)
    )
    ws_private_url: str = setting(
        "",
        "private WebSocket URL ('' if unused)",
        check=checks.url("ws://", "wss://", empty_ok=True),
    )
    ca_file: str = setting(
        "", "CA bundle that verifies this venue's TLS certificates ('' = the system store)"
    )
    demo: bool = setting(False, "OKX: the key is a demo-trading key (x-simulated-trading: 1)")
    symbols: list[str] = setting([], "symbols subscribed on this venue", check=checks.symbols)
    key_source: str = setting(
        "none", "where credentials come from; none = market data only", choices=KEY_SOURCES
    )
    api_key_env: str = setting(
        "", "NAME of the env variable holding the API key", check=checks.env_name
    )
    api_secret_env: str = setting(
        "", "NAME of the env variable holding the API secret", check=checks.env_name
    )
    passphrase_env: str = setting(
        "", "NAME of the env variable holding the passphrase (OKX)", check=checks.env_name
    )
    keyfile: str = setting("", "path of the encrypted key file (key_source = keyfile)")
    recv_window_ms: int = setting(5000, "signed request validity window", bounds=(1, 60_000))
    trade: bool = setting(
        True, "trade on this venue when it has credentials (a simulated venue always has)"
    )
    dead_man_seconds: int = setting(
        60,
        "venue-side cancel-all timer the engine keeps refreshing (OKX 10..120, Gate >= 5; "
        "0 = off; Binance spot has none)",
        bounds=(0, 120),
    )
    adopt_unknown_orders: bool = setting(
        False, "at start, adopt open orders the engine did not place (false: cancel them)"
    )
    cancel_on_stop: bool = setting(True, "cancel every open order when the engine stops")
    book_depth: int = setting(1000, "order book levels kept", bounds=(1, 5000))


def _venue(name: str, rest: str, public: str, private: str, *, passphrase: bool) -> VenueConfig:
    upper = name.upper()
    return VenueConfig(
        rest_url=rest,
        ws_public_url=public,
        ws_private_url=private,
        api_key_env=f"HFT_{upper}_API_KEY",
        api_secret_env=f"HFT_{upper}_API_SECRET",
        passphrase_env=f"HFT_{upper}_PASSPHRASE" if passphrase else "",
    )


def default_venues() -> dict[str, VenueConfig]:
    """Every venue, disabled, on its real production endpoints; files overlay these."""
    return {
        "binance": _venue(
            "binance",
            "https://api.binance.com",
            "wss://stream.binance.com:9443",
            "wss://ws-api.binance.com:443/ws-api/v3",
            passphrase=False,
        ),
        "okx": _venue(
            "okx",
            "https://www.okx.com",
            "wss://ws.okx.com:8443/ws/v5/public",
            "wss://ws.okx.com:8443/ws/v5/private",
            passphrase=True,
        ),
        "gate": _venue(
            "gate",
            "https://api.gateio.ws/api/v4",
            "wss://api.gateio.ws/ws/v4/",
            "wss://api.gateio.ws/ws/v4/",
            passphrase=False,
        ),
    }


# -- alerts and notifications (docs/ALERTS.md) ------------------------------------------------

SEVERITIES = ("info", "warning", "critical")
RULE_KINDS = ("daily_loss", "feed_stale", "reject_rate", "latency_p99", "rate_limit")
ANOMALY_SIGNALS = ("latency", "pnl_change", "message_rate")
ACTIONS = ("notify", "pause", "emergency_stop", "reconnect_feed", "resync_book", "restart_venue")
# recovery actions act on the alert's subject, so only kinds whose subject is a feed or venue
RECOVERY_KINDS = {
    "reconnect_feed": ("feed_stale",),
    "resync_book": ("feed_stale",),
    "restart_venue": ("feed_stale", "rate_limit"),
}
ESCALATIONS = ("none", "notify", "pause", "emergency_stop")


@dataclass(frozen=True, slots=True)
class AlertRuleConfig:
    enabled: bool = setting(True, "evaluate this rule", hot=True)
    threshold: float = setting(
        0.0,
        "fires above this value, in the kind's unit: daily_loss quote currency (0 = "
        "risk.max_daily_loss), feed_stale seconds (0 = monitor.stale_feed_seconds), "
        "reject_rate a fraction 0..1, latency_p99 microseconds, rate_limit a fraction 0..1",
        hot=True,
        bounds=(0, None),
    )
    window_s: float = setting(
        60.0, "reject_rate and latency_p99: the window measured", hot=True, bounds=(1, 86_400)
    )
    min_count: int = setting(
        20,
        "reject_rate, latency_p99: orders or samples the window needs before it is judged",
        hot=True,
        bounds=(1, 1_000_000),
    )
    for_s: float = setting(
        0.0, "the breach must last this long before the alert fires", hot=True, bounds=(0, 86_400)
    )
    clear_s: float = setting(
        10.0,
        "the value must stay clear this long before the alert resolves (a flapping signal "
        "stays one alert)",
        hot=True,
        bounds=(0, 86_400),
    )
    hysteresis: float = setting(
        0.1,
        "clear means below threshold * (1 - hysteresis)",
        hot=True,
        bounds=(0, 1),
    )
    action: str = setting("notify", "what firing does besides notifying", hot=True, choices=ACTIONS)
    severity: str = setting("warning", "the notification's severity", hot=True, choices=SEVERITIES)
    retries: int = setting(
        3, "action attempts after the first before escalating", hot=True, bounds=(0, 100)
    )
    backoff_s: float = setting(
        2.0, "wait before the second attempt; doubles each time", hot=True, bounds=(0.01, 3600)
    )
    backoff_max_s: float = setting(
        60.0, "longest wait between two attempts", hot=True, bounds=(0.01, 86_400)
    )
    escalate: str = setting(
        "notify",
        "when the action keeps failing: a critical notification (notify), plus pause or "
        "emergency_stop; none = log only",
        hot=True,
        choices=ESCALATIONS,
    )


def default_rules() -> dict[str, AlertRuleConfig]:
    """One rule per kind; files overlay these."""
    return {
        "daily_loss": AlertRuleConfig(action="emergency_stop", severity="critical", clear_s=0.0),
        "feed_stale": AlertRuleConfig(action="reconnect_feed", escalate="notify", clear_s=5.0),
        "reject_rate": AlertRuleConfig(threshold=0.5, window_s=60.0),
        "latency_p99": AlertRuleConfig(threshold=5000.0, window_s=60.0, min_count=100),
        "rate_limit": AlertRuleConfig(threshold=0.9, clear_s=30.0),
    }


@dataclass(frozen=True, slots=True)
class AnomalyConfig:
    enabled: bool = setting(True, "watch this signal", hot=True)
    window: int = setting(
        120, "evaluations in the rolling mean and deviation", hot=True, bounds=(3, 100_000)
    )
    threshold: float = setting(
        6.0, "fires when |z| exceeds this", hot=True, bounds=(0, None), exclusive_min=True
    )
    min_samples: int = setting(
        30, "evaluations needed before any z-score is judged", hot=True, bounds=(2, 100_000)
    )
    clear_s: float = setting(
        30.0, "|z| must stay below the threshold this long to resolve", hot=True, bounds=(0, 86_400)
    )
    severity: str = setting("warning", "the notification's severity", hot=True, choices=SEVERITIES)


def default_anomalies() -> dict[str, AnomalyConfig]:
    return {name: AnomalyConfig() for name in ANOMALY_SIGNALS}


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    enabled: bool = setting(True, "evaluate the alert rules (needs a trading venue)")
    interval_s: float = setting(1.0, "seconds between two evaluations", bounds=(0.01, 3600))
    recent: int = setting(200, "alerts kept for the status page", bounds=(1, 100_000))
    rules: dict[str, AlertRuleConfig] = section(
        default_rules, "threshold rules, one per kind", choices=RULE_KINDS
    )
    anomalies: dict[str, AnomalyConfig] = section(
        default_anomalies, "rolling z-score detectors", choices=ANOMALY_SIGNALS
    )


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    enabled: bool = setting(True, "send notifications (the log sink is always on when enabled)")
    min_severity: str = setting(
        "info", "notifications below this severity are not sent", hot=True, choices=SEVERITIES
    )
    queue_size: int = setting(
        1000, "notifications waiting for the sinks; more are dropped", bounds=(1, 1_000_000)
    )
    timeout_s: float = setting(
        5.0, "longest a sink may take per notification", hot=True, bounds=(0.01, 600)
    )
    storm_window_s: float = setting(
        60.0,
        "repeats of one alert within this window are sent as one summary (0 = send all)",
        hot=True,
        bounds=(0, 86_400),
    )
    webhook_url_env: str = setting(
        "",
        "NAME of the env variable holding a webhook URL (JSON POST); '' = "
        "monitor.alert_webhook_env",
        check=checks.env_name,
    )
    slack_webhook_env: str = setting(
        "", "NAME of the env variable holding a Slack incoming-webhook URL", check=checks.env_name
    )
    telegram_token_env: str = setting(
        "", "NAME of the env variable holding a Telegram bot token", check=checks.env_name
    )
    telegram_chat_id: str = setting("", "Telegram chat the bot writes to")
    telegram_api_url: str = setting(
        "https://api.telegram.org", "Telegram Bot API base URL", check=_HTTP
    )


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    enabled: bool = setting(True, "serve the metrics endpoint")
    host: str = setting("127.0.0.1", "metrics endpoint address", check=checks.not_empty)
    port: int = setting(9464, "metrics endpoint port (0 = any free port)", bounds=(0, 65_535))
    alert_webhook_env: str = setting(
        "",
        "NAME of the env variable holding the alert webhook URL (older name of "
        "notify.webhook_url_env, used when that one is '')",
        check=checks.env_name,
    )
    stale_feed_seconds: float = setting(
        5.0,
        "a feed silent this long is reconnected by its transport, and is the stale-feed "
        "alert's threshold when alerts.rules.feed_stale.threshold is 0",
        hot=True,
        bounds=(0.1, 3600.0),
    )


@dataclass(frozen=True, slots=True)
class EngineConfig:
    system: SystemConfig = section(SystemConfig, "process, logging, CPU pinning")
    database: DatabaseConfig = section(DatabaseConfig, "persistent store")
    cache: CacheConfig = section(CacheConfig, "shared cache")
    recorder: RecorderConfig = section(RecorderConfig, "raw frame recorder")
    strategy: StrategyConfig = section(StrategyConfig, "the trading strategy")
    risk: RiskConfig = section(RiskConfig, "pre-trade limits and the kill switch")
    venues: dict[str, VenueConfig] = section(default_venues, "exchanges", choices=VENUE_NAMES)
    monitor: MonitorConfig = section(MonitorConfig, "metrics, status and health")
    alerts: AlertsConfig = section(AlertsConfig, "alert rules, anomaly detection, recovery")
    notify: NotifyConfig = section(NotifyConfig, "notification sinks")


# (key with the problem, problem, other keys involved): the loader names the source of
# whichever of those keys was set last.
Problem = tuple[str, str, tuple[str, ...]]


def cross_checks(cfg: EngineConfig) -> Iterator[Problem]:
    """Rules spanning several keys, checked on the merged config."""
    for name, venue in cfg.venues.items():
        at = f"venues.{name}"
        source = (f"{at}.key_source",)
        if venue.key_source == "keyfile" and not venue.keyfile:
            yield f"{at}.keyfile", 'is required when key_source = "keyfile"', source
        if venue.key_source == "env":
            needed = ["api_key_env", "api_secret_env"]
            if name == "okx":  # OKX signs every private request with a passphrase too
                needed.append("passphrase_env")
            for key in needed:
                if not getattr(venue, key):
                    yield f"{at}.{key}", 'is required when key_source = "env"', source
    strategy = cfg.strategy
    quotable = any(v.enabled and v.symbols for v in cfg.venues.values())
    if strategy.enabled and not strategy.venue and not quotable:
        yield (
            "strategy.enabled",
            "needs a venue to quote on: an enabled venue with symbols",
            tuple(f"venues.{n}.symbols" for n in cfg.venues),
        )
    yield from _alert_checks(cfg)
    if strategy.enabled and strategy.venue:
        venue_cfg = cfg.venues.get(strategy.venue)
        if venue_cfg is None or not venue_cfg.enabled:
            yield (
                "strategy.venue",
                f"must name an enabled venue when strategy.enabled = true "
                f"(enabled: {', '.join(n for n, v in cfg.venues.items() if v.enabled) or 'none'})",
                ("strategy.enabled", *(f"venues.{n}.enabled" for n in cfg.venues)),
            )


def _alert_checks(cfg: EngineConfig) -> Iterator[Problem]:
    for kind, rule in cfg.alerts.rules.items():
        at = f"alerts.rules.{kind}"
        kinds = RECOVERY_KINDS.get(rule.action)
        if kinds is not None and kind not in kinds:
            yield (
                f"{at}.action",
                f"{rule.action} acts on a feed or venue; it is for {', '.join(kinds)} only",
                (),
            )
        if rule.backoff_max_s < rule.backoff_s:
            yield f"{at}.backoff_max_s", "must be >= backoff_s", (f"{at}.backoff_s",)
    for name, anomaly in cfg.alerts.anomalies.items():
        if anomaly.min_samples > anomaly.window:
            at = f"alerts.anomalies.{name}"
            yield f"{at}.min_samples", "must be <= window", (f"{at}.window",)
    notify = cfg.notify
    if notify.telegram_token_env and not notify.telegram_chat_id:
        yield (
            "notify.telegram_chat_id",
            "is required when notify.telegram_token_env is set",
            ("notify.telegram_token_env",),
        )
