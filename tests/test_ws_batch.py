"""Client text frames into one buffer (engine/gateway/ws_batch.pyx): the same bytes as the
pure-Python reference, frames an independent RFC 6455 reader takes back to the payloads, the
length forms at their edges, growth past the first capacity; and a corked WsConnection's
frames reach a real picows server in one write, in order."""

from __future__ import annotations

import asyncio
import random
import struct

import pytest
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_create_server

from engine.clock import LiveClock
from engine.gateway.ws import WsConnection
from engine.gateway.ws_batch import MAX_HEADER, FrameBatch
from engine.gateway.ws_batch_ref import FrameBatchRef

EDGE_SIZES = [0, 1, 7, 8, 9, 125, 126, 127, 65_535, 65_536, 70_001]


def read_frames(data: bytes) -> list[bytes]:
    """An RFC 6455 section 5.2 reader written from the text: client frames, unmasked."""
    out, off = [], 0
    while off < len(data):
        b0, b1 = data[off], data[off + 1]
        assert b0 == 0x81, "FIN + text"
        assert b1 & 0x80, "a client frame is masked"
        n, off = b1 & 0x7F, off + 2
        if n == 126:
            (n,), off = struct.unpack_from(">H", data, off), off + 2
            assert n >= 126, "the shortest length form"
        elif n == 127:
            (n,), off = struct.unpack_from(">Q", data, off), off + 8
            assert n >= 65_536, "the shortest length form"
        key, off = data[off : off + 4], off + 4
        out.append(bytes(b ^ key[i % 4] for i, b in enumerate(data[off : off + n])))
        off += n
    assert off == len(data), "nothing after the last frame"
    return out


def test_frames_match_the_reference_and_read_back() -> None:
    rng = random.Random(7)
    sizes = EDGE_SIZES + [rng.randrange(0, 3000) for _ in range(200)]
    payloads = [rng.randbytes(n) for n in sizes]
    ours, ref = FrameBatch(12345, capacity=64), FrameBatchRef(12345)
    for chunk in (payloads[:5], payloads[5:11], payloads[11:]):  # several takes: keys go on
        for payload in chunk:
            ours.add_text(payload)
            ref.add_text(payload)
        assert ours.frames == ref.frames == len(chunk)
        assert ours.nbytes == ref.nbytes
        data = ours.take()
        assert data == ref.take()
        assert read_frames(data) == chunk
        assert ours.frames == 0 and ours.nbytes == 0


def test_keys_differ_per_frame_and_per_seed() -> None:
    def keys(seed: int) -> list[bytes]:
        batch = FrameBatch(seed)
        out = []
        for _ in range(50):
            batch.add_text(b"")
            out.append(batch.take()[2:6])
        return out

    first = keys(1)
    assert len(set(first)) == 50
    assert not set(first) & set(keys(2))


def test_bad_construction_and_clear() -> None:
    with pytest.raises(ValueError, match="seed"):
        FrameBatch(0)
    with pytest.raises(ValueError, match="capacity"):
        FrameBatch(1, capacity=MAX_HEADER - 1)
    batch = FrameBatch(3)
    batch.add_text(b"x" * 10)
    batch.clear()
    assert batch.frames == 0 and batch.take() == b""
    with pytest.raises(TypeError):
        batch.add_text("text")  # type: ignore[arg-type]


class _Recorder(WSListener):  # type: ignore[misc]
    def __init__(self, got: list[str], reads: list[int]) -> None:
        self.got, self.reads = got, reads

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            self.got.append(frame.get_payload_as_utf8_text())
            self.reads.append(frame.last_in_buffer)


class _Quiet:
    frame_handler = None

    def on_open(self, conn: WsConnection) -> None:
        pass

    def on_message(self, payload: memoryview, status: int, recv_ns: int) -> None:
        pass

    def on_close(self, reason: str) -> None:
        pass


async def test_a_corked_connection_writes_its_frames_together() -> None:
    got: list[str] = []
    last_in_buffer: list[int] = []
    server = await ws_create_server(lambda _req: _Recorder(got, last_in_buffer), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn = WsConnection(f"ws://127.0.0.1:{port}/", _Quiet(), clock=LiveClock(), name="t")
    conn.start()
    try:
        await conn.wait_connected(5)
        conn.cork()
        assert conn.corked
        texts = ['{"id":1}', "x" * 200, '{"id":3,"method":"order.cancelReplace"}']
        for text in texts:
            assert conn.send_text(text)
        await asyncio.sleep(0.05)
        assert got == []  # held until uncork
        assert conn.uncork() == 3 and not conn.corked
        for _ in range(100):
            if len(got) == 3:
                break
            await asyncio.sleep(0.01)
        assert got == texts
        # one write: the server read all three from one receive buffer, the last marked so
        assert last_in_buffer == [False, False, True]
        assert conn.uncork() == 0  # nothing held
        assert conn.send_text("after")  # uncorked: straight out
        for _ in range(100):
            if len(got) == 4:
                break
            await asyncio.sleep(0.01)
        assert got[-1] == "after"
        # frames held when the connection goes away are dropped, not written later
        conn.cork()
        assert conn.send_text("lost")
        assert conn._transport is not None
        conn._transport.disconnect(graceful=False)
        assert conn.uncork() == 0
        await asyncio.sleep(0.05)
        assert "lost" not in got
    finally:
        await conn.stop()
        server.close()
