"""The order manager's durable trail: the order journal and the history rows.

Every request is journaled (INTENT) before its bytes go out, and every change the order
table applies (a state, a fill) is journaled (CHANGE) as it is applied
(engine/storage/journal.py). The same events become rows for the storage writer: `orders`
(one row per order, upserted as it changes), `order_events` and `fills`. Rows are buffered
as grid ints and turned into Decimals by the writer at its flush (`converters`), off the hot
path.

At start, `open_orders_in(journal)` reads back the orders that were still live when the last
run stopped (or died): the order manager takes them into its table before reconciling with
the venue, so not one is orphaned. `safe_to_compact()` says up to which journal record the
database holds everything and no live order needs the record any more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.storage.journal import (
    CHANGE,
    INTENT,
    ChangeRecord,
    IntentAction,
    IntentRecord,
    Journal,
    decode_order_event,
    encode_change,
    encode_intent,
)
from engine.storage.writer import StorageWriter

log = logging.getLogger("engine.oms")

_ENDED = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)
_SIDE_TEXT = {OrderSide.BUY: "BUY", OrderSide.SELL: "SELL"}


@dataclass(slots=True)
class _Order:
    """What the `orders` row of a live order is made of (grid units)."""

    index: int
    side: OrderSide
    order_type: OrderType
    tif: TimeInForce
    price_ticks: int
    qty_lots: int
    created_ns: int
    intent_seq: int  # its first journal record: compaction keeps it while the order lives
    filled_lots: int = 0
    venue_order_id: str = ""
    updated_ns: int = 0  # the row's version: our clock, strictly increasing per order


@dataclass(frozen=True, slots=True)
class LiveOrder:
    """An order the journal says was live when the last run ended."""

    client_order_id: str
    instrument: Instrument
    side: OrderSide
    order_type: OrderType
    time_in_force: TimeInForce
    price_ticks: int
    qty_lots: int
    filled_lots: int
    created_ns: int  # when its INTENT was written: the `orders` row's key with its id


class OrderPersistence:
    def __init__(
        self,
        instruments: Sequence[Instrument],
        journal: Journal | None,
        writer: StorageWriter | None,
    ) -> None:
        self.instruments = tuple(instruments)
        self.journal = journal
        self.writer = writer
        self._orders: dict[str, _Order] = {}
        put = (lambda table: writer.buffer(table).put) if writer is not None else None
        self._put_order: Callable[[tuple[Any, ...]], None] | None = put("orders") if put else None
        self._put_event = put("order_events") if put else None
        self._put_fill = put("fills") if put else None
        self.errors = 0
        self.spilled_from = 0  # first journal record whose rows the writer left out (0: none)
        # the orders as they stood at spilled_from: a rebuild from there needs them to make the
        # `orders` rows of orders opened before it (their INTENT is not replayed)
        self._spilled_orders: dict[str, _Order] = {}
        self._replaying = 0  # the journal record rebuild() is turning into rows now
        self._replay: OrderPersistence | None = None  # the helper rebuild() fills meanwhile
        if writer is not None and journal is not None:  # a rebuild's helper has no journal
            for buffer in writer.buffers.values():
                if buffer.critical:
                    buffer.on_spill = self.spilled

    # ------------------------------------------------------------------ the writer's side

    def converters(self) -> dict[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]]:
        """What the writer applies at its flush: grid ints -> the tables' Decimals."""
        instruments = self.instruments

        def order_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
            cid, index, side, otype, tif, price, qty, status, vid, created, updated = row
            inst = instruments[index]
            return (
                cid, inst.venue, inst.symbol, side, otype, tif,
                inst.ticks_to_price(price) if price else None, inst.lots_to_qty(qty),
                status, vid, created, updated,
            )  # fmt: skip

        def event_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
            ts, cid, index, event, status, price, qty, filled, reason = row
            inst = instruments[index]
            return (
                ts, cid, inst.venue, inst.symbol, event, status,
                inst.ticks_to_price(price) if price else None, inst.lots_to_qty(qty),
                inst.lots_to_qty(filled), reason,
            )  # fmt: skip

        def fill_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
            ts, index, side, price, lots, fee, fee_asset, trade_id, cid, vid, recv = row
            inst = instruments[index]
            return (
                ts, inst.venue, inst.symbol, side, inst.ticks_to_price(price),
                inst.lots_to_qty(lots), fee, fee_asset, trade_id, cid, vid, recv,
            )  # fmt: skip

        return {"orders": order_row, "order_events": event_row, "fills": fill_row}

    # ------------------------------------------------------------------ events in

    def intent(  # noqa: PLR0917 - the request's fields
        self,
        cid: str,
        index: int,
        side: OrderSide,
        order_type: OrderType,
        tif: TimeInForce,
        price_ticks: int,
        qty_lots: int,
        now_ns: int,
        action: IntentAction,
        more: bool = False,
    ) -> None:
        """A request about to be sent: journaled first (raises JournalError when it cannot
        be: the caller must not send), then its rows. `more`: kept in the journal's buffer
        until `flush()` (one write for a whole pass of the intent sink; nothing of it may be
        sent before that flush)."""
        inst = self.instruments[index]
        seq = 0
        if self.journal is not None:
            seq = self.journal.append(
                INTENT,
                encode_intent(
                    cid, inst.venue, inst.symbol, side, order_type, tif, price_ticks, qty_lots,
                    now_ns, action,
                ),
                more=more,
            )  # fmt: skip
        order = self._orders.get(cid)
        if action is IntentAction.NEW:
            order = _Order(index, side, order_type, tif, price_ticks, qty_lots, now_ns, seq)
            self._orders[cid] = order
        elif action is IntentAction.AMEND and order is not None:
            order.price_ticks, order.qty_lots = price_ticks, qty_lots
        if self._put_event is not None:
            self._put_event(
                (now_ns, cid, index, action.value, "", price_ticks, qty_lots,
                 order.filled_lots if order else 0, "")
            )  # fmt: skip
        if action is IntentAction.NEW:
            self._row(cid, order, OrderStatus.PENDING_NEW, now_ns)

    def flush(self) -> None:
        """Write the intents kept with `more` (JournalError when it cannot: send none)."""
        if self.journal is not None:
            self.journal.flush()

    def change(  # noqa: PLR0917 - the change's fields
        self,
        cid: str,
        index: int,
        side: OrderSide,
        status: OrderStatus,
        cum_lots: int,
        fill_lots: int = 0,
        fill_price_ticks: int = 0,
        trade_id: str = "",
        fee: Decimal = Decimal(0),
        fee_asset: str = "",
        venue_order_id: str = "",
        reason: str = "",
        ts_ns: int = 0,
        recv_ns: int = 0,
    ) -> None:
        """A change the order table applied (a state, a fill): journaled, then its rows."""
        inst = self.instruments[index]
        if self.journal is not None:
            try:
                self.journal.append(
                    CHANGE,
                    encode_change(
                        cid, inst.venue, inst.symbol, side, status, cum_lots, fill_lots,
                        fill_price_ticks, trade_id, fee, fee_asset, venue_order_id, reason,
                        ts_ns, recv_ns,
                    ),
                )  # fmt: skip
            except Exception:  # the change is applied already: counted, logged, not raised
                self.errors += 1
                log.exception("order change of %s not journaled", cid)
        order = self._orders.get(cid)
        if order is not None:
            if cum_lots >= 0:
                order.filled_lots = cum_lots
            if venue_order_id:
                order.venue_order_id = venue_order_id
        if self._put_event is not None:
            self._put_event(
                (ts_ns, cid, index, "fill" if fill_lots else "status", status.value,
                 fill_price_ticks if fill_lots else (order.price_ticks if order else 0),
                 fill_lots if fill_lots else (order.qty_lots if order else 0),
                 order.filled_lots if order else max(cum_lots, 0), reason)
            )  # fmt: skip
        if fill_lots and self._put_fill is not None:
            self._put_fill(
                (ts_ns, index, _SIDE_TEXT[side], fill_price_ticks, fill_lots, fee, fee_asset,
                 trade_id, cid, venue_order_id, recv_ns)
            )  # fmt: skip
        if order is not None:
            # the row's version is when we applied the change, not the venue's time of it:
            # the venue stamps a fill and an acknowledgement on clocks of different precision
            self._row(cid, order, status, recv_ns or ts_ns)
            if status in _ENDED:
                del self._orders[cid]

    def _row(self, cid: str, order: _Order | None, status: OrderStatus, now_ns: int) -> None:
        if order is None or self._put_order is None:
            return
        # newest wins in the table: each version of the row must be newer than the last
        order.updated_ns = max(now_ns, order.created_ns, order.updated_ns + 1)
        self._put_order(
            (cid, order.index, _SIDE_TEXT[order.side], order.order_type.value,
             order.tif.value, order.price_ticks, order.qty_lots, status.value,
             order.venue_order_id, order.created_ns, order.updated_ns)
        )  # fmt: skip

    # ------------------------------------------------------------------ restart, compaction

    def adopt(self, cid: str, live: LiveOrder, seq: int, now_ns: int) -> None:
        """An order restored from the journal: followed again as if just placed."""
        index = self.instruments.index(live.instrument)
        self._orders[cid] = _Order(
            index, live.side, live.order_type, live.time_in_force, live.price_ticks,
            live.qty_lots, live.created_ns or now_ns, seq, live.filled_lots,
        )  # fmt: skip

    def rebuild(
        self, journal: Journal, after_seq: int = 0, orders: dict[str, _Order] | None = None
    ) -> int:
        """Put again the rows of every journal record after `after_seq` (at start: what the
        last run may not have written; after a spill: what the writer left to the journal,
        with `orders` as they stood there). The same records give the same rows, which the
        database keeps once (fills and order events by their keys, orders newest-wins).
        Returns the records replayed."""
        replay = OrderPersistence(self.instruments, None, self.writer)
        replay._orders = {cid: replace(order) for cid, order in (orders or {}).items()}
        self._replay = replay
        index = {(inst.venue, inst.symbol): n for n, inst in enumerate(self.instruments)}
        count = 0
        for seq, kind, payload in journal.replay(after_seq):
            if kind not in (INTENT, CHANGE):
                continue
            self._replaying = seq  # a spill now starts at this record, not the newest
            event = decode_order_event(kind, payload)
            at = index.get((event.venue, event.symbol))
            if at is None:
                continue
            if isinstance(event, IntentRecord):
                replay.intent(
                    event.client_order_id, at, event.side, event.order_type,
                    event.time_in_force, event.price_ticks, event.qty_lots, event.ts_ns,
                    event.action,
                )  # fmt: skip
            else:
                replay.change(
                    event.client_order_id, at, event.side, event.status, event.cum_lots,
                    event.fill_lots, event.fill_price_ticks, event.trade_id, event.fee,
                    event.fee_asset, event.venue_order_id, event.reason, event.ts_ns,
                    event.recv_ns,
                )  # fmt: skip
            count += 1
        self._replaying = 0
        self._replay = None
        return count

    def safe_to_compact(self) -> int:
        """The newest journal record the database holds everything up to and no live order
        needs: 0 when nothing may go (the writer is behind or away)."""
        if self.journal is None:
            return 0
        last = self.journal.last_seq
        writer = self.writer
        if writer is not None and (writer.pending or not writer.healthy):
            return 0
        oldest_live = min((o.intent_seq for o in self._orders.values()), default=last + 1)
        upto = min(last, oldest_live - 1)
        if self.spilled_from:  # rows from there are in the journal only, not yet rebuilt
            upto = min(upto, self.spilled_from - 1)
        return upto

    def spilled(self, table: str) -> None:
        """The writer's on_spill: the database misses rows from the journal's newest record
        on (the record being turned into rows right now)."""
        if self.journal is not None and not self.spilled_from:
            self.spilled_from = max(self._replaying or self.journal.last_seq, 1)
            # copies: replaying spilled_from again over them changes nothing (the same state,
            # fill and id are set again)
            known = self._replay._orders if self._replay is not None else self._orders
            self._spilled_orders = {cid: replace(order) for cid, order in known.items()}
            log.error(
                "history rows left to the journal: the database is behind",
                extra={"table": table, "from_seq": self.spilled_from},
            )

    def restore_spilled(self) -> int:
        """Once the writer is healthy again, put back the rows left to the journal; records
        replayed (0 when there was no spill or the database is still behind)."""
        writer = self.writer
        if not self.spilled_from or self.journal is None or writer is None:
            return 0
        if not writer.healthy:
            return 0
        start, self.spilled_from = self.spilled_from, 0
        orders, self._spilled_orders = self._spilled_orders, {}
        for buffer in writer.buffers.values():
            buffer.spilling = False
        count = self.rebuild(self.journal, start - 1, orders)
        log.warning("history rows rebuilt from the journal", extra={"records": count})
        return count


def open_orders_in(
    journal: Journal, instruments: Iterable[Instrument]
) -> list[tuple[int, LiveOrder]]:
    """The orders the journal says were live at its end, oldest first, with the sequence of
    their first record: an order opened by an INTENT NEW whose last CHANGE is not final."""
    by_key = {(i.venue, i.symbol): i for i in instruments}
    live: dict[str, tuple[int, LiveOrder]] = {}
    for seq, kind, payload in journal.replay():
        if kind not in (INTENT, CHANGE):
            continue
        event = decode_order_event(kind, payload)
        if isinstance(event, IntentRecord):
            inst = by_key.get((event.venue, event.symbol))
            if inst is None:
                continue
            known = live.get(event.client_order_id)
            if event.action is IntentAction.NEW:
                live[event.client_order_id] = (
                    seq,
                    LiveOrder(
                        event.client_order_id, inst, event.side, event.order_type,
                        event.time_in_force, event.price_ticks, event.qty_lots, 0, event.ts_ns,
                    ),
                )  # fmt: skip
            elif event.action is IntentAction.AMEND and known is not None:
                first, order = known
                live[event.client_order_id] = (
                    first,
                    LiveOrder(
                        order.client_order_id, order.instrument, order.side, order.order_type,
                        order.time_in_force, event.price_ticks, event.qty_lots,
                        order.filled_lots, order.created_ns,
                    ),
                )  # fmt: skip
        elif isinstance(event, ChangeRecord):
            known = live.get(event.client_order_id)
            if known is None:
                continue
            if event.status in _ENDED:
                del live[event.client_order_id]
            elif event.cum_lots >= 0:
                first, order = known
                live[event.client_order_id] = (first, replace(order, filled_lots=event.cum_lots))
    return sorted(live.values(), key=lambda item: item[0])
