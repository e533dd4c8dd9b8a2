"""The naive pipeline's connections to the simulated Binance (bench/naive_pipeline.py), with
aiohttp: its own WS API session, on its own account, and, for the loopback case, the market
stream of the symbol it quotes.

Requests go out with `send_str` in the order the pipeline returned them; a reader task takes
every answer (`orjson.loads`) and counts it, and keeps the first error, so that a request the
venue refuses fails the benchmark instead of passing unnoticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import aiohttp
import orjson

SETTLE_S = 5.0


class NaiveClient:
    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.sent = 0
        self.answered = 0
        self.frames = 0  # market-stream frames received
        self.error: str | None = None
        self._http: aiohttp.ClientSession | None = None
        self._api: aiohttp.ClientWebSocketResponse | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        self._api = await self._http.ws_connect(self.api_url, max_msg_size=0)
        self._tasks.append(asyncio.create_task(self._read_answers(self._api)))

    async def get_json(self, url: str) -> object:
        assert self._http is not None
        async with self._http.get(url) as resp:
            return orjson.loads(await resp.read())

    async def send(self, texts: list[str]) -> None:
        api = self._api
        assert api is not None
        for text in texts:
            await api.send_str(text)
        self.sent += len(texts)

    async def stream(self, url: str, on_frame: Callable[[str], list[str]]) -> None:
        """Read the market stream at `url`: each frame through `on_frame`, then its requests
        sent, before the next frame is read."""
        assert self._http is not None
        ws = await self._http.ws_connect(url, max_msg_size=0)

        async def read() -> None:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    self.frames += 1
                    try:
                        requests = on_frame(msg.data)
                    except Exception as exc:  # the benchmark fails with it, later
                        self.error = self.error or f"naive pipeline: {exc!r}"
                        self._changed.set()
                        continue
                    await self.send(requests)
                    self._changed.set()

        self._tasks.append(asyncio.create_task(read()))

    async def _read_answers(self, api: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in api:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            doc = orjson.loads(msg.data)
            self.answered += 1
            if doc.get("status") != 200 and self.error is None:
                self.error = f"the venue refused a naive request: {doc.get('error')}"
            self._changed.set()

    async def wait(self, done: Callable[[], bool], what: str) -> None:
        """Until `done()`, or raise (with the first error the client saw, if any)."""
        deadline = time.monotonic() + SETTLE_S
        while not done():
            if self.error is not None:
                raise RuntimeError(self.error)
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"naive client: timed out waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)
        if self.error is not None:
            raise RuntimeError(self.error)

    async def answers(self, total: int) -> None:
        await self.wait(lambda: self.answered >= total, f"{total} answers")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._http is not None:
            await self._http.close()
