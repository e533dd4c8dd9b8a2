"""The status page at `/`: rendered HTML (escaping, the refresh, a failing source) and, in a
headless Chromium driven by Playwright, a paper engine's page agreeing with its /status.

The browser is the system's Chromium (`/usr/bin/chromium`, or HFT_CHROMIUM): Playwright's
own browser download is not used. Without Chromium or Playwright the browser test skips
saying how to install them, unless HFT_REQUIRE_SERVICES=1 (CI), where it fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from drills import start_engine, stop_process

from engine.monitor.page import make_page_handler, render_page

CHROMIUM = os.environ.get("HFT_CHROMIUM", "/usr/bin/chromium")
INSTALL = "apt-get install chromium && pip install playwright (the `test` extra)"

STATUS: dict[str, Any] = {
    "engine": {
        "risk_state": "REDUCING",
        "book_updates_per_s": 12.5,
        "refused": {"price band": 2, "rate": 1},
        "orders_sent": 40,
        "rejected": 1,
        "tick_to_trade_us": {"p50": 21.5, "p99": 80.25},
    },
    "symbols": [
        {
            "instrument": "binance:BTCUSDT",
            "position": "0.003",
            "realized": "1.25",
            "unrealized": "-0.5",
            "fees": "0.01",
            "open_orders": 2,
            "fills": 7,
            "mid": "100000.5",
            "bid": "99990",
            "ask": "100010",
            "feed": "ready",
        },
        {"instrument": "gate:<b>EVIL</b>_USDT", "position": Decimal("-1"), "fills": 0},
    ],
}
ALERTS: list[dict[str, Any]] = [
    {"rule": "stale_feed", "subject": "binance:BTCUSDT", "state": "fired", "severity": "warning",
     "message": "silent 6 s", "ts_ns": 1_700_000_000_000_000_000},
    {"name": "<script>alert(1)</script>", "severity": "critical", "symbol": "<b>EVIL</b>_USDT"},
]  # fmt: skip


def test_render_escapes_every_value_and_refreshes() -> None:
    text = render_page(STATUS, ALERTS, refresh_s=7)
    assert '<meta http-equiv="refresh" content="7">' in text
    assert "<script>" not in text and "<b>EVIL" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert 'data-instrument="gate:&lt;b&gt;EVIL&lt;/b&gt;_USDT"' in text
    assert '<td data-field="position">0.003</td>' in text
    assert '<td data-field="refused">3</td>' in text  # refusals summed over reasons
    assert "2023-11-14 22:13:20 UTC" in text  # ts_ns as UTC
    # each symbol row shows the alerts about it, and only those
    btc, evil = (row.split("</tr>")[0] for row in text.split('data-instrument="')[1:3])
    assert "stale_feed binance:BTCUSDT fired: silent 6 s" in btc and "alert(1)" not in btc
    assert "alert(1)" in evil and "stale_feed" not in evil


async def _serve(status: Callable[[], Any], alerts: Callable[[], Any]) -> web.AppRunner:
    app = web.Application()
    app.router.add_get("/", make_page_handler(status, alerts))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


async def test_handler_serves_html_and_survives_failing_sources() -> None:
    def broken() -> Any:
        raise RuntimeError("boom")

    for status, alerts, code, wanted in (
        (lambda: STATUS, lambda: ALERTS, 200, "REDUCING"),
        (broken, lambda: [], 500, "status unavailable: RuntimeError"),
        (lambda: STATUS, broken, 200, "alerts unavailable"),
    ):
        runner = await _serve(status, alerts)
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/") as r:
                assert r.status == code
                assert r.headers["Content-Type"] == "text/html; charset=utf-8"
                assert wanted in await r.text()
        finally:
            await runner.cleanup()


# -- in a browser, against a paper engine ---------------------------------------------------


def _playwright_or_skip() -> Any:
    missing = []
    async_api: Any = None
    try:  # optional: without it the test says how to get it
        from playwright import async_api
    except ImportError:
        missing.append("the playwright package")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        missing.append(f"Chromium at {CHROMIUM}")
    if missing:
        message = f"status page browser test needs {' and '.join(missing)}: {INSTALL}"
        if os.environ.get("HFT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message} (HFT_REQUIRE_SERVICES=1 turns this into a failure)")
        pytest.skip(message)
    return async_api


PAPER = """
[system]
name = "status-page"
log_level = "info"
log_dir = "log"
state_dir = "state"
worker_threads = 1

[database]
url = ""
sqlite_path = "var/engine.sqlite3"

[monitor]
enabled = true
host = "127.0.0.1"
port = 0

[strategy]
enabled = true
status_interval_s = 0

[strategy.parameters]
order_size = "0.001"
max_position = "0.01"
levels = 1
min_half_spread_ticks = 1.0
base_half_spread_ticks = 1.0
refresh_ticks = 2
requote_interval_s = 0.25
fill_cooldown_s = 0.0

[risk]
max_position = "0.02"
max_order_notional = "5000"
max_open_orders = 10
max_daily_loss = "500"

[venues.binance]
enabled = true
simulated = true
symbols = ["BTCUSDT"]
key_source = "none"
"""


FIELDS = ("instrument", "position", "fills", "risk_state", "feed", "bid", "ask")


def _figures(doc: dict[str, Any]) -> dict[str, str]:
    """What the page must show for BTCUSDT, as /status says it (text, as the page shows it)."""
    (symbol,) = [s for s in doc["symbols"] if s["instrument"] == "binance:BTCUSDT"]
    return {
        f: str(doc["engine"]["risk_state"] if f == "risk_state" else symbol.get(f, ""))
        for f in FIELDS
    }


@pytest.mark.slow
async def test_a_paper_engine_page_agrees_with_its_status(tmp_path: Path) -> None:
    async_api = _playwright_or_skip()
    engine = await start_engine(tmp_path / "engine", PAPER)
    try:
        url = (await engine.wait_log("monitor listening"))["url"]
        async with aiohttp.ClientSession() as http:

            async def status() -> dict[str, Any]:
                async with http.get(f"{url}/status") as resp:
                    assert resp.status == 200
                    return dict(orjson.loads(await resp.read()))

            async with http.get(f"{url}/") as resp:
                assert resp.status == 200, "the monitor serves no page at / (server.py route)"
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while not any(s.get("open_orders") for s in (await status()).get("symbols", [])):
                assert loop.time() < deadline, "the engine never quoted"
                await asyncio.sleep(0.2)
            async with async_api.async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True)
                try:
                    shown, expected = await _agreeing_view(await browser.new_page(), url, status)
                finally:
                    await browser.close()
        assert shown == expected
        assert shown["risk_state"] == "ACTIVE"
        assert shown["feed"] == "ready"
        assert shown["bid"] or shown["ask"]  # the engine quotes: at least one side rests
        Decimal(shown["position"])  # a number, as the engine keeps it
    finally:
        await stop_process(engine.proc)


async def _agreeing_view(
    page: Any, url: str, status: Callable[[], Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """The page's BTCUSDT row and /status's figures, once /status showed a quote and said
    the same before and after the page loaded (the engine trades meanwhile: a change in
    between is tried again)."""
    for _ in range(100):
        before = _figures(await status())
        if not (before["bid"] or before["ask"]):  # between two quotes: wait for the next
            await asyncio.sleep(0.05)
            continue
        await page.goto(f"{url}/")
        refresh = await page.get_attribute('meta[http-equiv="refresh"]', "content")
        assert refresh and int(refresh) > 0
        row = page.locator('tr[data-instrument="binance:BTCUSDT"]')
        shown = {f: await row.locator(f'td[data-field="{f}"]').inner_text() for f in FIELDS}
        if before == _figures(await status()):
            return shown, before
        await asyncio.sleep(0.1)
    raise AssertionError("the engine's /status never held still across a page load")
