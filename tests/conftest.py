"""Shared fixtures. Services (PostgreSQL, Redis) are real; without them a test skips with a
clear message, unless HFT_REQUIRE_SERVICES=1 (set by .ci/run), where it fails instead."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

PG_DSN = os.environ.get("HFT_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HFT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def _require(service: str, url: str, default_port: int) -> str:
    if _reachable(url, default_port):
        return url
    message = f"{service} not reachable at {url}; start it or set the test URL variable"
    if os.environ.get("HFT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} (HFT_REQUIRE_SERVICES=1 turns this into a failure)")
    pytest.skip(message)


@pytest.fixture
def pg_dsn() -> str:
    return _require("PostgreSQL", PG_DSN, 5432)


@pytest.fixture
def redis_url() -> str:
    return _require("Redis", REDIS_URL, 6379)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HFT__ overrides leak in from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("HFT__"):
            monkeypatch.delenv(name)
