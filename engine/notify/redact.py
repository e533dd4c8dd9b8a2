"""Keeping secrets out of logs: webhook URLs carry their token in the path or query and a
Telegram bot token sits in the API URL, so every text a sink's failure produces (including
aiohttp's exception messages, which quote the URL) passes through `Redactor.text`."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, urlsplit

MASK = "***"


def mask_url(url: str) -> str:
    """`https://hooks.example.com/T0/B1/xyz?token=1` -> `https://hooks.example.com/***`:
    scheme and host say where it goes; everything that may be a credential is hidden."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/{MASK}" if parts.scheme else MASK


class Redactor:
    """Replaces every registered secret (and the URL-quoted form aiohttp may print)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        for secret in secrets:
            # short strings would mask ordinary words; nothing that short is a credential
            if len(secret) < 6:
                continue
            for form in (secret, quote(secret, safe=":/?=&@"), quote(secret, safe="")):
                if form not in self._secrets:
                    self._secrets.append(form)
        # longest first: a URL containing a token is masked whole, not token by token
        self._secrets.sort(key=len, reverse=True)

    def text(self, value: object) -> str:
        out = str(value)
        for secret in self._secrets:
            if secret in out:
                out = out.replace(secret, MASK)
        return out
