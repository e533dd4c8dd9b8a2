"""The Grafana dashboard (`DASHBOARD`) against a real scrape.

Every metric a panel queries must be a sample name of a real /metrics scrape of
EngineMetrics fed with data (a StageRecorder with recorded passes, the loop-lag probe run,
every source filled), and every label a selector or a `by (...)` names must be a label of
that metric: the dashboard can never show an empty panel for a metric that does not exist.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine._core.latency import Histogram, StageRecorder
from engine.monitor import EngineMetrics, InstrumentMetrics, Sources
from engine.monitor.metrics import (
    AlertMetrics,
    BookMetrics,
    ConnectionMetrics,
    InventoryMetrics,
    LimitUsage,
    OrderMetrics,
    RateLimitMetrics,
)

DASHBOARD = Path(__file__).resolve().parents[1] / "tools" / "grafana" / "engine-dashboard.json"
PROMETHEUS_YML = DASHBOARD.parent / "prometheus.yml"

# a metric name, then an optional label selector
_SELECTOR = re.compile(r"\b(hft_[a-zA-Z0-9_]+)\s*(\{[^}]*\})?")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
# sum by (a, b) (...hft_x...): the labels grouped on
_BY = re.compile(r"\bby\s*\(([^)]*)\)")


def _recorder() -> StageRecorder:
    rec = StageRecorder(["frame_received", "dispatched", "strategy_done", "risk_done"])
    t = 1_000_000
    for step in (2_000, 5_000, 30_000):
        for stage in range(4):
            rec.stamp(stage, t + stage * step)
        rec.finish()
        t += 10_000_000
    return rec


def _round_trip() -> Histogram:
    hist = Histogram()
    for ns in (180_000, 250_000, 2_000_000):
        hist.record(ns)
    return hist


def _full_sources() -> Sources:
    """Every source filled, with the label values the engine gives them."""
    rec = _recorder()
    round_trip = _round_trip()
    btc = ("binance", "BTCUSDT")
    return Sources(
        instruments=lambda: [InstrumentMetrics(*btc, Decimal("0.01"), 1, 2, 0.1, 2, 5)],
        oms_counters=lambda: {"requests": 10, "rejected": 1},
        risk_state=lambda: "ACTIVE",
        refusals=lambda: {"price outside the band": 2},
        feeds=lambda: {"binance:BTCUSDT": True},
        latency=lambda: rec,
        connections=lambda: [ConnectionMetrics("binance", "binance:0", True, 10, 900, 1)],
        books=lambda: [
            BookMetrics(
                *btc,
                {"resyncs": 1, "checksum_failures": 0, "decode_errors": 0, "gaps": 0},
                0.002,
            )
        ],
        orders=lambda: [
            OrderMetrics(*btc, {"new": 9, "rejected": 1, "filled": 2}, 99, 101, Decimal(100))
        ],
        rejects=lambda: {("binance", "post_only_would_cross"): 1},
        rate_limits=lambda: [RateLimitMetrics("binance", {"weight": (10, 4800)}, {"refused": 0})],
        limits=lambda: [LimitUsage("position", 1, 2, *btc), LimitUsage("daily_loss", 0, 100)],
        inventory=lambda: [InventoryMetrics(*btc, 1000, 0.5, 0.01)],
        round_trips=lambda: {"binance": round_trip},
        alerts=lambda: AlertMetrics(
            firing=[("feed_stale", "binance:BTCUSDT")],
            events={"fired": 1, "resolved": 0, "escalated": 0},
            evaluations=10,
            notifications={"queued": 1},
            deliveries={("log", "sent"): 1},
        ),
    )


@pytest.fixture
async def scrape() -> dict[str, set[str]]:
    """{sample name: its label names} of one scrape after the loop-lag probe ran."""
    metrics = EngineMetrics(_full_sources(), probe_interval=0.005)
    metrics.start_loop_probe()
    try:
        while metrics.loop_lag_samples < 2:
            await asyncio.sleep(0.005)
    finally:
        await metrics.stop_loop_probe()
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(sample.labels)
    return out


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels inside


def _expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expression) of every query, the template variables' included."""
    out = [(p["title"], t["expr"]) for p in _panels(dashboard) for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            out.append((f"variable {var['name']}", var["query"]["query"]))
    return out


def test_the_dashboard_is_grafana_json_with_a_prometheus_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [p["id"] for p in _panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in _panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
    titles = " ".join(p["title"].lower() for p in _panels(dashboard))
    for wanted in ("pnl", "position", "quotes vs mid", "fills", "reject reasons",
                   "tick-to-trade percentiles", "feed lag", "reconnects",
                   "alerts firing"):  # fmt: skip
        assert wanted in titles, wanted


def _problems(expressions: list[tuple[str, str]], scrape: dict[str, set[str]]) -> list[str]:
    """What in `expressions` the scrape does not have: metrics, matched or grouped labels."""
    out = []
    for title, expr in expressions:
        found = _SELECTOR.findall(expr)
        if not found:
            out.append(f"{title}: no hft_ metric in {expr!r}")
        for name, selector in found:
            if name not in scrape:
                out.append(f"{title}: {name} is not in /metrics")
                continue
            out += [
                f"{title}: {name} has no label {label!r}"
                for label in _MATCHER.findall(selector)
                if label not in scrape[name]
            ]
        names = [name for name, _ in found if name in scrape]
        for group in _BY.findall(expr):
            for label in filter(None, (g.strip() for g in group.split(","))):
                if label == "le":
                    ok = bool(names) and all(n.endswith("_bucket") for n in names)
                else:
                    ok = any(label in scrape[n] for n in names)
                if not ok:
                    out.append(f"{title}: by {label!r} is no label of {names}")
    return out


def test_every_queried_metric_and_label_exists_in_a_real_scrape(
    scrape: dict[str, set[str]],
) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = _expressions(dashboard)
    assert _problems(expressions, scrape) == []
    used = {name for _, e in expressions for name, _ in _SELECTOR.findall(e)}
    assert "hft_tick_to_trade_seconds_bucket" in used
    assert any("histogram_quantile" in e and "hft_tick_to_trade" in e for _, e in expressions)
    assert "hft_venue_round_trip_seconds_bucket" in used
    assert len(used) >= 25  # most of what /metrics has is on a panel


def test_the_checker_finds_a_misspelt_metric_or_label(scrape: dict[str, set[str]]) -> None:
    bad = [
        ("a", "rate(hft_fill_total[5m])"),
        ("b", 'hft_position_base{stage="total"}'),
        ("c", "sum by (reason) (hft_position_base)"),
        ("d", "histogram_quantile(0.5, sum by (le) (rate(hft_position_base[1m])))"),
        ("e", "vector(1)"),
    ]
    problems = _problems(bad, scrape)
    assert [p.split(":")[0] for p in problems] == ["a", "b", "c", "d", "e"], problems


def test_prometheus_config_scrapes_the_engine_port() -> None:
    text = PROMETHEUS_YML.read_text()
    assert "127.0.0.1:9464" in text
    assert re.search(r"metrics_path:\s*/metrics", text)
