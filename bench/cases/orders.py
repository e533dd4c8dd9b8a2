"""Order entry and execution report cases, on the functions the adapters and the order manager
run (engine/gateway/<venue>/orders_wire.py, engine/oms/manager.py).

- order.new.<venue>: one new order, from the intent's grid ints to signed request bytes
  handed to a socket: the client order id (engine.oms.ids), the venue's WS trading frame as the
  adapter builds it, from its request template (`<venue>/orders_wire.OrderTemplates`, filled
  by engine/gateway/request_template.pyx into a reused buffer: Binance `order.place` with its
  HMAC-SHA256 signature computed in the same call; OKX `order` and Gate `spot.order_place` on
  their logged-in sessions, which sign the login, not each order), the bytes passed as they
  are to `socket.send` on a connected loopback TCP socket (the other end drained between
  samples). Baseline: the same request as a dict, `json.dumps` (Binance: `urlencode` of the
  sorted parameters and `hmac.new(...).hexdigest()` too), encoded, sent on the same socket.
- order.requote.binance: one requote of a two-sided quote, i.e. two `order.cancelReplace`
  requests (the template's, signed), built and sent as above.
- oms.apply_fill: one Binance `executionReport` frame (bytes, as the user-data subscription
  delivers it) -> the adapters' Cython decoder (engine/_core/reports.pyx,
  `ReportDecoder.binance`) -> ExecutionReport -> OrderManager.on_report: trade-id
  de-duplication, the order table's transition, the Cython position. Each frame is a new
  trade of one resting order. Baseline: json.loads, Decimal quantities, a dict order and a
  Decimal position.
- oms.apply_fill_orjson: the same with the Python decoding the adapters used before
  (orjson + orders_wire.execution_report), for comparison.
"""

from __future__ import annotations

import hmac
import json
import socket
from decimal import Decimal
from hashlib import sha256
from typing import Any
from urllib.parse import urlencode

import orjson

from bench.runner import Pair, case
from engine._core import intents as ib
from engine._core.reports import ReportDecoder
from engine.clock import LiveClock
from engine.gateway.adapter import ExecutionReport, OrderRequest, VenueEndpoints
from engine.gateway.binance import orders_wire as binance_wire
from engine.gateway.binance.trading import BinanceAdapter
from engine.gateway.gate import orders_wire as gate_wire
from engine.gateway.okx import orders_wire as okx_wire
from engine.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from engine.oms.ids import ClientOrderIds
from engine.oms.manager import OrderManager
from engine.sim import presets
from engine.wire.credentials import Credentials

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
CREDENTIALS = Credentials(API_KEY, SECRET)
PRICE, QTY = "65000.10", "0.01500"
BATCH = 256


class _Socket:
    """A connected loopback TCP pair: `send` is what the adapters' transports end in."""

    def __init__(self) -> None:
        server = socket.create_server(("127.0.0.1", 0))
        self.tx = socket.create_connection(server.getsockname())
        self.rx, _ = server.accept()
        server.close()
        for s in (self.tx, self.rx):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rx.setblocking(False)
        self.send = self.tx.send

    def drain(self) -> None:
        try:
            while self.rx.recv(1 << 20):
                pass
        except BlockingIOError:
            pass


def _order_ids() -> tuple[ClientOrderIds, list[int]]:
    ids = ClientOrderIds(1_765_000_000_000, salt="bn")
    return ids, [(g << 12) | (g % 4096) for g in range(1, BATCH + 1)]


def _pair(candidate: Any, baseline: Any, sock: _Socket, about: str) -> Pair:
    return Pair(candidate, baseline, batch=BATCH, about=about, between=sock.drain)


@case("order.new.binance")
def new_binance() -> Pair:
    inst = presets.instrument("binance", "BTC")
    price, qty = inst.price_to_ticks(PRICE), inst.qty_to_lots(QTY)
    ids, order_ids = _order_ids()
    sock = _Socket()
    clock = LiveClock()
    templates = binance_wire.OrderTemplates(
        inst, api_key=API_KEY, recv_window="5000", secret=SECRET
    )

    def ours(n: int) -> None:
        send = sock.send
        for i in range(n):
            cid = ids.of(order_ids[i])
            data = templates.place(
                i,
                OrderSide.BUY,
                OrderType.LIMIT_MAKER,
                TimeInForce.GTC,
                quantity_lots=qty,
                price_ticks=price,
                client_order_id=cid,
                timestamp_ms=clock.time_ns() // 1_000_000,
                signed=True,
            )
            send(data)

    key = SECRET.encode()

    def naive(n: int) -> None:
        for i in range(n):
            params: dict[str, Any] = {
                "symbol": inst.symbol,
                "side": "BUY",
                "type": "LIMIT_MAKER",
                "quantity": str(inst.lots_to_qty(qty)),
                "price": str(inst.ticks_to_price(price)),
                "newClientOrderId": f"bn{order_ids[i]}",
                "newOrderRespType": "RESULT",
                "recvWindow": 5000,
                "timestamp": clock.time_ns() // 1_000_000,
                "apiKey": API_KEY,
            }
            params = dict(sorted(params.items()))
            params["signature"] = hmac.new(key, urlencode(params).encode(), sha256).hexdigest()
            frame = {"id": i, "method": "order.place", "params": params}
            sock.send(json.dumps(frame).encode())

    return _pair(
        ours,
        naive,
        sock,
        "one Binance order.place (post-only) from grid ints to signed bytes sent on a loopback "
        "socket; baseline: dict + urlencode + hmac.new + json.dumps",
    )


@case("order.new.okx")
def new_okx() -> Pair:
    inst = presets.instrument("okx", "BTC")
    price, qty = inst.price_to_ticks(PRICE[:-1]), inst.qty_to_lots(QTY)
    ids, order_ids = _order_ids()
    sock = _Socket()
    templates = okx_wire.OrderTemplates(inst)

    def ours(n: int) -> None:
        send = sock.send
        for i in range(n):
            request = OrderRequest(
                ids.of(order_ids[i]), inst, OrderSide.BUY, OrderType.LIMIT_MAKER, qty, price
            )
            send(templates.place(i, request))

    def naive(n: int) -> None:
        for i in range(n):
            arg = {
                "instId": inst.symbol,
                "tdMode": "cash",
                "clOrdId": f"bn{order_ids[i]}",
                "side": "buy",
                "ordType": "post_only",
                "px": str(inst.ticks_to_price(price)),
                "sz": str(inst.lots_to_qty(qty)),
            }
            sock.send(json.dumps({"id": str(i), "op": "order", "args": [arg]}).encode())

    return _pair(
        ours,
        naive,
        sock,
        "one OKX WS `order` (post_only) on the logged-in private session, grid ints to bytes "
        "sent on a loopback socket; baseline: dict + json.dumps",
    )


@case("order.new.gate")
def new_gate() -> Pair:
    inst = presets.instrument("gate", "BTC")
    price, qty = inst.price_to_ticks(PRICE[:-1]), inst.qty_to_lots(QTY)
    ids, order_ids = _order_ids()
    sock = _Socket()
    clock = LiveClock()
    templates = gate_wire.OrderTemplates(inst)

    def ours(n: int) -> None:
        send = sock.send
        for i in range(n):
            data = templates.place(
                i,
                clock.time_ns() // 1_000_000_000,
                ids.of(order_ids[i]),
                side=OrderSide.BUY,
                order_type=OrderType.LIMIT_MAKER,
                quantity_lots=qty,
                price_ticks=price,
                tif=TimeInForce.GTC,
            )
            send(data)

    def naive(n: int) -> None:
        for i in range(n):
            param = {
                "text": f"t-bn{order_ids[i]}",
                "currency_pair": inst.symbol,
                "type": "limit",
                "account": "spot",
                "side": "buy",
                "amount": str(inst.lots_to_qty(qty)),
                "price": str(inst.ticks_to_price(price)),
                "time_in_force": "poc",
            }
            frame = {
                "time": clock.time_ns() // 1_000_000_000,
                "channel": "spot.order_place",
                "event": "api",
                "payload": {"req_id": str(i), "req_param": param},
            }
            sock.send(json.dumps(frame).encode())

    return _pair(
        ours,
        naive,
        sock,
        "one Gate spot.order_place (poc) on the logged-in WS API, grid ints to bytes sent on a "
        "loopback socket; baseline: dict + json.dumps",
    )


@case("order.requote.binance")
def requote_binance() -> Pair:
    inst = presets.instrument("binance", "BTC")
    bid, ask = inst.price_to_ticks("64999.90"), inst.price_to_ticks("65000.10")
    qty = inst.qty_to_lots(QTY)
    ids, order_ids = _order_ids()
    sock = _Socket()
    clock = LiveClock()
    templates = binance_wire.OrderTemplates(
        inst, api_key=API_KEY, recv_window="5000", secret=SECRET
    )

    def ours(n: int) -> None:
        send = sock.send
        for i in range(n):
            for side, price, k in ((OrderSide.BUY, bid, 0), (OrderSide.SELL, ask, 1)):
                old = ids.of(order_ids[(2 * i + k) % BATCH])
                data = templates.replace(
                    2 * i + k,
                    side,
                    OrderType.LIMIT_MAKER,
                    TimeInForce.GTC,
                    quantity_lots=qty,
                    price_ticks=price,
                    client_order_id=old + "-r1",
                    cancel_client_order_id=old,
                    timestamp_ms=clock.time_ns() // 1_000_000,
                    signed=True,
                )
                send(data)

    key = SECRET.encode()

    def naive(n: int) -> None:
        for i in range(n):
            for side, price, k in (("BUY", bid, 0), ("SELL", ask, 1)):
                params: dict[str, Any] = {
                    "symbol": inst.symbol,
                    "side": side,
                    "type": "LIMIT_MAKER",
                    "quantity": str(inst.lots_to_qty(qty)),
                    "price": str(inst.ticks_to_price(price)),
                    "cancelOrigClientOrderId": f"bn{order_ids[(2 * i + k) % BATCH]}",
                    "newClientOrderId": f"bn{order_ids[(2 * i + k) % BATCH]}-r1",
                    "cancelReplaceMode": "STOP_ON_FAILURE",
                    "newOrderRespType": "RESULT",
                    "recvWindow": 5000,
                    "timestamp": clock.time_ns() // 1_000_000,
                    "apiKey": API_KEY,
                }
                params = dict(sorted(params.items()))
                payload = urlencode(params).encode()
                params["signature"] = hmac.new(key, payload, sha256).hexdigest()
                frame = {"id": 2 * i + k, "method": "order.cancelReplace", "params": params}
                sock.send(json.dumps(frame).encode())

    return _pair(
        ours,
        naive,
        sock,
        "one requote of a two-sided quote: two Binance order.cancelReplace requests signed "
        "and sent on a loopback socket; baseline: dicts + urlencode + hmac.new + json.dumps",
    )


def _execution_report(cid: str, trade_id: int, cum: str) -> bytes:
    event = {
        "e": "executionReport", "E": 1765000000123, "s": "BTCUSDT", "c": cid, "S": "BUY",
        "o": "LIMIT_MAKER", "f": "GTC", "q": "1000.00000", "p": "65000.10", "P": "0.00",
        "F": "0.00000", "g": -1, "C": "", "x": "TRADE", "X": "PARTIALLY_FILLED", "r": "NONE",
        "i": 4293153, "l": "0.00001", "z": cum, "L": "65000.10", "n": "0.00065000",
        "N": "USDT", "T": 1765000000120, "t": trade_id, "I": 8641984, "w": False, "m": True,
        "M": True, "O": 1765000000001, "Z": "0.65", "Y": "0.65", "Q": "0.00",
        "W": 1765000000001, "V": "EXPIRE_MAKER",
    }  # fmt: skip
    return json.dumps({"subscriptionId": 0, "event": event}).encode()


@case("oms.apply_fill")
def apply_fill() -> Pair:
    return _apply_fill(cython_decoder=True)


@case("oms.apply_fill_orjson")
def apply_fill_orjson() -> Pair:
    return _apply_fill(cython_decoder=False)


def _apply_fill(*, cython_decoder: bool) -> Pair:
    inst = presets.instrument("binance", "BTC")
    endpoints = VenueEndpoints("http://127.0.0.1:1", "ws://127.0.0.1:1", "ws://127.0.0.1:1")
    adapter = BinanceAdapter(endpoints, CREDENTIALS, LiveClock(), [inst])
    state: dict[str, Any] = {}

    def reset() -> None:
        """A fresh manager and one resting order of 1,000 BTC that every frame fills by 1 lot;
        frames for the next sample, each a new trade id."""
        oms = OrderManager(LiveClock(), [inst], {"binance": adapter}, capacity=16)
        lots = inst.qty_to_lots("1000")
        order_id = oms.open_order(0, ib.BUY, ib.LIMIT_MAKER, ib.GTC, 6_500_010, lots)
        cid = oms.client_order_id(order_id)
        oms.table.report(order_id, 2, 0, 0, 0)  # acknowledged: NEW
        frames = [
            _execution_report(cid, 10_000 + k, str(inst.lots_to_qty(k + 1))) for k in range(BATCH)
        ]
        naive_frames = [
            _execution_report("naive", 10_000 + k, str(inst.lots_to_qty(k + 1)))
            for k in range(BATCH)
        ]
        state.update(oms=oms, frames=frames, naive_frames=naive_frames)
        state.update(order={"filled": Decimal(0), "qty": Decimal(1000), "status": "NEW"})
        state.update(position={"qty": Decimal(0), "cost": Decimal(0), "fees": Decimal(0)})
        state.update(seen=set())

    reset()

    def ours(n: int) -> None:
        on_report, decode = state["oms"].on_report, binance_wire.execution_report
        loads = orjson.loads
        for frame in state["frames"][:n]:
            on_report(decode(inst, loads(frame)["event"], 0))

    reports = ReportDecoder(
        [inst], report_type=ExecutionReport, status_type=OrderStatus, side_type=OrderSide
    )

    def ours_cython(n: int) -> None:
        on_report, decode = state["oms"].on_report, reports.binance
        for frame in state["frames"][:n]:
            on_report(decode(frame, 0))

    def naive(n: int) -> None:
        order, position, seen = state["order"], state["position"], state["seen"]
        for frame in state["naive_frames"][:n]:
            ev = json.loads(frame)["event"]
            if ev["t"] in seen:
                continue
            seen.add(ev["t"])
            last, price = Decimal(ev["l"]), Decimal(ev["L"])
            order["filled"] = max(order["filled"], Decimal(ev["z"]))
            order["status"] = "FILLED" if order["filled"] >= order["qty"] else "PARTIALLY_FILLED"
            position["qty"] += last
            position["cost"] += last * price
            position["fees"] += Decimal(ev["n"])

    decoding = "Cython ReportDecoder.binance" if cython_decoder else "orjson"
    return Pair(
        ours_cython if cython_decoder else ours,
        naive,
        batch=BATCH,
        about=f"one Binance executionReport frame (bytes) -> {decoding} -> ExecutionReport -> "
        "OrderManager.on_report (trade-id dedup, order table, Cython position); baseline: "
        "json.loads + Decimal + dict order and position",
        between=reset,
    )
