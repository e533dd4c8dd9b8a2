"""engine/_core/reports.pyx against the Python reference decoders.

The reference is what each adapter did with a private frame before it used this decoder:
`orjson.loads`, its dispatch and the venue's `orders_wire` decoder (Gate: the item handlers
up to their order-track step), written out below around the real `orders_wire` functions.
For every generated frame (fills, partial fills, cancels, rejects, fee assets, maker/taker,
numbers with and without trailing zeros, shuffled keys, unknown keys, escapes and unicode
where the venue allows) both must give the same records, compared by `repr` (so Decimal
exponents and enum members match too). Malformed, truncated and off-grid frames must raise
`ReportError` (or give a ReportError entry), never a report; the decoder runs with bounds
checks off, so truncations at every offset are decoded through a memoryview whose remainder
is still readable behind it.
"""

from __future__ import annotations

import gc
import json
import random
import string
import sys
import tracemalloc
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine._core import reports as rp
from engine._core.reports import GateOrder, ReportDecoder, ReportError
from engine.gateway.adapter import ExecutionReport
from engine.gateway.binance import orders_wire as bw
from engine.gateway.gate import orders_wire as gw
from engine.gateway.okx import orders_wire as ow
from engine.model.enums import OrderSide, OrderStatus
from engine.model.instrument import Instrument
from engine.sim import presets

Doc = dict[str, Any]
ERROR = "error"  # a reference outcome: the adapter counts the frame (or item) and drops it

INSTRUMENTS = {
    venue: [presets.instrument(venue, "BTC"), presets.instrument(venue, "ETH")]
    for venue in ("binance", "okx", "gate")
}


def decoder(venue: str) -> ReportDecoder[ExecutionReport]:
    return ReportDecoder(
        INSTRUMENTS[venue],
        report_type=ExecutionReport,
        status_type=OrderStatus,
        side_type=OrderSide,
    )


def by_symbol(venue: str) -> dict[str, Instrument]:
    return {i.symbol: i for i in INSTRUMENTS[venue]}


# --- the references ----------------------------------------------------------------------------


def ref_binance(frame: bytes, recv_ns: int) -> Any:
    """BinanceAdapter._on_text / _on_event (executionReport) around orders_wire."""
    try:
        doc = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return ERROR
    if not isinstance(doc, dict):
        return None
    event = doc.get("event")
    if isinstance(event, dict):
        ev = event
    elif "e" in doc:
        ev = doc
    else:
        return None
    if ev.get("e") != "executionReport":
        return None
    inst = by_symbol("binance").get(str(ev.get("s")))
    if inst is None:
        return None
    try:
        return bw.execution_report(inst, ev, recv_ns)
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return ERROR


def ref_okx(frame: bytes, recv_ns: int) -> Any:
    """OkxAdapter._dispatch / _on_orders around orders_wire.report_from_push."""
    try:
        doc = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return ERROR
    if not isinstance(doc, dict):
        return None
    arg = doc.get("arg")
    if not (isinstance(arg, dict) and arg.get("channel") == "orders" and "data" in doc):
        return None
    data = doc["data"]
    if not isinstance(data, list):
        return ERROR
    out: list[Any] = []
    for obj in data:
        inst = by_symbol("okx").get(obj.get("instId", "")) if isinstance(obj, dict) else None
        if inst is None:
            out.append(ERROR)
            continue
        try:
            out.append(ow.report_from_push(inst, obj, recv_ns))
        except ValueError:
            out.append(ERROR)
    return out


def _gate_trade(inst: Instrument, doc: Doc, recv_ns: int) -> ExecutionReport:
    """GateAdapter._on_trade without its de-dup and order track (status and cum as for an
    order it does not track)."""
    return ExecutionReport(
        "gate",
        inst.symbol,
        gw.from_text(doc.get("text")),
        str(doc.get("order_id", "")),
        OrderStatus.PARTIALLY_FILLED,
        gw.side_of(doc),
        cum_filled_lots=-1,
        trade_id=str(doc.get("id")),
        last_price_ticks=gw.ticks(inst, doc.get("price")),
        last_lots=gw.lots(inst, doc.get("amount")),
        fee=gw.decimal(doc.get("fee")),
        fee_asset=str(doc.get("fee_currency") or inst.quote),
        is_maker=doc.get("role") == "maker",
        exchange_ts_ns=gw.ms_to_ns(doc.get("create_time_ms")),
        recv_ts_ns=recv_ns,
    )


def _gate_order(inst: Instrument, doc: Doc, recv_ns: int) -> GateOrder:
    """GateAdapter._on_order up to its track: the report of an order it does not track yet,
    with the event, amount and price its amend/fill decision reads."""
    qty, filled = gw.order_lots(inst, doc)
    price = gw.ticks(inst, doc.get("price"))
    status = gw.status_of(doc, filled, qty)
    report = ExecutionReport(
        "gate",
        inst.symbol,
        gw.from_text(doc.get("text")),
        str(doc.get("id", "")),
        status,
        gw.side_of(doc),
        cum_filled_lots=filled,
        reason=gw.reason_of(doc, status),
        exchange_ts_ns=gw.ms_to_ns(doc.get("update_time_ms")),
        recv_ts_ns=recv_ns,
    )
    event = doc.get("event")
    return GateOrder(report, event if isinstance(event, str) else "", qty, price)


def ref_gate(frame: bytes, recv_ns: int) -> Any:
    """GateAdapter._on_frame / _guarded around the two item handlers."""
    try:
        doc = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return ERROR
    if not isinstance(doc, dict) or "request_id" in doc:
        return None
    channel = doc.get("channel")
    result = doc.get("result")
    if doc.get("event") != "update" or channel not in ("spot.usertrades", "spot.orders"):
        return None
    if not isinstance(result, list):
        return None
    out: list[Any] = []
    for item in result:
        if not isinstance(item, dict):
            out.append(ERROR)
            continue
        inst = by_symbol("gate").get(str(item.get("currency_pair")))
        if inst is None:
            out.append(None)
            continue
        try:
            if channel == "spot.usertrades":
                out.append(_gate_trade(inst, item, recv_ns))
            else:
                out.append(_gate_order(inst, item, recv_ns))
        except Exception:
            out.append(ERROR)
    return out


REFERENCE: dict[str, Callable[[bytes, int], Any]] = {
    "binance": ref_binance,
    "okx": ref_okx,
    "gate": ref_gate,
}


def ours(venue: str, dec: ReportDecoder[ExecutionReport], frame: Any, recv_ns: int) -> Any:
    """The decoder's outcome in the reference's terms (ReportError -> ERROR)."""
    method = getattr(dec, venue)
    try:
        got = method(frame, recv_ns)
    except ReportError:
        return ERROR
    if isinstance(got, list):
        return [ERROR if isinstance(x, ReportError) else x for x in got]
    return got


def same(a: Any, b: Any) -> bool:
    return repr(a) == repr(b) and a == b


def assert_same(venue: str, frame: bytes, recv_ns: int = 17) -> Any:
    want = REFERENCE[venue](frame, recv_ns)
    got = ours(venue, decoder(venue), frame, recv_ns)
    assert same(got, want), f"{venue} {frame!r}:\n ours {got!r}\n ref  {want!r}"
    return got


def never_wrong(venue: str, dec: ReportDecoder[ExecutionReport], frame: Any) -> None:
    """Whatever the bytes: no crash, and every record we give is the reference's."""
    got = ours(venue, dec, frame, 5)
    if got is None or got == ERROR:
        return
    want = REFERENCE[venue](bytes(frame), 5)
    if isinstance(got, list):
        assert isinstance(want, list) and len(got) == len(want), (frame, got, want)
        for g, w in zip(got, want, strict=True):
            if g is not None and g != ERROR:
                assert same(g, w), (frame, g, w)
    else:
        assert same(got, want), (frame, got, want)


# --- generators --------------------------------------------------------------------------------

UNICODE = "éß中文🚀Ωж"


def num_text(rng: random.Random, units: int, step: Decimal, decimals: int) -> str:
    """A grid value as a venue may print it: padded to its decimals, padded further, or with
    trailing zeros stripped."""
    value = step * units
    how = rng.random()
    if how < 0.4:
        return f"{value:.{decimals}f}"
    if how < 0.6:
        return f"{value:.{decimals + rng.randint(1, 4)}f}"
    text = f"{value.normalize():f}"
    return text


def price(rng: random.Random, inst: Instrument) -> str:
    return num_text(rng, rng.randint(1, 10**7), inst.tick_size, inst.price_decimals)


def qty(rng: random.Random, inst: Instrument, lo: int = 1) -> str:
    return num_text(rng, rng.randint(lo, 10**6), inst.lot_size, inst.qty_decimals)


def fee_text(rng: random.Random) -> str:
    return rng.choice(
        [
            "0",
            "0.00000000",
            f"0.{rng.randint(1, 10**8):08d}",
            f"{rng.randint(0, 99)}.{rng.randint(0, 10**4)}",
            "1E-8",
            "-0.0001",
            "12.500",
        ]
    )


def ident(rng: random.Random, alphabet: str, lo: int, hi: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def junk(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            True,
            False,
            0,
            -12,
            3.25,
            1e-7,
            "",
            "x",
            UNICODE,
            'quote"back\\slash\n',
            [],
            {},
            [1, "a", {"b": [None, 2.5]}],
            {"nested": {"deep": [[], {}]}},
        ]
    )


def add_unknown(rng: random.Random, doc: Doc) -> None:
    for _ in range(rng.randint(0, 3)):
        doc[ident(rng, string.ascii_letters, 2, 12) + "_x"] = junk(rng)


def shuffled(rng: random.Random, doc: Doc) -> Doc:
    items = list(doc.items())
    if rng.random() < 0.5:
        rng.shuffle(items)
    return dict(items)


def dump(rng: random.Random, doc: Any) -> bytes:
    how = rng.random()
    if how < 0.3:
        return orjson.dumps(doc)
    if how < 0.5:
        return json.dumps(doc, ensure_ascii=True).encode()  # \u escapes for non-ASCII
    if how < 0.7:
        return json.dumps(doc, ensure_ascii=False, indent=rng.choice([None, 1])).encode()
    return (" \n" + json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\t").encode()


BN_EXEC = ["NEW", "TRADE", "TRADE", "TRADE", "CANCELED", "EXPIRED", "REPLACED", "REJECTED",
           "TRADE_PREVENTION", "AMENDMENT"]  # fmt: skip


def binance_event(rng: random.Random, inst: Instrument | None = None) -> Doc:
    inst = inst or rng.choice(INSTRUMENTS["binance"])
    x = rng.choice(BN_EXEC)
    trade = x == "TRADE"
    cid_alpha = string.ascii_letters + string.digits + "-_"
    ev: Doc = {
        "e": "executionReport",
        "E": rng.randint(1_600_000_000_000, 1_800_000_000_000),
        "s": inst.symbol,
        "c": ident(rng, cid_alpha, 1, 36) if rng.random() < 0.9 else rng.choice(["", None]),
        "S": rng.choice(["BUY", "SELL"]),
        "o": rng.choice(["LIMIT", "LIMIT_MAKER", "MARKET"]),
        "f": "GTC",
        "q": qty(rng, inst),
        "p": price(rng, inst),
        "P": "0.00000000",
        "F": "0.00000000",
        "g": -1,
        "C": rng.choice(["", ident(rng, cid_alpha, 1, 36)]),
        "x": x,
        "X": rng.choice(list(bw.STATUS)),
        "r": rng.choice(["NONE", "NONE", "INSUFFICIENT_BALANCE", "UNKNOWN_ORDER"]),
        "i": rng.randint(1, 2**40),
        "l": qty(rng, inst) if trade else "0.00000000",
        "z": qty(rng, inst, 0),
        "L": price(rng, inst) if trade else "0.00000000",
        "n": fee_text(rng) if trade else "0",
        "N": rng.choice(["USDT", "BTC", "BNB", "", None]) if trade else None,
        "T": rng.randint(1_600_000_000_000, 1_800_000_000_000),
        "t": rng.randint(1, 2**40) if trade else -1,
        "I": rng.randint(1, 2**40),
        "w": rng.random() < 0.5,
        "m": rng.random() < 0.5,
        "M": True,
        "O": 1_765_000_000_001,
        "Z": "0.65",
        "Y": "0.65",
        "Q": "0.00000000",
        "W": 1_765_000_000_001,
        "V": "EXPIRE_MAKER",
    }
    for key in ("C", "N", "r", "z", "E", "i", "m") if rng.random() < 0.2 else ():
        if rng.random() < 0.3:
            ev.pop(key, None)
    add_unknown(rng, ev)
    return shuffled(rng, ev)


def binance_frame(rng: random.Random, inst: Instrument | None = None) -> bytes:
    ev = binance_event(rng, inst)
    if rng.random() < 0.3:
        return dump(rng, ev)  # the listenKey stream: bare
    doc = {"subscriptionId": rng.randint(0, 9), "event": ev}
    return dump(rng, shuffled(rng, doc))


OKX_STATES = ["live", "partially_filled", "filled", "canceled", "mmp_canceled"]


def okx_item(rng: random.Random, inst: Instrument | None = None) -> Doc:
    inst = inst or rng.choice(INSTRUMENTS["okx"])
    fill = rng.random() < 0.5
    ms = str(rng.randint(1_600_000_000_000, 1_800_000_000_000))
    obj: Doc = {
        "accFillSz": qty(rng, inst, 0) if rng.random() < 0.9 else "",
        "algoClOrdId": "",
        "attachAlgoOrds": [],
        "avgPx": price(rng, inst),
        "cTime": ms,
        "cancelSource": rng.choice(["", "", "1", "13", "14", "31", "32", "99"]),
        "clOrdId": ident(rng, string.ascii_letters + string.digits, 0, 32),
        "fee": "-" + fee_text(rng).lstrip("-"),
        "feeCcy": rng.choice(["USDT", "BTC", ""]),
        "fillPx": price(rng, inst) if fill else "",
        "fillSz": qty(rng, inst) if fill else rng.choice(["0", ""]),
        "fillTime": ms if fill else "",
        "instId": inst.symbol,
        "instType": "SPOT",
        "linkedAlgoOrd": {"algoId": ""},
        "ordId": str(rng.randint(1, 10**18)),
        "ordType": rng.choice(["limit", "post_only", "ioc", "market"]),
        "px": price(rng, inst),
        "side": rng.choice(["buy", "sell"]),
        "state": rng.choice(OKX_STATES),
        "sz": qty(rng, inst),
        "tag": "",
        "tdMode": "cash",
        "tradeId": str(rng.randint(1, 10**9)) if fill else "",
        "uTime": str(int(ms) + rng.randint(0, 9)),
        "execType": rng.choice(["M", "T"]) if fill else "",
        "fillFee": "-" + fee_text(rng).lstrip("-") if fill else "0",
        "fillFeeCcy": rng.choice(["USDT", "BTC", ""]) if fill else "",
        "amendResult": rng.choice(["", "", "0", "-1"]),
        "code": "0",
        "msg": "",
    }
    if rng.random() < 0.1:
        obj.pop(rng.choice(["accFillSz", "cancelSource", "fillFeeCcy", "uTime", "execType"]))
    add_unknown(rng, obj)
    return shuffled(rng, obj)


def okx_frame(rng: random.Random, items: list[Doc] | None = None) -> bytes:
    data = items if items is not None else [okx_item(rng) for _ in range(rng.randint(1, 3))]
    arg = shuffled(rng, {"channel": "orders", "instType": "SPOT", "uid": "44705892343619584"})
    doc: Doc = {"arg": arg, "data": data}
    if rng.random() < 0.2:
        doc = {"data": data, "arg": arg}  # data before arg: the two-pass path
    return dump(rng, doc)


def gate_text(rng: random.Random) -> Any:
    return rng.choice(
        [
            "t-" + ident(rng, string.ascii_letters + string.digits + "_.-", 1, 28),
            "t-" + ident(rng, string.ascii_letters + string.digits, 1, 20),
            "apiv4",
            "web",
            "t-" + UNICODE,
            UNICODE,
            "",
        ]
    )


def gate_ms(rng: random.Random) -> Any:
    ms = rng.randint(1_600_000_000_000, 1_800_000_000_000)
    return rng.choice(
        [ms, str(ms), f"{ms}.{rng.randint(0, 9999)}", f"{ms}.{rng.randint(0, 10**9):09d}"]
    )


def gate_trade(rng: random.Random, inst: Instrument | None = None) -> Doc:
    inst = inst or rng.choice(INSTRUMENTS["gate"])
    trade_id = rng.randint(1, 2**40)
    doc: Doc = {
        "id": trade_id,
        "user_id": rng.randint(1, 10**7),
        "order_id": str(rng.randint(1, 10**12)),
        "currency_pair": inst.symbol,
        "create_time": 1_700_000_000,
        "create_time_ms": gate_ms(rng),
        "side": rng.choice(["buy", "sell"]),
        "amount": qty(rng, inst),
        "role": rng.choice(["maker", "taker"]),
        "price": price(rng, inst),
        "fee": fee_text(rng),
        "fee_currency": rng.choice(["USDT", "BTC", "GT", ""]),
        "point_fee": "0",
        "gt_fee": "0",
        "text": gate_text(rng),
        "id_market": trade_id,
    }
    if rng.random() < 0.15:
        doc.pop(rng.choice(["fee", "fee_currency", "text", "create_time_ms", "role"]))
    add_unknown(rng, doc)
    return shuffled(rng, doc)


GATE_FINISH = ["open", "filled", "cancelled", "ioc", "stp", "poc", "-", "", "liquidate_cancelled",
               "depth_not_enough", "trader_not_enough", "small"]  # fmt: skip


def gate_order(rng: random.Random, inst: Instrument | None = None) -> Doc:
    inst = inst or rng.choice(INSTRUMENTS["gate"])
    amount = rng.randint(1, 10**6)
    filled = rng.choice([0, amount, rng.randint(0, amount)])
    doc: Doc = {
        "id": str(rng.randint(1, 10**12)),
        "text": gate_text(rng),
        "amend_text": "-",
        "create_time": "1700000000",
        "update_time": "1700000001",
        "create_time_ms": str(rng.randint(1_600_000_000_000, 1_800_000_000_000)),
        "update_time_ms": gate_ms(rng),
        "currency_pair": inst.symbol,
        "type": "limit",
        "account": "spot",
        "side": rng.choice(["buy", "sell"]),
        "amount": num_text(rng, amount, inst.lot_size, inst.qty_decimals),
        "price": price(rng, inst),
        "time_in_force": rng.choice(["gtc", "ioc", "poc"]),
        "iceberg": "0",
        "left": num_text(rng, amount - filled, inst.lot_size, inst.qty_decimals),
        "filled_amount": num_text(rng, filled, inst.lot_size, inst.qty_decimals),
        "filled_total": "0",
        "avg_deal_price": "0",
        "fee": fee_text(rng),
        "fee_currency": "USDT",
        "stp_id": 0,
        "stp_act": "-",
        "finish_as": rng.choice(GATE_FINISH),
        "event": rng.choice(["put", "update", "finish"]),
        "user": 123,
        "biz_info": "-",
    }
    if rng.random() < 0.2:
        doc["status"] = rng.choice(["open", "closed", "cancelled"])
    if rng.random() < 0.2:
        doc.pop("filled_amount")
    if rng.random() < 0.1:
        doc.pop(rng.choice(["price", "left", "finish_as", "text", "update_time_ms"]))
    add_unknown(rng, doc)
    return shuffled(rng, doc)


def gate_frame(
    rng: random.Random, trades: bool | None = None, items: list[Doc] | None = None
) -> bytes:
    if trades is None:
        trades = rng.random() < 0.5
    make = gate_trade if trades else gate_order
    result = items if items is not None else [make(rng) for _ in range(rng.randint(1, 3))]
    doc: Doc = {
        "time": 1_700_000_000,
        "time_ms": 1_700_000_000_123,
        "channel": "spot.usertrades" if trades else "spot.orders",
        "event": "update",
        "result": result,
    }
    return dump(rng, shuffled(rng, doc))


FRAMES: dict[str, Callable[[random.Random], bytes]] = {
    "binance": binance_frame,
    "okx": okx_frame,
    "gate": gate_frame,
}
VENUES = list(FRAMES)


# --- differential: generated frames ---------------------------------------------------------


@pytest.mark.parametrize("venue", VENUES)
def test_generated_frames_match_the_reference(venue: str) -> None:
    rng = random.Random(f"reports-{venue}")
    dec = decoder(venue)
    reports = 0
    for k in range(600):
        frame = FRAMES[venue](rng)
        want = REFERENCE[venue](frame, k)
        got = ours(venue, dec, frame, k)
        assert same(got, want), f"{frame!r}:\n ours {got!r}\n ref  {want!r}"
        # generated frames are all well-formed: no error either way
        assert want != ERROR and (not isinstance(want, list) or ERROR not in want), want
        reports += len(got) if isinstance(got, list) else int(got is not None)
    assert reports > 500
    assert dec.errors == 0


@pytest.mark.parametrize("venue", VENUES)
def test_buffers_other_than_bytes(venue: str) -> None:
    rng = random.Random(f"buffers-{venue}")
    for _ in range(20):
        frame = FRAMES[venue](rng)
        want = ours(venue, decoder(venue), frame, 3)
        for view in (bytearray(frame), memoryview(frame), memoryview(b"xx" + frame + b"yy")[2:-2]):
            assert same(ours(venue, decoder(venue), view, 3), want)


@pytest.mark.parametrize("venue", VENUES)
def test_str_frames_as_aiohttp_delivers_them(venue: str) -> None:
    rng = random.Random(f"str-{venue}")
    for _ in range(30):
        frame = FRAMES[venue](rng)
        want = ours(venue, decoder(venue), frame, 3)
        assert same(ours(venue, decoder(venue), frame.decode(), 3), want)
    with pytest.raises(ReportError) as info:
        getattr(decoder(venue), venue)('{"e":"\ud800"}', 0)  # a lone surrogate
    assert info.value.status == rp.ERR_JSON


def test_report_type_must_be_the_report_named_tuple() -> None:
    for bad in (tuple, dict, GateOrder, ExecutionReport("a", "b", "c", "d", 1, 2)):
        with pytest.raises(TypeError):
            ReportDecoder([], report_type=bad, status_type=OrderStatus, side_type=OrderSide)


def test_binance_fill_fields() -> None:
    inst = INSTRUMENTS["binance"][0]
    ev = binance_event(random.Random(1), inst)
    ev.update(x="TRADE", X="PARTIALLY_FILLED", L="65000.10", l="0.00100000", z="0.00300",
              n="0.00065000", N="USDT", m=True, t=77, E=1765000000123)  # fmt: skip
    frame = orjson.dumps({"subscriptionId": 3, "event": ev})
    got = assert_same("binance", frame)
    assert got.last_price_ticks == 6_500_010
    assert (got.last_lots, got.cum_filled_lots, got.trade_id) == (100, 300, "77")
    assert repr(got.fee) == "Decimal('0.00065000')" and got.is_maker
    assert got.exchange_ts_ns == 1_765_000_000_123_000_000


def test_binance_cancel_reports_the_original_client_id() -> None:
    ev = binance_event(random.Random(2), INSTRUMENTS["binance"][0])
    ev.update(x="CANCELED", X="CANCELED", c="cancel-req", C="orig-id")
    got = assert_same("binance", orjson.dumps(ev))
    assert got.client_order_id == "orig-id" and got.last_lots == 0 and got.trade_id == ""


def test_binance_frames_that_are_not_reports() -> None:
    dec = decoder("binance")
    for frame in (
        b'{"id":7,"status":200,"result":{"orderId":1},"rateLimits":[]}',
        b'{"subscriptionId":0,"event":{"e":"outboundAccountPosition","B":[]}}',
        b'{"e":"balanceUpdate","a":"BTC","d":"1.0"}',
        b'{"subscriptionId":0,"event":{"e":"executionReport","s":"DOGEUSDT","X":"NEW"}}',
        b"[1,2]",
        b'"executionReport"',
        b"{}",
    ):
        assert dec.binance(frame, 0) is None
        assert REFERENCE["binance"](frame, 0) is None


def test_okx_items_one_by_one() -> None:
    rng = random.Random(3)
    good = okx_item(rng, INSTRUMENTS["okx"][0])
    unknown = dict(good, instId="DOGE-USDT")
    bad_state = dict(good, state="weird")
    off_grid = dict(good, tradeId="9", fillSz="0.000000001")
    frame = orjson.dumps({"arg": {"channel": "orders"}, "data": [good, unknown, bad_state,
                                                                 off_grid, 5]})  # fmt: skip
    got = decoder("okx").okx(frame, 1)
    assert got is not None
    assert isinstance(got[0], ExecutionReport)
    assert [e.status for e in got[1:]] == [  # type: ignore[union-attr]
        rp.ERR_SYMBOL,
        rp.ERR_VALUE,
        -2,  # fixedpoint's ERR_OFF_GRID
        rp.ERR_TYPE,
    ]
    assert_same("okx", frame)


def test_okx_fill_fee_sign_and_reason() -> None:
    item = okx_item(random.Random(4), INSTRUMENTS["okx"][0])
    item.update(tradeId="12", fillSz="0.5", fillPx="65000.1", fillFee="-0.0325",
                fillFeeCcy="", feeCcy="USDT", cancelSource="", amendResult="0",
                execType="M", state="partially_filled")  # fmt: skip
    got = assert_same("okx", orjson.dumps({"arg": {"channel": "orders"}, "data": [item]}))
    assert repr(got[0].fee) == "Decimal('0.0325')" and got[0].fee_asset == "USDT"
    assert got[0].reason == "amended" and got[0].is_maker


def test_okx_frames_that_are_not_orders_pushes() -> None:
    dec = decoder("okx")
    for frame in (
        b'{"event":"login","code":"0","msg":""}',
        b'{"id":"12","op":"order","code":"0","data":[{"sCode":"0"}]}',
        b'{"arg":{"channel":"account"},"data":[{}]}',
        b'{"arg":{"channel":"orders"}}',
        b"{}",
    ):
        assert dec.okx(frame, 0) is None
        assert REFERENCE["okx"](frame, 0) is None


def test_gate_trade_and_order_fields() -> None:
    inst = INSTRUMENTS["gate"][0]
    trade = gate_trade(random.Random(5), inst)
    trade.update(id=88, order_id="99", amount="0.25", price="65000.1", fee="0.0001",
                 fee_currency="", role="maker", text="t-abc",
                 create_time_ms="1700000000213.4578")  # fmt: skip
    got = assert_same("gate", orjson.dumps(
        {"channel": "spot.usertrades", "event": "update", "result": [trade]}))  # fmt: skip
    report = got[0]
    assert (report.trade_id, report.venue_order_id, report.client_order_id) == ("88", "99", "abc")
    assert report.fee_asset == "USDT" and report.status is OrderStatus.PARTIALLY_FILLED
    assert report.exchange_ts_ns == 1_700_000_000_213_457_800 and report.cum_filled_lots == -1
    order = gate_order(random.Random(6), inst)
    order.update(event="finish", finish_as="poc", amount="1", left="1", filled_amount="0",
                 price="65000.1", status="open")  # fmt: skip
    got = assert_same("gate", orjson.dumps(
        {"channel": "spot.orders", "event": "update", "result": [order]}))  # fmt: skip
    update = got[0]
    assert isinstance(update, GateOrder)
    assert update.report.status is OrderStatus.CANCELED and update.report.reason == "poc"
    assert (update.event, update.qty_lots, update.price_ticks) == ("finish", 1_000_000, 650_001)


def test_gate_frames_that_are_not_updates() -> None:
    dec = decoder("gate")
    for frame in (
        b'{"time":1,"channel":"spot.orders","event":"subscribe","result":{"status":"success"}}',
        b'{"time":1,"channel":"spot.balances","event":"update","result":[{}]}',
        b'{"request_id":"5","ack":true,"header":{},"data":{}}',
        b'{"channel":"spot.orders","event":"update","result":{"id":"1"}}',
        b'{"time":1,"channel":"spot.pong","event":"","result":null}',
    ):
        assert dec.gate(frame, 0) is None
        assert REFERENCE["gate"](frame, 0) is None


def test_gate_item_of_another_pair_is_none() -> None:
    trade = dict(gate_trade(random.Random(7)), currency_pair="DOGE_USDT")
    frame = orjson.dumps({"channel": "spot.usertrades", "event": "update", "result": [trade, 1]})
    got = decoder("gate").gate(frame, 0)
    assert got is not None and got[0] is None and isinstance(got[1], ReportError)
    assert_same("gate", frame)


def test_timestamps_in_uncommon_shapes_follow_the_reference() -> None:
    inst = INSTRUMENTS["gate"][0]
    for ms in (0, "0", "1700000000213", "1700000000213.", ".5", "1e3", " 12", "1_000", "abc",
               "99999999999999999999", "12.1234567890123456789", 1.5, -7, "-7.5", True, None,
               "١٢٣"):  # fmt: skip
        trade = dict(gate_trade(random.Random(8), inst), create_time_ms=ms)
        assert_same("gate", orjson.dumps(
            {"channel": "spot.usertrades", "event": "update", "result": [trade]}))  # fmt: skip
    for u in ("", "1700000000213", "99999999999999999999", "12a", "١٢٣", "²"):
        item = dict(okx_item(random.Random(9), INSTRUMENTS["okx"][0]), uTime=u, tradeId="")
        assert_same("okx", orjson.dumps({"arg": {"channel": "orders"}, "data": [item]}))


# --- errors: malformed, off-grid, stricter corners --------------------------------------------


def _binance_ev(**changes: Any) -> bytes:
    ev = binance_event(random.Random(10), INSTRUMENTS["binance"][0])
    ev.update(x="TRADE", X="PARTIALLY_FILLED", L="65000.10", l="0.001", z="0.002", t=5)
    for key, value in changes.items():
        if value is KeyError:
            ev.pop(key, None)
        else:
            ev[key] = value
    return orjson.dumps({"subscriptionId": 0, "event": ev})


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"X": "SOMETHING"}, rp.ERR_VALUE),
        ({"X": KeyError}, rp.ERR_MISSING),
        ({"S": "HOLD"}, rp.ERR_VALUE),
        ({"L": "65000.101"}, -2),  # off the 0.01 tick
        ({"l": "0.000001"}, -2),
        ({"l": "1e-3"}, -1),
        ({"z": ""}, -1),
        ({"L": KeyError}, rp.ERR_MISSING),
        ({"t": KeyError}, rp.ERR_MISSING),
        ({"n": "abc"}, rp.ERR_VALUE),
        # stricter than the reference (documented): it would accept these
        ({"n": "NaN"}, rp.ERR_VALUE),
        ({"L": 65000.1}, rp.ERR_TYPE),
        ({"z": 0}, rp.ERR_TYPE),
        ({"E": "1765000000123"}, rp.ERR_TYPE),
        ({"E": True}, rp.ERR_TYPE),
        ({"m": 1}, rp.ERR_TYPE),
        ({"c": 12}, rp.ERR_TYPE),
        ({"i": 1.5}, rp.ERR_TYPE),
    ],
)
def test_binance_bad_reports_raise(changes: dict[str, Any], status: int) -> None:
    dec = decoder("binance")
    with pytest.raises(ReportError) as info:
        dec.binance(_binance_ev(**changes), 0)
    assert info.value.status == status
    assert dec.errors == 1 and dec.reports == 0


def test_escaped_and_duplicate_keys_raise() -> None:
    dec = decoder("binance")
    good = _binance_ev()
    escaped = good.replace(b'"L":', b'"\\u004c":')
    assert ref_binance(escaped, 0) == ref_binance(good, 0)  # the reference reads it as L
    with pytest.raises(ReportError) as info:
        dec.binance(escaped, 0)
    assert info.value.status == rp.ERR_VALUE
    duplicated = good.replace(b'"L":', b'"L":"1.00","L":')
    with pytest.raises(ReportError) as info:
        dec.binance(duplicated, 0)
    assert info.value.status == rp.ERR_DUPLICATE
    dup_item = orjson.dumps({"arg": {"channel": "orders"}, "data": [okx_item(random.Random(1))]})
    dup_item = dup_item.replace(b'"state":', b'"state":"live","state":')
    got = decoder("okx").okx(dup_item, 0)
    assert got is not None and isinstance(got[0], ReportError)
    assert got[0].status == rp.ERR_DUPLICATE


def test_malformed_json_raises() -> None:
    for venue, frame in (
        ("binance", b'{"subscriptionId":0,"event":{"e":"executionReport",}}'),
        ("binance", b'{"e":"executionReport","s":"BTCUSDT"'),
        ("binance", b'{"e":"executionReport"} x'),
        ("binance", b'{"e":"execution\xffReport"}'),
        ("binance", b'{"e":"executionReport","x":[1,2}'),
        ("binance", b'{"e":"executionReport","x":01}'),
        ("okx", b'{"arg":{"channel":"orders"},"data":[{"a":1},]}'),
        ("okx", b'{"arg":{"channel":"orders"},"data":[{"a":"\\ud800"}]}'),
        ("gate", b'{"channel":"spot.orders","event":"update","result":[{"id":tru}]}'),
        (
            "gate",
            b'{"channel":"spot.orders","event":"update","result":['
            + b"[" * 100
            + b"]" * 100
            + b"]}",
        ),
        ("gate", b""),
        ("gate", b"   "),
        ("okx", b"pong"),
    ):
        with pytest.raises(ReportError) as info:
            getattr(decoder(venue), venue)(frame, 0)
        assert info.value.status == rp.ERR_JSON, frame


def test_okx_data_not_an_array_raises() -> None:
    frame = b'{"arg":{"channel":"orders"},"data":{"state":"live"}}'
    assert ref_okx(frame, 0) == ERROR
    with pytest.raises(ReportError) as info:
        decoder("okx").okx(frame, 0)
    assert info.value.status == rp.ERR_TYPE


@pytest.mark.parametrize(
    ("trades", "changes", "status"),
    [
        (True, {"amount": "0.0000001"}, -2),
        (True, {"price": "65000.15"}, -2),
        (True, {"fee": "x"}, rp.ERR_VALUE),  # the reference reads a bad fee as 0
        (True, {"side": "hold"}, rp.ERR_VALUE),  # the reference reads it as sell
        (True, {"id": None}, rp.ERR_TYPE),
        (True, {"amount": None}, rp.ERR_TYPE),
        (True, {"price": 65000}, rp.ERR_TYPE),
        (False, {"amount": "1.00000001"}, -2),
        (False, {"left": 5}, rp.ERR_TYPE),
        (False, {"finish_as": 3}, rp.ERR_TYPE),
        (False, {"id": [1]}, rp.ERR_TYPE),
        (True, {"create_time_ms": "Infinity"}, rp.ERR_VALUE),
    ],
)
def test_gate_bad_items(trades: bool, changes: Doc, status: int) -> None:
    rng = random.Random(11)
    item = (gate_trade if trades else gate_order)(rng, INSTRUMENTS["gate"][0])
    item.update(changes)
    frame = gate_frame(rng, trades, [item])
    got = decoder("gate").gate(frame, 0)
    assert got is not None and isinstance(got[0], ReportError)
    assert got[0].status == status


# --- bounds: truncations, flips, random bytes -----------------------------------------------


@pytest.mark.parametrize("venue", VENUES)
def test_every_truncation_raises(venue: str) -> None:
    """Each prefix is decoded as a view into the whole frame: a read past its end would see
    the real remainder and could succeed, so every prefix must be ERR_JSON."""
    rng = random.Random(f"cut-{venue}")
    dec = decoder(venue)
    method = getattr(dec, venue)
    for _ in range(6):
        frame = FRAMES[venue](rng).rstrip()
        view = memoryview(frame)
        for k in range(len(frame)):
            with pytest.raises(ReportError) as info:
                method(view[:k], 0)
            assert info.value.status == rp.ERR_JSON, (k, frame[:k])
        assert dec.reports == 0 or method(frame, 0) is not None


@pytest.mark.parametrize("venue", VENUES)
def test_byte_flips_never_give_a_wrong_report(venue: str) -> None:
    rng = random.Random(f"flip-{venue}")
    dec = decoder(venue)
    alphabet = b'{}[]",:\\ 0123456789.-eE\x00\xff\xc3tfnu'
    for _ in range(60):
        frame = bytearray(FRAMES[venue](rng))
        for _ in range(25):
            mutated = bytearray(frame)
            for _ in range(rng.randint(1, 3)):
                pos = rng.randrange(len(mutated))
                if rng.random() < 0.8:
                    mutated[pos] = rng.choice(alphabet)
                else:
                    del mutated[pos]
            never_wrong(venue, dec, bytes(mutated))


@pytest.mark.parametrize("venue", VENUES)
def test_random_bytes(venue: str) -> None:
    rng = random.Random(f"noise-{venue}")
    dec = decoder(venue)
    for _ in range(500):
        frame = bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
        never_wrong(venue, dec, frame)


# --- fee text and object lifetimes ---------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False).map(str),
        st.from_regex(r"\A[ +\-]?[0-9_]{0,6}(\.[0-9]{0,9})?([eE][+\-]?[0-9]{1,3})? ?\Z"),
        st.sampled_from(["NaN", "-Infinity", "sNaN", "inf", "1e999999999", "0x10", "½"]),
    )
)
def test_binance_fee_text_like_the_reference(fee: str) -> None:
    """The fee goes through Decimal as in the reference; a non-finite one is refused."""
    frame = _binance_ev(n=fee)
    want = ref_binance(frame, 0)
    got = ours("binance", decoder("binance"), frame, 0)
    if want != ERROR and want.fee.is_finite():
        assert same(got, want)
    else:
        assert got == ERROR


def test_no_reference_leaks() -> None:
    """Records are allocated in C (tp_alloc + items): every object a report holds is owned
    once, and dropping the reports frees them."""
    rng = random.Random(12)
    frames = {venue: [FRAMES[venue](rng) for _ in range(50)] for venue in VENUES}
    decoders = {venue: decoder(venue) for venue in VENUES}
    keep = [OrderStatus.PARTIALLY_FILLED, OrderSide.BUY, INSTRUMENTS["binance"][0].symbol]

    def run() -> None:
        for venue in VENUES:
            for frame in frames[venue]:
                got = ours(venue, decoders[venue], frame, 1)
                items = got if isinstance(got, list) else [got]
                for item in items:
                    if isinstance(item, tuple):
                        assert gc.is_tracked(item)
                        _ = [repr(x) for x in item]

    run()
    # Garbage left by earlier tests may still hold these objects; collect it first so a
    # later collection cannot lower the counts and read as a leak the other way.
    gc.collect()
    counts = [sys.getrefcount(x) for x in keep]
    tracemalloc.start()
    try:
        run()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(5):
            run()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert [sys.getrefcount(x) for x in keep] == counts
    assert grown < 64 * 1024, grown
