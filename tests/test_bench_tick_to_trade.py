"""The tick-to-trade benchmark cases (bench/cases/tick_to_trade.py) in quick mode: each one
runs against the in-process simulator, its JSON has the per-tick figures and the split, and
the pipeline really traded (every tick's requests written, answered, nothing refused, both
quotes resting at the venue). Also: the naive baseline's requests are the engine's bytes.
Timing itself is the benchmark's business: nothing here checks a figure against a goal."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from bench import runner
from bench.cases import tick_to_trade
from bench.engine_rig import RISK, STAGES
from bench.moving_book import MovingBook
from bench.naive_pipeline import NaivePipeline, NaiveTouchQuoter
from engine.gateway.binance import orders_wire as wire
from engine.model.enums import OrderSide, OrderType, TimeInForce
from engine.sim import presets
from engine.wire.credentials import Credentials
from engine.wire.mac import hmac_hex

PER_TICK = ("median_us", "p90_us", "p99_us", "count")
RUNNER = ("median_ns", "p99_ns", "baseline_median_ns", "baseline_p99_ns", "ratio", "n")


@pytest.fixture(autouse=True)
def _close_rigs() -> Iterator[None]:
    yield
    tick_to_trade.close_all()


def _run(name: str) -> tuple[dict[str, Any], int]:
    opts = runner.Options(quick=True)
    pair = runner.build(name, opts)
    result = runner.measure(name, pair, opts.samples, opts.warmup)
    doc = orjson.loads(orjson.dumps(result.as_json()))  # what --json prints
    return doc, opts.samples * pair.batch


def _check_traded(doc: dict[str, Any], ticks: int) -> dict[str, int]:
    for key in (*RUNNER, *PER_TICK, *(f"baseline_{k}" for k in PER_TICK), "ratio_per_tick"):
        assert key in doc, key
    assert doc["count"] == doc["baseline_count"] == doc["n"] == ticks
    assert 0 < doc["median_us"] <= doc["p90_us"] <= doc["p99_us"]
    assert 0 < doc["baseline_median_us"] <= doc["baseline_p99_us"]
    assert doc["requests_per_tick"] == 2  # Binance: one order.cancelReplace per quote
    pipeline = doc["pipeline"]
    assert isinstance(pipeline, dict)
    assert pipeline["requests_written"] >= 2 * ticks
    assert pipeline["requests_written"] == pipeline["oms_requests"]
    for zero in ("oms_rejected", "oms_timeouts", "risk_refusals", "rate_refused"):
        assert pipeline[zero] == 0, zero
    assert pipeline["reports"] >= pipeline["oms_requests"]  # every order reported back
    assert pipeline["open_orders_at_venue"] == 2  # both quotes rest at the venue
    assert pipeline["naive_requests"] == pipeline["naive_answers"] >= 4 * ticks
    return pipeline


@pytest.mark.parametrize(
    "name",
    ["tick_to_trade.internal", "tick_to_trade.internal_idle", "tick_to_trade.pystrategy"],
)
def test_internal_cases_trade_and_report(name: str) -> None:
    doc, ticks = _run(name)
    _check_traded(doc, ticks)
    stages = doc["stages_us"]
    assert isinstance(stages, dict)
    assert list(stages) == [f"{a}->{b}" for a, b in itertools.pairwise(STAGES)]
    assert all(set(s) == {"p50", "p90", "p99"} for s in stages.values())


def test_loopback_case_trades_and_reports() -> None:
    doc, ticks = _run("tick_to_trade.loopback")
    pipeline = _check_traded(doc, ticks)
    assert "p999_us" in doc and "baseline_p999_us" in doc
    assert doc["p999_us"] >= doc["p99_us"]
    first = doc["first_request"]
    assert isinstance(first, dict)
    assert 0 < first["median_us"] <= doc["median_us"]
    stages = doc["stages_us"]
    assert isinstance(stages, dict)
    names = list(stages)
    assert names[0] == "publish->book"
    assert names[-1] == "venue_first->venue_last"
    assert pipeline["feed_frames"] >= ticks  # the engine's feed got the diffs over loopback
    assert pipeline["naive_frames"] >= ticks


def test_naive_requests_are_the_engines_bytes() -> None:
    """Same request id, timestamp and client ids: the naive dict + urlencode + hmac +
    json.dumps text is byte for byte what the adapter's builders make."""
    inst = presets.instrument("binance", "BTC")
    key, secret = "k" * 64, "s" * 64
    book = MovingBook(inst, base_ticks=6_500_000, depth=20)
    pipe = NaivePipeline(
        inst, book.snapshot(), NaiveTouchQuoter(5, 10), api_key=key, secret=secret, risk=RISK
    )
    creds = Credentials(key, secret)

    def sign(payload: str) -> str:
        return hmac_hex(creds, "sha256", payload.encode())

    stamp = 1_765_000_000_123
    pipe.next_rid = 7
    place = pipe.signed(
        "order.place",
        {
            "symbol": inst.symbol,
            "side": "SELL",
            "type": "LIMIT_MAKER",
            "quantity": str(inst.lots_to_qty(10)),
            "price": str(inst.ticks_to_price(6_500_006)),
            "newClientOrderId": "bnQuote42",
            "newOrderRespType": "RESULT",
        },
        timestamp_ms=stamp,
    )
    assert place == wire.place_frame(
        7, inst, OrderSide.SELL, OrderType.LIMIT_MAKER, TimeInForce.GTC, quantity_lots=10,
        price_ticks=6_500_006, client_order_id="bnQuote42", api_key=key, recv_window="5000",
        timestamp=str(stamp), sign=sign,
    )  # fmt: skip
    cancel = pipe.signed(
        "order.cancel", {"symbol": inst.symbol, "origClientOrderId": "bnQuote42"}, stamp
    )
    assert cancel == wire.signed_request(
        8, "order.cancel", [("origClientOrderId", "bnQuote42"), ("symbol", inst.symbol)],
        api_key=key, recv_window="5000", timestamp=str(stamp), sign=sign,
    )  # fmt: skip


def test_naive_pipeline_requotes_both_sides_on_every_frame() -> None:
    inst = presets.instrument("binance", "BTC")
    book = MovingBook(inst, base_ticks=6_500_000, depth=50)
    pipe = NaivePipeline(
        inst, book.snapshot(), NaiveTouchQuoter(5, 10), api_key="k", secret="s", risk=RISK
    )
    first = [orjson.loads(r)["method"] for r in pipe.on_frame(book.frame())]
    assert first == ["order.place", "order.place"]
    for _ in range(4):
        methods = [orjson.loads(r)["method"] for r in pipe.on_frame(book.frame())]
        assert methods == ["order.cancel", "order.place"] * 2
    assert pipe.refused == 0
