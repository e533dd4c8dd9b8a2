"""The client side of TLS: one verifying `ssl.SSLContext` per CA file.

Every adapter, feed and snapshot fetcher connects through `client_ssl_context(ca_file)`:
the system's trust store when `ca_file` is empty, else exactly the CAs in that file (the
simulator's, or a corporate proxy's). Verification is never switched off.
"""

from __future__ import annotations

import functools
import ssl
from pathlib import Path


class TlsConfigError(ValueError):
    """The CA file named in the configuration cannot be used."""


@functools.lru_cache(maxsize=8)
def client_ssl_context(ca_file: str = "") -> ssl.SSLContext:
    """A verifying client context (hostname and chain), shared by every connection that
    names the same CA file."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_file:
        path = Path(ca_file)
        if not path.is_file():
            raise TlsConfigError(f"CA file {ca_file!r} does not exist (venues.<name>.ca_file)")
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(path))
        except ssl.SSLError as exc:
            raise TlsConfigError(f"CA file {ca_file!r} holds no usable certificate: {exc}") from exc
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def ssl_for(url: str, ca_file: str = "") -> ssl.SSLContext | None:
    """The context for a `https://` or `wss://` URL; None for plain `http://`/`ws://`."""
    return client_ssl_context(ca_file) if url.startswith(("https://", "wss://")) else None
