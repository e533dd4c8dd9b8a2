"""Gate v4 spot trading messages, both ways, for `GateAdapter` (docs/VENUES.md §3.6, §3.7).

Out: the WS API requests of the order path (`spot.order_place`, `spot.order_cancel`,
`spot.order_amend`) are `OrderTemplates`: per instrument and shape, a RequestTemplate
(engine/gateway/request_template.pyx) compiled once and filled per request from the int64
grid values into a reused buffer, returned as the frame's bytes (the session is logged in
once: nothing is signed per order). The text builders below are the readable definition those
templates are held to, byte for byte (tests/test_request_template.py), and what REST sends:
order bodies (REST `POST /spot/orders` and WS `spot.order_place` `req_param`) built by
concatenating the instrument's exact grid strings in one fixed field order, never a dict
through `json.dumps`; the fields are ours (symbol, side, enums, numbers) and the client id is
checked against Gate's `text` alphabet, so no value needs JSON escaping.

In: Gate's order and user-trade objects to grid units, and Gate's error labels to the typed
errors of `engine.gateway.errors`. Messages in those errors come from the venue's answer
only, never from what was signed.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from engine.gateway import request_template as tpl
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
_TIF_TEXT = {_GTC: "gtc", _IOC: "ioc", _FOK: "fok"}

VENUE = "gate"
TEXT_PREFIX = "t-"
TEXT_MAX = 28  # characters after the prefix
_TEXT_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_.-")
NS_PER_MS = 1_000_000

# -- labels -> typed errors (docs/VENUES.md §3.5, §3.6, §3.8) ---------------------------------

_AUTH = frozenset(
    {
        "INVALID_KEY",
        "INVALID_SIGNATURE",
        "INVALID_CREDENTIALS",
        "MISSING_REQUIRED_HEADER",
        "IP_FORBIDDEN",
        "READ_ONLY",
        "FORBIDDEN",
        "ACCOUNT_LOCKED",
    }
)
_NOT_FOUND = frozenset({"ORDER_NOT_FOUND", "ORDER_CLOSED", "ORDER_CANCELLED"})
_SERVER = frozenset({"SERVER_ERROR", "INTERNAL", "TOO_BUSY"})
SKEW_LABEL = "REQUEST_EXPIRED"


def venue_error(
    label: str, message: str, status: int | None, *, retry_after_s: float | None = None
) -> VenueError:
    """The typed error for a Gate `{"label", "message"}` answer with HTTP `status`."""
    if label == "TOO_MANY_REQUESTS" or status == 429:
        return RateLimited(VENUE, label, message, status=status, retry_after_s=retry_after_s)
    if label == "BALANCE_NOT_ENOUGH":
        return InsufficientBalance(VENUE, label, message, status=status)
    if label == "POC_FILL_IMMEDIATELY":
        return PostOnlyWouldCross(VENUE, label, message, status=status)
    if label in _NOT_FOUND:
        return OrderNotFound(VENUE, label, message, status=status)
    if label == SKEW_LABEL:
        return ClockSkew(VENUE, label, message, status=status)
    if label in _AUTH or status in (401, 403):
        return AuthError(VENUE, label, message, status=status)
    if label in _SERVER or status is None or status >= 500:
        return VenueUnavailable(VENUE, label, message, status=status)
    if status == 404:
        return OrderNotFound(VENUE, label, message, status=status)
    # INVALID_PARAM_VALUE, INVALID_PRECISION, AMOUNT_TOO_LITTLE, REPEATED_CREATION, ...
    return InvalidOrder(VENUE, label, message, status=status)


# -- client ids ---------------------------------------------------------------------------------


def to_text(client_order_id: str) -> str:
    """Our client order id as Gate's `text`: "t-" + at most 28 of [0-9A-Za-z_.-]."""
    plain = client_order_id.isascii() and client_order_id.isalnum()  # the engine's own ids
    if (
        not client_order_id
        or len(client_order_id) > TEXT_MAX
        or not (plain or _TEXT_CHARS.issuperset(client_order_id))
    ):
        raise InvalidOrder(
            VENUE,
            "",
            f"client order id {client_order_id!r} must be 1-{TEXT_MAX} of [0-9A-Za-z_.-] "
            "(Gate `text` after its t- prefix)",
        )
    return TEXT_PREFIX + client_order_id


def from_text(text: object) -> str:
    """Gate's `text` back to our client order id; "" for orders we did not name (`apiv4`...)."""
    if isinstance(text, str) and text.startswith(TEXT_PREFIX):
        return text[len(TEXT_PREFIX) :]
    return ""


# -- request bodies -------------------------------------------------------------------------


def order_body(
    text: str,
    instrument: Instrument,
    *,
    side: OrderSide,
    order_type: OrderType,
    quantity_lots: int,
    price_ticks: int,
    tif: TimeInForce,
    account: str = "spot",
) -> str:
    """The order object, fields in Gate's documented order (docs/VENUES.md §3.5 example)."""
    side_s = '","side":"buy"' if side is _BUY else '","side":"sell"'
    amount = instrument.lots_to_str(quantity_lots)
    head = '{"text":"' + text + '","currency_pair":"' + instrument.symbol
    if order_type is _MARKET:
        if side is _BUY:
            # a market buy's amount is the quote to spend: not expressible in base lots
            raise InvalidOrder(
                VENUE, "", "Gate market buys take a quote amount; send a limit IOC instead"
            )
        tif_s = "fok" if tif is _FOK else "ioc"
        return (
            head
            + '","type":"market","account":"'
            + account
            + side_s
            + ',"amount":"'
            + amount
            + '","time_in_force":"'
            + tif_s
            + '"}'
        )
    # poc is Gate's post-only; gtc / ioc / fok are spelt as ours
    tif_s = "poc" if order_type is _LIMIT_MAKER else _TIF_TEXT[tif]
    return (
        head
        + '","type":"limit","account":"'
        + account
        + side_s
        + ',"amount":"'
        + amount
        + '","price":"'
        + instrument.ticks_to_str(price_ticks)
        + '","time_in_force":"'
        + tif_s
        + '"}'
    )


def api_frame(time_s: str, channel: str, req_id: str, req_param: str, login: str = "") -> str:
    """One `event: "api"` request of the WS trading API; `login` the signed fields of
    `spot.login` (login_fields), "" otherwise."""
    frame = (
        '{"time":'
        + time_s
        + ',"channel":"'
        + channel
        + '","event":"api","payload":{"req_id":"'
        + req_id
        + '"'
        + login
    )
    if req_param:
        frame += ',"req_param":' + req_param
    return frame + "}}"


def login_fields(api_key: str, signature: str, timestamp: str) -> str:
    """The signed fields `spot.login` adds to its payload."""
    return f',"api_key":"{api_key}","signature":"{signature}","timestamp":"{timestamp}"'


def amend_body(
    order_id: str,
    instrument: Instrument,
    *,
    price_ticks: int,
    quantity_lots: int,
    amend_text: str = "",
) -> str:
    """WS `spot.order_amend` req_param (REST PATCH takes the same without `order_id`)."""
    out = '{"order_id":"' + order_id + '","currency_pair":"' + instrument.symbol + '"'
    if quantity_lots:
        out += ',"amount":"' + instrument.lots_to_str(quantity_lots) + '"'
    if price_ticks:
        out += ',"price":"' + instrument.ticks_to_str(price_ticks) + '"'
    if amend_text:
        out += ',"amend_text":"' + amend_text + '"'
    return out + "}"


def cancel_body(order_id: str, symbol: str) -> str:
    return '{"order_id":"' + order_id + '","currency_pair":"' + symbol + '"}'


_TEXT_ID = ("client order id", "".join(sorted(_TEXT_CHARS)), TEXT_MAX)
# an order_id parameter: Gate's order id (digits) or our text ("t-" + id)
_ORDER_REF = ("order_id", "".join(sorted(_TEXT_CHARS)), 64)
_PLAIN = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")


class OrderTemplates:
    """The order path's WS API requests of one instrument, as RequestTemplates: the bytes of
    `api_frame(str(time_s), channel, str(req_id), <order_body | cancel_body | amend_body>)`.

    A shape (place: side, type and time in force; amend: which of amount and price change)
    is compiled on first use and kept. A value Gate would not take (a client id outside
    `text`'s alphabet or over 28 characters, a price or amount not positive, a market buy)
    raises InvalidOrder before anything is sent.
    """

    __slots__ = ("_cache", "account", "instrument")

    def __init__(self, instrument: Instrument, *, account: str = "spot") -> None:
        for what, text in (("currency_pair", instrument.symbol), ("account", account)):
            if not (text and text.isascii() and _PLAIN.issuperset(text)):
                raise ValueError(f"{what} {text!r} is not plain text a template may carry")
        self.instrument = instrument
        self.account = account
        self._cache: dict[tuple[object, ...], RequestTemplate] = {}

    def _compile(self, key: tuple[object, ...]) -> RequestTemplate:
        inst = self.instrument
        channel = str(key[0])
        pair = '","currency_pair":"' + inst.symbol
        body: list[str | int]
        if channel == "spot.order_place":
            side, order_type, tif = key[1], key[2], key[3]
            assert isinstance(order_type, OrderType) and isinstance(tif, TimeInForce)
            side_s = '","side":"buy"' if side is _BUY else '","side":"sell"'
            body = ['{"text":"' + TEXT_PREFIX, tpl.ID, pair]
            if order_type is _MARKET:
                tif_s = "fok" if tif is _FOK else "ioc"
                body += ['","type":"market","account":"' + self.account + side_s]
                body += [',"amount":"', tpl.QTY, '","time_in_force":"' + tif_s + '"}']
            else:
                tif_s = "poc" if order_type is _LIMIT_MAKER else _TIF_TEXT[tif]
                body += ['","type":"limit","account":"' + self.account + side_s]
                body += [',"amount":"', tpl.QTY, '","price":"', tpl.PRICE]
                body.append('","time_in_force":"' + tif_s + '"}')
            ids = [_TEXT_ID]
        elif channel == "spot.order_cancel":
            body = ['{"order_id":"', tpl.ID, pair + '"}']
            ids = [_ORDER_REF]
        else:
            body = ['{"order_id":"', tpl.ID, pair + '"']
            if key[1]:
                body += [',"amount":"', tpl.QTY, '"']
            if key[2]:
                body += [',"price":"', tpl.PRICE, '"']
            body.append("}")
            ids = [_ORDER_REF]
        frame: list[str | int] = ['{"time":', tpl.TIME, ',"channel":"' + channel]
        frame += ['","event":"api","payload":{"req_id":"', tpl.RID, '","req_param":']
        frame += [*body, "}}"]
        template = self._cache[key] = RequestTemplate(
            frame, price_grid=inst.price_grid, qty_grid=inst.qty_grid, ids=ids
        )
        return template

    def place(
        self,
        req_id: int,
        time_s: int,
        client_order_id: str,
        *,
        side: OrderSide,
        order_type: OrderType,
        quantity_lots: int,
        price_ticks: int,
        tif: TimeInForce,
    ) -> bytes:
        """`spot.order_place` (text = "t-" + client_order_id)."""
        if order_type is _MARKET and side is _BUY:
            raise InvalidOrder(
                VENUE, "", "Gate market buys take a quote amount; send a limit IOC instead"
            )
        key = ("spot.order_place", side, order_type, tif)
        template = self._cache.get(key) or self._compile(key)
        try:
            return template.fill(req_id, time_s, price_ticks, quantity_lots, client_order_id, "")
        except TemplateError as exc:
            raise InvalidOrder(VENUE, "", f"spot.order_place: {exc}") from None

    def cancel(self, req_id: int, time_s: int, order_ref: str) -> bytes:
        """`spot.order_cancel` of `order_ref` (Gate's order id, or "t-" + our id)."""
        key = ("spot.order_cancel", None, None, None)
        template = self._cache.get(key) or self._compile(key)
        try:
            return template.fill(req_id, time_s, 0, 0, order_ref, "")
        except TemplateError as exc:
            raise InvalidOrder(VENUE, "", f"spot.order_cancel: {exc}") from None

    def amend(
        self, req_id: int, time_s: int, order_ref: str, *, price_ticks: int, quantity_lots: int
    ) -> bytes:
        """`spot.order_amend`: amount and/or price; 0 leaves that value unchanged."""
        if price_ticks < 0 or quantity_lots < 0 or not (price_ticks or quantity_lots):
            raise InvalidOrder(VENUE, "", "amend needs a new price and/or quantity")
        key = ("spot.order_amend", quantity_lots != 0, price_ticks != 0, None)
        template = self._cache.get(key) or self._compile(key)
        try:
            return template.fill(req_id, time_s, price_ticks, quantity_lots, order_ref, "")
        except TemplateError as exc:
            raise InvalidOrder(VENUE, "", f"spot.order_amend: {exc}") from None


# -- answers --------------------------------------------------------------------------------


def side_of(doc: dict[str, Any]) -> OrderSide:
    return _BUY if doc.get("side") == "buy" else _SELL


# finish_as of a cancelled order -> our status (ioc/fok/stp/... remainders expired by the venue)
_CANCELED_AS = frozenset({"cancelled", "poc", "liquidate_cancelled", "-", ""})


def status_of(doc: dict[str, Any], filled_lots: int, qty_lots: int) -> OrderStatus:
    """Order status from Gate's `status` (REST) or `event` (spot.orders) and `finish_as`."""
    status = doc.get("status")
    finish_as = str(doc.get("finish_as") or "")
    if status == "closed" or finish_as == "filled":
        return OrderStatus.FILLED
    if status == "cancelled" or (finish_as not in ("", "open") and doc.get("event") == "finish"):
        if finish_as in _CANCELED_AS:
            return OrderStatus.CANCELED
        return OrderStatus.EXPIRED
    if doc.get("event") == "finish":
        return OrderStatus.FILLED if qty_lots and filled_lots >= qty_lots else OrderStatus.CANCELED
    return OrderStatus.PARTIALLY_FILLED if filled_lots > 0 else OrderStatus.NEW


def reason_of(doc: dict[str, Any], status: OrderStatus) -> str:
    if status in (OrderStatus.CANCELED, OrderStatus.EXPIRED):
        return str(doc.get("finish_as") or "")
    return ""


def lots(instrument: Instrument, text: object) -> int:
    """A Gate amount string to lots (0 when absent)."""
    if not isinstance(text, str) or not text:
        return 0
    return instrument.qty_to_lots(text)


def ticks(instrument: Instrument, text: object) -> int:
    if not isinstance(text, str) or not text:
        return 0
    return instrument.price_to_ticks(text)


def order_lots(instrument: Instrument, doc: dict[str, Any]) -> tuple[int, int]:
    """(quantity, filled) in lots of a limit or market-sell order object."""
    qty = lots(instrument, doc.get("amount"))
    filled_amount = doc.get("filled_amount")
    if isinstance(filled_amount, str) and filled_amount:
        return qty, lots(instrument, filled_amount)
    return qty, max(qty - lots(instrument, doc.get("left")), 0)


def ms_to_ns(value: object) -> int:
    """`create_time_ms` ("1605176741123.456", 1710488334073 or "1710488334073") to ns."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int):
        return value * NS_PER_MS
    try:
        return int(Decimal(str(value)) * NS_PER_MS)
    except (InvalidOperation, ValueError):
        return 0


def decimal(value: object) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)
