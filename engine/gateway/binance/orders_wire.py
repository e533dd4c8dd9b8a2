"""Binance spot trading on the wire: request text, answers, execution reports, error codes
(docs/VENUES.md §1.5-§1.7).

The WS API requests of the order path (`order.place`, `order.cancelReplace`, `order.cancel`)
are `OrderTemplates`: per instrument, side, type, time in force and signed-or-not, a
RequestTemplate (engine/gateway/request_template.pyx) compiled once from the same field lists
as the text builders below, then filled per request from the int64 grid values into a reused
buffer, the sorted query signed (HMAC-SHA256) in the same call, and the frame returned as
bytes for the socket.

The text builders are the readable definition those templates are held to, byte for byte
(tests/test_request_template.py), and what REST and the other WS API methods send: requests
are lists of (name, value) text pairs built from the int64 grid values
(`Instrument.ticks_to_str` / `lots_to_str`); the same list gives the REST query (wire order)
and, sorted by name, the WS API params and their signed payload. Every value the adapter
sends is made of letters, digits and `.-_`, so it needs neither JSON escaping nor
percent-encoding and the text is joined as is: no dict, `json.dumps` or `urlencode` per
order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from engine.gateway import request_template as tpl
from engine.gateway.adapter import (
    Balance,
    ExecutionReport,
    FillRecord,
    OrderAck,
    OrderSnapshot,
)
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
from engine.gateway.request_template import HmacSha256, RequestTemplate, TemplateError
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.instrument import Instrument

# enum members as module constants: an Enum class attribute costs ~4x a global lookup
_BUY, _SELL = OrderSide.BUY, OrderSide.SELL
_MARKET, _LIMIT, _LIMIT_MAKER = OrderType.MARKET, OrderType.LIMIT, OrderType.LIMIT_MAKER
_GTC, _IOC, _FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK

VENUE = "binance"
NS_PER_MS = 1_000_000

Fields = list[tuple[str, str]]

# the values the adapter may send unescaped (client ids: Binance's own pattern, §1.6)
CLIENT_ID = re.compile(r"^[a-zA-Z0-9-_]{1,36}$")
CLIENT_ID_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"
# text a template may carry as a literal (symbols, API keys, recvWindow)
_LITERAL = re.compile(r"^[A-Za-z0-9._-]+$")
# WS API params sent as JSON numbers (the rest are strings)
NUMERIC = frozenset(
    {"recvWindow", "timestamp", "orderId", "cancelOrderId", "limit", "startTime", "endTime"}
)

SIDE = {_BUY: "BUY", _SELL: "SELL"}
SIDE_OF = {"BUY": _BUY, "SELL": _SELL}
TYPE = {_LIMIT: "LIMIT", _LIMIT_MAKER: "LIMIT_MAKER", _MARKET: "MARKET"}
TYPE_OF = {v: k for k, v in TYPE.items()}
TIF = {_GTC: "GTC", _IOC: "IOC", _FOK: "FOK"}
TIF_OF = {v: k for k, v in TIF.items()}
STATUS = {
    "PENDING_NEW": OrderStatus.PENDING_NEW,
    "NEW": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "PENDING_CANCEL": OrderStatus.PENDING_CANCEL,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,  # ended by self-trade prevention
}


# -- requests --------------------------------------------------------------------------------


def order_fields(
    inst: Instrument,
    side: OrderSide,
    order_type: OrderType,
    tif: TimeInForce,
    *,
    quantity_lots: int,
    price_ticks: int,
    client_order_id: str,
) -> Fields:
    """A new order's parameters in name order (a cancelReplace adds its cancel fields and
    sorts). RESULT answers carry the status and executed quantity."""
    fields: Fields = [
        ("newClientOrderId", client_order_id),
        ("newOrderRespType", "RESULT"),
    ]
    if order_type is not _MARKET:
        fields.append(("price", inst.ticks_to_str(price_ticks)))
    fields.append(("quantity", inst.lots_to_str(quantity_lots)))
    fields.append(("side", SIDE[side]))
    fields.append(("symbol", inst.symbol))
    if order_type is _LIMIT:
        fields.append(("timeInForce", TIF[tif]))
    fields.append(("type", TYPE[order_type]))
    return fields


def replace_fields(
    inst: Instrument,
    side: OrderSide,
    order_type: OrderType,
    tif: TimeInForce,
    *,
    quantity_lots: int,
    price_ticks: int,
    client_order_id: str,
    cancel_client_order_id: str,
) -> Fields:
    """`order.cancelReplace` (STOP_ON_FAILURE) of `cancel_client_order_id` by a new order,
    sorted by name."""
    fields = order_fields(
        inst,
        side,
        order_type,
        tif,
        quantity_lots=quantity_lots,
        price_ticks=price_ticks,
        client_order_id=client_order_id,
    )
    fields.append(("cancelOrigClientOrderId", cancel_client_order_id))
    fields.append(("cancelReplaceMode", "STOP_ON_FAILURE"))
    fields.sort()
    return fields


def signed_request(
    rid: int,
    method: str,
    fields: Sequence[tuple[str, str]],
    *,
    api_key: str,
    recv_window: str,
    timestamp: str,
    sign: Callable[[str], str] | None,
    stamped: bool = True,
) -> str:
    """A WS API request: `stamped` adds recvWindow and timestamp, `sign` (None: a logged-on
    session) adds apiKey and the signature of the sorted payload."""
    params = list(fields)
    signature = ""
    if stamped:
        params.append(("recvWindow", recv_window))
        params.append(("timestamp", timestamp))
        if sign is not None:
            params.append(("apiKey", api_key))
    params.sort()
    if stamped and sign is not None:
        signature = sign(query_text(params))
    return ws_request(rid, method, params, signature)


def place_frame(
    rid: int,
    inst: Instrument,
    side: OrderSide,
    order_type: OrderType,
    tif: TimeInForce,
    *,
    quantity_lots: int,
    price_ticks: int,
    client_order_id: str,
    api_key: str,
    recv_window: str,
    timestamp: str,
    sign: Callable[[str], str] | None,
) -> str:
    """The `order.place` frame of the hot path, text joined in one pass: the same bytes as
    `ws_request` over the sorted `order_fields` plus apiKey/recvWindow/timestamp (a test
    holds them equal). `sign` None: a logged-on session, no apiKey and no signature."""
    qty = inst.lots_to_str(quantity_lots)
    sym = inst.symbol
    side_text = SIDE[side]
    type_text = TYPE[order_type]
    if order_type is _MARKET:
        price_p = price_j = ""
    else:
        price = inst.ticks_to_str(price_ticks)
        price_p = f"price={price}&"
        price_j = f'"price":"{price}",'
    if order_type is _LIMIT:
        tif_text = TIF[tif]
        tif_p = f"&timeInForce={tif_text}"
        tif_j = f',"timeInForce":"{tif_text}"'
    else:
        tif_p = tif_j = ""
    key_j = sig_j = ""
    if sign is not None:
        payload = (
            f"apiKey={api_key}&newClientOrderId={client_order_id}&newOrderRespType=RESULT&"
            f"{price_p}quantity={qty}&recvWindow={recv_window}&side={side_text}&symbol={sym}"
            f"{tif_p}&timestamp={timestamp}&type={type_text}"
        )
        key_j = f'"apiKey":"{api_key}",'
        sig_j = f',"signature":"{sign(payload)}"'
    return (
        f'{{"id":{rid},"method":"order.place","params":{{{key_j}'
        f'"newClientOrderId":"{client_order_id}","newOrderRespType":"RESULT",{price_j}'
        f'"quantity":"{qty}","recvWindow":{recv_window},"side":"{side_text}",'
        f'"symbol":"{sym}"{tif_j},"timestamp":{timestamp},"type":"{type_text}"{sig_j}}}}}'
    )


def replace_frame(
    rid: int,
    inst: Instrument,
    side: OrderSide,
    order_type: OrderType,
    tif: TimeInForce,
    *,
    quantity_lots: int,
    price_ticks: int,
    client_order_id: str,
    cancel_client_order_id: str,
    api_key: str,
    recv_window: str,
    timestamp: str,
    sign: Callable[[str], str] | None,
) -> str:
    """The `order.cancelReplace` frame of a requote, text joined in one pass: the same bytes
    as `signed_request` over `replace_fields` (a test holds them equal)."""
    qty = inst.lots_to_str(quantity_lots)
    sym = inst.symbol
    side_text = SIDE[side]
    type_text = TYPE[order_type]
    if order_type is _MARKET:
        price_p = price_j = ""
    else:
        price = inst.ticks_to_str(price_ticks)
        price_p = f"price={price}&"
        price_j = f'"price":"{price}",'
    if order_type is _LIMIT:
        tif_text = TIF[tif]
        tif_p = f"&timeInForce={tif_text}"
        tif_j = f',"timeInForce":"{tif_text}"'
    else:
        tif_p = tif_j = ""
    key_p = key_j = sig_j = ""
    cancel = cancel_client_order_id
    if sign is not None:
        key_p = f"apiKey={api_key}&"
        key_j = f'"apiKey":"{api_key}",'
    payload = (
        f"{key_p}cancelOrigClientOrderId={cancel}&cancelReplaceMode=STOP_ON_FAILURE&"
        f"newClientOrderId={client_order_id}&newOrderRespType=RESULT&{price_p}quantity={qty}&"
        f"recvWindow={recv_window}&side={side_text}&symbol={sym}{tif_p}&timestamp={timestamp}&"
        f"type={type_text}"
    )
    if sign is not None:
        sig_j = f',"signature":"{sign(payload)}"'
    return (
        f'{{"id":{rid},"method":"order.cancelReplace","params":{{{key_j}'
        f'"cancelOrigClientOrderId":"{cancel}","cancelReplaceMode":"STOP_ON_FAILURE",'
        f'"newClientOrderId":"{client_order_id}","newOrderRespType":"RESULT",{price_j}'
        f'"quantity":"{qty}","recvWindow":{recv_window},"side":"{side_text}",'
        f'"symbol":"{sym}"{tif_j},"timestamp":{timestamp},"type":"{type_text}"{sig_j}}}}}'
    )


# -- request templates -----------------------------------------------------------------------

Program = list[str | int]
_PLACE, _REPLACE, _CANCEL = "order.place", "order.cancelReplace", "order.cancel"
_ORDER_ID = ("client order id", CLIENT_ID_CHARS, 36)
_CANCEL_ID = ("cancelOrigClientOrderId", CLIENT_ID_CHARS, 36)


def _slot_fields(
    inst: Instrument, side: OrderSide, order_type: OrderType, tif: TimeInForce
) -> list[tuple[str, str | int]]:
    """`order_fields` with slots for the values of each request."""
    fields: list[tuple[str, str | int]] = [
        ("newClientOrderId", tpl.ID),
        ("newOrderRespType", "RESULT"),
    ]
    if order_type is not _MARKET:
        fields.append(("price", tpl.PRICE))
    fields.append(("quantity", tpl.QTY))
    fields.append(("side", SIDE[side]))
    fields.append(("symbol", inst.symbol))
    if order_type is _LIMIT:
        fields.append(("timeInForce", TIF[tif]))
    fields.append(("type", TYPE[order_type]))
    return fields


def request_programs(
    method: str,
    fields: Sequence[tuple[str, str | int]],
    *,
    api_key: str,
    recv_window: str,
    signed: bool,
) -> tuple[Program, Program | None]:
    """The frame and signed-payload programs of `signed_request` (stamped): the same params,
    sorted by name, as `ws_request` writes them and `query_text` signs them."""
    params = list(fields)
    params.append(("recvWindow", recv_window))
    params.append(("timestamp", tpl.TIME))
    if signed:
        params.append(("apiKey", api_key))
    params.sort(key=lambda field: field[0])
    frame: Program = ['{"id":', tpl.RID, f',"method":"{method}","params":{{']
    payload: Program = []
    for i, (name, value) in enumerate(params):
        if i:
            frame.append(",")
            payload.append("&")
        payload += [f"{name}=", value]
        if name in NUMERIC:
            frame += [f'"{name}":', value]
        else:
            frame += [f'"{name}":"', value, '"']
    if signed:
        frame += [',"signature":"', tpl.SIG, '"']
    frame.append("}}")
    return frame, payload if signed else None


class OrderTemplates:
    """The order path's WS API requests of one instrument, as RequestTemplates.

    Each (method, side, type, time in force, signed) shape is compiled on first use and kept.
    `secret` (an HMAC key) signs in C; `sign` (payload text -> signature text) is the fallback
    for other key types (Ed25519 before `session.logon`). A value the venue would not take
    (an id outside ^[a-zA-Z0-9-_]{1,36}$, a price or quantity not positive) raises
    InvalidOrder before anything is sent. The bytes returned are the caller's.
    """

    __slots__ = ("_api_key", "_cache", "_recv_window", "_sign", "_signer", "instrument")

    def __init__(
        self,
        instrument: Instrument,
        *,
        api_key: str,
        recv_window: str,
        secret: str | bytes | None = None,
        sign: Callable[[str], str] | None = None,
    ) -> None:
        for what, text in (
            ("symbol", instrument.symbol),
            ("api key", api_key),
            ("recvWindow", recv_window),
        ):
            if not _LITERAL.match(text):
                raise ValueError(f"{what} {text!r} is not plain text a template may carry")
        self.instrument = instrument
        self._api_key = api_key
        self._recv_window = recv_window
        self._signer = HmacSha256(secret) if secret is not None else None
        self._sign = sign
        self._cache: dict[tuple[object, ...], RequestTemplate] = {}

    def _compile(self, key: tuple[object, ...]) -> RequestTemplate:
        method, side, order_type, tif, signed = key
        inst = self.instrument
        fields: list[tuple[str, str | int]]
        ids = [_ORDER_ID]
        if method == _CANCEL:
            fields = [("origClientOrderId", tpl.ID), ("symbol", inst.symbol)]
        else:
            assert isinstance(side, OrderSide)
            assert isinstance(order_type, OrderType) and isinstance(tif, TimeInForce)
            fields = _slot_fields(inst, side, order_type, tif)
            if method == _REPLACE:
                fields.append(("cancelOrigClientOrderId", tpl.ID2))
                fields.append(("cancelReplaceMode", "STOP_ON_FAILURE"))
                ids.append(_CANCEL_ID)
        frame, payload = request_programs(
            str(method),
            fields,
            api_key=self._api_key,
            recv_window=self._recv_window,
            signed=bool(signed),
        )
        template = RequestTemplate(
            frame,
            payload,
            price_grid=inst.price_grid,
            qty_grid=inst.qty_grid,
            ids=ids,
            signer=self._signer,
            sign=self._sign,
        )
        self._cache[key] = template
        return template

    def place(
        self,
        rid: int,
        side: OrderSide,
        order_type: OrderType,
        tif: TimeInForce,
        *,
        quantity_lots: int,
        price_ticks: int,
        client_order_id: str,
        timestamp_ms: int,
        signed: bool,
    ) -> bytes:
        """`order.place`: the bytes of `place_frame` (price ignored for MARKET)."""
        key = (_PLACE, side, order_type, tif, signed)
        template = self._cache.get(key) or self._compile(key)
        try:
            return template.fill(rid, timestamp_ms, price_ticks, quantity_lots, client_order_id, "")
        except TemplateError as exc:
            raise InvalidOrder(VENUE, "", f"order.place: {exc}") from None

    def replace(
        self,
        rid: int,
        side: OrderSide,
        order_type: OrderType,
        tif: TimeInForce,
        *,
        quantity_lots: int,
        price_ticks: int,
        client_order_id: str,
        cancel_client_order_id: str,
        timestamp_ms: int,
        signed: bool,
    ) -> bytes:
        """`order.cancelReplace` (STOP_ON_FAILURE): the bytes of `replace_frame`."""
        key = (_REPLACE, side, order_type, tif, signed)
        template = self._cache.get(key) or self._compile(key)
        try:
            return template.fill(
                rid,
                timestamp_ms,
                price_ticks,
                quantity_lots,
                client_order_id,
                cancel_client_order_id,
            )
        except TemplateError as exc:
            raise InvalidOrder(VENUE, "", f"order.cancelReplace: {exc}") from None

    def cancel(self, rid: int, client_order_id: str, *, timestamp_ms: int, signed: bool) -> bytes:
        """`order.cancel` by client id: the bytes of `signed_request` over
        [origClientOrderId, symbol]."""
        key = (_CANCEL, None, None, None, signed)
        template = self._cache.get(key) or self._compile(key)
        try:
            return template.fill(rid, timestamp_ms, 0, 0, client_order_id, "")
        except TemplateError as exc:
            raise InvalidOrder(VENUE, "", f"order.cancel: {exc}") from None


def query_text(fields: Sequence[tuple[str, str]]) -> str:
    """REST: `a=1&b=2` in the given (wire) order; also the WS API signed payload when the
    fields are sorted by name."""
    return "&".join([f"{k}={v}" for k, v in fields])


def ws_request(rid: int, method: str, fields: Sequence[tuple[str, str]], signature: str) -> str:
    """One WS API request frame; `fields` sorted by name, `signature` "" for none."""
    parts = [f'"{k}":{v}' if k in NUMERIC else f'"{k}":"{v}"' for k, v in fields]
    if signature:
        parts.append(f'"signature":"{signature}"')
    return f'{{"id":{rid},"method":"{method}","params":{{{",".join(parts)}}}}}'


# -- answers ---------------------------------------------------------------------------------


def ms_to_ns(value: object) -> int:
    return int(value) * NS_PER_MS if isinstance(value, int) else 0


def order_ack(inst: Instrument, doc: Mapping[str, Any], client_order_id: str = "") -> OrderAck:
    """A RESULT (or cancel) answer: the order as the venue then saw it."""
    return OrderAck(
        client_order_id=client_order_id or str(doc.get("clientOrderId", "")),
        venue_order_id=str(doc.get("orderId", "")),
        status=STATUS.get(str(doc.get("status", "NEW")), OrderStatus.NEW),
        filled_lots=inst.qty_to_lots(str(doc.get("executedQty", "0"))),
        timestamp_ns=ms_to_ns(doc.get("transactTime")),
    )


def order_snapshot(inst: Instrument, doc: Mapping[str, Any]) -> OrderSnapshot:
    """An order of GET /api/v3/order, openOrders (or their WS API twins)."""
    return OrderSnapshot(
        symbol=str(doc["symbol"]),
        client_order_id=str(doc["clientOrderId"]),
        venue_order_id=str(doc["orderId"]),
        status=STATUS[str(doc["status"])],
        side=SIDE_OF[str(doc["side"])],
        order_type=TYPE_OF.get(str(doc.get("type")), _LIMIT),
        price_ticks=inst.price_to_ticks(str(doc.get("price", "0"))),
        quantity_lots=inst.qty_to_lots(str(doc.get("origQty", "0"))),
        filled_lots=inst.qty_to_lots(str(doc.get("executedQty", "0"))),
        timestamp_ns=ms_to_ns(doc.get("updateTime", doc.get("time"))),
    )


def fill_record(inst: Instrument, doc: Mapping[str, Any], client_order_id: str) -> FillRecord:
    """One row of myTrades (which carries no client order id: the caller supplies it)."""
    return FillRecord(
        symbol=str(doc["symbol"]),
        trade_id=str(doc["id"]),
        client_order_id=client_order_id,
        venue_order_id=str(doc["orderId"]),
        side=_BUY if doc.get("isBuyer") else _SELL,
        price_ticks=inst.price_to_ticks(str(doc["price"])),
        lots=inst.qty_to_lots(str(doc["qty"])),
        fee=Decimal(str(doc.get("commission", "0"))),
        fee_asset=str(doc.get("commissionAsset") or ""),
        is_maker=bool(doc.get("isMaker")),
        timestamp_ns=ms_to_ns(doc.get("time")),
    )


def balances(doc: Mapping[str, Any]) -> dict[str, Balance]:
    """GET /api/v3/account or account.status -> asset -> Balance."""
    out: dict[str, Balance] = {}
    for row in doc.get("balances", ()):
        asset = str(row["asset"])
        out[asset] = Balance(asset, Decimal(str(row["free"])), Decimal(str(row["locked"])))
    return out


def execution_report(inst: Instrument, ev: Mapping[str, Any], recv_ns: int) -> ExecutionReport:
    """An `executionReport` event -> ExecutionReport in the instrument's grid units.

    On a cancel Binance puts the cancel request's own id in `c` and the order's in `C`; the
    report carries the order's. A TRADE carries the fill: `t`, `L`, `l`, `n`/`N`, `m`.
    """
    exec_type = ev.get("x")
    cid = ev.get("c") or ""
    orig = ev.get("C") or ""
    if orig and exec_type in ("CANCELED", "EXPIRED", "REPLACED"):
        cid = orig
    trade = exec_type == "TRADE"
    reason = ev.get("r") or ""
    return ExecutionReport(
        venue=VENUE,
        symbol=str(ev["s"]),
        client_order_id=str(cid),
        venue_order_id=str(ev.get("i", "")),
        status=STATUS[str(ev["X"])],
        side=SIDE_OF[str(ev["S"])],
        cum_filled_lots=inst.qty_to_lots(str(ev["z"])) if "z" in ev else -1,
        trade_id=str(ev["t"]) if trade else "",
        last_price_ticks=inst.price_to_ticks(str(ev["L"])) if trade else 0,
        last_lots=inst.qty_to_lots(str(ev["l"])) if trade else 0,
        fee=Decimal(str(ev.get("n") or "0")) if trade else Decimal(0),
        fee_asset=str(ev.get("N") or "") if trade else "",
        is_maker=bool(ev.get("m")) if trade else False,
        reason="" if reason == "NONE" else str(reason),
        exchange_ts_ns=ms_to_ns(ev.get("E")),
        recv_ts_ns=recv_ns,
    )


# -- errors ----------------------------------------------------------------------------------

_AUTH = frozenset({-1002, -1022, -2014, -2015})
_NOT_FOUND = frozenset({-2011, -2013, -2026})
_UNAVAILABLE = frozenset({-1000, -1001, -1006, -1007, -1008})
_RATE = frozenset({-1003, -1015})


def venue_error(
    code: int | str,
    message: str,
    *,
    status: int | None = None,
    retry_after_s: float | None = None,
) -> VenueError:
    """The typed error of one Binance answer `{"code", "msg"}` (docs/VENUES.md §1.6, §1.8).

    The message is the venue's, verbatim: the adapter never adds what it signed."""
    try:
        number = int(code)
    except (TypeError, ValueError):
        number = 0
    if status in (418, 429) or number in _RATE:
        return RateLimited(VENUE, number, message, status=status, retry_after_s=retry_after_s)
    if number == -1021:
        return ClockSkew(VENUE, number, message, status=status)
    if number in _AUTH:
        return AuthError(VENUE, number, message, status=status)
    if number in _NOT_FOUND:
        return OrderNotFound(VENUE, number, message, status=status)
    if number == -2010:
        lowered = message.lower()
        if "immediately match" in lowered:
            return PostOnlyWouldCross(VENUE, number, message, status=status)
        if "duplicate" in lowered or "market is closed" in lowered:
            return InvalidOrder(VENUE, number, message, status=status)
        return InsufficientBalance(VENUE, number, message, status=status)
    if (status is not None and status >= 500) or number in _UNAVAILABLE:
        return VenueUnavailable(VENUE, number, message, status=status)
    if -1199 <= number <= -1100 or number in (-1013, -1020, -2039):
        return InvalidOrder(VENUE, number, message, status=status)
    return VenueError(VENUE, number, message, status=status)


def replace_error(doc: Mapping[str, Any], status: int | None) -> VenueError:
    """A failed cancelReplace (-2021 partly, -2022 wholly): the error of the part that
    failed, the cancel's first; the message says what became of the other part."""
    data = doc.get("data")
    outer = f"{doc.get('code')} {doc.get('msg', '')}".strip()
    if not isinstance(data, Mapping):
        return venue_error(doc.get("code", 0), str(doc.get("msg", "")), status=status)
    cancel = data.get("cancelResponse") or {}
    placed = data.get("newOrderResponse") or {}
    if isinstance(cancel, Mapping) and "code" in cancel:
        new = str(data.get("newOrderResult", "")).lower()
        return venue_error(
            cancel["code"],
            f"{cancel.get('msg', '')} (cancelReplace {outer}: cancel failed, new order {new})",
            status=status,
        )
    if isinstance(placed, Mapping) and "code" in placed:
        return venue_error(
            placed["code"],
            f"{placed.get('msg', '')} (cancelReplace {outer}: the old order was cancelled, "
            "the new one refused)",
            status=status,
        )
    return venue_error(doc.get("code", 0), str(doc.get("msg", "")), status=status)
