# The OMS's fill ledger contract: per-instrument trade-id de-duplication (numeric ids in a C
# open-addressing hash set, others in a Python set, one FIFO over both) and the one call that
# books a fill: de-duplication -> position -> order table. Reference: engine/oms/fills_ref.py.
cimport cython
from libc.stdint cimport int64_t

from engine._core.orders cimport OrderTable

# Codes. orders owns -96..-101, reports -160..-165; fills owns -176..-191.
cdef enum:
    FILL_DUPLICATE = -176  # the trade id was booked already: nothing changed
    FILL_NOT_LIVE = -177  # booked into the position; the order is not live (late, foreign)
    FILL_NO_REPORT = -178  # booked; the status only says "received": the table not consulted
    FILL_ERR_ARG = -179  # no such instrument: nothing changed
    FILL_PYTHON = -180  # book(): a field the C does not convert; nothing changed

    FILL_EMPTY = -1  # a free hash slot (numeric ids are >= 0)
    FILL_TEXT = -2  # a FIFO entry standing for the oldest non-numeric id
    FILL_MAX_DIGITS = 18  # a numeric id has 1..18 digits, no leading zero: always an int64


cdef struct SeenIds:
    int64_t* keys  # open addressing, linear probing; FILL_EMPTY = free; NULL until first use
    int64_t* ring  # FIFO of the ids held, oldest at head (FILL_TEXT for a non-numeric id)
    int64_t mask
    int64_t head
    int64_t count


@cython.final
cdef class FillLedger:
    cdef SeenIds* seen
    cdef readonly Py_ssize_t instruments
    cdef readonly int64_t capacity  # ids remembered per instrument
    cdef list positions  # PositionCore per instrument
    cdef OrderTable table
    cdef list text_seen  # set[str] per instrument
    cdef list text_order  # deque[str] per instrument, same order as their FILL_TEXT entries
    cdef readonly int position_status  # of the last apply_fill's position fill (0 = booked)
    cdef readonly bint terminal  # the last apply_fill left its order terminal
    # book(): per instrument the quote asset, the notional unit (mantissa, exp) and the last
    # quote fee converted with its units; the OrderStatus -> table code map
    cdef list quotes
    cdef list mantissas
    cdef list exps
    cdef list last_fees
    cdef list last_units
    cdef dict status_codes

    cdef int _allocate(self, SeenIds* s) except -1
    cdef int c_add(self, Py_ssize_t index, str trade_id) except -1
    cdef int c_apply_fill(self, Py_ssize_t index, int64_t order_id, int status_code,
                          int64_t cum_lots, int64_t last_lots, long side, int64_t price_ticks,
                          int64_t fee_units, str trade_id, int64_t now_ns) except? -1000
