"""The order manager against the Gate simulator over TLS, through the real GateAdapter:
intents -> orders -> execution reports -> order table, positions and on_order_update;
rejects, lost answers, fills after a cancel, duplicates, foreign orders, reconciliation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from support import until

from engine._core import intents as ib
from engine._core import orders as codes
from engine._core.intents import IntentBuffer
from engine.clock import LiveClock, SimClock
from engine.events import OrderUpdate, VenueEvent
from engine.gateway.adapter import ExecutionReport, OrderRequest, VenueEndpoints
from engine.gateway.gate.trading import GateAdapter
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.oms.manager import OrderManager
from engine.oms.persistence import OrderPersistence
from engine.sim.faults import FaultKind
from engine.sim.server import ACCOUNT, RunningSim, start_sim
from engine.storage.journal import CHANGE, HEADER_SIZE, INTENT, Journal
from engine.wire.credentials import Credentials

SYMBOL = "BTC_USDT"
BUY, SELL = ib.BUY, ib.SELL


class Desk:
    """One simulated Gate, one adapter, one order manager; what the strategy would see."""

    def __init__(self, sim: RunningSim, clock: SimClock, adapter: GateAdapter) -> None:
        self.sim = sim
        self.clock = clock
        self.adapter = adapter
        self.inst: Instrument = sim.exchange.engine.instrument(SYMBOL)
        self.updates: list[OrderUpdate] = []
        self.oms = OrderManager(
            LiveClock(), [self.inst], {"gate": adapter}, capacity=64, on_update=self.updates.append
        )

    def ticks(self, price: str) -> int:
        return self.inst.price_to_ticks(price)

    def lots(self, qty: str) -> int:
        return self.inst.qty_to_lots(qty)

    def place(self, side: int, price: str, qty: str) -> int:
        return self.oms.place(0, side, ib.LIMIT, ib.GTC, self.ticks(price), self.lots(qty), 0)

    def status(self, order_id: int) -> int:
        return self.oms.table.status_of(order_id)

    def seed_book(self) -> None:
        engine, now = self.sim.exchange.engine, self.clock.time_ns()
        for side, px in ((OrderSide.BUY, "64999.9"), (OrderSide.SELL, "65000.1")):
            self.sim.exchange.publish(
                engine.set_background_level(SYMBOL, side, self.ticks(px), 10**6, now)
            )

    def hit(self, side: OrderSide, price: str, qty: str) -> None:
        engine = self.sim.exchange.engine
        self.sim.exchange.publish(
            engine.background_trade(
                SYMBOL, side, self.ticks(price), self.lots(qty), self.clock.time_ns()
            )
        )

    def of(self, order_id: int) -> list[OrderUpdate]:
        cid = self.oms.client_order_id(order_id)
        return [u for u in self.updates if u.order_id == cid]


@pytest.fixture
async def desk() -> AsyncIterator[Desk]:
    clock = SimClock(time.time_ns())
    async with start_sim("gate", seed=5, market=False, clock=clock, tls=True) as sim:
        endpoints = VenueEndpoints(
            sim.urls.rest, sim.urls.ws_public, sim.urls.ws_private, ca_file=sim.ca_file
        )
        adapter = GateAdapter(
            endpoints,
            Credentials(sim.api_key, sim.api_secret),
            LiveClock(),
            sim.exchange.instruments(),
            request_timeout_s=0.5,
        )
        await adapter.start()
        try:
            yield Desk(sim, clock, adapter)
        finally:
            await adapter.close()


async def test_intent_to_fills_position_and_release(desk: Desk) -> None:
    d = desk
    d.seed_book()
    buffer = IntentBuffer(8, 1)
    assert buffer.try_push_new(0, BUY, d.ticks("64999.9"), d.lots("0.3"), 11) == ib.OK
    d.oms.consume(buffer)
    assert len(buffer) == 0
    await d.oms.drain()
    (order_id,) = [oid for oid in d.oms._meta]  # the one order the intent became
    assert d.status(order_id) == codes.NEW
    d.hit(OrderSide.SELL, "64999.9", "1.1")  # 1 BTC of background first, then 0.1 of ours
    await until(lambda: d.oms.table.get(order_id) is not None and d.status(order_id) == 3)
    position = d.oms.positions[0]
    assert position.qty == d.lots("0.1") and position.fills == 1
    d.hit(OrderSide.SELL, "64999.9", "0.2")
    await until(lambda: d.oms.table.get(order_id) is None)  # filled, then released
    assert position.qty == d.lots("0.3") and position.fills == 2
    assert position.fees > 0  # Gate's fee in USDT, the quote: in the PnL units
    statuses = [u.status for u in d.of(order_id)]
    assert statuses[0] is OrderStatus.NEW and statuses[-1] is OrderStatus.FILLED
    fills = [u for u in d.of(order_id) if u.last_fill_quantity]
    assert [u.last_fill_quantity for u in fills] == [Decimal("0.1"), Decimal("0.2")]
    assert fills[-1].filled_quantity == Decimal("0.3")
    assert d.oms.counters.duplicate_fills == 0 and d.oms.counters.refused_reports == 0


async def test_reject_cancel_and_fill_after_cancel_request(desk: Desk) -> None:
    d = desk
    d.seed_book()
    poor = d.place(BUY, "60000", "1000")  # far more USDT than the account holds
    await d.oms.drain()
    assert d.oms.table.get(poor) is None and d.oms.counters.rejected == 1
    rejected = d.of(poor)
    assert rejected[-1].status is OrderStatus.REJECTED and "BALANCE" in rejected[-1].reason

    resting = d.place(SELL, "65000.1", "0.2")
    await d.oms.drain()
    assert d.status(resting) == codes.NEW
    assert d.oms.cancel(resting)
    d.hit(OrderSide.BUY, "65000.1", "1.05")  # the background ask first, then 0.05 of ours
    await d.oms.drain()
    await until(lambda: d.oms.table.get(resting) is None)
    assert d.of(resting)[-1].status is OrderStatus.CANCELED
    # the trade that raced the cancel is booked (once), whichever came first
    await until(lambda: d.oms.positions[0].fills == 1)
    assert d.oms.positions[0].qty == -d.lots("0.05")
    assert not d.oms.cancel(resting)  # gone: nothing to cancel


async def test_lost_answer_goes_unknown_then_resolves_by_query(desk: Desk) -> None:
    d = desk
    d.sim.exchange.faults.arm(FaultKind.LOSE_ACK, "ws.api", 1)
    order_id = d.place(BUY, "60000", "0.01")
    await d.oms.drain()
    assert d.oms.counters.timeouts == 1 and d.oms.counters.resolved == 1
    assert d.status(order_id) == codes.NEW  # the venue had it all along


async def test_duplicate_and_foreign_reports_are_counted_never_booked(desk: Desk) -> None:
    d = desk
    order_id = d.place(BUY, "60000", "0.5")
    await d.oms.drain()
    cid = d.oms.client_order_id(order_id)
    fill = ExecutionReport(
        "gate", SYMBOL, cid, "1", OrderStatus.PARTIALLY_FILLED, OrderSide.BUY,
        cum_filled_lots=d.lots("0.1"), trade_id="t-1", last_price_ticks=d.ticks("60000"),
        last_lots=d.lots("0.1"),
    )  # fmt: skip
    d.oms.on_report(fill)
    d.oms.on_report(fill)  # the same trade again
    assert d.oms.positions[0].fills == 1 and d.oms.counters.duplicate_fills == 1
    stale = ExecutionReport("gate", SYMBOL, cid, "1", OrderStatus.NEW, OrderSide.BUY, 0)
    d.oms.on_report(stale)  # an old acknowledgement after the fill: nothing changes
    assert d.status(order_id) == codes.PARTIALLY_FILLED
    d.oms.on_report(
        ExecutionReport("gate", SYMBOL, "someone-else", "9", OrderStatus.NEW, OrderSide.BUY)
    )
    d.oms.on_report(ExecutionReport("okx", "BTC-USDT", cid, "9", OrderStatus.NEW, OrderSide.BUY))
    assert d.oms.counters.foreign_reports == 2
    overfill = ExecutionReport(
        "gate", SYMBOL, cid, "1", OrderStatus.PARTIALLY_FILLED, OrderSide.BUY,
        cum_filled_lots=d.lots("0.6"), trade_id="t-2", last_price_ticks=d.ticks("60000"),
        last_lots=d.lots("0.5"),
    )  # fmt: skip
    d.oms.on_report(overfill)  # a trade is a trade: booked; the order refuses the overfill
    assert d.oms.positions[0].fills == 2 and d.oms.counters.refused_reports == 1
    assert d.oms.table.overfills == 1


async def test_reconcile_cancels_foreign_orders_and_resolves_missing_ones(desk: Desk) -> None:
    d = desk
    foreign = OrderRequest(
        "leftover1", d.inst, OrderSide.BUY, OrderType.LIMIT, d.lots("0.01"), d.ticks("59000"),
        TimeInForce.GTC,
    )  # fmt: skip
    await d.adapter.place_order(foreign)  # an order of an earlier run
    ours = d.place(BUY, "60000", "0.01")
    await d.oms.drain()
    engine = d.sim.exchange.engine
    tag = "t-" + d.oms.client_order_id(ours)  # Gate's text: our id behind its prefix
    open_orders = engine.open_orders(ACCOUNT, SYMBOL)
    (venue_id,) = [o.order_id for o in open_orders if o.client_order_id == tag]
    # cancelled at the venue with no report on the stream (events not published): only a
    # query can tell
    engine.cancel(ACCOUNT, SYMBOL, d.clock.time_ns(), order_id=venue_id)
    found = await d.oms.reconcile("gate")
    assert found["canceled"] == 1 and found["resolved"] == 1
    assert d.oms.table.get(ours) is None
    assert await d.adapter.get_open_orders(SYMBOL) == []


async def test_reconcile_adopts_foreign_orders_when_asked(desk: Desk) -> None:
    d = desk
    d.oms.adopt_unknown = True
    foreign = OrderRequest(
        "leftover2", d.inst, OrderSide.SELL, OrderType.LIMIT, d.lots("0.02"), d.ticks("70000"),
        TimeInForce.GTC,
    )  # fmt: skip
    await d.adapter.place_order(foreign)
    found = await d.oms.reconcile("gate")
    assert found["adopted"] == 1 and d.oms.counters.adopted == 1
    (order_id,) = list(d.oms._meta)
    assert d.status(order_id) == codes.NEW
    assert d.oms.cancel(order_id)
    await d.oms.drain()
    await until(lambda: d.oms.table.get(order_id) is None)


async def test_catch_up_books_missed_trades_once_and_the_venue_moves_the_count(
    desk: Desk,
) -> None:
    """A trade lost with the private stream: `catch_up_fills` books it from the venue's
    history, once (a second catch-up finds nothing new), without adding it to the order's
    fill count, which `reconcile` then takes from the venue's cumulative."""
    d = desk
    oid = d.place(BUY, "60000", "0.03")
    await until(lambda: d.status(oid) == codes.NEW)
    d.sim.exchange.faults.arm(FaultKind.DROP_CONNECTION, "ws.private")
    d.hit(OrderSide.SELL, "60000", "0.01")  # its reports go down with the connection
    await until(lambda: d.adapter.stream_restarts == 1)
    position = d.oms.positions[0]
    assert position.fills == 0 and d.status(oid) == codes.NEW
    # the trade is stamped before this manager started (the simulator's clock stands
    # still): it is booked because its order is ours
    assert await d.oms.catch_up_fills("gate") == 1
    assert position.fills == 1 and position.qty == d.lots("0.01")
    (update,) = [u for u in d.of(oid) if u.last_fill_quantity]
    assert update.last_fill_quantity == Decimal("0.01")
    assert (d.oms.table.get(oid) or ())[8] == 0  # the count is the venue's to move
    assert await d.oms.catch_up_fills("gate") == 0 and d.oms.counters.caught_up_fills == 1
    found = await d.oms.recover("gate")
    assert found["fills"] == 0 and found["matched"] == 1
    assert (d.oms.table.get(oid) or ())[8] == d.lots("0.01")
    assert d.status(oid) == codes.PARTIALLY_FILLED and position.fills == 1


async def test_a_rate_limit_refusal_is_counted_and_told_to_monitoring(desk: Desk) -> None:
    """Orders past the venue's budget are refused locally (never sent): each one is a
    REJECTED order, a count and a VenueEvent for monitoring with the venue's retry hint."""
    d = desk
    d.seed_book()
    events: list[VenueEvent] = []
    d.oms.on_venue_event = events.append
    budget = min(b.capacity for b in d.adapter.limiter.buckets.values())
    ids = [d.place(BUY, "60000", "0.0001") for _ in range(budget + 5)]
    await d.oms.drain()
    refused = d.oms.counters.rate_limited
    assert refused >= 5 and len(events) == refused
    assert {(e.venue, e.kind, e.code) for e in events} == {("gate", "rate_limited", "local")}
    assert all(e.retry_after_s is not None and e.retry_after_s > 0 for e in events)
    assert all("new order" in e.detail for e in events)
    assert sum(1 for i in ids if d.oms.table.get(i) is None) >= refused  # rejected, released


async def test_a_batch_is_journaled_in_one_write_before_any_request_goes(
    desk: Desk, tmp_path: Path
) -> None:
    """Within begin_batch/end_batch (one pass of the intent sink) the orders' intents wait in
    the journal's buffer and nothing is sent; end_batch writes them once, then sends all."""
    d = desk
    d.seed_book()
    journal = Journal.open(tmp_path / "orders.wal", "os")
    d.oms.persist = OrderPersistence([d.inst], journal, None)
    d.oms.begin_batch()
    ids = [d.place(BUY, "60000", "0.001"), d.place(BUY, "60001", "0.001")]
    assert all(ids)
    assert journal.size == HEADER_SIZE  # buffered: not in the file yet
    await asyncio.sleep(0.05)
    assert d.sim.exchange.engine.open_orders(ACCOUNT) == []  # and nothing was sent
    d.oms.end_batch()
    assert journal.size > HEADER_SIZE
    await d.oms.drain()
    assert len(d.sim.exchange.engine.open_orders(ACCOUNT)) == 2
    kinds = [kind for _, kind, _ in journal.replay()]
    assert kinds[:2] == [INTENT, INTENT] and kinds.count(CHANGE) >= 2
    journal.close()


async def test_a_batch_the_journal_cannot_write_sends_nothing(desk: Desk, tmp_path: Path) -> None:
    """The journal's one write of a batch fails (here: its file is gone from under it): no
    request of the batch goes out, and its new orders end REJECTED, naming the journal."""
    d = desk
    d.seed_book()
    journal = Journal.open(tmp_path / "orders.wal", "os")
    d.oms.persist = OrderPersistence([d.inst], journal, None)
    journal.close()  # appends with `more` still buffer; the batch's write then fails
    d.oms.begin_batch()
    ids = [d.place(BUY, "60000", "0.001"), d.place(BUY, "60001", "0.001")]
    d.oms.end_batch()
    await d.oms.drain()
    await asyncio.sleep(0.05)
    assert d.sim.exchange.engine.open_orders(ACCOUNT) == []
    assert all(d.oms.table.get(i) is None for i in ids)  # rejected and released
    rejected = [u for i in ids for u in d.of(i) if u.status is OrderStatus.REJECTED]
    assert len(rejected) == 2 and all("journal" in u.reason for u in rejected)
    assert d.oms.counters.requests == 0
