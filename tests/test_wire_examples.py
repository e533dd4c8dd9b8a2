"""The wire payload builders and signers against each venue's own published worked examples.

The adapters sign and the simulator verifies with the same builders in `engine.wire`, so a
canonicalisation bug there would make both sides agree and pass every round-trip test. These
tests are the independent check: every expected value below comes from the venue's
documentation or official SDK (source URL next to it), never from our code. Where a venue
publishes the rule but no signature for a known secret, the expected payload is written out
literally from the rule and signed here with the standard library, and the comment says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import quote

from engine.wire.binance_signing import (
    binance_rest_payload,
    binance_sign_rest,
    binance_sign_ws,
    binance_split_signature,
    binance_verify_rest,
    binance_verify_ws,
    binance_ws_payload,
    load_ed25519_private_key,
)
from engine.wire.credentials import Credentials
from engine.wire.gate_signing import (
    gate_rest_headers,
    gate_rest_payload,
    gate_sign_rest,
    gate_sign_ws_api,
    gate_sign_ws_channel,
    gate_verify_rest,
    gate_verify_ws_api,
    gate_verify_ws_channel,
    gate_ws_api_payload,
    gate_ws_channel_payload,
)
from engine.wire.okx_signing import (
    okx_rest_payload,
    okx_sign_rest,
    okx_sign_ws_login,
    okx_timestamp,
    okx_verify_rest,
    okx_verify_ws_login,
    okx_ws_login_payload,
)


def _hmac_hex(secret: str, digest: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, digest).hexdigest()


def _hmac_b64(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, "sha256").digest()).decode()


# ==========================================================================================
# Binance spot
#
# REST HMAC examples: https://github.com/binance/binance-spot-api-docs/blob/master/rest-api.md
#   #signed-endpoint-examples-for-post-apiv3order (also developers.binance.com/docs/
#   binance-spot-api-docs/rest-api/request-security). Example key pair from that page.

BN_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
BN_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

BN_LTCBTC = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
BN_LTCBTC_SIG = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
# the same order with the symbol １２３４５６, percent-encoded before signing as documented
BN_NON_ASCII = (
    "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT"
    "&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
BN_NON_ASCII_SIG = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"

# "Example 3: Mixed query string and request body": the query and the body are joined with
# NO '&' between them. Published until the docs were reworded on 2025-12-17:
# https://github.com/binance/binance-spot-api-docs/blob/6ad97145cfa9d48977e9c8b6f6ec8ad9d7eb8e86/rest-api.md
BN_MIXED_QUERY = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
BN_MIXED_BODY = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
BN_MIXED_SIG = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"


def test_binance_rest_hmac_examples() -> None:
    for query, expected in ((BN_LTCBTC, BN_LTCBTC_SIG), (BN_NON_ASCII, BN_NON_ASCII_SIG)):
        assert binance_rest_payload(query) == query
        assert binance_sign_rest(BN_SECRET, query) == expected
        assert binance_sign_rest(Credentials(BN_KEY, BN_SECRET), query) == expected
        # as the docs' curl sends it: the signature appended to the query string
        assert binance_verify_rest(BN_SECRET, f"{query}&signature={expected}", "")
        # the docs: HMAC signatures are not case-sensitive
        assert binance_verify_rest(BN_SECRET, f"{query}&signature={expected.upper()}", "")


def test_binance_rest_mixed_query_and_body_example() -> None:
    payload = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=0.1" + (
        "&recvWindow=5000&timestamp=1499827319559"
    )
    assert binance_rest_payload(BN_MIXED_QUERY, BN_MIXED_BODY) == payload
    assert binance_sign_rest(BN_SECRET, BN_MIXED_QUERY, BN_MIXED_BODY) == BN_MIXED_SIG
    # the docs' curl: query in the URL, body with the signature pair appended
    body = f"{BN_MIXED_BODY}&signature={BN_MIXED_SIG}"
    assert binance_verify_rest(BN_SECRET, BN_MIXED_QUERY, body)
    # the same pairs joined with '&' are a different payload, refused
    assert not binance_verify_rest(BN_SECRET, f"{BN_MIXED_QUERY}&{body}", "")


# Asymmetric REST examples, same page (#rsa-keys, #ed25519-keys). Binance does not publish
# those private keys, so their signatures cannot be recomputed. What the page does pin is
# the wire form: the base64 signature percent-encoded in the query, and the payload that is
# signed (everything but the signature pair). The Ed25519 "signature" printed there is not
# one (343 base64 characters, RSA-sized; an Ed25519 signature is 88), so the RSA pair is used.
BN_ASYM_PAYLOAD = (
    "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=0.2"
    "&timestamp=1668481559918&recvWindow=5000"
)
BN_RSA_SIG = (
    "HZ8HOjiJ1s/igS9JA+n7+7Ti/ihtkRF5BIWcPIEluJP6tlbFM/Bf44LfZka/iemtahZAZzcO9TnI5uaXh3++lrqt"
    "NonCwp6/245UFWkiW1elpgtVAmJPbogcAv6rSlokztAfWk296ZJXzRDYAtzGH0gq7CgSJKfH+XxaCmR0WcvlKjNQ"
    "np12/eKXJYO4tDap8UCBLuyxDnR7oJKLHQHJLP0r0EAVOOSIbrFang/1WOq+Jaq4Efc4XpnTgnwlBbWTmhWDR1pv"
    "S9iVEzcSYLHT/fNnMRxFc7u+j3qI//5yuGuu14KR0MuQKKCSpViieD+fIti46sxPTsjSemoUKp0oXA=="
)
BN_RSA_SIG_ENCODED = (
    "HZ8HOjiJ1s%2FigS9JA%2Bn7%2B7Ti%2FihtkRF5BIWcPIEluJP6tlbFM%2FBf44LfZka%2FiemtahZAZzcO9TnI5"
    "uaXh3%2B%2BlrqtNonCwp6%2F245UFWkiW1elpgtVAmJPbogcAv6rSlokztAfWk296ZJXzRDYAtzGH0gq7CgSJKf"
    "H%2BXxaCmR0WcvlKjNQnp12%2FeKXJYO4tDap8UCBLuyxDnR7oJKLHQHJLP0r0EAVOOSIbrFang%2F1WOq%2BJaq"
    "4Efc4XpnTgnwlBbWTmhWDR1pvS9iVEzcSYLHT%2FfNnMRxFc7u%2Bj3qI%2F%2F5yuGuu14KR0MuQKKCSpViieD%"
    "2BfIti46sxPTsjSemoUKp0oXA%3D%3D"
)


def test_binance_asymmetric_signature_wire_form() -> None:
    query = f"{BN_ASYM_PAYLOAD}&signature={BN_RSA_SIG_ENCODED}"
    assert binance_split_signature(query, "") == (BN_ASYM_PAYLOAD, BN_RSA_SIG)
    # and our own encoding of a base64 signature is the one the docs show
    assert quote(BN_RSA_SIG, safe="") == BN_RSA_SIG_ENCODED


# The one Ed25519 private key Binance publishes together with a signature made by it is the
# FIX API Logon example: https://github.com/binance/binance-spot-api-docs/blob/master/fix-api.md
#   #how-to-sign-logon-a-request. Its payload is FIX's (SOH-joined fields), not a REST query,
# so this pins PEM loading and the base64 Ed25519 signature and its verification, not the
# REST payload builder (which for Ed25519 is the HMAC one, checked above).
BN_FIX_PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIIJEYWtGBrhACmb9Dvy+qa8WEf0lQOl1s4CLIAB9m89u\n"
    "-----END PRIVATE KEY-----\n"
)
BN_FIX_PAYLOAD = "A\x01EXAMPLE\x01SPOT\x011\x0120240627-11:17:25.223"
BN_FIX_SIG = (
    "4MHXelVVcpkdwuLbl6n73HQUXUf1dse2PCgT1DYqW9w8AVZ1RACFGM+5UdlGPrQHrgtS3CvsRURC1oj73j8gCA=="
)


def test_binance_ed25519_published_key_and_signature() -> None:
    key = load_ed25519_private_key(BN_FIX_PEM)
    assert binance_sign_rest(key, BN_FIX_PAYLOAD) == BN_FIX_SIG
    public = key.public_key()
    signed = f"{BN_FIX_PAYLOAD}&signature={quote(BN_FIX_SIG, safe='')}"
    assert binance_verify_rest(public, signed, "")
    # Ed25519 signatures are case-sensitive (the docs), unlike HMAC hex
    swapped = f"{BN_FIX_PAYLOAD}&signature={quote(BN_FIX_SIG.swapcase(), safe='')}"
    assert not binance_verify_rest(public, swapped, "")


# WS API HMAC examples: https://github.com/binance/binance-spot-api-docs/blob/master/
#   web-socket-api.md#signed-request-example-hmac (also developers.binance.com/docs/
#   binance-spot-api-docs/websocket-api/request-security). The request texts are the docs'
#   "step 3" requests, with the signature filled in.
BN_WS_REQUEST = """{
    "id": "4885f793-e5ad-4c3b-8f6c-55d891472b71",
    "method": "order.place",
    "params": {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
        "recvWindow": 100,
        "timestamp": 1645423376532,
        "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
        "signature": "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    }
}"""
BN_WS_PAYLOAD = (
    "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&price=52000.00"
    "&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC"
    "&timestamp=1645423376532&type=LIMIT"
)
BN_WS_REQUEST_NON_ASCII = """{
    "id": "4885f793-e5ad-4c3b-8f6c-55d891472b71",
    "method": "order.place",
    "params": {
        "symbol": "１２３４５６",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "1.00000000",
        "price": "0.10000000",
        "recvWindow": 5000,
        "timestamp": 1645423376532,
        "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
        "signature": "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"
    }
}"""
# values raw UTF-8, not percent-encoded (unlike REST)
BN_WS_PAYLOAD_NON_ASCII = (
    "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&price=0.10000000"
    "&quantity=1.00000000&recvWindow=5000&side=BUY&symbol=１２３４５６&timeInForce=GTC"
    "&timestamp=1645423376532&type=LIMIT"
)


def test_binance_ws_api_hmac_examples() -> None:
    for text, payload in (
        (BN_WS_REQUEST, BN_WS_PAYLOAD),
        (BN_WS_REQUEST_NON_ASCII, BN_WS_PAYLOAD_NON_ASCII),
    ):
        # parsed as the simulator parses a frame: plain decimals keep their wire text
        params = json.loads(text, parse_float=Decimal)["params"]
        published = params["signature"]
        assert binance_ws_payload(params) == payload
        assert binance_sign_ws(BN_SECRET, params) == published
        assert binance_verify_ws(BN_SECRET, params)
        assert not binance_verify_ws(BN_SECRET, {**params, "recvWindow": 101})


# WS API Ed25519 example, same page (#signed-request-example-ed25519): the private key is not
# published, so only the payload it signs is checked (the ASCII one; the page's non-ASCII
# table and payload disagree with each other).
def test_binance_ws_api_ed25519_example_payload() -> None:
    params: dict[str, object] = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
        "recvWindow": 100,
        "timestamp": 1645423376532,
        "apiKey": "4yNzx3yWC5bS6YTwEkSRaC0nRmSQIIStAUOh1b6kqaBrTLIhjCpI5lJH8q8R8WNO",
    }
    assert binance_ws_payload(params) == (
        "apiKey=4yNzx3yWC5bS6YTwEkSRaC0nRmSQIIStAUOh1b6kqaBrTLIhjCpI5lJH8q8R8WNO&price=52000.00"
        "&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC"
        "&timestamp=1645423376532&type=LIMIT"
    )


# ==========================================================================================
# OKX
#
# OKX's official SDK publishes one worked example with its signature, in the V3 SDK (the v5
# REST rule is the same: base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + body))):
# https://github.com/okex/V3-Open-API-SDK/blob/master/okex-go-sdk-api/utils.go
# (and okex-java-sdk-api/.../utils/HmacSHA256Base64Utils.java)
OKX_SDK_SECRET = "E65791902180E9EF4510DB6A77F6EBAE"
OKX_SDK_BODY = '{"product_id":"BTC-USD-0309","order_id":"377454671037440"}'
OKX_SDK_PREHASH = (
    '2018-03-08T10:59:25.789ZPOST/orders?before=2&limit=30{"product_id":"BTC-USD-0309",'
    '"order_id":"377454671037440"}'
)
OKX_SDK_SIG = "TO6uwdqz+31SIPkd4I+9NiZGmVH74dXi+Fd5X0EzzSQ="


def test_okx_rest_sdk_worked_example() -> None:
    ts, path = "2018-03-08T10:59:25.789Z", "/orders?before=2&limit=30"
    assert okx_rest_payload(ts, "POST", path, OKX_SDK_BODY) == OKX_SDK_PREHASH.encode()
    assert okx_rest_payload(ts, "post", path, OKX_SDK_BODY) == OKX_SDK_PREHASH.encode()
    assert okx_sign_rest(OKX_SDK_SECRET, ts, "POST", path, OKX_SDK_BODY) == OKX_SDK_SIG
    assert okx_verify_rest(
        OKX_SDK_SECRET, ts, "POST", path, OKX_SDK_BODY.encode(), signature=OKX_SDK_SIG
    )
    # a body re-serialised with spaces is a different payload: the raw bytes are what count
    spaced = json.dumps(json.loads(OKX_SDK_BODY))
    assert not okx_verify_rest(OKX_SDK_SECRET, ts, "POST", path, spaced, signature=OKX_SDK_SIG)


# The v5 docs (https://www.okx.com/docs-v5/en/#overview-rest-authentication-signature) give
# the rule and example parts (timestamp 2020-12-08T09:08:57.715Z, GET
# /api/v5/account/balance?ccy=BTC, body {"instId":"BTC-USDT","lever":"5","mgnMode":"isolated"},
# SecretKey 22582BD0CFF14C41EDBF1AB98506286D) but no resulting signature. Built from the rule:
# the pre-hash strings are written out literally and signed with the standard library.
OKX_DOC_SECRET = "22582BD0CFF14C41EDBF1AB98506286D"
OKX_DOC_TS = "2020-12-08T09:08:57.715Z"


def test_okx_rest_v5_doc_rule() -> None:
    get_prehash = b"2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC"
    assert okx_rest_payload(OKX_DOC_TS, "GET", "/api/v5/account/balance?ccy=BTC") == get_prehash
    assert okx_sign_rest(
        OKX_DOC_SECRET, OKX_DOC_TS, "GET", "/api/v5/account/balance?ccy=BTC"
    ) == _hmac_b64(OKX_DOC_SECRET, get_prehash)

    body = '{"instId":"BTC-USDT","lever":"5","mgnMode":"isolated"}'
    post_prehash = (
        b"2020-12-08T09:08:57.715ZPOST/api/v5/account/set-leverage"
        b'{"instId":"BTC-USDT","lever":"5","mgnMode":"isolated"}'
    )
    path = "/api/v5/account/set-leverage"
    assert okx_rest_payload(OKX_DOC_TS, "POST", path, body) == post_prehash
    signature = _hmac_b64(OKX_DOC_SECRET, post_prehash)
    assert okx_sign_rest(OKX_DOC_SECRET, OKX_DOC_TS, "POST", path, body) == signature
    assert okx_verify_rest(OKX_DOC_SECRET, OKX_DOC_TS, "POST", path, body, signature=signature)


def test_okx_timestamp_doc_format() -> None:
    # OK-ACCESS-TIMESTAMP as in the docs' example: ISO-8601 UTC, milliseconds, 'Z'
    moment = datetime(2020, 12, 8, 9, 8, 57, 715000, tzinfo=UTC)
    assert okx_timestamp(int(moment.timestamp() * 1000)) == OKX_DOC_TS


# WS login (https://www.okx.com/docs-v5/en/#overview-websocket-login): sign =
# base64(HMAC-SHA256(secret, timestamp + 'GET' + '/users/self/verify')), timestamp in Unix
# seconds; the docs' login example uses timestamp "1538054050" but its secret is not given.
# Built from the rule, with the REST docs' example SecretKey.
def test_okx_ws_login_doc_rule() -> None:
    prehash = b"1538054050GET/users/self/verify"
    assert okx_ws_login_payload("1538054050") == prehash
    signature = _hmac_b64(OKX_DOC_SECRET, prehash)
    assert okx_sign_ws_login(OKX_DOC_SECRET, "1538054050") == signature
    assert okx_verify_ws_login(OKX_DOC_SECRET, "1538054050", signature=signature)
    assert not okx_verify_ws_login(OKX_DOC_SECRET, "1538054051", signature=signature)


# ==========================================================================================
# Gate APIv4
#
# REST examples, key "key", secret "secret":
# https://www.gate.com/docs/developers/apiv4/en/#api-signature-string-generation
GATE_SECRET = "secret"
GATE_TS = "1541993715"
GATE_EMPTY_SHA512 = (
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
)
GATE_ORDER_BODY = (
    '{"contract":"BTC_USD","type":"limit","size":100,"price":6800,"time_in_force":"gtc"}'
)
GATE_ORDER_BODY_SHA512 = (
    "ad3c169203dc3026558f01b4df307641fa1fa361f086b2306658886d5708767b"
    "1854797c68d9e62fef2f991645aa82673622ebf417e091d0bd22bafe5d956cca"
)
GATE_LIST_SIG = (
    "55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c898289c9a2407a3d6"
    "fb3faf24deff16790d726b66ac9f74526668b13bd01029199cc4fcc522418b8a"
)
GATE_ORDER_SIG = (
    "eae42da914a590ddf727473aff25fc87d50b64783941061f47a3fdb92742541f"
    "c4c2c14017581b4199a1418d54471c269c03a38d788d802e2c306c37636389f0"
)


def test_gate_rest_list_orders_example() -> None:
    path, query = "/api/v4/futures/orders", "contract=BTC_USD&status=finished&limit=50"
    signature_string = (
        f"GET\n/api/v4/futures/orders\ncontract=BTC_USD&status=finished&limit=50\n"
        f"{GATE_EMPTY_SHA512}\n1541993715"
    )
    assert gate_rest_payload("GET", path, query, "", timestamp=GATE_TS) == (
        signature_string.encode()
    )
    assert gate_sign_rest(GATE_SECRET, "GET", path, query, "", timestamp=GATE_TS) == GATE_LIST_SIG
    assert gate_verify_rest(
        GATE_SECRET, "GET", path, query, b"", timestamp=GATE_TS, signature=GATE_LIST_SIG
    )
    # the query is signed as it is in the URL: reordered, it no longer verifies
    reordered = "status=finished&contract=BTC_USD&limit=50"
    assert not gate_verify_rest(
        GATE_SECRET, "GET", path, reordered, b"", timestamp=GATE_TS, signature=GATE_LIST_SIG
    )


def test_gate_rest_create_order_example() -> None:
    path = "/api/v4/futures/orders"
    assert hashlib.sha512(GATE_ORDER_BODY.encode()).hexdigest() == GATE_ORDER_BODY_SHA512
    signature_string = f"POST\n/api/v4/futures/orders\n\n{GATE_ORDER_BODY_SHA512}\n1541993715"
    assert gate_rest_payload("POST", path, "", GATE_ORDER_BODY, timestamp=GATE_TS) == (
        signature_string.encode()
    )
    creds = Credentials("key", GATE_SECRET)
    headers = gate_rest_headers(creds, "POST", path, "", GATE_ORDER_BODY, timestamp=GATE_TS)
    assert headers == {"KEY": "key", "Timestamp": GATE_TS, "SIGN": GATE_ORDER_SIG}
    assert gate_verify_rest(
        GATE_SECRET,
        "POST",
        path,
        "",
        GATE_ORDER_BODY.encode(),
        timestamp=GATE_TS,
        signature=GATE_ORDER_SIG,
    )


# WS channel auth (https://www.gate.com/docs/developers/apiv4/ws/en/#authentication): SIGN =
# hex(HMAC-SHA512(secret, "channel=<channel>&event=<event>&time=<time>")); the docs publish no
# signature for a known secret. Built from the rule, with the REST examples' secret.
def test_gate_ws_channel_auth_doc_rule() -> None:
    message = b"channel=spot.orders&event=subscribe&time=1611541000"
    assert gate_ws_channel_payload("spot.orders", "subscribe", 1611541000) == message
    signature = _hmac_hex(GATE_SECRET, "sha512", message)
    assert gate_sign_ws_channel(GATE_SECRET, "spot.orders", "subscribe", 1611541000) == signature
    assert gate_verify_ws_channel(
        GATE_SECRET, "spot.orders", "subscribe", 1611541000, signature=signature
    )


# WS trading API (https://www.gate.com/docs/developers/apiv4/ws/en/#websocket-api-client-api-request):
# signature = hex(HMAC-SHA512(secret, "api\n<channel>\n<req_param>\n<timestamp>")), req_param
# "" for spot.login. The docs' login example (time 1681984544) shows a signature, but for a key
# whose secret is not published. Built from the rule.
def test_gate_ws_api_doc_rule() -> None:
    login = b"api\nspot.login\n\n1681984544"
    assert gate_ws_api_payload("spot.login", None, "1681984544") == login
    assert gate_ws_api_payload("spot.login", "", "1681984544") == login
    signature = _hmac_hex(GATE_SECRET, "sha512", login)
    assert gate_sign_ws_api(GATE_SECRET, "spot.login", None, "1681984544") == signature
    assert gate_verify_ws_api(GATE_SECRET, "spot.login", None, "1681984544", signature=signature)

    # an order: req_param is signed as the raw JSON text on the wire
    req_param = '{"text":"t-123456","currency_pair":"GT_USDT","type":"limit","account":"spot",'
    req_param += '"side":"buy","amount":"1","price":"1"}'
    message = b"api\nspot.order_place\n" + req_param.encode() + b"\n1681984544"
    assert gate_ws_api_payload("spot.order_place", req_param, "1681984544") == message
    assert gate_sign_ws_api(GATE_SECRET, "spot.order_place", req_param, "1681984544") == _hmac_hex(
        GATE_SECRET, "sha512", message
    )
