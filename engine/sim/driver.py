"""Synthetic background market for one symbol: a random-walk mid, Poisson limit orders and
cancels around it, and market orders that sweep levels.

Everything the driver does goes through the matching engine as the background account, so
our orders queue behind real background volume and fill only when trades eat through it.
When the mid moves through resting orders, a background trade sweeps them first (that is
where a market maker gets picked off), then the band of background levels follows the mid.

Deterministic: all randomness comes from one `random.Random(seed)`; time is passed in.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from engine.model.enums import OrderSide
from engine.model.instrument import Instrument
from engine.sim.matching import Event, Fill, MatchingEngine
from engine.sim.presets import MarketParams

NS_PER_S = 1_000_000_000


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw: Knuth's product method for small means, a rounded normal above 30."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class SyntheticMarket:
    def __init__(
        self,
        engine: MatchingEngine,
        instrument: Instrument,
        params: MarketParams,
        *,
        seed: int,
        publish: Callable[[list[Event]], object],
    ) -> None:
        self.engine = engine
        self.instrument = instrument
        self.params = params
        self._publish = publish
        self._rng = random.Random(seed)
        self._bg_account = engine.config.background_account
        tick = instrument.tick_size
        self._mid_ticks = float(params.start_price / tick)
        self._level_lots = max(1, int(params.level_qty / instrument.lot_size))
        self._market_lots = max(1, int(params.market_qty / instrument.lot_size))
        self._bg: dict[OrderSide, dict[int, int]] = {OrderSide.BUY: {}, OrderSide.SELL: {}}
        self._last_ns: int | None = None
        self.steps = 0

    @property
    def mid_ticks(self) -> float:
        return self._mid_ticks

    def band(self) -> tuple[int, int]:
        """(best background bid, best background ask) in ticks for the current mid."""
        h = self.params.half_spread_ticks
        floor_mid = math.floor(self._mid_ticks)
        return floor_mid - (h - 1), floor_mid + h

    def _emit(self, events: list[Event]) -> None:
        for event in events:
            # background maker volume that traded is gone from our picture of the band
            if isinstance(event, Fill) and event.account == self._bg_account and event.is_maker:
                levels = self._bg[event.side]
                left = levels.get(event.price, 0) - event.qty
                if left > 0:
                    levels[event.price] = left
                else:
                    levels.pop(event.price, None)
        self._publish(events)

    def step(self, ts_ns: int) -> None:
        """Advance the market to `ts_ns`: move the mid, sweep, refresh the band, trade."""
        dt = 0.0 if self._last_ns is None else max(0.0, (ts_ns - self._last_ns) / NS_PER_S)
        self._last_ns = ts_ns
        p, rng, symbol = self.params, self._rng, self.instrument.symbol
        if dt > 0:
            shock = p.drift_per_s * dt + p.volatility_per_sqrt_s * math.sqrt(dt) * rng.gauss(0, 1)
            self._mid_ticks = max(p.levels + 2.0, self._mid_ticks * math.exp(shock))
        bid_top, ask_top = self.band()
        self._sweep(ts_ns, bid_top, ask_top)
        changes = self._band_changes(bid_top, ask_top, dt)
        if changes[0] or changes[1]:
            self._emit(self.engine.apply_background_diff(symbol, changes[0], changes[1], ts_ns))
        for _ in range(poisson(rng, p.market_rate * dt)):
            side = OrderSide.BUY if rng.random() < 0.5 else OrderSide.SELL
            lots = max(1, int(rng.expovariate(1.0 / self._market_lots)))
            limit = ask_top + p.levels if side is OrderSide.BUY else max(1, bid_top - p.levels)
            self._emit(self.engine.background_trade(symbol, side, limit, lots, ts_ns))
        self.steps += 1

    def _sweep(self, ts_ns: int, bid_top: int, ask_top: int) -> None:
        """Trade away whatever rests on the wrong side of the new band (ours included)."""
        _, bids, asks = self.engine.depth(self.instrument.symbol, 10_000)
        crossed_asks = sum(lots for price, lots in asks if price < ask_top)
        if crossed_asks:
            self._emit(
                self.engine.background_trade(
                    self.instrument.symbol, OrderSide.BUY, ask_top - 1, crossed_asks, ts_ns
                )
            )
        crossed_bids = sum(lots for price, lots in bids if price > bid_top)
        if crossed_bids:
            self._emit(
                self.engine.background_trade(
                    self.instrument.symbol, OrderSide.SELL, bid_top + 1, crossed_bids, ts_ns
                )
            )

    def _band_changes(
        self, bid_top: int, ask_top: int, dt: float
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        p, rng = self.params, self._rng
        target = {side: dict(levels) for side, levels in self._bg.items()}
        bands = {
            OrderSide.BUY: range(bid_top - p.levels + 1, bid_top + 1),
            OrderSide.SELL: range(ask_top, ask_top + p.levels),
        }
        for side, band in bands.items():
            levels = target[side]
            for price in [px for px in levels if px not in band]:
                levels[price] = 0  # the band moved away: those orders are withdrawn
            for price in band:
                if price > 0 and not levels.get(price):
                    levels[price] = self._level_lots  # refill an empty level
        for _ in range(poisson(rng, p.limit_rate * dt)):
            side = OrderSide.BUY if rng.random() < 0.5 else OrderSide.SELL
            distance = min(p.levels - 1, int(rng.expovariate(0.3)))
            price = bid_top - distance if side is OrderSide.BUY else ask_top + distance
            if price > 0:
                add = max(1, int(rng.expovariate(1.0 / self._level_lots)))
                target[side][price] = target[side].get(price, 0) + add
        for _ in range(poisson(rng, p.cancel_rate * dt)):
            side = OrderSide.BUY if rng.random() < 0.5 else OrderSide.SELL
            live = [px for px, lots in target[side].items() if lots > 0]
            if live:
                price = live[rng.randrange(len(live))]
                target[side][price] = int(target[side][price] * rng.uniform(0.0, 0.8))
        out: tuple[list[tuple[int, int]], list[tuple[int, int]]] = ([], [])
        for index, side in enumerate((OrderSide.BUY, OrderSide.SELL)):
            current = self._bg[side]
            for price, lots in sorted(target[side].items()):
                if lots != current.get(price, 0):
                    out[index].append((price, lots))
                if lots > 0:
                    current[price] = lots
                else:
                    current.pop(price, None)
        return out
