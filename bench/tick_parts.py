"""`python -m bench.tick_parts`: what each part of an internal tick costs when it runs warm,
in a loop, for reading beside the tick-to-trade cases (bench/cases/tick_to_trade.py), whose
ticks each start cold (the simulator ran in between).

The parts run on the same engine objects as `tick_to_trade.internal` (bench/engine_rig.py:
the simulator, the feed's frame handler and book, the dispatcher, risk manager, strategy,
order manager and adapter), one at a time, each timed per call (perf_counter_ns around the
call), the figure the median of 3,000 calls, best of 5 rounds, in ns. What a part would leave
behind is undone between calls, untimed: intents cleared, request tasks not run (their
coroutines closed) or cancelled, the replaced orders acknowledged by hand, the risk manager on
a clock that moves 2 ms a call so its rate windows never refuse. A part that would need the
venue (the adapter's request) sends into a no-op socket; the loopback socket write is timed
apart. Diagnostic only: it reaches into the engine's private state to reset it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import time
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp._websocket.writer import WebSocketWriter

from bench.cases.tick_to_trade import TouchQuoter
from bench.engine_rig import SYMBOL, EngineRig, RigOptions
from bench.moving_book import MovingBook
from engine._core import orders as table_codes
from engine._core.depth_decode import BinanceDepthDecoder
from engine.gateway.adapter import OrderRequest
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.runtime.loop import new_event_loop

CALLS, ROUNDS = 3000, 5
Row = tuple[str, float]


def timed(call: Callable[[], object], reset: Callable[[], object] | None = None) -> float:
    """Median ns of one call, best of ROUNDS rounds of CALLS calls (`reset` untimed after
    each)."""
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
        best = min(best, statistics.median(values))
    return best


class _StepClock:
    """A clock 2 ms further on at every read: the risk core's rate windows stay empty."""

    def __init__(self) -> None:
        self.now = time.time_ns()

    def time_ns(self) -> int:
        self.now += 2_000_000
        return self.now


class _NoSocket:
    closed = False

    async def send_frame(self, data: bytes, opcode: object) -> None:
        return None


class _NoTransport:
    def write(self, data: bytes) -> None:
        return None

    def is_closing(self) -> bool:
        return False


def _first_step(make: Callable[[], Coroutine[Any, Any, Any]]) -> Callable[[], None]:
    """Run a fresh coroutine to its first suspension, then close it."""

    def call() -> None:
        coroutine = make()
        with contextlib.suppress(StopIteration):
            coroutine.send(None)
        coroutine.close()

    return call


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
        book = MovingBook(rig.instrument, base_ticks=6_500_000)  # type: ignore[arg-type]
        books.append(book)
        stream = feed.stream(SYMBOL)
        assert isinstance(stream.decoder, BinanceDepthDecoder)
        stream.decoder.decode_snapshot(book.snapshot())
        stream.load_snapshot()
        stream.go_live(book.update_id)
        feed.mark_ready(SYMBOL, "bench")

    await rig.start(sync)
    rows: list[Row] = []
    try:
        rows = await _measure(rig, books[0])
    finally:
        await rig.close()
    return rows


async def _measure(rig: EngineRig, book: MovingBook) -> list[Row]:
    loop = asyncio.get_running_loop()
    assert rig.feed is not None and rig.host is not None and rig.instrument is not None
    handler = rig.feed.connections[0].frame_handler
    events, oms, risk, adapter = rig.events, rig.oms, rig.risk, rig.adapter
    strategy, inst = rig.host.strategy, rig.instrument
    assert strategy is not None
    iid, buffer, order_book = inst.instrument_id, events.intents, rig.feed.books[SYMBOL]
    rows: list[Row] = []

    # the engine's first quotes, answered
    handler.on_frame(book.frame(), time.time_ns())
    await oms.drain()
    await rig.quiet(0.05)

    # 1. the frame handler alone (decode, sequence rule, 1,000-level book), no on_book
    handler.on_book = None
    frames = [book.frame() for _ in range(CALLS * ROUNDS + 1)]
    position = iter(frames)
    rows.append(("FrameHandler.on_frame (10+10 levels, 1,000-level book)", timed(
        lambda: handler.on_frame(next(position), 0))))  # fmt: skip
    handler.on_frame(frames[-1], 0)  # an odd number of moves since the quotes: both must move

    # 2. the dispatcher: risk mark + StrategyGuard(MarketMakingStrategy), both quotes moved
    events.set_intent_sink(None)
    rows.append(("EventDispatcher.on_book (risk mark + strategy, 2 intents)", timed(
        lambda: events.on_book(iid, order_book, 0), buffer.clear)))  # fmt: skip
    rows.append(("  RiskManager.on_book (mark)", timed(lambda: risk.on_book(iid, order_book, 0))))
    rows.append(("  MarketMakingStrategy.on_book (2 REPLACE intents)", timed(
        lambda: strategy.on_book(iid, order_book, 0), buffer.clear)))  # fmt: skip
    touch = TouchQuoter({"offset_ticks": 5, "order_size": "0.0001"}, [iid])
    context = events.context_of(rig.host.guard)  # type: ignore[arg-type]
    assert context is not None
    touch.on_start(context)
    rows.append(("  TouchQuoter.on_book (plain Python, 2 REPLACE intents)", timed(
        lambda: touch.on_book(iid, order_book, 0), buffer.clear)))  # fmt: skip

    # 3. the intent sink: two REPLACE intents -> risk checks -> OrderManager.replace x2
    risk.clock = _StepClock()  # type: ignore[assignment]
    live = [o.order_ref for o in oms.open_orders_of(0)]
    spawn = oms._spawn

    def push() -> None:
        for ref in live:
            o = oms.order(ref)
            assert o is not None
            buffer.push_replace(0, ref, o.side, o.price_ticks + 1, o.qty_lots, o.client_tag, 3, 1)

    def acknowledge() -> None:
        """The venue's answers, by hand: the old orders cancelled, the new ones resting."""
        live.clear()
        for ref, meta in list(oms._meta.items()):
            status = oms.table.status_of(ref)
            if status == table_codes.PENDING_CANCEL:
                oms._apply(ref, meta, OrderStatus.CANCELED, -1)
            elif status == table_codes.PENDING_NEW:
                oms._apply(ref, meta, OrderStatus.NEW, -1)
                live.append(ref)
        push()

    def unsent(coroutine: Coroutine[object, object, None]) -> None:
        coroutine.close()
        oms.counters.requests += 1

    push()
    oms._spawn = unsent  # type: ignore[method-assign]
    rows.append(("RiskManager.consume, 2 REPLACE -> OMS cancel + new x2 (no tasks)", timed(
        lambda: risk.consume(buffer), acknowledge)))  # fmt: skip
    oms._spawn = spawn  # type: ignore[method-assign]
    values: list[int] = []
    for _ in range(CALLS):
        start = time.perf_counter_ns()
        risk.consume(buffer)
        values.append(time.perf_counter_ns() - start)
        for task in list(oms._tasks):
            task.cancel()
        await asyncio.sleep(0)
        acknowledge()
    rows.append(("  the same with its 4 request tasks created", statistics.median(values)))
    buffer.clear()

    # 4. one request through the adapter, to the wait for its answer (no-op socket)
    ws = adapter._ws
    adapter._ws = _NoSocket()  # type: ignore[assignment]
    cid = oms.client_order_id(oms.open_orders_of(0)[0].order_ref)
    request = OrderRequest(
        cid + "z", inst, OrderSide.BUY, OrderType.LIMIT_MAKER, 10, 6_499_000, TimeInForce.GTC
    )
    rows.append(("BinanceAdapter.cancel_order to its first suspension", timed(
        _first_step(lambda: adapter.cancel_order(SYMBOL, cid)))))  # fmt: skip
    rows.append(("BinanceAdapter.place_order to its first suspension", timed(
        _first_step(lambda: adapter.place_order(request)))))  # fmt: skip
    adapter._ws = ws
    templates = adapter._order_templates(inst)
    stamp = 1_765_000_000_000
    rows.append(("  order.cancel template fill + HMAC-SHA256", timed(
        lambda: templates.cancel(5, cid, timestamp_ms=stamp, signed=True))))  # fmt: skip
    rows.append(("  order.place template fill + HMAC-SHA256", timed(lambda: templates.place(
        5, OrderSide.BUY, OrderType.LIMIT_MAKER, TimeInForce.GTC, quantity_lots=10,
        price_ticks=6_499_000, client_order_id=cid, timestamp_ms=1_765_000_000_000,
        signed=True))))  # fmt: skip
    rows.append(("  asyncio.wait_for set-up (to suspension)", timed(
        _first_step(lambda: asyncio.wait_for(loop.create_future(), 5.0)))))  # fmt: skip
    assert ws is not None
    writer = WebSocketWriter(ws._writer.protocol, _NoTransport(), use_mask=True)  # type: ignore[arg-type]
    data = templates.cancel(5, cid, timestamp_ms=1_765_000_000_000, signed=True)
    rows.append((f"aiohttp client frame: header + mask ({len(data)} bytes), no socket", timed(
        lambda: writer._write_websocket_frame(data, 1, 0))))  # fmt: skip
    rows.append((f"socket.send of {len(data) + 14} bytes on loopback TCP", _socket_send(data)))

    # 5. the event loop's part
    async def nothing() -> None:
        return None

    values = []
    for _ in range(CALLS):
        coroutine = nothing()
        start = time.perf_counter_ns()
        task = loop.create_task(coroutine)
        values.append(time.perf_counter_ns() - start)
        await task
    rows.append(("loop.create_task", statistics.median(values)))
    values = []
    for _ in range(CALLS):
        ran = loop.create_future()

        async def mark(ran: asyncio.Future[int] = ran) -> None:
            ran.set_result(time.perf_counter_ns())

        start = time.perf_counter_ns()
        task = loop.create_task(mark())
        values.append(await ran - start)
        await task
    rows.append(("create_task -> the task runs (one loop pass)", statistics.median(values)))
    return rows


def _socket_send(data: bytes) -> float:
    server = socket.create_server(("127.0.0.1", 0))
    tx = socket.create_connection(server.getsockname())
    rx, _ = server.accept()
    server.close()
    for s in (tx, rx):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rx.setblocking(False)
    frame = bytes(14) + data

    def drain() -> None:
        try:
            while rx.recv(1 << 20):
                pass
        except BlockingIOError:
            pass

    try:
        return timed(lambda: tx.send(frame), drain)
    finally:
        tx.close()
        rx.close()


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
