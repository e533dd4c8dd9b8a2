"""The simulator's own throughput: public messages generated and sent per second.

Ours: the simulated OKX in its own process (market stepped every 1 ms, its fastest: uvloop's
timers tick in milliseconds; two instruments), a client
on books-l2-tbt + bbo-tbt + trades; one operation is one public message received over
loopback, so the median is the time between messages at full speed (1 / rate).
Baseline: a bare aiohttp server sending one prebuilt frame in a loop in its own process
(bench/naive_ws_server.py) — the transport floor, so the ratio says how much of the
transport's capacity the simulator's market, matching and formatting leave.
"""

from __future__ import annotations

import asyncio
import atexit
import re
import subprocess
import sys
from collections.abc import Callable

import aiohttp
import orjson

from bench.runner import Pair, case

SUBSCRIBE = orjson.dumps(
    {
        "op": "subscribe",
        "args": [
            {"channel": channel, "instId": inst}
            for channel in ("books-l2-tbt", "bbo-tbt", "trades")
            for inst in ("BTC-USDT", "ETH-USDT")
        ],
    }
).decode()


def _spawn(args: list[str]) -> str:
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    atexit.register(proc.kill)
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{args} exited before printing its URL")
        match = re.search(r"ws public\s+(\S+)", line)
        if match:
            return match.group(1)


def _receiver(url: str, loop: asyncio.AbstractEventLoop) -> Callable[[int], None]:
    async def connect() -> aiohttp.ClientWebSocketResponse:
        session = aiohttp.ClientSession()
        ws = await session.ws_connect(url, max_msg_size=0)
        await ws.send_str(SUBSCRIBE)
        return ws

    ws = loop.run_until_complete(connect())

    async def receive(n: int) -> None:
        for _ in range(n):
            await ws.receive()

    return lambda n: loop.run_until_complete(receive(n))


ABOUT = "a public message from the simulated OKX over loopback; baseline: aiohttp floor"


@case("sim.public_message", about=ABOUT)  # --list does not start the two servers
def public_message() -> Pair:
    loop = asyncio.new_event_loop()
    sim = ["-m", "engine.sim", "--venue", "okx", "--seed", "3", "--market-interval-ms", "1"]
    ours = _receiver(_spawn(sim), loop)
    floor = _receiver(_spawn(["-m", "bench.naive_ws_server"]), loop)
    return Pair(
        ours,
        floor,
        batch=500,
        about=ABOUT,
    )
