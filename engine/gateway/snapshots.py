"""REST book snapshots for the venues that sync diffs against one (Binance, Gate).

The sync machine (engine/data/sync.py) knows no HTTP: it calls a fetcher with a symbol and
gets the body, or None after a logged failure, and retries on the engine clock.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from engine.data.feed import BookFeed

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
    ) -> None:
        self.feed = feed
        self.url = url
        self.params = params
        self.timeout_s = timeout_s
        self._http: aiohttp.ClientSession | None = None

    async def __call__(self, symbol: str) -> bytes | None:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        feed = self.feed
        try:
            async with self._http.get(self.url, params=self.params(symbol)) as reply:
                body = await reply.read()
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
