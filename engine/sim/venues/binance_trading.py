"""Binance request semantics shared by REST and the WS API: parameters, auth, limits, orders.

Every operation takes the request's parameters as strings (REST form fields; WS API params are
parsed so that numbers keep their wire text) and returns the JSON body, or raises
`BinanceError`. The transports only add framing, headers and faults.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from engine._core.fixedpoint import GridError, OffGridError
from engine.model.enums import OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.sim.accounts import PPM
from engine.sim.exchange import SimExchange
from engine.sim.matching import (
    CancelRejected,
    Event,
    Fill,
    OrderAccepted,
    OrderDone,
    OrderRejected,
    OrderRequest,
    OrderSnapshot,
    PublicTrade,
)
from engine.sim.venues import binance_messages as m
from engine.sim.venues.binance_limits import Knobs, RateLimits
from engine.sim.venues.binance_messages import BinanceError, Json, Units
from engine.wire.binance_signing import (
    BINANCE_DEFAULT_RECV_WINDOW_MS,
    BINANCE_MAX_RECV_WINDOW_MS,
    BinanceVerifyKey,
    binance_check_timestamp,
)
from engine.wire.timestamps import TimestampCheck

NS_PER_MS = 1_000_000
_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_DECIMAL_LEGAL = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
_CLIENT_ID = re.compile(r"^[a-zA-Z0-9-_]{1,36}$")
_CLIENT_ID_LEGAL = "^[a-zA-Z0-9-_]{1,36}$"
_SYMBOL = re.compile(r"^[A-Z0-9-_.]{1,20}$")
_ORDER_ID = re.compile(r"^[0-9]{1,20}$")
_INT = re.compile(r"^-?[0-9]{1,20}$")
_RECV_WINDOW = re.compile(r"^[0-9]{1,5}(\.[0-9]{1,3})?$")
_TIMESTAMP = re.compile(r"^[0-9]{1,16}$")
_MICROS_DIGITS = 16  # a 16-digit timestamp is in microseconds (docs/VENUES.md §1.5)
_ID_ALPHABET = string.ascii_letters + string.digits
CLIENT_ID_LENGTH = 22  # Binance's generated client order ids: 22 letters and digits
MAX_TRADES_KEPT = 10_000  # per account, for myTrades
LISTEN_KEY_LENGTH = 60
LISTEN_KEY_TTL_MS = 60 * 60_000


Params = dict[str, str]
_T = TypeVar("_T")


class BinanceVenue(RateLimits):
    """Per-venue protocol state: rate-limit windows, generated ids, cancel client ids."""

    def __init__(self, exchange: SimExchange) -> None:
        self.exchange = exchange
        self.init_rate_limits()
        self.knobs = Knobs()
        self._units = {inst.symbol: Units(exchange.engine, inst) for inst in exchange.instruments()}
        # generated client ids look like Binance's (22 random letters and digits), seeded so a
        # run is repeatable
        self._id_rng = random.Random(0x5EED_B1A)
        self._next_execution_id = 0
        # account -> its fills, oldest first (myTrades); one exchange listener per account
        self.trades: dict[str, list[Fill]] = {}
        self._trade_listeners: dict[str, Callable[[], None]] = {}
        for acct in exchange.engine.ledger:
            if not acct.exempt:
                self.watch_account(acct.account_id)
        # listenKey -> (account, expiry ms of the venue clock); deposit/withdrawal listeners
        self.listen_keys: dict[str, tuple[str, int]] = {}
        self.balance_hooks: list[Callable[[str, str, str], None]] = []
        # last trade price per symbol: the reference price of PERCENT_PRICE_BY_SIDE
        self.last_price: dict[str, int] = {}
        exchange.on_public(self._on_public)
        # order id -> client id of the cancel request that ended it (executionReport "c")
        self.cancel_client_ids: dict[int, str] = {}
        # Ed25519 API keys: api key -> (public key, account)
        self._ed25519_keys: dict[str, tuple[Ed25519PublicKey, str]] = {}

    # -- clocks and ids -------------------------------------------------------------------

    def now_ns(self) -> int:
        return self.exchange.clock.time_ns()

    def now_ms(self) -> int:
        return self.now_ns() // NS_PER_MS

    def client_id(self) -> str:
        """A server-generated client order id: 22 random letters and digits, like Binance's."""
        return "".join(self._id_rng.choices(_ID_ALPHABET, k=CLIENT_ID_LENGTH))

    def execution_id(self) -> int:
        self._next_execution_id += 1
        return self._next_execution_id

    def units(self, symbol: str) -> Units:
        return self._units[symbol]

    def instrument(self, symbol: str) -> Instrument:
        if symbol not in self._units:
            raise m.BAD_SYMBOL
        return self._units[symbol].inst

    # -- trade history ----------------------------------------------------------------------

    def watch_account(self, account: str) -> None:
        """Keep `account`'s fills for myTrades (from now on; idempotent)."""
        if account in self._trade_listeners or self.exchange.engine.ledger.get(account) is None:
            return
        kept = self.trades.setdefault(account, [])

        def record(event: Event) -> None:
            if isinstance(event, Fill):
                kept.append(event)
                if len(kept) > MAX_TRADES_KEPT:
                    del kept[: len(kept) - MAX_TRADES_KEPT]

        self._trade_listeners[account] = self.exchange.on_private(account, record)

    def _on_public(self, event: Event) -> None:
        if isinstance(event, PublicTrade):
            self.last_price[event.symbol] = event.price

    # -- authentication -------------------------------------------------------------------

    def register_ed25519_key(
        self, api_key: str, public_key: str | bytes | Ed25519PublicKey, account: str = "user"
    ) -> None:
        """Make `api_key` an Ed25519 API key of `account` (which must be open): its requests
        are verified with `public_key` (a PEM SubjectPublicKeyInfo or the key object)."""
        if not api_key:
            raise ValueError("empty API key")
        if not isinstance(public_key, Ed25519PublicKey):
            data = public_key.encode() if isinstance(public_key, str) else public_key
            loaded = load_pem_public_key(data)
            if not isinstance(loaded, Ed25519PublicKey):
                raise ValueError("the PEM key is not an Ed25519 public key")
            public_key = loaded
        self.exchange.engine.ledger.account(account)  # raises for an unknown account
        self._ed25519_keys[api_key] = (public_key, account)

    def _verify_key(self, api_key: str) -> tuple[BinanceVerifyKey, str] | None:
        ed25519 = self._ed25519_keys.get(api_key)
        if ed25519 is not None:
            return ed25519
        return self.exchange.account_for_key(api_key)

    def authenticate(
        self, api_key: str | None, params: Params, signature_ok: Callable[[BinanceVerifyKey], bool]
    ) -> str:
        """The account of a signed request, after Binance's checks in Binance's order:
        key, timestamp/recvWindow, then the signature over the raw request. HMAC keys come
        from the exchange's credentials, Ed25519 keys from `register_ed25519_key`."""
        if not api_key:
            raise m.BAD_KEY_FORMAT
        found = self._verify_key(api_key)
        if found is None:
            raise m.BAD_KEY
        key, account = found
        self.check_timestamp(params)
        if not signature_ok(key):
            raise m.BAD_SIGNATURE
        self.watch_account(account)
        return account

    def account_of_key(self, api_key: str | None) -> str:
        """The account of an API key, for the key-only (unsigned) endpoints (listenKey)."""
        if not api_key:
            raise m.BAD_KEY_FORMAT
        found = self._verify_key(api_key)
        if found is None:
            raise m.BAD_KEY
        self.watch_account(found[1])
        return found[1]

    def is_ed25519_key(self, api_key: str) -> bool:
        return api_key in self._ed25519_keys

    def check_timestamp(self, params: Params) -> None:
        text = params.get("timestamp", "")
        if not text:
            raise m.mandatory("timestamp")
        if not _TIMESTAMP.match(text):
            raise m.illegal("timestamp", "^[0-9]{1,16}$")
        stamp_ms = Decimal(text)
        if len(text) >= _MICROS_DIGITS:
            stamp_ms /= 1000
        window = params.get("recvWindow", "")
        window_ms = Decimal(BINANCE_DEFAULT_RECV_WINDOW_MS)
        if window:
            if not _RECV_WINDOW.match(window):
                raise m.illegal("recvWindow", "^[0-9]{1,5}(\\.[0-9]{1,3})?$")
            window_ms = Decimal(window)
            if window_ms > BINANCE_MAX_RECV_WINDOW_MS:
                raise m.BAD_RECV_WINDOW
        verdict = binance_check_timestamp(float(stamp_ms), self.now_ms(), float(window_ms))
        if verdict is TimestampCheck.AHEAD:
            raise m.AHEAD
        if verdict is not TimestampCheck.OK:
            raise m.OUTSIDE_WINDOW

    # -- parameter helpers ----------------------------------------------------------------

    def symbol_param(self, params: Params, required: bool = True) -> str | None:
        symbol = params.get("symbol", "")
        if not symbol:
            if required:
                raise m.mandatory("symbol")
            return None
        if not _SYMBOL.match(symbol):
            raise m.illegal("symbol", "^[A-Z0-9-_.]{1,20}$")
        self.instrument(symbol)
        return symbol

    # -- user data: listenKeys and balance changes -------------------------------------------

    def listen_key_start(self, account: str) -> Json:
        """POST /api/v3/userDataStream, WS API userDataStream.start: the account's active key
        (its validity extended) or a new one; valid for 60 minutes."""
        now = self.now_ms()
        for key, (owner, expires) in self.listen_keys.items():
            if owner == account and expires > now:
                self.listen_keys[key] = (account, now + LISTEN_KEY_TTL_MS)
                return {"listenKey": key}
        key = "".join(self._id_rng.choices(_ID_ALPHABET, k=LISTEN_KEY_LENGTH))
        self.listen_keys[key] = (account, now + LISTEN_KEY_TTL_MS)
        return {"listenKey": key}

    def listen_key_ping(self, account: str, params: Params) -> Json:
        key = self._listen_key(account, params)
        self.listen_keys[key] = (account, self.now_ms() + LISTEN_KEY_TTL_MS)
        return {}

    def listen_key_stop(self, account: str, params: Params) -> Json:
        del self.listen_keys[self._listen_key(account, params)]
        return {}

    def listen_key_account(self, key: str) -> str | None:
        """The account of a live listenKey (what `/ws/<listenKey>` serves), else None."""
        found = self.listen_keys.get(key)
        if found is None or found[1] <= self.now_ms():
            return None
        return found[0]

    def _listen_key(self, account: str, params: Params) -> str:
        key = params.get("listenKey", "")
        if not key:
            raise m.mandatory("listenKey")
        found = self.listen_keys.get(key)
        if found is None or found[0] != account or found[1] <= self.now_ms():
            raise BinanceError(400, -1125, "This listenKey does not exist.")
        return key

    def deposit(self, account: str, asset: str, amount: Decimal) -> None:
        """Credit (negative: debit) an account from outside, as a deposit or withdrawal: the
        user data stream gets balanceUpdate and outboundAccountPosition."""
        self.exchange.deposit(account, asset, amount)
        for hook in tuple(self.balance_hooks):
            hook(account, asset, m.amount8(amount))

    # -- orders ---------------------------------------------------------------------------

    def place_order(self, account: str, params: Params, *, test: bool = False) -> Json:
        symbol = self.symbol_param(params)
        assert symbol is not None
        request, resp_type = self._order_request(account, symbol, params)
        if test:
            return {}
        return self._submit(account, request, resp_type)

    def _submit(self, account: str, request: OrderRequest, resp_type: str) -> Json:
        symbol = request.symbol
        events = self.exchange.submit(request)
        for event in events:
            if isinstance(event, OrderRejected):
                raise m.reject_error(event.reason)
        accepted = next(e for e in events if isinstance(e, OrderAccepted))
        order_id = accepted.order.order_id
        snap = self.exchange.engine.order(order_id) or accepted.order
        u = self.units(symbol)
        if resp_type == "ACK":
            return m.order_ack(snap, accepted.ts_ns)
        if resp_type == "RESULT":
            return m.order_result(snap, u, accepted.ts_ns)
        fills = [
            e
            for e in events
            if isinstance(e, Fill) and e.order_id == order_id and e.account == account
        ]
        return m.order_full(snap, u, accepted.ts_ns, fills)

    def _order_request(self, account: str, symbol: str, p: Params) -> tuple[OrderRequest, str]:
        inst = self.instrument(symbol)
        side = _enum(p, "side", m.SIDES, BinanceError(400, -1117, "Invalid side."))
        type_text = p.get("type", "")
        if not type_text:
            raise m.mandatory("type")
        order_type = m.TYPES.get(type_text)
        if order_type is None:
            raise BinanceError(400, -1116, "Invalid orderType.")
        tif = TimeInForce.GTC
        if order_type is OrderType.LIMIT:
            tif = _enum(p, "timeInForce", m.TIFS, BinanceError(400, -1115, "Invalid timeInForce."))
        elif p.get("timeInForce"):
            raise m.not_required("timeInForce")
        price = qty = quote = 0
        if order_type is OrderType.MARKET:
            if p.get("price"):
                raise m.not_required("price")
            if p.get("quantity") and p.get("quoteOrderQty"):
                raise m.not_required("quoteOrderQty")
            if p.get("quoteOrderQty"):
                quote = self._quote_units(symbol, p, "quoteOrderQty")
            else:
                qty = _grid_param(p, "quantity", inst.qty_to_lots, "LOT_SIZE")
        else:
            qty = _grid_param(p, "quantity", inst.qty_to_lots, "LOT_SIZE")
            price = _grid_param(p, "price", inst.price_to_ticks, "PRICE_FILTER")
        self._check_filters(inst, order_type, price, qty)
        cid = p.get("newClientOrderId", "")
        if cid and not _CLIENT_ID.match(cid):
            raise m.illegal("newClientOrderId", _CLIENT_ID_LEGAL)
        stp = None
        if p.get("selfTradePreventionMode"):
            stp = _enum(
                p,
                "selfTradePreventionMode",
                m.STPS,
                BinanceError(400, -1100, "Invalid selfTradePreventionMode."),
            )
        resp_type = p.get("newOrderRespType", "")
        if resp_type and resp_type not in ("ACK", "RESULT", "FULL"):
            raise m.illegal("newOrderRespType", "ACK|RESULT|FULL")
        if not resp_type:
            resp_type = "ACK" if order_type is OrderType.LIMIT_MAKER else "FULL"
        request = OrderRequest(
            account,
            symbol,
            side,
            order_type,
            qty=qty,
            price=price,
            tif=tif,
            quote_amount=quote,
            client_order_id=cid or self.client_id(),
            stp=stp,
        )
        return request, resp_type

    def _check_filters(self, inst: Instrument, order_type: OrderType, price: int, qty: int) -> None:
        """The symbol's filters, before the balance is looked at (as Binance does), in the
        order exchangeInfo lists them: PRICE_FILTER (maxPrice), PERCENT_PRICE_BY_SIDE (against
        the last trade), LOT_SIZE (maxQty), NOTIONAL (maxNotional, limit orders only). The
        minimums (minQty, minNotional) are the matching engine's, also before the balance."""
        if price:
            if inst.ticks_to_price(price) > m.MAX_PRICE:
                raise m.filter_failure("PRICE_FILTER")
            # bid and ask multipliers are the same here (5 up, 0.2 down)
            ref = self.last_price.get(inst.symbol)
            low, high = m.PERCENT_PRICE_DOWN, m.PERCENT_PRICE_UP
            if ref is not None and not ref * low <= price <= ref * high:
                raise m.filter_failure("PERCENT_PRICE_BY_SIDE")
        if qty and inst.lots_to_qty(qty) > m.MAX_QTY:
            raise m.filter_failure("LOT_SIZE")
        if (
            price
            and order_type is not OrderType.MARKET
            and inst.ticks_to_price(price) * inst.lots_to_qty(qty) > m.MAX_NOTIONAL
        ):
            raise m.filter_failure("NOTIONAL")

    def _quote_units(self, symbol: str, p: Params, name: str) -> int:
        value = _decimal_param(p, name)
        units = value / self.units(symbol).quote_unit
        if units != units.to_integral_value():
            raise m.too_precise(name)
        return int(units)

    def cancel_order(self, account: str, params: Params) -> Json:
        symbol = self.symbol_param(params)
        assert symbol is not None
        snap = self._find(account, symbol, params)
        if snap is None or not snap.status.is_open:
            raise m.UNKNOWN_ORDER_CANCEL
        cancel_cid = params.get("newClientOrderId", "")
        if cancel_cid and not _CLIENT_ID.match(cancel_cid):
            raise m.illegal("newClientOrderId", _CLIENT_ID_LEGAL)
        cancel_cid = cancel_cid or self.client_id()
        self.cancel_client_ids[snap.order_id] = cancel_cid
        try:
            events = self.exchange.cancel(account, symbol, order_id=snap.order_id)
        finally:
            self.cancel_client_ids.pop(snap.order_id, None)
        for event in events:
            if isinstance(event, OrderDone):
                return m.cancel_result(event.order, self.units(symbol), event.ts_ns, cancel_cid)
            if isinstance(event, CancelRejected):
                raise m.reject_error(event.reason)
        raise m.UNKNOWN_ORDER_CANCEL

    def cancel_replace(self, account: str, params: Params) -> Json:
        """POST /api/v3/order/cancelReplace and WS API order.cancelReplace: the new order's
        parameters and filters are checked first (a plain error, nothing cancelled), then the
        cancel, then the new order; a failure of either is -2021 (409) / -2022 (400) with
        `data` saying which part failed."""
        symbol = self.symbol_param(params)
        assert symbol is not None
        mode = params.get("cancelReplaceMode", "")
        if not mode:
            raise m.mandatory("cancelReplaceMode")
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise m.illegal("cancelReplaceMode", "STOP_ON_FAILURE|ALLOW_FAILURE")
        if not params.get("cancelOrderId") and not params.get("cancelOrigClientOrderId"):
            raise BinanceError(
                400,
                -1102,
                "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, "
                "but both were empty/null!",
            )
        request, resp_type = self._order_request(account, symbol, params)
        cancel_params = {
            "symbol": symbol,
            "orderId": params.get("cancelOrderId", ""),
            "origClientOrderId": params.get("cancelOrigClientOrderId", ""),
            "newClientOrderId": params.get("cancelNewClientOrderId", ""),
        }
        cancel: Json | None = None
        cancel_error: BinanceError | None = None
        try:
            cancel = self.cancel_order(account, cancel_params)
        except BinanceError as error:
            cancel_error = error
        if cancel_error is not None and mode == "STOP_ON_FAILURE":
            raise _replace_failure(cancel_error.body(), None, attempted=False)
        try:
            placed = self._submit(account, request, resp_type)
        except BinanceError as error:
            raise _replace_failure(
                cancel if cancel is not None else _error_body(cancel_error), error.body()
            ) from None
        if cancel is None:
            raise _replace_failure(_error_body(cancel_error), placed)
        return {
            "cancelResult": "SUCCESS",
            "newOrderResult": "SUCCESS",
            "cancelResponse": cancel,
            "newOrderResponse": placed,
        }

    def my_trades(self, account: str, params: Params) -> list[Json]:
        """GET /api/v3/myTrades and WS API myTrades: the account's fills of one symbol,
        oldest first, filtered by orderId, fromId, startTime/endTime (ms), at most `limit`."""
        symbol = self.symbol_param(params)
        assert symbol is not None
        order_id = _int_param(params, "orderId")
        from_id = _int_param(params, "fromId")
        start = _int_param(params, "startTime")
        end = _int_param(params, "endTime")
        limit = _int_param(params, "limit")
        limit = 500 if limit is None else max(1, min(limit, 1000))
        u = self.units(symbol)
        rows: list[Json] = []
        for fill in self.trades.get(account, ()):
            t_ms = m.ms(fill.ts_ns)
            if (
                fill.symbol != symbol
                or (order_id is not None and fill.order_id != order_id)
                or (from_id is not None and fill.trade_id < from_id)
                or (start is not None and t_ms < start)
                or (end is not None and t_ms > end)
            ):
                continue
            rows.append(m.my_trade(fill, u))
            if len(rows) >= limit:
                break
        return rows

    def cancel_all(self, account: str, params: Params) -> list[Json]:
        symbol = self.symbol_param(params)
        assert symbol is not None
        mine = self.exchange.engine.open_orders(account, symbol)
        if not mine:
            raise m.UNKNOWN_ORDER_CANCEL
        cids = {o.order_id: self.client_id() for o in mine}
        self.cancel_client_ids.update(cids)
        try:
            events = self.exchange.cancel_all(account, symbol)
        finally:
            for order_id in cids:
                self.cancel_client_ids.pop(order_id, None)
        u = self.units(symbol)
        return [
            m.cancel_result(e.order, u, e.ts_ns, cids.get(e.order.order_id, ""))
            for e in events
            if isinstance(e, OrderDone)
        ]

    def query_order(self, account: str, params: Params) -> Json:
        symbol = self.symbol_param(params)
        assert symbol is not None
        snap = self._find(account, symbol, params)
        if snap is None:
            raise m.NO_SUCH_ORDER
        return m.order_query(snap, self.units(symbol))

    def open_orders(self, account: str, params: Params) -> list[Json]:
        symbol = self.symbol_param(params, required=False)
        snaps = self.exchange.engine.open_orders(account, symbol)
        return [m.order_query(s, self.units(s.symbol)) for s in snaps]

    def _find(self, account: str, symbol: str, p: Params) -> OrderSnapshot | None:
        order_id_text = p.get("orderId", "")
        cid = p.get("origClientOrderId", "")
        if not order_id_text and not cid:
            raise BinanceError(
                400,
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        engine = self.exchange.engine
        snap: OrderSnapshot | None
        if order_id_text:
            if not _ORDER_ID.match(order_id_text):
                raise m.illegal("orderId", "^[0-9]{1,20}$")
            snap = engine.order(int(order_id_text))
            if snap is not None and cid and snap.client_order_id != cid:
                raise BinanceError(400, -2039, "Client order ID is not correct for this order ID.")
        else:
            snap = engine.order_by_client_id(account, symbol, cid)
        if snap is None or snap.account != account or snap.symbol != symbol:
            return None
        return snap

    # -- account --------------------------------------------------------------------------

    def account(self, account: str, params: Params) -> Json:
        omit_zero = params.get("omitZeroBalances", "false").lower() == "true"
        balances = self.exchange.balances(account)
        fees = self.exchange.engine.ledger.account(account).fees
        maker = Decimal(fees.maker_ppm) / PPM
        taker = Decimal(fees.taker_ppm) / PPM
        rows = [
            {"asset": a, "free": m.amount8(free), "locked": m.amount8(locked)}
            for a, (free, locked) in sorted(balances.items())
            if not omit_zero or free or locked
        ]
        return {
            "makerCommission": int(maker * 10_000),
            "takerCommission": int(taker * 10_000),
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": m.amount8(maker),
                "taker": m.amount8(taker),
                "buyer": m.ZERO8,
                "seller": m.ZERO8,
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.now_ms(),
            "accountType": "SPOT",
            "balances": rows,
            "permissions": ["SPOT"],
            "uid": sum(account.encode()) + 100_000_000,
        }

    # -- market data ----------------------------------------------------------------------

    def exchange_info(self, params: Params) -> Json:
        wanted = self._symbols_param(params)
        return {
            "timezone": "UTC",
            "serverTime": self.now_ms(),
            "rateLimits": self.rate_limits_info(),
            "exchangeFilters": [],
            "symbols": [m.symbol_info(self.instrument(s)) for s in wanted],
        }

    def _symbols_param(self, params: Params) -> list[str]:
        one = self.symbol_param(params, required=False)
        if one is not None:
            return [one]
        many = params.get("symbols", "")
        if not many:
            return list(self._units)
        names = _json_string_list(many)
        if names is None:
            raise m.illegal("symbols", '["SYMBOL1","SYMBOL2"]')
        for name in names:
            self.instrument(name)
        return names

    def depth(self, params: Params) -> Json:
        symbol = self.symbol_param(params)
        assert symbol is not None
        limit = self.depth_limit(params)
        update_id, bids, asks = self.exchange.engine.depth(symbol, limit)
        return m.depth_snapshot(update_id, self.units(symbol), bids, asks)

    @staticmethod
    def depth_limit(params: Params) -> int:
        text = params.get("limit", "")
        if not text:
            return 100
        if not _INT.match(text):
            raise m.illegal("limit", "^[0-9]{1,20}$")
        return max(1, min(int(text), 5000))

    def book_ticker(self, params: Params) -> Json | list[Json]:
        one = self.symbol_param(params, required=False)
        symbols = [one] if one is not None else self._symbols_param(params)
        rows = []
        for symbol in symbols:
            _, bids, asks = self.exchange.engine.depth(symbol, 1)
            rows.append(
                m.rest_book_ticker(
                    symbol, self.units(symbol), bids[0] if bids else None, asks[0] if asks else None
                )
            )
        return rows[0] if one is not None else rows


def depth_weight(limit: int) -> int:
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


def _error_body(error: BinanceError | None) -> Json:
    return error.body() if error is not None else {}


def _replace_failure(cancel: Json, placed: Json | None, *, attempted: bool = True) -> BinanceError:
    """-2021 when one of cancel and new order succeeded, -2022 when neither did."""
    cancel_ok = "code" not in cancel
    new_ok = placed is not None and "code" not in placed
    data = {
        "cancelResult": "SUCCESS" if cancel_ok else "FAILURE",
        "newOrderResult": ("SUCCESS" if new_ok else "FAILURE") if attempted else "NOT_ATTEMPTED",
        "cancelResponse": cancel,
        "newOrderResponse": placed,
    }
    if cancel_ok or new_ok:
        return BinanceError(409, -2021, "Order cancel-replace partially failed.", data=data)
    return BinanceError(400, -2022, "Order cancel-replace failed.", data=data)


def _int_param(p: Params, name: str) -> int | None:
    text = p.get(name, "")
    if not text:
        return None
    if not _INT.match(text):
        raise m.illegal(name, "^[0-9]{1,20}$")
    return int(text)


def _enum(p: Params, name: str, table: dict[str, _T], error: BinanceError) -> _T:
    text = p.get(name, "")
    if not text:
        raise m.mandatory(name)
    value = table.get(text)
    if value is None:
        raise error
    return value


def _decimal_param(p: Params, name: str) -> Decimal:
    text = p.get(name, "")
    if not text:
        raise m.mandatory(name)
    if not _DECIMAL.match(text):
        raise m.illegal(name, _DECIMAL_LEGAL)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise m.illegal(name, _DECIMAL_LEGAL) from None
    if -value.normalize().as_tuple().exponent > m.ASSET_DECIMALS:  # type: ignore[operator]
        raise m.too_precise(name)
    return value


def _grid_param(p: Params, name: str, convert: Callable[[Decimal], int], filter_name: str) -> int:
    value = _decimal_param(p, name)
    try:
        units = convert(value)
    except OffGridError:
        raise m.filter_failure(filter_name) from None
    except GridError:
        raise m.too_precise(name) from None
    if units <= 0:
        raise m.filter_failure(filter_name)
    return units


def _json_string_list(text: str) -> list[str] | None:
    """symbols=["BTCUSDT","ETHUSDT"] as Binance takes it (JSON array, no spaces needed)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return value
