"""The Redis real-time cache (engine/storage/cache.py) against real Redis servers: the shared
one of the `redis_url` fixture (db 15, every test under its own key prefix, deleted after),
and, where `redis-server` is on PATH, private servers started by the test (exact command
counts, an outage and a recovery)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from engine._core.fixedpoint import Grid
from engine.config.schema import CacheConfig
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model.orders import Order
from engine.storage.cache import Cache, CacheKeyError, RedisCache, SymbolCache, make_cache

PRICE = Grid("0.01")
QTY = Grid("0.00001")
NEVER_MS = 60_000  # flush_interval_ms: the flush task stays asleep, the test flushes itself
REDIS_SERVER = shutil.which("redis-server")


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def rc(redis_url: str, prefix: str) -> AsyncIterator[aioredis.Redis]:
    """A plain client on the shared server; the test's keys are deleted afterwards."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def caches() -> AsyncIterator[list[Cache]]:
    """Caches made by a test, stopped after it whatever happened."""
    made: list[Cache] = []
    yield made
    for cache in made:
        await cache.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private `redis-server` subprocess on a given port, nothing persisted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def redis_server() -> Iterator[Callable[[int], RedisServer]]:
    """Starts private servers (skips without redis-server on PATH); all stopped after."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not on PATH: the private-server cases need it")
    started: list[RedisServer] = []

    def start(port: int) -> RedisServer:
        server = RedisServer(port)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _cache(url: str, prefix: str, caches: list[Cache], **kw: Any) -> RedisCache:
    kw.setdefault("flush_interval_ms", NEVER_MS)
    cache = RedisCache(url, key_prefix=prefix, **kw)
    caches.append(cache)
    return cache


async def _eventually(check: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


# -- values, TTLs, layout -----------------------------------------------------------------------

pytestmark = pytest.mark.services


async def test_values_land_with_their_ttl(
    rc: aioredis.Redis, redis_url: str, prefix: str, caches: list[Cache]
) -> None:
    cache = _cache(redis_url, prefix, caches, ttl_s=30)
    await cache.start()
    btc = cache.symbol("binance", "BTCUSDT", PRICE, QTY)
    btc.bbo(6_500_001, 150_000, 6_500_002, 3, 1_700_000_000_000_000_001)
    btc.top([(6_500_001, 150_000), (6_500_000, 1)], [(6_500_002, 3)], 17)
    btc.position(-250_000, -16_250_000_000, 12_345, 7, 18)  # money in 0.0000001 units
    btc.order(
        "c-1",
        OrderSide.BUY,
        6_400_000,
        100_000,
        25_000,
        OrderStatus.PARTIALLY_FILLED,
        19,
        OrderType.LIMIT_MAKER,
        TimeInForce.GTC,
        "v-9",
    )
    cache.status("engine", "running", ts_ns=20)
    assert await cache.flush()

    assert await rc.hgetall(f"{prefix}bbo:binance:BTCUSDT") == {
        "bid": "65000.01",
        "bid_qty": "1.50000",
        "ask": "65000.02",
        "ask_qty": "0.00003",
        "ts_ns": "1700000000000000001",
    }
    top = await rc.hgetall(f"{prefix}top:binance:BTCUSDT")
    assert orjson.loads(top["bids"]) == [["65000.01", "1.50000"], ["65000.00", "0.00001"]]
    assert orjson.loads(top["asks"]) == [["65000.02", "0.00003"]]
    assert await rc.hgetall(f"{prefix}pos:binance:BTCUSDT") == {
        "quantity": "-2.50000",
        "cost": "-1625.0000000",
        "realized": "0.0012345",
        "fees": "0.0000007",
        "ts_ns": "18",
    }
    orders = await rc.hgetall(f"{prefix}orders:binance:BTCUSDT")
    assert orjson.loads(orders["c-1"]) == {
        "side": "buy",
        "price": "64000.00",
        "quantity": "1.00000",
        "filled": "0.25000",
        "status": "partially_filled",
        "ts_ns": 19,
        "order_type": "limit_maker",
        "time_in_force": "gtc",
        "venue_order_id": "v-9",
    }
    assert await rc.hgetall(f"{prefix}status:engine") == {
        "state": "running",
        "reason": "",
        "ts_ns": "20",
    }
    for kind in ("bbo", "top", "pos", "orders"):
        ttl = await rc.ttl(f"{prefix}{kind}:binance:BTCUSDT")
        assert 0 < ttl <= 30, (kind, ttl)
    assert 0 < await rc.ttl(f"{prefix}status:engine") <= 30


async def test_decimals_stay_exact(
    rc: aioredis.Redis, redis_url: str, prefix: str, caches: list[Cache]
) -> None:
    cache = _cache(redis_url, prefix, caches)
    await cache.start()
    okx = cache.symbol("okx", "BTC-USDT")  # no grids: Decimals, or whole numbers as ints
    okx.bbo(
        Decimal("12345678901234567890.123456789012345678"),
        Decimal("1E-8"),  # plain notation, never "1E-8"
        Decimal("1E+3"),
        7,
        1,
    )
    assert await cache.flush()
    assert await rc.hgetall(f"{prefix}bbo:okx:BTC-USDT") == {
        "bid": "12345678901234567890.123456789012345678",
        "bid_qty": "0.00000001",
        "ask": "1000",
        "ask_qty": "7",
        "ts_ns": "1",
    }
    # Decimals through a handle with grids are written as given, unrounded
    gate = cache.symbol("gate", "BTC_USDT", Grid("0.1"), Grid("0.000001"))
    gate.bbo(Decimal("0.30"), Decimal("0.1") + Decimal("0.2"), 4, 5, 2)
    assert await cache.flush()
    got = await rc.hgetall(f"{prefix}bbo:gate:BTC_USDT")
    assert (got["bid"], got["bid_qty"], got["ask"], got["ask_qty"]) == (
        "0.30",
        "0.3",
        "0.4",
        "0.000005",
    )


async def test_a_value_that_cannot_be_written_is_refused_alone(
    rc: aioredis.Redis,
    redis_url: str,
    prefix: str,
    caches: list[Cache],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = _cache(redis_url, prefix, caches)
    await cache.start()
    bad = cache.symbol("sim", "BAD")
    good = cache.symbol("sim", "GOOD")
    with caplog.at_level(logging.ERROR, "engine.storage.cache"):
        bad.bbo(1.5, 1, 2, 1, 1)  # type: ignore[arg-type]  # a float is never exact
        good.bbo(1, 1, 2, 1, 1)
        assert await cache.flush()
        bad.bbo(Decimal("NaN"), 1, 2, 1, 2)
        await cache.flush()
    assert await rc.exists(f"{prefix}bbo:sim:BAD") == 0
    assert (await rc.hgetall(f"{prefix}bbo:sim:GOOD"))["bid"] == "1"
    assert cache.counters.bad_values == 2
    assert len([r for r in caplog.records if "cannot be written" in r.getMessage()]) == 1


async def test_last_value_wins_and_one_pipeline_per_flush(
    redis_server: Callable[[int], RedisServer], caches: list[Cache]
) -> None:
    # a private server, so the server's own counters see no other client
    server = redis_server(_free_port())
    cache = _cache(server.url, "hft:", caches)
    await cache.start()
    probe = aioredis.Redis.from_url(server.url, decode_responses=True)
    try:
        btc = cache.symbol("binance", "BTCUSDT", PRICE, QTY)
        eth = cache.symbol("binance", "ETHUSDT", PRICE, QTY)
        assert await cache.flush()  # the first write of a symbol replaces its open orders
        assert await cache.flush() is False  # nothing pending: no round trip at all
        before = await probe.info("stats")
        for i in range(1000):  # a burst between two flushes
            btc.bbo(6_500_000 + i, 100, 6_500_001 + i, 200, i)
            eth.bbo(300_000 + i, 100, 300_001 + i, 200, i)
        assert cache.pending == 2
        assert await cache.flush()
        after = await probe.info("stats")
        # 2 keys x (HSET + EXPIRE), + the first INFO; one read event for the whole pipeline
        assert after["total_commands_processed"] - before["total_commands_processed"] == 4 + 1
        assert after["total_reads_processed"] - before["total_reads_processed"] == 1 + 1
        assert cache.counters.flushes == 2
        assert cache.counters.commands == 2 + 4  # DEL of the two orders keys, then the burst
        assert (await probe.hgetall("hft:bbo:binance:BTCUSDT"))["bid"] == "65009.99"
        assert (await probe.hgetall("hft:bbo:binance:ETHUSDT"))["ts_ns"] == "999"
        assert cache.pending == 0
        assert await cache.flush() is False  # nothing new, refresh not due: nothing sent
    finally:
        await probe.aclose()


async def test_open_orders_come_and_go(
    rc: aioredis.Redis, redis_url: str, prefix: str, caches: list[Cache]
) -> None:
    cache = _cache(redis_url, prefix, caches)
    await cache.start()
    sym = cache.symbol("binance", "ETHUSDT", PRICE, QTY)
    key = f"{prefix}orders:binance:ETHUSDT"
    order = Order(
        "o-1",
        "binance",
        "ETHUSDT",
        OrderSide.SELL,
        OrderType.LIMIT,
        Decimal("0.5"),
        Decimal("3000.10"),
        OrderStatus.NEW,
        timestamp_ns=5,
    )
    sym.put_order(order)
    sym.order("o-2", "buy", 299_000, 1, 0, "new", 6)
    assert await cache.flush()
    assert set(await rc.hkeys(key)) == {"o-1", "o-2"}
    first = orjson.loads(await rc.hget(key, "o-1") or "null")
    assert (first["side"], first["price"], first["quantity"]) == ("sell", "3000.10", "0.5")
    # o-1 filled (the model's terminal state removes it), o-2 changed then closed in one
    # interval: the last value, the close, wins
    sym.put_order(replace(order, status=OrderStatus.FILLED, filled_quantity=Decimal("0.5")))
    sym.order("o-2", "buy", 299_000, 1, 1, "partially_filled", 7)
    sym.order_closed("o-2")
    sym.order("o-3", "buy", 298_000, 1, 0, "new", 8)
    assert await cache.flush()
    assert await rc.hkeys(key) == ["o-3"]
    sym.order_closed("o-3")
    assert await cache.flush()
    assert await rc.exists(key) == 0


async def test_a_previous_runs_open_orders_are_replaced(
    rc: aioredis.Redis, redis_url: str, prefix: str, caches: list[Cache]
) -> None:
    key = f"{prefix}orders:binance:BTCUSDT"
    await rc.hset(key, mapping={"old-1": "{}", "old-2": "{}"})  # a crashed run's, not expired
    await rc.expire(key, 60)
    cache = _cache(redis_url, prefix, caches)
    await cache.start()
    sym = cache.symbol("binance", "BTCUSDT", PRICE, QTY)
    assert await cache.flush()  # the symbol's first write: no orders open, the key is gone
    assert await rc.exists(key) == 0
    sym.order("new-1", "buy", 1, 1, 0, "new", 1)
    assert await cache.flush()
    assert await rc.hkeys(key) == ["new-1"]


async def test_a_command_redis_refuses_is_counted_not_an_outage(
    rc: aioredis.Redis,
    redis_url: str,
    prefix: str,
    caches: list[Cache],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await rc.set(f"{prefix}bbo:sim:X", "a string, not a hash")  # someone else's key
    cache = _cache(redis_url, prefix, caches)
    await cache.start()
    cache.symbol("sim", "X").bbo(1, 1, 2, 1, 1)
    cache.symbol("sim", "Y").bbo(1, 1, 2, 1, 1)
    with caplog.at_level(logging.ERROR, "engine.storage.cache"):
        assert await cache.flush()
    assert cache.counters.command_errors >= 1
    assert cache.connected and cache.counters.dropped_flushes == 0
    assert (await rc.hgetall(f"{prefix}bbo:sim:Y"))["ask"] == "2"
    assert any("refused a command" in r.getMessage() for r in caplog.records)


async def test_status_changes_are_published(
    rc: aioredis.Redis, redis_url: str, prefix: str, caches: list[Cache]
) -> None:
    cache = _cache(redis_url, prefix, caches, status_channel="events")
    await cache.start()
    sub = rc.pubsub()
    await sub.subscribe(f"{prefix}events")
    assert (await sub.get_message(timeout=2))["type"] == "subscribe"
    try:
        # two changes of one component between flushes: the key keeps the last, the channel
        # carries both, in order
        cache.status("risk", "halted", "daily loss limit", ts_ns=1)
        cache.status("feed:binance:BTCUSDT", "not_ready", "gap in sequence", ts_ns=2)
        cache.status("risk", "normal", ts_ns=3)
        assert await cache.flush()
        got: list[Any] = []
        while len(got) < 3:
            message = await sub.get_message(ignore_subscribe_messages=True, timeout=2)
            assert message is not None, f"only {got} arrived"
            got.append(orjson.loads(message["data"]))
        assert got == [
            {"component": "risk", "state": "halted", "reason": "daily loss limit", "ts_ns": 1},
            {
                "component": "feed:binance:BTCUSDT",
                "state": "not_ready",
                "reason": "gap in sequence",
                "ts_ns": 2,
            },
            {"component": "risk", "state": "normal", "reason": "", "ts_ns": 3},
        ]
        assert (await rc.hgetall(f"{prefix}status:risk"))["state"] == "normal"
        assert (await rc.hgetall(f"{prefix}status:feed:binance:BTCUSDT"))["state"] == "not_ready"
        assert cache.counters.messages == 3
    finally:
        await sub.aclose()


async def test_the_flush_task_sends_on_its_own(
    rc: aioredis.Redis, redis_url: str, prefix: str, caches: list[Cache]
) -> None:
    cache = _cache(redis_url, prefix, caches, flush_interval_ms=10)
    await cache.start()
    cache.symbol("sim", "X").bbo(1, 2, 3, 4, 5)

    async def landed() -> bool:
        return bool(await rc.exists(f"{prefix}bbo:sim:X"))

    await _eventually(landed, 5)


async def test_a_live_engine_keeps_its_keys_a_dead_ones_expire(
    rc: aioredis.Redis, redis_url: str, prefix: str, caches: list[Cache]
) -> None:
    cache = _cache(redis_url, prefix, caches, ttl_s=1, flush_interval_ms=20)
    await cache.start()
    cache.symbol("sim", "X").position(1, 2, 3, 4, 5)  # written once, never changed again
    cache.status("engine", "running")
    key = f"{prefix}pos:sim:X"
    await asyncio.sleep(1.5)  # past one TTL: still there, the flush task renews it
    assert await rc.exists(key, f"{prefix}status:engine") == 2
    # the engine dies without a word (no final status, nothing deleted)
    task = cache._task
    assert task is not None
    task.cancel()

    async def gone() -> bool:
        return not await rc.exists(key, f"{prefix}status:engine")

    await _eventually(gone, 3)


# -- when Redis is away -------------------------------------------------------------------------


async def test_unreachable_redis_warns_once_runs_on_and_recovers(
    redis_server: Callable[[int], RedisServer],
    caches: list[Cache],
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = _free_port()  # nothing listens there yet
    cache = _cache(
        f"redis://127.0.0.1:{port}/0", "hft:", caches, retry_first_s=0.05, retry_max_s=0.2
    )
    with caplog.at_level(logging.INFO, "engine.storage.cache"):
        await cache.start()  # does not raise
        assert not cache.connected
        btc = cache.symbol("binance", "BTCUSDT", PRICE, QTY)
        btc.order("gone", "buy", 1, 1, 0, "new", 1)
        for i in range(200):  # the engine carries on; puts cost nothing
            btc.bbo(6_500_000 + i, 1, 6_500_010 + i, 1, i)
            cache.status("risk", "normal", ts_ns=i)
            await cache.flush()  # never raises
            await asyncio.sleep(0.005)
        btc.order_closed("gone")  # closed during the outage: must not reappear
        btc.order("open", "sell", 7_000_000, 2, 0, "new", 2)
        assert cache.counters.dropped_flushes >= 2  # retried, and counted
        assert cache.counters.flushes == 0
        unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(unreachable) == 1
        assert unreachable[0].levelno == logging.WARNING
        assert f"127.0.0.1:{port}" in unreachable[0].getMessage()

        server = redis_server(port)  # a server appears

        async def flushed() -> bool:
            return await cache.flush() and cache.connected

        await _eventually(flushed, 10)
        assert cache.counters.reconnects == 1
        assert any("is back" in r.getMessage() for r in caplog.records)
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1
    probe = aioredis.Redis.from_url(server.url, decode_responses=True)
    try:
        bbo = await probe.hgetall("hft:bbo:binance:BTCUSDT")
        assert (bbo["bid"], bbo["ts_ns"]) == ("65001.99", "199")  # the last put made down
        assert await probe.hkeys("hft:orders:binance:BTCUSDT") == ["open"]
        assert (await probe.hgetall("hft:status:risk"))["ts_ns"] == "199"
        assert 0 < await probe.ttl("hft:bbo:binance:BTCUSDT") <= 60
    finally:
        await probe.aclose()


async def test_a_server_restart_is_an_outage_then_a_full_rewrite(
    redis_server: Callable[[int], RedisServer], caches: list[Cache]
) -> None:
    port = _free_port()
    server = redis_server(port)
    cache = _cache(server.url, "hft:", caches, retry_first_s=0.05, retry_max_s=0.2)
    await cache.start()
    sym = cache.symbol("okx", "BTC-USDT")
    sym.position(Decimal("0.5"), Decimal("30000"), 0, 0, 1)
    assert await cache.flush()
    server.stop()  # the server dies and comes back empty (nothing persisted)
    sym.bbo(Decimal(1), Decimal(1), Decimal(2), Decimal(1), 2)
    assert not await cache.flush()
    assert not cache.connected
    server.start()

    async def flushed() -> bool:
        return await cache.flush()

    await _eventually(flushed, 10)
    probe = aioredis.Redis.from_url(server.url, decode_responses=True)
    try:
        # the position was written before the restart and never changed: rewritten anyway
        assert (await probe.hgetall("hft:pos:okx:BTC-USDT"))["quantity"] == "0.5"
        assert (await probe.hgetall("hft:bbo:okx:BTC-USDT"))["ask"] == "2"
    finally:
        await probe.aclose()


# -- the disabled cache and names ---------------------------------------------------------------


async def test_the_disabled_cache_has_the_same_api_and_does_nothing() -> None:
    cache = make_cache(CacheConfig(url=""))
    assert type(cache) is Cache
    assert not cache.enabled
    await cache.start()
    sym = cache.symbol("binance", "BTCUSDT", PRICE, QTY)
    assert isinstance(sym, SymbolCache)
    assert cache.symbol("binance", "BTCUSDT") is sym
    sym.bbo(1, 1, 2, 1, 1)
    sym.top([(1, 1)], [(2, 1)], 1)
    sym.position(1, 1, 1, 1, 1)
    sym.order("c", "buy", 1, 1, 0, "new", 1)
    sym.order_closed("c")
    cache.status("engine", "running")
    assert await cache.flush() is False
    await cache.stop()
    with pytest.raises(CacheKeyError):  # names are checked with the cache off too
        cache.symbol("binance", "BTC USDT")


def test_make_cache_follows_the_config() -> None:
    cache = make_cache(
        CacheConfig(
            url="redis://127.0.0.1:6379/15",
            key_prefix="x:",
            ttl_s=9,
            flush_interval_ms=5,
            status_channel="st",
        )
    )
    assert isinstance(cache, RedisCache)
    assert (cache.key_prefix, cache.ttl_s, cache.interval_s, cache.channel) == (
        "x:",
        9,
        0.005,
        "x:st",
    )
    assert cache.where == "127.0.0.1:6379"
    with pytest.raises(ValueError, match=r"^cache: \[cache\] url is not a valid Redis URL"):
        RedisCache("redis://user:secret@host:port/0")
    assert cache.key("bbo", "binance", "BTCUSDT") == "x:bbo:binance:BTCUSDT"


@pytest.mark.parametrize(
    "symbol",
    ["BTC USDT", "BTC*", "BTC?", "a[b]", "{tag}", "", "x" * 65, "BTC\n", "BTCÜSDT", "a\x00b"],
)
def test_bad_symbols_are_refused(symbol: str) -> None:
    for cache in (Cache(), RedisCache("redis://127.0.0.1:1")):
        with pytest.raises(CacheKeyError, match="cannot be part of a cache key"):
            cache.symbol("binance", symbol)


@pytest.mark.parametrize("venue", ["bin:ance", "bin ance", "", "a/b", "v*"])
def test_bad_venues_are_refused(venue: str) -> None:
    with pytest.raises(CacheKeyError):
        RedisCache("redis://127.0.0.1:1").symbol(venue, "BTCUSDT")


def test_good_names_and_other_checked_names() -> None:
    cache = RedisCache("redis://127.0.0.1:1")
    for symbol in ("BTCUSDT", "BTC-USDT", "BTC_USDT", "BTC/USDT", "BTC:USDT", "btc.usdt"):
        cache.symbol("binance", symbol)
    with pytest.raises(CacheKeyError):
        cache.status("risk engine", "halted")
    with pytest.raises(CacheKeyError):
        cache.symbol("binance", 42)  # type: ignore[arg-type]
    with pytest.raises(CacheKeyError):
        RedisCache("redis://127.0.0.1:1", key_prefix="a b:")
    with pytest.raises(CacheKeyError):
        Cache(status_channel="*")
