"""Binance spot market data: diff-depth books synced against REST snapshots, trades and
best bid/offer, many symbols per combined-stream connection.

Each connection (`/stream?streams=...`, up to SYMBOLS_PER_CONNECTION symbols) has one
BinanceFrameHandler: a depth frame goes from the socket to the book and on_book in one C
call. Sync follows Binance's documented procedure (docs/VENUES.md §1.4), run per symbol by
the shared SnapshotSync: buffer the diff stream, fetch `/api/v3/depth`, drop diffs the
snapshot holds, refetch when the first kept one starts after `lastUpdateId + 1`, then every
diff must continue the book. A gap, malformed frame or crossed book resyncs that symbol
alone; a dropped connection resyncs the symbols it carried.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import orjson

from engine._core.depth_decode import BinanceDepthDecoder
from engine._core.frame_handler import BinanceFrameHandler, BookStream
from engine.clock import NS_PER_MS, Clock
from engine.data.feed import BookFeed, FeedOptions
from engine.data.sync import SnapshotSync
from engine.events import EventHandler, Trade
from engine.gateway.snapshots import SnapshotFetcher
from engine.gateway.ws import WsConnection, WsOptions
from engine.model.enums import OrderSide
from engine.model.instrument import Instrument
from engine.model.market_data import MarketData

# 3 streams a symbol; Binance allows 1024 streams a connection, and the names go in the URL
SYMBOLS_PER_CONNECTION = 50
_PARSE_ERRORS = (orjson.JSONDecodeError, KeyError, TypeError, ValueError, ArithmeticError)


class _Connection:
    """One combined-stream connection: its symbols' streams, frame handler and sync."""

    def __init__(self, feed: BinanceBookFeed, instruments: list[Instrument], name: str) -> None:
        self.feed = feed
        self.name = name
        streams = [
            BookStream(
                inst,
                BinanceDepthDecoder.from_instrument(inst, feed.options.book_capacity),
                feed.books[inst.symbol],
                f"{inst.symbol.lower()}@{feed.depth_stream}".encode(),
            )
            for inst in instruments
        ]
        self.frame_handler = BinanceFrameHandler(streams, feed.events.on_book)
        self.sync = SnapshotSync(feed, self.frame_handler, feed.fetcher)
        self.symbols = [inst.symbol for inst in instruments]
        # slow-path routing: stream name -> symbol (trades and tickers)
        self.by_stream = {}
        for symbol in self.symbols:
            lower = symbol.lower()
            self.by_stream[f"{lower}@trade"] = symbol
            self.by_stream[f"{lower}@bookTicker"] = symbol
        self.conn: WsConnection | None = None

    def url(self, ws_url: str) -> str:
        names = "/".join(
            f"{s.lower()}@{self.feed.depth_stream}/{s.lower()}@bookTicker/{s.lower()}@trade"
            for s in self.symbols
        )
        return f"{ws_url}/stream?streams={names}"

    # -- WsHandler ------------------------------------------------------------------------

    def on_open(self, conn: WsConnection) -> None:
        # the streams are in the URL; a fresh connection means a fresh sync of each symbol
        self.sync.resync_all("connected")

    def on_message(self, payload: memoryview, status: int, recv_ns: int) -> None:
        if not self.sync.on_status(payload, status):
            self.feed.on_other(self, payload)

    def on_close(self, reason: str) -> None:
        self.sync.halt_all()
        self.feed.mark_all_not_ready(f"disconnected: {reason}", self.symbols)

    def keepalive(self, conn: WsConnection) -> None:
        """Binance pings at the protocol level; picows answers."""


class BinanceBookFeed(BookFeed):
    venue = "binance"

    def __init__(
        self,
        instruments: Iterable[Instrument],
        events: EventHandler,
        *,
        rest_url: str,
        ws_url: str,
        clock: Clock,
        options: FeedOptions | None = None,
        ws_options: WsOptions | None = None,
        snapshot_limit: int = 1000,
        depth_stream: str = "depth@100ms",
        symbols_per_connection: int = SYMBOLS_PER_CONNECTION,
        seed: int | None = None,
        ca_file: str = "",
    ) -> None:
        super().__init__(instruments, events, clock=clock, options=options)
        self.rest_url = rest_url.rstrip("/")
        self.ca_file = ca_file  # verifies https:// and wss:// ('' = the system trust store)
        self.ws_url = ws_url.rstrip("/")
        self.ws_options = ws_options or WsOptions()
        self.depth_stream = depth_stream
        self.fetcher = SnapshotFetcher(
            self,
            f"{self.rest_url}/api/v3/depth",
            lambda symbol: {"symbol": symbol, "limit": str(snapshot_limit)},
            ca_file=ca_file,
        )
        self._seed = seed
        insts = list(self.instruments.values())
        self.connections = [
            _Connection(
                self,
                insts[i : i + symbols_per_connection],
                f"binance:{i // symbols_per_connection}",
            )
            for i in range(0, len(insts), symbols_per_connection)
        ]
        self._of_symbol = {s: c for c in self.connections for s in c.symbols}
        self.last_trade_price = dict.fromkeys(self.instruments, Decimal(0))

    # -- lifecycle ------------------------------------------------------------------------

    async def _on_start(self) -> None:
        for i, connection in enumerate(self.connections):
            connection.conn = WsConnection(
                connection.url(self.ws_url),
                connection,
                clock=self.clock,
                name=connection.name,
                options=self.ws_options,
                ca_file=self.ca_file,
                venue=self.venue,
                seed=None if self._seed is None else self._seed + i,
            )
            connection.conn.recorder = self.frame_recorder
            connection.conn.start()

    async def _on_stop(self) -> None:
        for connection in self.connections:
            if connection.conn is not None:
                await connection.conn.stop()
            connection.sync.halt_all()
        await self.fetcher.close()

    def connection_counters(self, symbol: str) -> dict[str, int]:
        conn = self._of_symbol[symbol].conn
        return {} if conn is None else conn.counters_dict()

    def connection_of(self, symbol: str) -> WsConnection | None:
        return self._of_symbol[symbol].conn

    def stream(self, symbol: str) -> BookStream:
        connection = self._of_symbol[symbol]
        return connection.frame_handler.stream(connection.symbols.index(symbol))

    def sync_of(self, symbol: str) -> tuple[SnapshotSync, int]:
        """The sync machine of `symbol` and its stream index there."""
        connection = self._of_symbol[symbol]
        return connection.sync, connection.symbols.index(symbol)

    # -- trades and best bid/offer (orjson: not the dominant traffic) ---------------------

    def on_other(self, connection: _Connection, payload: memoryview) -> None:
        try:
            doc = orjson.loads(payload)
            name = doc.get("stream") if isinstance(doc, dict) else None
            if name is None:
                return  # subscription acks ({"result":null,"id":..}) and the like
            symbol = connection.by_stream.get(name)
            if symbol is None:
                return  # a stream we did not ask for
            data = doc["data"]
            if name.endswith("@trade"):
                self._trade(symbol, data)
            else:
                self._ticker(symbol, data)
        except _PARSE_ERRORS as exc:
            # cannot tell which stream a garbled frame belonged to: every book of the connection
            self.unattributable(connection.symbols, connection.name, f"malformed: {exc!r}")
            connection.sync.resync_all("malformed frame")

    def _trade(self, symbol: str, data: dict[str, object]) -> None:
        if not self.fresh_trade(symbol, int(data["t"])):  # type: ignore[call-overload]
            return
        price = Decimal(str(data["p"]))
        self.last_trade_price[symbol] = price
        trade = Trade(
            self.venue,
            symbol,
            price,
            Decimal(str(data["q"])),
            OrderSide.SELL if data["m"] else OrderSide.BUY,
            str(data["t"]),
            int(data["T"]) * NS_PER_MS,  # type: ignore[call-overload]
        )
        self.tap.append(trade)
        self.events.on_trade(trade)

    def _ticker(self, symbol: str, data: dict[str, str]) -> None:
        inst = self.instruments[symbol]
        md = MarketData(
            self.venue,
            symbol,
            inst.price_grid.to_decimal(inst.price_to_ticks(data["b"])),
            inst.price_grid.to_decimal(inst.price_to_ticks(data["a"])),
            self.last_trade_price[symbol],
            Decimal(data["B"]),
            self.clock.time_ns(),
        )
        self.tap.append(md)
        self.events.on_market_data(md)


__all__ = ["BinanceBookFeed"]
