"""Client WebSocket text frames built into one buffer: an intent-sink pass's requests leave
in one socket write instead of one each (engine/gateway/ws.py `WsConnection.cork`).

A frame is RFC 6455 section 5.2: FIN and the text opcode, the MASK bit with a 7-bit, 16-bit or
64-bit payload length, a 4-byte masking key, then the payload XORed with the key (client
frames must be masked, section 5.3). Keys come from a xorshift64* generator seeded from the
operating system's random source; they need to be unpredictable to whoever sits between us
and the venue, as picows's own keys (C `rand()`) are, not secret.

The reference is engine/gateway/ws_batch_ref.py (the same bytes for the same seed; tests/
test_ws_batch.py checks them against each other and against an independent frame reader).
"""

from libc.stdint cimport uint8_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE

DEF_CAPACITY = 4096
MAX_HEADER = 14  # 2 + 8 (64-bit length) + 4 (key)


cdef class FrameBatch:
    """Text frames appended with `add_text`, handed out together by `take()`."""

    def __cinit__(self, uint64_t seed, Py_ssize_t capacity=DEF_CAPACITY):
        if seed == 0:
            raise ValueError("FrameBatch: the seed must not be 0 (xorshift stays at 0)")
        if capacity < MAX_HEADER:
            raise ValueError(f"FrameBatch: capacity {capacity} < {MAX_HEADER}")
        self._buf = <unsigned char*>realloc(NULL, capacity)
        if self._buf == NULL:
            raise MemoryError()
        self._capacity = capacity
        self._size = 0
        self._state = seed
        self.frames = 0

    def __dealloc__(self):
        free(self._buf)

    cdef unsigned int _next_key(self) noexcept:
        cdef uint64_t x = self._state
        x ^= x >> 12
        x ^= x << 25
        x ^= x >> 27
        self._state = x
        return <unsigned int>((x * <uint64_t>0x2545F4914F6CDD1D) >> 32)

    cdef int _reserve(self, Py_ssize_t extra) except -1:
        cdef Py_ssize_t need = self._size + extra
        cdef Py_ssize_t capacity = self._capacity
        cdef unsigned char* grown
        if need <= capacity:
            return 0
        while capacity < need:
            capacity *= 2
        grown = <unsigned char*>realloc(self._buf, capacity)
        if grown == NULL:
            raise MemoryError()
        self._buf = grown
        self._capacity = capacity
        return 0

    def add_text(self, bytes payload not None):
        """Frame `payload` (UTF-8 text, as the caller encoded it) after the frames before."""
        cdef Py_ssize_t n = PyBytes_GET_SIZE(payload)
        cdef const unsigned char* src = <const unsigned char*>PyBytes_AS_STRING(payload)
        cdef unsigned char* out
        cdef unsigned int key = self._next_key()
        cdef uint8_t k[4]
        cdef uint64_t wide, word
        cdef Py_ssize_t i = 0, j
        self._reserve(n + MAX_HEADER)
        out = self._buf + self._size
        out[0] = 0x81  # FIN, text
        if n < 126:
            out[1] = 0x80 | <unsigned char>n
            out += 2
        elif n < 65536:
            out[1] = 0x80 | 126
            out[2] = <unsigned char>(n >> 8)
            out[3] = <unsigned char>n
            out += 4
        else:
            out[1] = 0x80 | 127
            for j in range(8):
                out[2 + j] = <unsigned char>((<uint64_t>n) >> (56 - 8 * j))
            out += 10
        k[0] = <uint8_t>(key >> 24)
        k[1] = <uint8_t>(key >> 16)
        k[2] = <uint8_t>(key >> 8)
        k[3] = <uint8_t>key
        memcpy(out, k, 4)
        out += 4
        # eight bytes at a time: the key repeated twice covers 8 payload bytes
        memcpy(&wide, k, 4)
        memcpy((<unsigned char*>&wide) + 4, k, 4)
        while i + 8 <= n:
            memcpy(&word, src + i, 8)
            word ^= wide
            memcpy(out + i, &word, 8)
            i += 8
        while i < n:
            out[i] = src[i] ^ k[i & 3]
            i += 1
        self._size = (out + n) - self._buf
        self.frames += 1

    @property
    def nbytes(self):
        """Bytes framed since the last take()."""
        return self._size

    def take(self):
        """The frames as one bytes object (a copy), and the batch empty again."""
        data = PyBytes_FromStringAndSize(<char*>self._buf, self._size)
        self._size = 0
        self.frames = 0
        return data

    def clear(self):
        """Drop the frames (the connection went away before they were written)."""
        self._size = 0
        self.frames = 0
