"""The monitor's endpoints on a real aiohttp server (loopback, port 0) with a real HTTP client.

Sources are built from real objects: a Cython StageRecorder with recorded values and plain
dicts, so what /metrics shows is compared with what was put in.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from engine._core.latency import StageRecorder
from engine.component import ComponentState
from engine.config import MonitorConfig
from engine.monitor import EngineMetrics, InstrumentMetrics, MonitorServer, Sources
from engine.monitor.metrics import (
    LATENCY_BUCKETS,
    AlertMetrics,
    BookMetrics,
    ConnectionMetrics,
    InventoryMetrics,
    LimitUsage,
    OrderMetrics,
    RateLimitMetrics,
    latency_buckets,
)

# (decode, send) deltas in ns per tick: chosen away from bucket bounds (HDR edges are ~1 % wide)
TICKS = [(3_000, 40_000), (7_000, 120_000), (20_000, 600_000), (4_000, 3_000_000)]


def _recorder() -> StageRecorder:
    rec = StageRecorder(["rx", "decode", "send"])
    t = 1_000_000
    for decode, send in TICKS:
        assert rec.stamp(0, t) == 0
        assert rec.stamp(1, t + decode) == 0
        assert rec.stamp(2, t + decode + send) == 0
        assert rec.finish() == 3  # stages stamped
        t += 10_000_000
    return rec


def _sources(**overrides: Any) -> Sources:
    rec = _recorder()
    fields: dict[str, Any] = {
        "instruments": lambda: [
            InstrumentMetrics(
                "binance",
                "BTCUSDT",
                position=Decimal("0.125"),
                realized_pnl=Decimal("12.5"),
                unrealized_pnl=Decimal("-3.25"),
                fees=Decimal("0.75"),
                open_orders=2,
                fills=17,
            ),
            {"venue": "okx", "symbol": "ETH-USDT", "position": Decimal("-1.5"), "fills": 3},
        ],
        "oms_counters": lambda: {"orders_sent": 40, "orders_rejected": 2},
        "risk_state": lambda: "REDUCING",
        "refusals": lambda: {"notional": 5, "rate": 1},
        "feeds": lambda: {"binance:BTCUSDT": True, "okx:ETH-USDT": False},
        "latency": lambda: rec,
        "connections": lambda: [
            ConnectionMetrics("binance", "binance:0", True, 120, 45_000, 2, 1, 3, 1, 0)
        ],
        "books": lambda: [
            BookMetrics("binance", "BTCUSDT", {"resyncs": 4, "checksum_failures": 1}, 0.0125),
            BookMetrics("okx", "ETH-USDT", {"resyncs": 0}, None),
        ],
        "orders": lambda: [
            OrderMetrics(
                "binance",
                "BTCUSDT",
                {"new": 30, "rejected": 10, "filled": 6, "canceled": 12, "expired": 2},
                Decimal("99.5"),
                Decimal("100.5"),
                Decimal("100.25"),
            ),
            OrderMetrics("okx", "ETH-USDT", {}),
        ],
        "rejects": lambda: {("binance", "post_only_would_cross"): 7, ("binance", "auth"): 3},
        "rate_limits": lambda: [
            RateLimitMetrics(
                "binance",
                {"weight": (1200, 4800), "orders_10s": (0, 80)},
                {"refused": 2, "blocked": 1},
            )
        ],
        "limits": lambda: [
            LimitUsage("position", 3, 4, "binance", "BTCUSDT"),
            LimitUsage("daily_loss", Decimal("25"), Decimal("100")),
            LimitUsage("drawdown", 5, 0),  # a maximum of 0 cannot be divided by: left out
        ],
        "inventory": lambda: [
            InventoryMetrics("binance", "BTCUSDT", Decimal("-500"), Decimal("-0.25"), None)
        ],
        "alerts": lambda: AlertMetrics(
            firing=[("feed_stale", "binance:BTCUSDT"), ("anomaly.latency", "latency")],
            events={"fired": 5, "resolved": 3, "escalated": 1},
            evaluations=120,
            errors={"signal": 2, "rule": 0},
            notifications={"queued": 8, "below_severity": 1, "held": 4, "dropped": 0},
            deliveries={("log", "sent"): 8, ("webhook", "sent"): 6, ("webhook", "timeout"): 2},
        ),
    }
    fields.update(overrides)
    return Sources(**fields)


def _samples(text: str) -> dict[str, Any]:
    """{family name: family} from the exposition."""
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(family: Any, name: str, **labels: str) -> float:
    for s in family.samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    raise AssertionError(f"no sample {name}{labels} in {family.samples}")


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Any]]:
    servers: list[MonitorServer] = []

    async def start(
        sources: Sources | None = None,
        status: Callable[[], dict[str, Any]] = dict,
        health: Callable[[], tuple[bool, dict[str, Any]]] = lambda: (True, {}),
        config: MonitorConfig | None = None,
    ) -> MonitorServer:
        metrics = EngineMetrics(sources or _sources(), probe_interval=0.005)
        server = MonitorServer(config or MonitorConfig(port=0), metrics, status, health)
        servers.append(server)
        await server.start()
        return server

    yield start
    for server in servers:
        await server.stop()


async def _get(server: MonitorServer, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}{path}") as resp:
        return resp.status, resp.headers["Content-Type"], await resp.text()


async def test_metrics_expose_sources(serve: Callable[..., Any]) -> None:
    server = await serve()
    status, ctype, text = await _get(server, "/metrics")
    assert status == 200
    assert ctype == CONTENT_TYPE_LATEST
    fams = _samples(text)

    btc = {"venue": "binance", "symbol": "BTCUSDT"}
    eth = {"venue": "okx", "symbol": "ETH-USDT"}
    assert _value(fams["hft_position_base"], "hft_position_base", **btc) == 0.125
    assert _value(fams["hft_position_base"], "hft_position_base", **eth) == -1.5
    assert _value(fams["hft_pnl_realized_quote"], "hft_pnl_realized_quote", **btc) == 12.5
    assert _value(fams["hft_pnl_unrealized_quote"], "hft_pnl_unrealized_quote", **btc) == -3.25
    assert _value(fams["hft_fees_quote"], "hft_fees_quote", **btc) == 0.75
    assert _value(fams["hft_open_orders"], "hft_open_orders", **btc) == 2
    assert _value(fams["hft_fills"], "hft_fills_total", **btc) == 17
    assert _value(fams["hft_fills"], "hft_fills_total", **eth) == 3

    assert _value(fams["hft_oms_orders_sent"], "hft_oms_orders_sent_total") == 40
    assert _value(fams["hft_oms_orders_rejected"], "hft_oms_orders_rejected_total") == 2
    assert _value(fams["hft_risk_state"], "hft_risk_state", state="REDUCING") == 1
    refusals = fams["hft_risk_refusals"]
    assert _value(refusals, "hft_risk_refusals_total", reason="notional") == 5
    assert _value(refusals, "hft_risk_refusals_total", reason="rate") == 1
    assert _value(fams["hft_feed_ready"], "hft_feed_ready", feed="binance:BTCUSDT") == 1
    assert _value(fams["hft_feed_ready"], "hft_feed_ready", feed="okx:ETH-USDT") == 0

    assert _value(fams["hft_process_cpu_seconds"], "hft_process_cpu_seconds_total", mode="user")
    rss = _value(fams["hft_process_resident_memory_bytes"], "hft_process_resident_memory_bytes")
    assert rss > 1_000_000


async def test_tick_to_trade_histogram_from_stage_recorder(serve: Callable[..., Any]) -> None:
    server = await serve()
    fam = _samples((await _get(server, "/metrics"))[2])["hft_tick_to_trade_seconds"]
    assert fam.type == "histogram"
    per_stage = {
        "decode": [d for d, _ in TICKS],
        "send": [s for _, s in TICKS],
        "total": [d + s for d, s in TICKS],
    }
    bounds = [*(repr(b) for b in LATENCY_BUCKETS), "+Inf"]
    for stage, values_ns in per_stage.items():
        for le, bound in zip(bounds, [*LATENCY_BUCKETS, float("inf")], strict=True):
            expected = sum(1 for v in values_ns if v / 1e9 <= bound)
            got = _value(fam, "hft_tick_to_trade_seconds_bucket", stage=stage, le=le)
            assert got == expected, (stage, le)
        count = _value(fam, "hft_tick_to_trade_seconds_count", stage=stage)
        assert count == len(values_ns)
        total_s = _value(fam, "hft_tick_to_trade_seconds_sum", stage=stage)
        assert total_s == pytest.approx(sum(values_ns) / 1e9, rel=0.01)


def test_latency_buckets_are_cumulative_and_end_in_inf() -> None:
    # (upper edge ns, count): 9 µs, 10 µs exactly, 11 µs, 2 s (past the last bound)
    out = latency_buckets([(9_000, 1), (10_000, 2), (11_000, 4), (2_000_000_000, 8)])
    assert out[0] == ("1e-05", 3.0)
    assert out[1] == ("2.5e-05", 7.0)
    assert out[-2] == ("1.0", 7.0)
    assert out[-1] == ("+Inf", 15.0)
    assert [c for _, c in out] == sorted(c for _, c in out)
    assert latency_buckets([])[-1] == ("+Inf", 0.0)


async def test_metric_names_follow_conventions(serve: Callable[..., Any]) -> None:
    server = await serve()
    fams = _samples((await _get(server, "/metrics"))[2])
    units = ("_seconds", "_bytes", "_base", "_quote")
    for name, fam in fams.items():
        assert name.startswith("hft_"), name
        if fam.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in fam.samples), name
        if fam.type == "histogram":
            assert name.endswith("_seconds"), name
    for name in (
        "hft_process_cpu_seconds",
        "hft_process_resident_memory_bytes",
        "hft_event_loop_lag_seconds",
        "hft_tick_to_trade_seconds",
        "hft_position_base",
        "hft_pnl_realized_quote",
        "hft_pnl_unrealized_quote",
        "hft_fees_quote",
    ):
        assert name in fams and name.endswith(units), name
    lag = fams["hft_event_loop_lag_seconds"]
    les = [s.labels["le"] for s in lag.samples if s.name.endswith("_bucket")]
    assert les[0] == "1e-05" and les[-2] == "1.0" and les[-1] == "+Inf"


async def test_missing_and_failing_sources(serve: Callable[..., Any]) -> None:
    def broken() -> dict[str, int]:
        raise RuntimeError("reader bug")

    server = await serve(Sources(oms_counters=broken, latency=lambda: None))
    status, _, text = await _get(server, "/metrics")
    assert status == 200
    fams = _samples(text)
    assert "hft_position_base" not in fams and "hft_tick_to_trade_seconds" not in fams
    errors = fams["hft_monitor_source_errors"]
    assert _value(errors, "hft_monitor_source_errors_total", source="oms_counters") == 1
    assert "hft_process_resident_memory_bytes" in fams


async def test_status_json_keeps_decimals_exact(serve: Callable[..., Any]) -> None:
    doc = {
        "state": "ACTIVE",
        "instruments": {"BTCUSDT": {"position": Decimal("0.10000000"), "pnl": Decimal("-1.5")}},
        "uptime_s": 12.5,
    }
    server = await serve(status=lambda: doc)
    status, ctype, text = await _get(server, "/status")
    assert status == 200 and ctype.startswith("application/json")
    got = orjson.loads(text)
    assert got["instruments"]["BTCUSDT"] == {"position": "0.10000000", "pnl": "-1.5"}
    assert got["state"] == "ACTIVE" and got["uptime_s"] == 12.5


async def test_status_source_failure_is_500(serve: Callable[..., Any]) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("boom")

    server = await serve(status=broken)
    status, _, text = await _get(server, "/status")
    assert status == 500 and "RuntimeError" in orjson.loads(text)["error"]


async def test_health_ready_and_not_ready(serve: Callable[..., Any]) -> None:
    state: dict[str, Any] = {"ready": True, "details": {"feeds": {"binance": "live"}}}
    server = await serve(health=lambda: (state["ready"], state["details"]))
    status, _, text = await _get(server, "/health")
    assert status == 200
    assert orjson.loads(text) == {"live": True, "ready": True, "feeds": {"binance": "live"}}

    state["ready"] = False
    state["details"] = {"reasons": ["feed binance:BTCUSDT stale for 7.0 s", "risk HALTED"]}
    status, _, text = await _get(server, "/health")
    assert status == 503
    doc = orjson.loads(text)
    assert doc["live"] is True and doc["ready"] is False
    assert doc["reasons"] == ["feed binance:BTCUSDT stale for 7.0 s", "risk HALTED"]

    status, _, text = await _get(server, "/health/live")
    assert status == 200 and orjson.loads(text) == {"live": True}


async def test_health_source_failure_is_not_ready(serve: Callable[..., Any]) -> None:
    def broken() -> tuple[bool, dict[str, Any]]:
        raise RuntimeError("boom")

    server = await serve(health=broken)
    status, _, text = await _get(server, "/health")
    assert status == 503
    assert orjson.loads(text)["reasons"] == ["health check failed: RuntimeError"]


async def test_loop_lag_probe_records_samples(serve: Callable[..., Any]) -> None:
    server = await serve()
    assert server.metrics.probing
    for _ in range(200):
        if server.metrics.loop_lag_samples >= 3:
            break
        await asyncio.sleep(0.01)
    assert server.metrics.loop_lag_samples >= 3
    fams = _samples((await _get(server, "/metrics"))[2])
    count = _value(fams["hft_event_loop_lag_seconds"], "hft_event_loop_lag_seconds_count")
    assert count >= 3
    await server.stop()
    assert not server.metrics.probing
    stopped_at = server.metrics.loop_lag_samples
    await asyncio.sleep(0.03)
    assert server.metrics.loop_lag_samples == stopped_at


async def test_port_in_use_is_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MonitorServer(
            MonitorConfig(port=port), EngineMetrics(Sources()), dict, lambda: (True, {})
        )
        with pytest.raises(OSError) as info:
            await server.start()
    message = str(info.value)
    assert "\n" not in message
    assert f"127.0.0.1:{port}" in message
    assert "monitor.port" in message and "already in use" in message
    assert server.state is ComponentState.FAILED and server.port is None
    assert not server.metrics.probing
    await server.stop()


async def test_disabled_starts_nothing(serve: Callable[..., Any]) -> None:
    server = await serve(config=MonitorConfig(enabled=False, port=0))
    assert server.running and server.port is None and server.url is None
    assert not server.metrics.probing


async def test_stop_closes_the_port(serve: Callable[..., Any]) -> None:
    server = await serve()
    url = server.url
    assert (await _get(server, "/health/live"))[0] == 200
    await server.stop()
    assert server.port is None
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"{url}/health/live")


async def test_feed_order_risk_families_from_rows(serve: Callable[..., Any]) -> None:
    fams = _samples((await _get(await serve(), "/metrics"))[2])
    conn = {"venue": "binance", "connection": "binance:0"}
    for family, expected in (
        ("hft_feed_messages", 120),
        ("hft_feed_received_bytes", 45_000),
        ("hft_feed_connects", 2),
        ("hft_feed_reconnects", 1),
        ("hft_feed_connect_failures", 3),
        ("hft_feed_stale", 1),
        ("hft_feed_rotations", 0),
    ):
        assert _value(fams[family], f"{family}_total", **conn) == expected, family
    assert _value(fams["hft_feed_connected"], "hft_feed_connected", **conn) == 1

    btc = {"venue": "binance", "symbol": "BTCUSDT"}
    eth = {"venue": "okx", "symbol": "ETH-USDT"}
    resyncs = fams["hft_feed_book_resyncs"]
    assert _value(resyncs, "hft_feed_book_resyncs_total", **btc) == 4
    assert _value(resyncs, "hft_feed_book_resyncs_total", **eth) == 0
    checksum = fams["hft_feed_book_checksum_failures"]
    assert _value(checksum, "hft_feed_book_checksum_failures_total", **btc) == 1
    lag = fams["hft_feed_exchange_lag_seconds"]
    assert _value(lag, "hft_feed_exchange_lag_seconds", **btc) == 0.0125
    assert len(lag.samples) == 1  # a book never stamped has no lag

    updates = fams["hft_order_updates"]
    assert _value(updates, "hft_order_updates_total", status="rejected", **btc) == 10
    assert _value(fams["hft_order_success_ratio"], "hft_order_success_ratio", **btc) == 0.75
    assert _value(fams["hft_order_fill_ratio"], "hft_order_fill_ratio", **btc) == 0.3
    assert len(fams["hft_order_success_ratio"].samples) == 1  # ETH: nothing to divide
    price = fams["hft_order_best_price_quote"]
    assert _value(price, "hft_order_best_price_quote", side="bid", **btc) == 99.5
    assert _value(price, "hft_order_best_price_quote", side="ask", **btc) == 100.5
    assert _value(fams["hft_mid_price_quote"], "hft_mid_price_quote", **btc) == 100.25
    rejects = fams["hft_order_rejects"]
    assert _value(rejects, "hft_order_rejects_total", reason="post_only_would_cross") == 7

    weight = {"venue": "binance", "bucket": "weight"}
    assert (
        _value(fams["hft_rate_limit_used_tokens"], "hft_rate_limit_used_tokens", **weight) == 1200
    )
    usage = fams["hft_rate_limit_usage_ratio"]
    assert _value(usage, "hft_rate_limit_usage_ratio", **weight) == 0.25
    events = fams["hft_rate_limit_events"]
    assert _value(events, "hft_rate_limit_events_total", venue="binance", event="refused") == 2

    limits = fams["hft_risk_limit_usage_ratio"]
    assert _value(limits, "hft_risk_limit_usage_ratio", limit="position", **btc) == 0.75
    daily = _value(limits, "hft_risk_limit_usage_ratio", limit="daily_loss", venue="", symbol="")
    assert daily == 0.25
    assert {s.labels["limit"] for s in limits.samples} == {"position", "daily_loss"}

    assert _value(fams["hft_inventory_value_quote"], "hft_inventory_value_quote", **btc) == -500
    share = fams["hft_inventory_share_ratio"]
    assert _value(share, "hft_inventory_share_ratio", **btc) == -0.25
    assert fams["hft_return_on_capital_ratio"].samples == []


def _proc_io() -> tuple[int, int]:
    """(read_bytes, write_bytes) of this process, as the kernel says it."""
    pairs = (line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    fields = {k: v for k, v in pairs}
    return int(fields["read_bytes"]), int(fields["write_bytes"])


async def test_hot_thread_cpu_disk_and_network(serve: Callable[..., Any]) -> None:
    server = await serve()  # the probe starts on this thread: it is the event-loop thread
    deadline = time.thread_time() + 0.05
    while time.thread_time() < deadline:  # burn CPU on this thread only
        sum(range(1000))
    before_io = _proc_io()
    fams = _samples((await _get(server, "/metrics"))[2])
    after_io = _proc_io()
    cpu = fams["hft_thread_cpu_seconds"]
    loop_cpu = sum(_value(cpu, "hft_thread_cpu_seconds_total", thread="event_loop", mode=m)
                   for m in ("user", "system"))  # fmt: skip
    # the kernel counts thread CPU in clock ticks (10 ms): compare with this thread's own clock
    assert loop_cpu >= 0.04
    assert loop_cpu == pytest.approx(time.thread_time(), abs=0.05)
    assert {s.labels["thread"] for s in cpu.samples} == {"event_loop"}
    assert server.metrics._process.threads["event_loop"] == threading.get_native_id()

    read = _value(fams["hft_process_disk_read_bytes"], "hft_process_disk_read_bytes_total")
    written = _value(fams["hft_process_disk_written_bytes"], "hft_process_disk_written_bytes_total")
    assert before_io[0] <= read <= after_io[0]
    assert before_io[1] <= written <= after_io[1]
    sent = _value(fams["hft_host_network_sent_bytes"], "hft_host_network_sent_bytes_total")
    received = fams["hft_host_network_received_bytes"]
    # our own request to /metrics went over loopback: the host has sent and received bytes
    assert sent > 0
    assert _value(received, "hft_host_network_received_bytes_total") > 0


def test_alert_families_from_the_alerts_source() -> None:
    fams = _samples(EngineMetrics(_sources()).render().decode())
    firing = fams["hft_alerts_firing"]
    assert firing.type == "gauge"
    assert {(s.labels["rule"], s.labels["subject"], s.value) for s in firing.samples} == {
        ("feed_stale", "binance:BTCUSDT", 1.0),
        ("anomaly.latency", "latency", 1.0),
    }
    events = fams["hft_alert_events"]
    assert {s.labels["event"]: s.value for s in events.samples if s.name.endswith("_total")} == {
        "fired": 5,
        "resolved": 3,
        "escalated": 1,
    }
    assert _value(fams["hft_alert_evaluations"], "hft_alert_evaluations_total") == 120
    assert _value(fams["hft_alert_errors"], "hft_alert_errors_total", source="signal") == 2
    assert _value(fams["hft_alert_errors"], "hft_alert_errors_total", source="rule") == 0
    notes = fams["hft_notifications"]
    for outcome, n in (("queued", 8), ("below_severity", 1), ("held", 4), ("dropped", 0)):
        assert _value(notes, "hft_notifications_total", outcome=outcome) == n, outcome
    sends = fams["hft_notification_deliveries"]
    assert _value(sends, "hft_notification_deliveries_total", sink="webhook", outcome="sent") == 6
    assert (
        _value(sends, "hft_notification_deliveries_total", sink="webhook", outcome="timeout") == 2
    )
    assert _value(sends, "hft_notification_deliveries_total", sink="log", outcome="sent") == 8


def test_alert_families_absent_or_zero_without_alerts() -> None:
    """Alerts off (no source, or a source answering None): no alert family and no error;
    alerts on with nothing counted yet: every known event and outcome at 0, nothing firing."""
    alert_families = {
        "hft_alerts_firing",
        "hft_alert_events",
        "hft_alert_evaluations",
        "hft_alert_errors",
        "hft_notifications",
        "hft_notification_deliveries",
    }
    for sources in (_sources(alerts=None), _sources(alerts=lambda: None)):
        fams = _samples(EngineMetrics(sources).render().decode())
        assert not alert_families & set(fams)
        assert fams["hft_monitor_source_errors"].samples == []
    fams = _samples(EngineMetrics(_sources(alerts=AlertMetrics)).render().decode())
    assert alert_families <= set(fams)
    assert fams["hft_alerts_firing"].samples == []
    for family, label, keys in (
        ("hft_alert_events", "event", {"fired", "resolved", "escalated"}),
        ("hft_alert_errors", "source", {"signal", "rule"}),
        ("hft_notifications", "outcome", {"queued", "below_severity", "held", "dropped"}),
    ):
        totals = {
            s.labels[label]: s.value for s in fams[family].samples if s.name.endswith("_total")
        }
        assert totals == dict.fromkeys(keys, 0.0), family
