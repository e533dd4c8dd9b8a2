"""The event loop: uvloop where it exists (Linux, macOS), the standard loop otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_factory: Callable[[], asyncio.AbstractEventLoop]
try:
    import uvloop

    _factory = uvloop.new_event_loop
except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
    _factory = asyncio.new_event_loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    return f"{type(loop).__module__}.{type(loop).__qualname__}"


def new_event_loop() -> asyncio.AbstractEventLoop:
    return _factory()


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to completion on a fresh uvloop loop."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
