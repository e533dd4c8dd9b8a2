"""One venue's market data as an engine component: load its instruments, then keep its books.

A venue's instruments (tick, lot, minimums) come from the venue's own REST metadata at start,
the same way for a live venue and for the local simulator, so the paper configuration runs
the exact path production takes. What is venue-specific (the loader, the feed) is handed in
by the composition root (engine/app.py); this component only orders the steps.

A venue that cannot be reached at start (no answer, 5xx, 429) does not stop the engine: its
instruments come from the last successful load (`InstrumentCache`) and its feed keeps
reconnecting until the venue is back, its books not ready meanwhile; with no cache, the venue
is left out of this run (logged). What a retry cannot fix stops the start: an unknown symbol,
a malformed answer, a refused certificate.

TLS: the metadata GET, the feed's snapshots and its WebSocket verify the venue's certificate
against the CA file the configuration names (`venues.<name>.ca_file`, "" = the system store;
a simulator started by the engine supplies its own). A refused certificate stops the start
with a one-line `TlsVerifyError` naming the venue, the URL and the setting to change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from engine.component import Component
from engine.data.feed import BookFeed
from engine.gateway import tls
from engine.gateway.errors import InstrumentLoadError
from engine.gateway.instrument_cache import InstrumentCache
from engine.model.instrument import Instrument

METADATA_TIMEOUT_S = 15.0


class InstrumentLoader(Protocol):
    async def __call__(
        self, session: aiohttp.ClientSession, rest_url: str, symbols: Sequence[str]
    ) -> list[Instrument]: ...


# Builds the venue's feed once its instruments are known, given (instruments, rest, ws,
# ca_file).
FeedFactory = Callable[[list[Instrument], str, str, str], BookFeed]


class VenueMarketData(Component):
    """Loads one venue's instruments, then runs its book feed."""

    def __init__(
        self,
        venue: str,
        symbols: Sequence[str],
        load: InstrumentLoader,
        make_feed: FeedFactory,
        urls: Callable[[], tuple[str, str]],
        *,
        ca_file: Callable[[], str] = lambda: "",
        cache: InstrumentCache | None = None,
    ) -> None:
        super().__init__(name=f"market_data.{venue}")
        self.venue = venue
        self.symbols = list(symbols)
        self.load = load
        self.make_feed = make_feed
        self.urls = urls  # (rest, ws public), read at start: a simulator's exist only then
        self.ca_file = ca_file  # likewise ("" = the system trust store)
        self.cache = cache
        self.feed: BookFeed | None = None
        self.instruments: list[Instrument] = []
        self.from_cache = False  # the venue was unreachable at start: cached metadata

    async def _on_start(self) -> None:
        rest, ws = self.urls()
        ca_file = self.ca_file()
        timeout = aiohttp.ClientTimeout(total=METADATA_TIMEOUT_S)
        connector = tls.connector(rest, ca_file, self.venue)  # an unusable CA file fails here
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                self.instruments = await self.load(session, rest, self.symbols)
        except InstrumentLoadError as exc:
            if not unreachable(exc):
                raise
            cached = self.cache.load(self.venue, self.symbols) if self.cache else None
            if cached is None:
                self.log.error(
                    "venue unreachable at start and no cached instruments: left out of this "
                    "run; restart the engine once it answers",
                    extra={"venue": self.venue, "error": str(exc)},
                )
                return
            self.log.warning(
                "venue unreachable at start: instruments of its last load; the feed keeps "
                "reconnecting",
                extra={"venue": self.venue, "error": str(exc)},
            )
            self.instruments, self.from_cache = cached, True
        else:
            if self.cache is not None:
                self.cache.save(self.venue, self.instruments)
        # the stream may live on another host than the REST API: its certificate too is
        # checked now, so a wrong CA stops the start instead of retrying forever
        if not self.from_cache and not (
            rest.startswith("https://") and urlsplit(rest).netloc == urlsplit(ws).netloc
        ):
            await tls.check_certificate(self.venue, ws, ca_file)
        self.feed = self.make_feed(self.instruments, rest, ws, ca_file)
        await self.feed.start()
        self.log.info(
            "market data started",
            extra={
                "venue": self.venue,
                "symbols": [i.symbol for i in self.instruments],
                "rest": rest,
                "ws": ws,
                "ca_file": ca_file or "system trust store",
            },
        )

    async def _on_stop(self) -> None:
        if self.feed is not None:
            await self.feed.stop()
            if self.feed.frame_recorder is not None:  # its last frame is on disk
                self.feed.frame_recorder.close()


def unreachable(exc: InstrumentLoadError) -> bool:
    """A failure a later try may not have: no answer, a server error, a rate limit."""
    if exc.status is not None:
        return exc.status >= 500 or exc.status in (418, 429)
    return isinstance(exc.__cause__, TimeoutError | aiohttp.ClientError | OSError)
