# The JSON scanner that the frame decoders share (depth_decode.pyx and reports.pyx): it walks a
# frame in place and validates every byte it passes, so whatever orjson refuses is refused here
# too. It is stricter than orjson only where noted below (nesting depth and number magnitude).
# It reads no byte outside the frame: every p[i] is read after a test that i < n, and the
# decoders' tests truncate valid frames at every offset.
#
# These are C helpers only. Each one returns 0 when it succeeds. When the frame is malformed it
# returns Cursor.err, the status that the calling decoder uses for "not well-formed JSON"
# (depth_decode -48, reports -160), so each module keeps its own status codes. Because the
# functions are `cdef inline` in a .pxd, each module that cimports them compiles its own copy,
# so a call never crosses a module boundary.
from libc.stdint cimport INT64_MAX, int64_t, uint64_t
from libc.string cimport memcmp

cdef extern from *:
    """
    /* 1 for a byte that needs no look inside a JSON string: ASCII 0x20-0x7F but '"', '\\'. */
    static const unsigned char hft_js_plain[256] = {
        0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
        1,1,0,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
        1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,0,1,1,1,
        1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1};
    """
    const unsigned char* PLAIN "hft_js_plain"

cdef enum:
    JSON_OK = 0
    MAX_NESTING = 64  # skip_value's container stack is one uint64 bit per level
    # A number whose magnitude could reach 1e300 is refused. orjson fails only on a double
    # overflow (>= ~1.8e308), so this cheap bound, well below that, keeps the scanner from ever
    # accepting a number that orjson refuses.
    MAX_DECIMAL_MAGNITUDE = 300
    EXP_CLAMP = 1000000


# The read position in one frame. err is the status that a malformed frame returns.
cdef struct Cursor:
    const unsigned char* p
    Py_ssize_t n
    Py_ssize_t i
    int err


cdef inline Cursor cursor(const unsigned char* p, Py_ssize_t n, int err) noexcept nogil:
    """A cursor at the start of the frame p[:n]. A malformed frame returns err."""
    cdef Cursor c
    c.p = p
    c.n = n
    c.i = 0
    c.err = err
    return c


cdef inline int peek(Cursor* c) noexcept nogil:
    """The next non-whitespace byte (cursor left on it), or -1 at the end of the frame."""
    cdef unsigned char b
    while c.i < c.n:
        b = c.p[c.i]
        if b == 32 or b == 10 or b == 13 or b == 9:
            c.i += 1
        else:
            return b
    return -1


cdef inline bint is_digit(int b) noexcept nogil:
    return 48 <= b <= 57


cdef inline bint same(const unsigned char* p, Py_ssize_t n, const char* lit,
                      Py_ssize_t m) noexcept nogil:
    return n == m and memcmp(p, lit, <size_t>m) == 0


cdef inline int hex4(const unsigned char* p, Py_ssize_t n, Py_ssize_t j) noexcept nogil:
    """The code unit of 4 hex digits at p[j:j+4], or -1."""
    cdef int v = 0
    cdef int b
    cdef Py_ssize_t k
    if j + 4 > n:
        return -1
    for k in range(j, j + 4):
        b = p[k]
        if 48 <= b <= 57:
            v = v * 16 + b - 48
        elif 97 <= b <= 102:
            v = v * 16 + b - 87
        elif 65 <= b <= 70:
            v = v * 16 + b - 55
        else:
            return -1
    return v


cdef inline bint escape(const unsigned char* p, Py_ssize_t n, Py_ssize_t* pi) noexcept nogil:
    """Whether the escape at p[pi] (a backslash) is valid; if it is, pi moves past it.
    Surrogates must come in pairs."""
    cdef Py_ssize_t i = pi[0] + 1
    cdef int b
    cdef int cp
    cdef int lo
    if i >= n:
        return False
    b = p[i]
    if (b == 34 or b == 92 or b == 47 or b == 98 or b == 102 or b == 110 or b == 114
            or b == 116):
        pi[0] = i + 1
        return True
    if b != 117:  # 'u'
        return False
    cp = hex4(p, n, i + 1)
    if cp < 0:
        return False
    i += 5
    if 0xD800 <= cp <= 0xDBFF:
        if i + 1 >= n or p[i] != 92 or p[i + 1] != 117:
            return False
        lo = hex4(p, n, i + 2)
        if lo < 0xDC00 or lo > 0xDFFF:
            return False
        i += 6
    elif 0xDC00 <= cp <= 0xDFFF:
        return False
    pi[0] = i
    return True


cdef inline bint utf8(const unsigned char* p, Py_ssize_t n, Py_ssize_t* pi) noexcept nogil:
    """Whether one multi-byte UTF-8 sequence starts at p[pi] (pi < n), with no overlong form
    and no surrogate; if it does, pi moves past it."""
    cdef Py_ssize_t i = pi[0]
    cdef int b = p[i]
    cdef int need
    cdef int lo = 0x80
    cdef int hi = 0xBF
    cdef int k
    if 0xC2 <= b <= 0xDF:
        need = 1
    elif b == 0xE0:
        need = 2
        lo = 0xA0
    elif 0xE1 <= b <= 0xEF:
        need = 2
        if b == 0xED:
            hi = 0x9F
    elif b == 0xF0:
        need = 3
        lo = 0x90
    elif 0xF1 <= b <= 0xF3:
        need = 3
    elif b == 0xF4:
        need = 3
        hi = 0x8F
    else:
        return False
    if i + need >= n:
        return False
    if p[i + 1] < lo or p[i + 1] > hi:
        return False
    for k in range(2, need + 1):
        if (p[i + k] & 0xC0) != 0x80:
            return False
    pi[0] = i + need + 1
    return True


cdef inline int scan_string(Cursor* c, Py_ssize_t* start, Py_ssize_t* length,
                            bint* esc) noexcept nogil:
    """The string at c.p[c.i] == '"'. Gives the span of its raw content (escapes are left as
    written) and sets esc if the string holds escapes."""
    cdef const unsigned char* p = c.p
    cdef Py_ssize_t n = c.n
    cdef Py_ssize_t i = c.i + 1
    cdef unsigned char b
    cdef bint ok
    start[0] = i
    esc[0] = False
    while True:
        # One byte at a time, by table. The decoders' strings are short (keys, enum values,
        # ids, level fields). On them this loop is faster than reading eight bytes at a time
        # (SWAR), which reports.pyx used to do. Paired runs of the bench showed reports.binance
        # and reports.okx about 5% faster, and reports.gate and depth.* unchanged.
        while i < n and PLAIN[p[i]]:
            i += 1
        if i >= n:
            return c.err
        b = p[i]
        if b == 34:
            length[0] = i - start[0]
            c.i = i + 1
            return JSON_OK
        if b == 92:
            esc[0] = True
            ok = escape(p, n, &i)
        elif b < 32:
            return c.err
        else:
            ok = utf8(p, n, &i)
        if not ok:
            return c.err


cdef inline int scan_number(Cursor* c, int64_t* out, bint* is_int) noexcept nogil:
    """The JSON number at c.p[c.i] ('-' or a digit). Sets is_int when the number has no
    fraction or exponent and fits int64; out then holds its value."""
    cdef const unsigned char* p = c.p
    cdef Py_ssize_t n = c.n
    cdef Py_ssize_t i = c.i
    cdef bint neg = False
    cdef bint overflow = False
    cdef bint integral = True
    cdef bint has_sig = False
    cdef bint eneg = False
    cdef uint64_t mag = 0
    cdef uint64_t limit
    cdef unsigned int d
    cdef int64_t sig_pos = 0
    cdef int64_t k = 0
    cdef int64_t e = 0
    if p[i] == 45:
        neg = True
        i += 1
    limit = <uint64_t>INT64_MAX + <uint64_t>neg
    if i >= n:
        return c.err
    if p[i] == 48:
        i += 1
    elif is_digit(p[i]):
        has_sig = True
        while i < n and is_digit(p[i]):
            d = p[i] - 48u
            sig_pos += 1
            if sig_pos > EXP_CLAMP:
                sig_pos = EXP_CLAMP
            if not overflow:
                if mag > (limit - d) / 10u:
                    overflow = True
                else:
                    mag = mag * 10u + d
            i += 1
    else:
        return c.err
    if i < n and p[i] == 46:
        integral = False
        i += 1
        if i >= n or not is_digit(p[i]):
            return c.err
        while i < n and is_digit(p[i]):
            if k < EXP_CLAMP:
                k += 1
            if not has_sig and p[i] != 48:
                has_sig = True
                sig_pos = 1 - k
            i += 1
    if i < n and (p[i] == 101 or p[i] == 69):
        integral = False
        i += 1
        if i < n and (p[i] == 43 or p[i] == 45):
            eneg = p[i] == 45
            i += 1
        if i >= n or not is_digit(p[i]):
            return c.err
        while i < n and is_digit(p[i]):
            if e < EXP_CLAMP:
                e = e * 10 + (p[i] - 48)
            i += 1
        if eneg:
            e = -e
    if has_sig and sig_pos + e > MAX_DECIMAL_MAGNITUDE:
        return c.err
    c.i = i
    is_int[0] = integral and not overflow
    if is_int[0]:
        out[0] = <int64_t>(0u - mag) if neg else <int64_t>mag
    return JSON_OK


cdef inline int scan_literal(Cursor* c) noexcept nogil:
    """The literal true, false or null at the cursor. The caller knows which one from the
    byte it peeked."""
    cdef const unsigned char* p = c.p + c.i
    cdef Py_ssize_t left = c.n - c.i
    if left >= 4 and memcmp(p, b"true", 4) == 0:
        c.i += 4
    elif left >= 5 and memcmp(p, b"false", 5) == 0:
        c.i += 5
    elif left >= 4 and memcmp(p, b"null", 4) == 0:
        c.i += 4
    else:
        return c.err
    return JSON_OK


cdef inline int member_key(Cursor* c, Py_ssize_t* start, Py_ssize_t* length,
                           bint* esc) noexcept nogil:
    """The `"key" :` of an object member (esc as in scan_string). Leaves the cursor on the
    value."""
    cdef int r
    if peek(c) != 34:
        return c.err
    r = scan_string(c, start, length, esc)
    if r != JSON_OK:
        return r
    if peek(c) != 58:
        return c.err
    c.i += 1
    return JSON_OK


cdef inline int next_member(Cursor* c, bint* more) noexcept nogil:
    """What follows a member value: ',' (more is set) or '}' (the end of the object)."""
    cdef int b = peek(c)
    if b == 44:
        c.i += 1
        more[0] = True
        return JSON_OK
    if b == 125:
        c.i += 1
        more[0] = False
        return JSON_OK
    return c.err


cdef inline int skip_value(Cursor* c) noexcept nogil:
    """Walk one JSON value of any kind, validating it as strictly as orjson does."""
    cdef uint64_t objects = 0  # bit d set: the container at depth d is an object
    cdef int depth = 0
    cdef int b
    cdef int r
    cdef int64_t v
    cdef bint is_int
    cdef bint is_obj
    cdef bint esc
    cdef Py_ssize_t s
    cdef Py_ssize_t m
    while True:
        b = peek(c)
        if b == 123 or b == 91:
            c.i += 1
            if peek(c) == b + 2:  # '}' / ']' follow '{' / '[' by two code points
                c.i += 1
            else:
                if depth >= MAX_NESTING:
                    return c.err
                if b == 123:
                    objects |= (<uint64_t>1) << depth
                    depth += 1
                    r = member_key(c, &s, &m, &esc)
                    if r != JSON_OK:
                        return r
                else:
                    objects &= ~((<uint64_t>1) << depth)
                    depth += 1
                continue
        elif b == 34:
            r = scan_string(c, &s, &m, &esc)
            if r != JSON_OK:
                return r
        elif b == 45 or is_digit(b):
            r = scan_number(c, &v, &is_int)
            if r != JSON_OK:
                return r
        elif b == 116 or b == 102 or b == 110:
            r = scan_literal(c)
            if r != JSON_OK:
                return r
        else:
            return c.err
        # a value ended: close every container that ends here, stop before the next value
        while True:
            if depth == 0:
                return JSON_OK
            is_obj = (objects >> (depth - 1)) & 1
            b = peek(c)
            if b == 44:
                c.i += 1
                if is_obj:
                    r = member_key(c, &s, &m, &esc)
                    if r != JSON_OK:
                        return r
                break
            if (b == 125 and is_obj) or (b == 93 and not is_obj):
                c.i += 1
                depth -= 1
            else:
                return c.err


cdef inline int finish_frame(Cursor* c) noexcept nogil:
    """Only whitespace may follow the top-level value."""
    if peek(c) >= 0:
        return c.err
    return JSON_OK
