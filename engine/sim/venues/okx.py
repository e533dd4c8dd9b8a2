"""The OKX v5 protocol of the local exchange simulator (docs/VENUES.md §2).

`create_app(exchange)` serves OKX's REST paths and the /ws/v5/public and /ws/v5/private
WebSockets over a `SimExchange`; `urls()` says where a client finds them. The work is split
by concern: `okx_messages` (JSON shapes, codes, checksum), `okx_core` (auth, rate limits,
order operations, cancel-all-after), `okx_rest`, `okx_conn` (per-connection writer and WS
faults), `okx_public` (market data channels) and `okx_ws` (WS endpoints).
"""

from __future__ import annotations

from aiohttp import web

from engine.sim.exchange import SimExchange, SimUrls
from engine.sim.matching import PostOnlyStyle
from engine.sim.venues import okx_rest, okx_ws
from engine.sim.venues.okx_core import ChecksumMode, OkxConfig, OkxVenue
from engine.sim.venues.okx_public import PublicHub

__all__ = ["OkxConfig", "create_app", "urls"]

CONFIG_KEY = web.AppKey("okx_config", OkxConfig)


def create_app(
    exchange: SimExchange,
    *,
    checksum: ChecksumMode = "crc32",
    config: OkxConfig | None = None,
) -> web.Application:
    """The simulated OKX. `checksum="zero"` sends the constant 0 OKX uses since 2026-06-23
    instead of the legacy CRC32 (an explicit `config` wins over the keyword)."""
    if checksum not in ("crc32", "zero"):
        raise ValueError(f"checksum must be 'crc32' or 'zero', got {checksum!r}")
    settings = config or OkxConfig(checksum=checksum)
    if exchange.engine.config.post_only is not PostOnlyStyle.CANCEL:
        # OKX accepts a crossing post_only order, then cancels it (cancelSource 31)
        raise ValueError("the OKX simulator needs MatchingConfig(post_only=PostOnlyStyle.CANCEL)")
    venue = OkxVenue(exchange, settings)
    hub = PublicHub(venue)
    app = web.Application(middlewares=[okx_rest.okx_middleware])
    app[okx_rest.VENUE_KEY] = venue
    app[okx_ws.HUB_KEY] = hub
    app[CONFIG_KEY] = settings
    okx_rest.add_routes(app)
    okx_ws.add_routes(app)

    async def start(_: web.Application) -> None:
        hub.start()

    async def shutdown(_: web.Application) -> None:
        await venue.close()

    async def cleanup(_: web.Application) -> None:
        await hub.stop()

    app.on_startup.append(start)
    app.on_shutdown.append(shutdown)
    app.on_cleanup.append(cleanup)
    return app


def urls(http_base: str, ws_base: str) -> SimUrls:
    """OKX puts order entry on the private WebSocket, so ws_api is the private URL."""
    http_base, ws_base = http_base.rstrip("/"), ws_base.rstrip("/")
    private = f"{ws_base}/ws/v5/private"
    return SimUrls(
        rest=http_base, ws_public=f"{ws_base}/ws/v5/public", ws_private=private, ws_api=private
    )
