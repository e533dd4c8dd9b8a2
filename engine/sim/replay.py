"""Recorded venue frames as the simulator's public market.

Input: JSON lines, one recorded frame each: `{"recv_ns": <int>, "frame": "<raw text>"}`
(the format the engine's recorder writes). Binance frames are understood today: a REST
depth snapshot (`lastUpdateId`, `bids`, `asks`), `depthUpdate` diffs (raw or combined-stream
form) and `trade` events. Each recorded level becomes the background volume at that price
(absolute, as the venue reports it), so our resting orders queue behind it; each recorded
trade is a background taker that eats the queue in price-time order, so our orders fill
only when the recorded flow would really have reached them.

Frames are applied in file order; `ReplayMarket.run` paces them by their receive times
(`speed` > 1 replays faster) on the exchange clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from engine.clock import Clock
from engine.model.enums import OrderSide
from engine.sim.matching import Event, MatchingEngine

log = logging.getLogger("engine.sim.replay")


@dataclass(frozen=True, slots=True)
class RecordedFrame:
    recv_ns: int
    frame: bytes


def read_recording(path: str | Path) -> Iterator[RecordedFrame]:
    """Frames of a JSON-lines recording; a malformed line is an error naming its number."""
    with open(path, "rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                doc = orjson.loads(line)
                frame = doc["frame"]
                yield RecordedFrame(
                    int(doc["recv_ns"]), frame.encode() if isinstance(frame, str) else frame
                )
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{number}: not a recorded frame ({exc})") from None


class ReplayMarket:
    """Applies recorded Binance frames of one symbol to the matching engine."""

    def __init__(
        self,
        engine: MatchingEngine,
        symbol: str,
        *,
        publish: Callable[[list[Event]], object],
    ) -> None:
        self.engine = engine
        self.symbol = symbol
        self.instrument = engine.instrument(symbol)
        self._publish = publish
        self._bg: dict[OrderSide, dict[int, int]] = {OrderSide.BUY: {}, OrderSide.SELL: {}}
        self.applied = 0
        self.skipped = 0

    def apply(self, recorded: RecordedFrame, ts_ns: int) -> None:
        """Apply one recorded frame at exchange time `ts_ns`; unknown frames are skipped."""
        doc: Any = orjson.loads(recorded.frame)
        if isinstance(doc, dict) and "data" in doc and "stream" in doc:
            doc = doc["data"]
        if not isinstance(doc, dict):
            self.skipped += 1
            return
        if "lastUpdateId" in doc:
            self._levels(doc["bids"], doc["asks"], ts_ns, replace=True)
        elif doc.get("e") == "depthUpdate":
            if doc.get("s") != self.symbol:
                self.skipped += 1
                return
            self._levels(doc["b"], doc["a"], ts_ns, replace=False)
        elif doc.get("e") == "trade":
            if doc.get("s") != self.symbol:
                self.skipped += 1
                return
            # m = the buyer was the maker, so the taker sold
            taker = OrderSide.SELL if doc["m"] else OrderSide.BUY
            price = self.instrument.price_to_ticks(doc["p"])
            lots = self.instrument.qty_to_lots(doc["q"])
            self._publish(self.engine.background_trade(self.symbol, taker, price, lots, ts_ns))
        else:
            self.skipped += 1
            return
        self.applied += 1

    def _levels(
        self, bids: Iterable[list[str]], asks: Iterable[list[str]], ts_ns: int, *, replace: bool
    ) -> None:
        inst = self.instrument
        out: list[list[tuple[int, int]]] = [[], []]
        for index, (side, levels) in enumerate(((OrderSide.BUY, bids), (OrderSide.SELL, asks))):
            known = self._bg[side]
            seen = set()
            for price_text, size_text in levels:
                price, lots = inst.price_to_ticks(price_text), inst.qty_to_lots(size_text)
                seen.add(price)
                out[index].append((price, lots))
                if lots:
                    known[price] = lots
                else:
                    known.pop(price, None)
            if replace:
                for price in [p for p in known if p not in seen]:
                    out[index].append((price, 0))
                    del known[price]
        self._publish(self.engine.apply_background_diff(self.symbol, out[0], out[1], ts_ns))

    async def run(
        self, frames: Iterable[RecordedFrame], clock: Clock, *, speed: float = 1.0
    ) -> int:
        """Apply `frames`, waiting between them as recorded (divided by `speed`)."""
        first_recv: int | None = None
        start = clock.time_ns()
        count = 0
        for recorded in frames:
            if first_recv is None:
                first_recv = recorded.recv_ns
            due = start + int((recorded.recv_ns - first_recv) / speed)
            if due > clock.time_ns():
                await clock.sleep_ns(due - clock.time_ns())
            try:
                self.apply(recorded, clock.time_ns())
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                self.skipped += 1
                log.warning("replay %s: skipped a frame: %r", self.symbol, exc)
            count += 1
        return count
