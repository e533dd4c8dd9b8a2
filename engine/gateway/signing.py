"""Request signing for Binance spot, OKX v5 and Gate v4, and verification over raw bytes.

Used both ways: the venue adapters sign what they are about to send, and the local exchange
simulator verifies what it received, byte for byte (PROTOCOLS.md §1.3, §1.5, §2.3, §3.3, §3.4,
§3.6 and the rules of §5). Every format has one payload builder, one `*_sign_*` and one
`*_verify_*`; signer and verifier share the payload builder, so they cannot drift apart.

Secrets: every function taking `secret` accepts a `Credentials` (fast path: the HMAC key
schedule is precomputed and copied per signature), or the raw secret as `str`/`bytes`.
Binance REST/WS also accept Ed25519 keys from the `cryptography` package instead of an HMAC
secret; the signature is then base64 instead of hex, as Binance does per key type.

Clock: nothing here reads the wall clock. Timestamps are passed in (epoch milliseconds from
the engine clock), and the `*_check_timestamp` helpers take the server time as an argument.
Verification never raises on hostile input; it returns False (or `TimestampCheck.INVALID`).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from time import gmtime, strftime
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from engine.gateway.credentials import Credentials, Digest

__all__ = [
    "BINANCE_DEFAULT_RECV_WINDOW_MS",
    "BINANCE_FUTURE_TOLERANCE_MS",
    "BINANCE_MAX_RECV_WINDOW_MS",
    "GATE_WINDOW_S",
    "OKX_REST_WINDOW_MS",
    "OKX_WS_LOGIN_WINDOW_S",
    "BinanceSigningKey",
    "BinanceVerifyKey",
    "Secret",
    "TimestampCheck",
    "binance_check_timestamp",
    "binance_rest_payload",
    "binance_sign_rest",
    "binance_sign_ws",
    "binance_split_signature",
    "binance_verify_rest",
    "binance_verify_ws",
    "binance_ws_payload",
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
    "load_ed25519_private_key",
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

Secret = Credentials | str | bytes
BinanceSigningKey = Credentials | str | bytes | Ed25519PrivateKey
BinanceVerifyKey = Credentials | str | bytes | Ed25519PublicKey

BINANCE_DEFAULT_RECV_WINDOW_MS = 5000
BINANCE_MAX_RECV_WINDOW_MS = 60000
BINANCE_FUTURE_TOLERANCE_MS = 1000
OKX_REST_WINDOW_MS = 30_000  # undocumented; PROTOCOLS.md §5 item 1
OKX_WS_LOGIN_WINDOW_S = 30
GATE_WINDOW_S = 60

_SHA512_EMPTY_HEX = hashlib.sha512(b"").hexdigest()


class TimestampCheck(enum.Enum):
    """Outcome of a request-timestamp window check."""

    OK = "ok"
    AHEAD = "ahead"  # too far in the future (Binance -1021 "...ahead of the server's time")
    EXPIRED = "expired"  # too old (Binance -1021 recvWindow, OKX 50102, Gate REQUEST_EXPIRED)
    INVALID = "invalid"  # not a timestamp at all (OKX 50112 / 60004)


# --------------------------------------------------------------------------------------------
# shared HMAC and comparison helpers


def _as_bytes(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else data


def _mac(secret: Secret, digest: Digest) -> hmac.HMAC:
    """A keyed HMAC object: a copy of the precomputed key schedule for `Credentials`."""
    if isinstance(secret, Credentials):
        return secret.new_mac(digest)
    return hmac.new(_as_bytes(secret), digestmod=digest)


def _hmac_hex(secret: Secret, digest: Digest, payload: bytes) -> str:
    mac = _mac(secret, digest)
    mac.update(payload)
    return mac.hexdigest()


def _hmac_b64(secret: Secret, digest: Digest, payload: bytes) -> str:
    mac = _mac(secret, digest)
    mac.update(payload)
    return base64.b64encode(mac.digest()).decode("ascii")


def _equal(expected: str, provided: object) -> bool:
    """Constant-time text comparison; anything that is not ASCII text simply does not match."""
    if not isinstance(provided, str):
        return False
    try:
        provided_bytes = provided.encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), provided_bytes)


def _window(delta_ms: float, ahead_ms: float, behind_ms: float) -> TimestampCheck:
    """`delta_ms` = client timestamp - server time. Both bounds are inclusive."""
    if delta_ms > ahead_ms:
        return TimestampCheck.AHEAD
    if -delta_ms > behind_ms:
        return TimestampCheck.EXPIRED
    return TimestampCheck.OK


_DECIMAL_SECONDS = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")


def _seconds_to_ms(text: str) -> Decimal | None:
    """`"1541993715"` or `"1700000000.123456"` -> milliseconds; None when malformed."""
    if not _DECIMAL_SECONDS.fullmatch(text):
        return None
    return Decimal(text) * 1000


# --------------------------------------------------------------------------------------------
# Binance spot (PROTOCOLS.md §1.3, §1.5)


def load_ed25519_private_key(pem: str | bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    """Load a PKCS#8 PEM Ed25519 private key (the kind Binance asks you to generate)."""
    key = load_pem_private_key(_as_bytes(pem), password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the PEM key is not an Ed25519 private key")
    return key


def _binance_sign(key: BinanceSigningKey, payload: str) -> str:
    data = payload.encode()
    # concrete types first: isinstance against the cryptography ABC is the slow check
    if isinstance(key, Credentials | str | bytes):
        return _hmac_hex(key, "sha256", data)
    return base64.b64encode(key.sign(data)).decode("ascii")


def _binance_verify(key: BinanceVerifyKey, payload: str, signature: object) -> bool:
    if not isinstance(signature, str):
        return False
    data = payload.encode()
    if not isinstance(key, Credentials | str | bytes):  # an Ed25519 public key
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            return False
        if len(raw) != 64:
            return False
        try:
            key.verify(raw, data)
        except InvalidSignature:
            return False
        return True
    # HMAC signatures are compared case-insensitively by Binance.
    return _equal(_hmac_hex(key, "sha256", data), signature.lower())


def binance_rest_payload(query: str, body: str = "") -> str:
    """REST payload: `query + body`, raw as sent (already percent-encoded), NO separator.

    Neither part may contain the `signature` pair. Order is wire order; nothing is sorted.
    """
    return query + body


def binance_sign_rest(key: BinanceSigningKey, query: str, body: str = "") -> str:
    """Signature of a REST request over `query + body` (see `binance_rest_payload`).

    HMAC secret -> lowercase hex HMAC-SHA256. Ed25519 private key -> base64 Ed25519; Binance
    needs it percent-encoded on the wire (`urllib.parse.quote(sig, safe="")`, harmless for hex).
    Append it as `signature=<sig>` to the part that comes last on the wire.
    """
    return _binance_sign(key, binance_rest_payload(query, body))


def binance_split_signature(raw_query: str, raw_body: str) -> tuple[str, str] | None:
    """(payload, signature) from a received request, per PROTOCOLS.md §5.

    The `signature=` pair is removed from whichever part carries it; the rest stays raw and
    in wire order. The signature value is percent-decoded (Ed25519 base64 arrives encoded).
    None when there is no signature or more than one.
    """
    found: list[str] = []
    parts = []
    for raw in (raw_query, raw_body):
        if "signature=" not in raw:
            parts.append(raw)
            continue
        kept = []
        for pair in raw.split("&"):
            if pair.startswith("signature="):
                found.append(pair[len("signature=") :])
            else:
                kept.append(pair)
        parts.append("&".join(kept))
    if len(found) != 1:
        return None
    return binance_rest_payload(parts[0], parts[1]), unquote(found[0])


def binance_verify_rest(key: BinanceVerifyKey, raw_query: str, raw_body: str = "") -> bool:
    """Verify a received REST request: strip the `signature` pair, check it over the raw
    `query + body` (no decoding, no re-sorting), compare in constant time. HMAC hex is
    compared case-insensitively, as Binance does; Ed25519 needs the public key."""
    split = binance_split_signature(raw_query, raw_body)
    if split is None:
        return False
    return _binance_verify(key, *split)


def _ws_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError("non-finite float in a signed parameter")
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError("non-finite Decimal in a signed parameter")
        return format(value, "f")
    raise TypeError(f"cannot sign a parameter of type {type(value).__name__}")


def binance_ws_payload(params: Mapping[str, object]) -> str:
    """WS API payload: all `params` except `signature` (`apiKey` included), sorted by key,
    joined as `key=value` with `&`. Values are the JSON scalar text, raw UTF-8, never
    percent-encoded: strings as-is, ints in decimal, booleans `true`/`false`, floats by
    `repr`, Decimals in fixed notation. Send prices/quantities as strings: a float cannot
    keep `52000.00` apart from `52000.0`. (A verifier that parses JSON with
    `parse_float=Decimal` keeps the wire text of plain decimal numbers.)
    Raises TypeError for None, lists, objects and non-finite numbers.
    """
    return "&".join(f"{k}={_ws_text(params[k])}" for k in sorted(params) if k != "signature")


def binance_sign_ws(key: BinanceSigningKey, params: Mapping[str, object]) -> str:
    """Signature for a WS API request's `params` (see `binance_ws_payload`); a `signature`
    key already in `params` is ignored. Hex HMAC-SHA256, or base64 Ed25519."""
    return _binance_sign(key, binance_ws_payload(params))


def binance_verify_ws(key: BinanceVerifyKey, params: Mapping[str, object]) -> bool:
    """Verify the `signature` inside a received WS API `params` object."""
    signature = params.get("signature")
    if signature is None:
        return False
    try:
        payload = binance_ws_payload(params)
    except TypeError:
        return False
    return _binance_verify(key, payload, signature)


def binance_check_timestamp(
    timestamp_ms: float,
    server_time_ms: float,
    recv_window_ms: float = BINANCE_DEFAULT_RECV_WINDOW_MS,
) -> TimestampCheck:
    """Binance's rule, in its order: AHEAD if timestamp >= serverTime + 1000; EXPIRED if
    serverTime - timestamp > recvWindow; else OK. Microsecond timestamps must be converted
    to (fractional) ms by the caller; the recvWindow range (<= 60000) is not checked here."""
    if timestamp_ms >= server_time_ms + BINANCE_FUTURE_TOLERANCE_MS:
        return TimestampCheck.AHEAD
    if server_time_ms - timestamp_ms > recv_window_ms:
        return TimestampCheck.EXPIRED
    return TimestampCheck.OK


# --------------------------------------------------------------------------------------------
# OKX v5 (PROTOCOLS.md §2.3)

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
    return (timestamp + method.upper() + request_path).encode() + _as_bytes(body)


def okx_sign_rest(
    secret: Secret, timestamp: str, method: str, request_path: str, body: str | bytes = b""
) -> str:
    """`OK-ACCESS-SIGN`: base64(HMAC-SHA256(secret, okx_rest_payload(...)))."""
    return _hmac_b64(secret, "sha256", okx_rest_payload(timestamp, method, request_path, body))


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
    return _equal(expected, signature)


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
    return _window(millis - server_time_ms, window_ms, window_ms)


def okx_ws_timestamp(epoch_ms: int) -> str:
    """WS login timestamp: Unix seconds as a decimal string."""
    return str(epoch_ms // 1000)


def okx_ws_login_payload(timestamp: str) -> bytes:
    """WS login payload: `timestamp + "GET" + "/users/self/verify"` (timestamp in seconds)."""
    return (timestamp + _OKX_WS_LOGIN_PATH).encode()


def okx_sign_ws_login(secret: Secret, timestamp: str) -> str:
    """WS login `sign`: base64(HMAC-SHA256(secret, okx_ws_login_payload(timestamp)))."""
    return _hmac_b64(secret, "sha256", okx_ws_login_payload(timestamp))


def okx_verify_ws_login(secret: Secret, timestamp: object, *, signature: object) -> bool:
    """Verify the `sign` of a received WS login arg."""
    if not isinstance(timestamp, str):
        return False
    return _equal(okx_sign_ws_login(secret, timestamp), signature)


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
    millis = _seconds_to_ms(timestamp)
    if millis is None:
        return TimestampCheck.INVALID
    return _window(float(millis - server_time_ms), window_s * 1000, window_s * 1000)


# --------------------------------------------------------------------------------------------
# Gate v4 (PROTOCOLS.md §3.3, §3.4, §3.6)


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
    data = _as_bytes(body)
    body_hash = hashlib.sha512(data).hexdigest() if data else _SHA512_EMPTY_HEX
    return f"{method.upper()}\n{path}\n{query}\n{body_hash}\n{timestamp}".encode()


def gate_sign_rest(
    secret: Secret, method: str, path: str, query: str, body: str | bytes, *, timestamp: str
) -> str:
    """`SIGN` header: hex(HMAC-SHA512(secret, gate_rest_payload(...)))."""
    payload = gate_rest_payload(method, path, query, body, timestamp=timestamp)
    return _hmac_hex(secret, "sha512", payload)


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
    return _equal(gate_sign_rest(secret, method, path, query, body, timestamp=timestamp), signature)


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
    millis = _seconds_to_ms(timestamp)
    if millis is None:
        return TimestampCheck.INVALID
    return _window(float(millis - server_time_ms), window_s * 1000, window_s * 1000)


def gate_ws_channel_payload(channel: str, event: str, time: int) -> bytes:
    """Private channel auth payload: `channel=<channel>&event=<event>&time=<time>`, where
    `time` is the request's top-level `time` (seconds) in decimal."""
    return f"channel={channel}&event={event}&time={time}".encode()


def gate_sign_ws_channel(secret: Secret, channel: str, event: str, time: int) -> str:
    """`auth.SIGN`: hex(HMAC-SHA512(secret, gate_ws_channel_payload(...)))."""
    return _hmac_hex(secret, "sha512", gate_ws_channel_payload(channel, event, time))


def gate_verify_ws_channel(
    secret: Secret, channel: object, event: object, time: object, *, signature: object
) -> bool:
    """Verify `auth.SIGN` of a received subscribe/unsubscribe (`time` as parsed from JSON)."""
    if isinstance(time, bool) or not isinstance(time, int):
        return False
    if not isinstance(channel, str) or not isinstance(event, str):
        return False
    return _equal(gate_sign_ws_channel(secret, channel, event, time), signature)


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
    both verify, because the text signed is the text sent (PROTOCOLS.md §5 item 4).
    `timestamp` is the string in `payload.timestamp`.
    """
    param = b"" if req_param is None else _as_bytes(req_param)
    return b"api\n" + channel.encode() + b"\n" + param + b"\n" + timestamp.encode()


def gate_sign_ws_api(
    secret: Secret, channel: str, req_param: str | bytes | None, timestamp: str
) -> str:
    """`payload.signature`: hex(HMAC-SHA512(secret, gate_ws_api_payload(...)))."""
    return _hmac_hex(secret, "sha512", gate_ws_api_payload(channel, req_param, timestamp))


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
    return _equal(gate_sign_ws_api(secret, channel, req_param, timestamp), signature)
