"""Reference semantics of engine/_core/risk.pyx (the pre-trade risk checks), in plain Python.

The Cython `RiskCore` must agree with `RiskCoreRef` on every code, state, counter and
snapshot; tests/test_risk.py drives both with the same random events.

Units are the instrument's grid: prices in ticks, quantities in lots, money in notional units
(tick * lot, as `PositionCore` keeps it). Sums over instruments (total exposure, PnL) add
notional units of different instruments: they mean money when every instrument's unit is the
same money, which the caller arranges (one quote asset and tick * lot, or limits scaled).

**Limits** (`InstrumentLimits` per instrument, `GlobalLimits`): every maximum is inclusive
(a value equal to the limit passes, one more is refused) and is off at `NO_LIMIT`
(2**63 - 1); `min_notional` is inclusive too (notional == min passes) and off at 0.

**An order** (`check_new`; `check_replace` for a REPLACE intent) is checked in this order, and
the first failing check is the code returned (counted per reason); a refused order changes
nothing else. `now_ns` is the engine clock.

1. `INSTRUMENT`: the index is outside the table. `ARG`: a field the intent buffer refuses
   (side, type, tif, price, qty; for a replace also old_side not +-1 or old_lots < 0).
2. The daily reset runs if `now_ns` reached it (see PnL).
3. `HALTED`: the state is HALTED.
4. `REDUCING`: the state is REDUCING and the order does not reduce: it must be a sell when
   long or a buy when short, and the resting orders on its side plus its quantity must not
   exceed |position| (never past flat). Flat: nothing passes.
5. `QTY`: qty_lots > max_qty_lots.
6. `NO_REFERENCE`: the instrument has no reference price yet (no `on_mark`) and one is
   needed: a MARKET order (valued at the reference), a price band, or an exposure limit
   (instrument or total) that is on.
7. `PRICE_BAND` (LIMIT / LIMIT_MAKER only): |price - ref| > band_ticks, or
   |price - ref| * 10000 > ref * band_bps (exact, no rounding). Both apply when both are on.
8. `NOTIONAL`: notional > max_notional; `MIN_NOTIONAL`: notional < min_notional, where
   notional = price * qty (a MARKET order: ref * qty), saturated at 2**63 - 1.
9. `OPEN_ORDERS` (NEW only; a replace keeps the count): open_orders >= max_open_orders.
10. `POSITION`: the worst case w = position + side * (same + qty), where `same` is the
    remaining lots of open orders on the order's side (a replace of an order on the same side
    first takes that order's `old_lots` out of `same`). A buy is refused when
    w > max_long_lots, a sell when -w > max_short_lots. A w beyond int64 is refused even with
    the limit off: such an order could not be booked.
11. `EXPOSURE`: min(|w| * ref, 2**63 - 1) > max_exposure; `TOTAL_EXPOSURE`: the total
    exposure with this instrument's term replaced by that value > max_total_exposure. An order
    with |w| <= |position| cannot add exposure and passes both (so REDUCING can always reduce).
12. `RATE`: the order would be the L+1-th order in the sliding window, L the instrument's or
    the global `order_rate` (instrument first).
13. Passed: the order's timestamp enters both order windows.

**A cancel** (`check_cancel`): `INSTRUMENT`; the daily reset; `CANCEL_RATE` against the
instrument's then the global `cancel_rate`; passed: recorded in both cancel windows. Cancels
pass in every state.

**Rate windows**: the window at `t` is (t - window_ns, t]: an event recorded at exactly
t - window_ns has left it. Only passed orders and cancels are recorded; a REPLACE counts as
one order. Each window keeps the last `rate_capacity` timestamps, so a check is O(1).

**Events** (the caller's account of what happened; a refused event returns `INSTRUMENT`,
`ARG` or `OVERFLOW`, changes nothing and counts in `errors`):

- `on_order_open(i, side, lots)`: an order (lots > 0) was opened: open_orders + 1 and its
  side's open lots + lots. `on_order_close(i, side, remaining_lots)`: it ended with
  `remaining_lots` (>= 0) unfilled: open_orders - 1, the side's open lots - remaining (both
  floored at 0). A fill already took its lots out (next item); a filled order closes with 0.
- `on_fill(i, side, lots, realized_delta, now_ns)`: the daily reset, then position + side *
  lots (OVERFLOW outside +-(2**63 - 1)), the side's open lots - lots (floored at 0), the
  realized PnL + realized_delta (the `PositionCore.fill` delta, net of fees), the exposure
  revalued at the reference.
- `on_mark(i, mark_ticks, unrealized, now_ns)`: the daily reset, then the reference price
  (mark_ticks > 0) and the instrument's unrealized PnL at it (`PositionCore.mark`), the
  exposure revalued. The caller feeds the unrealized again after each fill.

The exposure of an instrument is min(|position| * ref, 2**63 - 1) (0 without a reference);
the total is their sum.

**PnL**: equity = total realized + total unrealized. At the daily reset boundary
(`set_day_reset(next_reset_ns, period_ns)`, see `next_daily_reset_ns`), the first call with
now_ns >= next_reset_ns starts a new day: day_start = peak = equity, and the boundary moves
by whole periods to the first one after now_ns. The day's loss is day_start - equity; the
drawdown is peak - equity, with peak the highest equity since the day started.

**States** ACTIVE < REDUCING < HALTED. After every fill, mark, limit change and reset the
core looks for standing breaches, in this order, and enters the state for the first it
finds, if that raises the state (a breach never lowers it; the cause is the code that raised
it):

- day's loss > daily_loss_limit -> HALTED (`DAILY_LOSS`); drawdown > max_drawdown -> HALTED
  (`DRAWDOWN`);
- position > max_long_lots or -position > max_short_lots -> REDUCING (`POSITION`);
  exposure > max_exposure -> REDUCING (`EXPOSURE`); total exposure > max_total_exposure ->
  REDUCING (`TOTAL_EXPOSURE`). (A fill evaluates its instrument, a mark its instrument and
  the total, a limit change or a reset every instrument.)
- `halt()` -> HALTED (`MANUAL`).

A refused order is not a breach: it never changes the state. The state is left only by
`reset()`, which sets ACTIVE and then looks for standing breaches again, so a reset cannot
hide one (a loss still over the limit halts again at once).
"""

from __future__ import annotations

from collections import deque

from engine._core.risk_limits import (
    ARG,
    BPS,
    BUY,
    CANCEL_RATE,
    CODES,
    DAILY_LOSS,
    DAY_NS,
    DESCRIPTIONS,
    DRAWDOWN,
    EXPOSURE,
    FOK,
    GLOBAL_LIMIT_FIELDS,
    GTC,
    HALTED,
    INSTRUMENT,
    INSTRUMENT_LIMIT_FIELDS,
    INT64_MAX,
    INT64_MIN,
    IOC,
    LIMIT,
    LIMIT_MAKER,
    MANUAL,
    MARKET,
    MAX_RATE_CAPACITY,
    MIN_NOTIONAL,
    NO_LIMIT,
    NO_REFERENCE,
    NOTIONAL,
    OK,
    OPEN_ORDERS,
    OVERFLOW,
    POSITION,
    PRICE_BAND,
    QTY,
    RATE,
    REDUCING,
    SELL,
    STATE_ACTIVE,
    STATE_HALTED,
    STATE_NAMES,
    STATE_REDUCING,
    TOTAL_EXPOSURE,
    GlobalLimits,
    InstrumentLimits,
    check_rates,
    describe,
    next_daily_reset_ns,
)

# the shared limits, codes and helpers are part of the reference's API
__all__ = [
    "ARG",
    "BPS",
    "BUY",
    "CANCEL_RATE",
    "CODES",
    "DAILY_LOSS",
    "DAY_NS",
    "DESCRIPTIONS",
    "DRAWDOWN",
    "EXPOSURE",
    "FOK",
    "GLOBAL_LIMIT_FIELDS",
    "GTC",
    "HALTED",
    "INSTRUMENT",
    "INSTRUMENT_LIMIT_FIELDS",
    "INT64_MAX",
    "INT64_MIN",
    "IOC",
    "LIMIT",
    "LIMIT_MAKER",
    "MANUAL",
    "MARKET",
    "MAX_RATE_CAPACITY",
    "MIN_NOTIONAL",
    "NOTIONAL",
    "NO_LIMIT",
    "NO_REFERENCE",
    "OK",
    "OPEN_ORDERS",
    "OVERFLOW",
    "POSITION",
    "PRICE_BAND",
    "QTY",
    "RATE",
    "REDUCING",
    "SELL",
    "STATE_ACTIVE",
    "STATE_HALTED",
    "STATE_NAMES",
    "STATE_REDUCING",
    "TOTAL_EXPOSURE",
    "GlobalLimits",
    "InstrumentLimits",
    "check_rates",
    "describe",
    "next_daily_reset_ns",
]


def check_order(side: int, price: int, qty: int, order_type: int, tif: int) -> bool:
    """The fields of a NEW or REPLACE intent (intents.pxd intent_check_order)."""
    if side not in (BUY, SELL) or order_type not in (LIMIT, MARKET, LIMIT_MAKER):
        return False
    if tif not in (GTC, IOC, FOK) or (order_type == LIMIT_MAKER and tif != GTC):
        return False
    if (order_type == MARKET and price != 0) or (order_type != MARKET and price <= 0):
        return False
    return 0 < qty <= INT64_MAX


def _sat(value: int) -> int:
    return min(value, INT64_MAX)


class _Window:
    """The last `capacity` accepted timestamps of one rate window."""

    __slots__ = ("ts",)

    def __init__(self, capacity: int) -> None:
        self.ts: deque[int] = deque(maxlen=capacity)

    def full(self, limit: int, now_ns: int, window_ns: int) -> bool:
        if limit == NO_LIMIT:
            return False
        if limit == 0:
            return True
        return len(self.ts) >= limit and self.ts[-limit] > now_ns - window_ns


class _Instrument:
    __slots__ = (
        "cancels", "exposure", "limits", "open_buy_lots", "open_orders", "open_sell_lots",
        "orders", "position", "ref_ticks", "unrealized",
    )  # fmt: skip

    def __init__(self, capacity: int) -> None:
        self.limits = InstrumentLimits()
        self.ref_ticks = 0
        self.position = 0
        self.open_buy_lots = 0
        self.open_sell_lots = 0
        self.open_orders = 0
        self.exposure = 0
        self.unrealized = 0
        self.orders = _Window(capacity)
        self.cancels = _Window(capacity)

    def snapshot(self) -> tuple[int, ...]:
        return (
            self.ref_ticks,
            self.position,
            self.open_buy_lots,
            self.open_sell_lots,
            self.open_orders,
            self.exposure,
            self.unrealized,
        )


class RiskCoreRef:
    """The reference risk core over `instrument_count` instruments (see the module doc)."""

    def __init__(self, instrument_count: int, rate_capacity: int = 1024) -> None:
        if type(instrument_count) is not int or not 0 <= instrument_count <= 2**31 - 1:
            raise ValueError(f"instrument_count must be in 0..{2**31 - 1}, got {instrument_count}")
        if type(rate_capacity) is not int or not 1 <= rate_capacity <= MAX_RATE_CAPACITY:
            raise ValueError(
                f"rate_capacity must be in 1..{MAX_RATE_CAPACITY}, got {rate_capacity}"
            )
        self.instrument_count = instrument_count
        self.rate_capacity = rate_capacity
        self._inst = [_Instrument(rate_capacity) for _ in range(instrument_count)]
        self._global = GlobalLimits()
        self._g_orders = _Window(rate_capacity)
        self._g_cancels = _Window(rate_capacity)
        self.state = STATE_ACTIVE
        self.cause = OK
        self.exposure_total = 0
        self.realized_total = 0
        self.unrealized_total = 0
        self.day_start_equity = 0
        self.day_peak_equity = 0
        self.next_reset_ns = NO_LIMIT
        self.reset_period_ns = DAY_NS
        self.passed = 0
        self.refused = 0
        self.errors = 0
        self.state_changes = 0
        self._refusals: dict[int, int] = {}
        self._breaches: dict[int, int] = {}

    # ------------------------------------------------------------------ limits

    def set_limits(self, instrument: int, limits: InstrumentLimits) -> None:
        if not 0 <= instrument < self.instrument_count:
            raise IndexError(f"instrument {instrument} outside 0..{self.instrument_count - 1}")
        if not isinstance(limits, InstrumentLimits):
            raise TypeError(f"limits must be InstrumentLimits, got {type(limits).__name__}")
        check_rates((limits.order_rate, limits.cancel_rate), self.rate_capacity, "InstrumentLimits")
        self._inst[instrument].limits = limits
        self._evaluate_all()

    def limits(self, instrument: int) -> InstrumentLimits:
        if not 0 <= instrument < self.instrument_count:
            raise IndexError(f"instrument {instrument} outside 0..{self.instrument_count - 1}")
        return self._inst[instrument].limits

    def set_global_limits(self, limits: GlobalLimits) -> None:
        if not isinstance(limits, GlobalLimits):
            raise TypeError(f"limits must be GlobalLimits, got {type(limits).__name__}")
        check_rates((limits.order_rate, limits.cancel_rate), self.rate_capacity, "GlobalLimits")
        self._global = limits
        self._evaluate_all()

    def global_limits(self) -> GlobalLimits:
        return self._global

    def set_day_reset(self, next_reset_ns: int, period_ns: int = DAY_NS) -> None:
        """The next daily reset boundary and the period after it; NO_LIMIT: none."""
        if type(next_reset_ns) is not int or not INT64_MIN <= next_reset_ns <= INT64_MAX:
            raise ValueError(f"next_reset_ns must be an int64, got {next_reset_ns!r}")
        if type(period_ns) is not int or not 1 <= period_ns <= INT64_MAX:
            raise ValueError(f"period_ns must be in 1..{INT64_MAX}, got {period_ns!r}")
        self.next_reset_ns = next_reset_ns
        self.reset_period_ns = period_ns

    # ------------------------------------------------------------------ checks

    def _refuse(self, code: int) -> int:
        self.refused += 1
        self._refusals[code] = self._refusals.get(code, 0) + 1
        return code

    def check_new(  # noqa: PLR0917 - the C signature
        self,
        instrument: int,
        side: int,
        price_ticks: int,
        qty_lots: int,
        now_ns: int,
        order_type: int = LIMIT,
        tif: int = GTC,
    ) -> int:
        return self._check(instrument, side, price_ticks, qty_lots, order_type, tif, 0, 0,
                           False, now_ns)  # fmt: skip

    def check_replace(  # noqa: PLR0917 - the C signature
        self,
        instrument: int,
        side: int,
        price_ticks: int,
        qty_lots: int,
        old_side: int,
        old_lots: int,
        now_ns: int,
        order_type: int = LIMIT,
        tif: int = GTC,
    ) -> int:
        return self._check(instrument, side, price_ticks, qty_lots, order_type, tif, old_side,
                           old_lots, True, now_ns)  # fmt: skip

    def _check(  # noqa: PLR0917 - one rule per line, in order
        self,
        instrument: int,
        side: int,
        price: int,
        qty: int,
        order_type: int,
        tif: int,
        old_side: int,
        old_lots: int,
        replace: bool,
        now_ns: int,
    ) -> int:
        if not 0 <= instrument < self.instrument_count:
            return self._refuse(INSTRUMENT)
        if not check_order(side, price, qty, order_type, tif):
            return self._refuse(ARG)
        if replace and (old_side not in (BUY, SELL) or old_lots < 0):
            return self._refuse(ARG)
        self.roll(now_ns)
        if self.state == STATE_HALTED:
            return self._refuse(HALTED)
        r = self._inst[instrument]
        lim = r.limits
        g = self._global
        same = r.open_buy_lots if side == BUY else r.open_sell_lots
        if replace and old_side == side:
            same -= min(old_lots, same)
        pos = r.position
        if self.state == STATE_REDUCING and not (
            pos != 0 and (pos > 0) != (side > 0) and same + qty <= abs(pos)
        ):
            return self._refuse(REDUCING)
        if qty > lim.max_qty_lots:
            return self._refuse(QTY)
        ref = r.ref_ticks
        if ref == 0 and (
            order_type == MARKET
            or lim.band_ticks != NO_LIMIT
            or lim.band_bps != NO_LIMIT
            or lim.max_exposure != NO_LIMIT
            or g.max_total_exposure != NO_LIMIT
        ):
            return self._refuse(NO_REFERENCE)
        if order_type == MARKET:
            px = ref
        else:
            px = price
            dev = abs(price - ref)
            if lim.band_ticks != NO_LIMIT and dev > lim.band_ticks:
                return self._refuse(PRICE_BAND)
            if lim.band_bps != NO_LIMIT and dev * BPS > ref * lim.band_bps:
                return self._refuse(PRICE_BAND)
        notional = _sat(px * qty)
        if notional > lim.max_notional:
            return self._refuse(NOTIONAL)
        if notional < lim.min_notional:
            return self._refuse(MIN_NOTIONAL)
        if not replace and r.open_orders >= lim.max_open_orders:
            return self._refuse(OPEN_ORDERS)
        w = pos + side * (same + qty)
        if (side == BUY and w > lim.max_long_lots) or (side == SELL and -w > lim.max_short_lots):
            return self._refuse(POSITION)
        if abs(w) > abs(pos):
            exposure = _sat(abs(w) * ref)
            if exposure > lim.max_exposure:
                return self._refuse(EXPOSURE)
            if (
                g.max_total_exposure != NO_LIMIT
                and self.exposure_total - r.exposure + exposure > g.max_total_exposure
            ):
                return self._refuse(TOTAL_EXPOSURE)
        window = g.window_ns
        if r.orders.full(lim.order_rate, now_ns, window) or self._g_orders.full(
            g.order_rate, now_ns, window
        ):
            return self._refuse(RATE)
        r.orders.ts.append(now_ns)
        self._g_orders.ts.append(now_ns)
        self.passed += 1
        return OK

    def check_cancel(self, instrument: int, now_ns: int) -> int:
        if not 0 <= instrument < self.instrument_count:
            return self._refuse(INSTRUMENT)
        self.roll(now_ns)
        r = self._inst[instrument]
        window = self._global.window_ns
        if r.cancels.full(r.limits.cancel_rate, now_ns, window) or self._g_cancels.full(
            self._global.cancel_rate, now_ns, window
        ):
            return self._refuse(CANCEL_RATE)
        r.cancels.ts.append(now_ns)
        self._g_cancels.ts.append(now_ns)
        self.passed += 1
        return OK

    # ------------------------------------------------------------------ events

    def _error(self, code: int) -> int:
        self.errors += 1
        return code

    def on_order_open(self, instrument: int, side: int, lots: int) -> int:
        if not 0 <= instrument < self.instrument_count:
            return self._error(INSTRUMENT)
        if side not in (BUY, SELL) or lots <= 0:
            return self._error(ARG)
        r = self._inst[instrument]
        current = r.open_buy_lots if side == BUY else r.open_sell_lots
        if current + lots > INT64_MAX or r.open_orders == INT64_MAX:
            return self._error(OVERFLOW)
        if side == BUY:
            r.open_buy_lots += lots
        else:
            r.open_sell_lots += lots
        r.open_orders += 1
        return OK

    def on_order_close(self, instrument: int, side: int, remaining_lots: int) -> int:
        if not 0 <= instrument < self.instrument_count:
            return self._error(INSTRUMENT)
        if side not in (BUY, SELL) or remaining_lots < 0:
            return self._error(ARG)
        r = self._inst[instrument]
        if side == BUY:
            r.open_buy_lots -= min(remaining_lots, r.open_buy_lots)
        else:
            r.open_sell_lots -= min(remaining_lots, r.open_sell_lots)
        r.open_orders = max(0, r.open_orders - 1)
        return OK

    def on_fill(
        self, instrument: int, side: int, lots: int, realized_delta: int, now_ns: int
    ) -> int:
        if not 0 <= instrument < self.instrument_count:
            return self._error(INSTRUMENT)
        if side not in (BUY, SELL) or lots <= 0:
            return self._error(ARG)
        r = self._inst[instrument]
        pos = r.position + side * lots
        if not -INT64_MAX <= pos <= INT64_MAX:
            return self._error(OVERFLOW)
        self.roll(now_ns)
        r.position = pos
        if side == BUY:
            r.open_buy_lots -= min(lots, r.open_buy_lots)
        else:
            r.open_sell_lots -= min(lots, r.open_sell_lots)
        self.realized_total += realized_delta
        self._revalue(r)
        self._evaluate_pnl()
        self._evaluate(r)
        return OK

    def on_mark(self, instrument: int, mark_ticks: int, unrealized: int, now_ns: int) -> int:
        if not 0 <= instrument < self.instrument_count:
            return self._error(INSTRUMENT)
        if mark_ticks <= 0:
            return self._error(ARG)
        self.roll(now_ns)
        r = self._inst[instrument]
        r.ref_ticks = mark_ticks
        self.unrealized_total += unrealized - r.unrealized
        r.unrealized = unrealized
        self._revalue(r)
        self._evaluate_pnl()
        self._evaluate(r)
        return OK

    def roll(self, now_ns: int) -> int:
        """Start a new day if now_ns reached the reset boundary; returns 1 if it did."""
        if now_ns < self.next_reset_ns:
            return 0
        equity = self.realized_total + self.unrealized_total
        self.day_start_equity = equity
        self.day_peak_equity = equity
        periods = (now_ns - self.next_reset_ns) // self.reset_period_ns + 1
        self.next_reset_ns = min(self.next_reset_ns + periods * self.reset_period_ns, INT64_MAX)
        return 1

    def halt(self) -> int:
        """Enter HALTED (cause MANUAL); returns the state."""
        self._enter(STATE_HALTED, MANUAL)
        return self.state

    def reset(self) -> int:
        """Back to ACTIVE, then every standing breach again; returns the new state."""
        if self.state != STATE_ACTIVE:
            self.state = STATE_ACTIVE
            self.state_changes += 1
        self.cause = OK
        self._evaluate_all()
        return self.state

    # ------------------------------------------------------------------ state machine

    def _revalue(self, r: _Instrument) -> None:
        exposure = _sat(abs(r.position) * r.ref_ticks)
        self.exposure_total += exposure - r.exposure
        r.exposure = exposure

    def _enter(self, state: int, cause: int) -> None:
        if state > self.state:
            self.state = state
            self.cause = cause
            self.state_changes += 1
            self._breaches[cause] = self._breaches.get(cause, 0) + 1

    def _evaluate_pnl(self) -> None:
        equity = self.realized_total + self.unrealized_total
        self.day_peak_equity = max(self.day_peak_equity, equity)
        g = self._global
        if g.daily_loss_limit != NO_LIMIT and self.day_start_equity - equity > g.daily_loss_limit:
            self._enter(STATE_HALTED, DAILY_LOSS)
        if g.max_drawdown != NO_LIMIT and self.day_peak_equity - equity > g.max_drawdown:
            self._enter(STATE_HALTED, DRAWDOWN)

    def _evaluate(self, r: _Instrument) -> None:
        lim = r.limits
        if r.position > lim.max_long_lots or -r.position > lim.max_short_lots:
            self._enter(STATE_REDUCING, POSITION)
        if r.exposure > lim.max_exposure:
            self._enter(STATE_REDUCING, EXPOSURE)
        total_limit = self._global.max_total_exposure
        if total_limit != NO_LIMIT and self.exposure_total > total_limit:
            self._enter(STATE_REDUCING, TOTAL_EXPOSURE)

    def _evaluate_all(self) -> None:
        self._evaluate_pnl()
        for r in self._inst:
            self._evaluate(r)
        # with no instrument the total is 0: nothing more to find

    # ------------------------------------------------------------------ reading

    def instrument(self, instrument: int) -> tuple[int, ...]:
        """(ref_ticks, position, open_buy_lots, open_sell_lots, open_orders, exposure,
        unrealized)"""
        if not 0 <= instrument < self.instrument_count:
            raise IndexError(f"instrument {instrument} outside 0..{self.instrument_count - 1}")
        return self._inst[instrument].snapshot()

    def pnl(self) -> tuple[int, int, int, int, int]:
        """(realized, unrealized, equity, day_start_equity, day_peak_equity)"""
        equity = self.realized_total + self.unrealized_total
        return (
            self.realized_total,
            self.unrealized_total,
            equity,
            self.day_start_equity,
            self.day_peak_equity,
        )

    def refusals(self) -> dict[int, int]:
        """Refused orders and cancels per reason (reasons never seen are left out)."""
        return {code: n for code, n in sorted(self._refusals.items()) if n}

    def breaches(self) -> dict[int, int]:
        """State changes per cause (causes never seen are left out)."""
        return {code: n for code, n in sorted(self._breaches.items()) if n}
