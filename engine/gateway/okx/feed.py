"""OKX spot market data: `books` kept in sync by seqId chaining (and the legacy CRC32
checksum while OKX still sends it), trades and best bid/offer, every instrument on one
public connection.

A depth push goes from the socket to the book and on_book in one C call: the connection's
OkxFrameHandler routes it by its first bytes (`{"arg":{"channel":"books","instId":"BTC-USDT"`,
which OKX always puts first), decodes it, checks the seqId chain and the checksum, applies it
and publishes (docs/VENUES.md §2.4; the rule itself is in engine/_core/frame_handler.pyx).
Python sees only the other statuses (`_Connection.on_message`):

- a whole book (the snapshot after a subscription) marks the book ready;
- a gap, a checksum mismatch, a crossed book or a malformed depth push marks that book not
  ready and resubscribes that instId alone (unsubscribe + subscribe, `PushSync`) for a fresh
  snapshot; the other instruments on the connection are untouched;
- everything else (trades, bbo-tbt, `pong`, acks, errors, notices) is parsed with orjson.
  A push in another key order is routed there by its `arg`; a depth push found that way goes
  through the same frame handler rule (`FrameHandler.replay`, then `publish`), so the book
  cannot tell which path a push took. A frame that is not JSON cannot be blamed on one
  instrument: every book counts a decode error and resyncs.

Subscribe budget: OKX allows 480 subscribe/unsubscribe/login requests per connection per
hour. Every request the feed sends is spent from a sliding one-hour window on the engine clock
(`RequestBudget`, at most `subscribe_budget`, 450 by default, to keep a margin). A resync
that does not fit waits, its book still not ready, and is retried by a timer on the engine
clock when the window frees; waiting resyncs go out together, many instIds per request, and a
resync of every book (a frame that is not JSON) is sent that way too. A new connection starts
a new budget. OKX closes a connection idle for 30 s: the text `ping` goes out every
`keepalive_s` (20 s unless the caller sets one).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import orjson

from engine._core import frame_handler as fh
from engine._core.depth_decode import OkxBooksDecoder
from engine._core.frame_handler import BookStream, OkxFrameHandler
from engine.clock import NS_PER_MS, NS_PER_SECOND, Clock, TimerHandle
from engine.data.feed import BookFeed, FeedOptions
from engine.data.sync import PushSync
from engine.events import EventHandler, Trade
from engine.gateway.ws import WsConnection, WsOptions
from engine.model.enums import OrderSide
from engine.model.instrument import Instrument
from engine.model.market_data import MarketData

KEEPALIVE_S = 20.0  # OKX closes after 30 s without traffic (close code 4004)
CHANNELS = ("books", "bbo-tbt", "trades")
DEPTH_CHANNELS = ("books", "books-l2-tbt", "books50-l2-tbt")
SUBSCRIBE_BATCH = 300  # args per subscribe request (about 15 KB; OKX: all args under 64 KB)
REQUESTS_PER_HOUR = 480  # OKX: subscribe/unsubscribe/login requests per connection per hour
SUBSCRIBE_BUDGET = 450  # what the feed spends of them: a margin for OKX's own accounting
BUDGET_WINDOW_NS = 3600 * NS_PER_SECOND
_RESYNC_REQUESTS = 2  # unsubscribe + subscribe
_RETRY_MARGIN_NS = NS_PER_MS  # retry just after the oldest request leaves the window
_PARSE_ERRORS = (KeyError, IndexError, TypeError, ValueError, ArithmeticError)


def depth_key(channel: str, inst_id: str) -> bytes:
    """The routing key of an instrument's depth pushes: their first bytes through the closing
    quote of the instId, as okx_route extracts them:
    b'{"arg":{"channel":"books","instId":"BTC-USDT"'."""
    return orjson.dumps({"arg": {"channel": channel, "instId": inst_id}})[:-2]


class RequestBudget:
    """Requests sent on one connection within the last `window_ns` of the engine clock, and
    how many more may go: `spend(n)` takes all n now or none."""

    def __init__(self, clock: Clock, limit: int, window_ns: int = BUDGET_WINDOW_NS) -> None:
        if limit < 1 or window_ns <= 0:
            raise ValueError(f"a budget needs limit >= 1 and window > 0, got {limit}, {window_ns}")
        self.clock = clock
        self.limit = limit
        self.window_ns = window_ns
        self._sent: collections.deque[int] = collections.deque()  # monotonic_ns of each

    def _expire(self) -> int:
        now = self.clock.monotonic_ns()
        horizon = now - self.window_ns
        sent = self._sent
        while sent and sent[0] <= horizon:
            sent.popleft()
        return now

    @property
    def used(self) -> int:
        """Requests still inside the window."""
        self._expire()
        return len(self._sent)

    def spend(self, n: int) -> bool:
        now = self._expire()
        if len(self._sent) + n > self.limit:
            return False
        self._sent.extend(itertools.repeat(now, n))
        return True

    def wait_ns(self, n: int) -> int:
        """How long until `n` requests fit (0: now)."""
        if n > self.limit:
            raise ValueError(f"{n} requests never fit a budget of {self.limit}")
        now = self._expire()
        excess = len(self._sent) + n - self.limit
        if excess <= 0:
            return 0
        return self._sent[excess - 1] + self.window_ns - now

    def reset(self) -> None:
        """A new connection: nothing spent."""
        self._sent.clear()


def _with_keepalive(ws_options: WsOptions | None) -> WsOptions:
    """OKX needs its text ping: a missing keepalive gets the default period."""
    if ws_options is None:
        return WsOptions(keepalive_s=KEEPALIVE_S)
    if ws_options.keepalive_s <= 0:
        return dataclasses.replace(ws_options, keepalive_s=KEEPALIVE_S)
    return ws_options


class _Connection:
    """The public connection: every instrument's stream, the frame handler, the sync and the
    subscribe budget (one per connection, as OKX counts it)."""

    def __init__(self, feed: OkxBookFeed, verify_checksum: bool, budget: int) -> None:
        self.feed = feed
        self.name = "okx:public"
        self.symbols = list(feed.instruments)
        self.index = {symbol: i for i, symbol in enumerate(self.symbols)}
        streams = [
            BookStream(
                inst,
                OkxBooksDecoder.from_instrument(inst, feed.options.book_capacity),
                feed.books[inst.symbol],
                depth_key(feed.depth_channel, inst.symbol),
            )
            for inst in feed.instruments.values()
        ]
        self.frame_handler = OkxFrameHandler(
            streams, feed.events.on_book, verify_checksum=verify_checksum
        )
        self.sync = PushSync(feed, self.frame_handler, self.resubscribe)
        self.budget = RequestBudget(feed.clock, budget)
        self.conn: WsConnection | None = None
        self._ids = itertools.count(1)
        # resubscriptions waiting for budget, oldest first (a dict: ordered, no duplicates)
        self._waiting: dict[str, None] = {}
        self._collecting = False  # inside resync_all: resubscriptions are sent together
        self._timer: TimerHandle | None = None
        self._stalled = False  # a burst is waiting for budget (logged once)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    # -- requests -------------------------------------------------------------------------

    def _connected(self) -> WsConnection | None:
        conn = self.conn
        return conn if conn is not None and conn.connected else None

    def _send(self, conn: WsConnection, op: str, args: list[dict[str, str]]) -> None:
        conn.send_text(orjson.dumps({"id": str(next(self._ids)), "op": op, "args": args}))

    def subscribe_all(self, conn: WsConnection) -> None:
        """A fresh connection: every channel of every instrument, every book waits for its
        snapshot."""
        self.sync.halt_all()
        args = [
            {"channel": channel, "instId": symbol}
            for symbol in self.symbols
            for channel in self.feed.channels
        ]
        batches = [args[i : i + SUBSCRIBE_BATCH] for i in range(0, len(args), SUBSCRIBE_BATCH)]
        # the constructor checked that a fresh budget holds these with room for resyncs
        if not self.budget.spend(len(batches)):
            self.feed.log.error("okx: the subscriptions do not fit the request budget")
            return
        for batch in batches:
            self._send(conn, "subscribe", batch)

    def resubscribe(self, symbol: str) -> None:
        """PushSync's request for a fresh snapshot of `symbol`: unsubscribe + subscribe its
        depth channel, now if the budget allows, else when it frees."""
        if self._connected() is None:
            return  # on_open subscribes everything again
        self._waiting[symbol] = None
        if not self._collecting:
            self.flush()

    def resync_all(self, reason: str) -> None:
        """Every book back to syncing, resubscribed in as few requests as the batch allows."""
        self._collecting = True
        try:
            self.sync.resync_all(reason)
        finally:
            self._collecting = False
        self.flush()

    def flush(self) -> None:
        """Send the waiting resubscriptions the budget allows, oldest first, up to
        SUBSCRIBE_BATCH instIds per request; the rest wait for the retry timer."""
        waiting = self._waiting
        handler, index = self.frame_handler, self.index
        for symbol in [s for s in waiting if handler.stream(index[s]).live]:
            del waiting[symbol]  # a snapshot arrived meanwhile: nothing left to ask for
        conn = self._connected()
        if conn is None:
            self._forget()  # on_open subscribes everything again
            return
        depth = self.feed.depth_channel
        while waiting and self.budget.spend(_RESYNC_REQUESTS):
            chunk = list(itertools.islice(waiting, SUBSCRIBE_BATCH))
            args = [{"channel": depth, "instId": symbol} for symbol in chunk]
            self._send(conn, "unsubscribe", args)
            self._send(conn, "subscribe", args)
            for symbol in chunk:
                del waiting[symbol]
            self.feed.resubscribes += len(chunk)
        if waiting:
            self._stall()
        elif self._stalled:
            self._stalled = False
            self.feed.log.info("okx: subscribe budget free again; waiting resyncs sent")

    def _stall(self) -> None:
        delay = self.budget.wait_ns(_RESYNC_REQUESTS) + _RETRY_MARGIN_NS
        if not self._stalled:
            self._stalled = True
            self.feed.budget_stalls += 1
            self.feed.log.warning(
                "okx: subscribe budget spent (%d requests in the last hour, limit %d): "
                "%d resync(s) wait %.1f s",
                self.budget.used,
                self.budget.limit,
                len(self._waiting),
                delay / NS_PER_SECOND,
            )
        if self._timer is None:
            self._timer = self.feed.clock.call_later(delay, self._retry)

    def _retry(self) -> None:
        self._timer = None
        try:
            self.flush()
        except Exception:  # nothing may escape into the clock (a SimClock driver aborts)
            self.feed.log.exception("okx: retrying waiting resyncs failed")

    def _forget(self) -> None:
        """Nothing waits for budget any more."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting.clear()
        self._stalled = False

    def halt(self) -> None:
        """The connection is gone: no book syncs, nothing waits for budget."""
        self._forget()
        self.sync.halt_all()

    # -- WsHandler ------------------------------------------------------------------------

    def on_open(self, conn: WsConnection) -> None:
        self.halt()
        self.budget.reset()  # OKX counts per connection
        self.subscribe_all(conn)

    def on_message(self, payload: memoryview, status: int, recv_ns: int) -> None:
        if not self.sync.on_status(payload, status):
            self.feed.on_other(payload, recv_ns)

    def on_close(self, reason: str) -> None:
        self.halt()
        self.feed.mark_all_not_ready(f"disconnected: {reason}", self.symbols)

    def keepalive(self, conn: WsConnection) -> None:
        conn.send_text("ping")


class OkxBookFeed(BookFeed):
    venue = "okx"

    def __init__(
        self,
        instruments: Iterable[Instrument],
        events: EventHandler,
        *,
        ws_url: str,
        clock: Clock,
        options: FeedOptions | None = None,
        ws_options: WsOptions | None = None,
        verify_checksum: bool = True,
        depth_channel: str = "books",
        subscribe_budget: int = SUBSCRIBE_BUDGET,
        seed: int | None = None,
        ca_file: str = "",
    ) -> None:
        super().__init__(instruments, events, clock=clock, options=options)
        if depth_channel not in DEPTH_CHANNELS:
            raise ValueError(
                f"depth_channel must be one of {DEPTH_CHANNELS}, got {depth_channel!r}"
            )
        initial = -(-len(self.instruments) * len(CHANNELS) // SUBSCRIBE_BATCH)
        if not initial + _RESYNC_REQUESTS <= subscribe_budget <= REQUESTS_PER_HOUR:
            raise ValueError(
                f"subscribe_budget must be in {initial + _RESYNC_REQUESTS}..{REQUESTS_PER_HOUR} "
                f"(subscribing {len(self.instruments)} instruments takes {initial} requests, "
                f"a resync {_RESYNC_REQUESTS}), got {subscribe_budget}"
            )
        # books-l2-tbt / books50-l2-tbt: same messages, tick by tick (OKX wants a VIP login)
        self.depth_channel = depth_channel
        self.channels = (depth_channel, *CHANNELS[1:])
        self.ws_url = ws_url
        self.ca_file = ca_file  # verifies wss:// ('' = the system trust store)
        self.ws_options = _with_keepalive(ws_options)
        self._seed = seed
        self.resubscribes = 0  # instIds resubscribed for a fresh snapshot
        self.budget_stalls = 0  # bursts of resyncs that had to wait for budget
        self.pongs = 0
        self.venue_errors = 0
        self.last_trade_price = dict.fromkeys(self.instruments, Decimal(0))
        self.last_trade_size = dict.fromkeys(self.instruments, Decimal(0))
        self.connection = _Connection(self, verify_checksum, subscribe_budget)

    # -- lifecycle ------------------------------------------------------------------------

    async def _on_start(self) -> None:
        connection = self.connection
        connection.conn = WsConnection(
            self.ws_url,
            connection,
            clock=self.clock,
            name=connection.name,
            options=self.ws_options,
            ca_file=self.ca_file,
            venue=self.venue,
            seed=self._seed,
        )
        connection.conn.recorder = self.frame_recorder
        connection.conn.start()

    async def _on_stop(self) -> None:
        if self.connection.conn is not None:
            await self.connection.conn.stop()
        self.connection.halt()

    # -- introspection --------------------------------------------------------------------

    @property
    def conn(self) -> WsConnection | None:
        """The one public connection (None before start)."""
        return self.connection.conn

    @property
    def frame_handler(self) -> OkxFrameHandler:
        return self.connection.frame_handler

    @property
    def budget(self) -> RequestBudget:
        return self.connection.budget

    @property
    def verify_checksum(self) -> bool:
        return self.connection.frame_handler.verify_checksum

    @property
    def checksums_checked(self) -> int:
        return self.connection.frame_handler.checksums_checked

    @property
    def resyncs_waiting(self) -> int:
        """Resubscriptions waiting for the subscribe budget."""
        return self.connection.waiting

    def connection_counters(self, symbol: str) -> dict[str, int]:
        del symbol  # one connection carries every instrument
        conn = self.connection.conn
        return {} if conn is None else conn.counters_dict()

    def connection_of(self, symbol: str) -> WsConnection | None:
        del symbol
        return self.connection.conn

    def stream(self, symbol: str) -> BookStream:
        return self.connection.frame_handler.stream(self.connection.index[symbol])

    def sync_of(self, symbol: str) -> tuple[PushSync, int]:
        """The sync machine of `symbol` and its stream index there."""
        return self.connection.sync, self.connection.index[symbol]

    def resync_all(self, reason: str) -> None:
        self.connection.resync_all(reason)

    # -- the slow path: everything the frame handler left (orjson) ------------------------

    def on_other(self, payload: memoryview, recv_ns: int) -> None:
        """pong, events (acks, errors, notices), trades, bbo-tbt, or a push in another key
        order."""
        if len(payload) == 4 and payload.tobytes() == b"pong":
            self.pongs += 1
            return
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            self.malformed_all(f"not JSON: {exc}")
            return
        if not isinstance(doc, dict):
            self.malformed_all("not a JSON object")
            return
        event = doc.get("event")
        if event is not None:
            self._on_event(event, doc)
            return
        arg = doc.get("arg")
        if not isinstance(arg, dict):
            return
        inst_id, channel = arg.get("instId"), arg.get("channel")
        index = self.connection.index.get(inst_id) if isinstance(inst_id, str) else None
        if index is None or channel not in self.channels:
            return  # not a channel we asked for
        symbol = self.connection.symbols[index]
        if channel == self.depth_channel:
            self._books_reordered(index, payload, recv_ns)
            return
        try:
            if channel == "trades":
                self._trades(symbol, doc["data"])
            else:
                self._bbo(symbol, doc["data"][0])
        except _PARSE_ERRORS as exc:
            self.malformed(symbol, f"malformed {channel} frame: {exc!r}")

    def _books_reordered(self, index: int, payload: memoryview, recv_ns: int) -> None:
        """A depth push whose `arg` is not first: the fast path's rule, then on_book."""
        connection = self.connection
        handler = connection.frame_handler
        status = handler.replay(index, payload, recv_ns)  # applies, never publishes
        if status == fh.OK:
            if handler.publish(index) == fh.CALLBACK_ERROR:
                self.callback_failed(handler, index)
        else:
            connection.sync.on_status(payload, status, index)

    def malformed(self, symbol: str, reason: str) -> None:
        """A frame of `symbol` that cannot be read: count it, resync its book."""
        self.counters[symbol].decode_errors += 1
        self.warn_burst(symbol, "okx %s: dropped a frame: %s", symbol, reason)
        sync, index = self.sync_of(symbol)
        sync.resync(index, reason)

    def malformed_all(self, reason: str) -> None:
        """A frame nobody can be blamed for: every book counts it and resyncs."""
        self.unattributable(self.instruments, "public", reason)
        self.resync_all(f"malformed frame: {reason}")

    def _trades(self, symbol: str, items: list[dict[str, Any]]) -> None:
        trades = [self._trade(symbol, item) for item in items]  # all or nothing
        for trade in trades:
            if not self.fresh_trade(symbol, int(trade.trade_id)):
                continue
            self.last_trade_price[symbol] = trade.price
            self.last_trade_size[symbol] = trade.quantity
            self.tap.append(trade)
            self.events.on_trade(trade)

    def _trade(self, symbol: str, item: dict[str, Any]) -> Trade:
        inst = self.instruments[symbol]
        side = item["side"]
        if side not in ("buy", "sell"):
            raise ValueError(f"unknown trade side {side!r}")
        return Trade(
            self.venue,
            symbol,
            inst.ticks_to_price(inst.price_to_ticks(item["px"])),
            inst.lots_to_qty(inst.qty_to_lots(item["sz"])),
            OrderSide.BUY if side == "buy" else OrderSide.SELL,  # OKX gives the taker side
            str(int(item["tradeId"])),
            int(item["ts"]) * NS_PER_MS,
        )

    def _bbo(self, symbol: str, item: dict[str, Any]) -> None:
        bids, asks = item["bids"], item["asks"]
        if not bids or not asks:
            return  # one side empty: no top of book to report
        inst = self.instruments[symbol]
        md = MarketData(
            self.venue,
            symbol,
            inst.ticks_to_price(inst.price_to_ticks(bids[0][0])),
            inst.ticks_to_price(inst.price_to_ticks(asks[0][0])),
            self.last_trade_price[symbol],
            self.last_trade_size[symbol],
            int(item["ts"]) * NS_PER_MS,
        )
        self.tap.append(md)
        self.events.on_market_data(md)

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
            self.log.warning("okx notice %s: %s", doc.get("code"), doc.get("msg"))


__all__ = [
    "CHANNELS",
    "DEPTH_CHANNELS",
    "KEEPALIVE_S",
    "REQUESTS_PER_HOUR",
    "SUBSCRIBE_BATCH",
    "SUBSCRIBE_BUDGET",
    "OkxBookFeed",
    "RequestBudget",
    "depth_key",
]
