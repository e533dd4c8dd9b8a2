"""One module per venue: the venue's real REST and WebSocket protocol over a `SimExchange`.

Each exports `create_app(exchange) -> aiohttp.web.Application` and
`urls(http_base, ws_base) -> SimUrls`."""
