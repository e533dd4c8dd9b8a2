"""Binance spot request signing (REST and WS API) and its timestamp rule, both directions.

The adapters sign what they are about to send and the simulator verifies what it received,
byte for byte, with the same payload builders (docs/VENUES.md §1.5).

Keys: an HMAC secret (a `Credentials`, or the raw secret as `str`/`bytes`) gives lowercase
hex HMAC-SHA256; an Ed25519 key from the `cryptography` package gives base64 Ed25519, as
Binance does per key type. Timestamps are passed in; nothing here reads the wall clock.
Verification never raises on hostile input; it returns False.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from engine.wire.credentials import Credentials
from engine.wire.mac import as_bytes, equal, hmac_hex
from engine.wire.timestamps import TimestampCheck

__all__ = [
    "BINANCE_DEFAULT_RECV_WINDOW_MS",
    "BINANCE_FUTURE_TOLERANCE_MS",
    "BINANCE_MAX_RECV_WINDOW_MS",
    "BinanceSigningKey",
    "BinanceVerifyKey",
    "binance_check_timestamp",
    "binance_rest_payload",
    "binance_sign_rest",
    "binance_sign_ws",
    "binance_split_signature",
    "binance_verify_rest",
    "binance_verify_ws",
    "binance_ws_payload",
    "load_ed25519_private_key",
]

BinanceSigningKey = Credentials | str | bytes | Ed25519PrivateKey
BinanceVerifyKey = Credentials | str | bytes | Ed25519PublicKey

BINANCE_DEFAULT_RECV_WINDOW_MS = 5000
BINANCE_MAX_RECV_WINDOW_MS = 60000
BINANCE_FUTURE_TOLERANCE_MS = 1000


def load_ed25519_private_key(pem: str | bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    """Load a PKCS#8 PEM Ed25519 private key (the kind Binance asks you to generate)."""
    key = load_pem_private_key(as_bytes(pem), password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the PEM key is not an Ed25519 private key")
    return key


def _binance_sign(key: BinanceSigningKey, payload: str) -> str:
    data = payload.encode()
    # concrete types first: isinstance against the cryptography ABC is the slow check
    if isinstance(key, Credentials | str | bytes):
        return hmac_hex(key, "sha256", data)
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
    return equal(hmac_hex(key, "sha256", data), signature.lower())


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
    """(payload, signature) from a received request, per docs/VENUES.md §1.5.

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
