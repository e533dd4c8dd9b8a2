"""Market data as engine components: one book feed per enabled venue, built from config.

A venue's instruments (tick, lot, minimums) are loaded from the venue's own REST metadata
at start, the same way for a live venue and for the local simulator, so the paper
configuration exercises the exact path production takes. Only the URLs differ: a simulated
venue's come from its `SimulatorComponent`, which starts first.
"""

from __future__ import annotations

import importlib
from typing import Protocol

import aiohttp

from engine.component import Component
from engine.config import EngineConfig, VenueConfig
from engine.data.feed import BookFeed, FeedOptions
from engine.events import EventHandler
from engine.gateway.ws import WsOptions
from engine.model.instrument import Instrument
from engine.sim.component import SimulatorComponent


class _Loader(Protocol):
    async def __call__(
        self, session: aiohttp.ClientSession, rest_url: str, symbols: list[str]
    ) -> list[Instrument]: ...


def _feed_class(venue: str) -> type[BookFeed]:
    classes = {
        "binance": ("engine.gateway.binance.feed", "BinanceBookFeed"),
        "okx": ("engine.gateway.okx.feed", "OkxBookFeed"),
        "gate": ("engine.gateway.gate.feed", "GateBookFeed"),
    }
    module, name = classes[venue]
    cls: type[BookFeed] = getattr(importlib.import_module(module), name)
    return cls


def _loader(venue: str) -> _Loader:
    module = importlib.import_module(f"engine.gateway.{venue}.instruments")
    loader: _Loader = module.load_instruments
    return loader


# Application-level pings: OKX closes a connection idle for 30 s, Gate's SDK pings every 5 s;
# Binance pings at the protocol level and picows answers.
KEEPALIVE_S = {"binance": 0.0, "okx": 20.0, "gate": 5.0}


class VenueFeedComponent(Component):
    """The book feed of one venue: loads instruments, then keeps every configured book."""

    def __init__(
        self,
        venue: str,
        config: VenueConfig,
        events: EventHandler,
        *,
        stale_after_s: float,
        simulator: SimulatorComponent | None = None,
    ) -> None:
        super().__init__(name=f"market_data.{venue}")
        self.venue = venue
        self.config = config
        self.events = events
        self.simulator = simulator
        self.stale_after_s = stale_after_s
        self.feed: BookFeed | None = None
        self.instruments: list[Instrument] = []

    def _urls(self) -> tuple[str, str]:
        if self.simulator is not None:
            urls = self.simulator.urls
            return urls.rest, urls.ws_public
        return self.config.rest_url, self.config.ws_public_url

    async def _on_start(self) -> None:
        rest, ws = self._urls()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            self.instruments = await _loader(self.venue)(session, rest, list(self.config.symbols))
        options = FeedOptions(
            book_capacity=self.config.book_depth,
            ws=WsOptions(stale_after_s=self.stale_after_s, keepalive_s=KEEPALIVE_S[self.venue]),
        )
        kwargs: dict[str, object] = {"ws_url": ws, "options": options}
        if self.venue != "okx":  # OKX syncs from the WebSocket snapshot alone
            kwargs["rest_url"] = rest
        self.feed = _feed_class(self.venue)(self.instruments, self.events, **kwargs)  # type: ignore[arg-type]
        await self.feed.start()
        self.log.info(
            "market data started",
            extra={"venue": self.venue, "symbols": [i.symbol for i in self.instruments], "ws": ws},
        )

    async def _on_stop(self) -> None:
        if self.feed is not None:
            await self.feed.stop()


def build_market_data(
    config: EngineConfig, events: EventHandler, simulators: dict[str, SimulatorComponent]
) -> list[Component]:
    return [
        VenueFeedComponent(
            name,
            venue,
            events,
            stale_after_s=config.monitor.stale_feed_seconds,
            simulator=simulators.get(name),
        )
        for name, venue in sorted(config.venues.items())
        if venue.enabled and venue.symbols
    ]
