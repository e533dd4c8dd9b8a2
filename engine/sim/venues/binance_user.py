"""The Binance user data stream over the WS API: executionReport and outboundAccountPosition
events of subscribed accounts, framed as {"subscriptionId": N, "event": {...}} (§1.6).

One exchange listener per account however many subscriptions it has, so an event gets one
execution id and every subscriber sees the same report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson

from engine.sim.matching import Event, Fill, OrderAccepted, OrderDone, SimStatus
from engine.sim.venues import binance_messages as m
from engine.sim.venues.binance_conn import Conn
from engine.sim.venues.binance_trading import BinanceVenue

CHANNEL = "ws.private"


class UserStreams:
    def __init__(self, venue: BinanceVenue) -> None:
        self.venue = venue
        self._subs: dict[str, dict[tuple[Conn, int], None]] = {}  # account -> subscribers
        self._listeners: dict[str, Callable[[], None]] = {}
        self._dirty: dict[str, set[str]] = {}  # account -> assets whose balance moved

    def add(self, conn: Conn, sub_id: int, account: str) -> None:
        self._subs.setdefault(account, {})[(conn, sub_id)] = None
        if account not in self._listeners:
            self._listeners[account] = self.venue.exchange.on_private(
                account, lambda event: self._on_event(account, event)
            )

    def remove(self, conn: Conn, sub_id: int, *, terminated: bool = False) -> None:
        for account, subs in list(self._subs.items()):
            if subs.pop((conn, sub_id), "absent") is None:
                if terminated:
                    event = {"e": "eventStreamTerminated", "E": self.venue.now_ms()}
                    conn.push(CHANNEL, _frame(sub_id, event))
                if not subs:
                    del self._subs[account]
                    self._listeners.pop(account)()

    def close(self) -> None:
        for unsubscribe in self._listeners.values():
            unsubscribe()
        self._listeners.clear()
        self._subs.clear()

    def _send(self, account: str, event: dict[str, Any]) -> None:
        for conn, sub_id in self._subs.get(account, {}):
            conn.push(CHANNEL, _frame(sub_id, event))

    def _on_event(self, account: str, event: Event) -> None:
        report = self._report(event)
        if report is None:
            return
        symbol = report["s"]
        self._send(account, report)
        inst = self.venue.instrument(symbol)
        dirty = self._dirty.get(account)
        if dirty is None:
            # one position event after the whole matching call, as Binance sends per update
            dirty = self._dirty[account] = set()
            asyncio.get_running_loop().call_soon(self._flush_position, account)
        dirty.update((inst.base, inst.quote))

    def _flush_position(self, account: str) -> None:
        assets = sorted(self._dirty.pop(account, ()))
        if account in self._subs and assets:
            balances = self.venue.exchange.balances(account)
            self._send(account, m.account_position(self.venue.now_ns(), balances, assets))

    def _report(self, event: Event) -> dict[str, Any] | None:
        venue = self.venue
        if isinstance(event, OrderAccepted):
            snap = event.order
            return m.execution_report(
                snap,
                venue.units(snap.symbol),
                event.ts_ns,
                exec_type="NEW",
                execution_id=venue.execution_id(),
                client_order_id=snap.client_order_id,
            )
        if isinstance(event, Fill):
            found = venue.exchange.engine.order(event.order_id)
            if found is None:
                return None
            return m.execution_report(
                found,
                venue.units(found.symbol),
                event.ts_ns,
                exec_type="TRADE",
                execution_id=venue.execution_id(),
                client_order_id=found.client_order_id,
                fill=event,
            )
        if isinstance(event, OrderDone):
            return self._done_report(event)
        return None  # rejects and refused cancels are answered to the request only

    def _done_report(self, event: OrderDone) -> dict[str, Any] | None:
        snap = event.order
        status = snap.status
        if status in (SimStatus.FILLED, SimStatus.REJECTED):
            return None  # the last TRADE already said FILLED
        venue = self.venue
        cid, orig = snap.client_order_id, ""
        if status is SimStatus.CANCELED:
            # c is the cancel request's own client id, C the order's
            cid, orig = venue.cancel_client_ids.get(snap.order_id) or venue.client_id(), cid
        return m.execution_report(
            snap,
            venue.units(snap.symbol),
            event.ts_ns,
            exec_type="CANCELED" if status is SimStatus.CANCELED else "EXPIRED",
            execution_id=venue.execution_id(),
            client_order_id=cid,
            orig_client_order_id=orig,
        )


def _frame(sub_id: int, event: dict[str, Any]) -> str:
    return orjson.dumps({"subscriptionId": sub_id, "event": event}).decode()
