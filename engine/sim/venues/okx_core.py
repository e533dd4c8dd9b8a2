"""State shared by the OKX REST and WebSocket endpoints of one simulated venue: settings,
authentication, rate limits, order operations and the cancel-all-after timers.

Order operations return OKX's per-item result objects (`sCode`/`sMsg`), so REST and the
WebSocket order entry answer identically; they share rate-limit budgets as on OKX.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from aiohttp import WSCloseCode, web

from engine.clock import TimerHandle
from engine.model.enums import OrderSide
from engine.model.instrument import Instrument
from engine.sim.errors import Reason
from engine.sim.exchange import SimExchange
from engine.sim.matching import (
    AmendRejected,
    CancelRejected,
    Event,
    Fill,
    OrderAccepted,
    OrderAmended,
    OrderRejected,
    OrderSnapshot,
)
from engine.sim.venues.okx_messages import (
    Json,
    OkxError,
    amend_reason_code,
    dec_str,
    fill_object,
    missing,
    ms,
    ord_id_str,
    param_error,
    parse_ord_id,
    parse_order,
    reason_code,
)
from engine.wire.credentials import Credentials
from engine.wire.okx_signing import OKX_REST_WINDOW_MS, okx_check_timestamp, okx_verify_rest
from engine.wire.timestamps import TimestampCheck

ChecksumMode = Literal["crc32", "zero"]
Environment = Literal["live", "demo"]
ENV_MISMATCH = OkxError("50101", "APIKey does not match current environment.", 401)
MAX_FILLS = 10_000  # fills kept per account for /api/v5/trade/fills
NS_PER_S = 1_000_000_000
MAX_BATCH = 20


@dataclass(slots=True)
class OkxConfig:
    """Knobs of the simulated OKX; the defaults are the venue's documented values."""

    checksum: ChecksumMode = "crc32"  # "zero": the post-2026-06-23 constant 0
    idle_timeout_s: float = 30.0  # close 4004 after this long with nothing pushed
    books_interval_s: float = 0.1  # `books` / `books5` push cadence
    heartbeat_s: float = 60.0  # empty `books` update after this long without changes
    rest_window_ms: int = OKX_REST_WINDOW_MS
    ws_login_window_s: int = 30
    cancel_all_after_min_s: int = 10  # tests lower it to see the switch fire quickly
    cancel_all_after_max_s: int = 120
    delay_ack_s: float = 1.0  # DELAY_ACK fault on WS order entry
    # the environment the simulator's keys belong to: a live key used with the
    # `x-simulated-trading: 1` header, or a demo key without it, gets 50101 (REST, WS login;
    # on WS the header on the upgrade request stands for the demo host wspap.okx.com)
    key_environment: Environment = "live"
    rate_limits: bool = True
    # (requests, window seconds) per endpoint group, per user (+ instId for trading)
    limits: dict[str, tuple[int, float]] = field(
        default_factory=lambda: {
            "order": (60, 2.0),
            "cancel": (60, 2.0),
            "batch-orders": (300, 2.0),
            "cancel-batch": (300, 2.0),
            "amend": (60, 2.0),
            "batch-amend": (300, 2.0),
            "fills": (60, 2.0),
            "fills-history": (10, 2.0),
            "orders-pending": (60, 2.0),
            "order-info": (60, 2.0),
            "balance": (10, 2.0),
            "books": (40, 2.0),
            "instruments": (20, 2.0),
            "time": (10, 2.0),
            "cancel-all-after": (1, 1.0),
        }
    )


class RateLimiter:
    """Sliding-window counters on the exchange clock."""

    def __init__(self, venue: OkxVenue) -> None:
        self._venue = venue
        self._hits: dict[tuple[str, str], deque[int]] = {}

    def allow(self, group: str, key: str, cost: int = 1) -> bool:
        config = self._venue.config
        if not config.rate_limits or group not in config.limits:
            return True
        limit, window_s = config.limits[group]
        now = self._venue.now_ns()
        hits = self._hits.setdefault((group, key), deque())
        horizon = now - int(window_s * NS_PER_S)
        while hits and hits[0] <= horizon:
            hits.popleft()
        if len(hits) + cost > limit:
            return False
        hits.extend([now] * cost)
        return True


RATE_LIMITED = OkxError("50011", "Too Many Requests", 429)


class OkxVenue:
    """One simulated OKX: the exchange plus the protocol-level state around it."""

    def __init__(self, exchange: SimExchange, config: OkxConfig) -> None:
        self.exchange = exchange
        self.config = config
        self.limiter = RateLimiter(self)
        self.instruments: dict[str, Instrument] = {i.symbol: i for i in exchange.instruments()}
        ledger = exchange.engine.ledger
        self.units: dict[str, Decimal] = {}
        for inst in self.instruments.values():
            for asset in (inst.base, inst.quote):
                self.units[asset] = ledger.asset_unit(asset) or Decimal(1)
        self._deadman: dict[str, TimerHandle] = {}
        self.tags: dict[int, str] = {}  # engine order id -> tag given at placement
        # the tag of the order being placed: its pushes go out inside submit(), before the
        # id is known to place()
        self._placing_tag: str | None = None
        self.order_subs: dict[str, set[object]] = {}  # account -> connections on `orders`
        self.sockets: set[web.WebSocketResponse] = set()  # open WebSockets, closed at shutdown
        # account -> callbacks of logged-in private connections for amend pushes (amends are
        # not routed through the exchange's private listeners)
        self.amend_subs: dict[str, list[Callable[[OrderSnapshot, str], None]]] = {}
        self.fills: dict[str, deque[Json]] = {}  # account -> its fills, newest last
        self._bill_ids = 0
        self._tracked: set[str] = set()
        for acct in exchange.engine.ledger:
            if not acct.exempt:
                self.track(acct.account_id)
        self.closing = asyncio.Event()  # set at shutdown: releases held (timed-out) requests
        self.deadman_fired = 0

    def now_ns(self) -> int:
        return self.exchange.clock.time_ns()

    def now_ms(self) -> str:
        return ms(self.now_ns())

    def quote_unit(self, inst: Instrument) -> Decimal:
        return self.units[inst.quote]

    # -- authentication -------------------------------------------------------------------

    def authenticate(
        self, headers: Mapping[str, str], method: str, raw_path: str, body: bytes
    ) -> tuple[Credentials, str]:
        """(credentials, account) of a signed REST request; OkxError (HTTP 401) otherwise.
        The signature is checked over the path+query and body exactly as received."""
        key = headers.get("OK-ACCESS-KEY", "")
        passphrase = headers.get("OK-ACCESS-PASSPHRASE", "")
        sign = headers.get("OK-ACCESS-SIGN", "")
        timestamp = headers.get("OK-ACCESS-TIMESTAMP", "")
        for value, code, name in (
            (key, "50103", "OK-ACCESS-KEY"),
            (passphrase, "50104", "OK-ACCESS-PASSPHRASE"),
            (sign, "50106", "OK-ACCESS-SIGN"),
            (timestamp, "50107", "OK-ACCESS-TIMESTAMP"),
        ):
            if not value:
                raise OkxError(code, f"Request header {name} can not be empty.", 401)
        check = okx_check_timestamp(
            timestamp, self.now_ns() // 1_000_000, self.config.rest_window_ms
        )
        if check is TimestampCheck.INVALID:
            raise OkxError("50112", "Invalid OK-ACCESS-TIMESTAMP", 401)
        if check is not TimestampCheck.OK:
            raise OkxError("50102", "Timestamp request expired", 401)
        found = self.exchange.account_for_key(key)
        if found is None:
            raise OkxError("50111", "Invalid OK-ACCESS-KEY", 401)
        credentials, account = found
        if not self.environment_ok(headers):
            raise ENV_MISMATCH
        if passphrase != credentials.passphrase:
            raise OkxError("50105", "OK-ACCESS-PASSPHRASE incorrect.", 401)
        if not okx_verify_rest(credentials, timestamp, method, raw_path, body, signature=sign):
            raise OkxError("50113", "Invalid Sign", 401)
        self.track(account)
        return credentials, account

    def environment_ok(self, headers: Mapping[str, str]) -> bool:
        """Whether a request (or WS upgrade) addresses the environment the keys belong to."""
        demo = headers.get("x-simulated-trading", "") == "1"
        return demo == (self.config.key_environment == "demo")

    # -- fills ----------------------------------------------------------------------------

    def track(self, account: str) -> None:
        """Record the account's fills from now on (for /api/v5/trade/fills)."""
        if account in self._tracked:
            return
        self._tracked.add(account)
        self.fills[account] = deque(maxlen=MAX_FILLS)
        self.exchange.on_private(account, lambda event: self._record(account, event))

    def _record(self, account: str, event: Event) -> None:
        if not isinstance(event, Fill):
            return
        inst = self.instruments.get(event.symbol)
        if inst is None:
            return
        self._bill_ids += 1
        obj = fill_object(
            inst, event, self.quote_unit(inst), self._bill_ids, self.tag_of(event.order_id)
        )
        self.fills[account].append(obj)

    # -- orders ---------------------------------------------------------------------------

    def place(self, account: str, args: Any, *, single: bool = False) -> Json:
        """One place-order object -> its result item (sCode "0" when accepted). A single
        order with a missing parameter fails as a whole (50014, HTTP 400) as on OKX; inside
        a batch the item carries the code."""
        ts = self.now_ms()
        cl_ord_id = args.get("clOrdId", "") if isinstance(args, dict) else ""
        tag = args.get("tag", "") if isinstance(args, dict) else ""
        item: Json = {"clOrdId": cl_ord_id, "ordId": "", "tag": tag, "ts": ts}
        try:
            if not isinstance(args, dict):
                raise param_error("args")
            request, meta = parse_order(args, account, self.instruments, self.units)
        except OkxError as exc:
            if single and exc.status != 200:
                raise
            return {**item, "sCode": exc.code, "sMsg": exc.msg}
        self._placing_tag = meta.tag
        try:
            events = self.exchange.submit(request)
        finally:
            self._placing_tag = None
        for event in events:
            if isinstance(event, OrderAccepted):
                self.tags[event.order.order_id] = meta.tag
                return {
                    **item,
                    "ordId": ord_id_str(event.order.order_id),
                    "sCode": "0",
                    "sMsg": "Order placed",
                }
            if isinstance(event, OrderRejected):
                inst = self.instruments[request.symbol]
                ccy = inst.quote if request.side is OrderSide.BUY else inst.base
                code, msg = reason_code(event.reason, ccy)
                return {**item, "sCode": code, "sMsg": msg}
        return {**item, "sCode": "50026", "sMsg": "System error. Try again later"}

    def cancel(self, account: str, args: Any) -> Json:
        """One cancel object ({instId, ordId|clOrdId}) -> its result item. As on OKX, sCode
        "0" only means the cancel was accepted; the orders channel reports the outcome."""
        ts = self.now_ms()
        if not isinstance(args, dict):
            return {
                "clOrdId": "",
                "ordId": "",
                "ts": ts,
                "sCode": "51000",
                "sMsg": "Parameter args error",
            }
        ord_id_text = args.get("ordId", "") or ""
        cl_ord_id = args.get("clOrdId", "") or ""
        item: Json = {"clOrdId": cl_ord_id, "ordId": ord_id_text, "ts": ts}
        inst_id = args.get("instId", "")
        for name, value in (("instId", inst_id), ("ordId", ord_id_text), ("clOrdId", cl_ord_id)):
            if not isinstance(value, str):
                return {**item, "sCode": "51000", "sMsg": f"Parameter {name} error"}
        if not inst_id:
            return {**item, "sCode": "50014", "sMsg": "Parameter instId can not be empty."}
        if inst_id not in self.instruments:
            return {**item, "sCode": "51001", "sMsg": "Instrument ID does not exist."}
        if not ord_id_text and not cl_ord_id:
            return {**item, "sCode": "51000", "sMsg": "Parameter ordId or clOrdId error"}
        order_id: int | None = None
        if ord_id_text:
            # ordId wins over clOrdId when both are given (docs/VENUES.md §2.6)
            order_id = parse_ord_id(ord_id_text)
            cl_ord_id = ""
            if order_id is None:
                code, msg = reason_code(Reason.UNKNOWN_ORDER)
                return {**item, "sCode": code, "sMsg": msg}
        events = self.exchange.cancel(
            account, inst_id, order_id=order_id, client_order_id=cl_ord_id
        )
        for event in events:
            if isinstance(event, CancelRejected):
                code, msg = reason_code(event.reason)
                return {**item, "sCode": code, "sMsg": msg}
        if order_id is None:
            snap = self.exchange.engine.order_by_client_id(account, inst_id, cl_ord_id)
            if snap is not None:
                item["ordId"] = ord_id_str(snap.order_id)
        return {**item, "sCode": "0", "sMsg": ""}

    def amend(self, account: str, args: Any) -> Json:
        """One amend object ({instId, ordId|clOrdId, newSz?, newPx?, reqId?, cxlOnFail?}) ->
        its result item. On success the `orders` channel pushes the order with
        amendResult "0" before any fill the new price made."""
        ts = self.now_ms()
        if not isinstance(args, dict):
            args = {}
        texts = {}
        for name in ("instId", "ordId", "clOrdId", "newSz", "newPx", "reqId", "cxlOnFail"):
            value = args.get(name, "")
            texts[name] = value if isinstance(value, str) else None
        item: Json = {
            "clOrdId": texts["clOrdId"] or "",
            "ordId": texts["ordId"] or "",
            "reqId": texts["reqId"] or "",
            "ts": ts,
        }
        bad = next((name for name, value in texts.items() if value is None), None)
        if bad is not None:
            return {**item, "sCode": "51000", "sMsg": f"Parameter {bad} error"}
        inst_id, ord_id_text, cl_ord_id = texts["instId"], texts["ordId"], texts["clOrdId"]
        assert inst_id is not None and ord_id_text is not None and cl_ord_id is not None
        if not inst_id:
            return {**item, "sCode": "50014", "sMsg": "Parameter instId can not be empty."}
        inst = self.instruments.get(inst_id)
        if inst is None:
            return {**item, "sCode": "51001", "sMsg": "Instrument ID does not exist."}
        if not ord_id_text and not cl_ord_id:
            return {**item, "sCode": "51000", "sMsg": "Parameter ordId or clOrdId error"}
        new_sz, new_px = texts["newSz"] or "", texts["newPx"] or ""
        if not new_sz and not new_px:
            return {**item, "sCode": "51000", "sMsg": "Parameter newSz or newPx error"}
        try:
            qty = inst.qty_to_lots(new_sz) if new_sz else 0
        except ValueError:
            return {**item, "sCode": "51000", "sMsg": "Parameter newSz error"}
        try:
            price = inst.price_to_ticks(new_px) if new_px else 0
        except ValueError:
            return {**item, "sCode": "51000", "sMsg": "Parameter newPx error"}
        if (new_sz and qty <= 0) or (new_px and price <= 0):
            name = "newSz" if new_sz and qty <= 0 else "newPx"
            return {**item, "sCode": "51000", "sMsg": f"Parameter {name} error"}
        order_id: int | None = None
        if ord_id_text:
            order_id = parse_ord_id(ord_id_text)
            cl_ord_id = ""
            if order_id is None:
                code, msg = amend_reason_code(Reason.UNKNOWN_ORDER)
                return {**item, "sCode": code, "sMsg": msg}
        engine = self.exchange.engine
        events = engine.amend(
            account,
            inst_id,
            self.now_ns(),
            order_id=order_id,
            client_order_id=cl_ord_id,
            new_qty=qty,
            new_price=price,
        )
        for event in events:
            if isinstance(event, AmendRejected):
                self.exchange.publish(events)
                snap = engine.order_by_client_id(account, inst_id, cl_ord_id) if cl_ord_id else None
                if order_id is None and snap is not None:
                    item["ordId"] = ord_id_str(snap.order_id)
                side = snap.side if snap is not None else OrderSide.BUY
                ccy = inst.quote if side is OrderSide.BUY else inst.base
                code, msg = amend_reason_code(event.reason, ccy)
                if texts["cxlOnFail"] == "true":
                    self.exchange.cancel(
                        account, inst_id, order_id=order_id, client_order_id=cl_ord_id
                    )
                return {**item, "sCode": code, "sMsg": msg}
            if isinstance(event, OrderAmended):
                item["ordId"] = ord_id_str(event.order.order_id)
                item["clOrdId"] = event.order.client_order_id
                for push in tuple(self.amend_subs.get(account, ())):
                    push(event.order, item["reqId"])
        self.exchange.publish(events)
        return {**item, "sCode": "0", "sMsg": ""}

    def batch(self, account: str, items: Any, op: str) -> tuple[str, str, list[Json]]:
        """(code, msg, data) of a batch; raises OkxError for a malformed batch."""
        if not isinstance(items, list) or not items:
            raise OkxError("50014", "Parameter data can not be empty.", 400)
        if len(items) > MAX_BATCH:
            raise OkxError("51111", "Maximum number of orders in a batch is exceeded.")
        one = {"place": self.place, "cancel": self.cancel, "amend": self.amend}[op]
        data = [one(account, args) for args in items]
        return (*summary(data), data)

    def tag_of(self, order_id: int) -> str:
        tag = self.tags.get(order_id)
        if tag is None and self._placing_tag is not None:
            tag = self.tags[order_id] = self._placing_tag
        return tag or ""

    # -- balances -------------------------------------------------------------------------

    def balance_json(self, account: str, wanted: set[str] | None = None) -> Json:
        """The account object of `GET /api/v5/account/balance` and the `account` channel."""
        now = self.now_ms()
        details: list[Json] = []
        total_usd = Decimal(0)
        for ccy, (free, locked) in sorted(self.exchange.balances(account).items()):
            if wanted and ccy not in wanted:
                continue
            cash = free + locked
            usd = self._usd_value(ccy, cash)
            total_usd += usd or 0
            details.append(
                {
                    "availBal": dec_str(free), "availEq": dec_str(free), "cashBal": dec_str(cash),
                    "ccy": ccy, "eq": dec_str(cash),
                    "eqUsd": dec_str(usd) if usd is not None else "",
                    "frozenBal": dec_str(locked), "ordFrozen": dec_str(locked), "uTime": now,
                    "upl": "0", "spotBal": "", "spotInUseAmt": "", "disEq": "", "liab": "",
                    "crossLiab": "", "isoEq": "0", "interest": "", "maxLoan": "",
                    "notionalLever": "",
                }
            )  # fmt: skip
        return {
            "adjEq": "", "availEq": "", "borrowFroz": "", "imr": "", "isoEq": "0",
            "mgnRatio": "", "mmr": "", "notionalUsd": "", "ordFroz": "",
            "totalEq": dec_str(total_usd), "uTime": now, "upl": "", "details": details,
        }  # fmt: skip

    def _usd_value(self, ccy: str, amount: Decimal) -> Decimal | None:
        """Valued at the <ccy>-USDT mid (USDT at par); None when there is no such market."""
        if ccy in ("USDT", "USD", "USDC"):
            return amount
        inst = self.instruments.get(f"{ccy}-USDT")
        if inst is None:
            return None
        bid, ask = self.exchange.engine.best_bid_ask(inst.symbol)
        if bid is None or ask is None:
            return None
        mid = (inst.ticks_to_price(bid) + inst.ticks_to_price(ask)) / 2
        return (amount * mid).quantize(Decimal("0.01"))

    # -- dead-man switch ------------------------------------------------------------------

    def cancel_all_after(self, account: str, time_out: Any) -> Json:
        """Arm (or with "0" disarm) the account's cancel-all-after timer."""
        if not isinstance(time_out, str) or not time_out.isdigit():
            raise param_error("timeOut") if time_out not in (None, "") else missing("timeOut")
        seconds = int(time_out)
        config = self.config
        if (
            seconds
            and not config.cancel_all_after_min_s <= seconds <= config.cancel_all_after_max_s
        ):
            raise param_error("timeOut")
        old = self._deadman.pop(account, None)
        if old is not None:
            old.cancel()
        now = self.now_ns()
        trigger = "0"
        if seconds:
            delay = seconds * NS_PER_S
            self._deadman[account] = self.exchange.call_later(delay, lambda: self._fire(account))
            trigger = ms(now + delay)
        return {"triggerTime": trigger, "tag": "", "ts": ms(now)}

    def _fire(self, account: str) -> None:
        self._deadman.pop(account, None)
        self.deadman_fired += 1
        for symbol in self.instruments:
            self.exchange.cancel_all(account, symbol)

    async def close(self) -> None:
        """At shutdown: release held requests, stop the timers, close the WebSockets (the
        server would otherwise wait for their handlers to end on their own)."""
        self.closing.set()
        for timer in self._deadman.values():
            timer.cancel()
        self._deadman.clear()
        for ws in list(self.sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def summary(data: list[Json]) -> tuple[str, str]:
    """Top-level code/msg of an order operation from its items' sCodes."""
    failed = sum(1 for item in data if item.get("sCode") != "0")
    if failed == 0:
        return "0", ""
    if failed == len(data):
        return "1", "All operations failed"
    return "2", "Bulk operation partially succeeded"
