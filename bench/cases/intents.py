"""Intent buffer case: a quote's worth of intents pushed from Python into the preallocated
IntentBuffer (c_push_new / c_push_cancel behind the validating Python wrappers) and taken by
the consumer, beside a naive list of dataclasses (validated the same way, then cleared).

From Cython a strategy calls c_push_* directly (no argument conversion, no Python); this case
measures the slower Python path, the one a Python strategy would take."""

from __future__ import annotations

from dataclasses import dataclass

from bench.runner import Pair, case
from engine._core.intents import BUY, GTC, LIMIT_MAKER, SELL, IntentBuffer

# One requote: cancel both resting quotes, place a new bid and ask (4 intents); the consumer
# then takes the batch. Ints outside the small-int cache are created once, here.
BID, ASK = 6_500_000, 6_500_002
QTY = 1_500
OLD_BID, OLD_ASK = 1_000_001, 1_000_002
TAG_BID, TAG_ASK = 70_001, 70_002


@dataclass(slots=True)
class _Intent:
    instrument: int
    kind: int
    side: int
    order_type: int
    tif: int
    price_ticks: int
    qty_lots: int
    tag: int
    order_id: int


def _checked(intent: _Intent) -> _Intent:
    # the checks the buffer makes, so that both sides do the same work
    if intent.kind == 1:
        if intent.side not in (1, -1) or intent.order_type not in (1, 2, 3):
            raise ValueError("bad intent")
        if intent.tif not in (1, 2, 3) or intent.price_ticks <= 0 or intent.qty_lots <= 0:
            raise ValueError("bad intent")
    elif intent.order_id <= 0:
        raise ValueError("bad intent")
    return intent


@case("intents.requote")
def requote() -> Pair:
    buf = IntentBuffer(64, 8)
    new, cancel, clear = buf.push_new, buf.push_cancel, buf.clear

    def ours(n: int) -> None:
        for _ in range(n >> 2):
            cancel(3, OLD_BID, TAG_BID)
            cancel(3, OLD_ASK, TAG_ASK)
            new(3, BUY, BID, QTY, TAG_BID, LIMIT_MAKER, GTC)
            new(3, SELL, ASK, QTY, TAG_ASK, LIMIT_MAKER, GTC)
            clear()

    pending: list[_Intent] = []

    def naive(n: int) -> None:
        append = pending.append
        for _ in range(n >> 2):
            append(_checked(_Intent(3, 2, 0, 0, 0, 0, 0, TAG_BID, OLD_BID)))
            append(_checked(_Intent(3, 2, 0, 0, 0, 0, 0, TAG_ASK, OLD_ASK)))
            append(_checked(_Intent(3, 1, BUY, LIMIT_MAKER, GTC, BID, QTY, TAG_BID, 0)))
            append(_checked(_Intent(3, 1, SELL, LIMIT_MAKER, GTC, ASK, QTY, TAG_ASK, 0)))
            pending.clear()

    return Pair(
        ours,
        naive,
        batch=1024,
        about="one intent pushed from Python (requote: 2 cancels + 2 post-only quotes, then "
        "the consumer clears); baseline: validated dataclass appended to a list",
    )
