# distutils: libraries = crypto
"""Request templates: an order request's bytes from its int64 grid values, without Python text.

A template is compiled once per (venue, instrument, side, type, time in force, signed) from two
programs of literal byte segments and value slots (the venue's field order is the caller's,
engine/gateway/<venue>/orders_wire.py):

- the frame program: the request as sent (a WS API JSON frame);
- the payload program (optional): the text the venue signs (Binance: the sorted query).

`fill()` formats every value the programs use once, into the template's scratch: the request
id and the timestamp as decimal digits, the price ticks and quantity lots as the instrument's
exact decimal text (`Grid.format`: the tick/lot exponent and the printed decimals are known in
advance; no Decimal, no float), the ids after an alphabet and length check. It then runs the
payload program into its buffer and signs it (HMAC-SHA256 from a keyed state copied per
request, lowercase hex; or the Python fallback signer for other key types), runs the frame
program into the frame buffer with the signature in its slot, and returns the frame as bytes.

Buffers: both are allocated once, at the template's worst-case size unless a smaller capacity
is asked for; every write is checked against the capacity (the tests drive the refusals). The
returned bytes are a copy (the one copy out): the buffers are reused by the next fill, and a
frame may wait in an awaited send while another request is built. A view would save nothing:
both client transports copy the payload to mask it (aiohttp's `send_frame`, picows's `send`).

Values are refused with TemplateError, never truncated: a negative request id, a price,
quantity or timestamp that is not positive, a price or quantity whose text overflows int64, an
id that is empty, too long or outside its alphabet, a frame longer than the buffer. Ids and
literals need no JSON escaping: the alphabets hold no quote, backslash or control character,
and the callers check the constants (symbol, API key) they put in literals.

The pure-Python reference is engine/gateway/request_template_ref.py (same constructor and
fill); tests/test_request_template.py holds the two, and the text builders, byte-identical.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.bool cimport PyBool_Check
from cpython.long cimport PyLong_AsLongLong, PyLong_Check
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_GET_LENGTH
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.string cimport memcpy, memset

from engine._core.fixedpoint cimport ERR_OVERFLOW, Grid

RID = SLOT_RID
TIME = SLOT_TIME
PRICE = SLOT_PRICE
QTY = SLOT_QTY
ID = SLOT_ID
ID2 = SLOT_ID2
SIG = SLOT_SIG
SLOT_NAMES = {
    SLOT_RID: "request id",
    SLOT_TIME: "timestamp",
    SLOT_PRICE: "price",
    SLOT_QTY: "quantity",
    SLOT_ID: "id",
    SLOT_ID2: "second id",
    SLOT_SIG: "signature",
}


class TemplateError(ValueError):
    """A value a template cannot write as the venue's text (see the module docstring)."""


cdef extern from "Python.h":
    # an ASCII str's characters are its bytes: an id is read in place, never encoded
    bint PyUnicode_IS_ASCII(object s)
    const void* PyUnicode_DATA(object s)


cdef const char* _HEX = b"0123456789abcdef"
# what a signature from the fallback signer may hold: hex and base64 (JSON-safe as is)
cdef uint8_t _SIG_OK[256]
cdef const char* _SIG_CHARS = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/="
cdef Py_ssize_t _k
memset(_SIG_OK, 0, sizeof(_SIG_OK))
for _k in range(65):
    _SIG_OK[<uint8_t>_SIG_CHARS[_k]] = 1


@cython.final
cdef class HmacSha256:
    """HMAC-SHA256 with the key schedule computed once: a request copies the keyed inner and
    outer SHA-256 states (no allocation) and hashes its payload. Holds no copy of the key."""

    def __cinit__(self, key):
        cdef bytes raw
        if isinstance(key, str):
            raw = key.encode()
        elif isinstance(key, (bytes, bytearray, memoryview)):
            raw = bytes(key)
        else:
            raise TypeError(f"an HMAC key is str or bytes, not {type(key).__name__}")
        cdef unsigned char block[64]
        cdef unsigned char pad[64]
        cdef SHA256_CTX ctx
        cdef int i
        if not raw:
            raise ValueError("HmacSha256 needs a non-empty key")
        memset(block, 0, 64)
        if len(raw) > 64:  # RFC 2104: a key longer than the block is hashed first
            SHA256_Init(&ctx)
            SHA256_Update(&ctx, PyBytes_AS_STRING(raw), <size_t>PyBytes_GET_SIZE(raw))
            SHA256_Final(block, &ctx)
            OPENSSL_cleanse(&ctx, sizeof(ctx))
        else:
            memcpy(block, PyBytes_AS_STRING(raw), <size_t>PyBytes_GET_SIZE(raw))
        for i in range(64):
            pad[i] = block[i] ^ 0x36
        SHA256_Init(&self._inner)
        SHA256_Update(&self._inner, pad, 64)
        for i in range(64):
            pad[i] = block[i] ^ 0x5c
        SHA256_Init(&self._outer)
        SHA256_Update(&self._outer, pad, 64)
        OPENSSL_cleanse(block, 64)
        OPENSSL_cleanse(pad, 64)

    def __dealloc__(self):
        OPENSSL_cleanse(&self._inner, sizeof(self._inner))
        OPENSSL_cleanse(&self._outer, sizeof(self._outer))

    def __reduce__(self):
        raise TypeError("HmacSha256 holds a keyed state and cannot be pickled")

    cdef void mac(self, const char* data, Py_ssize_t n, unsigned char* out) noexcept nogil:
        cdef SHA256_CTX ctx
        cdef unsigned char inner[32]
        memcpy(&ctx, &self._inner, sizeof(SHA256_CTX))
        SHA256_Update(&ctx, data, <size_t>n)
        SHA256_Final(inner, &ctx)
        memcpy(&ctx, &self._outer, sizeof(SHA256_CTX))
        SHA256_Update(&ctx, inner, 32)
        SHA256_Final(out, &ctx)

    cdef void mac_hex(self, const char* data, Py_ssize_t n, char* out) noexcept nogil:
        cdef unsigned char digest[32]
        cdef int i
        self.mac(data, n, digest)
        for i in range(32):
            out[2 * i] = _HEX[digest[i] >> 4]
            out[2 * i + 1] = _HEX[digest[i] & 15]

    def hexdigest(self, const unsigned char[::1] data not None):
        """Lowercase hex HMAC-SHA256 of `data` (bytes-like)."""
        cdef char out[TPL_SIG_HEX]
        cdef const char* empty = ""
        cdef const char* p = <const char*>&data[0] if data.shape[0] else empty
        self.mac_hex(p, data.shape[0], out)
        return out[:TPL_SIG_HEX].decode("ascii")


cdef Py_ssize_t _digits(uint64_t value, char* out) noexcept nogil:
    """`value` in decimal into `out` (room for 20); the length."""
    cdef char tmp[20]
    cdef int n = 0
    cdef int i
    while True:
        tmp[n] = <char>(48 + <int>(value % 10u))
        n += 1
        value //= 10u
        if value == 0:
            break
    for i in range(n):
        out[i] = tmp[n - 1 - i]
    return n


cdef inline int64_t _as_int64(object value, int slot) except? -1:
    """An int (not a bool, not a float: 1.5 ticks is a bug, not a price) as int64."""
    if not PyLong_Check(value) or PyBool_Check(value):
        raise TypeError(f"{SLOT_NAMES[slot]} must be an int, got {value!r}")
    return PyLong_AsLongLong(value)  # OverflowError past int64


cdef int _compile(object program, list literals, TplOp* ops, int* count, Py_ssize_t* lit_size,
                  str which) except -1:
    """`program` (bytes/str literals, int slots) -> ops; adjacent literals merged."""
    cdef int n = 0
    cdef bint last_lit = False
    cdef bytes piece
    for item in program:
        if isinstance(item, (bytes, str)):
            piece = item.encode("ascii") if isinstance(item, str) else item
            if not piece:
                continue
            if last_lit:
                ops[n - 1].length += len(piece)
            else:
                if n == TPL_MAX_OPS:
                    raise ValueError(f"{which} program has more than {TPL_MAX_OPS} ops")
                ops[n].kind = OP_LIT
                ops[n].start = lit_size[0]
                ops[n].length = len(piece)
                n += 1
            literals.append(piece)
            lit_size[0] += len(piece)
            last_lit = True
        elif isinstance(item, int) and not isinstance(item, bool) and OP_LIT < item < N_SLOTS:
            if n == TPL_MAX_OPS:
                raise ValueError(f"{which} program has more than {TPL_MAX_OPS} ops")
            ops[n].kind = item
            ops[n].start = 0
            ops[n].length = 0
            n += 1
            last_lit = False
        else:
            raise TypeError(f"{which} program item {item!r} is neither a literal nor a slot")
    count[0] = n
    return 0


@cython.final
cdef class RequestTemplate:
    """One request shape, compiled: see the module docstring.

    `frame` and `payload` are sequences of literals (bytes or ASCII str) and slots (RID, TIME,
    PRICE, QTY, ID, ID2, SIG). SIG may appear in the frame only, and only with a payload and a
    signer: `signer` (an HmacSha256: lowercase hex) or `sign` (a Python callable, payload
    str -> signature str; for keys the C signer does not do). `ids` gives each id slot
    (ID, ID2) as (name for errors, allowed characters, max length). `capacity` bounds each
    buffer (default: the worst case, so only an explicit smaller one can be exceeded).

    Not thread-safe: one fill at a time (asyncio's single thread); the result is a copy.
    """

    def __cinit__(self, frame, payload=None, *, Grid price_grid=None, Grid qty_grid=None,
                  ids=(), HmacSha256 signer=None, sign=None, capacity=None):
        cdef list literals = []
        cdef Py_ssize_t lit_size = 0
        cdef Py_ssize_t worst = 0
        cdef Py_ssize_t worst_payload = 0
        cdef int i
        cdef int k
        self._buf = NULL
        self._pbuf = NULL
        _compile(frame, literals, self._frame, &self._n_frame, &lit_size, "frame")
        _compile(() if payload is None else payload, literals, self._payload,
                 &self._n_payload, &lit_size, "payload")
        self._blob = b"".join(literals)
        self._lit = PyBytes_AS_STRING(self._blob)
        self._uses = 0
        for i in range(self._n_frame):
            self._uses |= 1u << self._frame[i].kind
        for i in range(self._n_payload):
            if self._payload[i].kind == SLOT_SIG:
                raise ValueError("the payload cannot hold its own signature")
            self._uses |= 1u << self._payload[i].kind
        if self._uses & (1u << SLOT_SIG):
            if payload is None:
                raise ValueError("a SIG slot needs a payload program to sign")
            if signer is None and sign is None:
                raise ValueError("a SIG slot needs a signer or a sign callable")
        elif payload is not None:
            raise ValueError("a payload program without a SIG slot in the frame")
        if sign is not None and not callable(sign):
            raise TypeError("sign must be callable")
        if self._uses & (1u << SLOT_PRICE) and price_grid is None:
            raise ValueError("a PRICE slot needs price_grid")
        if self._uses & (1u << SLOT_QTY) and qty_grid is None:
            raise ValueError("a QTY slot needs qty_grid")
        self._price = price_grid
        self._qty = qty_grid
        self._signer = signer
        self._sign = None if signer is not None else sign
        ids = tuple(ids)
        if len(ids) > 2:
            raise ValueError("at most two id slots (ID, ID2)")
        names = []
        memset(self._id_ok, 0, sizeof(self._id_ok))
        for k in range(2):
            self._id_max[k] = 0
            if k >= len(ids):
                names.append(None)
                if self._uses & (1u << (SLOT_ID + k)):
                    raise ValueError(f"{SLOT_NAMES[SLOT_ID + k]} slot without its rule in ids")
                continue
            name, alphabet, max_len = ids[k]
            chars = alphabet.encode("ascii") if isinstance(alphabet, str) else bytes(alphabet)
            if not 0 < max_len <= TPL_SCRATCH:
                raise ValueError(f"{name}: max length {max_len} outside 1..{TPL_SCRATCH}")
            for c in chars:
                if c < 0x20 or c >= 0x7f or c in b'"\\':
                    raise ValueError(f"{name}: {chr(c)!r} would need escaping")
                self._id_ok[k][c] = 1
            self._id_max[k] = max_len
            names.append(str(name))
        self._id_names = tuple(names)
        # worst case: every literal (of both programs: an upper bound) and every slot at its
        # widest
        worst = lit_size + self._widest(self._frame, self._n_frame)
        worst_payload = lit_size + self._widest(self._payload, self._n_payload)
        self._max_size = max(worst, worst_payload)
        if capacity is None:
            self._cap = self._max_size
        elif isinstance(capacity, bool) or not isinstance(capacity, int) or capacity <= 0:
            raise ValueError(f"capacity must be a positive int, got {capacity!r}")
        else:
            self._cap = capacity
        self._buf = <char*>PyMem_Malloc(self._cap)
        self._pbuf = <char*>PyMem_Malloc(self._cap) if self._n_payload else NULL
        if self._buf == NULL or (self._n_payload and self._pbuf == NULL):
            raise MemoryError()
        for i in range(N_SLOTS):
            self._ptr[i] = self._scratch[i]
            self._len[i] = 0

    def __dealloc__(self):
        PyMem_Free(self._buf)
        PyMem_Free(self._pbuf)

    @property
    def capacity(self):
        """Bytes of each buffer."""
        return self._cap

    @property
    def max_size(self):
        """The longest frame or payload any values can give."""
        return self._max_size

    @property
    def signed(self):
        return self._n_payload > 0

    cdef Py_ssize_t _widest(self, const TplOp* ops, int n) except -1:
        cdef Py_ssize_t width = 0
        cdef int i
        cdef int kind
        for i in range(n):
            kind = ops[i].kind
            if kind == SLOT_RID or kind == SLOT_TIME:
                width += TPL_NUM_MAX
            elif kind == SLOT_PRICE:
                width += TPL_NUM_MAX + 1 + self._price.decimals
            elif kind == SLOT_QTY:
                width += TPL_NUM_MAX + 1 + self._qty.decimals
            elif kind == SLOT_ID or kind == SLOT_ID2:
                width += self._id_max[kind - SLOT_ID]
            elif kind == SLOT_SIG:
                width += TPL_SIG_HEX if self._signer is not None else TPL_SIG_MAX
        return width

    cdef Py_ssize_t _run(self, const TplOp* ops, int n, char* out) noexcept nogil:
        """Write the program into `out`; its length, or -1 past the capacity."""
        cdef Py_ssize_t pos = 0
        cdef Py_ssize_t length
        cdef const char* src
        cdef int i
        for i in range(n):
            if ops[i].kind == OP_LIT:
                src = self._lit + ops[i].start
                length = ops[i].length
            else:
                src = self._ptr[ops[i].kind]
                length = self._len[ops[i].kind]
            if length > self._cap - pos:
                return -1
            memcpy(out + pos, src, <size_t>length)
            pos += length
        return pos

    cdef int _number(self, int slot, object arg, bint zero_ok) except -1:
        cdef int64_t value = _as_int64(arg, slot)
        if value < 0 or (value == 0 and not zero_ok):
            raise TemplateError(
                f"{SLOT_NAMES[slot]} must be {'>= 0' if zero_ok else 'positive'}, got {value}"
            )
        self._len[slot] = _digits(<uint64_t>value, self._scratch[slot])
        return 0

    cdef int _grid_value(self, int slot, Grid grid, object arg) except -1:
        cdef Py_ssize_t n
        cdef int64_t units = _as_int64(arg, slot)
        if units <= 0:
            raise TemplateError(f"{SLOT_NAMES[slot]} must be positive, got {units}")
        n = grid.format(units, self._scratch[slot], TPL_SCRATCH)
        if n < 0:
            if n == ERR_OVERFLOW:
                raise TemplateError(
                    f"{SLOT_NAMES[slot]} {units} overflows int64 on its grid (step {grid.step})"
                )
            raise TemplateError(f"{SLOT_NAMES[slot]} {units} does not fit its slot")
        self._len[slot] = n
        return 0

    cdef int _id(self, int k, int slot, object value) except -1:
        cdef Py_ssize_t n
        cdef const char* p
        cdef Py_ssize_t i
        if not isinstance(value, str):
            raise TemplateError(f"{self._id_names[k]} must be a str, got {value!r}")
        n = PyUnicode_GET_LENGTH(value)
        if n == 0 or n > self._id_max[k]:
            raise TemplateError(
                f"{self._id_names[k]} {value!r} must be 1-{self._id_max[k]} characters"
            )
        if not PyUnicode_IS_ASCII(value):
            return self._bad_id(k, value)
        p = <const char*>PyUnicode_DATA(value)
        for i in range(n):
            if not self._id_ok[k][<uint8_t>p[i]]:
                return self._bad_id(k, value)
        self._ptr[slot] = p
        self._len[slot] = n
        return 0

    cdef int _bad_id(self, int k, str value) except -1:
        bad = next(c for c in value if ord(c) > 127 or not self._id_ok[k][ord(c)])
        raise TemplateError(
            f"{self._id_names[k]} {value!r}: {bad!r} is outside the venue's alphabet"
        )

    cdef int _sign_payload(self, Py_ssize_t n) except -1:
        cdef Py_ssize_t m = 0
        cdef const char* p
        cdef Py_ssize_t i
        if self._signer is not None:
            self._signer.mac_hex(self._pbuf, n, self._scratch[SLOT_SIG])
            self._ptr[SLOT_SIG] = self._scratch[SLOT_SIG]
            self._len[SLOT_SIG] = TPL_SIG_HEX
            return 0
        signature = self._sign(self._pbuf[:n].decode("ascii"))
        if not isinstance(signature, str):
            raise TemplateError(f"the signer returned {type(signature).__name__}, not str")
        p = PyUnicode_AsUTF8AndSize(signature, &m)
        if m == 0 or m > TPL_SIG_MAX:
            raise TemplateError(f"a signature of {m} characters does not fit its slot")
        for i in range(m):
            if not _SIG_OK[<uint8_t>p[i]]:
                raise TemplateError("the signature is neither hex nor base64")
        self._sig_text = signature  # kept alive until the frame is written
        self._ptr[SLOT_SIG] = p
        self._len[SLOT_SIG] = m
        return 0

    def fill(self, rid, time, price, qty, id1, id2):
        """The request's bytes. Slots the template does not use ignore their argument (pass
        0 or ""); the used ones are checked: TemplateError for a value the venue would not
        take, TypeError for a number that is not an int, OverflowError past int64."""
        cdef unsigned int uses = self._uses
        cdef Py_ssize_t n
        if uses & (1u << SLOT_RID):
            self._number(SLOT_RID, rid, True)
        if uses & (1u << SLOT_TIME):
            self._number(SLOT_TIME, time, False)
        if uses & (1u << SLOT_PRICE):
            self._grid_value(SLOT_PRICE, self._price, price)
        if uses & (1u << SLOT_QTY):
            self._grid_value(SLOT_QTY, self._qty, qty)
        if uses & (1u << SLOT_ID):
            self._id(0, SLOT_ID, id1)
        if uses & (1u << SLOT_ID2):
            self._id(1, SLOT_ID2, id2)
        if self._n_payload:
            n = self._run(self._payload, self._n_payload, self._pbuf)
            if n < 0:
                raise TemplateError(
                    f"the signed payload needs more than the buffer's {self._cap} bytes"
                )
            self._sign_payload(n)
        n = self._run(self._frame, self._n_frame, self._buf)
        self._sig_text = None
        if n < 0:
            raise TemplateError(f"the request needs more than the buffer's {self._cap} bytes")
        return PyBytes_FromStringAndSize(self._buf, n)

    def payload(self, rid, time, price, qty, id1, id2):
        """The signed payload text of these values (what `fill` signs), for tests and logs of
        signature refusals; b"" when nothing is signed."""
        cdef Py_ssize_t n
        if not self._n_payload:
            return b""
        self.fill(rid, time, price, qty, id1, id2)
        n = self._run(self._payload, self._n_payload, self._pbuf)
        return PyBytes_FromStringAndSize(self._pbuf, n)
