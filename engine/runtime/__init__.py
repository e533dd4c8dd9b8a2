"""Process runtime: event loop choice, CPU pinning and the executor for blocking work."""

from engine.runtime.affinity import available_cpus, pin_process
from engine.runtime.loop import new_event_loop, run

__all__ = ["available_cpus", "new_event_loop", "pin_process", "run"]
