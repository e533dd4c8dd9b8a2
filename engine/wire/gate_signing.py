"""Gate APIv4 request signing (REST, WS channel auth, WS trading API) and its timestamp rule,
both directions.

The adapters sign what they are about to send and the simulator verifies what it received,
over the raw query, body and `req_param` text, with the same payload builders (docs/VENUES.md
§3.5). Secrets are a `Credentials` or the raw secret (see
`engine.wire.mac`). Timestamps are passed in; nothing here reads the wall clock.
Verification never raises on hostile input; it returns False (or `TimestampCheck.INVALID`).
"""

from __future__ import annotations

import hashlib

from engine.wire.credentials import Credentials
from engine.wire.mac import Secret, as_bytes, equal, hmac_hex
from engine.wire.timestamps import TimestampCheck, seconds_to_ms, window

__all__ = [
    "GATE_WINDOW_S",
    "gate_check_timestamp",
    "gate_rest_headers",
    "gate_rest_payload",
    "gate_sign_rest",
    "gate_sign_ws_api",
    "gate_sign_ws_channel",
    "gate_timestamp",
    "gate_verify_rest",
    "gate_verify_ws_api",
    "gate_verify_ws_channel",
    "gate_ws_api_payload",
    "gate_ws_auth",
    "gate_ws_channel_payload",
]

GATE_WINDOW_S = 60

_SHA512_EMPTY_HEX = hashlib.sha512(b"").hexdigest()


def gate_timestamp(epoch_ms: int) -> str:
    """REST `Timestamp` header / WS API `payload.timestamp`: Unix seconds as a string."""
    return str(epoch_ms // 1000)


def gate_rest_payload(
    method: str, path: str, query: str, body: str | bytes, *, timestamp: str
) -> bytes:
    """REST payload: `METHOD\\nPATH\\nQUERY\\nhex(SHA512(body))\\nTIMESTAMP`.

    PATH includes `/api/v4`, no host; QUERY is the raw query string without `?`, exactly as
    in the URL ("" when none); the body hash is over the exact body bytes (SHA512 of "" when
    there is no body); TIMESTAMP is the header string as sent (a fraction is allowed).
    """
    data = as_bytes(body)
    body_hash = hashlib.sha512(data).hexdigest() if data else _SHA512_EMPTY_HEX
    return f"{method.upper()}\n{path}\n{query}\n{body_hash}\n{timestamp}".encode()


def gate_sign_rest(
    secret: Secret, method: str, path: str, query: str, body: str | bytes, *, timestamp: str
) -> str:
    """`SIGN` header: hex(HMAC-SHA512(secret, gate_rest_payload(...)))."""
    payload = gate_rest_payload(method, path, query, body, timestamp=timestamp)
    return hmac_hex(secret, "sha512", payload)


def gate_verify_rest(
    secret: Secret,
    method: str,
    path: str,
    query: str,
    body: str | bytes,
    *,
    timestamp: str,
    signature: object,
) -> bool:
    """Verify `SIGN` over the raw query, the raw body bytes and the `Timestamp` header text.
    Compared exactly (lowercase hex); Gate documents no case folding."""
    return equal(gate_sign_rest(secret, method, path, query, body, timestamp=timestamp), signature)


def gate_rest_headers(
    credentials: Credentials,
    method: str,
    path: str,
    query: str,
    body: str | bytes,
    *,
    timestamp: str,
) -> dict[str, str]:
    """The KEY, Timestamp and SIGN headers."""
    return {
        "KEY": credentials.api_key,
        "Timestamp": timestamp,
        "SIGN": gate_sign_rest(credentials, method, path, query, body, timestamp=timestamp),
    }


def gate_check_timestamp(
    timestamp: str | int, server_time_ms: int, window_s: int = GATE_WINDOW_S
) -> TimestampCheck:
    """REST `Timestamp`, WS `time` or WS API `payload.timestamp` (seconds, a fraction
    allowed) within ±`window_s` (inclusive) of the server time."""
    if isinstance(timestamp, bool):
        return TimestampCheck.INVALID
    if isinstance(timestamp, int):
        timestamp = str(timestamp)
    millis = seconds_to_ms(timestamp)
    if millis is None:
        return TimestampCheck.INVALID
    return window(float(millis - server_time_ms), window_s * 1000, window_s * 1000)


def gate_ws_channel_payload(channel: str, event: str, time: int) -> bytes:
    """Private channel auth payload: `channel=<channel>&event=<event>&time=<time>`, where
    `time` is the request's top-level `time` (seconds) in decimal."""
    return f"channel={channel}&event={event}&time={time}".encode()


def gate_sign_ws_channel(secret: Secret, channel: str, event: str, time: int) -> str:
    """`auth.SIGN`: hex(HMAC-SHA512(secret, gate_ws_channel_payload(...)))."""
    return hmac_hex(secret, "sha512", gate_ws_channel_payload(channel, event, time))


def gate_verify_ws_channel(
    secret: Secret, channel: object, event: object, time: object, *, signature: object
) -> bool:
    """Verify `auth.SIGN` of a received subscribe/unsubscribe (`time` as parsed from JSON)."""
    if isinstance(time, bool) or not isinstance(time, int):
        return False
    if not isinstance(channel, str) or not isinstance(event, str):
        return False
    return equal(gate_sign_ws_channel(secret, channel, event, time), signature)


def gate_ws_auth(credentials: Credentials, channel: str, event: str, time: int) -> dict[str, str]:
    """The `auth` object for a private channel request: method, KEY, SIGN."""
    return {
        "method": "api_key",
        "KEY": credentials.api_key,
        "SIGN": gate_sign_ws_channel(credentials, channel, event, time),
    }


def gate_ws_api_payload(channel: str, req_param: str | bytes | None, timestamp: str) -> bytes:
    """WS trading API payload: `"api\\n" + channel + "\\n" + req_param + "\\n" + timestamp`.

    `req_param` is the raw JSON text of `payload.req_param` as it is (or will be) on the wire;
    None or "" when absent. For `spot.login` the docs sign "" and gate-ws/ccxt sign "{}":
    both verify, because the text signed is the text sent (docs/VENUES.md §3.5).
    `timestamp` is the string in `payload.timestamp`.
    """
    param = b"" if req_param is None else as_bytes(req_param)
    return b"api\n" + channel.encode() + b"\n" + param + b"\n" + timestamp.encode()


def gate_sign_ws_api(
    secret: Secret, channel: str, req_param: str | bytes | None, timestamp: str
) -> str:
    """`payload.signature`: hex(HMAC-SHA512(secret, gate_ws_api_payload(...)))."""
    return hmac_hex(secret, "sha512", gate_ws_api_payload(channel, req_param, timestamp))


def gate_verify_ws_api(
    secret: Secret,
    channel: str,
    req_param: str | bytes | None,
    timestamp: object,
    *,
    signature: object,
) -> bool:
    """Verify `payload.signature` over the raw `req_param` text received ("" when absent)."""
    if not isinstance(timestamp, str):
        return False
    return equal(gate_sign_ws_api(secret, channel, req_param, timestamp), signature)
