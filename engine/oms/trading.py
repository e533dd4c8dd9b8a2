"""Trading as an engine component: one adapter per trading venue, one order manager for all,
wired to the event dispatcher (intents in, order updates out).

At start each venue's adapter connects, the order manager reconciles its open orders (orders
of another run are cancelled, or adopted by config) and the venue's dead-man switch is armed
and then refreshed at a third of its period, so a dead engine's quotes are pulled by the
venue. Venues are independent: one that cannot be reached is retried with capped backoff and
reported not ready while the others trade; only a configuration error (a refused key, a CA
that does not verify the venue) stops the start. At stop, open orders are cancelled (by
config) and the switch disarmed before the adapters close.

When a venue's private stream comes back after a loss (the adapter's `on_stream_restart`),
the reports it missed are recovered: the venue's trades since the newest one booked are
booked once each (`OrderManager.catch_up_fills`, by trade id) and its orders reconciled.

`restart(venue)` does the same for a whole session on demand (an alert's recovery action):
that venue's adapter is closed and connected again, what it missed is recovered and its
dead-man switch re-armed, while the other venues and the engine go on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.clock import NS_PER_SECOND, Clock
from engine.component import Component
from engine.events import EventDispatcher
from engine.gateway.adapter import ExchangeAdapter, VenueEndpoints
from engine.gateway.errors import AuthError, VenueError
from engine.gateway.factory import create_adapter
from engine.gateway.tls import TlsConfigError
from engine.model.instrument import Instrument
from engine.oms.manager import OrderManager
from engine.oms.persistence import OrderPersistence, open_orders_in
from engine.storage.component import StorageComponent
from engine.storage.journal import JournalError
from engine.wire.credentials import Credentials

log = logging.getLogger("engine.trading")

RETRY_FIRST_S = 1.0
RETRY_MAX_S = 30.0
TIME_SYNC_INTERVAL_S = 300.0  # clocks drift: the venue's time offset measured again
COMPACT_EVERY_S = 60.0  # the journal drops what the database holds this often
SPILL_CHECK_S = 2.0  # rows left to the journal are put back this soon after the database


@dataclass(frozen=True, slots=True)
class VenueTrading:
    """How to trade on one venue; endpoints and credentials are resolved at start (a
    simulator the engine starts knows its URLs and keys only then)."""

    name: str
    endpoints: Callable[[], VenueEndpoints]
    credentials: Callable[[], Credentials]
    dead_man_seconds: int = 0
    adopt_unknown: bool = False
    cancel_on_stop: bool = True
    options: dict[str, Any] = field(default_factory=dict)  # the adapter class's keywords


class TradingComponent(Component):
    def __init__(
        self,
        venues: Sequence[VenueTrading],
        events: EventDispatcher,
        clock: Clock,
        instruments: Callable[[], Sequence[Instrument]],
        storage: StorageComponent | None = None,
    ) -> None:
        super().__init__(name="trading")
        self.venues = {v.name: v for v in venues}
        self.events = events
        self.clock = clock
        self._instruments = instruments
        self.manager: OrderManager | None = None
        self.adapters: dict[str, ExchangeAdapter] = {}
        self.ready: dict[str, bool] = {}
        self.recoveries: dict[str, int] = {}  # recoveries completed per venue
        self.restarts: dict[str, int] = {}  # sessions restarted on demand, per venue
        self._tasks: set[asyncio.Task[Any]] = set()
        # the tasks that live with one venue's session (dead-man and time refresh, a retry,
        # a recovery): a restart ends them before it closes the adapter
        self._venue_tasks: dict[str, set[asyncio.Task[Any]]] = {}
        self._restarting: dict[str, asyncio.Task[bool]] = {}
        self.storage = storage  # the journal and the history writer, started before trading
        self.persistence: OrderPersistence | None = None
        self.compacted_to = 0

    async def _on_start(self) -> None:
        instruments = list(self._instruments())
        for name, venue in self.venues.items():
            own = [i for i in instruments if i.venue == name]
            self.adapters[name] = create_adapter(
                name,
                venue.endpoints(),
                venue.credentials(),
                self.clock,
                instruments=own,
                **venue.options,
            )
            self.adapters[name].on_stream_restart = functools.partial(self._stream_back, name)
            self.ready[name] = False
        adopt = any(v.adopt_unknown for v in self.venues.values())
        storage = self.storage
        if storage is not None:
            self.persistence = OrderPersistence(instruments, storage.journal, storage.writer)
            if storage.writer is not None:
                storage.writer.converters.update(self.persistence.converters())
        self.manager = OrderManager(
            self.clock,
            instruments,
            self.adapters,
            on_update=self.events.on_order_update,
            adopt_unknown=adopt,
            on_venue_event=self.events.on_venue_event,
            persistence=self.persistence,
        )
        if storage is not None and storage.journal is not None and self.persistence is not None:
            # the rows of what the journal holds (the last run may not have written them all:
            # the database keeps each once), then the orders the last run left live, followed
            # again before the venues reconcile
            replayed = self.persistence.rebuild(storage.journal)
            if replayed:
                log.info("history rows rebuilt from the journal", extra={"records": replayed})
            self.manager.restore(open_orders_in(storage.journal, instruments))
            self._spawn(self._compact())
        for name in self.venues:
            try:
                await self._connect(name)
            except (AuthError, TlsConfigError):
                raise  # configuration: the key or the CA is wrong, retrying will not help
            except (VenueError, OSError) as exc:
                log.error(
                    "venue not reachable at start; retrying, the others trade",
                    extra={"venue": name, "error": str(exc)},
                )
                self._spawn(self._retry(name), venue=name)
        self.events.set_intent_sink(self.manager.consume)

    async def _connect(self, name: str, *, catch_up: bool = False) -> None:
        """Start the adapter, reconcile the venue's orders (after a restart, first book the
        trades missed meanwhile), arm the dead-man switch; the venue then trades."""
        adapter, venue = self.adapters[name], self.venues[name]
        assert self.manager is not None
        await adapter.start()
        if catch_up:
            found = await self.manager.recover(name)
        else:
            found = await self.manager.reconcile(name)
        log.info("venue trading", extra={"venue": name, **found})
        if venue.dead_man_seconds and await adapter.arm_dead_man_switch(venue.dead_man_seconds):
            self._spawn(self._refresh_dead_man(name), venue=name)
        if not adapter.refreshes_time_itself:
            self._spawn(self._refresh_time(name), venue=name)
        self.ready[name] = True

    async def restart(self, name: str) -> bool:
        """Restart one venue's trading session: close its adapter (order-entry session and
        private stream), connect it again, book the trades missed meanwhile, reconcile its
        orders with the venue and re-arm its dead-man switch. The other venues trade on.

        True once the venue trades again; False when it could not (an unknown venue, trading
        not running, or the venue refused or did not answer: it is then retried in the
        background with capped backoff, as an unreachable venue at start). A restart asked
        for while one runs waits for that one. Cancelling the caller leaves the restart to
        finish: a session is never left half open."""
        if name not in self.adapters or self.manager is None or not self.running:
            return False
        task = self._restarting.get(name)
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._restart(name))
            self._restarting[name] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(task)

    async def _restart(self, name: str) -> bool:
        self.ready[name] = False  # no stream recovery, emergency cancel or stop cancel meanwhile
        await self._end_venue_tasks(name)
        log.warning("restarting the venue's trading session", extra={"venue": name})
        try:
            await self.adapters[name].close()
            await self._connect(name, catch_up=True)
        except Exception as exc:  # whatever the venue did, the others trade and it is retried
            log.error(
                "venue restart failed; retrying, the others trade",
                extra={"venue": name, "error": f"{type(exc).__name__}: {exc}"},
            )
            self._spawn(self._retry(name, catch_up=True), venue=name)
            return False
        self.restarts[name] = self.restarts.get(name, 0) + 1
        log.warning("venue trading session restarted", extra={"venue": name})
        return True

    async def _end_venue_tasks(self, name: str) -> None:
        tasks = self._venue_tasks.pop(name, set())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _stream_back(self, name: str) -> None:
        """The adapter's private stream is back after a loss: recover what it missed. (While
        the venue is still connecting, `_connect` reconciles anyway.)"""
        if self.ready.get(name) and self.manager is not None:
            self._spawn(self._recover(name), venue=name)

    async def _recover(self, name: str) -> None:
        assert self.manager is not None
        try:
            found = await self.manager.recover(name)
        except VenueError as exc:  # the next reconnect, or a later query, tries again
            log.error(
                "recovery after a stream reconnect failed", extra={"venue": name, "error": str(exc)}
            )
            return
        except Exception:  # an answer that could not be read: logged, the engine goes on
            log.exception("recovery after a stream reconnect failed", extra={"venue": name})
            return
        self.recoveries[name] = self.recoveries.get(name, 0) + 1
        log.warning("private stream back: recovered", extra={"venue": name, **found})

    async def _retry(self, name: str, *, catch_up: bool = False) -> None:
        delay = RETRY_FIRST_S
        while True:
            await self.clock.sleep_ns(int(delay * NS_PER_SECOND))
            try:
                await self.adapters[name].close()
                await self._connect(name, catch_up=catch_up)
            except (VenueError, OSError) as exc:
                delay = min(delay * 2, RETRY_MAX_S)
                log.warning("venue still not reachable", extra={"venue": name, "error": str(exc)})
            else:
                log.info("venue reachable again", extra={"venue": name})
                return

    async def _refresh_dead_man(self, name: str) -> None:
        seconds = self.venues[name].dead_man_seconds
        while True:
            await self.clock.sleep_ns(seconds * NS_PER_SECOND // 3)
            try:
                await self.adapters[name].arm_dead_man_switch(seconds)
            except VenueError as exc:  # the next refresh tries again, well within the period
                log.warning("dead-man refresh failed", extra={"venue": name, "error": str(exc)})

    async def _refresh_time(self, name: str) -> None:
        while True:
            await self.clock.sleep_ns(int(TIME_SYNC_INTERVAL_S * NS_PER_SECOND))
            try:
                await self.adapters[name].sync_time()
            except VenueError as exc:  # the offset measured last stays; the next try comes
                log.warning("time sync failed", extra={"venue": name, "error": str(exc)})

    async def _compact(self) -> None:
        """Put back rows the writer left to the journal once the database is back (every
        SPILL_CHECK_S), and drop from the journal what the database holds and no live order
        needs (every COMPACT_EVERY_S)."""
        checks = 0
        while True:
            await self.clock.sleep_ns(int(SPILL_CHECK_S * NS_PER_SECOND))
            storage, persistence = self.storage, self.persistence
            if storage is None or storage.journal is None or persistence is None:
                return
            persistence.restore_spilled()
            checks += 1
            if checks * SPILL_CHECK_S < COMPACT_EVERY_S:
                continue
            checks = 0
            upto = persistence.safe_to_compact()
            if upto > self.compacted_to:
                try:
                    dropped = storage.journal.compact(upto)
                except JournalError as exc:  # the journal keeps its records: nothing lost
                    log.error("journal compaction failed", extra={"error": str(exc)})
                    continue
                self.compacted_to = upto
                log.info("journal compacted", extra={"upto_seq": upto, "dropped": dropped})

    async def cancel_everything(self) -> dict[str, int]:
        """The emergency stop's action: every open order of every symbol on every venue that
        trades, by the venue's own cancel-all (orders the engine does not know go too);
        orders cancelled per venue. A venue that fails is logged and the others go on."""
        cancelled: dict[str, int] = {}

        async def one(name: str, adapter: ExchangeAdapter) -> None:
            count = 0
            for symbol in adapter.instruments:
                try:
                    ids = await adapter.cancel_all(symbol)
                except VenueError as exc:
                    log.error(
                        "emergency cancel failed",
                        extra={"venue": name, "symbol": symbol, "error": str(exc)},
                    )
                    continue
                count += len(ids)
                if self.manager is not None:
                    self.manager.cancelled_at_venue(name, ids)
            cancelled[name] = count

        await asyncio.gather(
            *(one(name, a) for name, a in self.adapters.items() if self.ready.get(name))
        )
        return cancelled

    def _spawn(self, coroutine: Any, *, venue: str = "") -> None:
        """Run `coroutine` until stop; one of `venue`'s session tasks when named."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if venue:
            own = self._venue_tasks.setdefault(venue, set())
            own.add(task)
            task.add_done_callback(own.discard)

    async def _on_stop(self) -> None:
        self.events.set_intent_sink(None)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.manager is not None:
            await self.manager.drain()
        for name, adapter in self.adapters.items():
            venue = self.venues[name]
            if self.ready.get(name):
                try:
                    if venue.cancel_on_stop:
                        for symbol in adapter.instruments:
                            cancelled = await adapter.cancel_all(symbol)
                            if self.manager is not None:
                                self.manager.cancelled_at_venue(name, cancelled)
                            log.info(
                                "orders cancelled at stop",
                                extra={"venue": name, "symbol": symbol, "count": len(cancelled)},
                            )
                    if venue.dead_man_seconds:
                        await adapter.arm_dead_man_switch(0)
                except VenueError as exc:
                    log.error("could not cancel at stop", extra={"venue": name, "error": str(exc)})
            await adapter.close()
