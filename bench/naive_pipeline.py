"""The tick-to-trade path written the naive way, in plain Python: the baseline of the
tick-to-trade cases (bench/cases/tick_to_trade.py).

One Binance depth frame (bytes or text) in, the signed WS API requests it leads to out:

- `json.loads` of the frame, the sequence rule (`U`/`u` against the last update id);
- a dict book per side, `Decimal` price -> `Decimal` size (0 deletes), best bid and ask by
  `max()` / `min()` of the keys, converted to ticks and lots;
- the strategy: the market maker's quoting maths (`engine/strategy/quoting_ref.py`,
  `QuoterRef.step`, then `refresh` against the resting order) or the touch quoter (best bid
  minus N ticks, best ask plus N);
- risk: the pure-Python core (`engine/risk/risk_ref.py`): the mark at the mid, then
  `check_new` / `check_replace` with the engine's limits;
- a dict per order keyed by the quote's tag; a move replaces the resting order in one
  `order.cancelReplace` (STOP_ON_FAILURE), as the engine's order manager does on Binance;
- the journal, when given a file: before each request, one JSON line per record (`json.dumps`
  of the engine's INTENT fields, one unbuffered `write` each, no fsync), two for a replace
  (the old order's cancel, the new order), as the engine's order journal takes them;
- each request as a dict: sorted params, `urlencode`, `hmac.new(...).hexdigest()`,
  `json.dumps` (compact), in the engine's order (bid, then ask).

The request text is byte for byte what the engine's adapter sends for the same request id,
timestamp and client order ids (tests/test_bench_tick_to_trade.py checks it).
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Sequence
from decimal import Decimal
from hashlib import sha256
from typing import IO, Any
from urllib.parse import urlencode

from engine.config.schema import RiskConfig
from engine.model.instrument import Instrument
from engine.risk.manager import instrument_limits
from engine.risk.risk_ref import (
    BUY,
    GTC,
    LIMIT_MAKER,
    NO_LIMIT,
    SELL,
    GlobalLimits,
    RiskCoreRef,
    next_daily_reset_ns,
)
from engine.strategy.quoting_ref import KEEP, QuoterRef

BID_TAG, ASK_TAG = 1, 2
SIDES = {BUY: "BUY", SELL: "SELL"}
Quote = tuple[int, int, int, int]  # tag, side, price ticks, qty lots


class NaiveStrategy:
    """What to quote on the top of book; whether a resting order must move."""

    def quotes(  # noqa: PLR0917 - the top of book, as the engine's strategies get it
        self, bid: int, bid_qty: int, ask: int, ask_qty: int, now_ns: int, position: int
    ) -> Sequence[Quote]:
        raise NotImplementedError

    def moves(self, order: dict[str, Any], price: int, qty: int, now_ns: int) -> bool:
        raise NotImplementedError


class NaiveMarketMaker(NaiveStrategy):
    """One level a side from the pure-Python quoting reference, refreshed by its rule."""

    def __init__(self, quoter_params: dict[str, Any]) -> None:
        self.quoter = QuoterRef(**quoter_params)

    def quotes(  # noqa: PLR0917
        self, bid: int, bid_qty: int, ask: int, ask_qty: int, now_ns: int, position: int
    ) -> Sequence[Quote]:
        if self.quoter.step(bid, bid_qty, ask, ask_qty, now_ns, position) != 0:
            return ()
        bids, asks = self.quoter.quotes()
        out: list[Quote] = []
        if bids:
            out.append((BID_TAG, BUY, bids[0][0], bids[0][1]))
        if asks:
            out.append((ASK_TAG, SELL, asks[0][0], asks[0][1]))
        return out

    def moves(self, order: dict[str, Any], price: int, qty: int, now_ns: int) -> bool:
        verdict = self.quoter.refresh(
            order["price"], order["qty"], order["placed_ns"], price, qty, now_ns
        )
        return verdict != KEEP


class NaiveTouchQuoter(NaiveStrategy):
    """Best bid minus `offset` ticks, best ask plus `offset`, `lots` each; moved on change."""

    def __init__(self, offset: int, lots: int) -> None:
        self.offset = offset
        self.lots = lots

    def quotes(  # noqa: PLR0917
        self, bid: int, bid_qty: int, ask: int, ask_qty: int, now_ns: int, position: int
    ) -> Sequence[Quote]:
        return (
            (BID_TAG, BUY, bid - self.offset, self.lots),
            (ASK_TAG, SELL, ask + self.offset, self.lots),
        )

    def moves(self, order: dict[str, Any], price: int, qty: int, now_ns: int) -> bool:
        return bool(order["price"] != price or order["qty"] != qty)


class NaivePipeline:
    """Frame in, request texts out (see the module docstring)."""

    def __init__(
        self,
        instrument: Instrument,
        snapshot: bytes,
        strategy: NaiveStrategy,
        *,
        api_key: str,
        secret: str,
        risk: RiskConfig,
        recv_window: int = 5000,
        id_prefix: str = "nv",
        journal: IO[bytes] | None = None,
    ) -> None:
        doc = json.loads(snapshot)
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.tick = instrument.tick_size
        self.lot = instrument.lot_size
        self.bids = {Decimal(p): Decimal(q) for p, q in doc["bids"]}
        self.asks = {Decimal(p): Decimal(q) for p, q in doc["asks"]}
        self.last = int(doc["lastUpdateId"])
        self.strategy = strategy
        self.api_key = api_key
        self.secret = secret.encode()
        self.recv_window = recv_window
        self.id_prefix = id_prefix
        self.orders: dict[int, dict[str, Any]] = {}  # tag -> the resting order
        self.next_order = 1
        self.next_rid = 1
        self.position = 0
        self.refused = 0
        self.requests = 0
        self.journal = journal
        self.journaled = 0  # journal lines written
        self.timestamp_ms = 0  # the requests' timestamp (0: the clock's; tests fix it)
        self.core = RiskCoreRef(1, 4096)
        self.core.set_limits(0, instrument_limits(instrument, risk))
        self.core.set_global_limits(
            GlobalLimits(
                order_rate=risk.max_total_orders_per_second or NO_LIMIT,
                daily_loss_limit=int(risk.max_daily_loss / instrument.notional_unit),
            )
        )
        self.core.set_day_reset(next_daily_reset_ns(time.time_ns(), risk.daily_reset_hour_utc))

    # -- the path -----------------------------------------------------------------------------

    def on_frame(self, frame: bytes | str) -> list[str]:
        doc = json.loads(frame)
        data = doc["data"]
        if data["u"] <= self.last:
            return []
        if data["U"] > self.last + 1:
            raise RuntimeError(f"naive book: gap at {data['U']} after {self.last}")
        for levels, rows in ((self.bids, data["b"]), (self.asks, data["a"])):
            for price_text, size_text in rows:
                level, size = Decimal(price_text), Decimal(size_text)
                if size:
                    levels[level] = size
                else:
                    levels.pop(level, None)
        self.last = data["u"]
        best_bid, best_ask = max(self.bids), min(self.asks)
        bid, ask = int(best_bid / self.tick), int(best_ask / self.tick)
        bid_qty, ask_qty = int(self.bids[best_bid] / self.lot), int(self.asks[best_ask] / self.lot)
        now = time.time_ns()
        self.core.on_mark(0, (bid + ask) // 2, 0, now)
        out: list[str] = []
        for tag, side, price, qty in self.strategy.quotes(
            bid, bid_qty, ask, ask_qty, now, self.position
        ):
            order = self.orders.get(tag)
            if order is None:
                if self.core.check_new(0, side, price, qty, now, LIMIT_MAKER, GTC) != 0:
                    self.refused += 1
                    continue
                out.append(self._place(tag, side, price, qty, now))
                self.core.on_order_open(0, side, qty)
            elif self.strategy.moves(order, price, qty, now):
                code = self.core.check_replace(
                    0, side, price, qty, order["side"], order["qty"], now, LIMIT_MAKER, GTC
                )
                if code != 0:
                    self.refused += 1
                    continue
                out.append(self._replace(order, tag, side, price, qty, now))
                self.core.on_order_close(0, order["side"], order["qty"])
                self.core.on_order_open(0, side, qty)
        return out

    # -- requests -----------------------------------------------------------------------------

    def _new_order(self, tag: int, side: int, price: int, qty: int, now: int) -> str:
        cid = f"{self.id_prefix}{self.next_order}"
        self.next_order += 1
        self.orders[tag] = {"cid": cid, "side": side, "price": price, "qty": qty, "placed_ns": now}
        self._journal(cid, side, price, qty, now, "new")
        return cid

    def _journal(  # noqa: PLR0917 - the record's fields
        self, cid: str, side: int, price: int, qty: int, now: int, action: str
    ) -> None:
        if self.journal is None:
            return
        record = [cid, "binance", self.symbol, side, "LIMIT_MAKER", "GTC", price, qty, now, action]
        self.journal.write(json.dumps(record).encode() + b"\n")
        self.journaled += 1

    def _place(self, tag: int, side: int, price: int, qty: int, now: int) -> str:
        cid = self._new_order(tag, side, price, qty, now)
        params = {
            "symbol": self.symbol,
            "side": SIDES[side],
            "type": "LIMIT_MAKER",
            "quantity": str(self.instrument.lots_to_qty(qty)),
            "price": str(self.instrument.ticks_to_price(price)),
            "newClientOrderId": cid,
            "newOrderRespType": "RESULT",
        }
        return self.signed("order.place", params)

    def _replace(  # noqa: PLR0917 - the old order and the new quote
        self, old: dict[str, Any], tag: int, side: int, price: int, qty: int, now: int
    ) -> str:
        self._journal(old["cid"], old["side"], old["price"], old["qty"], now, "cancel")
        cid = self._new_order(tag, side, price, qty, now)
        params = {
            "symbol": self.symbol,
            "side": SIDES[side],
            "type": "LIMIT_MAKER",
            "quantity": str(self.instrument.lots_to_qty(qty)),
            "price": str(self.instrument.ticks_to_price(price)),
            "newClientOrderId": cid,
            "newOrderRespType": "RESULT",
            "cancelOrigClientOrderId": old["cid"],
            "cancelReplaceMode": "STOP_ON_FAILURE",
        }
        return self.signed("order.cancelReplace", params)

    def signed(self, method: str, fields: dict[str, Any], timestamp_ms: int = 0) -> str:
        """A signed WS API request: the fields with recvWindow, timestamp and apiKey, sorted,
        then the HMAC-SHA256 signature of their query string, as compact JSON."""
        params = dict(fields)
        params["recvWindow"] = self.recv_window
        params["timestamp"] = timestamp_ms or self.timestamp_ms or time.time_ns() // 1_000_000
        params["apiKey"] = self.api_key
        params = dict(sorted(params.items()))
        params["signature"] = hmac.new(self.secret, urlencode(params).encode(), sha256).hexdigest()
        rid = self.next_rid
        self.next_rid += 1
        self.requests += 1
        return json.dumps({"id": rid, "method": method, "params": params}, separators=(",", ":"))
