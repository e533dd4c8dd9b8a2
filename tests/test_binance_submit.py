"""`BinanceAdapter.submit_order` / `submit_cancel` / `submit_replace`: the hot path's
synchronous order entry against the simulated Binance over loopback (plain and TLS).

The request's bytes reach the simulator's socket before `submit_*` returns (no task, no loop
pass: the simulator has not read them yet, the kernel holds them); the answer resolves the
future to the OrderAck or the typed error; a request refused locally raises from the call
and sends nothing; no answer in time is VenueUnavailable; while the session is down
`submit_*` answer None and the async methods use REST. No mocks: the simulator's own
request handler is only watched (`Arrivals`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from engine.clock import NS_PER_SECOND, LiveClock
from engine.gateway.adapter import ExecutionReport, OrderRequest, VenueEndpoints
from engine.gateway.binance.trading import BinanceAdapter
from engine.gateway.errors import (
    ClockSkew,
    InsufficientBalance,
    InvalidOrder,
    OrderNotFound,
    PostOnlyWouldCross,
    RateLimited,
    VenueUnavailable,
)
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.sim.faults import FaultKind
from engine.sim.matching import OrderRequest as SimOrder
from engine.sim.matching import SimStatus
from engine.sim.server import RunningSim, start_sim
from engine.sim.venues import binance_wsapi
from engine.sim.venues.binance import venue_state
from engine.wire.credentials import Credentials

BTC = "BTCUSDT"
USER = "user"  # the simulator's account of its generated key
MAKER = "maker"
KEY = "test-key-0123456789abcdefABCDEF"
SECRET = "s3cr3t-never-printed-0123456789abcdef"


class Arrivals:
    """The simulator's side of the WS API: each request's method as `ApiSession.handle`
    enters it, and the server end of each session's socket, whose kernel queue shows bytes
    the client wrote and the simulator has not read yet."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.methods: list[str] = []
        self.sessions: list[binance_wsapi.ApiSession] = []
        cls = binance_wsapi.ApiSession
        init, handle = cls.__init__, cls.handle

        def watched_init(session: binance_wsapi.ApiSession, *args: Any) -> None:
            init(session, *args)
            self.sessions.append(session)

        def watched_handle(session: binance_wsapi.ApiSession, text: str) -> None:
            method = text.split('"method":"', 1)[1].split('"', 1)[0] if '"method"' in text else ""
            self.methods.append(method)
            handle(session, text)

        monkeypatch.setattr(cls, "__init__", watched_init)
        monkeypatch.setattr(cls, "handle", watched_handle)

    @contextlib.contextmanager
    def _server_socket(self) -> Iterator[socket.socket]:
        transport = self.sessions[-1].conn.request.transport
        assert transport is not None
        fd = transport.get_extra_info("socket").fileno()
        sock = socket.socket(fileno=os.dup(fd))
        try:
            yield sock
        finally:
            sock.close()

    def unread(self, *, expect: bool) -> int:
        """Bytes waiting in the simulator's socket, read without taking them and without
        yielding to the event loop (`expect`: give loopback delivery a few ms to land)."""
        with self._server_socket() as sock:
            for _ in range(200 if expect else 1):
                try:
                    return len(sock.recv(1 << 16, socket.MSG_PEEK | socket.MSG_DONTWAIT))
                except BlockingIOError:
                    time.sleep(0.001)  # blocking on purpose: the loop must not run
        return 0


@pytest.fixture(params=[False, True], ids=["plain", "tls"])
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[RunningSim]:
    async with start_sim(
        "binance", seed=1, market=False, api_key=KEY, api_secret=SECRET, tls=request.param
    ) as running:
        running.exchange.open_account(
            MAKER, {"BTC": Decimal("10"), "USDT": Decimal("1000000"), "ETH": Decimal("100")}
        )
        yield running


@pytest.fixture
def arrivals(monkeypatch: pytest.MonkeyPatch) -> Arrivals:
    return Arrivals(monkeypatch)


class Reports:
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


class ShiftedClock(LiveClock):
    def __init__(self) -> None:
        super().__init__()
        self.shift_ns = 0

    def time_ns(self) -> int:
        return super().time_ns() + self.shift_ns


@contextlib.asynccontextmanager
async def running(
    sim: RunningSim, *, clock: Any = None, **options: Any
) -> AsyncIterator[tuple[BinanceAdapter, Reports]]:
    reports = Reports()
    endpoints = VenueEndpoints(
        sim.urls.rest, sim.urls.ws_public, sim.urls.ws_api, ca_file=sim.ca_file
    )
    adapter = BinanceAdapter(
        endpoints,
        Credentials(sim.api_key, sim.api_secret),
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
    order_type: OrderType = OrderType.LIMIT,
) -> OrderRequest:
    inst = sim.exchange.engine.instrument(BTC)
    return OrderRequest(
        cid,
        inst,
        OrderSide.BUY,
        order_type,
        inst.qty_to_lots(qty),
        inst.price_to_ticks(price),
        TimeInForce.GTC,
    )


def status_at_venue(sim: RunningSim, cid: str) -> SimStatus | None:
    snap = sim.exchange.engine.order_by_client_id(USER, BTC, cid)
    return snap.status if snap is not None else None


async def until(done: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


# -- the write, the answer --------------------------------------------------------------------


async def test_submit_order_writes_before_returning_and_the_answer_resolves_it(
    sim: RunningSim, arrivals: Arrivals
) -> None:
    async with running(sim) as (adapter, reports):
        assert adapter.ws_ready
        assert arrivals.unread(expect=False) == 0
        tasks = asyncio.all_tasks()
        future = adapter.submit_order(order(sim, "sub-1", "60000.00"))
        assert future is not None and not future.done()
        assert asyncio.all_tasks() == tasks  # nothing to schedule: the call wrote it
        # the frame is in the simulator's socket already, unread: the loop has not run
        assert arrivals.unread(expect=True) > 200
        assert "order.place" not in arrivals.methods
        ack = await future  # one round trip
        assert arrivals.methods[-1] == "order.place"
        assert ack.client_order_id == "sub-1" and ack.status is OrderStatus.NEW
        assert ack.venue_order_id.isdigit() and ack.timestamp_ns > 0
        assert adapter.usage["ORDERS:10S"] == 1  # the answer's rateLimits, noted
        report = await reports.wait(lambda r: r.client_order_id == "sub-1")
        assert report.venue_order_id == ack.venue_order_id
        assert status_at_venue(sim, "sub-1") is SimStatus.NEW

        cancel = adapter.submit_cancel(BTC, "sub-1")
        assert cancel is not None and arrivals.unread(expect=True) > 100
        done = await cancel
        assert done.client_order_id == "sub-1" and done.status is OrderStatus.CANCELED
        assert arrivals.methods[-1] == "order.cancel"
        assert status_at_venue(sim, "sub-1") is SimStatus.CANCELED


async def test_refusals_resolve_the_future_with_the_typed_error(
    sim: RunningSim, arrivals: Arrivals
) -> None:
    async with running(sim) as (adapter, _):
        inst = sim.exchange.engine.instrument(BTC)
        sim.exchange.submit(
            SimOrder(
                MAKER,
                BTC,
                OrderSide.SELL,
                OrderType.LIMIT,
                qty=inst.qty_to_lots("1"),
                price=inst.price_to_ticks("65000.00"),
            )
        )
        futures = [
            adapter.submit_order(order(sim, "po-1", "65000.00", order_type=OrderType.LIMIT_MAKER)),
            adapter.submit_order(order(sim, "ib-1", "60000.00", qty="50")),
            adapter.submit_order(order(sim, "lot-1", "60000.00", qty="9500")),
            adapter.submit_cancel(BTC, "never-placed"),
        ]
        assert all(f is not None for f in futures)
        cross, poor, big, missing = await asyncio.gather(*futures, return_exceptions=True)  # type: ignore[arg-type]
        assert isinstance(cross, PostOnlyWouldCross) and cross.code == "-2010"
        assert isinstance(poor, InsufficientBalance) and poor.code == "-2010"
        assert isinstance(big, InvalidOrder)
        assert (big.code, big.venue_message) == ("-1013", "Filter failure: LOT_SIZE")
        assert isinstance(missing, OrderNotFound) and missing.code == "-2011"
        assert arrivals.methods[-4:] == ["order.place"] * 3 + ["order.cancel"]
        assert sim.exchange.engine.open_orders(USER) == []
        # an id the venue would refuse: raised by the call, nothing written
        with pytest.raises(InvalidOrder) as bad_id:
            adapter.submit_order(order(sim, "has.dot", "60000.00"))
        assert bad_id.value.code == ""
        assert arrivals.unread(expect=False) == 0


async def test_a_local_rate_limit_refusal_raises_and_sends_nothing(
    sim: RunningSim, arrivals: Arrivals
) -> None:
    async with running(sim) as (adapter, _):
        placed = await adapter.place_order(order(sim, "rl-0", "60000.00"))
        adapter.limiter.block_for(30.0, ("orders_10s",))
        seen = len(arrivals.methods)
        with pytest.raises(RateLimited) as refused:
            adapter.submit_order(order(sim, "rl-1", "60000.00"))
        assert refused.value.code == "local" and refused.value.retry_after_s == pytest.approx(
            30, abs=0.1
        )
        with pytest.raises(RateLimited):
            adapter.submit_replace("rl-0", order(sim, "rl-2", "59000.00"))
        assert arrivals.unread(expect=False) == 0
        # a round trip on the same socket: what was written before it has arrived by now
        await adapter.get_open_orders(BTC)
        assert arrivals.methods[seen:] == ["openOrders.status"]
        assert [o.client_order_id for o in sim.exchange.engine.open_orders(USER)] == ["rl-0"]

        # a cancel short of its weight is not refused: None, and cancel_order waits for it
        adapter.limiter.block_for(0.3, ("weight",))
        assert adapter.submit_cancel(BTC, "rl-0") is None
        started = time.monotonic()
        ack = await adapter.cancel_order(BTC, "rl-0")
        assert time.monotonic() - started >= 0.25
        assert ack.status is OrderStatus.CANCELED and ack.venue_order_id == placed.venue_order_id
        assert arrivals.methods[-1] == "order.cancel"


async def test_no_answer_in_time_is_venue_unavailable(sim: RunningSim, arrivals: Arrivals) -> None:
    async with running(sim, request_timeout_s=0.3) as (adapter, reports):
        faults = sim.exchange.faults
        faults.arm(FaultKind.LOSE_ACK, "ws.api")
        future = adapter.submit_order(order(sim, "lost-1", "60000.00"))
        assert future is not None
        with pytest.raises(VenueUnavailable) as lost:
            await future
        assert "no answer within 0.3 s" in str(lost.value)
        assert "outcome is unknown" in str(lost.value)
        assert faults.counters()["lose_ack"] == 1
        # the order stands: the stream reported it
        await reports.wait(lambda r: r.client_order_id == "lost-1")
        assert status_at_venue(sim, "lost-1") is SimStatus.NEW

        # an answer that comes after the timeout is dropped; the session carries on
        venue_state(sim.exchange).knobs.delay_ack_s = 0.5
        faults.arm(FaultKind.DELAY_ACK, "ws.api")
        late = adapter.submit_cancel(BTC, "lost-1")
        assert late is not None
        with pytest.raises(VenueUnavailable):
            await late
        await asyncio.sleep(0.4)  # the late answer arrives meanwhile
        assert status_at_venue(sim, "lost-1") is SimStatus.CANCELED
        again = adapter.submit_order(order(sim, "lost-2", "60000.00"))
        assert again is not None and (await again).status is OrderStatus.NEW


async def test_submit_replace_cancels_and_places_the_callers_id_in_one_request(
    sim: RunningSim, arrivals: Arrivals
) -> None:
    async with running(sim) as (adapter, reports):
        assert adapter.replaces_in_one_request
        first = adapter.submit_order(order(sim, "rp-1", "60000.00"))
        assert first is not None
        await first
        seen = len(arrivals.methods)
        future = adapter.submit_replace("rp-1", order(sim, "rp-2", "59990.00", qty="0.002"))
        assert future is not None and arrivals.unread(expect=True) > 200
        ack = await future
        assert arrivals.methods[seen:] == ["order.cancelReplace"]  # one request
        assert ack.client_order_id == "rp-2" and ack.status is OrderStatus.NEW
        assert status_at_venue(sim, "rp-1") is SimStatus.CANCELED
        new = sim.exchange.engine.order_by_client_id(USER, BTC, "rp-2")
        assert new is not None and new.status is SimStatus.NEW
        inst = sim.exchange.engine.instrument(BTC)
        assert (new.price, new.qty) == (inst.price_to_ticks("59990"), inst.qty_to_lots("0.002"))
        assert str(new.order_id) == ack.venue_order_id
        await reports.wait(lambda r: r.client_order_id == "rp-1" and r.status.is_terminal)
        await reports.wait(lambda r: r.client_order_id == "rp-2")

        # the cancel refused: its error, and nothing placed (STOP_ON_FAILURE)
        failed = adapter.submit_replace("rp-1", order(sim, "rp-3", "59980.00"))
        assert failed is not None
        with pytest.raises(OrderNotFound):
            await failed
        assert status_at_venue(sim, "rp-3") is None
        # the async method rides the same path; amend_order too, with a generated id
        ack = await adapter.replace_order("rp-2", order(sim, "rp-4", "59970.00"))
        assert ack.client_order_id == "rp-4" and status_at_venue(sim, "rp-2") is SimStatus.CANCELED
        amended = await adapter.amend_order(
            BTC, "rp-4", price_ticks=inst.price_to_ticks("59960"), quantity_lots=ack_lots(sim)
        )
        assert amended.client_order_id.startswith("rp-4-r")
        assert arrivals.methods[-2:] == ["order.cancelReplace"] * 2
        assert [o.client_order_id for o in sim.exchange.engine.open_orders(USER)] == [
            amended.client_order_id
        ]


def ack_lots(sim: RunningSim) -> int:
    return sim.exchange.engine.instrument(BTC).qty_to_lots("0.001")


async def test_none_while_the_session_is_down_and_the_async_path_uses_rest(
    sim: RunningSim, arrivals: Arrivals
) -> None:
    async with running(sim, reconnect_max_s=0.2) as (adapter, reports):
        faults = sim.exchange.faults
        faults.arm(FaultKind.DROP_CONNECTION, "ws.api", count=-1)  # every answer drops it
        future = adapter.submit_order(order(sim, "dn-1", "60000.00"))
        assert future is not None
        with pytest.raises(VenueUnavailable) as dropped:
            await future
        assert "outcome is unknown" in str(dropped.value)
        assert not adapter.ws_ready
        assert adapter.submit_order(order(sim, "dn-2", "60000.00")) is None
        assert adapter.submit_cancel(BTC, "dn-1") is None
        assert adapter.submit_replace("dn-1", order(sim, "dn-3", "60000.00")) is None
        seen = [m for m in arrivals.methods if m.startswith("order.")]
        # the async methods go over REST meanwhile
        placed = await adapter.place_order(order(sim, "dn-2", "59000.00"))
        assert placed.status is OrderStatus.NEW
        replaced = await adapter.replace_order("dn-2", order(sim, "dn-3", "58000.00"))
        assert replaced.client_order_id == "dn-3"
        assert (await adapter.cancel_order(BTC, "dn-3")).status is OrderStatus.CANCELED
        assert [m for m in arrivals.methods if m.startswith("order.")] == seen
        assert status_at_venue(sim, "dn-2") is SimStatus.CANCELED
        assert status_at_venue(sim, "dn-3") is SimStatus.CANCELED

        faults.disarm(FaultKind.DROP_CONNECTION)
        await until(lambda: adapter.ws_ready)  # the session is back, logged on, subscribed
        again = adapter.submit_order(order(sim, "dn-4", "60000.00"))
        assert again is not None and (await again).status is OrderStatus.NEW
        await reports.wait(lambda r: r.client_order_id == "dn-4")
    assert adapter.submit_order(order(sim, "dn-5", "60000.00")) is None  # closed


async def test_a_clock_skew_answer_leaves_the_retry_to_the_async_path(
    sim: RunningSim, arrivals: Arrivals
) -> None:
    clock = ShiftedClock()
    async with running(sim, clock=clock) as (adapter, _):
        clock.shift_ns = -90 * NS_PER_SECOND  # the clock jumps: the venue answers -1021
        future = adapter.submit_order(order(sim, "ck-1", "60000.00"))
        assert future is not None
        with pytest.raises(ClockSkew):
            await future
        # until the offset is measured again, the hot path leaves requests to place_order
        assert adapter.submit_order(order(sim, "ck-1", "60000.00")) is None
        ack = await adapter.place_order(order(sim, "ck-1", "60000.00"))
        assert ack.status is OrderStatus.NEW and adapter.resyncs == 1
        assert arrivals.methods.count("order.place") == 2  # the refused one and the retry
        again = adapter.submit_order(order(sim, "ck-2", "60000.00"))
        assert again is not None and (await again).status is OrderStatus.NEW
