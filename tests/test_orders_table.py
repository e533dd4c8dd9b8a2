"""The OMS order table: every lifecycle rule on both implementations (Cython and the
reference), then long random walks on which the two must agree code for code and row for row.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from engine._core import orders as fast
from engine._core.orders import OrderTable
from engine.oms import orders_ref as ref
from engine.oms.orders_ref import OrderTableRef

BUY, SELL = ref.BUY, ref.SELL
LIMIT, MARKET, LIMIT_MAKER = ref.LIMIT, ref.MARKET, ref.LIMIT_MAKER
GTC, IOC = ref.GTC, ref.IOC

Table = Any  # OrderTable | OrderTableRef: the same methods, the same codes


@pytest.fixture(params=["cython", "reference"])
def make(request: pytest.FixtureRequest) -> Any:
    return OrderTable if request.param == "cython" else OrderTableRef


def opened(table: Table, qty: int = 10, *, order_type: int = LIMIT, price: int = 100) -> int:
    code, order_id = table.open(0, BUY, order_type, GTC, price, qty, 7, 1)
    assert code == ref.OK and order_id > 0
    return order_id


def status(table: Table, order_id: int) -> int:
    row = table.get(order_id)
    return ref.FREE if row is None else row[5]


def filled(table: Table, order_id: int) -> int:
    row = table.get(order_id)
    assert row is not None
    return int(row[8])


def test_constants_agree() -> None:
    names = "FREE PENDING_NEW NEW PARTIALLY_FILLED PENDING_CANCEL PENDING_AMEND UNKNOWN FILLED"
    names += " CANCELED REJECTED EXPIRED OK UNCHANGED ERR_UNKNOWN_ORDER ERR_TRANSITION"
    names += " ERR_OVERFILL ERR_FULL ERR_ARG ERR_NOT_TERMINAL MAX_CAPACITY"
    for name in names.split():
        assert getattr(fast, name) == getattr(ref, name), name
    assert "no live order" in fast.describe(fast.ERR_UNKNOWN_ORDER)


@pytest.mark.parametrize("capacity", [0, 3, 6, 2**25, -1])
def test_capacity_must_be_a_power_of_two(make: Any, capacity: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        make(capacity)


def test_place_ack_partial_fill(make: Any) -> None:
    t = make(8)
    oid = opened(t, 10)
    assert status(t, oid) == ref.PENDING_NEW
    assert t.report(oid, ref.NEW, 0, 0, 2) == ref.OK
    assert status(t, oid) == ref.NEW
    assert t.report(oid, ref.PARTIALLY_FILLED, 4, 4, 3) == ref.OK
    assert (status(t, oid), filled(t, oid)) == (ref.PARTIALLY_FILLED, 4)
    assert t.report(oid, ref.PARTIALLY_FILLED, 4, 4, 4) == ref.UNCHANGED  # repeated report
    assert t.report(oid, ref.FILLED, 10, 6, 5) == ref.OK
    assert (status(t, oid), filled(t, oid)) == (ref.FILLED, 10)
    # a late report of the earlier partial fill after the order ended: refused, counted
    refused = t.refused
    assert t.report(oid, ref.PARTIALLY_FILLED, 4, 4, 6) == ref.ERR_TRANSITION
    assert t.refused == refused + 1 and filled(t, oid) == 10


def test_fill_before_ack_is_not_undone_by_the_ack(make: Any) -> None:
    t = make(8)
    oid = opened(t, 10)
    assert t.report(oid, ref.PARTIALLY_FILLED, 3, 3, 2) == ref.OK
    assert t.report(oid, ref.NEW, 0, 0, 3) == ref.UNCHANGED
    assert (status(t, oid), filled(t, oid)) == (ref.PARTIALLY_FILLED, 3)


def test_fill_without_cumulative_adds_and_overfill_is_refused(make: Any) -> None:
    t = make(8)
    oid = opened(t, 10)
    assert t.report(oid, ref.PARTIALLY_FILLED, -1, 6, 2) == ref.OK
    assert t.report(oid, ref.PARTIALLY_FILLED, -1, 5, 3) == ref.ERR_OVERFILL
    assert t.report(oid, ref.PARTIALLY_FILLED, 11, 0, 3) == ref.ERR_OVERFILL
    assert t.report(oid, ref.PARTIALLY_FILLED, -1, 2**62, 3) == ref.ERR_OVERFILL  # no wrap
    assert t.overfills == 3 and filled(t, oid) == 6


def test_fill_after_cancel_request_is_booked_and_cancel_completes(make: Any) -> None:
    t = make(8)
    oid = opened(t, 10)
    t.report(oid, ref.NEW, 0, 0, 2)
    assert t.cancel_sent(oid, 3) == ref.OK
    assert t.cancel_sent(oid, 3) == ref.UNCHANGED
    assert t.report(oid, ref.PARTIALLY_FILLED, 2, 2, 4) == ref.OK
    assert (status(t, oid), filled(t, oid)) == (ref.PENDING_CANCEL, 2)
    assert t.report(oid, ref.CANCELED, 2, 0, 5) == ref.OK
    assert (status(t, oid), filled(t, oid)) == (ref.CANCELED, 2)


def test_refused_cancel_returns_to_resting_with_fills_seen_meanwhile(make: Any) -> None:
    t = make(8)
    oid = opened(t, 10)
    t.report(oid, ref.NEW, 0, 0, 2)
    t.cancel_sent(oid, 3)
    t.report(oid, ref.PARTIALLY_FILLED, 5, 5, 4)
    assert t.request_failed(oid, 5) == ref.OK
    assert status(t, oid) == ref.PARTIALLY_FILLED
    assert t.request_failed(oid, 5) == ref.ERR_TRANSITION


def test_cancel_before_ack_then_ack_then_refusal(make: Any) -> None:
    t = make(8)
    oid = opened(t, 10)
    t.cancel_sent(oid, 2)
    assert t.report(oid, ref.NEW, 0, 0, 3) == ref.OK  # the ack of the order itself
    assert status(t, oid) == ref.PENDING_CANCEL
    assert t.request_failed(oid, 4) == ref.OK
    assert status(t, oid) == ref.NEW


def test_amend_accepted_and_refused(make: Any) -> None:
    t = make(8)
    oid = opened(t, 10)
    assert t.amend_sent(oid, 101, 12, 2) == ref.ERR_TRANSITION  # not acknowledged yet
    t.report(oid, ref.NEW, 0, 0, 2)
    assert t.amend_sent(oid, 101, 0, 3) == ref.ERR_ARG
    assert t.amend_sent(oid, 101, 12, 3) == ref.OK
    row = t.get(oid)
    assert row is not None and row[5:11] == (ref.PENDING_AMEND, 100, 10, 0, 101, 12)
    assert t.amended(oid, 4) == ref.OK
    row = t.get(oid)
    assert row is not None and row[5:11] == (ref.NEW, 101, 12, 0, 0, 0)
    t.report(oid, ref.PARTIALLY_FILLED, 3, 3, 5)
    assert t.amend_sent(oid, 99, 8, 6) == ref.OK
    assert t.request_failed(oid, 7) == ref.OK
    row = t.get(oid)
    assert row is not None and row[5:11] == (ref.PARTIALLY_FILLED, 101, 12, 3, 0, 0)


def test_amend_overtaken_by_fills_is_refused(make: Any) -> None:
    t = make(8)
    oid = opened(t, 10)
    t.report(oid, ref.NEW, 0, 0, 2)
    t.amend_sent(oid, 100, 4, 3)
    t.report(oid, ref.PARTIALLY_FILLED, 6, 6, 4)
    assert t.amended(oid, 5) == ref.ERR_OVERFILL
    assert status(t, oid) == ref.PENDING_AMEND


def test_lost_acknowledgement_is_unknown_until_a_report(make: Any) -> None:
    t = make(8)
    oid = opened(t, 10)
    assert t.timed_out(oid, 5) == ref.OK
    assert status(t, oid) == ref.UNKNOWN
    assert t.timed_out(oid, 6) == ref.UNCHANGED
    assert t.report(oid, ref.NEW, 0, 0, 7) == ref.OK  # found open by query
    assert status(t, oid) == ref.NEW
    assert t.timed_out(oid, 8) == ref.ERR_TRANSITION


def test_rejected_only_before_acknowledgement(make: Any) -> None:
    t = make(8)
    a, b = opened(t), opened(t)
    assert t.report(a, ref.REJECTED, 0, 0, 2) == ref.OK
    t.report(b, ref.NEW, 0, 0, 2)
    assert t.report(b, ref.REJECTED, 0, 0, 3) == ref.ERR_TRANSITION


def test_release_frees_the_slot_and_the_old_id_dies(make: Any) -> None:
    t = make(1)
    oid = opened(t)
    assert t.open(0, BUY, LIMIT, GTC, 1, 1, 0, 0) == (ref.ERR_FULL, 0)
    assert t.release(oid) == ref.ERR_NOT_TERMINAL
    t.report(oid, ref.CANCELED, 0, 0, 2)
    assert t.release(oid) == ref.OK and t.live == 0
    new = opened(t)
    assert new != oid and new & (t.capacity - 1) == oid & (t.capacity - 1)
    assert t.report(oid, ref.FILLED, 10, 10, 3) == ref.ERR_UNKNOWN_ORDER
    assert t.get(oid) is None and t.unknown_ids == 1
    for bad in (0, -5, new + 1, 2**62):
        assert t.cancel_sent(bad, 1) == ref.ERR_UNKNOWN_ORDER


@pytest.mark.parametrize(
    "args",
    [
        (-1, BUY, LIMIT, GTC, 100, 1),
        (2**31, BUY, LIMIT, GTC, 100, 1),
        (0, 0, LIMIT, GTC, 100, 1),
        (0, 2**32 + 1, LIMIT, GTC, 100, 1),  # must not truncate to BUY
        (0, BUY, 2**40 + 1, GTC, 100, 1),
        (0, BUY, LIMIT, 2**33 + 1, 100, 1),
        (0, BUY, LIMIT_MAKER, IOC, 100, 1),
        (0, BUY, MARKET, IOC, 100, 1),
        (0, BUY, LIMIT, GTC, 0, 1),
        (0, BUY, LIMIT, GTC, 100, 0),
    ],
)
def test_open_refuses_bad_fields(make: Any, args: tuple[int, ...]) -> None:
    t = make(4)
    assert t.open(*args, 0, 0) == (ref.ERR_ARG, 0)
    assert t.live == 0 and t.refused == 1


@pytest.mark.parametrize("bad_status", [ref.PENDING_CANCEL, ref.UNKNOWN, 0, 11, 2**40 + 2, -1])
def test_report_refuses_a_status_the_venue_cannot_send(make: Any, bad_status: int) -> None:
    t = make(4)
    oid = opened(t)
    assert t.report(oid, bad_status, 0, 0, 1) == ref.ERR_ARG
    assert t.report(oid, ref.NEW, -2, 0, 1) == ref.ERR_ARG
    assert t.report(oid, ref.NEW, 0, -1, 1) == ref.ERR_ARG
    assert status(t, oid) == ref.PENDING_NEW


def test_python_arguments_are_type_checked() -> None:
    t = OrderTable(4)
    with pytest.raises(TypeError):
        t.open(0, BUY, LIMIT, GTC, 1.5, 1, 0, 0)  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        t.report(2**64, ref.NEW, 0, 0, 0)


# ---- random walks: both implementations, the same operations, the same answers ----

REPORTED = (ref.NEW, ref.PARTIALLY_FILLED, ref.PARTIALLY_FILLED, ref.FILLED, ref.CANCELED)
REPORTED += (ref.REJECTED, ref.EXPIRED, ref.UNKNOWN)  # UNKNOWN: a status no venue sends
OPS = ("open", "report", "cancel", "amend", "amended", "failed", "timeout", "release")


def _walk(seed: int, capacity: int, steps: int) -> None:
    rng = random.Random(seed)
    a, b = OrderTable(capacity), OrderTableRef(capacity)
    ids: list[int] = [0, -1, 1 << 40]  # bad ids stay in the pool of targets
    for step in range(steps):
        op = rng.choice(OPS)
        target = rng.choice(ids)
        if op == "open":
            args = (
                rng.choice([0, 1, 5, -1]),
                rng.choice([BUY, SELL, 0]),
                rng.choice([LIMIT, LIMIT, LIMIT_MAKER, MARKET]),
                rng.choice([GTC, GTC, IOC]),
                rng.choice([0, 100, 101, 250]),
                rng.choice([0, 1, 10, 50]),
                step,
                step,
            )
            got = a.open(*args)
            assert got == b.open(*args), (seed, step, op, args)
            if got[1]:
                ids.append(got[1])
            continue
        if op == "report":
            qty = rng.choice([0, 1, 3, 10, 60])
            args = (
                target,
                rng.choice(REPORTED),
                rng.choice([-1, -1, 0, qty, qty + 2, 12]),
                rng.choice([0, qty, 1]),
                step,
            )
            codes = (a.report(*args), b.report(*args))
        elif op == "cancel":
            codes = (a.cancel_sent(target, step), b.cancel_sent(target, step))
        elif op == "amend":
            price, qty = rng.choice([0, 99, 120]), rng.choice([0, 2, 15, 70])
            codes = (a.amend_sent(target, price, qty, step), b.amend_sent(target, price, qty, step))
        elif op == "amended":
            codes = (a.amended(target, step), b.amended(target, step))
        elif op == "failed":
            codes = (a.request_failed(target, step), b.request_failed(target, step))
        elif op == "timeout":
            codes = (a.timed_out(target, step), b.timed_out(target, step))
        else:
            codes = (a.release(target), b.release(target))
        assert codes[0] == codes[1], (seed, step, op, target)
        assert a.get(target) == b.get(target), (seed, step, op, target)
    for order_id in ids:
        assert a.get(order_id) == b.get(order_id)
    for name in ("opened", "refused", "overfills", "unknown_ids", "live"):
        assert getattr(a, name) == getattr(b, name), name


@pytest.mark.parametrize("seed", range(12))
def test_random_walks_agree_with_the_reference(seed: int) -> None:
    _walk(seed, capacity=[1, 2, 8, 64][seed % 4], steps=4000)
