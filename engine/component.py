"""One lifecycle for every long-lived component.

`start()` and `stop()` are idempotent; a component that failed to start is stopped again by
its owner. `app.py` starts components in a list and stops them in reverse order, so a
component may rely on everything started before it still running while it stops.
"""

from __future__ import annotations

import enum
import logging


class ComponentState(enum.Enum):
    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class Component:
    """Base for engine components: subclasses implement `_on_start` and `_on_stop`."""

    name: str = "component"

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self.state = ComponentState.CREATED
        self.log = logging.getLogger(f"engine.{self.name}")

    @property
    def running(self) -> bool:
        return self.state is ComponentState.RUNNING

    async def start(self) -> None:
        if self.state in (ComponentState.RUNNING, ComponentState.STARTING):
            return
        self.state = ComponentState.STARTING
        try:
            await self._on_start()
        except BaseException:
            self.state = ComponentState.FAILED
            raise
        self.state = ComponentState.RUNNING

    async def stop(self) -> None:
        if self.state in (ComponentState.CREATED, ComponentState.STOPPED, ComponentState.STOPPING):
            self.state = (
                ComponentState.STOPPED if self.state is ComponentState.CREATED else self.state
            )
            return
        self.state = ComponentState.STOPPING
        try:
            await self._on_stop()
        finally:
            self.state = ComponentState.STOPPED

    async def _on_start(self) -> None:
        """Acquire resources; raise to refuse starting."""

    async def _on_stop(self) -> None:
        """Release resources; must tolerate a partial start."""
