"""OKX WebSocket endpoints of the simulator: /ws/v5/public and /ws/v5/private
(docs/VENUES.md §2.2, §2.3, §2.6, §2.7).

Framing: `{"id","op","args"}` requests; `event` acks and errors; the literal text `ping`
answered by `pong`. The private endpoint takes `login`, the `orders` channel (followed by a
`channel-conn-count` event), the `account` channel (a full push on subscription, then one per
engine call that touched the account) and order entry (`order`, `batch-orders`,
`cancel-order`, `batch-cancel-orders`, `amend-order`, `batch-amend-orders`), whose results
are the same items REST returns.
Order-entry acks are where DELAY_ACK / LOSE_ACK ("ws.api") apply; every other private frame
goes through the writer's faults on "ws.private".
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from engine.sim.faults import FaultKind
from engine.sim.matching import Event, Fill, OrderAccepted, OrderDone, OrderSnapshot, SimStatus
from engine.sim.venues.okx_conn import Frame, WsConn
from engine.sim.venues.okx_core import OkxVenue, summary
from engine.sim.venues.okx_messages import Json, OkxError, order_object, push_extras, us
from engine.sim.venues.okx_public import PUBLIC_CHANNELS, PublicHub
from engine.sim.venues.okx_rest import VENUE_KEY
from engine.wire.okx_signing import okx_check_ws_login_timestamp, okx_verify_ws_login
from engine.wire.timestamps import TimestampCheck

HUB_KEY = web.AppKey("okx_public_hub", PublicHub)
_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_ORDER_OPS = {
    "order": "place",
    "batch-orders": "place",
    "cancel-order": "cancel",
    "batch-cancel-orders": "cancel",
    "amend-order": "amend",
    "batch-amend-orders": "amend",
}
_LIMIT_GROUPS = {
    "order": "order",
    "batch-orders": "batch-orders",
    "cancel-order": "cancel",
    "batch-cancel-orders": "cancel-batch",
    "amend-order": "amend",
    "batch-amend-orders": "batch-amend",
}
_MAX_ARGS_BYTES = 64 * 1024


class _Session:
    """Per-connection protocol state on top of the writer."""

    def __init__(self, venue: OkxVenue, conn: WsConn, private: bool) -> None:
        self.venue = venue
        self.conn = conn
        self.private = private
        self.account: str | None = None
        self.uid = ""
        self.order_args: list[Json] = []  # subscribed `orders` args
        self.account_arg: Json | None = None  # the `account` subscription, if any
        self._account_due = False  # one `account` push per engine call, after it
        self._unsubscribe: Callable[[], None] | None = None

    def event(self, body: Json) -> None:
        self.conn.send({**body, "connId": self.conn.conn_id})

    def error(self, code: str, msg: str, req_id: Any = None) -> None:
        body: Json = {"event": "error", "code": code, "msg": msg}
        if req_id is not None:
            body = {"id": req_id, **body}
        self.event(body)

    def close(self) -> None:
        if self.account is not None:
            self.venue.order_subs.get(self.account, set()).discard(self.conn)
            amends = self.venue.amend_subs.get(self.account, [])
            if self._on_amend in amends:
                amends.remove(self._on_amend)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # -- login ----------------------------------------------------------------------------

    def login(self, args: list[Any]) -> None:
        if self.account is not None:
            self.error(
                "60031", "The WebSocket endpoint does not allow multiple or repeated logins."
            )
            return
        arg = args[0] if args and isinstance(args[0], dict) else {}
        failure = self._check_login(arg)
        if failure is not None:
            self.error(*failure)
            self.conn.close_with(4001, "Login failed.")
            return
        found = self.venue.exchange.account_for_key(arg["apiKey"])
        assert found is not None
        self.account = found[1]
        self.uid = str(zlib.crc32(self.account.encode()) + 100_000_000_000)
        self.venue.track(self.account)
        self._unsubscribe = self.venue.exchange.on_private(self.account, self._on_private)
        self.venue.amend_subs.setdefault(self.account, []).append(self._on_amend)
        self.event({"event": "login", "code": "0", "msg": ""})

    def _check_login(self, arg: Json) -> tuple[str, str] | None:
        api_key, passphrase, sign = arg.get("apiKey"), arg.get("passphrase"), arg.get("sign")
        timestamp = arg.get("timestamp")
        # the official SDK sends the timestamp as a JSON number, and signs its decimal text
        if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
            timestamp = str(timestamp)
        if not all(isinstance(v, str) and v for v in (api_key, passphrase, sign, timestamp)):
            return "60012", "Invalid request: missing login parameters"
        assert isinstance(timestamp, str) and isinstance(api_key, str)
        check = okx_check_ws_login_timestamp(
            timestamp, self.venue.now_ns() // 1_000_000, self.venue.config.ws_login_window_s
        )
        if check is TimestampCheck.INVALID:
            return "60004", f"Invalid timestamp: {timestamp}"
        if check is not TimestampCheck.OK:
            return "60006", "Timestamp request expired"
        found = self.venue.exchange.account_for_key(api_key)
        if found is None:
            return "60005", "Invalid OK-ACCESS-KEY"
        credentials, _ = found
        if not self.venue.environment_ok(self.conn.request.headers):
            return "50101", "APIKey does not match current environment."
        if passphrase != credentials.passphrase:
            return "60024", "Wrong passphrase"
        if not okx_verify_ws_login(credentials, timestamp, signature=sign):
            return "60007", "Invalid sign"
        return None

    # -- subscriptions --------------------------------------------------------------------

    def subscribe(self, op: str, args: list[Any], req_id: Any, hub: PublicHub) -> None:
        for arg in args:
            if not isinstance(arg, dict) or not isinstance(arg.get("channel"), str):
                self.error("60012", f"Invalid request: {orjson.dumps(arg).decode()}", req_id)
                continue
            channel = arg["channel"]
            if self.private:
                ok = self._private_sub(op, arg)
            else:
                ok = self._public_sub(op, arg, hub, req_id)
            if ok is None:
                continue
            if ok:
                self.ack(op, arg, req_id)
                if self.private and op == "subscribe":
                    self._after_subscribe(arg)
            else:
                inst = arg.get("instId", "")
                self.error(
                    "60018",
                    f"Wrong URL or channel:{channel},instId:{inst} doesn't exist. Please use the "
                    "correct URL, channel and parameters referring to API document.",
                    req_id,
                )

    def ack(self, op: str, arg: Json, req_id: Any) -> None:
        body: Json = {"event": op, "arg": arg}
        self.event({"id": req_id, **body} if req_id is not None else body)

    def _public_sub(self, op: str, arg: Json, hub: PublicHub, req_id: Any) -> bool | None:
        channel, inst_id = arg["channel"], arg.get("instId", "")
        if not isinstance(inst_id, str):
            return False
        if channel not in PUBLIC_CHANNELS or inst_id not in self.venue.instruments:
            return False
        if op == "unsubscribe":
            hub.unsubscribe(self.conn, channel, inst_id)
            return True
        tbt_clash = {"books", "books50-l2-tbt", "books-l2-tbt"} - {channel}
        if channel in ("books", "books50-l2-tbt", "books-l2-tbt") and any(
            self.conn in hub.subs.get((other, inst_id), {}) for other in tbt_clash
        ):
            self.error(
                "64004",
                "You can only subscribe to one of books, books50-l2-tbt, books-l2-tbt for "
                f"{inst_id}",
            )
            return None
        # ack first, then the data, as OKX orders them
        self.ack(op, arg, req_id)
        hub.subscribe(self.conn, channel, inst_id, arg)
        return None

    def _private_sub(self, op: str, arg: Json) -> bool | None:
        if arg["channel"] not in ("orders", "account"):
            return False
        if self.account is None:
            self.error("60011", "Please log in")
            return None
        if arg["channel"] == "account":
            self.account_arg = arg if op == "subscribe" else None
            return True
        inst_type = arg.get("instType")
        if inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION", "ANY"):
            self.error("60012", f"Invalid request: {orjson.dumps(arg).decode()}")
            return None
        subs = self.venue.order_subs.setdefault(self.account, set())
        if op == "unsubscribe":
            self.order_args = [a for a in self.order_args if a != arg]
            if not self.order_args:
                subs.discard(self.conn)
        elif arg not in self.order_args:
            self.order_args.append(arg)
            subs.add(self.conn)
        return True

    def _after_subscribe(self, arg: Json) -> None:
        if arg["channel"] == "orders":
            # OKX reports how many connections of the account listen to `orders`
            count = len(self.venue.order_subs.get(self.account or "", ()))
            self.event(
                {"event": "channel-conn-count", "channel": "orders", "connCount": str(count)}
            )
        else:
            self._account_soon()  # the first push is the whole account

    # -- account channel ------------------------------------------------------------------

    def _account_soon(self) -> None:
        if not self._account_due:
            self._account_due = True
            asyncio.get_running_loop().call_soon(self._push_account)

    def _push_account(self) -> None:
        self._account_due = False
        if self.account_arg is None or self.account is None:
            return
        wanted = {self.account_arg["ccy"]} if self.account_arg.get("ccy") else None
        data = self.venue.balance_json(self.account, wanted)
        self.conn.send({"arg": {**self.account_arg, "uid": self.uid}, "data": [data]})

    # -- orders channel -------------------------------------------------------------------

    def _on_private(self, event: Event) -> None:
        if self.account_arg is not None and isinstance(event, OrderAccepted | OrderDone | Fill):
            self._account_soon()
        if not self.order_args:
            return
        venue = self.venue
        fill: Fill | None = None
        if isinstance(event, OrderAccepted):
            snap = event.order
        elif isinstance(event, OrderDone):
            if event.order.status is SimStatus.FILLED:
                return  # the last fill's push already said "filled"
            snap = event.order
        elif isinstance(event, Fill):
            found = venue.exchange.engine.order(event.order_id)
            if found is None:
                return
            snap, fill = found, event
        else:
            return  # rejects and refused cancels are answered to the request, not pushed
        inst = venue.instruments.get(snap.symbol)
        if inst is None:
            return
        obj = push_extras(
            order_object(inst, snap, venue.quote_unit(inst), fill, venue.tag_of(snap.order_id))
        )
        self._send_order(snap.symbol, obj)

    def _on_amend(self, snap: OrderSnapshot, req_id: str) -> None:
        if self.account_arg is not None:
            self._account_soon()  # the order's frozen balance changed
        inst = self.venue.instruments.get(snap.symbol)
        if inst is None or not self.order_args:
            return
        venue = self.venue
        obj = push_extras(
            order_object(inst, snap, venue.quote_unit(inst), None, venue.tag_of(snap.order_id))
        )
        obj.update(amendResult="0", amendSource="1", reqId=req_id)
        self._send_order(snap.symbol, obj)

    def _send_order(self, symbol: str, obj: Json) -> None:
        for arg in self.order_args:
            if arg.get("instType") not in ("SPOT", "ANY"):
                continue
            if arg.get("instId") not in (None, "", symbol):
                continue
            self.conn.send({"arg": {**arg, "uid": self.uid}, "data": [obj]})

    # -- order entry ----------------------------------------------------------------------

    def order_op(self, op: str, msg: Json) -> None:
        venue = self.venue
        in_ns = venue.now_ns()
        req_id = msg.get("id")
        args = msg.get("args")

        def answer(code: str, text: str, data: list[Json]) -> None:
            self._ack(
                {
                    "id": req_id,
                    "op": op,
                    "data": data,
                    "code": code,
                    "msg": text,
                    "inTime": us(in_ns),
                    "outTime": us(venue.now_ns()),
                }
            )

        if not isinstance(req_id, str) or not _ID.fullmatch(req_id):
            answer("60013", "Invalid args", [])
            return
        if self.account is None:
            answer("60011", "Please log in", [])
            return
        if (
            not isinstance(args, list)
            or not args
            or (not op.startswith("batch") and len(args) != 1)
        ):
            answer("60013", "Invalid args", [])
            return
        if len(args) > 20:
            answer("51111", "Maximum number of orders in a batch is exceeded.", [])
            return
        first = args[0] if isinstance(args[0], dict) else {}
        key = f"{self.account}:{first.get('instId', '')}"
        cost = len(args) if op.startswith("batch") else 1
        if not venue.limiter.allow(_LIMIT_GROUPS[op], key, cost):
            answer("50011", "Too Many Requests", [])
            return
        try:
            if _ORDER_OPS[op] == "cancel":
                data = [venue.cancel(self.account, a) for a in args]
            elif _ORDER_OPS[op] == "amend":
                data = [venue.amend(self.account, a) for a in args]
            else:
                single = op == "order"
                data = [venue.place(self.account, a, single=single) for a in args]
        except OkxError as exc:
            answer(exc.code, exc.msg, [])
            return
        answer(*summary(data), data)

    def _ack(self, body: Json) -> None:
        faults = self.venue.exchange.faults
        if faults.take(FaultKind.LOSE_ACK, "ws.api"):
            return  # the order stands; only its acknowledgement is lost
        if faults.take(FaultKind.DELAY_ACK, "ws.api"):
            loop = asyncio.get_running_loop()
            loop.call_later(self.venue.config.delay_ack_s, self.conn.send, body)
            return
        self.conn.send(body)


def _parse(text: str) -> Json | None:
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return msg if isinstance(msg, dict) else None


async def _serve(request: web.Request, private: bool) -> web.WebSocketResponse:
    venue = request.app[VENUE_KEY]
    hub = request.app[HUB_KEY]
    # protocol pings are answered by aiohttp; OKX's own keepalive is the text "ping"
    ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
    await ws.prepare(request)
    channel = "ws.private" if private else "ws.public"
    conn = WsConn(request, ws, channel, venue.exchange.faults, venue.config.idle_timeout_s)
    venue.sockets.add(ws)
    session = _Session(venue, conn, private)
    try:
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            _handle(session, hub, message.data)
    finally:
        venue.sockets.discard(ws)
        session.close()
        hub.drop(conn)
        await conn.stop()
    return ws


def _handle(session: _Session, hub: PublicHub, text: str) -> None:
    if text == "ping":
        session.conn.push(Frame("pong", "pong"))
        return
    msg = _parse(text)
    if msg is None or len(text) > _MAX_ARGS_BYTES:
        session.error("60012", f"Invalid request: {text[:200]}")
        return
    op = msg.get("op")
    args = msg.get("args")
    if not isinstance(op, str):
        session.error("60012", f"Invalid request: {text[:200]}", msg.get("id"))
    elif session.private and op in _ORDER_OPS:
        session.order_op(op, msg)
    elif op == "login" and isinstance(args, list):
        session.login(args)
    elif op in ("subscribe", "unsubscribe") and isinstance(args, list):
        session.subscribe(op, args, msg.get("id"), hub)
    else:
        session.error("60012", f"Invalid request: {text[:200]}", msg.get("id"))


async def public_ws(request: web.Request) -> web.WebSocketResponse:
    return await _serve(request, private=False)


async def private_ws(request: web.Request) -> web.WebSocketResponse:
    return await _serve(request, private=True)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/ws/v5/public", public_ws)
    app.router.add_get("/ws/v5/private", private_ws)
