"""The tick-to-trade benchmark cases (bench/cases/tick_to_trade.py) in quick mode: each one
runs against the in-process simulator, its JSON has the per-tick figures and the split, and
the pipeline really traded (every tick's requests written, answered, nothing refused, both
quotes resting at the venue) and journaled (two INTENT records a request, on file, before the
request went out; none in the case without the journal). Also: the naive baseline's requests
are the engine's bytes. Timing itself is the benchmark's business: nothing here checks a
figure against a goal."""

from __future__ import annotations

import io
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
from engine.model.instrument import Instrument
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


def _check_traded(doc: dict[str, Any], ticks: int, journal: bool = True) -> dict[str, int]:
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
    assert pipeline["naive_requests"] == pipeline["naive_answers"] >= 2 * ticks
    # the first quotes are two new orders (one record each), every replace two records
    requests = pipeline["oms_requests"]
    assert pipeline["persistence_intents"] == 2 * requests - 2
    assert pipeline["journal_errors"] == 0
    naive_requests = pipeline["naive_requests"]
    if journal:
        # every INTENT on file (CHANGE records come with the answers and reports)
        assert pipeline["journal_records"] > pipeline["persistence_intents"]
        assert pipeline["naive_journal_lines"] == 2 * naive_requests - 2
    else:
        assert pipeline["journal_records"] == 0
        assert pipeline["naive_journal_lines"] == 0
    return pipeline


@pytest.mark.parametrize(
    "name",
    [
        "tick_to_trade.internal",
        "tick_to_trade.internal_nojournal",
        "tick_to_trade.internal_idle",
        "tick_to_trade.pystrategy",
    ],
)
def test_internal_cases_trade_and_report(name: str) -> None:
    doc, ticks = _run(name)
    journal = not name.endswith("nojournal")
    _check_traded(doc, ticks, journal)
    stages = doc["stages_us"]
    assert isinstance(stages, dict)
    assert list(stages) == [
        *(f"{a}->{b}" for a, b in itertools.pairwise(STAGES)),
        "journal_in_sink",
        "sink_after_last_send",
    ]
    assert all(set(s) == {"p50", "p90", "p99"} for s in stages.values())
    sink = stages["intents->first_send"]["p50"] + stages["first_send->last_send"]["p50"]
    assert 0 < stages["journal_in_sink"]["p50"] < sink  # the records are written in the sink


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
    assert names[-3:] == ["venue_first->venue_last", "journal_in_sink", "sink_after_last_send"]
    assert pipeline["feed_frames"] >= ticks  # the engine's feed got the diffs over loopback
    assert pipeline["naive_frames"] >= ticks


def _engine_bytes(inst: Instrument, text: str, key: str, secret: str) -> str:
    """The adapter's builder's text for the request the naive pipeline wrote as `text`: same
    id, timestamp, client ids, side, price and size."""
    doc = orjson.loads(text)
    p = doc["params"]
    creds = Credentials(key, secret)

    def sign(payload: str) -> str:
        return hmac_hex(creds, "sha256", payload.encode())

    common: dict[str, Any] = {
        "quantity_lots": inst.qty_to_lots(p["quantity"]),
        "price_ticks": inst.price_to_ticks(p["price"]),
        "client_order_id": p["newClientOrderId"],
        "api_key": key,
        "recv_window": "5000",
        "timestamp": str(p["timestamp"]),
        "sign": sign,
    }
    side = OrderSide.BUY if p["side"] == "BUY" else OrderSide.SELL
    shape = (doc["id"], inst, side, OrderType.LIMIT_MAKER, TimeInForce.GTC)
    if doc["method"] == "order.place":
        return wire.place_frame(*shape, **common)
    assert doc["method"] == "order.cancelReplace"
    return wire.replace_frame(*shape, cancel_client_order_id=p["cancelOrigClientOrderId"], **common)


def test_naive_requests_are_the_engines_bytes() -> None:
    """The naive dict + urlencode + hmac + json.dumps text of its first quotes (order.place)
    and of a requote (order.cancelReplace) is byte for byte what the adapter's builders make
    for the same request id, timestamp and client ids."""
    inst = presets.instrument("binance", "BTC")
    key, secret = "k" * 64, "s" * 64
    book = MovingBook(inst, base_ticks=6_500_000, depth=20)
    pipe = NaivePipeline(
        inst, book.snapshot(), NaiveTouchQuoter(5, 10), api_key=key, secret=secret, risk=RISK
    )
    pipe.timestamp_ms = 1_765_000_000_123
    first, requote = pipe.on_frame(book.frame()), pipe.on_frame(book.frame())
    assert [orjson.loads(r)["method"] for r in first] == ["order.place"] * 2
    assert [orjson.loads(r)["method"] for r in requote] == ["order.cancelReplace"] * 2
    replaced = [orjson.loads(r)["params"]["cancelOrigClientOrderId"] for r in requote]
    assert replaced == [orjson.loads(r)["params"]["newClientOrderId"] for r in first]
    for text in (*first, *requote):
        assert text == _engine_bytes(inst, text, key, secret)


def test_naive_pipeline_requotes_both_sides_on_every_frame() -> None:
    """One cancelReplace a quote on every frame, each journaled first: the old order's
    cancel and the new order, as the engine's OMS journals a replace."""
    inst = presets.instrument("binance", "BTC")
    book = MovingBook(inst, base_ticks=6_500_000, depth=50)
    journal = io.BytesIO()
    pipe = NaivePipeline(
        inst,
        book.snapshot(),
        NaiveTouchQuoter(5, 10),
        api_key="k",
        secret="s",
        risk=RISK,
        journal=journal,
    )
    first = [orjson.loads(r)["method"] for r in pipe.on_frame(book.frame())]
    assert first == ["order.place", "order.place"]
    for _ in range(4):
        methods = [orjson.loads(r)["method"] for r in pipe.on_frame(book.frame())]
        assert methods == ["order.cancelReplace"] * 2
    assert pipe.refused == 0
    lines = [orjson.loads(line) for line in journal.getvalue().splitlines()]
    assert [line[-1] for line in lines] == ["new"] * 2 + ["cancel", "new"] * 8
    assert pipe.journaled == len(lines) == 18
