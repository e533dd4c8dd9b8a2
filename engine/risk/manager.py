"""The risk manager: every intent passes the Cython risk core (engine/_core/risk.pyx) before
the order manager sees it, and the core follows our orders, fills and marks.

It is the dispatcher's intent sink: after each event, every pending intent is checked in
push order; one that passes goes to the order manager, one that fails is dropped with its
reason code (counted per reason by the core, logged at most once a second per reason). It is
also an event handler: each book event marks the instrument at its mid (the price band's
reference, the exposure, the unrealized PnL), and each order update keeps the core's open
orders and position in step with the order manager's.

PnL enters the core in one money unit for all instruments (the finest notional unit of the
table, `pnl_unit`), so the daily loss and the drawdown add up across venues; order sizes,
notionals and exposures stay in each instrument's own units. Once an instrument has a mark,
its whole PnL (realized + unrealized) enters through the mark as one figure, and a fill moves
only its position: a fill never shows the core half of its effect (see `_sync_position`).

A breach that HALTs the core, a SIGUSR1 and `python -m engine kill` end in `emergency_stop`:
the host's `on_halt` cancels every open order on every venue, and the halt is persisted
(engine/risk/halt.py) so that a restart stays halted until an operator resets it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from engine._core import risk as codes
from engine._core.intents import CANCEL, NEW, REPLACE, IntentBuffer
from engine._core.position import PositionCore
from engine._core.risk import NO_LIMIT, GlobalLimits, InstrumentLimits, RiskCore
from engine._core.risk_limits import next_daily_reset_ns
from engine.clock import Clock
from engine.config.schema import RiskConfig
from engine.config.spec import spec_of
from engine.events import EventHandler, OrderUpdate
from engine.model.enums import OrderStatus
from engine.model.instrument import Instrument

log = logging.getLogger("engine.risk")

LOG_EVERY_NS = 1_000_000_000  # a refusal reason is logged at most this often
# the rate windows hold as many orders as the config's highest rate (orders and cancels per
# second over a 1 s window), so any rate the config takes can be set, at start or on reload
RATE_CAPACITY = max(
    int(spec_of(f).bounds[1] or 0)
    for f in dataclasses.fields(RiskConfig)
    if f.name.endswith("_per_second")
)
_ENDED = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class OrderSink(Protocol):
    """What the risk manager drives: the order manager (engine/oms/manager.py)."""

    positions: Sequence[PositionCore]

    def place(  # noqa: PLR0917 - the intent row's fields, in its order
        self, index: int, side: int, order_type: int, tif: int, price: int, qty: int, tag: int
    ) -> int: ...

    def cancel(self, order_id: int) -> bool: ...

    def begin_batch(self) -> None: ...

    def end_batch(self) -> None: ...

    def replace(  # noqa: PLR0917 - the intent row's fields, in its order
        self, order_id: int, index: int, side: int, order_type: int, tif: int, price: int,
        qty: int, tag: int,
    ) -> int: ...  # fmt: skip


def _units(instrument: Instrument, quote: Decimal) -> int:
    """A quote-currency amount in the instrument's notional units, rounded down (0 stays 0);
    an amount past int64 is no limit at all (NO_LIMIT)."""
    return min(int(quote / instrument.notional_unit), NO_LIMIT)


def _units_up(instrument: Instrument, quote: Decimal) -> int:
    """The same rounded up: a minimum must not let through an order just under it."""
    return min(math.ceil(quote / instrument.notional_unit), NO_LIMIT)


def instrument_limits(instrument: Instrument, cfg: RiskConfig) -> InstrumentLimits:
    """The core's limits for one instrument from `[risk]` (0 = off, as the config says)."""
    lots = min(int(cfg.max_position / instrument.lot_size), NO_LIMIT)
    off = NO_LIMIT

    def or_off(value: Decimal, convert: Callable[[Decimal], int]) -> int:
        return convert(value) if value > 0 else off

    min_notional = cfg.min_order_notional if cfg.min_order_notional > 0 else instrument.min_notional
    return InstrumentLimits(
        max_qty_lots=or_off(
            cfg.max_order_quantity, lambda q: min(int(q / instrument.lot_size), NO_LIMIT)
        ),
        max_notional=_units(instrument, cfg.max_order_notional),
        min_notional=_units_up(instrument, min_notional) if min_notional > 0 else 0,
        band_bps=cfg.price_band_bps if cfg.price_band_bps > 0 else off,
        max_open_orders=cfg.max_open_orders,
        max_long_lots=lots,
        max_short_lots=lots,
        max_exposure=or_off(cfg.max_exposure, lambda q: _units(instrument, q)),
        order_rate=cfg.max_orders_per_second,
        cancel_rate=cfg.max_cancels_per_second,
    )


class RiskManager(EventHandler):
    def __init__(
        self,
        instruments: Sequence[Instrument],
        traded: Sequence[int],
        config: RiskConfig,
        clock: Clock,
        *,
        on_halt: Callable[[str, str], None] | None = None,
    ) -> None:
        """`traded`: indexes of the instruments that may be traded (the others refuse every
        order: INSTRUMENT limits of zero). `on_halt(reason, source)`: the emergency stop's
        action (cancel everything, persist), called once per halt."""
        self.instruments = tuple(instruments)
        self.traded = frozenset(traded)
        self.clock = clock
        self.on_halt = on_halt
        self.core = RiskCore(max(len(self.instruments), 1), RATE_CAPACITY)
        self.oms: OrderSink | None = None
        self._index = {inst.instrument_id: n for n, inst in enumerate(self.instruments)}
        exps = [inst._notional_exp for inst in self.instruments] or [0]
        self.pnl_exp = max(exps)  # the PnL unit is 10**-pnl_exp quote
        self._open: dict[int, list[int]] = {}  # order id -> [index, side, remaining lots]
        self._qty = [0] * len(self.instruments)  # the position the core has booked
        # PositionCore.realized booked into the core as realized PnL (only before the
        # instrument's first mark; after it, the mark carries the rest: see _value)
        self._realized = [0] * len(self.instruments)
        self._marks = [0] * len(self.instruments)  # the last mark given to the core
        self._last_log: dict[int, int] = {}
        self._halted_reported = False
        self.apply_config(config)

    # ------------------------------------------------------------------ limits

    def apply_config(self, config: RiskConfig) -> None:
        """Set every limit from `[risk]` (at start and on a hot reload). All of them are
        worked out first: a value the core refuses raises with nothing changed."""
        per_instrument = [
            instrument_limits(instrument, config)
            if n in self.traded
            else InstrumentLimits(max_qty_lots=0, max_open_orders=0)
            for n, instrument in enumerate(self.instruments)
        ]
        units = {(i._notional_mantissa, i._notional_exp) for i in self.instruments}
        total = NO_LIMIT
        if config.max_total_exposure > 0:
            if len(units) == 1 and self.instruments:
                total = _units(self.instruments[0], config.max_total_exposure)
            else:
                log.warning(
                    "risk.max_total_exposure is not enforced: the instruments' notional units "
                    "differ (max_exposure per symbol still is)"
                )
        global_limits = GlobalLimits(
            max_total_exposure=total,
            order_rate=config.max_total_orders_per_second or NO_LIMIT,
            daily_loss_limit=self.pnl_units(config.max_daily_loss),
            max_drawdown=(
                self.pnl_units(config.max_drawdown) if config.max_drawdown > 0 else NO_LIMIT
            ),
        )
        reset_ns = next_daily_reset_ns(self.clock.time_ns(), config.daily_reset_hour_utc)
        for n, limits in enumerate(per_instrument):
            self.core.set_limits(n, limits)
        self.core.set_global_limits(global_limits)
        self.core.set_day_reset(reset_ns)
        self.config = config
        self._check_state()  # a lower limit may breach at once

    def pnl_units(self, quote: Decimal) -> int:
        """A quote amount in PnL units (rounded toward zero; past int64: NO_LIMIT)."""
        return min(int(quote.scaleb(self.pnl_exp)), NO_LIMIT)

    def _to_pnl(self, index: int, units: int) -> int:
        instrument = self.instruments[index]
        scale: int = instrument._notional_mantissa * 10 ** (self.pnl_exp - instrument._notional_exp)
        return units * scale

    # ------------------------------------------------------------------ intents

    def consume(self, buffer: IntentBuffer) -> None:
        """The intent sink: check each pending intent, hand those that pass to the OMS."""
        oms = self.oms
        core = self.core
        now = self.clock.time_ns()
        if oms is not None:  # the pass's requests journaled in one write, then sent
            oms.begin_batch()
        try:
            self._check_all(buffer, oms, core, now)
        finally:
            if oms is not None:
                oms.end_batch()
        buffer.clear()
        self._check_state()

    def _check_all(
        self, buffer: IntentBuffer, oms: OrderSink | None, core: RiskCore, now: int
    ) -> None:
        for i in range(len(buffer)):
            index, kind, side, order_type, tif, price, qty, tag, order_id = buffer.read(i)
            if kind == CANCEL:
                code = core.check_cancel(index, now)
                if code == 0 and oms is not None:
                    oms.cancel(order_id)
            elif kind == NEW:
                code = core.check_pending(buffer, i, now)
                if code == 0 and oms is not None:
                    new_id = oms.place(index, side, order_type, tif, price, qty, tag)
                    if new_id:
                        core.on_order_open(index, side, qty)
                        self._open[new_id] = [index, side, qty]
            elif kind == REPLACE:
                old = self._open.get(order_id)
                old_side, old_lots = (old[1], old[2]) if old is not None else (0, 0)
                code = core.check_pending(buffer, i, now, old_side, old_lots)
                if code == 0 and oms is not None:
                    new_id = oms.replace(order_id, index, side, order_type, tif, price, qty, tag)
                    if new_id == order_id and old is not None:  # amended in place
                        core.on_order_close(index, old_side, old_lots)
                        core.on_order_open(index, side, qty)
                        old[1], old[2] = side, qty
                    elif new_id:
                        core.on_order_open(index, side, qty)
                        self._open[new_id] = [index, side, qty]
            else:
                code = codes.ARG
            if code != 0:
                self._refused(code, index, now)

    def _refused(self, code: int, index: int, now: int) -> None:
        if now - self._last_log.get(code, -LOG_EVERY_NS) >= LOG_EVERY_NS:
            self._last_log[code] = now
            name = (
                self.instruments[index].instrument_id
                if 0 <= index < len(self.instruments)
                else str(index)
            )
            log.warning(
                "order refused by risk",
                extra={"code": code, "reason": codes.describe(code), "instrument": name,
                       "refused_so_far": self.core.refusals().get(code, 0)},
            )  # fmt: skip

    # ------------------------------------------------------------------ events

    def on_book(self, instrument_id: str, book: Any, timestamp_ns: int) -> None:
        index = self._index.get(instrument_id)
        if index is None or self.oms is None:
            return
        mid_x2 = book.mid_x2()
        if mid_x2 <= 0:
            return
        self._mark(index, mid_x2 // 2)

    def _mark(self, index: int, mark: int) -> None:
        assert self.oms is not None
        now = self.clock.time_ns()
        position = self.oms.positions[index]
        self._sync_position(index, position, now)
        self._marks[index] = mark
        self._value(index, position, mark, now)
        if self.core.state == codes.STATE_HALTED:
            self._check_state()

    def _sync_position(self, index: int, position: PositionCore, now: int) -> None:
        """Book into the core the position the OMS booked since (fills of every path: the
        stream, a catch-up after a reconnect, a late fill of a released order).

        The fill's PnL is not booked here once the instrument has a mark: `_value` books it
        with the new position's unrealized PnL, in one figure. Booked apart, the core would
        see for a moment the fill's realized PnL next to the old position's unrealized PnL
        (a losing position closed at the mark: its loss counted twice, a false HALT; a
        winning one: its gain twice, a false peak for the drawdown)."""
        qty = position.qty
        booked = self._qty[index]
        if qty == booked:
            return
        realized = 0
        if self._marks[index] == 0:  # no unrealized PnL in the core to go with it
            realized = self._to_pnl(index, position.realized - self._realized[index])
            self._realized[index] = position.realized
        delta = qty - booked
        self.core.on_fill(index, 1 if delta > 0 else -1, abs(delta), realized, now)
        self._qty[index] = qty

    def _value(self, index: int, position: PositionCore, mark: int, now: int) -> None:
        """Mark the instrument: its unrealized PnL at `mark` plus the realized PnL not booked
        as such (the core's equity is their sum either way)."""
        units = position.unrealized(mark) + position.realized - self._realized[index]
        self.core.on_mark(index, mark, self._to_pnl(index, units), now)

    def on_order_update(self, update: OrderUpdate) -> None:
        order = self._open.get(update.order_ref)
        if order is not None:
            index: int | None = order[0]
        else:  # not one we opened (adopted after a restart, say): its fill still counts
            index = self._index.get(f"{update.venue}:{update.symbol}")
        if index is None:
            return
        if update.last_fill_lots > 0:
            if order is not None:
                order[2] = max(order[2] - update.last_fill_lots, 0)
            if self.oms is not None:
                now = self.clock.time_ns()
                position = self.oms.positions[index]
                self._sync_position(index, position, now)
                if self._marks[index]:
                    self._value(index, position, self._marks[index], now)
        if order is not None and update.status in _ENDED:
            self.core.on_order_close(index, order[1], order[2])
            del self._open[update.order_ref]
        self._check_state()

    # ------------------------------------------------------------------ state

    @property
    def state_name(self) -> str:
        return codes.STATE_NAMES[self.core.state]

    def _check_state(self) -> None:
        if self.core.state == codes.STATE_HALTED and not self._halted_reported:
            self._halted_reported = True
            reason = codes.describe(self.core.cause)
            log.error("risk limit breached: trading HALTED", extra={"reason": reason})
            if self.on_halt is not None:
                self.on_halt(reason, "limit")

    def emergency_stop(self, reason: str, source: str) -> None:
        """Halt now (SIGUSR1, the CLI, the control API): only cancels pass from here."""
        self.core.halt()
        if not self._halted_reported:
            self._halted_reported = True
            log.error("emergency stop: trading HALTED", extra={"reason": reason, "source": source})
            if self.on_halt is not None:
                self.on_halt(reason, source)

    def resume(self) -> None:
        """An operator cleared the halt: ACTIVE again (the core re-checks standing breaches;
        one that halts again at once is a new halt, reported through on_halt like any)."""
        self.core.reset()
        self._halted_reported = False
        log.warning("trading resumed by the operator", extra={"state": self.state_name})
        self._check_state()

    def refusals(self) -> dict[str, int]:
        return {codes.describe(code): n for code, n in self.core.refusals().items() if n}
