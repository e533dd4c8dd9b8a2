"""Request budgets per venue, on the engine clock, so the engine never sends a request the
venue would refuse for its rate.

A `TokenBucket` allows `capacity` tokens in *any* span of `window_ns`: what is spent is
counted in a ring of `SLOTS + 1` sub-window slots and given back only when its slot is a whole
window old. A classic refilling bucket (capacity C, C per window) lets 2C through in one
window (a full bucket spent, then a window of refill), which a venue counting fixed or sliding
windows refuses; the ring never does, and costs O(SLOTS) at worst per step (a constant), O(1)
usually. A spend may be held up to one slot (a twentieth of the window) longer than needed.

`RateLimiter.acquire` takes tokens from several buckets at once (a Binance order costs request
weight *and* order counts) or from none, and says how long to wait when one is short;
`take_or_refuse` raises `RateLimited` (code "local") instead, for requests that must not wait
(new orders, amends: a quote late by a window is a wrong quote), `acquire_waiting` sleeps on
the engine clock until the tokens are there (cancels and queries: a cancel must go out).

The venue's own view corrects ours: Binance reports the weight and order counts it has
used (`X-MBX-USED-WEIGHT-1M`, `X-MBX-ORDER-COUNT-10S`, WS API `rateLimits`), Gate the
requests left (`X-Gate-RateLimit-Requests-Remain` of `-Limit`); `observe_used` raises our
count to match when the venue counted more than we did (other processes on the same key or
IP). After a 429/418 `block_for` stops the affected buckets until the venue's `Retry-After`
has passed. The published limits (docs/VENUES.md §1.8, §2.1, §2.8, §3.8) are used at `SAFETY`
of their value, leaving room for what we cannot see (latency differences, other clients).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.clock import Clock
from engine.gateway.errors import RateLimited

NS_PER_S = 1_000_000_000
SAFETY = 0.8  # share of a published limit the engine allows itself
SLOTS = 20  # sub-window slots per bucket

Costs = Sequence[tuple[str, int]]


class TokenBucket:
    """At most `capacity` tokens spent in any `window_ns` (see the module docstring)."""

    __slots__ = (
        "_blocked_until",
        "_cell",
        "_counts",
        "_head",
        "_next_ns",
        "_slot_ns",
        "_used",
        "capacity",
        "name",
        "window_ns",
    )

    def __init__(self, name: str, capacity: int, window_ns: int, now_ns: int) -> None:
        if capacity < 1 or window_ns < 1:
            raise ValueError(f"bucket {name}: capacity and window must be >= 1")
        self.name = name
        self.capacity = capacity
        self.window_ns = window_ns
        self._slot_ns = -(-window_ns // SLOTS)  # SLOTS slots cover at least the window
        self._counts = [0] * (SLOTS + 1)  # by absolute slot number mod SLOTS + 1
        self._head = now_ns // self._slot_ns  # the newest slot counted
        self._cell = self._head % (SLOTS + 1)  # its ring cell
        self._next_ns = (self._head + 1) * self._slot_ns  # when the next slot begins
        self._used = 0
        self._blocked_until = 0

    def _advance(self, now_ns: int) -> None:
        """Give back what was spent in the slots now a whole window old.

        A spend in slot s (at some t < (s + 1) * slot) is live while the current slot is at
        most s + SLOTS and given back at the start of slot s + SLOTS + 1, at least
        SLOTS * slot >= window after t; that slot reuses s's ring cell.
        """
        slot = now_ns // self._slot_ns
        head = self._head
        if slot <= head:
            return
        counts, n = self._counts, SLOTS + 1
        for s in range(head + 1, min(slot, head + n) + 1):
            i = s % n
            self._used -= counts[i]
            counts[i] = 0
        self._head = slot
        self._cell = slot % n
        self._next_ns = (slot + 1) * self._slot_ns

    def wait_ns(self, cost: int, now_ns: int) -> int:
        """0 when `cost` tokens are there now, else how long until they will be."""
        if now_ns >= self._next_ns:
            self._advance(now_ns)
        if now_ns < self._blocked_until:
            return self._blocked_until - now_ns
        short = self._used + cost - self.capacity
        if short <= 0:
            return 0
        if cost > self.capacity:
            raise ValueError(f"bucket {self.name}: a cost of {cost} exceeds its {self.capacity}")
        counts, n = self._counts, SLOTS + 1
        for s in range(self._head - SLOTS, self._head + 1):  # oldest first
            short -= counts[s % n]
            if short <= 0:
                return (s + SLOTS + 1) * self._slot_ns - now_ns
        raise AssertionError("unreachable: a cost within capacity fits an empty bucket")

    def take(self, cost: int) -> None:
        """Spend tokens `wait_ns` said were there (at the same instant)."""
        self._counts[self._cell] += cost
        self._used += cost

    @property
    def tokens(self) -> int:
        """Tokens left as of the last step (not moved on to now)."""
        return max(0, self.capacity - self._used)

    @property
    def used(self) -> int:
        return self._used

    def observe_used(self, used: int, now_ns: int) -> None:
        """The venue says `used` of its window is spent: trust it if it saw more than we did
        (the difference counts as spent now, for a whole window)."""
        self._advance(now_ns)
        extra = used - self._used
        if extra > 0:
            self.take(extra)

    def block_until(self, until_ns: int) -> None:
        """No tokens before `until_ns` (a 429/418 with Retry-After)."""
        self._blocked_until = max(self._blocked_until, until_ns)

    def blocked(self, now_ns: int) -> bool:
        return now_ns < self._blocked_until


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    count: int  # published requests (or weight, or orders) per window
    window_s: float

    def bucket(self, now_ns: int) -> TokenBucket:
        return TokenBucket(
            self.name, max(1, int(self.count * SAFETY)), int(self.window_s * NS_PER_S), now_ns
        )


class Charge:
    """Costs resolved to their buckets once (`RateLimiter.charge`): what a request type
    takes, without a name lookup per request. `names` are what a 429 blocks."""

    __slots__ = ("names", "pairs")

    def __init__(self, pairs: tuple[tuple[TokenBucket, int], ...]) -> None:
        self.pairs = pairs
        self.names = tuple(bucket.name for bucket, _ in pairs)


def names_of(costs: Charge | Iterable[tuple[str, int]]) -> tuple[str, ...]:
    """The bucket names costs fall on (what a 429 to that request blocks)."""
    return costs.names if isinstance(costs, Charge) else tuple(name for name, _ in costs)


class RateLimiter:
    """Named buckets of one venue, on the engine clock."""

    def __init__(self, clock: Clock, limits: Iterable[Limit], *, venue: str = "") -> None:
        self.clock = clock
        self.venue = venue
        now = clock.monotonic_ns()
        self.buckets = {limit.name: limit.bucket(now) for limit in limits}
        self.throttled = 0  # acquisitions that had to wait or were refused
        self.refused = 0  # requests refused locally (never sent)
        self.waited = 0  # requests that waited for their tokens
        self.blocked = 0  # 429/418 answers that blocked buckets

    def charge(self, costs: Iterable[tuple[str, int]]) -> Charge:
        """The costs' buckets, resolved once; a name without a bucket (a symbol not
        configured) costs nothing."""
        buckets = self.buckets
        return Charge(tuple((buckets[name], cost) for name, cost in costs if name in buckets))

    def acquire(self, costs: Charge | Iterable[tuple[str, int]]) -> int:
        """Take every cost at once and answer 0, or take nothing and answer the wait in ns."""
        pairs = costs.pairs if isinstance(costs, Charge) else self.charge(costs).pairs
        now = self.clock.monotonic_ns()
        wait = 0
        for bucket, cost in pairs:
            # the common case inline (same slot, room, not blocked): no call per bucket
            if (
                now < bucket._next_ns
                and bucket._used + cost <= bucket.capacity
                and now >= bucket._blocked_until
            ):
                continue
            w = bucket.wait_ns(cost, now)
            if w > wait:  # noqa: PLR1730 - a compare, not a call: the hot path
                wait = w
        if wait:
            self.throttled += 1
            return wait
        for bucket, cost in pairs:
            bucket._counts[bucket._cell] += cost  # TokenBucket.take, inline
            bucket._used += cost
        return 0

    def take_or_refuse(self, costs: Charge | Iterable[tuple[str, int]], what: str) -> None:
        """acquire, or raise `RateLimited` (code "local", `retry_after_s` = the wait) with
        nothing taken: the request is not sent."""
        wait = self.acquire(costs)
        if wait:
            self.refused += 1
            raise RateLimited(
                self.venue,
                "local",
                f"{what}: over the engine's rate budget, not sent; "
                f"retry in {wait / NS_PER_S:.3f} s",
                retry_after_s=wait / NS_PER_S,
            )

    async def acquire_waiting(self, costs: Charge | Iterable[tuple[str, int]]) -> None:
        """acquire, sleeping on the engine clock until the tokens are there (cancels)."""
        wanted = costs if isinstance(costs, Charge) else self.charge(costs)
        wait = self.acquire(wanted)
        if not wait:
            return
        while wait:
            await self.clock.sleep_ns(wait)
            wait = self.acquire(wanted)
        self.waited += 1

    def observe_used(self, name: str, used: int) -> None:
        bucket = self.buckets.get(name)
        if bucket is not None:
            bucket.observe_used(used, self.clock.monotonic_ns())

    def block_for(self, seconds: float, names: Iterable[str] | None = None) -> None:
        until = self.clock.monotonic_ns() + int(seconds * NS_PER_S)
        self.blocked += 1
        for name in self.buckets if names is None else names:
            bucket = self.buckets.get(name)
            if bucket is not None:
                bucket.block_until(until)

    def counters(self) -> dict[str, int]:
        return {
            "throttled": self.throttled,
            "refused": self.refused,
            "waited": self.waited,
            "blocked": self.blocked,
        }


# The venues' published limits (docs/VENUES.md). Binance's request weight is per IP, its order
# counts per account; OKX's and Gate's trading limits are per user and instrument, so their
# buckets are made per symbol by `per_symbol`.
BINANCE = (
    Limit("weight", 6000, 60),
    Limit("orders_10s", 100, 10),
    Limit("orders_1d", 200_000, 86_400),
)
# request weight of each Binance operation (WS API method; the REST endpoint weighs the same)
BINANCE_WEIGHTS = {
    "order.place": 1,
    "order.cancel": 1,
    "order.cancelReplace": 1,
    "openOrders.cancelAll": 1,
    "order.status": 4,
    "openOrders.status": 6,  # with a symbol
    "myTrades": 20,
    "account.status": 20,
    "time": 1,
    "connect": 2,  # opening a WS API connection
    "session.logon": 2,
    "userDataStream": 2,  # subscribe(.signature), the listenKey POST/PUT/DELETE
}
BINANCE_ORDER = (("orders_10s", 1), ("orders_1d", 1))  # added to a new order's weight
# the Binance usage counters (BinanceAdapter.usage keys) -> our buckets
BINANCE_USAGE = {
    "REQUEST_WEIGHT:1M": "weight",
    "ORDERS:10S": "orders_10s",
    "ORDERS:1D": "orders_1d",
}

OKX_PER_SYMBOL = (
    Limit("place", 60, 2),
    Limit("cancel", 60, 2),
    Limit("amend", 60, 2),
)
OKX = (
    Limit("batch", 300, 2),  # orders in batch place / cancel / amend
    Limit("query", 60, 2),  # orders-pending and order (one bucket for both: conservative)
    Limit("fills", 60, 2),
    Limit("fills_history", 10, 2),
    Limit("balance", 10, 2),
    Limit("time", 10, 2),
    Limit("cancel_all_after", 1, 1),
)
GATE_PER_SYMBOL = (Limit("place", 10, 1),)  # place and amend, single and batch together
GATE = (
    Limit("ws_place", 10, 1),  # WS place, batch place and amend, per user across pairs
    Limit("cancel", 200, 1),
    Limit("private", 200, 10),  # per endpoint at Gate; one bucket for all: conservative
    Limit("public", 200, 10),
)


def per_symbol(limits: Iterable[Limit], symbols: Iterable[str]) -> list[Limit]:
    """`place` for BTC-USDT becomes `place:BTC-USDT`: one bucket per instrument."""
    return [
        Limit(f"{limit.name}:{symbol}", limit.count, limit.window_s)
        for symbol in symbols
        for limit in limits
    ]


def venue_limiter(venue: str, clock: Clock, symbols: Iterable[str]) -> RateLimiter:
    """The limiter of one venue's adapter: its account-wide buckets plus, for OKX and Gate,
    the trading buckets of every symbol it trades."""
    names = list(symbols)
    if venue == "binance":
        limits: list[Limit] = list(BINANCE)
    elif venue == "okx":
        limits = [*OKX, *per_symbol(OKX_PER_SYMBOL, names)]
    elif venue == "gate":
        limits = [*GATE, *per_symbol(GATE_PER_SYMBOL, names)]
    else:
        limits = []
    return RateLimiter(clock, limits, venue=venue)
