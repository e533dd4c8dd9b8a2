"""The Binance WS API (`/ws-api/v3`): request/response framing, order entry and the
user-data subscription (docs/VENUES.md §1.6, §1.7).

Requests share `BinanceVenue` with REST (same bodies, errors, weights and order counts);
answers go out on the "ws.api" fault channel, user-data events on "ws.private".
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from engine.sim.faults import FaultKind
from engine.sim.venues import binance_messages as m
from engine.sim.venues.binance_conn import Conn
from engine.sim.venues.binance_limits import weight_limit_error
from engine.sim.venues.binance_trading import BinanceVenue, Params, depth_weight
from engine.sim.venues.binance_user import UserStreams
from engine.wire.binance_signing import binance_verify_ws

API = "ws.api"
NOT_AUTHORIZED = m.BinanceError(400, -1002, "You are not authorized to execute this request.")


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


# -- WS API methods -----------------------------------------------------------------------

Op = Callable[[BinanceVenue, str, Params], Any]


@dataclass(frozen=True, slots=True)
class Method:
    weigh: Callable[[Params], int]
    signed: bool
    run: Op
    counts_order: bool = False
    ack: bool = False  # an order acknowledgement: DELAY_ACK / LOSE_ACK apply


def _w(n: int) -> Callable[[Params], int]:
    return lambda _p: n


METHODS: dict[str, Method] = {
    "ping": Method(_w(1), False, lambda _v, _a, _p: {}),
    "time": Method(_w(1), False, lambda v, _a, _p: {"serverTime": v.now_ms()}),
    "exchangeInfo": Method(_w(20), False, lambda v, _a, p: v.exchange_info(p)),
    "depth": Method(
        lambda p: depth_weight(BinanceVenue.depth_limit(p)), False, lambda v, _a, p: v.depth(p)
    ),
    "ticker.book": Method(
        lambda p: 2 if p.get("symbol") else 4, False, lambda v, _a, p: v.book_ticker(p)
    ),
    "order.place": Method(_w(1), True, lambda v, a, p: v.place_order(a, p), True, True),
    "order.test": Method(_w(1), True, lambda v, a, p: v.place_order(a, p, test=True)),
    "order.cancel": Method(_w(1), True, lambda v, a, p: v.cancel_order(a, p), False, True),
    "order.status": Method(_w(4), True, lambda v, a, p: v.query_order(a, p)),
    "openOrders.status": Method(
        lambda p: 6 if p.get("symbol") else 80, True, lambda v, a, p: v.open_orders(a, p)
    ),
    "openOrders.cancelAll": Method(_w(1), True, lambda v, a, p: v.cancel_all(a, p)),
    "order.cancelReplace": Method(_w(1), True, lambda v, a, p: v.cancel_replace(a, p), True, True),
    "myTrades": Method(_w(20), True, lambda v, a, p: v.my_trades(a, p)),
    "account.status": Method(_w(20), True, lambda v, a, p: v.account(a, p)),
}


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return dumps(value)


class ApiSession:
    """Requests of one WS API connection; answers go out on "ws.api", events on "ws.private"."""

    def __init__(
        self, venue: BinanceVenue, user: UserStreams, conn: Conn, request: web.Request
    ) -> None:
        self.venue = venue
        self.user = user
        self.conn = conn
        self.ip = request.remote or "?"
        self.return_rate_limits = request.query.get("returnRateLimits", "true") != "false"
        self.subscriptions: dict[int, str] = {}  # subscription id -> account
        self._next_subscription = 0
        self.connected_ms = venue.now_ms()
        # session.logon: later requests may omit apiKey and signature (timestamp still needed)
        self.logon_key: str | None = None
        self.logon_account = ""
        self.logon_ms = 0

    def close(self) -> None:
        for sub_id in list(self.subscriptions):
            self.user.remove(self.conn, sub_id)
        self.subscriptions.clear()

    def handle(self, text: str) -> None:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            self._send(_Reply(None), m.BinanceError(400, -1000, "Invalid JSON."))
            return
        if not isinstance(req, dict) or not isinstance(req.get("params", {}), dict):
            self._send(_Reply(None), m.BinanceError(400, -1000, "Invalid request."))
            return
        reply = _Reply(req.get("id"))
        # params again, numbers kept as their wire text: the signature covers what was sent
        raw_params = json.loads(text, parse_float=str, parse_int=str).get("params", {})
        if "returnRateLimits" in raw_params:
            reply.rate_limits = raw_params["returnRateLimits"] is not False
        else:
            reply.rate_limits = self.return_rate_limits
        method = str(req.get("method", "")).removeprefix("v3/")
        if not isinstance(raw_params, dict):
            raw_params = {}
        try:
            body, ack = self._dispatch(method, raw_params, reply)
        except m.BinanceError as error:
            self._send(reply, error)
            return
        reply.body = body
        faults = self.venue.exchange.faults
        if ack and faults.take(FaultKind.LOSE_ACK, API):
            return  # the order stands; its acknowledgement never comes
        if ack and faults.take(FaultKind.DELAY_ACK, API):
            loop = asyncio.get_running_loop()
            loop.call_later(self.venue.knobs.delay_ack_s, self._send, reply, None)
            return
        self._send(reply, None)

    def _dispatch(self, method: str, raw: dict[str, Any], reply: _Reply) -> tuple[Any, bool]:
        params = {k: _param_text(v) for k, v in raw.items()}
        if method.startswith("userDataStream."):
            return self._user_data(method, raw, params), False
        if method.startswith("session."):
            return self._session(method, raw, params), False
        spec = METHODS.get(method)
        if spec is None:
            raise m.BinanceError(400, -1020, "This operation is not supported.")
        if self.venue.exchange.faults.take(FaultKind.FORCE_429, API):
            raise weight_limit_error(self.venue.limits.weight_per_minute)
        self.venue.charge_weight(self.ip, spec.weigh(params))
        account = self._auth(raw, params) if spec.signed else ""
        if spec.counts_order:
            reply.order_account = account
            self.venue.count_order(account)
        return spec.run(self.venue, account, params), spec.ack

    def _auth(self, raw: dict[str, Any], params: Params) -> str:
        if self.logon_key is not None and not params.get("signature"):
            if params.get("apiKey") and params["apiKey"] != self.logon_key:
                raise m.BAD_KEY
            self.venue.check_timestamp(params)  # a logged-on request still carries it
            return self.logon_account
        if not params.get("apiKey"):
            raise m.mandatory("apiKey")
        if not params.get("signature"):
            raise m.mandatory("signature")
        return self.venue.authenticate(
            params["apiKey"], params, lambda creds: binance_verify_ws(creds, raw)
        )

    def _session(self, method: str, raw: dict[str, Any], params: Params) -> Any:
        """session.logon (Ed25519 keys, as the docs say), session.status, session.logout."""
        self.venue.charge_weight(self.ip, 2)
        if method == "session.logon":
            if not params.get("apiKey"):
                raise m.mandatory("apiKey")
            if not params.get("signature"):
                raise m.mandatory("signature")
            if not self.venue.is_ed25519_key(params["apiKey"]):
                self.venue.account_of_key(params["apiKey"])  # -2015 for an unknown key
                raise NOT_AUTHORIZED  # HMAC keys sign each request instead
            self.logon_key = None
            account = self._auth(raw, params)
            self.logon_key, self.logon_account = params["apiKey"], account
            self.logon_ms = self.venue.now_ms()
        elif method == "session.logout":
            self.logon_key, self.logon_account, self.logon_ms = None, "", 0
        elif method != "session.status":
            raise m.BinanceError(400, -1020, "This operation is not supported.")
        return {
            "apiKey": self.logon_key,
            "authorizedSince": self.logon_ms or None,
            "connectedSince": self.connected_ms,
            "returnRateLimits": self.return_rate_limits,
            "serverTime": self.venue.now_ms(),
            "userDataStream": bool(self.subscriptions),
        }

    def _subscribe(self, account: str) -> Any:
        if account in self.subscriptions.values():
            raise m.BinanceError(400, -2035, "User Data Stream subscription already active.")
        sub_id = self._next_subscription
        self._next_subscription += 1
        self.subscriptions[sub_id] = account
        self.user.add(self.conn, sub_id, account)
        return {"subscriptionId": sub_id}

    def _user_data(self, method: str, raw: dict[str, Any], params: Params) -> Any:
        if method == "userDataStream.subscribe":
            self.venue.charge_weight(self.ip, 2)
            if self.logon_key is None:
                raise NOT_AUTHORIZED  # needs a session.logon session
            return self._subscribe(self.logon_account)
        if method in ("userDataStream.start", "userDataStream.ping", "userDataStream.stop"):
            # the listenKey flow: the API key only, no signature
            self.venue.charge_weight(self.ip, 2)
            account = self.venue.account_of_key(params.get("apiKey"))
            if method == "userDataStream.start":
                return self.venue.listen_key_start(account)
            if method == "userDataStream.ping":
                return self.venue.listen_key_ping(account, params)
            return self.venue.listen_key_stop(account, params)
        if method == "userDataStream.subscribe.signature":
            self.venue.charge_weight(self.ip, 2)
            return self._subscribe(self._auth(raw, params))
        if method == "userDataStream.unsubscribe":
            self.venue.charge_weight(self.ip, 2)
            wanted = params.get("subscriptionId")
            ids = (
                list(self.subscriptions)
                if wanted is None
                else [int(wanted)]
                if wanted.isdigit()
                else [-1]
            )
            if not ids or any(i not in self.subscriptions for i in ids):
                raise m.BinanceError(400, -2036, "User Data Stream subscription not active.")
            for sub_id in ids:
                del self.subscriptions[sub_id]
                self.user.remove(self.conn, sub_id, terminated=True)
            return {}
        raise m.BinanceError(400, -1020, "This operation is not supported.")

    def _send(self, reply: _Reply, error: m.BinanceError | None) -> None:
        frame: dict[str, Any] = {"id": reply.rid}
        if error is not None:
            frame["status"] = error.status
            frame["error"] = error.body()
            if error.status in (418, 429) and error.retry_after_s is not None:
                now = self.venue.now_ms()
                frame["error"]["data"] = {
                    "serverTime": now,
                    "retryAfter": now + error.retry_after_s * 1000,
                }
        else:
            frame["status"] = 200
            frame["result"] = reply.body
        if reply.rate_limits:
            frame["rateLimits"] = self._rate_limits(reply.order_account)
        self.conn.push(API, dumps(frame))

    def _rate_limits(self, order_account: str | None) -> list[dict[str, Any]]:
        """The limits this request counted against: weight, plus order counts for orders."""
        venue = self.venue
        lim = venue.limits
        out: list[dict[str, Any]] = []
        if order_account is not None:
            ten, day = venue.order_counts(order_account)
            out.append(_limit("ORDERS", "SECOND", 10, lim.orders_per_10s, ten))
            out.append(_limit("ORDERS", "DAY", 1, lim.orders_per_day, day))
        used = venue.used_weight(self.ip)
        out.append(_limit("REQUEST_WEIGHT", "MINUTE", 1, lim.weight_per_minute, used))
        return out


@dataclass(slots=True)
class _Reply:
    """What the response to one WS API request needs besides its body."""

    rid: Any
    body: Any = None
    rate_limits: bool = True
    order_account: str | None = None  # set when the request counted as a new order


def _limit(kind: str, interval: str, num: int, limit: int, count: int) -> dict[str, Any]:
    return {
        "rateLimitType": kind,
        "interval": interval,
        "intervalNum": num,
        "limit": limit,
        "count": count,
    }
