"""OKX v5 request signing (REST headers and WS login) and its timestamp rules, both directions.

The adapters sign what they are about to send and the simulator verifies what it received,
over the raw path+query and body bytes, with the same payload builders (docs/VENUES.md §2.5).
Secrets are a `Credentials` or the raw secret (see `engine.wire.mac`). Timestamps are passed
in; nothing here reads the wall clock. Verification never raises on hostile input; it
returns False (or `TimestampCheck.INVALID`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from time import gmtime, strftime

from engine.wire.credentials import Credentials
from engine.wire.mac import Secret, as_bytes, equal, hmac_b64
from engine.wire.timestamps import TimestampCheck, seconds_to_ms, window

__all__ = [
    "OKX_REST_WINDOW_MS",
    "OKX_WS_LOGIN_WINDOW_S",
    "okx_check_timestamp",
    "okx_check_ws_login_timestamp",
    "okx_rest_headers",
    "okx_rest_payload",
    "okx_sign_rest",
    "okx_sign_ws_login",
    "okx_timestamp",
    "okx_verify_rest",
    "okx_verify_ws_login",
    "okx_ws_login_args",
    "okx_ws_login_payload",
    "okx_ws_timestamp",
]

OKX_REST_WINDOW_MS = 30_000  # undocumented; docs/VENUES.md §2.5
OKX_WS_LOGIN_WINDOW_S = 30

_OKX_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{3})Z"
)
_OKX_WS_LOGIN_PATH = "GET/users/self/verify"


def okx_timestamp(epoch_ms: int) -> str:
    """`OK-ACCESS-TIMESTAMP`: UTC ISO-8601 with exactly 3 fractional digits,
    e.g. `2020-12-08T09:08:57.715Z`."""
    seconds, millis = divmod(epoch_ms, 1000)
    return f"{strftime('%Y-%m-%dT%H:%M:%S', gmtime(seconds))}.{millis:03d}Z"


def _okx_parse_timestamp(text: str) -> int | None:
    match = _OKX_ISO.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, millis = (int(g) for g in match.groups())
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    return int(moment.timestamp()) * 1000 + millis


def okx_rest_payload(
    timestamp: str, method: str, request_path: str, body: str | bytes = b""
) -> bytes:
    """REST payload: `timestamp + METHOD + requestPath + body`, no separators.

    `request_path` is the path plus `?` and the raw query when there is one
    (`/api/v5/account/balance?ccy=BTC`); `body` is the exact JSON text sent ("" for GET).
    METHOD is upper-cased here.
    """
    return (timestamp + method.upper() + request_path).encode() + as_bytes(body)


def okx_sign_rest(
    secret: Secret, timestamp: str, method: str, request_path: str, body: str | bytes = b""
) -> str:
    """`OK-ACCESS-SIGN`: base64(HMAC-SHA256(secret, okx_rest_payload(...)))."""
    return hmac_b64(secret, "sha256", okx_rest_payload(timestamp, method, request_path, body))


def okx_verify_rest(
    secret: Secret,
    timestamp: str,
    method: str,
    request_path: str,
    body: str | bytes,
    *,
    signature: object,
) -> bool:
    """Verify `OK-ACCESS-SIGN` over the raw path+query and the raw body bytes received."""
    expected = okx_sign_rest(secret, timestamp, method, request_path, body)
    return equal(expected, signature)


def okx_rest_headers(
    credentials: Credentials,
    timestamp: str,
    method: str,
    request_path: str,
    body: str | bytes = b"",
) -> dict[str, str]:
    """The four OK-ACCESS-* headers (KEY, SIGN, TIMESTAMP, PASSPHRASE). Content-Type is the
    transport's business."""
    if credentials.passphrase is None:
        raise ValueError("OKX credentials need a passphrase")
    return {
        "OK-ACCESS-KEY": credentials.api_key,
        "OK-ACCESS-SIGN": okx_sign_rest(credentials, timestamp, method, request_path, body),
        "OK-ACCESS-TIMESTAMP": timestamp,
        "OK-ACCESS-PASSPHRASE": credentials.passphrase,
    }


def okx_check_timestamp(
    timestamp: str, server_time_ms: int, window_ms: int = OKX_REST_WINDOW_MS
) -> TimestampCheck:
    """`OK-ACCESS-TIMESTAMP` within ±`window_ms` (inclusive) of the server time; INVALID when
    it is not ISO-8601 UTC with exactly 3 fractional digits."""
    millis = _okx_parse_timestamp(timestamp)
    if millis is None:
        return TimestampCheck.INVALID
    return window(millis - server_time_ms, window_ms, window_ms)


def okx_ws_timestamp(epoch_ms: int) -> str:
    """WS login timestamp: Unix seconds as a decimal string."""
    return str(epoch_ms // 1000)


def okx_ws_login_payload(timestamp: str) -> bytes:
    """WS login payload: `timestamp + "GET" + "/users/self/verify"` (timestamp in seconds)."""
    return (timestamp + _OKX_WS_LOGIN_PATH).encode()


def okx_sign_ws_login(secret: Secret, timestamp: str) -> str:
    """WS login `sign`: base64(HMAC-SHA256(secret, okx_ws_login_payload(timestamp)))."""
    return hmac_b64(secret, "sha256", okx_ws_login_payload(timestamp))


def okx_verify_ws_login(secret: Secret, timestamp: object, *, signature: object) -> bool:
    """Verify the `sign` of a received WS login arg."""
    if not isinstance(timestamp, str):
        return False
    return equal(okx_sign_ws_login(secret, timestamp), signature)


def okx_ws_login_args(credentials: Credentials, timestamp: str) -> dict[str, str]:
    """One element of the login `args`: apiKey, passphrase, timestamp, sign."""
    if credentials.passphrase is None:
        raise ValueError("OKX credentials need a passphrase")
    return {
        "apiKey": credentials.api_key,
        "passphrase": credentials.passphrase,
        "timestamp": timestamp,
        "sign": okx_sign_ws_login(credentials, timestamp),
    }


def okx_check_ws_login_timestamp(
    timestamp: str, server_time_ms: int, window_s: int = OKX_WS_LOGIN_WINDOW_S
) -> TimestampCheck:
    """WS login `timestamp` (seconds, fraction allowed): EXPIRED more than `window_s` after
    it, AHEAD more than `window_s` before it (the future bound is our assumption)."""
    millis = seconds_to_ms(timestamp)
    if millis is None:
        return TimestampCheck.INVALID
    return window(float(millis - server_time_ms), window_s * 1000, window_s * 1000)
