"""OkxAdapter against the simulated OKX over real loopback sockets (TLS, the simulator's own
CA): WS order entry and the REST fallback, the `orders` channel as execution reports,
amend, batches, cancel-all, the dead-man switch on the exchange clock, time sync, the
venue's errors as typed exceptions. The simulator runs on a SimClock the tests move; the
adapter on the real clock, so its server-time offset is exercised too."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from support import until

from engine.clock import LiveClock, SimClock
from engine.gateway.adapter import ExecutionReport, OrderRequest, VenueEndpoints
from engine.gateway.errors import (
    AuthError,
    ClockSkew,
    InsufficientBalance,
    InvalidOrder,
    OrderNotFound,
    PostOnlyWouldCross,
    RateLimited,
    VenueError,
    VenueUnavailable,
)
from engine.gateway.okx.trading import OkxAdapter
from engine.gateway.tls import TlsConfigError
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.sim.faults import FaultKind
from engine.sim.server import RunningSim, start_sim
from engine.sim.venues.okx_core import OkxConfig
from engine.wire.credentials import Credentials

BTC = "BTC-USDT"
KEY = "k" * 32
SECRET = "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3t00"
PASSPHRASE = "Pass1wordXyz"
NS = 1_000_000_000


@dataclass
class Ctx:
    sim: RunningSim
    clock: SimClock
    adapter: OkxAdapter
    inst: Instrument
    reports: list[ExecutionReport] = field(default_factory=list)

    def seed_book(self) -> None:
        """Background asks 65000.1 x 0.5, 65000.2 x 1.2; bids 64999.9 x 0.3, 64999.8 x 2."""
        bids = [(649999, 30_000_000), (649998, 200_000_000)]
        asks = [(650001, 50_000_000), (650002, 120_000_000)]
        ex = self.sim.exchange
        ex.publish(ex.engine.apply_background_diff(BTC, bids, asks, self.clock.time_ns()))

    def take(self, side: OrderSide, ticks: int, lots: int) -> None:
        """A background participant trades against the book (our resting orders included)."""
        ex = self.sim.exchange
        ex.publish(ex.engine.background_trade(BTC, side, ticks, lots, self.clock.time_ns()))

    def order(
        self,
        cid: str,
        side: OrderSide = OrderSide.BUY,
        ticks: int = 640_000,
        lots: int = 1_000_000,
        *,
        kind: OrderType = OrderType.LIMIT,
        tif: TimeInForce = TimeInForce.GTC,
    ) -> OrderRequest:
        return OrderRequest(cid, self.inst, side, kind, lots, ticks, tif)

    def of(self, cid: str) -> list[ExecutionReport]:
        return [r for r in self.reports if r.client_order_id == cid]

    async def report(self, cid: str, status: OrderStatus, count: int = 1) -> ExecutionReport:
        await until(lambda: sum(r.status is status for r in self.of(cid)) >= count, 5)
        return [r for r in self.of(cid) if r.status is status][count - 1]


def _endpoints(sim: RunningSim, demo: bool = False) -> VenueEndpoints:
    return VenueEndpoints(
        sim.urls.rest, sim.urls.ws_public, sim.urls.ws_private, ca_file=sim.ca_file, demo=demo
    )


def _credentials(secret: str = SECRET, passphrase: str = PASSPHRASE) -> Credentials:
    return Credentials(KEY, secret, passphrase)


@contextlib.asynccontextmanager
async def okx(
    config: OkxConfig | None = None,
    *,
    clock: SimClock | None = None,
    demo: bool = False,
    start: bool = True,
    sim_clock: bool = False,
    **adapter_options: Any,
) -> AsyncIterator[Ctx]:
    """The simulated OKX and an adapter on it; with `sim_clock` the adapter (its timestamps
    and its rate budgets) runs on the simulator's clock, which the test moves."""
    clock = clock or SimClock(time.time_ns())
    venue_options: dict[str, object] = {"config": config} if config is not None else {}
    async with start_sim(
        "okx",
        market=False,
        clock=clock,
        tls=True,
        api_key=KEY,
        api_secret=SECRET,
        passphrase=PASSPHRASE,
        venue_options=venue_options,
    ) as sim:
        inst = next(i for i in sim.exchange.instruments() if i.symbol == BTC)
        adapter = OkxAdapter(
            _endpoints(sim, demo),
            _credentials(),
            clock if sim_clock else LiveClock(),
            sim.exchange.instruments(),
            **adapter_options,
        )
        ctx = Ctx(sim, clock, adapter, inst)
        adapter.on_report = ctx.reports.append
        ctx.seed_book()
        if start:
            await adapter.start()
        try:
            yield ctx
        finally:
            await adapter.close()


# -- place, fills, cancel ----------------------------------------------------------------------


@pytest.mark.parametrize("rest_only", [False, True])
async def test_place_ack_live_report_and_cancel(rest_only: bool) -> None:
    async with okx(rest_only=rest_only) as ctx:
        ack = await ctx.adapter.place_order(ctx.order("a1", ticks=640_000, lots=1_000_000))
        assert ack.client_order_id == "a1" and ack.status is OrderStatus.NEW
        assert ack.venue_order_id.isdigit() and 18 <= len(ack.venue_order_id) <= 19
        live = await ctx.report("a1", OrderStatus.NEW)
        assert (live.venue, live.symbol, live.side) == ("okx", BTC, OrderSide.BUY)
        assert live.venue_order_id == ack.venue_order_id and not live.is_fill
        assert live.cum_filled_lots == 0
        # the order really rests at the venue, at our grid values
        snap = await ctx.adapter.get_order(BTC, "a1")
        assert (snap.price_ticks, snap.quantity_lots, snap.status) == (
            640_000,
            1_000_000,
            OrderStatus.NEW,
        )
        cancel = await ctx.adapter.cancel_order(BTC, "a1")
        assert cancel.status is OrderStatus.PENDING_CANCEL
        done = await ctx.report("a1", OrderStatus.CANCELED)
        assert done.reason.startswith("cancelSource 1")
        assert ctx.sim.exchange.engine.open_orders("user") == []
        with pytest.raises(OrderNotFound) as err:
            await ctx.adapter.cancel_order(BTC, "a1")
        assert err.value.code == "51400"


async def test_partial_then_full_fill_each_reported_once() -> None:
    async with okx() as ctx:
        # a resting sell at 65000.1 behind 0.5 of background: fills only after the queue
        await ctx.adapter.place_order(ctx.order("s1", OrderSide.SELL, 650_001, 4_000_000))
        await ctx.report("s1", OrderStatus.NEW)
        ctx.take(OrderSide.BUY, 650_001, 51_000_000)  # 0.5 background + 0.01 of ours
        first = await ctx.report("s1", OrderStatus.PARTIALLY_FILLED)
        assert (first.last_lots, first.last_price_ticks, first.cum_filled_lots) == (
            1_000_000,
            650_001,
            1_000_000,
        )
        assert first.is_maker and first.trade_id and first.fee_asset == "USDT"
        # maker fee 0.1 % of 650.001 USDT, charged: OKX says negative, we say positive
        assert first.fee == Decimal("0.650001")
        ctx.take(OrderSide.BUY, 650_001, 3_000_000)
        last = await ctx.report("s1", OrderStatus.FILLED)
        assert (last.last_lots, last.cum_filled_lots) == (3_000_000, 4_000_000)
        fills = [r for r in ctx.of("s1") if r.is_fill]
        assert len(fills) == 2 and len({r.trade_id for r in fills}) == 2
        assert sum(r.last_lots for r in fills) == 4_000_000
        # the fills as the REST history has them, oldest first
        records = await ctx.adapter.get_fills(BTC, ctx.clock.time_ns() - 60 * NS)
        assert [f.trade_id for f in records] == [r.trade_id for r in fills]
        assert records[0].fee == Decimal("0.650001") and records[0].is_maker
        assert records[0].client_order_id == "s1" and records[0].lots == 1_000_000
        assert records[1].venue_order_id == fills[1].venue_order_id
        assert await ctx.adapter.get_fills(BTC, ctx.clock.time_ns() + NS) == []


async def test_taker_order_fills_at_once() -> None:
    async with okx() as ctx:
        await ctx.adapter.place_order(
            ctx.order("t1", OrderSide.BUY, 650_002, 60_000_000, tif=TimeInForce.IOC)
        )
        done = await ctx.report("t1", OrderStatus.FILLED)
        fills = [r for r in ctx.of("t1") if r.is_fill]
        assert [(f.last_price_ticks, f.last_lots) for f in fills] == [
            (650_001, 50_000_000),
            (650_002, 10_000_000),
        ]
        assert not any(f.is_maker for f in fills) and done.cum_filled_lots == 60_000_000
        balances = await ctx.adapter.get_balances()
        assert balances["BTC"].free > 0 and balances["USDT"].locked == 0


async def test_post_only_crossing_is_a_canceled_report() -> None:
    async with okx() as ctx:
        request = ctx.order("p1", OrderSide.BUY, 650_001, 1_000_000, kind=OrderType.LIMIT_MAKER)
        ack = await ctx.adapter.place_order(request)  # accepted, then canceled by the venue
        assert ack.status is OrderStatus.NEW
        report = await ctx.report("p1", OrderStatus.CANCELED)
        assert report.reason.startswith("cancelSource 31") and not report.is_fill


# -- amend, batches, cancel-all ------------------------------------------------------------------


async def test_amend_price_and_size() -> None:
    async with okx() as ctx:
        await ctx.adapter.place_order(ctx.order("m1", ticks=640_000, lots=2_000_000))
        await ctx.report("m1", OrderStatus.NEW)
        ack = await ctx.adapter.amend_order(BTC, "m1", price_ticks=641_000, quantity_lots=0)
        assert ack.client_order_id == "m1"
        amended = await ctx.report("m1", OrderStatus.NEW, 2)
        assert amended.reason == "amended"
        snap = await ctx.adapter.get_order(BTC, "m1")
        assert (snap.price_ticks, snap.quantity_lots) == (641_000, 2_000_000)
        await ctx.adapter.amend_order(BTC, "m1", price_ticks=0, quantity_lots=1_500_000)
        snap = await ctx.adapter.get_order(BTC, "m1")
        assert (snap.price_ticks, snap.quantity_lots) == (641_000, 1_500_000)
        # an amend to a crossing price trades at once
        await ctx.adapter.amend_order(BTC, "m1", price_ticks=650_001, quantity_lots=0)
        filled = await ctx.report("m1", OrderStatus.FILLED)
        assert filled.last_price_ticks == 650_001 and not filled.is_maker
        with pytest.raises(OrderNotFound) as err:
            await ctx.adapter.amend_order(BTC, "m1", price_ticks=640_000, quantity_lots=0)
        assert err.value.code == "51503"


async def test_amend_post_only_that_would_cross_is_refused() -> None:
    async with okx() as ctx:
        maker = ctx.order("m2", ticks=640_000, kind=OrderType.LIMIT_MAKER)
        await ctx.adapter.place_order(maker)
        with pytest.raises(PostOnlyWouldCross):
            await ctx.adapter.amend_order(BTC, "m2", price_ticks=650_002, quantity_lots=0)
        assert (await ctx.adapter.get_order(BTC, "m2")).price_ticks == 640_000


@pytest.mark.parametrize("rest_only", [False, True])
async def test_batch_place_cancel_and_cancel_all(rest_only: bool) -> None:
    async with okx(rest_only=rest_only) as ctx:
        requests = [ctx.order(f"b{i}", ticks=630_000 + i) for i in range(23)]
        requests.append(ctx.order("bad-id"))  # refused before sending
        requests.append(ctx.order("big", lots=10**12))  # 10,000 BTC: the venue refuses
        results = await ctx.adapter.place_orders(requests)
        assert all(not isinstance(r, Exception) for r in results[:23])
        assert isinstance(results[23], InvalidOrder)
        assert isinstance(results[24], InsufficientBalance)
        assert len(ctx.sim.exchange.engine.open_orders("user")) == 23
        canceled = await ctx.adapter.cancel_orders(BTC, ["b0", "b1", "nope"])
        assert [type(r).__name__ for r in canceled] == ["OrderAck", "OrderAck", "OrderNotFound"]
        open_orders = await ctx.adapter.get_open_orders(BTC)
        assert len(open_orders) == 21 and {o.client_order_id for o in open_orders} == {
            f"b{i}" for i in range(2, 23)
        }
        gone = await ctx.adapter.cancel_all(BTC)
        assert sorted(gone) == sorted(f"b{i}" for i in range(2, 23))
        assert await ctx.adapter.get_open_orders(BTC) == []
        await until(lambda: sum(r.status is OrderStatus.CANCELED for r in ctx.reports) == 23, 5)


# -- errors ----------------------------------------------------------------------------------------


async def test_insufficient_balance_and_parameter_errors() -> None:
    async with okx() as ctx:
        with pytest.raises(InsufficientBalance) as err:
            await ctx.adapter.place_order(ctx.order("i1", lots=10**12))
        assert err.value.code == "51008" and "USDT" in err.value.venue_message
        with pytest.raises(InvalidOrder) as bad:
            await ctx.adapter.place_order(ctx.order("i2", lots=100))  # below minSz 0.00001
        assert bad.value.code == "51020"
        with pytest.raises(InvalidOrder):
            await ctx.adapter.place_order(ctx.order("with_underscore"))
        with pytest.raises(InvalidOrder):
            await ctx.adapter.place_order(ctx.order("x1", ticks=0))
        await ctx.adapter.place_order(ctx.order("dup"))
        with pytest.raises(InvalidOrder) as dup:
            await ctx.adapter.place_order(ctx.order("dup"))
        assert dup.value.code == "51016"
        with pytest.raises(OrderNotFound):
            await ctx.adapter.get_order(BTC, "never")


async def test_rate_limits() -> None:
    """The venue's own refusals (a venue limit tighter than the published one, a forced
    429) are RateLimited and block the bucket: the next request is refused unsent."""
    limits = dict(OkxConfig().limits, order=(2, 60.0))
    async with okx(OkxConfig(limits=limits), sim_clock=True) as ctx:
        await ctx.adapter.place_order(ctx.order("r1"))
        await ctx.adapter.place_order(ctx.order("r2"))
        with pytest.raises(RateLimited) as err:
            await ctx.adapter.place_order(ctx.order("r3"))
        assert err.value.code == "50011"
        with pytest.raises(RateLimited) as local:  # blocked for OKX's window: not sent
            await ctx.adapter.place_order(ctx.order("r3"))
        assert local.value.code == "local" and local.value.retry_after_s == pytest.approx(2)
        # REST answers HTTP 429
        ctx.sim.exchange.faults.arm(FaultKind.FORCE_429, "rest")
        with pytest.raises(RateLimited) as rest:
            await ctx.adapter.get_balances()
        assert rest.value.status == 429
        assert ctx.adapter.limiter.blocked == 2
        # the windows are on the exchange clock: move it and both budgets are back
        ctx.clock.advance_to(ctx.clock.time_ns() + 61 * NS)
        await ctx.adapter.place_order(ctx.order("r3"))
        await ctx.adapter.get_balances()


@pytest.mark.parametrize("rest_only", [False, True])
async def test_a_burst_over_the_budget_is_refused_locally_never_by_the_venue(
    rest_only: bool,
) -> None:
    async with okx(sim_clock=True, rest_only=rest_only) as ctx:
        adapter = ctx.adapter
        budget = adapter.limiter.buckets["place:" + BTC].capacity
        assert budget == int(60 * 0.8)  # 60 per 2 s per instrument, at 80 %
        results = await asyncio.gather(
            *(adapter.place_order(ctx.order(f"b{n}", lots=10_000)) for n in range(60)),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(refused) == 60 - budget
        assert all(isinstance(r, RateLimited) and r.code == "local" for r in refused)
        assert len(ctx.sim.exchange.engine.open_orders("user")) == budget
        assert adapter.limiter.refused == 60 - budget and adapter.limiter.blocked == 0
        wait = max(r.retry_after_s or 0 for r in refused if isinstance(r, RateLimited))
        assert 2.0 <= wait <= 2.2  # the window, and at most one slot more
        # after the window the orders go again
        ctx.clock.advance_to(ctx.clock.time_ns() + int(wait * NS) + 1)
        more = await asyncio.gather(
            *(adapter.place_order(ctx.order(f"c{n}", lots=10_000)) for n in range(budget)),
            return_exceptions=True,
        )
        assert not [r for r in more if isinstance(r, Exception)]
        assert len(ctx.sim.exchange.engine.open_orders("user")) == 2 * budget


async def test_server_error_and_lost_ack_are_venue_unavailable() -> None:
    async with okx(timeout_s=0.5) as ctx:
        ctx.sim.exchange.faults.arm(FaultKind.REST_5XX, "rest")
        with pytest.raises(VenueUnavailable) as err:
            await ctx.adapter.get_open_orders(BTC)
        assert err.value.status == 503
        ctx.sim.exchange.faults.arm(FaultKind.REST_TIMEOUT, "rest")
        with pytest.raises(VenueUnavailable) as slow:
            await ctx.adapter.get_balances()
        assert "no answer" in str(slow.value)
        ctx.sim.exchange.faults.arm(FaultKind.LOSE_ACK, "ws.api")
        with pytest.raises(VenueUnavailable):
            await ctx.adapter.place_order(ctx.order("lost"))
        # outcome unknown -> found by query: the order stands
        assert (await ctx.adapter.get_order(BTC, "lost")).status is OrderStatus.NEW


@pytest.mark.parametrize(("sim_env", "demo"), [("live", True), ("demo", False)])
async def test_key_of_the_other_environment_is_refused(sim_env: str, demo: bool) -> None:
    config = OkxConfig(key_environment=sim_env)  # type: ignore[arg-type]
    async with okx(config, demo=demo, start=False) as ctx:
        with pytest.raises(AuthError) as login:
            await ctx.adapter.start()  # the private WS login
        assert login.value.code == "50101"
        rest = OkxAdapter(
            _endpoints(ctx.sim, demo), _credentials(), LiveClock(), [ctx.inst], private_stream=False
        )
        await rest.start()  # the server time is public
        try:
            with pytest.raises(AuthError) as refused:
                await rest.get_balances()
            assert refused.value.code == "50101" and refused.value.status == 401
        finally:
            await rest.close()


async def test_demo_key_with_demo_flag_trades() -> None:
    async with okx(OkxConfig(key_environment="demo"), demo=True) as ctx:
        await ctx.adapter.place_order(ctx.order("d1"))
        assert (await ctx.adapter.get_balances())["USDT"].locked > 0
        with pytest.raises(AuthError) as err:  # REST without the header: the live environment
            plain = OkxAdapter(_endpoints(ctx.sim), _credentials(), LiveClock(), [ctx.inst])
            try:
                await plain.start()
            finally:
                await plain.close()
        assert err.value.code == "50101"


async def test_secret_never_in_error_messages() -> None:
    async with okx() as ctx:
        for creds in (_credentials(secret="X" * 32), _credentials(passphrase="WrongPass99")):
            other = OkxAdapter(_endpoints(ctx.sim), creds, LiveClock(), [ctx.inst])
            with pytest.raises(AuthError) as err:
                await other.start()
            await other.close()
            text = f"{err.value} {err.value!r} {err.value.venue_message}"
            for secret in (creds.api_secret, creds.passphrase or "", SECRET, PASSPHRASE):
                assert secret not in text
        with pytest.raises(InsufficientBalance) as insufficient:
            await ctx.adapter.place_order(ctx.order("z1", lots=10**12))
        assert SECRET not in str(insufficient.value) and PASSPHRASE not in str(insufficient.value)


# -- time ------------------------------------------------------------------------------------------


async def test_skew_resyncs_and_retries_once_then_clock_skew() -> None:
    async with okx() as ctx:
        assert abs(ctx.adapter.offset_ms) < 5_000
        # the venue's clock jumps 45 s: our offset is stale, 50102, resync, retry
        ctx.clock.advance_to(ctx.clock.time_ns() + 45 * NS)
        balances = await ctx.adapter.get_balances()
        assert "USDT" in balances and abs(ctx.adapter.offset_ms - 45_000) < 5_000

    class Runaway(SimClock):
        """A venue clock that jumps a minute every time it is read by a signed request."""

        def time_ns(self) -> int:
            self._now += 60 * NS
            return self._now

    async with okx(clock=Runaway(time.time_ns()), private_stream=False) as ctx:
        with pytest.raises(ClockSkew) as err:
            await ctx.adapter.get_balances()
        assert err.value.code == "50102"


# -- dead-man switch -------------------------------------------------------------------------------


async def test_dead_man_switch_fires_on_the_exchange_clock() -> None:
    async with okx(sim_clock=True) as ctx:
        await ctx.adapter.place_order(ctx.order("q1"))
        await ctx.adapter.place_order(ctx.order("q2", OrderSide.SELL, 660_000))
        with pytest.raises(InvalidOrder):
            await ctx.adapter.arm_dead_man_switch(5)
        assert await ctx.adapter.arm_dead_man_switch(10)
        ctx.clock.advance_to(ctx.clock.time_ns() + 9 * NS)
        assert await ctx.adapter.arm_dead_man_switch(10) is True  # refreshed: 10 s from now
        ctx.clock.advance_to(ctx.clock.time_ns() + 9 * NS)
        assert len(ctx.sim.exchange.engine.open_orders("user")) == 2
        ctx.clock.advance_to(ctx.clock.time_ns() + 2 * NS)  # lapsed
        assert ctx.sim.exchange.engine.open_orders("user") == []
        await ctx.report("q1", OrderStatus.CANCELED)
        await ctx.report("q2", OrderStatus.CANCELED)
        # disarmed: nothing fires
        await ctx.adapter.place_order(ctx.order("q3"))
        await ctx.adapter.arm_dead_man_switch(10)
        # 1 request a second: the second waits for its token (never a 429), then goes
        disarm = asyncio.ensure_future(ctx.adapter.arm_dead_man_switch(0))
        await asyncio.sleep(0.05)
        assert not disarm.done()
        ctx.clock.advance_to(ctx.clock.time_ns() + NS + NS // 10)
        assert await asyncio.wait_for(disarm, 5) is True
        assert ctx.adapter.limiter.waited == 1 and ctx.adapter.limiter.blocked == 0
        ctx.clock.advance_to(ctx.clock.time_ns() + 30 * NS)
        assert len(ctx.sim.exchange.engine.open_orders("user")) == 1


async def test_private_stream_reconnects_after_a_drop() -> None:
    async with okx() as ctx:
        restarts: list[int] = []
        ctx.adapter.on_stream_restart = lambda: restarts.append(1)
        await ctx.adapter.place_order(ctx.order("c1", OrderSide.SELL, 650_001, 2_000_000))
        await ctx.report("c1", OrderStatus.NEW)
        ctx.sim.exchange.faults.arm(FaultKind.DROP_CONNECTION, "ws.private")
        ctx.take(OrderSide.BUY, 650_001, 51_000_000)  # this push is lost with the connection
        await until(lambda: ctx.adapter.reconnects == 1 and ctx.adapter.connected.is_set(), 10)
        assert restarts == [1] and ctx.adapter.stream_restarts == 1  # the OMS reconciles
        assert ctx.of("c1")[-1].status is OrderStatus.NEW
        # the lost fill is in the REST history (reconciliation's source), the next one streams
        fills = await ctx.adapter.get_fills(BTC, ctx.clock.time_ns() - 60 * NS)
        assert [f.lots for f in fills] == [1_000_000]
        ctx.take(OrderSide.BUY, 650_001, 1_000_000)
        done = await ctx.report("c1", OrderStatus.FILLED)
        assert done.last_lots == 1_000_000 and done.cum_filled_lots == 2_000_000
        assert len([r for r in ctx.of("c1") if r.is_fill]) == 1
        await ctx.adapter.place_order(ctx.order("c2"))  # order entry is back on the WS


async def test_idle_private_connection_is_kept_alive_by_ping() -> None:
    config = OkxConfig(idle_timeout_s=0.6)  # the venue closes after 0.6 s without a frame
    async with okx(config, ping_idle_s=0.2) as ctx:
        await asyncio.sleep(1.5)
        assert ctx.adapter.connected.is_set() and ctx.adapter.reconnects == 0
        await ctx.adapter.place_order(ctx.order("k1"))
    async with okx(config, ping_idle_s=5.0) as ctx:  # without pings: closed, reconnected
        await until(lambda: ctx.adapter.reconnects >= 1, 5)


async def test_certificate_of_an_untrusted_ca_is_a_config_error() -> None:
    async with okx(start=False) as ctx:
        endpoints = VenueEndpoints(
            ctx.sim.urls.rest, ctx.sim.urls.ws_public, ctx.sim.urls.ws_private, ca_file=""
        )
        assert endpoints.rest_url.startswith("https://")
        adapter = OkxAdapter(endpoints, _credentials(), LiveClock(), [ctx.inst])
        with pytest.raises(TlsConfigError) as err:
            await adapter.start()
        await adapter.close()
        assert "venues.okx.ca_file" in str(err.value) and "system trust store" in str(err.value)


async def test_unknown_symbol_is_invalid_before_sending() -> None:
    async with okx() as ctx:
        with pytest.raises(VenueError):
            await ctx.adapter.cancel_order("DOGE-USDT", "x1")
