"""Helpers shared by the venues' instrument loaders: the metadata GET, the JSON object and
decimal-field parsing of a reply, exact decimal forms and error excerpts.

Every failure is an `InstrumentLoadError` naming the venue and symbol, so each loader only
adds what is its venue's own (paths, envelopes, error codes).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal, InvalidOperation, localcontext
from typing import Any

import aiohttp
import orjson

from engine.gateway import tls
from engine.gateway.errors import InstrumentLoadError

EXCERPT = 200  # characters of a venue's reply quoted in an error


def plain_decimal(value: Decimal) -> Decimal:
    """Trailing zeros dropped, never an exponent above zero ("10.00" -> 10, not 1E+1)."""
    value = value.normalize()
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return value.quantize(Decimal(1)) if exponent > 0 else value


def round_up_to_step(value: Decimal, step: Decimal) -> Decimal:
    """`value` rounded up to a multiple of `step` (exact), in plain form."""
    with localcontext() as ctx:
        ctx.prec = 60
        units = (value / step).to_integral_value(rounding=ROUND_CEILING)
        return plain_decimal(units * step)


def excerpt_text(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text[:EXCERPT]


def excerpt_repr(doc: object) -> str:
    return repr(doc)[:EXCERPT]


async def fetch(
    venue: str,
    symbol: str,
    session: aiohttp.ClientSession,
    url: str,
    params: Mapping[str, str] | None = None,
) -> tuple[int, bytes]:
    """GET `url`: (HTTP status, body). A timeout or transport failure is an
    InstrumentLoadError for `symbol`; an error status is returned for the caller to judge,
    because each venue says "unknown symbol" its own way. A refused TLS certificate is a
    `TlsVerifyError` (the session's connector carries the venue's CA: `tls.connector`)."""
    try:
        async with session.get(url, params=params) as response:
            return response.status, await response.read()
    except aiohttp.ClientConnectorCertificateError as exc:
        raise tls.certificate_error(venue, url, exc, tls.session_ca_file(session)) from None
    except (TimeoutError, aiohttp.ClientError) as exc:
        reason = f"GET {url} failed: {type(exc).__name__}: {exc}"
        raise InstrumentLoadError(venue, symbol, reason) from exc


def load_object(
    venue: str, symbol: str, body: bytes | str | Mapping[str, Any]
) -> Mapping[str, Any]:
    """A reply body as a JSON object (a mapping passes through, already parsed)."""
    if isinstance(body, Mapping):
        return body
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InstrumentLoadError(venue, symbol, f"not JSON: {excerpt_text(body)}") from None
    if not isinstance(doc, dict):
        raise InstrumentLoadError(venue, symbol, f"not a JSON object: {excerpt_text(body)}")
    return doc


def error_field(body: bytes, name: str) -> object:
    """Field `name` of an error reply, or None when the body is not a JSON object."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return doc.get(name) if isinstance(doc, dict) else None


def decimal_field(
    venue: str,
    symbol: str,
    doc: Mapping[str, Any],
    name: str,
    *,
    positive: bool = False,
    absent_is_zero: bool = False,
) -> Decimal:
    """A non-negative decimal field (string or int), normalised to its shortest plain form.

    `positive` refuses zero (a tick or a step); `absent_is_zero` reads a missing, null or
    empty field as 0 (Gate omits minimums it does not enforce).
    """
    raw = doc.get(name)
    if absent_is_zero and (raw is None or raw == ""):
        return Decimal(0)
    try:
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise InvalidOperation
        value = Decimal(raw)
    except InvalidOperation:
        raise InstrumentLoadError(venue, symbol, f"malformed metadata: {name}={raw!r}") from None
    if not value.is_finite() or value < 0 or (positive and value == 0):
        raise InstrumentLoadError(venue, symbol, f"malformed metadata: {name}={raw!r}")
    return plain_decimal(value)
