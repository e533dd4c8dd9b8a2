"""Client order ids: valid on every venue, distinct across runs, mapped back without a table;
and the order table's status codes as OrderStatus."""

from __future__ import annotations

import re

import pytest

from engine._core import orders as table
from engine.model.enums import OrderStatus
from engine.oms.ids import MAX_LENGTH, ClientOrderIds, base36
from engine.oms.states import CODE_OF_STATUS, STATUS_OF_CODE

# the venues' rules for our id (docs/VENUES.md): OKX clOrdId, Binance newClientOrderId, Gate text
OKX = re.compile(r"^[A-Za-z0-9]{1,32}$")
BINANCE = re.compile(r"^[a-zA-Z0-9_-]{1,36}$")
GATE_TEXT = re.compile(r"^t-[0-9A-Za-z_.-]{1,28}$")


@pytest.mark.parametrize("order_id", [1, 35, 36, 2**20 + 3, 2**40, 2**63 - 1])
def test_ids_are_valid_everywhere_and_map_back(order_id: int) -> None:
    ids = ClientOrderIds(1_765_000_000_000, salt="k3")
    cid = ids.of(order_id)
    assert len(cid) <= MAX_LENGTH
    assert OKX.match(cid) and BINANCE.match(cid) and GATE_TEXT.match("t-" + cid)
    assert ids.order_id_of(cid) == order_id


def test_runs_differ_and_foreign_ids_map_to_zero() -> None:
    a = ClientOrderIds(1_765_000_000_000, salt="aa")
    b = ClientOrderIds(1_765_000_000_001, salt="aa")
    c = ClientOrderIds(1_765_000_000_000, salt="ab")
    assert len({a.of(5), b.of(5), c.of(5)}) == 3
    assert b.order_id_of(a.of(5)) == 0 and c.order_id_of(a.of(5)) == 0
    foreign_ids = ("", a.prefix, a.prefix + "-1", a.prefix + "g", a.prefix + "1" * 17, "x" * 9)
    foreign_ids += (a.prefix + "0x1f", a.prefix + "1F", a.prefix + "_1", a.prefix + "+1")
    for foreign in foreign_ids:
        assert a.order_id_of(foreign) == 0
    assert a.order_id_of(a.prefix + "0") == 0  # order ids start at 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="> 0"):
        ClientOrderIds(0, salt="aa").of(0)
    with pytest.raises(ValueError, match="salt"):
        ClientOrderIds(0, salt="A!")
    with pytest.raises(ValueError, match="negative"):
        base36(-1)
    assert ClientOrderIds(0).prefix.isalnum()


def test_status_codes_map_both_ways() -> None:
    assert set(STATUS_OF_CODE.values()) == set(OrderStatus)
    for code, status in STATUS_OF_CODE.items():
        assert CODE_OF_STATUS[status] == code
        assert status.is_terminal == (code >= table.FILLED)
