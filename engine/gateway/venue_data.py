"""One venue's market data as an engine component: load its instruments, then keep its books.

A venue's instruments (tick, lot, minimums) come from the venue's own REST metadata at start,
the same way for a live venue and for the local simulator, so the paper configuration runs
the exact path production takes. What is venue-specific (the loader, the feed) is handed in
by the composition root (engine/app.py); this component only orders the steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import aiohttp

from engine.component import Component
from engine.data.feed import BookFeed
from engine.model.instrument import Instrument

METADATA_TIMEOUT_S = 15.0


class InstrumentLoader(Protocol):
    async def __call__(
        self, session: aiohttp.ClientSession, rest_url: str, symbols: Sequence[str]
    ) -> list[Instrument]: ...


# Builds the venue's feed once its instruments are known, given (instruments, rest, ws).
FeedFactory = Callable[[list[Instrument], str, str], BookFeed]


class VenueMarketData(Component):
    """Loads one venue's instruments, then runs its book feed."""

    def __init__(
        self,
        venue: str,
        symbols: Sequence[str],
        load: InstrumentLoader,
        make_feed: FeedFactory,
        urls: Callable[[], tuple[str, str]],
    ) -> None:
        super().__init__(name=f"market_data.{venue}")
        self.venue = venue
        self.symbols = list(symbols)
        self.load = load
        self.make_feed = make_feed
        self.urls = urls  # (rest, ws public), read at start: a simulator's exist only then
        self.feed: BookFeed | None = None
        self.instruments: list[Instrument] = []

    async def _on_start(self) -> None:
        rest, ws = self.urls()
        timeout = aiohttp.ClientTimeout(total=METADATA_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            self.instruments = await self.load(session, rest, self.symbols)
        self.feed = self.make_feed(self.instruments, rest, ws)
        await self.feed.start()
        self.log.info(
            "market data started",
            extra={"venue": self.venue, "symbols": [i.symbol for i in self.instruments], "ws": ws},
        )

    async def _on_stop(self) -> None:
        if self.feed is not None:
            await self.feed.stop()
