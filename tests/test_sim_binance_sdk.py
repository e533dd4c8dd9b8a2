"""python-binance (the community-maintained client most bots use) against the simulator, with
only its base URLs changed: REST, WS API order entry and market streams."""

from __future__ import annotations

import asyncio

import pytest

from engine.sim.server import start_sim

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_python_binance_rest_ws_api_and_streams():
    from binance.async_client import AsyncClient
    from binance.exceptions import BinanceAPIException
    from binance.ws.streams import BinanceSocketManager
    from binance.ws.websocket_api import WebsocketAPI

    async with start_sim("binance", seed=2) as sim:
        client = AsyncClient(sim.api_key, sim.api_secret)
        client.API_URL = sim.urls.rest + "/api"
        client.ws_api = WebsocketAPI(url=sim.urls.ws_api, tld="com")
        # the SDK's read loop only notices a close after its recv timeout (10 s) on an idle
        # connection; a client-side knob, shortened to keep the test fast
        client.ws_api.TIMEOUT = 0.5
        try:
            assert "serverTime" in await client.get_server_time()
            book = await client.get_order_book(symbol="BTCUSDT", limit=5)
            assert len(book["bids"]) == 5 and book["lastUpdateId"] > 0
            order = await client.create_order(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.001",
                price="60000",
            )
            assert order["status"] == "NEW" and order["clientOrderId"].startswith("x-")
            opened = await client.get_open_orders(symbol="BTCUSDT")
            assert [o["orderId"] for o in opened] == [order["orderId"]]
            canceled = await client.cancel_order(symbol="BTCUSDT", orderId=order["orderId"])
            assert canceled["status"] == "CANCELED"
            balances = {b["asset"] for b in (await client.get_account())["balances"]}
            assert balances == {"BTC", "ETH", "USDT"}
            with pytest.raises(BinanceAPIException) as info:
                await client.get_order(symbol="BTCUSDT", orderId=987654321)
            assert info.value.code == -2013

            # order entry over the WS API, signed by the SDK
            placed = await client.ws_create_order(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.001",
                price="60000",
            )
            assert placed["status"] == "NEW"
            status = await client.ws_get_order(symbol="BTCUSDT", orderId=placed["orderId"])
            assert status["orderId"] == placed["orderId"]
            gone = await client.ws_cancel_order(symbol="BTCUSDT", orderId=placed["orderId"])
            assert gone["status"] == "CANCELED"

            manager = BinanceSocketManager(client)
            manager.STREAM_URL = sim.urls.ws_public + "/"
            async with manager.depth_socket("BTCUSDT", interval=100) as stream:
                diff = await asyncio.wait_for(stream.recv(), 3)
            assert diff["e"] == "depthUpdate" and diff["U"] <= diff["u"]
            async with manager.multiplex_socket(["btcusdt@trade"]) as stream:
                msg = await asyncio.wait_for(stream.recv(), 3)
            assert msg["stream"] == "btcusdt@trade" and msg["data"]["e"] == "trade"
        finally:
            await client.close_connection()
