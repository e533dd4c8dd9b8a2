"""Layered engine configuration: defaults < TOML file < HFT__ environment < runtime updates.

The schema (`schema.py`) is the single source of truth; everything else is driven by it.
"""

from engine.config.errors import ConfigError
from engine.config.loader import load_config
from engine.config.render import masked_dict, render_toml
from engine.config.schema import (
    CacheConfig,
    DatabaseConfig,
    EngineConfig,
    MonitorConfig,
    RiskConfig,
    StrategyConfig,
    SystemConfig,
    VenueConfig,
)
from engine.config.store import ConfigStore, Subscriber

__all__ = [
    "CacheConfig",
    "ConfigError",
    "ConfigStore",
    "DatabaseConfig",
    "EngineConfig",
    "MonitorConfig",
    "RiskConfig",
    "StrategyConfig",
    "Subscriber",
    "SystemConfig",
    "VenueConfig",
    "load_config",
    "masked_dict",
    "render_toml",
]
