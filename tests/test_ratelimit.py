"""Token buckets on the engine clock: exact refill, all-or-nothing acquisition across buckets,
the venue's usage correcting ours, and Retry-After blocking."""

from __future__ import annotations

import asyncio

import pytest

from engine.clock import SimClock
from engine.gateway.ratelimit import (
    BINANCE,
    NS_PER_S,
    OKX_PER_SYMBOL,
    SAFETY,
    Limit,
    RateLimiter,
    TokenBucket,
    per_symbol,
)


def test_bucket_spends_then_refills_exactly() -> None:
    bucket = TokenBucket("b", 10, 10 * NS_PER_S, 0)  # one token a second
    for _ in range(10):
        assert bucket.wait_ns(1, 0) == 0
        bucket.take(1)
    assert bucket.wait_ns(1, 0) == NS_PER_S
    assert bucket.wait_ns(3, NS_PER_S // 2) == 3 * NS_PER_S - NS_PER_S // 2
    assert bucket.wait_ns(1, NS_PER_S) == 0
    assert bucket.wait_ns(1, 100 * NS_PER_S) == 0 and bucket.tokens == 10  # capped
    with pytest.raises(ValueError, match="exceeds"):
        bucket.wait_ns(11, 0)
    with pytest.raises(ValueError, match=">= 1"):
        TokenBucket("z", 0, 1, 0)


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
    limiter.block_for(120, ["weight"])
    assert limiter.acquire([("weight", 1)]) == 120 * NS_PER_S
    clock.advance_to(120 * NS_PER_S)
    assert limiter.acquire([("weight", 1)]) > 0  # nothing saved up while blocked
    clock.advance_to(121 * NS_PER_S)
    assert limiter.acquire([("weight", 1)]) == 0


def test_acquire_waiting_sleeps_on_the_engine_clock() -> None:
    async def main() -> None:
        clock = SimClock(0)
        limiter = RateLimiter(clock, [Limit("cancel", 5, 1)])  # 4 a second after SAFETY
        for _ in range(4):
            await limiter.acquire_waiting([("cancel", 1)])
        waiter = asyncio.ensure_future(limiter.acquire_waiting([("cancel", 1)]))
        await asyncio.sleep(0)
        assert not waiter.done()
        clock.advance_to(NS_PER_S // 4)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert waiter.done()

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
