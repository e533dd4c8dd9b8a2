"""The Binance user data stream: executionReport, outboundAccountPosition and balanceUpdate
events of subscribed accounts, in both forms clients use (§1.7):

- WS API subscriptions (`userDataStream.subscribe[.signature]`), framed as
  {"subscriptionId": N, "event": {...}};
- the listenKey stream `/ws/<listenKey>` (REST or WS API `userDataStream.start`), where each
  event is sent bare.

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
        # account -> subscribers: (connection, subscription id, or None on a listenKey stream)
        self._subs: dict[str, dict[tuple[Conn, int | None], None]] = {}
        self._listeners: dict[str, Callable[[], None]] = {}
        self._dirty: dict[str, set[str]] = {}  # account -> assets whose balance moved
        venue.balance_hooks.append(self._on_balance)

    def add(self, conn: Conn, sub_id: int | None, account: str) -> None:
        self._subs.setdefault(account, {})[(conn, sub_id)] = None
        if account not in self._listeners:
            self._listeners[account] = self.venue.exchange.on_private(
                account, lambda event: self._on_event(account, event)
            )

    def remove(self, conn: Conn, sub_id: int | None, *, terminated: bool = False) -> None:
        for account, subs in list(self._subs.items()):
            if subs.pop((conn, sub_id), "absent") is None:
                if terminated and sub_id is not None:
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
        if self._on_balance in self.venue.balance_hooks:
            self.venue.balance_hooks.remove(self._on_balance)

    def _on_balance(self, account: str, asset: str, delta: str) -> None:
        """A deposit or withdrawal: balanceUpdate, then the asset's new position."""
        if account not in self._subs:
            return
        now = self.venue.now_ns()
        ms = now // 1_000_000
        self._send(account, {"e": "balanceUpdate", "E": ms, "a": asset, "d": delta, "T": ms})
        balances = self.venue.exchange.balances(account)
        self._send(account, m.account_position(now, balances, [asset]))

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


def _frame(sub_id: int | None, event: dict[str, Any]) -> str:
    if sub_id is None:  # a listenKey stream: the event itself
        return orjson.dumps(event).decode()
    return orjson.dumps({"subscriptionId": sub_id, "event": event}).decode()
