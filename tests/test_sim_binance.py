"""The simulated Binance spot REST API, seen by real HTTP clients over loopback: our own
signed aiohttp client and the official binance-connector SDK."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from engine.clock import SimClock
from engine.model.enums import OrderSide, OrderType
from engine.sim.faults import FaultKind
from engine.sim.matching import OrderRequest
from engine.sim.server import RunningSim, start_sim
from engine.sim.venues.binance import venue_state
from engine.wire.binance_signing import binance_sign_rest

MAKER = "maker"


@pytest.fixture
async def sim():
    async with start_sim("binance", seed=1, market=False) as running:
        running.exchange.open_account(
            MAKER, {"BTC": Decimal("10"), "USDT": Decimal("1000000"), "ETH": Decimal("100")}
        )
        yield running


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def maker_order(sim: RunningSim, side: OrderSide, price: str, qty: str, symbol: str = "BTCUSDT"):
    """Liquidity from another account, straight into the exchange."""
    inst = sim.exchange.engine.instrument(symbol)
    return sim.exchange.submit(
        OrderRequest(
            MAKER,
            symbol,
            side,
            OrderType.LIMIT,
            qty=inst.qty_to_lots(qty),
            price=inst.price_to_ticks(price),
        )
    )


class Rest:
    """A minimal signed Binance REST client: parameters in the query string by default."""

    def __init__(self, sim: RunningSim, http: aiohttp.ClientSession) -> None:
        self.sim = sim
        self.http = http
        self.key = sim.api_key
        self.secret = sim.api_secret

    async def public(self, method: str, path: str, **params: Any) -> tuple[int, Any, Any]:
        url = self.sim.urls.rest + path
        async with self.http.request(method, url, params=params or None) as resp:
            return resp.status, await resp.json(), resp.headers

    async def signed(
        self,
        method: str,
        path: str,
        *,
        in_body: bool = False,
        timestamp: int | None = None,
        secret: str | None = None,
        key: str | None = None,
        **params: Any,
    ) -> tuple[int, Any, Any]:
        params["timestamp"] = now_ms() if timestamp is None else timestamp
        text = urlencode(params)
        sig = binance_sign_rest(
            secret or self.secret, "" if in_body else text, text if in_body else ""
        )
        text += "&signature=" + sig
        url = self.sim.urls.rest + path
        headers = {"X-MBX-APIKEY": key if key is not None else self.key}
        if in_body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            req = self.http.request(method, url, data=text.encode(), headers=headers)
        else:
            req = self.http.request(method, url + "?" + text, headers=headers)
        async with req as resp:
            return resp.status, await resp.json(), resp.headers


@pytest.fixture
def rest(sim, http) -> Rest:
    return Rest(sim, http)


def limit(price: str, qty: str = "0.001", side: str = "BUY", **extra: Any) -> dict[str, Any]:
    return {
        "symbol": "BTCUSDT",
        "side": side,
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": qty,
        "price": price,
        **extra,
    }


# -- public endpoints ---------------------------------------------------------------------


async def test_ping_time_and_weight_header(http):
    # the weight window is a calendar minute on the exchange clock: start mid-minute so the
    # two calls share one window however slow the machine is
    minute = 60 * 1_000_000_000
    clock = SimClock(time.time_ns() // minute * minute + minute // 2)
    async with start_sim("binance", seed=1, market=False, clock=clock) as sim:
        rest = Rest(sim, http)
        status, body, headers = await rest.public("GET", "/api/v3/ping")
        assert (status, body) == (200, {})
        assert headers["X-MBX-USED-WEIGHT-1M"] == "1"
        status, body, headers = await rest.public("GET", "/api/v3/time")
        assert status == 200 and body["serverTime"] == clock.time_ns() // 1_000_000
        assert headers["X-MBX-USED-WEIGHT-1M"] == "2"


async def test_exchange_info_filters(rest):
    status, body, headers = await rest.public("GET", "/api/v3/exchangeInfo", symbol="BTCUSDT")
    assert status == 200 and headers["X-MBX-USED-WEIGHT-1M"] == "20"
    assert body["timezone"] == "UTC"
    assert {r["rateLimitType"] for r in body["rateLimits"]} >= {"REQUEST_WEIGHT", "ORDERS"}
    (sym,) = body["symbols"]
    assert (sym["symbol"], sym["baseAsset"], sym["quoteAsset"]) == ("BTCUSDT", "BTC", "USDT")
    assert sym["status"] == "TRADING" and "LIMIT_MAKER" in sym["orderTypes"]
    filters = {f["filterType"]: f for f in sym["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert filters["LOT_SIZE"]["minQty"] == "0.00001000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"

    status, body, _ = await rest.public(
        "GET", "/api/v3/exchangeInfo", symbols='["BTCUSDT","ETHUSDT"]'
    )
    assert [s["symbol"] for s in body["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    status, body, _ = await rest.public("GET", "/api/v3/exchangeInfo")
    assert len(body["symbols"]) == 2
    status, body, _ = await rest.public("GET", "/api/v3/exchangeInfo", symbol="NOPEUSDT")
    assert (status, body["code"], body["msg"]) == (400, -1121, "Invalid symbol.")


async def test_depth_snapshot_and_book_ticker(sim, rest):
    maker_order(sim, OrderSide.BUY, "64999.99", "1.2")
    maker_order(sim, OrderSide.BUY, "64999.98", "0.5")
    maker_order(sim, OrderSide.SELL, "65000.00", "3")
    status, body, headers = await rest.public("GET", "/api/v3/depth", symbol="BTCUSDT", limit=5)
    assert status == 200 and headers["X-MBX-USED-WEIGHT-1M"] == "5"
    update_id, _, _ = sim.exchange.engine.depth("BTCUSDT")
    assert body == {
        "lastUpdateId": update_id,
        "bids": [["64999.99000000", "1.20000000"], ["64999.98000000", "0.50000000"]],
        "asks": [["65000.00000000", "3.00000000"]],
    }
    _, body, headers = await rest.public("GET", "/api/v3/depth", symbol="BTCUSDT", limit=1000)
    assert headers["X-MBX-USED-WEIGHT-1M"] == "55"
    status, body, _ = await rest.public("GET", "/api/v3/ticker/bookTicker", symbol="BTCUSDT")
    assert body == {
        "symbol": "BTCUSDT",
        "bidPrice": "64999.99000000",
        "bidQty": "1.20000000",
        "askPrice": "65000.00000000",
        "askQty": "3.00000000",
    }
    status, body, _ = await rest.public("GET", "/api/v3/ticker/bookTicker")
    assert [row["symbol"] for row in body] == ["BTCUSDT", "ETHUSDT"]
    status, body, _ = await rest.public("GET", "/api/v3/depth")
    assert (status, body["code"]) == (400, -1102)


# -- orders -------------------------------------------------------------------------------


async def test_place_order_response_types(sim, rest):
    status, body, headers = await rest.signed(
        "POST", "/api/v3/order", **limit("60000", newOrderRespType="ACK", newClientOrderId="a-1")
    )
    assert status == 200
    assert set(body) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    assert body["clientOrderId"] == "a-1" and body["orderListId"] == -1
    assert headers["X-MBX-ORDER-COUNT-10S"] == "1" and headers["X-MBX-ORDER-COUNT-1D"] == "1"

    status, body, _ = await rest.signed(
        "POST", "/api/v3/order", **limit("60000.5", newOrderRespType="RESULT")
    )
    assert status == 200
    assert body["status"] == "NEW" and body["type"] == "LIMIT" and body["side"] == "BUY"
    assert body["price"] == "60000.50000000" and body["origQty"] == "0.00100000"
    assert body["executedQty"] == "0.00000000" and body["timeInForce"] == "GTC"
    assert len(body["clientOrderId"]) == 22 and body["selfTradePreventionMode"] == "EXPIRE_MAKER"
    assert "fills" not in body

    # LIMIT defaults to FULL: crossing the maker's ask gives fills
    maker_order(sim, OrderSide.SELL, "65000.00", "0.002")
    status, body, _ = await rest.signed("POST", "/api/v3/order", **limit("65001", "0.003"))
    assert status == 200 and body["status"] == "PARTIALLY_FILLED"
    assert body["executedQty"] == "0.00200000" and body["cummulativeQuoteQty"] == "130.00000000"
    (fill,) = body["fills"]
    assert fill["price"] == "65000.00000000" and fill["qty"] == "0.00200000"
    assert fill["commission"] == "0.13000000" and fill["commissionAsset"] == "USDT"


async def test_market_orders(sim, rest):
    maker_order(sim, OrderSide.SELL, "65000.00", "1")
    status, body, _ = await rest.signed(
        "POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01"
    )
    assert status == 200 and body["status"] == "FILLED" and body["type"] == "MARKET"
    status, body, _ = await rest.signed(
        "POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET", quoteOrderQty="100"
    )
    assert status == 200 and body["origQuoteOrderQty"] == "100.00000000"
    status, body, _ = await rest.signed(
        "POST",
        "/api/v3/order",
        symbol="BTCUSDT",
        side="BUY",
        type="MARKET",
        quantity="0.01",
        price="1",
    )
    assert (status, body["code"]) == (400, -1106)


async def test_order_rejects_map_to_binance_codes(sim, rest):
    maker_order(sim, OrderSide.SELL, "65000.00", "1")
    cases = [
        (
            limit("65000", type="LIMIT_MAKER", timeInForce=None),
            -2010,
            "Order would immediately match and take.",
        ),
        (limit("60000", "100"), -2010, "Account has insufficient balance for requested action."),
        (limit("60000.000000001"), -1111, "Parameter 'price' has too much precision."),
        (limit("60000", "0.000000001"), -1111, "Parameter 'quantity' has too much precision."),
        (limit("60000.005"), -1013, "Filter failure: PRICE_FILTER"),
        (limit("60000", "0.0010015"), -1013, "Filter failure: LOT_SIZE"),
        (limit("60000", "0.00001"), -1013, "Filter failure: NOTIONAL"),
        (limit("1", "0.00001"), -1013, "Filter failure: NOTIONAL"),
        (limit("60000", "1e-3"), -1100, None),
        (limit("60000", side="HOLD"), -1117, "Invalid side."),
        (limit("60000", type="STOP_LOSS"), -1116, "Invalid orderType."),
        (limit("60000", timeInForce=None), -1102, None),
        (limit("60000", timeInForce="DAY"), -1115, "Invalid timeInForce."),
        (limit("60000", newClientOrderId="has.dot"), -1100, None),
        (limit("60000", symbol="XXXUSDT"), -1121, "Invalid symbol."),
        (
            {k: v for k, v in limit("60000").items() if k != "quantity"},
            -1102,
            "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
        ),
    ]
    for case, code, msg in cases:
        params = {k: v for k, v in case.items() if v is not None}
        if params.get("type") == "LIMIT_MAKER":
            params.pop("timeInForce", None)
        status, body, _ = await rest.signed("POST", "/api/v3/order", **params)
        assert (status, body["code"]) == (400, code), (params, body)
        if msg is not None:
            assert body["msg"] == msg
    assert sim.exchange.engine.open_orders("user") == []


async def test_off_tick_and_off_step_are_filter_failures(rest):
    # on the 8-decimal wire grid but between ticks / steps
    _, body, _ = await rest.signed("POST", "/api/v3/order", **limit("60000.0005"))
    assert (body["code"], body["msg"]) == (-1013, "Filter failure: PRICE_FILTER")
    _, body, _ = await rest.signed("POST", "/api/v3/order", **limit("60000.00000001"))
    assert (body["code"], body["msg"]) == (-1013, "Filter failure: PRICE_FILTER")
    _, body, _ = await rest.signed("POST", "/api/v3/order", **limit("60000", "0.00100001"))
    assert (body["code"], body["msg"]) == (-1013, "Filter failure: LOT_SIZE")


async def test_duplicate_client_order_id(rest):
    status, _, _ = await rest.signed(
        "POST", "/api/v3/order", **limit("60000", newClientOrderId="dup")
    )
    assert status == 200
    status, body, _ = await rest.signed(
        "POST", "/api/v3/order", **limit("60001", newClientOrderId="dup")
    )
    assert (status, body) == (400, {"code": -2010, "msg": "Duplicate order sent."})


async def test_cancel_query_open_orders_and_cancel_all(sim, rest):
    _, placed, _ = await rest.signed(
        "POST", "/api/v3/order", **limit("60000", newClientOrderId="o-1")
    )
    await rest.signed("POST", "/api/v3/order", **limit("60001", newClientOrderId="o-2"))
    await rest.signed("POST", "/api/v3/order", **limit("60002", newClientOrderId="o-3"))

    status, body, headers = await rest.signed("GET", "/api/v3/openOrders", symbol="BTCUSDT")
    assert status == 200 and [o["clientOrderId"] for o in body] == ["o-1", "o-2", "o-3"]
    assert body[0]["isWorking"] is True and body[0]["stopPrice"] == "0.00000000"
    assert headers["X-MBX-USED-WEIGHT-1M"] == "9"  # 3 orders + 6 for openOrders with a symbol
    _, body, headers = await rest.signed("GET", "/api/v3/openOrders")
    assert len(body) == 3

    status, body, _ = await rest.signed(
        "DELETE",
        "/api/v3/order",
        symbol="BTCUSDT",
        orderId=placed["orderId"],
        newClientOrderId="cx-1",
    )
    assert status == 200
    assert body["status"] == "CANCELED" and body["origClientOrderId"] == "o-1"
    assert body["clientOrderId"] == "cx-1" and body["orderId"] == placed["orderId"]

    status, body, _ = await rest.signed(
        "DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="o-2"
    )
    assert status == 200 and body["status"] == "CANCELED" and body["origClientOrderId"] == "o-2"

    status, body, _ = await rest.signed(
        "DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"]
    )
    assert (status, body) == (400, {"code": -2011, "msg": "Unknown order sent."})
    status, body, _ = await rest.signed("DELETE", "/api/v3/order", symbol="BTCUSDT")
    assert (status, body["code"]) == (400, -1102)

    status, body, headers = await rest.signed(
        "GET", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"]
    )
    assert status == 200 and body["status"] == "CANCELED" and body["clientOrderId"] == "o-1"
    status, body, _ = await rest.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=999999)
    assert (status, body) == (400, {"code": -2013, "msg": "Order does not exist."})

    status, body, _ = await rest.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT")
    assert status == 200 and [o["origClientOrderId"] for o in body] == ["o-3"]
    assert body[0]["status"] == "CANCELED"
    status, body, _ = await rest.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT")
    assert (status, body["code"]) == (400, -2011)
    assert sim.exchange.engine.open_orders("user") == []


async def test_account_balances(rest):
    await rest.signed("POST", "/api/v3/order", **limit("60000", "0.01"))
    status, body, headers = await rest.signed("GET", "/api/v3/account", omitZeroBalances="true")
    assert status == 200 and headers["X-MBX-USED-WEIGHT-1M"] == "21"
    balances = {b["asset"]: (b["free"], b["locked"]) for b in body["balances"]}
    # 600 USDT for the order plus the worst-case 0.1% fee, locked
    assert balances["USDT"] == ("99399.40000000", "600.60000000")
    assert balances["BTC"] == ("1.00000000", "0.00000000")
    assert body["accountType"] == "SPOT" and body["canTrade"] is True
    assert body["commissionRates"]["maker"] == "0.00100000" and body["makerCommission"] == 10


# -- authentication -----------------------------------------------------------------------


async def test_signature_in_body_and_split_query_body(sim, rest, http):
    status, body, _ = await rest.signed("POST", "/api/v3/order", in_body=True, **limit("60000"))
    assert status == 200 and body["status"] == "NEW"
    # symbol in the query, the rest in the body: the payload is query + body, no separator
    query = "symbol=BTCUSDT"
    form = urlencode({**limit("60001"), "timestamp": now_ms()}).replace("symbol=BTCUSDT&", "")
    sig = binance_sign_rest(sim.api_secret, query, form)
    async with http.post(
        f"{sim.urls.rest}/api/v3/order?{query}",
        data=(form + "&signature=" + sig).encode(),
        headers={"X-MBX-APIKEY": sim.api_key, "Content-Type": "application/x-www-form-urlencoded"},
    ) as resp:
        assert resp.status == 200, await resp.text()


async def test_bad_signatures_and_timestamps(sim, rest):
    cases = [
        ({"secret": "not-the-secret"}, 400, -1022, "Signature for this request is not valid."),
        (
            {"timestamp": now_ms() - 10_000},
            400,
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ),
        (
            {"timestamp": now_ms() + 5_000},
            400,
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ),
        ({"key": "unknown-key"}, 401, -2015, "Invalid API-key, IP, or permissions for action."),
        ({"key": ""}, 401, -2014, "API-key format invalid."),
    ]
    for kwargs, status_code, code, msg in cases:
        status, body, _ = await rest.signed("POST", "/api/v3/order", **kwargs, **limit("60000"))
        assert (status, body) == (status_code, {"code": code, "msg": msg}), kwargs
    # a wide recvWindow admits the older timestamp; above 60000 is refused
    status, _, _ = await rest.signed(
        "GET", "/api/v3/account", timestamp=now_ms() - 10_000, recvWindow=20000
    )
    assert status == 200
    status, body, _ = await rest.signed("GET", "/api/v3/account", recvWindow=70000)
    assert (status, body["code"]) == (400, -1131)
    # a microsecond timestamp is accepted
    status, _, _ = await rest.signed("GET", "/api/v3/account", timestamp=time.time_ns() // 1000)
    assert status == 200
    assert sim.exchange.engine.open_orders("user") == []


# -- rate limits --------------------------------------------------------------------------


async def test_weight_limit_429_then_418(sim, rest):
    limits = venue_state(sim.exchange).limits
    limits.weight_per_minute = 3
    limits.strikes_before_ban = 1
    for expected in ("1", "2", "3"):
        status, _, headers = await rest.public("GET", "/api/v3/ping")
        assert status == 200 and headers["X-MBX-USED-WEIGHT-1M"] == expected
    status, body, headers = await rest.public("GET", "/api/v3/ping")
    assert status == 429 and body["code"] == -1003 and "Retry-After" in headers
    assert body["msg"].startswith("Too much request weight used; current limit is 3")
    status, body, headers = await rest.public("GET", "/api/v3/ping")
    assert status == 418 and body["code"] == -1003 and int(headers["Retry-After"]) > 0
    assert "IP banned until" in body["msg"]


async def test_order_rate_limit_1015(sim, rest):
    venue_state(sim.exchange).limits.orders_per_10s = 2
    for price in ("60000", "60001"):
        status, _, _ = await rest.signed("POST", "/api/v3/order", **limit(price))
        assert status == 200
    status, body, headers = await rest.signed("POST", "/api/v3/order", **limit("60002"))
    assert status == 429 and body["code"] == -1015 and "Retry-After" in headers
    assert body["msg"] == "Too many new orders; current limit is 2 orders per TEN_SECONDS."
    status, body, _ = await rest.signed("GET", "/api/v3/rateLimit/order")
    assert status == 200 and body[0]["count"] == 3 and body[0]["limit"] == 2


# -- faults -------------------------------------------------------------------------------


async def test_rest_5xx_and_forced_429(sim, rest):
    faults = sim.exchange.faults
    faults.arm(FaultKind.REST_5XX, "rest")
    status, body, _ = await rest.signed("POST", "/api/v3/order", **limit("60000"))
    assert status == 503 and body["code"] == -1008
    assert sim.exchange.engine.open_orders("user") == []  # a 5xx here placed nothing
    faults.arm(FaultKind.FORCE_429, "rest")
    status, body, headers = await rest.public("GET", "/api/v3/time")
    assert status == 429 and body["code"] == -1003 and headers["Retry-After"] == "60"
    status, _, _ = await rest.public("GET", "/api/v3/time")
    assert status == 200
    counters = faults.counters()
    assert counters["rest_5xx"] == 1 and counters["force_429"] == 1


async def test_rest_timeout_never_answers_and_places_nothing(sim, rest, http):
    venue_state(sim.exchange).knobs.rest_timeout_s = 1.5
    sim.exchange.faults.arm(FaultKind.REST_TIMEOUT, "rest")
    params = urlencode({**limit("60000"), "timestamp": now_ms()})
    params += "&signature=" + binance_sign_rest(sim.api_secret, params)
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            f"{sim.urls.rest}/api/v3/order?{params}",
            headers={"X-MBX-APIKEY": sim.api_key},
            timeout=aiohttp.ClientTimeout(total=0.3),
        ):
            pass
    assert sim.exchange.faults.counters()["rest_timeout"] == 1
    assert sim.exchange.engine.open_orders("user") == []


async def test_rest_latency(sim, rest):
    sim.exchange.faults.set_latency("rest", 0.3)
    started = time.monotonic()
    status, _, _ = await rest.public("GET", "/api/v3/ping")
    assert status == 200 and time.monotonic() - started >= 0.3
    assert sim.exchange.faults.counters()["latency"] >= 1


# -- the official SDK ---------------------------------------------------------------------


def _sdk_session(sim: RunningSim) -> dict[str, Any]:
    from binance.error import ClientError
    from binance.spot import Spot

    client = Spot(api_key=sim.api_key, api_secret=sim.api_secret, base_url=sim.urls.rest)
    out: dict[str, Any] = {}
    out["time"] = client.time()
    out["info"] = client.exchange_info(symbol="BTCUSDT")
    out["depth"] = client.depth("BTCUSDT", limit=5)
    out["ticker"] = client.book_ticker("BTCUSDT")
    out["placed"] = client.new_order(
        "BTCUSDT",
        "BUY",
        "LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price="60000",
        newClientOrderId="sdk-1",
    )
    out["maker"] = client.new_order(
        "BTCUSDT", "BUY", "LIMIT_MAKER", quantity="0.001", price="60001"
    )
    out["query"] = client.get_order("BTCUSDT", orderId=out["placed"]["orderId"])
    out["open"] = client.get_open_orders("BTCUSDT")
    out["cancel"] = client.cancel_order("BTCUSDT", origClientOrderId="sdk-1")
    out["cancel_all"] = client.cancel_open_orders("BTCUSDT")
    out["account"] = client.account(omitZeroBalances="true")
    try:
        client.new_order(
            "BTCUSDT", "BUY", "LIMIT", timeInForce="GTC", quantity="100", price="60000"
        )
    except ClientError as error:
        out["error"] = (error.status_code, error.error_code, error.error_message)
    bad = Spot(api_key=sim.api_key, api_secret="wrong", base_url=sim.urls.rest)
    try:
        bad.account()
    except ClientError as error:
        out["bad_sig"] = (error.status_code, error.error_code)
    return out


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_official_sdk_binance_connector(sim):
    maker_order(sim, OrderSide.SELL, "65000.00", "1")
    out = await asyncio.to_thread(_sdk_session, sim)
    assert abs(out["time"]["serverTime"] - now_ms()) < 5000
    assert out["info"]["symbols"][0]["symbol"] == "BTCUSDT"
    assert out["depth"]["asks"] == [["65000.00000000", "1.00000000"]]
    assert out["ticker"]["askPrice"] == "65000.00000000"
    assert out["placed"]["clientOrderId"] == "sdk-1" and out["placed"]["status"] == "NEW"
    assert set(out["maker"]) == {
        "symbol",
        "orderId",
        "orderListId",
        "clientOrderId",
        "transactTime",
    }
    assert out["query"]["status"] == "NEW"
    assert len(out["open"]) == 2
    assert out["cancel"]["status"] == "CANCELED"
    assert [o["status"] for o in out["cancel_all"]] == ["CANCELED"]
    assert {b["asset"] for b in out["account"]["balances"]} == {"BTC", "ETH", "USDT"}
    assert out["error"] == (400, -2010, "Account has insufficient balance for requested action.")
    assert out["bad_sig"] == (400, -1022)
