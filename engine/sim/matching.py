"""The simulator's matching engine: per-symbol price-time priority books, venue-neutral.

Units: prices are ticks and quantities lots of the symbol's `Instrument` (ints); a notional is
ticks x lots ("notional units"). Balances are in asset units (see `engine.sim.accounts`): a
symbol converts with integer `base_scale` (asset units per lot) and `quote_scale` (asset units
per notional unit), both 1 unless two symbols share an asset with different grids.

Every public mutating call returns the events it caused, in the order they happened, and ends
with at most one `DepthUpdate` per symbol carrying the next update id and the new absolute
size of each level that changed. Identical call sequences give identical events and ids: no
clock, no randomness, ids are counters.

Queue position. Background liquidity (a replayed or synthetic market) is made of real orders
of the exempt background account, in the same FIFO queues as ours. Our order is filled only
when trades have eaten the volume queued ahead of it. `set_background_level` grows a level by
appending volume behind everything already queued and shrinks it according to
`MatchingConfig.cancel_from`:
  BACK         shrink the background volume nearest the back first (behind us, then ahead):
               our position improves only through trades, the conservative default;
  FRONT        shrink from the front first (ahead of us): the optimistic bound;
  PROPORTIONAL shrink every background chunk in proportion to its size (remainders of the
               integer split go to the chunks nearest the back).
"""

from __future__ import annotations

import enum
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import Literal

from engine.model.enums import OrderSide, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.sim.accounts import PPM, Account, Ledger, fee_units
from engine.sim.errors import Reason

# "no limit" for a lot cap or a quote budget; larger than any real quantity, still an int
_UNLIMITED = 1 << 62

_Stop = Literal["full", "budget", "book", "stp"]


class SimStatus(enum.Enum):
    """Order status as the simulator reports it (Binance's set, which covers OKX and Gate)."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"  # IOC / FOK / market remainder ended by the engine
    EXPIRED_IN_MATCH = "expired_in_match"  # ended by self-trade prevention

    @property
    def is_open(self) -> bool:
        return self in (SimStatus.NEW, SimStatus.PARTIALLY_FILLED)


class Stp(enum.Enum):
    """Self-trade prevention, Binance semantics: what happens when a taker meets a resting
    order of its own account. The taker's mode decides."""

    NONE = "none"  # trade with ourselves
    EXPIRE_TAKER = "expire_taker"
    EXPIRE_MAKER = "expire_maker"
    EXPIRE_BOTH = "expire_both"


class PostOnlyStyle(enum.Enum):
    """What a crossing post-only order becomes; the reason is POST_ONLY_WOULD_TAKE either way."""

    REJECT = "reject"  # never accepted: Binance LIMIT_MAKER -2010
    CANCEL = "cancel"  # accepted, then canceled at once: OKX post_only, Gate poc


class CancelFrom(enum.Enum):
    """Where a shrinking background level loses its volume (see the module docstring)."""

    BACK = "back"
    FRONT = "front"
    PROPORTIONAL = "proportional"


@dataclass(frozen=True, slots=True)
class MatchingConfig:
    post_only: PostOnlyStyle = PostOnlyStyle.REJECT
    default_stp: Stp = Stp.EXPIRE_MAKER
    cancel_from: CancelFrom = CancelFrom.BACK
    background_account: str = "background"
    # OrderAccepted/OrderDone/OrderRejected of exempt accounts are noise for the protocol
    # layers (thousands per second of background chunks); fills are always reported.
    emit_background_order_events: bool = False


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new order. `qty` is in lots, `price` in ticks (limit types only), `quote_amount` in
    quote-asset units (market only, instead of qty; for a buy it is the whole spend including
    the fee, for a sell the most gross proceeds). LIMIT_MAKER is the post-only type and takes
    GTC only. A market order's tif may be IOC/GTC (same thing) or FOK."""

    account: str
    symbol: str
    side: OrderSide
    type: OrderType
    qty: int = 0
    price: int = 0
    tif: TimeInForce = TimeInForce.GTC
    quote_amount: int = 0
    client_order_id: str = ""
    stp: Stp | None = None  # None: MatchingConfig.default_stp


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """An order's state at one moment. `cum_quote` and `fees` are in quote-asset units,
    `locked` in the locked asset's units (quote for buys, base for sells)."""

    order_id: int
    client_order_id: str
    account: str
    symbol: str
    side: OrderSide
    type: OrderType
    tif: TimeInForce
    price: int
    qty: int
    quote_amount: int
    stp: Stp
    status: SimStatus
    reason: Reason
    filled: int
    cum_quote: int
    fees: int
    locked: int
    created_ns: int
    updated_ns: int

    @property
    def leaves(self) -> int:
        """Lots still open; 0 once done and for quote-amount orders (no lot size)."""
        return self.qty - self.filled if self.status.is_open and self.qty else 0


# -- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    ts_ns: int
    order: OrderSnapshot


@dataclass(frozen=True, slots=True)
class OrderRejected:
    ts_ns: int
    request: OrderRequest
    reason: Reason


@dataclass(frozen=True, slots=True)
class OrderDone:
    """The order reached a final status; `order.status` and `order.reason` say which and why."""

    ts_ns: int
    order: OrderSnapshot


@dataclass(frozen=True, slots=True)
class Fill:
    """One side of one trade. Every trade gives exactly two, maker and taker, same trade_id."""

    ts_ns: int
    symbol: str
    account: str
    order_id: int
    client_order_id: str
    side: OrderSide
    trade_id: int
    price: int
    qty: int
    quote_qty: int  # price * qty in quote-asset units
    order_qty: int  # the order's quantity now (0 for quote-amount orders)
    is_maker: bool
    fee: int  # quote-asset units; negative = rebate
    fee_asset: str
    cum_filled: int
    cum_quote: int
    status: SimStatus  # the order's status right after this fill


@dataclass(frozen=True, slots=True)
class PublicTrade:
    ts_ns: int
    symbol: str
    trade_id: int
    price: int
    qty: int
    taker_side: OrderSide
    maker_order_id: int
    taker_order_id: int


@dataclass(frozen=True, slots=True)
class DepthUpdate:
    """Levels changed by one call: (price, new aggregate lots), 0 = level gone. Bids best
    first (descending), asks best first (ascending)."""

    ts_ns: int
    symbol: str
    update_id: int
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class CancelRejected:
    ts_ns: int
    account: str
    symbol: str
    order_id: int | None
    client_order_id: str
    reason: Reason


@dataclass(frozen=True, slots=True)
class OrderAmended:
    """An open order's price and/or quantity changed (before any fill the new price made);
    `order` is its state right after the change. Protocol layers read it from the events
    `MatchingEngine.amend` returns (it is not routed to private listeners)."""

    ts_ns: int
    order: OrderSnapshot


@dataclass(frozen=True, slots=True)
class AmendRejected:
    ts_ns: int
    account: str
    symbol: str
    order_id: int | None
    client_order_id: str
    reason: Reason


Event = (
    OrderAccepted
    | OrderRejected
    | OrderDone
    | Fill
    | PublicTrade
    | DepthUpdate
    | CancelRejected
    | OrderAmended
    | AmendRejected
)


# -- book internals ----------------------------------------------------------------------


class _Order:
    __slots__ = (
        "account",
        "budget",
        "client_order_id",
        "created_ns",
        "cum_quote",
        "fees",
        "filled",
        "is_buy",
        "level",
        "lock_asset",
        "locked",
        "lot_cap",
        "order_id",
        "price",
        "qty",
        "quote_amount",
        "reason",
        "request",
        "side",
        "status",
        "stp",
        "symbol",
        "tif",
        "type",
        "updated_ns",
        "uses_lock",
    )

    def __init__(self, req: OrderRequest, account: Account, stp: Stp, ts_ns: int) -> None:
        self.request = req  # kept to echo it verbatim in a late reject
        self.order_id = 0
        self.client_order_id = req.client_order_id
        self.account = account
        self.symbol = req.symbol
        self.side = req.side
        self.is_buy = req.side is OrderSide.BUY
        self.type = req.type
        self.tif = req.tif
        self.price = req.price
        self.qty = req.qty
        self.quote_amount = req.quote_amount
        self.stp = stp
        self.status = SimStatus.NEW
        self.reason = Reason.NONE
        self.filled = 0
        self.cum_quote = 0
        self.fees = 0
        self.locked = 0
        self.lock_asset = ""
        self.uses_lock = not account.exempt
        self.lot_cap = req.qty or _UNLIMITED  # lots this order may still trade in total
        self.budget = _UNLIMITED  # quote units it may still spend (buy) / receive (sell)
        self.created_ns = ts_ns
        self.updated_ns = ts_ns
        self.level: _Level | None = None

    def snapshot(self) -> OrderSnapshot:
        return OrderSnapshot(
            self.order_id,
            self.client_order_id,
            self.account.account_id,
            self.symbol,
            self.side,
            self.type,
            self.tif,
            self.price,
            self.qty,
            self.quote_amount,
            self.stp,
            self.status,
            self.reason,
            self.filled,
            self.cum_quote,
            self.fees,
            self.locked,
            self.created_ns,
            self.updated_ns,
        )


class _Level:
    __slots__ = ("bg", "orders", "price", "total")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: deque[_Order] = deque()
        self.total = 0  # lots of every order queued here
        self.bg = 0  # of which the background account's


class _Side:
    """One side of a book. `keys` is sorted ascending with the best level last (key = price
    for bids, -price for asks), so taking the best level is list.pop()."""

    __slots__ = ("is_bid", "keys", "levels", "resting", "touched")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[int, _Level] = {}
        self.keys: list[int] = []
        self.resting: dict[str, int] = {}  # account id -> resting order count
        self.touched: dict[int, int] = {}  # price -> total before this call changed it

    def best(self) -> _Level | None:
        if not self.keys:
            return None
        key = self.keys[-1]
        return self.levels[key if self.is_bid else -key]

    def from_best(self) -> Iterator[_Level]:
        """Levels best first, lazily: a sweep reads only the levels it reaches."""
        levels = self.levels
        sign = 1 if self.is_bid else -1
        for key in reversed(self.keys):
            yield levels[sign * key]

    def add_level(self, price: int) -> _Level:
        level = _Level(price)
        self.levels[price] = level
        insort(self.keys, price if self.is_bid else -price)
        return level

    def remove_level(self, level: _Level) -> None:
        key = level.price if self.is_bid else -level.price
        if self.keys[-1] == key:
            self.keys.pop()
        else:
            del self.keys[bisect_left(self.keys, key)]
        del self.levels[level.price]


class _Book:
    __slots__ = (
        "asks",
        "base",
        "base_scale",
        "bids",
        "instrument",
        "last_trade_id",
        "quote",
        "quote_scale",
        "symbol",
        "update_id",
    )

    def __init__(self, instrument: Instrument, base_scale: int, quote_scale: int) -> None:
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.base = instrument.base
        self.quote = instrument.quote
        self.base_scale = base_scale
        self.quote_scale = quote_scale
        self.bids = _Side(True)
        self.asks = _Side(False)
        self.update_id = 0
        self.last_trade_id = 0


def _affordable(budget: int, unit: int, rate_ppm: int) -> int:
    """Most lots whose cost (unit * lots + fee) fits `budget`; rate_ppm >= 0."""
    if budget <= 0:
        return 0
    lots = budget * PPM // (unit * (PPM + rate_ppm))
    # the fee is truncated, so one or two more lots may still fit
    while True:
        n = unit * (lots + 1)
        if n + fee_units(n, rate_ppm) > budget:
            return lots
        lots += 1


# -- the engine --------------------------------------------------------------------------


class MatchingEngine:
    """Books, orders and accounts of one simulated venue. Not thread-safe; not re-entrant."""

    def __init__(self, config: MatchingConfig | None = None, ledger: Ledger | None = None):
        self.config = config or MatchingConfig()
        self.ledger = ledger or Ledger()
        bg = self.ledger.get(self.config.background_account)
        if bg is None:
            bg = self.ledger.open_account(self.config.background_account, exempt=True)
        elif not bg.exempt:
            raise ValueError(f"background account {bg.account_id!r} must be exempt")
        self._bg = bg
        self._books: dict[str, _Book] = {}
        # every open order; done orders too, except the background's (there are too many)
        self._orders: dict[int, _Order] = {}
        self._open: dict[str, dict[int, _Order]] = {}  # account -> open orders in id order
        self._by_client_id: dict[tuple[str, str, str], _Order] = {}
        self._last_order_id = 0
        self._out: list[Event] = []
        self._ts = 0

    # -- setup ----------------------------------------------------------------------------

    def add_symbol(self, instrument: Instrument) -> None:
        if instrument.symbol in self._books:
            raise ValueError(f"symbol {instrument.symbol} already listed")
        base_scale = self._scale(instrument.base, instrument.lot_size)
        quote_scale = self._scale(instrument.quote, instrument.notional_unit)
        self._books[instrument.symbol] = _Book(instrument, base_scale, quote_scale)

    def _scale(self, asset: str, unit: Decimal) -> int:
        known = self.ledger.asset_unit(asset)
        if known is None:
            self.ledger.define_asset(asset, unit)
            return 1
        ratio = unit / known
        if ratio < 1 or ratio != ratio.to_integral_value() or ratio * known != unit:
            raise ValueError(
                f"{asset}: unit {unit} is not a whole multiple of the ledger unit {known}; "
                "define a finer unit with Ledger.define_asset first"
            )
        return int(ratio)

    def instrument(self, symbol: str) -> Instrument:
        return self._books[symbol].instrument

    def scales(self, symbol: str) -> tuple[int, int]:
        """(base asset units per lot, quote asset units per notional unit)."""
        book = self._books[symbol]
        return book.base_scale, book.quote_scale

    # -- orders ---------------------------------------------------------------------------

    def submit(self, request: OrderRequest, ts_ns: int) -> list[Event]:
        self._begin(ts_ns)
        self._submit(request)
        return self._end(self._books.get(request.symbol))

    def cancel(
        self,
        account: str,
        symbol: str,
        ts_ns: int,
        *,
        order_id: int | None = None,
        client_order_id: str = "",
    ) -> list[Event]:
        """Cancel one open order by id or client id (both given: both must match)."""
        self._begin(ts_ns)
        order = self._find_open(account, symbol, order_id, client_order_id)
        book = self._books.get(symbol)
        if order is None or book is None:
            self._out.append(
                CancelRejected(
                    ts_ns, account, symbol, order_id, client_order_id, Reason.UNKNOWN_ORDER
                )
            )
        else:
            self._remove_resting(book, order, SimStatus.CANCELED, Reason.CANCELED_BY_USER)
        return self._end(book)

    def cancel_all(self, account: str, symbol: str, ts_ns: int) -> list[Event]:
        """Cancel every open order of `account` on `symbol`; no events if there were none."""
        self._begin(ts_ns)
        book = self._books.get(symbol)
        if book is not None:
            mine = [o for o in self._open.get(account, {}).values() if o.symbol == symbol]
            for order in mine:
                self._remove_resting(book, order, SimStatus.CANCELED, Reason.CANCELED_BY_USER)
        return self._end(book)

    def amend(
        self,
        account: str,
        symbol: str,
        ts_ns: int,
        *,
        order_id: int | None = None,
        client_order_id: str = "",
        new_qty: int = 0,
        new_price: int = 0,
    ) -> list[Event]:
        """Change a resting limit order's quantity (total, fills included) and/or price (0 =
        unchanged). A smaller quantity at the same price keeps the queue position; any other
        change requeues the order at the back, and a new price that crosses trades at once
        (a post-only order that would cross is refused). Refusals leave the order as it was
        and come back as `AmendRejected`; success emits `OrderAmended` first."""
        self._begin(ts_ns)
        book = self._books.get(symbol)
        order = self._find_open(account, symbol, order_id, client_order_id)
        reason = Reason.NONE
        if order is None or book is None or order.level is None:
            reason = Reason.UNKNOWN_ORDER
        else:
            reason = self._amend(book, order, new_qty or order.qty, new_price or order.price)
        if reason is not Reason.NONE:
            self._out.append(
                AmendRejected(ts_ns, account, symbol, order_id, client_order_id, reason)
            )
        return self._end(book)

    def _amend(self, book: _Book, order: _Order, qty: int, price: int) -> Reason:
        if qty <= order.filled:
            return Reason.INVALID_QUANTITY
        if price <= 0:
            return Reason.INVALID_PRICE
        if not order.account.exempt and qty < book.instrument.min_qty_lots:
            return Reason.FILTER_MIN_QTY
        is_buy = order.is_buy
        opp = book.asks if is_buy else book.bids
        probe = order.price
        order.price = price
        crosses = self._crosses(opp.best(), order)
        order.price = probe
        if order.type is OrderType.LIMIT_MAKER and crosses:
            return Reason.POST_ONLY_WOULD_TAKE
        if order.uses_lock:
            leaves = qty - order.filled
            if is_buy:
                fees = order.account.fees
                rate = fees.max_ppm if crosses else max(fees.maker_ppm, 0)
                notional = price * leaves * book.quote_scale
                need = notional + fee_units(notional, rate)
            else:
                need = leaves * book.base_scale
            extra = need - order.locked
            if extra > 0 and not self.ledger.lock(order.account, order.lock_asset, extra):
                return Reason.INSUFFICIENT_BALANCE
            if extra < 0:
                self.ledger.unlock(order.account, order.lock_asset, -extra)
            order.locked = need
        level = order.level
        assert level is not None
        side = book.bids if is_buy else book.asks
        if level.price not in side.touched:
            side.touched[level.price] = level.total
        order.updated_ns = self._ts
        if price == order.price and qty <= order.qty:
            level.total -= order.qty - qty  # shrunk in place: keeps its queue position
            order.qty = order.lot_cap = qty
            self._out.append(OrderAmended(self._ts, order.snapshot()))
            return Reason.NONE
        level.total -= order.qty - order.filled
        level.orders.remove(order)
        order.level = None
        side.resting[order.account.account_id] -= 1
        if not level.orders:
            side.remove_level(level)
        order.price = price
        order.qty = order.lot_cap = qty
        self._out.append(OrderAmended(self._ts, order.snapshot()))
        stop = self._match(book, order, price) if crosses else "book"
        if order.filled == order.qty:
            self._finish(order, SimStatus.FILLED, Reason.NONE)
        elif stop == "stp":
            self._finish(order, SimStatus.EXPIRED_IN_MATCH, Reason.SELF_TRADE_PREVENTED)
        else:
            self._rest(book, order)
        return Reason.NONE

    # -- background market ----------------------------------------------------------------

    def set_background_level(
        self, symbol: str, side: OrderSide, price: int, lots: int, ts_ns: int
    ) -> list[Event]:
        """Make the background account's volume at (side, price) exactly `lots`."""
        return self.apply_background_diff(
            symbol,
            [(price, lots)] if side is OrderSide.BUY else [],
            [(price, lots)] if side is OrderSide.SELL else [],
            ts_ns,
        )

    def apply_background_diff(
        self,
        symbol: str,
        bids: Iterable[tuple[int, int]],
        asks: Iterable[tuple[int, int]],
        ts_ns: int,
    ) -> list[Event]:
        """Set the background volume of many levels (absolute lots, 0 removes) in one update.

        Shrinking levels go first so that a book moving up or down does not meet its own
        stale side. New volume that crosses the opposite side is a background limit order
        with EXPIRE_MAKER: it removes stale background orders and trades with ours."""
        self._begin(ts_ns)
        book = self._books[symbol]
        grow: list[tuple[bool, int, int]] = []
        for is_bid, levels in ((True, bids), (False, asks)):
            side = book.bids if is_bid else book.asks
            for price, lots in levels:
                if price <= 0 or lots < 0:
                    raise ValueError(f"bad background level {price} x {lots}")
                level = side.levels.get(price)
                now = level.bg if level is not None else 0
                if lots < now:
                    assert level is not None
                    self._shrink_background(book, side, level, now - lots)
                elif lots > now:
                    grow.append((is_bid, price, lots - now))
        for is_bid, price, delta in grow:
            self._grow_background(book, is_bid, price, delta)
        return self._end(book)

    def background_trade(
        self, symbol: str, taker_side: OrderSide, price: int, lots: int, ts_ns: int
    ) -> list[Event]:
        """A market participant takes up to `lots` at prices up to `price`: an IOC of the
        background account without self-trade prevention, so it consumes the queue (the
        background volume ahead of us, then ours) in strict price-time order."""
        self._begin(ts_ns)
        request = OrderRequest(
            self._bg.account_id,
            symbol,
            taker_side,
            OrderType.LIMIT,
            qty=lots,
            price=price,
            tif=TimeInForce.IOC,
            stp=Stp.NONE,
        )
        self._submit(request)
        return self._end(self._books.get(symbol))

    # -- queries --------------------------------------------------------------------------

    def depth(
        self, symbol: str, limit: int = 1000
    ) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]]:
        """(update id, bids best first, asks best first) as (ticks, lots)."""
        book = self._books[symbol]
        bids = [(lv.price, lv.total) for lv in islice(book.bids.from_best(), limit)]
        asks = [(lv.price, lv.total) for lv in islice(book.asks.from_best(), limit)]
        return book.update_id, bids, asks

    def best_bid_ask(self, symbol: str) -> tuple[int | None, int | None]:
        book = self._books[symbol]
        bid, ask = book.bids.best(), book.asks.best()
        return (bid.price if bid else None), (ask.price if ask else None)

    def order(self, order_id: int) -> OrderSnapshot | None:
        order = self._orders.get(order_id)
        return order.snapshot() if order is not None else None

    def order_by_client_id(
        self, account: str, symbol: str, client_order_id: str
    ) -> OrderSnapshot | None:
        order = self._by_client_id.get((account, symbol, client_order_id))
        return order.snapshot() if order is not None else None

    def open_orders(self, account: str, symbol: str | None = None) -> list[OrderSnapshot]:
        return [
            o.snapshot()
            for o in self._open.get(account, {}).values()
            if symbol is None or o.symbol == symbol
        ]

    def queue_ahead(self, order_id: int) -> int | None:
        """Lots queued ahead of a resting order at its price; None if it is not resting."""
        order = self._orders.get(order_id)
        if order is None or order.level is None:
            return None
        ahead = 0
        for other in order.level.orders:
            if other is order:
                return ahead
            ahead += other.qty - other.filled
        raise AssertionError("resting order missing from its level")

    # -- call bracket ---------------------------------------------------------------------

    def _begin(self, ts_ns: int) -> None:
        self._out = []
        self._ts = ts_ns

    def _end(self, book: _Book | None) -> list[Event]:
        if book is not None:
            bids = self._changes(book.bids, reverse=True)
            asks = self._changes(book.asks, reverse=False)
            if bids or asks:
                book.update_id += 1
                self._out.append(DepthUpdate(self._ts, book.symbol, book.update_id, bids, asks))
        out, self._out = self._out, []
        return out

    @staticmethod
    def _changes(side: _Side, reverse: bool) -> tuple[tuple[int, int], ...]:
        if not side.touched:
            return ()
        levels = side.levels
        changed = []
        for price, before in side.touched.items():
            level = levels.get(price)
            now = level.total if level is not None else 0
            if now != before:
                changed.append((price, now))
        side.touched.clear()
        changed.sort(reverse=reverse)
        return tuple(changed)

    # -- submission -----------------------------------------------------------------------

    def _submit(self, req: OrderRequest) -> None:
        book = self._books.get(req.symbol)
        account = self.ledger.get(req.account)
        if book is None:
            self._reject(req, account, Reason.UNKNOWN_SYMBOL)
            return
        if account is None:
            self._reject(req, account, Reason.UNKNOWN_ACCOUNT)
            return
        reason = self._check_shape(req, book, account)
        if reason is not Reason.NONE:
            self._reject(req, account, reason)
            return
        order = _Order(req, account, req.stp or self.config.default_stp, self._ts)
        if req.type is OrderType.MARKET:
            self._submit_market(book, order)
        else:
            self._submit_limit(book, order)

    def _check_shape(self, req: OrderRequest, book: _Book, account: Account) -> Reason:
        """Request shape, duplicate client id and exchange filters, in Binance's order."""
        if req.type is OrderType.MARKET:
            if req.price != 0:
                return Reason.INVALID_ORDER
            if req.qty < 0 or req.quote_amount < 0 or (req.qty > 0) == (req.quote_amount > 0):
                return Reason.INVALID_QUANTITY
        else:
            if req.price <= 0:
                return Reason.INVALID_PRICE
            if req.quote_amount != 0:
                return Reason.INVALID_ORDER
            if req.qty <= 0:
                return Reason.INVALID_QUANTITY
            if req.type is OrderType.LIMIT_MAKER and req.tif is not TimeInForce.GTC:
                return Reason.INVALID_ORDER
        if req.client_order_id:
            same = self._by_client_id.get((req.account, req.symbol, req.client_order_id))
            if same is not None and same.status.is_open:
                return Reason.DUPLICATE_CLIENT_ORDER_ID
        if account.exempt:  # background chunks mirror any real level, however small
            return Reason.NONE
        inst = book.instrument
        if req.qty and req.qty < inst.min_qty_lots:
            return Reason.FILTER_MIN_QTY
        if req.type is not OrderType.MARKET and req.price * req.qty < inst.min_notional_units:
            return Reason.FILTER_MIN_NOTIONAL
        if req.quote_amount and req.quote_amount < inst.min_notional_units * book.quote_scale:
            return Reason.FILTER_MIN_NOTIONAL
        return Reason.NONE

    def _submit_limit(self, book: _Book, order: _Order) -> None:
        account = order.account
        post_only = order.type is OrderType.LIMIT_MAKER
        if order.uses_lock:
            if order.is_buy:
                # worst case: the whole quantity at the limit price at the higher fee rate
                rate = max(account.fees.maker_ppm, 0) if post_only else account.fees.max_ppm
                notional = order.price * order.qty * book.quote_scale
                amount, asset = notional + fee_units(notional, rate), book.quote
            else:
                amount, asset = order.qty * book.base_scale, book.base
            if not self._lock(order, asset, amount):
                return
        opp = book.asks if order.is_buy else book.bids
        if post_only and self._crosses(opp.best(), order):
            if self.config.post_only is PostOnlyStyle.REJECT:
                self._release(order)
                self._reject_order(order, Reason.POST_ONLY_WOULD_TAKE)
            else:
                self._accept(order)
                self._finish(order, SimStatus.CANCELED, Reason.POST_ONLY_WOULD_TAKE)
            return
        self._accept(order)
        if order.tif is TimeInForce.FOK:
            _, _, _, stop = self._walk(book, order, order.price, order.qty, _UNLIMITED)
            if stop != "full":
                self._finish(order, SimStatus.EXPIRED, Reason.FOK_NOT_FILLED)
                return
        stop = self._match(book, order, order.price)
        if order.filled == order.qty:
            self._finish(order, SimStatus.FILLED, Reason.NONE)
        elif stop == "stp":
            self._finish(order, SimStatus.EXPIRED_IN_MATCH, Reason.SELF_TRADE_PREVENTED)
        elif order.tif is TimeInForce.IOC:
            self._finish(order, SimStatus.EXPIRED, Reason.IOC_REMAINDER)
        elif order.tif is TimeInForce.FOK:  # unreachable while _walk mirrors _match
            self._finish(order, SimStatus.EXPIRED, Reason.FOK_NOT_FILLED)
        else:
            self._rest(book, order)

    def _submit_market(self, book: _Book, order: _Order) -> None:
        by_quote = order.quote_amount > 0
        if by_quote:
            order.budget = order.quote_amount
        needs_walk = order.uses_lock or order.tif is TimeInForce.FOK or by_quote
        lots = notional = spend = 0
        walk_stop: _Stop = "book"
        if needs_walk:
            lots, notional, spend, walk_stop = self._walk(
                book, order, 0, order.lot_cap, order.budget
            )
        if order.uses_lock:
            inst = book.instrument
            if not by_quote and lots and notional < inst.min_notional_units:
                self._reject(order.request, order.account, Reason.FILTER_MIN_NOTIONAL)
                return
            if order.is_buy:
                # by quote: the budget itself; by base: what the sweep would cost, and the
                # match may not spend more than that (a cap, should the book differ)
                amount = order.quote_amount if by_quote else spend
                if not by_quote:
                    order.budget = amount
                asset = book.quote
            else:
                amount = (lots if by_quote else order.qty) * book.base_scale
                asset = book.base
            if not self._lock(order, asset, amount):
                return
        if by_quote and not order.is_buy:
            order.lot_cap = lots  # the base we locked for; proceeds are capped by the budget
        self._accept(order)
        if order.tif is TimeInForce.FOK and walk_stop != ("budget" if by_quote else "full"):
            self._finish(order, SimStatus.EXPIRED, Reason.FOK_NOT_FILLED)
            return
        if by_quote and not order.is_buy and lots == 0:
            small = walk_stop == "budget"
            reason = Reason.AMOUNT_TOO_SMALL if small else Reason.NO_LIQUIDITY
            self._finish(order, SimStatus.EXPIRED, reason)
            return
        stop = self._match(book, order, 0)
        if by_quote:
            complete = order.filled > 0 and stop in ("full", "budget")
        else:
            complete = order.filled == order.qty
        if complete:
            self._finish(order, SimStatus.FILLED, Reason.NONE)
        elif stop == "stp":
            self._finish(order, SimStatus.EXPIRED_IN_MATCH, Reason.SELF_TRADE_PREVENTED)
        elif stop == "budget":
            reason = Reason.AMOUNT_TOO_SMALL if by_quote else Reason.INSUFFICIENT_BALANCE
            self._finish(order, SimStatus.EXPIRED, reason)
        else:
            self._finish(order, SimStatus.EXPIRED, Reason.NO_LIQUIDITY)

    @staticmethod
    def _crosses(level: _Level | None, order: _Order) -> bool:
        if level is None:
            return False
        return level.price <= order.price if order.is_buy else level.price >= order.price

    # -- matching -------------------------------------------------------------------------

    def _walk(
        self, book: _Book, order: _Order, limit: int, lot_cap: int, budget: int
    ) -> tuple[int, int, int, _Stop]:
        """Dry run of `_match` without touching anything: (lots, notional units, quote a
        buyer would spend incl. taker fee, why it stops). Level by level unless our own
        orders are on that side and STP applies; then order by order, to skip or stop at
        them exactly as the match will. Per-level fees are truncated once, so `spend` is
        never below what the match spends on the same lots."""
        is_buy = order.is_buy
        opp = book.asks if is_buy else book.bids
        acct = order.account
        stp = order.stp
        own = stp is not Stp.NONE and opp.resting.get(acct.account_id, 0) > 0
        rate = acct.fees.taker_ppm
        qs = book.quote_scale
        lots = notional = spend = 0
        remaining = lot_cap
        for level in opp.from_best():
            price = level.price
            if limit and (price > limit if is_buy else price < limit):
                return lots, notional, spend, "book"
            sizes: list[int]
            if own:
                sizes = []
                for o in level.orders:
                    if o.account is acct:
                        if stp is not Stp.EXPIRE_MAKER:
                            return lots, notional, spend, "stp"
                        continue
                    sizes.append(o.qty - o.filled)
            else:
                sizes = [level.total]
            unit = price * qs
            for size in sizes:
                q = min(size, remaining)
                if budget < _UNLIMITED:
                    if is_buy:
                        cap = _affordable(budget - spend, unit, rate)
                    else:
                        cap = (budget - notional * qs) // unit
                else:
                    cap = q
                short = cap < q
                if short:
                    q = cap
                lots += q
                notional += price * q
                remaining -= q
                spend += unit * q + fee_units(unit * q, rate)
                if short:
                    return lots, notional, spend, "budget"
                if remaining == 0:
                    return lots, notional, spend, "full"
        return lots, notional, spend, "book"

    def _match(self, book: _Book, taker: _Order, limit: int) -> _Stop:
        """Trade `taker` against the opposite side, best price first, FIFO within a price,
        until its lot cap or budget is used, the limit stops crossing, the book is empty,
        or self-trade prevention expires it."""
        is_buy = taker.is_buy
        opp = book.asks if is_buy else book.bids
        acct = taker.account
        stp = taker.stp
        qs = book.quote_scale
        rate = acct.fees.taker_ppm
        while True:
            remaining = taker.lot_cap - taker.filled
            if remaining <= 0:
                return "full"
            level = opp.best()
            if level is None:
                return "book"
            price = level.price
            if limit and (price > limit if is_buy else price < limit):
                return "book"
            maker = level.orders[0]
            if maker.account is acct and stp is not Stp.NONE:
                if stp is not Stp.EXPIRE_TAKER:
                    self._remove_resting(
                        book, maker, SimStatus.EXPIRED_IN_MATCH, Reason.SELF_TRADE_PREVENTED
                    )
                if stp is not Stp.EXPIRE_MAKER:
                    return "stp"
                continue
            q = min(maker.qty - maker.filled, remaining)
            if taker.budget < _UNLIMITED:
                unit = price * qs
                cap = _affordable(taker.budget, unit, rate) if is_buy else taker.budget // unit
                if cap < q:
                    if cap == 0:
                        return "budget"
                    q = cap
            self._trade(book, level, maker, taker, q)

    def _trade(self, book: _Book, level: _Level, maker: _Order, taker: _Order, q: int) -> None:
        opp = book.asks if taker.is_buy else book.bids
        price = level.price
        ts = self._ts
        quote_qty = price * q * book.quote_scale
        maker_fee = fee_units(quote_qty, maker.account.fees.maker_ppm)
        taker_fee = fee_units(quote_qty, taker.account.fees.taker_ppm)
        if taker.is_buy:
            buyer, seller, buyer_fee, seller_fee = taker, maker, taker_fee, maker_fee
        else:
            buyer, seller, buyer_fee, seller_fee = maker, taker, maker_fee, taker_fee
        base_qty = q * book.base_scale
        self.ledger.settle(
            buyer.account,
            seller.account,
            base=book.base,
            quote=book.quote,
            base_amount=base_qty,
            quote_amount=quote_qty,
            buyer_fee=buyer_fee,
            seller_fee=seller_fee,
            buyer_locked=buyer.uses_lock,
            seller_locked=seller.uses_lock,
        )
        if buyer.uses_lock:
            buyer.locked -= quote_qty + buyer_fee
        if seller.uses_lock:
            seller.locked -= base_qty
        if taker.budget < _UNLIMITED:
            taker.budget -= (quote_qty + taker_fee) if taker.is_buy else quote_qty

        touched = opp.touched
        if price not in touched:
            touched[price] = level.total
        level.total -= q
        if maker.account is self._bg:
            level.bg -= q
        book.last_trade_id += 1
        trade_id = book.last_trade_id
        out = self._out
        for order, fee, is_maker in ((maker, maker_fee, True), (taker, taker_fee, False)):
            order.filled += q
            order.cum_quote += quote_qty
            order.fees += fee
            order.updated_ns = ts
            order.status = (
                SimStatus.FILLED if order.filled == order.qty else SimStatus.PARTIALLY_FILLED
            )
            out.append(
                Fill(
                    ts,
                    book.symbol,
                    order.account.account_id,
                    order.order_id,
                    order.client_order_id,
                    order.side,
                    trade_id,
                    price,
                    q,
                    quote_qty,
                    order.qty,
                    is_maker,
                    fee,
                    book.quote,
                    order.filled,
                    order.cum_quote,
                    order.status,
                )
            )
        out.append(
            PublicTrade(
                ts, book.symbol, trade_id, price, q, taker.side, maker.order_id, taker.order_id
            )
        )
        if maker.filled == maker.qty:
            level.orders.popleft()
            maker.level = None
            opp.resting[maker.account.account_id] -= 1
            if not level.orders:
                opp.remove_level(level)
            self._finish(maker, SimStatus.FILLED, Reason.NONE)

    # -- order lifecycle ------------------------------------------------------------------

    def _lock(self, order: _Order, asset: str, amount: int) -> bool:
        """Lock the order's funds or reject it as INSUFFICIENT_BALANCE with nothing locked."""
        if not self.ledger.lock(order.account, asset, amount):
            self._reject_order(order, Reason.INSUFFICIENT_BALANCE)
            return False
        order.lock_asset = asset
        order.locked = amount
        return True

    def _release(self, order: _Order) -> None:
        if order.locked:
            self.ledger.unlock(order.account, order.lock_asset, order.locked)
            order.locked = 0

    def _quiet(self, account: Account | None) -> bool:
        return (
            account is not None and account.exempt and not self.config.emit_background_order_events
        )

    def _reject(self, req: OrderRequest, account: Account | None, reason: Reason) -> None:
        if not self._quiet(account):
            self._out.append(OrderRejected(self._ts, req, reason))

    def _reject_order(self, order: _Order, reason: Reason) -> None:
        self._reject(order.request, order.account, reason)

    def _accept(self, order: _Order) -> None:
        self._last_order_id += 1
        order.order_id = self._last_order_id
        self._orders[order.order_id] = order
        self._open.setdefault(order.account.account_id, {})[order.order_id] = order
        if order.client_order_id:
            key = (order.account.account_id, order.symbol, order.client_order_id)
            self._by_client_id[key] = order
        if not self._quiet(order.account):
            self._out.append(OrderAccepted(self._ts, order.snapshot()))

    def _rest(self, book: _Book, order: _Order) -> None:
        side = book.bids if order.is_buy else book.asks
        if order.is_buy and order.uses_lock:
            # from now on only maker fills at the limit price: keep exactly what they can cost
            notional = order.price * (order.qty - order.filled) * book.quote_scale
            need = notional + fee_units(notional, max(order.account.fees.maker_ppm, 0))
            # fills so far cost at most what they took off the worst case (fees truncate)
            assert order.locked >= need, "buy order under-locked"
            self.ledger.unlock(order.account, order.lock_asset, order.locked - need)
            order.locked = need
        level = side.levels.get(order.price)
        if level is None:
            level = side.add_level(order.price)
        if order.price not in side.touched:
            side.touched[order.price] = level.total
        leaves = order.qty - order.filled
        level.orders.append(order)
        level.total += leaves
        if order.account is self._bg:
            level.bg += leaves
        order.level = level
        account_id = order.account.account_id
        side.resting[account_id] = side.resting.get(account_id, 0) + 1

    def _remove_resting(
        self, book: _Book, order: _Order, status: SimStatus, reason: Reason
    ) -> None:
        level = order.level
        assert level is not None
        side = book.bids if order.is_buy else book.asks
        if level.price not in side.touched:
            side.touched[level.price] = level.total
        leaves = order.qty - order.filled
        level.total -= leaves
        if order.account is self._bg:
            level.bg -= leaves
        if level.orders[0] is order:
            level.orders.popleft()
        else:
            level.orders.remove(order)
        order.level = None
        side.resting[order.account.account_id] -= 1
        if not level.orders:
            side.remove_level(level)
        self._finish(order, status, reason)

    def _finish(self, order: _Order, status: SimStatus, reason: Reason) -> None:
        self._release(order)
        order.status = status
        order.reason = reason
        order.updated_ns = self._ts
        account_id = order.account.account_id
        open_orders = self._open.get(account_id)
        if open_orders is not None:
            open_orders.pop(order.order_id, None)
        if order.account.exempt:
            del self._orders[order.order_id]
            if order.client_order_id:
                key = (account_id, order.symbol, order.client_order_id)
                if self._by_client_id.get(key) is order:
                    del self._by_client_id[key]
        if not self._quiet(order.account):
            self._out.append(OrderDone(self._ts, order.snapshot()))

    def _find_open(
        self, account: str, symbol: str, order_id: int | None, client_order_id: str
    ) -> _Order | None:
        if order_id is None and not client_order_id:
            return None
        if order_id is not None:
            order = self._open.get(account, {}).get(order_id)
            if order is not None and client_order_id and order.client_order_id != client_order_id:
                return None
        else:
            order = self._by_client_id.get((account, symbol, client_order_id))
        if order is None or order.symbol != symbol or not order.status.is_open:
            return None
        return order

    # -- background volume ----------------------------------------------------------------

    def _grow_background(self, book: _Book, is_bid: bool, price: int, delta: int) -> None:
        side = book.bids if is_bid else book.asks
        level = side.levels.get(price)
        if level is not None and level.orders[-1].account is self._bg:
            # the last chunk is already background: growing it is the same as queueing a new
            # one behind it, and keeps a level at most 2 x (our orders) + 1 chunks long
            chunk = level.orders[-1]
            if price not in side.touched:
                side.touched[price] = level.total
            chunk.qty += delta
            level.total += delta
            level.bg += delta
            return
        request = OrderRequest(
            self._bg.account_id,
            book.symbol,
            OrderSide.BUY if is_bid else OrderSide.SELL,
            OrderType.LIMIT,
            qty=delta,
            price=price,
            stp=Stp.EXPIRE_MAKER,
        )
        self._submit(request)

    def _shrink_background(self, book: _Book, side: _Side, level: _Level, cut: int) -> None:
        chunks = [o for o in level.orders if o.account is self._bg]
        mode = self.config.cancel_from
        if mode is CancelFrom.PROPORTIONAL:
            sizes = [o.qty - o.filled for o in chunks]
            total = sum(sizes)
            cuts = [cut * s // total for s in sizes]
            spare = cut - sum(cuts)
            for i in range(len(chunks) - 1, -1, -1):  # integer remainders: back first
                if spare == 0:
                    break
                if cuts[i] < sizes[i]:
                    cuts[i] += 1
                    spare -= 1
        else:
            if mode is CancelFrom.BACK:
                chunks.reverse()
            cuts = []
            left = cut
            for o in chunks:
                take = min(o.qty - o.filled, left)
                cuts.append(take)
                left -= take
        if level.price not in side.touched:
            side.touched[level.price] = level.total
        for chunk, take in zip(chunks, cuts, strict=True):
            if not take:
                continue
            if chunk.qty - chunk.filled == take:
                self._remove_resting(book, chunk, SimStatus.CANCELED, Reason.CANCELED_BY_USER)
            else:
                chunk.qty -= take
                level.total -= take
                level.bg -= take
