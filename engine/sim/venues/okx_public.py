"""OKX public market data over WebSocket: `books`, `books5`, `books-l2-tbt`, `bbo-tbt` and
`trades` (docs/VENUES.md §2.3, §2.4).

One hub per venue listens to the exchange's public events and keeps a mirror of every book,
built only from the DepthUpdates it was given, so every message it sends describes exactly
the book at its `seqId` (the engine itself may already be further on). `seqId` is the
engine's depth update id; each symbol has one sequence shared by all connections.

`books` and `books5` are pushed on a timer (100 ms, only when something changed); a new
`books` subscriber gets its snapshot at the next tick so that it chains into the very next
update. `books-l2-tbt`, `bbo-tbt` and `trades` are pushed as events arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.model.enums import OrderSide
from engine.model.instrument import Instrument
from engine.sim.matching import DepthUpdate, Event, PublicTrade
from engine.sim.venues.okx_conn import Frame, WsConn
from engine.sim.venues.okx_core import NS_PER_S, OkxVenue
from engine.sim.venues.okx_messages import Json, checksum, level_row, ms, px_str, sz_str

BOOK_DEPTH = 400
PUBLIC_CHANNELS = ("books", "books5", "books-l2-tbt", "books50-l2-tbt", "bbo-tbt", "trades")


@dataclass(slots=True)
class _Mirror:
    inst: Instrument
    seq: int
    bids: dict[int, int]
    asks: dict[int, int]
    # `books` timer state: levels changed since the last tick, and that tick's seqId
    changed_bids: set[int] = field(default_factory=set)
    changed_asks: set[int] = field(default_factory=set)
    flushed_seq: int = 0
    flushed_ns: int = 0
    # `trades`: the current aggregate (taker order, price) -> [first msg fields, qty, count]
    trade: tuple[int, int] | None = None
    trade_qty: int = 0
    trade_count: int = 0
    trade_last: PublicTrade | None = None

    def top(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        bids = [(p, self.bids[p]) for p in heapq.nlargest(n, self.bids)]
        asks = [(p, self.asks[p]) for p in heapq.nsmallest(n, self.asks)]
        return bids, asks

    def rows(self, levels: list[tuple[int, int]]) -> list[list[str]]:
        return [level_row(self.inst, p, q) for p, q in levels]


@dataclass(slots=True)
class _Sub:
    conn: WsConn
    arg: Json
    snapshot_due: bool = True


class PublicHub:
    """Fan-out of public events to subscribed connections, per (channel, instId)."""

    def __init__(self, venue: OkxVenue) -> None:
        self.venue = venue
        self.mirrors: dict[str, _Mirror] = {}
        self.subs: dict[tuple[str, str], dict[WsConn, _Sub]] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._ticker: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        engine = self.venue.exchange.engine
        now = self.venue.now_ns()
        for symbol, inst in self.venue.instruments.items():
            seq, bids, asks = engine.depth(symbol, 1 << 30)
            self.mirrors[symbol] = _Mirror(
                inst, seq, dict(bids), dict(asks), flushed_seq=seq, flushed_ns=now
            )
        self._unsubscribe = self.venue.exchange.on_public(self._on_event)
        self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker

    # -- subscriptions --------------------------------------------------------------------

    def subscribe(self, conn: WsConn, channel: str, inst_id: str, arg: Json) -> None:
        sub = _Sub(conn, arg)
        self.subs.setdefault((channel, inst_id), {})[conn] = sub
        if channel in ("books-l2-tbt", "books50-l2-tbt"):
            self._send_snapshot(sub, channel, self.mirrors[inst_id])
        elif channel == "bbo-tbt":
            self._send_bbo(sub, self.mirrors[inst_id], self.venue.now_ns())

    def unsubscribe(self, conn: WsConn, channel: str, inst_id: str) -> bool:
        return self.subs.get((channel, inst_id), {}).pop(conn, None) is not None

    def drop(self, conn: WsConn) -> None:
        for subs in self.subs.values():
            subs.pop(conn, None)

    def _subs(self, channel: str, inst_id: str) -> list[_Sub]:
        return list(self.subs.get((channel, inst_id), {}).values())

    # -- events ---------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        mirror = self.mirrors.get(getattr(event, "symbol", ""))
        if mirror is None:
            return
        if isinstance(event, PublicTrade):
            self._add_trade(mirror, event)
        elif isinstance(event, DepthUpdate) and event.update_id > mirror.seq:
            self._flush_trade(mirror)  # an engine call ends with its DepthUpdate
            self._apply(mirror, event)

    def _apply(self, mirror: _Mirror, event: DepthUpdate) -> None:
        prev = mirror.seq
        old_bbo = mirror.top(1)
        for levels, book, changed in (
            (event.bids, mirror.bids, mirror.changed_bids),
            (event.asks, mirror.asks, mirror.changed_asks),
        ):
            for price, lots in levels:
                if lots:
                    book[price] = lots
                else:
                    book.pop(price, None)
                changed.add(price)
        mirror.seq = event.update_id
        symbol = mirror.inst.symbol
        for channel in ("books-l2-tbt", "books50-l2-tbt"):
            subs = self._subs(channel, symbol)
            if subs:
                msg = self._diff(
                    channel,
                    mirror=mirror,
                    prev=prev,
                    bids=event.bids,
                    asks=event.asks,
                    ts_ns=event.ts_ns,
                )
                for sub in subs:
                    sub.conn.push(Frame("diff", msg))
        bbo_subs = self._subs("bbo-tbt", symbol)
        if bbo_subs and mirror.top(1) != old_bbo:
            for sub in bbo_subs:
                self._send_bbo(sub, mirror, event.ts_ns)

    # -- book messages --------------------------------------------------------------------

    def _checksum(self, mirror: _Mirror) -> int:
        if self.venue.config.checksum == "zero":
            return 0
        bids, asks = mirror.top(25)
        inst = mirror.inst
        return checksum(
            [(px_str(inst, p), sz_str(inst, q)) for p, q in bids],
            [(px_str(inst, p), sz_str(inst, q)) for p, q in asks],
        )

    def _snapshot_msg(self, channel: str, mirror: _Mirror) -> Json:
        depth = 50 if channel == "books50-l2-tbt" else BOOK_DEPTH
        bids, asks = mirror.top(depth)
        data = {
            "asks": mirror.rows(asks),
            "bids": mirror.rows(bids),
            "ts": ms(self.venue.now_ns()),
            "checksum": self._checksum(mirror),
            "prevSeqId": -1,
            "seqId": mirror.seq,
        }
        return {
            "arg": {"channel": channel, "instId": mirror.inst.symbol},
            "action": "snapshot",
            "data": [data],
        }

    def _send_snapshot(self, sub: _Sub, channel: str, mirror: _Mirror) -> None:
        sub.snapshot_due = False
        sub.conn.push(Frame("book", self._snapshot_msg(channel, mirror)))

    def _diff(
        self,
        channel: str,
        *,
        mirror: _Mirror,
        prev: int,
        bids: tuple[tuple[int, int], ...] | list[tuple[int, int]],
        asks: tuple[tuple[int, int], ...] | list[tuple[int, int]],
        ts_ns: int,
    ) -> Json:
        data = {
            "asks": mirror.rows(list(asks)),
            "bids": mirror.rows(list(bids)),
            "ts": ms(ts_ns),
            "checksum": self._checksum(mirror),
            "prevSeqId": prev,
            "seqId": mirror.seq,
        }
        return {
            "arg": {"channel": channel, "instId": mirror.inst.symbol},
            "action": "update",
            "data": [data],
        }

    def _send_bbo(self, sub: _Sub, mirror: _Mirror, ts_ns: int) -> None:
        bids, asks = mirror.top(1)
        data = {
            "asks": mirror.rows(asks),
            "bids": mirror.rows(bids),
            "ts": ms(ts_ns),
            "seqId": mirror.seq,
        }
        sub.conn.push(Frame("msg", {"arg": sub.arg, "data": [data]}))

    # -- timer channels: books, books5 ----------------------------------------------------

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.venue.config.books_interval_s)
            now = self.venue.now_ns()
            for mirror in self.mirrors.values():
                self._tick(mirror, now)

    def _tick(self, mirror: _Mirror, now: int) -> None:
        symbol = mirror.inst.symbol
        changed = mirror.seq != mirror.flushed_seq
        heartbeat = now - mirror.flushed_ns >= int(self.venue.config.heartbeat_s * NS_PER_S)
        if changed or heartbeat:
            listening = [sub for sub in self._subs("books", symbol) if not sub.snapshot_due]
            if listening:  # the message (and its checksum) only when someone gets it
                bids = sorted(
                    ((p, mirror.bids.get(p, 0)) for p in mirror.changed_bids), reverse=True
                )
                asks = sorted((p, mirror.asks.get(p, 0)) for p in mirror.changed_asks)
                # a heartbeat repeats the last seqId with no levels (docs/VENUES.md §2.4 item 3)
                diff = self._diff(
                    "books", mirror=mirror, prev=mirror.flushed_seq, bids=bids, asks=asks, ts_ns=now
                )
                for sub in listening:
                    sub.conn.push(Frame("diff", diff))
            mirror.changed_bids.clear()
            mirror.changed_asks.clear()
            mirror.flushed_seq = mirror.seq
            mirror.flushed_ns = now
        for sub in self._subs("books", symbol):
            if sub.snapshot_due:
                self._send_snapshot(sub, "books", mirror)
        for sub in self._subs("books5", symbol):
            if changed or sub.snapshot_due:
                sub.snapshot_due = False
                bids5, asks5 = mirror.top(5)
                data = {
                    "asks": mirror.rows(asks5),
                    "bids": mirror.rows(bids5),
                    "instId": symbol,
                    "ts": ms(now),
                    "seqId": mirror.seq,
                }
                sub.conn.push(Frame("msg", {"arg": sub.arg, "data": [data]}))

    # -- trades ---------------------------------------------------------------------------

    def _add_trade(self, mirror: _Mirror, trade: PublicTrade) -> None:
        """OKX aggregates the matches of one taker order at one price into one message."""
        key = (trade.taker_order_id, trade.price)
        if mirror.trade != key:
            self._flush_trade(mirror)
            mirror.trade = key
        mirror.trade_qty += trade.qty
        mirror.trade_count += 1
        mirror.trade_last = trade

    def _flush_trade(self, mirror: _Mirror) -> None:
        last = mirror.trade_last
        if last is not None:
            inst = mirror.inst
            data = {
                "instId": inst.symbol,
                "tradeId": str(last.trade_id),  # the last trade id of the aggregate
                "px": px_str(inst, last.price),
                "sz": sz_str(inst, mirror.trade_qty),
                "side": "buy" if last.taker_side is OrderSide.BUY else "sell",
                "ts": ms(last.ts_ns),
                "count": str(mirror.trade_count),
                "seqId": mirror.seq,
            }
            for sub in self._subs("trades", inst.symbol):
                sub.conn.push(Frame("msg", {"arg": sub.arg, "data": [data]}))
        mirror.trade = None
        mirror.trade_qty = mirror.trade_count = 0
        mirror.trade_last = None
