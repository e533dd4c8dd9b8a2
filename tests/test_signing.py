"""Signing and verification for Binance, OKX and Gate (engine.wire).

Vectors marked "official" are the venues' documented worked examples as listed in
docs/VENUES.md §1.5, §2.5 and §3.5; "oracle" vectors were computed by independent clients
(python-okx, ccxt, gate-ws, gate_api) and are recorded there too.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import hmac
import json
import pickle
from decimal import Decimal
from urllib.parse import quote, urlencode

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.wire.binance_signing import (
    binance_check_timestamp,
    binance_rest_payload,
    binance_sign_rest,
    binance_sign_ws,
    binance_split_signature,
    binance_verify_rest,
    binance_verify_ws,
    binance_ws_payload,
    load_ed25519_private_key,
)
from engine.wire.credentials import Credentials, CredentialsError
from engine.wire.gate_signing import (
    gate_check_timestamp,
    gate_rest_headers,
    gate_rest_payload,
    gate_sign_rest,
    gate_sign_ws_api,
    gate_sign_ws_channel,
    gate_timestamp,
    gate_verify_rest,
    gate_verify_ws_api,
    gate_verify_ws_channel,
    gate_ws_api_payload,
    gate_ws_auth,
)
from engine.wire.okx_signing import (
    okx_check_timestamp,
    okx_check_ws_login_timestamp,
    okx_rest_headers,
    okx_sign_rest,
    okx_sign_ws_login,
    okx_timestamp,
    okx_verify_rest,
    okx_verify_ws_login,
    okx_ws_login_args,
    okx_ws_timestamp,
)
from engine.wire.timestamps import TimestampCheck

# ------------------------------------------------------------------------------------------
# Binance (official doc key pair, docs/VENUES.md §1.5)

BN_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
BN_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
BN_CREDS = Credentials(BN_KEY, BN_SECRET)

BN_REST_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
BN_REST_SIG = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
BN_REST_QUERY_UTF8 = BN_REST_QUERY.replace(
    "symbol=LTCBTC", "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96"
)
BN_REST_SIG_UTF8 = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
BN_PROJECT_QUERY = (
    "symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=0.001&price=65000.00"
    "&newClientOrderId=mm-1-000001&recvWindow=5000&timestamp=1700000000000"
)
BN_PROJECT_SIG = "6e97541f16955cca399359a1e4ec195d2129070754f42f6dcb8016968ec12511"

BN_WS_PARAMS: dict[str, object] = {
    "symbol": "BTCUSDT",
    "side": "SELL",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.01000000",
    "price": "52000.00",
    "recvWindow": 100,
    "timestamp": 1645423376532,
    "apiKey": BN_KEY,
}
BN_WS_PAYLOAD = (
    f"apiKey={BN_KEY}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL"
    "&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
)
BN_WS_SIG = "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
BN_WS_PARAMS_UTF8: dict[str, object] = {
    **BN_WS_PARAMS,
    "symbol": "１２３４５６",
    "side": "BUY",
    "price": "0.10000000",
    "quantity": "1.00000000",
    "recvWindow": 5000,
}
BN_WS_SIG_UTF8 = "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"

# RFC 8032 §7.1 TEST 2 (message 0x72 == "r"): checks the Ed25519 plumbing independently.
RFC8032_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
RFC8032_SIG = bytes.fromhex(
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
)
ED_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
ED_PUB = ED_KEY.public_key()
# pinned once: Ed25519 (seed 00..1f) over BN_PROJECT_QUERY
ED_PROJECT_SIG = (
    "EtzXRXqpozPHdxHcoNHZn4CNduQV8D5ADLWeRLzFLcoTRnim+ya8qhvUBGecMjCzJXvo57vIn8WqUMdQutlOCA=="
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (BN_REST_QUERY, BN_REST_SIG),  # official
        (BN_REST_QUERY_UTF8, BN_REST_SIG_UTF8),  # official, non-ASCII symbol
        (BN_PROJECT_QUERY, BN_PROJECT_SIG),  # oracle
    ],
)
@pytest.mark.parametrize("secret", [BN_CREDS, BN_SECRET, BN_SECRET.encode()])
def test_binance_rest_vectors(query: str, expected: str, secret: object) -> None:
    assert binance_sign_rest(secret, query) == expected  # type: ignore[arg-type]
    # the payload is query+body with no separator: any split gives the same signature
    for cut in (0, 20, len(query)):
        assert binance_sign_rest(secret, query[:cut], query[cut:]) == expected  # type: ignore[arg-type]


def test_binance_rest_query_body_joined_without_separator() -> None:
    query, body = BN_REST_QUERY.split("&quantity")
    body = "quantity" + body
    assert binance_rest_payload(query, body) == query + body
    assert binance_sign_rest(BN_SECRET, query, body) != binance_sign_rest(
        BN_SECRET, f"{query}&{body}"
    )


def test_binance_credentials_fast_path_reusable() -> None:
    # copies of the precomputed key schedule must not leak state between signatures
    first = binance_sign_rest(BN_CREDS, BN_PROJECT_QUERY)
    binance_sign_rest(BN_CREDS, "something=else")
    assert binance_sign_rest(BN_CREDS, BN_PROJECT_QUERY) == first == BN_PROJECT_SIG


@pytest.mark.parametrize(
    ("params", "expected"),
    [(BN_WS_PARAMS, BN_WS_SIG), (BN_WS_PARAMS_UTF8, BN_WS_SIG_UTF8)],  # official
)
def test_binance_ws_vectors(params: dict[str, object], expected: str) -> None:
    assert binance_sign_ws(BN_CREDS, params) == expected
    assert binance_sign_ws(BN_SECRET, {**params, "signature": "ignored"}) == expected
    assert binance_verify_ws(BN_SECRET, {**params, "signature": expected})


def test_binance_ws_payload_layout() -> None:
    assert binance_ws_payload(BN_WS_PARAMS) == BN_WS_PAYLOAD
    assert "symbol=１２３４５６&" in binance_ws_payload(BN_WS_PARAMS_UTF8)  # raw, not encoded
    # userDataStream.subscribe.signature example (oracle)
    params = {"apiKey": BN_KEY, "timestamp": 1747385641636}
    assert binance_ws_payload(params) == f"apiKey={BN_KEY}&timestamp=1747385641636"
    assert (
        binance_sign_ws(BN_SECRET, params)
        == "681110a6057ad58657af22f5640fab9dd17418834cdfccdc81be8b0f7b2cde3e"
    )


def test_binance_ws_value_text() -> None:
    payload = binance_ws_payload(
        {"b": True, "a": False, "d": Decimal("0.0000001"), "c": 0.5, "e": -3, "f": ""}
    )
    assert payload == "a=false&b=true&c=0.5&d=0.0000001&e=-3&f="
    for bad in (None, [1], {"x": 1}, float("nan"), Decimal("Infinity")):
        with pytest.raises(TypeError):
            binance_ws_payload({"x": bad})
        assert not binance_verify_ws(BN_SECRET, {"x": bad, "signature": "00"})


def _signed(query: str, sig: str) -> str:
    return f"{query}&signature={quote(sig, safe='')}"


def test_binance_verify_rest_accepts() -> None:
    assert binance_verify_rest(BN_SECRET, _signed(BN_REST_QUERY, BN_REST_SIG), "")
    assert binance_verify_rest(BN_CREDS, "", _signed(BN_REST_QUERY, BN_REST_SIG))
    assert binance_verify_rest(BN_SECRET, _signed(BN_REST_QUERY, BN_REST_SIG.upper()), "")
    # split between query and body, signature at the end of the body
    query, body = BN_REST_QUERY[:30], BN_REST_QUERY[30:]
    assert binance_verify_rest(BN_SECRET, query, _signed(body, BN_REST_SIG))
    # signature first in the query, the rest in the body
    assert binance_verify_rest(BN_SECRET, f"signature={BN_REST_SIG}", BN_REST_QUERY)
    assert binance_split_signature(f"signature={BN_REST_SIG}", BN_REST_QUERY) == (
        BN_REST_QUERY,
        BN_REST_SIG,
    )


def test_binance_verify_rest_rejects() -> None:
    good = _signed(BN_REST_QUERY, BN_REST_SIG)
    assert not binance_verify_rest("wrong-secret", good, "")
    assert not binance_verify_rest(BN_SECRET, good.replace("price=0.1", "price=0.2"), "")
    pairs = BN_REST_QUERY.split("&")
    reordered = "&".join([pairs[1], pairs[0], *pairs[2:]])
    assert not binance_verify_rest(BN_SECRET, _signed(reordered, BN_REST_SIG), "")
    assert not binance_verify_rest(BN_SECRET, BN_REST_QUERY, "")  # missing
    assert not binance_verify_rest(BN_SECRET, f"{BN_REST_QUERY}&signature=", "")  # empty
    assert not binance_verify_rest(BN_SECRET, good, f"signature={BN_REST_SIG}")  # twice
    assert not binance_verify_rest(BN_SECRET, _signed(BN_REST_QUERY, "é" * 64), "")
    # decoding the query before verifying would be wrong: the raw text is signed
    assert not binance_verify_rest(
        BN_SECRET, _signed(BN_REST_QUERY_UTF8.replace("%EF", "%ef"), BN_REST_SIG_UTF8), ""
    )


def test_binance_ws_verify_rejects() -> None:
    good = {**BN_WS_PARAMS, "signature": BN_WS_SIG}
    assert binance_verify_ws(BN_SECRET, good)
    assert not binance_verify_ws("wrong-secret", good)
    assert not binance_verify_ws(BN_SECRET, {**good, "price": "52000.01"})
    assert not binance_verify_ws(BN_SECRET, {**good, "recvWindow": "0100"})
    assert not binance_verify_ws(BN_SECRET, BN_WS_PARAMS)  # missing
    assert not binance_verify_ws(BN_SECRET, {**good, "signature": 12345})


def test_binance_ws_verify_over_parsed_json() -> None:
    frame = json.dumps({"params": {**BN_WS_PARAMS, "signature": BN_WS_SIG}})
    assert binance_verify_ws(BN_SECRET, json.loads(frame)["params"])
    # numbers keep their wire text when the verifier parses with Decimal
    raw = '{"price": 52000.00, "recvWindow": 100, "timestamp": 1645423376532, "apiKey": "k"}'
    params = json.loads(raw, parse_float=Decimal)
    assert (
        binance_ws_payload(params)
        == "apiKey=k&price=52000.00&recvWindow=100&timestamp=1645423376532"
    )


def test_ed25519_rfc8032_and_pinned() -> None:
    key = Ed25519PrivateKey.from_private_bytes(RFC8032_SEED)
    assert binance_sign_rest(key, "r") == base64.b64encode(RFC8032_SIG).decode()
    sig = binance_sign_rest(ED_KEY, BN_PROJECT_QUERY)
    assert sig == ED_PROJECT_SIG
    assert len(sig) == 88  # 64 bytes


def test_ed25519_rest_verify() -> None:
    sig = binance_sign_rest(ED_KEY, BN_PROJECT_QUERY)
    assert "+" in sig or "/" in sig or "=" in sig  # so percent-encoding is exercised
    good = _signed(BN_PROJECT_QUERY, sig)
    assert binance_verify_rest(ED_PUB, good, "")
    assert binance_verify_rest(ED_PUB, f"{BN_PROJECT_QUERY}&signature={sig}", "")  # unencoded
    other = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
    assert not binance_verify_rest(other, good, "")
    assert not binance_verify_rest(ED_PUB, good.replace("0.001", "0.002"), "")
    assert not binance_verify_rest(ED_PUB, BN_PROJECT_QUERY, "")
    assert not binance_verify_rest(ED_PUB, _signed(BN_PROJECT_QUERY, "not base64!"), "")
    assert not binance_verify_rest(ED_PUB, _signed(BN_PROJECT_QUERY, sig[:-4]), "")
    assert not binance_verify_rest(ED_PUB, _signed(BN_PROJECT_QUERY, sig.lower()), "")


def test_ed25519_ws_session_logon() -> None:
    params: dict[str, object] = {"apiKey": BN_KEY, "timestamp": 1649729878532}
    sig = binance_sign_ws(ED_KEY, params)
    assert binance_verify_ws(ED_PUB, {**params, "signature": sig})
    assert not binance_verify_ws(ED_PUB, {**params, "timestamp": 1649729878533, "signature": sig})


def test_load_ed25519_private_key() -> None:
    pem = ED_KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    loaded = load_ed25519_private_key(pem.decode())
    assert binance_sign_rest(loaded, BN_PROJECT_QUERY) == ED_PROJECT_SIG
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="not an Ed25519"):
        load_ed25519_private_key(ec_pem)


@pytest.mark.parametrize(
    ("timestamp", "server", "window", "expected"),
    [
        (1_000_000, 1_000_000, 5000, TimestampCheck.OK),
        (1_000_999, 1_000_000, 5000, TimestampCheck.OK),
        (1_000_999.999, 1_000_000, 5000, TimestampCheck.OK),
        (1_001_000, 1_000_000, 5000, TimestampCheck.AHEAD),  # >= server + 1000
        (995_000, 1_000_000, 5000, TimestampCheck.OK),  # exactly recvWindow old
        (994_999, 1_000_000, 5000, TimestampCheck.EXPIRED),
        (994_999.5, 1_000_000, 5000.5, TimestampCheck.OK),  # fractional recvWindow
        (994_999, 1_000_000, 5000.5, TimestampCheck.EXPIRED),
        (940_000, 1_000_000, 60000, TimestampCheck.OK),
        (1_005_000, 1_000_000, 60000, TimestampCheck.AHEAD),  # recvWindow does not widen it
    ],
)
def test_binance_timestamp_window(
    timestamp: float, server: int, window: float, expected: TimestampCheck
) -> None:
    assert binance_check_timestamp(timestamp, server, window) is expected


def test_binance_timestamp_default_window() -> None:
    assert binance_check_timestamp(1_000, 6_000) is TimestampCheck.OK
    assert binance_check_timestamp(999, 6_000) is TimestampCheck.EXPIRED


# ------------------------------------------------------------------------------------------
# OKX (no official vector; oracle values from docs/VENUES.md §2.5)

OKX_SECRET = "22582BD0CFF14C41EDBF1AB98506286D"
OKX_CREDS = Credentials("okx-api-key-0001", OKX_SECRET, "my passphrase")
OKX_TS = "2020-12-08T09:08:57.715Z"
OKX_TS_MS = 1607418537715
OKX_BODY = (
    '{"instId":"BTC-USDT","tdMode":"cash","clOrdId":"b15","side":"buy",'
    '"ordType":"limit","px":"2.15","sz":"2"}'
)


def _okx_reference(secret: str, prehash: str) -> str:
    """Written independently of the module: one-shot hmac.digest over the joined text."""
    return base64.b64encode(hmac.digest(secret.encode(), prehash.encode(), "sha256")).decode()


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        (
            "GET",
            "/api/v5/account/balance?ccy=BTC",
            "",
            "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY=",
        ),
        ("POST", "/api/v5/trade/order", OKX_BODY, "dI6rrL9rXW/HdaPKJ/6LC1OgvH4/PYju6R3CqixMTNQ="),
    ],
)
def test_okx_rest_vectors(method: str, path: str, body: str, expected: str) -> None:
    assert okx_sign_rest(OKX_CREDS, OKX_TS, method, path, body) == expected
    assert okx_sign_rest(OKX_SECRET, OKX_TS, method.lower(), path, body.encode()) == expected
    assert _okx_reference(OKX_SECRET, OKX_TS + method + path + body) == expected


def test_okx_ws_login_vector() -> None:
    expected = "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="
    assert okx_sign_ws_login(OKX_CREDS, "1538054050") == expected
    assert _okx_reference(OKX_SECRET, "1538054050GET/users/self/verify") == expected
    assert okx_verify_ws_login(OKX_SECRET, "1538054050", signature=expected)
    assert not okx_verify_ws_login("other", "1538054050", signature=expected)
    assert not okx_verify_ws_login(OKX_SECRET, "1538054051", signature=expected)
    assert not okx_verify_ws_login(OKX_SECRET, 1538054050, signature=expected)
    assert not okx_verify_ws_login(OKX_SECRET, "1538054050", signature=None)


def test_okx_timestamps() -> None:
    assert okx_timestamp(OKX_TS_MS) == OKX_TS
    assert okx_timestamp(1_700_000_000_000) == "2023-11-14T22:13:20.000Z"
    assert okx_timestamp(5) == "1970-01-01T00:00:00.005Z"
    assert okx_ws_timestamp(1538054050999) == "1538054050"


def test_okx_headers_and_login_args() -> None:
    headers = okx_rest_headers(OKX_CREDS, OKX_TS, "POST", "/api/v5/trade/order", OKX_BODY)
    assert headers == {
        "OK-ACCESS-KEY": "okx-api-key-0001",
        "OK-ACCESS-SIGN": "dI6rrL9rXW/HdaPKJ/6LC1OgvH4/PYju6R3CqixMTNQ=",
        "OK-ACCESS-TIMESTAMP": OKX_TS,
        "OK-ACCESS-PASSPHRASE": "my passphrase",
    }
    args = okx_ws_login_args(OKX_CREDS, "1538054050")
    assert args == {
        "apiKey": "okx-api-key-0001",
        "passphrase": "my passphrase",
        "timestamp": "1538054050",
        "sign": "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M=",
    }
    no_pass = Credentials("okx-api-key-0001", OKX_SECRET)
    with pytest.raises(ValueError, match="passphrase"):
        okx_rest_headers(no_pass, OKX_TS, "GET", "/x")
    with pytest.raises(ValueError, match="passphrase"):
        okx_ws_login_args(no_pass, "1")


def test_okx_verify_rest() -> None:
    path = "/api/v5/trade/order"
    sig = okx_sign_rest(OKX_SECRET, OKX_TS, "POST", path, OKX_BODY)
    assert okx_verify_rest(OKX_SECRET, OKX_TS, "POST", path, OKX_BODY.encode(), signature=sig)
    assert not okx_verify_rest("wrong", OKX_TS, "POST", path, OKX_BODY, signature=sig)
    spaced = json.dumps(json.loads(OKX_BODY))  # same object, different bytes
    assert not okx_verify_rest(OKX_SECRET, OKX_TS, "POST", path, spaced, signature=sig)
    tampered = OKX_BODY.replace('"2.15"', '"2.16"')
    assert not okx_verify_rest(OKX_SECRET, OKX_TS, "POST", path, tampered, signature=sig)
    later = "2020-12-08T09:08:57.716Z"
    assert not okx_verify_rest(OKX_SECRET, later, "POST", path, OKX_BODY, signature=sig)
    assert not okx_verify_rest(OKX_SECRET, OKX_TS, "PUT", path, OKX_BODY, signature=sig)
    assert not okx_verify_rest(OKX_SECRET, OKX_TS, "POST", path, OKX_BODY, signature="")
    assert not okx_verify_rest(OKX_SECRET, OKX_TS, "POST", path, OKX_BODY, signature=None)
    get_sig = okx_sign_rest(OKX_SECRET, OKX_TS, "GET", "/api/v5/trade/orders-pending?a=1&b=2")
    assert okx_verify_rest(
        OKX_SECRET, OKX_TS, "GET", "/api/v5/trade/orders-pending?a=1&b=2", b"", signature=get_sig
    )
    assert not okx_verify_rest(
        OKX_SECRET, OKX_TS, "GET", "/api/v5/trade/orders-pending?b=2&a=1", b"", signature=get_sig
    )


@pytest.mark.parametrize(
    ("offset_ms", "expected"),
    [
        (0, TimestampCheck.OK),
        (30_000, TimestampCheck.OK),
        (-30_000, TimestampCheck.OK),
        (30_001, TimestampCheck.AHEAD),
        (-30_001, TimestampCheck.EXPIRED),
    ],
)
def test_okx_rest_timestamp_window(offset_ms: int, expected: TimestampCheck) -> None:
    assert okx_check_timestamp(okx_timestamp(OKX_TS_MS + offset_ms), OKX_TS_MS) is expected


@pytest.mark.parametrize(
    "text",
    [
        "2020-12-08T09:08:57Z",
        "2020-12-08T09:08:57.7150Z",
        "2020-12-08T09:08:57.715",
        "2020-12-08T09:08:57.715+00:00",
        "2020-13-08T09:08:57.715Z",
        "1607418537715",
        "",
    ],
)
def test_okx_timestamp_invalid(text: str) -> None:
    assert okx_check_timestamp(text, OKX_TS_MS) is TimestampCheck.INVALID


def test_okx_ws_login_window() -> None:
    now_ms = 1538054050_000
    assert okx_check_ws_login_timestamp("1538054050", now_ms) is TimestampCheck.OK
    assert okx_check_ws_login_timestamp("1538054020", now_ms) is TimestampCheck.OK
    assert okx_check_ws_login_timestamp("1538054019", now_ms) is TimestampCheck.EXPIRED
    assert okx_check_ws_login_timestamp("1538054081", now_ms) is TimestampCheck.AHEAD
    assert okx_check_ws_login_timestamp("1538054050.5", now_ms) is TimestampCheck.OK
    assert okx_check_ws_login_timestamp("abc", now_ms) is TimestampCheck.INVALID


# ------------------------------------------------------------------------------------------
# Gate (official vectors from the APIv4 docs, docs/VENUES.md §3.5; oracle values for WS)

GATE_CREDS = Credentials("key", "secret")
GATE_TS = "1541993715"
GATE_BODY = '{"contract":"BTC_USD","type":"limit","size":100,"price":6800,"time_in_force":"gtc"}'
GATE_SPOT_BODY = (  # the spot order body of docs/VENUES.md §3.5
    '{"text":"t-abc123","currency_pair":"BTC_USDT","type":"limit","account":"spot",'
    '"side":"buy","amount":"0.001","price":"65000","time_in_force":"poc"}'
)
GATE_GET_SIG = (
    "55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c898289c9a2407a3d6"
    "fb3faf24deff16790d726b66ac9f74526668b13bd01029199cc4fcc522418b8a"
)
GATE_POST_SIG = (
    "eae42da914a590ddf727473aff25fc87d50b64783941061f47a3fdb92742541f"
    "c4c2c14017581b4199a1418d54471c269c03a38d788d802e2c306c37636389f0"
)
GATE_SPOT_SIG = (
    "84518193a38ea83ef90edfce0a88dddca33e65f2ab20e8168b71262113e8fd8c"
    "e7a2eb191e48e35c5a0c2b8ad64e458826cc837448cbb11143587c43f6014143"
)
GATE_CHANNEL_SIG = (
    "833a44bb4cd083e47bc1fec22b5c12e8b98c30fc7a9f4a1e52800dcfdff9a572"
    "40d7c10f1e9553dee020011fa5d02cdc7d1155a380cc4dcbd45f8fb525e41f4b"
)
# docs/VENUES.md §3.5 gives the first and last 8 hex digits; the full values were pinned once
GATE_LOGIN_SIG_EMPTY = (
    "3e133322aeffb544225b263d43fc10fc8e6b9b14126a09e4c945363d60afc591"
    "c441f08c3eff1770c1331171386501f6843560f889840e87ba1f3d99a80daffa"
)
GATE_LOGIN_SIG_BRACES = (
    "8ea8761d1202d53442f97f9652ad7326ff49325e6487b8d019d38ed04119fbbe"
    "5066731dd01cdc4061dba455f963b888cc5c93cf2868b7cbb28f851ceceafbad"
)


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "expected"),
    [
        (
            "GET",
            "/api/v4/futures/orders",
            "contract=BTC_USD&status=finished&limit=50",
            "",
            GATE_GET_SIG,
        ),
        ("POST", "/api/v4/futures/orders", "", GATE_BODY, GATE_POST_SIG),
        ("POST", "/api/v4/spot/orders", "", GATE_SPOT_BODY, GATE_SPOT_SIG),
    ],
)
@pytest.mark.parametrize("secret", [GATE_CREDS, "secret", b"secret"])
def test_gate_rest_vectors(
    *, method: str, path: str, query: str, body: str, expected: str, secret: object
) -> None:
    sig = gate_sign_rest(secret, method, path, query, body, timestamp=GATE_TS)  # type: ignore[arg-type]
    assert sig == expected
    # written out independently
    prehash = "\n".join([method, path, query, hashlib.sha512(body.encode()).hexdigest(), GATE_TS])
    assert hmac.new(b"secret", prehash.encode(), hashlib.sha512).hexdigest() == expected
    assert gate_rest_payload(method, path, query, body, timestamp=GATE_TS) == prehash.encode()


def test_gate_rest_headers() -> None:
    headers = gate_rest_headers(
        GATE_CREDS, "POST", "/api/v4/spot/orders", "", GATE_SPOT_BODY, timestamp=GATE_TS
    )
    assert headers == {"KEY": "key", "Timestamp": GATE_TS, "SIGN": GATE_SPOT_SIG}
    assert gate_timestamp(1541993715_999) == GATE_TS


def test_gate_verify_rest() -> None:
    path, query = "/api/v4/futures/orders", "contract=BTC_USD&status=finished&limit=50"

    def verify(secret: str = "secret", **kw: object) -> bool:
        args: dict[str, object] = {
            "method": "GET",
            "path": path,
            "query": query,
            "body": b"",
            "timestamp": GATE_TS,
            "signature": GATE_GET_SIG,
        }
        args.update(kw)
        return gate_verify_rest(secret, **args)  # type: ignore[arg-type]

    assert verify()
    assert not verify(secret="wrong")
    assert not verify(query="contract=BTC_USD&status=finished&limit=51")
    assert not verify(query="status=finished&contract=BTC_USD&limit=50")  # reordered
    assert not verify(query="contract=BTC%5FUSD&status=finished&limit=50")  # not decoded
    assert not verify(body=b"{}")
    assert not verify(timestamp="1541993715.0")  # the header text is signed
    assert not verify(signature=None)
    assert not verify(signature="")
    assert not verify(signature=GATE_GET_SIG.upper())
    # a fractional Timestamp header round-trips
    sig = gate_sign_rest("secret", "DELETE", path, query, "", timestamp="1700000000.123456")
    assert verify(method="DELETE", timestamp="1700000000.123456", signature=sig)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("1700000000", TimestampCheck.OK),
        (1700000060, TimestampCheck.OK),
        ("1699999940", TimestampCheck.OK),
        ("1700000060.001", TimestampCheck.AHEAD),
        ("1699999939.999", TimestampCheck.EXPIRED),
        ("1700000000.123456", TimestampCheck.OK),
        ("", TimestampCheck.INVALID),
        ("-5", TimestampCheck.INVALID),
        ("1e9", TimestampCheck.INVALID),
        (True, TimestampCheck.INVALID),
    ],
)
def test_gate_timestamp_window(timestamp: str | int, expected: TimestampCheck) -> None:
    assert gate_check_timestamp(timestamp, 1_700_000_000_000) is expected


def test_gate_ws_channel() -> None:
    sig = gate_sign_ws_channel(GATE_CREDS, "spot.orders", "subscribe", 1611541000)
    assert sig == GATE_CHANNEL_SIG
    assert gate_ws_auth(GATE_CREDS, "spot.orders", "subscribe", 1611541000) == {
        "method": "api_key",
        "KEY": "key",
        "SIGN": GATE_CHANNEL_SIG,
    }
    ok = gate_verify_ws_channel
    assert ok("secret", "spot.orders", "subscribe", 1611541000, signature=sig)
    assert not ok("wrong", "spot.orders", "subscribe", 1611541000, signature=sig)
    assert not ok("secret", "spot.orders", "unsubscribe", 1611541000, signature=sig)
    assert not ok("secret", "spot.balances", "subscribe", 1611541000, signature=sig)
    assert not ok("secret", "spot.orders", "subscribe", 1611541001, signature=sig)
    assert not ok("secret", "spot.orders", "subscribe", "1611541000", signature=sig)
    assert not ok("secret", "spot.orders", "subscribe", True, signature=sig)
    assert not ok("secret", None, "subscribe", 1611541000, signature=sig)
    assert not ok("secret", "spot.orders", "subscribe", 1611541000, signature=None)


def test_gate_ws_api_login() -> None:
    ts = "1681984544"
    assert gate_ws_api_payload("spot.login", "", ts) == b"api\nspot.login\n\n1681984544"
    empty = gate_sign_ws_api(GATE_CREDS, "spot.login", "", ts)
    braces = gate_sign_ws_api("secret", "spot.login", "{}", ts)
    assert empty == GATE_LOGIN_SIG_EMPTY
    assert braces == GATE_LOGIN_SIG_BRACES
    assert empty.startswith("3e133322aeffb544") and empty.endswith("a80daffa")
    assert braces.startswith("8ea8761d") and braces.endswith("afbad")
    # raw-text verification accepts both conventions (docs/VENUES.md §3.5)
    assert gate_verify_ws_api("secret", "spot.login", None, ts, signature=empty)
    assert gate_verify_ws_api("secret", "spot.login", "", ts, signature=empty)
    assert gate_verify_ws_api("secret", "spot.login", b"{}", ts, signature=braces)
    assert not gate_verify_ws_api("secret", "spot.login", "{}", ts, signature=empty)
    assert not gate_verify_ws_api("secret", "spot.login", "", ts, signature=braces)
    assert not gate_verify_ws_api("wrong", "spot.login", "", ts, signature=empty)
    assert not gate_verify_ws_api("secret", "spot.login", "", "1681984545", signature=empty)
    assert not gate_verify_ws_api("secret", "spot.login", "", 1681984544, signature=empty)
    assert not gate_verify_ws_api("secret", "spot.login", "", ts, signature=None)


def test_gate_ws_api_order_uses_raw_req_param() -> None:
    param = {"text": "t-1", "currency_pair": "BTC_USDT", "side": "buy", "amount": "0.001"}
    compact = json.dumps(param, separators=(",", ":"))
    spaced = json.dumps(param)
    sig = gate_sign_ws_api("secret", "spot.order_place", spaced, "1681986203")
    assert gate_verify_ws_api("secret", "spot.order_place", spaced, "1681986203", signature=sig)
    assert not gate_verify_ws_api(
        "secret", "spot.order_place", compact, "1681986203", signature=sig
    )
    assert not gate_verify_ws_api(
        "secret", "spot.order_cancel", spaced, "1681986203", signature=sig
    )


# ------------------------------------------------------------------------------------------
# Credentials


def test_credentials_never_show_secrets() -> None:
    creds = Credentials("abcdefgh-KEY1-WXYZ", "s3cr3t-value-xyz", "pass-phrase-123")
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", "%s" % (creds,)):  # noqa: UP031
        assert "s3cr3t" not in text
        assert "pass-phrase" not in text
        assert "abcdefgh" not in text
        assert "WXYZ" in text
    assert "s3cr3t" not in repr([creds, {"c": creds}])
    assert "passphrase=None" in repr(Credentials("k" * 10, "s"))
    assert "short" not in repr(Credentials("short", "s"))
    assert Credentials("abcdefgh-KEY1-WXYZ", "x").masked_key == "***WXYZ"


def test_credentials_immutable_and_not_pickled() -> None:
    creds = Credentials("key-0123456789", "secret-value")
    with pytest.raises(dataclasses.FrozenInstanceError):
        creds.api_secret = "x"  # type: ignore[misc]
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(creds)
    assert copy.copy(creds) is creds
    assert copy.deepcopy({"c": creds})["c"] is creds
    assert creds == Credentials("key-0123456789", "secret-value")
    assert creds != Credentials("key-0123456789", "secret-other")
    assert hash(creds) == hash(Credentials("key-0123456789", "secret-value"))


@pytest.mark.parametrize(
    ("args", "field"),
    [(("", "s"), "api_key"), (("k", ""), "api_secret"), (("k", "s", ""), "passphrase")],
)
def test_credentials_validation(args: tuple[str, ...], field: str) -> None:
    with pytest.raises(CredentialsError, match=field):
        Credentials(*args)


def test_from_env() -> None:
    env = {"BN_KEY": "key-from-env-1234", "BN_SECRET": "secret-from-env", "OKX_PASS": "pp-value"}
    creds = Credentials.from_env("BN_KEY", "BN_SECRET", environ=env)
    assert creds == Credentials("key-from-env-1234", "secret-from-env")
    with_pass = Credentials.from_env("BN_KEY", "BN_SECRET", "OKX_PASS", environ=env)
    assert with_pass.passphrase == "pp-value"


def test_from_env_missing_names_variable_not_values() -> None:
    env = {"BN_KEY": "key-from-env-1234", "BN_SECRET": "", "OKX_PASS": "pp-value"}
    with pytest.raises(CredentialsError) as info:
        Credentials.from_env("BN_KEY", "BN_SECRET", "MISSING_PASS", environ=env)
    message = str(info.value)
    assert "BN_SECRET" in message  # empty counts as missing
    assert "MISSING_PASS" in message
    assert "BN_KEY" not in message
    for value in env.values():
        if value:
            assert value not in message


def test_from_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HFT_TEST_SIGNING_KEY", "env-key-abcd")
    monkeypatch.setenv("HFT_TEST_SIGNING_SECRET", "env-secret")
    monkeypatch.delenv("HFT_TEST_SIGNING_PASS", raising=False)
    creds = Credentials.from_env("HFT_TEST_SIGNING_KEY", "HFT_TEST_SIGNING_SECRET")
    assert creds.api_key == "env-key-abcd"
    with pytest.raises(CredentialsError, match="HFT_TEST_SIGNING_PASS"):
        Credentials.from_env(
            "HFT_TEST_SIGNING_KEY", "HFT_TEST_SIGNING_SECRET", "HFT_TEST_SIGNING_PASS"
        )


# ------------------------------------------------------------------------------------------
# property tests: sign then verify, for every format

secrets_st = st.text(min_size=1, max_size=64)
names_st = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12
).filter(lambda k: k != "signature")
scalar_st = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=8),
)
pairs_st = st.lists(st.tuples(names_st, st.text(max_size=20)), max_size=8)
ts_st = st.integers(min_value=0, max_value=4_102_444_800_000)


@settings(max_examples=100)
@given(secret=secrets_st, pairs=pairs_st, cut=st.integers(0, 8), in_body=st.booleans())
def test_prop_binance_rest(
    secret: str, pairs: list[tuple[str, str]], cut: int, in_body: bool
) -> None:
    query, body = urlencode(pairs[:cut]), urlencode(pairs[cut:])
    sig = binance_sign_rest(Credentials("k", secret), query, body)
    assert sig == binance_sign_rest(secret, query, body)
    if in_body or not query:
        query_sent, body_sent = query, (f"{body}&" if body else "") + f"signature={sig}"
    else:
        query_sent, body_sent = f"{query}&signature={sig}", body
    assert binance_verify_rest(secret, query_sent, body_sent)
    assert not binance_verify_rest(secret + "x", query_sent, body_sent)


@settings(max_examples=50)
@given(pairs=pairs_st)
def test_prop_binance_rest_ed25519(pairs: list[tuple[str, str]]) -> None:
    query = urlencode(pairs)
    sig = binance_sign_rest(ED_KEY, query)
    sent = (f"{query}&" if query else "") + f"signature={quote(sig, safe='')}"
    assert binance_verify_rest(ED_PUB, sent, "")


@settings(max_examples=100)
@given(secret=secrets_st, params=st.dictionaries(names_st, scalar_st, max_size=8))
def test_prop_binance_ws(secret: str, params: dict[str, object]) -> None:
    hmac_sig = binance_sign_ws(secret, params)
    ed_sig = binance_sign_ws(ED_KEY, params)
    assert binance_verify_ws(Credentials("k", secret), {**params, "signature": hmac_sig})
    assert binance_verify_ws(ED_PUB, {**params, "signature": ed_sig})
    assert not binance_verify_ws(secret + "x", {**params, "signature": hmac_sig})


@settings(max_examples=100)
@given(
    secret=secrets_st,
    ts=ts_st,
    method=st.sampled_from(["GET", "POST", "DELETE", "get"]),
    pairs=pairs_st,
    payload=st.dictionaries(names_st, st.text(max_size=10), max_size=5),
)
def test_prop_okx(
    secret: str,
    ts: int,
    method: str,
    pairs: list[tuple[str, str]],
    payload: dict[str, str],
) -> None:
    timestamp = okx_timestamp(ts)
    assert okx_check_timestamp(timestamp, ts) is TimestampCheck.OK
    path = "/api/v5/trade/order" + (f"?{urlencode(pairs)}" if pairs else "")
    body = json.dumps(payload) if method == "POST" else ""
    sig = okx_sign_rest(Credentials("k", secret, "p"), timestamp, method, path, body)
    assert sig == _okx_reference(secret, timestamp + method.upper() + path + body)
    assert okx_verify_rest(secret, timestamp, method, path, body.encode(), signature=sig)
    assert not okx_verify_rest(secret + "x", timestamp, method, path, body, signature=sig)
    login_ts = okx_ws_timestamp(ts)
    login_sig = okx_sign_ws_login(secret, login_ts)
    assert okx_verify_ws_login(Credentials("k", secret), login_ts, signature=login_sig)
    assert okx_check_ws_login_timestamp(login_ts, ts) is TimestampCheck.OK


@settings(max_examples=100)
@given(
    secret=secrets_st,
    ts=ts_st,
    method=st.sampled_from(["GET", "POST", "PATCH", "DELETE"]),
    pairs=pairs_st,
    body=st.binary(max_size=64),
    channel=names_st,
    req_param=st.one_of(st.none(), st.text(max_size=40)),
)
def test_prop_gate(
    *,
    secret: str,
    ts: int,
    method: str,
    pairs: list[tuple[str, str]],
    body: bytes,
    channel: str,
    req_param: str | None,
) -> None:
    creds = Credentials("k", secret)
    timestamp = gate_timestamp(ts)
    assert gate_check_timestamp(timestamp, ts) is TimestampCheck.OK
    query = urlencode(pairs)
    sig = gate_sign_rest(creds, method, "/api/v4/spot/orders", query, body, timestamp=timestamp)
    assert gate_verify_rest(
        secret, method, "/api/v4/spot/orders", query, body, timestamp=timestamp, signature=sig
    )
    assert not gate_verify_rest(
        secret, method, "/api/v4/spot/order", query, body, timestamp=timestamp, signature=sig
    )
    time_s = ts // 1000
    auth = gate_ws_auth(creds, channel, "subscribe", time_s)
    assert gate_verify_ws_channel(secret, channel, "subscribe", time_s, signature=auth["SIGN"])
    api_sig = gate_sign_ws_api(creds, channel, req_param, timestamp)
    assert gate_verify_ws_api(secret, channel, req_param, timestamp, signature=api_sig)
    assert not gate_verify_ws_api(secret + "x", channel, req_param, timestamp, signature=api_sig)
