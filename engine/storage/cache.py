"""The real-time cache: the engine's latest state in Redis for dashboards and other processes
(docs/CACHE.md has the key layout).

What is cached, per venue and symbol: the best bid and offer, the top of the book, the
position and the open orders; and per component (engine, risk, each feed): its status. Every
key carries a TTL of `[cache] ttl_s`, refreshed while the engine lives, so a dead engine's
state expires on its own. Status changes are also published as JSON on the channel
`<key_prefix><status_channel>`.

The hot path never talks to Redis. A put records the latest value under its key in a dict
(O(1), no I/O, no await, nothing formatted): "last value wins", so a burst of a thousand best
bid/offer updates between two flushes costs one write. A flush task encodes what is pending
(exact decimal strings) and sends it all in one pipeline (no MULTI) every
`flush_interval_ms`.

The cache is not critical. Redis unreachable at start or later: one warning naming
host:port, the engine runs on, flushes are retried with a capped backoff and the failed ones
counted; when Redis is back the whole current state is written again. A flush never raises
into its caller and never blocks the event loop on the network.

`[cache] url = ""` turns the cache off: `make_cache` then returns a `Cache` whose methods
validate their names and do nothing, with the same API, so callers never branch.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import re
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from engine._core.fixedpoint import Grid

if TYPE_CHECKING:
    from engine.config.schema import CacheConfig
    from engine.model.orders import Order

log = logging.getLogger("engine.storage.cache")

# Venues never hold ':' so the first ':' after `bbo:` always ends the venue; a symbol may
# (some venues spell pairs BASE:QUOTE). Nothing else: no spaces, wildcards or braces that
# would turn a key into a pattern or a cluster hash tag.
_VENUE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_SYMBOL = re.compile(r"[A-Za-z0-9_\-/.:]{1,64}")
_COMPONENT = _SYMBOL  # status:<component>, e.g. "engine", "risk", "feed:binance:BTCUSDT"
_PREFIX = re.compile(r"[A-Za-z0-9_\-/.:]{0,32}")

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0
CONNECT_TIMEOUT_S = 1.0  # a flush waits at most about this long on a dead or slow server
MAX_MESSAGES = 1024  # status messages waiting for the next flush; past it the oldest go

_UNIT = Grid(1)
_GONE: tuple[Any, ...] = (None,)  # pending value of an order that closed: HDEL its field


class CacheKeyError(ValueError):
    """A venue, symbol or component name that cannot be part of a cache key."""


def _checked(what: str, text: object, pattern: re.Pattern[str]) -> str:
    if not isinstance(text, str) or pattern.fullmatch(text) is None:
        raise CacheKeyError(
            f"cache: {what} {text!r} cannot be part of a cache key (allowed: {pattern.pattern})"
        )
    return text


def _number(value: object, grid: Grid) -> str:
    """An exact decimal string: an int is a count of `grid` units (ticks, lots), a Decimal is
    written in plain notation (never an exponent, never rounded)."""
    if type(value) is int:
        return grid.to_str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value}")
        return format(value, "f")
    raise TypeError(f"expected int units or Decimal, got {type(value).__name__} {value!r}")


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, enum.IntEnum):  # OrderSide: BUY = 1, SELL = -1
        return value.name.lower()
    if isinstance(value, enum.Enum):
        return str(value.value)
    raise TypeError(f"expected str or enum, got {type(value).__name__} {value!r}")


@dataclass(slots=True)
class CacheCounters:
    flushes: int = 0  # pipelines sent (one round trip each)
    commands: int = 0  # commands in those pipelines
    keys_written: int = 0
    messages: int = 0  # status messages published
    dropped_flushes: int = 0  # flushes lost to a connection failure
    dropped_messages: int = 0  # status messages lost (failed flush, or queue full)
    command_errors: int = 0  # commands Redis refused (e.g. a key of another type)
    bad_values: int = 0  # puts that could not be encoded (a float, NaN): not written
    reconnects: int = 0  # outages ended


class SymbolCache:
    """The cache of one venue's symbol, from `Cache.symbol`: keys validated and built once.

    Numbers are `int` units of the handle's grids (prices in ticks of `price_grid`,
    quantities in lots of `qty_grid`, money in units of price step x qty step) or `Decimal`;
    without grids an int is a whole number. Nothing is checked or formatted here: a value
    that cannot be written (a float, NaN) is refused at the flush, counted and logged once.
    Sequences given to `top` are kept, not copied, until the flush: do not change them.
    Call from the event loop's thread only (the flush task reads the same dict).

    This base class is the disabled cache: every put does nothing.
    """

    __slots__ = ("money_grid", "price_grid", "qty_grid", "symbol", "venue")

    def __init__(
        self, venue: str, symbol: str, price_grid: Grid | None, qty_grid: Grid | None
    ) -> None:
        self.venue = _checked("venue", venue, _VENUE)
        self.symbol = _checked("symbol", symbol, _SYMBOL)
        self.price_grid = _UNIT if price_grid is None else price_grid
        self.qty_grid = _UNIT if qty_grid is None else qty_grid
        self.money_grid = (
            Grid(self.price_grid.step * self.qty_grid.step)
            if price_grid is not None or qty_grid is not None
            else _UNIT
        )

    def bbo(
        self,
        bid: int | Decimal,
        bid_qty: int | Decimal,
        ask: int | Decimal,
        ask_qty: int | Decimal,
        ts_ns: int,
    ) -> None:
        """Best bid and offer."""

    def top(
        self,
        bids: Sequence[tuple[int | Decimal, int | Decimal]],
        asks: Sequence[tuple[int | Decimal, int | Decimal]],
        ts_ns: int,
    ) -> None:
        """The top levels of the book, best first: (price, quantity) pairs."""

    def position(
        self,
        quantity: int | Decimal,
        cost: int | Decimal,
        realized: int | Decimal,
        fees: int | Decimal,
        ts_ns: int,
    ) -> None:
        """Signed quantity, cost basis, realized PnL and fees paid."""

    def order(  # noqa: PLR0917 - the order's fields, positional: the cheapest call
        self,
        client_order_id: str,
        side: object,
        price: int | Decimal | None,
        quantity: int | Decimal,
        filled: int | Decimal,
        status: object,
        ts_ns: int,
        order_type: object = "",
        time_in_force: object = "",
        venue_order_id: str = "",
    ) -> None:
        """An open order, new or changed (side and status: str or the model's enums)."""

    def order_closed(self, client_order_id: str) -> None:
        """The order is no longer open: its entry leaves the open orders."""

    def put_order(self, order: Order) -> None:
        """The model's `Order` (Decimal face): open states cached, final states removed."""
        if order.status.is_terminal:
            self.order_closed(order.id)
        else:
            self.order(
                order.id,
                order.side,
                order.price,
                order.quantity,
                order.filled_quantity,
                order.status,
                order.timestamp_ns,
                order.order_type,
                order.time_in_force,
                order.venue_order_id,
            )


class Cache:
    """The cache's API. This base class is the disabled cache (`[cache] url = ""`): names are
    validated as by the Redis cache, so a bad symbol is found with the cache off too, and
    everything else does nothing."""

    enabled = False

    def __init__(self, key_prefix: str = "hft:", status_channel: str = "status") -> None:
        self.key_prefix = _checked("key_prefix", key_prefix, _PREFIX)
        self.channel = key_prefix + _checked("status_channel", status_channel, _COMPONENT)
        self.counters = CacheCounters()
        self._symbols: dict[tuple[str, str], SymbolCache] = {}

    def symbol(
        self,
        venue: str,
        symbol: str,
        price_grid: Grid | None = None,
        qty_grid: Grid | None = None,
    ) -> SymbolCache:
        """The handle the hot path writes through (the same one for the same venue and
        symbol; grids given for a symbol already known are ignored)."""
        handle = self._symbols.get((venue, symbol))
        if handle is None:
            handle = self._new_symbol(venue, symbol, price_grid, qty_grid)
            self._symbols[(venue, symbol)] = handle
        return handle

    def _new_symbol(
        self, venue: str, symbol: str, price_grid: Grid | None, qty_grid: Grid | None
    ) -> SymbolCache:
        return SymbolCache(venue, symbol, price_grid, qty_grid)

    def status(
        self, component: str, state: str, reason: str = "", ts_ns: int | None = None
    ) -> None:
        """A status change of `component` ("engine", "risk", "feed:<venue>:<symbol>"...):
        kept under `status:<component>` and published on the status channel."""
        _checked("status component", component, _COMPONENT)

    def key(self, kind: str, *parts: str) -> str:
        """The full key of `kind` ("bbo", "top", "pos", "orders", "status") and its parts."""
        return ":".join((self.key_prefix + kind, *parts))

    async def start(self) -> None:
        """Connect (never raises for an unreachable server) and start flushing."""

    async def flush(self) -> bool:
        """Send what is pending now; True when a pipeline went out. Never raises."""
        return False

    async def stop(self) -> None:
        """Send what is pending (best effort), stop flushing, close the connection."""


class _RedisSymbolCache(SymbolCache):
    """A symbol of the Redis cache: a put is one dict store into the pending writes."""

    __slots__ = (
        "_bbo_key",
        "_enc_bbo",
        "_enc_order",
        "_enc_pos",
        "_enc_top",
        "_orders_key",
        "_pending",
        "_pos_key",
        "_top_key",
    )

    def __init__(
        self,
        cache: RedisCache,
        venue: str,
        symbol: str,
        price_grid: Grid | None,
        qty_grid: Grid | None,
    ) -> None:
        super().__init__(venue, symbol, price_grid, qty_grid)
        self._pending = cache._pending
        self._bbo_key = cache.key("bbo", venue, symbol)
        self._top_key = cache.key("top", venue, symbol)
        self._pos_key = cache.key("pos", venue, symbol)
        self._orders_key = cache.key("orders", venue, symbol)
        # bound once, so a put stores a reference instead of making a bound method
        self._enc_bbo = self._encode_bbo
        self._enc_top = self._encode_top
        self._enc_pos = self._encode_pos
        self._enc_order = self._encode_order

    # -- the hot path: one tuple, one dict store ------------------------------------------

    def bbo(
        self,
        bid: int | Decimal,
        bid_qty: int | Decimal,
        ask: int | Decimal,
        ask_qty: int | Decimal,
        ts_ns: int,
    ) -> None:
        self._pending[self._bbo_key] = (self._enc_bbo, bid, bid_qty, ask, ask_qty, ts_ns)

    def top(
        self,
        bids: Sequence[tuple[int | Decimal, int | Decimal]],
        asks: Sequence[tuple[int | Decimal, int | Decimal]],
        ts_ns: int,
    ) -> None:
        self._pending[self._top_key] = (self._enc_top, bids, asks, ts_ns)

    def position(
        self,
        quantity: int | Decimal,
        cost: int | Decimal,
        realized: int | Decimal,
        fees: int | Decimal,
        ts_ns: int,
    ) -> None:
        self._pending[self._pos_key] = (self._enc_pos, quantity, cost, realized, fees, ts_ns)

    def order(  # noqa: PLR0917 - the order's fields, positional: the cheapest call
        self,
        client_order_id: str,
        side: object,
        price: int | Decimal | None,
        quantity: int | Decimal,
        filled: int | Decimal,
        status: object,
        ts_ns: int,
        order_type: object = "",
        time_in_force: object = "",
        venue_order_id: str = "",
    ) -> None:
        self._pending[(self._orders_key, client_order_id)] = (
            self._enc_order,
            side,
            price,
            quantity,
            filled,
            status,
            ts_ns,
            order_type,
            time_in_force,
            venue_order_id,
        )

    def order_closed(self, client_order_id: str) -> None:
        self._pending[(self._orders_key, client_order_id)] = _GONE

    # -- at the flush: exact strings ------------------------------------------------------

    def _encode_bbo(self, v: tuple[Any, ...]) -> dict[str, str]:
        price, qty = self.price_grid, self.qty_grid
        return {
            "bid": _number(v[1], price),
            "bid_qty": _number(v[2], qty),
            "ask": _number(v[3], price),
            "ask_qty": _number(v[4], qty),
            "ts_ns": str(int(v[5])),
        }

    def _levels(self, levels: Sequence[tuple[Any, Any]]) -> str:
        price, qty = self.price_grid, self.qty_grid
        return orjson.dumps([[_number(p, price), _number(q, qty)] for p, q in levels]).decode()

    def _encode_top(self, v: tuple[Any, ...]) -> dict[str, str]:
        return {"bids": self._levels(v[1]), "asks": self._levels(v[2]), "ts_ns": str(int(v[3]))}

    def _encode_pos(self, v: tuple[Any, ...]) -> dict[str, str]:
        money = self.money_grid
        return {
            "quantity": _number(v[1], self.qty_grid),
            "cost": _number(v[2], money),
            "realized": _number(v[3], money),
            "fees": _number(v[4], money),
            "ts_ns": str(int(v[5])),
        }

    def _encode_order(self, v: tuple[Any, ...]) -> str:
        return orjson.dumps(
            {
                "side": _text(v[1]),
                "price": None if v[2] is None else _number(v[2], self.price_grid),
                "quantity": _number(v[3], self.qty_grid),
                "filled": _number(v[4], self.qty_grid),
                "status": _text(v[5]),
                "ts_ns": int(v[6]),
                "order_type": _text(v[7]),
                "time_in_force": _text(v[8]),
                "venue_order_id": str(v[9]),
            }
        ).decode()


def _where(url: str) -> str:
    """host:port (or the socket path) of a Redis URL, never its credentials."""
    try:
        parsed = urlparse(url)
        if parsed.scheme == "unix":
            return parsed.path or "a unix socket"
        return f"{parsed.hostname or 'localhost'}:{parsed.port or 6379}"
    except ValueError as exc:  # a port that is not a number
        raise ValueError(f"cache: [cache] url is not a valid Redis URL ({exc})") from None


class RedisCache(Cache):
    """The cache in Redis. Construct with `make_cache`; `start()` inside the event loop.

    Guarantees: a put never does I/O, never awaits and never raises for the state of
    Redis; at most one pipeline is in flight; every key written carries the TTL; after an
    outage the whole current state (including open orders closed meanwhile) is written
    again before anything else counts as flushed.
    """

    enabled = True

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = "hft:",
        ttl_s: int = 60,
        flush_interval_ms: int = 50,
        status_channel: str = "status",
        retry_first_s: float = RETRY_FIRST_S,
        retry_max_s: float = RETRY_MAX_S,
        timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        super().__init__(key_prefix, status_channel)
        if ttl_s < 1:
            raise ValueError(f"cache: ttl_s must be >= 1, got {ttl_s}")
        self.url = url
        self.where = _where(url)
        self.ttl_s = int(ttl_s)
        self.interval_s = max(flush_interval_ms, 1) / 1000
        # the TTL is renewed (and everything rewritten) three times per TTL
        self.refresh_s = max(self.ttl_s / 3, self.interval_s)
        self.retry_first_s = retry_first_s
        self.retry_max_s = retry_max_s
        self.timeout_s = timeout_s
        # key -> (encoder, *values); (orders key, client order id) -> same, or _GONE
        self._pending: dict[Any, tuple[Any, ...]] = {}
        self._current: dict[str, dict[str, str]] = {}  # hash key -> its fields, as written
        self._orders: dict[str, dict[str, str]] = {}  # orders key -> client id -> JSON
        self._replace: set[str] = set()  # orders keys to delete before writing, once
        self._status_keys: dict[str, str] = {}
        self._messages: deque[tuple[str, str, str, int]] = deque()
        self._enc_status = self._encode_status
        self._client: Any = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._resync = True  # first flush after (re)connecting writes everything
        self._down = False  # in an outage: warned once, backing off
        self._retry_at = 0.0
        self._retry_s = retry_first_s
        self._refresh_at = 0.0
        self._logged_bad: set[Any] = set()
        self._logged_refused = False

    def _new_symbol(
        self, venue: str, symbol: str, price_grid: Grid | None, qty_grid: Grid | None
    ) -> SymbolCache:
        handle = _RedisSymbolCache(self, venue, symbol, price_grid, qty_grid)
        # the open orders of a symbol are replaced whole at its first write, so a previous
        # run's orders (not expired yet) never mix with this one's
        self._orders[handle._orders_key] = {}
        self._replace.add(handle._orders_key)
        return handle

    def status(
        self, component: str, state: str, reason: str = "", ts_ns: int | None = None
    ) -> None:
        key = self._status_keys.get(component)
        if key is None:
            key = self.key("status", _checked("status component", component, _COMPONENT))
            self._status_keys[component] = key
        ts = time.time_ns() if ts_ns is None else ts_ns
        self._pending[key] = (self._enc_status, state, reason, ts)
        messages = self._messages
        if len(messages) >= MAX_MESSAGES:
            messages.popleft()
            self.counters.dropped_messages += 1
        messages.append((component, state, reason, ts))

    @staticmethod
    def _encode_status(v: tuple[Any, ...]) -> dict[str, str]:
        return {"state": str(v[1]), "reason": str(v[2]), "ts_ns": str(int(v[3]))}

    @property
    def connected(self) -> bool:
        """False during an outage (from the first failed flush until one succeeds)."""
        return self._client is not None and not self._down

    @property
    def pending(self) -> int:
        """Keys (and order entries) waiting for the next flush."""
        return len(self._pending)

    async def start(self) -> None:
        if self._task is not None:
            return
        # no retries inside redis-py: a failed flush is retried by our own backoff, so a dead
        # server costs one failed connect per retry, never a burst of them
        self._client = aioredis.Redis.from_url(
            self.url,
            socket_timeout=self.timeout_s,
            socket_connect_timeout=self.timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            await self._client.ping()
        except Exception as exc:  # any failure: the cache is not critical
            self._failed(exc)
        else:
            log.info("cache: Redis at %s", self.where)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="cache-flush")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is None:
            return
        if not self._down:
            await self.flush()  # the last state, best effort (never raises)
        client, self._client = self._client, None
        with contextlib.suppress(Exception):
            await client.aclose()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()

    async def flush(self) -> bool:
        if self._client is None:
            return False
        async with self._lock:
            try:
                return await self._flush()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug of ours: log it, never let it reach the engine
                log.exception("cache: flush failed")
                self.counters.dropped_flushes += 1
                self._resync = True
                return False

    async def _flush(self) -> bool:
        now = time.monotonic()
        if self._down and now < self._retry_at:
            return False  # backing off; puts keep overwriting the pending values meanwhile
        full = self._resync
        refresh = full or now >= self._refresh_at
        if not (self._pending or self._messages or self._replace or refresh):
            return False
        batch = self._pending.copy()
        self._pending.clear()
        messages = list(self._messages)
        self._messages.clear()

        written: dict[str, dict[str, str]] = {}  # hash key -> fields, this flush
        order_set: dict[str, dict[str, str]] = {}  # orders key -> client id -> JSON
        order_del: dict[str, list[str]] = {}
        for key, value in batch.items():
            if type(key) is tuple:
                okey, cid = key
                fields = self._orders.setdefault(okey, {})
                if value is _GONE:
                    fields.pop(cid, None)
                    order_del.setdefault(okey, []).append(cid)
                    order_set.setdefault(okey, {}).pop(cid, None)
                    continue
                encoded = self._encode(key, value)
                if encoded is None:
                    continue
                fields[cid] = encoded
                order_set.setdefault(okey, {})[cid] = encoded
            else:
                mapping = self._encode(key, value)
                if mapping is None:
                    continue
                self._current[key] = mapping
                written[key] = mapping

        if refresh:  # everything, so every TTL is renewed (and a wiped server refilled)
            written = self._current
            order_set = self._orders

        pipe = self._client.pipeline(transaction=False)
        ttl = self.ttl_s
        commands = 0
        for key, mapping in written.items():
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, ttl)
            commands += 2
        replace = self._orders.keys() if full else self._replace
        for okey in order_set.keys() | order_del.keys() | replace:
            fields = order_set.get(okey, {})
            if okey in replace:
                # what is there may hold orders closed during an outage, or a previous run's
                pipe.delete(okey)
                commands += 1
            elif order_del.get(okey):
                pipe.hdel(okey, *order_del[okey])
                commands += 1
            if fields:
                pipe.hset(okey, mapping=fields)
                pipe.expire(okey, ttl)
                commands += 2
        for component, state, reason, ts in messages:
            message = {"component": component, "state": state, "reason": reason, "ts_ns": ts}
            pipe.publish(self.channel, orjson.dumps(message))
            commands += 1
        if commands == 0:
            self._refresh_at = now + self.refresh_s
            return False

        try:
            results = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:  # stopped mid-flush: what went out is unknown
            self.counters.dropped_messages += len(messages)
            self._resync = True
            raise
        except Exception as exc:  # connection refused, reset, timed out: an outage
            self.counters.dropped_messages += len(messages)
            self._failed(exc)
            return False

        counters = self.counters
        counters.flushes += 1
        counters.commands += commands
        counters.keys_written += len(written) + len(order_set)
        counters.messages += len(messages)
        refused = [r for r in results if isinstance(r, Exception)]
        if refused:
            counters.command_errors += len(refused)
            if not self._logged_refused:
                self._logged_refused = True
                log.error("cache: Redis at %s refused a command: %s", self.where, refused[0])
        if self._down:
            counters.reconnects += 1
            log.info(
                "cache: Redis at %s is back; the current state is written again "
                "(%d flushes dropped so far)",
                self.where,
                counters.dropped_flushes,
            )
        self._down = False
        self._resync = False
        self._replace.clear()
        self._retry_s = self.retry_first_s
        if refresh:
            self._refresh_at = now + self.refresh_s
        return True

    def _encode(self, key: Any, value: tuple[Any, ...]) -> Any:
        try:
            return value[0](value)
        except (TypeError, ValueError, ArithmeticError) as exc:
            self.counters.bad_values += 1
            name = key if isinstance(key, str) else key[0]
            if name not in self._logged_bad:
                self._logged_bad.add(name)
                log.error("cache: a value for %s cannot be written (not cached): %s", name, exc)
            return None

    def _failed(self, exc: BaseException) -> None:
        """An outage begins or goes on: warn once, back off (capped), write all on return."""
        self.counters.dropped_flushes += 1
        self._resync = True
        if not self._down:
            self._down = True
            log.warning(
                "cache: Redis at %s unreachable (%s); the engine runs on without it, "
                "retrying every %.1f s at most",
                self.where,
                exc or type(exc).__name__,
                self.retry_max_s,
            )
            self._retry_s = self.retry_first_s
        self._retry_at = time.monotonic() + self._retry_s
        self._retry_s = min(self._retry_s * 2, self.retry_max_s)


def make_cache(config: CacheConfig) -> Cache:
    """The Redis cache of `[cache]`, or the disabled one when `url` is empty."""
    if not config.url:
        return Cache(config.key_prefix, config.status_channel)
    return RedisCache(
        config.url,
        key_prefix=config.key_prefix,
        ttl_s=config.ttl_s,
        flush_interval_ms=config.flush_interval_ms,
        status_channel=config.status_channel,
    )
