"""One simulated venue: the matching engine, accounts, credentials, market driver, faults and
the fan-out of its events to the protocol layer's connections.

Venue-neutral: the protocol modules in `engine.sim.venues` turn requests into calls here and
events from here into the venue's own messages. Listeners are called synchronously, inside
the call that caused the events, in the order the events happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from engine.clock import Clock, TimerHandle
from engine.model.instrument import Instrument
from engine.sim.accounts import FeeSchedule
from engine.sim.faults import FaultInjector
from engine.sim.matching import (
    CancelRejected,
    DepthUpdate,
    Event,
    Fill,
    MatchingConfig,
    MatchingEngine,
    OrderAccepted,
    OrderDone,
    OrderRejected,
    OrderRequest,
    PublicTrade,
)
from engine.wire.credentials import Credentials

log = logging.getLogger("engine.sim")

Listener = Callable[[Event], None]


@dataclass(frozen=True, slots=True)
class SimUrls:
    rest: str
    ws_public: str
    ws_private: str = ""
    ws_api: str = ""  # order entry over WebSocket, where the venue has a separate endpoint


def _account_of(event: Event) -> str | None:
    if isinstance(event, OrderAccepted | OrderDone):
        return event.order.account
    if isinstance(event, OrderRejected):
        return event.request.account
    if isinstance(event, Fill | CancelRejected):
        return event.account
    return None


class SimExchange:
    """The state of one simulated venue, shared by its REST and WebSocket endpoints."""

    def __init__(
        self,
        venue: str,
        instruments: Iterable[Instrument],
        *,
        clock: Clock,
        faults: FaultInjector | None = None,
        matching: MatchingConfig | None = None,
        fees: FeeSchedule | None = None,
    ) -> None:
        self.venue = venue
        self.clock = clock
        self.faults = faults or FaultInjector()
        self.engine = MatchingEngine(matching)
        self._fees = fees or FeeSchedule.from_rates(Decimal("0.001"), Decimal("0.001"))
        self._instruments = list(instruments)
        self._define_asset_units(self._instruments)
        for inst in self._instruments:
            self.engine.add_symbol(inst)
        self._keys: dict[str, tuple[Credentials, str]] = {}
        self._public: list[Listener] = []
        self._private: dict[str, list[Listener]] = {}
        self.events_published = 0
        self.listener_errors = 0

    def _define_asset_units(self, instruments: list[Instrument]) -> None:
        # The finest unit any symbol needs, fixed up front, so that every symbol's lots and
        # notional units are whole multiples of its assets' units whatever the listing order.
        units: dict[str, Decimal] = {}
        for inst in instruments:
            for asset, unit in ((inst.base, inst.lot_size), (inst.quote, inst.notional_unit)):
                units[asset] = min(units.get(asset, unit), unit)
        for asset, unit in units.items():
            self.engine.ledger.define_asset(asset, unit)

    # -- instruments and accounts ---------------------------------------------------------

    def instruments(self) -> list[Instrument]:
        return list(self._instruments)

    def open_account(
        self,
        account_id: str,
        balances: Mapping[str, Decimal],
        credentials: Credentials | None = None,
    ) -> None:
        """An account with starting balances; `credentials` make it reachable by API key."""
        self.engine.ledger.open_account(account_id, fees=self._fees)
        for asset, amount in balances.items():
            self.deposit(account_id, asset, amount)
        if credentials is not None:
            self._keys[credentials.api_key] = (credentials, account_id)

    def deposit(self, account_id: str, asset: str, amount: Decimal) -> None:
        unit = self.engine.ledger.asset_unit(asset)
        if unit is None:
            raise ValueError(f"{self.venue} lists no symbol with asset {asset}")
        units = amount / unit
        if units != units.to_integral_value():
            raise ValueError(f"{amount} {asset} is not a whole number of units of {unit}")
        self.engine.ledger.deposit(account_id, asset, int(units))

    def account_for_key(self, api_key: str) -> tuple[Credentials, str] | None:
        return self._keys.get(api_key)

    def balances(self, account: str) -> dict[str, tuple[Decimal, Decimal]]:
        """asset -> (free, locked) in the asset's own decimal amounts."""
        acct = self.engine.ledger.account(account)
        out = {}
        for asset in acct.assets():
            unit = self.engine.ledger.asset_unit(asset) or Decimal(1)
            out[asset] = (acct.free(asset) * unit, acct.locked(asset) * unit)
        return out

    # -- trading --------------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> list[Event]:
        return self.publish(self.engine.submit(request, self.clock.time_ns()))

    def cancel(
        self, account: str, symbol: str, *, order_id: int | None = None, client_order_id: str = ""
    ) -> list[Event]:
        events = self.engine.cancel(
            account,
            symbol,
            self.clock.time_ns(),
            order_id=order_id,
            client_order_id=client_order_id,
        )
        return self.publish(events)

    def cancel_all(self, account: str, symbol: str) -> list[Event]:
        return self.publish(self.engine.cancel_all(account, symbol, self.clock.time_ns()))

    def call_later(self, delay_ns: int, callback: Callable[[], object]) -> TimerHandle:
        return self.clock.call_later(delay_ns, callback)

    # -- event fan-out --------------------------------------------------------------------

    def on_public(self, callback: Listener) -> Callable[[], None]:
        """Every DepthUpdate and PublicTrade; returns the unsubscribe function."""
        self._public.append(callback)
        return lambda: self._public.remove(callback) if callback in self._public else None

    def on_private(self, account: str, callback: Listener) -> Callable[[], None]:
        """Order events of `account`; returns the unsubscribe function."""
        listeners = self._private.setdefault(account, [])
        listeners.append(callback)
        return lambda: listeners.remove(callback) if callback in listeners else None

    def publish(self, events: list[Event]) -> list[Event]:
        """Hand events to their listeners (used by submit/cancel and the market driver)."""
        for event in events:
            if isinstance(event, DepthUpdate | PublicTrade):
                targets = self._public
            else:
                account = _account_of(event)
                targets = self._private.get(account, []) if account is not None else []
            for listener in tuple(targets):
                try:
                    listener(event)
                except Exception:
                    # one broken connection must not stop the venue
                    self.listener_errors += 1
                    log.exception("simulator listener failed on %s", type(event).__name__)
        self.events_published += len(events)
        return events
