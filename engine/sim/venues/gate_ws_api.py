"""Gate's WS trading API in the simulator (`event: "api"`, docs/VENUES.md §3.6): spot.login,
spot.order_place (ack, then result), spot.order_amend, spot.order_cancel / _cancel_ids /
_cancel_cp and spot.order_status. A login, or a request signed on its own, is verified over
the raw JSON text of `payload.req_param` as received ("" when absent), per docs/VENUES.md
§3.5."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from engine.sim.faults import FaultKind
from engine.sim.venues.gate_messages import (
    WS_DEFAULT_TEXT,
    GateError,
    invalid_param,
    order_json,
    parse_amend,
    parse_order,
)
from engine.sim.venues.gate_orders import (
    amend,
    cancel_matching,
    cancel_one,
    find_order,
    poc_crosses,
    submit,
)
from engine.sim.venues.gate_rest import RateLimiter
from engine.sim.venues.gate_ws import API, Conn, Frame
from engine.wire.gate_signing import gate_check_timestamp, gate_verify_ws_api
from engine.wire.timestamps import TimestampCheck

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
LIMITER_KEY = web.AppKey("gate_ws_limiter", RateLimiter)


# -- raw JSON text ----------------------------------------------------------------------------


def _skip(text: str, i: int) -> int:
    match = _SPACE.match(text, i)
    return match.end() if match else i


def _member_start(text: str, i: int, key: str) -> int | None:
    """Index where the value of `key` starts in the object starting at `i`."""
    if text[i : i + 1] != "{":
        return None
    i = _skip(text, i + 1)
    if text[i : i + 1] == "}":
        return None
    while True:
        name, i = _DECODER.raw_decode(text, i)
        i = _skip(text, _skip(text, i) + 1)  # past the ':'
        if name == key:
            return i
        _, i = _DECODER.raw_decode(text, i)
        i = _skip(text, i)
        if text[i : i + 1] != ",":
            return None
        i = _skip(text, i + 1)


def raw_member(text: str, *path: str) -> str | None:
    """The raw JSON text of the value at `path` (object keys) in `text`; None if absent.
    `text` must already be known to be valid JSON."""
    i = _skip(text, 0)
    for key in path:
        start = _member_start(text, i, key)
        if start is None:
            return None
        i = start
    _, end = _DECODER.raw_decode(text, i)
    return text[i:end]


# -- WS trading API ---------------------------------------------------------------------------


class ApiCall:
    """One `event: "api"` request and the envelopes of its answers."""

    def __init__(self, conn: Conn, doc: dict[str, Any], payload: dict[str, Any]) -> None:
        self.conn = conn
        self.channel = str(doc.get("channel", ""))
        self.req_id = str(payload.get("req_id", ""))
        self.payload = payload
        self.in_us = conn.state.now_ns() // 1000
        self.header_extra: dict[str, Any] = {}

    def envelope(self, data: dict[str, Any], status: int, *, ack: bool = False) -> bytes:
        conn = self.conn
        now_ms = conn.state.now_ms()
        peer = conn.request.remote or ""
        header = {
            "response_time": str(now_ms),
            "status": str(status),
            "channel": self.channel,
            "event": "api",
            "client_id": f"{peer}-0x{id(conn):x}",
            "x_in_time": self.in_us,
            "x_out_time": conn.state.now_ns() // 1000,
            "conn_id": conn.conn_id,
            "conn_trace_id": f"{conn.conn_id}{self.in_us:x}",
            "trace_id": f"{self.in_us:x}{conn.conn_id}",
            **self.header_extra,
        }
        doc: dict[str, Any] = {"request_id": self.req_id}
        if ack:
            doc["ack"] = True
        doc["header"] = header
        doc["data"] = data
        return orjson.dumps(doc)

    def result(self, result: Any, *, ack: bool = False) -> bytes:
        return self.envelope({"result": result}, 200, ack=ack)

    def error(self, exc: GateError) -> bytes:
        return self.envelope({"errs": {"label": exc.label, "message": exc.message}}, exc.status)

    def push(self, *frames: bytes) -> None:
        for data in frames:
            self.conn.push(_api_frame(data))


def _api_frame(data: bytes) -> Frame:
    return Frame(API, data)


def _verify_api(call: ApiCall, raw_param: str | None) -> str:
    """Check a signed request (spot.login, or any request carrying its own signature);
    returns the account."""
    payload = call.payload
    found = call.conn.state.exchange.account_for_key(str(payload.get("api_key", "")))
    if found is None:
        raise GateError(401, "INVALID_KEY", "Invalid key provided")
    creds, account = found
    timestamp = payload.get("timestamp")
    stamp = timestamp if isinstance(timestamp, str) else ""
    if gate_check_timestamp(stamp, call.conn.state.now_ms()) is not TimestampCheck.OK:
        raise GateError(401, "REQUEST_EXPIRED", "Request timestamp far from current time")
    signature = payload.get("signature")
    if not gate_verify_ws_api(creds, call.channel, raw_param, timestamp, signature=signature):
        raise GateError(401, "INVALID_SIGNATURE", "Signature mismatch")
    return account


def api_request(conn: Conn, doc: dict[str, Any], text: str) -> None:
    payload = doc.get("payload")
    call = ApiCall(conn, doc, payload if isinstance(payload, dict) else {})
    try:
        if not isinstance(payload, dict):
            raise GateError(400, "INVALID_REQUEST_BODY", "payload must be an object")
        raw_param = raw_member(text, "payload", "req_param")
        if call.channel == "spot.login" or "signature" in payload:
            account = _verify_api(call, raw_param)
            if conn.account and conn.account != account:
                raise GateError(401, "INVALID_KEY", "connection belongs to another account")
            conn.account = account
            conn.state.watch(account)
            if call.channel == "spot.login":
                conn.logged_in = True
                uid = str(conn.state.uid(account))
                call.push(call.result({"api_key": payload.get("api_key"), "uid": uid}))
                return
        elif not conn.account:
            raise GateError(401, "INVALID_CREDENTIALS", "Not logged in: send spot.login first")
        handler = _API.get(call.channel)
        if handler is None:
            raise GateError(400, "INVALID_PARAM_VALUE", f"unknown channel {call.channel}")
        handler(call, payload.get("req_param"))
    except GateError as exc:
        call.push(call.error(exc))


def _param(param: Any) -> dict[str, Any]:
    if not isinstance(param, dict):
        raise GateError(400, "INVALID_REQUEST_BODY", "req_param must be an object")
    return param


def _place_limit(call: ApiCall) -> None:
    """Place, batch place and amend share one WS budget (docs/VENUES.md §3.8)."""
    conn, state = call.conn, call.conn.state
    rule = state.config.ws_place_limit
    limiter = conn.request.app[LIMITER_KEY]
    allowed, remain, reset = limiter.hit((str(state.uid(conn.account)),), rule, state.now_ms())
    call.header_extra = {
        "x_gate_ratelimit_requests_remain": remain,
        "x_gate_ratelimit_limit": rule.limit,
        "x_gat_ratelimit_reset_timestamp": reset,  # Gate's own spelling in the ack (§3.6)
    }
    if not allowed:
        call.header_extra = {"x_gate_ratelimit_limit": rule.limit}
        call.header_extra["x_gate_ratelimit_reset_timestamp"] = reset
        raise GateError(429, "TOO_MANY_REQUESTS", "Request Rate limit Exceeded (211)")


def _place(call: ApiCall, param: Any) -> None:
    conn, state = call.conn, call.conn.state
    placed = parse_order(state, conn.account, _param(param))
    _place_limit(call)
    echo = {
        "req_id": call.req_id,
        "req_header": None,
        "req_param": param,
        "api_key": "",
        "timestamp": "",
        "signature": "",
    }
    ack = call.result(echo, ack=True)
    try:
        snap = submit(state, placed.request, poc_crosses(state, placed.request), WS_DEFAULT_TEXT)
        result = call.result(order_json(state, snap, mode=placed.action_mode))
    except GateError as exc:
        result = call.error(exc)
    faults = state.exchange.faults
    if faults.take(FaultKind.LOSE_ACK, API):
        return  # placed (or refused) and never answered
    if faults.take(FaultKind.DELAY_ACK, API):
        asyncio.get_running_loop().call_later(state.config.delay_ack_s, call.push, ack, result)
        return
    call.push(ack, result)


def _amend(call: ApiCall, param: Any) -> None:
    """spot.order_amend: one answer, the amended order (no ack, unlike a place)."""
    p = _param(param)
    pair = p.get("currency_pair")
    if not pair:
        raise GateError(400, "MISSING_REQUIRED_PARAM", "Missing required parameter: currency_pair")
    req = parse_amend(call.conn.state, str(pair), p)
    _place_limit(call)
    snap = amend(call.conn.state, call.conn.account, str(pair), str(p.get("order_id")), req)
    call.push(call.result(order_json(call.conn.state, snap)))


def _cancel(call: ApiCall, param: Any) -> None:
    p = _param(param)
    snap = cancel_one(
        call.conn.state, call.conn.account, str(p.get("currency_pair")), str(p.get("order_id"))
    )
    call.push(call.result(order_json(call.conn.state, snap)))


def _cancel_cp(call: ApiCall, param: Any) -> None:
    p = _param(param)
    pair = p.get("currency_pair")
    if not pair:
        raise invalid_param("currency_pair", pair)
    side = p.get("side")
    done = cancel_matching(call.conn.state, call.conn.account, str(pair), side or None)
    call.push(call.result([order_json(call.conn.state, s) for s in done]))


def _cancel_ids(call: ApiCall, param: Any) -> None:
    if not isinstance(param, list):
        raise GateError(400, "INVALID_REQUEST_BODY", "req_param must be a list")
    out = []
    state = call.conn.state
    for item in param:
        entry = _param(item)
        pair, ident = str(entry.get("currency_pair")), str(entry.get("id"))
        row: dict[str, Any] = {"currency_pair": pair, "id": ident, "account": "spot"}
        try:
            snap = cancel_one(state, call.conn.account, pair, ident)
            row.update(text=state.text_of(snap.order_id, snap.client_order_id), succeeded=True)
        except GateError as exc:
            row.update(text="", succeeded=False, label=exc.label, message=exc.message)
        out.append(row)
    call.push(call.result(out))


def _status(call: ApiCall, param: Any) -> None:
    p = _param(param)
    state = call.conn.state
    snap = find_order(state, call.conn.account, str(p.get("currency_pair")), str(p.get("order_id")))
    call.push(call.result(order_json(state, snap)))


_API: dict[str, Callable[[ApiCall, Any], None]] = {
    "spot.order_place": _place,
    "spot.order_cancel": _cancel,
    "spot.order_cancel_cp": _cancel_cp,
    "spot.order_cancel_ids": _cancel_ids,
    "spot.order_status": _status,
    "spot.order_amend": _amend,
}
