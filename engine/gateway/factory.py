"""`create_adapter`: the one place that maps a venue name to its adapter class."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from engine.clock import Clock
from engine.gateway.adapter import ExchangeAdapter, ReportSink, VenueEndpoints
from engine.gateway.binance.trading import BinanceAdapter
from engine.gateway.gate.trading import GateAdapter
from engine.gateway.okx.trading import OkxAdapter
from engine.model.instrument import Instrument
from engine.wire.credentials import Credentials

ADAPTERS: dict[str, type[ExchangeAdapter]] = {
    "binance": BinanceAdapter,
    "okx": OkxAdapter,
    "gate": GateAdapter,
}


class VenueSettings(Protocol):
    """What `create_adapter` reads of a `[venues.<name>]` table (engine.config VenueConfig)."""

    @property
    def rest_url(self) -> str: ...
    @property
    def ws_public_url(self) -> str: ...
    @property
    def ws_private_url(self) -> str: ...
    @property
    def ca_file(self) -> str: ...
    @property
    def demo(self) -> bool: ...
    @property
    def recv_window_ms(self) -> int: ...


def endpoints_of(settings: VenueSettings, *, ca_file: str | None = None) -> VenueEndpoints:
    """The endpoints of a venue table; `ca_file` overrides the table's (a simulator's CA)."""
    return VenueEndpoints(
        rest_url=settings.rest_url,
        ws_public_url=settings.ws_public_url,
        ws_private_url=settings.ws_private_url,
        ca_file=settings.ca_file if ca_file is None else ca_file,
        demo=settings.demo,
        recv_window_ms=settings.recv_window_ms,
    )


def create_adapter(
    venue: str,
    endpoints: VenueEndpoints,
    credentials: Credentials,
    clock: Clock,
    *,
    instruments: Sequence[Instrument],
    on_report: ReportSink | None = None,
    **options: Any,
) -> ExchangeAdapter:
    """The adapter of `venue` (`options`: the adapter class's own keywords, e.g. rest_only)."""
    try:
        cls = ADAPTERS[venue]
    except KeyError:
        raise ValueError(f"no adapter for venue {venue!r}; known: {sorted(ADAPTERS)}") from None
    return cls(endpoints, credentials, clock, instruments, on_report, **options)
