# Client WebSocket frames of one intent-sink pass, framed and masked into one buffer so the
# pass costs one socket write (engine/gateway/ws_batch.pyx).
from libc.stdint cimport uint64_t


cdef class FrameBatch:
    cdef unsigned char* _buf
    cdef Py_ssize_t _size  # bytes framed so far
    cdef Py_ssize_t _capacity
    cdef uint64_t _state  # the masking keys' generator (xorshift64*)
    cdef readonly int frames  # frames framed since the last take()

    cdef unsigned int _next_key(self) noexcept
    cdef int _reserve(self, Py_ssize_t extra) except -1
