"""Execution-report decoding cases: one private-stream frame (bytes, as the venue sends it) to
its ExecutionReport, through engine/_core/reports.pyx, beside the reference path the adapters
run today: `orjson.loads`, the adapter's dispatch checks and the venue's Python decoder.

- reports.binance: a user-data `executionReport` (a TRADE, 35 fields) in the WS API
  subscription envelope; baseline `orjson.loads` + `binance.orders_wire.execution_report`.
- reports.okx: an `orders` channel push with one fill item (the ~60 fields OKX sends);
  baseline `orjson.loads` + `okx.orders_wire.report_from_push`.
- reports.gate: a `spot.usertrades` update with one trade; baseline `orjson.loads` + the
  Gate adapter's `_on_trade` fields through `gate.orders_wire` (without its de-dup and order
  track, which both paths keep in the adapter).

Each frame is a different trade (ids, sizes and prices vary); before timing, both paths
decode every frame and must give equal reports.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

from bench.runner import Pair, case
from engine._core.reports import ReportDecoder
from engine.gateway.adapter import ExecutionReport
from engine.gateway.binance import orders_wire as binance_wire
from engine.gateway.gate import orders_wire as gate_wire
from engine.gateway.okx import orders_wire as okx_wire
from engine.model.enums import OrderSide, OrderStatus
from engine.model.instrument import Instrument
from engine.sim import presets

BATCH = 256
RECV_NS = 1_765_000_000_200_000_000


def _decoder(inst: Instrument) -> ReportDecoder[ExecutionReport]:
    return ReportDecoder(
        [inst], report_type=ExecutionReport, status_type=OrderStatus, side_type=OrderSide
    )


def _check(
    ours: Callable[[bytes], Any], theirs: Callable[[bytes], Any], frames: list[bytes]
) -> None:
    for frame in frames:
        a, b = ours(frame), theirs(frame)
        if repr(a) != repr(b):
            raise AssertionError(f"decoders differ on {frame!r}: {a!r} != {b!r}")


def _pair(
    ours: Callable[[bytes], Any], theirs: Callable[[bytes], Any], frames: list[bytes], about: str
) -> Pair:
    _check(ours, theirs, frames)

    def candidate(n: int) -> None:
        for frame in frames[:n]:
            ours(frame)

    def baseline(n: int) -> None:
        for frame in frames[:n]:
            theirs(frame)

    return Pair(
        candidate, baseline, batch=BATCH, about=about, report={"frame_bytes": len(frames[0])}
    )


def _units(rng: random.Random, step: Decimal, lo: int, hi: int) -> str:
    return f"{step * rng.randint(lo, hi):f}"


@case("reports.binance")
def binance() -> Pair:
    inst = presets.instrument("binance", "BTC")
    rng = random.Random(1)
    frames = []
    for k in range(BATCH):
        event = {
            "e": "executionReport", "E": 1765000000123 + k, "s": "BTCUSDT",
            "c": f"mm1a2b3c{k:06d}", "S": "BUY", "o": "LIMIT_MAKER", "f": "GTC",
            "q": "1.00000000", "p": "65000.10000000", "P": "0.00000000", "F": "0.00000000",
            "g": -1, "C": "", "x": "TRADE", "X": "PARTIALLY_FILLED", "r": "NONE",
            "i": 4293153 + k, "l": _units(rng, inst.lot_size, 1, 1000),
            "z": _units(rng, inst.lot_size, 1000, 2000), "L": "65000.10000000",
            "n": f"0.{rng.randint(1, 99999999):08d}", "N": "USDT", "T": 1765000000120 + k,
            "t": 10_000 + k, "I": 8641984, "w": False, "m": True, "M": True,
            "O": 1765000000001, "Z": "650.00100000", "Y": "65.00010000", "Q": "0.00000000",
            "W": 1765000000001, "V": "EXPIRE_MAKER",
        }  # fmt: skip
        frames.append(orjson.dumps({"subscriptionId": 0, "event": event}))
    dec = _decoder(inst)
    instruments = {inst.symbol: inst}

    def ours(frame: bytes) -> Any:
        return dec.binance(frame, RECV_NS)

    def theirs(frame: bytes) -> Any:
        doc = orjson.loads(frame)
        ev = doc.get("event")
        if not isinstance(ev, dict) or ev.get("e") != "executionReport":
            return None
        found = instruments.get(str(ev.get("s")))
        return None if found is None else binance_wire.execution_report(found, ev, RECV_NS)

    return _pair(
        ours,
        theirs,
        frames,
        "one Binance executionReport frame (TRADE, WS API envelope) -> ExecutionReport; "
        "baseline: orjson.loads + orders_wire.execution_report",
    )


@case("reports.okx")
def okx() -> Pair:
    inst = presets.instrument("okx", "BTC")
    rng = random.Random(2)
    frames = []
    for k in range(BATCH):
        ms = str(1765000000123 + k)
        item = {
            "accFillSz": _units(rng, inst.lot_size, 10**6, 2 * 10**6), "algoClOrdId": "",
            "algoId": "", "attachAlgoClOrdId": "", "attachAlgoOrds": [], "avgPx": "65000.1",
            "cTime": ms, "cancelSource": "", "cancelSourceReason": "", "category": "normal",
            "ccy": "", "clOrdId": f"mm1a2b3c{k:06d}", "fee": "-0.0065", "feeCcy": "USDT",
            "fillPx": "65000.1", "fillSz": _units(rng, inst.lot_size, 1, 10**6),
            "fillTime": ms, "instId": "BTC-USDT", "instType": "SPOT", "isTpLimit": "false",
            "lever": "", "linkedAlgoOrd": {"algoId": ""}, "ordId": str(2_000_000_000 + k),
            "ordType": "post_only", "pnl": "0", "posSide": "net", "px": "65000.1",
            "pxType": "", "pxUsd": "", "pxVol": "", "quickMgnType": "", "rebate": "0",
            "rebateCcy": "USDT", "reduceOnly": "false", "side": "buy", "slOrdPx": "",
            "slTriggerPx": "", "slTriggerPxType": "", "source": "", "state": "partially_filled",
            "stpId": "", "stpMode": "cancel_maker", "sz": "1", "tag": "", "tdMode": "cash",
            "tgtCcy": "", "tpOrdPx": "", "tpTriggerPx": "", "tpTriggerPxType": "",
            "tradeId": str(300_000 + k), "tradeQuoteCcy": "USDT", "uTime": ms,
            "execType": "M", "fillFee": f"-0.{rng.randint(1, 99999999):08d}",
            "fillFeeCcy": "USDT", "lastPx": "65000.1", "amendResult": "", "amendSource": "",
            "code": "0", "msg": "", "reqId": "", "fillNotionalUsd": "", "notionalUsd": "",
            "fillPnl": "0",
        }  # fmt: skip
        arg = {"channel": "orders", "instType": "SPOT", "uid": "44705892343619584"}
        frames.append(orjson.dumps({"arg": arg, "data": [item]}))
    dec = _decoder(inst)
    instruments = {inst.symbol: inst}

    def ours(frame: bytes) -> Any:
        return dec.okx(frame, RECV_NS)

    def theirs(frame: bytes) -> Any:
        doc = orjson.loads(frame)
        arg = doc.get("arg")
        if not (isinstance(arg, dict) and arg.get("channel") == "orders" and "data" in doc):
            return None
        out = []
        for obj in doc["data"]:
            found = instruments.get(obj.get("instId", ""))
            if found is not None:
                out.append(okx_wire.report_from_push(found, obj, RECV_NS))
        return out

    return _pair(
        ours,
        theirs,
        frames,
        "one OKX orders push with one fill item (~60 fields) -> [ExecutionReport]; baseline: "
        "orjson.loads + orders_wire.report_from_push",
    )


def _gate_trade(inst: Instrument, doc: dict[str, Any], recv_ns: int) -> ExecutionReport:
    """GateAdapter._on_trade's report before its order track."""
    return ExecutionReport(
        "gate",
        inst.symbol,
        gate_wire.from_text(doc.get("text")),
        str(doc.get("order_id", "")),
        OrderStatus.PARTIALLY_FILLED,
        gate_wire.side_of(doc),
        cum_filled_lots=-1,
        trade_id=str(doc.get("id")),
        last_price_ticks=gate_wire.ticks(inst, doc.get("price")),
        last_lots=gate_wire.lots(inst, doc.get("amount")),
        fee=gate_wire.decimal(doc.get("fee")),
        fee_asset=str(doc.get("fee_currency") or inst.quote),
        is_maker=doc.get("role") == "maker",
        exchange_ts_ns=gate_wire.ms_to_ns(doc.get("create_time_ms")),
        recv_ts_ns=recv_ns,
    )


@case("reports.gate")
def gate() -> Pair:
    inst = presets.instrument("gate", "BTC")
    rng = random.Random(3)
    frames = []
    for k in range(BATCH):
        trade = {
            "id": 5_736_713 + k, "user_id": 1_000_001, "order_id": str(1_234_567_890 + k),
            "currency_pair": "BTC_USDT", "create_time": 1_765_000_000,
            "create_time_ms": f"1765000000{k:03d}.{rng.randint(0, 9999):04d}",
            "side": "buy", "amount": _units(rng, inst.lot_size, 1, 10**6), "role": "maker",
            "price": "65000.1", "fee": f"0.{rng.randint(1, 99999999):08d}",
            "fee_currency": "USDT", "point_fee": "0", "gt_fee": "0",
            "text": f"t-mm1a2b3c{k:06d}", "id_market": 5_736_713 + k,
        }  # fmt: skip
        frames.append(
            orjson.dumps(
                {
                    "time": 1_765_000_000,
                    "time_ms": 1_765_000_000_123,
                    "channel": "spot.usertrades",
                    "event": "update",
                    "result": [trade],
                }
            )
        )
    dec = _decoder(inst)
    instruments = {inst.symbol: inst}

    def ours(frame: bytes) -> Any:
        return dec.gate(frame, RECV_NS)

    def theirs(frame: bytes) -> Any:
        doc = orjson.loads(frame)
        if "request_id" in doc or doc.get("event") != "update":
            return None
        if doc.get("channel") != "spot.usertrades":
            return None
        out = []
        for item in doc["result"]:
            found = instruments.get(str(item.get("currency_pair")))
            out.append(None if found is None else _gate_trade(found, item, RECV_NS))
        return out

    return _pair(
        ours,
        theirs,
        frames,
        "one Gate spot.usertrades update with one trade -> [ExecutionReport]; baseline: "
        "orjson.loads + the adapter's _on_trade fields through orders_wire",
    )
