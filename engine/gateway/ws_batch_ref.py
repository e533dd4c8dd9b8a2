"""Pure-Python reference of engine/gateway/ws_batch.pyx: the same frames for the same seed
(RFC 6455 section 5.2 client text frames, masked with xorshift64* keys)."""

from __future__ import annotations

import struct

_M64 = (1 << 64) - 1


class FrameBatchRef:
    def __init__(self, seed: int) -> None:
        if seed == 0:
            raise ValueError("FrameBatch: the seed must not be 0 (xorshift stays at 0)")
        self._state = seed & _M64
        self._buf = bytearray()
        self.frames = 0

    def next_key(self) -> bytes:
        x = self._state
        x ^= x >> 12
        x ^= (x << 25) & _M64
        x ^= x >> 27
        self._state = x
        return struct.pack(">I", ((x * 0x2545F4914F6CDD1D) & _M64) >> 32)

    def add_text(self, payload: bytes) -> None:
        key = self.next_key()
        n = len(payload)
        if n < 126:
            head = bytes([0x81, 0x80 | n])
        elif n < 65536:
            head = bytes([0x81, 0x80 | 126]) + struct.pack(">H", n)
        else:
            head = bytes([0x81, 0x80 | 127]) + struct.pack(">Q", n)
        self._buf += head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))
        self.frames += 1

    @property
    def nbytes(self) -> int:
        return len(self._buf)

    def take(self) -> bytes:
        data = bytes(self._buf)
        self._buf.clear()
        self.frames = 0
        return data

    def clear(self) -> None:
        self._buf.clear()
        self.frames = 0
