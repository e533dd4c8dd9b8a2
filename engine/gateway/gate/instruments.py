"""Gate spot instrument metadata: `GET /spot/currency_pairs/{pair}` -> `Instrument`.

Gate publishes no tick: `precision` is the price's decimals (tick = 10^-precision) and
`amount_precision` the amount's (step = 10^-amount_precision); those are also the decimals.
`min_base_amount` is the minimum quantity (rounded up onto the step grid when off it) and
`min_quote_amount` the minimum notional; either may be absent (then 0). Only a pair whose
`trade_status` is "tradable" loads: "buyable"/"sellable" are one-sided, useless to a maker.
The REST base includes `/api/v4` (https://api.gateio.ws/api/v4); a bare host gets it added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import aiohttp

from engine.gateway.errors import InstrumentLoadError
from engine.gateway.metadata import decimal_field, error_field, fetch, load_object
from engine.gateway.metadata import excerpt_repr as _excerpt
from engine.gateway.metadata import excerpt_text as _text
from engine.gateway.metadata import round_up_to_step as _on_grid
from engine.model.instrument import Instrument

VENUE = "gate"
UNKNOWN_PAIR = "INVALID_CURRENCY_PAIR"
_MAX_PRECISION = 18


def parse_currency_pair(body: bytes | str | Mapping[str, Any]) -> Instrument:
    """A Gate `CurrencyPair` object as an Instrument; raises InstrumentLoadError."""
    doc = load_object(VENUE, "?", body)
    symbol = doc.get("id")
    if not isinstance(symbol, str) or not symbol:
        raise InstrumentLoadError(VENUE, "?", f"pair without an id: {_excerpt(doc)}")
    status = doc.get("trade_status")
    if status != "tradable":
        raise InstrumentLoadError(VENUE, symbol, f"not trading (trade_status {status!r})")
    price_decimals = _precision(symbol, doc, "precision")
    qty_decimals = _precision(symbol, doc, "amount_precision")
    tick = Decimal(1).scaleb(-price_decimals)
    step = Decimal(1).scaleb(-qty_decimals)
    min_qty = _on_grid(_decimal(symbol, doc, "min_base_amount"), step)
    min_notional = _decimal(symbol, doc, "min_quote_amount")
    base, quote_ccy = doc.get("base"), doc.get("quote")
    if not isinstance(base, str) or not isinstance(quote_ccy, str):
        raise InstrumentLoadError(VENUE, symbol, "malformed metadata: base/quote")
    try:
        return Instrument(
            symbol=symbol,
            venue=VENUE,
            base=base,
            quote=quote_ccy,
            tick_size=tick,
            lot_size=step,
            min_qty=min_qty,
            min_notional=min_notional,
            price_decimals=price_decimals,
            qty_decimals=qty_decimals,
        )
    except (TypeError, ValueError) as exc:
        raise InstrumentLoadError(VENUE, symbol, f"malformed metadata: {exc}") from None


async def load_instruments(
    session: aiohttp.ClientSession, rest_url: str, symbols: Sequence[str]
) -> list[Instrument]:
    """Fetch `symbols` (Gate spelling, e.g. BTC_USDT), one request per pair."""
    base = rest_url.rstrip("/")
    if not base.endswith("/api/v4"):
        base += "/api/v4"
    loaded: dict[str, Instrument] = {}
    for symbol in dict.fromkeys(symbols):
        url = f"{base}/spot/currency_pairs/{quote(symbol, safe='')}"
        status, body = await fetch(VENUE, symbol, session, url)
        if status != 200:
            if _label(body) == UNKNOWN_PAIR or status == 404:
                raise InstrumentLoadError(
                    VENUE, symbol, f"unknown symbol (HTTP {status}: {_text(body)})", status=status
                )
            raise InstrumentLoadError(VENUE, symbol, f"HTTP {status}: {_text(body)}", status=status)
        instrument = parse_currency_pair(body)
        if instrument.symbol != symbol:
            raise InstrumentLoadError(VENUE, symbol, f"asked for it, got {instrument.symbol}")
        loaded[symbol] = instrument
    return [loaded[s] for s in symbols]


def _label(body: bytes) -> str | None:
    label = error_field(body, "label")
    return label if isinstance(label, str) else None


def _precision(symbol: str, doc: Mapping[str, Any], name: str) -> int:
    raw = doc.get(name)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= _MAX_PRECISION:
        raise InstrumentLoadError(VENUE, symbol, f"malformed metadata: {name}={raw!r}")
    return raw


def _decimal(symbol: str, doc: Mapping[str, Any], name: str) -> Decimal:
    """Gate's optional minimums: absent, null or "" -> 0."""
    return decimal_field(VENUE, symbol, doc, name, absent_is_zero=True)
