"""Run one simulated venue on loopback: its protocol app, control routes and market driver.

    async with start_sim("binance", seed=1) as sim:
        sim.urls.rest, sim.urls.ws_public, sim.api_key, sim.api_secret ...

    async with start_sim("okx", tls=True) as sim:     # https:// and wss://
        OkxBookFeed(..., ws_url=sim.urls.ws_public, ca_file=sim.ca_file)

With `tls=True` the simulator makes a CA at start (engine/sim/certs.py), serves with a
certificate it signs for 127.0.0.1/localhost, and writes the CA's PEM to `sim.ca_file`.

The same object serves tests, `python -m engine.sim` and the paper configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import ModuleType

from aiohttp import web

from engine.clock import NS_PER_MS, Clock, LiveClock
from engine.model.instrument import Instrument
from engine.sim import presets
from engine.sim.certs import ANY_ADDRESS, SimCertificate, make_certificate
from engine.sim.control import add_control_routes
from engine.sim.driver import SyntheticMarket
from engine.sim.exchange import SimExchange, SimUrls
from engine.sim.faults import FaultInjector
from engine.sim.matching import MatchingConfig, PostOnlyStyle
from engine.sim.replay import RecordedFrame, ReplayMarket, read_recording
from engine.sim.venues import binance as venue_binance
from engine.sim.venues import gate as venue_gate
from engine.sim.venues import okx as venue_okx
from engine.wire.credentials import Credentials

log = logging.getLogger("engine.sim")

ACCOUNT = "user"

# How each venue treats a post-only order that would take: Binance rejects LIMIT_MAKER
# (-2010); OKX accepts post_only and then cancels it; Gate answers poc with a cancelled order.
POST_ONLY_STYLE = {
    "binance": PostOnlyStyle.REJECT,
    "okx": PostOnlyStyle.CANCEL,
    "gate": PostOnlyStyle.CANCEL,
}


@dataclass(slots=True)
class SimOptions:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = any free port
    seed: int = 0
    market: bool = True  # run the synthetic background market
    market_interval_ms: float = 10.0  # one driver step per symbol this often (1 ms at least)
    api_key: str = ""  # "" = generate one for this run
    api_secret: str = ""
    passphrase: str = ""
    balances: Mapping[str, Decimal] = field(default_factory=lambda: dict(presets.DEFAULT_BALANCES))
    instruments: list[Instrument] | None = None  # None = the venue's presets
    matching: MatchingConfig | None = None  # None = the venue's own post-only behaviour
    venue_options: dict[str, object] = field(default_factory=dict)  # create_app(**venue_options)
    replay_path: str = ""  # a recording (JSON lines) to replay as the market instead
    replay_symbol: str = ""  # the recording's symbol ("" = the first instrument)
    replay_speed: float = 1.0
    tls: bool = False  # serve https:// and wss:// with a certificate from a CA made at start
    ca_path: str = ""  # where to write that CA's PEM ("" = a temporary file, removed at stop)


@dataclass(slots=True)
class RunningSim:
    venue: str
    urls: SimUrls
    exchange: SimExchange
    api_key: str
    api_secret: str
    passphrase: str
    credentials_generated: bool
    markets: dict[str, SyntheticMarket]
    _runner: web.AppRunner
    _market_task: asyncio.Task[None] | None
    certificate: SimCertificate | None = None  # set when serving TLS

    @property
    def ca_file(self) -> str:
        """The PEM file of the CA that signed this simulator's certificate ("" without TLS):
        what `venues.<name>.ca_file` (or SSL_CERT_FILE, for other clients) should name."""
        return self.certificate.ca_file if self.certificate is not None else ""

    async def stop_market(self) -> None:
        """Freeze the background market (the venue keeps serving): books stop changing."""
        if self._market_task is not None:
            self._market_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._market_task
            self._market_task = None

    async def stop(self) -> None:
        await self.stop_market()
        await self._runner.cleanup()
        if self.certificate is not None:
            self.certificate.remove()


_VENUE_MODULES: dict[str, ModuleType] = {
    "binance": venue_binance,
    "okx": venue_okx,
    "gate": venue_gate,
}


def venue_module(venue: str) -> ModuleType:
    if venue not in presets.VENUES:
        raise ValueError(
            f"unknown venue {venue!r}; the simulator speaks {', '.join(presets.VENUES)}"
        )
    return _VENUE_MODULES[venue]


def build_exchange(
    venue: str, options: SimOptions, clock: Clock
) -> tuple[SimExchange, Credentials, bool]:
    generated = not (options.api_key and options.api_secret)
    creds = Credentials(
        options.api_key or secrets.token_hex(16),
        options.api_secret or secrets.token_hex(32),
        options.passphrase or (secrets.token_urlsafe(12) if venue == "okx" else None),
    )
    exchange = SimExchange(
        venue,
        options.instruments or presets.default_instruments(venue),
        clock=clock,
        faults=FaultInjector(options.seed),
        matching=options.matching or MatchingConfig(post_only=POST_ONLY_STYLE[venue]),
    )
    exchange.open_account(ACCOUNT, options.balances, creds)
    return exchange, creds, generated


async def _drive(markets: list[SyntheticMarket], clock: Clock, interval_ns: int) -> None:
    while True:
        now = clock.time_ns()
        for market in markets:
            try:
                market.step(now)
            except Exception:
                log.exception("market driver step failed for %s", market.instrument.symbol)
        await clock.sleep_ns(interval_ns)


async def _replay(
    replay: ReplayMarket, frames: Iterable[RecordedFrame], clock: Clock, speed: float
) -> None:
    count = await replay.run(frames, clock, speed=speed)
    log.info("replay finished", extra={"frames": count, "skipped": replay.skipped})


async def launch(
    venue: str, options: SimOptions | None = None, clock: Clock | None = None
) -> RunningSim:
    options = options or SimOptions()
    clock = clock or LiveClock()
    module = venue_module(venue)
    exchange, creds, generated = build_exchange(venue, options, clock)
    app: web.Application = module.create_app(exchange, **options.venue_options)
    add_control_routes(app, exchange)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    certificate = make_certificate(options.host, options.ca_path, venue) if options.tls else None
    try:
        site = web.TCPSite(
            runner,
            options.host,
            options.port,
            ssl_context=certificate.server_context if certificate is not None else None,
        )
        await site.start()
    except BaseException:
        await runner.cleanup()
        if certificate is not None:
            certificate.remove()
        raise
    port = runner.addresses[0][1]
    host = options.host
    if certificate is not None and host in ANY_ADDRESS:
        host = "127.0.0.1"  # a name the certificate holds (bound to every address)
    host = f"[{host}]" if ":" in host else host
    http, ws = ("https", "wss") if certificate is not None else ("http", "ws")
    urls: SimUrls = module.urls(f"{http}://{host}:{port}", f"{ws}://{host}:{port}")
    markets = {
        inst.symbol: SyntheticMarket(
            exchange.engine,
            inst,
            presets.MARKETS[inst.base],
            seed=options.seed * 1_000_003 + i,
            publish=exchange.publish,
        )
        for i, inst in enumerate(exchange.instruments())
        if inst.base in presets.MARKETS
    }
    task: asyncio.Task[None] | None = None
    if options.replay_path:
        symbol = options.replay_symbol or exchange.instruments()[0].symbol
        replay = ReplayMarket(exchange.engine, symbol, publish=exchange.publish)
        frames = read_recording(options.replay_path)
        task = asyncio.create_task(_replay(replay, frames, clock, options.replay_speed))
    elif options.market and markets:
        for market in markets.values():
            market.step(clock.time_ns())  # a full book before the first client connects
        # uvloop's timers tick in whole milliseconds: a shorter step becomes a busy loop of
        # market steps that leaves the writers no time (output collapsed at 0.5 ms), so the
        # driver never steps faster than once a millisecond
        interval = max(NS_PER_MS, int(options.market_interval_ms * NS_PER_MS))
        task = asyncio.create_task(_drive(list(markets.values()), clock, interval))
    return RunningSim(
        venue,
        urls,
        exchange,
        creds.api_key,
        creds.api_secret,
        creds.passphrase or "",
        generated,
        markets,
        runner,
        task,
        certificate,
    )


@contextlib.asynccontextmanager
async def start_sim(
    venue: str,
    *,
    seed: int = 0,
    market: bool = True,
    clock: Clock | None = None,
    **options: object,
) -> AsyncIterator[RunningSim]:
    """Run a simulated venue for the duration of the block (see `SimOptions` for options);
    its timers, rate windows and market run on `clock` (the system's by default)."""
    sim = await launch(venue, SimOptions(seed=seed, market=market, **options), clock)  # type: ignore[arg-type]
    try:
        yield sim
    finally:
        await sim.stop()
