"""The monitor's detailed sources against a running engine: a real Engine in this process,
quoting on the local Binance simulator, scraped through `add_metric_sources`; every new
family is compared with the figure the engine itself holds (the order manager, the feeds'
connections and books, the rate limiter, the risk core), read in the same loop step as the
scrape so nothing moves in between.

Then the engine stops (its storage writer flushes last, after trading has cancelled what was
left; nothing moves any more) and the storage layer's SQLite tables are read with `sqlite3`:
the `fills` rows are the fills /metrics counts and the order manager booked, their quantity
per side is the position's, and the `orders` rows, each in its last state, are the order
updates /metrics counts by status, none of them still live (as none is at the simulator).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine._core import orders as table_codes
from engine.app import Engine
from engine.config import ConfigStore, MonitorConfig, load_config
from engine.data.feed import BookFeed
from engine.gateway.venue_data import VenueMarketData
from engine.host.component import StrategyHost
from engine.host.metric_sources import add_metric_sources, with_quotes
from engine.host.monitoring import build_monitor
from engine.monitor import EngineMetrics, Sources
from engine.sim.component import SimulatorComponent
from engine.sim.server import RunningSim

pytestmark = pytest.mark.slow

# the venue's error classes as reason labels (a post-only quote of the strategy may cross)
REASONS = {
    "InsufficientBalance": "insufficient_balance",
    "PostOnlyWouldCross": "post_only_would_cross",
}

CONFIG = """
[system]
log_level = "warning"
log_dir = "{tmp}/log"
state_dir = "{tmp}/state"

[database]
sqlite_path = "{tmp}/engine.sqlite3"

[monitor]
enabled = false

[strategy]
enabled = true
status_interval_s = 0

[strategy.parameters]
order_size = "0.001"
max_position = "0.01"
levels = 1
min_half_spread_ticks = 1.0
base_half_spread_ticks = 1.0
skew_ticks = 20.0
refresh_ticks = 2
requote_interval_s = 0.25
fill_cooldown_s = 0.0

[risk]
max_position = "0.02"
max_order_notional = "5000"
max_open_orders = 10
max_orders_per_second = 20
max_cancels_per_second = 40
max_daily_loss = "500"
max_drawdown = "400"
price_band_bps = 200

[venues.binance]
enabled = true
simulated = true
symbols = ["BTCUSDT"]
key_source = "none"
"""


async def _until(predicate: Any, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not in {timeout:.0f} s: {what}")
        await asyncio.sleep(0.05)


def _families(text: bytes) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text.decode())}


def _value(fams: dict[str, Any], family: str, sample: str = "", **labels: str) -> float:
    for s in fams[family].samples:
        if s.name == (sample or family) and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    raise AssertionError(f"no sample {sample or family}{labels}")


def _feeds(engine: Engine) -> list[BookFeed]:
    return [
        c.feed for c in engine.components if isinstance(c, VenueMarketData) and c.feed is not None
    ]


async def test_detailed_metrics_agree_with_the_running_engine(tmp_path: Path) -> None:
    path = tmp_path / "engine.toml"
    path.write_text(CONFIG.format(tmp=tmp_path))
    engine = Engine(ConfigStore(load_config(path, environ={})), config_path=path)
    run = asyncio.create_task(engine.run(console_log=False))
    try:
        await _until(lambda: engine.host is not None and engine.host.view is not None, 60, "host")
        host = engine.host
        assert isinstance(host, StrategyHost)
        await _until(lambda: host.trading.manager is not None, 60, "order manager")
        oms = host.trading.manager
        assert oms is not None
        await _until(lambda: any(p.fills for p in oms.positions), 60, "a fill")
        await _until(lambda: host.view is not None and host.view.book(0), 30, "a ready book")
        forced = _force_reject(host)
        await _until(lambda: oms.order(forced) is None, 30, "the venue's answer to ours")
        sources = Sources()
        add_metric_sources(sources, host, lambda: _feeds(engine))
        metrics = EngineMetrics(sources)
        # _until returns without yielding once a quote rests: the scrape and the engine's
        # own figures are read in that same loop step, nothing moves in between
        await _until(lambda: host.view is not None and host.view.open_orders(0), 30, "a quote")
        fams = _families(metrics.render())
        _check_feeds(fams, _feeds(engine))
        _check_orders(fams, host)
        _check_rate_limits(fams, host)
        _check_risk_and_inventory(fams, host)
        _check_status_quotes(host, _feeds(engine))
        _check_round_trips(fams, host)
        (sim,) = (c.sim for c in engine.components if isinstance(c, SimulatorComponent))
        assert sim is not None
    finally:
        engine.request_stop("test over")
        assert await asyncio.wait_for(run, 60) == 0
    # stopped: every row is written and nothing moves; /metrics as the monitor serves it
    served = build_monitor(MonitorConfig(), host, lambda: _feeds(engine)).metrics
    _check_storage(tmp_path / "engine.sqlite3", _families(served.render()), host, sim)


def _force_reject(host: StrategyHost) -> int:
    """A post-only buy of 10 BTC far under the market, through the real order manager (not
    the risk manager, which never sees it): the simulated account holds 100 000 USDT, so the
    venue refuses it for the balance and the OMS counts the reason. Its order id."""
    oms, view = host.trading.manager, host.view
    assert oms is not None and view is not None
    book = view.book(0)
    assert book is not None
    inst = oms.instruments[0]
    price = book.best_bid_price - 100
    order_id = oms.place(0, 1, 3, 1, price, inst.qty_to_lots("10"), 0)
    assert order_id
    return order_id


def _check_feeds(fams: dict[str, Any], feeds: list[BookFeed]) -> None:
    (feed,) = feeds
    conn = feed.connection_of("BTCUSDT")  # type: ignore[attr-defined]
    key = {"venue": "binance", "connection": conn.name}
    messages = _value(fams, "hft_feed_messages", "hft_feed_messages_total", **key)
    assert messages == conn.stats.messages > 0
    received = _value(fams, "hft_feed_received_bytes", "hft_feed_received_bytes_total", **key)
    assert received == conn.stats.bytes > messages  # a frame is more than one byte
    connects = _value(fams, "hft_feed_connects", "hft_feed_connects_total", **key)
    assert connects == conn.counters.connects >= 1
    reconnects = _value(fams, "hft_feed_reconnects", "hft_feed_reconnects_total", **key)
    assert reconnects == conn.counters.reconnects
    assert _value(fams, "hft_feed_connected", **key) == 1

    btc = {"venue": "binance", "symbol": "BTCUSDT"}
    counters = feed.counters["BTCUSDT"]
    for name, expected in counters.as_dict().items():
        family = f"hft_feed_book_{name}"
        assert _value(fams, family, f"{family}_total", **btc) == expected, name
    assert counters.snapshots >= 1  # the book was synced at least once
    book = feed.books["BTCUSDT"]
    lag = _value(fams, "hft_feed_exchange_lag_seconds", **btc)
    assert lag == (book.recv_ts_ns - book.exchange_ts_ns) / 1e9
    assert -1.0 < lag < 5.0  # same machine: the simulator's clock is ours (ms resolution)


def _check_orders(fams: dict[str, Any], host: StrategyHost) -> None:
    oms, view = host.trading.manager, host.view
    assert oms is not None and view is not None
    btc = {"venue": "binance", "symbol": "BTCUSDT"}
    told = oms.updates[0]
    new, rejected = told[table_codes.NEW], told[table_codes.REJECTED]
    filled, canceled = told[table_codes.FILLED], told[table_codes.CANCELED]
    expired = told[table_codes.EXPIRED]
    updates = "hft_order_updates_total"
    assert _value(fams, "hft_order_updates", updates, status="new", **btc) == new > 0
    assert _value(fams, "hft_order_updates", updates, status="rejected", **btc) == rejected >= 1
    assert sum(s.value for s in fams["hft_order_updates"].samples) == sum(told)
    assert _value(fams, "hft_order_success_ratio", **btc) == new / (new + rejected) < 1
    ended = filled + canceled + expired
    assert _value(fams, "hft_order_fill_ratio", **btc) == filled / ended

    rejects = fams["hft_order_rejects"].samples
    by_reason = {(s.labels["venue"], s.labels["reason"]): s.value for s in rejects}
    assert by_reason == {(venue, REASONS[error]): n for (venue, error), n in oms.rejects.items()}
    assert by_reason[("binance", "insufficient_balance")] == 1  # ours
    assert sum(by_reason.values()) == oms.counters.rejected

    inst = oms.instruments[0]
    orders = view.open_orders(0)
    buys = [o.price_ticks for o in orders if o.side > 0]
    sells = [o.price_ticks for o in orders if o.side < 0]
    price = "hft_order_best_price_quote"
    if buys:
        assert _value(fams, price, side="bid", **btc) == float(inst.ticks_to_price(max(buys)))
    if sells:
        assert _value(fams, price, side="ask", **btc) == float(inst.ticks_to_price(min(sells)))
    assert len(fams[price].samples) == bool(buys) + bool(sells) >= 1
    book = view.book(0)
    assert book is not None
    mid = inst.ticks_to_price(book.mid_x2()) / 2
    assert _value(fams, "hft_mid_price_quote", **btc) == float(mid)


def _check_round_trips(fams: dict[str, Any], host: StrategyHost) -> None:
    """The venue round trip of the run's orders, cancels and amends: in /metrics as the
    order manager holds it, and in /status; on loopback well under a second."""
    oms = host.trading.manager
    assert oms is not None and host.status is not None
    hist = oms.round_trips["binance"]
    family = "hft_venue_round_trip_seconds"
    count = _value(fams, family, f"{family}_count", venue="binance")
    assert count == hist.count > 0
    assert _value(fams, family, f"{family}_bucket", venue="binance", le="+Inf") == count
    assert _value(fams, family, f"{family}_sum", venue="binance") > 0
    assert 0 < hist.percentile(50) < 1_000_000_000
    shown = host.status.snapshot()["engine"]["venue_round_trip_us"]["binance"]
    assert shown["count"] == hist.count and 0 < shown["p50"] <= shown["p99"] < 1_000_000


def _check_rate_limits(fams: dict[str, Any], host: StrategyHost) -> None:
    limiter = host.trading.adapters["binance"].limiter
    assert set(limiter.buckets) == {"weight", "orders_10s", "orders_1d"}
    for name, bucket in limiter.buckets.items():
        key = {"venue": "binance", "bucket": name}
        assert _value(fams, "hft_rate_limit_used_tokens", **key) == bucket.used
        assert _value(fams, "hft_rate_limit_capacity_tokens", **key) == bucket.capacity
        ratio = _value(fams, "hft_rate_limit_usage_ratio", **key)
        assert ratio == bucket.used / bucket.capacity
    assert limiter.buckets["orders_1d"].used > 0  # every order of the run is in the day's
    for event, n in limiter.counters().items():
        got = _value(fams, "hft_rate_limit_events", "hft_rate_limit_events_total", event=event)
        assert got == n, event


def _check_risk_and_inventory(fams: dict[str, Any], host: StrategyHost) -> None:
    risk, oms = host.risk, host.trading.manager
    assert risk is not None and oms is not None
    core = risk.core
    btc = {"venue": "binance", "symbol": "BTCUSDT"}
    _, position, _, _, open_orders, _, _ = core.instrument(0)
    limits = core.limits(0)
    usage = "hft_risk_limit_usage_ratio"
    max_lots = limits.max_long_lots if position >= 0 else limits.max_short_lots
    assert _value(fams, usage, limit="position", **btc) == abs(position) / max_lots
    assert _value(fams, usage, limit="open_orders", **btc) == open_orders / 10
    _, _, equity, day_start, day_peak = core.pnl()
    glimits = core.global_limits()
    engine_wide = {"venue": "", "symbol": ""}
    daily = _value(fams, usage, limit="daily_loss", **engine_wide)
    assert daily == max(day_start - equity, 0) / glimits.daily_loss_limit
    drawdown = _value(fams, usage, limit="drawdown", **engine_wide)
    assert drawdown == max(day_peak - equity, 0) / glimits.max_drawdown
    # max_exposure is off (0 in [risk]): not a limit, not a sample
    assert "exposure" not in {s.labels["limit"] for s in fams[usage].samples}

    view = host.view
    assert view is not None
    inst, pos = oms.instruments[0], oms.positions[0]
    book = view.book(0)
    assert book is not None
    mid = inst.ticks_to_price(book.mid_x2()) / 2
    value = inst.lots_to_qty(pos.qty) * mid
    capital = Decimal("0.02") * mid  # [risk] max_position at the mid
    pnl = inst.notional_to_decimal(pos.realized + pos.unrealized(book.mid_x2() // 2))
    assert _value(fams, "hft_inventory_value_quote", **btc) == float(value)
    assert _value(fams, "hft_inventory_share_ratio", **btc) == float(value / capital)
    assert _value(fams, "hft_return_on_capital_ratio", **btc) == float(pnl / capital)


def _check_status_quotes(host: StrategyHost, feeds: list[BookFeed]) -> None:
    view = host.view
    assert view is not None and host.status is not None
    (row,) = with_quotes(host.status.snapshot, host, lambda: feeds)()["symbols"]
    inst = view.instruments[0]
    orders = view.open_orders(0)
    buys = [o.price_ticks for o in orders if o.side > 0]
    bid = format(inst.ticks_to_price(max(buys)), "f") if buys else ""
    assert row["instrument"] == "binance:BTCUSDT"
    assert row["bid"] == bid
    assert row["feed"] == "ready"


def _check_storage(db: Path, fams: dict[str, Any], host: StrategyHost, sim: RunningSim) -> None:
    """The stopped engine's SQLite tables against /metrics, the order manager and the
    simulator."""
    oms = host.trading.manager
    assert oms is not None and host.trading.storage is not None
    writer = host.trading.storage.writer
    assert writer is not None
    assert not writer.pending  # flushed at the stop
    for table in ("orders", "order_events", "fills"):
        counters = writer.buffers[table].counters
        assert counters.spilled == counters.refused == counters.failures == 0, table
    btc = {"venue": "binance", "symbol": "BTCUSDT"}
    where = "WHERE venue = 'binance' AND symbol = 'BTCUSDT'"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        fills = conn.execute(f"SELECT side, quantity, trade_id FROM fills {where}").fetchall()
        fill_events = conn.execute(
            f"SELECT COUNT(*) FROM order_events {where} AND event = 'fill'"
        ).fetchone()[0]
        orders = dict(
            conn.execute(f"SELECT status, COUNT(*) FROM orders {where} GROUP BY status").fetchall()
        )
        assert conn.execute("SELECT COUNT(*) FROM fills").fetchone()[0] == len(fills)

    # fills: one row per trade the order manager booked, as /metrics counts them
    inst, pos = oms.instruments[0], oms.positions[0]
    assert oms.counters.position_errors == 0
    assert len(fills) == pos.fills == _value(fams, "hft_fills", "hft_fills_total", **btc) > 0
    assert len({trade_id for _, _, trade_id in fills}) == len(fills) == fill_events
    # the quantity per side: the position's volume is bought + sold, its quantity the net
    bought = sum((Decimal(q) for side, q, _ in fills if side == "BUY"), Decimal(0))
    sold = sum((Decimal(q) for side, q, _ in fills if side == "SELL"), Decimal(0))
    assert bought == inst.lots_to_qty((pos.volume + pos.qty) // 2)
    assert sold == inst.lots_to_qty((pos.volume - pos.qty) // 2)
    assert _value(fams, "hft_position_base", **btc) == float(bought - sold)

    # orders: one row per order, in its last state; after the stop's cancel-all every order
    # has ended, once each: the rows by status are the updates /metrics counts by status
    told = oms.updates[0]
    by_status = {  # a status never told has no sample
        s.labels["status"]: int(s.value)
        for s in fams["hft_order_updates"].samples
        if s.name == "hft_order_updates_total" and s.labels["symbol"] == "BTCUSDT"
    }
    ended = {s: by_status.get(s, 0) for s in ("filled", "canceled", "rejected", "expired")}
    assert ended == {
        "filled": told[table_codes.FILLED],
        "canceled": told[table_codes.CANCELED],
        "rejected": told[table_codes.REJECTED],
        "expired": told[table_codes.EXPIRED],
    }
    assert orders == {status: n for status, n in ended.items() if n}
    assert ended["rejected"] == oms.counters.rejected >= 1  # ours among them
    assert oms.open_orders() == [] and _value(fams, "hft_open_orders", **btc) == 0
    found = sim.exchange.account_for_key(sim.api_key)
    assert found is not None
    assert sim.exchange.engine.open_orders(found[1]) == []
