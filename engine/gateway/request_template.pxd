# Request templates of the order path: literal byte segments and value slots, filled into the
# template's own preallocated buffers from int64 grid values (engine/gateway/request_template.pyx).
from libc.stdint cimport int64_t, uint8_t

from engine._core.fixedpoint cimport Grid

cdef extern from *:
    """
    /* SHA256_Init/Update/Final: deprecated by OpenSSL 3 in favour of EVP, which allocates a
       context per digest; these keep a keyed HMAC state in place and copy it per request. */
    #ifndef OPENSSL_SUPPRESS_DEPRECATED
    #define OPENSSL_SUPPRESS_DEPRECATED 1
    #endif
    #include <openssl/sha.h>
    #include <openssl/crypto.h>
    """
    ctypedef struct SHA256_CTX:
        pass
    int SHA256_Init(SHA256_CTX* c) nogil
    int SHA256_Update(SHA256_CTX* c, const void* data, size_t n) nogil
    int SHA256_Final(unsigned char* md, SHA256_CTX* c) nogil
    void OPENSSL_cleanse(void* ptr, size_t n) nogil

cdef enum:
    # op kinds: a literal, or the slot whose value the filler writes there
    OP_LIT = 0
    SLOT_RID = 1  # request id, int >= 0, decimal digits
    SLOT_TIME = 2  # timestamp, int > 0, decimal digits (ms or s: the venue's unit)
    SLOT_PRICE = 3  # price ticks, int64 > 0, the price grid's exact decimal text
    SLOT_QTY = 4  # quantity lots, int64 > 0, the lot grid's exact decimal text
    SLOT_ID = 5  # first id (the client order id), checked against its alphabet
    SLOT_ID2 = 6  # second id (the order a cancelReplace cancels, a venue order ref)
    SLOT_SIG = 7  # the signature of the payload program's text (frame program only)
    N_SLOTS = 8

    TPL_MAX_OPS = 48  # ops per program (Binance cancelReplace, signed: 37)
    TPL_SCRATCH = 72  # formatted number / hex signature scratch per slot
    TPL_NUM_MAX = 19  # digits of a positive int64
    TPL_SIG_HEX = 64  # lowercase hex HMAC-SHA256
    TPL_SIG_MAX = 128  # a signature from the Python fallback (base64 Ed25519 is 88)


ctypedef struct TplOp:
    int kind
    Py_ssize_t start  # OP_LIT: offset of the literal in the template's blob
    Py_ssize_t length  # OP_LIT: its length


cdef class HmacSha256:
    cdef SHA256_CTX _inner  # state after key ^ ipad
    cdef SHA256_CTX _outer  # state after key ^ opad

    cdef void mac(self, const char* data, Py_ssize_t n, unsigned char* out) noexcept nogil
    cdef void mac_hex(self, const char* data, Py_ssize_t n, char* out) noexcept nogil


cdef class RequestTemplate:
    cdef TplOp _frame[TPL_MAX_OPS]
    cdef TplOp _payload[TPL_MAX_OPS]
    cdef int _n_frame
    cdef int _n_payload  # 0: nothing is signed
    cdef unsigned int _uses  # bit per slot kind used by either program
    cdef bytes _blob  # every literal, back to back
    cdef const char* _lit
    cdef Grid _price
    cdef Grid _qty
    cdef HmacSha256 _signer
    cdef object _sign  # the Python fallback signer: str payload -> str signature
    cdef object _sig_text  # its signature, alive while the frame is written
    cdef tuple _id_names
    cdef uint8_t _id_ok[2][256]
    cdef Py_ssize_t _id_max[2]
    cdef char* _buf  # the frame buffer, reused by every fill
    cdef char* _pbuf  # the signed payload's buffer
    cdef Py_ssize_t _cap
    cdef Py_ssize_t _max_size
    # per slot: where its value text is for this fill, and its length
    cdef const char* _ptr[N_SLOTS]
    cdef Py_ssize_t _len[N_SLOTS]
    cdef char _scratch[N_SLOTS][TPL_SCRATCH]

    cdef Py_ssize_t _widest(self, const TplOp* ops, int n) except -1
    cdef Py_ssize_t _run(self, const TplOp* ops, int n, char* out) noexcept nogil
    cdef int _number(self, int slot, object arg, bint zero_ok) except -1
    cdef int _grid_value(self, int slot, Grid grid, object arg) except -1
    cdef int _id(self, int k, int slot, object value) except -1
    cdef int _bad_id(self, int k, str value) except -1
    cdef int _sign_payload(self, Py_ssize_t n) except -1
