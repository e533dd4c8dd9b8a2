# Fixed-point contract shared by every hot module: prices and quantities are int64 counts
# of a grid step `step_mantissa * 10**-exp`; strings are parsed/formatted without Python.
cimport cython
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t

cdef extern from *:
    """
    #include <stdint.h>
    /* GCC/Clang only: __int128 and the overflow builtins compile to a flag test. */
    typedef __int128 hft_int128;
    static inline int hft_mul_ovf_i64(int64_t a, int64_t b, int64_t *r) {
        return __builtin_mul_overflow(a, b, r);
    }
    static inline int hft_add_ovf_i64(int64_t a, int64_t b, int64_t *r) {
        return __builtin_add_overflow(a, b, r);
    }
    static inline int hft_sub_ovf_i64(int64_t a, int64_t b, int64_t *r) {
        return __builtin_sub_overflow(a, b, r);
    }
    """
    # Cython only needs a name: every operation on it is emitted as plain C on __int128.
    # Never let one reach a Python conversion, abs() or a non-cdivision division.
    ctypedef long long int128 "hft_int128"
    bint hft_mul_ovf_i64(int64_t a, int64_t b, int64_t* r) nogil
    bint hft_add_ovf_i64(int64_t a, int64_t b, int64_t* r) nogil
    bint hft_sub_ovf_i64(int64_t a, int64_t b, int64_t* r) nogil

# Status codes of the noexcept helpers (0 ok, negative error). Other _core modules reuse them
# and number their own codes below -15.
cdef enum:
    FP_OK = 0
    ERR_SYNTAX = -1
    ERR_OFF_GRID = -2
    ERR_OVERFLOW = -3
    ERR_ARG = -4  # step <= 0, exp outside 0..MAX_EXP, decimals < exp, division by zero
    ERR_CAPACITY = -5  # output buffer too small

    # 10**18 is the largest power of ten in int64; a larger exp could not be scaled.
    FP_MAX_EXP = 18
    # Bounds Grid.to_str's stack buffer: sign + 19 digits + point + decimals <= 64.
    FP_MAX_DECIMALS = 30
    FP_FORMAT_CAP = 64


cdef inline int checked_mul_i64(int64_t a, int64_t b, int64_t* out) noexcept nogil:
    if hft_mul_ovf_i64(a, b, out):
        return ERR_OVERFLOW
    return FP_OK


cdef inline int checked_add_i64(int64_t a, int64_t b, int64_t* out) noexcept nogil:
    if hft_add_ovf_i64(a, b, out):
        return ERR_OVERFLOW
    return FP_OK


cdef inline int checked_sub_i64(int64_t a, int64_t b, int64_t* out) noexcept nogil:
    if hft_sub_ovf_i64(a, b, out):
        return ERR_OVERFLOW
    return FP_OK


cdef inline bint int128_fits_i64(int128 v) noexcept nogil:
    return <int128>INT64_MIN <= v <= <int128>INT64_MAX


@cython.cdivision(True)
cdef inline int muldiv_trunc_i64(int64_t a, int64_t b, int64_t c, int64_t* out) noexcept nogil:
    """a * b / c truncated toward zero, exact through a 128-bit product."""
    cdef int128 q
    if c == 0:
        return ERR_ARG
    q = <int128>a * <int128>b / <int128>c
    if not int128_fits_i64(q):
        return ERR_OVERFLOW
    out[0] = <int64_t>q
    return FP_OK


cdef int parse_units(const char* s, Py_ssize_t n, int64_t step, int exp,
                     int64_t* out) noexcept nogil
cdef Py_ssize_t format_units(int64_t units, int64_t step, int exp, int decimals,
                             char* out, Py_ssize_t cap) noexcept nogil

# Python-boundary conversion shared with the other _core modules: int-like (not bool, not
# float) within int64, else TypeError / FixedPointOverflowError naming `what`.
cdef int64_t as_int64(object value, str what) except? -1


cdef class Grid:
    cdef readonly int64_t step_mantissa
    cdef readonly int exp
    cdef readonly int decimals
    cdef object _step

    cdef int parse(self, const char* s, Py_ssize_t n, int64_t* out) noexcept nogil
    cdef Py_ssize_t format(self, int64_t units, char* out, Py_ssize_t cap) noexcept nogil
