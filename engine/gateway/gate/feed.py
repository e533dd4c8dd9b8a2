"""Gate v4 spot market data: order books synced against REST snapshots, trades and best
bid/offer, one connection per symbol on the single `/ws/v4/` endpoint.

Sync follows Gate's documented procedure for `spot.order_book_update`: subscribe and buffer
the updates, GET `/spot/order_book?with_id=true`, drop updates the snapshot already holds
(`u <= id`), refetch when the first remaining one starts after `id + 1`, require the first
applied one to straddle `id + 1` (`U <= id + 1 <= u`) and every later one to continue the
last exactly (`U == previous u + 1`). A `full: true` message replaces the book and the
sequence continues from its `u`; one that arrives while syncing ends the sync on its own.

With `depth_channel="obu"` the feed reads `spot.obu` (Order Book V2) instead: no REST
snapshot, the first push of a subscription is `full: true`, each increment must continue the
last exactly, and a resync is an unsubscribe + subscribe (which brings a new full push).

Any gap, malformed frame, crossed book or failed snapshot puts the book back to syncing; it
is never traded on in between (`BookFeed.mark_not_ready`). Gate's application ping
(`spot.ping`) is sent every `WsOptions.keepalive_s` (5 s by default, as the SDK does).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import aiohttp
import orjson

from engine._core.book import CROSSED
from engine._core.depth_decode import GateDepthDecoder
from engine.clock import NS_PER_MS, NS_PER_SECOND, Clock
from engine.data.feed import BookFeed, FeedOptions
from engine.events import EventHandler, Trade
from engine.gateway.ws import WsConnection, WsCounters, WsOptions
from engine.model.enums import OrderSide
from engine.model.instrument import Instrument
from engine.model.market_data import MarketData

log = logging.getLogger("engine.gateway.gate.feed")

MAX_BUFFERED = 10_000  # updates held while a snapshot is fetched
KEEPALIVE_S = 5.0  # the official SDK pings every 5 s
DEPTH_CHANNELS = ("spot.order_book_update", "spot.obu")

DepthChannel = Literal["order_book_update", "obu"]


class Sync(enum.Enum):
    WAITING = "waiting"  # buffering updates until the snapshot (or a full push) arrives
    LIVE = "live"


@dataclass(slots=True)
class _Buffered:
    first: int  # U
    last: int  # u
    frame: bytes


class _SymbolStream:
    """Sync state of one symbol's connection."""

    def __init__(self, instrument: Instrument, capacity: int) -> None:
        self.instrument = instrument
        self.decoder = GateDepthDecoder.from_instrument(instrument, capacity)
        self.sync = Sync.WAITING
        self.last_update_id = 0
        self.straddle = False  # the next update is the first after a REST snapshot
        self.buffered: list[_Buffered] = []
        self.snapshot_task: asyncio.Task[None] | None = None
        self.last_trade_price = Decimal(0)
        self.last_trade_qty = Decimal(0)
        self.rejected = False  # the venue refused the depth subscription


class GateBookFeed(BookFeed):
    venue = "gate"

    def __init__(
        self,
        instruments: Iterable[Instrument],
        events: EventHandler,
        *,
        rest_url: str,
        ws_url: str,
        clock: Clock | None = None,
        options: FeedOptions | None = None,
        depth_channel: DepthChannel = "order_book_update",
        interval: str = "100ms",
        obu_depth: int = 400,
        snapshot_limit: int = 100,
        seed: int | None = None,
    ) -> None:
        if options is None:
            options = FeedOptions(ws=WsOptions(keepalive_s=KEEPALIVE_S))
        super().__init__(instruments, events, clock=clock, options=options)
        if depth_channel not in ("order_book_update", "obu"):
            raise ValueError(f"unknown Gate depth channel {depth_channel!r}")
        self.rest_url = rest_url.rstrip("/")
        self.ws_url = ws_url
        self.depth_channel = depth_channel
        self.interval = interval
        self.obu_depth = obu_depth
        self.snapshot_limit = snapshot_limit
        self.streams = {
            s: _SymbolStream(inst, self.options.book_capacity)
            for s, inst in self.instruments.items()
        }
        self.conns: dict[str, WsConnection] = {}
        self._seed = seed
        self._http: aiohttp.ClientSession | None = None
        self.snapshots = 0  # REST snapshots loaded
        self.stale_snapshots = 0
        self.full_books = 0  # `full: true` pushes loaded
        self.pongs = 0

    @property
    def uses_obu(self) -> bool:
        return self.depth_channel == "obu"

    # -- lifecycle ------------------------------------------------------------------------

    async def _on_start(self) -> None:
        if not self.uses_obu:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        for i, (symbol, stream) in enumerate(self.streams.items()):
            conn = WsConnection(
                self.ws_url,
                _Handler(self, stream),
                name=f"gate:{symbol}",
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

    def counters_of(self, symbol: str) -> WsCounters:
        return self.conns[symbol].counters

    # -- requests -------------------------------------------------------------------------

    def _request(self, conn: WsConnection, channel: str, event: str, payload: list[str]) -> None:
        now_s = self.clock.time_ns() // NS_PER_SECOND
        doc = {"time": now_s, "channel": channel, "event": event, "payload": payload}
        conn.send_text(orjson.dumps(doc))

    def _depth_subscription(self, symbol: str) -> tuple[str, list[str]]:
        if self.uses_obu:
            return "spot.obu", [f"ob.{symbol}.{self.obu_depth}"]
        return "spot.order_book_update", [symbol, self.interval]

    def subscribe(self, conn: WsConnection, stream: _SymbolStream) -> None:
        symbol = stream.instrument.symbol
        channel, payload = self._depth_subscription(symbol)
        self._request(conn, channel, "subscribe", payload)
        self._request(conn, "spot.trades", "subscribe", [symbol])
        self._request(conn, "spot.book_ticker", "subscribe", [symbol])

    def ping(self, conn: WsConnection) -> None:
        conn.send_text(
            orjson.dumps({"time": self.clock.time_ns() // NS_PER_SECOND, "channel": "spot.ping"})
        )

    # -- sync -----------------------------------------------------------------------------

    def resync(self, stream: _SymbolStream, reason: str, *, subscribed: bool = False) -> None:
        """Back to waiting, book not ready, a fresh snapshot (or full push) requested.

        `subscribed`: the depth subscription was just sent (a new connection), so with
        spot.obu its full push is on the way already."""
        symbol = stream.instrument.symbol
        conn = self.conns.get(symbol)
        if conn is not None and stream.sync is Sync.LIVE:
            conn.counters.resyncs += 1
        stream.sync = Sync.WAITING
        stream.straddle = False
        stream.buffered.clear()
        self.mark_not_ready(symbol, reason)
        self._cancel_snapshot(stream)
        if stream.rejected:
            return
        if self.uses_obu:
            # a new subscription starts with a full push
            if conn is not None and not subscribed:
                channel, payload = self._depth_subscription(symbol)
                self._request(conn, channel, "unsubscribe", payload)
                self._request(conn, channel, "subscribe", payload)
            return
        stream.snapshot_task = asyncio.get_running_loop().create_task(self._fetch_snapshot(stream))

    def _cancel_snapshot(self, stream: _SymbolStream) -> None:
        if stream.snapshot_task is not None and not stream.snapshot_task.done():
            stream.snapshot_task.cancel()
        stream.snapshot_task = None

    async def _fetch_snapshot(self, stream: _SymbolStream) -> None:
        assert self._http is not None
        symbol = stream.instrument.symbol
        url = f"{self.rest_url}/spot/order_book"
        params = {"currency_pair": symbol, "limit": str(self.snapshot_limit), "with_id": "true"}
        await self.fetch_snapshot_until(
            self._http,
            url,
            params,
            symbol,
            apply=lambda body: self._apply_snapshot(stream, body),
            synced=lambda: stream.sync is Sync.LIVE,
        )

    def _apply_snapshot(self, stream: _SymbolStream, body: bytes) -> bool:
        """Load the REST snapshot and replay the buffer; False = fetch again."""
        symbol = stream.instrument.symbol
        decoder = stream.decoder
        if stream.sync is Sync.LIVE:
            return True  # a full push got there first
        if decoder.decode_snapshot(body) < 0:
            self.counters_of(symbol).decode_errors += 1
            log.warning(
                "gate %s: malformed depth snapshot (status %d)", symbol, decoder.last_status
            )
            return False
        self.snapshots += 1
        base_id = decoder.last_update_id
        pending = [b for b in stream.buffered if b.last > base_id]
        if pending and pending[0].first > base_id + 1:
            self.stale_snapshots += 1  # updates between the snapshot and the buffer are lost
            return False
        book = self.books[symbol]
        if book.load_snapshot(decoder.buffer) == CROSSED:
            log.warning("gate %s: snapshot is crossed", symbol)
            return False
        stream.last_update_id = base_id
        stream.straddle = True
        stream.buffered = []
        stream.sync = Sync.LIVE
        for item in pending:
            if not self._apply_update(stream, memoryview(item.frame), replaying=True):
                return True  # _apply_update started a resync
        self.mark_ready(symbol, "synced")
        self.publish_book(symbol, self.clock.time_ns())
        return True

    # -- frames ---------------------------------------------------------------------------

    def on_depth(self, stream: _SymbolStream, payload: memoryview) -> None:
        """A frame the depth decoder accepted (decoded already: the header is current)."""
        decoder = stream.decoder
        if stream.sync is Sync.LIVE:
            self._check_and_apply(stream, replaying=False)
            return
        if decoder.full:
            self._load_full(stream, replaying=False)
            return
        if self.uses_obu:
            return  # increments before the full push of a (re)subscription mean nothing
        if len(stream.buffered) >= MAX_BUFFERED:
            self.resync(stream, "snapshot too slow: update buffer full")
            return
        # copied: the frame dies after this call (only while syncing, never when live)
        stream.buffered.append(
            _Buffered(decoder.first_update_id, decoder.last_update_id, bytes(payload))
        )

    def _apply_update(self, stream: _SymbolStream, payload: memoryview, *, replaying: bool) -> bool:
        """Decode and apply one buffered update to a live book; False when it resynced."""
        decoder = stream.decoder
        if decoder.decode(payload) < 0:
            self._malformed(stream, f"malformed depth frame (status {decoder.last_status})")
            return False
        return self._check_and_apply(stream, replaying=replaying)

    def _check_and_apply(self, stream: _SymbolStream, *, replaying: bool) -> bool:
        """Apply the update the decoder holds to a live book; False when it resynced."""
        decoder = stream.decoder
        if decoder.full:
            return self._load_full(stream, replaying=replaying)
        symbol = stream.instrument.symbol
        first, last, expected = (
            decoder.first_update_id,
            decoder.last_update_id,
            stream.last_update_id + 1,
        )
        if last < expected:
            return True  # already in the book
        in_sequence = first <= expected if stream.straddle else first == expected
        if not in_sequence:
            self.counters_of(symbol).gaps += 1
            self.resync(stream, f"sequence gap: expected {expected}, got {first}..{last}")
            return False
        if self.books[symbol].apply(decoder.buffer) == CROSSED:
            self.resync(stream, "book crossed after an update")
            return False
        stream.last_update_id = last
        stream.straddle = False
        if not replaying:
            self.publish_book(symbol, decoder.event_time_ms * NS_PER_MS)
        return True

    def _load_full(self, stream: _SymbolStream, *, replaying: bool) -> bool:
        """A `full: true` push: replace the book, continue from its `u`."""
        symbol = stream.instrument.symbol
        decoder = stream.decoder
        if self.books[symbol].load_snapshot(decoder.buffer) == CROSSED:
            self.resync(stream, "full book push is crossed")
            return False
        self.full_books += 1
        self._cancel_snapshot(stream)
        stream.buffered.clear()
        stream.last_update_id = decoder.last_update_id
        stream.straddle = False
        stream.sync = Sync.LIVE
        if not replaying:
            self.mark_ready(symbol, "full book")
            self.publish_book(symbol, decoder.event_time_ms * NS_PER_MS)
        return True

    def _malformed(self, stream: _SymbolStream, reason: str) -> None:
        symbol = stream.instrument.symbol
        self.counters_of(symbol).decode_errors += 1
        self.warn_burst(symbol, "gate %s: dropped a malformed frame (%s)", symbol, reason)
        self.resync(stream, reason)

    def on_other(self, stream: _SymbolStream, conn: WsConnection, payload: memoryview) -> None:
        """Everything the depth decoder refused: trades, book ticker, acks, pongs, and
        malformed depth frames. orjson (these are not the dominant traffic)."""
        try:
            doc = orjson.loads(payload)
            channel = doc["channel"]
            event = doc.get("event")
            if event == "update" or (event is None and channel in DEPTH_CHANNELS):
                # (spot.obu pushes carry no event)
                if channel in DEPTH_CHANNELS:
                    # valid JSON the depth decoder refused: a bad level, id or field
                    status = stream.decoder.last_status
                    self._malformed(stream, f"malformed depth frame (status {status})")
                elif channel == "spot.trades":
                    self._trade(stream, doc["result"])
                elif channel == "spot.book_ticker":
                    self._ticker(stream, doc["result"])
            elif channel == "spot.pong":
                self.pongs += 1
            elif event in ("subscribe", "unsubscribe"):
                self._ack(stream, channel, doc)
            elif event == "upgrade":
                conn.reconnect("server asked for a reconnect (upgrade)")
            # anything else (spot.order_book snapshots, unknown channels) is ignored
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            # cannot tell which channel a garbled frame belonged to: assume the book's
            self._malformed(stream, f"malformed frame: {exc!r}")

    def _trade(self, stream: _SymbolStream, data: dict[str, Any]) -> None:
        price = Decimal(data["price"])
        qty = Decimal(data["amount"])
        stream.last_trade_price = price
        stream.last_trade_qty = qty
        trade = Trade(
            self.venue,
            stream.instrument.symbol,
            price,
            qty,
            OrderSide.BUY if data["side"] == "buy" else OrderSide.SELL,
            str(data["id"]),
            int(Decimal(data["create_time_ms"]) * NS_PER_MS),
        )
        self.tap.append(trade)
        self.events.on_trade(trade)

    def _ticker(self, stream: _SymbolStream, data: dict[str, Any]) -> None:
        inst = stream.instrument
        md = MarketData(
            self.venue,
            inst.symbol,
            self._price(inst, data["b"]),
            self._price(inst, data["a"]),
            stream.last_trade_price,
            stream.last_trade_qty,
            int(data["t"]) * NS_PER_MS,
        )
        self.tap.append(md)
        self.events.on_market_data(md)

    @staticmethod
    def _price(inst: Instrument, text: str) -> Decimal:
        # an empty side comes as ""
        return inst.price_grid.to_decimal(inst.price_to_ticks(text)) if text else Decimal(0)

    def _ack(self, stream: _SymbolStream, channel: str, doc: dict[str, Any]) -> None:
        error = doc.get("error")
        if not error:
            return
        symbol = stream.instrument.symbol
        log.error("gate %s: %s %s refused: %s", symbol, channel, doc.get("event"), error)
        if channel in DEPTH_CHANNELS and doc.get("event") == "subscribe":
            # no depth will come: keep the book pulled rather than trading a frozen one
            stream.rejected = True
            self.resync(stream, f"depth subscription refused: {error}")


class _Handler:
    """The WsHandler of one symbol's connection."""

    def __init__(self, feed: GateBookFeed, stream: _SymbolStream) -> None:
        self.feed = feed
        self.stream = stream
        self.conn: WsConnection | None = None

    def on_open(self, conn: WsConnection) -> None:
        self.conn = conn
        self.stream.rejected = False
        self.feed.subscribe(conn, self.stream)
        self.feed.resync(self.stream, "connected", subscribed=True)

    def on_message(self, payload: memoryview, recv_ns: int) -> None:
        stream = self.stream
        # the fast decoder takes depth pushes and refuses every other channel early
        if stream.decoder.decode(payload) >= 0:
            self.feed.on_depth(stream, payload)
        else:
            assert self.conn is not None
            self.feed.on_other(stream, self.conn, payload)

    def on_close(self, reason: str) -> None:
        stream = self.stream
        self.feed._cancel_snapshot(stream)
        stream.sync = Sync.WAITING
        stream.straddle = False
        stream.buffered.clear()
        self.feed.mark_not_ready(stream.instrument.symbol, f"disconnected: {reason}")

    def keepalive(self, conn: WsConnection) -> None:
        """Gate's application-level ping (it also resets the server's idle timer)."""
        self.feed.ping(conn)


__all__ = ["GateBookFeed", "Sync"]
