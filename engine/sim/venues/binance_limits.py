"""Binance rate limits as the venue expresses them: request weight per IP per minute (429,
then a 418 ban for a client that keeps going), new-order counts per account (-1015), the
limits published in exchangeInfo, and the timing knobs tests may shorten (docs/VENUES.md §1.8).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.sim.venues.binance_messages import BinanceError, Json


@dataclass(slots=True)
class Limits:
    """The limits the venue publishes (and enforces); tests shrink them to reach the edges."""

    weight_per_minute: int = 6000
    orders_per_10s: int = 100
    orders_per_day: int = 200_000
    strikes_before_ban: int = 3  # requests over the limit after a 429 before the 418 ban
    ban_s: int = 120


@dataclass(slots=True)
class Knobs:
    """Timing of the simulated venue that tests may shorten (defaults are Binance's)."""

    rest_timeout_s: float = 30.0  # how long REST_TIMEOUT holds a request unanswered
    delay_ack_s: float = 1.0  # DELAY_ACK on the WS API holds an order response this long
    ping_interval_s: float = 20.0  # the server pings every 20 s ...
    pong_deadline_s: float = 60.0  # ... and drops a connection whose pong is a minute late
    incoming_per_s: int | None = 5  # messages a stream connection may send per second


@dataclass(slots=True)
class _Window:
    start_ms: int = 0
    count: int = 0

    def add(self, now_ms: int, span_ms: int, n: int) -> int:
        start = now_ms - now_ms % span_ms
        if start != self.start_ms:
            self.start_ms, self.count = start, 0
        self.count += n
        return self.count


@dataclass(slots=True)
class _IpState:
    weight: _Window = field(default_factory=_Window)
    strikes: int = 0
    banned_until_ms: int = 0


@dataclass(slots=True)
class _OrderCounts:
    ten_s: _Window = field(default_factory=_Window)
    day: _Window = field(default_factory=_Window)


def weight_limit_error(limit: int) -> BinanceError:
    return BinanceError(
        429,
        -1003,
        f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
        retry_after_s=60,
    )


class RateLimits:
    """The windows of one venue; mixed into `BinanceVenue`, which supplies the clock."""

    limits: Limits
    _ips: dict[str, _IpState]
    _orders: dict[str, _OrderCounts]

    def init_rate_limits(self) -> None:
        self.limits = Limits()
        self._ips = {}
        self._orders = {}

    def now_ms(self) -> int:
        raise NotImplementedError

    def charge_weight(self, ip: str, weight: int) -> int:
        """Count `weight` for this IP in the current minute; 429 over the limit, 418 once
        a client keeps going after its 429s. Returns the minute's weight so far."""
        state = self._ips.setdefault(ip, _IpState())
        now = self.now_ms()
        if state.banned_until_ms > now:
            raise self._banned(state.banned_until_ms, now)
        used = state.weight.add(now, 60_000, weight)
        if used <= self.limits.weight_per_minute:
            state.strikes = 0
            return used
        state.strikes += 1
        if state.strikes > self.limits.strikes_before_ban:
            state.banned_until_ms = now + self.limits.ban_s * 1000
            raise self._banned(state.banned_until_ms, now)
        raise weight_limit_error(self.limits.weight_per_minute)

    def used_weight(self, ip: str) -> int:
        state = self._ips.get(ip)
        if state is None:
            return 0
        now = self.now_ms()
        return state.weight.count if state.weight.start_ms == now - now % 60_000 else 0

    @staticmethod
    def _banned(until_ms: int, now_ms: int) -> BinanceError:
        return BinanceError(
            418,
            -1003,
            f"Way too much request weight used; IP banned until {until_ms}. "
            "Please use WebSocket Streams for live updates to avoid bans.",
            retry_after_s=max(1, -(-(until_ms - now_ms) // 1000)),
        )

    def count_order(self, account: str) -> tuple[int, int]:
        """Count one new order; -1015 over either window. Returns (10s count, day count)."""
        counts = self._orders.setdefault(account, _OrderCounts())
        now = self.now_ms()
        ten = counts.ten_s.add(now, 10_000, 1)
        day = counts.day.add(now, 86_400_000, 1)
        if ten > self.limits.orders_per_10s:
            raise BinanceError(
                429,
                -1015,
                f"Too many new orders; current limit is {self.limits.orders_per_10s} orders "
                "per TEN_SECONDS.",
                retry_after_s=10,
            )
        if day > self.limits.orders_per_day:
            raise BinanceError(
                429,
                -1015,
                f"Too many new orders; current limit is {self.limits.orders_per_day} orders "
                "per DAY.",
                retry_after_s=3600,
            )
        return ten, day

    def order_counts(self, account: str) -> tuple[int, int]:
        counts = self._orders.get(account)
        if counts is None:
            return 0, 0
        now = self.now_ms()
        ten = counts.ten_s.count if counts.ten_s.start_ms == now - now % 10_000 else 0
        day = counts.day.count if counts.day.start_ms == now - now % 86_400_000 else 0
        return ten, day

    def rate_limits_info(self) -> list[Json]:
        lim = self.limits
        return [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": lim.weight_per_minute,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": lim.orders_per_10s,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "DAY",
                "intervalNum": 1,
                "limit": lim.orders_per_day,
            },
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": 5,
                "limit": 61000,
            },
        ]
