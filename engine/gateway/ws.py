"""A reconnecting WebSocket client on picows, for market-data and private streams.

Frames go from picows's receive buffer into the handler's `frame_handler` (a Cython
FrameHandler, engine/_core/frame_handler.pyx) through the Cython listener of
engine/gateway/ws_listener.pyx: one C call per frame, no copy, no allocation, no queue hop.
Only a frame the fast path does not finish (a trade, an ack, a resync, or every frame of a
handler without a frame_handler) reaches the handler's Python `on_message`, as a memoryview
of picows's buffer valid only during the call. Everything that keeps a feed honest lives
here, once, for every venue:

- the handler's `on_open` runs on every (re)connect, so subscriptions and resyncs follow a
  reconnect by construction, and `on_close` runs on every disconnect, so books are marked
  not-ready before anything can trade on them;
- reconnects back off exponentially with full jitter (seeded, so tests are repeatable);
- a feed that goes quiet for `stale_after_s` is treated as dead and reconnected;
- a connection older than `max_lifetime_s` is rotated before the venue cuts it;
- protocol pings are answered by picows; venues that want an application-level ping get
  `keepalive()` every `keepalive_s`;
- counters say what happened (messages, bytes, reconnects, stale, rotations, ...).

Timing uses the engine clock, handed in by whoever builds the connection, so the same code
runs on simulated time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import ssl
from dataclasses import dataclass, field
from typing import Any, Protocol

from picows import WSCloseCode, WSError, WSMsgType, WSTransport, ws_connect

from engine._core.frame_handler import FrameHandler
from engine.clock import NS_PER_SECOND, Clock, LiveClock
from engine.gateway.tls import TlsVerifyError, certificate_error, ssl_for
from engine.gateway.ws_batch import FrameBatch
from engine.gateway.ws_listener import FrameListener, WsStats

log = logging.getLogger("engine.gateway.ws")
STOP_WAIT_S = 2.0  # how long stop() waits for the socket to close


class WsHandler(Protocol):
    @property
    def frame_handler(self) -> FrameHandler | None:
        """The fast path for this connection's frames, or None (every frame to on_message)."""

    def on_open(self, conn: WsConnection) -> None:
        """Connected: send subscriptions, start resyncs."""

    def on_message(self, payload: memoryview, status: int, recv_ns: int) -> None:
        """A frame the fast path did not finish, with its FrameHandler status (OTHER when
        there is no frame_handler); `payload` is only valid during the call."""

    def on_close(self, reason: str) -> None:
        """Disconnected (for any reason): mark state not-ready."""

    def keepalive(self, conn: WsConnection) -> None:
        """Send the venue's application-level ping, if it has one."""


@dataclass(slots=True)
class WsCounters:
    """What happened to one logical connection (messages and bytes: WsConnection.stats)."""

    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    stale: int = 0
    rotations: int = 0
    handler_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class WsOptions:
    stale_after_s: float = 10.0  # no frame for this long = dead feed
    keepalive_s: float = 0.0  # 0 = no application-level ping
    max_lifetime_s: float = 23 * 3600.0  # Binance cuts at 24 h
    backoff_base_s: float = 0.1
    backoff_max_s: float = 10.0
    handshake_timeout_s: float = 5.0
    watchdog_s: float = 0.25  # how often stale/lifetime/keepalive are checked
    extra_headers: dict[str, str] = field(default_factory=dict)


class WsConnection:
    """One logical stream: stays connected until `stop()`, through any number of sockets."""

    def __init__(
        self,
        url: str,
        handler: WsHandler,
        *,
        clock: Clock,
        name: str = "",
        options: WsOptions | None = None,
        seed: int | None = None,
        ca_file: str = "",
        venue: str = "",
    ) -> None:
        self.url = url
        self.name = name or url
        # wss:// verifies the server against `ca_file` ("" = the system store); ws:// is plain
        self.ca_file = ca_file
        self.venue = venue  # named in a certificate error (venues.<venue>.ca_file)
        self.ssl_context: ssl.SSLContext | None = ssl_for(url, ca_file, venue)
        # set while the server's certificate is refused: a configuration error, not a flake
        self.tls_error: TlsVerifyError | None = None
        self.handler = handler
        self.clock = clock
        self.options = options or WsOptions()
        self.counters = WsCounters()
        self.stats = WsStats()
        self.recorder: Any = None  # a FrameRecorder: every frame kept raw, read at each connect
        self.close_reason = ""
        self.connected_ns = 0
        self._transport: WSTransport | None = None
        self._rng = random.Random(seed)
        self._task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._stopping = False
        self._connected_event = asyncio.Event()
        self._tls_refused = asyncio.Event()
        # between cork() and uncork() text frames are framed here and written together
        self._batch: FrameBatch | None = None
        self._corked = False

    # -- public ---------------------------------------------------------------------------

    @property
    def last_message_ns(self) -> int:
        """The clock's monotonic_ns when the last text/binary frame arrived."""
        return self.stats.last_message_ns

    def counters_dict(self) -> dict[str, int]:
        return {**self.counters.as_dict(), **self.stats.as_dict()}

    @property
    def connected(self) -> bool:
        return self._transport is not None and not self._transport.is_disconnected

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"ws:{self.name}")
            self._watchdog = asyncio.create_task(self._watch(), name=f"ws-watch:{self.name}")

    async def stop(self) -> None:
        self._stopping = True
        transport = self._transport
        if transport is not None:
            transport.disconnect()
            # the handler's on_close runs before stop() returns, while its owner (and the
            # engine's logging) still stands
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(transport.wait_disconnected(), STOP_WAIT_S)
        for task in (self._watchdog, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._watchdog = None

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Until connected; raises TlsVerifyError as soon as the certificate is refused."""
        if self.tls_error is not None:
            raise self.tls_error
        connected = asyncio.ensure_future(self._connected_event.wait())
        refused = asyncio.ensure_future(self._tls_refused.wait())
        try:
            await asyncio.wait(
                (connected, refused), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            connected.cancel()
            refused.cancel()
        if self._connected_event.is_set():
            return
        if self.tls_error is not None:
            raise self.tls_error
        raise TimeoutError(f"{self.name}: not connected after {timeout:g}s")

    def send_text(self, text: str | bytes) -> bool:
        """Send one text frame (corked: frame it for `uncork`); False when not connected (the
        caller's state will resync)."""
        if not self.connected:
            return False
        data = text.encode() if isinstance(text, str) else text
        if self._corked:
            assert self._batch is not None
            self._batch.add_text(data)
            return True
        assert self._transport is not None
        self._transport.send(WSMsgType.TEXT, data)
        return True

    @property
    def corked(self) -> bool:
        return self._corked

    def cork(self) -> None:
        """Hold text frames until `uncork()`: the requests of one intent-sink pass then cost
        one socket write, not one each (the frames are built by engine/gateway/ws_batch.pyx,
        masked as picows masks them). Cork and uncork within one synchronous pass: nothing
        else may write on the connection in between."""
        if self._batch is None:
            self._batch = FrameBatch(int.from_bytes(os.urandom(8), "little") or 1)
        self._corked = True

    def uncork(self) -> int:
        """Write the held frames in one write; how many (0: none held, or the connection
        went away, its requests then time out as any unanswered request does)."""
        self._corked = False
        batch = self._batch
        if batch is None or not batch.frames:
            return 0
        frames = batch.frames
        transport = self._transport
        if (
            transport is None
            or transport.is_disconnected
            or transport.is_close_frame_sent
            or (socket := transport.underlying_transport).is_closing()
        ):
            batch.clear()
            return 0
        socket.write(batch.take())
        return frames

    def reconnect(self, reason: str) -> None:
        """Drop the socket now; the run loop connects again (and `on_open` resubscribes)."""
        if self._transport is not None and not self._transport.is_disconnected:
            self.close_reason = reason
            self._transport.disconnect(graceful=False)

    # -- picows callbacks -----------------------------------------------------------------

    def _listener(self) -> FrameListener:
        # read per connect: a handler may replace its frame_handler between sockets
        handler = getattr(self.handler, "frame_handler", None)
        return FrameListener(
            self, handler, self.stats, self.clock, type(self.clock) is LiveClock, self.recorder
        )

    def _connected(self, transport: WSTransport) -> None:
        self._transport = transport
        self.close_reason = ""
        self.connected_ns = self.stats.last_message_ns = self.clock.monotonic_ns()
        self.counters.connects += 1
        self._connected_event.set()
        try:
            self.handler.on_open(self)
        except Exception:
            self.counters.handler_errors += 1
            log.exception("%s: on_open failed", self.name)

    def _slow_frame(self, payload: memoryview, status: int, recv_ns: int) -> None:
        try:
            self.handler.on_message(payload, status, recv_ns)
        except Exception:
            # a handler bug must not tear down the transport; the handler resyncs on its own
            self.counters.handler_errors += 1
            log.exception("%s: on_message failed", self.name)

    def _server_close(self, transport: WSTransport, code: WSCloseCode) -> None:
        self.close_reason = f"closed by server ({code})"
        transport.send_close(code)
        transport.disconnect()

    def _disconnected(self) -> None:
        self._connected_event.clear()
        reason = self.close_reason or "connection lost"
        try:
            self.handler.on_close(reason)
        except Exception:
            self.counters.handler_errors += 1
            log.exception("%s: on_close failed", self.name)

    # -- loops ----------------------------------------------------------------------------

    def backoff_s(self, attempt: int) -> float:
        """Full jitter: uniform(0, min(max, base * 2^attempt))."""
        cap = min(self.options.backoff_max_s, self.options.backoff_base_s * (2 ** min(attempt, 30)))
        return self._rng.uniform(0, cap)

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            try:
                transport, _ = await ws_connect(
                    self._listener,
                    self.url,
                    ssl_context=self.ssl_context,
                    websocket_handshake_timeout=self.options.handshake_timeout_s,
                    enable_auto_pong=True,
                    extra_headers=self.options.extra_headers or None,
                    logger_name="engine.gateway.picows",
                )
            except ssl.SSLCertVerificationError as exc:
                # retried (a venue may fix its certificate), but said as what it is, once
                attempt += 1
                self.counters.connect_failures += 1
                error = certificate_error(self.venue, self.url, exc, self.ca_file)
                if self.tls_error is None or str(self.tls_error) != str(error):
                    log.error("%s", error)
                self.tls_error = error
                self._tls_refused.set()
                delay = self.backoff_s(attempt)
                await self.clock.sleep_ns(int(delay * NS_PER_SECOND))
                continue
            except (OSError, WSError, TimeoutError) as exc:
                attempt += 1
                self.counters.connect_failures += 1
                delay = self.backoff_s(attempt)
                log.warning("%s: connect failed (%s); retry in %.2fs", self.name, exc, delay)
                await self.clock.sleep_ns(int(delay * NS_PER_SECOND))
                continue
            attempt = 0
            self.tls_error = None
            self._tls_refused.clear()
            await transport.wait_disconnected()
            self._transport = None
            if self._stopping:
                break
            self.counters.reconnects += 1
            reason = self.close_reason or "lost"
            log.warning("%s: disconnected (%s); reconnecting", self.name, reason)
            await self.clock.sleep_ns(int(self.backoff_s(0) * NS_PER_SECOND))

    async def _watch(self) -> None:
        opts = self.options
        last_keepalive = self.clock.monotonic_ns()
        while True:
            await self.clock.sleep_ns(int(opts.watchdog_s * NS_PER_SECOND))
            if not self.connected:
                continue
            now = self.clock.monotonic_ns()
            if now - self.last_message_ns > opts.stale_after_s * NS_PER_SECOND:
                self.counters.stale += 1
                self.reconnect(f"stale: no message for {opts.stale_after_s:g}s")
            elif now - self.connected_ns > opts.max_lifetime_s * NS_PER_SECOND:
                self.counters.rotations += 1
                self.reconnect("planned rotation")
            elif opts.keepalive_s and now - last_keepalive > opts.keepalive_s * NS_PER_SECOND:
                last_keepalive = now
                try:
                    self.handler.keepalive(self)
                except Exception:
                    self.counters.handler_errors += 1
                    log.exception("%s: keepalive failed", self.name)
