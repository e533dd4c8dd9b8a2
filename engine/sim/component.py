"""The simulator as an engine component: `venues.<name>.simulated = true` starts a local
simulated venue when the engine starts, and its URLs replace the configured ones."""

from __future__ import annotations

from engine.component import Component
from engine.sim.exchange import SimUrls
from engine.sim.server import RunningSim, SimOptions, launch


class SimulatorComponent(Component):
    """Runs one simulated venue on loopback for the engine's lifetime."""

    def __init__(self, venue: str, options: SimOptions | None = None) -> None:
        super().__init__(name=f"sim.{venue}")
        self.venue = venue
        self.options = options or SimOptions()
        self.sim: RunningSim | None = None

    @property
    def urls(self) -> SimUrls:
        if self.sim is None:
            raise RuntimeError(f"simulated {self.venue} is not running")
        return self.sim.urls

    async def _on_start(self) -> None:
        self.sim = await launch(self.venue, self.options)
        self.log.info(
            "simulated venue started",
            extra={
                "venue": self.venue,
                "rest": self.sim.urls.rest,
                "ws_public": self.sim.urls.ws_public,
                "ws_private": self.sim.urls.ws_private,
            },
        )

    async def _on_stop(self) -> None:
        if self.sim is not None:
            await self.sim.stop()
            self.sim = None
