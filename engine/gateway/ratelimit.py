"""Request budgets per venue: token buckets on the engine clock, so the engine never sends a
request the venue would refuse for its rate.

A `TokenBucket` holds up to `capacity` tokens and regains them continuously, `capacity` per
`window_ns` (integer arithmetic in nanotokens: no float drift). `RateLimiter.acquire` takes
tokens from several buckets at once (a Binance order costs request weight *and* an order
count) or from none, and says how long to wait when one is short. Each step is O(number of
buckets named), a handful.

The venue's own view corrects ours: Binance reports the weight and order counts it has
used (`X-MBX-USED-WEIGHT-1M`, `X-MBX-ORDER-COUNT-10S`, WS API `rateLimits`), Gate the
requests left (`X-Gate-RateLimit-Requests-Remain`); `observe_used` lowers our tokens to
match when the venue counted more than we did (other processes on the same key or IP).
After a 429/418 `block_until` stops the bucket until the venue's `Retry-After` has passed.
The published limits (docs/VENUES.md §1.8, §2.1, §2.8, §3.8) are used at `SAFETY` of their
value, leaving room for what we cannot see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.clock import Clock

NS_PER_S = 1_000_000_000
NANO = 1_000_000_000  # nanotokens per token
SAFETY = 0.8  # share of a published limit the engine allows itself


class TokenBucket:
    __slots__ = ("_blocked_until", "_nanotokens", "_stamp_ns", "capacity", "name", "window_ns")

    def __init__(self, name: str, capacity: int, window_ns: int, now_ns: int) -> None:
        if capacity < 1 or window_ns < 1:
            raise ValueError(f"bucket {name}: capacity and window must be >= 1")
        self.name = name
        self.capacity = capacity
        self.window_ns = window_ns
        self._nanotokens = capacity * NANO
        self._stamp_ns = now_ns
        self._blocked_until = 0

    def _refill(self, now_ns: int) -> None:
        elapsed = now_ns - self._stamp_ns
        if elapsed > 0:
            # capacity tokens per window: capacity * NANO nanotokens per window_ns
            gained = elapsed * self.capacity * NANO // self.window_ns
            self._nanotokens = min(self.capacity * NANO, self._nanotokens + gained)
            self._stamp_ns = now_ns

    def wait_ns(self, cost: int, now_ns: int) -> int:
        """0 when `cost` tokens are there now, else how long until they will be."""
        if cost > self.capacity:
            raise ValueError(f"bucket {self.name}: a cost of {cost} exceeds its {self.capacity}")
        if now_ns < self._blocked_until:
            return self._blocked_until - now_ns
        self._refill(now_ns)
        short = cost * NANO - self._nanotokens
        if short <= 0:
            return 0
        # ceil(short * window / (capacity * NANO)): never wake a nanosecond too early
        per_ns = self.capacity * NANO
        return -(-short * self.window_ns // per_ns)

    def take(self, cost: int) -> None:
        """Take tokens `wait_ns` said were there (no refill in between)."""
        self._nanotokens -= cost * NANO

    @property
    def tokens(self) -> float:
        return self._nanotokens / NANO

    def observe_used(self, used: int, now_ns: int) -> None:
        """The venue says `used` of this window's capacity is spent: trust it if it saw more."""
        self._refill(now_ns)
        left = max(0, self.capacity - used) * NANO
        self._nanotokens = min(self._nanotokens, left)

    def block_until(self, until_ns: int) -> None:
        """No tokens before `until_ns` (a 429/418 with Retry-After), none saved up after."""
        self._blocked_until = max(self._blocked_until, until_ns)
        self._nanotokens = 0
        self._stamp_ns = max(self._stamp_ns, until_ns)


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    count: int  # published requests (or weight, or orders) per window
    window_s: float

    def bucket(self, now_ns: int) -> TokenBucket:
        return TokenBucket(
            self.name, max(1, int(self.count * SAFETY)), int(self.window_s * NS_PER_S), now_ns
        )


class RateLimiter:
    """Named buckets of one venue, on the engine clock."""

    def __init__(self, clock: Clock, limits: Iterable[Limit]) -> None:
        self.clock = clock
        now = clock.monotonic_ns()
        self.buckets = {limit.name: limit.bucket(now) for limit in limits}
        self.throttled = 0  # acquisitions that had to wait or were refused

    def acquire(self, costs: Iterable[tuple[str, int]]) -> int:
        """Take every cost at once and answer 0, or take nothing and answer the wait in ns."""
        now = self.clock.monotonic_ns()
        pairs = [(self.buckets[name], cost) for name, cost in costs]
        wait = max((bucket.wait_ns(cost, now) for bucket, cost in pairs), default=0)
        if wait:
            self.throttled += 1
            return wait
        for bucket, cost in pairs:
            bucket.take(cost)
        return 0

    async def acquire_waiting(self, costs: Iterable[tuple[str, int]]) -> None:
        """acquire, sleeping on the engine clock until the tokens are there (cancels)."""
        wanted = list(costs)
        while wait := self.acquire(wanted):
            await self.clock.sleep_ns(wait)

    def observe_used(self, name: str, used: int) -> None:
        bucket = self.buckets.get(name)
        if bucket is not None:
            bucket.observe_used(used, self.clock.monotonic_ns())

    def block_for(self, seconds: float, names: Iterable[str] | None = None) -> None:
        until = self.clock.monotonic_ns() + int(seconds * NS_PER_S)
        for name in self.buckets if names is None else names:
            self.buckets[name].block_until(until)


# The venues' published limits (docs/VENUES.md). Binance's request weight is per IP, its order
# counts per account; OKX's and Gate's trading limits are per user and instrument, so their
# buckets are made per symbol by `per_symbol`.
BINANCE = (
    Limit("weight", 6000, 60),
    Limit("orders_10s", 100, 10),
    Limit("orders_1d", 200_000, 86_400),
)
OKX_PER_SYMBOL = (
    Limit("place", 60, 2),
    Limit("cancel", 60, 2),
    Limit("amend", 60, 2),
)
OKX = (
    Limit("batch", 300, 2),
    Limit("query", 60, 2),
    Limit("balance", 10, 2),
    Limit("cancel_all_after", 1, 1),
)
GATE_PER_SYMBOL = (Limit("place", 10, 1),)  # place and amend, single and batch together
GATE = (
    Limit("cancel", 200, 1),
    Limit("private", 200, 10),
)


def per_symbol(limits: Iterable[Limit], symbols: Iterable[str]) -> list[Limit]:
    """`place` for BTC-USDT becomes `place:BTC-USDT`: one bucket per instrument."""
    return [
        Limit(f"{limit.name}:{symbol}", limit.count, limit.window_s)
        for symbol in symbols
        for limit in limits
    ]
