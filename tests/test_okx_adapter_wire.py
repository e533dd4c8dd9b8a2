"""The OKX adapter's wire half without a network: request bodies byte for byte (the signed
example of docs/VENUES.md §2.5), the venue's codes as typed errors, and the venue's own
`orders` push example (docs/VENUES.md §2.7, /work/shared/PROTOCOLS.md §2.6) decoded."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from engine.gateway.adapter import OrderRequest
from engine.gateway.errors import (
    AuthError,
    ClockSkew,
    InsufficientBalance,
    InvalidOrder,
    OrderNotFound,
    PostOnlyWouldCross,
    RateLimited,
    VenueError,
    VenueUnavailable,
)
from engine.gateway.okx.orders_wire import (
    BodyBuilder,
    fill_from_record,
    report_from_push,
    snapshot_from_order,
    venue_error,
    ws_request,
)
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.wire.okx_signing import okx_sign_rest

D = Decimal
BTC = Instrument(
    "BTC-USDT", "okx", "BTC", "USDT", D("0.1"), D("0.00000001"), D("0.00001"), D(0), 1, 8
)
# the grid of the documented signing example (px "2.15", sz "2")
SMALL = Instrument("BTC-USDT", "okx", "BTC", "USDT", D("0.01"), D("1"), D("1"), D(0), 2, 0)


def test_place_body_is_the_documented_signed_request() -> None:
    request = OrderRequest("b15", SMALL, OrderSide.BUY, OrderType.LIMIT, 2, 215)
    body = BodyBuilder(SMALL).place(request)
    assert body == (
        '{"instId":"BTC-USDT","tdMode":"cash","clOrdId":"b15","side":"buy",'
        '"ordType":"limit","px":"2.15","sz":"2"}'
    )
    sign = okx_sign_rest(
        "22582BD0CFF14C41EDBF1AB98506286D",
        "2020-12-08T09:08:57.715Z",
        "POST",
        "/api/v5/trade/order",
        body,
    )
    assert sign == "dI6rrL9rXW/HdaPKJ/6LC1OgvH4/PYju6R3CqixMTNQ="


@pytest.mark.parametrize(
    ("kind", "tif", "ord_type"),
    [
        (OrderType.LIMIT, TimeInForce.GTC, "limit"),
        (OrderType.LIMIT, TimeInForce.IOC, "ioc"),
        (OrderType.LIMIT, TimeInForce.FOK, "fok"),
        (OrderType.LIMIT_MAKER, TimeInForce.GTC, "post_only"),
    ],
)
def test_bodies_are_json_of_the_grid_values(
    kind: OrderType, tif: TimeInForce, ord_type: str
) -> None:
    request = OrderRequest("mm1000003", BTC, OrderSide.SELL, kind, 100_000, 650_100, tif)
    doc = json.loads(BodyBuilder(BTC).place(request))
    assert doc == {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "clOrdId": "mm1000003",
        "side": "sell",
        "ordType": ord_type,
        "px": "65010.0",
        "sz": "0.00100000",
    }
    market = OrderRequest("m1", BTC, OrderSide.BUY, OrderType.MARKET, 100_000)
    assert json.loads(BodyBuilder(BTC).place(market)) == {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "clOrdId": "m1",
        "side": "buy",
        "ordType": "market",
        "sz": "0.00100000",
        "tgtCcy": "base_ccy",
    }
    amend = json.loads(BodyBuilder(BTC).amend("mm1", 650_000, 0))
    assert amend == {"instId": "BTC-USDT", "clOrdId": "mm1", "newPx": "65000.0"}
    cancel = BodyBuilder(BTC).by_client_id("mm1")
    assert json.loads(ws_request("7", "cancel-order", [cancel])) == {
        "id": "7",
        "op": "cancel-order",
        "args": [{"instId": "BTC-USDT", "clOrdId": "mm1"}],
    }


@pytest.mark.parametrize("cid", ["", "a-b", "a_b", 'q"x', "x" * 33, "é1"])
def test_client_order_ids_outside_okx_alphabet_are_refused(cid: str) -> None:
    request = OrderRequest(cid, BTC, OrderSide.BUY, OrderType.LIMIT, 1, 1)
    with pytest.raises(InvalidOrder):
        BodyBuilder(BTC).place(request)


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("51008", None, InsufficientBalance),
        ("51000", None, InvalidOrder),
        ("51020", None, InvalidOrder),
        ("51121", None, InvalidOrder),
        ("51016", None, InvalidOrder),
        ("50014", 400, InvalidOrder),
        ("51400", None, OrderNotFound),
        ("51401", None, OrderNotFound),
        ("51603", None, OrderNotFound),
        ("51503", None, OrderNotFound),
        ("51511", None, PostOnlyWouldCross),
        ("50011", 429, RateLimited),
        ("50061", None, RateLimited),
        ("", 429, RateLimited),
        ("50101", 401, AuthError),
        ("50105", 401, AuthError),
        ("50111", 401, AuthError),
        ("50113", 401, AuthError),
        ("60024", None, AuthError),
        ("50102", 401, ClockSkew),
        ("60006", None, ClockSkew),
        ("50001", 503, VenueUnavailable),
        ("50026", 500, VenueUnavailable),
        ("", 502, VenueUnavailable),
    ],
)
def test_codes_map_to_typed_errors(code: str, status: int | None, kind: type[VenueError]) -> None:
    error = venue_error(code, "the venue's words", status)
    assert type(error) is kind
    assert (error.venue, error.code, error.venue_message, error.status) == (
        "okx",
        code,
        "the venue's words",
        status,
    )


# the venue's own example push (docs/VENUES.md §2.7 / PROTOCOLS.md §2.6), verbatim fields
PUSH = {
    "accFillSz": "0.001", "algoClOrdId": "", "algoId": "", "amendResult": "", "amendSource": "",
    "avgPx": "65000", "cancelSource": "", "category": "normal", "ccy": "", "clOrdId": "mm1000001",
    "code": "0", "cTime": "1700000000000", "execType": "M", "fee": "-0.0000008", "feeCcy": "BTC",
    "fillFee": "-0.0000008", "fillFeeCcy": "BTC", "fillNotionalUsd": "65", "fillPx": "65000",
    "fillSz": "0.001", "fillPnl": "0", "fillTime": "1700000005000", "instId": "BTC-USDT",
    "instType": "SPOT", "lever": "0", "msg": "", "notionalUsd": "65",
    "ordId": "312269865356374016", "ordType": "post_only", "pnl": "0", "posSide": "", "px": "65000",
    "rebate": "0", "rebateCcy": "USDT", "reduceOnly": "false", "reqId": "", "side": "buy",
    "source": "", "state": "filled", "stpId": "", "stpMode": "cancel_maker", "sz": "0.001",
    "tag": "", "tdMode": "cash", "tgtCcy": "", "tradeId": "242589207", "tradeQuoteCcy": "USDT",
    "lastPx": "65000.1", "uTime": "1700000005001",
}  # fmt: skip


def test_documented_fill_push_decodes() -> None:
    report = report_from_push(BTC, PUSH, recv_ns=42)
    assert report.status is OrderStatus.FILLED and report.side is OrderSide.BUY
    assert (report.client_order_id, report.venue_order_id) == ("mm1000001", "312269865356374016")
    assert (report.trade_id, report.last_price_ticks, report.last_lots) == (
        "242589207",
        650_000,
        100_000,
    )
    assert report.cum_filled_lots == 100_000 and report.is_maker and report.is_fill
    assert (report.fee, report.fee_asset) == (D("0.0000008"), "BTC")  # paid: positive
    assert (report.exchange_ts_ns, report.recv_ts_ns) == (1_700_000_005_000_000_000, 42)


def test_states_cancel_sources_and_rebates() -> None:
    live = report_from_push(
        BTC,
        {**PUSH, "state": "live", "fillSz": "0", "tradeId": "", "accFillSz": "0", "execType": ""},
        0,
    )
    assert live.status is OrderStatus.NEW and not live.is_fill and live.fee == 0
    post_only = report_from_push(
        BTC, {**PUSH, "state": "canceled", "cancelSource": "31", "tradeId": "", "fillSz": "0"}, 0
    )
    assert post_only.status is OrderStatus.CANCELED and post_only.reason.startswith(
        "cancelSource 31"
    )
    mmp = report_from_push(BTC, {**PUSH, "state": "mmp_canceled", "tradeId": ""}, 0)
    assert mmp.status is OrderStatus.CANCELED
    part = report_from_push(BTC, {**PUSH, "state": "partially_filled", "fillFee": "0.0000002"}, 0)
    assert part.status is OrderStatus.PARTIALLY_FILLED and part.fee == D("-0.0000002")  # rebate
    with pytest.raises(ValueError):
        report_from_push(BTC, {**PUSH, "state": "weird"}, 0)
    with pytest.raises(ValueError):
        report_from_push(BTC, {**PUSH, "fillPx": "65000.05"}, 0)  # off the tick grid


def test_query_objects_decode() -> None:
    snap = snapshot_from_order(BTC, {**PUSH, "state": "partially_filled", "sz": "0.002"})
    assert (snap.status, snap.order_type, snap.price_ticks, snap.quantity_lots) == (
        OrderStatus.PARTIALLY_FILLED,
        OrderType.LIMIT_MAKER,
        650_000,
        200_000,
    )
    assert snap.filled_lots == 100_000 and snap.timestamp_ns == 1_700_000_005_001_000_000
    record = fill_from_record(
        BTC,
        {
            "tradeId": "9", "ordId": "1", "clOrdId": "c", "side": "sell", "fillPx": "64999.9",
            "fillSz": "0.5", "fee": "-32.49995", "feeCcy": "USDT", "execType": "T",
            "ts": "1700000000000", "fillTime": "1700000000000",
        },
    )  # fmt: skip
    assert (record.side, record.price_ticks, record.lots, record.fee, record.is_maker) == (
        OrderSide.SELL,
        649_999,
        50_000_000,
        D("32.49995"),
        False,
    )
