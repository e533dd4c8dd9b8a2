"""The synchronous order entry of OkxAdapter and GateAdapter (ExchangeAdapter: the hot path)
against their simulators over real TLS on loopback: `submit_order` / `submit_cancel` /
`submit_amend` write the request before they return, with no task, and hand back a future
the answer resolves; the venue's refusals are typed errors; a local budget refusal raises
from the call with nothing sent; an answer that never comes fails the future after the
request timeout; no session, no future (the caller takes the async path)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support import until

from engine.clock import LiveClock, SimClock
from engine.gateway.adapter import ExchangeAdapter, OrderAck, OrderRequest, VenueEndpoints
from engine.gateway.errors import (
    InsufficientBalance,
    InvalidOrder,
    PostOnlyWouldCross,
    RateLimited,
    VenueUnavailable,
)
from engine.gateway.gate.trading import GateAdapter
from engine.gateway.okx.trading import OkxAdapter
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.sim.faults import FaultKind
from engine.sim.server import RunningSim, start_sim
from engine.sim.venues.gate import PocStyle, venue_state
from engine.wire.credentials import Credentials

SYMBOL = {"okx": "BTC-USDT", "gate": "BTC_USDT"}
VENUES = ["okx", "gate"]


class Venue:
    """One simulator (on its own clock) and the adapters a test builds on it."""

    def __init__(self, name: str, sim: RunningSim, clock: SimClock) -> None:
        self.name = name
        self.sim = sim
        self.clock = clock
        self.symbol = SYMBOL[name]
        self.inst: Instrument = sim.exchange.engine.instrument(self.symbol)
        self.adapters: list[ExchangeAdapter] = []

    async def adapter(
        self, *, sim_clock: bool = False, timeout_s: float = 5.0, **options: Any
    ) -> ExchangeAdapter:
        """A started adapter on the live clock (or, with `sim_clock`, the simulator's: its
        rate budgets then stand still with the venue's windows)."""
        sim = self.sim
        endpoints = VenueEndpoints(
            sim.urls.rest, sim.urls.ws_public, sim.urls.ws_private, ca_file=sim.ca_file
        )
        clock = self.clock if sim_clock else LiveClock()
        instruments = sim.exchange.instruments()
        adapter: ExchangeAdapter
        if self.name == "okx":
            credentials = Credentials(sim.api_key, sim.api_secret, sim.passphrase)
            adapter = OkxAdapter(
                endpoints, credentials, clock, instruments, timeout_s=timeout_s, **options
            )
        else:
            credentials = Credentials(sim.api_key, sim.api_secret)
            adapter = GateAdapter(
                endpoints, credentials, clock, instruments, request_timeout_s=timeout_s, **options
            )
        self.adapters.append(adapter)
        await adapter.start()
        return adapter

    def request(
        self,
        cid: str,
        price: str,
        qty: str = "0.01",
        *,
        side: OrderSide = OrderSide.BUY,
        order_type: OrderType = OrderType.LIMIT,
    ) -> OrderRequest:
        inst = self.inst
        return OrderRequest(
            cid,
            inst,
            side,
            order_type,
            inst.qty_to_lots(qty),
            inst.price_to_ticks(price),
            TimeInForce.GTC,
        )

    def resting(self) -> dict[str, int]:
        """Our open orders at the venue: client order id -> price (ticks)."""
        out = {}
        for snap in self.sim.exchange.engine.open_orders("user", self.symbol):
            cid = snap.client_order_id
            out[cid.removeprefix("t-") if self.name == "gate" else cid] = snap.price
        return out

    def seed_ask(self, price: str) -> None:
        """Someone else offers 1 BTC at `price`."""
        engine = self.sim.exchange.engine
        ticks = self.inst.price_to_ticks(price)
        lots = self.inst.qty_to_lots("1")
        self.sim.exchange.publish(
            engine.set_background_level(
                self.symbol, OrderSide.SELL, ticks, lots, self.clock.time_ns()
            )
        )


@pytest.fixture(params=VENUES)
async def venue(request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    name = request.param
    clock = SimClock(time.time_ns())
    async with start_sim(name, seed=7, market=False, clock=clock, tls=True) as sim:
        v = Venue(name, sim, clock)
        try:
            yield v
        finally:
            for adapter in v.adapters:
                await adapter.close()


def _submitted(future: asyncio.Future[OrderAck] | None) -> asyncio.Future[OrderAck]:
    assert future is not None, "the session is up: the request should have been written"
    return future


async def test_submit_writes_before_returning_and_the_answer_resolves_it(venue: Venue) -> None:
    v = venue
    a = await v.adapter()
    tasks = asyncio.all_tasks()
    future = _submitted(a.submit_order(v.request("s1", "60000")))
    # written from the call itself: no task was made to send it, nothing awaits it yet
    assert asyncio.all_tasks() == tasks and not future.done()
    # ... and the venue has it without anyone awaiting the future
    await until(lambda: "s1" in v.resting(), 5)
    ack = await future
    assert isinstance(ack, OrderAck)
    assert ack.client_order_id == "s1" and ack.status is OrderStatus.NEW
    assert ack.venue_order_id.isdigit()
    assert v.resting()["s1"] == v.inst.price_to_ticks("60000")
    # a cancel the same way: the venue's answer (OKX: accepted, its stream says canceled)
    cancel = await _submitted(a.submit_cancel(v.symbol, "s1"))
    assert cancel.client_order_id == "s1"
    assert cancel.status in (OrderStatus.CANCELED, OrderStatus.PENDING_CANCEL)
    await until(lambda: "s1" not in v.resting(), 5)


async def test_submit_amend_amends_in_place(venue: Venue) -> None:
    v = venue
    a = await v.adapter()
    placed = await _submitted(a.submit_order(v.request("m1", "60000", "0.02")))
    new_price = v.inst.price_to_ticks("60010")
    future = _submitted(a.submit_amend(v.symbol, "m1", price_ticks=new_price, quantity_lots=0))
    ack = await future
    assert ack.client_order_id == "m1" and ack.venue_order_id == placed.venue_order_id
    assert ack.status is OrderStatus.NEW
    await until(lambda: v.resting().get("m1") == new_price, 5)  # the same order, repriced
    snap = await a.get_order(v.symbol, "m1")
    assert (snap.price_ticks, snap.quantity_lots) == (new_price, v.inst.qty_to_lots("0.02"))
    assert snap.venue_order_id == placed.venue_order_id
    with pytest.raises(InvalidOrder):  # refused before anything is built or sent
        a.submit_amend(v.symbol, "m1", price_ticks=0, quantity_lots=0)


async def test_the_venues_refusals_are_typed_errors(venue: Venue) -> None:
    v = venue
    a = await v.adapter()
    v.seed_ask("65000.1")
    with pytest.raises(InsufficientBalance):
        await _submitted(a.submit_order(v.request("big", "60000", "1000")))
    if v.name == "okx":
        # OKX accepts a crossing post_only and cancels it; an amend to a crossing price of a
        # resting one is refused
        maker = v.request("p1", "60000", order_type=OrderType.LIMIT_MAKER)
        await _submitted(a.submit_order(maker))
        ticks = v.inst.price_to_ticks("65000.1")
        with pytest.raises(PostOnlyWouldCross):
            await _submitted(a.submit_amend(v.symbol, "p1", price_ticks=ticks, quantity_lots=0))
        assert v.resting()["p1"] == v.inst.price_to_ticks("60000")
    else:
        venue_state(v.sim.exchange).config.poc_style = PocStyle.REJECT_400
        crossing = v.request("p1", "65000.1", order_type=OrderType.LIMIT_MAKER)
        with pytest.raises(PostOnlyWouldCross):
            await _submitted(a.submit_order(crossing))
        assert "p1" not in v.resting()
    # the session goes on
    assert (await _submitted(a.submit_order(v.request("ok1", "60000")))).status is OrderStatus.NEW


async def test_local_budget_refusal_raises_from_the_call_and_sends_nothing(venue: Venue) -> None:
    v = venue
    a = await v.adapter(sim_clock=True)  # the budget's window stands still
    futures: list[asyncio.Future[OrderAck]] = []
    with pytest.raises(RateLimited) as refused:
        for n in range(100):  # OKX 48 per 2 s per pair, Gate 8 a second (80 % of theirs)
            futures.append(_submitted(a.submit_order(v.request(f"b{n}", "60000"))))
    assert refused.value.code == "local" and refused.value.retry_after_s
    assert a.limiter.refused == 1 and a.limiter.blocked == 0
    refused_id = f"b{len(futures)}"
    acks = await asyncio.gather(*futures)
    assert all(ack.status is OrderStatus.NEW for ack in acks)
    # everything before the refusal reached the venue, the refused one never did
    resting = v.resting()
    assert len(resting) == len(futures) and refused_id not in resting
    # amends too (Gate counts them as places: the first is over; OKX has an amend budget)
    price = v.inst.price_to_ticks("60000")
    amends: list[asyncio.Future[OrderAck]] = []
    with pytest.raises(RateLimited) as amend_refused:
        for n in range(100):
            ticks = price - 1 - n
            amends.append(
                _submitted(a.submit_amend(v.symbol, "b0", price_ticks=ticks, quantity_lots=0))
            )
    assert amend_refused.value.code == "local" and a.limiter.refused == 2
    await asyncio.gather(*amends)
    assert v.resting()["b0"] == price - len(amends)  # the refused amend never went
    # a cancel has its own budget, and over it waits rather than being refused
    await _submitted(a.submit_cancel(v.symbol, "b0"))
    await until(lambda: "b0" not in v.resting(), 5)


async def test_a_lost_answer_fails_the_future_after_the_timeout(venue: Venue) -> None:
    v = venue
    a = await v.adapter(timeout_s=0.3)
    v.sim.exchange.faults.arm(FaultKind.LOSE_ACK, "ws.api", 1)
    future = _submitted(a.submit_order(v.request("lost", "60000")))
    with pytest.raises(VenueUnavailable) as err:
        await future
    assert "no answer within 0.3 s" in str(err.value) and "unknown" in str(err.value)
    assert v.sim.exchange.faults.counters()["lose_ack"] == 1
    # the venue took it: the OMS finds it by query
    assert (await a.get_order(v.symbol, "lost")).status is OrderStatus.NEW
    # the session goes on
    assert (await _submitted(a.submit_order(v.request("next", "60000")))).client_order_id == "next"


async def test_no_session_no_future(venue: Venue) -> None:
    v = venue
    a = await v.adapter()
    # the session drops (with the request's answer): the future fails, outcome unknown
    v.sim.exchange.faults.arm(FaultKind.DROP_CONNECTION, "ws.private", 1)
    future = _submitted(a.submit_order(v.request("d1", "60000")))
    with pytest.raises(VenueUnavailable):
        await future
    # down: None, nothing taken from the budget, nothing sent (the async path is the REST one)
    used = a.limiter.counters()
    assert a.submit_order(v.request("d2", "60000")) is None
    assert a.submit_cancel(v.symbol, "d1") is None
    assert a.submit_amend(v.symbol, "d1", price_ticks=1, quantity_lots=0) is None
    assert a.limiter.counters() == used
    # back after the reconnect and login
    await until(lambda: a.stream_restarts == 1, 10)
    ack = await _submitted(a.submit_order(v.request("d3", "60000")))
    assert ack.status is OrderStatus.NEW
    await a.close()
    assert a.submit_order(v.request("d4", "60000")) is None
    assert "d2" not in v.resting() and "d4" not in v.resting()


async def test_rest_only_adapters_have_no_hot_path(venue: Venue) -> None:
    v = venue
    option = {"rest_only": True} if v.name == "okx" else {"rest_orders": True}
    a = await v.adapter(**option)
    assert a.submit_order(v.request("r1", "60000")) is None
    ack = await a.place_order(v.request("r1", "60000"))  # over REST
    assert ack.status is OrderStatus.NEW and "r1" in v.resting()
    assert a.submit_cancel(v.symbol, "r1") is None
