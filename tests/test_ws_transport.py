"""The reconnecting picows client against a real aiohttp WebSocket server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import WSMsgType, web
from support import until as _until

from engine.clock import NS_PER_SECOND, LiveClock, SimClock
from engine.gateway.ws import WsConnection, WsOptions


@dataclass
class Server:
    url: str
    connections: int = 0
    received: list[str] = field(default_factory=list)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    quiet: bool = False  # stop sending (a frozen feed)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server(url="")

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        state.connections += 1
        state.sockets.append(ws)

        async def ticker() -> None:
            n = 0
            while not ws.closed:
                if not state.quiet:
                    n += 1
                    await ws.send_str(f'{{"n":{n}}}')
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    state.received.append(msg.data)
        finally:
            task.cancel()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"ws://127.0.0.1:{runner.addresses[0][1]}/ws"
    yield state
    await runner.cleanup()


class Recorder:
    frame_handler = None  # no fast path: every frame reaches on_message

    def __init__(self) -> None:
        self.opens = 0
        self.closes: list[str] = []
        self.messages: list[bytes] = []
        self.keepalives = 0
        self.recv_ns: list[int] = []

    def on_open(self, conn: WsConnection) -> None:
        self.opens += 1
        conn.send_text('{"op":"subscribe"}')

    def on_message(self, payload: memoryview, status: int, recv_ns: int) -> None:
        self.messages.append(bytes(payload))  # a test may copy; the hot path must not
        self.recv_ns.append(recv_ns)

    def on_close(self, reason: str) -> None:
        self.closes.append(reason)

    def keepalive(self, conn: WsConnection) -> None:
        self.keepalives += 1
        conn.send_text("ping")


FAST = WsOptions(stale_after_s=0.3, backoff_base_s=0.01, backoff_max_s=0.05, watchdog_s=0.02)


async def test_subscribes_on_every_connect_and_survives_a_dropped_socket(server: Server) -> None:
    rec = Recorder()
    conn = WsConnection(server.url, rec, clock=LiveClock(), name="t", options=FAST, seed=1)
    conn.start()
    try:
        await conn.wait_connected()
        await _until(lambda: len(rec.messages) >= 3)
        assert rec.messages[0] == b'{"n":1}'
        await server.sockets[-1].close()  # the server drops us
        await _until(lambda: server.connections == 2 and rec.opens == 2)
        await _until(lambda: server.received.count('{"op":"subscribe"}') == 2)
        assert rec.closes and conn.counters.reconnects == 1
        assert conn.stats.messages == len(rec.messages)
        assert conn.stats.bytes == sum(len(m) for m in rec.messages)
        # receive times are the clock's wall time, in order
        assert rec.recv_ns == sorted(rec.recv_ns) and rec.recv_ns[0] > 1_600_000_000 * 10**9
    finally:
        await conn.stop()
    assert not conn.connected


async def test_a_frozen_feed_is_detected_and_reconnected(server: Server) -> None:
    rec = Recorder()
    conn = WsConnection(server.url, rec, clock=LiveClock(), name="t", options=FAST, seed=1)
    conn.start()
    try:
        await conn.wait_connected()
        await _until(lambda: len(rec.messages) >= 1)
        server.quiet = True
        await _until(lambda: conn.counters.stale >= 1)
        server.quiet = False
        await _until(lambda: server.connections >= 2 and conn.connected)
        assert any(reason.startswith("stale") for reason in rec.closes)
    finally:
        await conn.stop()


async def test_rotation_and_keepalive(server: Server) -> None:
    rec = Recorder()
    options = WsOptions(
        max_lifetime_s=0.2,
        keepalive_s=0.05,
        backoff_base_s=0.01,
        backoff_max_s=0.02,
        watchdog_s=0.02,
    )
    conn = WsConnection(server.url, rec, clock=LiveClock(), name="t", options=options, seed=1)
    conn.start()
    try:
        await _until(lambda: conn.counters.rotations >= 1 and server.connections >= 2)
        await _until(lambda: "ping" in server.received)
        assert "planned rotation" in rec.closes
    finally:
        await conn.stop()


async def test_connect_failures_back_off_and_retry_until_the_server_appears() -> None:
    rec = Recorder()
    conn = WsConnection(
        "ws://127.0.0.1:9/ws", rec, clock=LiveClock(), name="t", options=FAST, seed=1
    )
    conn.start()
    try:
        await _until(lambda: conn.counters.connect_failures >= 3)
        assert rec.opens == 0 and not conn.connected
    finally:
        await conn.stop()


def test_backoff_is_capped_full_jitter() -> None:
    conn = WsConnection(
        "ws://x",
        Recorder(),
        clock=LiveClock(),
        options=WsOptions(backoff_base_s=0.1, backoff_max_s=2),
        seed=3,
    )
    delays = [conn.backoff_s(a) for a in range(1, 40)]
    assert all(0 <= d <= 2 for d in delays)
    assert max(delays[:2]) <= 0.4 and max(delays) > 0.4


async def test_a_raising_handler_does_not_kill_the_connection(server: Server) -> None:
    class Broken(Recorder):
        def on_message(self, payload: memoryview, status: int, recv_ns: int) -> None:
            super().on_message(payload, status, recv_ns)
            raise RuntimeError("handler bug")

    rec = Broken()
    conn = WsConnection(server.url, rec, clock=LiveClock(), name="t", options=FAST, seed=1)
    conn.start()
    try:
        await _until(lambda: len(rec.messages) >= 5)
        assert conn.counters.handler_errors >= 5 and conn.connected and server.connections == 1
    finally:
        await conn.stop()


async def _settle() -> None:
    """Let every ready task of the loop run (no wall-clock wait)."""
    for _ in range(50):
        await asyncio.sleep(0)


async def test_the_engine_clock_drives_backoff_and_stale_detection(server: Server) -> None:
    """On a simulated clock nothing waits on the wall: a failed connect retries only when the
    clock passes its backoff, and a silent feed is stale only when the clock says so."""
    clock = SimClock(start_ns=1_000 * NS_PER_SECOND)
    dead = WsConnection("ws://127.0.0.1:9/ws", Recorder(), clock=clock, options=FAST, seed=1)
    dead.start()
    try:
        await _until(lambda: dead.counters.connect_failures == 1)
        await _settle()
        assert dead.counters.connect_failures == 1  # asleep on the simulated clock
        clock.advance_to(clock.time_ns() + NS_PER_SECOND)  # past the longest backoff
        await _until(lambda: dead.counters.connect_failures == 2)
    finally:
        await dead.stop()

    rec = Recorder()
    conn = WsConnection(server.url, rec, clock=clock, name="t", options=FAST, seed=1)
    conn.start()
    try:
        await _until(lambda: len(rec.messages) >= 1)
        assert rec.recv_ns[0] == clock.time_ns()  # receive time is the engine clock's
        server.quiet = True
        await _settle()
        assert conn.counters.stale == 0 and conn.connected  # the wall moves, the clock not
        clock.advance_to(clock.time_ns() + NS_PER_SECOND)  # past stale_after_s = 0.3
        await _until(lambda: conn.counters.stale == 1)
        server.quiet = False
        clock.advance_to(clock.time_ns() + NS_PER_SECOND)  # past the reconnect backoff
        await _until(lambda: server.connections >= 2 and conn.connected)
    finally:
        await conn.stop()
