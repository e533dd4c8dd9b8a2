"""Layered config: defaults < TOML file < HFT__ environment < runtime, and the one-line errors
that name the source, the key and what is allowed. Real files in tmp_path, real env dicts."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from engine.config import ConfigError, EngineConfig, load_config

SECRET = "Zq8sECRETvalueTHATmustNEVERleak"


def write(tmp_path: Path, text: str, name: str = "engine.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    return _error(write(tmp_path, text), environ or {})


def env_error(environ: dict[str, str]) -> str:
    return _error(None, environ)


def _error(path: Path | None, environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- layering --------------------------------------------------------------------------------


def test_defaults_only() -> None:
    cfg = load_config(None, environ={})
    assert cfg == EngineConfig()
    assert (
        cfg.system.worker_threads == 4 and cfg.system.cpus == [] and cfg.system.log_level == "info"
    )
    assert cfg.system.log_max_bytes == 50 * 1024 * 1024
    assert cfg.database.url == "" and cfg.database.flush_interval_ms == 200
    assert cfg.cache.url == "" and cfg.cache.key_prefix == "hft:"
    assert cfg.risk.max_daily_loss == Decimal("100") and isinstance(cfg.risk.max_position, Decimal)
    assert cfg.strategy.class_ == "engine.strategy.market_making:MarketMakingStrategy"
    assert sorted(cfg.venues) == ["binance", "gate", "okx"]
    assert not any(v.enabled for v in cfg.venues.values())
    assert cfg.venues["binance"].rest_url == "https://api.binance.com"
    assert cfg.venues["okx"].ws_private_url == "wss://ws.okx.com:8443/ws/v5/private"
    assert cfg.venues["gate"].ws_public_url == "wss://api.gateio.ws/ws/v4/"
    assert cfg.venues["binance"].api_secret_env == "HFT_BINANCE_API_SECRET"
    assert cfg.venues["okx"].passphrase_env == "HFT_OKX_PASSPHRASE"
    assert cfg.monitor.port == 9464 and cfg.monitor.stale_feed_seconds == 5.0


def test_file_overrides_defaults_and_env_overrides_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[system]\nworker_threads = 8\nlog_level = "warning"\n'
        '[venues.okx]\nenabled = true\nsymbols = ["BTC-USDT"]\n',
    )
    from_file = load_config(path, environ={})
    assert from_file.system.worker_threads == 8 and from_file.system.log_level == "warning"
    assert from_file.system.log_backups == 5  # untouched keys keep their default
    okx = from_file.venues["okx"]
    assert okx.enabled and okx.symbols == ["BTC-USDT"]
    assert okx.rest_url == "https://www.okx.com"  # the venue's own default survives the overlay
    env = load_config(path, environ={"HFT__SYSTEM__WORKER_THREADS": "3"})
    assert env.system.worker_threads == 3 and env.system.log_level == "warning"


def test_environ_none_means_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HFT__SYSTEM__WORKER_THREADS", "7")
    assert load_config(None).system.worker_threads == 7


def test_other_environment_variables_are_ignored() -> None:
    environ = {"PATH": "/bin", "HFT_BINANCE_API_KEY": SECRET, "HFT_X": "1", "hft__system__x": "1"}
    assert load_config(None, environ=environ) == EngineConfig()


# -- the environment layer -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "attr", "expected"),
    [
        ("HFT__SYSTEM__WORKER_THREADS", " 12 ", ("system", "worker_threads"), 12),
        ("HFT__SYSTEM__CPUS", "", ("system", "cpus"), []),
        (
            "HFT__STRATEGY__SYMBOLS",
            "BTCUSDT, ETHUSDT",
            ("strategy", "symbols"),
            ["BTCUSDT", "ETHUSDT"],
        ),
        ("HFT__STRATEGY__SYMBOLS", '["A", "B"]', ("strategy", "symbols"), ["A", "B"]),
        ("HFT__RISK__MAX_POSITION", "0.1", ("risk", "max_position"), Decimal("0.1")),
        ("HFT__RISK__KILL_SWITCH", "yes", ("risk", "kill_switch"), True),
        ("HFT__RISK__KILL_SWITCH", "1", ("risk", "kill_switch"), True),
        ("HFT__MONITOR__ENABLED", "False", ("monitor", "enabled"), False),
        ("HFT__MONITOR__ENABLED", "no", ("monitor", "enabled"), False),
        ("HFT__MONITOR__STALE_FEED_SECONDS", "2.5", ("monitor", "stale_feed_seconds"), 2.5),
        ("HFT__STRATEGY__CLASS", "pkg.mod:Cls", ("strategy", "class_"), "pkg.mod:Cls"),
        (
            "HFT__STRATEGY__PARAMETERS",
            '{"spread_bps": 4, "layers": [1, 2], "name": "x"}',
            ("strategy", "parameters"),
            {"spread_bps": 4, "layers": [1, 2], "name": "x"},
        ),
        ("HFT__system__Log_Level", "debug", ("system", "log_level"), "debug"),
    ],
)
def test_env_values_are_typed_by_the_schema(
    name: str, value: str, attr: tuple[str, str], expected: object
) -> None:
    cfg = load_config(None, environ={name: value})
    got = getattr(getattr(cfg, attr[0]), attr[1])
    assert got == expected and type(got) is type(expected)


def test_env_list_of_ints_comma_and_json() -> None:
    cpu = min(os.sched_getaffinity(0))
    assert load_config(None, environ={"HFT__SYSTEM__CPUS": f"{cpu}"}).system.cpus == [cpu]
    assert load_config(None, environ={"HFT__SYSTEM__CPUS": f"[{cpu}]"}).system.cpus == [cpu]


def test_env_venue_keys() -> None:
    cfg = load_config(
        None,
        environ={
            "HFT__VENUES__BINANCE__ENABLED": "true",
            "HFT__VENUES__GATE__SYMBOLS": "BTC_USDT,ETH_USDT",
            "HFT__VENUES__OKX__RECV_WINDOW_MS": "2500",
        },
    )
    assert cfg.venues["binance"].enabled
    assert cfg.venues["gate"].symbols == ["BTC_USDT", "ETH_USDT"]
    assert cfg.venues["okx"].recv_window_ms == 2500


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"HFT__SYSTEM__WORKER_THREADS": "abc"},
            "environment HFT__SYSTEM__WORKER_THREADS: system.worker_threads: "
            "'abc' is not an int (allowed 1..256)",
        ),
        (
            {"HFT__SYSTEM__WORKER_THREADS": "0"},
            "environment HFT__SYSTEM__WORKER_THREADS: system.worker_threads: "
            "0 is out of range (allowed 1..256)",
        ),
        (
            {"HFT__RISK__KILL_SWITCH": "maybe"},
            "environment HFT__RISK__KILL_SWITCH: risk.kill_switch: "
            "'maybe' is not a boolean (true/false/1/0/yes/no)",
        ),
        (
            {"HFT__RISK__MAX_DAILY_LOSS": "lots"},
            "environment HFT__RISK__MAX_DAILY_LOSS: risk.max_daily_loss: "
            "'lots' is not a decimal number (allowed > 0)",
        ),
        (
            {"HFT__RISK__MAX_DAILY_LOSS": "0"},
            "environment HFT__RISK__MAX_DAILY_LOSS: risk.max_daily_loss: "
            "0 is out of range (allowed > 0)",
        ),
        (
            {"HFT__SYSTEM__WORKER_THREDS": "2"},
            "environment HFT__SYSTEM__WORKER_THREDS: system.worker_threds: "
            "unknown key 'worker_threds' (did you mean 'worker_threads'?)",
        ),
        (
            {"HFT__SYSTM__LOG_LEVEL": "info"},
            "environment HFT__SYSTM__LOG_LEVEL: systm: "
            "unknown key 'systm' (did you mean 'system'?)",
        ),
        (
            {"HFT__VENUES__KRAKEN__ENABLED": "true"},
            "environment HFT__VENUES__KRAKEN__ENABLED: venues.kraken: "
            "unknown name 'kraken' (known: binance, gate, okx)",
        ),
        (
            {"HFT__STRATEGY__PARAMETERS": "[1, 2]"},
            "environment HFT__STRATEGY__PARAMETERS: strategy.parameters: "
            "'[1, 2]' is not a JSON object",
        ),
        (
            {"HFT__SYSTEM__CPUS": "0,x"},
            "environment HFT__SYSTEM__CPUS: system.cpus: item 1: 'x' is not an int",
        ),
        (
            {"HFT__SYSTEM": "x"},
            "environment HFT__SYSTEM: system: is a table, not a value; set one of its keys",
        ),
    ],
)
def test_env_errors(environ: dict[str, str], expected: str) -> None:
    assert env_error(environ) == expected


def test_env_secret_is_refused_with_the_variable_it_belongs_in() -> None:
    message = env_error({"HFT__VENUES__BINANCE__API_SECRET": SECRET})
    assert message.startswith("environment HFT__VENUES__BINANCE__API_SECRET: ")
    assert "HFT_BINANCE_API_SECRET" in message and SECRET not in message
    assert "did you mean" not in message  # api_secret_env takes a NAME, never the secret


def test_same_key_twice_in_env_is_an_error() -> None:
    message = env_error({"HFT__SYSTEM__NAME": "a", "HFT__system__name": "b"})
    assert "system.name" in message and "set it once" in message


# -- file errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[system]\nworker_threads = 0\n",
            "system.worker_threads: 0 is out of range (allowed 1..256)",
        ),
        (
            "[system]\nworker_threads = 257\n",
            "system.worker_threads: 257 is out of range (allowed 1..256)",
        ),
        (
            '[system]\nworker_threads = "4"\n',
            "system.worker_threads: '4' is not an int (allowed 1..256)",
        ),
        (
            "[system]\nworker_threads = true\n",
            "system.worker_threads: true is not an int (allowed 1..256)",
        ),
        (
            "[system]\nworker_threads = 2.0\n",
            "system.worker_threads: 2.0 is not an int (allowed 1..256)",
        ),
        ("[monitor]\nenabled = 1\n", "monitor.enabled: 1 is not a boolean"),
        ("[system]\nname = 5\n", "system.name: 5 is not a string"),
        ('[system]\ncpus = "0"\n', "system.cpus: '0' is not a list of ints"),
        ("[system]\nlog_backups = -1\n", "system.log_backups: -1 is out of range (allowed 0..100)"),
        ("[monitor]\nport = 70000\n", "monitor.port: 70000 is out of range (allowed 0..65535)"),
        (
            "[monitor]\nstale_feed_seconds = 0.05\n",
            "monitor.stale_feed_seconds: 0.05 is out of range (allowed 0.1..3600.0)",
        ),
        (
            '[system]\nlog_level = "verbose"\n',
            "system.log_level: 'verbose' is not one of: debug, info, warning, error, critical",
        ),
        (
            '[venues.binance]\nkey_source = "vault"\n',
            "venues.binance.key_source: 'vault' is not one of: env, keyfile, none",
        ),
        (
            '[system]\nlog_levl = "info"\n',
            "system.log_levl: unknown key 'log_levl' (did you mean 'log_level'?)",
        ),
        ("[sytem]\n", "sytem: unknown key 'sytem' (did you mean 'system'?)"),
        ("[venues.sim]\n", "venues.sim: unknown name 'sim' (known: binance, gate, okx)"),
        (
            "[venues.binance]\nbook_dept = 10\n",
            "venues.binance.book_dept: unknown key 'book_dept' (did you mean 'book_depth'?)",
        ),
        (
            "[strategy]\nclass_ = 'a:B'\n",
            "strategy.class_: unknown key 'class_' (did you mean 'class'?)",
        ),
        ("system = 3\n", "system: must be a table ([system])"),
        ('[risk]\nmax_position = "-1"\n', "risk.max_position: -1 is out of range (allowed >= 0)"),
        ('[risk]\nmax_position = "abc"\n', "risk.max_position: 'abc' is not a decimal number"),
        (
            '[venues.gate]\nrest_url = "ftp://x"\n',
            "venues.gate.rest_url: 'ftp://x' must start with http:// or https://",
        ),
        (
            '[venues.okx]\nws_public_url = "https://x"\n',
            "venues.okx.ws_public_url: 'https://x' must start with ws:// or wss://",
        ),
        (
            '[database]\nurl = "mysql://h/db"\n',
            "database.url: 'mysql://h/db' must start with postgresql:// or postgres:// or \"\"",
        ),
        (
            '[cache]\nurl = "http://h"\n',
            "cache.url: 'http://h' must start with redis:// or rediss://",
        ),
        (
            '[strategy]\nclass = "not a path"\n',
            "strategy.class: 'not a path' is not a dotted class path",
        ),
        (
            '[strategy]\nvenue = "kraken"\n',
            "strategy.venue: 'kraken' is not one of: \"\", binance, okx",
        ),
        (
            "[strategy.parameters]\nwhen = 2024-01-01\n",
            "strategy.parameters: when: date values are not supported",
        ),
        (
            '[venues.binance]\napi_key_env = "MY KEY"\n',
            "venues.binance.api_key_env: 'MY KEY' is not an environment variable name",
        ),
    ],
)
def test_file_errors_name_file_key_and_allowed(tmp_path: Path, text: str, expected: str) -> None:
    message = error_of(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'engine.toml'}: {expected}"), message


def test_unknown_key_without_a_close_match_lists_the_known_keys(tmp_path: Path) -> None:
    message = error_of(tmp_path, "[cache]\nzzz = 1\n")
    assert message.endswith(
        "cache.zzz: unknown key 'zzz' "
        "(known: flush_interval_ms, key_prefix, status_channel, ttl_s, url)"
    )


def test_int_is_accepted_for_float(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[monitor]\nstale_feed_seconds = 5\n"), environ={})
    assert cfg.monitor.stale_feed_seconds == 5.0 and isinstance(
        cfg.monitor.stale_feed_seconds, float
    )


def test_bad_toml_syntax_names_file_and_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[system]\nlog_level = "info"\nworker_threads = \n')
    assert message.startswith(f"{tmp_path / 'engine.toml'}: invalid TOML: ")
    assert "line 3" in message


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found$"):
        load_config(missing, environ={})
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path, environ={})
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b'name = "\xff"\n')
    with pytest.raises(ConfigError, match=r"bin\.toml: not UTF-8"):
        load_config(binary, environ={})


def test_config_error_is_a_value_error_on_one_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[system]\nlog_level = "a\\nb"\n')
    assert "system.log_level" in message
    with pytest.raises(ValueError):
        load_config(write(tmp_path, "[system]\nworker_threads = 0\n"), environ={})


# -- money -----------------------------------------------------------------------------------


def test_decimal_from_toml_string_and_int_is_exact(tmp_path: Path) -> None:
    path = write(tmp_path, '[risk]\nmax_position = "0.1"\nmax_order_notional = 250\n')
    cfg = load_config(path, environ={})
    assert cfg.risk.max_position == Decimal("0.1") and str(cfg.risk.max_position) == "0.1"
    assert cfg.risk.max_order_notional == Decimal(250)
    assert isinstance(cfg.risk.max_order_notional, Decimal)


def test_toml_float_for_decimal_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, "[risk]\nmax_daily_loss = 0.1\n")
    assert message.startswith(
        f"{tmp_path / 'engine.toml'}: risk.max_daily_loss: 0.1 is a TOML float"
    )
    assert 'quote it ("0.1")' in message


# -- secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "where"),
    [
        (f'api_key = "{SECRET}"\n', "api_key", "environment variable"),
        (f'[system]\ntoken = "{SECRET}"\n', "system.token", "environment variable"),
        (
            f'[venues.binance]\napi_secret = "{SECRET}"\n',
            "venues.binance.api_secret",
            "HFT_BINANCE_API_SECRET (named by venues.binance.api_secret_env)",
        ),
        (
            f'[venues.okx]\nPassphrase = "{SECRET}"\n',
            "venues.okx.Passphrase",
            "HFT_OKX_PASSPHRASE",
        ),
        (
            f'[venues.gate]\napi_key_env = "MY_GATE_KEY"\nKEY = "{SECRET}"\n',
            "venues.gate.KEY",
            "MY_GATE_KEY",
        ),
        (
            f'[database]\npassword = "{SECRET}"\n',
            "database.password",
            "HFT__DATABASE__URL or PGPASSWORD",
        ),
        (
            f'[strategy.parameters]\nnested = {{ private_key = "{SECRET}" }}\n',
            "strategy.parameters.nested.private_key",
            "environment variable",
        ),
        (f'[[extra]]\nsecret_key = "{SECRET}"\n', "extra.secret_key", "environment variable"),
    ],
)
def test_secrets_in_toml_are_refused(tmp_path: Path, text: str, key: str, where: str) -> None:
    message = error_of(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'engine.toml'}: {key}: secrets are not allowed"), (
        message
    )
    assert where in message
    assert SECRET not in message
    assert "unknown key" not in message  # the secret check runs first


def test_env_name_and_keyfile_fields_are_not_secrets(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[venues.binance]\nkey_source = "keyfile"\nkeyfile = "/etc/hft/keys.enc"\n'
        'api_key_env = "K"\napi_secret_env = "S"\n[cache]\nkey_prefix = "x:"\n',
    )
    cfg = load_config(path, environ={})
    assert cfg.venues["binance"].keyfile == "/etc/hft/keys.enc"
    assert cfg.venues["binance"].api_secret_env == "S"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://hft:{SECRET}@127.0.0.1:5432/hft",
        f"postgres://hft:{SECRET}@db/hft?sslmode=require",
        f"postgresql://hft@db/hft?password={SECRET}",
    ],
)
def test_database_password_in_file_refused_from_env_accepted(tmp_path: Path, url: str) -> None:
    message = error_of(tmp_path, f'[database]\nurl = "{url}"\n')
    assert message == (
        f"{tmp_path / 'engine.toml'}: database.url: a password in the URL is not allowed in the "
        "config file; put it in the environment variable HFT__DATABASE__URL or PGPASSWORD"
    )
    assert load_config(None, environ={"HFT__DATABASE__URL": url}).database.url == url


def test_cache_password_in_file_refused_from_env_accepted(tmp_path: Path) -> None:
    url = f"redis://:{SECRET}@127.0.0.1:6379/0"
    message = error_of(tmp_path, f'[cache]\nurl = "{url}"\n')
    assert "HFT__CACHE__URL" in message and SECRET not in message
    assert load_config(None, environ={"HFT__CACHE__URL": url}).cache.url == url


def test_url_without_password_is_accepted_from_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "postgresql://hft@127.0.0.1:5432/hft"\n')
    assert load_config(path, environ={}).database.url == "postgresql://hft@127.0.0.1:5432/hft"


def test_bad_url_error_masks_the_password() -> None:
    message = env_error({"HFT__DATABASE__URL": f"mysql://u:{SECRET}@h/db"})
    assert "mysql://u:***@h/db" in message and SECRET not in message


# -- CPUs and cross-key rules ----------------------------------------------------------------


def test_cpu_not_available_is_refused_naming_the_available_ones(tmp_path: Path) -> None:
    available = sorted(os.sched_getaffinity(0))
    bad = available[-1] + 1
    message = error_of(tmp_path, f"[system]\ncpus = [{bad}]\n")
    assert message.startswith(
        f"{tmp_path / 'engine.toml'}: system.cpus: CPU {bad} is not available to this process"
    )
    assert f"available: {available[0]}" in message
    good = load_config(write(tmp_path, f"[system]\ncpus = [{available[0]}]\n"), environ={})
    assert good.system.cpus == [available[0]]


def test_cpu_listed_twice_is_refused(tmp_path: Path) -> None:
    cpu = min(os.sched_getaffinity(0))
    assert "listed twice" in error_of(tmp_path, f"[system]\ncpus = [{cpu}, {cpu}]\n")


def test_strategy_needs_an_enabled_venue_and_blames_the_last_source(tmp_path: Path) -> None:
    path = write(tmp_path, '[strategy]\nvenue = "okx"\n[venues.okx]\nenabled = true\n')
    assert load_config(path, environ={"HFT__STRATEGY__ENABLED": "true"}).strategy.enabled
    message = error_of(
        tmp_path,
        '[strategy]\nvenue = "okx"\n[venues.okx]\nenabled = true\n',
        {"HFT__STRATEGY__ENABLED": "true", "HFT__VENUES__OKX__ENABLED": "false"},
    )
    assert message == (
        "environment HFT__VENUES__OKX__ENABLED: strategy.venue: must name an enabled venue "
        "when strategy.enabled = true (enabled: none)"
    )


def test_key_source_needs_its_settings(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[venues.gate]\nkey_source = "keyfile"\n')
    assert message == (
        f'{tmp_path / "engine.toml"}: venues.gate.keyfile: is required when key_source = "keyfile"'
    )
    message = error_of(tmp_path, '[venues.okx]\nkey_source = "env"\npassphrase_env = ""\n')
    assert message.endswith('venues.okx.passphrase_env: is required when key_source = "env"')


def test_enabled_venue_without_keys_is_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, '[venues.gate]\nenabled = true\nkey_source = "none"\n')
    assert load_config(path, environ={}).venues["gate"].enabled
