"""Binance spot instrument metadata: `GET /api/v3/exchangeInfo` -> `Instrument`.

Grids come from the symbol's filters: PRICE_FILTER `tickSize`, LOT_SIZE `stepSize` and
`minQty`, NOTIONAL (or the older MIN_NOTIONAL) `minNotional`. Binance prints every price and
quantity with 8 fraction digits whatever the tick, so both decimals are 8; the steps are
normalised ("0.01000000" -> 0.01). A `minQty` off the step grid is rounded up onto it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import aiohttp

from engine.gateway.errors import InstrumentLoadError
from engine.gateway.metadata import decimal_field, error_field, fetch, load_object
from engine.gateway.metadata import excerpt_repr as _excerpt
from engine.gateway.metadata import excerpt_text as _text
from engine.gateway.metadata import round_up_to_step as _on_grid
from engine.model.instrument import Instrument

VENUE = "binance"
DECIMALS = 8  # Binance prints every price and quantity with 8 fraction digits
BAD_SYMBOL = -1121


def parse_symbol_info(doc: Mapping[str, Any]) -> Instrument:
    """One entry of exchangeInfo's `symbols` as an Instrument; raises InstrumentLoadError."""
    symbol = doc.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise InstrumentLoadError(VENUE, "?", f"entry without a symbol: {_excerpt(doc)}")
    status = doc.get("status")
    if status != "TRADING" or doc.get("isSpotTradingAllowed") is False:
        raise InstrumentLoadError(VENUE, symbol, f"not trading (status {status!r})")
    filters: dict[str, Mapping[str, Any]] = {}
    raw_filters = doc.get("filters")
    if not isinstance(raw_filters, list):
        raise InstrumentLoadError(VENUE, symbol, "malformed metadata: no filters list")
    for item in raw_filters:
        if isinstance(item, Mapping) and isinstance(item.get("filterType"), str):
            filters.setdefault(item["filterType"], item)
    price = _filter(symbol, filters, "PRICE_FILTER")
    lot = _filter(symbol, filters, "LOT_SIZE")
    notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL")
    tick = decimal_field(VENUE, symbol, price, "tickSize", positive=True)
    step = decimal_field(VENUE, symbol, lot, "stepSize", positive=True)
    min_qty = _on_grid(decimal_field(VENUE, symbol, lot, "minQty"), step)
    min_notional = decimal_field(VENUE, symbol, notional, "minNotional") if notional else Decimal(0)
    base, quote = doc.get("baseAsset"), doc.get("quoteAsset")
    if not isinstance(base, str) or not isinstance(quote, str):
        raise InstrumentLoadError(VENUE, symbol, "malformed metadata: baseAsset/quoteAsset")
    try:
        return Instrument(
            symbol=symbol,
            venue=VENUE,
            base=base,
            quote=quote,
            tick_size=tick,
            lot_size=step,
            min_qty=min_qty,
            min_notional=min_notional,
            price_decimals=DECIMALS,
            qty_decimals=DECIMALS,
        )
    except (TypeError, ValueError) as exc:
        raise InstrumentLoadError(VENUE, symbol, f"malformed metadata: {exc}") from None


def parse_exchange_info(
    body: bytes | str | Mapping[str, Any], symbols: Sequence[str]
) -> list[Instrument]:
    """The instruments for `symbols`, in that order, from an exchangeInfo response body."""
    wanted = ",".join(symbols) or "?"
    doc = load_object(VENUE, wanted, body)
    entries = doc.get("symbols")
    if not isinstance(entries, list):
        raise InstrumentLoadError(VENUE, wanted, f"malformed exchangeInfo: {_excerpt(doc)}")
    by_symbol = {entry.get("symbol"): entry for entry in entries if isinstance(entry, Mapping)}
    out: list[Instrument] = []
    for symbol in symbols:
        entry = by_symbol.get(symbol)
        if entry is None:
            raise InstrumentLoadError(VENUE, symbol, "unknown symbol (not in exchangeInfo)")
        out.append(parse_symbol_info(entry))
    return out


async def load_instruments(
    session: aiohttp.ClientSession, rest_url: str, symbols: Sequence[str]
) -> list[Instrument]:
    """Fetch `symbols` (Binance spelling, e.g. BTCUSDT) in one exchangeInfo request."""
    wanted = list(dict.fromkeys(symbols))
    if not wanted:
        return []
    url = _base(rest_url) + "/api/v3/exchangeInfo"
    status, body = await _get(session, url, wanted)
    if status != 200:
        code = _error_code(body)
        if code == BAD_SYMBOL:
            unknown = await _find_unknown(session, url, wanted)
            raise InstrumentLoadError(VENUE, unknown, "unknown symbol (-1121 Invalid symbol.)")
        raise InstrumentLoadError(
            VENUE, ",".join(wanted), f"HTTP {status}: {_text(body)}", status=status
        )
    by_symbol = {i.symbol: i for i in parse_exchange_info(body, wanted)}
    return [by_symbol[s] for s in symbols]


async def _find_unknown(session: aiohttp.ClientSession, url: str, symbols: list[str]) -> str:
    """Which of `symbols` Binance rejects: it answers -1121 for the batch without saying."""
    if len(symbols) > 1:
        for symbol in symbols:
            status, body = await _get(session, url, [symbol])
            if status != 200 and _error_code(body) == BAD_SYMBOL:
                return symbol
    return ",".join(symbols)


async def _get(session: aiohttp.ClientSession, url: str, symbols: list[str]) -> tuple[int, bytes]:
    params = {"symbols": json.dumps(symbols, separators=(",", ":"))}
    return await fetch(VENUE, ",".join(symbols), session, url, params)


def _base(rest_url: str) -> str:
    base = rest_url.rstrip("/")
    return base.removesuffix("/api/v3")


def _error_code(body: bytes) -> int | None:
    code = error_field(body, "code")
    return code if isinstance(code, int) else None


def _filter(symbol: str, filters: Mapping[str, Mapping[str, Any]], name: str) -> Mapping[str, Any]:
    found = filters.get(name)
    if found is None:
        raise InstrumentLoadError(VENUE, symbol, f"malformed metadata: no {name} filter")
    return found
