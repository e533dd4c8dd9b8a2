"""One OKX WebSocket connection of the simulator: an outgoing queue drained by a writer task,
which is where WebSocket faults and latency are applied (docs/VENUES.md §2.2).

Listeners run synchronously inside the exchange's calls, so they only `push()` frames; the
writer encodes and sends them in order. Frames carry a kind so that the faults that target
one sort of message (a book diff, a checksummed book) hit exactly that sort.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass
from typing import Literal

import orjson
from aiohttp import WSCloseCode, web

from engine.sim.faults import FaultInjector, FaultKind
from engine.sim.venues.okx_messages import Json

FrameKind = Literal["msg", "book", "diff", "pong", "close"]
_conn_ids = itertools.count(1)


@dataclass(slots=True)
class Frame:
    kind: FrameKind
    payload: Json | str
    close_code: int = 0
    close_msg: str = ""


def _encode(payload: Json | str) -> str:
    return payload if isinstance(payload, str) else orjson.dumps(payload).decode()


def _bad_checksum(payload: Json) -> Json:
    data = [dict(item) for item in payload["data"]]
    # any other value: a client that checks it sees the mismatch; a zero becomes non-zero
    data[0]["checksum"] = (data[0].get("checksum", 0) or 0) ^ 0x5A5A5A5A or 1
    return {**payload, "data": data}


class WsConn:
    """Writer side of a connection; `channel` is the fault channel ("ws.public", ...)."""

    def __init__(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        channel: str,
        faults: FaultInjector,
        idle_timeout_s: float,
    ) -> None:
        self.request = request
        self.ws = ws
        self.channel = channel
        self.faults = faults
        self.idle_timeout_s = idle_timeout_s
        self.conn_id = f"{next(_conn_ids):08x}"
        self.queue: asyncio.Queue[Frame] = asyncio.Queue()
        self.frozen = False
        self.closed = False
        self._held: Frame | None = None  # REORDER: sent after the next frame
        self.task = asyncio.get_running_loop().create_task(self._run())

    def push(self, frame: Frame) -> None:
        if not self.closed:
            self.queue.put_nowait(frame)

    def send(self, payload: Json | str) -> None:
        self.push(Frame("msg", payload))

    def close_with(self, code: int, msg: str) -> None:
        """Close after everything already queued has been sent."""
        self.push(Frame("close", "", code, msg))

    async def stop(self) -> None:
        self.closed = True
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def _run(self) -> None:
        try:
            # not `while True`: on 3.11 wait_for can swallow a cancel that races a get()
            while not self.closed:
                try:
                    frame = await asyncio.wait_for(self.queue.get(), self.idle_timeout_s)
                except TimeoutError:
                    # OKX: nothing pushed for 30 s (no subscription, no pong) ends it
                    await self.ws.close(code=4004, message=b"No data received in 30s")
                    return
                if frame.kind == "close":
                    await self.ws.close(code=frame.close_code, message=frame.close_msg.encode())
                    return
                if not await self._deliver(frame):
                    return
        except (ConnectionError, RuntimeError):
            return  # the peer went away; the reader side cleans up

    async def _deliver(self, frame: Frame) -> bool:
        """Send one frame through the fault hooks; False once the connection is gone."""
        if self.frozen:
            return True  # FREEZE: the socket stays open, nothing more is sent
        faults, channel = self.faults, self.channel
        if frame.kind != "pong":
            if faults.take(FaultKind.DROP_CONNECTION, channel):
                self._abort()
                return False
            if faults.take(FaultKind.FREEZE_CONNECTION, channel):
                self.frozen = True
                return True
            if frame.kind == "diff" and faults.take(FaultKind.SKIP_SEQUENCE, channel):
                return True
            if (
                frame.kind in ("book", "diff")
                and isinstance(frame.payload, dict)
                and faults.take(FaultKind.BAD_CHECKSUM, channel)
            ):
                frame = Frame(frame.kind, _bad_checksum(frame.payload))
            if self._held is None and faults.take(FaultKind.REORDER_MESSAGES, channel):
                self._held = frame
                return True
        delay = faults.latency_s(channel)
        if delay:
            await asyncio.sleep(delay)
        text = _encode(frame.payload)
        if frame.kind != "pong" and faults.take(FaultKind.MALFORMED_FRAME, channel):
            text = text[: max(1, len(text) // 2)]
        await self.ws.send_str(text)
        if frame.kind != "pong" and faults.take(FaultKind.DUPLICATE_MESSAGE, channel):
            await self.ws.send_str(text)
        held, self._held = self._held, None
        if held is not None:
            await self.ws.send_str(_encode(held.payload))
        return True

    def _abort(self) -> None:
        """DROP: cut the TCP connection without a close frame."""
        self.closed = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        else:  # pragma: no cover - aiohttp always keeps the transport while open
            asyncio.get_running_loop().create_task(self.ws.close(code=WSCloseCode.ABNORMAL_CLOSURE))
