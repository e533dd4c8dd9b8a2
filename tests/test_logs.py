"""Logging: JSON lines on disk, console for people, and no credential ever written."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest

from engine.logs import REDACTED, is_secret_name, redact, redact_text, setup_logging

SECRET = "s3cr3tVALUEthatMUSTnotLEAK"


@pytest.fixture
def logged(tmp_path: Path):  # type: ignore[no-untyped-def]
    handle = setup_logging("debug", tmp_path, console=True)
    yield handle
    handle.stop()


def _lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_text().splitlines()]


def test_json_lines_with_structured_fields(logged, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    logging.getLogger("engine.test").info(
        "order sent %s", "c1", extra={"venue": "binance", "qty": 3}
    )
    logged.stop()
    (line,) = _lines(tmp_path / "engine.jsonl")
    assert line["msg"] == "order sent c1"
    assert line["level"] == "info"
    assert line["logger"] == "engine.test"
    assert line["venue"] == "binance" and line["qty"] == 3
    assert isinstance(line["ts"], int) and line["ts"] > 1_600_000_000 * 10**9


def test_secrets_are_redacted_everywhere(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    logged = setup_logging("debug", tmp_path, console=True)
    log = logging.getLogger("engine.test")
    log.info("signed query symbol=BTCUSDT&timestamp=1&signature=%s", SECRET)
    log.info("headers", extra={"api_key": SECRET, "request": {"passphrase": SECRET, "side": "BUY"}})
    log.warning('body {"secret": "%s", "sign": "%s"}', SECRET, SECRET)
    log.info("env names stay", extra={"api_secret_env": "HFT_BINANCE_API_SECRET"})
    try:
        raise ValueError(f"bad key secret={SECRET}")
    except ValueError:
        log.exception("failed")
    logged.stop()
    text = (tmp_path / "engine.jsonl").read_text()
    console = capsys.readouterr().err
    assert SECRET not in text
    assert SECRET not in console
    lines = _lines(tmp_path / "engine.jsonl")
    assert lines[0]["msg"].endswith(f"signature={REDACTED}")
    assert lines[1]["api_key"] == REDACTED
    assert lines[1]["request"] == {"passphrase": REDACTED, "side": "BUY"}
    assert lines[3]["api_secret_env"] == "HFT_BINANCE_API_SECRET"
    assert "Traceback" in lines[4]["msg"] and "ValueError" in lines[4]["msg"]
    assert "symbol=BTCUSDT" in console


def test_secret_name_rules() -> None:
    for name in (
        "api_key",
        "apiKey",
        "secret",
        "API_SECRET",
        "passphrase",
        "signature",
        "password",
        "sign",
    ):
        assert is_secret_name(name), name
    for name in ("api_key_env", "symbol", "side", "keyfile", "key_source", "design"):
        assert not is_secret_name(name), name
    assert redact({"a": [{"token": "x"}], "b": "OK-ACCESS-KEY: abc"}) == {
        "a": [{"token": REDACTED}],
        "b": f"OK-ACCESS-KEY: {REDACTED}",
    }
    assert redact_text("X-MBX-APIKEY=abc&x=1") == f"X-MBX-APIKEY={REDACTED}&x=1"


def test_level_change_at_run_time(logged, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = logging.getLogger("engine.test")
    logged.set_level("warning")
    log.info("hidden")
    log.warning("shown")
    logged.stop()
    assert [line["msg"] for line in _lines(tmp_path / "engine.jsonl")] == ["shown"]


def test_rotation_keeps_backups(tmp_path: Path) -> None:
    handle = setup_logging("info", tmp_path, max_bytes=2_000, backups=2, console=False)
    log = logging.getLogger("engine.rotate")
    for i in range(200):
        log.info("line %d %s", i, "x" * 50)
    handle.stop()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["engine.jsonl", "engine.jsonl.1", "engine.jsonl.2"]
