"""Pure-Python reference of engine/_core/frame_handler.pyx: route, decode, sequence rule,
apply, stamp, on_book, over BookRef and the depth_ref decoders.

Written differently on purpose (byte-string prefix tests, a recursive JSON walk checked by
orjson, a dict of keys, Decimal formatting and zlib for the checksum) so that the
differential tests compare two implementations of one contract:

- `on_frame(frame, recv_ns)` counts the frame, routes it (the venue's route function, then
  the table of the streams' keys); a frame that is not a depth push of a known stream is
  OTHER with `last_index` -1. Otherwise the stream's decoder decodes it: a negative status
  sends the stream back to WAITING and is returned as is; a decoded frame goes through the
  venue's rule (below), whose status is returned. SKIPPED counts in `skipped`; `last_status`
  is the returned status.
- "fail X" everywhere means: the stream is WAITING (straddle False) and X is returned; the
  book keeps whatever the failing step left in it (a crossed update stays applied).
- A frame that changes the book stamps it (event time in ms * 1e6, receive time), counts in
  the stream's `applied` and (on_frame only, not replay) calls
  on_book(instrument_id, book, exchange_ts_ns): OK, or CALLBACK_ERROR when it raised (the
  exception, whatever its class, waits in take_error()).
- Binance: WAITING -> BUFFER; u <= last -> SKIPPED; U > last + 1 -> fail ERR_GAP; apply,
  crossed -> fail ERR_CROSSED; last = u.
- OKX: a snapshot loads the book (crossed -> fail), checks the checksum (-> fail
  ERR_CHECKSUM), goes live at seqId (straddle False) and is SNAPSHOT (no on_book). An update
  while WAITING is SKIPPED; prevSeqId != last -> fail ERR_GAP; levels apply (crossed ->
  fail); the checksum is checked (-> fail); last = seqId; an update with no levels is a
  heartbeat (SKIPPED).
  A checksum of 0 (not sent) or verify_checksum False is never compared.
- Gate: a `full` push loads the book (crossed -> fail), goes live at u (straddle False), is
  SNAPSHOT. While WAITING obu increments are SKIPPED, order_book_update pushes BUFFER.
  Live: u < last + 1 -> SKIPPED; U must equal last + 1 (U <= last + 1 while `straddle`),
  else fail ERR_GAP; apply (crossed -> fail); last = u; straddle False.
- `replay(index, frame, recv_ns)`: decode and rule for that stream, without on_book, without
  counting the frame or touching last_index/last_status/skipped. `publish(index)`: on_book
  with the book's exchange_ts_ns, OK or CALLBACK_ERROR.

Known corners where the two may differ: the depth_ref decoders accept a few frames the
scanner refuses (see depth_ref's docstring), and for a malformed frame the scanner reports
the first fault in document order where orjson here says ERR_JSON for the whole frame (both
negative). Ids are exact Python ints here: a last id of INT64_MAX compares without wrapping
(Gate's last + 1). An event time outside 0..MAX_EVENT_TIME_MS (no int64 value in ns, past the
year 2262) fails the frame with ERR_TIME on both sides.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Protocol, Self

import orjson

from engine.data import depth_ref
from engine.data.book_ref import ASK, BID, CROSSED, BookRef
from engine.data.depth_ref import DepthResult, GridLike

OK = 0
SKIPPED = 1
BUFFER = 2
SNAPSHOT = 3
OTHER = 4
CALLBACK_ERROR = 5
ERR_GAP = -80
ERR_CROSSED = -81
ERR_CHECKSUM = -82
ERR_TIME = -83
MAX_EVENT_TIME_MS = (2**63 - 1) // 1_000_000  # the last ms whose ns fit int64 (year 2262)

WAITING = 0
LIVE = 1

# what a route function says about a frame (depth_decode's ROUTE_*)
ROUTE_NONE = 0
ROUTE_DEPTH = 1
ROUTE_OTHER = 2

NS_PER_MS = 1_000_000
CHECKSUM_DEPTH = 25
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

Frame = bytes | bytearray | memoryview
OnBookRef = Callable[[str, BookRef, int], object]


class InstrumentLike(Protocol):
    @property
    def instrument_id(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def price_grid(self) -> GridLike: ...
    @property
    def qty_grid(self) -> GridLike: ...


class HasLevels(Protocol):
    def levels(self, side: int, n: int | None = None) -> list[tuple[int, int]]: ...


def exchange_ns(event_time_ms: int) -> int:
    """event_time_ms in ns (frames with a time outside 0..MAX_EVENT_TIME_MS never get here)."""
    return event_time_ms * NS_PER_MS


def _int64(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise OverflowError(f"{what} {value} does not fit int64")
    return value


# --- OKX checksum ----------------------------------------------------------------------------


def okx_number(text: str) -> str:
    """A decimal as OKX prints it: no trailing zeros, no trailing point ("65000", "0.5")."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def crc32_signed(data: bytes) -> int:
    """zlib's CRC32 (IEEE) as the signed int32 OKX sends."""
    crc = zlib.crc32(data)
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def _printed(units: int, grid: GridLike) -> str:
    return okx_number(format(Decimal(units * grid.step_mantissa).scaleb(-grid.exp), "f"))


def okx_checksum_ref(
    book: HasLevels, price_grid: GridLike, qty_grid: GridLike, depth: int = CHECKSUM_DEPTH
) -> int:
    """OKX's legacy checksum of the top `depth` levels: CRC32 of
    `bid1_px:bid1_sz:ask1_px:ask1_sz:bid2_px:...` (a side that runs out adds nothing more),
    numbers as OKX prints them, as a signed int32."""
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    bids = book.levels(BID, depth)
    asks = book.levels(ASK, depth)
    parts: list[str] = []
    for i in range(max(len(bids), len(asks))):
        for rows in (bids, asks):
            if i < len(rows):
                price, size = rows[i]
                parts.append(_printed(price, price_grid))
                parts.append(_printed(size, qty_grid))
    return crc32_signed(":".join(parts).encode())


# --- routing ---------------------------------------------------------------------------------

_BN_PREFIX = b'{"stream":"'
_OKX_PREFIX = b'{"arg":{"channel":"'
_OKX_MIDDLE = b'","instId":"'
_GATE_DEPTH = (b"spot.order_book_update", b"spot.obu")


def _plain_quote(frame: bytes, start: int) -> int:
    """Index of the first '"' from start, or -1 (also when a backslash comes before it)."""
    end = frame.find(b'"', start)
    if end < 0 or b"\\" in frame[start:end]:
        return -1
    return end


def binance_route(frame: bytes) -> tuple[int, bytes]:
    """(ROUTE_*, stream name) of a combined-stream push `{"stream":"<name>",...`."""
    start = len(_BN_PREFIX)
    if not frame.startswith(_BN_PREFIX):
        return ROUTE_NONE, b""
    end = _plain_quote(frame, start)
    if end < 0:
        return ROUTE_NONE, b""
    name = frame[start:end]
    return (ROUTE_DEPTH if b"@depth" in name else ROUTE_OTHER), name


def okx_route(frame: bytes) -> tuple[int, bytes]:
    """(ROUTE_DEPTH, prefix through the instId's closing quote) of `{"arg":{"channel":"<c>",
    "instId":"<i>"...`, whatever the channel; ROUTE_NONE for any other start."""
    if not frame.startswith(_OKX_PREFIX):
        return ROUTE_NONE, b""
    end = _plain_quote(frame, len(_OKX_PREFIX))
    if end < 0 or not frame.startswith(_OKX_MIDDLE, end):
        return ROUTE_NONE, b""
    end = _plain_quote(frame, end + len(_OKX_MIDDLE))
    if end < 0:
        return ROUTE_NONE, b""
    return ROUTE_DEPTH, frame[: end + 1]


class _Bad(Exception):
    """Internal: the walk met something that is not JSON (or not the expected shape)."""


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NUMBER = re.compile(rb"-?(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?")
_LITERALS = (b"true", b"false", b"null")
_WHITESPACE = b" \t\r\n"
MAX_NESTING = 64  # containers a skipped value may open inside each other
MAX_MAGNITUDE = 300  # a skipped number of 1e300 or more is refused (orjson's inf, with margin)


class _Walk:
    """Reads one frame from the front only as far as asked; every value it walks past is
    validated (strings by orjson, numbers by the JSON grammar and magnitude, nesting)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.i = 0

    def peek(self) -> int:
        data = self.data
        while self.i < len(data) and data[self.i] in _WHITESPACE:
            self.i += 1
        return data[self.i] if self.i < len(data) else -1

    def string(self) -> bytes:
        """The raw content of the string here (escapes as written)."""
        if self.peek() != 0x22:
            raise _Bad
        m = _STRING.match(self.data, self.i)
        if m is None:
            raise _Bad
        try:
            orjson.loads(m.group())
        except orjson.JSONDecodeError:
            raise _Bad from None
        self.i = m.end()
        return m.group()[1:-1]

    def key(self) -> bytes:
        name = self.string()
        if self.peek() != 0x3A:  # ':'
            raise _Bad
        self.i += 1
        return name

    def more(self, close: int) -> bool:
        """After a member or element: ',' (True) or the container's `close` (False)."""
        b = self.peek()
        if b == 0x2C:
            self.i += 1
            return True
        if b == close:
            self.i += 1
            return False
        raise _Bad

    def number(self) -> None:
        m = _NUMBER.match(self.data, self.i)
        if m is None:
            raise _Bad
        whole, fraction, exponent = m.group(1), m.group(2) or b"", m.group(3) or b"0"
        if whole != b"0":
            leading: int | None = len(whole)  # position of the first significant digit
        else:
            first = next((k for k, d in enumerate(fraction) if d != 0x30), None)
            leading = None if first is None else -first
        if leading is not None and leading + int(exponent) > MAX_MAGNITUDE:
            raise _Bad
        self.i = m.end()

    def value(self, depth: int = 0) -> None:
        b = self.peek()
        if b in (0x7B, 0x5B):  # '{' '['
            close = b + 2
            self.i += 1
            if self.peek() == close:
                self.i += 1
                return
            if depth >= MAX_NESTING:
                raise _Bad
            while True:
                if b == 0x7B:
                    self.key()
                self.value(depth + 1)
                if not self.more(close):
                    return
        elif b == 0x22:
            self.string()
        elif b == 0x2D or 0x30 <= b <= 0x39:
            self.number()
        else:
            for literal in _LITERALS:
                if self.data.startswith(literal, self.i):
                    self.i += len(literal)
                    return
            raise _Bad

    def open_object(self) -> bool:
        """'{' here; True when the object is empty (its '}' consumed too)."""
        if self.peek() != 0x7B:
            raise _Bad
        self.i += 1
        if self.peek() == 0x7D:
            self.i += 1
            return True
        return False

    def result_symbol(self) -> bytes:
        """The raw string value of "s" in the object here (members before it walked)."""
        if self.open_object():
            raise _Bad
        while True:
            if self.key() == b"s":
                return self.string()
            self.value()
            if not self.more(0x7D):
                raise _Bad


def gate_route(frame: bytes) -> tuple[int, bytes]:
    """(ROUTE_*, result.s) of a Gate push, reading members in order only until both the
    channel and the symbol are known: a depth channel with a string result.s is
    ROUTE_DEPTH, another channel string ROUTE_OTHER (as soon as it is read), anything else
    (not an object, bad JSON on the way, no channel, a result without a string "s")
    ROUTE_NONE."""
    walk = _Walk(frame)
    symbol: bytes | None = None
    depth_channel = False
    try:
        if walk.open_object():
            return ROUTE_NONE, b""
        while True:
            key = walk.key()
            if key == b"channel":
                if walk.string() not in _GATE_DEPTH:
                    return ROUTE_OTHER, b""
                depth_channel = True
                if symbol is not None:
                    return ROUTE_DEPTH, symbol
            elif key == b"result" and walk.peek() == 0x7B:
                symbol = walk.result_symbol()
                if depth_channel:
                    return ROUTE_DEPTH, symbol
                while walk.more(0x7D):  # the rest of result: the channel comes later
                    walk.key()
                    walk.value()
            else:
                walk.value()
            if not walk.more(0x7D):
                return ROUTE_NONE, b""
    except _Bad:
        return ROUTE_NONE, b""


# --- decoders --------------------------------------------------------------------------------


class DecoderRef:
    """A depth_ref decode function bound to grids and a capacity. Like a DepthDecoder it
    keeps the last frame's levels (`entries`, what BookRef.apply reads) and header, all
    empty/zero after an error, and counts `decoded` / `errors`."""

    def __init__(self, price_grid: GridLike, qty_grid: GridLike, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.price_grid = price_grid
        self.qty_grid = qty_grid
        self.capacity = capacity
        self.result = DepthResult(depth_ref.OK)
        self.decoded = 0
        self.errors = 0
        self.last_status = depth_ref.OK

    @classmethod
    def from_instrument(cls, instrument: InstrumentLike, capacity: int) -> Self:
        return cls(instrument.price_grid, instrument.qty_grid, capacity)

    def _keep(self, result: DepthResult) -> int:
        self.result = result
        self.last_status = result.status
        if result.ok:
            self.decoded += 1
        else:
            self.errors += 1
        return result.status

    def decode(self, frame: Frame) -> int:
        raise NotImplementedError

    def entries(self, side: int) -> list[tuple[int, int]]:
        return list(self.result.bids if side == BID else self.result.asks)

    @property
    def bid_count(self) -> int:
        return len(self.result.bids)

    @property
    def ask_count(self) -> int:
        return len(self.result.asks)

    def _field(self, name: str) -> int:
        value = self.result.header.get(name, 0)
        if isinstance(value, str):
            raise TypeError(f"header field {name} is not a number")
        return int(value)

    @property
    def snapshot(self) -> bool:
        return bool(self._field("snapshot"))

    @property
    def first_update_id(self) -> int:
        return self._field("first_update_id")

    @property
    def last_update_id(self) -> int:
        return self._field("last_update_id")

    @property
    def event_time_ms(self) -> int:
        return self._field("event_time_ms")


class BinanceDecoderRef(DecoderRef):
    def decode(self, frame: Frame) -> int:
        args = (self.price_grid, self.qty_grid, self.capacity)
        return self._keep(depth_ref.decode_binance(bytes(frame), *args))

    def decode_snapshot(self, frame: Frame) -> int:
        args = (self.price_grid, self.qty_grid, self.capacity)
        return self._keep(depth_ref.decode_binance_snapshot(bytes(frame), *args))


class OkxDecoderRef(DecoderRef):
    def decode(self, frame: Frame) -> int:
        args = (self.price_grid, self.qty_grid, self.capacity)
        return self._keep(depth_ref.decode_okx(bytes(frame), *args))

    @property
    def action(self) -> int:
        return self._field("action")

    @property
    def seq_id(self) -> int:
        return self._field("seq_id")

    @property
    def prev_seq_id(self) -> int:
        return self._field("prev_seq_id")

    @property
    def checksum(self) -> int:
        return self._field("checksum")


class GateDecoderRef(DecoderRef):
    def decode(self, frame: Frame) -> int:
        args = (self.price_grid, self.qty_grid, self.capacity)
        return self._keep(depth_ref.decode_gate(bytes(frame), *args))

    def decode_snapshot(self, frame: Frame) -> int:
        args = (self.price_grid, self.qty_grid, self.capacity)
        return self._keep(depth_ref.decode_gate_snapshot(bytes(frame), *args))

    @property
    def channel(self) -> int:
        return self._field("channel")

    @property
    def full(self) -> bool:
        return bool(self._field("full"))


# --- streams and handlers --------------------------------------------------------------------


class BookStreamRef:
    """The book of one symbol on a connection, its decoder and its sync state (a new stream
    is WAITING with last_id 0)."""

    def __init__(
        self, instrument: InstrumentLike, decoder: DecoderRef, book: BookRef, key: bytes
    ) -> None:
        if not isinstance(key, bytes):
            raise TypeError(f"key must be bytes, got {type(key).__name__}")
        if not key:
            raise ValueError("a stream's routing key cannot be empty")
        self.instrument_id = instrument.instrument_id
        self.symbol = instrument.symbol
        self.price_grid = instrument.price_grid
        self.qty_grid = instrument.qty_grid
        self.decoder = decoder
        self.book = book
        self.key = key
        self.state = WAITING
        self.last_id = 0
        self.straddle = False
        self.applied = 0

    @property
    def live(self) -> bool:
        return self.state == LIVE

    def begin_sync(self) -> None:
        self.state = WAITING
        self.straddle = False

    def load_snapshot(self) -> int:
        """The decoder's last levels replace the book (state unchanged): OK or CROSSED."""
        return self.book.load_snapshot(self.decoder)

    def go_live(self, last_id: int, straddle: bool = False) -> None:
        self.state = LIVE
        self.last_id = _int64(last_id, "last_id")
        self.straddle = bool(straddle)


class FramesRef:
    """The depth frames of one connection (see the module docstring); subclassed per venue."""

    def __init__(self, streams: Sequence[BookStreamRef], on_book: OnBookRef | None = None) -> None:
        if type(self) is FramesRef:
            raise TypeError("FramesRef is abstract: use a venue's handler")
        self._streams = list(streams)
        self._index: dict[bytes, int] = {}
        for i, s in enumerate(self._streams):
            if not isinstance(s, BookStreamRef):
                raise TypeError(f"streams[{i}] is {type(s).__name__}, not a BookStreamRef")
            if s.key in self._index:
                raise ValueError(f"two streams share the routing key {s.key!r}")
            self._index[s.key] = i
        self.on_book = on_book
        self.last_index = -1
        self.last_status = OK
        self.frames = 0
        self.skipped = 0
        self._error: BaseException | None = None

    # the venue's parts
    def _route(self, frame: bytes) -> tuple[int, bytes]:
        raise NotImplementedError

    def _rule(self, s: BookStreamRef, recv_ns: int, publish: bool) -> int:
        raise NotImplementedError

    # shared steps
    def _fail(self, s: BookStreamRef, status: int) -> int:
        s.begin_sync()
        return status

    def _call(self, s: BookStreamRef, exchange_ns: int) -> int:
        if self.on_book is None:
            return OK
        try:
            self.on_book(s.instrument_id, s.book, exchange_ns)
        except BaseException as exc:  # whatever it raised waits for the caller: none vanishes
            self._error = exc
            return CALLBACK_ERROR
        return OK

    def _applied(self, s: BookStreamRef, exchange_ns: int, recv_ns: int, publish: bool) -> int:
        s.book.stamp(exchange_ns, recv_ns)
        s.applied += 1
        return self._call(s, exchange_ns) if publish else OK

    def _run(self, s: BookStreamRef, frame: bytes, recv_ns: int, publish: bool) -> int:
        status = s.decoder.decode(frame)
        if status < 0:
            return self._fail(s, status)
        if not 0 <= s.decoder.event_time_ms <= MAX_EVENT_TIME_MS:
            return self._fail(s, ERR_TIME)  # no int64 value in ns: malformed
        return self._rule(s, recv_ns, publish)

    # public API
    @property
    def streams(self) -> list[BookStreamRef]:
        return list(self._streams)

    def __len__(self) -> int:
        return len(self._streams)

    def stream(self, index: int) -> BookStreamRef:
        if not 0 <= index < len(self._streams):
            raise IndexError(f"stream index {index} outside 0..{len(self._streams) - 1}")
        return self._streams[index]

    def index_of(self, key: bytes) -> int:
        return self._index.get(key, -1)

    def on_frame(self, frame: Frame, recv_ns: int) -> int:
        recv_ns = _int64(recv_ns, "recv_ns")
        data = bytes(frame)
        self.frames += 1
        route, key = self._route(data)
        index = self._index.get(key, -1) if route == ROUTE_DEPTH else -1
        self.last_index = index
        if index < 0:
            self.last_status = OTHER
            return OTHER
        status = self._run(self._streams[index], data, recv_ns, True)
        if status == SKIPPED:
            self.skipped += 1
        self.last_status = status
        return status

    def replay(self, index: int, frame: Frame, recv_ns: int) -> int:
        s = self.stream(index)
        return self._run(s, bytes(frame), _int64(recv_ns, "recv_ns"), False)

    def publish(self, index: int) -> int:
        s = self.stream(index)
        return self._call(s, s.book.exchange_ts_ns)

    def take_error(self) -> BaseException | None:
        error, self._error = self._error, None
        return error


class BinanceFramesRef(FramesRef):
    """Binance combined streams; a stream's key is its depth stream name."""

    def _route(self, frame: bytes) -> tuple[int, bytes]:
        return binance_route(frame)

    def _rule(self, s: BookStreamRef, recv_ns: int, publish: bool) -> int:
        d = s.decoder
        if s.state != LIVE:
            return BUFFER
        if d.last_update_id <= s.last_id:
            return SKIPPED
        if d.first_update_id > s.last_id + 1:
            return self._fail(s, ERR_GAP)
        if s.book.apply(d) == CROSSED:
            return self._fail(s, ERR_CROSSED)
        s.last_id = d.last_update_id
        return self._applied(s, exchange_ns(d.event_time_ms), recv_ns, publish)


class OkxFramesRef(FramesRef):
    """OKX books channels; a stream's key is the frame prefix through its instId."""

    def __init__(
        self,
        streams: Sequence[BookStreamRef],
        on_book: OnBookRef | None = None,
        *,
        verify_checksum: bool = True,
    ) -> None:
        super().__init__(streams, on_book)
        for s in self._streams:
            if not isinstance(s.decoder, OkxDecoderRef):
                raise TypeError(f"{s.instrument_id}: an OKX stream needs an OkxDecoderRef")
        self.verify_checksum = bool(verify_checksum)
        self.checksums_checked = 0
        self.last_checksum_ours = 0

    def _route(self, frame: bytes) -> tuple[int, bytes]:
        return okx_route(frame)

    def _checksum_ok(self, s: BookStreamRef, expected: int) -> bool:
        if expected == 0 or not self.verify_checksum:
            return True
        self.checksums_checked += 1
        ours = okx_checksum_ref(s.book, s.price_grid, s.qty_grid)
        if ours == expected:
            return True
        self.last_checksum_ours = ours
        return False

    def _rule(self, s: BookStreamRef, recv_ns: int, publish: bool) -> int:
        d = s.decoder
        assert isinstance(d, OkxDecoderRef)
        if d.action == depth_ref.OKX_SNAPSHOT:
            if s.book.load_snapshot(d) == CROSSED:
                return self._fail(s, ERR_CROSSED)
            if not self._checksum_ok(s, d.checksum):
                return self._fail(s, ERR_CHECKSUM)
            s.go_live(d.seq_id)
            s.applied += 1
            s.book.stamp(exchange_ns(d.event_time_ms), recv_ns)
            return SNAPSHOT
        if s.state != LIVE:
            return SKIPPED
        if d.prev_seq_id != s.last_id:
            return self._fail(s, ERR_GAP)
        changed = d.bid_count + d.ask_count > 0
        if changed and s.book.apply(d) == CROSSED:
            return self._fail(s, ERR_CROSSED)
        if not self._checksum_ok(s, d.checksum):
            return self._fail(s, ERR_CHECKSUM)
        s.last_id = d.seq_id
        if not changed:
            return SKIPPED
        return self._applied(s, exchange_ns(d.event_time_ms), recv_ns, publish)


class GateFramesRef(FramesRef):
    """Gate spot.order_book_update / spot.obu; a stream's key is the pushes' result.s."""

    def __init__(self, streams: Sequence[BookStreamRef], on_book: OnBookRef | None = None) -> None:
        super().__init__(streams, on_book)
        for s in self._streams:
            if not isinstance(s.decoder, GateDecoderRef):
                raise TypeError(f"{s.instrument_id}: a Gate stream needs a GateDecoderRef")

    def _route(self, frame: bytes) -> tuple[int, bytes]:
        return gate_route(frame)

    def _rule(self, s: BookStreamRef, recv_ns: int, publish: bool) -> int:
        d = s.decoder
        assert isinstance(d, GateDecoderRef)
        if d.full:
            if s.book.load_snapshot(d) == CROSSED:
                return self._fail(s, ERR_CROSSED)
            s.go_live(d.last_update_id)
            s.applied += 1
            s.book.stamp(exchange_ns(d.event_time_ms), recv_ns)
            return SNAPSHOT
        if s.state != LIVE:
            return SKIPPED if d.channel == depth_ref.GATE_OBU else BUFFER
        expected = s.last_id + 1
        if d.last_update_id < expected:
            return SKIPPED
        first = d.first_update_id
        in_sequence = first <= expected if s.straddle else first == expected
        if not in_sequence:
            return self._fail(s, ERR_GAP)
        if s.book.apply(d) == CROSSED:
            return self._fail(s, ERR_CROSSED)
        s.last_id = d.last_update_id
        s.straddle = False
        return self._applied(s, exchange_ns(d.event_time_ms), recv_ns, publish)


__all__ = [
    "BUFFER",
    "CALLBACK_ERROR",
    "ERR_CHECKSUM",
    "ERR_CROSSED",
    "ERR_GAP",
    "LIVE",
    "OK",
    "OTHER",
    "SKIPPED",
    "SNAPSHOT",
    "WAITING",
    "BinanceDecoderRef",
    "BinanceFramesRef",
    "BookStreamRef",
    "DecoderRef",
    "FramesRef",
    "GateDecoderRef",
    "GateFramesRef",
    "OkxDecoderRef",
    "OkxFramesRef",
    "binance_route",
    "crc32_signed",
    "gate_route",
    "okx_checksum_ref",
    "okx_number",
    "okx_route",
]
