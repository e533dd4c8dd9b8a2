"""The venue round trip (a request handed to the venue's trading session -> its answer), as
the order manager records it per venue, against the Gate simulator over TLS on loopback: the
simulator's added 20 ms shows in the samples, a request that gets no answer is no sample,
and /metrics exposes the histogram as `hft_venue_round_trip_seconds{venue}`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import until

from engine._core import intents as ib
from engine._core import orders as codes
from engine.clock import NS_PER_MS, LiveClock, SimClock
from engine.events import EventDispatcher
from engine.gateway.adapter import VenueEndpoints
from engine.monitor import EngineMetrics, Sources
from engine.oms.trading import TradingComponent, VenueTrading
from engine.sim.faults import FaultKind
from engine.sim.server import RunningSim, start_sim
from engine.wire.credentials import Credentials

ADDED_MS = 20


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    clock = SimClock(time.time_ns())
    async with start_sim("gate", seed=5, market=False, clock=clock, tls=True) as running:
        yield running


def _samples(metrics: EngineMetrics) -> dict[tuple[str, str], float]:
    """(sample name, le) -> value of the gate venue's round-trip samples."""
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        if family.name == "hft_venue_round_trip_seconds":
            for s in family.samples:
                assert s.labels["venue"] == "gate"
                out[s.name, s.labels.get("le", "")] = float(s.value)
    return out


async def test_round_trips_are_recorded_per_venue_and_exposed(sim: RunningSim) -> None:
    endpoints = VenueEndpoints(
        sim.urls.rest, sim.urls.ws_public, sim.urls.ws_private, ca_file=sim.ca_file
    )
    options: dict[str, Any] = {"request_timeout_s": 0.3}  # a lost answer is given up soon
    venue = VenueTrading(
        "gate",
        lambda: endpoints,
        lambda: Credentials(sim.api_key, sim.api_secret),
        options=options,
    )
    instruments = sim.exchange.instruments()
    index = next(n for n, i in enumerate(instruments) if i.symbol == "BTC_USDT")
    inst = instruments[index]
    price, lots = inst.price_to_ticks("60000"), inst.qty_to_lots("0.01")
    component = TradingComponent([venue], EventDispatcher(), LiveClock(), lambda: instruments)
    await component.start()
    try:
        oms = component.manager
        assert oms is not None
        hist = oms.round_trips["gate"]
        assert hist.count == 0

        first = oms.place(index, ib.BUY, ib.LIMIT, ib.GTC, price, lots, 0)
        await until(lambda: oms.table.status_of(first) == codes.NEW)
        # (the private stream may tell NEW before the answer comes: wait for the answer)
        await until(lambda: hist.count == 1)
        assert 0 < hist.max < 1_000 * NS_PER_MS

        sim.exchange.faults.set_latency("ws.api", ADDED_MS / 1000)
        second = oms.place(index, ib.BUY, ib.LIMIT, ib.GTC, price - 1, lots, 0)
        await until(lambda: hist.count == 2)
        assert ADDED_MS * NS_PER_MS <= hist.max < 1_000 * NS_PER_MS
        assert oms.table.status_of(second) == codes.NEW
        sim.exchange.faults.set_latency("ws.api", 0.0)

        # no answer: the order goes UNKNOWN, a query settles it; not a round trip
        sim.exchange.faults.arm(FaultKind.LOSE_ACK, "ws.api")
        lost = oms.place(index, ib.BUY, ib.LIMIT, ib.GTC, price - 2, lots, 0)
        await until(lambda: oms.counters.timeouts == 1)
        await oms.drain()
        assert oms.table.status_of(lost) == codes.NEW  # it rests: the query found it
        assert hist.count == 2

        assert oms.cancel(first)
        await until(lambda: hist.count == 3)  # a cancel's answer is a round trip too

        samples = _samples(EngineMetrics(Sources(round_trips=lambda: oms.round_trips)))
        assert samples["hft_venue_round_trip_seconds_count", ""] == 3
        assert samples["hft_venue_round_trip_seconds_bucket", "+Inf"] == 3
        # the delayed answer lies above 10 ms and within 1 s; µs bounds exist for the rest
        assert samples["hft_venue_round_trip_seconds_bucket", "0.01"] <= 2
        assert samples["hft_venue_round_trip_seconds_bucket", "1.0"] == 3
        assert ("hft_venue_round_trip_seconds_bucket", "2.5e-05") in samples
        assert samples["hft_venue_round_trip_seconds_sum", ""] >= ADDED_MS / 1000
    finally:
        await component.stop()
