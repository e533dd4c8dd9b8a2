"""MarketMakingStrategy: two-sided quotes on every instrument it trades, from the Cython
quoting core (engine/_core/quoting.pyx), kept in place while they are good enough.

Per book event of an instrument: the top of book and our inventory go into its `Quoter`,
which gives the ideal bid and ask ladders (reference price, dynamic spread, inventory skew,
sizes on the grid, post-only never crossing). Each ladder level is a slot with a fixed
client tag; the order resting in a slot is kept unless the quoter's refresh rule says its
price, size or age is off, then amended (or cancelled and placed anew where the venue cannot
amend). A slot with a request in flight is left alone, so requests never pile up.

Quotes are pulled (every live order cancelled, nothing new) while the instrument's book is
not ready or has not moved for `stale_book_s`, while trading is HALTED or PAUSED (an
operator's pause, docs/CONTROL.md), and a side is not quoted while REDUCING forbids it. An
order that cannot be cancelled at the pull (its request still in flight) is cancelled as
soon as it can be: on the instrument's next order update or check timer, until none is left.
After a fill the instrument places nothing new for `fill_cooldown_s`.

With a cross-venue reference ("<venue>:<symbol>"), the reference's book events requote us as
our own do: that is where the price moves first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine._core import quoting
from engine._core.quoting import Quoter
from engine.events import FeedStatus, HandlerContext, OpenOrder, OrderUpdate, Trade
from engine.strategy.base import BUY, SELL, Strategy
from engine.strategy.params import NS, MarketMakingParams

log = logging.getLogger("engine.strategy")

CHECK_TIMER = "mm.check"  # staleness and order age, when the book is quiet
CHECK_INTERVAL_NS = NS // 2
_STOPPED = frozenset({"HALTED", "PAUSED"})  # trading states that place nothing
_KEEP = quoting.KEEP
_CANCEL = quoting.CANCEL


@dataclass(slots=True)
class _Book:
    """One quoted instrument's state."""

    index: int
    quoter: Quoter
    tags: tuple[tuple[int, ...], tuple[int, ...]]  # (bid slots, ask slots)
    ready: bool = False  # the feed said the book is usable
    last_book_ns: int = 0  # engine time of the last book event
    cooldown_until_ns: int = 0
    next_requote_ns: int = 0  # requote_interval_s paces new orders and replaces
    quoting: bool = False  # we have (or are placing) quotes
    pulled: bool = False  # pulled, but an order may be left in a slot: sweep until none is
    errors: dict[int, int] = field(default_factory=dict)  # quoting status -> count


def slot_tag(index: int, side: int, level: int) -> int:
    """The client tag of one ladder slot: unique per instrument, side and level."""
    return ((index + 1) << 8) | (0 if side == BUY else 0x80) | level


class MarketMakingStrategy(Strategy):
    def __init__(self, params: Mapping[str, Any], instrument_ids: Sequence[str]) -> None:
        super().__init__(params, instrument_ids)
        self.settings = MarketMakingParams.parse(params)
        self._books: dict[str, _Book] = {}
        self._by_external: dict[str, list[_Book]] = {}
        self._ext_scale = 1.0  # our ticks per tick of the reference instrument
        self._retired: set[int] = set()  # tags of levels no longer quoted, with an order left
        self.counters = {"requotes": 0, "pulls": 0, "cooldowns": 0, "quote_errors": 0}

    # ------------------------------------------------------------------ lifecycle

    def on_start(self, context: HandlerContext) -> None:
        super().on_start(context)
        self._build(self.settings)
        context.timers.every(CHECK_TIMER, CHECK_INTERVAL_NS)

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Raise ValueError naming the parameter that `params` would get wrong (everything
        `on_params` would refuse, changing nothing)."""
        settings = MarketMakingParams.parse(params)
        if self._context is not None:
            self._plan(settings)

    def on_params(self, params: Mapping[str, Any]) -> None:
        settings = MarketMakingParams.parse(params)
        if self._context is not None:
            self._build(settings)  # checks every instrument before anything changes
        self.settings = settings
        self.params = dict(params)

    def _plan(self, settings: MarketMakingParams) -> tuple[dict[str, Quoter], float]:
        """A quoter per instrument and the reference's tick scale; ValueError naming the
        parameter, nothing changed."""
        context = self.context
        quoters = {i: settings.quoter(self.instrument(i)) for i in self.instrument_ids}
        scale = 1.0
        external = settings.external
        if external is not None:
            try:
                reference = context.instrument(external)
            except KeyError:
                raise ValueError(
                    f"strategy.parameters.reference {external!r} is not an instrument of the "
                    "engine (its venue must be enabled and the symbol listed)"
                ) from None
            ours = {self.instrument(i).tick_size for i in self.instrument_ids}
            if len(ours) != 1:
                raise ValueError(
                    "strategy.parameters.reference: a cross-venue reference needs one tick "
                    "size across the quoted instruments"
                )
            scale = float(reference.tick_size / ours.pop())
        return quoters, scale

    def _build(self, settings: MarketMakingParams) -> None:
        context = self.context
        quoters, scale = self._plan(settings)
        view = context.view
        now = context.clock.time_ns()
        external = settings.external
        ext_ticks = 0
        if external is not None:
            reference = view.book(context.instrument_index(external))
            mid_x2 = reference.mid_x2() if reference is not None else 0
            ext_ticks = round(mid_x2 * scale / 2) if mid_x2 > 0 else 0
        books: dict[str, _Book] = {}
        for instrument_id in self.instrument_ids:
            index = self.indexes[instrument_id]
            quoter = quoters[instrument_id]
            tags = tuple(
                tuple(slot_tag(index, side, level) for level in range(settings.levels))
                for side in (BUY, SELL)
            )
            old = self._books.get(instrument_id)
            book = _Book(index, quoter, tags)  # type: ignore[arg-type]
            if old is not None:  # the instrument's state goes on: only the quoting changed
                book.ready, book.last_book_ns = old.ready, old.last_book_ns
                book.cooldown_until_ns, book.next_requote_ns = (
                    old.cooldown_until_ns, old.next_requote_ns,
                )  # fmt: skip
                book.quoting, book.pulled, book.errors = old.quoting, old.pulled, old.errors
            else:  # a book that became ready before the start said so to nobody
                book.ready = view.book(index) is not None
            # the new quoter starts from the live book, not empty: a quiet book must not
            # leave it without quotes (the order-age pass would cancel every order)
            if ext_ticks > 0:
                quoter.set_external(ext_ticks)
            live = view.book(index)
            if live is not None:
                bid, bid_qty, ask, ask_qty = live.top()
                quoter.step(bid, bid_qty, ask, ask_qty, now, view.position_lots(index))
            books[instrument_id] = book
        by_external: dict[str, list[_Book]] = {}
        if external is not None:
            self._ext_scale = scale
            by_external[external] = list(books.values())
        # slots of levels no longer quoted are cancelled now, or once their orders can be
        kept = {tag for b in books.values() for side_tags in b.tags for tag in side_tags}
        for old in self._books.values():
            for side_tags in old.tags:
                self._retired.update(tag for tag in side_tags if tag not in kept)
        self._retired -= kept
        self._books = books
        self._by_external = by_external
        self._sweep_retired()

    # ------------------------------------------------------------------ events

    def on_book(self, instrument_id: str, book: Any, timestamp_ns: int) -> None:
        found = self._books.get(instrument_id)
        dependents = self._by_external.get(instrument_id)
        if dependents is not None:
            mid_x2 = book.mid_x2()
            if mid_x2 > 0:
                ticks = round(mid_x2 * self._ext_scale / 2)
                now = self.context.clock.time_ns()
                view = self.context.view
                for state in dependents:
                    state.quoter.set_external(ticks)
                    # the reference moved: requote on it (our own book event does it for
                    # an instrument that is its own reference); a quoter that never saw
                    # our book has nothing to quote around yet
                    if state is not found and state.quoter.events > 0:
                        status = state.quoter.compute(view.position_lots(state.index))[0]
                        self._quoted(state, status, now)
        if found is None:
            return
        state = found
        now = self.context.clock.time_ns()
        state.last_book_ns = now
        bid, bid_qty, ask, ask_qty = book.top()
        status = state.quoter.step(
            bid, bid_qty, ask, ask_qty, now, self.context.view.position_lots(state.index)
        )
        self._quoted(state, status, now)

    def _quoted(self, state: _Book, status: int, now: int) -> None:
        """The quoter computed (status): requote on it, or pull if nothing can be quoted."""
        if status != quoting.OK:
            state.errors[status] = state.errors.get(status, 0) + 1
            self.counters["quote_errors"] += 1
            if state.quoting or state.pulled:  # no quote can be computed: none may rest
                self._pull(state, quoting.describe(status))
            return
        if state.ready:
            self._requote(state, now)

    def on_trade(self, trade: Trade) -> None:
        state = self._books.get(f"{trade.venue}:{trade.symbol}")
        if state is not None and self.settings.reference == "last":
            instrument = self.context.instruments[state.index]
            state.quoter.on_trade(instrument.price_to_ticks(trade.price))

    def on_order_update(self, update: OrderUpdate) -> None:
        state = self._books.get(f"{update.venue}:{update.symbol}")
        if state is None:
            return
        # an order that was in flight at a pull may be cancellable now
        if state.pulled:
            self._pull(state, "order left after a pull")
        if self._retired:
            self._sweep_retired()
        if update.last_fill_lots > 0 and self.settings.fill_cooldown_s > 0:
            now = self.context.clock.time_ns()
            state.cooldown_until_ns = now + int(self.settings.fill_cooldown_s * NS)
            self.counters["cooldowns"] += 1

    def on_feed_status(self, status: FeedStatus) -> None:
        state = self._books.get(status.instrument_id)
        if state is None:
            return
        state.ready = status.ready
        if not status.ready:
            self._pull(state, f"book not ready: {status.reason}")

    def on_timer(self, name: str, timestamp_ns: int) -> None:
        if name != CHECK_TIMER:
            return
        now = self.context.clock.time_ns()
        stale_ns = int(self.settings.stale_book_s * NS)
        for state in self._books.values():
            if state.pulled:  # an order left by a pull (its update lost, say): cancel it
                self._pull(state, "order left after a pull")
            if not state.quoting:
                continue
            if now - state.last_book_ns > stale_ns:
                self._pull(state, "book stale")
            elif self.settings.max_order_age_s > 0 and state.ready:
                self._requote(state, now)  # old orders move even when the book is quiet
        if self._retired:
            self._sweep_retired()

    # ------------------------------------------------------------------ quoting

    def _requote(self, state: _Book, now: int) -> None:
        view = self.context.view
        trading = view.trading_state()
        if trading in _STOPPED:
            if state.quoting or state.pulled:
                self._pull(state, f"trading {trading.lower()}")
            return
        bids, asks = state.quoter.quotes()
        if trading == "REDUCING":  # only the side that brings the position back to flat
            position = view.position_lots(state.index)
            bids = bids if position < 0 else []
            asks = asks if position > 0 else []
        placing = now >= state.cooldown_until_ns and now >= state.next_requote_ns
        sent = self._side(state, BUY, state.tags[0], bids, now, placing)
        sent += self._side(state, SELL, state.tags[1], asks, now, placing)
        if sent:
            state.next_requote_ns = now + int(self.settings.requote_interval_s * NS)
        state.quoting = True
        state.pulled = False  # whatever rests in a slot is a quote again, kept or moved

    def _side(  # noqa: PLR0917 - one ladder side's whole context
        self,
        state: _Book,
        side: int,
        tags: tuple[int, ...],
        ladder: list[tuple[int, int]],
        now: int,
        placing: bool,
    ) -> int:
        """Bring one side's slots to the ladder; how many orders were placed or moved
        (cancels are never held back)."""
        view = self.context.view
        intents = self.context.intents
        post_only = self.settings.post_only
        order_type = 3 if post_only else 1  # LIMIT_MAKER or LIMIT (intent codes)
        sent = 0
        for level, tag in enumerate(tags):
            order_ref = view.order_of_tag(tag)
            order = view.order(order_ref) if order_ref else None
            if level >= len(ladder):
                if order is not None and not order.pending:
                    self.cancel(order)
                continue
            price, qty = ladder[level]
            if order is None:
                if placing:
                    intents.push_new(state.index, side, price, qty, tag, order_type, 1)
                    sent += 1
                continue
            if order.pending:
                continue
            verdict = state.quoter.refresh(
                order.price_ticks, order.qty_lots - order.filled_lots, order.placed_ns,
                price, qty, now,
            )  # fmt: skip
            if verdict == _KEEP:
                continue
            if verdict == _CANCEL or verdict < 0:
                self.cancel(order)
            elif placing:
                self.counters["requotes"] += 1
                intents.push_replace(
                    state.index, order.order_ref, side, price, qty, tag, order_type, 1
                )
                sent += 1
        return sent

    def _pull(self, state: _Book, reason: str) -> None:
        """Cancel every live quote of the instrument; one whose request is in flight is
        cancelled by a later pass (`pulled` stays set while any order is left)."""
        pushed = left = 0
        for side_tags in state.tags:
            for tag in side_tags:
                order = self._slot(tag)
                if order is None:
                    continue
                left += 1
                if not order.pending:
                    self.cancel(order)
                    pushed += 1
        if state.quoting:
            self.counters["pulls"] += 1
            log.info(
                "quotes pulled",
                extra={"instrument": self.context.instruments[state.index].instrument_id,
                       "reason": reason, "cancels": pushed, "in_flight": left - pushed},
            )  # fmt: skip
        state.quoting = False
        state.pulled = left > 0

    def _sweep_retired(self) -> None:
        """Cancel the orders of levels no longer quoted, as soon as each can be."""
        for tag in list(self._retired):
            order = self._slot(tag)
            if order is None:
                self._retired.discard(tag)
            elif not order.pending:
                self.cancel(order)

    def _slot(self, tag: int) -> OpenOrder | None:
        view = self.context.view
        order_ref = view.order_of_tag(tag)
        return view.order(order_ref) if order_ref else None
