"""Binance spot message shapes: errors, enums, order/fill bodies, filters, stream events.

Pure formatting over the simulator's snapshots and events (docs/VENUES.md §1.3, §1.6, §1.7,
§1.9); no I/O here, so REST and the WS API render exactly the same bodies.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.model.enums import OrderSide, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.sim.errors import Reason
from engine.sim.matching import Fill, MatchingEngine, OrderSnapshot, PublicTrade, SimStatus, Stp

NS_PER_MS = 1_000_000
ASSET_DECIMALS = 8  # Binance prints every asset amount with 8 fraction digits
_EIGHT = Decimal(1).scaleb(-ASSET_DECIMALS)
ZERO8 = "0.00000000"

Json = dict[str, Any]


class BinanceError(Exception):
    """A request failed the way Binance reports it: HTTP status plus {"code", "msg"}."""

    def __init__(
        self,
        status: int,
        code: int,
        msg: str,
        retry_after_s: int | None = None,
        *,
        data: Json | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg
        self.retry_after_s = retry_after_s
        self.data = data  # cancelReplace: which part failed

    def body(self) -> Json:
        if self.data is not None:
            return {"code": self.code, "msg": self.msg, "data": self.data}
        return {"code": self.code, "msg": self.msg}


# -- common errors (errors.md wording) ----------------------------------------------------


def mandatory(name: str) -> BinanceError:
    return BinanceError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def illegal(name: str, legal: str) -> BinanceError:
    return BinanceError(
        400,
        -1100,
        f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.",
    )


def not_required(name: str) -> BinanceError:
    return BinanceError(400, -1106, f"Parameter '{name}' sent when not required.")


def too_precise(name: str) -> BinanceError:
    return BinanceError(400, -1111, f"Parameter '{name}' has too much precision.")


def filter_failure(name: str) -> BinanceError:
    return BinanceError(400, -1013, f"Filter failure: {name}")


BAD_SYMBOL = BinanceError(400, -1121, "Invalid symbol.")
BAD_SIGNATURE = BinanceError(400, -1022, "Signature for this request is not valid.")
BAD_KEY = BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
BAD_KEY_FORMAT = BinanceError(401, -2014, "API-key format invalid.")
OUTSIDE_WINDOW = BinanceError(
    400, -1021, "Timestamp for this request is outside of the recvWindow."
)
AHEAD = BinanceError(
    400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."
)
BAD_RECV_WINDOW = BinanceError(400, -1131, "recvWindow must be less than 60000")
UNKNOWN_ORDER_CANCEL = BinanceError(400, -2011, "Unknown order sent.")
NO_SUCH_ORDER = BinanceError(400, -2013, "Order does not exist.")
SERVER_ERROR = BinanceError(
    503,
    -1008,
    "Server is currently overloaded with other requests. Please try again in a few minutes.",
)
UNKNOWN_ERROR = BinanceError(500, -1000, "An unknown error occurred while processing the request.")

# Reason -> the error an order (or cancel) refused by the matching engine gets
_REJECTS: dict[Reason, BinanceError] = {
    Reason.UNKNOWN_SYMBOL: BAD_SYMBOL,
    Reason.UNKNOWN_ACCOUNT: BAD_KEY,
    Reason.INVALID_PRICE: filter_failure("PRICE_FILTER"),
    Reason.INVALID_QUANTITY: filter_failure("LOT_SIZE"),
    Reason.INVALID_ORDER: BinanceError(400, -1013, "Invalid quantity."),
    Reason.DUPLICATE_CLIENT_ORDER_ID: BinanceError(400, -2010, "Duplicate order sent."),
    Reason.FILTER_MIN_QTY: filter_failure("LOT_SIZE"),
    Reason.FILTER_MIN_NOTIONAL: filter_failure("NOTIONAL"),
    Reason.INSUFFICIENT_BALANCE: BinanceError(
        400, -2010, "Account has insufficient balance for requested action."
    ),
    Reason.POST_ONLY_WOULD_TAKE: BinanceError(
        400, -2010, "Order would immediately match and take."
    ),
    Reason.UNKNOWN_ORDER: UNKNOWN_ORDER_CANCEL,
}


def reject_error(reason: Reason) -> BinanceError:
    return _REJECTS.get(reason, UNKNOWN_ERROR)


# -- enums ---------------------------------------------------------------------------------

SIDES = {"BUY": OrderSide.BUY, "SELL": OrderSide.SELL}
TYPES = {"LIMIT": OrderType.LIMIT, "MARKET": OrderType.MARKET, "LIMIT_MAKER": OrderType.LIMIT_MAKER}
# STOP_LOSS*, TAKE_PROFIT* are not matched by the simulator: refused as -1116
TIFS = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}
STPS = {
    "NONE": Stp.NONE,
    "EXPIRE_TAKER": Stp.EXPIRE_TAKER,
    "EXPIRE_MAKER": Stp.EXPIRE_MAKER,
    "EXPIRE_BOTH": Stp.EXPIRE_BOTH,
}
_SIDE_NAME = {v: k for k, v in SIDES.items()}
_TYPE_NAME = {v: k for k, v in TYPES.items()}
_TIF_NAME = {v: k for k, v in TIFS.items()}
_STP_NAME = {v: k for k, v in STPS.items()}
STATUS_NAME = {s: s.name for s in SimStatus}


def side_name(side: OrderSide) -> str:
    return _SIDE_NAME[side]


# -- amounts -------------------------------------------------------------------------------


def amount8(value: Decimal) -> str:
    """An asset amount as Binance prints it: exactly 8 fraction digits."""
    return f"{value.quantize(_EIGHT):f}"


class Units:
    """Converts one symbol's integer units (ticks, lots, quote-asset units) to Binance strings."""

    def __init__(self, engine: MatchingEngine, inst: Instrument) -> None:
        self.inst = inst
        _, quote_scale = engine.scales(inst.symbol)
        # quote-asset units are notional units divided by the symbol's scale
        self.quote_unit = inst.notional_unit / quote_scale

    def price(self, ticks: int) -> str:
        return self.inst.ticks_to_str(ticks) if ticks else ZERO8

    def qty(self, lots: int) -> str:
        return self.inst.lots_to_str(lots) if lots else ZERO8

    def quote(self, units: int) -> str:
        return amount8(units * self.quote_unit)


def ms(ts_ns: int) -> int:
    return ts_ns // NS_PER_MS


# -- order bodies --------------------------------------------------------------------------


def order_ack(snap: OrderSnapshot, transact_ns: int) -> Json:
    return {
        "symbol": snap.symbol,
        "orderId": snap.order_id,
        "orderListId": -1,
        "clientOrderId": snap.client_order_id,
        "transactTime": ms(transact_ns),
    }


def _order_common(snap: OrderSnapshot, u: Units) -> Json:
    return {
        "price": u.price(snap.price),
        "origQty": u.qty(snap.qty),
        "executedQty": u.qty(snap.filled),
        "origQuoteOrderQty": u.quote(snap.quote_amount),
        "cummulativeQuoteQty": u.quote(snap.cum_quote),
        "status": STATUS_NAME[snap.status],
        "timeInForce": _TIF_NAME[snap.tif],
        "type": _TYPE_NAME[snap.type],
        "side": _SIDE_NAME[snap.side],
    }


def order_result(snap: OrderSnapshot, u: Units, transact_ns: int) -> Json:
    body = order_ack(snap, transact_ns)
    body.update(_order_common(snap, u))
    body["workingTime"] = ms(snap.created_ns) if snap.status.is_open or snap.filled else -1
    body["selfTradePreventionMode"] = _STP_NAME[snap.stp]
    return body


def order_full(snap: OrderSnapshot, u: Units, transact_ns: int, fills: list[Fill]) -> Json:
    body = order_result(snap, u, transact_ns)
    body["fills"] = [
        {
            "price": u.price(f.price),
            "qty": u.qty(f.qty),
            "commission": u.quote(f.fee),
            "commissionAsset": f.fee_asset,
            "tradeId": f.trade_id,
        }
        for f in fills
    ]
    return body


def order_query(snap: OrderSnapshot, u: Units) -> Json:
    """GET /api/v3/order and openOrders entries."""
    body: Json = {
        "symbol": snap.symbol,
        "orderId": snap.order_id,
        "orderListId": -1,
        "clientOrderId": snap.client_order_id,
    }
    body.update(_order_common(snap, u))
    body.update(
        {
            "stopPrice": ZERO8,
            "icebergQty": ZERO8,
            "time": ms(snap.created_ns),
            "updateTime": ms(snap.updated_ns),
            "isWorking": True,
            "workingTime": ms(snap.created_ns),
            "origQuoteOrderQty": u.quote(snap.quote_amount),
            "selfTradePreventionMode": _STP_NAME[snap.stp],
        }
    )
    return body


def cancel_result(snap: OrderSnapshot, u: Units, transact_ns: int, cancel_cid: str) -> Json:
    body: Json = {
        "symbol": snap.symbol,
        "origClientOrderId": snap.client_order_id,
        "orderId": snap.order_id,
        "orderListId": -1,
        "clientOrderId": cancel_cid,
        "transactTime": ms(transact_ns),
    }
    body.update(_order_common(snap, u))
    body["selfTradePreventionMode"] = _STP_NAME[snap.stp]
    return body


def my_trade(fill: Fill, u: Units) -> Json:
    """One row of GET /api/v3/myTrades (and WS API myTrades)."""
    return {
        "symbol": fill.symbol,
        "id": fill.trade_id,
        "orderId": fill.order_id,
        "orderListId": -1,
        "price": u.price(fill.price),
        "qty": u.qty(fill.qty),
        "quoteQty": u.quote(fill.quote_qty),
        "commission": u.quote(fill.fee),
        "commissionAsset": fill.fee_asset,
        "time": ms(fill.ts_ns),
        "isBuyer": fill.side is OrderSide.BUY,
        "isMaker": fill.is_maker,
        "isBestMatch": True,
    }


# -- exchangeInfo --------------------------------------------------------------------------


# the filter bounds every simulated symbol publishes (Binance's BTCUSDT values)
MAX_PRICE = Decimal(1_000_000)
MAX_QTY = Decimal(9000)
MAX_NOTIONAL = Decimal(9_000_000)
PERCENT_PRICE_UP = 5  # PERCENT_PRICE_BY_SIDE: bid/ask multiplier up ...
PERCENT_PRICE_DOWN = Decimal("0.2")  # ... and down, around the last trade price


def symbol_info(inst: Instrument) -> Json:
    price_max = MAX_PRICE
    return {
        "symbol": inst.symbol,
        "status": "TRADING",
        "baseAsset": inst.base,
        "baseAssetPrecision": ASSET_DECIMALS,
        "quoteAsset": inst.quote,
        "quotePrecision": ASSET_DECIMALS,
        "quoteAssetPrecision": ASSET_DECIMALS,
        "baseCommissionPrecision": ASSET_DECIMALS,
        "quoteCommissionPrecision": ASSET_DECIMALS,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "opoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": True,
        "amendAllowed": False,
        "pegInstructionsAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": amount8(inst.tick_size),
                "maxPrice": amount8(price_max),
                "tickSize": amount8(inst.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": amount8(inst.min_qty),
                "maxQty": amount8(MAX_QTY),
                "stepSize": amount8(inst.lot_size),
            },
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": str(PERCENT_PRICE_UP),
                "bidMultiplierDown": str(PERCENT_PRICE_DOWN),
                "askMultiplierUp": str(PERCENT_PRICE_UP),
                "askMultiplierDown": str(PERCENT_PRICE_DOWN),
                "avgPriceMins": 5,
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": amount8(inst.min_notional),
                "applyMinToMarket": True,
                "maxNotional": amount8(MAX_NOTIONAL),
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


# -- market data ---------------------------------------------------------------------------


def levels(u: Units, rows: list[tuple[int, int]] | tuple[tuple[int, int], ...]) -> list[list[str]]:
    return [[u.price(p), u.qty(q)] for p, q in rows]


def depth_snapshot(
    update_id: int, u: Units, bids: list[tuple[int, int]], asks: list[tuple[int, int]]
) -> Json:
    return {"lastUpdateId": update_id, "bids": levels(u, bids), "asks": levels(u, asks)}


def depth_diff(
    symbol: str,
    *,
    event_ns: int,
    first_id: int,
    last_id: int,
    u: Units,
    bids: list[tuple[int, int]],
    asks: list[tuple[int, int]],
) -> Json:
    return {
        "e": "depthUpdate",
        "E": ms(event_ns),
        "s": symbol,
        "U": first_id,
        "u": last_id,
        "b": levels(u, bids),
        "a": levels(u, asks),
    }


def trade_event(trade: PublicTrade, u: Units, event_ns: int) -> Json:
    return {
        "e": "trade",
        "E": ms(event_ns),
        "s": trade.symbol,
        "t": trade.trade_id,
        "p": u.price(trade.price),
        "q": u.qty(trade.qty),
        "T": ms(trade.ts_ns),
        # m: the buyer was the maker, i.e. the aggressor sold
        "m": trade.taker_side is OrderSide.SELL,
        "M": True,
    }


def book_ticker(
    symbol: str, update_id: int, u: Units, bid: tuple[int, int] | None, ask: tuple[int, int] | None
) -> Json:
    """The <symbol>@bookTicker event (spot has no e/E fields)."""
    return {
        "u": update_id,
        "s": symbol,
        "b": u.price(bid[0]) if bid else ZERO8,
        "B": u.qty(bid[1]) if bid else ZERO8,
        "a": u.price(ask[0]) if ask else ZERO8,
        "A": u.qty(ask[1]) if ask else ZERO8,
    }


def rest_book_ticker(
    symbol: str, u: Units, bid: tuple[int, int] | None, ask: tuple[int, int] | None
) -> Json:
    """GET /api/v3/ticker/bookTicker and WS API ticker.book."""
    t = book_ticker(symbol, 0, u, bid, ask)
    return {
        "symbol": symbol,
        "bidPrice": t["b"],
        "bidQty": t["B"],
        "askPrice": t["a"],
        "askQty": t["A"],
    }


# -- user data stream ----------------------------------------------------------------------


def execution_report(
    snap: OrderSnapshot,
    u: Units,
    event_ns: int,
    *,
    exec_type: str,
    execution_id: int,
    client_order_id: str,
    orig_client_order_id: str = "",
    fill: Fill | None = None,
) -> Json:
    """One executionReport. For a TRADE the cumulative fields come from the fill itself
    (the snapshot may already include later fills of the same call)."""
    filled = fill.cum_filled if fill else snap.filled
    cum_quote = fill.cum_quote if fill else snap.cum_quote
    status = fill.status if fill else snap.status
    return {
        "e": "executionReport",
        "E": ms(event_ns),
        "s": snap.symbol,
        "c": client_order_id,
        "S": _SIDE_NAME[snap.side],
        "o": _TYPE_NAME[snap.type],
        "f": _TIF_NAME[snap.tif],
        "q": u.qty(snap.qty),
        "p": u.price(snap.price),
        "P": ZERO8,
        "F": ZERO8,
        "g": -1,
        "C": orig_client_order_id,
        "x": exec_type,
        "X": STATUS_NAME[status],
        "r": "NONE",
        "i": snap.order_id,
        "l": u.qty(fill.qty) if fill else ZERO8,
        "z": u.qty(filled),
        "L": u.price(fill.price) if fill else ZERO8,
        "n": u.quote(fill.fee) if fill else "0",
        "N": fill.fee_asset if fill else None,
        "T": ms(event_ns),
        "t": fill.trade_id if fill else -1,
        "I": execution_id,
        "w": status.is_open,
        "m": fill.is_maker if fill else False,
        "M": fill is not None,
        "O": ms(snap.created_ns),
        "Z": u.quote(cum_quote),
        "Y": u.quote(fill.quote_qty) if fill else ZERO8,
        "Q": u.quote(snap.quote_amount),
        "W": ms(snap.created_ns),
        "V": _STP_NAME[snap.stp],
    }


def account_position(
    event_ns: int, balances: dict[str, tuple[Decimal, Decimal]], assets: list[str]
) -> Json:
    return {
        "e": "outboundAccountPosition",
        "E": ms(event_ns),
        "u": ms(event_ns),
        "B": [
            {"a": a, "f": amount8(balances[a][0]), "l": amount8(balances[a][1])}
            for a in assets
            if a in balances
        ],
    }
