"""REST book snapshots for the venues that sync diffs against one (Binance, Gate).

The sync machine (engine/data/sync.py) knows no HTTP: it calls a fetcher with a symbol and
gets the body, or None after a logged failure, and retries on the engine clock. An `https://`
URL is verified against `ca_file` (engine/gateway/tls.py); a refused certificate is logged as
the configuration error it is (`TlsVerifyError`, kept in `tls_error`) and retried likewise.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from engine.data.feed import BookFeed
from engine.gateway import tls

EXCERPT = 200  # bytes of an error body worth a log line


class SnapshotFetcher:
    """GET `url` with the venue's parameters for a symbol, on one keep-alive session."""

    def __init__(
        self,
        feed: BookFeed,
        url: str,
        params: Callable[[str], dict[str, str]],
        *,
        timeout_s: float = 10.0,
        ca_file: str = "",
    ) -> None:
        self.feed = feed
        self.url = url
        self.params = params
        self.timeout_s = timeout_s
        self.ca_file = ca_file
        tls.ssl_for(url, ca_file, feed.venue)  # an unusable CA file fails here, at once
        self.tls_error: tls.TlsVerifyError | None = None
        self._http: aiohttp.ClientSession | None = None

    async def __call__(self, symbol: str) -> bytes | None:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                connector=tls.connector(self.url, self.ca_file, self.feed.venue),
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            )
        feed = self.feed
        try:
            async with self._http.get(self.url, params=self.params(symbol)) as reply:
                body = await reply.read()
        except aiohttp.ClientConnectorCertificateError as exc:
            self.tls_error = tls.certificate_error(feed.venue, self.url, exc, self.ca_file)
            feed.warn_burst(f"snapshot:{symbol}", "%s", self.tls_error)
            return None
        except (aiohttp.ClientError, TimeoutError) as exc:
            feed.warn_burst(
                f"snapshot:{symbol}", "%s %s snapshot failed: %r", feed.venue, symbol, exc
            )
            return None
        if reply.status != 200:
            excerpt = body[:EXCERPT].decode(errors="replace")
            feed.warn_burst(
                f"snapshot:{symbol}",
                "%s %s snapshot: HTTP %d %s",
                feed.venue,
                symbol,
                reply.status,
                excerpt,
            )
            return None
        return body

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
