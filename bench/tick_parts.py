"""`python -m bench.tick_parts`: what each part of an internal tick costs when it runs warm,
in a loop, for reading beside the tick-to-trade cases (bench/cases/tick_to_trade.py), whose
ticks each start cold (the simulator ran in between).

The parts run on the same engine objects as `tick_to_trade.internal` (bench/engine_rig.py:
the simulator, the storage component with the order journal at fsync "interval", the feed's
frame handler and book, the dispatcher, risk manager, strategy, order manager and adapter),
one at a time, each timed per call (perf_counter_ns around the call), the figure the median of
3,000 calls, best of 5 rounds, in ns. The requests are written for real, with picows, to a
WebSocket server on loopback that drops what it gets (not the simulator: nothing answers);
where a part writes, the loop runs one pass after each call (untimed) so the server reads:
those parts start less warm than the others (the server's read, and for the intent sink the
acknowledgements by hand, ran in between).
What a part would leave behind is undone between calls, untimed: intents cleared, the
adapter's pending requests dropped (their timers cancelled), the replaced orders acknowledged
by hand (their CHANGE records journaled), the risk manager on a clock that moves 2 ms a call
so its rate windows never refuse; between rounds the history writer is let flush. The bench's
probe around `OrderPersistence.intent` is taken off first. Diagnostic only: it reaches into
the engine's private state to reset it.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from picows import WSFrame, WSListener, WSTransport, ws_connect, ws_create_server

from bench.cases.tick_to_trade import TouchQuoter
from bench.engine_rig import SYMBOL, EngineRig, RigOptions
from bench.moving_book import MovingBook
from engine._core import orders as table_codes
from engine._core.depth_decode import BinanceDepthDecoder
from engine.clock import LiveClock
from engine.gateway.adapter import OrderAck, OrderRequest
from engine.gateway.ws import WsConnection
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.runtime.loop import new_event_loop
from engine.storage.history import MarketHistory
from engine.storage.journal import INTENT, IntentAction, encode_intent

CALLS, ROUNDS = 3000, 5
IDLE_CALLS = 500  # the journal append after an idle millisecond: one round
Row = tuple[str, float]


async def timed(
    call: Callable[[], object],
    reset: Callable[[], object] | None = None,
    *,
    drain: bool = False,
    between: Callable[[], Any] | None = None,
) -> float:
    """Median ns of one call, best of ROUNDS rounds of CALLS calls (untimed after each call:
    `reset`, then one loop pass if `drain`; after each round: `await between()`)."""
    best = float("inf")
    clock = time.perf_counter_ns
    for _ in range(ROUNDS):
        values = []
        for _ in range(CALLS):
            start = clock()
            call()
            values.append(clock() - start)
            if reset is not None:
                reset()
            if drain:
                await asyncio.sleep(0)
        best = min(best, statistics.median(values))
        if between is not None:
            await between()
    return best


class _StepClock:
    """A clock 2 ms further on at every read: the risk core's rate windows stay empty."""

    def __init__(self) -> None:
        self.now = time.time_ns()

    def time_ns(self) -> int:
        self.now += 2_000_000
        return self.now


class _Drop(WSListener):
    """The server's side: every frame dropped."""

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        return None


async def _parts() -> list[Row]:
    params = {
        "levels": 1,
        "order_size": "0.0001",
        "max_position": "0.01",
        "min_half_spread_ticks": 5.0,
        "base_half_spread_ticks": 5.0,
        "refresh_ticks": 1,
        "requote_interval_s": 0.0,
        "fill_cooldown_s": 0.0,
        "stale_book_s": 60.0,
    }
    rig = EngineRig(RigOptions("engine.strategy.market_making:MarketMakingStrategy", params))
    books: list[MovingBook] = []

    def sync(feed: Any) -> None:
        assert rig.instrument is not None
        book = MovingBook(rig.instrument, base_ticks=6_500_000)
        books.append(book)
        stream = feed.stream(SYMBOL)
        assert isinstance(stream.decoder, BinanceDepthDecoder)
        stream.decoder.decode_snapshot(book.snapshot())
        stream.load_snapshot()
        stream.go_live(book.update_id)
        feed.mark_ready(SYMBOL, "bench")

    await rig.start(sync)
    server = await ws_create_server(lambda request: _Drop(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, _ = await ws_connect(WSListener, f"ws://127.0.0.1:{port}/")
    rows: list[Row] = []
    try:
        rows = await _measure(rig, books[0], transport)
    finally:
        transport.disconnect()
        server.close()
        await rig.close()
    return rows


async def _measure(rig: EngineRig, book: MovingBook, transport: WSTransport) -> list[Row]:
    loop = asyncio.get_running_loop()
    assert rig.feed is not None and rig.host is not None and rig.instrument is not None
    assert rig.storage is not None and rig.storage.writer is not None
    handler = rig.feed.connections[0].frame_handler
    events, oms, risk, adapter = rig.events, rig.oms, rig.risk, rig.adapter
    persistence, writer = rig.persistence, rig.storage.writer
    journal = persistence.journal
    assert journal is not None
    vars(persistence).pop("intent", None)  # the rig's probe off: the method itself
    strategy, inst = rig.host.strategy, rig.instrument
    assert strategy is not None
    iid, buffer, order_book = inst.instrument_id, events.intents, rig.feed.books[SYMBOL]
    (history,) = [h for h in rig.host._handlers if isinstance(h, MarketHistory)]
    rows: list[Row] = []

    async def flushed() -> None:
        """The history writer's rows written (on SQLite's thread) before the next round."""
        for _ in range(200):
            if not writer.pending:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)

    async def part(
        name: str,
        call: Callable[[], object],
        reset: Callable[[], object] | None = None,
        *,
        drain: bool = False,
    ) -> None:
        rows.append((name, await timed(call, reset, drain=drain, between=flushed)))

    # the engine's first quotes, answered
    handler.on_frame(book.frame(), time.time_ns())
    await oms.drain()
    await rig.quiet(0.05)

    # 1. the frame handler alone (decode, sequence rule, 1,000-level book), no on_book
    handler.on_book = None
    frames = [book.frame() for _ in range(CALLS * ROUNDS + 1)]
    position = iter(frames)
    await part(
        "FrameHandler.on_frame (10+10 levels, 1,000-level book)",
        lambda: handler.on_frame(next(position), 0),
    )
    handler.on_frame(frames[-1], 0)  # an odd number of moves since the quotes: both must move

    # 2. the dispatcher: stamps, risk mark, StrategyGuard(MarketMakingStrategy), both quotes
    # moved, the market history (its last top forgotten after each call: a new row each time)
    events.set_intent_sink(None)
    last = history._last

    def forget() -> None:
        buffer.clear()
        last[0] = (0, 0, 0, 0)

    await part(
        "EventDispatcher.on_book (stamps, risk, strategy, history; 2 intents)",
        lambda: events.on_book(iid, order_book, 0),
        forget,
    )
    await part("  RiskManager.on_book (mark)", lambda: risk.on_book(iid, order_book, 0))
    await part(
        "  MarketMakingStrategy.on_book (2 REPLACE intents)",
        lambda: strategy.on_book(iid, order_book, 0),
        buffer.clear,
    )
    touch = TouchQuoter({"offset_ticks": 5, "order_size": "0.0001"}, [iid])
    context = events.context_of(rig.host.guard)  # type: ignore[arg-type]
    assert context is not None
    touch.on_start(context)
    await part(
        "  TouchQuoter.on_book (plain Python, 2 REPLACE intents)",
        lambda: touch.on_book(iid, order_book, 0),
        buffer.clear,
    )
    await part(
        "  MarketHistory.on_book (a bbo row and the cache)",
        lambda: history.on_book(iid, order_book, 0),
        forget,
    )

    # 3. the intent sink: two REPLACE intents -> risk checks -> OrderManager.replace x2, each
    # two journal records and one order.cancelReplace written (picows, loopback)
    risk.clock = _StepClock()  # type: ignore[assignment]
    ws = adapter._ws
    assert ws is not None
    sink = WsConnection("ws://127.0.0.1/drop", ws.handler, clock=LiveClock())
    sink._transport = transport  # connected: send_text writes to the dropping server
    adapter._ws = sink
    live = [o.order_ref for o in oms.open_orders_of(0)]

    def push() -> None:
        for ref in live:
            o = oms.order(ref)
            assert o is not None
            buffer.push_replace(0, ref, o.side, o.price_ticks + 1, o.qty_lots, o.client_tag, 3, 1)

    def unanswered() -> None:
        """The adapter's requests dropped unanswered: their timers cancelled."""
        for entry in adapter._pending.values():
            entry.timer.cancel()
            adapter._shapes.pop(entry.other, None)
            adapter._shapes.pop(entry.client_order_id, None)
        adapter._pending.clear()
        oms._inflight.clear()

    def acknowledge() -> None:
        """The venue's answers, by hand: the old orders cancelled, the new ones resting."""
        unanswered()
        live.clear()
        for ref, meta in list(oms._meta.items()):
            status = oms.table.status_of(ref)
            if status == table_codes.PENDING_CANCEL:
                oms._apply(ref, meta, OrderStatus.CANCELED, -1)
            elif status == table_codes.PENDING_NEW:
                oms._apply(ref, meta, OrderStatus.NEW, -1)
                live.append(ref)
        push()

    push()
    consume = risk.consume
    await part(
        "RiskManager.consume: 2 REPLACE -> journal x4 -> cancelReplace x2 written",
        lambda: consume(buffer),
        acknowledge,
        drain=True,
    )
    persistence.journal = None
    await part(
        "  the same, the persistence without its journal (history rows kept)",
        lambda: consume(buffer),
        acknowledge,
        drain=True,
    )
    persistence.journal = journal
    submit = adapter.submit_replace

    def bare(cancel_client_order_id: str, request: OrderRequest) -> asyncio.Future[OrderAck]:
        return loop.create_future()

    adapter.submit_replace = bare  # type: ignore[method-assign]
    await part(
        "  submit_replace a bare future (risk, OMS, persistence with journal)",
        lambda: consume(buffer),
        acknowledge,
    )
    persistence.journal = None
    await part(
        "  submit_replace a bare future, no journal (risk, OMS, history rows)",
        lambda: consume(buffer),
        acknowledge,
    )
    oms.persist = None
    await part(
        "  submit_replace a bare future, no persistence (risk, OMS)",
        lambda: consume(buffer),
        acknowledge,
    )
    oms.persist, persistence.journal = persistence, journal
    adapter.submit_replace = submit  # type: ignore[method-assign]
    acknowledge()
    buffer.clear()

    # 4. one request's parts: the journal, then the adapter (into the dropping server)
    cid = oms.client_order_id(oms.open_orders_of(0)[0].order_ref)
    stamp_ns = time.time_ns()
    shape = (OrderSide.BUY, OrderType.LIMIT_MAKER, TimeInForce.GTC)

    def record(action: IntentAction) -> Callable[[], None]:
        return lambda: persistence.intent(cid, 0, *shape, 6_499_000, 10, stamp_ns, action)

    await part(
        "OrderPersistence.intent CANCEL (journal record + history row)",
        record(IntentAction.CANCEL),
    )
    await part(
        "OrderPersistence.intent NEW (journal record + 2 history rows)",
        record(IntentAction.NEW),
    )
    fields = (cid, inst.venue, inst.symbol, *shape, 6_499_000, 10, stamp_ns, IntentAction.NEW)
    payload = encode_intent(*fields)
    await part("  encode_intent (orjson array)", lambda: encode_intent(*fields))
    await part(
        f"  Journal.append, one {len(payload)}-byte INTENT (a write)",
        lambda: journal.append(INTENT, payload),
    )

    def four() -> None:
        for _ in range(3):
            journal.append(INTENT, payload, more=True)
        journal.append(INTENT, payload)

    await part("  Journal.append x4, more=True (a tick's records in one write)", four)
    values = []
    for _ in range(IDLE_CALLS):
        await asyncio.sleep(0.001)
        start = time.perf_counter_ns()
        journal.append(INTENT, payload)
        values.append(time.perf_counter_ns() - start)
    rows.append((
        f"  Journal.append after 1 ms idle (cold; median of {IDLE_CALLS})",
        statistics.median(values),
    ))  # fmt: skip

    request = OrderRequest(cid + "z", inst, shape[0], shape[1], 10, 6_499_000, shape[2])
    await part(
        "BinanceAdapter.submit_replace (written)",
        lambda: adapter.submit_replace(cid, request),
        unanswered,
        drain=True,
    )
    await part(
        "BinanceAdapter.submit_order (written)",
        lambda: adapter.submit_order(request),
        unanswered,
        drain=True,
    )
    await part(
        "BinanceAdapter.submit_cancel (written)",
        lambda: adapter.submit_cancel(SYMBOL, cid),
        unanswered,
        drain=True,
    )
    templates = adapter._order_templates(inst)
    stamp = 1_765_000_000_000

    def replace_bytes() -> bytes:
        return templates.replace(
            5, *shape, quantity_lots=10, price_ticks=6_499_000, client_order_id=cid + "z",
            cancel_client_order_id=cid, timestamp_ms=stamp, signed=True,
        )  # fmt: skip

    def place_bytes() -> bytes:
        return templates.place(
            5, *shape, quantity_lots=10, price_ticks=6_499_000, client_order_id=cid,
            timestamp_ms=stamp, signed=True,
        )  # fmt: skip

    data = replace_bytes()
    await part("  order.cancelReplace template fill + HMAC-SHA256", replace_bytes)
    await part("  order.place template fill + HMAC-SHA256", place_bytes)
    await part(
        "  order.cancel template fill + HMAC-SHA256",
        lambda: templates.cancel(5, cid, timestamp_ms=stamp, signed=True),
    )
    limiter, cost = adapter.limiter, adapter._replace_cost
    await part(
        "  RateLimiter.take_or_refuse (weight + 2 order counts)",
        lambda: limiter.take_or_refuse(cost, "order.cancelReplace"),
    )
    await part(
        f"  WsConnection.send_text, {len(data)} bytes (picows: mask + send)",
        lambda: sink.send_text(data),
        drain=True,
    )
    timers: list[asyncio.TimerHandle] = []

    def answer_slot() -> None:
        loop.create_future()
        timers.append(loop.call_later(5.0, int))

    def cancel_timers() -> None:
        for timer in timers:
            timer.cancel()
        timers.clear()

    await part(
        "  loop.create_future + loop.call_later (the answer's slot)", answer_slot, cancel_timers
    )
    adapter._ws = ws
    return rows


def main() -> None:
    loop = new_event_loop()
    try:
        rows = loop.run_until_complete(_parts())
    finally:
        loop.close()
    width = max(len(name) for name, _ in rows)
    for name, ns in rows:
        print(f"{name:{width}}  {ns:9.0f} ns")


if __name__ == "__main__":
    main()
