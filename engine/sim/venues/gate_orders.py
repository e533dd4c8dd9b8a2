"""Order operations shared by Gate's REST and WS API: submit, find, cancel, with the
venue's errors (docs/VENUES.md §3.6): a refused order is a GateError, never a half result."""

from __future__ import annotations

from engine.model.enums import OrderSide, OrderType
from engine.sim.errors import Reason
from engine.sim.matching import (
    AmendRejected,
    CancelRejected,
    Event,
    OrderAccepted,
    OrderAmended,
    OrderDone,
    OrderRejected,
    OrderRequest,
    OrderSnapshot,
)
from engine.sim.venues.gate_messages import (
    ORDER_NOT_FOUND,
    REST_DEFAULT_TEXT,
    AmendRequest,
    GateError,
    GateVenue,
    PocStyle,
    invalid_param,
    reject_error,
)


def submit(
    state: GateVenue, req: OrderRequest, poc_crosses: bool, default_text: str = REST_DEFAULT_TEXT
) -> OrderSnapshot:
    """Send one order to the engine; GateError when it is refused. `default_text` is the
    `text` Gate reports for an order sent without one (it differs between REST and WS)."""
    if poc_crosses and state.config.poc_style is PocStyle.REJECT_400:
        raise reject_error(Reason.POST_ONLY_WOULD_TAKE)
    state.current_default_text = default_text  # seen by the listeners during the call
    try:
        events = state.exchange.submit(req)
    finally:
        state.current_default_text = REST_DEFAULT_TEXT
    if not req.client_order_id and default_text != REST_DEFAULT_TEXT:
        for event in events:
            if isinstance(event, OrderAccepted):
                state.default_text[event.order.order_id] = default_text
    for event in events:
        if isinstance(event, OrderRejected) and event.request is req:
            raise reject_error(event.reason)
        if isinstance(event, OrderAccepted) and event.order.account == req.account:
            snap = state.exchange.engine.order(event.order.order_id)
            return snap if snap is not None else event.order
    raise GateError(500, "INTERNAL", "Order was neither accepted nor rejected")


def poc_crosses(state: GateVenue, req: OrderRequest) -> bool:
    if req.type is not OrderType.LIMIT_MAKER:
        return False
    bid, ask = state.exchange.engine.best_bid_ask(req.symbol)
    if req.side is OrderSide.BUY:
        return ask is not None and req.price >= ask
    return bid is not None and req.price <= bid


def find_order(state: GateVenue, account: str, pair: str, ident: str) -> OrderSnapshot:
    """An order of `account` on `pair` by exchange id, or by `text` while it is open."""
    inst = state.instrument(pair)
    engine = state.exchange.engine
    snap: OrderSnapshot | None
    if ident.isdigit():
        snap = engine.order(int(ident))
    else:
        snap = engine.order_by_client_id(account, inst.symbol, ident)
        if snap is not None and not snap.status.is_open:
            snap = None
    if snap is None or snap.account != account or snap.symbol != inst.symbol:
        raise ORDER_NOT_FOUND
    return snap


def cancel_one(state: GateVenue, account: str, pair: str, ident: str) -> OrderSnapshot:
    snap = find_order(state, account, pair, ident)
    events = state.exchange.cancel(account, snap.symbol, order_id=snap.order_id)
    return _cancelled(events, snap)


def _cancelled(events: list[Event], snap: OrderSnapshot) -> OrderSnapshot:
    for event in events:
        if isinstance(event, CancelRejected):
            raise ORDER_NOT_FOUND
        if isinstance(event, OrderDone) and event.order.order_id == snap.order_id:
            return event.order
    raise ORDER_NOT_FOUND


def cancel_matching(
    state: GateVenue, account: str, pair: str | None, side: str | None
) -> list[OrderSnapshot]:
    """Cancel every open order of `account` (on `pair`, of `side`, when given)."""
    symbol = state.instrument(pair).symbol if pair else None
    if side not in (None, "buy", "sell"):
        raise invalid_param("side", side)
    done: list[OrderSnapshot] = []
    for snap in state.exchange.engine.open_orders(account, symbol):
        if side is not None and (snap.side is OrderSide.BUY) != (side == "buy"):
            continue
        events = state.exchange.cancel(account, snap.symbol, order_id=snap.order_id)
        try:
            done.append(_cancelled(events, snap))
        except GateError:
            continue  # ended by a fill in the meantime: not ours to report
    return done


def amend(
    state: GateVenue, account: str, pair: str, ident: str, req: AmendRequest
) -> OrderSnapshot:
    """Gate's amend (docs/VENUES.md §3.6): same id and text; a smaller amount at the same
    price keeps the queue position, anything else requeues; an amount at or below what is
    already filled cancels the order. Refusals are GateErrors and leave the order as it was."""
    snap = find_order(state, account, pair, ident)
    if req.qty and req.qty <= snap.filled:
        done = cancel_one(state, account, pair, str(snap.order_id))
        if req.amend_text:
            state.amend_texts[snap.order_id] = req.amend_text
        return done
    exchange = state.exchange
    events = exchange.engine.amend(
        account,
        snap.symbol,
        exchange.clock.time_ns(),
        order_id=snap.order_id,
        new_qty=req.qty,
        new_price=req.price,
    )
    for event in events:
        if isinstance(event, AmendRejected):
            exchange.publish([e for e in events if not isinstance(e, AmendRejected)])
            if event.reason is Reason.UNKNOWN_ORDER:
                raise ORDER_NOT_FOUND
            raise reject_error(event.reason)
    if req.amend_text:
        state.amend_texts[snap.order_id] = req.amend_text
    for event in events:  # in order: the amended order's push comes before its fills
        if isinstance(event, OrderAmended):
            for listener in tuple(state.amend_listeners):
                listener(event.order)
        else:
            exchange.publish([event])
    return exchange.engine.order(snap.order_id) or snap
