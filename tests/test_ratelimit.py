"""Request budgets on the engine clock: never more than the capacity in any window (a plain
refilling bucket lets twice through), all-or-nothing acquisition across buckets, local refusal
with RateLimited("local"), the venue's usage correcting ours, and Retry-After blocking."""

from __future__ import annotations

import asyncio
import random
from collections import deque

import pytest

from engine.clock import SimClock
from engine.gateway.errors import RateLimited
from engine.gateway.ratelimit import (
    BINANCE,
    GATE,
    NS_PER_S,
    OKX_PER_SYMBOL,
    SAFETY,
    SLOTS,
    Limit,
    RateLimiter,
    TokenBucket,
    per_symbol,
    venue_limiter,
)


def test_bucket_spends_then_gives_back_a_window_later() -> None:
    bucket = TokenBucket("b", 10, 10 * NS_PER_S, 0)
    slot = 10 * NS_PER_S // SLOTS
    for _ in range(10):
        assert bucket.wait_ns(1, 0) == 0
        bucket.take(1)
    assert bucket.tokens == 0
    # what slot 0 spent comes back when slot 0 is a whole window old
    assert bucket.wait_ns(1, 0) == (SLOTS + 1) * slot
    assert bucket.wait_ns(1, 10 * NS_PER_S - 1) > 0  # never inside the window
    assert bucket.wait_ns(10, (SLOTS + 1) * slot) == 0
    assert bucket.wait_ns(1, 100 * NS_PER_S) == 0 and bucket.tokens == 10  # capped
    with pytest.raises(ValueError, match="exceeds"):
        bucket.wait_ns(11, 0)
    with pytest.raises(ValueError, match=">= 1"):
        TokenBucket("z", 0, 1, 0)


def test_no_window_ever_holds_more_than_the_capacity() -> None:
    """A refilling bucket (capacity C, C per window) lets 2C through one window: C at once,
    then a window of refill. The budget must not, whatever the request pattern, and must
    still let close to C through per window when pressed."""
    rng = random.Random(7)
    window = 10 * NS_PER_S
    bucket = TokenBucket("orders", 80, window, 0)
    spent: deque[tuple[int, int]] = deque()
    in_window = 0
    now = total = 0
    while now < 50 * window:
        now += rng.choice((0, 1_000, NS_PER_S // 100, NS_PER_S // 20, NS_PER_S // 3))
        cost = rng.choice((1, 1, 1, 2, 5))
        if bucket.wait_ns(cost, now):
            continue
        bucket.take(cost)
        spent.append((now, cost))
        in_window += cost
        total += cost
        while spent and spent[0][0] <= now - window:
            in_window -= spent.popleft()[1]
        assert in_window <= 80, f"{in_window} spent within one window at {now}"
    assert total >= 0.85 * 80 * 50  # near the budget, a slot's delay at most per window


def test_wait_is_never_a_nanosecond_short() -> None:
    bucket = TokenBucket("odd", 7, 3 * NS_PER_S + 1, 0)
    for _ in range(7):
        bucket.take(1)
    wait = bucket.wait_ns(1, 0)
    assert bucket.wait_ns(1, wait - 1) > 0
    assert bucket.wait_ns(1, wait) == 0


def test_limiter_takes_from_all_buckets_or_none() -> None:
    clock = SimClock(0)
    limiter = RateLimiter(clock, [Limit("weight", 10, 1), Limit("orders", 2, 1)])
    cap_w, cap_o = int(10 * SAFETY), int(2 * SAFETY)
    assert (limiter.buckets["weight"].capacity, limiter.buckets["orders"].capacity) == (
        cap_w,
        cap_o,
    )
    assert limiter.acquire([("weight", 1), ("orders", 1)]) == 0
    assert limiter.acquire([("weight", 1), ("orders", 1)]) > 0  # orders short: nothing taken
    assert limiter.buckets["weight"].tokens == cap_w - 1
    assert limiter.throttled == 1


def test_venue_usage_lowers_our_count_and_retry_after_blocks() -> None:
    clock = SimClock(0)
    limiter = RateLimiter(clock, BINANCE)
    weight = limiter.buckets["weight"]
    limiter.observe_used("weight", weight.capacity - 5)  # another process on our IP
    assert weight.tokens == 5
    limiter.observe_used("weight", 0)  # the venue saw less than we did: keep ours
    assert weight.tokens == 5
    limiter.observe_used("no-such-bucket", 3)  # a header we do not track is ignored
    limiter.block_for(120, ["weight", "not-a-bucket"])
    assert limiter.acquire([("weight", 1)]) == 120 * NS_PER_S
    assert limiter.acquire([("orders_10s", 1)]) == 0  # the other buckets are not blocked
    clock.advance_to(120 * NS_PER_S - 1)
    assert limiter.acquire([("weight", 1)]) == 1
    clock.advance_to(120 * NS_PER_S)
    assert limiter.acquire([("weight", 1)]) == 0  # the venue's usage is a window old
    assert limiter.blocked == 1


def test_take_or_refuse_raises_local_rate_limited_with_the_wait() -> None:
    clock = SimClock(0)
    limiter = venue_limiter("gate", clock, ["BTC_USDT"])
    assert {"place:BTC_USDT", "ws_place", "cancel", "private"} <= set(limiter.buckets)
    place = [("place:BTC_USDT", 1), ("ws_place", 1)]
    for _ in range(int(10 * SAFETY)):
        limiter.take_or_refuse(place, "place")
    with pytest.raises(RateLimited) as refused:
        limiter.take_or_refuse(place, "place")
    assert refused.value.code == "local" and refused.value.venue == "gate"
    assert refused.value.retry_after_s == pytest.approx(1.05)
    assert limiter.refused == 1 and limiter.buckets["ws_place"].used == int(10 * SAFETY)
    clock.advance_to(int(refused.value.retry_after_s * NS_PER_S))
    limiter.take_or_refuse(place, "place")
    assert limiter.acquire([("place:ETH_USDT", 1)]) == 0  # a symbol it has no bucket for
    assert GATE[0].name == "ws_place"


def test_acquire_waiting_sleeps_on_the_engine_clock() -> None:
    async def main() -> None:
        clock = SimClock(0)
        limiter = RateLimiter(clock, [Limit("cancel", 5, 1)])  # 4 a second after SAFETY
        for _ in range(4):
            await limiter.acquire_waiting([("cancel", 1)])
        waiter = asyncio.ensure_future(limiter.acquire_waiting([("cancel", 1)]))
        await asyncio.sleep(0)
        assert not waiter.done()
        clock.advance_to(NS_PER_S)  # the spends of slot 0 come back one slot later
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not waiter.done()
        clock.advance_to(NS_PER_S + NS_PER_S // SLOTS)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert waiter.done() and limiter.waited == 1

    asyncio.run(main())


def test_per_symbol_buckets() -> None:
    names = [limit.name for limit in per_symbol(OKX_PER_SYMBOL, ["BTC-USDT", "ETH-USDT"])]
    assert names == [
        "place:BTC-USDT",
        "cancel:BTC-USDT",
        "amend:BTC-USDT",
        "place:ETH-USDT",
        "cancel:ETH-USDT",
        "amend:ETH-USDT",
    ]
