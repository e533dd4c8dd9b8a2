"""Replay case: decoding recorded Binance depth frames in bulk, one Numba kernel call per batch,
beside the naive per-message path (orjson.loads + Decimal conversion of every level)."""

from __future__ import annotations

import random
from decimal import Decimal

import orjson

from bench.runner import Pair, case
from engine.data.replay_decode import OK, decode_depth_batch, pack_frames

FRAMES = 10_000
LEVELS = 10  # per side
TICK = Decimal("0.01")  # BTCUSDT: tick 0.01, lot 0.00001
LOT = Decimal("0.00001")


def _frames(count: int, seed: int = 7) -> list[bytes]:
    """Realistic diffs: a drifting mid, 10 bids and 10 asks near it, 8-decimal strings as
    Binance prints them, about one level in five a delete ("0.00000000")."""
    rng = random.Random(seed)
    mid = 6_500_000  # ticks
    update_id = 78_423_155_532
    out = []
    for k in range(count):
        mid += rng.randint(-3, 3)
        first = update_id + 1
        update_id += rng.randint(1, 40)

        def level(ticks: int) -> str:
            lots = 0 if rng.random() < 0.2 else rng.randint(1, 400_000)
            price = f"{ticks // 100}.{ticks % 100:02d}000000"
            qty = f"{lots // 100_000}.{lots % 100_000:05d}000"
            return f'["{price}","{qty}"]'

        bids = ",".join(level(mid - rng.randint(1, 500)) for _ in range(LEVELS))
        asks = ",".join(level(mid + rng.randint(1, 500)) for _ in range(LEVELS))
        out.append(
            (
                f'{{"e":"depthUpdate","E":{1_700_000_000_000 + 100 * k},"s":"BTCUSDT",'
                f'"U":{first},"u":{update_id},"b":[{bids}],"a":[{asks}]}}'
            ).encode()
        )
    return out


@case("replay.decode_batch")
def decode_batch() -> Pair:
    frames = _frames(FRAMES)
    data, offsets = pack_frames(frames)

    def ours(n: int) -> None:
        done = 0
        while done < n:
            k = min(n - done, FRAMES)
            # a prefix of the batch: views, no copy
            end = int(offsets[k]) if k < FRAMES else data.shape[0]
            batch = decode_depth_batch(data[:end], offsets[:k], 1, 2, 1, 5)
            if k and batch.status[k - 1] != OK:
                raise AssertionError("benchmark frame did not decode")
            done += k

    def naive(n: int) -> None:
        loads = orjson.loads
        for i in range(n):
            msg = loads(frames[i % FRAMES])
            levels = []
            for side, key in ((0, "b"), (1, "a")):
                for p, q in msg[key]:
                    ticks, rest_p = divmod(Decimal(p), TICK)
                    lots, rest_q = divmod(Decimal(q), LOT)
                    if rest_p or rest_q:
                        raise ValueError("off grid")
                    levels.append((side, int(ticks), int(lots)))
            (msg["U"], msg["u"], msg["E"], levels)

    ours(FRAMES)  # JIT compile (or load from the cache) before any timed sample
    return Pair(
        ours,
        naive,
        batch=FRAMES,
        about="one depthUpdate frame (10+10 levels) decoded to int ticks/lots inside a "
        "10,000-frame decode_depth_batch call; baseline: orjson.loads + Decimal divmod per level",
    )
