"""Monitoring: the engine's metrics, status and health over HTTP (read-only).

This room reads what the engine hands it through `Sources` and callables; it imports only
engine._core, engine.model, engine.config, engine.events, engine.clock and engine.component.
"""

from engine.monitor.metrics import EngineMetrics, InstrumentMetrics, Sources
from engine.monitor.server import MonitorBindError, MonitorServer

__all__ = ["EngineMetrics", "InstrumentMetrics", "MonitorBindError", "MonitorServer", "Sources"]
