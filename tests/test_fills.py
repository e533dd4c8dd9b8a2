"""The OMS fill ledger (engine/_core/fills.pyx) against its reference (engine/oms/fills_ref.py):
trade-id de-duplication with FIFO eviction, numeric and other ids, the one-call booking
(position, order table), the C fee conversion, bounds, and no allocation on the hot path.
"""

from __future__ import annotations

import gc
import random
import tracemalloc
from decimal import Decimal
from typing import Any

import pytest

from engine._core import fills as fast
from engine._core.fills import FillLedger, fee_units
from engine._core.fixedpoint import FixedPointOverflowError
from engine._core.orders import OrderTable
from engine._core.position import PositionCore
from engine.clock import SimClock
from engine.gateway.adapter import ExecutionReport
from engine.model.enums import OrderSide, OrderStatus
from engine.model.instrument import _ceil_units
from engine.model.position_ref import PositionRef
from engine.oms import fills_ref as ref
from engine.oms import orders_ref
from engine.oms.fills_ref import FillLedgerRef, fee_units_ref
from engine.oms.ids import ClientOrderIds
from engine.oms.manager import OrderManager
from engine.oms.orders_ref import OrderTableRef
from engine.sim import presets

BUY, SELL = 1, -1
NEW, PARTIAL, FILLED, CANCELED = orders_ref.NEW, orders_ref.PARTIALLY_FILLED, 7, 8
PENDING_NEW, PENDING_CANCEL, UNKNOWN = 1, 4, 6


def pair(instruments: int = 2, capacity: int = 8, orders: int = 16) -> tuple[Any, Any]:
    c = FillLedger([PositionCore() for _ in range(instruments)], OrderTable(orders), capacity)
    r = FillLedgerRef([PositionRef() for _ in range(instruments)], OrderTableRef(orders), capacity)
    return c, r


def position(p: Any) -> tuple[int, ...]:
    return (p.qty, p.cost, p.realized, p.fees, p.volume, p.fills)


def test_constants_agree() -> None:
    for name in ("DUPLICATE", "NOT_LIVE", "NO_REPORT", "ERR_ARG", "MAX_CAPACITY"):
        assert getattr(fast, name) == getattr(ref, name), name
    assert all(-191 <= getattr(fast, n) <= -176 for n in ("DUPLICATE", "NOT_LIVE", "ERR_ARG"))
    assert "booked already" in fast.describe(fast.DUPLICATE)


@pytest.mark.parametrize("capacity", [0, -1, 2**24 + 1])
def test_capacity_bounds(capacity: int) -> None:
    with pytest.raises(ValueError, match="capacity"):
        FillLedger([PositionCore()], OrderTable(4), capacity)
    with pytest.raises(ValueError, match="capacity"):
        FillLedgerRef([PositionRef()], OrderTableRef(4), capacity)


def test_arguments_are_checked() -> None:
    with pytest.raises(TypeError):
        FillLedger([object()], OrderTable(4))  # type: ignore[list-item]
    with pytest.raises(TypeError):
        FillLedger([PositionCore()], None)  # type: ignore[arg-type]
    c = FillLedger([PositionCore()], OrderTable(4), 4)
    for bad in (-1, 1, 2**40):
        with pytest.raises(IndexError):
            c.add(bad, "1")
        with pytest.raises(IndexError):
            c.contains(bad, "1")
        with pytest.raises(IndexError):
            c.count(bad)
        with pytest.raises(IndexError):
            c.ids(bad)
        assert c.apply_fill(bad, 0, NEW, -1, 1, BUY, 100, 0, "1", 0) == fast.ERR_ARG
    with pytest.raises(TypeError):
        c.add(0, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        c.apply_fill(0, 0, NEW, -1, 1, BUY, 100, 0, None, 0)  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        c.apply_fill(0, 0, NEW, -1, 2**63, BUY, 100, 0, "1", 0)
    assert c.count(0) == 0  # a refused argument changed nothing


def test_no_instruments() -> None:
    c = FillLedger([], OrderTable(4))
    assert c.instruments == 0
    with pytest.raises(IndexError):
        c.add(0, "1")


def test_fifo_eviction_mixes_numeric_and_text_ids() -> None:
    c, r = pair(1, capacity=3)
    for t in ["1", "007", "x", "2", "1", "3", "0", "10", "x", "", "-5", "1" * 19, "٣"]:
        assert c.add(0, t) == r.add(0, t), t
        assert c.ids(0) == r.ids(0), t
        assert c.contains(0, t) and r.contains(0, t)
    assert not c.contains(0, "1") and not r.contains(0, "1")


def test_numeric_look_alikes_stay_distinct() -> None:
    c = FillLedger([PositionCore()], OrderTable(4), 16)
    for t in ["7", "07", "007", "7 ", "+7", "7.0", "999999999999999999", "0999999999999999999"]:
        assert c.add(0, t), t
    for t in ["7", "07", "007", "7 ", "+7", "7.0", "999999999999999999", "0999999999999999999"]:
        assert not c.add(0, t), t
    assert c.count(0) == 8


def test_instruments_are_independent() -> None:
    c, r = pair(2, capacity=4)
    assert c.add(0, "5") and r.add(0, "5")
    assert c.add(1, "5") and r.add(1, "5")
    assert not c.add(1, "5") and not r.add(1, "5")


@pytest.mark.parametrize("seed", range(6))
def test_random_walk_of_ids_agrees(seed: int) -> None:
    rng = random.Random(seed)
    capacity = rng.choice([1, 2, 5, 64, 1000])
    c, r = pair(2, capacity=capacity)
    pool = max(4, capacity * 2)
    for _ in range(20_000):
        index = rng.randrange(2)
        kind = rng.random()
        if kind < 0.7:
            t = str(rng.randrange(pool) * rng.choice([1, 1, 1, 7919, 10**12 + 39]))
        elif kind < 0.9:
            t = rng.choice(["a", "b", "t-", "0"]) + str(rng.randrange(pool))
        else:
            t = rng.choice(["", "x", "00", "-1", "18446744073709551616"])
        assert c.add(index, t) == r.add(index, t), t
        if rng.random() < 0.01:
            agree_ids(c, r)
    agree_ids(c, r)


def agree_ids(c: Any, r: Any) -> None:
    for i in range(c.instruments):
        assert c.ids(i) == r.ids(i)
        for t in r.ids(i):
            assert c.contains(i, t)


def test_the_managers_capacity_evicts_in_order() -> None:
    c, r = pair(1, capacity=65_536)
    rng = random.Random(3)
    ids = [str(rng.randrange(1, 10**15)) for _ in range(70_000)] + ["t1", "t2"]
    for t in ids:
        assert c.add(0, t) == r.add(0, t)
    assert c.ids(0) == r.ids(0)
    assert c.count(0) == 65_536


class Books:
    """The C ledger and the reference side by side, with their tables and positions."""

    def __init__(self, instruments: int, capacity: int, orders: int) -> None:
        self.cpos = [PositionCore() for _ in range(instruments)]
        self.rpos = [PositionRef() for _ in range(instruments)]
        self.ctable = OrderTable(orders)
        self.rtable = OrderTableRef(orders)
        self.c = FillLedger(self.cpos, self.ctable, capacity)
        self.r = FillLedgerRef(self.rpos, self.rtable, capacity)

    def open(self, index: int, side: int, qty: int) -> int:
        a = self.ctable.open(index, side, 1, 1, 100, qty, 0, 1)
        b = self.rtable.open(index, side, 1, 1, 100, qty, 0, 1)
        assert a == b
        return a[1]

    def fill(self, *args: Any) -> int:
        a = self.c.apply_fill(*args)
        b = self.r.apply_fill(*args)
        assert a == b, args
        assert self.c.terminal == self.r.terminal
        if a not in {fast.DUPLICATE, fast.ERR_ARG}:
            assert self.c.position_status == self.r.position_status
        for cp, rp in zip(self.cpos, self.rpos, strict=True):
            assert position(cp) == position(rp)
        order_id = args[1]
        assert self.ctable.get(order_id) == self.rtable.get(order_id)
        return a


def test_apply_fill_codes() -> None:
    b = Books(1, 8, 8)
    oid = b.open(0, BUY, 10)
    assert b.fill(0, oid, NEW, 0, 0, BUY, 100, 0, "0", 1) != fast.DUPLICATE  # no lots: refused
    assert b.c.position_status == -18
    assert b.fill(0, oid, PARTIAL, 4, 4, BUY, 100, 5, "1", 3) == orders_ref.OK
    assert b.fill(0, oid, PARTIAL, 4, 4, BUY, 100, 5, "1", 3) == fast.DUPLICATE
    assert b.fill(0, oid, PENDING_CANCEL, -1, 1, BUY, 100, 5, "2", 3) == fast.NO_REPORT
    assert b.fill(0, oid, UNKNOWN, -1, 1, BUY, 100, 5, "2b", 3) == fast.NO_REPORT
    assert b.fill(0, oid, PENDING_NEW, -1, 1, BUY, 100, 5, "2c", 3) == fast.NO_REPORT
    assert b.fill(0, oid, PARTIAL, 20, 16, BUY, 100, 0, "3", 4) == orders_ref.ERR_OVERFILL
    assert b.fill(0, oid, FILLED, 10, 6, BUY, 100, -2, "4", 5) == orders_ref.OK
    assert b.c.terminal
    # a new trade after the final report: booked into the position, refused by the table
    assert b.fill(0, oid, FILLED, 10, 6, BUY, 100, -2, "5", 6) == orders_ref.ERR_TRANSITION
    assert not b.c.terminal
    b.ctable.release(oid)
    b.rtable.release(oid)
    assert b.fill(0, oid, PARTIAL, -1, 1, SELL, 100, 0, "6", 7) == fast.NOT_LIVE
    assert b.fill(0, 0, PARTIAL, -1, 1, SELL, 100, 0, "7", 7) == fast.NOT_LIVE
    assert b.fill(0, 0, PARTIAL, -1, 1, 3, 100, 0, "8", 7) == fast.NOT_LIVE
    assert b.c.position_status == -16
    assert b.fill(0, 0, PARTIAL, -1, 1, BUY, 0, 0, "9", 7) == fast.NOT_LIVE
    assert b.c.position_status == -17
    assert b.fill(0, 0, PARTIAL, -1, 2**62, BUY, 2**40, 0, "10", 7) == fast.NOT_LIVE
    assert b.c.position_status == -3


@pytest.mark.parametrize("seed", range(8))
def test_random_walk_of_fills_agrees(seed: int) -> None:
    rng = random.Random(seed)
    capacity = rng.choice([1, 3, 32])
    b = Books(2, capacity, 8)
    live: list[int] = []
    for step in range(4_000):
        if len(live) < 4 and rng.random() < 0.2:
            oid = b.open(rng.randrange(2), rng.choice([BUY, SELL]), rng.randint(1, 50))
            if oid:
                live.append(oid)
                if rng.random() < 0.7:
                    assert b.ctable.report(oid, NEW, 0, 0, step) == b.rtable.report(
                        oid, NEW, 0, 0, step
                    )
        if rng.random() < 0.1:
            trade_id = str(rng.randrange(max(step, 1)))  # a repeat, or one forgotten
        elif rng.random() < 0.1:
            trade_id = f"g{step}"
        else:
            trade_id = str(step)
        if live and rng.random() < 0.85:
            oid = rng.choice(live)
        else:
            oid = rng.choice([0, 12345, *live]) if live else 0
        row = b.ctable.get(oid)
        index = row[1] if row is not None else rng.randrange(2)
        if rng.random() < 0.02:
            index = rng.choice([-1, 2])
        status = rng.choice([PARTIAL] * 6 + [FILLED, CANCELED, NEW, PENDING_CANCEL, UNKNOWN])
        filled = row[8] if row is not None else 0
        last = rng.choice([1, 1, 2, 5, 0, 30])
        cum = rng.choice([-1, filled + last, filled, filled + last + 3])
        side = rng.choice([BUY, SELL, BUY, SELL, 0])
        price = rng.choice([90, 100, 110, 0, 2**62])
        fee = rng.randint(-5, 20)
        b.fill(index, oid, status, cum, last, side, price, fee, trade_id, step)
        if b.c.terminal:
            assert b.ctable.release(oid) == b.rtable.release(oid)
            live.remove(oid)
    agree_ids(b.c, b.r)


def test_hot_path_does_not_allocate() -> None:
    b = Books(1, 1024, 8)
    oid = b.open(0, BUY, 10**9)
    ids = [str(10_000 + k) for k in range(4096)]  # made before measuring
    c = b.c
    for k in range(2048):  # warm up: buffers allocated, the ring full, evicting
        c.apply_fill(0, oid, PARTIAL, -1, 1, BUY, 100, 1, ids[k], k)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for k in range(2048, 4096):
        assert c.apply_fill(0, oid, PARTIAL, -1, 1, BUY, 100, 1, ids[k], k) == 0
    for k in range(3072, 4096):  # the last `capacity` ids are remembered
        assert c.apply_fill(0, oid, PARTIAL, -1, 1, BUY, 100, 1, ids[k], k) == fast.DUPLICATE
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    # only what this thread's calls allocated: a thread other tests left behind (a database
    # driver's, an executor's) may allocate meanwhile, attributed to its own files
    mine = [tracemalloc.Filter(True, __file__)]
    before, after = before.filter_traces(mine), after.filter_traces(mine)
    # 3,072 calls: one allocation kept per call would be tens of kilobytes
    grown = sum(max(0, s.size_diff) for s in after.compare_to(before, "filename"))
    assert grown < 1024, grown
    assert c.count(0) == 1024


# ------------------------------------------------------------------ fees


def test_fee_units_known_values() -> None:
    inst = presets.instrument("binance", "BTC")
    m, e = inst._notional_mantissa, inst._notional_exp
    for text in ["0.00065000", "-0.0001", "1E+1", "6.5E-7", "0E-8", "-0", "0.1", "123.456"]:
        assert fee_units(text, m, e) == inst.fee_to_units(Decimal(text)), text
    for text in ["", ".", "-", "E5", "1E", "1E+", "1e5", "+1", "NaN", "Infinity", "sNaN",
                 "1E+12345", "1" * 19, "1.5E+30", "١"]:  # fmt: skip
        assert fee_units(text, m, e) is None, text
        assert fee_units_ref(text, m, e) is None, text
    assert fee_units("1", 0, 0) is None
    assert fee_units("1", 2**63, 0) is None
    with pytest.raises(TypeError):
        fee_units(None, 1, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(4))
def test_fee_units_agree_with_fee_to_units(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(20_000):
        mantissa = rng.choice([1, 1, 3, 25, 10**9 + 7, 2**63 - 1])
        exp = rng.randint(-6, 12)
        digits = rng.randrange(10 ** rng.randint(1, 19))
        value = Decimal(rng.choice([1, -1]) * digits).scaleb(rng.randint(-25, 12))
        text = str(value)
        got = fee_units(text, mantissa, exp)
        assert got == fee_units_ref(text, mantissa, exp), (text, mantissa, exp)
        if got is not None:
            assert got == _ceil_units(value, mantissa, exp), (text, mantissa, exp)


# ------------------------------------------------------------------ the manager's two paths


class _Adapter:
    on_report: Any = None


class _Ledger:
    """The manager's FillLedger behind a counter of the fills `book` took in C; with
    `python_path`, `book` declines every report: on_report then takes the Python path
    (_book_fill, _apply), the manager's code as it was before the C call."""

    def __init__(self, ledger: FillLedger, *, python_path: bool) -> None:
        self.ledger = ledger
        self.python_path = python_path
        self.booked = 0

    def book(self, *args: Any) -> int:
        if self.python_path:
            return fast.PYTHON
        code = self.ledger.book(*args)
        self.booked += code != fast.PYTHON
        return code

    def add(self, index: int, trade_id: str) -> bool:
        return self.ledger.add(index, trade_id)

    @property
    def position_status(self) -> int:
        return self.ledger.position_status

    @property
    def terminal(self) -> bool:
        return self.ledger.terminal


IDS = ClientOrderIds(1_000)


def _manager(*, python_path: bool) -> tuple[OrderManager, list[Any]]:
    insts = [presets.instrument("binance", "BTC"), presets.instrument("binance", "ETH")]
    updates: list[Any] = []
    oms = OrderManager(
        SimClock(1_000),
        insts,
        {"binance": _Adapter()},
        capacity=8,
        ids=IDS,
        on_update=updates.append,
    )
    oms._ledger = _Ledger(oms._ledger, python_path=python_path)  # type: ignore[assignment]
    return oms, updates


def _state(oms: OrderManager) -> tuple[Any, ...]:
    rows = sorted((k, oms.table.get(k)) for k in oms._meta)
    return (
        oms.counters.as_dict(),
        [position(p) for p in oms.positions],
        rows,
        list(oms._last_fill_ns),
        list(oms.fees_in_base),
        dict(oms.fees_other),
        oms.table.refused,
        oms.table.overfills,
    )


@pytest.mark.parametrize("seed", range(6))
def test_on_report_agrees_with_the_python_path(seed: int) -> None:
    rng = random.Random(seed)
    fast_oms, fast_updates = _manager(python_path=False)
    slow_oms, slow_updates = _manager(python_path=True)
    cids: list[tuple[int, str]] = []
    statuses = [OrderStatus.PARTIALLY_FILLED] * 6 + list(OrderStatus)
    for step in range(3_000):
        if len(fast_oms._meta) < 6 and rng.random() < 0.15:
            index = rng.randrange(2)
            args = (index, rng.choice([BUY, SELL]), 1, 1, rng.randint(1, 10**6), rng.randint(1, 40))
            a, b = fast_oms.open_order(*args), slow_oms.open_order(*args)
            assert a == b
            if a:
                cids.append((index, fast_oms.client_order_id(a)))
                if rng.random() < 0.8:
                    assert fast_oms.table.report(a, NEW, 0, 0, 0) == slow_oms.table.report(
                        a, NEW, 0, 0, 0
                    )
        index, cid = rng.choice(cids) if cids and rng.random() < 0.9 else (0, "nobody")
        inst = fast_oms.instruments[index]
        fee_asset = rng.choice([inst.quote] * 6 + [inst.base, "BNB", ""])
        fee = rng.choice(
            [Decimal(0), Decimal("0.00065000"), Decimal("0.00065"), Decimal("-0.0001")]
            + [Decimal(rng.randint(-99, 10**6)).scaleb(-rng.randint(0, 12)) for _ in range(2)]
        )
        last_lots = rng.choice([0, 1, 1, 2, 7, 50])
        order_id = fast_oms._order_ids.get(cid) or fast_oms.ids.order_id_of(cid)
        row = fast_oms.table.get(order_id)
        filled = row[8] if row is not None else 0
        report = ExecutionReport(
            "binance",
            inst.symbol if rng.random() < 0.98 else "OTHER",
            cid,
            "v",
            rng.choice(statuses),
            rng.choice([OrderSide.BUY, OrderSide.SELL]),
            cum_filled_lots=rng.choice([-1, filled + last_lots, filled]),
            trade_id=rng.choice([str(step), str(rng.randrange(step + 1)), f"x{step}", "007"]),
            last_price_ticks=rng.choice([rng.randint(1, 10**7), 0]),
            last_lots=last_lots,
            fee=fee,
            fee_asset=fee_asset,
            reason=rng.choice(["", "why"]),
            exchange_ts_ns=rng.choice([0, 10**18 + step]),
            recv_ts_ns=rng.choice([0, 10**18 - step]),
        )
        fast_oms.on_report(report)
        slow_oms.on_report(report)
        assert _state(fast_oms) == _state(slow_oms), (step, report)
        assert fast_updates == slow_updates
        for clock in (fast_oms.clock, slow_oms.clock):
            assert isinstance(clock, SimClock)
            clock.advance_to(clock.time_ns() + 1)
    assert fast_oms.counters.reports == 3_000
    booked = fast_oms._ledger.booked  # type: ignore[attr-defined]
    assert booked > 500, booked  # the C path took most fills


def test_on_report_edge_fields_take_the_python_path() -> None:
    fast_oms, _ = _manager(python_path=False)
    slow_oms, _ = _manager(python_path=True)
    for oms in (fast_oms, slow_oms):
        oid = oms.open_order(0, BUY, 1, 1, 100, 50)
        cid = oms.client_order_id(oid)
        inst = oms.instruments[0]
        base = ExecutionReport(
            "binance", inst.symbol, cid, "v", OrderStatus.PARTIALLY_FILLED, OrderSide.BUY,
            cum_filled_lots=-1, trade_id="1", last_price_ticks=100, last_lots=1,
            fee=Decimal("0.1"), fee_asset=inst.quote,
        )  # fmt: skip
        oms.on_report(base._replace(side="1", trade_id="a"))  # type: ignore[arg-type]
        oms.on_report(base._replace(side=-1.0, trade_id="a2"))  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="float"):  # as_int64 refuses it, as before
            oms.on_report(base._replace(last_price_ticks=100.0, trade_id="a3"))  # type: ignore[arg-type]
        with pytest.raises(FixedPointOverflowError):  # the update's price: as before
            oms.on_report(base._replace(last_price_ticks=2**64, trade_id="b"))
        with pytest.raises(FixedPointOverflowError):  # fee_to_units: as before
            oms.on_report(base._replace(fee=Decimal("1E+40"), trade_id="c"))
        with pytest.raises(ValueError, match="finite"):
            oms.on_report(base._replace(fee=Decimal("NaN"), trade_id="d"))
        with pytest.raises(ValueError, match="finite"):
            oms.on_report(base._replace(fee=Decimal("sNaN"), trade_id="e"))
        oms.on_report(base._replace(trade_id="d"))  # booked before the fee raised
        with pytest.raises(TypeError):  # a float fee: fee_to_units refuses it, as before
            oms.on_report(base._replace(trade_id="f", fee=0.1))  # type: ignore[arg-type]
    assert _state(fast_oms) == _state(slow_oms)
    assert fast_oms.counters.duplicate_fills == 1


def test_book_declines_what_it_does_not_convert_and_changes_nothing() -> None:
    inst = presets.instrument("binance", "BTC")
    table = OrderTable(8)
    plain = FillLedger([PositionCore()], table, 8)
    c = FillLedger(
        [PositionCore()],
        table,
        8,
        quotes=[inst.quote],
        notional_units=[(inst._notional_mantissa, inst._notional_exp)],
        status_codes={OrderStatus.PARTIALLY_FILLED: PARTIAL},
    )
    with pytest.raises(ValueError, match="per instrument"):
        FillLedger([PositionCore()], table, quotes=[], notional_units=[], status_codes={})
    with pytest.raises(ValueError, match="mantissa"):
        FillLedger([PositionCore()], table, quotes=["X"], notional_units=[(0, 1)], status_codes={})
    base = ExecutionReport(
        "binance", inst.symbol, "c", "v", OrderStatus.PARTIALLY_FILLED, OrderSide.BUY,
        cum_filled_lots=-1, trade_id="1", last_price_ticks=100, last_lots=1,
        fee=Decimal("0.1"), fee_asset=inst.quote,
    )  # fmt: skip
    assert plain.book(base, 0, 0, 0) == fast.PYTHON  # not configured
    declined = [
        base._replace(fee=Decimal("0.1"), fee_asset=inst.base),
        base._replace(fee=Decimal("sNaN")),
        base._replace(fee=Decimal("NaN")),
        base._replace(fee=Decimal("1E+40")),
        base._replace(fee=0.1),  # type: ignore[arg-type]
        base._replace(status=OrderStatus.FILLED),  # not in this map
        base._replace(side="1"),  # type: ignore[arg-type]
        base._replace(side=2**70),  # type: ignore[arg-type]
        base._replace(last_price_ticks=2**63),
        base._replace(cum_filled_lots=None),  # type: ignore[arg-type]
        base._replace(cum_filled_lots=1.0),  # type: ignore[arg-type]
        base._replace(last_lots=True),
        base._replace(last_price_ticks=100.0),  # type: ignore[arg-type]
        base._replace(side=1.0),  # type: ignore[arg-type]
        base._replace(trade_id=7),  # type: ignore[arg-type]
        (1, 2, 3),
        "not a report",
    ]
    for report in declined:
        assert c.book(report, 0, 0, 0) == fast.PYTHON, report  # type: ignore[arg-type]
    assert c.book(base, 1, 0, 0) == fast.PYTHON  # no such instrument
    assert c.count(0) == 0
    assert c.book(base, 0, 0, 0) == fast.NOT_LIVE
    assert c.book(base, 0, 0, 0) == fast.DUPLICATE
    assert c.book(base._replace(fee=Decimal("0"), trade_id="2"), 0, 0, 0) == fast.NOT_LIVE
    assert c.book(base._replace(fee=Decimal("0.10"), trade_id="3"), 0, 0, 0) == fast.NOT_LIVE
    assert c.book(base._replace(side=OrderSide.SELL, trade_id="4"), 0, 0, 0) == fast.NOT_LIVE
    assert c.count(0) == 4


@pytest.mark.parametrize("seed", range(4))
def test_book_agrees_with_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    insts = [presets.instrument("binance", "BTC"), presets.instrument("okx", "ETH")]
    config: dict[str, Any] = {
        "quotes": [i.quote for i in insts],
        "notional_units": [(i._notional_mantissa, i._notional_exp) for i in insts],
        "status_codes": {OrderStatus.PARTIALLY_FILLED: PARTIAL, OrderStatus.FILLED: FILLED},
    }
    b = Books(2, 16, 8)
    b.c = FillLedger(b.cpos, b.ctable, 16, **config)
    b.r = FillLedgerRef(b.rpos, b.rtable, 16, **config)
    oid = b.open(0, BUY, 10**6)
    for step in range(3_000):
        index = rng.choice([0, 0, 1, 2])
        fees = [Decimal(0), Decimal("0.5"), Decimal("0.50"), Decimal("NaN"), Decimal("sNaN")]
        fee = rng.choice(
            [*fees, 0.5, Decimal(rng.randint(-(10**6), 10**6)).scaleb(-rng.randint(0, 30))]
        )
        report = ExecutionReport(
            "v",
            "s",
            "c",
            "v",
            rng.choice([OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.NEW]),
            rng.choice([OrderSide.BUY, OrderSide.SELL, 1, -1, 0, 1.0, True, 2**70]),
            cum_filled_lots=rng.choice([-1, step, 1.0, 2**64]),
            trade_id=rng.choice([str(step), str(rng.randrange(step + 1)), f"t{step}", 3]),
            last_price_ticks=rng.choice([100, 0, 2**63, 7.0]),
            last_lots=rng.choice([1, 2, True, 0]),
            fee=fee,
            fee_asset=rng.choice([insts[min(index, 1)].quote, "BNB", insts[0].base]),
        )  # type: ignore[arg-type]
        a = b.c.book(report, index, oid, step)
        assert a == b.r.book(report, index, oid, step), report
        if a != fast.PYTHON:
            assert b.c.terminal == b.r.terminal
            if a not in {fast.DUPLICATE, fast.ERR_ARG}:
                assert b.c.position_status == b.r.position_status
        for cp, rp in zip(b.cpos, b.rpos, strict=True):
            assert position(cp) == position(rp)
        assert b.ctable.get(oid) == b.rtable.get(oid)
    agree_ids(b.c, b.r)
