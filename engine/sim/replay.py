"""Recorded venue frames as the simulator's public market.

Input: JSON lines, one recorded frame each: `{"recv_ns": <int>, "frame": "<raw text>"}`
(the format the engine's recorder writes). The parser is chosen by the venue (the
instrument's, or the `venue` argument); it turns a frame into venue-neutral updates:
book levels (absolute sizes, "0" deletes; `replace` drops every level not listed) or a
trade by a taker. Accepted frames:

- binance: the REST depth snapshot `{"lastUpdateId", "bids", "asks"}` (replaces),
  `depthUpdate` diffs and `trade` events, raw or in the combined-stream `{"stream", "data"}`
  wrapper (`m` true = the buyer was the maker, so the taker sold).
- okx: `books` / `books-l2-tbt` / `books50-l2-tbt` pushes `{"arg": {"channel", "instId"},
  "action": "snapshot" | "update", "data": [{"bids", "asks"}]}` with `[px, sz, "0", n]`
  levels (a snapshot replaces), and `trades` pushes whose `data` items carry `px`, `sz` and
  the taker `side`.
- gate: `spot.order_book_update` updates (`result.s`, `b`, `a`; `full: true` replaces),
  `spot.obu` pushes (`result.s` = `ob.<PAIR>.<depth>`; `full: true` replaces), the REST
  order book body `{"id", "bids", "asks"}` (replaces) and `spot.trades` updates
  (`currency_pair`, `price`, `amount`, taker `side`).

Each recorded level becomes the background volume at that price (absolute, as the venue
reports it), so our resting orders queue behind it; each recorded trade is a background
taker that eats the queue in price-time order, so our orders fill only when the recorded
flow would really have reached them. Frames of another instrument, acknowledgements and
other channels are skipped and counted; a frame is parsed whole before any of it is applied.

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
from engine.model.instrument import Instrument
from engine.sim.matching import Event, MatchingEngine

log = logging.getLogger("engine.sim.replay")


@dataclass(frozen=True, slots=True)
class RecordedFrame:
    recv_ns: int
    frame: bytes


@dataclass(frozen=True, slots=True)
class BookLevels:
    """Absolute background sizes (ticks, lots; 0 deletes); `replace` drops unlisted levels."""

    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]
    replace: bool


@dataclass(frozen=True, slots=True)
class TradeUpdate:
    """A recorded trade: the taker's side, price (ticks) and size (lots)."""

    taker: OrderSide
    price: int
    lots: int


Update = BookLevels | TradeUpdate
# A parser returns the frame's updates, or None when the frame is not for us (skipped).
Parser = Callable[[Any, Instrument], list[Update] | None]


def _book(inst: Instrument, bids: Iterable[Any], asks: Iterable[Any], replace: bool) -> BookLevels:
    """Levels given as `[price, size, ...]` rows (extra fields ignored)."""

    def rows(levels: Iterable[Any]) -> list[tuple[int, int]]:
        return [(inst.price_to_ticks(row[0]), inst.qty_to_lots(row[1])) for row in levels]

    return BookLevels(rows(bids), rows(asks), replace)


def _trade(inst: Instrument, side: str, price: str, qty: str) -> TradeUpdate:
    taker = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}[side]
    return TradeUpdate(taker, inst.price_to_ticks(price), inst.qty_to_lots(qty))


def parse_binance(doc: Any, inst: Instrument) -> list[Update] | None:
    if "data" in doc and "stream" in doc:
        doc = doc["data"]
        if not isinstance(doc, dict):
            return None
    if "lastUpdateId" in doc:
        return [_book(inst, doc["bids"], doc["asks"], replace=True)]
    kind = doc.get("e")
    if kind not in ("depthUpdate", "trade") or doc.get("s") != inst.symbol:
        return None
    if kind == "depthUpdate":
        return [_book(inst, doc["b"], doc["a"], replace=False)]
    # m = the buyer was the maker, so the taker sold
    return [_trade(inst, "sell" if doc["m"] else "buy", doc["p"], doc["q"])]


_OKX_BOOKS = ("books", "books-l2-tbt", "books50-l2-tbt")


def parse_okx(doc: Any, inst: Instrument) -> list[Update] | None:
    arg = doc.get("arg")
    if not isinstance(arg, dict) or "data" not in doc or arg.get("instId") != inst.symbol:
        return None
    channel = arg.get("channel")
    if channel in _OKX_BOOKS:
        replace = {"snapshot": True, "update": False}[doc["action"]]
        return [_book(inst, d["bids"], d["asks"], replace) for d in doc["data"]]
    if channel == "trades":
        return [
            _trade(inst, d["side"], d["px"], d["sz"])
            for d in doc["data"]
            if d.get("instId", inst.symbol) == inst.symbol
        ]
    return None


def parse_gate(doc: Any, inst: Instrument) -> list[Update] | None:
    channel = doc.get("channel")
    if channel is None and "id" in doc and "bids" in doc and "asks" in doc:
        return [_book(inst, doc["bids"], doc["asks"], replace=True)]  # REST order book
    if doc.get("event", "update") != "update" or not isinstance(doc.get("result"), dict):
        return None
    result = doc["result"]
    if channel == "spot.order_book_update" and result.get("s") == inst.symbol:
        return [_book(inst, result["b"], result["a"], replace=bool(result.get("full")))]
    if channel == "spot.obu" and str(result.get("s")).split(".")[1:2] == [inst.symbol]:
        return [_book(inst, result["b"], result["a"], replace=bool(result.get("full")))]
    if channel == "spot.trades" and result.get("currency_pair") == inst.symbol:
        return [_trade(inst, result["side"], result["price"], result["amount"])]
    return None


PARSERS: dict[str, Parser] = {"binance": parse_binance, "okx": parse_okx, "gate": parse_gate}

# what a malformed frame raises while parsing or applying (run skips and counts it)
_MALFORMED = (
    orjson.JSONDecodeError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    ValueError,
)


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
    """Applies recorded frames of one symbol (of its venue) to the matching engine."""

    def __init__(
        self,
        engine: MatchingEngine,
        symbol: str,
        *,
        publish: Callable[[list[Event]], object],
        venue: str | None = None,
    ) -> None:
        self.engine = engine
        self.symbol = symbol
        self.instrument = engine.instrument(symbol)
        self.venue = venue or self.instrument.venue
        if self.venue not in PARSERS:
            raise ValueError(f"no replay parser for {self.venue}; known: {sorted(PARSERS)}")
        self._parse = PARSERS[self.venue]
        self._publish = publish
        self._bg: dict[OrderSide, dict[int, int]] = {OrderSide.BUY: {}, OrderSide.SELL: {}}
        self.applied = 0
        self.skipped = 0

    def apply(self, recorded: RecordedFrame, ts_ns: int) -> None:
        """Apply one recorded frame at exchange time `ts_ns`; unknown frames are skipped."""
        doc: Any = orjson.loads(recorded.frame)
        updates = self._parse(doc, self.instrument) if isinstance(doc, dict) else None
        if updates is None:
            self.skipped += 1
            return
        for update in updates:
            if isinstance(update, TradeUpdate):
                self._publish(
                    self.engine.background_trade(
                        self.symbol, update.taker, update.price, update.lots, ts_ns
                    )
                )
            else:
                self._levels(update, ts_ns)
        self.applied += 1

    def _levels(self, update: BookLevels, ts_ns: int) -> None:
        out: list[list[tuple[int, int]]] = [[], []]
        for index, (side, levels) in enumerate(
            ((OrderSide.BUY, update.bids), (OrderSide.SELL, update.asks))
        ):
            known = self._bg[side]
            seen = set()
            for price, lots in levels:
                seen.add(price)
                out[index].append((price, lots))
                if lots:
                    known[price] = lots
                else:
                    known.pop(price, None)
            if update.replace:
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
            except _MALFORMED as exc:
                self.skipped += 1
                log.warning("replay %s: skipped a frame: %r", self.symbol, exc)
            count += 1
        return count
