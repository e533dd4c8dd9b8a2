"""OKX v5 order-entry wire format: request bodies built by concatenation from int64 grid
values, the venue's codes mapped to the gateway's typed errors, and the `orders` channel /
query objects decoded into execution reports and snapshots (docs/VENUES.md §2.6, §2.7).

The WS requests of the order path (`order`, `cancel-order`, `amend-order`) are
`OrderTemplates`: per instrument and shape, a RequestTemplate
(engine/gateway/request_template.pyx) compiled once and filled per request from the int64
grid values into a reused buffer, returned as the frame's bytes. The WS session is logged in
once, so nothing is signed per order.

`BodyBuilder` is the readable definition those templates are held to, byte for byte
(tests/test_request_template.py), and what REST and the batches send: plain string
concatenation in a fixed field order, the instrument's part prebuilt once per symbol, never a
dict plus `json.dumps`. Client order ids are checked against OKX's alphabet (1-32
letters/digits) before anything is built, so no value ever needs JSON escaping.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.gateway import request_template as tpl
from engine.gateway.adapter import ExecutionReport, FillRecord, OrderRequest, OrderSnapshot
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
from engine.gateway.request_template import RequestTemplate, TemplateError
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.instrument import Instrument

# enum members as module constants: an Enum class attribute costs ~4x a global lookup
_BUY, _SELL = OrderSide.BUY, OrderSide.SELL
_MARKET, _LIMIT, _LIMIT_MAKER = OrderType.MARKET, OrderType.LIMIT, OrderType.LIMIT_MAKER
_GTC, _IOC, _FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK

VENUE = "okx"
NS_PER_MS = 1_000_000
MAX_BATCH = 20  # items per batch request (51111 above)


# -- request bodies --------------------------------------------------------------------------

_SIDE = {_BUY: "buy", _SELL: "sell"}


def ord_type(request: OrderRequest) -> str:
    """OKX `ordType` for an order: post_only, limit, ioc, fok or market."""
    if request.order_type is _MARKET:
        return "market"
    if request.order_type is _LIMIT_MAKER:
        return "post_only"
    if request.time_in_force is _IOC:
        return "ioc"
    if request.time_in_force is _FOK:
        return "fok"
    return "limit"


def check_client_order_id(client_order_id: str) -> None:
    if not (
        0 < len(client_order_id) <= 32 and client_order_id.isascii() and client_order_id.isalnum()
    ):
        raise InvalidOrder(VENUE, "", f"clOrdId {client_order_id!r} must be 1-32 letters or digits")


class BodyBuilder:
    """Prebuilt JSON fragments of one instrument; methods return the exact text sent."""

    __slots__ = ("_head", "_inst")

    def __init__(self, instrument: Instrument) -> None:
        self._inst = instrument
        self._head = '{"instId":"' + instrument.symbol + '",'

    def place(self, request: OrderRequest) -> str:
        """`{"instId","tdMode","clOrdId","side","ordType",["px",]"sz"[,"tgtCcy"]}`."""
        check_client_order_id(request.client_order_id)
        inst = self._inst
        if request.quantity_lots <= 0:
            raise InvalidOrder(VENUE, "", f"quantity must be positive, got {request.quantity_lots}")
        kind = ord_type(request)
        sz = inst.lots_to_str(request.quantity_lots)
        head = (
            self._head
            + '"tdMode":"cash","clOrdId":"'
            + request.client_order_id
            + '","side":"'
            + _SIDE[request.side]
            + '","ordType":"'
            + kind
        )
        if kind == "market":
            # sz in base units for both sides (buys default to quote units otherwise)
            return head + '","sz":"' + sz + '","tgtCcy":"base_ccy"}'
        if request.price_ticks <= 0:
            raise InvalidOrder(VENUE, "", f"price must be positive, got {request.price_ticks}")
        return head + '","px":"' + inst.ticks_to_str(request.price_ticks) + '","sz":"' + sz + '"}'

    def by_client_id(self, client_order_id: str) -> str:
        """Cancel / query target: `{"instId","clOrdId"}`."""
        check_client_order_id(client_order_id)
        return self._head + '"clOrdId":"' + client_order_id + '"}'

    def by_ord_id(self, ord_id: str) -> str:
        if not ord_id.isdigit():
            raise InvalidOrder(VENUE, "", f"ordId {ord_id!r} is not a venue order id")
        return self._head + '"ordId":"' + ord_id + '"}'

    def amend(self, client_order_id: str, price_ticks: int, quantity_lots: int) -> str:
        """`{"instId","clOrdId"[,"newSz"][,"newPx"]}`; 0 leaves that value unchanged."""
        check_client_order_id(client_order_id)
        if price_ticks < 0 or quantity_lots < 0 or not (price_ticks or quantity_lots):
            raise InvalidOrder(VENUE, "", "amend needs a positive new price and/or quantity")
        body = self._head + '"clOrdId":"' + client_order_id + '"'
        if quantity_lots:
            body += ',"newSz":"' + self._inst.lots_to_str(quantity_lots) + '"'
        if price_ticks:
            body += ',"newPx":"' + self._inst.ticks_to_str(price_ticks) + '"'
        return body + "}"


def ws_request(req_id: str, op: str, args: list[str]) -> str:
    """`{"id","op","args":[...]}` around prebuilt argument objects."""
    return '{"id":"' + req_id + '","op":"' + op + '","args":[' + ",".join(args) + "]}"


_CLORDID = ("clOrdId", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 32)


class OrderTemplates:
    """The order path's WS requests of one instrument, as RequestTemplates: the bytes of
    `ws_request(str(req_id), op, [BodyBuilder(...).<op>(...)])`.

    A shape (place: side and ordType; amend: which of size and price change) is compiled on
    first use and kept. A value OKX would not take (a clOrdId outside 1-32 letters/digits, a
    price or size not positive) raises InvalidOrder before anything is sent.
    """

    __slots__ = ("_cache", "_head", "instrument")

    def __init__(self, instrument: Instrument) -> None:
        symbol = instrument.symbol
        if not (symbol.isascii() and symbol.replace("-", "").isalnum()):
            raise ValueError(f"instId {symbol!r} is not plain text a template may carry")
        self.instrument = instrument
        self._head = '{"instId":"' + symbol + '",'
        self._cache: dict[tuple[object, ...], RequestTemplate] = {}

    def _template(self, op: str, body: list[str | int]) -> RequestTemplate:
        inst = self.instrument
        frame: list[str | int] = ['{"id":"', tpl.RID, '","op":"' + op + '","args":[', *body, "]}"]
        return RequestTemplate(
            frame, price_grid=inst.price_grid, qty_grid=inst.qty_grid, ids=[_CLORDID]
        )

    def _compile(self, key: tuple[object, ...]) -> RequestTemplate:
        head = self._head
        body: list[str | int]
        if key[0] == "order":
            side, kind = key[1], str(key[2])
            assert isinstance(side, OrderSide)
            body = [head, '"tdMode":"cash","clOrdId":"', tpl.ID]
            body.append('","side":"' + _SIDE[side] + '","ordType":"' + kind)
            if kind == "market":
                body += ['","sz":"', tpl.QTY, '","tgtCcy":"base_ccy"}']
            else:
                body += ['","px":"', tpl.PRICE, '","sz":"', tpl.QTY, '"}']
        elif key[0] == "cancel-order":
            body = [head, '"clOrdId":"', tpl.ID, '"}']
        else:
            body = [head, '"clOrdId":"', tpl.ID, '"']
            if key[1]:
                body += [',"newSz":"', tpl.QTY, '"']
            if key[2]:
                body += [',"newPx":"', tpl.PRICE, '"']
            body.append("}")
        template = self._cache[key] = self._template(str(key[0]), body)
        return template

    def place(self, req_id: int, request: OrderRequest) -> bytes:
        """`order` of `request` (ordType as `ord_type`; a market order's sz in base units)."""
        key = ("order", request.side, ord_type(request))
        template = self._cache.get(key) or self._compile(key)
        try:
            return template.fill(
                req_id, 0, request.price_ticks, request.quantity_lots, request.client_order_id, ""
            )
        except TemplateError as exc:
            raise InvalidOrder(VENUE, "", str(exc)) from None

    def cancel(self, req_id: int, client_order_id: str) -> bytes:
        """`cancel-order` by clOrdId."""
        key = ("cancel-order", None, None)
        template = self._cache.get(key) or self._compile(key)
        try:
            return template.fill(req_id, 0, 0, 0, client_order_id, "")
        except TemplateError as exc:
            raise InvalidOrder(VENUE, "", str(exc)) from None

    def amend(
        self, req_id: int, client_order_id: str, price_ticks: int, quantity_lots: int
    ) -> bytes:
        """`amend-order`: newSz and/or newPx; 0 leaves that value unchanged."""
        if price_ticks < 0 or quantity_lots < 0 or not (price_ticks or quantity_lots):
            raise InvalidOrder(VENUE, "", "amend needs a positive new price and/or quantity")
        key = ("amend-order", quantity_lots != 0, price_ticks != 0)
        template = self._cache.get(key) or self._compile(key)
        try:
            return template.fill(req_id, 0, price_ticks, quantity_lots, client_order_id, "")
        except TemplateError as exc:
            raise InvalidOrder(VENUE, "", str(exc)) from None


# -- errors ----------------------------------------------------------------------------------

_INSUFFICIENT = frozenset({"51008", "51119", "51127", "51131", "51502"})
_NOT_FOUND = frozenset({"51400", "51401", "51402", "51503", "51603", "51405"})
_RATE = frozenset({"50011", "50061"})
_UNAVAILABLE = frozenset({"50001", "50004", "50013", "50026", "51149"})
_AUTH = frozenset(
    {"50100", "50101", "50110", "50111", "50112", "50113", "50114", "50120", "60009"}
    | {str(code) for code in range(50103, 50108)}
    | {"60004", "60005", "60007", "60011", "60024", "60031", "60032"}
)
_SKEW = frozenset({"50102", "60006"})
_POST_ONLY = frozenset({"51511"})


def venue_error(code: str, message: str, status: int | None = None) -> VenueError:
    """The typed error for an OKX code (top-level `code` or per-item `sCode`) and/or HTTP
    status. The message is the venue's own text, never the request."""
    if code in _SKEW:
        return ClockSkew(VENUE, code, message, status=status)
    if code in _RATE or status == 429:
        return RateLimited(VENUE, code, message, status=status)
    if code in _AUTH or (status == 401 and code not in _SKEW):
        return AuthError(VENUE, code, message, status=status)
    if code in _INSUFFICIENT:
        return InsufficientBalance(VENUE, code, message, status=status)
    if code in _NOT_FOUND:
        return OrderNotFound(VENUE, code, message, status=status)
    if code in _POST_ONLY:
        return PostOnlyWouldCross(VENUE, code, message, status=status)
    if code in _UNAVAILABLE or (status is not None and status >= 500):
        return VenueUnavailable(VENUE, code, message, status=status)
    if code.startswith("51") or code in ("50000", "50002", "50014", "60012", "60013"):
        return InvalidOrder(VENUE, code, message, status=status)
    return VenueError(VENUE, code, message, status=status)


# -- decoding --------------------------------------------------------------------------------

STATES: dict[str, OrderStatus] = {
    "live": OrderStatus.NEW,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "mmp_canceled": OrderStatus.CANCELED,
}

CANCEL_SOURCES = {
    "1": "canceled by user",
    "13": "FOK order not filled",
    "14": "IOC order remainder canceled",
    "31": "post_only order would have taken liquidity",
    "32": "self-trade prevention",
}

_ORD_TYPES = {
    "limit": _LIMIT,
    "ioc": _LIMIT,
    "fok": _LIMIT,
    "post_only": _LIMIT_MAKER,
    "market": _MARKET,
}


def _str(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name, "")
    return value if isinstance(value, str) else ""


def _ms_to_ns(text: str) -> int:
    return int(text) * NS_PER_MS if text.isdigit() else 0


def _fee(text: str) -> Decimal:
    """OKX fee (negative = charged) as ours (positive = paid)."""
    if not text:
        return Decimal(0)
    try:
        return Decimal(0) - Decimal(text)
    except InvalidOperation:
        raise ValueError(f"malformed fee {text!r}") from None


def _side(text: str) -> OrderSide:
    if text == "buy":
        return _BUY
    if text == "sell":
        return _SELL
    raise ValueError(f"unknown side {text!r}")


def _lots(inst: Instrument, text: str) -> int:
    return inst.qty_to_lots(text) if text else 0


def _ticks(inst: Instrument, text: str) -> int:
    return inst.price_to_ticks(text) if text else 0


def report_from_push(inst: Instrument, obj: Mapping[str, Any], recv_ns: int) -> ExecutionReport:
    """One `orders` channel data item as an ExecutionReport (ValueError when malformed)."""
    state = _str(obj, "state")
    status = STATES.get(state)
    if status is None:
        raise ValueError(f"unknown order state {state!r}")
    trade_id = _str(obj, "tradeId")
    fill_sz = _str(obj, "fillSz")
    last_lots = _lots(inst, fill_sz) if trade_id and fill_sz else 0
    reason = ""
    source = _str(obj, "cancelSource")
    if source:
        reason = f"cancelSource {source}: {CANCEL_SOURCES.get(source, 'canceled by the venue')}"
    elif _str(obj, "amendResult") == "0":
        reason = "amended"
    fee = Decimal(0)
    fee_asset = ""
    exchange_ts = _ms_to_ns(_str(obj, "uTime"))
    if last_lots:
        fill_fee = _str(obj, "fillFee")
        fee = _fee(fill_fee)
        fee_asset = _str(obj, "fillFeeCcy") or _str(obj, "feeCcy")
        exchange_ts = _ms_to_ns(_str(obj, "fillTime")) or exchange_ts
    acc = _str(obj, "accFillSz")
    return ExecutionReport(
        venue=VENUE,
        symbol=inst.symbol,
        client_order_id=_str(obj, "clOrdId"),
        venue_order_id=_str(obj, "ordId"),
        status=status,
        side=_side(_str(obj, "side")),
        cum_filled_lots=_lots(inst, acc) if acc else -1,
        trade_id=trade_id if last_lots else "",
        last_price_ticks=_ticks(inst, _str(obj, "fillPx")) if last_lots else 0,
        last_lots=last_lots,
        fee=fee,
        fee_asset=fee_asset,
        is_maker=_str(obj, "execType") == "M",
        reason=reason,
        exchange_ts_ns=exchange_ts,
        recv_ts_ns=recv_ns,
    )


def snapshot_from_order(inst: Instrument, obj: Mapping[str, Any]) -> OrderSnapshot:
    """An order object of `GET /api/v5/trade/order` / `orders-pending`."""
    state = _str(obj, "state")
    status = STATES.get(state)
    if status is None:
        raise ValueError(f"unknown order state {state!r}")
    kind = _ORD_TYPES.get(_str(obj, "ordType"), _LIMIT)
    by_quote = kind is _MARKET and _str(obj, "tgtCcy") == "quote_ccy"
    return OrderSnapshot(
        symbol=inst.symbol,
        client_order_id=_str(obj, "clOrdId"),
        venue_order_id=_str(obj, "ordId"),
        status=status,
        side=_side(_str(obj, "side")),
        order_type=kind,
        price_ticks=_ticks(inst, _str(obj, "px")),
        quantity_lots=0 if by_quote else _lots(inst, _str(obj, "sz")),
        filled_lots=_lots(inst, _str(obj, "accFillSz")),
        timestamp_ns=_ms_to_ns(_str(obj, "uTime")),
    )


def fill_from_record(inst: Instrument, obj: Mapping[str, Any]) -> FillRecord:
    """One item of `GET /api/v5/trade/fills` / `fills-history`."""
    return FillRecord(
        symbol=inst.symbol,
        trade_id=_str(obj, "tradeId"),
        client_order_id=_str(obj, "clOrdId"),
        venue_order_id=_str(obj, "ordId"),
        side=_side(_str(obj, "side")),
        price_ticks=_ticks(inst, _str(obj, "fillPx")),
        lots=_lots(inst, _str(obj, "fillSz")),
        fee=_fee(_str(obj, "fee")),
        fee_asset=_str(obj, "feeCcy"),
        is_maker=_str(obj, "execType") == "M",
        timestamp_ns=_ms_to_ns(_str(obj, "fillTime") or _str(obj, "ts")),
    )
