"""Exact int64 fixed-point on decimal grids (tick and lot sizes).

A grid step is `step_mantissa * 10**-exp` with the smallest exp >= 0. A value on the grid is
held as `units = value / step`. The rule for range is the same everywhere: the scaled value
`units * step_mantissa` (the value in 10**-exp) must fit int64, so a number the parser accepts
can always be formatted back, and the reverse.

Error priority when several apply: syntax, then overflow, then off-grid.
"""

cimport cython
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.number cimport PyIndex_Check, PyNumber_Index
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t, uint64_t

import re
from decimal import Decimal, InvalidOperation

MAX_EXP = FP_MAX_EXP
MAX_DECIMALS = FP_MAX_DECIMALS


class GridError(ValueError):
    """A value or step that cannot be represented exactly on a grid."""


class OffGridError(GridError):
    """The value is not a whole multiple of the grid step."""


class DecimalSyntaxError(GridError):
    """The text is not a plain decimal `[-]digits[.digits]`."""


class FixedPointOverflowError(GridError, OverflowError):
    """The value, or an intermediate product or sum, does not fit int64."""


cdef uint64_t _POW10[FP_MAX_EXP + 1]
cdef int _i
_POW10[0] = 1
for _i in range(1, FP_MAX_EXP + 1):
    _POW10[_i] = _POW10[_i - 1] * 10

# Same language as the C parser, for the slow Python paths (floor/ceil of text).
_PLAIN = re.compile(r"-?[0-9]+(?:\.[0-9]+)?\Z")
# Past this power of ten any non-zero value overflows int64; guards 10**k on huge exponents.
cdef int _POW_GUARD = 40


@cython.cdivision(True)
cdef int parse_units(const char* s, Py_ssize_t n, int64_t step, int exp,
                     int64_t* out) noexcept nogil:
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t first_digit
    cdef bint neg = False
    cdef bint overflow = False
    cdef bint off_grid = False
    cdef uint64_t mag = 0
    cdef uint64_t limit
    cdef uint64_t q
    cdef unsigned int d
    cdef int frac = 0
    if s == NULL or step <= 0 or exp < 0 or exp > FP_MAX_EXP:
        return ERR_ARG
    if n <= 0:
        return ERR_SYNTAX
    if s[0] == b'-':
        neg = True
        i = 1
    # |INT64_MIN| is one more than INT64_MAX; accumulating the magnitude keeps both exact.
    limit = <uint64_t>INT64_MAX + <uint64_t>neg
    first_digit = i
    while i < n:
        d = <unsigned char>s[i] - 48u
        if d > 9u:
            break
        if not overflow:
            if mag > (limit - d) / 10u:
                overflow = True
            else:
                mag = mag * 10u + d
        i += 1
    if i == first_digit:
        return ERR_SYNTAX
    if i < n:
        if s[i] != b'.':
            return ERR_SYNTAX
        i += 1
        if i == n:
            return ERR_SYNTAX
        while i < n:
            d = <unsigned char>s[i] - 48u
            if d > 9u:
                return ERR_SYNTAX
            if frac < exp:
                if not overflow:
                    if mag > (limit - d) / 10u:
                        overflow = True
                    else:
                        mag = mag * 10u + d
                frac += 1
            elif d != 0u:
                # venues pad to their own width ("65000.10000000"); only zeros may pass exp
                off_grid = True
            i += 1
    while frac < exp:
        if not overflow:
            if mag > limit / 10u:
                overflow = True
            else:
                mag *= 10u
        frac += 1
    if overflow:
        return ERR_OVERFLOW
    if step == 1:
        q = mag
    else:
        q = mag / <uint64_t>step
        if q * <uint64_t>step != mag:
            off_grid = True
    if off_grid:
        return ERR_OFF_GRID
    # two's complement wrap: q == 2**63 with neg maps onto INT64_MIN exactly
    out[0] = <int64_t>(0u - q) if neg else <int64_t>q
    return FP_OK


@cython.cdivision(True)
cdef Py_ssize_t format_units(int64_t units, int64_t step, int exp, int decimals,
                             char* out, Py_ssize_t cap) noexcept nogil:
    cdef int64_t scaled
    cdef uint64_t mag
    cdef uint64_t ip
    cdef uint64_t fp
    cdef char digits[20]
    cdef int nd = 0
    cdef int k
    cdef bint neg
    cdef Py_ssize_t length
    cdef Py_ssize_t pos = 0
    if out == NULL or step <= 0 or exp < 0 or exp > FP_MAX_EXP or decimals < exp:
        return ERR_ARG
    if hft_mul_ovf_i64(units, step, &scaled):
        return ERR_OVERFLOW
    neg = scaled < 0
    mag = (0u - <uint64_t>scaled) if neg else <uint64_t>scaled
    ip = mag / _POW10[exp]
    fp = mag % _POW10[exp]
    while True:
        digits[nd] = <char>(48 + <int>(ip % 10u))
        nd += 1
        ip //= 10u
        if ip == 0:
            break
    length = <Py_ssize_t>neg + nd
    if decimals > 0:
        length += 1 + decimals
    if length > cap:
        return ERR_CAPACITY
    if neg:
        out[0] = b'-'
        pos = 1
    for k in range(nd - 1, -1, -1):
        out[pos] = digits[k]
        pos += 1
    if decimals > 0:
        out[pos] = b'.'
        pos += 1
        for k in range(exp - 1, -1, -1):
            out[pos + k] = <char>(48 + <int>(fp % 10u))
            fp //= 10u
        for k in range(exp, decimals):
            out[pos + k] = b'0'
    return length


cdef int64_t as_int64(object value, str what) except? -1:
    if type(value) is not int:
        if isinstance(value, float):
            raise TypeError(
                f"{what} must be an int, got float {value!r}: floats never carry money"
            )
        if isinstance(value, bool) or not PyIndex_Check(value):
            raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}")
        value = PyNumber_Index(value)
    if value > INT64_MAX or value < INT64_MIN:
        raise FixedPointOverflowError(f"{what} {value} does not fit int64")
    return <int64_t>value


cdef str _show(object value):
    # error messages must stay readable when a whole frame was passed in
    cdef str text = repr(value)
    if len(text) > 80:
        return text[:77] + "..."
    return text


cdef object _split_decimal(object value, str what):
    """(negative, coefficient, exponent) of an exact decimal: value = ±coefficient * 10**exp."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise DecimalSyntaxError(f"{what} {value} is not a finite decimal")
        sign, digits, e = value.as_tuple()
        return bool(sign), int("".join(map(str, digits))), int(e)
    if isinstance(value, float):
        raise TypeError(
            f"{what} must be a str, bytes, Decimal or int, got float {value!r}: "
            "floats never carry money"
        )
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a str, bytes, Decimal or int, got bool {value!r}")
    if isinstance(value, int):
        return value < 0, abs(value), 0
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("ascii")
        except UnicodeDecodeError:
            raise DecimalSyntaxError(
                f"{what} {_show(value)} is not a plain decimal '[-]digits[.digits]'"
            ) from None
    if isinstance(value, str):
        if _PLAIN.match(value) is None:
            raise DecimalSyntaxError(
                f"{what} {_show(value)} is not a plain decimal '[-]digits[.digits]'"
            )
        return _split_decimal(Decimal(value), what)
    raise TypeError(
        f"{what} must be a str, bytes, Decimal or int, got {type(value).__name__} {_show(value)}"
    )


cdef object _step_parts(object step):
    """(mantissa, exp) with the smallest exp >= 0, or GridError."""
    cdef object d
    if isinstance(step, float):
        raise TypeError(f"step must be a str, Decimal or int, got float {step!r}: "
                        "floats never carry money")
    if isinstance(step, bool):
        raise TypeError(f"step must be a str, Decimal or int, got bool {step!r}")
    if isinstance(step, Decimal):
        d = step
    elif isinstance(step, (str, int)):
        try:
            d = Decimal(step)
        except InvalidOperation:
            raise DecimalSyntaxError(f"step {_show(step)} is not a decimal") from None
    else:
        raise TypeError(f"step must be a str, Decimal or int, got {type(step).__name__}")
    if not d.is_finite() or d <= 0:
        raise GridError(f"step must be a positive finite decimal, got {_show(step)}")
    _, digits, e = d.as_tuple()
    mantissa = int("".join(map(str, digits)))
    if e >= 0:
        if e > 19:
            raise GridError(f"step {step} does not fit int64")
        mantissa *= 10 ** e
        exp = 0
    else:
        exp = -e
        while exp > 0 and mantissa % 10 == 0:
            mantissa //= 10
            exp -= 1
    if exp > FP_MAX_EXP:
        raise GridError(f"step {step} has {exp} decimals; at most {FP_MAX_EXP} are supported")
    if mantissa > INT64_MAX:
        raise GridError(f"step {step} does not fit int64")
    return mantissa, exp


cdef _raise(Grid g, Py_ssize_t status, object value):
    if status == ERR_SYNTAX:
        raise DecimalSyntaxError(
            f"{_show(value)} is not a plain decimal '[-]digits[.digits]' "
            f"(step {g._step:f})"
        )
    if status == ERR_OFF_GRID:
        raise OffGridError(f"{_show(value)} is not a multiple of the step {g._step:f}")
    if status == ERR_OVERFLOW:
        raise FixedPointOverflowError(
            f"{_show(value)} on step {g._step:f} does not fit int64 "
            f"(value * 10**{g.exp} must be within int64)"
        )
    raise GridError(f"internal fixed-point error {status} for {_show(value)}")


cdef object _exact_units(Grid g, object value, bint neg, object coefficient, object e):
    cdef object k = e + g.exp
    cdef object scaled
    cdef object remainder = 0
    if coefficient == 0:
        return 0
    if k >= 0:
        if k > _POW_GUARD:
            _raise(g, ERR_OVERFLOW, value)
        scaled = coefficient * 10 ** k
    elif -k > len(str(coefficient)):
        scaled, remainder = 0, coefficient
    else:
        scaled, remainder = divmod(coefficient, 10 ** -k)
    if scaled > <uint64_t>INT64_MAX + <uint64_t>neg:
        _raise(g, ERR_OVERFLOW, value)
    if remainder or scaled % g.step_mantissa:
        _raise(g, ERR_OFF_GRID, value)
    scaled //= g.step_mantissa
    return -scaled if neg else scaled


cdef object _round_units(Grid g, object value, bint up):
    neg, coefficient, e = _split_decimal(value, "value")
    cdef object k = e + g.exp
    cdef object num
    cdef object den
    cdef object q
    if coefficient == 0:
        return 0
    if k >= 0:
        if k > _POW_GUARD:
            _raise(g, ERR_OVERFLOW, value)
        num = coefficient * 10 ** k
        den = g.step_mantissa
    elif -k > len(str(coefficient)) + 20:
        # |value| is below one step by far: avoid 10**-k on exponents like -10**9
        num = 1
        den = 2
    else:
        num = coefficient
        den = g.step_mantissa * 10 ** -k
    if neg:
        num = -num
    q = -((-num) // den) if up else num // den
    scaled = q * g.step_mantissa
    if scaled > INT64_MAX or scaled < INT64_MIN:
        _raise(g, ERR_OVERFLOW, value)
    return q


cdef class Grid:
    """A decimal step (tick or lot size) and the number of decimals the venue prints."""

    def __init__(self, step, decimals=None):
        mantissa, exp = _step_parts(step)
        if decimals is None:
            decimals = exp
        elif isinstance(decimals, bool) or not isinstance(decimals, int):
            raise TypeError(f"decimals must be an int, got {decimals!r}")
        elif not exp <= decimals <= FP_MAX_DECIMALS:
            raise GridError(
                f"decimals {decimals} for step {step} must be in {exp}..{FP_MAX_DECIMALS}: "
                "fewer digits than the step's exponent would print off-grid values"
            )
        self.step_mantissa = mantissa
        self.exp = exp
        self.decimals = decimals
        self._step = Decimal((0, tuple(map(int, str(mantissa))), -exp))

    @property
    def step(self):
        return self._step

    cdef int parse(self, const char* s, Py_ssize_t n, int64_t* out) noexcept nogil:
        return parse_units(s, n, self.step_mantissa, self.exp, out)

    cdef Py_ssize_t format(self, int64_t units, char* out, Py_ssize_t cap) noexcept nogil:
        return format_units(units, self.step_mantissa, self.exp, self.decimals, out, cap)

    def to_units(self, value):
        """Exact units of `value`; str and bytes go through the allocation-free C parser."""
        cdef int64_t units = 0
        cdef Py_ssize_t n = 0
        cdef const char* p
        cdef int status
        if isinstance(value, str):
            try:
                p = PyUnicode_AsUTF8AndSize(value, &n)
            except UnicodeEncodeError:
                raise DecimalSyntaxError(
                    f"{_show(value)} is not a plain decimal (step {self._step:f})"
                ) from None
        elif isinstance(value, bytes):
            p = PyBytes_AS_STRING(value)
            n = PyBytes_GET_SIZE(value)
        elif isinstance(value, bytearray):
            p = PyByteArray_AS_STRING(value)
            n = PyByteArray_GET_SIZE(value)
        else:
            neg, coefficient, e = _split_decimal(value, "value")
            return _exact_units(self, value, neg, coefficient, e)
        status = parse_units(p, n, self.step_mantissa, self.exp, &units)
        if status != FP_OK:
            _raise(self, status, value)
        return units

    def floor_units(self, value):
        """The largest grid value <= value, in units."""
        return _round_units(self, value, False)

    def ceil_units(self, value):
        """The smallest grid value >= value, in units."""
        return _round_units(self, value, True)

    def to_str(self, units):
        """`units` as the exact decimal string with `decimals` fraction digits."""
        cdef char buf[FP_FORMAT_CAP]
        cdef int64_t u = as_int64(units, "units")
        cdef Py_ssize_t n = self.format(u, buf, FP_FORMAT_CAP)
        if n < 0:
            _raise(self, n, units)
        return buf[:n].decode("ascii")

    def to_decimal(self, units):
        """`units` as an exact Decimal carrying `decimals` fraction digits."""
        return Decimal(self.to_str(units))

    def __eq__(self, other):
        if not isinstance(other, Grid):
            return NotImplemented
        cdef Grid g = <Grid>other
        return (
            self.step_mantissa == g.step_mantissa
            and self.exp == g.exp
            and self.decimals == g.decimals
        )

    def __hash__(self):
        return hash((self.step_mantissa, self.exp, self.decimals))

    def __reduce__(self):
        return Grid, (self._step, self.decimals)

    def __repr__(self):
        return f"Grid('{self._step:f}', decimals={self.decimals})"


def notional_units(price_units, qty_units):
    """price_units * qty_units in units of tick * lot, or FixedPointOverflowError."""
    cdef int64_t p = as_int64(price_units, "price_units")
    cdef int64_t q = as_int64(qty_units, "qty_units")
    cdef int64_t out
    if checked_mul_i64(p, q, &out) != FP_OK:
        raise FixedPointOverflowError(f"notional {p} * {q} does not fit int64")
    return out


def checked_mul(a, b):
    cdef int64_t x = as_int64(a, "a")
    cdef int64_t y = as_int64(b, "b")
    cdef int64_t out
    if checked_mul_i64(x, y, &out) != FP_OK:
        raise FixedPointOverflowError(f"{x} * {y} does not fit int64")
    return out


def checked_add(a, b):
    cdef int64_t x = as_int64(a, "a")
    cdef int64_t y = as_int64(b, "b")
    cdef int64_t out
    if checked_add_i64(x, y, &out) != FP_OK:
        raise FixedPointOverflowError(f"{x} + {y} does not fit int64")
    return out


def checked_sub(a, b):
    cdef int64_t x = as_int64(a, "a")
    cdef int64_t y = as_int64(b, "b")
    cdef int64_t out
    if checked_sub_i64(x, y, &out) != FP_OK:
        raise FixedPointOverflowError(f"{x} - {y} does not fit int64")
    return out
