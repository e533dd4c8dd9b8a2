"""Ed25519 API keys on the simulated Binance: REST and WS API requests signed with an
Ed25519 private key (base64 signature over the same payload as HMAC), over real loopback."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from engine.sim.server import RunningSim, start_sim
from engine.sim.venues.binance import venue_state
from engine.wire.binance_signing import binance_sign_rest, binance_sign_ws

ED_KEY = "ed25519-test-api-key"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
async def sim(private_key):
    async with start_sim("binance", seed=1, market=False) as running:
        venue_state(running.exchange).register_ed25519_key(ED_KEY, public_pem(private_key))
        yield running


async def signed(
    sim: RunningSim,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    key: Ed25519PrivateKey,
    *,
    tamper: tuple[str, str] | None = None,
    **params: Any,
) -> tuple[int, Any]:
    params["timestamp"] = now_ms()
    text = urlencode(params)
    sig = binance_sign_rest(key, text)
    if tamper is not None:
        text = text.replace(*tamper)
    url = f"{sim.urls.rest}{path}?{text}&signature={quote(sig, safe='')}"
    async with http.request(method, url, headers={"X-MBX-APIKEY": ED_KEY}) as resp:
        return resp.status, await resp.json()


ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.001",
    "price": "60000",
}


async def test_rest_ed25519_accepted_and_rejected(sim, private_key):
    other = Ed25519PrivateKey.generate()
    async with aiohttp.ClientSession() as http:
        status, body = await signed(sim, http, "GET", "/api/v3/account", private_key)
        assert status == 200, body
        assert {b["asset"] for b in body["balances"]} >= {"USDT"}

        status, body = await signed(sim, http, "POST", "/api/v3/order", private_key, **ORDER)
        assert status == 200, body
        assert body["status"] == "NEW" and body["price"] == "60000.00000000"

        status, body = await signed(sim, http, "GET", "/api/v3/account", other)
        assert (status, body["code"]) == (400, -1022)

        status, body = await signed(
            sim, http, "POST", "/api/v3/order", private_key, tamper=("0.001", "0.002"), **ORDER
        )
        assert (status, body["code"]) == (400, -1022)
    # the HMAC key of the same sim keeps working alongside
    assert sim.exchange.account_for_key(sim.api_key) is not None


def test_register_rejects_non_ed25519_and_unknown_account(private_key):
    async def run() -> None:
        async with start_sim("binance", market=False) as running:
            state = venue_state(running.exchange)
            with pytest.raises(ValueError):
                state.register_ed25519_key("", public_pem(private_key))
            with pytest.raises(KeyError):
                state.register_ed25519_key("k", public_pem(private_key), account="nobody")
            state.register_ed25519_key("k", private_key.public_key())

    asyncio.run(run())


async def test_ws_api_order_place_ed25519(sim, private_key):
    params: dict[str, Any] = {**ORDER, "apiKey": ED_KEY, "timestamp": now_ms()}
    params["signature"] = binance_sign_ws(private_key, params)
    bad = dict(params, price="60001")
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.urls.ws_api) as ws:
        await ws.send_str(json.dumps({"id": "1", "method": "order.place", "params": params}))
        reply = json.loads((await ws.receive()).data)
        assert reply["status"] == 200, reply
        assert reply["result"]["status"] == "NEW"
        await ws.send_str(json.dumps({"id": "2", "method": "order.place", "params": bad}))
        reply = json.loads((await ws.receive()).data)
        assert reply["status"] == 400 and reply["error"]["code"] == -1022


def _connector_session(sim: RunningSim, pem: str) -> dict[str, Any]:
    from binance.spot import Spot

    client = Spot(api_key=ED_KEY, private_key=pem, base_url=sim.urls.rest)
    return {
        "account": client.account(),
        "order": client.new_order(
            "BTCUSDT", "BUY", "LIMIT", timeInForce="GTC", quantity="0.001", price="60000"
        ),
    }


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_binance_connector_with_ed25519_key(sim, private_key):
    pem = private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    out = await asyncio.to_thread(_connector_session, sim, pem)
    assert "balances" in out["account"]
    assert out["order"]["status"] == "NEW"
