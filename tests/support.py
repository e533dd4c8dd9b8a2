"""Helpers shared by the tests (imported as `support`: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait for a condition on a real socket; never a fixed sleep, so load only slows it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
