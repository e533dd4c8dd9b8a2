"""The picows listener behind WsConnection: frames straight into a FrameHandler.

picows calls `on_ws_frame` (a cpdef method, so a C call here) with a frame that points into
its receive buffer. A text or binary frame is counted, timestamped and handed as a pointer
to the connection's FrameHandler (engine/_core/frame_handler.pyx); only a status the handler
could not finish (a trade, an ack, a resync, a handler error) or a connection without a
handler builds a memoryview and enters Python (`WsConnection._slow_frame`). Control frames
and the connection's life go to WsConnection as before.

With a frame recorder (`[recorder] enabled`), every text or binary frame is appended to it
first, as received, with its receive time (one `writev` of the picows buffer, no copy).

Receive time is the connection's clock: with a live clock the system clocks are read in C
(the values `time.time_ns()` / `time.monotonic_ns()` would give), any other clock (a
simulated one) is asked through its Python methods.
"""

cimport cython
from libc.stdint cimport int64_t
from posix.time cimport CLOCK_MONOTONIC, CLOCK_REALTIME, clock_gettime, timespec
from picows.picows cimport WSFrame, WSListener, WSMsgType, WSTransport

from engine._core.frame_handler cimport FRAME_OK, FRAME_OTHER, FRAME_SKIPPED, FrameHandler


cdef inline int64_t _now(int clock_id) noexcept nogil:
    cdef timespec ts
    clock_gettime(clock_id, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


@cython.final
cdef class WsStats:
    """Messages, bytes and the time of the last frame of one logical connection."""

    def as_dict(self):
        return {"messages": self.messages, "bytes": self.bytes}


@cython.final
cdef class FrameListener(WSListener):
    """One socket's listener; picows makes a new one per connect."""

    def __init__(self, conn, FrameHandler handler, WsStats stats not None, clock,
                 bint system_clock, recorder=None):
        super().__init__()
        self._conn = conn
        self._handler = handler
        self._stats = stats
        self._clock = clock
        self._system_clock = system_clock
        self._recorder = recorder

    cpdef on_ws_connected(self, WSTransport transport):
        self._conn._connected(transport)

    cpdef on_ws_frame(self, WSTransport transport, WSFrame frame):
        cdef WSMsgType msg_type = frame.msg_type
        cdef int64_t recv_ns
        cdef int status = FRAME_OTHER
        if msg_type == WSMsgType.TEXT or msg_type == WSMsgType.BINARY:
            if self._system_clock:
                recv_ns = _now(CLOCK_REALTIME)
                self._stats.last_message_ns = _now(CLOCK_MONOTONIC)
            else:
                recv_ns = self._clock.time_ns()
                self._stats.last_message_ns = self._clock.monotonic_ns()
            self._stats.messages += 1
            self._stats.bytes += frame.payload_size
            if self._recorder is not None:  # the raw bytes first, as received (no copy)
                self._recorder.append(recv_ns, frame.get_payload_as_memoryview())
            if self._handler is not None:
                status = self._handler.c_frame(<const unsigned char*>frame.payload_ptr,
                                               frame.payload_size, recv_ns)
                if status == FRAME_OK or status == FRAME_SKIPPED:
                    return
            self._conn._slow_frame(frame.get_payload_as_memoryview(), status, recv_ns)
        elif msg_type == WSMsgType.CLOSE:
            self._conn._server_close(transport, frame.get_close_code())
        # PING is answered by picows (enable_auto_pong); PONG needs nothing

    cpdef on_ws_disconnected(self, WSTransport transport):
        self._conn._disconnected()
