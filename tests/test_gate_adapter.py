"""GateAdapter against the Gate simulator over real TLS on loopback: WS order entry after
spot.login, the REST fallback, execution reports from spot.orders + spot.usertrades, amend,
cancel-all, the dead-man switch on the simulator's clock, clock-skew resync, typed errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from support import until

from engine.clock import NS_PER_SECOND, LiveClock, SimClock
from engine.gateway.adapter import ExecutionReport, OrderRequest, VenueEndpoints
from engine.gateway.errors import (
    AuthError,
    InsufficientBalance,
    InvalidOrder,
    OrderNotFound,
    PostOnlyWouldCross,
    RateLimited,
    VenueError,
    VenueUnavailable,
)
from engine.gateway.gate import orders_wire as wire
from engine.gateway.gate.trading import GateAdapter
from engine.gateway.tls import TlsVerifyError
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.sim.faults import FaultKind
from engine.sim.server import RunningSim, start_sim
from engine.sim.venues.gate import PocStyle, venue_state
from engine.wire.credentials import Credentials

SYMBOL = "BTC_USDT"


class Venue:
    """A simulator on its own clock and one adapter on the live clock."""

    def __init__(self, sim: RunningSim, clock: SimClock) -> None:
        self.sim = sim
        self.clock = clock
        self.reports: list[ExecutionReport] = []
        self.inst: Instrument = sim.exchange.engine.instrument(SYMBOL)

    def adapter(self, *, sim_clock: bool = False, **options: Any) -> GateAdapter:
        """An adapter on the live clock, or with `sim_clock` on the simulator's (its rate
        budgets then move with the venue's windows)."""
        sim = self.sim
        endpoints = VenueEndpoints(
            sim.urls.rest, sim.urls.ws_public, sim.urls.ws_private, ca_file=sim.ca_file
        )
        return GateAdapter(
            endpoints,
            Credentials(sim.api_key, sim.api_secret),
            self.clock if sim_clock else LiveClock(),
            sim.exchange.instruments(),
            self.reports.append,
            **options,
        )

    def advance(self, seconds: float) -> None:
        """Move the exchange's clock: its rate windows, countdowns and timestamps."""
        self.clock.advance_to(self.clock.time_ns() + int(seconds * NS_PER_SECOND))

    def seed_book(self) -> None:
        """Background bids at 64999.9, asks at 65000.1, 1 BTC each."""
        engine, now = self.sim.exchange.engine, self.clock.time_ns()
        for side, px in ((OrderSide.BUY, "64999.9"), (OrderSide.SELL, "65000.1")):
            ticks = self.inst.price_to_ticks(px)
            self.sim.exchange.publish(engine.set_background_level(SYMBOL, side, ticks, 10**6, now))

    def hit(self, side: OrderSide, price: str, qty: str) -> None:
        """Someone else takes `qty` at up to `price` (our resting orders fill)."""
        engine = self.sim.exchange.engine
        self.sim.exchange.publish(
            engine.background_trade(
                SYMBOL,
                side,
                self.inst.price_to_ticks(price),
                self.inst.qty_to_lots(qty),
                self.clock.time_ns(),
            )
        )

    def request(
        self,
        cid: str,
        price: str,
        qty: str = "0.01",
        *,
        side: OrderSide = OrderSide.BUY,
        order_type: OrderType = OrderType.LIMIT,
        tif: TimeInForce = TimeInForce.GTC,
    ) -> OrderRequest:
        return OrderRequest(
            cid,
            self.inst,
            side,
            order_type,
            self.inst.qty_to_lots(qty),
            self.inst.price_to_ticks(price) if price else 0,
            tif,
        )

    def of(self, cid: str) -> list[ExecutionReport]:
        return [r for r in self.reports if r.client_order_id == cid]

    def fills(self) -> list[ExecutionReport]:
        return [r for r in self.reports if r.is_fill]

    def canceled(self, *cids: str) -> bool:
        return all(any(r.status is OrderStatus.CANCELED for r in self.of(c)) for c in cids)


@pytest.fixture
async def venue() -> AsyncIterator[Venue]:
    clock = SimClock(time.time_ns())
    async with start_sim("gate", seed=3, market=False, clock=clock, tls=True) as sim:
        yield Venue(sim, clock)


@pytest.fixture
async def gate(venue: Venue) -> AsyncIterator[tuple[Venue, GateAdapter]]:
    adapter = venue.adapter()
    await adapter.start()
    try:
        yield venue, adapter
    finally:
        await adapter.close()


# -- order entry over the WS API ------------------------------------------------------------


async def test_place_ack_and_put_report(gate):
    v, a = gate
    assert a.ws_ready and v.sim.ca_file and a.endpoints.ws_private_url.startswith("wss://")
    ack = await a.place_order(v.request("q1", "60000"))
    assert ack.client_order_id == "q1" and ack.status is OrderStatus.NEW
    assert ack.venue_order_id.isdigit()  # Gate's numeric id, a decimal string
    # the venue saw the t- prefix; our reports carry the bare id
    snap = v.sim.exchange.engine.order(int(ack.venue_order_id))
    assert snap is not None and snap.client_order_id == "t-q1"
    await until(lambda: bool(v.of("q1")))
    put = v.of("q1")[0]
    assert put.status is OrderStatus.NEW and put.venue_order_id == ack.venue_order_id
    assert put.side is OrderSide.BUY and put.cum_filled_lots == 0 and not put.is_fill
    assert put.venue == "gate" and put.symbol == SYMBOL and put.recv_ts_ns > 0


async def test_fill_and_partial_fill_reported_once(gate):
    v, a = gate
    v.seed_book()
    ack = await a.place_order(v.request("mk", "64999.9", "0.3"))  # behind 1 BTC at the bid
    assert ack.status is OrderStatus.NEW
    await until(lambda: bool(v.of("mk")))
    v.hit(OrderSide.SELL, "64999.9", "1.1")  # 1 BTC background ahead of us, then 0.1 of ours
    await until(lambda: len([r for r in v.of("mk") if r.is_fill]) == 1)
    v.hit(OrderSide.SELL, "64999.9", "0.2")
    await until(lambda: any(r.status is OrderStatus.FILLED and not r.is_fill for r in v.of("mk")))
    fills = [r for r in v.of("mk") if r.is_fill]
    assert [f.last_lots for f in fills] == [v.inst.qty_to_lots("0.1"), v.inst.qty_to_lots("0.2")]
    assert [f.cum_filled_lots for f in fills] == [100_000, 300_000]
    assert [f.status for f in fills] == [OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED]
    assert all(f.is_maker and f.fee > 0 and f.fee_asset == "USDT" for f in fills)
    assert fills[0].last_price_ticks == v.inst.price_to_ticks("64999.9")
    assert fills[0].fee == Decimal("64999.9") * Decimal("0.1") * Decimal("0.001")
    assert len({f.trade_id for f in fills}) == 2 and all(f.trade_id.isdigit() for f in fills)
    # spot.orders described both fills too (event update): no second fill report for them
    assert len(v.fills()) == 2
    statuses = [r.status for r in v.of("mk") if not r.is_fill]
    assert statuses == [OrderStatus.NEW, OrderStatus.FILLED]
    # a taker fill: the order crosses, fills and finishes in one go
    ack = await a.place_order(v.request("tk", "65000.1", "0.05"))
    assert ack.status is OrderStatus.FILLED and ack.filled_lots == 50_000
    await until(lambda: any(r.status is OrderStatus.FILLED and not r.is_fill for r in v.of("tk")))
    taker = [r for r in v.of("tk") if r.is_fill]
    assert len(taker) == 1 and not taker[0].is_maker and taker[0].cum_filled_lots == 50_000


async def test_duplicated_usertrades_frame_is_booked_once(gate):
    v, a = gate
    v.seed_book()
    await a.place_order(v.request("dup", "64999.9", "0.1"))
    await until(lambda: bool(v.of("dup")))
    faults = v.sim.exchange.faults
    faults.arm(FaultKind.DUPLICATE_MESSAGE, "ws.private", 3)
    v.hit(OrderSide.SELL, "64999.9", "1.05")
    await until(lambda: any(r.status is OrderStatus.PARTIALLY_FILLED for r in v.of("dup")))
    await asyncio.sleep(0.2)
    fills = [r for r in v.of("dup") if r.is_fill]
    assert len(fills) == 1 and a.duplicate_trades >= 1


async def test_cancel_amend_and_cancel_all(gate):
    v, a = gate
    await a.place_order(v.request("c1", "60000"))
    await a.place_order(v.request("c2", "60001"))
    await a.place_order(v.request("c3", "60002", side=OrderSide.BUY))
    ack = await a.cancel_order(SYMBOL, "c1")
    assert ack.status is OrderStatus.CANCELED and ack.client_order_id == "c1"
    await until(lambda: any(r.status is OrderStatus.CANCELED for r in v.of("c1")))
    with pytest.raises(OrderNotFound):
        await a.cancel_order(SYMBOL, "c1")
    # amend: same order, new price and amount, reported as a state change (not a fill)
    before = v.of("c2")[0].venue_order_id
    ack = await a.amend_order(
        SYMBOL,
        "c2",
        price_ticks=v.inst.price_to_ticks("60010"),
        quantity_lots=v.inst.qty_to_lots("0.02"),
    )
    assert ack.venue_order_id == before and ack.status is OrderStatus.NEW
    snap = await a.get_order(SYMBOL, "c2")
    assert snap.price_ticks == v.inst.price_to_ticks("60010")
    assert snap.quantity_lots == v.inst.qty_to_lots("0.02")
    await until(lambda: len(v.of("c2")) == 2)
    assert v.of("c2")[1].status is OrderStatus.NEW and not v.of("c2")[1].is_fill
    cancelled = await a.cancel_all(SYMBOL)
    assert sorted(cancelled) == ["c2", "c3"]
    assert await a.get_open_orders(SYMBOL) == []
    await until(
        lambda: all(any(r.status is OrderStatus.CANCELED for r in v.of(c)) for c in ("c2", "c3"))
    )


async def test_cancel_orders_batch(gate):
    v, a = gate
    for cid in ("b1", "b2"):
        await a.place_order(v.request(cid, "60000"))
    results = await a.cancel_orders(SYMBOL, ["b1", "b2", "b3"])  # b3 was never placed
    assert [r.status for r in results[:2]] == [OrderStatus.CANCELED] * 2  # type: ignore[union-attr]
    assert isinstance(results[2], OrderNotFound)
    assert v.sim.exchange.engine.open_orders("user") == []


async def test_poc_crossing_is_cancelled_with_reason(gate):
    v, a = gate
    v.seed_book()
    req = v.request("po", "65000.1", order_type=OrderType.LIMIT_MAKER)
    ack = await a.place_order(req)
    assert ack.status is OrderStatus.CANCELED
    await until(lambda: any(r.status is OrderStatus.CANCELED for r in v.of("po")))
    done = next(r for r in v.of("po") if r.status is OrderStatus.CANCELED)
    assert done.reason == "poc" and not v.fills()
    # the venue's other form of the same answer (docs/VENUES.md §4 item 3)
    venue_state(v.sim.exchange).config.poc_style = PocStyle.REJECT_400
    with pytest.raises(PostOnlyWouldCross) as err:
        await a.place_order(v.request("po2", "65000.1", order_type=OrderType.LIMIT_MAKER))
    assert err.value.code == "POC_FILL_IMMEDIATELY"


async def test_typed_errors(gate):
    v, a = gate
    with pytest.raises(InsufficientBalance) as err:
        await a.place_order(v.request("big", "65000", "2"))  # 130,000 USDT; 100,000 held
    assert err.value.code == "BALANCE_NOT_ENOUGH" and err.value.status == 400
    with pytest.raises(InvalidOrder) as err:
        await a.place_order(v.request("tiny", "65000", "0.000001"))  # under min_base_amount
    assert err.value.code == "AMOUNT_TOO_LITTLE"
    with pytest.raises(InvalidOrder):  # refused before sending: not a Gate text
        await a.place_order(v.request("bad id!", "65000"))
    with pytest.raises(InvalidOrder):
        await a.place_order(v.request("x" * 29, "65000"))
    with pytest.raises(InvalidOrder):  # not an instrument of this adapter
        await a.cancel_all("DOGE_USDT")
    with pytest.raises(OrderNotFound):
        await a.get_order(SYMBOL, "never")


@pytest.mark.parametrize("rest_orders", [False, True], ids=["ws", "rest"])
async def test_a_burst_over_the_place_budget_is_refused_locally(venue, rest_orders):
    """Place and amend share 10 a second (per pair over REST, per user over the WS API):
    of 12 orders at once 8 go (80 %), 4 are refused with RateLimited("local") unsent; the
    venue refuses none. The venue's rate-limit headers agree with our count; a second later
    the orders go again."""
    v = venue
    a = v.adapter(sim_clock=True, rest_orders=rest_orders)
    await a.start()
    try:
        results = await asyncio.gather(
            *(a.place_order(v.request(f"r{i}", "60000")) for i in range(12)),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(refused) == 4
        assert all(isinstance(r, RateLimited) and r.code == "local" for r in refused)
        assert len(v.sim.exchange.engine.open_orders("user")) == 8
        assert a.limiter.refused == 4 and a.limiter.blocked == 0
        bucket = a.limiter.buckets["place:" + SYMBOL if rest_orders else "ws_place"]
        assert bucket.used == 8  # the venue's headers said 8 of 10 used, as we counted
        wait = max(r.retry_after_s or 0 for r in refused if isinstance(r, RateLimited))
        assert 1.0 <= wait <= 1.05 + 1e-9
        # an amend is a place for the budget: refused too, while a cancel goes
        with pytest.raises(RateLimited):
            await a.amend_order(
                SYMBOL, "r0", price_ticks=v.inst.price_to_ticks("59000"), quantity_lots=0
            )
        assert (await a.cancel_order(SYMBOL, "r0")).status is OrderStatus.CANCELED
        v.advance(wait + 1e-6)
        for i in range(8):
            await a.place_order(v.request(f"s{i}", "60000"))
    finally:
        await a.close()


@pytest.mark.parametrize("rest_orders", [False, True], ids=["ws", "rest"])
async def test_the_venues_count_lowers_our_budget(venue, rest_orders):
    """Another process on the same key placed 5 this second: Gate's rate-limit header on our
    next answer says so, and the adapter allows itself only what is left of its 8."""
    v = venue
    other = v.adapter(sim_clock=True, rest_orders=rest_orders)
    ours = v.adapter(sim_clock=True, rest_orders=rest_orders)
    await other.start()
    await ours.start()
    try:
        for i in range(5):
            await other.place_order(v.request(f"o{i}", "60000"))
        await ours.place_order(v.request("m0", "60000"))
        name = "place:" + SYMBOL if rest_orders else "ws_place"
        assert ours.limiter.buckets[name].used == 6
        await ours.place_order(v.request("m1", "60000"))
        await ours.place_order(v.request("m2", "60000"))
        with pytest.raises(RateLimited) as refused:
            await ours.place_order(v.request("m3", "60000"))
        assert refused.value.code == "local"
        assert len(v.sim.exchange.engine.open_orders("user")) == 8  # the venue refused none
    finally:
        await ours.close()
        await other.close()


async def test_a_429_blocks_the_bucket_until_gates_reset(venue):
    v = venue
    a = v.adapter(sim_clock=True)
    await a.start()
    try:
        v.sim.exchange.faults.arm(FaultKind.FORCE_429, "rest")
        with pytest.raises(RateLimited) as err:
            await a.get_balances()
        assert err.value.code == "TOO_MANY_REQUESTS" and err.value.status == 429
        assert err.value.retry_after_s == pytest.approx(1.0, abs=0.01)
        assert a.limiter.blocked == 1
        query = asyncio.ensure_future(a.get_open_orders(SYMBOL))  # waits: never sent early
        await asyncio.sleep(0.1)
        assert not query.done()
        v.advance(1.01)
        assert await asyncio.wait_for(query, 5) == []
        assert v.sim.exchange.faults.counters()["force_429"] == 1
    finally:
        await a.close()


async def test_lost_answer_is_unknown_then_found_open(venue):
    v = venue
    a = v.adapter(request_timeout_s=0.5)
    await a.start()
    try:
        v.sim.exchange.faults.arm(FaultKind.LOSE_ACK, "ws.api", 1)
        with pytest.raises(VenueUnavailable) as err:
            await a.place_order(v.request("lost", "60000"))
        assert "unknown" in str(err.value) and a.ws_api_timeouts == 1
        snap = await a.get_order(SYMBOL, "lost")  # the OMS resolves it by query
        assert snap.status is OrderStatus.NEW and snap.client_order_id == "lost"
        await until(lambda: bool(v.of("lost")))  # and the stream said so all along
    finally:
        await a.close()


async def test_stream_reconnects_and_orders_fall_back_to_rest(gate):
    v, a = gate
    restarts: list[int] = []
    a.on_stream_restart = lambda: restarts.append(1)
    await a.place_order(v.request("k1", "60000"))
    await until(lambda: bool(v.of("k1")))
    v.sim.exchange.faults.arm(FaultKind.DROP_CONNECTION, "ws.private", 1)
    with pytest.raises(VenueUnavailable):  # its push drops the connection before the answer
        await a.cancel_order(SYMBOL, "k1")
    await until(lambda: not a.ws_ready)
    assert (await a.get_order(SYMBOL, "k1")).status is OrderStatus.CANCELED
    ack = await a.place_order(v.request("k2", "60000"))  # over REST meanwhile
    assert ack.status is OrderStatus.NEW
    await until(lambda: a.ws_ready)  # logged in and subscribed again
    assert restarts == [1] and a.stream_restarts == 1  # not at the first connect
    await a.cancel_order(SYMBOL, "k2")
    await until(lambda: v.canceled("k2"))


# -- REST ------------------------------------------------------------------------------------


async def test_rest_only_orders(venue):
    v = venue
    a = v.adapter(rest_orders=True, sim_clock=True)
    await a.start()
    try:
        v.seed_book()
        ack = await a.place_order(v.request("rest1", "64999.9", "0.1"))
        assert ack.status is OrderStatus.NEW and ack.venue_order_id.isdigit()
        ack = await a.amend_order(SYMBOL, "rest1", price_ticks=0, quantity_lots=50_000)
        assert ack.status is OrderStatus.NEW
        v.hit(OrderSide.SELL, "64999.9", "1.02")  # 0.02 of our 0.05 left after the amend
        await until(lambda: any(r.is_fill for r in v.of("rest1")))
        assert (await a.cancel_order(SYMBOL, "rest1")).status is OrderStatus.CANCELED
        for i in range(6):  # with the place and the amend above: 8, 80 % of Gate's 10
            await a.place_order(v.request(f"rr{i}", "60000"))
        with pytest.raises(RateLimited) as err:  # 10 places + amends per pair per second
            await a.place_order(v.request("rr9", "60000"))
        assert err.value.code == "local" and err.value.status is None  # never sent
        v.sim.exchange.faults.arm(FaultKind.FORCE_429, "rest", 1)
        with pytest.raises(RateLimited):
            await a.get_balances()
    finally:
        await a.close()


async def test_queries(gate):
    v, a = gate
    v.seed_book()
    since = time.time_ns() - 5 * NS_PER_SECOND
    await a.place_order(v.request("f1", "65000.1", "0.02"))  # takes at once
    await a.place_order(v.request("o1", "60000", "0.01"))
    balances = await a.get_balances()
    assert balances["BTC"].free == Decimal("1.02") and balances["USDT"].locked > 0
    opened = await a.get_open_orders(SYMBOL)
    assert [o.client_order_id for o in opened] == ["o1"]
    assert opened[0].status is OrderStatus.NEW and opened[0].order_type is OrderType.LIMIT
    assert opened[0].venue_order_id.isdigit()
    got = await a.get_order(SYMBOL, "f1")  # finished: found among the finished orders
    assert got.status is OrderStatus.FILLED and got.filled_lots == 20_000
    fills = await a.get_fills(SYMBOL, since)
    assert len(fills) == 1 and fills[0].client_order_id == "f1" and not fills[0].is_maker
    assert fills[0].lots == 20_000 and fills[0].fee_asset == "USDT" and fills[0].fee > 0
    assert fills[0].trade_id.isdigit() and fills[0].venue_order_id.isdigit()
    assert await a.get_fills(SYMBOL, time.time_ns() + 60 * NS_PER_SECOND) == []


async def test_dead_man_switch_on_the_exchange_clock(gate):
    v, a = gate
    await a.place_order(v.request("d1", "60000"))
    await a.place_order(v.request("d2", "60001"))
    assert await a.arm_dead_man_switch(10)
    v.advance(6)
    assert await a.arm_dead_man_switch(10)  # refreshed: the countdown starts again
    v.advance(6)
    assert len(v.sim.exchange.engine.open_orders("user")) == 2
    v.advance(5)  # 11 s without a refresh
    assert v.sim.exchange.engine.open_orders("user") == []
    await until(
        lambda: all(any(r.status is OrderStatus.CANCELED for r in v.of(c)) for c in ("d1", "d2"))
    )
    await a.place_order(v.request("d3", "60000"))
    await a.arm_dead_man_switch(10)
    await a.arm_dead_man_switch(0)  # disarmed
    v.advance(30)
    assert len(v.sim.exchange.engine.open_orders("user")) == 1


async def test_clock_skew_resyncs_and_retries(gate):
    v, a = gate
    assert abs(a.offset_ms) < 2000
    v.advance(120)  # the exchange's clock jumps two minutes ahead of ours
    balances = await a.get_balances()  # REQUEST_EXPIRED -> /spot/time -> sent again
    assert "USDT" in balances and a.time_resyncs == 1
    assert 118_000 < a.offset_ms < 122_000
    ack = await a.place_order(v.request("after", "60000"))  # WS session unaffected
    assert ack.status is OrderStatus.NEW


async def test_login_resyncs_on_start(venue):
    v = venue
    v.advance(300)  # far outside the 60 s window before we ever measured it
    a = v.adapter()
    await a.start()
    try:
        assert a.ws_ready and 295_000 < a.offset_ms < 305_000
    finally:
        await a.close()


async def test_bad_key_is_auth_error_and_secret_never_shown(venue):
    v = venue
    secret = "s3cr3t-" + "9" * 40
    sim = v.sim
    endpoints = VenueEndpoints(
        sim.urls.rest, sim.urls.ws_public, sim.urls.ws_private, ca_file=sim.ca_file
    )
    wrong = GateAdapter(
        endpoints, Credentials(sim.api_key, secret), LiveClock(), sim.exchange.instruments()
    )
    with pytest.raises(AuthError) as err:
        await wrong.start()
    assert secret not in str(err.value) and secret not in repr(err.value)
    a = v.adapter()
    await a.start()
    try:
        errors: list[VenueError] = []
        for call in (
            a.place_order(v.request("big", "65000", "5")),
            a.get_order(SYMBOL, "none"),
        ):
            try:
                await call
            except VenueError as exc:
                errors.append(exc)
        assert len(errors) == 2
        for exc in errors:
            assert sim.api_secret not in str(exc) and sim.api_secret not in repr(exc.args)
    finally:
        await a.close()


async def test_wrong_ca_is_refused(venue, tmp_path):
    import trustme

    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    sim = venue.sim
    endpoints = VenueEndpoints(
        sim.urls.rest, sim.urls.ws_public, sim.urls.ws_private, ca_file=str(other)
    )
    a = GateAdapter(
        endpoints,
        Credentials(sim.api_key, sim.api_secret),
        LiveClock(),
        sim.exchange.instruments(),
        request_timeout_s=2.0,
    )
    with pytest.raises(TlsVerifyError) as err:  # a configuration error, named as such
        await a.start()
    assert "certificate" in str(err.value) and "venues.gate.ca_file" in str(err.value)


# -- wire ------------------------------------------------------------------------------------


def test_order_body_bytes_and_text_prefix():
    inst = _btc()
    body = wire.order_body(
        wire.to_text("abc123"),
        inst,
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT_MAKER,
        quantity_lots=1000,
        price_ticks=650000,
        tif=TimeInForce.GTC,
    )
    assert body == (
        '{"text":"t-abc123","currency_pair":"BTC_USDT","type":"limit","account":"spot",'
        '"side":"buy","amount":"0.001000","price":"65000.0","time_in_force":"poc"}'
    )
    assert orjson.loads(body)["time_in_force"] == "poc"
    sell = wire.order_body(
        "t-m",
        inst,
        side=OrderSide.SELL,
        order_type=OrderType.MARKET,
        quantity_lots=5,
        price_ticks=0,
        tif=TimeInForce.IOC,
    )
    assert orjson.loads(sell) == {
        "text": "t-m",
        "currency_pair": "BTC_USDT",
        "type": "market",
        "account": "spot",
        "side": "sell",
        "amount": "0.000005",
        "time_in_force": "ioc",
    }
    assert wire.from_text("t-abc123") == "abc123" and wire.from_text("apiv4-ws") == ""
    assert wire.to_text("a" * 28) == "t-" + "a" * 28
    with pytest.raises(InvalidOrder):
        wire.to_text("a" * 29)


def test_label_mapping():
    assert isinstance(wire.venue_error("INVALID_SIGNATURE", "m", 401), AuthError)
    assert isinstance(wire.venue_error("FORBIDDEN", "m", 403), AuthError)
    assert isinstance(wire.venue_error("INVALID_PRECISION", "m", 400), InvalidOrder)
    assert isinstance(wire.venue_error("", "m", 429), RateLimited)
    assert type(wire.venue_error("SERVER_ERROR", "m", 500)).__name__ == "VenueUnavailable"
    assert type(wire.venue_error("REQUEST_EXPIRED", "m", 401)).__name__ == "ClockSkew"


def _btc() -> Instrument:
    from engine.sim import presets

    return presets.instrument("gate", "BTC")
