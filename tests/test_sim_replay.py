"""Recorded Binance frames as the simulator's market, with our orders matched against them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import orjson
import pytest

from engine.clock import SimClock
from engine.model.enums import OrderSide, OrderType
from engine.sim import presets
from engine.sim.exchange import SimExchange
from engine.sim.matching import Fill, OrderRequest
from engine.sim.replay import RecordedFrame, ReplayMarket, read_recording
from engine.sim.server import start_sim


def _line(recv_ns: int, doc: dict[str, object]) -> bytes:
    return orjson.dumps({"recv_ns": recv_ns, "frame": orjson.dumps(doc).decode()})


SNAPSHOT = {
    "lastUpdateId": 100,
    "bids": [["65000.00000000", "0.50000000"], ["64999.99000000", "1.00000000"]],
    "asks": [["65000.01000000", "0.40000000"], ["65000.02000000", "2.00000000"]],
}


def _diff(u: int, bids: list[list[str]], asks: list[list[str]]) -> dict[str, object]:
    return {"e": "depthUpdate", "E": u, "s": "BTCUSDT", "U": u, "u": u, "b": bids, "a": asks}


def _trade(price: str, qty: str, buyer_maker: bool) -> dict[str, object]:
    return {
        "e": "trade",
        "E": 1,
        "s": "BTCUSDT",
        "t": 1,
        "p": price,
        "q": qty,
        "T": 1,
        "m": buyer_maker,
    }


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "btcusdt.jsonl"
    lines = [
        _line(1_000, SNAPSHOT),
        _line(2_000, _diff(101, [["64999.98000000", "3.00000000"]], [["65000.02000000", "0"]])),
        # a seller takes 0.3 at 65000.00: less than the 0.5 queued ahead of our bid
        _line(3_000, {"stream": "btcusdt@trade", "data": _trade("65000.00", "0.3", True)}),
        # then 0.5 more: 0.2 of background is left ahead of us, we get the other 0.3
        _line(4_000, _trade("65000.00", "0.5", True)),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _exchange() -> tuple[SimExchange, SimClock]:
    clock = SimClock(start_ns=10**18)
    ex = SimExchange("binance", presets.default_instruments("binance"), clock=clock)
    ex.open_account("me", presets.DEFAULT_BALANCES)
    return ex, clock


def test_recorded_levels_become_the_book_and_trades_reach_us_through_the_queue(
    recording: Path,
) -> None:
    ex, clock = _exchange()
    frames = list(read_recording(recording))
    replay = ReplayMarket(ex.engine, "BTCUSDT", publish=ex.publish)
    replay.apply(frames[0], clock.time_ns())
    replay.apply(frames[1], clock.time_ns())
    _, bids, asks = ex.engine.depth("BTCUSDT", 10)
    assert bids == [(6_500_000, 50_000), (6_499_999, 100_000), (6_499_998, 300_000)]
    assert asks == [(6_500_001, 40_000)]
    mine: list[object] = []
    ex.on_private("me", mine.append)
    ex.submit(
        OrderRequest("me", "BTCUSDT", OrderSide.BUY, OrderType.LIMIT, qty=30_000, price=6_500_000)
    )
    replay.apply(frames[2], clock.time_ns())
    assert not [e for e in mine if isinstance(e, Fill)]
    replay.apply(frames[3], clock.time_ns())
    fills = [e for e in mine if isinstance(e, Fill)]
    assert [(f.price, f.qty, f.is_maker) for f in fills] == [(6_500_000, 30_000, True)]
    assert replay.applied == 4 and replay.skipped == 0


def test_unknown_and_other_symbol_frames_are_skipped(tmp_path: Path) -> None:
    ex, _ = _exchange()
    replay = ReplayMarket(ex.engine, "BTCUSDT", publish=ex.publish)
    replay.apply(RecordedFrame(1, b'{"e":"aggTrade"}'), 0)
    replay.apply(RecordedFrame(1, orjson.dumps(_diff(5, [], []) | {"s": "ETHUSDT"})), 0)
    assert replay.skipped == 2 and replay.applied == 0


def test_a_malformed_recording_line_names_its_number(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(_line(1, SNAPSHOT) + b"\n{not json\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not a recorded frame"):
        list(read_recording(path))


async def test_replay_paces_frames_on_the_clock(recording: Path) -> None:
    ex, clock = _exchange()
    replay = ReplayMarket(ex.engine, "BTCUSDT", publish=ex.publish)
    task = asyncio.create_task(replay.run(read_recording(recording), clock))
    await asyncio.sleep(0)
    assert replay.applied == 1  # the first frame at once, the next is due 1,000 ns later
    for _ in range(3):
        clock.advance_to(clock.time_ns() + 1_000)
        await asyncio.sleep(0)
    assert await task == 4 and replay.applied == 4


async def test_a_replayed_market_is_served_over_the_venue_protocol(recording: Path) -> None:
    # after the whole recording: the trades (0.8) emptied the 0.5 at 65000.00
    final = {
        "bids": [["64999.99000000", "1.00000000"], ["64999.98000000", "3.00000000"]],
        "asks": [["65000.01000000", "0.40000000"]],
    }
    async with (
        start_sim("binance", replay_path=str(recording), replay_speed=1000.0) as sim,
        aiohttp.ClientSession() as http,
    ):
        url = f"{sim.urls.rest}/api/v3/depth"
        for _ in range(500):
            async with http.get(url, params={"symbol": "BTCUSDT"}) as reply:
                book = await reply.json()
            if {"bids": book["bids"], "asks": book["asks"]} == final:
                break
            await asyncio.sleep(0.01)
    # equal and stable: the synthetic market did not run beside the replay
    assert {"bids": book["bids"], "asks": book["asks"]} == final


# -- OKX and Gate: the same story told in each venue's frames ------------------------------


def _okx_book(action: str, bids: list[list[str]], asks: list[list[str]]) -> dict[str, object]:
    def rows(levels: list[list[str]]) -> list[list[str]]:
        return [[px, sz, "0", "1"] for px, sz in levels]

    data = {"asks": rows(asks), "bids": rows(bids), "ts": "1", "seqId": 1, "prevSeqId": -1}
    return {"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": action, "data": [data]}


def _okx_trade(side: str, px: str, sz: str, inst_id: str = "BTC-USDT") -> dict[str, object]:
    item = {"instId": inst_id, "tradeId": "1", "px": px, "sz": sz, "side": side, "ts": "1"}
    return {"arg": {"channel": "trades", "instId": inst_id}, "data": [item]}


def _gate_book(bids: list[list[str]], asks: list[list[str]], full: bool) -> dict[str, object]:
    result: dict[str, object] = {"t": 1, "s": "BTC_USDT", "U": 1, "u": 2, "b": bids, "a": asks}
    if full:
        result["full"] = True
    return {"time": 1, "channel": "spot.order_book_update", "event": "update", "result": result}


def _gate_trade(side: str, price: str, amount: str, pair: str = "BTC_USDT") -> dict[str, object]:
    result = {"id": 1, "side": side, "currency_pair": pair, "amount": amount, "price": price}
    return {"time": 1, "channel": "spot.trades", "event": "update", "result": result}


BIDS = [["65000.0", "0.5"], ["64999.9", "1"]]
ASKS = [["65000.1", "0.4"], ["65000.2", "2"]]
NEW_BIDS, NEW_ASKS = [["64999.8", "3"]], [["65000.2", "0"]]
RESNAP_BIDS, RESNAP_ASKS = [["64000.0", "1"]], [["64000.1", "2"]]

# snapshot, update, a seller takes 0.3 then 0.5 at 65000.0, another instrument, re-snapshot
VENUE_FRAMES: dict[str, tuple[str, list[dict[str, object]]]] = {
    "okx": (
        "BTC-USDT",
        [
            _okx_book("snapshot", BIDS, ASKS),
            _okx_book("update", NEW_BIDS, NEW_ASKS),
            _okx_trade("sell", "65000.0", "0.3"),
            _okx_trade("sell", "65000.0", "0.5"),
            _okx_trade("buy", "3500.00", "1", inst_id="ETH-USDT"),
            _okx_book("snapshot", RESNAP_BIDS, RESNAP_ASKS),
        ],
    ),
    "gate": (
        "BTC_USDT",
        [
            {"id": 100, "current": 1, "update": 1, "bids": BIDS, "asks": ASKS},  # REST body
            _gate_book(NEW_BIDS, NEW_ASKS, full=False),
            _gate_trade("sell", "65000.0", "0.3"),
            _gate_trade("sell", "65000.0", "0.5"),
            _gate_trade("buy", "3500.00", "1", pair="ETH_USDT"),
            _gate_book(RESNAP_BIDS, RESNAP_ASKS, full=True),
        ],
    ),
}


def _venue_exchange(venue: str) -> tuple[SimExchange, SimClock]:
    clock = SimClock(start_ns=10**18)
    ex = SimExchange(venue, presets.default_instruments(venue), clock=clock)
    ex.open_account("me", presets.DEFAULT_BALANCES)
    return ex, clock


@pytest.mark.parametrize("venue", ["okx", "gate"])
def test_okx_and_gate_frames_drive_the_book_and_fill_us_through_the_queue(venue: str) -> None:
    symbol, docs = VENUE_FRAMES[venue]
    ex, clock = _venue_exchange(venue)
    inst = ex.engine.instrument(symbol)

    def levels(rows: list[list[str]]) -> list[tuple[int, int]]:
        return [(inst.price_to_ticks(p), inst.qty_to_lots(q)) for p, q in rows]

    frames = [RecordedFrame(i, orjson.dumps(doc)) for i, doc in enumerate(docs)]
    replay = ReplayMarket(ex.engine, symbol, publish=ex.publish)
    assert replay.venue == venue
    replay.apply(frames[0], clock.time_ns())
    replay.apply(frames[1], clock.time_ns())
    _, bids, asks = ex.engine.depth(symbol, 10)
    assert bids == levels([*BIDS, *NEW_BIDS])
    assert asks == levels(ASKS[:1])

    mine: list[object] = []
    ex.on_private("me", mine.append)
    qty, price = inst.qty_to_lots("0.3"), inst.price_to_ticks("65000.0")
    ex.submit(OrderRequest("me", symbol, OrderSide.BUY, OrderType.LIMIT, qty=qty, price=price))
    replay.apply(frames[2], clock.time_ns())  # 0.3 of the 0.5 queued ahead of us
    assert not [e for e in mine if isinstance(e, Fill)]
    replay.apply(frames[3], clock.time_ns())  # 0.2 more background, then all of ours
    fills = [e for e in mine if isinstance(e, Fill)]
    assert [(f.price, f.qty, f.is_maker) for f in fills] == [(price, qty, True)]

    replay.apply(frames[4], clock.time_ns())  # another instrument: skipped
    replay.apply(frames[5], clock.time_ns())  # a full snapshot replaces every level
    _, bids, asks = ex.engine.depth(symbol, 10)
    assert (bids, asks) == (levels(RESNAP_BIDS), levels(RESNAP_ASKS))
    assert replay.applied == 5 and replay.skipped == 1


def test_gate_obu_full_then_increments() -> None:
    ex, clock = _venue_exchange("gate")
    inst = ex.engine.instrument("BTC_USDT")
    replay = ReplayMarket(ex.engine, "BTC_USDT", publish=ex.publish)
    full = {"t": 1, "full": True, "s": "ob.BTC_USDT.50", "u": 7, "b": BIDS, "a": ASKS}
    step = {"t": 2, "s": "ob.BTC_USDT.50", "U": 8, "u": 8, "b": NEW_BIDS, "a": NEW_ASKS}
    other = step | {"s": "ob.ETH_USDT.50"}
    for result in (full, step, other):
        replay.apply(RecordedFrame(1, orjson.dumps({"channel": "spot.obu", "result": result})), 0)
    _, bids, asks = ex.engine.depth("BTC_USDT", 10)
    assert bids == [(inst.price_to_ticks(p), inst.qty_to_lots(q)) for p, q in [*BIDS, *NEW_BIDS]]
    assert asks == [(inst.price_to_ticks("65000.1"), inst.qty_to_lots("0.4"))]
    assert replay.applied == 2 and replay.skipped == 1
    assert clock.time_ns() == 10**18


@pytest.mark.parametrize(
    ("venue", "frame"),
    [
        ("okx", b'{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}'),
        ("okx", b'{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{}]}'),
        ("gate", b'{"time":1,"channel":"spot.trades","event":"subscribe","result":{}}'),
        ("gate", b'{"time":1,"channel":"spot.book_ticker","event":"update","result":{}}'),
    ],
)
def test_okx_and_gate_acks_and_other_channels_are_skipped(venue: str, frame: bytes) -> None:
    ex, _ = _venue_exchange(venue)
    symbol = presets.default_instruments(venue)[0].symbol
    replay = ReplayMarket(ex.engine, symbol, publish=ex.publish)
    replay.apply(RecordedFrame(1, frame), 0)
    assert replay.skipped == 1 and replay.applied == 0


async def test_a_malformed_okx_frame_is_skipped_by_run() -> None:
    ex, clock = _venue_exchange("okx")
    replay = ReplayMarket(ex.engine, "BTC-USDT", publish=ex.publish)
    bad = _okx_book("snapshot", BIDS, ASKS)
    bad["data"] = [{"bids": [["65000.0"]], "asks": []}]  # a level without a size
    frames = [RecordedFrame(1, orjson.dumps(bad)), RecordedFrame(1, b"{not json")]
    assert await replay.run(frames, clock) == 2
    assert replay.skipped == 2 and replay.applied == 0
