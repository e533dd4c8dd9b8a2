# The picows listener of WsConnection (engine/gateway/ws.py), in Cython so that a frame goes
# from picows's receive buffer into a FrameHandler with no Python call and no allocation.
from libc.stdint cimport int64_t
from picows.picows cimport WSListener

from engine._core.frame_handler cimport FrameHandler


cdef class WsStats:
    """Counters of one logical connection, kept across its sockets."""
    cdef public int64_t messages
    cdef public int64_t bytes
    cdef public int64_t last_message_ns  # the connection clock's monotonic_ns of the last frame


cdef class FrameListener(WSListener):
    cdef object _conn  # the WsConnection (its Python callbacks: connected, slow frames, closed)
    cdef FrameHandler _handler  # the fast path, or None: every frame goes to the slow path
    cdef WsStats _stats
    cdef object _clock
    cdef bint _system_clock  # a live clock: read the system clocks in C (same values)
    cdef object _recorder  # the raw frame recorder (engine/storage/recorder.py), or None
