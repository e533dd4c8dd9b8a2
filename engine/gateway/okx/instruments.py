"""OKX spot instrument metadata: `GET /api/v5/public/instruments` -> `Instrument`.

`tickSz` is the price tick, `lotSz` the base step, `minSz` the minimum base size. OKX has no
min-notional field (a too-small order is refused with 51020), so min_notional is 0. OKX
prints prices and sizes with no trailing zeros, so the decimals are those of the tick and
the lot ("0.1" -> 1, "0.00000001" -> 8). A `minSz` off the lot grid is rounded up onto it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import aiohttp

from engine.gateway.errors import InstrumentLoadError
from engine.gateway.metadata import decimal_field, fetch, load_object
from engine.gateway.metadata import excerpt_repr as _excerpt
from engine.gateway.metadata import excerpt_text as _text
from engine.gateway.metadata import round_up_to_step as _on_grid
from engine.model.instrument import Instrument

VENUE = "okx"
UNKNOWN_INSTRUMENT = "51001"  # "Instrument ID does not exist."


def parse_instrument(doc: Mapping[str, Any]) -> Instrument:
    """One entry of the instruments `data` list as an Instrument; raises InstrumentLoadError."""
    symbol = doc.get("instId")
    if not isinstance(symbol, str) or not symbol:
        raise InstrumentLoadError(VENUE, "?", f"entry without an instId: {_excerpt(doc)}")
    if doc.get("instType") != "SPOT":
        raise InstrumentLoadError(VENUE, symbol, f"not a spot instrument: {doc.get('instType')!r}")
    state = doc.get("state")
    if state != "live":
        raise InstrumentLoadError(VENUE, symbol, f"not trading (state {state!r})")
    tick = decimal_field(VENUE, symbol, doc, "tickSz", positive=True)
    lot = decimal_field(VENUE, symbol, doc, "lotSz", positive=True)
    min_qty = _on_grid(decimal_field(VENUE, symbol, doc, "minSz"), lot)
    base, quote = doc.get("baseCcy"), doc.get("quoteCcy")
    if not isinstance(base, str) or not isinstance(quote, str):
        raise InstrumentLoadError(VENUE, symbol, "malformed metadata: baseCcy/quoteCcy")
    try:
        return Instrument(
            symbol=symbol,
            venue=VENUE,
            base=base,
            quote=quote,
            tick_size=tick,
            lot_size=lot,
            min_qty=min_qty,
            min_notional=Decimal(0),
            price_decimals=_decimals(tick),
            qty_decimals=_decimals(lot),
        )
    except (TypeError, ValueError) as exc:
        raise InstrumentLoadError(VENUE, symbol, f"malformed metadata: {exc}") from None


def parse_instruments_response(body: bytes | str | Mapping[str, Any], inst_id: str) -> Instrument:
    """`inst_id` from an instruments response envelope `{"code","msg","data":[...]}`."""
    doc = load_object(VENUE, inst_id, body)
    code = doc.get("code")
    if code == UNKNOWN_INSTRUMENT:
        raise InstrumentLoadError(VENUE, inst_id, f"unknown symbol ({code} {doc.get('msg')})")
    if code != "0":
        raise InstrumentLoadError(VENUE, inst_id, f"error {code}: {doc.get('msg')}")
    data = doc.get("data")
    if not isinstance(data, list):
        raise InstrumentLoadError(VENUE, inst_id, f"malformed response: {_excerpt(doc)}")
    for entry in data:
        if isinstance(entry, Mapping) and entry.get("instId") == inst_id:
            return parse_instrument(entry)
    raise InstrumentLoadError(VENUE, inst_id, "unknown symbol (not in the instruments list)")


async def load_instruments(
    session: aiohttp.ClientSession, rest_url: str, symbols: Sequence[str]
) -> list[Instrument]:
    """Fetch `symbols` (OKX spelling, e.g. BTC-USDT), one request per instrument."""
    url = rest_url.rstrip("/").removesuffix("/api/v5") + "/api/v5/public/instruments"
    loaded: dict[str, Instrument] = {}
    for symbol in dict.fromkeys(symbols):
        params = {"instType": "SPOT", "instId": symbol}
        status, body = await fetch(VENUE, symbol, session, url, params)
        if status != 200:
            raise InstrumentLoadError(VENUE, symbol, f"HTTP {status}: {_text(body)}", status=status)
        loaded[symbol] = parse_instruments_response(body, symbol)
    return [loaded[s] for s in symbols]


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return exponent


def _decimals(step: Decimal) -> int:
    """Fraction digits of a normalised step: 0.1 -> 1, 0.00000001 -> 8, 10 -> 0."""
    return max(0, -_exponent(step))
