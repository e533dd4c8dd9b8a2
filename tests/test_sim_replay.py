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
