"""One Binance WebSocket connection as the simulator serves it: an outgoing queue drained by a
writer task, where latency and the WS faults happen, and Binance's ping/pong rules.

Listeners of the exchange run synchronously inside the matching call, so they only `push`;
the writer task does every await.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from aiohttp import WSMsgType, web

from engine.clock import NS_PER_SECOND, Clock
from engine.sim.faults import FaultInjector, FaultKind


class Conn:
    """Outgoing side of one connection. Items are (fault channel, JSON text)."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        faults: FaultInjector,
        clock: Clock,
        *,
        ping_interval_s: float,
        pong_deadline_s: float,
    ) -> None:
        self.ws = ws
        self.clock = clock  # the exchange's: rate windows run on the venue's time
        self.request = request
        self.faults = faults
        self.queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()
        self.frozen = False
        self.closed = False
        self._held: str | None = None  # REORDER_MESSAGES: sent after the next message
        self._writer: asyncio.Task[None] | None = None
        self._pinger: asyncio.Task[None] | None = None
        self.ping_interval_s = ping_interval_s
        self.pong_deadline_s = pong_deadline_s
        self._ping_sent: float | None = None  # time of the ping still waiting for its pong
        self._incoming: deque[int] = deque()  # ns of the clock

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop())
        self._pinger = asyncio.create_task(self._ping_loop())

    def push(self, channel: str, text: str) -> None:
        if not self.closed:
            self.queue.put_nowait((channel, text))

    async def stop(self) -> None:
        self.closed = True
        for task in (self._writer, self._pinger):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def abort(self) -> None:
        """Close abruptly: no close frame, the TCP connection just goes away."""
        self.closed = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    # -- incoming control frames ------------------------------------------------------------

    def note_incoming(self, limit_per_s: int | None) -> bool:
        """Count one incoming frame; False when the connection went over its rate."""
        if limit_per_s is None:
            return True
        now = self.clock.monotonic_ns()
        self._incoming.append(now)
        while self._incoming and now - self._incoming[0] >= NS_PER_SECOND:
            self._incoming.popleft()
        return len(self._incoming) <= limit_per_s

    async def on_control(self, msg_type: WSMsgType, data: bytes) -> None:
        """Binance answers pings with a pong echoing the payload; a pong keeps us alive."""
        if msg_type is WSMsgType.PING and not self.frozen and not self.ws.closed:
            await self.ws.pong(data)
        elif msg_type is WSMsgType.PONG:
            self._ping_sent = None

    # -- writer ---------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        try:
            while True:
                item = await self.queue.get()
                if item is None:
                    return
                channel, text = item
                delay = self.faults.latency_s(channel)
                if delay:
                    await asyncio.sleep(delay)
                if not await self._send(channel, text):
                    return
        except (ConnectionError, RuntimeError):
            self.closed = True

    async def _send(self, channel: str, text: str) -> bool:
        """Send one message through the fault hooks; False once the connection is gone."""
        faults = self.faults
        if self.frozen or self.ws.closed:
            return not self.ws.closed
        if faults.take(FaultKind.DROP_CONNECTION, channel):
            self.abort()
            return False
        if faults.take(FaultKind.FREEZE_CONNECTION, channel):
            self.frozen = True  # socket stays open, nothing more is sent
            return True
        if faults.take(FaultKind.MALFORMED_FRAME, channel):
            text = text[: max(1, len(text) // 2)]
        if self._held is None and faults.take(FaultKind.REORDER_MESSAGES, channel):
            self._held = text
            return True
        await self.ws.send_str(text)
        if faults.take(FaultKind.DUPLICATE_MESSAGE, channel):
            await self.ws.send_str(text)
        if self._held is not None:
            held, self._held = self._held, None
            await self.ws.send_str(held)
        return True

    async def _ping_loop(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionError, RuntimeError):
            while not self.ws.closed:
                await asyncio.sleep(self.ping_interval_s)
                if self.frozen:
                    continue  # a frozen connection sends nothing, pings included
                now = loop.time()
                if self._ping_sent is not None:
                    if now - self._ping_sent >= self.pong_deadline_s:
                        await self.ws.close(code=1008, message=b"pong timeout")
                        return
                    continue  # one ping outstanding at a time
                self._ping_sent = now
                await self.ws.ping(str(int(now * 1000)).encode())
