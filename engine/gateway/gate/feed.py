"""Gate v4 spot market data: order books, trades and best bid/offer, many symbols per
connection on the single `/ws/v4/` endpoint.

Each connection (up to SYMBOLS_PER_CONNECTION symbols) has one GateFrameHandler: a depth
push goes from the socket to the book and on_book in one C call, routed by its channel and
`result.s`. Sync runs per symbol in the connection's sync machine, so one symbol's gap never
touches the others, and a dropped connection resyncs only the symbols it carried.

`spot.order_book_update` (the default) follows Gate's documented procedure, run by the
shared SnapshotSync with the straddle rule: subscribe and buffer the updates, GET
`/spot/order_book?with_id=true`, drop updates the snapshot holds (`u <= id`), refetch when
the first remaining one starts after `id + 1`, require the first applied one to straddle
`id + 1` (`U <= id + 1 <= u`) and every later one to continue the last exactly
(`U == previous u + 1`). A `full: true` push replaces the book and the sequence continues
from its `u`; one that arrives while syncing ends the sync on its own.

With `depth_channel="obu"` the feed reads `spot.obu` (Order Book V2) instead, through
PushSync: no REST snapshot, the first push of a subscription is `full: true`, each increment
must continue the last exactly, and a resync is an unsubscribe + subscribe of that symbol
alone (which brings a new full push). Its pushes name the stream (`ob.BTC_USDT.400`), not
the pair, so that is the routing key of an obu stream.

Any gap, malformed frame, crossed book or failed snapshot puts the book back to syncing; it
is never traded on in between (`BookFeed.mark_not_ready`). A frame that cannot be attributed
(not JSON, or a depth push whose symbol cannot be read) resyncs every book of its
connection. A depth subscription the venue refuses keeps that book pulled until the next
connection. Gate's application ping (`spot.ping`) is sent every `WsOptions.keepalive_s`
(KEEPALIVE_S when the caller sets none, as the SDK does).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal

import orjson

from engine._core.depth_decode import GateDepthDecoder
from engine._core.frame_handler import BookStream, GateFrameHandler
from engine.clock import NS_PER_MS, NS_PER_SECOND, Clock
from engine.data.feed import BookFeed, FeedOptions
from engine.data.sync import PushSync, SnapshotSync, SyncRule
from engine.events import EventHandler, Trade
from engine.gateway.snapshots import SnapshotFetcher
from engine.gateway.ws import WsConnection, WsOptions
from engine.model.enums import OrderSide
from engine.model.instrument import Instrument
from engine.model.market_data import MarketData

KEEPALIVE_S = 5.0  # the official SDK pings every 5 s
# Gate documents no limit of subscriptions per connection; this keeps one connection's
# frames (and the cost of losing it) bounded
SYMBOLS_PER_CONNECTION = 20
DEPTH_CHANNELS = ("spot.order_book_update", "spot.obu")
_PARSE_ERRORS = (KeyError, TypeError, ValueError, ArithmeticError)

DepthChannel = Literal["order_book_update", "obu"]


def _with_keepalive(options: WsOptions | None) -> WsOptions:
    """Gate wants its application ping (it resets the server's idle timer): options that set
    no keepalive get the SDK's period."""
    if options is None:
        return WsOptions(keepalive_s=KEEPALIVE_S)
    if options.keepalive_s <= 0:
        return dataclasses.replace(options, keepalive_s=KEEPALIVE_S)
    return options


class _Connection:
    """One `/ws/v4/` connection: its symbols' streams, frame handler, sync and requests."""

    def __init__(self, feed: GateBookFeed, instruments: list[Instrument], name: str) -> None:
        self.feed = feed
        self.name = name
        self.symbols = [inst.symbol for inst in instruments]
        self.index = {symbol: i for i, symbol in enumerate(self.symbols)}
        streams = [
            BookStream(
                inst,
                GateDepthDecoder.from_instrument(inst, feed.options.book_capacity),
                feed.books[inst.symbol],
                feed.depth_key(inst.symbol),
            )
            for inst in instruments
        ]
        self.frame_handler = GateFrameHandler(streams, feed.events.on_book)
        self.sync: SnapshotSync | PushSync
        if feed.fetcher is None:
            self.sync = PushSync(feed, self.frame_handler, self.resubscribe)
        else:
            self.sync = SnapshotSync(
                feed, self.frame_handler, feed.fetcher, SyncRule(straddle_first=True)
            )
        self._depth_requests: dict[int, str] = {}  # request id -> symbol, until acked
        self._next_id = 0
        self.conn: WsConnection | None = None

    # -- requests -------------------------------------------------------------------------

    def _request(self, channel: str, event: str, payload: list[str]) -> int:
        self._next_id += 1
        if self.conn is not None:
            doc = {
                "time": self.feed.clock.time_ns() // NS_PER_SECOND,
                "id": self._next_id,
                "channel": channel,
                "event": event,
                "payload": payload,
            }
            self.conn.send_text(orjson.dumps(doc))
        return self._next_id

    def _subscribe_depth(self, symbol: str) -> None:
        # one request a symbol: the venue's answer (by id) then says which book it concerns
        channel, payload = self.feed.depth_subscription(symbol)
        self._depth_requests[self._request(channel, "subscribe", payload)] = symbol

    def subscribe_all(self) -> None:
        for symbol in self.symbols:
            self._subscribe_depth(symbol)
        self._request("spot.trades", "subscribe", list(self.symbols))
        self._request("spot.book_ticker", "subscribe", list(self.symbols))

    def resubscribe(self, symbol: str) -> None:
        """PushSync's resync of one obu stream: a new subscription starts with a full push."""
        channel, payload = self.feed.depth_subscription(symbol)
        self._request(channel, "unsubscribe", payload)
        self._subscribe_depth(symbol)

    # -- sync -----------------------------------------------------------------------------

    @property
    def rejected(self) -> set[str]:
        """Symbols whose depth subscription this socket refused: held pulled."""
        return {self.symbols[index] for index in self.sync.held}

    def resync_all(self, reason: str) -> None:
        self.sync.resync_all(reason)

    def on_ack(self, doc: dict[str, Any]) -> None:
        ident = doc.get("id")
        symbol = self._depth_requests.pop(ident, None) if isinstance(ident, int) else None
        error = doc.get("error")
        if not error:
            return
        channel, event = doc.get("channel"), doc.get("event")
        self.feed.log.error(
            "gate %s: %s %s %s refused: %s", self.name, channel, event, doc.get("payload"), error
        )
        if channel not in DEPTH_CHANNELS or event != "subscribe":
            return
        # no depth will come: keep the book pulled rather than trading a frozen one
        symbols = [symbol] if symbol is not None else self._symbols_of(doc.get("payload"))
        for refused in symbols:
            self.sync.hold(self.index[refused], f"depth subscription refused: {error}")

    def _symbols_of(self, payload: object) -> list[str]:
        """The symbols a depth request's payload names (an answer without our id); all of
        the connection's when it names none of them."""
        names = payload if isinstance(payload, list) else []
        found = []
        for name in names:
            if isinstance(name, str):
                pair = name.split(".")[1] if name.count(".") == 2 else name  # ob.PAIR.depth
                if pair in self.index:
                    found.append(pair)
        return found or list(self.symbols)

    # -- WsHandler ------------------------------------------------------------------------

    def on_open(self, conn: WsConnection) -> None:
        self.conn = conn
        self.sync.release_all()
        self._depth_requests.clear()
        self.subscribe_all()
        if isinstance(self.sync, SnapshotSync):
            self.sync.resync_all("connected")
        # obu: the subscriptions just sent bring a full push each

    def on_message(self, payload: memoryview, status: int, recv_ns: int) -> None:
        if not self.sync.on_status(payload, status):
            self.feed.on_other(self, payload)

    def on_close(self, reason: str) -> None:
        self.sync.halt_all()
        self.feed.mark_all_not_ready(f"disconnected: {reason}", self.symbols)

    def keepalive(self, conn: WsConnection) -> None:
        """Gate's application-level ping (it also resets the server's idle timer)."""
        conn.send_text(
            orjson.dumps(
                {"time": self.feed.clock.time_ns() // NS_PER_SECOND, "channel": "spot.ping"}
            )
        )


class GateBookFeed(BookFeed):
    """Gate books, trades and best bid/offer over connections of up to
    `symbols_per_connection` symbols each (module docstring: sync rules, resyncs)."""

    venue = "gate"

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
        depth_channel: DepthChannel = "order_book_update",
        interval: str = "100ms",
        obu_depth: int = 400,
        snapshot_limit: int = 100,
        symbols_per_connection: int = SYMBOLS_PER_CONNECTION,
        seed: int | None = None,
        ca_file: str = "",
    ) -> None:
        if depth_channel not in ("order_book_update", "obu"):
            raise ValueError(f"unknown Gate depth channel {depth_channel!r}")
        if symbols_per_connection < 1:
            raise ValueError(f"symbols_per_connection must be >= 1, got {symbols_per_connection}")
        super().__init__(instruments, events, clock=clock, options=options)
        self.rest_url = rest_url.rstrip("/")
        self.ca_file = ca_file  # verifies https:// and wss:// ('' = the system trust store)
        self.ws_url = ws_url
        self.ws_options = _with_keepalive(ws_options)
        self.depth_channel = depth_channel
        self.interval = interval
        self.obu_depth = obu_depth
        self.snapshot_limit = snapshot_limit
        self.fetcher: SnapshotFetcher | None = None
        if not self.uses_obu:
            self.fetcher = SnapshotFetcher(
                self,
                f"{self.rest_url}/spot/order_book",
                lambda symbol: {
                    "currency_pair": symbol,
                    "limit": str(snapshot_limit),
                    "with_id": "true",
                },
                ca_file=ca_file,
            )
        self._seed = seed
        insts = list(self.instruments.values())
        n = symbols_per_connection
        self.connections = [
            _Connection(self, insts[i : i + n], f"gate:{i // n}") for i in range(0, len(insts), n)
        ]
        self._of_symbol = {s: c for c in self.connections for s in c.symbols}
        self.last_trade_price = dict.fromkeys(self.instruments, Decimal(0))
        self.last_trade_qty = dict.fromkeys(self.instruments, Decimal(0))
        self.pongs = 0

    @property
    def uses_obu(self) -> bool:
        return self.depth_channel == "obu"

    def depth_subscription(self, symbol: str) -> tuple[str, list[str]]:
        """(channel, payload) of `symbol`'s depth subscription."""
        if self.uses_obu:
            return "spot.obu", [f"ob.{symbol}.{self.obu_depth}"]
        return "spot.order_book_update", [symbol, self.interval]

    def depth_key(self, symbol: str) -> bytes:
        """The routing key of `symbol`'s depth pushes: their `result.s`."""
        return f"ob.{symbol}.{self.obu_depth}".encode() if self.uses_obu else symbol.encode()

    # -- lifecycle ------------------------------------------------------------------------

    async def _on_start(self) -> None:
        for i, connection in enumerate(self.connections):
            connection.conn = WsConnection(
                self.ws_url,
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
        if self.fetcher is not None:
            await self.fetcher.close()

    def connection_counters(self, symbol: str) -> dict[str, int]:
        conn = self._of_symbol[symbol].conn
        return {} if conn is None else conn.counters_dict()

    def connection_of(self, symbol: str) -> WsConnection | None:
        return self._of_symbol[symbol].conn

    def stream(self, symbol: str) -> BookStream:
        connection = self._of_symbol[symbol]
        return connection.frame_handler.stream(connection.index[symbol])

    def sync_of(self, symbol: str) -> tuple[SnapshotSync | PushSync, int]:
        """The sync machine of `symbol` and its stream index there."""
        connection = self._of_symbol[symbol]
        return connection.sync, connection.index[symbol]

    # -- everything the fast path leaves (orjson: not the dominant traffic) ---------------

    def on_other(self, connection: _Connection, payload: memoryview) -> None:
        """Trades, book ticker, pongs, acks, `upgrade`, and depth pushes the handler could
        not route to a stream of this connection."""
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            self._unattributable(connection, f"malformed frame: {exc}")
            return
        if not isinstance(doc, dict):
            self._unattributable(connection, "malformed frame: not a JSON object")
            return
        channel, event = doc.get("channel"), doc.get("event")
        if channel in DEPTH_CHANNELS and event in (None, "update"):  # obu pushes carry none
            self._stray_depth(connection, doc)
        elif event == "update" and channel in ("spot.trades", "spot.book_ticker"):
            result = doc.get("result")
            try:
                if channel == "spot.trades":
                    self._trade(connection, result)  # type: ignore[arg-type]
                else:
                    self._ticker(connection, result)  # type: ignore[arg-type]
            except _PARSE_ERRORS as exc:
                self._bad_market_data(connection, channel, result, exc)
        elif channel == "spot.pong":
            self.pongs += 1
        elif event in ("subscribe", "unsubscribe"):
            connection.on_ack(doc)
        elif event == "upgrade" and connection.conn is not None:
            connection.conn.reconnect("server asked for a reconnect (upgrade)")
        # anything else (spot.order_book snapshots, unknown channels) is ignored

    def _unattributable(self, connection: _Connection, reason: str) -> None:
        """A frame nobody can tell the stream of: every book of the connection."""
        self.unattributable(connection.symbols, connection.name, reason)
        connection.resync_all(reason)

    def _stray_depth(self, connection: _Connection, doc: dict[str, Any]) -> None:
        """Valid JSON on a depth channel the handler could not route (result.s unreadable to
        its router, e.g. escaped): the book it names, or all of them when it names none."""
        result = doc.get("result")
        name = result.get("s") if isinstance(result, dict) else None
        if not isinstance(name, str):
            self._unattributable(connection, "depth push without a readable symbol")
            return
        index = connection.frame_handler.index_of(name.encode(errors="replace"))
        if index < 0:
            return  # a stream this connection did not ask for
        symbol = connection.symbols[index]
        self.counters[symbol].decode_errors += 1
        reason = "malformed depth frame (unroutable)"
        self.warn_burst(symbol, "gate %s: %s", symbol, reason)
        connection.sync.resync(index, reason)

    def _bad_market_data(
        self, connection: _Connection, channel: str, result: object, exc: Exception
    ) -> None:
        """A trade or ticker with a field missing or unreadable. Counted against its symbol
        (every symbol of the connection when the pair itself is unreadable); no book is
        resynced: these frames never touch one."""
        key = "currency_pair" if channel == "spot.trades" else "s"
        pair = result.get(key) if isinstance(result, dict) else None
        symbols = [pair] if isinstance(pair, str) and pair in connection.index else None
        for symbol in symbols or connection.symbols:
            self.counters[symbol].decode_errors += 1
        self.warn_burst(
            connection.name, "gate %s: dropped a %s frame: %r", connection.name, channel, exc
        )

    def _trade(self, connection: _Connection, data: dict[str, Any]) -> None:
        symbol = data["currency_pair"]
        if symbol not in connection.index:
            return  # a pair we did not ask for
        if not self.fresh_trade(symbol, int(data["id"])):
            return
        price = Decimal(data["price"])
        qty = Decimal(data["amount"])
        self.last_trade_price[symbol] = price
        self.last_trade_qty[symbol] = qty
        trade = Trade(
            self.venue,
            symbol,
            price,
            qty,
            OrderSide.BUY if data["side"] == "buy" else OrderSide.SELL,
            str(data["id"]),
            int(Decimal(data["create_time_ms"]) * NS_PER_MS),
        )
        self.tap.append(trade)
        self.events.on_trade(trade)

    def _ticker(self, connection: _Connection, data: dict[str, Any]) -> None:
        symbol = data["s"]
        if symbol not in connection.index:
            return
        inst = self.instruments[symbol]
        md = MarketData(
            self.venue,
            symbol,
            self._price(inst, data["b"]),
            self._price(inst, data["a"]),
            self.last_trade_price[symbol],
            self.last_trade_qty[symbol],
            int(data["t"]) * NS_PER_MS,
        )
        self.tap.append(md)
        self.events.on_market_data(md)

    @staticmethod
    def _price(inst: Instrument, text: str) -> Decimal:
        # an empty side comes as ""
        return inst.price_grid.to_decimal(inst.price_to_ticks(text)) if text else Decimal(0)


__all__ = ["KEEPALIVE_S", "SYMBOLS_PER_CONNECTION", "GateBookFeed"]
