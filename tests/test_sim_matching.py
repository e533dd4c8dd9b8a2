"""The simulator's matching core: hand cases for each rule, then random call sequences
checked against the invariants (conservation, uncrossed book, paired fills, depth stream)."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.model.enums import OrderSide, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.sim.accounts import FeeSchedule, Ledger, fee_units
from engine.sim.errors import Reason
from engine.sim.matching import (
    CancelFrom,
    CancelRejected,
    DepthUpdate,
    Event,
    Fill,
    MatchingConfig,
    MatchingEngine,
    OrderAccepted,
    OrderDone,
    OrderRejected,
    OrderRequest,
    OrderSnapshot,
    PostOnlyStyle,
    PublicTrade,
    SimStatus,
    Stp,
)

BUY, SELL = OrderSide.BUY, OrderSide.SELL
LIMIT, MARKET, MAKER = OrderType.LIMIT, OrderType.MARKET, OrderType.LIMIT_MAKER
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
SYM = "BTCUSDT"
BG = "background"
CASH = 10**9  # USDT notional units each trader starts with
COINS = 10**6  # BTC lots each trader starts with


def instrument(min_qty: str = "0.001", min_notional: str = "0") -> Instrument:
    return Instrument(
        SYM, "sim", "BTC", "USDT", Decimal("0.01"), Decimal("0.001"),
        Decimal(min_qty), Decimal(min_notional), 2, 3,
    )  # fmt: skip


def make(
    fees: FeeSchedule | None = None, inst: Instrument | None = None, **config: object
) -> MatchingEngine:
    engine = MatchingEngine(MatchingConfig(**config))  # type: ignore[arg-type]
    engine.add_symbol(inst or instrument())
    for name in ("a", "b"):
        engine.ledger.open_account(name, fees=fees)
        engine.ledger.deposit(name, "USDT", CASH)
        engine.ledger.deposit(name, "BTC", COINS)
    return engine


def limit(account: str, side: OrderSide, qty: int, price: int, **kw: object) -> OrderRequest:
    return OrderRequest(account, SYM, side, LIMIT, qty=qty, price=price, **kw)  # type: ignore[arg-type]


def of(events: list[Event], kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def done(events: list[Event], order_id: int) -> OrderDone:
    (event,) = [e for e in of(events, OrderDone) if e.order.order_id == order_id]
    return event


def accepted_id(events: list[Event]) -> int:
    return of(events, OrderAccepted)[-1].order.order_id


# -- price-time priority, partial fills ----------------------------------------------------


def test_taker_fills_at_maker_price_best_price_first_then_fifo():
    engine = make()
    first = accepted_id(engine.submit(limit("a", SELL, 3, 101), 1))
    second = accepted_id(engine.submit(limit("b", SELL, 3, 101), 2))
    better = accepted_id(engine.submit(limit("b", SELL, 2, 100), 3))
    events = engine.submit(limit("a", BUY, 6, 105, stp=Stp.NONE), 4)
    maker_fills = [(f.order_id, f.price, f.qty) for f in of(events, Fill) if f.is_maker]
    assert maker_fills == [(better, 100, 2), (first, 101, 3), (second, 101, 1)]
    assert engine.order(second).status is SimStatus.PARTIALLY_FILLED  # type: ignore[union-attr]
    assert engine.depth(SYM)[2] == [(101, 2)]
    taker = of(events, OrderDone)[-1].order
    assert (taker.status, taker.filled, taker.cum_quote) == (SimStatus.FILLED, 6, 200 + 404)


def test_gtc_remainder_rests_at_its_limit_and_update_ids_advance_once_per_call():
    engine = make()
    engine.submit(limit("b", SELL, 2, 100), 1)
    events = engine.submit(limit("a", BUY, 5, 100), 2)
    (update,) = of(events, DepthUpdate)
    assert update.update_id == 2
    assert update.asks == ((100, 0),) and update.bids == ((100, 3),)
    snapshot = engine.open_orders("a")[0]
    assert (snapshot.status, snapshot.filled, snapshot.leaves) == (
        SimStatus.PARTIALLY_FILLED,
        2,
        3,
    )


# -- time in force ---------------------------------------------------------------------


def test_fok_is_all_or_nothing():
    engine = make()
    engine.submit(limit("b", SELL, 3, 100), 1)
    engine.submit(limit("b", SELL, 3, 102), 2)
    before = engine.depth(SYM)
    events = engine.submit(limit("a", BUY, 7, 102, tif=FOK), 3)
    assert not of(events, Fill)
    final = of(events, OrderDone)[0].order
    assert (final.status, final.reason, final.filled) == (
        SimStatus.EXPIRED,
        Reason.FOK_NOT_FILLED,
        0,
    )
    assert engine.depth(SYM) == before
    assert engine.ledger.account("a").locked("USDT") == 0
    events = engine.submit(limit("a", BUY, 6, 102, tif=FOK), 4)
    assert sum(f.qty for f in of(events, Fill) if not f.is_maker) == 6
    assert of(events, OrderDone)[-1].order.status is SimStatus.FILLED


def test_fok_counts_only_liquidity_within_its_limit():
    engine = make()
    engine.submit(limit("b", SELL, 3, 100), 1)
    engine.submit(limit("b", SELL, 3, 103), 2)
    events = engine.submit(limit("a", BUY, 6, 102, tif=FOK), 3)
    assert not of(events, Fill)


def test_ioc_fills_what_it_can_and_leaves_nothing_resting():
    engine = make()
    engine.submit(limit("b", SELL, 3, 100), 1)
    events = engine.submit(limit("a", BUY, 5, 100, tif=IOC), 2)
    final = of(events, OrderDone)[-1].order
    assert (final.status, final.reason, final.filled) == (
        SimStatus.EXPIRED,
        Reason.IOC_REMAINDER,
        3,
    )
    assert engine.open_orders("a") == []
    assert engine.depth(SYM)[1:] == ([], [])
    assert engine.ledger.account("a").locked("USDT") == 0


# -- post-only -------------------------------------------------------------------------


def test_post_only_reject_style_never_takes_and_locks_nothing():
    engine = make(post_only=PostOnlyStyle.REJECT)
    engine.submit(limit("b", SELL, 3, 100), 1)
    events = engine.submit(OrderRequest("a", SYM, BUY, MAKER, qty=1, price=100), 2)
    assert [type(e) for e in events] == [OrderRejected]
    assert events[0].reason is Reason.POST_ONLY_WOULD_TAKE  # type: ignore[union-attr]
    assert engine.ledger.account("a").locked("USDT") == 0
    rests = engine.submit(OrderRequest("a", SYM, BUY, MAKER, qty=1, price=99), 3)
    assert of(rests, OrderAccepted) and not of(rests, Fill)
    assert engine.depth(SYM)[1] == [(99, 1)]


def test_post_only_cancel_style_accepts_then_cancels_with_the_same_reason():
    engine = make(post_only=PostOnlyStyle.CANCEL)
    engine.submit(limit("b", SELL, 3, 100), 1)
    events = engine.submit(OrderRequest("a", SYM, BUY, MAKER, qty=1, price=101), 2)
    assert [type(e) for e in events] == [OrderAccepted, OrderDone]
    final = events[1].order  # type: ignore[union-attr]
    assert (final.status, final.reason) == (SimStatus.CANCELED, Reason.POST_ONLY_WOULD_TAKE)
    assert engine.ledger.account("a").locked("USDT") == 0
    assert engine.ledger.account("a").free("USDT") == CASH


def test_post_only_takes_gtc_only():
    engine = make()
    events = engine.submit(OrderRequest("a", SYM, BUY, MAKER, qty=1, price=99, tif=IOC), 1)
    assert of(events, OrderRejected)[0].reason is Reason.INVALID_ORDER


# -- self-trade prevention ---------------------------------------------------------------


def _stp_case(mode: Stp) -> tuple[MatchingEngine, int, int, list[Event]]:
    engine = make()
    own = accepted_id(engine.submit(limit("a", SELL, 2, 100), 1))
    other = accepted_id(engine.submit(limit("b", SELL, 2, 100), 2))
    events = engine.submit(limit("a", BUY, 3, 100, stp=mode), 3)
    return engine, own, other, events


def test_stp_none_trades_with_itself():
    _, own, other, events = _stp_case(Stp.NONE)
    fills = of(events, Fill)
    assert [(f.order_id, f.qty) for f in fills if f.is_maker] == [(own, 2), (other, 1)]
    assert {f.account for f in fills[:2]} == {"a"}


def test_stp_expire_maker_removes_our_resting_order_and_keeps_matching():
    engine, own, other, events = _stp_case(Stp.EXPIRE_MAKER)
    expired = done(events, own).order
    assert (expired.status, expired.reason) == (
        SimStatus.EXPIRED_IN_MATCH,
        Reason.SELF_TRADE_PREVENTED,
    )
    assert [(f.order_id, f.qty) for f in of(events, Fill) if f.is_maker] == [(other, 2)]
    taker = engine.open_orders("a")[0]  # the remaining 1 lot rests at 100
    assert (taker.filled, taker.leaves, taker.price) == (2, 1, 100)
    assert engine.ledger.account("a").locked("BTC") == 0


def test_stp_expire_taker_keeps_our_resting_order():
    engine, own, _, events = _stp_case(Stp.EXPIRE_TAKER)
    assert not of(events, Fill)
    taker = of(events, OrderDone)[0].order
    assert taker.order_id != own and taker.status is SimStatus.EXPIRED_IN_MATCH
    assert engine.order(own).status is SimStatus.NEW  # type: ignore[union-attr]
    assert engine.ledger.account("a").locked("USDT") == 0


def test_stp_expire_both():
    _, own, _, events = _stp_case(Stp.EXPIRE_BOTH)
    assert not of(events, Fill)
    statuses = {e.order.order_id: e.order.status for e in of(events, OrderDone)}
    assert statuses[own] is SimStatus.EXPIRED_IN_MATCH
    assert list(statuses.values()) == [SimStatus.EXPIRED_IN_MATCH] * 2


def test_default_stp_comes_from_config():
    engine = make(default_stp=Stp.EXPIRE_TAKER)
    own = accepted_id(engine.submit(limit("a", SELL, 2, 100), 1))
    events = engine.submit(limit("a", BUY, 2, 100), 2)
    assert engine.order(own).status is SimStatus.NEW  # type: ignore[union-attr]
    assert of(events, OrderDone)[0].order.stp is Stp.EXPIRE_TAKER


def test_fok_skips_own_orders_that_expire_maker_would_remove():
    engine = make()
    engine.submit(limit("a", SELL, 5, 100), 1)
    engine.submit(limit("b", SELL, 2, 100), 2)
    events = engine.submit(limit("a", BUY, 3, 100, tif=FOK, stp=Stp.EXPIRE_MAKER), 3)
    assert not of(events, Fill)  # only 2 lots are not ours
    assert of(events, OrderDone)[0].order.reason is Reason.FOK_NOT_FILLED


def test_fok_with_expire_taker_does_not_count_liquidity_behind_our_own_order():
    engine = make()
    engine.submit(limit("b", SELL, 2, 100), 1)
    engine.submit(limit("a", SELL, 2, 100), 2)
    engine.submit(limit("b", SELL, 5, 101), 3)
    for mode in (Stp.EXPIRE_TAKER, Stp.EXPIRE_BOTH):
        events = engine.submit(limit("a", BUY, 4, 101, tif=FOK, stp=mode), 4)
        assert not of(events, Fill), mode
        assert of(events, OrderDone)[0].order.reason is Reason.FOK_NOT_FILLED


# -- balances ----------------------------------------------------------------------------


def test_insufficient_balance_is_rejected_and_locks_nothing():
    engine = make()
    engine.ledger.open_account("poor")
    engine.ledger.deposit("poor", "USDT", 999)
    engine.ledger.deposit("poor", "BTC", 4)
    for req in (limit("poor", BUY, 10, 100), limit("poor", SELL, 5, 100)):
        events = engine.submit(req, 1)
        assert [type(e) for e in events] == [OrderRejected]
        assert events[0].reason is Reason.INSUFFICIENT_BALANCE  # type: ignore[union-attr]
    poor = engine.ledger.account("poor")
    assert (poor.free("USDT"), poor.locked("USDT"), poor.free("BTC"), poor.locked("BTC")) == (
        999,
        0,
        4,
        0,
    )
    assert engine.depth(SYM)[1:] == ([], [])
    engine.ledger.deposit("poor", "USDT", 1)  # exactly enough now
    assert of(engine.submit(limit("poor", BUY, 10, 100), 2), OrderAccepted)
    assert (poor.free("USDT"), poor.locked("USDT")) == (0, 1000)


def test_buy_locks_worst_case_fee_and_cancel_releases_everything():
    engine = make(fees=FeeSchedule(maker_ppm=1000, taker_ppm=2000))
    account = engine.ledger.account("a")
    order_id = accepted_id(engine.submit(limit("a", BUY, 10, 100_000), 1))
    notional = 10 * 100_000
    # resting without any taker fill: only maker fees can follow
    assert account.locked("USDT") == notional + fee_units(notional, 1000)
    events = engine.cancel("a", SYM, 2, order_id=order_id)
    assert done(events, order_id).order.status is SimStatus.CANCELED
    assert (account.free("USDT"), account.locked("USDT")) == (CASH, 0)


def test_sell_lock_released_on_cancel_by_client_id():
    engine = make()
    engine.submit(limit("a", SELL, 7, 100, client_order_id="x1"), 1)
    assert engine.ledger.account("a").locked("BTC") == 7
    events = engine.cancel("a", SYM, 2, client_order_id="x1")
    assert of(events, OrderDone)[0].order.reason is Reason.CANCELED_BY_USER
    assert engine.ledger.account("a").locked("BTC") == 0
    assert engine.ledger.account("a").free("BTC") == COINS


def test_fees_are_charged_in_quote_and_conserved():
    engine = make(fees=FeeSchedule(maker_ppm=-100, taker_ppm=1000))
    engine.submit(limit("b", SELL, 10, 100_000), 1)  # maker, rebate
    events = engine.submit(limit("a", BUY, 10, 100_000), 2)
    notional = 1_000_000
    maker, taker = sorted(of(events, Fill), key=lambda f: not f.is_maker)
    assert (maker.fee, taker.fee) == (-100, 1000)
    a, b = engine.ledger.account("a"), engine.ledger.account("b")
    assert a.free("USDT") == CASH - notional - 1000 and a.locked("USDT") == 0
    assert a.free("BTC") == COINS + 10
    assert b.free("USDT") == CASH + notional + 100
    assert engine.ledger.fees_collected("USDT") == 900
    assert engine.ledger.total("USDT") == 2 * CASH


def test_fee_schedule_from_decimal_rates():
    assert FeeSchedule.from_rates(Decimal("-0.0001"), Decimal("0.001")) == FeeSchedule(-100, 1000)
    with pytest.raises(ValueError):
        FeeSchedule.from_rates(Decimal("0.0000001"), Decimal(0))
    with pytest.raises(ValueError):
        FeeSchedule(0, -1)


# -- market orders -----------------------------------------------------------------------


def test_market_buy_by_base_checks_the_cost_of_the_sweep():
    engine = make()
    engine.submit(limit("b", SELL, 2, 100), 1)
    engine.submit(limit("b", SELL, 2, 200), 2)
    engine.ledger.open_account("c")
    engine.ledger.deposit("c", "USDT", 599)  # the sweep costs 200 + 400
    market = OrderRequest("c", SYM, BUY, MARKET, qty=4)
    assert of(engine.submit(market, 3), OrderRejected)[0].reason is Reason.INSUFFICIENT_BALANCE
    engine.ledger.deposit("c", "USDT", 1)
    events = engine.submit(market, 4)
    final = of(events, OrderDone)[-1].order
    assert (final.status, final.filled, final.cum_quote) == (SimStatus.FILLED, 4, 600)
    assert engine.ledger.account("c").total("USDT") == 0


def test_market_by_quote_spends_at_most_its_budget_including_fee():
    engine = make(fees=FeeSchedule(0, 1000))
    engine.submit(limit("b", SELL, 5, 100_000), 1)
    engine.submit(limit("b", SELL, 5, 100_100), 2)
    events = engine.submit(OrderRequest("a", SYM, BUY, MARKET, quote_amount=700_000), 3)
    final = of(events, OrderDone)[-1].order
    assert final.status is SimStatus.FILLED
    assert final.cum_quote + final.fees <= 700_000
    assert final.filled == 6  # a 7th lot would cost 100_100 + its fee more
    assert engine.ledger.account("a").locked("USDT") == 0
    assert engine.ledger.account("a").free("USDT") == CASH - final.cum_quote - final.fees


def test_market_by_quote_budget_covers_the_fee_of_the_last_lot():
    engine = make(fees=FeeSchedule(0, 1000))
    engine.submit(limit("b", SELL, 10, 100_000), 1)
    events = engine.submit(OrderRequest("a", SYM, BUY, MARKET, quote_amount=600_000), 2)
    final = of(events, OrderDone)[-1].order
    assert (final.filled, final.cum_quote, final.fees) == (5, 500_000, 500)  # 6 cost 600_600


def test_market_sell_by_quote_caps_gross_proceeds():
    engine = make()
    engine.submit(limit("b", BUY, 10, 100), 1)
    events = engine.submit(OrderRequest("a", SYM, SELL, MARKET, quote_amount=450), 2)
    final = of(events, OrderDone)[-1].order
    assert (final.status, final.filled, final.cum_quote) == (SimStatus.FILLED, 4, 400)
    assert engine.ledger.account("a").locked("BTC") == 0


def test_market_on_empty_book_expires_without_liquidity():
    engine = make()
    events = engine.submit(OrderRequest("a", SYM, BUY, MARKET, qty=1), 1)
    final = of(events, OrderDone)[0].order
    assert (final.status, final.reason) == (SimStatus.EXPIRED, Reason.NO_LIQUIDITY)


# -- filters and request shape -----------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (limit("a", BUY, 1, 10_000), Reason.FILTER_MIN_QTY),
        (limit("a", BUY, 4, 124), Reason.FILTER_MIN_NOTIONAL),
        (limit("a", BUY, 5, 0), Reason.INVALID_PRICE),
        (limit("a", BUY, 0, 100), Reason.INVALID_QUANTITY),
        (OrderRequest("a", SYM, BUY, MARKET, qty=5, quote_amount=5), Reason.INVALID_QUANTITY),
        (OrderRequest("a", SYM, BUY, MARKET, qty=5, price=3), Reason.INVALID_ORDER),
        (OrderRequest("a", SYM, BUY, MARKET, quote_amount=499), Reason.FILTER_MIN_NOTIONAL),
        (OrderRequest("a", "ETHUSDT", BUY, MARKET, qty=5), Reason.UNKNOWN_SYMBOL),
        (OrderRequest("nobody", SYM, BUY, MARKET, qty=5), Reason.UNKNOWN_ACCOUNT),
    ],
)
def test_filters_and_shape_reject_before_anything_is_locked(request_, reason):
    # min qty 0.002 = 2 lots; min notional 0.005 USDT = 500 notional units
    engine = make(inst=instrument(min_qty="0.002", min_notional="0.005"))
    events = engine.submit(request_, 1)
    assert [(type(e), e.reason) for e in events] == [(OrderRejected, reason)]  # type: ignore[union-attr]
    assert engine.ledger.account("a").locked("USDT") == 0


def test_duplicate_client_order_id_among_open_orders():
    engine = make()
    engine.submit(limit("a", BUY, 1, 90, client_order_id="dup"), 1)
    events = engine.submit(limit("a", BUY, 1, 91, client_order_id="dup"), 2)
    assert of(events, OrderRejected)[0].reason is Reason.DUPLICATE_CLIENT_ORDER_ID
    engine.cancel("a", SYM, 3, client_order_id="dup")
    assert of(engine.submit(limit("a", BUY, 1, 91, client_order_id="dup"), 4), OrderAccepted)


# -- cancels -----------------------------------------------------------------------------


def test_cancel_of_filled_unknown_or_foreign_order_is_unknown_order():
    engine = make()
    maker = accepted_id(engine.submit(limit("b", SELL, 2, 100, client_order_id="m"), 1))
    engine.submit(limit("a", BUY, 2, 100), 2)
    assert engine.order(maker).status is SimStatus.FILLED  # type: ignore[union-attr]
    resting = accepted_id(engine.submit(limit("b", SELL, 2, 101), 3))
    attempts = [
        engine.cancel("b", SYM, 4, order_id=maker),
        engine.cancel("b", SYM, 4, client_order_id="m"),
        engine.cancel("b", SYM, 4, order_id=9999),
        engine.cancel("a", SYM, 4, order_id=resting),  # not a's order
        engine.cancel("b", "ETHUSDT", 4, order_id=resting),
        engine.cancel("b", SYM, 4),
    ]
    for events in attempts:
        assert [(type(e), e.reason) for e in events] == [(CancelRejected, Reason.UNKNOWN_ORDER)]  # type: ignore[union-attr]
    assert engine.order(resting).status is SimStatus.NEW  # type: ignore[union-attr]
    engine.cancel("b", SYM, 5, order_id=resting)
    again = engine.cancel("b", SYM, 6, order_id=resting)
    assert of(again, CancelRejected)[0].reason is Reason.UNKNOWN_ORDER


def test_cancel_all_cancels_one_accounts_orders_on_one_symbol():
    engine = make()
    for price in (90, 91, 92):
        engine.submit(limit("a", BUY, 1, price), 1)
    engine.submit(limit("b", BUY, 1, 90), 1)
    events = engine.cancel_all("a", SYM, 2)
    assert len(of(events, OrderDone)) == 3
    assert of(events, DepthUpdate)[0].bids == ((92, 0), (91, 0), (90, 1))
    assert engine.open_orders("a") == [] and len(engine.open_orders("b")) == 1
    assert engine.ledger.account("a").locked("USDT") == 0
    assert engine.cancel_all("a", SYM, 3) == []


# -- queue position against the background market -----------------------------------------


def test_trade_smaller_than_volume_ahead_does_not_fill_us_larger_one_does():
    engine = make()
    engine.set_background_level(SYM, BUY, 100, 10, 1)
    ours = accepted_id(engine.submit(limit("a", BUY, 5, 100), 2))
    assert engine.queue_ahead(ours) == 10
    events = engine.background_trade(SYM, SELL, 100, 7, 3)
    assert all(f.account == BG for f in of(events, Fill))
    assert engine.queue_ahead(ours) == 3
    # price merely touching our level, or a trade exactly as large as the volume ahead
    events = engine.background_trade(SYM, SELL, 100, 3, 4)
    assert not [f for f in of(events, Fill) if f.account == "a"]
    assert engine.queue_ahead(ours) == 0
    events = engine.background_trade(SYM, SELL, 100, 4, 5)
    (mine,) = [f for f in of(events, Fill) if f.account == "a"]
    assert (mine.qty, mine.is_maker, mine.price) == (4, True, 100)
    assert engine.depth(SYM)[1] == [(100, 1)]


def test_background_level_after_trades_is_the_requested_size():
    engine = make()
    engine.set_background_level(SYM, BUY, 100, 10, 1)
    engine.submit(limit("a", BUY, 5, 100), 2)
    engine.submit(limit("b", SELL, 4, 100), 3)  # eats 4 background lots
    engine.set_background_level(SYM, BUY, 100, 10, 4)
    assert engine.depth(SYM)[1] == [(100, 15)]
    engine.background_trade(SYM, SELL, 100, 8, 5)  # the 6 background lots ahead + 2 of ours
    events = engine.set_background_level(SYM, BUY, 100, 1, 6)
    assert of(events, DepthUpdate)[0].bids == ((100, 4),)


def test_volume_added_after_us_queues_behind_us():
    engine = make()
    engine.set_background_level(SYM, SELL, 100, 4, 1)
    ours = accepted_id(engine.submit(limit("a", SELL, 2, 100), 2))
    engine.set_background_level(SYM, SELL, 100, 10, 3)  # +6 behind us
    assert engine.queue_ahead(ours) == 4
    assert engine.depth(SYM)[2] == [(100, 12)]
    events = engine.background_trade(SYM, BUY, 100, 6, 4)
    assert [f.qty for f in of(events, Fill) if f.account == "a"] == [2]


@pytest.mark.parametrize(
    ("mode", "ahead_after"),
    [(CancelFrom.BACK, 8), (CancelFrom.FRONT, 4), (CancelFrom.PROPORTIONAL, 6)],
)
def test_background_cancels_follow_cancel_from(mode, ahead_after):
    engine = make(cancel_from=mode)
    engine.set_background_level(SYM, BUY, 100, 12, 1)
    ours = accepted_id(engine.submit(limit("a", BUY, 5, 100), 2))
    engine.set_background_level(SYM, BUY, 100, 16, 3)  # 12 ahead, 4 behind
    events = engine.set_background_level(SYM, BUY, 100, 8, 4)  # cancel 8 (6 + 2 pro rata)
    assert of(events, DepthUpdate)[0].bids == ((100, 13),)
    assert engine.queue_ahead(ours) == ahead_after
    assert engine.order(ours).leaves == 5  # type: ignore[union-attr]
    engine.set_background_level(SYM, BUY, 100, 0, 5)
    assert engine.queue_ahead(ours) == 0 and engine.depth(SYM)[1] == [(100, 5)]


def test_crossing_background_update_clears_stale_background_and_fills_ours():
    engine = make()
    engine.set_background_level(SYM, SELL, 101, 5, 1)
    ours = accepted_id(engine.submit(limit("a", SELL, 2, 100), 2))
    # the replayed market's bid jumps to 101: our 100 ask trades, the stale 101 ask goes
    events = engine.apply_background_diff(SYM, [(101, 4)], [], 3)
    assert [f.qty for f in of(events, Fill) if f.order_id == ours] == [2]
    assert engine.depth(SYM)[1:] == ([(101, 2)], [])
    assert not of(events, OrderDone) or all(e.order.account == "a" for e in of(events, OrderDone))


def test_background_order_events_are_quiet_unless_asked():
    quiet = make().set_background_level(SYM, BUY, 100, 3, 1)
    loud = make(emit_background_order_events=True).set_background_level(SYM, BUY, 100, 3, 1)
    assert [type(e) for e in quiet] == [DepthUpdate]
    assert [type(e) for e in loud] == [OrderAccepted, DepthUpdate]


# -- units across symbols ----------------------------------------------------------------


def test_symbols_sharing_an_asset_convert_with_integer_scales():
    engine = make()
    eth = Instrument(
        "ETHUSDT", "sim", "ETH", "USDT", Decimal("0.1"), Decimal("0.01"),
        Decimal("0.01"), Decimal(0), 1, 2,
    )  # fmt: skip
    engine.add_symbol(eth)  # notional unit 0.001 = 100 x BTCUSDT's 0.00001
    assert engine.scales("ETHUSDT") == (1, 100)
    engine.ledger.deposit("b", "ETH", 10)
    engine.submit(OrderRequest("b", "ETHUSDT", SELL, LIMIT, qty=1, price=30_000), 1)
    engine.submit(OrderRequest("a", "ETHUSDT", BUY, LIMIT, qty=1, price=30_000), 2)
    assert engine.ledger.account("a").free("USDT") == CASH - 30_000 * 100
    coarse = Ledger()
    coarse.define_asset("USDT", Decimal("0.001"))
    strict = MatchingEngine(ledger=coarse)
    with pytest.raises(ValueError, match="whole multiple"):
        strict.add_symbol(instrument())


# -- random call sequences ---------------------------------------------------------------

ACCOUNTS = ("a", "b", BG)
prices = st.integers(98, 102)
sizes = st.integers(1, 12)
stps = st.sampled_from(list(Stp))

submit_ops = st.builds(
    lambda acct, side, kind, price, qty, stp, cid: (
        "submit",
        acct,
        side,
        kind,
        price,
        qty,
        stp,
        cid,
    ),
    st.sampled_from(ACCOUNTS),
    st.sampled_from([BUY, SELL]),
    st.sampled_from(["gtc", "ioc", "fok", "maker", "mkt", "mkt_quote", "mkt_fok"]),
    prices,
    sizes,
    stps,
    st.sampled_from(["", "", "c1", "c2"]),
)
cancel_ops = st.builds(
    lambda acct, oid, cid: ("cancel", acct, oid, cid),
    st.sampled_from(ACCOUNTS),
    st.integers(1, 40),
    st.sampled_from(["", "c1", "c2"]),
)
other_ops = st.one_of(
    st.builds(lambda a: ("cancel_all", a), st.sampled_from(ACCOUNTS)),
    st.builds(
        lambda s, p, q: ("level", s, p, q), st.sampled_from([BUY, SELL]), prices, st.integers(0, 20)
    ),
    st.builds(lambda s, p, q: ("trade", s, p, q), st.sampled_from([BUY, SELL]), prices, sizes),
)
op_lists = st.lists(
    st.one_of(submit_ops, submit_ops, cancel_ops, other_ops), min_size=5, max_size=60
)


def _request(op: tuple) -> OrderRequest:
    _, acct, side, kind, price, qty, stp, cid = op
    common = {"client_order_id": cid, "stp": stp}
    if kind == "maker":
        return OrderRequest(acct, SYM, side, MAKER, qty=qty, price=price, **common)
    if kind == "mkt":
        return OrderRequest(acct, SYM, side, MARKET, qty=qty, **common)
    if kind == "mkt_fok":
        return OrderRequest(acct, SYM, side, MARKET, qty=qty, tif=FOK, **common)
    if kind == "mkt_quote":
        return OrderRequest(acct, SYM, side, MARKET, quote_amount=qty * price, **common)
    tif = {"gtc": GTC, "ioc": IOC, "fok": FOK}[kind]
    return OrderRequest(acct, SYM, side, LIMIT, qty=qty, price=price, tif=tif, **common)


def run(ops: list[tuple], post_only: PostOnlyStyle, cancel_from: CancelFrom) -> list[list[Event]]:
    """Execute `ops`, checking every invariant after each call; return the events."""
    fees = FeeSchedule(maker_ppm=-2000, taker_ppm=5000)
    engine = MatchingEngine(
        MatchingConfig(
            post_only=post_only, cancel_from=cancel_from, emit_background_order_events=True
        )
    )
    engine.add_symbol(instrument())
    # "b" is poor, so that balance rejects happen
    for name, cash, coins in (("a", 20_000, 60), ("b", 1_500, 8)):
        engine.ledger.open_account(name, fees=fees)
        engine.ledger.deposit(name, "USDT", cash)
        engine.ledger.deposit(name, "BTC", coins)
    start = {asset: engine.ledger.total(asset) for asset in ("BTC", "USDT")}
    mirror: dict[tuple[bool, int], int] = {}  # the book rebuilt from depth updates alone
    last_update = 0
    fills_by_trade: dict[int, list[Fill]] = defaultdict(list)
    orders: dict[int, OrderSnapshot] = {}  # as accepted (background chunks included)
    history = []
    # first a background book to trade against
    for ts, op in enumerate([("seed",), *ops]):
        kind = op[0]
        request = None
        if kind == "seed":
            events = engine.apply_background_diff(SYM, [(99, 6), (98, 9)], [(101, 6), (102, 9)], ts)
        elif kind == "submit":
            request = _request(op)
            events = engine.submit(request, ts)
        elif kind == "cancel":
            _, acct, oid, cid = op
            events = engine.cancel(
                acct, SYM, ts, order_id=oid if not cid else None, client_order_id=cid
            )
        elif kind == "cancel_all":
            events = engine.cancel_all(op[1], SYM, ts)
        elif kind == "level":
            events = engine.set_background_level(SYM, op[1], op[2], op[3], ts)
        else:
            events = engine.background_trade(SYM, op[1], op[2], op[3], ts)
        history.append(events)

        for event in events:
            if isinstance(event, OrderAccepted):
                orders[event.order.order_id] = event.order
            elif isinstance(event, Fill):
                fills_by_trade[event.trade_id].append(event)
                req = orders[event.order_id]
                assert event.cum_filled <= (event.order_qty or event.cum_filled)
                if event.account != BG:  # background chunks grow and shrink in place
                    assert event.order_qty == req.qty
                if req.type is MAKER:
                    assert event.is_maker, "post-only order took liquidity"
                if req.price and not event.is_maker:
                    assert event.price <= req.price if req.side is BUY else event.price >= req.price
            elif isinstance(event, DepthUpdate):
                assert event.update_id == last_update + 1
                last_update = event.update_id
                for is_bid, changes in ((True, event.bids), (False, event.asks)):
                    for price, lots in changes:
                        if lots:
                            mirror[is_bid, price] = lots
                        else:
                            mirror.pop((is_bid, price), None)
            elif isinstance(event, OrderDone):
                final = event.order
                if final.tif is FOK:
                    assert final.filled in (0, final.qty)
                if final.quote_amount and final.side is BUY:
                    assert final.cum_quote + final.fees <= final.quote_amount
                elif final.quote_amount:
                    assert final.cum_quote <= final.quote_amount
        assert sum(isinstance(e, DepthUpdate) for e in events) <= 1
        if kind == "level" and not of(events, Fill):  # a crossing level may trade instead
            _, side, price, lots = op
            background = engine.open_orders(BG)
            assert sum(o.leaves for o in background if (o.side, o.price) == (side, price)) == lots

        # taker orders never rest
        if request is not None and (request.type is MARKET or request.tif is not GTC):
            accepted = of(events, OrderAccepted)
            if accepted:
                taker_id = accepted[0].order.order_id
                assert all(o.order_id != taker_id for o in engine.open_orders(request.account))

        # the book: uncrossed, equal to the mirror, equal to the open orders
        update_id, bids, asks = engine.depth(SYM)
        assert update_id == last_update
        if bids and asks:
            assert bids[0][0] < asks[0][0], "crossed book"
        assert {(True, p): q for p, q in bids} | {(False, p): q for p, q in asks} == mirror
        from_orders: Counter[tuple[bool, int]] = Counter()
        for acct in ACCOUNTS:
            for order in engine.open_orders(acct):
                from_orders[order.side is BUY, order.price] += order.leaves
        assert dict(from_orders) == mirror

        # balances: conserved, never negative for real accounts, locks match open orders
        for asset in ("BTC", "USDT"):
            assert engine.ledger.total(asset) == start[asset]
        for acct in ("a", "b"):
            account = engine.ledger.account(acct)
            locks = {"BTC": 0, "USDT": 0}
            for order in engine.open_orders(acct):
                locks["USDT" if order.side is BUY else "BTC"] += order.locked
            for asset in ("BTC", "USDT"):
                assert account.free(asset) >= 0
                assert account.locked(asset) == locks[asset]

    for trade_id, pair in fills_by_trade.items():
        assert len(pair) == 2, trade_id
        maker, taker = sorted(pair, key=lambda f: not f.is_maker)
        assert maker.is_maker and not taker.is_maker
        assert (maker.price, maker.qty) == (taker.price, taker.qty)
        assert maker.side is not taker.side
    publics = [e for events in history for e in events if isinstance(e, PublicTrade)]
    assert sorted(p.trade_id for p in publics) == sorted(fills_by_trade)
    return history


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    op_lists,
    st.sampled_from(list(PostOnlyStyle)),
    st.sampled_from(list(CancelFrom)),
)
def test_random_sequences_keep_every_invariant(ops, post_only, cancel_from):
    run(ops, post_only, cancel_from)


@settings(max_examples=30, deadline=None)
@given(op_lists)
def test_identical_calls_give_identical_events(ops):
    first = run(ops, PostOnlyStyle.CANCEL, CancelFrom.PROPORTIONAL)
    assert run(ops, PostOnlyStyle.CANCEL, CancelFrom.PROPORTIONAL) == first


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.integers(1, 30)), min_size=1, max_size=6))
def test_a_trade_fills_us_only_beyond_the_volume_ahead(chunks):
    """Background chunks (ahead, then behind) around our order; a trade of any size fills us
    by exactly max(0, min(trade - ahead, ours))."""
    ahead = sum(a for a, _ in chunks)
    for trade in (ahead - 1, ahead, ahead + 3, ahead + 100):
        engine = make(cancel_from=CancelFrom.PROPORTIONAL)
        engine.set_background_level(SYM, BUY, 100, ahead, 1)
        ours = accepted_id(engine.submit(limit("a", BUY, 5, 100), 2))
        engine.set_background_level(SYM, BUY, 100, ahead + sum(b for _, b in chunks), 3)
        if trade <= 0:
            continue
        events = engine.background_trade(SYM, SELL, 100, trade, 4)
        got = sum(f.qty for f in of(events, Fill) if f.order_id == ours)
        assert got == max(0, min(trade - ahead, 5))
