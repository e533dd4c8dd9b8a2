"""The trading component against the Gate simulator over TLS: start reconciles (orders of
another run cancelled), arms the dead-man switch, takes the dispatcher's intents and reports
order updates back; stop cancels and disarms; an unreachable venue is retried while the engine
runs; a refused key stops the start."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support import until

from engine._core import intents as ib
from engine._core import orders as codes
from engine.clock import LiveClock, SimClock
from engine.events import (
    EventDispatcher,
    EventHandler,
    FeedStatus,
    HandlerContext,
    OrderIntent,
    OrderUpdate,
)
from engine.gateway.adapter import OrderRequest, VenueEndpoints
from engine.gateway.errors import AuthError
from engine.gateway.gate.trading import GateAdapter
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.oms import trading
from engine.oms.trading import TradingComponent, VenueTrading
from engine.sim.faults import FaultKind
from engine.sim.server import ACCOUNT, RunningSim, SimOptions, launch, start_sim
from engine.sim.venues.gate import venue_state
from engine.wire.credentials import Credentials

SYMBOL = "BTC_USDT"


class Quoter(EventHandler):
    """Places one bid when told the book is ready; records what comes back."""

    def __init__(self) -> None:
        self.context: HandlerContext | None = None
        self.updates: list[OrderUpdate] = []

    def on_start(self, context: HandlerContext) -> None:
        self.context = context

    def on_feed_status(self, status: FeedStatus) -> None:
        assert self.context is not None
        inst = self.context.instrument(status.instrument_id)
        self.context.submit(
            OrderIntent.new(
                status.instrument_id,
                OrderSide.BUY,
                inst.price_to_ticks("60000"),
                inst.qty_to_lots("0.01"),
                order_type=OrderType.LIMIT_MAKER,
            )
        )

    def on_order_update(self, update: OrderUpdate) -> None:
        self.updates.append(update)


def _endpoints(sim: RunningSim) -> VenueEndpoints:
    return VenueEndpoints(
        sim.urls.rest, sim.urls.ws_public, sim.urls.ws_private, ca_file=sim.ca_file
    )


def _venue(sim: RunningSim, **options: Any) -> VenueTrading:
    return VenueTrading(
        "gate",
        lambda: _endpoints(sim),
        lambda: Credentials(sim.api_key, sim.api_secret),
        dead_man_seconds=10,
        **options,
    )


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    clock = SimClock(time.time_ns())
    async with start_sim("gate", seed=9, market=False, clock=clock, tls=True) as running:
        yield running


async def test_start_trade_and_stop(sim: RunningSim) -> None:
    instruments = sim.exchange.instruments()
    leftover = GateAdapter(
        _endpoints(sim), Credentials(sim.api_key, sim.api_secret), LiveClock(), instruments
    )
    await leftover.start()
    inst = sim.exchange.engine.instrument(SYMBOL)
    await leftover.place_order(
        OrderRequest(
            "oldrun1", inst, OrderSide.SELL, OrderType.LIMIT, inst.qty_to_lots("0.01"),
            inst.price_to_ticks("70000"), TimeInForce.GTC,
        )
    )  # fmt: skip
    await leftover.close()

    events, quoter = EventDispatcher(), Quoter()
    events.add(quoter)
    component = TradingComponent([_venue(sim)], events, LiveClock(), lambda: instruments)
    await component.start()
    try:
        assert component.ready == {"gate": True}
        assert sim.exchange.engine.open_orders(ACCOUNT) == []  # the other run's order went
        state = venue_state(sim.exchange)
        assert state.countdowns, "the dead-man switch is armed"
        events.start(LiveClock(), instruments)
        events.on_feed_status(FeedStatus(inst.instrument_id, True, "ready", 0))
        await until(lambda: any(u.status is OrderStatus.NEW for u in quoter.updates))
        (order,) = sim.exchange.engine.open_orders(ACCOUNT)
        assert order.client_order_id.startswith("t-")
    finally:
        events.stop()
        await component.stop()
    assert sim.exchange.engine.open_orders(ACCOUNT) == []  # cancelled at stop
    assert not state.countdowns  # disarmed
    assert component.manager is not None and component.manager.counters.canceled_foreign == 1


async def test_unreachable_venue_is_retried_while_the_engine_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trading, "RETRY_FIRST_S", 0.05)
    options = SimOptions(market=False, tls=True, ca_path=str(tmp_path / "ca.pem"))
    first = await launch("gate", options)
    port = int(first.urls.rest.rsplit(":", 1)[1].split("/", 1)[0])
    key, secret = first.api_key, first.api_secret
    instruments = first.exchange.instruments()
    endpoints = _endpoints(first)
    await first.stop()  # the venue goes away; its URLs, keys and CA stay what config says
    venue = VenueTrading("gate", lambda: endpoints, lambda: Credentials(key, secret))
    component = TradingComponent([venue], EventDispatcher(), LiveClock(), lambda: instruments)
    await component.start()  # does not raise: the venue is reported not ready
    back: RunningSim | None = None
    try:
        assert component.ready == {"gate": False}
        again = dataclasses.replace(options, port=port, api_key=key, api_secret=secret)
        back = await launch("gate", again)
        await until(lambda: component.ready["gate"])
    finally:
        await component.stop()
        if back is not None:
            await back.stop()


async def test_a_refused_key_stops_the_start(sim: RunningSim) -> None:
    venue = VenueTrading(
        "gate", lambda: _endpoints(sim), lambda: Credentials(sim.api_key, "not-the-secret-at-all")
    )
    component = TradingComponent([venue], EventDispatcher(), LiveClock(), sim.exchange.instruments)
    with pytest.raises(AuthError):
        await component.start()
    await component.stop()


# -- a private stream dropped while fills happen, on every venue -------------------------------

STREAM_SYMBOLS = {"binance": "BTCUSDT", "okx": "BTC-USDT", "gate": "BTC_USDT"}


def _venue_of(sim: RunningSim) -> VenueTrading:
    """The venue table of a simulator: Binance's private session is its WS API."""
    private = sim.urls.ws_api if sim.venue == "binance" else sim.urls.ws_private
    endpoints = VenueEndpoints(sim.urls.rest, sim.urls.ws_public, private, ca_file=sim.ca_file)
    credentials = Credentials(sim.api_key, sim.api_secret, sim.passphrase or None)
    return VenueTrading(sim.venue, lambda: endpoints, lambda: credentials)


@pytest.mark.parametrize("venue", ["binance", "okx", "gate"])
async def test_fills_missed_while_the_stream_was_down_are_booked_once(venue: str) -> None:
    """Our bid trades while the private stream is dropped: the reports are lost with the
    connection. When it is back the component books the missed trades from the venue's
    history (once each, by trade id), reconciles the order, and later reports stream."""
    clock = SimClock(time.time_ns())
    async with start_sim(venue, seed=3, market=False, clock=clock, tls=True) as sim:
        instruments = sim.exchange.instruments()
        symbol = STREAM_SYMBOLS[venue]
        index = next(n for n, i in enumerate(instruments) if i.symbol == symbol)
        inst = instruments[index]
        component = TradingComponent(
            [_venue_of(sim)], EventDispatcher(), LiveClock(), lambda: instruments
        )
        await component.start()
        try:
            manager, adapter = component.manager, component.adapters[venue]
            assert manager is not None and component.ready[venue]
            price, lot = inst.price_to_ticks("60000"), inst.qty_to_lots("0.001")
            order_id = manager.place(index, ib.BUY, ib.LIMIT, ib.GTC, price, 4 * lot, 0)
            await until(lambda: manager.table.status_of(order_id) == codes.NEW)
            cid = manager.client_order_id(order_id)

            def hit() -> None:  # a market participant sells 0.001 into our bid, on time
                clock.advance_to(max(clock.time_ns(), time.time_ns()))
                engine = sim.exchange.engine
                sim.exchange.publish(
                    engine.background_trade(symbol, OrderSide.SELL, price, lot, clock.time_ns())
                )

            sim.exchange.faults.arm(FaultKind.DROP_CONNECTION, "ws.private")
            hit()  # its reports take the connection down with them
            hit()  # while it is down, or just back: streamed or caught up, booked once
            await until(lambda: component.recoveries.get(venue, 0) >= 1)
            assert adapter.stream_restarts >= 1
            hit()  # after the recovery: streamed
            position = manager.positions[index]
            await until(lambda: position.qty == 3 * lot)
            await manager.drain()
            assert position.fills == 3 and manager.counters.caught_up_fills >= 1
            at_venue = await adapter.get_order(symbol, cid)
            assert at_venue.filled_lots == 3 * lot
            assert at_venue.status is OrderStatus.PARTIALLY_FILLED
            await until(lambda: (manager.table.get(order_id) or ())[8] == 3 * lot)
            assert manager.table.status_of(order_id) == codes.PARTIALLY_FILLED
            trades = await adapter.get_fills(symbol, 0)
            assert len({t.trade_id for t in trades}) == 3 == position.fills
        finally:
            await component.stop()


async def test_the_venue_time_offset_is_measured_again_while_trading(
    sim: RunningSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trading, "TIME_SYNC_INTERVAL_S", 0.05)
    instruments = sim.exchange.instruments()
    component = TradingComponent([_venue(sim)], EventDispatcher(), LiveClock(), lambda: instruments)
    await component.start()
    try:
        adapter = component.adapters["gate"]
        assert not adapter.refreshes_time_itself
        offsets: list[int] = []
        measure = adapter.sync_time

        async def counted() -> int:  # the real measurement, counted
            offsets.append(await measure())
            return offsets[-1]

        adapter.sync_time = counted  # type: ignore[method-assign]
        await until(lambda: len(offsets) >= 2)
        assert all(abs(offset) < 5_000_000_000 for offset in offsets)  # same host
    finally:
        await component.stop()
