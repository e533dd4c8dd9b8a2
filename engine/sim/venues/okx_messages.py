"""OKX v5 message shapes for the simulator: number strings, error codes, order objects,
order-request parsing and the order-book checksum (docs/VENUES.md §2).

Venue-neutral engine values come in (ticks, lots, `Reason`, `OrderSnapshot`), OKX's exact
JSON shapes go out. Nothing here does I/O.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from engine._core.fixedpoint import GridError
from engine.model.enums import OrderSide, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.sim.errors import Reason
from engine.sim.matching import Fill, OrderRequest, OrderSnapshot, SimStatus, Stp

Json = dict[str, Any]

# OKX order ids are 18-19 digit numbers; offsetting the engine's small counters keeps the
# ids looking like the venue's (clients that store them as int64 still work).
ORD_ID_BASE = 600_000_000_000_000_000

CHECKSUM_DEPTH = 25  # levels per side in the legacy CRC32 checksum
_CLORD_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_TAG = re.compile(r"[A-Za-z0-9]{0,16}")


class OkxError(Exception):
    """A request refused before it reached the engine: (code, msg, HTTP status)."""

    def __init__(self, code: str, msg: str, status: int = 200) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status


def param_error(name: str) -> OkxError:
    return OkxError("51000", f"Parameter {name} error")


def missing(name: str) -> OkxError:
    # general-class errors (50xxx) carry their own HTTP status, unlike trade errors (51xxx)
    return OkxError("50014", f"Parameter {name} can not be empty.", 400)


# -- numbers ---------------------------------------------------------------------------------


def trim(text: str) -> str:
    """OKX prints decimals without trailing zeros ("65000", "0.5")."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def dec_str(value: Decimal) -> str:
    return trim(f"{value:f}")


def px_str(inst: Instrument, ticks: int) -> str:
    return trim(inst.ticks_to_str(ticks))


def sz_str(inst: Instrument, lots: int) -> str:
    return trim(inst.lots_to_str(lots))


def ms(ts_ns: int) -> str:
    return str(ts_ns // 1_000_000)


def us(ts_ns: int) -> str:
    return str(ts_ns // 1_000)


def ord_id_str(order_id: int) -> str:
    return str(ORD_ID_BASE + order_id)


def parse_ord_id(text: object) -> int | None:
    """The engine id behind an OKX ordId; None when it cannot be one of ours."""
    if not isinstance(text, str) or not text.isdigit() or len(text) > 20:
        return None
    value = int(text) - ORD_ID_BASE
    return value if value > 0 else None


# -- order book checksum ---------------------------------------------------------------------


def checksum(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> int:
    """Legacy OKX checksum: CRC32 of `bid0px:bid0sz:ask0px:ask0sz:...` over the top 25
    levels of each side (a shorter side just stops contributing), as a signed int32."""
    parts: list[str] = []
    for i in range(CHECKSUM_DEPTH):
        if i < len(bids):
            parts.append(f"{bids[i][0]}:{bids[i][1]}")
        if i < len(asks):
            parts.append(f"{asks[i][0]}:{asks[i][1]}")
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def level_row(inst: Instrument, ticks: int, lots: int) -> list[str]:
    """`[px, sz, "0", numOrders]`. The engine does not expose per-level order counts, so a
    live level reports one order and a deleted one zero."""
    return [px_str(inst, ticks), sz_str(inst, lots), "0", "1" if lots else "0"]


# -- errors ----------------------------------------------------------------------------------

_REASONS: dict[Reason, tuple[str, str]] = {
    Reason.UNKNOWN_SYMBOL: ("51001", "Instrument ID does not exist."),
    Reason.UNKNOWN_ACCOUNT: ("51024", "Your account has been frozen."),
    Reason.INVALID_PRICE: ("51000", "Parameter px error"),
    Reason.INVALID_QUANTITY: ("51000", "Parameter sz error"),
    Reason.INVALID_ORDER: ("51000", "Parameter ordType error"),
    Reason.DUPLICATE_CLIENT_ORDER_ID: ("51016", "Duplicated clOrdId"),
    Reason.FILTER_MIN_QTY: ("51020", "Your order should meet or exceed the minimum order amount."),
    Reason.FILTER_MIN_NOTIONAL: (
        "51020",
        "Your order should meet or exceed the minimum order amount.",
    ),
    Reason.INSUFFICIENT_BALANCE: ("51008", "Order failed. Insufficient {ccy} balance in account"),
    Reason.UNKNOWN_ORDER: (
        "51400",
        "Order cancellation failed as the order has been filled, canceled or does not exist.",
    ),
}


def reason_code(reason: Reason, ccy: str = "") -> tuple[str, str]:
    """(sCode, sMsg) for a reject or a refused cancel."""
    code, msg = _REASONS.get(reason, ("51000", "Parameter error"))
    return code, msg.replace("{ccy}", ccy)


_AMEND_REASONS: dict[Reason, tuple[str, str]] = {
    Reason.UNKNOWN_ORDER: (
        "51503",
        "Order modification failed as the order has been filled, canceled or does not exist.",
    ),
    Reason.POST_ONLY_WOULD_TAKE: (
        "51511",
        "Operation failed as the order price did not meet the requirement for Post Only.",
    ),
    Reason.INVALID_QUANTITY: ("51000", "Parameter newSz error"),
    Reason.INVALID_PRICE: ("51000", "Parameter newPx error"),
}


def amend_reason_code(reason: Reason, ccy: str = "") -> tuple[str, str]:
    """(sCode, sMsg) for a refused amend."""
    if reason in _AMEND_REASONS:
        return _AMEND_REASONS[reason]
    return reason_code(reason, ccy)


# billIds of the simulator's fills: 18-19 digits like the venue's
BILL_ID_BASE = 700_000_000_000_000_000


def fill_object(inst: Instrument, fill: Fill, quote_unit: Decimal, bill_id: int, tag: str) -> Json:
    """One fill as `GET /api/v5/trade/fills` and `fills-history` list it (fee negative =
    charged, in `feeCcy`)."""
    fee = -fill.fee * quote_unit
    notional = fill.quote_qty * quote_unit
    rate = (fee / notional).quantize(Decimal("0.000001")) if notional else Decimal(0)
    return {
        "instType": "SPOT",
        "instId": inst.symbol,
        "tradeId": str(fill.trade_id),
        "ordId": ord_id_str(fill.order_id),
        "clOrdId": fill.client_order_id,
        "billId": str(BILL_ID_BASE + bill_id),
        "subType": "1" if fill.side is OrderSide.BUY else "2",
        "tag": tag,
        "fillPx": px_str(inst, fill.price),
        "fillSz": sz_str(inst, fill.qty),
        "fillIdxPx": "",
        "fillPnl": "0",
        "fillPxVol": "",
        "fillPxUsd": "",
        "fillMarkVol": "",
        "fillFwdPx": "",
        "fillMarkPx": "",
        "side": "buy" if fill.side is OrderSide.BUY else "sell",
        "posSide": "net",
        "execType": "M" if fill.is_maker else "T",
        "feeCcy": inst.quote,
        "fee": dec_str(fee),
        "feeRate": dec_str(rate),
        "ts": ms(fill.ts_ns),
        "fillTime": ms(fill.ts_ns),
        "tradeQuoteCcy": inst.quote,
    }


# cancelSource of an order the venue ended (docs/VENUES.md §2.7)
_CANCEL_SOURCE: dict[Reason, str] = {
    Reason.CANCELED_BY_USER: "1",
    Reason.POST_ONLY_WOULD_TAKE: "31",
    Reason.IOC_REMAINDER: "14",
    Reason.FOK_NOT_FILLED: "13",
    Reason.SELF_TRADE_PREVENTED: "32",
    Reason.NO_LIQUIDITY: "14",
    Reason.AMOUNT_TOO_SMALL: "14",
    Reason.INSUFFICIENT_BALANCE: "14",
}

_STATE: dict[SimStatus, str] = {
    SimStatus.NEW: "live",
    SimStatus.PARTIALLY_FILLED: "partially_filled",
    SimStatus.FILLED: "filled",
    SimStatus.CANCELED: "canceled",
    SimStatus.EXPIRED: "canceled",
    SimStatus.EXPIRED_IN_MATCH: "canceled",
    SimStatus.REJECTED: "canceled",
}

_STP_NAMES: dict[str, Stp] = {
    "cancel_maker": Stp.EXPIRE_MAKER,
    "cancel_taker": Stp.EXPIRE_TAKER,
    "cancel_both": Stp.EXPIRE_BOTH,
}
_STP_TEXT = {v: k for k, v in _STP_NAMES.items()}

# ordType -> (engine type, time in force)
_ORD_TYPES: dict[str, tuple[OrderType, TimeInForce]] = {
    "limit": (OrderType.LIMIT, TimeInForce.GTC),
    "post_only": (OrderType.LIMIT_MAKER, TimeInForce.GTC),
    "ioc": (OrderType.LIMIT, TimeInForce.IOC),
    "fok": (OrderType.LIMIT, TimeInForce.FOK),
    "market": (OrderType.MARKET, TimeInForce.IOC),
}


def ord_type_text(snap: OrderSnapshot) -> str:
    if snap.type is OrderType.MARKET:
        return "market"
    if snap.type is OrderType.LIMIT_MAKER:
        return "post_only"
    return {TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok"}.get(snap.tif, "limit")


def state_text(status: SimStatus) -> str:
    return _STATE[status]


# -- order requests --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderMeta:
    """What an order request carried that the engine does not keep, echoed in replies."""

    cl_ord_id: str
    tag: str


def _text(args: Mapping[str, Any], name: str) -> str:
    value = args.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise param_error(name)
    return value


def _required(args: Mapping[str, Any], name: str) -> str:
    value = _text(args, name)
    if not value:
        raise missing(name)
    return value


def parse_order(
    args: Mapping[str, Any],
    account: str,
    instruments: Mapping[str, Instrument],
    quote_unit: Mapping[str, Decimal],
) -> tuple[OrderRequest, OrderMeta]:
    """One place-order object (REST body or WS arg) as an engine request; OkxError if the
    venue would refuse its shape. Spot cash only: tdMode other than `cash` is refused."""
    inst_id = _required(args, "instId")
    cl_ord_id = _text(args, "clOrdId")
    tag = _text(args, "tag")
    if cl_ord_id and not _CLORD_ID.fullmatch(cl_ord_id):
        raise param_error("clOrdId")
    if not _TAG.fullmatch(tag):
        raise param_error("tag")
    td_mode = _required(args, "tdMode")
    side_text = _required(args, "side")
    ord_type = _required(args, "ordType")
    sz = _required(args, "sz")
    inst = instruments.get(inst_id)
    if inst is None:
        raise OkxError("51001", "Instrument ID does not exist.")
    if td_mode != "cash":
        raise param_error("tdMode")
    if side_text not in ("buy", "sell"):
        raise param_error("side")
    side = OrderSide.BUY if side_text == "buy" else OrderSide.SELL
    if ord_type not in _ORD_TYPES:
        raise param_error("ordType")
    otype, tif = _ORD_TYPES[ord_type]
    stp_text = _text(args, "stpMode")
    if stp_text and stp_text not in _STP_NAMES:
        raise param_error("stpMode")
    stp = _STP_NAMES.get(stp_text)
    qty = price = quote_amount = 0
    if otype is OrderType.MARKET:
        tgt = _text(args, "tgtCcy") or ("quote_ccy" if side is OrderSide.BUY else "base_ccy")
        if tgt not in ("quote_ccy", "base_ccy"):
            raise param_error("tgtCcy")
        if tgt == "quote_ccy":
            quote_amount = _quote_units(sz, quote_unit[inst.quote])
        else:
            qty = _lots(inst, sz)
    else:
        price = _ticks(inst, _required(args, "px"))
        qty = _lots(inst, sz)
    request = OrderRequest(
        account,
        inst_id,
        side,
        otype,
        qty=qty,
        price=price,
        tif=tif,
        quote_amount=quote_amount,
        client_order_id=cl_ord_id,
        stp=stp,
    )
    return request, OrderMeta(cl_ord_id, tag)


def _lots(inst: Instrument, text: str) -> int:
    try:
        lots = inst.qty_to_lots(text)
    except GridError as exc:
        if "multiple" in str(exc):
            raise OkxError("51121", "Order quantity must be a multiple of the lot size.") from None
        raise param_error("sz") from None
    if lots <= 0:
        raise param_error("sz")
    return lots


def _ticks(inst: Instrument, text: str) -> int:
    try:
        ticks = inst.price_to_ticks(text)
    except GridError:
        raise param_error("px") from None
    if ticks <= 0:
        raise param_error("px")
    return ticks


def _quote_units(text: str, unit: Decimal) -> int:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise param_error("sz") from None
    if not amount.is_finite() or amount <= 0:
        raise param_error("sz")
    units = amount / unit
    if units != units.to_integral_value():
        raise param_error("sz")
    return int(units)


# -- order objects ---------------------------------------------------------------------------


def avg_px(inst: Instrument, snap_filled: int, cum_quote: int, quote_unit: Decimal) -> str:
    if not snap_filled:
        return ""
    value = cum_quote * quote_unit / (snap_filled * inst.lot_size)
    return dec_str(value.quantize(Decimal(1).scaleb(-(inst.price_decimals + 4))))


def order_object(
    inst: Instrument,
    snap: OrderSnapshot,
    quote_unit: Decimal,
    fill: Fill | None = None,
    tag: str = "",
) -> Json:
    """The order as `GET /api/v5/trade/order`, orders-pending and the `orders` channel show
    it. `fill` fills in the latest-fill fields of a push."""
    by_quote = snap.type is OrderType.MARKET and snap.quote_amount > 0
    sz = dec_str(snap.quote_amount * quote_unit) if by_quote else sz_str(inst, snap.qty)
    fee = -snap.fees * quote_unit
    cancel_source = ""
    if snap.status in (SimStatus.CANCELED, SimStatus.EXPIRED, SimStatus.EXPIRED_IN_MATCH):
        cancel_source = _CANCEL_SOURCE.get(snap.reason, "1")
    state = state_text(snap.status)
    obj: Json = {
        "accFillSz": sz_str(inst, snap.filled),
        "algoClOrdId": "",
        "algoId": "",
        "attachAlgoClOrdId": "",
        "attachAlgoOrds": [],
        "avgPx": avg_px(inst, snap.filled, snap.cum_quote, quote_unit),
        "cTime": ms(snap.created_ns),
        "cancelSource": cancel_source,
        "cancelSourceReason": "",
        "category": "normal",
        "ccy": "",
        "clOrdId": snap.client_order_id,
        "fee": dec_str(fee),
        "feeCcy": inst.quote,
        "fillPx": "",
        "fillSz": "0",
        "fillTime": "",
        "instId": inst.symbol,
        "instType": "SPOT",
        "isTpLimit": "false",
        "lever": "",
        "linkedAlgoOrd": {"algoId": ""},
        "ordId": ord_id_str(snap.order_id),
        "ordType": ord_type_text(snap),
        "pnl": "0",
        "posSide": "net",
        "px": "" if snap.type is OrderType.MARKET else px_str(inst, snap.price),
        "pxType": "",
        "pxUsd": "",
        "pxVol": "",
        "quickMgnType": "",
        "rebate": "0",
        "rebateCcy": inst.quote,
        "reduceOnly": "false",
        "side": "buy" if snap.side is OrderSide.BUY else "sell",
        "slOrdPx": "",
        "slTriggerPx": "",
        "slTriggerPxType": "",
        "source": "",
        "state": state,
        "stpId": "",
        "stpMode": _STP_TEXT.get(snap.stp, ""),
        "sz": sz,
        "tag": tag,
        "tdMode": "cash",
        "tgtCcy": ("quote_ccy" if by_quote else "base_ccy")
        if snap.type is OrderType.MARKET
        else "",
        "tpOrdPx": "",
        "tpTriggerPx": "",
        "tpTriggerPxType": "",
        "tradeId": "",
        "tradeQuoteCcy": inst.quote,
        "uTime": ms(snap.updated_ns),
    }
    if fill is not None:
        # the snapshot may be ahead of this fill (same engine call): cumulative fields and
        # the state come from the fill itself
        obj.update(
            accFillSz=sz_str(inst, fill.cum_filled),
            avgPx=avg_px(inst, fill.cum_filled, fill.cum_quote, quote_unit),
            fillPx=px_str(inst, fill.price),
            fillSz=sz_str(inst, fill.qty),
            fillTime=ms(fill.ts_ns),
            tradeId=str(fill.trade_id),
            execType="M" if fill.is_maker else "T",
            fillFee=dec_str(-fill.fee * quote_unit),
            fillFeeCcy=inst.quote,
            lastPx=px_str(inst, fill.price),  # the instrument's last trade: this one
            state=state_text(fill.status),
            cancelSource="",
        )
    return obj


def push_extras(obj: Json, code: str = "0", msg: str = "") -> Json:
    """Fields only the `orders` channel carries."""
    obj.setdefault("execType", "")
    obj.setdefault("fillFee", "0")
    obj.setdefault("fillFeeCcy", "")
    obj.setdefault("lastPx", "")
    obj.update(
        amendResult="",
        amendSource="",
        code=code,
        msg=msg,
        reqId="",
        fillNotionalUsd="",
        notionalUsd="",
        fillPnl="0",
    )
    return obj
