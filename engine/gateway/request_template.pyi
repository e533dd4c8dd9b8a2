"""Typing of engine/gateway/request_template.pyx (order requests from templates)."""

from collections.abc import Callable, Iterable, Sequence
from typing import Final

from engine._core.fixedpoint import Grid

RID: Final[int]
TIME: Final[int]
PRICE: Final[int]
QTY: Final[int]
ID: Final[int]
ID2: Final[int]
SIG: Final[int]
SLOT_NAMES: Final[dict[int, str]]

class TemplateError(ValueError): ...

class HmacSha256:
    def __init__(self, key: str | bytes) -> None: ...
    def hexdigest(self, data: bytes | bytearray | memoryview) -> str: ...

class RequestTemplate:
    def __init__(
        self,
        frame: Sequence[bytes | str | int],
        payload: Sequence[bytes | str | int] | None = None,
        *,
        price_grid: Grid | None = None,
        qty_grid: Grid | None = None,
        ids: Iterable[tuple[str, str | bytes, int]] = (),
        signer: HmacSha256 | None = None,
        sign: Callable[[str], str] | None = None,
        capacity: int | None = None,
    ) -> None: ...
    @property
    def capacity(self) -> int: ...
    @property
    def max_size(self) -> int: ...
    @property
    def signed(self) -> bool: ...
    def fill(
        self, rid: int, time: int, price: int, qty: int, id1: str | None, id2: str | None
    ) -> bytes: ...
    def payload(
        self, rid: int, time: int, price: int, qty: int, id1: str | None, id2: str | None
    ) -> bytes: ...
