"""masked_dict and render_toml: secrets never shown, and the TOML reads back."""

from __future__ import annotations

import json
import tomllib
from decimal import Decimal
from pathlib import Path

from engine.config import EngineConfig, load_config, masked_dict, render_toml

SECRET = "Zq8sECRETvalueTHATmustNEVERleak"

ENV_WITH_SECRETS = {
    "HFT__DATABASE__URL": f"postgresql://hft:{SECRET}@127.0.0.1:5432/hft",
    "HFT__CACHE__URL": f"rediss://default:{SECRET}@cache:6380/0",
    "HFT__STRATEGY__PARAMETERS": json.dumps(
        {"spread_bps": 4, "api_token": SECRET, "nested": {"password": SECRET, "ok": 1}}
    ),
}


def test_masked_dict_is_plain_json_with_secrets_masked() -> None:
    cfg = load_config(None, environ=ENV_WITH_SECRETS)
    data = masked_dict(cfg)
    text = json.dumps(data)  # JSON-able as is
    assert SECRET not in text
    assert data["database"]["url"] == "postgresql://hft:***@127.0.0.1:5432/hft"
    assert data["cache"]["url"] == "rediss://default:***@cache:6380/0"
    assert data["strategy"]["parameters"] == {
        "spread_bps": 4,
        "api_token": "***",
        "nested": {"password": "***", "ok": 1},
    }
    assert data["risk"]["max_daily_loss"] == "100"  # Decimal as str
    assert data["strategy"]["class"] == cfg.strategy.class_  # TOML names
    assert data["venues"]["binance"]["api_key_env"] == "HFT_BINANCE_API_KEY"  # names stay
    assert cfg.database.url.endswith(f"{SECRET}@127.0.0.1:5432/hft")  # the config keeps it


def test_render_toml_never_contains_a_secret_and_reads_back(tmp_path: Path) -> None:
    cfg = load_config(None, environ=ENV_WITH_SECRETS)
    text = render_toml(cfg)
    assert SECRET not in text
    assert "postgresql://hft:***@127.0.0.1:5432/hft" in text  # shown masked, in a comment
    path = tmp_path / "effective.toml"
    path.write_text(text)
    back = load_config(path, environ={})
    assert back.database.url == "postgresql://hft@127.0.0.1:5432/hft"
    assert back.cache.url == "rediss://default@cache:6380/0"
    assert back.strategy.parameters == {"spread_bps": 4, "nested": {"ok": 1}}


def test_render_toml_round_trips_to_an_equal_config(tmp_path: Path) -> None:
    source = tmp_path / "source.toml"
    source.write_text(
        """
[system]
name = "odd \\"name\\" \\\\ é"
log_level = "warning"
worker_threads = 3
[database]
url = "postgres://u@db:5432/x"
[strategy]
enabled = true
venue = "okx"
symbols = ["BTC-USDT"]
[strategy.parameters]
spread_bps = 2.5
layers = [1, 2, 3]
label = "line1\\nline2\\ttab"
empty = {}
deep = { a = { b = [true, false] } }
"odd key" = 1
[risk]
max_position = "0.00000001"
max_daily_loss = "1E+3"
[venues.okx]
enabled = true
symbols = ["BTC-USDT", "ETH-USDT"]
key_source = "env"
[monitor]
stale_feed_seconds = 0.25
"""
    )
    cfg = load_config(source, environ={"HFT__SYSTEM__LOG_BACKUPS": "7"})
    rendered = tmp_path / "rendered.toml"
    rendered.write_text(render_toml(cfg))
    back = load_config(rendered, environ={})
    assert back == cfg
    assert back.risk.max_position == Decimal("0.00000001")
    assert back.strategy.parameters["empty"] == {}
    assert back.system.log_backups == 7


def test_render_toml_of_defaults_is_valid_toml_and_reads_back(tmp_path: Path) -> None:
    text = render_toml(EngineConfig())
    data = tomllib.loads(text)
    assert set(data["venues"]) == {"binance", "okx", "gate"}
    path = tmp_path / "d.toml"
    path.write_text(text)
    assert load_config(path, environ={}) == EngineConfig()
