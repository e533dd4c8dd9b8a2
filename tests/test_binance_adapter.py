"""`BinanceAdapter` against the simulated Binance over loopback: order entry over the WS API
and over REST, the private stream (WS API subscription, listenKey, Ed25519 logon), errors,
clock skew, rate limits and the queries. No mocks: every answer comes from the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from engine.clock import NS_PER_SECOND, LiveClock, SimClock
from engine.gateway.adapter import ExecutionReport, OrderRequest, VenueEndpoints
from engine.gateway.binance import orders_wire as wire
from engine.gateway.binance.trading import BinanceAdapter
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
from engine.gateway.tls import TlsVerifyError
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.sim.faults import FaultKind
from engine.sim.matching import OrderRequest as SimOrder
from engine.sim.server import RunningSim, start_sim
from engine.sim.venues.binance import venue_state
from engine.wire.binance_signing import binance_sign_ws, binance_ws_payload
from engine.wire.credentials import Credentials
from engine.wire.mac import hmac_hex

BTC = "BTCUSDT"
MAKER = "maker"
KEY = "test-key-0123456789abcdefABCDEF"
SECRET = "s3cr3t-never-printed-0123456789abcdef"


@pytest.fixture(params=[False, True], ids=["plain", "tls"])
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[RunningSim]:
    """The simulated Binance, over ws:// and http://, and over wss:// and https:// with a
    certificate from a CA made at start (the adapter verifies against that CA file)."""
    async with start_sim(
        "binance", seed=1, market=False, api_key=KEY, api_secret=SECRET, tls=request.param
    ) as running:
        running.exchange.open_account(
            MAKER, {"BTC": Decimal("10"), "USDT": Decimal("1000000"), "ETH": Decimal("100")}
        )
        yield running


class Reports:
    """The adapter's on_report: every report, and a way to wait for one."""

    def __init__(self) -> None:
        self.items: list[ExecutionReport] = []
        self._changed = asyncio.Event()

    def __call__(self, report: ExecutionReport) -> None:
        self.items.append(report)
        self._changed.set()

    async def wait(
        self, predicate: Callable[[ExecutionReport], bool], timeout: float = 3.0
    ) -> ExecutionReport:
        async def loop() -> ExecutionReport:
            while True:
                for report in self.items:
                    if predicate(report):
                        return report
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(loop(), timeout)

    def fills(self) -> list[ExecutionReport]:
        return [r for r in self.items if r.is_fill]


def endpoints(sim: RunningSim) -> VenueEndpoints:
    return VenueEndpoints(
        rest_url=sim.urls.rest,
        ws_public_url=sim.urls.ws_public,
        ws_private_url=sim.urls.ws_api,
        ca_file=sim.ca_file,
    )


@contextlib.asynccontextmanager
async def running(
    sim: RunningSim,
    *,
    credentials: Credentials | None = None,
    clock: Any = None,
    **options: Any,
) -> AsyncIterator[tuple[BinanceAdapter, Reports]]:
    reports = Reports()
    adapter = BinanceAdapter(
        endpoints(sim),
        credentials or Credentials(sim.api_key, sim.api_secret),
        clock or LiveClock(),
        sim.exchange.instruments(),
        reports,
        **options,
    )
    await adapter.start()
    try:
        yield adapter, reports
    finally:
        await adapter.close()


def order(
    sim: RunningSim,
    cid: str,
    price: str,
    qty: str = "0.001",
    *,
    side: OrderSide = OrderSide.BUY,
    order_type: OrderType = OrderType.LIMIT,
    tif: TimeInForce = TimeInForce.GTC,
) -> OrderRequest:
    inst = sim.exchange.engine.instrument(BTC)
    return OrderRequest(
        client_order_id=cid,
        instrument=inst,
        side=side,
        order_type=order_type,
        quantity_lots=inst.qty_to_lots(qty),
        price_ticks=inst.price_to_ticks(price) if price else 0,
        time_in_force=tif,
    )


def maker(sim: RunningSim, side: OrderSide, price: str, qty: str) -> None:
    """Liquidity from another account, straight into the simulator's exchange."""
    inst = sim.exchange.engine.instrument(BTC)
    sim.exchange.submit(
        SimOrder(
            MAKER,
            BTC,
            side,
            OrderType.LIMIT,
            qty=inst.qty_to_lots(qty),
            price=inst.price_to_ticks(price),
        )
    )


def ticks(sim: RunningSim, price: str) -> int:
    return sim.exchange.engine.instrument(BTC).price_to_ticks(price)


def lots(sim: RunningSim, qty: str) -> int:
    return sim.exchange.engine.instrument(BTC).qty_to_lots(qty)


# -- the order lifecycle, over the WS API and over REST --------------------------------------


@pytest.mark.parametrize("rest_only", [False, True], ids=["ws-api", "rest"])
async def test_place_fill_partial_fill_and_fills_once(sim, rest_only):
    async with running(sim, rest_only=rest_only) as (adapter, reports):
        ack = await adapter.place_order(order(sim, "mm-1", "60000.00"))
        assert ack.client_order_id == "mm-1" and ack.status is OrderStatus.NEW
        # the venue's usage counters, from headers (REST) or rateLimits (WS API)
        assert adapter.usage["ORDERS:10S"] == 1 and adapter.usage["REQUEST_WEIGHT:1M"] >= 1
        assert ack.venue_order_id.isdigit() and ack.filled_lots == 0 and ack.timestamp_ns > 0
        new = await reports.wait(lambda r: r.client_order_id == "mm-1")
        assert new.status is OrderStatus.NEW and not new.is_fill
        assert new.venue_order_id == ack.venue_order_id and new.side is OrderSide.BUY

        maker(sim, OrderSide.SELL, "60000.00", "0.0004")
        part = await reports.wait(lambda r: r.is_fill)
        assert part.status is OrderStatus.PARTIALLY_FILLED
        assert (part.last_lots, part.cum_filled_lots) == (lots(sim, "0.0004"), lots(sim, "0.0004"))
        assert part.last_price_ticks == ticks(sim, "60000")
        assert part.fee == Decimal("0.024") and part.fee_asset == "USDT" and part.is_maker
        assert part.trade_id and part.exchange_ts_ns > 0 and part.recv_ts_ns > 0

        maker(sim, OrderSide.SELL, "60000.00", "0.0006")
        done = await reports.wait(lambda r: r.status is OrderStatus.FILLED)
        assert done.cum_filled_lots == lots(sim, "0.001") and done.last_lots == lots(sim, "0.0006")
        await asyncio.sleep(0.2)  # anything duplicated would have arrived by now
        fills = reports.fills()
        assert len(fills) == 2 and len({f.trade_id for f in fills}) == 2

        records = await adapter.get_fills(BTC, 0)
        assert [r.trade_id for r in records] == [f.trade_id for f in fills]
        assert all(r.client_order_id == "mm-1" and r.side is OrderSide.BUY for r in records)
        assert sum(r.lots for r in records) == lots(sim, "0.001")
        assert records[0].fee == Decimal("0.024") and records[0].is_maker
        later = await adapter.get_fills(BTC, records[-1].timestamp_ns + NS_PER_SECOND)
        assert later == []
        snap = await adapter.get_order(BTC, "mm-1")
        assert snap.status is OrderStatus.FILLED and snap.filled_lots == lots(sim, "0.001")


@pytest.mark.parametrize("rest_only", [False, True], ids=["ws-api", "rest"])
async def test_cancel_amend_cancel_all_and_queries(sim, rest_only):
    async with running(sim, rest_only=rest_only) as (adapter, reports):
        await adapter.place_order(order(sim, "a-1", "60000.00"))
        await adapter.place_order(order(sim, "a-2", "60001.00"))
        await adapter.place_order(order(sim, "a-3", "60002.00", side=OrderSide.SELL))
        # the sell rests above nothing: no trade; it is cancelled below

        ack = await adapter.cancel_order(BTC, "a-1")
        assert ack.client_order_id == "a-1" and ack.status is OrderStatus.CANCELED
        cancel = await reports.wait(lambda r: r.status is OrderStatus.CANCELED)
        assert cancel.client_order_id == "a-1"  # the order's id, not the cancel's
        with pytest.raises(OrderNotFound) as err:
            await adapter.cancel_order(BTC, "a-1")
        assert err.value.code == "-2011"

        amended = await adapter.amend_order(
            BTC, "a-2", price_ticks=ticks(sim, "59000.50"), quantity_lots=lots(sim, "0.002")
        )
        assert amended.status is OrderStatus.NEW and amended.client_order_id.startswith("a-2-r")
        replaced = await reports.wait(lambda r: r.client_order_id == amended.client_order_id)
        assert replaced.status is OrderStatus.NEW
        await reports.wait(lambda r: r.client_order_id == "a-2" and r.status.is_terminal)
        open_orders = {o.client_order_id: o for o in await adapter.get_open_orders(BTC)}
        assert set(open_orders) == {amended.client_order_id, "a-3"}
        snap = open_orders[amended.client_order_id]
        assert (snap.price_ticks, snap.quantity_lots) == (ticks(sim, "59000.5"), lots(sim, "0.002"))
        assert snap.side is OrderSide.BUY and snap.order_type is OrderType.LIMIT
        again = await adapter.amend_order(
            BTC,
            amended.client_order_id,
            price_ticks=ticks(sim, "59000.00"),
            quantity_lots=lots(sim, "0.002"),
        )
        assert again.client_order_id.startswith("a-2-r") and len(again.client_order_id) <= 36
        with pytest.raises(OrderNotFound):
            await adapter.amend_order(
                BTC, amended.client_order_id, price_ticks=1, quantity_lots=lots(sim, "0.001")
            )
        with pytest.raises(OrderNotFound) as missing:
            await adapter.get_order(BTC, "never-sent")
        assert missing.value.code == "-2013"

        balances = await adapter.get_balances()
        assert balances["USDT"].locked == Decimal("118.118")  # 0.002 x 59000 + 0.1% fee room
        assert balances["USDT"].total == Decimal("100000")
        assert balances["BTC"].locked == Decimal("0.001")
        cancelled = await adapter.cancel_all(BTC)
        assert sorted(cancelled) == sorted([again.client_order_id, "a-3"])
        assert await adapter.cancel_all(BTC) == []
        assert await adapter.get_open_orders(BTC) == []
        assert (await adapter.get_balances())["USDT"].locked == 0


async def test_post_only_insufficient_balance_and_filters(sim):
    async with running(sim) as (adapter, _):
        maker(sim, OrderSide.SELL, "65000.00", "1")
        with pytest.raises(PostOnlyWouldCross) as cross:
            await adapter.place_order(
                order(sim, "po-1", "65000.00", order_type=OrderType.LIMIT_MAKER)
            )
        assert cross.value.code == "-2010" and "immediately match" in cross.value.venue_message
        with pytest.raises(InsufficientBalance) as poor:
            await adapter.place_order(order(sim, "ib-1", "60000.00", qty="50"))
        assert poor.value.code == "-2010"
        # over LOT_SIZE maxQty (9000) and over the balance too: the filter is checked first
        with pytest.raises(InvalidOrder) as big:
            await adapter.place_order(order(sim, "lot-1", "60000.00", qty="9500"))
        assert (big.value.code, big.value.venue_message) == ("-1013", "Filter failure: LOT_SIZE")
        with pytest.raises(InvalidOrder) as bad_id:
            await adapter.place_order(order(sim, "has.dot", "60000.00"))
        assert bad_id.value.code == ""  # refused before anything was sent
        with pytest.raises(InvalidOrder):
            await adapter.cancel_order("XRPUSDT", "x")
        assert sim.exchange.engine.open_orders("user") == []


# -- private stream variants -------------------------------------------------------------------


async def test_listen_key_stream_with_rest_orders(sim):
    async with running(sim, rest_only=True, user_stream="listen_key") as (adapter, reports):
        assert adapter.listen_key and adapter.stream_connects == 1
        await adapter.place_order(order(sim, "lk-1", "60000.00"))
        await reports.wait(lambda r: r.client_order_id == "lk-1")
        maker(sim, OrderSide.SELL, "60000.00", "0.001")
        fill = await reports.wait(lambda r: r.is_fill)
        assert fill.status is OrderStatus.FILLED and fill.trade_id
        await asyncio.sleep(0.1)
        assert "USDT" in adapter.positions and len(reports.fills()) == 1
        key = adapter.listen_key
    assert venue_state(sim.exchange).listen_key_account(key) is None  # deleted at close


async def test_ed25519_key_logs_on_and_subscribes(sim):
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    public = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    venue_state(sim.exchange).register_ed25519_key("ed-key-1", public, "user")
    creds = Credentials("ed-key-1", pem)
    async with running(sim, credentials=creds) as (adapter, reports):
        ack = await adapter.place_order(order(sim, "ed-1", "60000.00"))
        assert ack.status is OrderStatus.NEW
        await reports.wait(lambda r: r.client_order_id == "ed-1")
        assert [o.client_order_id for o in await adapter.get_open_orders(BTC)] == ["ed-1"]
    async with running(sim, credentials=creds, rest_only=True, user_stream="none") as (a, _):
        assert (await a.cancel_order(BTC, "ed-1")).status is OrderStatus.CANCELED


# -- failures ----------------------------------------------------------------------------------


class ShiftedClock(LiveClock):
    """The system clock plus `shift_ns`, which a test may change."""

    def __init__(self) -> None:
        super().__init__()
        self.shift_ns = 0

    def time_ns(self) -> int:
        return super().time_ns() + self.shift_ns


class JumpyClock(LiveClock):
    """A clock that leaps 20 s at every read: no offset measured with it stays right."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def time_ns(self) -> int:
        self.reads += 1
        return super().time_ns() + self.reads * 20 * NS_PER_SECOND


@pytest.mark.parametrize("rest_only", [False, True], ids=["ws-api", "rest"])
async def test_timestamp_skew_resyncs_and_retries_once(sim, rest_only):
    clock = ShiftedClock()
    clock.shift_ns = -30 * NS_PER_SECOND  # our clock is 30 s behind: the offset covers it
    async with running(sim, clock=clock, rest_only=rest_only) as (adapter, _):
        assert abs(adapter.offset_ns - 30 * NS_PER_SECOND) < NS_PER_SECOND // 2
        clock.shift_ns = -90 * NS_PER_SECOND  # the clock jumps: the next request gets -1021
        ack = await adapter.place_order(order(sim, "sk-1", "60000.00"))
        assert ack.status is OrderStatus.NEW and adapter.resyncs == 1
        assert abs(adapter.offset_ns - 90 * NS_PER_SECOND) < NS_PER_SECOND // 2

    async with running(sim, clock=JumpyClock(), rest_only=True, user_stream="none") as (a, _):
        with pytest.raises(ClockSkew) as skew:
            await a.place_order(order(sim, "sk-2", "60000.00"))
        assert skew.value.code == "-1021" and a.resyncs == 1
    assert [o.client_order_id for o in sim.exchange.engine.open_orders("user")] == ["sk-1"]


async def test_rate_limits_raise_rate_limited_with_retry_after(sim):
    faults = sim.exchange.faults
    async with running(sim) as (adapter, _):
        faults.arm(FaultKind.FORCE_429, "ws.api")
        with pytest.raises(RateLimited) as ws_limited:
            await adapter.place_order(order(sim, "rl-1", "60000.00"))
        assert ws_limited.value.status == 429 and ws_limited.value.code == "-1003"
        assert ws_limited.value.retry_after_s == pytest.approx(60, abs=1)
    async with running(sim, rest_only=True, user_stream="none") as (adapter, _):
        faults.arm(FaultKind.REST_5XX, "rest")
        with pytest.raises(VenueUnavailable) as down:
            await adapter.get_open_orders(BTC)
        assert down.value.status == 503
        # last: after a 429 every query waits out the Retry-After (tests/test_ratelimit.py)
        faults.arm(FaultKind.FORCE_429, "rest")
        with pytest.raises(RateLimited) as rest_limited:
            await adapter.get_balances()
        assert rest_limited.value.retry_after_s == 60 and rest_limited.value.status == 429


@contextlib.asynccontextmanager
async def on_sim_clock(**options: Any) -> AsyncIterator[tuple[RunningSim, SimClock, Any]]:
    """The simulator and the adapter on one SimClock the test moves: the adapter's budgets
    and the venue's windows advance together."""
    clock = SimClock(time.time_ns())
    async with (
        start_sim(
            "binance", seed=1, market=False, api_key=KEY, api_secret=SECRET, clock=clock
        ) as sim,
        running(sim, clock=clock, **options) as (adapter, _),
    ):
        yield sim, clock, adapter


@pytest.mark.parametrize("rest_only", [False, True], ids=["ws-api", "rest"])
async def test_a_burst_over_the_order_budget_is_refused_locally(rest_only):
    """100 orders at once: 80 (the venue's 100 per 10 s, at 80 %) go, the others are refused
    with RateLimited("local") and never sent; the venue counted 80 and refused none. A
    window later the orders go again."""
    async with on_sim_clock(rest_only=rest_only) as (sim, clock, adapter):
        budget = adapter.limiter.buckets["orders_10s"].capacity
        assert budget == 80
        results = await asyncio.gather(
            *(adapter.place_order(order(sim, f"b-{n}", "50000.00")) for n in range(100)),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(refused) == 100 - budget
        assert all(isinstance(r, RateLimited) and r.code == "local" for r in refused)
        assert venue_state(sim.exchange).order_counts("user")[0] == budget  # none refused
        assert len(sim.exchange.engine.open_orders("user")) == budget
        assert adapter.limiter.refused == 100 - budget and adapter.limiter.blocked == 0
        wait = max(r.retry_after_s or 0 for r in refused if isinstance(r, RateLimited))
        assert 10 <= wait <= 10.5 + 1e-9  # the window, and at most one slot more
        # cancels are never refused: they take their weight and go
        assert (await adapter.cancel_order(BTC, "b-0")).status is OrderStatus.CANCELED
        clock.advance_to(clock.time_ns() + int(wait * NS_PER_SECOND))
        again = await asyncio.gather(
            *(adapter.place_order(order(sim, f"c-{n}", "50000.00")) for n in range(budget)),
            return_exceptions=True,
        )
        assert not [r for r in again if isinstance(r, Exception)]
        assert adapter.limiter.refused == 100 - budget


@pytest.mark.parametrize("rest_only", [False, True], ids=["ws-api", "rest"])
async def test_the_venues_usage_counters_lower_our_budget(rest_only):
    """Another process on the same IP and account spent weight and orders: the venue's
    counters (X-MBX-* headers, WS API rateLimits) lower what the adapter allows itself."""
    async with on_sim_clock(rest_only=rest_only) as (sim, _clock, adapter):
        venue = venue_state(sim.exchange)
        venue.charge_weight("127.0.0.1", 3000)
        for _ in range(70):
            venue.count_order("user")
        await adapter.place_order(order(sim, "u-1", "50000.00"))
        assert adapter.usage["ORDERS:10S"] == 71
        weight, orders = adapter.limiter.buckets["weight"], adapter.limiter.buckets["orders_10s"]
        assert orders.used == 71 and orders.tokens == 80 - 71
        assert weight.used >= 3000 + 1
        for n in range(80 - 71):
            await adapter.place_order(order(sim, f"u-{n + 2}", "50000.00"))
        with pytest.raises(RateLimited) as refused:
            await adapter.place_order(order(sim, "u-over", "50000.00"))
        assert refused.value.code == "local"
        assert venue.order_counts("user")[0] == 80  # under the venue's 100: never a -1015


@pytest.mark.parametrize("rest_only", [False, True], ids=["ws-api", "rest"])
async def test_a_429_blocks_the_bucket_for_retry_after(rest_only):
    async with on_sim_clock(rest_only=rest_only) as (sim, clock, adapter):
        sim.exchange.faults.arm(FaultKind.FORCE_429, "rest" if rest_only else "ws.api")
        with pytest.raises(RateLimited) as hit:
            await adapter.place_order(order(sim, "f-1", "50000.00"))
        assert hit.value.code == "-1003" and hit.value.retry_after_s == pytest.approx(60, abs=1)
        assert adapter.limiter.blocked == 1
        with pytest.raises(RateLimited) as held:  # the weight is blocked: not sent
            await adapter.place_order(order(sim, "f-2", "50000.00"))
        assert held.value.code == "local" and held.value.retry_after_s == pytest.approx(60, abs=1)
        query = asyncio.ensure_future(adapter.get_open_orders(BTC))  # a query waits instead
        await asyncio.sleep(0.1)
        assert not query.done()
        clock.advance_to(clock.time_ns() + 61 * NS_PER_SECOND)
        assert await asyncio.wait_for(query, 5) == []
        await adapter.place_order(order(sim, "f-3", "50000.00"))
        assert sim.exchange.faults.counters()["force_429"] == 1


async def test_lost_ack_times_out_as_unknown_outcome(sim):
    async with running(sim, request_timeout_s=0.3) as (adapter, reports):
        sim.exchange.faults.arm(FaultKind.LOSE_ACK, "ws.api")
        with pytest.raises(VenueUnavailable) as lost:
            await adapter.place_order(order(sim, "lost-1", "60000.00"))
        assert "outcome is unknown" in str(lost.value)
        # the order stands: the stream reported it, and a query finds it
        await reports.wait(lambda r: r.client_order_id == "lost-1")
        assert (await adapter.get_order(BTC, "lost-1")).status is OrderStatus.NEW


async def test_ws_api_reconnects_and_falls_back_to_rest(sim):
    async with running(sim, reconnect_max_s=0.2) as (adapter, reports):
        await adapter.place_order(order(sim, "rc-1", "60000.00"))
        sim.exchange.faults.arm(FaultKind.DROP_CONNECTION, "ws.api")
        with pytest.raises(VenueUnavailable):
            await adapter.get_order(BTC, "rc-1")  # its answer kills the connection
        # meanwhile requests go over REST; then the session comes back with its stream
        assert (await adapter.get_order(BTC, "rc-1")).status is OrderStatus.NEW
        for _ in range(50):
            if adapter.stream_connects == 2:
                break
            await asyncio.sleep(0.05)
        assert adapter.stream_connects == 2
        await adapter.cancel_order(BTC, "rc-1")
        await reports.wait(lambda r: r.status is OrderStatus.CANCELED)


async def test_stream_dropped_during_fills_books_each_fill_once(sim):
    restarts: list[int] = []
    async with running(sim, reconnect_max_s=0.2, on_stream_restart=lambda: restarts.append(1)) as (
        adapter,
        reports,
    ):
        await adapter.place_order(order(sim, "dr-1", "60000.00", qty="0.003"))
        await reports.wait(lambda r: r.client_order_id == "dr-1")
        sim.exchange.faults.arm(FaultKind.DROP_CONNECTION, "ws.private")
        maker(sim, OrderSide.SELL, "60000.00", "0.001")  # its report kills the connection
        for _ in range(60):
            if restarts:
                break
            await asyncio.sleep(0.05)
        assert restarts == [1] and adapter.stream_connects == 2 and adapter.stream_restarts == 1
        maker(sim, OrderSide.SELL, "60000.00", "0.001")
        seen = await reports.wait(lambda r: r.is_fill)
        assert seen.cum_filled_lots == lots(sim, "0.002")
        await asyncio.sleep(0.2)
        assert len(reports.fills()) == 1  # the lost one is not replayed by the venue
        records = await adapter.get_fills(BTC, 0)  # reconciliation finds both, once each
        assert len(records) == 2 and records[1].trade_id == seen.trade_id
        assert len({r.trade_id for r in records}) == 2


async def test_secrets_never_in_error_messages(sim):
    wrong = Credentials(KEY, "another-secret-abcdef0123456789")
    messages: list[str] = []
    with pytest.raises(AuthError) as refused:
        async with running(sim, credentials=wrong):
            pass
    assert refused.value.code == "-1022"
    messages.append(str(refused.value))
    async with running(sim, credentials=wrong, rest_only=True, user_stream="none") as (a, _):
        for call in (
            a.place_order(order(sim, "sx-1", "60000.00")),
            a.get_balances(),
            a.cancel_all(BTC),
        ):
            with pytest.raises(AuthError) as err:
                await call
            messages.append(str(err.value))
            messages.append(repr(err.value))
    async with running(sim) as (adapter, _):
        for failing in (
            adapter.place_order(order(sim, "sx-2", "60000.00", qty="9500")),
            adapter.cancel_order(BTC, "nope"),
        ):
            with pytest.raises(VenueError) as err:
                await failing
            messages.append(str(err.value))
    assert len(messages) == 9
    for text in messages:
        assert SECRET not in text and wrong.api_secret not in text and "signature=" not in text


async def test_wrong_ca_is_refused_with_a_clear_error():
    async with start_sim("binance", market=False, tls=True) as sim:
        wrong = VenueEndpoints(sim.urls.rest, sim.urls.ws_public, sim.urls.ws_api, ca_file="")
        adapter = BinanceAdapter(wrong, Credentials(sim.api_key, sim.api_secret), LiveClock(), [])
        with pytest.raises(TlsVerifyError) as refused:
            await adapter.start()
        text = str(refused.value)
        assert "certificate verify failed" in text and "venues.binance.ca_file" in text
        assert sim.api_secret not in text


def test_ws_request_text_is_what_binance_signs():
    """The concatenated params are the sorted payload `binance_ws_payload` builds, and the
    frame is valid JSON with numbers where Binance sends numbers."""
    import orjson

    from engine.sim.presets import instrument

    inst = instrument("binance", "BTC")
    fields = wire.order_fields(
        inst,
        OrderSide.SELL,
        OrderType.LIMIT,
        TimeInForce.IOC,
        quantity_lots=inst.qty_to_lots("0.01"),
        price_ticks=inst.price_to_ticks("52000"),
        client_order_id="q-1",
    )
    fields += [("apiKey", "k"), ("recvWindow", "5000"), ("timestamp", "1700000000000")]
    fields.sort()
    frame = orjson.loads(wire.ws_request(7, "order.place", fields, "sig"))
    params = frame["params"]
    assert frame["id"] == 7 and params["timestamp"] == 1700000000000
    assert params["price"] == "52000.00000000" and params["timeInForce"] == "IOC"
    signed = {k: v for k, v in params.items() if k != "signature"}
    assert wire.query_text(fields) == binance_ws_payload(signed)


@pytest.mark.parametrize("order_type", list(OrderType))
@pytest.mark.parametrize("logged_on", [False, True])
def test_place_frame_equals_the_generic_request(order_type, logged_on):
    """The one-pass `order.place` text of the hot path is byte for byte the generic
    builder's over the sorted fields, signature included."""
    from engine.sim.presets import instrument

    inst = instrument("binance", "ETH")
    creds = Credentials("api-key-1", SECRET)

    def sign(payload: str) -> str:
        return binance_sign_ws(creds, dict(p.split("=", 1) for p in payload.split("&")))

    fields = wire.order_fields(
        inst,
        OrderSide.BUY,
        order_type,
        TimeInForce.FOK,
        quantity_lots=inst.qty_to_lots("0.5"),
        price_ticks=inst.price_to_ticks("3500.01") if order_type is not OrderType.MARKET else 0,
        client_order_id="hot-1",
    )
    fields += [("recvWindow", "5000"), ("timestamp", "1700000000123")]
    if not logged_on:
        fields.append(("apiKey", creds.api_key))
    fields.sort()
    signature = "" if logged_on else hmac_hex(creds, "sha256", wire.query_text(fields).encode())
    expected = wire.ws_request(9, "order.place", fields, signature)
    frame = wire.place_frame(
        9,
        inst,
        OrderSide.BUY,
        order_type,
        TimeInForce.FOK,
        quantity_lots=inst.qty_to_lots("0.5"),
        price_ticks=inst.price_to_ticks("3500.01") if order_type is not OrderType.MARKET else 0,
        client_order_id="hot-1",
        api_key=creds.api_key,
        recv_window="5000",
        timestamp="1700000000123",
        sign=None if logged_on else sign,
    )
    assert frame == expected
