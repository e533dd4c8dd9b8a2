"""Order journal and frame recorder cases (engine/storage/journal.py, recorder.py).

- storage.journal_append.<policy> (always / interval / os): one INTENT record, encoded
  (`encode_intent`, orjson) and appended to an open journal with that fsync policy, per
  record. "always" includes the fdatasync in every append; "interval" runs the fsync thread
  (10 ms) beside the appends; "os" never fsyncs. Baseline: the naive journal, `json.dumps`
  of the fields as a dict, then open / append a line / close per record (with "always", a
  flush and fsync before the close, so both sides promise the same durability).
- storage.journal_append.batch4: the interval policy with a tick's four intents (cancel,
  cancel, new, new) appended with `more=True` and the last one writing all four: per record.
- storage.journal_encode / storage.journal_decode: the payload codec chosen (orjson arrays)
  beside the alternative measured, the same fields packed with `struct` (not a naive
  baseline: the comparison that chose the codec).
- storage.recorder_append: one 512-byte depth frame, handed as a memoryview (as the transport
  gives it), appended by FrameRecorder (one writev, no copy). Baseline: the JSON line the
  simulator's replay reads, `json.dumps({"recv_ns", "frame": text})`, open / append / close.

The files live in a temporary directory on the default temp filesystem (its path is in the
JSON output); journals are compacted and files truncated between samples, untimed.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.runner import Pair, case
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.storage.journal import (
    CHANGE,
    INTENT,
    IntentAction,
    Journal,
    decode_order_event,
    encode_change,
    encode_intent,
)
from engine.storage.recorder import FrameRecorder

CID = "k3j9x2ab01f3a"
VENUE, SYMBOL = "binance", "BTCUSDT"
PRICE, QTY = 6_500_012, 1_500
TS = 1_767_225_600_123_456_789
BUY, SELL = OrderSide.BUY, OrderSide.SELL
LIMIT_MAKER, GTC = OrderType.LIMIT_MAKER, TimeInForce.GTC
NEW, CANCEL = IntentAction.NEW, IntentAction.CANCEL

_dirs: list[str] = []


def _tmpdir(prefix: str) -> Path:
    path = tempfile.mkdtemp(prefix=f"bench-{prefix}-")
    _dirs.append(path)
    return Path(path)


@atexit.register
def _cleanup() -> None:
    for path in _dirs:
        shutil.rmtree(path, ignore_errors=True)


def _naive_append(path: Path, fsync: bool) -> Callable[[int], None]:
    dumps = json.dumps

    def naive(n: int) -> None:
        for i in range(n):
            line = dumps(
                {
                    "kind": "intent", "client_order_id": CID, "venue": VENUE,
                    "symbol": SYMBOL, "side": "buy", "order_type": "limit_maker",
                    "time_in_force": "gtc", "price_ticks": PRICE + i, "qty_lots": QTY,
                    "ts_ns": TS + i, "action": "new",
                }
            )  # fmt: skip
            with open(path, "a") as f:
                f.write(line + "\n")
                if fsync:
                    f.flush()
                    os.fsync(f.fileno())

    return naive


def _journal_case(policy: str) -> Pair:
    where = _tmpdir(f"journal-{policy}")
    journal = Journal.open(where / "orders.wal", fsync=policy, interval_ms=10)  # type: ignore[arg-type]
    atexit.register(journal.close)
    naive_path = where / "naive.jsonl"
    append, encode = journal.append, encode_intent
    report: dict[str, Any] = {"directory": str(where), "policy": policy}

    def ours(n: int) -> None:
        for i in range(n):
            append(
                INTENT,
                encode(CID, VENUE, SYMBOL, BUY, LIMIT_MAKER, GTC, PRICE + i, QTY, TS + i, NEW),
            )

    def between() -> None:
        journal.compact(journal.last_seq)
        naive_path.unlink(missing_ok=True)
        report["records"] = journal.last_seq
        report["fsyncs"] = journal.syncs

    durable = "fsync per record" if policy == "always" else "no fsync"
    return Pair(
        ours,
        _naive_append(naive_path, fsync=policy == "always"),
        batch=20 if policy == "always" else 1000,
        about=f"one INTENT encoded and appended, fsync policy {policy!r}; baseline: json.dumps "
        f"+ open/append/close per record ({durable})",
        between=between,
        report=report,
    )


@case("storage.journal_append.always", about="one INTENT appended, fsync per record vs naive")
def journal_always() -> Pair:
    return _journal_case("always")


@case("storage.journal_append.interval", about="one INTENT appended, fsync thread (10 ms)")
def journal_interval() -> Pair:
    return _journal_case("interval")


@case("storage.journal_append.os", about="one INTENT appended, no fsync, vs naive")
def journal_os() -> Pair:
    return _journal_case("os")


@case("storage.journal_append.batch4", about="a tick's 4 INTENTs, one write, per record")
def journal_batch4() -> Pair:
    where = _tmpdir("journal-batch")
    journal = Journal.open(where / "orders.wal", fsync="interval", interval_ms=10)
    atexit.register(journal.close)
    naive_path = where / "naive.jsonl"
    append, encode = journal.append, encode_intent

    def ours(n: int) -> None:
        for i in range(n >> 2):
            p = PRICE + i
            cancel_bid = encode(CID, VENUE, SYMBOL, BUY, LIMIT_MAKER, GTC, p, 0, TS, CANCEL)
            append(INTENT, cancel_bid, more=True)
            cancel_ask = encode(CID, VENUE, SYMBOL, SELL, LIMIT_MAKER, GTC, p, 0, TS, CANCEL)
            append(INTENT, cancel_ask, more=True)
            new_bid = encode(CID, VENUE, SYMBOL, BUY, LIMIT_MAKER, GTC, p, QTY, TS, NEW)
            append(INTENT, new_bid, more=True)
            new_ask = encode(CID, VENUE, SYMBOL, SELL, LIMIT_MAKER, GTC, p, QTY, TS, NEW)
            append(INTENT, new_ask)

    def between() -> None:
        journal.compact(journal.last_seq)
        naive_path.unlink(missing_ok=True)

    return Pair(
        ours,
        _naive_append(naive_path, fsync=False),
        batch=1000,
        about="one of a tick's 4 INTENTs (more=True, one write per tick), policy 'interval'; "
        "baseline: json.dumps + open/append/close per record",
        between=between,
        report={"directory": str(where), "policy": "interval"},
    )


# ---------------------------------------------------------------------- codec

_STRUCT_INTENT = struct.Struct("<BbBBqqqHHH")
_CODE = {LIMIT_MAKER: 3, GTC: 1, NEW: 1}


def _struct_encode(  # noqa: PLR0917 - encode_intent's signature
    cid: str,
    venue: str,
    symbol: str,
    side: OrderSide,
    order_type: OrderType,
    tif: TimeInForce,
    price: int,
    qty: int,
    ts: int,
    action: IntentAction,
) -> bytes:
    c, v, s = cid.encode(), venue.encode(), symbol.encode()
    head = _STRUCT_INTENT.pack(
        _CODE[action], side, _CODE[order_type], _CODE[tif], price, qty, ts, len(c), len(v), len(s)
    )
    return b"".join((head, c, v, s))


_CODE_BACK = {1: GTC, 3: LIMIT_MAKER}


def _struct_decode(payload: bytes) -> tuple[Any, ...]:
    action, side, otype, tif, price, qty, ts, lc, lv, ls = _STRUCT_INTENT.unpack_from(payload)
    o = _STRUCT_INTENT.size
    cid = payload[o : o + lc].decode()
    o += lc
    venue = payload[o : o + lv].decode()
    o += lv
    symbol = payload[o : o + ls].decode()
    return (
        cid, venue, symbol, OrderSide(side), _CODE_BACK[otype], _CODE_BACK[tif], price, qty,
        ts, NEW if action == 1 else CANCEL,
    )  # fmt: skip


@case("storage.journal_encode")
def journal_encode() -> Pair:
    def ours(n: int) -> None:
        for i in range(n):
            encode_intent(CID, VENUE, SYMBOL, BUY, LIMIT_MAKER, GTC, PRICE + i, QTY, TS, NEW)

    def packed(n: int) -> None:
        for i in range(n):
            _struct_encode(CID, VENUE, SYMBOL, BUY, LIMIT_MAKER, GTC, PRICE + i, QTY, TS, NEW)

    sample = encode_intent(CID, VENUE, SYMBOL, BUY, LIMIT_MAKER, GTC, PRICE, QTY, TS, NEW)
    change = encode_change(
        CID, VENUE, SYMBOL, BUY, OrderStatus.PARTIALLY_FILLED, 700, 200, PRICE, "T-1",
        Decimal("0.00012"), "BNB", "v-1", "", TS, TS,
    )  # fmt: skip
    return Pair(
        ours,
        packed,
        batch=1000,
        about="one INTENT payload: encode_intent (orjson array); baseline: the alternative, "
        "struct-packed fields + length-prefixed UTF-8 strings",
        report={
            "intent_bytes": len(sample),
            "struct_bytes": len(
                _struct_encode(CID, VENUE, SYMBOL, BUY, LIMIT_MAKER, GTC, PRICE, QTY, TS, NEW)
            ),
            "change_bytes": len(change),
        },
    )


@case("storage.journal_decode")
def journal_decode() -> Pair:
    payload = encode_intent(CID, VENUE, SYMBOL, BUY, LIMIT_MAKER, GTC, PRICE, QTY, TS, NEW)
    packed = _struct_encode(CID, VENUE, SYMBOL, BUY, LIMIT_MAKER, GTC, PRICE, QTY, TS, NEW)
    assert tuple(decode_order_event(INTENT, payload)) == _struct_decode(packed)
    assert CHANGE != INTENT

    def ours(n: int) -> None:
        for _ in range(n):
            decode_order_event(INTENT, payload)

    def alternative(n: int) -> None:
        for _ in range(n):
            _struct_decode(packed)

    return Pair(
        ours,
        alternative,
        batch=1000,
        about="one INTENT payload to an IntentRecord (checked, enums): orjson; baseline: the "
        "struct alternative, unpacked to the same fields",
    )


# ---------------------------------------------------------------------- recorder


def _depth_frame(size: int = 512) -> bytes:
    body = b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1767225600123,'
    body += b'"s":"BTCUSDT","U":78423155533,"u":78423155560,"b":[["64999.99000000","0.00572000"]'
    while len(body) < size - 10:
        body += b',["64999.98000000","0.11312000"]'
    return (body + b'],"a":[]}}')[:size]


@case("storage.recorder_append", about="one 512-byte frame recorded (writev) vs a JSON line")
def recorder_append() -> Pair:
    where = _tmpdir("recorder")
    recorder = FrameRecorder(where / "frames", "binance", max_file_mb=64)
    atexit.register(recorder.close)
    receive_buffer = bytearray(_depth_frame())
    view = memoryview(receive_buffer)
    naive_path = where / "naive.jsonl"
    dumps = json.dumps
    append = recorder.append

    def ours(n: int) -> None:
        for i in range(n):
            append(TS + i, view)

    def naive(n: int) -> None:
        for i in range(n):
            line = dumps({"recv_ns": TS + i, "frame": bytes(view).decode()})
            with open(naive_path, "a") as f:
                f.write(line + "\n")

    def between() -> None:
        for path in recorder.files[:-1]:  # rotated files: keep the disk use bounded
            path.unlink(missing_ok=True)
        del recorder.files[:-1]
        naive_path.unlink(missing_ok=True)
        if not recorder.enabled:
            raise RuntimeError(f"the frame recorder stopped: {recorder.errors} errors")

    return Pair(
        ours,
        naive,
        batch=1000,
        about="one 512-byte frame (a memoryview) appended by FrameRecorder (writev, no copy); "
        "baseline: json.dumps of {recv_ns, frame text} + open/append/close per frame",
        between=between,
        report={"directory": str(where), "frame_bytes": len(receive_buffer)},
    )
