"""Baseline for the simulator benchmark: a bare aiohttp WebSocket server that sends one
prebuilt OKX-shaped frame in a loop. No market, no matching, no formatting: the transport
floor any simulator on aiohttp sits above. Prints its URL, then serves until killed."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

FRAME = orjson.dumps(
    {
        "arg": {"channel": "bbo-tbt", "instId": "BTC-USDT"},
        "data": [
            {
                "asks": [["65000.1", "0.5", "0", "1"]],
                "bids": [["65000", "0.4", "0", "1"]],
                "ts": "1700000000000",
                "seqId": 1,
            }
        ],
    }
).decode()


async def stream(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.receive()  # the subscribe request
    while not ws.closed:
        await ws.send_str(FRAME)
    return ws


async def main() -> None:
    app = web.Application()
    app.router.add_get("/ws", stream)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"ws public  ws://127.0.0.1:{runner.addresses[0][1]}/ws", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
