"""A venue that cannot be reached at start does not stop the engine: its instruments come from
the last successful load and its feed connects when the venue is back; without a cache it is
left out. What a retry cannot fix (an unknown symbol) still stops the start."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from support import until

from engine.clock import LiveClock
from engine.data.feed import FeedOptions
from engine.events import EventDispatcher
from engine.gateway.binance import instruments as binance_instruments
from engine.gateway.binance.feed import BinanceBookFeed
from engine.gateway.errors import InstrumentLoadError
from engine.gateway.instrument_cache import InstrumentCache
from engine.gateway.venue_data import VenueMarketData
from engine.gateway.ws import WsOptions
from engine.model.instrument import Instrument
from engine.sim.server import RunningSim, SimOptions, launch

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def _market_data(
    urls: tuple[str, str], ca_file: str, cache: InstrumentCache, symbols: list[str]
) -> VenueMarketData:
    def make(instruments: list[Instrument], rest: str, ws: str, ca: str) -> BinanceBookFeed:
        return BinanceBookFeed(
            instruments,
            EventDispatcher(),
            rest_url=rest,
            ws_url=ws,
            clock=LiveClock(),
            options=FeedOptions(book_capacity=100),
            ws_options=WsOptions(stale_after_s=5.0, backoff_max_s=0.2),
            ca_file=ca,
        )

    return VenueMarketData(
        "binance",
        symbols,
        binance_instruments.load_instruments,
        make,
        lambda: urls,
        ca_file=lambda: ca_file,
        cache=cache,
    )


def _port(sim: RunningSim) -> int:
    return int(sim.urls.rest.rsplit(":", 1)[1].split("/", 1)[0])


async def test_cached_instruments_and_a_feed_that_waits_for_the_venue(tmp_path: Path) -> None:
    cache = InstrumentCache(tmp_path / "instruments")
    # plain http/ws: the simulator that comes back makes a new CA (a real venue keeps its
    # certificate), and this test is about the venue being away, not about TLS
    options = SimOptions(market=True)
    sim = await launch("binance", options)
    urls, ca = (sim.urls.rest, sim.urls.ws_public), sim.ca_file
    first = _market_data(urls, ca, cache, SYMBOLS)
    await first.start()
    assert not first.from_cache and cache.load("binance", SYMBOLS) == first.instruments
    await first.stop()
    port = _port(sim)
    await sim.stop()

    second = _market_data(urls, ca, cache, SYMBOLS)
    await second.start()  # the venue is down: no exception
    back: RunningSim | None = None
    try:
        assert second.from_cache and second.instruments == first.instruments
        assert second.feed is not None and not second.feed.ready["BTCUSDT"]
        back = await launch("binance", dataclasses.replace(options, port=port))
        await until(lambda: second.feed is not None and second.feed.ready["BTCUSDT"])
    finally:
        await second.stop()
        if back is not None:
            await back.stop()


async def test_no_cache_leaves_the_venue_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = InstrumentCache(tmp_path / "empty")
    sim = await launch("binance", SimOptions(market=False))
    urls = (sim.urls.rest, sim.urls.ws_public)
    await sim.stop()
    data = _market_data(urls, "", cache, SYMBOLS)
    with caplog.at_level(logging.ERROR):
        await data.start()
    assert data.instruments == [] and data.feed is None
    assert "left out of this run" in caplog.text
    await data.stop()


async def test_what_a_retry_cannot_fix_still_stops_the_start(tmp_path: Path) -> None:
    cache = InstrumentCache(tmp_path / "instruments")
    sim = await launch("binance", SimOptions(market=False))
    try:
        data = _market_data((sim.urls.rest, sim.urls.ws_public), "", cache, ["NOSUCHPAIR"])
        with pytest.raises(InstrumentLoadError, match="NOSUCHPAIR"):
            await data.start()
    finally:
        await sim.stop()


def test_a_damaged_or_partial_cache_is_no_cache(tmp_path: Path) -> None:
    cache = InstrumentCache(tmp_path)
    assert cache.load("binance", SYMBOLS) is None
    cache.path("binance").write_text("{not json")
    assert cache.load("binance", SYMBOLS) is None
    cache.path("binance").write_text('{"version": 1, "instruments": [{"symbol": "BTCUSDT"}]}')
    assert cache.load("binance", SYMBOLS) is None
