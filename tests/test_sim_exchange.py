"""The venue-neutral simulator: event fan-out, the synthetic market and fault injection."""

from __future__ import annotations

from decimal import Decimal

import aiohttp
import pytest
from aiohttp import web

from engine.clock import NS_PER_MS, SimClock
from engine.model.enums import OrderSide, OrderType
from engine.sim import presets
from engine.sim.control import add_control_routes
from engine.sim.driver import SyntheticMarket, poisson
from engine.sim.exchange import SimExchange
from engine.sim.faults import FaultInjector, FaultKind
from engine.sim.matching import DepthUpdate, Fill, OrderAccepted, OrderRequest, PublicTrade
from engine.sim.server import venue_module
from engine.wire.credentials import Credentials

D = Decimal


def _exchange(clock: SimClock) -> SimExchange:
    ex = SimExchange("binance", presets.default_instruments("binance"), clock=clock)
    ex.open_account("me", presets.DEFAULT_BALANCES, Credentials("k" * 16, "s" * 32))
    return ex


def _market(ex: SimExchange, seed: int) -> SyntheticMarket:
    inst = ex.instruments()[0]
    return SyntheticMarket(ex.engine, inst, presets.MARKETS["BTC"], seed=seed, publish=ex.publish)


def _run(seed: int, steps: int = 300) -> tuple[list[object], SimExchange]:
    clock = SimClock(start_ns=1_700_000_000 * 10**9)
    ex = _exchange(clock)
    seen: list[object] = []
    ex.on_public(seen.append)
    market = _market(ex, seed)
    for _ in range(steps):
        clock.advance_to(clock.time_ns() + 10 * NS_PER_MS)
        market.step(clock.time_ns())
    return seen, ex


def test_synthetic_market_is_deterministic_for_a_seed() -> None:
    first, _ = _run(seed=3)
    second, _ = _run(seed=3)
    other, _ = _run(seed=4)
    assert first == second
    assert first != other
    assert any(isinstance(e, PublicTrade) for e in first)


def test_synthetic_market_keeps_a_full_uncrossed_book() -> None:
    events, ex = _run(seed=1, steps=500)
    symbol = ex.instruments()[0].symbol
    _, bids, asks = ex.engine.depth(symbol, 1000)
    assert len(bids) >= presets.MARKETS["BTC"].levels
    assert len(asks) >= presets.MARKETS["BTC"].levels
    assert bids[0][0] < asks[0][0]
    ids = [e.update_id for e in events if isinstance(e, DepthUpdate)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # the mid moved from the start price, and the book followed it
    start = int(presets.MARKETS["BTC"].start_price / D("0.01"))
    assert bids[0][0] != start or asks[0][0] != start + 1


def test_our_resting_order_fills_only_through_the_market_and_we_see_it() -> None:
    clock = SimClock(start_ns=1_700_000_000 * 10**9)
    ex = _exchange(clock)
    private: list[object] = []
    ex.on_private("me", private.append)
    market = _market(ex, seed=9)
    market.step(clock.time_ns())
    inst = ex.instruments()[0]
    _, bids, _ = ex.engine.depth(inst.symbol, 1)
    events = ex.submit(
        OrderRequest("me", inst.symbol, OrderSide.BUY, OrderType.LIMIT, qty=100, price=bids[0][0])
    )
    assert isinstance(events[0], OrderAccepted)
    order_id = events[0].order.order_id
    assert ex.engine.queue_ahead(order_id) == bids[0][1]  # we queue behind the background
    for _ in range(3000):
        clock.advance_to(clock.time_ns() + 10 * NS_PER_MS)
        market.step(clock.time_ns())
        if any(isinstance(e, Fill) for e in private):
            break
    fills = [e for e in private if isinstance(e, Fill)]
    assert fills, "a random walk that never touches our bid in 30 s is implausible"
    assert all(f.order_id == order_id for f in fills)
    assert private[0] == events[0]


def test_a_failing_listener_does_not_stop_the_others() -> None:
    ex = _exchange(SimClock())
    seen: list[object] = []

    def broken(event: object) -> None:
        raise RuntimeError("bad connection")

    ex.on_public(broken)
    unsubscribe = ex.on_public(seen.append)
    _market(ex, seed=1).step(0)
    assert seen and ex.listener_errors == len(seen)
    unsubscribe()
    before = len(seen)
    ex.publish(list(seen[:1]))  # type: ignore[arg-type]
    assert len(seen) == before and ex.listener_errors == before + 1


def test_deposits_must_be_whole_units() -> None:
    ex = _exchange(SimClock())
    with pytest.raises(ValueError, match="whole number of units"):
        ex.deposit("me", "BTC", D("0.000000001"))
    with pytest.raises(ValueError, match="no symbol with asset DOGE"):
        ex.deposit("me", "DOGE", D(1))
    assert ex.balances("me")["USDT"] == (D("100000"), D(0))


def test_poisson_mean() -> None:
    import random

    rng = random.Random(5)
    for lam in (0.5, 4.0, 50.0):
        draws = [poisson(rng, lam) for _ in range(4000)]
        assert abs(sum(draws) / len(draws) - lam) < 0.1 * lam + 0.05
    assert poisson(rng, 0) == 0


def test_fault_injector_counts_what_it_injects() -> None:
    faults = FaultInjector(seed=1)
    assert not faults.take(FaultKind.SKIP_SEQUENCE, "ws.public")
    faults.arm(FaultKind.SKIP_SEQUENCE, "ws.public", count=2)
    assert not faults.take(FaultKind.SKIP_SEQUENCE, "rest")
    assert faults.take(FaultKind.SKIP_SEQUENCE, "ws.public")
    assert faults.take(FaultKind.SKIP_SEQUENCE, "ws.public")
    assert not faults.take(FaultKind.SKIP_SEQUENCE, "ws.public")
    faults.arm("rest_5xx", count=-1)
    assert all(faults.take(FaultKind.REST_5XX, "rest") for _ in range(5))
    faults.disarm(FaultKind.REST_5XX)
    assert not faults.take(FaultKind.REST_5XX, "rest")
    assert faults.counters() == {"skip_sequence": 2, "rest_5xx": 5}
    faults.set_latency("rest", 0.01, 0.005)
    assert 0.01 <= faults.latency_s("rest") <= 0.015
    assert faults.latency_s("ws.public") == 0.0
    with pytest.raises(ValueError):
        faults.arm(FaultKind.FREEZE_CONNECTION, count=0)
    with pytest.raises(ValueError):
        faults.arm("no_such_fault")


async def test_control_endpoint_arms_faults_over_http() -> None:
    ex = _exchange(SimClock())
    app = web.Application()
    add_control_routes(app, ex)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{base}/_sim/faults", json={"fault": "force_429", "channel": "rest"}
            ) as r:
                assert r.status == 200
            async with http.post(f"{base}/_sim/faults", json={"fault": "nope"}) as r:
                assert r.status == 400 and "force_429" in (await r.json())["error"]
            async with http.post(
                f"{base}/_sim/latency", json={"channel": "rest", "fixed_ms": 5}
            ) as r:
                assert r.status == 200
            assert ex.faults.take(FaultKind.FORCE_429, "rest")
            async with http.get(f"{base}/_sim/faults") as r:
                assert (await r.json())["counters"] == {"force_429": 1}
            async with http.get(f"{base}/_sim/health") as r:
                assert (await r.json())["venue"] == "binance"
    finally:
        await runner.cleanup()


def test_unknown_venue_is_refused() -> None:
    with pytest.raises(ValueError, match="speaks binance, okx, gate"):
        venue_module("kraken")


def test_the_market_driver_never_steps_faster_than_a_millisecond() -> None:
    # uvloop's timers tick in milliseconds: under uvloop a 0.1 ms step became a busy loop
    # that starved the venue's writers, so the driver is clamped to 1 ms. An upper bound
    # (load only lowers the count), measured on uvloop as the simulator runs.
    import asyncio

    from engine.runtime.loop import run
    from engine.sim.server import start_sim

    async def count_steps() -> tuple[dict[str, int], float]:
        async with start_sim("okx", seed=1, market_interval_ms=0.1) as sim:
            start = {s: m.steps for s, m in sim.markets.items()}
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await asyncio.sleep(0.5)
            return {s: m.steps - start[s] for s, m in sim.markets.items()}, loop.time() - t0

    steps, elapsed = run(count_steps())
    assert all(0 < n <= elapsed * 1000 * 1.5 + 5 for n in steps.values()), (steps, elapsed)
