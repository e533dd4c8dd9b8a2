"""The shipped config files validate, with a clean environment, and say what they promise."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import load_config, render_toml

CONFIG = Path(__file__).resolve().parents[1] / "config"


@pytest.mark.parametrize("name", ["paper.toml", "prod.toml", "dev.toml"])
def test_shipped_file_validates_and_renders(name: str, tmp_path: Path) -> None:
    cfg = load_config(CONFIG / name, environ={})
    copy = tmp_path / name
    copy.write_text(render_toml(cfg))
    assert load_config(copy, environ={}) == cfg


def test_paper_is_the_embedded_default() -> None:
    cfg = load_config(CONFIG / "paper.toml", environ={})
    assert cfg.database.url == "" and cfg.cache.url == ""
    assert cfg.system.cpus == [] and cfg.strategy.enabled  # paper quotes out of the box
    assert [n for n, v in cfg.venues.items() if v.enabled] == ["binance"]
    binance = cfg.venues["binance"]
    assert binance.simulated and binance.symbols == ["BTCUSDT"] and binance.key_source == "none"


def test_prod_runs_live_venues_with_keys_from_the_environment() -> None:
    cfg = load_config(CONFIG / "prod.toml", environ={})
    assert cfg.database.url == "postgresql://hft@127.0.0.1:5432/hft"
    assert cfg.cache.url == "redis://127.0.0.1:6379/0"
    assert cfg.system.cpus == [] and cfg.system.worker_threads == 2
    expected = {
        "binance": ["BTCUSDT", "ETHUSDT"],
        "okx": ["BTC-USDT", "ETH-USDT"],
        "gate": ["BTC_USDT", "ETH_USDT"],
    }
    for name, symbols in expected.items():
        venue = cfg.venues[name]
        assert venue.enabled and not venue.simulated and venue.key_source == "env"
        assert venue.symbols == symbols
        assert venue.rest_url.startswith("https://") and venue.ws_public_url.startswith("wss://")
    assert cfg.venues["okx"].passphrase_env == "HFT_OKX_PASSPHRASE"


def test_dev_uses_local_services_and_debug_logs() -> None:
    cfg = load_config(CONFIG / "dev.toml", environ={})
    assert cfg.system.log_level == "debug"
    assert cfg.database.url == "postgresql://127.0.0.1:5432/test"
    assert cfg.cache.url == "redis://127.0.0.1:6379/15"
    assert cfg.venues["binance"].simulated
