"""The client side of TLS: one verifying `ssl.SSLContext` per CA file.

Every adapter, feed and snapshot fetcher connects through `client_ssl_context(ca_file)`:
the system's trust store when `ca_file` is empty, else exactly the CAs in that file (the
simulator's, or a corporate proxy's). Verification is never switched off.

A certificate the context refuses is a configuration error, not a network failure: retrying
cannot fix it. `certificate_error(...)` turns the `ssl` / aiohttp exception into one line
that names the venue and URL and says which setting to change.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp


class TlsConfigError(ValueError):
    """The CA file named in the configuration cannot be used."""


class TlsVerifyError(TlsConfigError):
    """A venue's certificate is not trusted by the CA file its configuration names."""

    def __init__(self, venue: str, url: str, reason: str, ca_file: str) -> None:
        trust = f"the CA file {ca_file!r}" if ca_file else "the system trust store"
        super().__init__(
            f"{venue or 'venue'}: TLS certificate of {url} refused by {trust} ({reason}); "
            f"set venues.{venue or '<name>'}.ca_file to the CA bundle that signed it"
        )
        self.venue = venue
        self.url = url
        self.reason = reason
        self.ca_file = ca_file


@functools.lru_cache(maxsize=16)
def _context(path: str, pem: bytes) -> ssl.SSLContext:
    if path:
        try:
            context = ssl.create_default_context(
                ssl.Purpose.SERVER_AUTH, cadata=pem.decode("ascii", "replace")
            )
        except ssl.SSLError as exc:
            raise TlsConfigError(f"CA file {path!r} holds no usable certificate: {exc}") from exc
    else:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_ssl_context(ca_file: str = "", venue: str = "") -> ssl.SSLContext:
    """A verifying client context (hostname and chain), shared by every connection that
    names the same CA file with the same content (a file rewritten in place, as a restarted
    simulator does, gets a fresh context). `venue` names the setting in an error."""
    if not ca_file:
        return _context("", b"")
    setting = f"venues.{venue or '<name>'}.ca_file"
    path = Path(ca_file)
    try:
        pem = path.read_bytes()
    except OSError as exc:
        reason = "does not exist" if not path.exists() else f"cannot be read ({exc.strerror})"
        raise TlsConfigError(f"{setting}: CA file {ca_file!r} {reason}") from None
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise TlsConfigError(f"{setting}: CA file {ca_file!r} holds no PEM certificate")
    try:
        return _context(str(path), pem)
    except TlsConfigError as exc:
        raise TlsConfigError(f"{setting}: {exc}") from None


def ssl_for(url: str, ca_file: str = "", venue: str = "") -> ssl.SSLContext | None:
    """The context for a `https://` or `wss://` URL; None for plain `http://`/`ws://`."""
    return client_ssl_context(ca_file, venue) if url.startswith(("https://", "wss://")) else None


class VerifyingConnector(aiohttp.TCPConnector):
    """An aiohttp connector that knows which CA file verifies its connections (for errors)."""

    def __init__(self, url: str, ca_file: str = "", venue: str = "", **kwargs: object) -> None:
        context = ssl_for(url, ca_file, venue)
        if context is not None:
            kwargs["ssl"] = context
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.ca_file = ca_file


def connector(url: str, ca_file: str = "", venue: str = "") -> VerifyingConnector:
    """An aiohttp connector that verifies `url`'s certificate against `ca_file` (plain
    `http://` needs no context: aiohttp's default stays). Build it inside the running loop."""
    return VerifyingConnector(url, ca_file, venue)


def session_ca_file(session: aiohttp.ClientSession) -> str:
    """The CA file a session's connector verifies with ("" = the system store)."""
    conn = session.connector
    return conn.ca_file if isinstance(conn, VerifyingConnector) else ""


def verify_failure(exc: BaseException) -> str | None:
    """The verification failure behind `exc` ("certificate verify failed: ..."), or None
    when `exc` is not a certificate refusal (a refused port, a timeout...)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        # aiohttp's error is itself an ssl.CertificateError, wrapping the real one
        if isinstance(current, aiohttp.ClientConnectorCertificateError):
            return verify_failure(current.certificate_error) or str(current.certificate_error)
        if isinstance(current, ssl.SSLCertVerificationError):
            message = getattr(current, "verify_message", None)
            return str(message or getattr(current, "reason", None) or current)
        current = current.__cause__ or current.__context__
    return None


def certificate_error(venue: str, url: str, exc: BaseException, ca_file: str) -> TlsVerifyError:
    """The one-line configuration error for a refused certificate (see `verify_failure`)."""
    reason = verify_failure(exc) or str(exc)
    return TlsVerifyError(venue, url, f"certificate verify failed: {reason}", ca_file)


async def check_certificate(venue: str, url: str, ca_file: str, timeout_s: float = 10.0) -> None:
    """One TLS handshake with the host of a `https://`/`wss://` URL: raises TlsVerifyError if
    its certificate is refused, returns otherwise (also when the host cannot be reached:
    the connection that follows retries that on its own). Plain URLs pass."""
    context = ssl_for(url, ca_file, venue)
    if context is None:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 443
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host), timeout_s
        )
    except ssl.SSLCertVerificationError as exc:
        raise certificate_error(venue, url, exc, ca_file) from None
    except (OSError, TimeoutError):
        return
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
