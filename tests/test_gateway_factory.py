"""create_adapter builds each venue's adapter from its [venues.<name>] table."""

from __future__ import annotations

import dataclasses

import pytest

from engine import gateway
from engine.clock import LiveClock
from engine.config.schema import default_venues
from engine.gateway import BinanceAdapter, GateAdapter, OkxAdapter, create_adapter
from engine.gateway.factory import endpoints_of
from engine.wire.credentials import Credentials


@pytest.mark.parametrize(
    ("venue", "cls"), [("binance", BinanceAdapter), ("okx", OkxAdapter), ("gate", GateAdapter)]
)
def test_each_venue_gets_its_adapter_on_the_configured_endpoints(venue: str, cls: type) -> None:
    settings = dataclasses.replace(default_venues()[venue], ca_file="/etc/ca.pem", demo=True)
    assert endpoints_of(settings).ca_file == "/etc/ca.pem"
    endpoints = endpoints_of(settings, ca_file="")  # a simulator's CA would go here
    assert (endpoints.rest_url, endpoints.ca_file, endpoints.demo) == (settings.rest_url, "", True)
    creds = Credentials("key-123456789", "secret-123456789", "pass" if venue == "okx" else None)
    adapter = create_adapter(venue, endpoints, creds, LiveClock(), instruments=[])
    assert type(adapter) is cls and adapter.venue == venue and adapter.endpoints is endpoints


def test_unknown_venue_and_attribute() -> None:
    creds = Credentials("key-123456789", "secret-123456789")
    endpoints = endpoints_of(default_venues()["binance"])
    with pytest.raises(ValueError, match="no adapter for venue 'kraken'"):
        create_adapter("kraken", endpoints, creds, LiveClock(), instruments=[])
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = gateway.Nope  # type: ignore[attr-defined]
