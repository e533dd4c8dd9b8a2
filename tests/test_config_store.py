"""ConfigStore: runtime updates of hot keys, reload from file, change notification."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine.config import ConfigError, ConfigStore, EngineConfig, load_config

BASE = """
[system]
log_level = "info"
worker_threads = 2

[risk]
max_position = "1"
kill_switch = false

[venues.binance]
enabled = true
simulated = true
"""


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[EngineConfig, EngineConfig]] = []

    def __call__(self, old: EngineConfig, new: EngineConfig) -> None:
        self.calls.append((old, new))


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "engine.toml"
    path.write_text(BASE)
    return path


@pytest.fixture
def store(config_file: Path) -> ConfigStore:
    return ConfigStore(load_config(config_file, environ={}), environ={})


def test_update_of_a_hot_key_notifies_subscribers(store: ConfigStore) -> None:
    seen = Recorder()
    store.subscribe(seen)
    before = store.current
    new = store.update("risk.max_position", "2")
    assert new is store.current and new.risk.max_position == Decimal("2")
    assert seen.calls == [(before, new)]
    assert before.risk.max_position == Decimal("1")  # the old config is untouched
    assert store.overrides == {"risk.max_position": Decimal("2")}


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("risk.kill_switch", "true", True),
        ("risk.kill_switch", True, True),
        ("risk.max_open_orders", 5, 5),
        ("risk.max_open_orders", "5", 5),
        ("risk.max_daily_loss", Decimal("50.5"), Decimal("50.5")),
        ("risk.max_daily_loss", 50, Decimal(50)),
        ("monitor.stale_feed_seconds", 2, 2.0),
        ("system.log_level", "debug", "debug"),
        ("database.flush_interval_ms", "50", 50),
        ("strategy.parameters", {"spread_bps": 3}, {"spread_bps": 3}),
        ("strategy.parameters", '{"spread_bps": 3}', {"spread_bps": 3}),
        ("RISK.Max_Open_Orders", 7, 7),
    ],
)
def test_update_parses_strings_and_accepts_typed_values(
    store: ConfigStore, key: str, value: object, expected: object
) -> None:
    section, name = key.lower().split(".")
    got = getattr(getattr(store.update(key, value), section), name)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "system.worker_threads",
            3,
            "runtime update: system.worker_threads: is not hot-reloadable; restart to change it",
        ),
        (
            "venues.binance.enabled",
            False,
            "runtime update: venues.binance.enabled: is not hot-reloadable; restart to change it",
        ),
        (
            "risk.max_open_orders",
            0,
            "runtime update: risk.max_open_orders: 0 is out of range (allowed 1..10000)",
        ),
        (
            "risk.max_open_orders",
            True,
            "runtime update: risk.max_open_orders: true is not an int (allowed 1..10000)",
        ),
        (
            "risk.max_position",
            0.1,
            'runtime update: risk.max_position: 0.1 is a float; quote it ("0.1") so the amount '
            "stays exact (allowed >= 0)",
        ),
        (
            "risk.max_positon",
            "1",
            "runtime update: risk.max_positon: unknown key 'max_positon' "
            "(did you mean 'max_position'?)",
        ),
        (
            "strategy.enabled",
            True,
            "runtime update: strategy.enabled: needs a venue to quote on: an enabled venue "
            "with symbols",
        ),
    ],
)
def test_failed_update_changes_nothing(
    store: ConfigStore, key: str, value: object, message: str
) -> None:
    seen = Recorder()
    store.subscribe(seen)
    before = store.current
    with pytest.raises(ConfigError) as caught:
        store.update(key, value)
    assert str(caught.value) == message
    assert store.current is before and seen.calls == [] and store.overrides == {}


def test_unsubscribe_stops_notifications(store: ConfigStore) -> None:
    seen = Recorder()
    unsubscribe = store.subscribe(seen)
    store.update("risk.max_open_orders", 3)
    unsubscribe()
    unsubscribe()  # idempotent
    store.update("risk.max_open_orders", 4)
    assert len(seen.calls) == 1


def test_a_failing_subscriber_does_not_stop_the_others(
    store: ConfigStore, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(old: EngineConfig, new: EngineConfig) -> None:
        raise RuntimeError("boom")

    seen = Recorder()
    store.subscribe(broken)
    store.subscribe(seen)
    new = store.update("risk.kill_switch", True)
    assert store.current is new and len(seen.calls) == 1
    assert "config subscriber" in caplog.text and "boom" in caplog.text


def test_update_to_the_same_value_does_not_notify(store: ConfigStore) -> None:
    seen = Recorder()
    store.subscribe(seen)
    store.update("risk.max_position", "1")
    assert seen.calls == []


def test_reload_applies_hot_changes(store: ConfigStore, config_file: Path) -> None:
    seen = Recorder()
    store.subscribe(seen)
    config_file.write_text(
        BASE.replace('log_level = "info"', 'log_level = "debug"').replace(
            'max_position = "1"', 'max_position = "3"'
        )
    )
    new = store.reload(config_file)
    assert new.system.log_level == "debug" and new.risk.max_position == Decimal("3")
    assert store.current is new and len(seen.calls) == 1


def test_reload_refuses_cold_changes_and_changes_nothing(
    store: ConfigStore, config_file: Path
) -> None:
    seen = Recorder()
    store.subscribe(seen)
    before = store.current
    config_file.write_text(
        BASE.replace("worker_threads = 2", "worker_threads = 3")
        .replace("simulated = true", "simulated = false")
        .replace('log_level = "info"', 'log_level = "debug"')
    )
    with pytest.raises(ConfigError) as caught:
        store.reload(config_file)
    message = str(caught.value)
    assert message.startswith(f"{config_file}: not reloaded: ")
    assert "system.worker_threads" in message and "venues.binance.simulated" in message
    assert "system.log_level" not in message  # hot: not among the refused keys
    assert "restart" in message
    assert store.current is before and seen.calls == []


def test_reload_of_an_invalid_file_changes_nothing(store: ConfigStore, config_file: Path) -> None:
    before = store.current
    config_file.write_text(BASE + "\n[risk]\n")  # duplicate table: bad TOML
    with pytest.raises(ConfigError, match="invalid TOML"):
        store.reload(config_file)
    assert store.current is before


def test_reload_reads_the_environment_too(store: ConfigStore, config_file: Path) -> None:
    new = store.reload(config_file, environ={"HFT__RISK__MAX_OPEN_ORDERS": "9"})
    assert new.risk.max_open_orders == 9
    with pytest.raises(ConfigError, match=r"system\.worker_threads"):
        store.reload(config_file, environ={"HFT__SYSTEM__WORKER_THREADS": "5"})


def test_runtime_updates_win_over_file_and_survive_reload(
    store: ConfigStore, config_file: Path
) -> None:
    store.update("risk.kill_switch", True)
    config_file.write_text(BASE.replace('max_position = "1"', 'max_position = "4"'))
    new = store.reload(config_file)
    assert new.risk.kill_switch is True  # an operator's kill switch is not undone by SIGHUP
    assert new.risk.max_position == Decimal("4")


def test_reload_without_changes_does_not_notify(store: ConfigStore, config_file: Path) -> None:
    seen = Recorder()
    store.subscribe(seen)
    before = store.current
    assert store.reload(config_file) is before and seen.calls == []


def test_layer_order_default_file_env_runtime(config_file: Path) -> None:
    assert EngineConfig().risk.max_open_orders == 20  # default
    config_file.write_text(
        BASE.replace("kill_switch = false", "kill_switch = false\nmax_open_orders = 30")
    )
    assert load_config(config_file, environ={}).risk.max_open_orders == 30  # file
    env = {"HFT__RISK__MAX_OPEN_ORDERS": "40"}
    store = ConfigStore(load_config(config_file, environ=env), environ=env)
    assert store.current.risk.max_open_orders == 40  # env
    store.update("risk.max_open_orders", 50)
    assert store.current.risk.max_open_orders == 50  # runtime
    assert store.reload(config_file).risk.max_open_orders == 50
