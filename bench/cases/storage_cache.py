"""Real-time cache case: what the hot path pays to keep Redis up to date
(engine/storage/cache.py, docs/CACHE.md).

- storage.cache_put: one best bid/offer update of one symbol handed to the Redis cache,
  `SymbolCache.bbo(bid, bid_qty, ask, ask_qty, ts_ns)` with grid ints: one tuple stored in
  the pending dict, no I/O, no await. Between samples (untimed) the pending update goes out
  in one pipeline (`RedisCache.flush`, as the flush task would every `flush_interval_ms`);
  its time is reported as `flush_median_us` (one key: HSET + EXPIRE in one round trip,
  however many updates came in between; timed inside the loop, as the flush task runs it)
  and as `flush_ns_per_update`, its share of each of the batch's updates;
  `flush_cpu_median_us`/`flush_cpu_max_us` are the thread's CPU time in the flush, the part
  that holds the event loop (waiting for the server does not).
  Baseline: the naive cache, in the same run against the same server: every update
  formatted to the same exact decimal strings and written with an awaited HSET of the same
  hash, one round trip per update.

Needs Redis: `HFT_BENCH_REDIS_URL` (default redis://127.0.0.1:6379/15). Keys live under
`bench:<pid>:` and expire after the cache's TTL (60 s).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from typing import Any

import redis.asyncio as aioredis

from bench.runner import CaseError, Pair, case
from engine._core.fixedpoint import Grid
from engine.storage.cache import RedisCache

BATCH = 1000
PRICE = Grid("0.01")
QTY = Grid("0.00001")
BID, ASK = 6_500_000, 6_500_010  # 65000.00 / 65000.10
SIZE = 150_000  # 1.5
TTL_S = 60


def _loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # the engine's loop where it is installed
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


@case(
    "storage.cache_put",
    about="one best bid/offer update into the Redis cache's pending dict (flushed in one "
    "pipeline between samples); baseline: an awaited HSET to Redis per update",
)
def cache_put() -> Pair:
    url = os.environ.get("HFT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    loop = _loop()
    prefix = f"bench:{os.getpid()}:"
    cache = RedisCache(url, key_prefix=prefix, ttl_s=TTL_S, flush_interval_ms=60_000)
    loop.run_until_complete(cache.start())
    if not cache.connected:
        loop.run_until_complete(cache.stop())
        raise CaseError(
            f"storage.cache_put needs Redis at {cache.where} (set HFT_BENCH_REDIS_URL to "
            "another server)"
        )
    # the flush task is not wanted here: the flushes happen between samples, timed apart
    if cache._task is not None:
        cache._task.cancel()
    handle = cache.symbol("binance", "BTCUSDT", PRICE, QTY)
    naive_key = f"{prefix}naive:binance:BTCUSDT"
    naive = aioredis.Redis.from_url(url)
    loop.run_until_complete(naive.hset(naive_key, mapping={"bid": "0"}))
    loop.run_until_complete(naive.expire(naive_key, TTL_S))  # HSET keeps it; nothing lingers
    to_str_price, to_str_qty = PRICE.to_str, QTY.to_str
    flush_us: list[float] = []
    flush_cpu_us: list[float] = []
    report: dict[str, Any] = {"updates_per_flush": BATCH, "redis": cache.where}
    clock = {"ts": 1}

    def ours(n: int) -> None:
        bbo = handle.bbo
        ts = clock["ts"]
        for i in range(n):
            bbo(BID + (i & 7), SIZE, ASK + (i & 7), SIZE, ts + i)
        clock["ts"] = ts + n

    async def naive_updates(n: int, ts: int) -> None:
        hset = naive.hset
        for i in range(n):
            await hset(
                naive_key,
                mapping={
                    "bid": to_str_price(BID + (i & 7)),
                    "bid_qty": to_str_qty(SIZE),
                    "ask": to_str_price(ASK + (i & 7)),
                    "ask_qty": to_str_qty(SIZE),
                    "ts_ns": str(ts + i),
                },
            )

    def theirs(n: int) -> None:
        loop.run_until_complete(naive_updates(n, clock["ts"]))
        clock["ts"] += n

    async def timed_flush() -> bool:
        c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
        sent = await cache.flush()
        flush_us.append((time.perf_counter_ns() - t0) / 1000)
        # the thread's CPU time: what the loop spent running the flush (awaiting the server
        # costs none), i.e. how long a flush can hold other tasks up
        flush_cpu_us.append((time.thread_time_ns() - c0) / 1000)
        return sent

    def between() -> None:
        sent = loop.run_until_complete(timed_flush())
        if not sent or not cache.connected:
            raise CaseError(f"storage.cache_put: the flush to Redis at {cache.where} failed")
        report["flush_median_us"] = round(statistics.median(flush_us), 1)
        report["flush_cpu_median_us"] = round(statistics.median(flush_cpu_us), 1)
        report["flush_cpu_max_us"] = round(max(flush_cpu_us), 1)
        # the flush task's share of each update, in the flush loop's own time
        report["flush_ns_per_update"] = round(statistics.median(flush_us) * 1000 / BATCH, 1)
        report["flushes"] = cache.counters.flushes
        report["commands_per_flush"] = round(cache.counters.commands / cache.counters.flushes, 2)

    return Pair(
        ours,
        theirs,
        batch=BATCH,
        between=between,
        report=report,
        about="one best bid/offer update into the Redis cache's pending dict (flushed in one "
        "pipeline between samples); baseline: an awaited HSET to Redis per update",
    )
