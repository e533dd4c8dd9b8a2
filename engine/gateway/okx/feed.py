"""OKX spot market data: `books` kept in sync by seqId chaining (and the legacy CRC32
checksum while OKX still sends it), trades and best bid/offer, every instrument on one
public connection.

Sync follows PROTOCOLS.md §2.5: the first `books` push after subscribing is a snapshot
(`prevSeqId` -1) that replaces the book; every update must have `prevSeqId` equal to the last
`seqId` (a heartbeat repeats it, `seqId == prevSeqId`, with no levels; after maintenance
`seqId` may go down but still chains). When the checksum is not 0 it must equal the CRC32 of
the top 25 levels of our book after the update, written back in OKX's own number strings.
A gap, a checksum mismatch, a crossed book or a malformed frame marks the book not ready
(`BookFeed.mark_not_ready`) and resubscribes that instId alone (unsubscribe + subscribe) for
a fresh snapshot; the other instruments on the connection are untouched.

Routing costs one dict lookup per frame: OKX puts `arg` first, so the frame starts with
`{"arg":{"channel":"books","instId":"BTC-USDT"}` and that prefix names the instrument and the
channel. Frames in another key order fall back to orjson. OKX closes a connection idle for
30 s: the feed sends the text `ping` (answered by `pong`) every `keepalive_s`.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import logging
import zlib
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import orjson

from engine._core.book import ASK, BID, CROSSED
from engine._core.depth_decode import SNAPSHOT, OkxBooksDecoder
from engine.clock import NS_PER_MS, Clock
from engine.data.feed import BookFeed, FeedOptions
from engine.events import EventHandler, Trade
from engine.gateway.ws import WsConnection, WsCounters, WsOptions
from engine.model.enums import OrderSide
from engine.model.instrument import Instrument
from engine.model.market_data import MarketData

log = logging.getLogger("engine.gateway.okx.feed")

KEEPALIVE_S = 20.0  # OKX closes after 30 s without traffic (close code 4004)
CHECKSUM_DEPTH = 25  # levels per side in the legacy CRC32 checksum
CHANNELS = ("books", "bbo-tbt", "trades")
DEPTH_CHANNELS = ("books", "books-l2-tbt", "books50-l2-tbt")
SUBSCRIBE_BATCH = 300  # args per subscribe request (about 15 KB)
_STRING_CACHE = 4096  # formatted prices/sizes kept per instrument for the checksum
_BOOKS, _BBO, _TRADES = 0, 1, 2
_PARSE_ERRORS = (
    orjson.JSONDecodeError,
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    ArithmeticError,
)


class Sync(enum.Enum):
    WAITING = "waiting"  # subscribed, updates ignored until the snapshot arrives
    LIVE = "live"


def okx_number(text: str) -> str:
    """OKX prints decimals without trailing zeros ("65000", "0.5", "0.00000001")."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def crc32_signed(text: bytes) -> int:
    crc = zlib.crc32(text)
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def _prefix(channel: str, inst_id: str) -> bytes:
    return orjson.dumps({"arg": {"channel": channel, "instId": inst_id}})[:-1]


class _InstStream:
    """Sync state of one instrument on the shared connection."""

    def __init__(self, instrument: Instrument, capacity: int) -> None:
        self.instrument = instrument
        self.decoder = OkxBooksDecoder.from_instrument(instrument, capacity)
        self.sync = Sync.WAITING
        self.seq_id = -1
        self.last_trade_price = Decimal(0)
        self.last_trade_size = Decimal(0)
        self._px: dict[int, str] = {}
        self._sz: dict[int, str] = {}

    def px(self, ticks: int) -> str:
        text = self._px.get(ticks)
        if text is None:
            if len(self._px) >= _STRING_CACHE:
                self._px.clear()
            text = self._px[ticks] = okx_number(self.instrument.ticks_to_str(ticks))
        return text

    def sz(self, lots: int) -> str:
        text = self._sz.get(lots)
        if text is None:
            if len(self._sz) >= _STRING_CACHE:
                self._sz.clear()
            text = self._sz[lots] = okx_number(self.instrument.lots_to_str(lots))
        return text


def _with_keepalive(options: FeedOptions | None) -> FeedOptions:
    """OKX needs its text ping: a missing keepalive gets the default period."""
    if options is None:
        return FeedOptions(ws=WsOptions(keepalive_s=KEEPALIVE_S))
    if options.ws.keepalive_s <= 0:
        ws = dataclasses.replace(options.ws, keepalive_s=KEEPALIVE_S)
        return dataclasses.replace(options, ws=ws)
    return options


class OkxBookFeed(BookFeed):
    venue = "okx"

    def __init__(
        self,
        instruments: Iterable[Instrument],
        events: EventHandler,
        *,
        ws_url: str,
        clock: Clock | None = None,
        options: FeedOptions | None = None,
        verify_checksum: bool = True,
        depth_channel: str = "books",
        seed: int | None = None,
    ) -> None:
        super().__init__(instruments, events, clock=clock, options=_with_keepalive(options))
        if depth_channel not in DEPTH_CHANNELS:
            raise ValueError(
                f"depth_channel must be one of {DEPTH_CHANNELS}, got {depth_channel!r}"
            )
        # books-l2-tbt / books50-l2-tbt: same messages, tick by tick (OKX wants a VIP login)
        self.channels = (depth_channel, *CHANNELS[1:])
        self.ws_url = ws_url
        self.verify_checksum = verify_checksum
        self.streams = {
            s: _InstStream(inst, self.options.book_capacity) for s, inst in self.instruments.items()
        }
        # prefix length -> {frame prefix: (channel kind, stream)}
        routes: dict[int, dict[bytes, tuple[int, _InstStream]]] = {}
        for symbol, stream in self.streams.items():
            for kind, channel in enumerate(self.channels):
                key = _prefix(channel, symbol)
                routes.setdefault(len(key), {})[key] = (kind, stream)
        self._routes = sorted(routes.items())
        self._seed = seed
        self._ids = itertools.count(1)
        self.snapshots = 0
        self.checksums_checked = 0
        self.resubscribes = 0
        self.pongs = 0
        self.venue_errors = 0

    # -- lifecycle ------------------------------------------------------------------------

    async def _on_start(self) -> None:
        self.conn = WsConnection(
            self.ws_url,
            _Handler(self),
            name="okx:public",
            clock=self.clock,
            options=self.options.ws,
            seed=self._seed,
        )
        self.conn.start()

    async def _on_stop(self) -> None:
        if self.conn is not None:
            await self.conn.stop()

    def counters_for(self, symbol: str) -> dict[str, int]:
        """Counters of the connection that carries `symbol` (one connection carries all)."""
        del symbol
        return self.counters.as_dict()

    def counters_of(self, symbol: str) -> WsCounters:
        del symbol
        return self.counters

    # -- subscriptions --------------------------------------------------------------------

    def _send(self, op: str, args: list[dict[str, str]]) -> bool:
        conn = self.conn
        if conn is None:
            return False
        request = {"id": str(next(self._ids)), "op": op, "args": args}
        return conn.send_text(orjson.dumps(request))

    def subscribe_all(self) -> None:
        """A fresh connection: every book waits for its snapshot."""
        args: list[dict[str, str]] = []
        for symbol, stream in self.streams.items():
            stream.sync = Sync.WAITING
            stream.seq_id = -1
            self.mark_not_ready(symbol, "subscribing")
            args.extend({"channel": channel, "instId": symbol} for channel in self.channels)
        for i in range(0, len(args), SUBSCRIBE_BATCH):  # OKX: all args under 64 KB
            self._send("subscribe", args[i : i + SUBSCRIBE_BATCH])

    def resync(self, stream: _InstStream, reason: str) -> None:
        """Book not ready; unsubscribe + subscribe its `books` for a fresh snapshot."""
        symbol = stream.instrument.symbol
        if stream.sync is Sync.LIVE:
            self.counters.resyncs += 1
        stream.sync = Sync.WAITING
        stream.seq_id = -1
        self.mark_not_ready(symbol, reason)
        arg = [{"channel": self.channels[_BOOKS], "instId": symbol}]
        # not connected: on_open subscribes everything again anyway
        if self._send("unsubscribe", arg) and self._send("subscribe", arg):
            self.resubscribes += 1

    def resync_all(self, reason: str) -> None:
        for stream in self.streams.values():
            self.resync(stream, reason)

    # -- books ----------------------------------------------------------------------------

    def book_checksum(self, stream: _InstStream) -> int:
        """OKX's legacy CRC32 over the top 25 levels of our book, as a signed int32."""
        book = self.books[stream.instrument.symbol]
        bids = book.levels(BID, CHECKSUM_DEPTH)
        asks = book.levels(ASK, CHECKSUM_DEPTH)
        px, sz = stream.px, stream.sz
        parts: list[str] = []
        for i in range(max(len(bids), len(asks))):
            if i < len(bids):
                parts.append(px(bids[i][0]))
                parts.append(sz(bids[i][1]))
            if i < len(asks):
                parts.append(px(asks[i][0]))
                parts.append(sz(asks[i][1]))
        return crc32_signed(":".join(parts).encode())

    def _checksum_ok(self, stream: _InstStream, expected: int) -> bool:
        """0 means "not sent" (OKX's deprecation); otherwise it must match our book."""
        if expected == 0 or not self.verify_checksum:
            return True
        self.checksums_checked += 1
        ours = self.book_checksum(stream)
        if ours == expected:
            return True
        symbol = stream.instrument.symbol
        self.counters.checksum_failures += 1
        self.warn_burst(
            symbol, "okx %s: checksum mismatch (ours %d, venue %d)", symbol, ours, expected
        )
        self.resync(stream, "checksum mismatch")
        return False

    def on_books(self, stream: _InstStream, payload: memoryview) -> None:
        symbol = stream.instrument.symbol
        decoder = stream.decoder
        if decoder.decode(payload) < 0:
            self.malformed(stream, f"malformed books frame (status {decoder.last_status})")
            return
        book = self.books[symbol]
        if decoder.action == SNAPSHOT:
            if book.load_snapshot(decoder.buffer) == CROSSED:
                self.resync(stream, "snapshot is crossed")
                return
            if not self._checksum_ok(stream, decoder.checksum):
                return
            self.snapshots += 1
            stream.seq_id = decoder.seq_id
            stream.sync = Sync.LIVE
            self.mark_ready(symbol, "synced")
            self.publish_book(symbol, decoder.event_time_ms * NS_PER_MS)
            return
        if stream.sync is Sync.WAITING:
            return  # before the snapshot, or the tail of the subscription just left
        if decoder.prev_seq_id != stream.seq_id:
            self.counters.gaps += 1
            self.resync(
                stream,
                f"sequence gap: prevSeqId {decoder.prev_seq_id} after seqId {stream.seq_id}",
            )
            return
        buffer = decoder.buffer
        changed = buffer.bid_count + buffer.ask_count > 0  # a heartbeat changes nothing
        if changed and book.apply(buffer) == CROSSED:
            self.resync(stream, "book crossed after an update")
            return
        if not self._checksum_ok(stream, decoder.checksum):
            return
        stream.seq_id = decoder.seq_id
        if changed:
            self.publish_book(symbol, decoder.event_time_ms * NS_PER_MS)

    def malformed(self, stream: _InstStream | None, reason: str) -> None:
        """Count, log once per burst, drop; the book(s) the frame may have touched resync."""
        self.counters.decode_errors += 1
        key = "okx" if stream is None else stream.instrument.symbol
        self.warn_burst(key, "okx %s: dropped a frame: %s", key, reason)
        if stream is None:
            self.resync_all(reason)
        else:
            self.resync(stream, reason)

    # -- trades and best bid/offer --------------------------------------------------------

    def on_other(self, stream: _InstStream, kind: int, payload: memoryview) -> None:
        """Trades and bbo-tbt: orjson (these are not the dominant traffic)."""
        try:
            items = orjson.loads(payload)["data"]
            if kind == _TRADES:
                trades = [self._trade(stream, item) for item in items]  # all or nothing
                for trade in trades:
                    stream.last_trade_price = trade.price
                    stream.last_trade_size = trade.quantity
                    self.tap.append(trade)
                    self.events.on_trade(trade)
            else:
                self._bbo(stream, items[0])
        except _PARSE_ERRORS as exc:
            self.malformed(stream, f"malformed {self.channels[kind]} frame: {exc!r}")

    def _trade(self, stream: _InstStream, item: dict[str, Any]) -> Trade:
        inst = stream.instrument
        price = inst.ticks_to_price(inst.price_to_ticks(item["px"]))
        size = inst.lots_to_qty(inst.qty_to_lots(item["sz"]))
        side = item["side"]
        if side not in ("buy", "sell"):
            raise ValueError(f"unknown trade side {side!r}")
        return Trade(
            self.venue,
            inst.symbol,
            price,
            size,
            OrderSide.BUY if side == "buy" else OrderSide.SELL,  # OKX gives the taker side
            str(item["tradeId"]),
            int(item["ts"]) * NS_PER_MS,
        )

    def _bbo(self, stream: _InstStream, item: dict[str, Any]) -> None:
        bids, asks = item["bids"], item["asks"]
        if not bids or not asks:
            return  # one side empty: no top of book to report
        inst = stream.instrument
        md = MarketData(
            self.venue,
            inst.symbol,
            inst.ticks_to_price(inst.price_to_ticks(bids[0][0])),
            inst.ticks_to_price(inst.price_to_ticks(asks[0][0])),
            stream.last_trade_price,
            stream.last_trade_size,
            int(item["ts"]) * NS_PER_MS,
        )
        self.tap.append(md)
        self.events.on_market_data(md)

    # -- everything else ------------------------------------------------------------------

    def on_unrouted(self, payload: memoryview) -> None:
        """pong, events (acks, errors, notices), or a push in an unexpected key order."""
        if len(payload) == 4 and payload.tobytes() == b"pong":
            self.pongs += 1
            return
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            self.malformed(None, f"not JSON: {exc}")  # cannot tell whose it was: all resync
            return
        if not isinstance(doc, dict):
            self.malformed(None, "not a JSON object")
            return
        event = doc.get("event")
        if event is not None:
            self._on_event(event, doc)
            return
        arg = doc.get("arg")
        if isinstance(arg, dict):
            inst_id, channel = arg.get("instId"), arg.get("channel")
            stream = self.streams.get(inst_id) if isinstance(inst_id, str) else None
            if stream is not None and channel in self.channels:
                kind = self.channels.index(channel)
                if kind == _BOOKS:
                    self.on_books(stream, payload)
                else:
                    self.on_other(stream, kind, payload)

    def _on_event(self, event: object, doc: dict[str, Any]) -> None:
        if event in ("subscribe", "unsubscribe"):
            return
        if event == "error":
            self.venue_errors += 1
            self.warn_burst(
                "okx:error", "okx error %s: %s", doc.get("code"), str(doc.get("msg"))[:200]
            )
        elif event == "notice":
            # e.g. 64008: the connection closes in 60 s for a service upgrade
            log.warning("okx notice %s: %s", doc.get("code"), doc.get("msg"))


class _Handler:
    """The WsHandler of the public connection."""

    def __init__(self, feed: OkxBookFeed) -> None:
        self.feed = feed

    def on_open(self, conn: WsConnection) -> None:
        self.feed.subscribe_all()

    def on_message(self, payload: memoryview, recv_ns: int) -> None:
        feed = self.feed
        for length, table in feed._routes:
            hit = table.get(bytes(payload[:length]))
            if hit is not None:
                kind, stream = hit
                if kind == _BOOKS:
                    feed.on_books(stream, payload)
                else:
                    feed.on_other(stream, kind, payload)
                return
        feed.on_unrouted(payload)

    def on_close(self, reason: str) -> None:
        for stream in self.feed.streams.values():
            stream.sync = Sync.WAITING
            stream.seq_id = -1
        self.feed.mark_all_not_ready(f"disconnected: {reason}")

    def keepalive(self, conn: WsConnection) -> None:
        conn.send_text("ping")


__all__ = ["OkxBookFeed", "Sync", "crc32_signed", "okx_number"]
