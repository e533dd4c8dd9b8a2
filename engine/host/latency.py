"""Latency stamps on the hot path, into the Cython stage recorder (engine/_core/latency.pyx,
docs/LATENCY.md): frame received (the transport's receive time, on the book) -> book handed to
the handlers -> strategy done -> risk done (the intents that passed are with the order
manager). A pass is recorded when the frame led to intents; frames that changed no quote
leave no sample (their stamps are overwritten by the next frame's).

Two probes bracket the handlers (the first and the last the dispatcher calls); the intent sink
is wrapped to stamp the end. Nothing here allocates per event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine._core.intents import IntentBuffer
from engine._core.latency import StageRecorder
from engine.clock import Clock
from engine.events import EventHandler

STAGES = ("frame_received", "dispatched", "strategy_done", "risk_done")


class BookArrived(EventHandler):
    """First handler: the frame's receive time and the moment the handlers get the book."""

    def __init__(self, recorder: StageRecorder, clock: Clock) -> None:
        self.recorder = recorder
        self.clock = clock

    def on_book(self, instrument_id: str, book: Any, timestamp_ns: int) -> None:
        received = book.recv_ts_ns
        if received > 0:
            self.recorder.stamp(0, received)
        self.recorder.stamp(1, self.clock.time_ns())


class HandlersDone(EventHandler):
    """Last handler: the strategy has answered."""

    def __init__(self, recorder: StageRecorder, clock: Clock) -> None:
        self.recorder = recorder
        self.clock = clock

    def on_book(self, instrument_id: str, book: Any, timestamp_ns: int) -> None:
        self.recorder.stamp(2, self.clock.time_ns())


def timed_sink(
    sink: Callable[[IntentBuffer], None], recorder: StageRecorder, clock: Clock
) -> Callable[[IntentBuffer], None]:
    """`sink`, then the last stamp and the pass recorded."""

    def consume(buffer: IntentBuffer) -> None:
        sink(buffer)
        recorder.stamp(3, clock.time_ns())
        recorder.finish()

    return consume
