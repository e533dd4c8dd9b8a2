"""Gate v4 spot message bodies for the simulator: engine objects to Gate JSON and back.

Pure functions over a `GateVenue` (the per-exchange protocol state): no I/O. Field names,
enums and string formats follow docs/VENUES.md §3.6 and §3.7 and the gate-api SDK models
(`Order`, `CurrencyPair`, `OrderBook`, `SpotAccount`). Prices and amounts are strings
without trailing zeros, times are Unix seconds unless the field is named `*_ms`.
"""

from __future__ import annotations

import enum
import weakref
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.clock import NS_PER_MS, TimerHandle
from engine.model.enums import OrderSide, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.sim.errors import Reason
from engine.sim.exchange import SimExchange
from engine.sim.matching import (
    Fill,
    OrderRequest,
    OrderSnapshot,
    PostOnlyStyle,
    SimStatus,
    Stp,
)

NS_PER_S = 1_000_000_000
TEXT_PREFIX = "t-"
TEXT_MAX_BYTES = 28  # after the "t-" prefix
_TEXT_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_.-")
REST_DEFAULT_TEXT = "apiv4"  # what Gate reports for an order placed without `text`
WS_DEFAULT_TEXT = "apiv4-ws"


class PocStyle(enum.Enum):
    """A crossing `poc` order (docs/VENUES.md §3.6, not settled by the docs)."""

    CANCELLED_201 = "cancelled_201"  # 201, status cancelled, finish_as poc (default)
    REJECT_400 = "reject_400"  # HTTP 400 POC_FILL_IMMEDIATELY, nothing placed


@dataclass(slots=True)
class RateRule:
    limit: int
    window_ms: int


@dataclass(slots=True)
class GateConfig:
    """Knobs of the Gate protocol layer; change them on `venue_state(exchange).config`."""

    poc_style: PocStyle = PocStyle.CANCELLED_201
    # spot.order_book_update sends a `full: true` book this often per feed (0 = never)
    full_snapshot_every_s: float = 30.0
    # docs/VENUES.md §3.8: place/amend 10 req/s per UID+pair, cancel 200 req/s, others 200/10 s
    place_limit: RateRule = field(default_factory=lambda: RateRule(10, 1000))
    cancel_limit: RateRule = field(default_factory=lambda: RateRule(200, 1000))
    private_limit: RateRule = field(default_factory=lambda: RateRule(200, 10_000))
    public_limit: RateRule = field(default_factory=lambda: RateRule(200, 10_000))
    ws_place_limit: RateRule = field(default_factory=lambda: RateRule(10, 1000))
    countdown_min_s: int = 5
    delay_ack_s: float = 1.0  # DELAY_ACK: the order is placed at once, answered this late


class GateError(Exception):
    """A request the venue refuses: HTTP status plus Gate's `label` and `message`."""

    def __init__(self, status: int, label: str, message: str) -> None:
        super().__init__(f"{status} {label}: {message}")
        self.status = status
        self.label = label
        self.message = message

    def body(self) -> dict[str, str]:
        return {"label": self.label, "message": self.message}


def invalid_param(name: str, value: object) -> GateError:
    return GateError(400, "INVALID_PARAM_VALUE", f"Invalid parameter `{name}` with value: {value}")


def missing_param(name: str) -> GateError:
    return GateError(400, "MISSING_REQUIRED_PARAM", f"Missing required parameter: {name}")


def unknown_pair(pair: object) -> GateError:
    return GateError(400, "INVALID_CURRENCY_PAIR", f"Invalid currency pair {pair}")


ORDER_NOT_FOUND = GateError(404, "ORDER_NOT_FOUND", "Order not found")

# engine Reason of a rejected order -> (status, label, message)
_REJECT: dict[Reason, tuple[int, str, str]] = {
    Reason.UNKNOWN_SYMBOL: (400, "INVALID_CURRENCY_PAIR", "Invalid currency pair"),
    Reason.UNKNOWN_ACCOUNT: (401, "INVALID_KEY", "Invalid key provided"),
    Reason.INVALID_PRICE: (400, "INVALID_PARAM_VALUE", "Invalid parameter `price`"),
    Reason.INVALID_QUANTITY: (400, "INVALID_PARAM_VALUE", "Invalid parameter `amount`"),
    Reason.INVALID_ORDER: (400, "INVALID_PARAM_VALUE", "Invalid order parameters"),
    Reason.DUPLICATE_CLIENT_ORDER_ID: (400, "REPEATED_CREATION", "Order `text` already in use"),
    Reason.FILTER_MIN_QTY: (400, "AMOUNT_TOO_LITTLE", "Order amount too small"),
    Reason.FILTER_MIN_NOTIONAL: (400, "AMOUNT_TOO_LITTLE", "Order total too small"),
    Reason.INSUFFICIENT_BALANCE: (400, "BALANCE_NOT_ENOUGH", "Not enough balance"),
    Reason.POST_ONLY_WOULD_TAKE: (
        400,
        "POC_FILL_IMMEDIATELY",
        "Order would match and take immediately so it's cancelled",
    ),
}

# why an accepted order ended -> finish_as
_FINISH_AS: dict[Reason, str] = {
    Reason.CANCELED_BY_USER: "cancelled",
    Reason.IOC_REMAINDER: "ioc",
    Reason.FOK_NOT_FILLED: "fok",
    Reason.POST_ONLY_WOULD_TAKE: "poc",
    Reason.SELF_TRADE_PREVENTED: "stp",
    Reason.NO_LIQUIDITY: "depth_not_enough",
    Reason.AMOUNT_TOO_SMALL: "small",
    Reason.INSUFFICIENT_BALANCE: "depth_not_enough",
}

_STP_ACT = {"cn": Stp.EXPIRE_TAKER, "co": Stp.EXPIRE_MAKER, "cb": Stp.EXPIRE_BOTH}
_STP_NAME = {v: k for k, v in _STP_ACT.items()}


def reject_error(reason: Reason) -> GateError:
    status, label, message = _REJECT.get(reason, (400, "INVALID_PARAM_VALUE", reason.value))
    return GateError(status, label, message)


def fmt(value: Decimal) -> str:
    """Gate's decimal string: plain notation, no trailing zeros ("65000", "0.001")."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def ms_text(ts_ns: int) -> str:
    """`create_time_ms` of a trade: milliseconds with a fraction, "1700000000213.4578"."""
    return f"{ts_ns // NS_PER_MS}.{(ts_ns % NS_PER_MS) // 100:04d}"


# -- per-exchange protocol state ---------------------------------------------------------------


class GateVenue:
    """What the Gate protocol keeps beside the engine: config, user ids, the texts Gate fills
    in, recently finished orders (for `status=finished`) and per-account balance versions."""

    def __init__(self, exchange: SimExchange) -> None:
        # weak: this state is found through a WeakKeyDictionary keyed by the exchange, and a
        # strong reference from the value would keep the key (and the whole venue) alive
        self._exchange = weakref.ref(exchange)
        self.config = GateConfig()
        if exchange.engine.config.post_only is not PostOnlyStyle.CANCEL:
            # the engine refuses crossing post-only orders outright, so there is no order to
            # report as 201 cancelled: answer the label form instead (docs/VENUES.md §3.6)
            self.config.poc_style = PocStyle.REJECT_400
        self.instruments: dict[str, Instrument] = {i.symbol: i for i in exchange.instruments()}
        self.default_text: dict[int, str] = {}  # order id -> "apiv4-ws" (WS) when no text
        self.finished: dict[str, deque[int]] = {}  # account -> recently finished order ids
        self.fills: dict[str, deque[Fill]] = {}  # account -> recent fills (GET my_trades)
        self.update_ids: dict[str, int] = {}  # account -> balance version (SpotAccount.update_id)
        self.current_default_text = REST_DEFAULT_TEXT  # while an order is being submitted
        self.countdowns: dict[tuple[str, str], TimerHandle] = {}  # (account, pair or "")
        self.book_ms: dict[str, int] = {}  # symbol -> time of its last book change
        self.last_trade: dict[str, int] = {}  # symbol -> price (ticks) of its last trade
        self.amend_texts: dict[int, str] = {}  # order id -> its last `amend_text`
        # called with an order right after an amend changed it (spot.orders `update`): the
        # exchange does not route the engine's OrderAmended to private listeners
        self.amend_listeners: list[Callable[[OrderSnapshot], None]] = []
        self._watching: set[str] = set()
        self._unsubscribe: list[Callable[[], None]] = []

    @property
    def exchange(self) -> SimExchange:
        exchange = self._exchange()
        if exchange is None:
            raise RuntimeError("the simulated exchange is gone")
        return exchange

    def now_ns(self) -> int:
        return self.exchange.clock.time_ns()

    def now_ms(self) -> int:
        return self.now_ns() // NS_PER_MS

    def uid(self, account: str) -> int:
        """A stable numeric Gate user id for an account name."""
        return 10_000_000 + zlib.crc32(account.encode()) % 90_000_000

    def watch(self, account: str) -> None:
        """Track an account's finished orders and balance versions from its first request."""
        if account in self._watching:
            return
        self._watching.add(account)
        done: deque[int] = deque(maxlen=1000)
        self.finished[account] = done
        self.update_ids.setdefault(account, 1)

        trades: deque[Fill] = deque(maxlen=1000)
        self.fills[account] = trades

        def on_event(event: object) -> None:
            self.update_ids[account] = self.update_ids.get(account, 0) + 1
            if isinstance(event, Fill):
                trades.append(event)
            order = getattr(event, "order", None)
            if isinstance(order, OrderSnapshot) and not order.status.is_open:
                done.append(order.order_id)

        self._unsubscribe.append(self.exchange.on_private(account, on_event))

    def close(self) -> None:
        for timer in self.countdowns.values():
            timer.cancel()
        self.countdowns.clear()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self._watching.clear()

    def instrument(self, pair: object) -> Instrument:
        inst = self.instruments.get(pair) if isinstance(pair, str) else None
        if inst is None:
            raise unknown_pair(pair)
        return inst

    def quote_unit(self, inst: Instrument) -> Decimal:
        return self.exchange.engine.ledger.asset_unit(inst.quote) or inst.notional_unit

    def quote_dec(self, inst: Instrument, units: int) -> Decimal:
        return units * self.quote_unit(inst)

    def text_of(self, order_id: int, client_order_id: str) -> str:
        if client_order_id:
            return client_order_id
        return self.default_text.get(order_id, self.current_default_text)


_STATES: weakref.WeakKeyDictionary[SimExchange, GateVenue] = weakref.WeakKeyDictionary()


def venue_state(exchange: SimExchange) -> GateVenue:
    """The Gate protocol state of `exchange` (one per exchange, created on first use)."""
    state = _STATES.get(exchange)
    if state is None:
        state = _STATES[exchange] = GateVenue(exchange)
    return state


# -- requests ---------------------------------------------------------------------------------


def _decimal(doc: dict[str, Any], name: str) -> Decimal:
    raw = doc.get(name)
    if raw is None or raw == "":
        raise missing_param(name)
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise invalid_param(name, raw)
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise invalid_param(name, raw) from None
    if not value.is_finite() or value <= 0:
        raise invalid_param(name, raw)
    return value


def _on_grid(units: Decimal, name: str, raw: object) -> int:
    if units != units.to_integral_value():
        raise GateError(400, "INVALID_PRECISION", f"Invalid precision of `{name}`: {raw}")
    return int(units)


def check_text(text: object) -> str:
    """A client `text`: "t-" plus at most 28 bytes of [0-9A-Za-z_.-]."""
    if not isinstance(text, str):
        raise invalid_param("text", text)
    rest = text[len(TEXT_PREFIX) :]
    if (
        not text.startswith(TEXT_PREFIX)
        or not rest
        or len(rest.encode()) > TEXT_MAX_BYTES
        or not set(rest) <= _TEXT_CHARS
    ):
        raise invalid_param("text", text)
    return text


@dataclass(frozen=True, slots=True)
class AmendRequest:
    """A Gate amend (REST PATCH /spot/orders/{id} body, WS spot.order_amend req_param):
    new total amount in lots and/or new price in ticks (0 = unchanged)."""

    qty: int
    price: int
    amend_text: str


def parse_amend(state: GateVenue, pair: str, doc: object) -> AmendRequest:
    if not isinstance(doc, dict):
        raise GateError(400, "INVALID_REQUEST_BODY", "Request body must be a JSON object")
    inst = state.instrument(pair)
    qty = price = 0
    if doc.get("amount") not in (None, ""):
        qty = _on_grid(_decimal(doc, "amount") / inst.lot_size, "amount", doc["amount"])
    if doc.get("price") not in (None, ""):
        price = _on_grid(_decimal(doc, "price") / inst.tick_size, "price", doc["price"])
    if not qty and not price:
        raise missing_param("amount or price")
    amend_text = doc.get("amend_text")
    if amend_text is not None and (not isinstance(amend_text, str) or len(amend_text) > 31):
        raise invalid_param("amend_text", amend_text)
    return AmendRequest(qty, price, amend_text or "")


def _enum(doc: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = doc.get(name, default)
    if value is None:
        value = default
    if value not in allowed:
        raise invalid_param(name, value)
    return str(value)


@dataclass(frozen=True, slots=True)
class PlaceRequest:
    request: OrderRequest
    text: str  # as reported: the client's or "" (Gate fills in its default)
    action_mode: str
    stp_act: str


def parse_order(state: GateVenue, account: str, doc: object) -> PlaceRequest:
    """A Gate order body (REST POST /spot/orders or WS spot.order_place req_param)."""
    if not isinstance(doc, dict):
        raise GateError(400, "INVALID_REQUEST_BODY", "Request body must be a JSON object")
    pair = doc.get("currency_pair")
    if pair is None:
        raise missing_param("currency_pair")
    inst = state.instrument(pair)
    text = check_text(doc["text"]) if doc.get("text") not in (None, "") else ""
    kind = _enum(doc, "type", ("limit", "market"), "limit")
    _enum(doc, "account", ("spot", "unified"), "spot")
    side_name = doc.get("side")
    if side_name not in ("buy", "sell"):
        raise missing_param("side") if side_name is None else invalid_param("side", side_name)
    side = OrderSide.BUY if side_name == "buy" else OrderSide.SELL
    tif_default = "gtc" if kind == "limit" else "ioc"
    tif = _enum(doc, "time_in_force", ("gtc", "ioc", "poc", "fok"), tif_default)
    action_mode = _enum(doc, "action_mode", ("ACK", "RESULT", "FULL"), "FULL")
    stp_act = _enum(doc, "stp_act", ("cn", "co", "cb", "-"), "-")
    amount = _decimal(doc, "amount")
    stp = _STP_ACT.get(stp_act, Stp.NONE)  # Gate lets a user trade with itself by default
    if kind == "limit":
        price = _decimal(doc, "price")
        ticks = _on_grid(price / inst.tick_size, "price", doc["price"])
        lots = _on_grid(amount / inst.lot_size, "amount", doc["amount"])
        otype = OrderType.LIMIT_MAKER if tif == "poc" else OrderType.LIMIT
        etif = TimeInForce.GTC if tif in ("gtc", "poc") else TimeInForce(tif)
        req = OrderRequest(account, inst.symbol, side, otype, lots, ticks, etif, 0, text, stp)
    else:
        if tif == "poc":
            raise invalid_param("time_in_force", tif)
        etif = TimeInForce.FOK if tif == "fok" else TimeInForce.IOC
        if side is OrderSide.BUY:  # a market buy's amount is the quote to spend
            units = _on_grid(amount / state.quote_unit(inst), "amount", doc["amount"])
            req = OrderRequest(
                account, inst.symbol, side, OrderType.MARKET, 0, 0, etif, units, text, stp
            )
        else:
            lots = _on_grid(amount / inst.lot_size, "amount", doc["amount"])
            req = OrderRequest(
                account, inst.symbol, side, OrderType.MARKET, lots, 0, etif, 0, text, stp
            )
    return PlaceRequest(req, text, action_mode, stp_act)


# -- responses --------------------------------------------------------------------------------


def _status(order: OrderSnapshot) -> tuple[str, str]:
    """(status, finish_as)."""
    if order.status.is_open:
        return "open", "open"
    if order.status is SimStatus.FILLED:
        return "closed", "filled"
    return "cancelled", _FINISH_AS.get(order.reason, "cancelled")


def _tif(order: OrderSnapshot) -> str:
    if order.type is OrderType.LIMIT_MAKER:
        return "poc"
    return order.tif.value


def order_json(
    state: GateVenue,
    order: OrderSnapshot,
    *,
    mode: str = "FULL",
    filled: int | None = None,
    cum_quote: int | None = None,
    fees: int | None = None,
) -> dict[str, Any]:
    """The Gate `Order` object. `filled`/`cum_quote`/`fees` override the snapshot's (a
    spot.orders update for one fill shows the order as it was right after that fill)."""
    inst = state.instruments[order.symbol]
    text = state.text_of(order.order_id, order.client_order_id)
    amend_text = state.amend_texts.get(order.order_id, "-")
    if mode == "ACK":
        return {"id": str(order.order_id), "text": text, "amend_text": amend_text}
    filled = order.filled if filled is None else filled
    cum_quote = order.cum_quote if cum_quote is None else cum_quote
    fees = order.fees if fees is None else fees
    status, finish_as = _status(order)
    if filled != order.filled and status != "open":
        status, finish_as = "open", "open"
    is_market_buy = order.type is OrderType.MARKET and order.side is OrderSide.BUY
    if is_market_buy:
        amount = state.quote_dec(inst, order.quote_amount)
        left = amount - state.quote_dec(inst, cum_quote) if status == "open" else Decimal(0)
    else:
        amount = inst.lots_to_qty(order.qty)
        left = inst.lots_to_qty(order.qty - filled)
    total = state.quote_dec(inst, cum_quote)
    base_filled = inst.lots_to_qty(filled)
    avg = total / base_filled if filled else Decimal(0)
    price = inst.ticks_to_price(order.price) if order.type is not OrderType.MARKET else Decimal(0)
    created, updated = order.created_ns, order.updated_ns
    doc: dict[str, Any] = {
        "id": str(order.order_id),
        "text": text,
        "amend_text": amend_text,
        "create_time": str(created // NS_PER_S),
        "update_time": str(updated // NS_PER_S),
        "create_time_ms": created // NS_PER_MS,
        "update_time_ms": updated // NS_PER_MS,
        "status": status,
        "currency_pair": order.symbol,
        "type": "market" if order.type is OrderType.MARKET else "limit",
        "account": "spot",
        "side": "buy" if order.side is OrderSide.BUY else "sell",
        "amount": fmt(amount),
        "price": fmt(price),
        "time_in_force": _tif(order),
        "iceberg": "0",
        "left": fmt(left),
        "filled_amount": fmt(base_filled),
        "fill_price": fmt(total),
        "filled_total": fmt(total),
        "avg_deal_price": fmt(avg.quantize(Decimal(1).scaleb(-12)).normalize()) if filled else "0",
        "stp_id": 0,
        "stp_act": _STP_NAME.get(order.stp, "-"),
        "finish_as": finish_as,
    }
    if order.stp is not Stp.NONE:
        doc["stp_id"] = state.uid(order.account)
    if mode == "FULL":
        doc.update(
            fee=fmt(state.quote_dec(inst, fees)),
            fee_currency=inst.quote,  # the simulator charges every fee in the quote asset
            point_fee="0",
            gt_fee="0",
            gt_maker_fee="0",
            gt_taker_fee="0",
            gt_discount=False,
            rebated_fee="0",
            rebated_fee_currency=inst.quote,
        )
    return doc


def pair_json(inst: Instrument) -> dict[str, Any]:
    """The Gate `CurrencyPair`: no tick field, `precision`/`amount_precision` are decimals."""
    return {
        "id": inst.symbol,
        "base": inst.base,
        "base_name": inst.base,
        "quote": inst.quote,
        "quote_name": inst.quote,
        "fee": "0.1",
        "min_base_amount": fmt(inst.min_qty),
        "min_quote_amount": fmt(inst.min_notional),
        "max_base_amount": "1000000",
        "max_quote_amount": "50000000",
        "amount_precision": -inst.lot_size.normalize().as_tuple().exponent,  # type: ignore[operator]
        "precision": -inst.tick_size.normalize().as_tuple().exponent,  # type: ignore[operator]
        "trade_status": "tradable",
        "sell_start": 1516378650,
        "buy_start": 1516378650,
        "delisting_time": 0,
        "type": "normal",
        "trade_url": f"https://www.gate.io/trade/{inst.symbol}",
        "st_tag": False,
    }


def levels_json(inst: Instrument, levels: Iterable[tuple[int, int]]) -> list[list[str]]:
    return [[fmt(inst.ticks_to_price(p)), fmt(inst.lots_to_qty(q))] for p, q in levels]


def user_trade_json(state: GateVenue, fill: Fill) -> dict[str, Any]:
    """One spot.usertrades entry."""
    inst = state.instruments[fill.symbol]
    return {
        "id": fill.trade_id,
        "user_id": state.uid(fill.account),
        "order_id": str(fill.order_id),
        "currency_pair": fill.symbol,
        "create_time": fill.ts_ns // NS_PER_S,
        "create_time_ms": ms_text(fill.ts_ns),
        "side": "buy" if fill.side is OrderSide.BUY else "sell",
        "amount": fmt(inst.lots_to_qty(fill.qty)),
        "role": "maker" if fill.is_maker else "taker",
        "price": fmt(inst.ticks_to_price(fill.price)),
        "fee": fmt(state.quote_dec(inst, fill.fee)),
        "fee_currency": inst.quote,
        "point_fee": "0",
        "gt_fee": "0",
        "text": state.text_of(fill.order_id, fill.client_order_id),
        "id_market": fill.trade_id,
    }


def my_trade_json(state: GateVenue, fill: Fill) -> dict[str, Any]:
    """One GET /spot/my_trades entry (the SDK's `Trade`)."""
    inst = state.instruments[fill.symbol]
    return {
        "id": str(fill.trade_id),
        "create_time": str(fill.ts_ns // NS_PER_S),
        "create_time_ms": ms_text(fill.ts_ns),
        "currency_pair": fill.symbol,
        "side": "buy" if fill.side is OrderSide.BUY else "sell",
        "role": "maker" if fill.is_maker else "taker",
        "amount": fmt(inst.lots_to_qty(fill.qty)),
        "price": fmt(inst.ticks_to_price(fill.price)),
        "order_id": str(fill.order_id),
        "fee": fmt(state.quote_dec(inst, fill.fee)),
        "fee_currency": inst.quote,
        "point_fee": "0",
        "gt_fee": "0",
        "amend_text": "-",
        "sequence_id": str(fill.trade_id),
        "text": state.text_of(fill.order_id, fill.client_order_id),
    }
