"""engine/_core/quoting.pyx: the quoting maths by hand, against formulas computed here in plain
floats, and differential runs against engine/strategy/quoting_ref.py."""

from __future__ import annotations

import itertools
import math
import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine._core import quoting
from engine._core.fixedpoint import FixedPointOverflowError
from engine._core.quoting import (
    CANCEL,
    ERR_CROSSED,
    ERR_EMPTY,
    ERR_NO_REF,
    ERR_OVERFLOW,
    ERR_PRICE,
    ERR_SIZE,
    ERR_TIME,
    KEEP,
    MAX,
    MAX_LEVELS,
    MODEL_AS,
    MODEL_GLFT,
    OK,
    REF_EXTERNAL,
    REF_LAST,
    REF_MICRO,
    REPLACE_AGE,
    REPLACE_PRICE,
    REPLACE_SIZE,
    SIZE_LINEAR,
    Quoter,
)
from engine.strategy import quoting_ref
from engine.strategy.quoting_ref import QuoterRef

SEC = 1_000_000_000
Q = Quoter | QuoterRef


def both(**params: Any) -> tuple[Quoter, QuoterRef]:
    return Quoter(**params), QuoterRef(**params)


def close(a: float, b: float) -> bool:
    # the documented tolerance between the Cython floats and the reference's
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


# ----------------------------------------------------------------------------- constants


def test_constants_match_the_reference() -> None:
    names = [
        "REF_MID", "REF_MICRO", "REF_LAST", "REF_EXTERNAL", "MODEL_SPREAD", "MODEL_AS",
        "MODEL_GLFT", "SIZE_GEOMETRIC", "SIZE_LINEAR", "MAX_LEVELS", "MAX", "KEEP",
        "REPLACE_PRICE", "REPLACE_SIZE", "REPLACE_AGE", "CANCEL", "OK", "ERR_OVERFLOW",
        "ERR_EMPTY", "ERR_CROSSED", "ERR_SIZE", "ERR_PRICE", "ERR_TIME", "ERR_NO_REF",
        "DEFAULTS",
    ]  # fmt: skip
    for name in names:
        assert getattr(quoting_ref, name) == getattr(quoting, name), name
    assert MAX == 2**52 and MAX_LEVELS == 16
    own = [getattr(quoting, n) for n in names if n.startswith("ERR_") and n != "ERR_OVERFLOW"]
    # its own range: below orders' -96..-101; ERR_OVERFLOW is fixedpoint's -3, as in position
    assert len(set(own)) == len(own) and all(-159 <= c <= -144 for c in own)
    assert quoting.ERR_OVERFLOW == -3
    for code in [OK, ERR_OVERFLOW, *own]:
        assert "unknown" not in quoting.describe(code)
    for verdict in (KEEP, REPLACE_PRICE, REPLACE_SIZE, REPLACE_AGE, CANCEL):
        assert quoting.refresh_name(verdict).isupper()


def test_params_round_trip_and_defaults() -> None:
    fast, ref = both(levels=3, gamma=0.5, target_lots=-4)
    assert fast.params == ref.params
    assert fast.params["levels"] == 3 and fast.params["target_lots"] == -4
    assert Quoter().params == quoting.DEFAULTS
    assert Quoter.__new__(Quoter).params == quoting.DEFAULTS  # never zeroed parameters


BAD_PARAMS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"levels": 0}, ValueError, "levels must be in 1..16, got 0"),
    ({"levels": 17}, ValueError, "levels must be in 1..16"),
    ({"ref": 5}, ValueError, "ref must be in 1..4"),
    ({"model": 0}, ValueError, "model must be in 1..3"),
    ({"size_mode": 3}, ValueError, "size_mode"),
    ({"level_spacing_ticks": 0}, ValueError, "level_spacing_ticks"),
    ({"qty_lots": 0}, ValueError, "qty_lots"),
    ({"qty_lots": MAX + 1}, ValueError, "qty_lots"),
    ({"min_half_spread": 0.0}, ValueError, "min_half_spread must be finite, > 0.0"),
    ({"min_half_spread": math.nan}, ValueError, "min_half_spread"),
    ({"base_half_spread": -1.0}, ValueError, "base_half_spread"),
    ({"vol_mult": math.inf}, ValueError, "vol_mult"),
    ({"half_life_ns": 0}, ValueError, "half_life_ns"),
    ({"max_position_lots": 0}, ValueError, "max_position_lots"),
    ({"max_position_lots": 10, "target_lots": 11}, ValueError, "target_lots must be in -10..10"),
    ({"size_shrink": 1.5}, ValueError, "size_shrink"),
    ({"gamma": 0}, ValueError, "gamma"),
    ({"kappa": -1.0}, ValueError, "kappa"),
    ({"arrival": 0.0}, ValueError, "arrival"),
    ({"horizon_s": 0.0}, ValueError, "horizon_s"),
    ({"min_qty_lots": 0}, ValueError, "min_qty_lots"),
    ({"min_notional_units": -1}, ValueError, "min_notional_units"),
    ({"refresh_ticks": -1}, ValueError, "refresh_ticks"),
    ({"max_age_ns": -1}, ValueError, "max_age_ns"),
    ({"size_tol_bps": -1}, ValueError, "size_tol_bps"),
    ({"levels": 16, "qty_lots": 1000, "size_factor": 20.0}, ValueError, "past 2**52"),
    ({"model": MODEL_GLFT, "gamma": 1e15, "kappa": 1e-200, "arrival": 1e-200}, ValueError, "GLFT"),
    ({"levels": 2.0}, TypeError, "levels must be an int"),
    ({"levels": True}, TypeError, "levels must be an int"),
    ({"gamma": "0.1"}, TypeError, "gamma must be a number"),
    ({"gamma": True}, TypeError, "gamma must be a number"),
    ({"spread": 1}, TypeError, "unknown quoting parameter(s): spread"),
    ({"half_life_ns": 2**63}, FixedPointOverflowError, "does not fit int64"),
]


@pytest.mark.parametrize(("params", "error", "text"), BAD_PARAMS)
def test_a_bad_parameter_is_refused_by_name(
    params: dict[str, Any], error: type[Exception], text: str
) -> None:
    for cls in (Quoter, QuoterRef):
        with pytest.raises(error) as info:
            cls(**params)
        assert text in str(info.value), cls
    with pytest.raises(error) as fast_info:
        Quoter(**params)
    with pytest.raises(error) as ref_info:
        QuoterRef(**params)
    assert str(fast_info.value) == str(ref_info.value)


# ----------------------------------------------------------------------------- by hand

BOOK = (1000, 5, 1010, 7)  # bid, bid_qty, ask, ask_qty: mid 1005


def quoted(params: dict[str, Any], inventory: int, book: tuple[int, int, int, int] = BOOK) -> Any:
    """(bids, asks, values) from both implementations, checked equal."""
    fast, ref = both(**params)
    assert fast.on_book(*book, 0) == ref.on_book(*book, 0) == OK
    got, want = fast.compute(inventory), ref.compute(inventory)
    assert got == want
    assert all(close(a, b) for a, b in zip(fast.values(), ref.values(), strict=True))
    status, bids, asks = got
    assert status == OK
    return bids, asks, fast.values()


def test_symmetric_at_zero_inventory() -> None:
    params = {"levels": 3, "qty_lots": 10, "level_spacing_ticks": 2, "base_half_spread": 2.5,
              "skew_ticks": 5.0, "size_factor": 2.0}  # fmt: skip
    bids, asks, (s, r, half, _) = quoted(params, 0)
    assert (s, r, half) == (1005.0, 1005.0, 2.5)
    assert bids == [(1002, 10), (1000, 20), (998, 40)]
    assert asks == [(1008, 10), (1010, 20), (1012, 40)]
    # a half-tick mid: floor and ceil keep the quote symmetric around it
    bids, asks, _ = quoted(params, 0, (1000, 5, 1003, 7))
    for (b, bq), (a, aq) in zip(bids, asks, strict=True):
        assert 1001.5 - b == a - 1001.5 and bq == aq


def test_long_inventory_skews_down_and_shrinks_the_bids() -> None:
    params = {"levels": 2, "qty_lots": 100, "base_half_spread": 2.0, "skew_ticks": 4.0,
              "max_position_lots": 1000, "size_shrink": 0.5}  # fmt: skip
    flat_bids, flat_asks, _ = quoted(params, 0)
    bids, asks, (_, r, _, _) = quoted(params, 500)  # x = 0.5: r = 1005 - 2
    assert r == 1003.0
    assert [p for p, _ in bids] == [p - 2 for p, _ in flat_bids]
    assert [p for p, _ in asks] == [p - 2 for p, _ in flat_asks]
    assert [q for _, q in bids] == [75, 75]  # 100 * (1 - 0.5 * 0.5)
    assert [q for _, q in asks] == [q for _, q in flat_asks] == [100, 100]


def test_short_inventory_skews_up_and_shrinks_the_asks() -> None:
    params = {"levels": 2, "qty_lots": 100, "base_half_spread": 2.0, "skew_ticks": 4.0,
              "max_position_lots": 1000, "size_shrink": 0.5}  # fmt: skip
    flat_bids, flat_asks, _ = quoted(params, 0)
    bids, asks, (_, r, _, _) = quoted(params, -250)  # x = -0.25: r = 1005 + 1
    assert r == 1006.0
    assert [p for p, _ in bids] == [p + 1 for p, _ in flat_bids]
    assert [p for p, _ in asks] == [p + 1 for p, _ in flat_asks]
    assert [q for _, q in asks] == [87, 87]  # floor(100 * 0.875)
    assert [q for _, q in bids] == [100, 100]


def test_skew_is_measured_from_the_target() -> None:
    params = {"qty_lots": 10, "skew_ticks": 4.0, "max_position_lots": 100, "target_lots": 50}
    bids, asks, (_, r, _, _) = quoted(params, 50)
    assert r == 1005.0 and bids[0][1] == asks[0][1] == 10
    _, _, (_, r, _, _) = quoted(params, 0)  # short of the target: quote higher to buy
    assert r == 1007.0


def test_one_side_off_at_the_position_limit() -> None:
    params = {"levels": 3, "qty_lots": 10, "max_position_lots": 100, "size_shrink": 0.0}
    bids, asks, _ = quoted(params, 100)
    assert bids == [] and [q for _, q in asks] == [10, 10, 10]
    bids, asks, _ = quoted(params, -100)
    assert asks == [] and [q for _, q in bids] == [10, 10, 10]
    bids, asks, _ = quoted(params, 150)  # past the limit (a fill raced the quote)
    assert bids == [] and len(asks) == 3
    # near the limit: the bids together never take the position past it
    bids, _, _ = quoted(params, 85)
    assert [q for _, q in bids] == [10, 5]
    bids, _, _ = quoted({**params, "min_qty_lots": 6}, 85)
    assert [q for _, q in bids] == [10]  # 5 lots of room left: below the minimum


def test_full_shrink_at_full_deviation_leaves_that_side_out() -> None:
    # shrink 1 and |x| = 1 (the clamp) make the size 0 before the limit is reached
    params = {"qty_lots": 10, "max_position_lots": 100, "target_lots": -50}
    bids, asks, _ = quoted(params, 50)
    assert bids == [] and asks == [(1006, 10)]


def test_prices_round_away_from_the_reservation_price() -> None:
    params = {
        "base_half_spread": 1.2,
        "skew_ticks": 0.3,
        "max_position_lots": 10,
        "size_shrink": 0.0,
    }
    bids, asks, (_, r, half, _) = quoted(params, 10)  # r = 1004.7, half 1.2
    assert math.isclose(r, 1004.7) and half == 1.2
    assert bids == [] and asks[0][0] == 1006  # ceil(1005.9)
    bids, asks, _ = quoted(params, -5)  # r = 1005.15
    assert bids[0][0] == 1003 and asks[0][0] == 1007  # floor(1003.95), ceil(1006.35)


def test_min_qty_and_min_notional_raise_the_size() -> None:
    params = {"qty_lots": 3, "min_qty_lots": 5, "base_half_spread": 5.0}
    bids, asks, _ = quoted(params, 0)
    assert bids == [(1000, 5)] and asks == [(1010, 5)]
    # notional = ticks * lots: 12_000 units need ceil(12_000 / 1000) = 12 bid lots and
    # ceil(12_000 / 1010) = 12 ask lots; 10_100 needs 11 at 1000 but 10 at 1010
    bids, asks, _ = quoted({**params, "min_notional_units": 12_000}, 0)
    assert bids == [(1000, 12)] and asks == [(1010, 12)]
    bids, asks, _ = quoted({**params, "min_notional_units": 10_100}, 0)
    assert bids == [(1000, 11)] and asks == [(1010, 10)]
    for p, q in bids + asks:
        assert p * q >= 10_100


def test_levels_spacing_and_size_scaling() -> None:
    params = {"levels": 4, "qty_lots": 10, "level_spacing_ticks": 3, "base_half_spread": 1.0,
              "size_mode": SIZE_LINEAR, "size_factor": 0.5}  # fmt: skip
    bids, asks, _ = quoted(params, 0)
    assert bids == [(1004, 10), (1001, 15), (998, 20), (995, 25)]
    assert asks == [(1006, 10), (1009, 15), (1012, 20), (1015, 25)]
    # geometric below 1: deeper levels floor to 0 lots and are left out
    bids, _, _ = quoted({**params, "size_mode": 1, "size_factor": 0.2}, 0)
    assert bids == [(1004, 10), (1001, 2)]
    # bids below 1 tick are left out
    bids, asks, _ = quoted({**params, "level_spacing_ticks": 400}, 0)
    assert [p for p, _ in bids] == [1004, 604, 204] and len(asks) == 4


def test_post_only_clamps_to_the_opposite_best() -> None:
    # an external reference far above the book: the bid would cross the ask
    fast, ref = both(ref=REF_EXTERNAL, levels=2, base_half_spread=1.0)
    for q in (fast, ref):
        assert q.compute(0)[0] == ERR_EMPTY  # no book yet
        assert q.on_book(*BOOK, 0) == OK
        assert q.compute(0)[0] == ERR_NO_REF
        assert q.set_external(2000) == OK
    status, bids, asks = fast.compute(0)
    assert (status, bids, asks) == ref.compute(0)
    assert bids == [(1009, 1), (1008, 1)] and asks == [(2001, 1), (2002, 1)]
    for q in (fast, ref):
        assert q.set_external(10) == OK
    status, bids, asks = fast.compute(0)
    assert (status, bids, asks) == ref.compute(0)
    assert bids == [(9, 1), (8, 1)] and asks == [(1001, 1), (1002, 1)]


def test_reference_prices() -> None:
    book = (1000, 30, 1010, 10)
    _, _, (s, *_) = quoted({}, 0, book)
    assert s == 1005.0
    _, _, (s, *_) = quoted({"ref": REF_MICRO}, 0, book)
    assert s == 1000 + 10 * 30 / 40  # leans to the ask: more size wants to buy
    _, _, (s, *_) = quoted({"ref": REF_MICRO}, 0, (1000, 0, 1010, 0))
    assert s == 1005.0
    fast, ref = both(ref=REF_LAST)
    for q in (fast, ref):
        assert q.on_book(*book, 0) == OK
        assert q.compute(0)[0] == ERR_NO_REF
        assert q.on_trade(0) == ERR_PRICE and q.on_trade(MAX + 1) == ERR_OVERFLOW
        assert q.on_trade(1003) == OK
        assert q.compute(0)[0] == OK and q.values()[0] == 1003.0


# ----------------------------------------------------------------------------- sigma


def sigma_independent(events: list[tuple[float, int]], half_life_ns: int) -> float:
    """sqrt(sum r_i^2 w_i / sum dt_i w_i) * m_last, w_i = 2**-(t_last - t_i)/half_life,
    summed directly rather than recursively."""
    t_last = events[-1][1]
    num = den = 0.0
    for (m0, t0), (m1, t1) in itertools.pairwise(events):
        w = 0.5 ** ((t_last - t1) / half_life_ns)
        num += math.log(m1 / m0) ** 2 * w
        den += (t1 - t0) / 1e9 * w
    return math.sqrt(num / den) * events[-1][0] if den > 0 else 0.0


def test_sigma_is_the_time_weighted_ewma_of_log_returns() -> None:
    half_life = 5 * SEC
    books = [(1000, 1002, 0), (1001, 1003, SEC // 3), (999, 1001, SEC), (999, 1001, 4 * SEC),
             (1004, 1006, 4 * SEC + 10), (1003, 1004, 9 * SEC)]  # fmt: skip
    fast, ref = both(half_life_ns=half_life)
    seen: list[tuple[float, int]] = []
    for bid, ask, ts in books:
        assert fast.on_book(bid, 1, ask, 1, ts) == ref.on_book(bid, 1, ask, 1, ts) == OK
        seen.append(((bid + ask) / 2, ts))
        assert close(fast.sigma, ref.sigma)
        assert math.isclose(fast.sigma, sigma_independent(seen, half_life), rel_tol=1e-9)
    assert fast.events == 6


def test_sigma_is_zero_until_time_passes_and_fades_when_quiet() -> None:
    fast = Quoter(half_life_ns=SEC)
    assert fast.on_book(1000, 1, 1002, 1, 0) == OK and fast.sigma == 0.0
    assert fast.on_book(1001, 1, 1003, 1, 0) == OK and fast.sigma == 0.0  # no time yet
    assert fast.on_book(1001, 1, 1003, 1, SEC) == OK and fast.sigma > 0.0
    active = fast.sigma
    assert fast.on_book(1001, 1, 1003, 1, 20 * SEC) == OK
    assert 0.0 < fast.sigma < active / 10


def test_vol_widens_the_spread_by_k_sigma() -> None:
    fast = Quoter(base_half_spread=1.0, vol_mult=3.0, min_half_spread=1.5)
    assert fast.on_book(1000, 1, 1010, 1, 0) == OK
    assert fast.compute(0)[0] == OK and fast.values()[2] == 1.5  # the floor
    assert fast.on_book(1010, 1, 1020, 1, SEC) == OK
    sigma = fast.sigma
    assert fast.compute(0)[0] == OK
    assert fast.values()[2] == max(1.5, 1.0 + 3.0 * sigma) == 1.0 + 3.0 * sigma


# ----------------------------------------------------------------------------- AS / GLFT


def _volatile(q: Q) -> None:
    for i, (bid, ask) in enumerate([(100_000, 100_100), (100_040, 100_140), (99_980, 100_080),
                                    (100_030, 100_130)]):  # fmt: skip
        assert q.on_book(bid, 3, ask, 4, i * SEC // 2) == OK


@pytest.mark.parametrize("inventory", [0, 37, -120, 400])
def test_avellaneda_stoikov_against_the_formula(inventory: int) -> None:
    gamma, kappa, tau, qty, target = 0.002, 0.05, 2.0, 20, 10
    params = {"model": MODEL_AS, "gamma": gamma, "kappa": kappa, "horizon_s": tau,
              "qty_lots": qty, "target_lots": target, "max_position_lots": 10_000,
              "min_half_spread": 0.5, "size_shrink": 0.0}  # fmt: skip
    fast, ref = both(**params)
    for q in (fast, ref):
        _volatile(q)
    status, bids, asks = fast.compute(inventory)
    assert (status, bids, asks) == ref.compute(inventory) and status == OK
    s, sigma = 100_080.0, fast.sigma
    q_clips = (inventory - target) / qty
    r = s - q_clips * gamma * sigma**2 * tau
    spread = gamma * sigma**2 * tau + 2 / gamma * math.log(1 + gamma / kappa)
    got = fast.values()
    assert got[0] == s
    assert math.isclose(got[1], r, rel_tol=1e-12)
    assert math.isclose(got[2], spread / 2, rel_tol=1e-12)
    assert spread / 2 > 0.5  # the floor does not bind
    # post-only: never at or through the opposite best (100_030 / 100_130)
    assert bids[0][0] == min(math.floor(r - spread / 2), 100_129)
    assert asks[0][0] == max(math.ceil(r + spread / 2), 100_031)


@pytest.mark.parametrize("inventory", [0, 55, -80])
def test_glft_against_the_formula(inventory: int) -> None:
    gamma, kappa, arrival, qty = 0.01, 0.08, 2.5, 10
    params = {"model": MODEL_GLFT, "gamma": gamma, "kappa": kappa, "arrival": arrival,
              "qty_lots": qty, "max_position_lots": 10_000, "min_half_spread": 0.5,
              "ref": REF_MICRO}  # fmt: skip
    fast, ref = both(**params)
    for q in (fast, ref):
        _volatile(q)
    status, bids, asks = fast.compute(inventory)
    assert (status, bids, asks) == ref.compute(inventory) and status == OK
    s = 100_030 + 100 * 3 / 7
    sigma = fast.sigma
    c1 = 1 / gamma * math.log(1 + gamma / kappa)
    c2 = math.sqrt(gamma / (2 * arrival * kappa) * (1 + gamma / kappa) ** (1 + kappa / gamma))
    # Gueant-Lehalle-Fernandez-Tapia: delta_b = c1 + (2q + 1)/2 * sigma * c2,
    # delta_a = c1 - (2q - 1)/2 * sigma * c2
    q_clips = inventory / qty
    bid = s - (c1 + (2 * q_clips + 1) / 2 * sigma * c2)
    ask = s + (c1 - (2 * q_clips - 1) / 2 * sigma * c2)
    got = fast.values()
    assert math.isclose(got[0], s, rel_tol=1e-15)
    assert math.isclose(got[1] - got[2], bid, rel_tol=1e-12)
    assert math.isclose(got[1] + got[2], ask, rel_tol=1e-12)
    assert bids[0][0] == min(math.floor(bid), 100_129)
    assert asks[0][0] == max(math.ceil(ask), 100_031)


# ----------------------------------------------------------------------------- refresh


def test_refresh_keeps_within_tolerance_and_replaces_beyond() -> None:
    fast, ref = both(refresh_ticks=2, max_age_ns=5 * SEC, size_tol_bps=1000)
    cases = [
        ((1000, 100, 0, 1000, 100, SEC), KEEP),
        ((1000, 100, 0, 1002, 100, SEC), KEEP),  # 2 ticks: within N
        ((1000, 100, 0, 998, 100, SEC), KEEP),
        ((1000, 100, 0, 1003, 100, SEC), REPLACE_PRICE),
        ((1000, 100, 0, 997, 100, SEC), REPLACE_PRICE),
        ((1000, 100, 0, 1000, 110, SEC), KEEP),  # 10%: within the size tolerance
        ((1000, 100, 0, 1000, 111, SEC), REPLACE_SIZE),
        ((1000, 100, 0, 1000, 89, SEC), REPLACE_SIZE),
        ((1000, 100, SEC, 1001, 100, 6 * SEC - 1), KEEP),
        ((1000, 100, SEC, 1001, 100, 6 * SEC), REPLACE_AGE),  # as old as max_age
        ((1000, 100, 0, 0, 0, SEC), CANCEL),  # the level is not quoted any more
        ((0, 100, 0, 1000, 100, SEC), ERR_PRICE),
        ((1000, 0, 0, 1000, 100, SEC), ERR_SIZE),
        ((1000, 100, 0, 1000, -1, SEC), ERR_SIZE),
        ((1000, 100, 0, 0, 100, SEC), ERR_PRICE),
        ((1000, 100, SEC, 1000, 100, 0), ERR_TIME),
        ((1000, 100, -1, 1000, 100, 0), ERR_TIME),
        ((MAX + 1, 100, 0, 1000, 100, SEC), ERR_OVERFLOW),
        ((1000, MAX + 1, 0, 1000, 100, SEC), ERR_OVERFLOW),
        ((1000, 100, 0, MAX + 1, 100, SEC), ERR_OVERFLOW),
        ((1000, 100, 0, 1000, MAX + 1, SEC), ERR_OVERFLOW),
        ((MAX, MAX, 0, MAX, 1, 2**63 - 1), REPLACE_SIZE),
    ]
    for args, verdict in cases:
        assert fast.refresh(*args) == ref.refresh(*args) == verdict, args


def test_refresh_tolerance_prevents_churn_on_a_jittering_book() -> None:
    # the ideal quote jitters by a tick around a level: a resting order stays put
    fast = Quoter(base_half_spread=2.0, refresh_ticks=1, max_age_ns=10 * SEC, qty_lots=5)
    resting: tuple[int, int, int] | None = None
    replaced = 0
    for i in range(200):
        ts = i * SEC // 100
        jitter = (0, 1, 0, -1)[i % 4]
        assert fast.on_book(1000 + jitter, 5, 1010 + jitter, 5, ts) == OK
        status, bids, _ = fast.compute(0)
        assert status == OK
        if resting is None or fast.refresh(*resting, *bids[0], ts) != KEEP:
            resting = (*bids[0], ts)
            replaced += 1
    assert replaced == 1
    assert fast.refresh(*resting, resting[0], 5, 12 * SEC) == REPLACE_AGE


def test_zero_size_tolerance_replaces_any_size_change() -> None:
    fast = Quoter()
    assert fast.refresh(1000, 10, 0, 1000, 10, 0) == KEEP
    assert fast.refresh(1000, 10, 0, 1000, 11, 0) == REPLACE_SIZE
    assert fast.refresh(1000, 10, 0, 1000, 10, 2**62) == KEEP  # max_age_ns 0: no age limit


# ----------------------------------------------------------------------------- bad input


def test_bad_book_events_change_nothing() -> None:
    fast, ref = both(levels=2)
    for q in (fast, ref):
        assert q.on_book(1000, 5, 1010, 5, 10) == OK
    before = fast.compute(3)
    bad = [
        ((0, 5, 1010, 5, 20), ERR_EMPTY),
        ((1000, 5, 0, 5, 20), ERR_EMPTY),
        ((MAX + 1, 5, MAX + 2, 5, 20), ERR_OVERFLOW),
        ((1000, -1, 1010, 5, 20), ERR_SIZE),
        ((1000, 5, 1010, MAX + 1, 20), ERR_OVERFLOW),
        ((1010, 5, 1010, 5, 20), ERR_CROSSED),
        ((1011, 5, 1010, 5, 20), ERR_CROSSED),
        ((1000, 5, 1010, 5, 9), ERR_TIME),
    ]
    for args, status in bad:
        assert fast.on_book(*args) == ref.on_book(*args) == status, args
        assert fast.step(*args, 3) == ref.step(*args, 3) == status
        assert fast.quotes() == ref.quotes() == ([], [])
    assert fast.events == ref.events == 1 and fast.sigma == 0.0
    assert fast.compute(3) == ref.compute(3) == before
    for q in (fast, ref):
        with pytest.raises(TypeError, match="bid must be an int"):
            q.on_book(1000.0, 5, 1010, 5, 20)
        with pytest.raises(FixedPointOverflowError):
            q.on_book(1000, 5, 1010, 5, 2**63)
        with pytest.raises(TypeError, match="inventory_lots must be an int"):
            q.compute(True)
        with pytest.raises(FixedPointOverflowError):
            q.compute(-(2**63) - 1)
        with pytest.raises(TypeError):
            q.refresh(1000, 1, 0, 1000, 1.0, 0)


def test_reset_forgets_the_market() -> None:
    fast, ref = both(ref=REF_LAST)
    for q in (fast, ref):
        assert q.on_book(*BOOK, 0) == OK and q.on_trade(1003) == OK
        assert q.on_book(1001, 5, 1011, 7, SEC) == OK
        q.reset()
        assert q.events == 0 and q.sigma == 0.0
        assert q.compute(0)[0] == ERR_EMPTY
        assert q.on_book(*BOOK, 0) == OK  # time may start again
        assert q.compute(0)[0] == ERR_NO_REF


# ----------------------------------------------------------------------------- bounds


def test_levels_at_the_maximum() -> None:
    params = {"levels": MAX_LEVELS, "qty_lots": 2, "size_factor": 1.1}
    bids, asks, _ = quoted(params, 0, (10_000, 1, 10_010, 1))
    assert len(bids) == len(asks) == MAX_LEVELS
    assert bids[-1] == (10_004 - 15, math.floor(2 * 1.1**15))


def test_prices_at_the_top_of_the_range() -> None:
    top = (MAX - 10, 1, MAX - 4, 1)
    bids, asks, _ = quoted({"base_half_spread": 1.0}, 0, top)
    assert bids == [(MAX - 8, 1)] and asks == [(MAX - 6, 1)]
    # a deeper ask past 2**52 is an overflow, and nothing is quoted
    fast, ref = both(levels=4, level_spacing_ticks=3)
    for q in (fast, ref):
        assert q.on_book(*top, 0) == OK
        assert q.compute(0) == (ERR_OVERFLOW, [], [])
        assert q.on_book(MAX - 1, 1, MAX, 1, 1) == OK
    assert fast.compute(0) == ref.compute(0) == (ERR_OVERFLOW, [], [])
    fast, ref = both(min_half_spread=0.5, base_half_spread=0.5)
    for q in (fast, ref):
        assert q.on_book(MAX - 1, 1, MAX, 1, 1) == OK
        assert q.compute(0) == (OK, [(MAX - 1, 1)], [(MAX, 1)])


def test_huge_values_are_an_overflow_status_not_garbage() -> None:
    fast, ref = both(skew_ticks=float(MAX), base_half_spread=2000.0, max_position_lots=1)
    for q in (fast, ref):
        assert q.on_book(*BOOK, 0) == OK
        assert q.compute(1) == (ERR_OVERFLOW, [], [])
        assert q.compute(-1) == (ERR_OVERFLOW, [], [])
        assert q.values() == (0.0, 0.0, 0.0, 0.0)
        assert q.compute(MAX + 1) == (ERR_OVERFLOW, [], [])
        assert q.compute(-MAX - 1) == (ERR_OVERFLOW, [], [])
        assert q.compute(0)[0] == OK
    # AS with an inventory of 2**52 clips: the reservation price leaves the range
    fast, ref = both(model=MODEL_AS, gamma=1.0, horizon_s=1e6, max_position_lots=MAX)
    for q in (fast, ref):
        _volatile(q)
        assert q.compute(MAX) == (ERR_OVERFLOW, [], [])
        assert q.compute(0)[0] == OK
    # sizes: the largest base size at the largest factor is still a valid quote
    fast, ref = both(qty_lots=MAX, max_position_lots=MAX)
    for q in (fast, ref):
        assert q.on_book(*BOOK, 0) == OK
        assert q.compute(0) == (OK, [(1004, MAX)], [(1006, MAX)])


def test_bench_loop_matches_python_calls() -> None:
    rows = np.array([[1000 + i % 3, 5, 1010 + i % 3, 7, i * 1000, i - 2] for i in range(5)],
                    dtype=np.int64)  # fmt: skip
    fast = Quoter(levels=3)
    elapsed, n, status = quoting.bench_loop(fast, rows, 2)
    assert n == 10 and status == OK and elapsed > 0 and fast.events == 10
    ref = QuoterRef(levels=3)
    for k in range(2):
        for row in rows.tolist():
            assert ref.step(*row[:4], k * 4001 + row[4], row[5]) == OK
    assert close(fast.sigma, ref.sigma)
    with pytest.raises(ValueError, match="events must be"):
        quoting.bench_loop(fast, rows[:, :5].copy(), 1)


# ----------------------------------------------------------------------------- differential

FLOAT = {"allow_nan": False, "allow_infinity": False}


@st.composite
def param_sets(draw: st.DrawFn) -> dict[str, Any]:
    max_pos = draw(st.integers(1, 10**6))
    return {
        "ref": draw(st.integers(1, 4)),
        "model": draw(st.integers(1, 3)),
        "size_mode": draw(st.integers(1, 2)),
        "levels": draw(st.integers(1, MAX_LEVELS)),
        "level_spacing_ticks": draw(st.integers(1, 50)),
        "qty_lots": draw(st.integers(1, 10_000)),
        "size_factor": draw(st.floats(0.0, 3.0, **FLOAT)),
        "min_half_spread": draw(st.floats(0.01, 50.0, **FLOAT)),
        "base_half_spread": draw(st.floats(0.0, 50.0, **FLOAT)),
        "vol_mult": draw(st.floats(0.0, 10.0, **FLOAT)),
        "half_life_ns": draw(st.integers(1, 100 * SEC)),
        "max_position_lots": max_pos,
        "target_lots": draw(st.integers(-max_pos, max_pos)),
        "skew_ticks": draw(st.floats(0.0, 100.0, **FLOAT)),
        "size_shrink": draw(st.floats(0.0, 1.0, **FLOAT)),
        "gamma": draw(st.floats(1e-4, 10.0, **FLOAT)),
        "kappa": draw(st.floats(1e-3, 10.0, **FLOAT)),
        "arrival": draw(st.floats(1e-2, 100.0, **FLOAT)),
        "horizon_s": draw(st.floats(1e-3, 100.0, **FLOAT)),
        "min_qty_lots": draw(st.integers(1, 100)),
        "min_notional_units": draw(st.integers(0, 10**7)),
        "refresh_ticks": draw(st.integers(0, 10)),
        "max_age_ns": draw(st.integers(0, 10 * SEC)),
        "size_tol_bps": draw(st.integers(0, 10_000)),
    }


def books(centre: int = 100_000) -> st.SearchStrategy[tuple[int, int, int, int, int]]:
    """(bid, bid_qty, ask, ask_qty, dt_ns) near `centre`, mostly valid."""
    return st.tuples(
        st.integers(centre - 500, centre + 500),
        st.integers(0, 10**6),
        st.integers(1, 30),  # spread in ticks
        st.integers(0, 10**6),
        st.integers(0, 2 * SEC),
    ).map(lambda t: (t[0], t[1], t[0] + t[2], t[3], t[4]))


OPS = st.one_of(
    books().map(lambda b: ("book", b)),
    books().map(lambda b: ("book", b)),
    st.tuples(st.integers(-10, MAX + 10), st.integers(-10, 10**6), st.integers(-10, MAX + 10),
              st.integers(-10, 10**6), st.integers(-SEC, SEC)).map(lambda b: ("book", b)),
    st.integers(-(10**6), 10**6).map(lambda q: ("compute", q)),
    st.integers(-(2**53), 2**53).map(lambda q: ("compute", q)),
    st.integers(-5, 200_000).map(lambda p: ("trade", p)),
    st.integers(-5, 300_000).map(lambda p: ("external", p)),
    st.tuples(st.integers(-1, 200_000), st.integers(-1, 10**5), st.integers(-1, 20 * SEC),
              st.integers(-1, 200_000), st.integers(-1, 10**5), st.integers(-1, 20 * SEC))
    .map(lambda r: ("refresh", r)),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(param_sets(), st.lists(OPS, min_size=1, max_size=40))
def test_differential_random_walks(params: dict[str, Any], ops: list[Any]) -> None:
    fast, ref = both(**params)
    assert fast.params == ref.params
    now = 0
    for kind, arg in ops:
        if kind == "book":
            bid, bq, ask, aq, dt = arg
            now = max(0, now + dt)
            assert fast.on_book(bid, bq, ask, aq, now) == ref.on_book(bid, bq, ask, aq, now)
            assert fast.events == ref.events
            assert close(fast.sigma, ref.sigma)
        elif kind == "compute":
            got, want = fast.compute(arg), ref.compute(arg)
            assert got == want, (kind, arg)
            assert all(close(a, b) for a, b in zip(fast.values(), ref.values(), strict=True))
            if got[0] == OK:
                check_quote(params, fast, arg, got[1], got[2])
        elif kind == "trade":
            assert fast.on_trade(arg) == ref.on_trade(arg)
        elif kind == "external":
            assert fast.set_external(arg) == ref.set_external(arg)
        else:
            assert fast.refresh(*arg) == ref.refresh(*arg)


def check_quote(
    params: dict[str, Any], q: Quoter, inventory: int, bids: list[Any], asks: list[Any]
) -> None:
    """What every successful quote guarantees, whatever the parameters."""
    assert len(bids) <= params["levels"] and len(asks) <= params["levels"]
    prices = [p for p, _ in bids]
    assert prices == sorted(prices, reverse=True) and len(set(prices)) == len(prices)
    prices = [p for p, _ in asks]
    assert prices == sorted(prices) and len(set(prices)) == len(prices)
    for p, size in bids + asks:
        assert 1 <= p <= MAX
        assert size >= params["min_qty_lots"] and p * size >= params["min_notional_units"]
    if bids and asks:
        assert bids[0][0] < asks[0][0]
    room_bid = params["max_position_lots"] - inventory
    room_ask = params["max_position_lots"] + inventory
    assert sum(s for _, s in bids) <= max(0, room_bid)
    assert sum(s for _, s in asks) <= max(0, room_ask)


@settings(max_examples=400, deadline=None)
@given(
    param_sets(),
    books(),
    st.integers(-(10**6), 10**6),
    st.integers(1, 300_000),
)
def test_post_only_never_crosses(
    params: dict[str, Any], book: tuple[int, int, int, int, int], inventory: int, external: int
) -> None:
    bid, bq, ask, aq, _ = book
    fast, ref = both(**params)
    for q in (fast, ref):
        assert q.on_book(bid, bq, ask, aq, 0) == OK
        assert q.on_book(bid + 3, bq, ask + 3, aq, SEC // 10) == OK  # some sigma
        assert q.on_trade(external // 2 + 1) == OK
        assert q.set_external(external) == OK
    status, bids, asks = fast.compute(inventory)
    assert (status, bids, asks) == ref.compute(inventory)
    if status != OK:
        assert status == ERR_OVERFLOW and bids == asks == []
        return
    assert all(p < ask + 3 for p, _ in bids)  # below the best ask
    assert all(p > bid + 3 for p, _ in asks)  # above the best bid
    check_quote(params, fast, inventory, bids, asks)


@settings(max_examples=200, deadline=None)
@given(param_sets(), books(), st.integers(0, 10**6))
def test_inventory_skew_is_monotone(
    params: dict[str, Any], book: tuple[int, int, int, int, int], step: int
) -> None:
    # more inventory never raises the reservation price
    fast = Quoter(**params)
    bid, bq, ask, aq, _ = book
    assert fast.on_book(bid, bq, ask, aq, 0) == OK
    assert fast.on_book(bid + 2, bq, ask + 2, aq, SEC // 5) == OK
    fast.set_external(bid)
    fast.on_trade(ask)
    inventory = params["target_lots"]
    assert fast.compute(inventory)[0] == OK
    at_target = fast.values()[1]
    assert at_target == fast.values()[0]  # no skew at the target
    if fast.compute(inventory + step)[0] == OK:
        assert fast.values()[1] <= at_target
    if fast.compute(inventory - step)[0] == OK:
        assert fast.values()[1] >= at_target


# ----------------------------------------------------------------------------- allocation


def test_no_allocation_over_100k_quotes() -> None:
    fast = Quoter(levels=3, level_spacing_ticks=2, qty_lots=1500, size_factor=1.5,
                  vol_mult=2.0, max_position_lots=10_000, skew_ticks=4.0)  # fmt: skip
    # inputs created up front: the loop only passes existing ints
    rows = [(6_500_000 + i % 7, 1_000 + i, 6_500_003 + i % 7, 2_000 + i, i * 10_000, i * 50 - 400)
            for i in range(16)]  # fmt: skip
    ts_step = 16 * 10_000
    base = [0]
    step = fast.step
    for row in rows:  # warm-up
        assert step(*row) == OK
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for k in range(1, 100_000 // 16 + 1):
            base[0] = k * ts_step
            for bid, bq, ask, aq, ts, inv in rows:
                step(bid, bq, ask, aq, ts + base[0], inv)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fast.events == 16 + 100_000 // 16 * 16
    assert after - before <= 2048
    assert peak - before <= 2048
