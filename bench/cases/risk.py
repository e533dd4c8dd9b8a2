"""Risk case: one NEW intent through every pre-trade check of engine/_core/risk.pyx, called
from Python (the validating wrapper around c_check_new), beside the pure-Python reference
(engine/risk/risk_ref.py) doing the same checks in the same run.

Every limit is on and the order passes all of them: state, quantity, reference, price band in
ticks and in bps, max and min notional, open orders, worst-case position, instrument and
total exposure, and both order-rate windows (instrument and global), where it is recorded.
The clock moves 3 us per order, so the windows hold about 333 orders of the 1024 allowed per
millisecond and never refuse; between samples (untimed) both cores are made afresh and the
clock starts again, and `between` checks that nothing was refused. From Cython the engine
calls c_check_new directly (no argument conversion); this case measures the slower Python
path."""

from __future__ import annotations

from bench.runner import Pair, case
from engine._core.intents import BUY, GTC, LIMIT_MAKER, SELL
from engine._core.risk import RiskCore
from engine.risk.risk_ref import GlobalLimits, InstrumentLimits, RiskCoreRef, next_daily_reset_ns

BATCH = 1000
INSTRUMENT = 3
MARK = 6_500_000  # 65000.00 at a 0.01 tick
BID, ASK = 6_499_990, 6_500_010
QTY = 1_500  # 0.015 at a 0.00001 lot
STEP_NS = 3_000
LIMITS = InstrumentLimits(
    max_qty_lots=100_000,
    max_notional=10**13,
    min_notional=10**6,
    band_ticks=50_000,
    band_bps=100,
    max_open_orders=64,
    max_long_lots=2_000_000,
    max_short_lots=2_000_000,
    max_exposure=10**14,
    order_rate=1024,
    cancel_rate=1024,
)
GLOBAL = GlobalLimits(
    max_total_exposure=10**15,
    order_rate=1024,
    cancel_rate=1024,
    daily_loss_limit=10**12,
    max_drawdown=10**12,
    window_ns=1_000_000,
)


def _core(core: RiskCore | RiskCoreRef) -> RiskCore | RiskCoreRef:
    for i in range(8):
        core.set_limits(i, LIMITS)
    core.set_global_limits(GLOBAL)
    core.set_day_reset(next_daily_reset_ns(0, 0))
    for i in range(8):
        core.on_mark(i, MARK, 0, 0)
    core.on_fill(INSTRUMENT, BUY, 40_000, 0, 0)  # some inventory
    core.on_order_open(INSTRUMENT, BUY, QTY)
    core.on_order_open(INSTRUMENT, SELL, QTY)
    return core


@case("risk.check")
def check() -> Pair:
    # one monotonic clock for 32 batches, made once (ints are objects): a batch takes the next
    # BATCH timestamps, so the rate windows see time move on as they would in the engine
    times = [1_000_000 + STEP_NS * k for k in range(BATCH * 32)]
    cores: dict[str, RiskCore | RiskCoreRef] = {}
    cursor = {"fast": 0, "ref": 0}

    def fresh(key: str) -> None:
        core = cores.get(key)
        if core is not None and core.refused:
            raise AssertionError(f"risk.check refused orders: {core.refusals()}")
        cores[key] = _core(RiskCore(8, 1024) if key == "fast" else RiskCoreRef(8, 1024))
        cursor[key] = 0

    def between() -> None:
        # untimed, after each pair of samples: fresh cores back at the start of the clock
        fresh("fast")
        fresh("ref")

    def run(key: str, n: int) -> None:
        start = cursor[key]
        if start + n > len(times):
            fresh(key)  # only when driven without between() (pytest-benchmark): 1 batch in 32
            start = 0
        cursor[key] = start + n
        check_new = cores[key].check_new
        for k in range(start, start + n, 2):
            # a two-sided quote: a bid, then an ask
            check_new(INSTRUMENT, BUY, BID, QTY, times[k], LIMIT_MAKER, GTC)
            check_new(INSTRUMENT, SELL, ASK, QTY, times[k + 1], LIMIT_MAKER, GTC)

    between()
    return Pair(
        lambda n: run("fast", n),
        lambda n: run("ref", n),
        batch=BATCH,
        between=between,
        about="one NEW intent through every risk check (all limits on, passing), Python "
        "calling the Cython core; baseline: the pure-Python reference",
    )
