"""Binance spot market data: diff-depth books synced against REST snapshots, trades and
best bid/offer, one combined-stream connection per symbol.

Sync follows Binance's documented procedure: buffer the diff stream, fetch
`/api/v3/depth`, refetch if the snapshot is older than the first buffered event, drop
events the snapshot already contains, require the first kept event to straddle
`lastUpdateId + 1`, then require every event to continue the last (`U == previous u + 1`).
Any gap, malformed frame, crossed book or failed snapshot puts the book back to syncing;
it is never traded on in between (`BookFeed.mark_not_ready`).

One connection per symbol keeps routing free (no symbol lookup per frame) and confines a
resync to the symbol that needs it; Binance allows 1024 streams and 300 connects per 5 min.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Iterable
from decimal import Decimal

import aiohttp
import orjson

from engine._core.book import CROSSED
from engine._core.depth_decode import BinanceDepthDecoder
from engine.clock import NS_PER_MS, Clock
from engine.data.feed import BookFeed, FeedOptions
from engine.events import EventHandler, Trade
from engine.gateway.ws import WsConnection, WsCounters
from engine.model.enums import OrderSide
from engine.model.instrument import Instrument
from engine.model.market_data import MarketData

log = logging.getLogger("engine.gateway.binance.feed")

MAX_BUFFERED = 10_000  # diff events held while a snapshot is fetched


class Sync(enum.Enum):
    WAITING = "waiting"  # buffering diffs until the snapshot arrives
    LIVE = "live"


class _SymbolStream:
    """Sync state of one symbol's connection."""

    def __init__(self, instrument: Instrument, capacity: int) -> None:
        self.instrument = instrument
        self.decoder = BinanceDepthDecoder.from_instrument(instrument, capacity)
        self.sync = Sync.WAITING
        self.last_update_id = 0
        self.buffered: list[tuple[int, bytes]] = []  # (first update id U, frame)
        self.snapshot_task: asyncio.Task[None] | None = None
        self.last_trade_price = Decimal(0)
        lower = instrument.symbol.lower().encode()
        self.depth_prefix = b'{"stream":"' + lower + b"@depth"
        self.ticker_prefix = b'{"stream":"' + lower + b"@bookTicker"
        self.trade_prefix = b'{"stream":"' + lower + b"@trade"


class BinanceBookFeed(BookFeed):
    venue = "binance"

    def __init__(
        self,
        instruments: Iterable[Instrument],
        events: EventHandler,
        *,
        rest_url: str,
        ws_url: str,
        clock: Clock | None = None,
        options: FeedOptions | None = None,
        snapshot_limit: int = 1000,
        seed: int | None = None,
    ) -> None:
        super().__init__(instruments, events, clock=clock, options=options)
        self.rest_url = rest_url.rstrip("/")
        self.ws_url = ws_url.rstrip("/")
        self.snapshot_limit = snapshot_limit
        self.streams = {
            s: _SymbolStream(inst, self.options.book_capacity)
            for s, inst in self.instruments.items()
        }
        self.conns: dict[str, WsConnection] = {}
        self._seed = seed
        self._http: aiohttp.ClientSession | None = None
        self.snapshots = 0
        self.stale_snapshots = 0

    # -- lifecycle ------------------------------------------------------------------------

    async def _on_start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        for i, (symbol, stream) in enumerate(self.streams.items()):
            lower = symbol.lower()
            names = f"{lower}@depth@100ms/{lower}@bookTicker/{lower}@trade"
            handler = _Handler(self, stream)
            conn = WsConnection(
                f"{self.ws_url}/stream?streams={names}",
                handler,
                name=f"binance:{symbol}",
                clock=self.clock,
                options=self.options.ws,
                seed=None if self._seed is None else self._seed + i,
            )
            self.conns[symbol] = conn
            conn.start()

    async def _on_stop(self) -> None:
        for conn in self.conns.values():
            await conn.stop()
        for stream in self.streams.values():
            self._cancel_snapshot(stream)
        if self._http is not None:
            await self._http.close()

    def counters_for(self, symbol: str) -> dict[str, int]:
        return self.conns[symbol].counters.as_dict()

    # -- sync -----------------------------------------------------------------------------

    def resync(self, stream: _SymbolStream, reason: str) -> None:
        """Back to buffering, book not ready, a fresh snapshot requested."""
        symbol = stream.instrument.symbol
        conn = self.conns.get(symbol)
        if conn is not None and stream.sync is Sync.LIVE:
            conn.counters.resyncs += 1
        stream.sync = Sync.WAITING
        stream.buffered.clear()
        self.mark_not_ready(symbol, reason)
        self._cancel_snapshot(stream)
        stream.snapshot_task = asyncio.get_running_loop().create_task(self._fetch_snapshot(stream))

    def _cancel_snapshot(self, stream: _SymbolStream) -> None:
        if stream.snapshot_task is not None and not stream.snapshot_task.done():
            stream.snapshot_task.cancel()
        stream.snapshot_task = None

    async def _fetch_snapshot(self, stream: _SymbolStream) -> None:
        assert self._http is not None
        symbol = stream.instrument.symbol
        url = f"{self.rest_url}/api/v3/depth"
        params = {"symbol": symbol, "limit": str(self.snapshot_limit)}
        await self.fetch_snapshot_until(
            self._http,
            url,
            params,
            symbol,
            apply=lambda body: self._apply_snapshot(stream, body),
            synced=lambda: stream.sync is Sync.LIVE,
        )

    def _apply_snapshot(self, stream: _SymbolStream, body: bytes) -> bool:
        """Load the snapshot and replay the buffer; False = fetch again."""
        symbol = stream.instrument.symbol
        decoder = stream.decoder
        if decoder.decode_snapshot(body) < 0:
            self.counters_of(symbol).decode_errors += 1
            log.warning(
                "binance %s: malformed depth snapshot (status %d)", symbol, decoder.last_status
            )
            return False
        self.snapshots += 1
        last_id = decoder.last_update_id
        if stream.buffered:
            first = stream.buffered[0][0]
            # Binance's text says refetch when lastUpdateId < U; at lastUpdateId == U - 1
            # nothing is missing, so only a real hole between the two forces a refetch
            if last_id + 1 < first:
                self.stale_snapshots += 1
                return False
        book = self.books[symbol]
        if book.load_snapshot(decoder.buffer) == CROSSED:
            log.warning("binance %s: snapshot is crossed", symbol)
            return False
        stream.last_update_id = last_id
        pending, stream.buffered = stream.buffered, []
        stream.sync = Sync.LIVE
        for _, frame in pending:
            if not self._apply_diff(stream, memoryview(frame), replaying=True):
                return True  # _apply_diff started a resync
        self.mark_ready(symbol, "synced")
        self.publish_book(symbol, self.clock.time_ns())
        return True

    def counters_of(self, symbol: str) -> WsCounters:
        return self.conns[symbol].counters

    # -- frames ---------------------------------------------------------------------------

    def on_depth(self, stream: _SymbolStream, payload: memoryview) -> None:
        if stream.sync is Sync.WAITING:
            if len(stream.buffered) >= MAX_BUFFERED:
                self.resync(stream, "snapshot too slow: diff buffer full")
                return
            decoder = stream.decoder
            if decoder.decode(payload) < 0:
                self.counters_of(stream.instrument.symbol).decode_errors += 1
                self.resync(stream, f"malformed depth frame (status {decoder.last_status})")
                return
            # copied: the frame dies after this call (only while syncing, never when live)
            stream.buffered.append((decoder.first_update_id, bytes(payload)))
            return
        self._apply_diff(stream, payload, replaying=False)

    def _apply_diff(self, stream: _SymbolStream, payload: memoryview, *, replaying: bool) -> bool:
        """Apply one diff to a live book; False when it forced a resync."""
        symbol = stream.instrument.symbol
        decoder = stream.decoder
        if decoder.decode(payload) < 0:
            self.counters_of(symbol).decode_errors += 1
            self.warn_burst(symbol, "binance %s: dropped a malformed depth frame", symbol)
            self.resync(stream, f"malformed depth frame (status {decoder.last_status})")
            return False
        first, last = decoder.first_update_id, decoder.last_update_id
        if last <= stream.last_update_id:
            return True  # already in the book
        if first > stream.last_update_id + 1:
            self.counters_of(symbol).gaps += 1
            self.resync(stream, f"sequence gap: expected {stream.last_update_id + 1}, got {first}")
            return False
        if self.books[symbol].apply(decoder.buffer) == CROSSED:
            self.resync(stream, "book crossed after an update")
            return False
        stream.last_update_id = last
        if not replaying:
            self.publish_book(symbol, decoder.event_time_ms * NS_PER_MS)
        return True

    def on_other(self, stream: _SymbolStream, payload: memoryview) -> None:
        """Trades and best bid/offer: orjson (these are not the dominant traffic)."""
        symbol = stream.instrument.symbol
        try:
            doc = orjson.loads(payload)
            data = doc["data"]
            name = doc["stream"]
            inst = stream.instrument
            if name.endswith("@trade"):
                price = Decimal(data["p"])
                stream.last_trade_price = price
                trade = Trade(
                    self.venue,
                    symbol,
                    price,
                    Decimal(data["q"]),
                    OrderSide.SELL if data["m"] else OrderSide.BUY,
                    str(data["t"]),
                    int(data["T"]) * NS_PER_MS,
                )
                self.tap.append(trade)
                self.events.on_trade(trade)
            elif name.endswith("@bookTicker"):
                md = MarketData(
                    self.venue,
                    symbol,
                    inst.price_grid.to_decimal(inst.price_to_ticks(data["b"])),
                    inst.price_grid.to_decimal(inst.price_to_ticks(data["a"])),
                    stream.last_trade_price,
                    Decimal(data["B"]),
                    self.clock.time_ns(),
                )
                self.tap.append(md)
                self.events.on_market_data(md)
            # subscription acks ({"result":null,"id":..}) and unknown streams are ignored
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            # cannot tell which stream a garbled frame belonged to: assume the book's
            self.counters_of(symbol).decode_errors += 1
            self.warn_burst(symbol, "binance %s: dropped a malformed frame: %r", symbol, exc)
            self.resync(stream, "malformed frame")


class _Handler:
    """The WsHandler of one symbol's connection."""

    def __init__(self, feed: BinanceBookFeed, stream: _SymbolStream) -> None:
        self.feed = feed
        self.stream = stream

    def on_open(self, conn: WsConnection) -> None:
        # streams are in the URL; a fresh connection means a fresh sync
        self.feed.resync(self.stream, "connected")

    def on_message(self, payload: memoryview, recv_ns: int) -> None:
        stream = self.stream
        if payload[: len(stream.depth_prefix)] == stream.depth_prefix:
            self.feed.on_depth(stream, payload)
        else:
            self.feed.on_other(stream, payload)

    def on_close(self, reason: str) -> None:
        stream = self.stream
        self.feed._cancel_snapshot(stream)
        stream.sync = Sync.WAITING
        stream.buffered.clear()
        self.feed.mark_not_ready(stream.instrument.symbol, f"disconnected: {reason}")

    def keepalive(self, conn: WsConnection) -> None:
        """Binance pings at the protocol level; picows answers."""


__all__ = ["BinanceBookFeed", "Sync"]
