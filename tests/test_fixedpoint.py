"""engine/_core/fixedpoint.pyx against hand-computed values and the Decimal reference."""

from __future__ import annotations

import pickle
from decimal import Context, Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine._core.fixedpoint import (
    DecimalSyntaxError,
    FixedPointOverflowError,
    Grid,
    GridError,
    OffGridError,
    checked_add,
    checked_mul,
    checked_sub,
    notional_units,
)
from engine.model import fixedpoint_ref as ref

D = Decimal
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
WIDE = Context(prec=200)

# ----------------------------------------------------------------------------- grids


@pytest.mark.parametrize(
    ("step", "mantissa", "exp"),
    [
        ("0.01", 1, 2),
        ("0.05", 5, 2),
        ("0.5", 5, 1),
        ("0.00001000", 1, 5),
        ("0.00000001", 1, 8),
        ("1", 1, 0),
        ("10", 10, 0),
        ("25", 25, 0),
        ("0.00025", 25, 5),
        (D("1E+1"), 10, 0),
        (D("0.0100"), 1, 2),
        (10, 10, 0),
        ("1E-18", 1, 18),
        ("9223372036854775807", INT64_MAX, 0),
    ],
)
def test_grid_picks_the_smallest_exponent(step: object, mantissa: int, exp: int) -> None:
    grid = Grid(step)  # type: ignore[arg-type]
    assert (grid.step_mantissa, grid.exp, grid.decimals) == (mantissa, exp, exp)
    assert grid.step == D(mantissa).scaleb(-exp)
    assert ref.step_parts(step) == (mantissa, exp)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("step", "decimals", "error", "message"),
    [
        ("0", None, GridError, "positive"),
        ("-0.01", None, GridError, "positive"),
        ("NaN", None, GridError, "positive"),
        ("Infinity", None, GridError, "positive"),
        ("abc", None, DecimalSyntaxError, "abc"),
        ("1E-19", None, GridError, "19 decimals"),
        ("9223372036854775808", None, GridError, "does not fit int64"),
        ("1E+30", None, GridError, "does not fit int64"),
        (0.01, None, TypeError, "floats never carry money"),
        (True, None, TypeError, "bool"),
        (None, None, TypeError, "NoneType"),
        ("0.01", 1, GridError, "decimals 1"),
        ("0.01", 31, GridError, "decimals 31"),
        ("0.01", True, TypeError, "decimals"),
        ("0.01", 8.0, TypeError, "decimals"),
    ],
)
def test_grid_rejects_bad_steps(step: object, decimals: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        Grid(step, decimals)  # type: ignore[arg-type]


def test_grid_value_semantics() -> None:
    grid = Grid("0.01000000", 8)
    assert repr(grid) == "Grid('0.01', decimals=8)"
    assert grid == Grid(D("0.01"), 8) and hash(grid) == hash(Grid("0.01", 8))
    assert grid != Grid("0.01") and grid != Grid("0.02", 8) and grid != "0.01"
    assert pickle.loads(pickle.dumps(grid)) == grid


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("step", "text", "units"),
    [
        ("0.00000001", "0.00000100", 100),
        ("0.000001", "0.00000100", 1),
        ("0.01", "65000.10", 6500010),
        ("0.01", "65000.10000000", 6500010),
        ("0.01", "65000.1", 6500010),
        ("0.01", "65000", 6500000),
        ("0.01", "-65000.10", -6500010),
        ("0.01", "-0", 0),
        ("0.01", "-0.00", 0),
        ("0.01", "0000000000000000000000000000000065000.10", 6500010),
        ("0.5", "2.5", 5),
        ("0.5", "-3.0", -6),
        ("25", "100", 4),
        ("10", "9223372036854775800", 922337203685477580),
        ("1", "9223372036854775807", INT64_MAX),
        ("1", "-9223372036854775808", INT64_MIN),
        ("0.1", "922337203685477580.7", INT64_MAX),
        ("0.1", "-922337203685477580.8", INT64_MIN),
    ],
)
def test_parse_known_values(step: str, text: str, units: int) -> None:
    grid = Grid(step)
    assert grid.to_units(text) == units
    assert grid.to_units(text.encode()) == units
    assert grid.to_units(bytearray(text.encode())) == units
    assert grid.to_units(D(text)) == units
    assert ref.parse_units(text, grid.step_mantissa, grid.exp) == units


@pytest.mark.parametrize(
    ("step", "text"),
    [
        ("0.01", "65000.105"),
        ("0.01", "65000.10000001"),
        ("0.01", "-0.001"),
        ("0.5", "0.3"),
        ("0.5", "-0.7"),
        ("25", "110"),
        ("10", "15"),
        ("0.00000001", "0.000000001"),
        ("1", "9223372036854775807.5"),
    ],
)
def test_off_grid_rejected(step: str, text: str) -> None:
    grid = Grid(step)
    with pytest.raises(OffGridError, match=rf"{text}.*{step}"):
        grid.to_units(text)
    with pytest.raises(OffGridError):
        grid.to_units(D(text))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-",
        ".5",
        "5.",
        "-.5",
        "+1",
        " 1",
        "1 ",
        "1\n",
        "1e5",
        "1E5",
        "1..2",
        "1.2.3",
        "--1",
        "0x10",
        "1,000",
        "1_000",
        "NaN",
        "inf",
        "\x001",
        "1\x00",
        "١",  # Arabic-Indic digit: Decimal() would take it, a venue never sends it
        "\ud800",  # lone surrogate: not encodable
    ],
)
def test_syntax_errors(text: str) -> None:
    grid = Grid("0.01")
    with pytest.raises(DecimalSyntaxError, match="plain decimal"):
        grid.to_units(text)
    with pytest.raises(DecimalSyntaxError):
        ref.parse_units(text, 1, 2)


@pytest.mark.parametrize(
    ("step", "text"),
    [
        ("1", "9223372036854775808"),
        ("1", "-9223372036854775809"),
        ("1", "1" * 40),
        ("1", "-" + "9" * 100),
        ("0.1", "922337203685477580.8"),
        ("0.01", "9223372036854775807"),
        ("0.00000001", "92233720368.54775808"),
        ("10", "9223372036854775810"),
        # overflow wins over off-grid and is found past the point
        ("0.01", "99999999999999999999.001"),
        ("0.01", "92233720368547758.08"),
    ],
)
def test_overflow_is_an_error_not_a_wrong_number(step: str, text: str) -> None:
    grid = Grid(step)
    with pytest.raises(FixedPointOverflowError, match="does not fit int64"):
        grid.to_units(text)
    with pytest.raises(OverflowError):
        grid.to_units(text.encode())
    with pytest.raises(FixedPointOverflowError):
        grid.to_units(D(text))
    with pytest.raises(FixedPointOverflowError):
        ref.parse_units(text, grid.step_mantissa, grid.exp)


def test_errors_are_value_errors_with_the_value_and_step() -> None:
    with pytest.raises(ValueError, match=r"'65000\.105' is not a multiple of the step 0\.01"):
        Grid("0.01").to_units("65000.105")
    with pytest.raises(ValueError, match=r"'1e5'.*step 0\.5"):
        Grid("0.5").to_units("1e5")
    long = b"9" * 10_000
    with pytest.raises(FixedPointOverflowError) as info:
        Grid("1").to_units(long)
    assert len(str(info.value)) < 300  # a whole frame is not pasted into the message


def test_non_text_inputs() -> None:
    grid = Grid("0.00001")
    assert grid.to_units(2) == 200_000  # an int is whole units of the asset
    assert grid.to_units(-2) == -200_000
    assert Grid("10").to_units(20) == 2
    with pytest.raises(OffGridError):
        Grid("10").to_units(15)
    assert grid.to_units(D("1.5E-4")) == 15
    assert grid.to_units(D("0E-1000000")) == 0
    with pytest.raises(FixedPointOverflowError):
        grid.to_units(D("1E+1000000000"))  # must not try to build 10**1e9
    with pytest.raises(OffGridError):
        grid.to_units(D("1E-1000000000"))
    for bad in (D("NaN"), D("-Infinity"), D("sNaN")):
        with pytest.raises(DecimalSyntaxError, match="finite"):
            grid.to_units(bad)
    with pytest.raises(TypeError, match="floats never carry money"):
        grid.to_units(0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bool"):
        grid.to_units(True)
    with pytest.raises(TypeError, match="list"):
        grid.to_units([1])  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("step", "decimals", "units", "text"),
    [
        ("0.01", None, 6500010, "65000.10"),
        ("0.01", 8, 6500010, "65000.10000000"),
        ("0.01", 2, -5, "-0.05"),
        ("0.01", 2, 0, "0.00"),
        ("0.5", 8, -3, "-1.50000000"),
        ("10", None, -3, "-30"),
        ("10", 2, 7, "70.00"),
        ("1", None, INT64_MIN, "-9223372036854775808"),
        ("1", 1, INT64_MAX, "9223372036854775807.0"),
        ("0.00000001", 8, 100, "0.00000100"),
        ("1E-18", 30, -1, "-0.000000000000000001000000000000"),
    ],
)
def test_format_known_values(step: str, decimals: int | None, units: int, text: str) -> None:
    grid = Grid(step, decimals)
    assert grid.to_str(units) == text
    assert grid.to_decimal(units) == D(text)
    assert format(grid.to_decimal(units), "f") == text
    assert grid.to_decimal(units).as_tuple().exponent == -grid.decimals
    assert ref.format_units(units, grid.step_mantissa, grid.exp, grid.decimals) == text


@pytest.mark.parametrize(
    ("step", "units"),
    [
        ("10", INT64_MAX // 10 + 1),
        ("10", INT64_MIN // 10 - 1),
        ("2", 2**62),
        ("1", 2**63),
        ("1", -(2**63) - 1),
        ("0.01", 10**30),
    ],
)
def test_format_overflow(step: str, units: int) -> None:
    grid = Grid(step)
    with pytest.raises(FixedPointOverflowError):
        grid.to_str(units)
    with pytest.raises(FixedPointOverflowError):
        grid.to_decimal(units)
    with pytest.raises(FixedPointOverflowError):
        ref.format_units(units, grid.step_mantissa, grid.exp, grid.decimals)


def test_format_rejects_non_ints() -> None:
    grid = Grid("0.01")
    with pytest.raises(TypeError, match="floats never carry money"):
        grid.to_str(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        grid.to_str(D(1))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        grid.to_str(False)


# ----------------------------------------------------------------------------- round trips

MANTISSAS = st.one_of(st.sampled_from([1, 2, 5, 25, 10, 3, 125]), st.integers(1, 10**6))


@st.composite
def grid_and_units(draw: st.DrawFn) -> tuple[Grid, int]:
    mantissa = draw(MANTISSAS)
    exp = draw(st.integers(0, 12))
    decimals = exp + draw(st.integers(0, 8))
    grid = Grid(D(mantissa).scaleb(-exp), decimals)
    bound = INT64_MAX // grid.step_mantissa
    units = draw(
        st.one_of(
            st.integers(-bound, bound),
            st.integers(-1000, 1000),
            st.sampled_from([bound, -bound, 0]),
        )
    )
    return grid, units


def _exact(grid: Grid, units: int) -> Decimal:
    return WIDE.scaleb(D(units * grid.step_mantissa), -grid.exp)


@given(grid_and_units(), st.integers(0, 10), st.booleans())
@settings(max_examples=600)
def test_round_trip_through_strings(case: tuple[Grid, int], pad: int, strip: bool) -> None:
    grid, units = case
    value = _exact(grid, units)
    text = format(value, f".{grid.exp + pad}f")
    if strip and "." in text:
        text = text.rstrip("0").rstrip(".")
    assert D(text) == value
    assert grid.to_units(text) == units
    assert grid.to_units(text.encode("ascii")) == units
    assert grid.to_units(value) == units
    assert ref.parse_units(text, grid.step_mantissa, grid.exp) == units
    printed = grid.to_str(units)
    assert printed == format(value, f".{grid.decimals}f")
    assert printed == ref.format_units(units, grid.step_mantissa, grid.exp, grid.decimals)
    assert grid.to_units(printed) == units
    assert grid.to_decimal(units) == value
    assert grid.floor_units(value) == units == grid.ceil_units(value)


@given(grid_and_units(), st.integers(1, 9))
def test_values_between_steps_are_off_grid(case: tuple[Grid, int], tenth: int) -> None:
    grid, units = case
    # tenth/10 of a step past a grid value: never on the grid, sometimes with <= exp decimals
    value = _exact(grid, units) + WIDE.scaleb(D(grid.step_mantissa * tenth), -grid.exp - 1)
    text = format(value, "f")
    with pytest.raises((OffGridError, FixedPointOverflowError)) as info:
        grid.to_units(text)
    with pytest.raises(info.type):
        ref.parse_units(text, grid.step_mantissa, grid.exp)


# ----------------------------------------------------------------------------- differential


def _outcome(fn: object, *args: object) -> tuple[str, object]:
    try:
        return "ok", fn(*args)  # type: ignore[operator]
    except (GridError, TypeError) as exc:
        return "error", type(exc)


GRIDS = st.sampled_from(
    [Grid("0.01"), Grid("0.5"), Grid("1"), Grid("10"), Grid("0.00000001"), Grid("0.00025")]
)
NEAR_DECIMALS = st.text(alphabet="0123456789-.", max_size=30)
PLAIN_DECIMALS = st.from_regex(r"-?[0-9]{1,22}(\.[0-9]{1,22})?", fullmatch=True)
JUNK = st.text(alphabet="0123456789-.+eE _\x00\n", max_size=30)


@given(GRIDS, st.one_of(NEAR_DECIMALS, PLAIN_DECIMALS, JUNK, st.text(max_size=20)))
@settings(max_examples=1500)
@example(Grid("0.01"), "65000.105")
@example(Grid("1"), "9223372036854775808")
@example(Grid("1"), "-9223372036854775808")
def test_parser_matches_reference_on_text(grid: Grid, text: str) -> None:
    expected = _outcome(ref.parse_units, text, grid.step_mantissa, grid.exp)
    assert _outcome(grid.to_units, text) == expected
    assert _outcome(grid.to_units, text.encode("utf-8", "surrogatepass")) == expected


@given(GRIDS, st.binary(max_size=30))
@settings(max_examples=500)
def test_parser_matches_reference_on_bytes(grid: Grid, data: bytes) -> None:
    expected = _outcome(ref.parse_units, data, grid.step_mantissa, grid.exp)
    assert _outcome(grid.to_units, data) == expected


@given(GRIDS, st.decimals(allow_nan=False, allow_infinity=False))
@settings(max_examples=500)
def test_decimal_path_matches_reference(grid: Grid, value: Decimal) -> None:
    assert _outcome(grid.to_units, value) == _outcome(
        ref.decimal_to_units, value, grid.step_mantissa, grid.exp
    )


@given(GRIDS, st.one_of(st.decimals(allow_nan=False, allow_infinity=False), PLAIN_DECIMALS))
@settings(max_examples=500)
def test_floor_and_ceil_match_reference(grid: Grid, value: Decimal | str) -> None:
    gref = ref.GridRef(grid.step, grid.decimals)
    floor = _outcome(grid.floor_units, value)
    ceil = _outcome(grid.ceil_units, value)
    assert floor == _outcome(gref.floor_units, value)
    assert ceil == _outcome(gref.ceil_units, value)
    if floor[0] == ceil[0] == "ok":
        lo, hi = floor[1], ceil[1]
        exact = D(value)
        assert _exact(grid, lo) <= exact <= _exact(grid, hi)  # type: ignore[arg-type]
        assert hi - lo == (0 if _outcome(grid.to_units, value)[0] == "ok" else 1)  # type: ignore[operator]


def test_floor_and_ceil_known_values() -> None:
    tick = Grid("0.01")
    assert tick.floor_units("65000.105") == 6500010
    assert tick.ceil_units("65000.105") == 6500011
    assert tick.floor_units(D("-0.011")) == -2
    assert tick.ceil_units(D("-0.011")) == -1
    assert tick.floor_units(D("65000.10")) == tick.ceil_units(D("65000.10")) == 6500010
    half = Grid("0.5")
    assert (half.floor_units("0.3"), half.ceil_units("0.3")) == (0, 1)
    assert (half.floor_units(D("1E-100000")), half.ceil_units(D("1E-100000"))) == (0, 1)
    assert (half.floor_units(D("-1E-100000")), half.ceil_units(D("-1E-100000"))) == (-1, 0)
    with pytest.raises(FixedPointOverflowError):
        half.floor_units(D("1E+100000"))
    with pytest.raises(FixedPointOverflowError):
        Grid("1").ceil_units(D("9223372036854775807.1"))
    assert Grid("1").floor_units(D("9223372036854775807.1")) == INT64_MAX
    with pytest.raises(DecimalSyntaxError):
        tick.floor_units("1e-3")
    with pytest.raises(TypeError, match="floats never carry money"):
        tick.ceil_units(0.5)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- checked maths


def test_checked_arithmetic_edges() -> None:
    assert notional_units(6500010, 100) == 650001000
    assert checked_mul(-(2**31), 2**32) == INT64_MIN
    assert checked_add(INT64_MAX, INT64_MIN) == -1
    assert checked_sub(-1, INT64_MAX) == INT64_MIN
    for fn, a, b in [
        (notional_units, 2**62, 2),
        (checked_mul, -1, INT64_MIN),
        (checked_mul, 2**32, 2**31),
        (checked_add, INT64_MAX, 1),
        (checked_add, INT64_MIN, -1),
        (checked_sub, INT64_MIN, 1),
        (checked_sub, 0, INT64_MIN),
        (checked_add, 2**63, 0),
    ]:
        with pytest.raises(FixedPointOverflowError):
            fn(a, b)
    with pytest.raises(TypeError, match="floats never carry money"):
        notional_units(1.0, 2)  # type: ignore[arg-type]


@given(
    st.sampled_from([checked_mul, checked_add, checked_sub]),
    st.integers(INT64_MIN, INT64_MAX),
    st.integers(INT64_MIN, INT64_MAX),
)
def test_checked_arithmetic_matches_python_ints(fn: object, a: int, b: int) -> None:
    exact = {checked_mul: a * b, checked_add: a + b, checked_sub: a - b}[fn]  # type: ignore[index]
    if INT64_MIN <= exact <= INT64_MAX:
        assert fn(a, b) == exact  # type: ignore[operator]
    else:
        with pytest.raises(FixedPointOverflowError):
            fn(a, b)  # type: ignore[operator]
