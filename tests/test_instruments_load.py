"""Instrument loaders against the simulated venues on loopback, and the pure parsers against
the metadata fields of docs/VENUES.md §1.9, §2.9 and §3.9."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from engine.gateway.binance import instruments as binance
from engine.gateway.errors import InstrumentLoadError
from engine.gateway.gate import instruments as gate
from engine.gateway.okx import instruments as okx
from engine.model.instrument import Instrument
from engine.sim.server import start_sim

Loader = Callable[[aiohttp.ClientSession, str, Sequence[str]], Awaitable[list[Instrument]]]

LOADERS: dict[str, tuple[Loader, str]] = {
    "binance": (binance.load_instruments, "NOPEUSDT"),
    "okx": (okx.load_instruments, "NOPE-USDT"),
    "gate": (gate.load_instruments, "NOPE_USDT"),
}
VENUES = sorted(LOADERS)

D = Decimal


# -- against the simulator -----------------------------------------------------------------


@pytest.mark.parametrize("venue", VENUES)
async def test_loaded_instruments_equal_the_simulators(venue: str) -> None:
    load, _ = LOADERS[venue]
    async with start_sim(venue, market=False) as sim, aiohttp.ClientSession() as session:
        expected = sim.exchange.instruments()
        symbols = [i.symbol for i in reversed(expected)]
        loaded = await load(session, sim.urls.rest, symbols)
        assert [i.symbol for i in loaded] == symbols
        for got, want in zip(loaded, reversed(expected), strict=True):
            assert got == want
            assert (got.price_decimals, got.qty_decimals) == (
                want.price_decimals,
                want.qty_decimals,
            )
            for name in ("tick_size", "lot_size", "min_qty", "min_notional"):
                # same value and the same printed form (normalised, no exponent)
                assert str(getattr(got, name)) == str(getattr(want, name).normalize()), name
        one = await load(session, sim.urls.rest, [expected[0].symbol])
        assert one == [expected[0]]
        assert await load(session, sim.urls.rest, []) == []


@pytest.mark.parametrize("venue", VENUES)
async def test_an_unknown_symbol_is_named(venue: str) -> None:
    load, unknown = LOADERS[venue]
    async with start_sim(venue, market=False) as sim, aiohttp.ClientSession() as session:
        known = sim.exchange.instruments()[0].symbol
        with pytest.raises(InstrumentLoadError) as info:
            await load(session, sim.urls.rest, [known, unknown])
    assert info.value.venue == venue
    assert info.value.symbol == unknown
    assert unknown in str(info.value)
    assert "unknown symbol" in str(info.value)


@pytest.mark.parametrize("venue", VENUES)
async def test_a_server_error_carries_the_status(venue: str) -> None:
    load, _ = LOADERS[venue]
    async with start_sim(venue, market=False) as sim, aiohttp.ClientSession() as session:
        symbol = sim.exchange.instruments()[0].symbol
        sim.exchange.faults.arm("rest_5xx", "rest")
        with pytest.raises(InstrumentLoadError) as info:
            await load(session, sim.urls.rest, [symbol])
        assert info.value.status is not None
        assert 500 <= info.value.status < 600
        assert f"HTTP {info.value.status}" in str(info.value)
        assert symbol in str(info.value)
        # one-shot: the next load succeeds
        assert [i.symbol for i in await load(session, sim.urls.rest, [symbol])] == [symbol]


async def test_a_refused_connection_is_an_instrument_load_error() -> None:
    async with aiohttp.ClientSession() as session:
        for load, _ in LOADERS.values():
            with pytest.raises(InstrumentLoadError, match="failed"):
                await load(session, "http://127.0.0.1:9", ["X"])


async def test_base_urls_with_or_without_the_api_prefix() -> None:
    async with start_sim("gate", market=False) as sim, aiohttp.ClientSession() as session:
        host = sim.urls.rest.removesuffix("/api/v4")
        assert sim.urls.rest.endswith("/api/v4")
        for base in (sim.urls.rest, sim.urls.rest + "/", host):
            assert [i.symbol for i in await gate.load_instruments(session, base, ["BTC_USDT"])] == [
                "BTC_USDT"
            ]
    async with start_sim("binance", market=False) as sim, aiohttp.ClientSession() as session:
        for base in (sim.urls.rest, sim.urls.rest + "/", sim.urls.rest + "/api/v3"):
            loaded = await binance.load_instruments(session, base, ["BTCUSDT"])
            assert [i.symbol for i in loaded] == ["BTCUSDT"]


# -- parsers, on the fields of docs/VENUES.md §1.9, §2.9, §3.9 -----------------------------------

BINANCE_EXCHANGE_INFO = b"""{"timezone":"UTC","serverTime":1700000000123,"rateLimits":[],
 "exchangeFilters":[],
 "symbols":[{"symbol":"BTCUSDT","status":"TRADING","baseAsset":"BTC","baseAssetPrecision":8,
   "quoteAsset":"USDT","quotePrecision":8,"quoteAssetPrecision":8,"baseCommissionPrecision":8,
   "quoteCommissionPrecision":8,"orderTypes":["LIMIT","LIMIT_MAKER","MARKET"],
   "isSpotTradingAllowed":true,"isMarginTradingAllowed":true,
   "filters":[
    {"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000",
     "tickSize":"0.01000000"},
    {"filterType":"LOT_SIZE","minQty":"0.00001000","maxQty":"9000.00000000",
     "stepSize":"0.00001000"},
    {"filterType":"ICEBERG_PARTS","limit":10},
    {"filterType":"MARKET_LOT_SIZE","minQty":"0.00000000","maxQty":"120.00000000",
     "stepSize":"0.00000000"},
    {"filterType":"NOTIONAL","minNotional":"5.00000000","applyMinToMarket":true,
     "maxNotional":"9000000.00000000","applyMaxToMarket":false,"avgPriceMins":5},
    {"filterType":"MAX_NUM_ORDERS","maxNumOrders":200}],
   "permissions":[],"permissionSets":[["SPOT","MARGIN"]]}]}"""

OKX_INSTRUMENTS = b"""{"code":"0","msg":"","data":[{"alias":"","baseCcy":"BTC","category":"1",
 "instFamily":"","instId":"BTC-USDT","instType":"SPOT","lever":"10","listTime":"1606468572000",
 "lotSz":"0.00000001","maxLmtAmt":"1000000","maxLmtSz":"9999999999","maxMktAmt":"1000000",
 "maxMktSz":"1000000","minSz":"0.00001","quoteCcy":"USDT","tradeQuoteCcyList":["USDT"],
 "state":"live","ruleType":"normal","tickSz":"0.1","instIdCode":1000000000}]}"""

GATE_PAIR = b"""{"id":"BTC_USDT","base":"BTC","base_name":"Bitcoin","quote":"USDT",
 "quote_name":"Tether","fee":"0.2","min_base_amount":"0.00001","min_quote_amount":"3",
 "max_base_amount":"1000","max_quote_amount":"5000000","amount_precision":6,"precision":1,
 "trade_status":"tradable","sell_start":1516378650,"buy_start":1516378650,"delisting_time":0,
 "type":"normal","trade_url":"https://www.gate.io/trade/BTC_USDT","st_tag":false}"""


def _fields(inst: Instrument) -> tuple[object, ...]:
    return (
        inst.symbol,
        inst.venue,
        inst.base,
        inst.quote,
        format(inst.tick_size, "f"),
        format(inst.lot_size, "f"),
        format(inst.min_qty, "f"),
        format(inst.min_notional, "f"),
        inst.price_decimals,
        inst.qty_decimals,
    )


def test_parse_binance_example() -> None:
    [inst] = binance.parse_exchange_info(BINANCE_EXCHANGE_INFO, ["BTCUSDT"])
    assert _fields(inst) == (
        "BTCUSDT", "binance", "BTC", "USDT", "0.01", "0.00001", "0.00001", "5", 8, 8,
    )  # fmt: skip
    assert inst.ticks_to_str(6_500_000) == "65000.00000000"
    with pytest.raises(InstrumentLoadError, match="ETHUSDT: unknown symbol"):
        binance.parse_exchange_info(BINANCE_EXCHANGE_INFO, ["BTCUSDT", "ETHUSDT"])


def test_parse_okx_example() -> None:
    inst = okx.parse_instruments_response(OKX_INSTRUMENTS, "BTC-USDT")
    assert _fields(inst) == (
        "BTC-USDT", "okx", "BTC", "USDT", "0.1", "0.00000001", "0.00001", "0", 1, 8,
    )  # fmt: skip
    unknown = b'{"code":"51001","msg":"Instrument ID does not exist.","data":[]}'
    with pytest.raises(InstrumentLoadError, match="X-USDT: unknown symbol"):
        okx.parse_instruments_response(unknown, "X-USDT")


def test_parse_gate_example() -> None:
    inst = gate.parse_currency_pair(GATE_PAIR)
    assert _fields(inst) == (
        "BTC_USDT", "gate", "BTC", "USDT", "0.1", "0.000001", "0.00001", "3", 1, 6,
    )  # fmt: skip


def _binance_doc(**changes: Any) -> dict[str, Any]:
    import orjson

    doc: dict[str, Any] = orjson.loads(BINANCE_EXCHANGE_INFO)["symbols"][0]
    doc.update(changes)
    return doc


def test_binance_rules() -> None:
    with pytest.raises(InstrumentLoadError, match="BTCUSDT: not trading"):
        binance.parse_symbol_info(_binance_doc(status="BREAK"))
    filters = [dict(f) for f in _binance_doc()["filters"]]
    legacy = [f for f in filters if f["filterType"] != "NOTIONAL"]
    legacy.append({"filterType": "MIN_NOTIONAL", "minNotional": "10.00000000"})
    assert binance.parse_symbol_info(_binance_doc(filters=legacy)).min_notional == D(10)
    no_notional = [f for f in filters if f["filterType"] != "NOTIONAL"]
    assert binance.parse_symbol_info(_binance_doc(filters=no_notional)).min_notional == 0
    no_price = [f for f in filters if f["filterType"] != "PRICE_FILTER"]
    with pytest.raises(InstrumentLoadError, match="no PRICE_FILTER"):
        binance.parse_symbol_info(_binance_doc(filters=no_price))
    zero_tick = [
        {**f, "tickSize": "0.00000000"} if f["filterType"] == "PRICE_FILTER" else f for f in filters
    ]
    with pytest.raises(InstrumentLoadError, match="tickSize"):
        binance.parse_symbol_info(_binance_doc(filters=zero_tick))
    bad_step = [{**f, "stepSize": "abc"} if f["filterType"] == "LOT_SIZE" else f for f in filters]
    with pytest.raises(InstrumentLoadError, match="BTCUSDT: malformed metadata: stepSize"):
        binance.parse_symbol_info(_binance_doc(filters=bad_step))
    with pytest.raises(InstrumentLoadError, match="not JSON"):
        binance.parse_exchange_info(b"<html>", ["BTCUSDT"])


def test_okx_rules() -> None:
    import orjson

    entry = orjson.loads(OKX_INSTRUMENTS)["data"][0]
    with pytest.raises(InstrumentLoadError, match="BTC-USDT: not trading"):
        okx.parse_instrument({**entry, "state": "suspend"})
    # decimals follow the tick and the lot
    inst = okx.parse_instrument({**entry, "tickSz": "10", "lotSz": "0.0001", "minSz": "0.00015"})
    assert (str(inst.tick_size), inst.price_decimals, inst.qty_decimals) == ("10", 0, 4)
    assert inst.min_qty == D("0.0002")  # rounded up onto the lot grid
    with pytest.raises(InstrumentLoadError, match="malformed metadata: lotSz"):
        okx.parse_instrument({**entry, "lotSz": None})
    with pytest.raises(InstrumentLoadError, match="error 50011"):
        okx.parse_instruments_response(b'{"code":"50011","msg":"Too Many","data":[]}', "BTC-USDT")


def test_gate_rules() -> None:
    import orjson

    doc = orjson.loads(GATE_PAIR)
    with pytest.raises(InstrumentLoadError, match="BTC_USDT: not trading"):
        gate.parse_currency_pair({**doc, "trade_status": "sellable"})
    bare = {k: v for k, v in doc.items() if k not in ("min_base_amount", "min_quote_amount")}
    inst = gate.parse_currency_pair(bare)
    assert (inst.min_qty, inst.min_notional) == (D(0), D(0))
    inst = gate.parse_currency_pair({**doc, "precision": 0, "amount_precision": 0})
    assert (str(inst.tick_size), str(inst.lot_size), str(inst.min_qty)) == ("1", "1", "1")
    with pytest.raises(InstrumentLoadError, match="malformed metadata: precision"):
        gate.parse_currency_pair({**doc, "precision": "1"})
    with pytest.raises(InstrumentLoadError, match="malformed metadata: min_quote_amount"):
        gate.parse_currency_pair({**doc, "min_quote_amount": "-3"})
