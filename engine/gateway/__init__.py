"""Venue gateways: request signing, transports and the Binance/OKX/Gate adapters.

`engine.gateway` may import `engine.model` and `engine._core`, never anything above them.
The adapters are imported on first use (`from engine.gateway import BinanceAdapter`), so a
module that needs only the transport does not load every venue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.gateway.binance.trading import BinanceAdapter
    from engine.gateway.factory import create_adapter
    from engine.gateway.gate.trading import GateAdapter
    from engine.gateway.okx.trading import OkxAdapter

__all__ = ["BinanceAdapter", "GateAdapter", "OkxAdapter", "create_adapter"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from engine.gateway import factory  # noqa: PLC0415 - see the module docstring

        return factory.create_adapter if name == "create_adapter" else getattr(factory, name)
    raise AttributeError(f"module 'engine.gateway' has no attribute {name!r}")
