"""Balances of the simulator's accounts: free and locked integers per asset, plus fees.

Units. Every balance is an int count of its asset's unit. By default the unit is fixed by the
first symbol that uses the asset: a base asset counts that symbol's lots and a quote asset
counts its notional units (tick x lot). A second symbol sharing an asset must have lots or
notional units that are whole multiples of that unit (the matching engine checks this and
keeps the integer multipliers); `Ledger.define_asset` sets a finer unit up front when needed.

Fees are charged in the quote asset, for both sides of a trade: the buyer pays notional + fee,
the seller receives notional - fee. Binance's default (fee in the asset received) would make
a fee on a few lots round to whole lots; the quote asset has units fine enough to be exact.
Rates are integer parts per million; a negative maker rate is a rebate. A fee is truncated
toward zero, so the sum of the fees of several partial fills never exceeds the fee of the
whole, which is what lets an order lock its worst-case fee once at acceptance.

Conservation: for every asset, sum over accounts of (free + locked) + fees collected changes
only through `deposit`. The background account is `exempt`: no balance check applies to it,
its balances may go negative, but every trade it makes is still booked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

PPM = 1_000_000


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Maker and taker fee rates in parts per million (1000 = 0.1 %)."""

    maker_ppm: int = 0
    taker_ppm: int = 0

    def __post_init__(self) -> None:
        for name in ("maker_ppm", "taker_ppm"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {value!r}")
            if not -PPM < value < PPM:
                raise ValueError(f"{name} must lie strictly between -{PPM} and {PPM}")
        # a taker rebate would let a quote-budget market order afford unbounded lots
        if self.taker_ppm < 0:
            raise ValueError("taker_ppm must be >= 0")

    @classmethod
    def from_rates(cls, maker: Decimal, taker: Decimal) -> FeeSchedule:
        """From decimal rates (Decimal("0.001") = 0.1 %); they must be whole ppm."""
        return cls(_to_ppm("maker", maker), _to_ppm("taker", taker))

    @property
    def max_ppm(self) -> int:
        """The rate an order locks for: the worst it can be charged, never below zero."""
        return max(self.maker_ppm, self.taker_ppm, 0)


def _to_ppm(name: str, rate: Decimal) -> int:
    scaled = rate * PPM
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise ValueError(f"{name} rate {rate} is not a whole number of ppm")
    return int(scaled)


def fee_units(amount: int, rate_ppm: int) -> int:
    """The fee on `amount` quote units at `rate_ppm`, truncated toward zero."""
    if rate_ppm >= 0:
        return amount * rate_ppm // PPM
    return -(amount * -rate_ppm // PPM)


class Account:
    """One account's balances. Read through the methods; the Ledger does all the writing."""

    __slots__ = ("_free", "_locked", "account_id", "exempt", "fees")

    def __init__(self, account_id: str, fees: FeeSchedule, exempt: bool) -> None:
        self.account_id = account_id
        self.fees = fees
        self.exempt = exempt
        self._free: dict[str, int] = {}
        self._locked: dict[str, int] = {}

    def free(self, asset: str) -> int:
        return self._free.get(asset, 0)

    def locked(self, asset: str) -> int:
        return self._locked.get(asset, 0)

    def total(self, asset: str) -> int:
        return self._free.get(asset, 0) + self._locked.get(asset, 0)

    def assets(self) -> list[str]:
        """Every asset this account has ever held, sorted (a stable order for reports)."""
        return sorted(self._free.keys() | self._locked.keys())

    def __repr__(self) -> str:
        held = {a: (self.free(a), self.locked(a)) for a in self.assets()}
        return f"Account({self.account_id!r}, exempt={self.exempt}, {held})"


class Ledger:
    """All accounts of one simulated venue and the fees it collected."""

    def __init__(self) -> None:
        self._accounts: dict[str, Account] = {}
        self._fees: dict[str, int] = {}
        self._units: dict[str, Decimal] = {}

    # -- accounts -------------------------------------------------------------------------

    def open_account(
        self, account_id: str, *, fees: FeeSchedule | None = None, exempt: bool = False
    ) -> Account:
        if account_id in self._accounts:
            raise ValueError(f"account {account_id!r} already exists")
        account = Account(account_id, fees or FeeSchedule(), exempt)
        self._accounts[account_id] = account
        return account

    def get(self, account_id: str) -> Account | None:
        return self._accounts.get(account_id)

    def account(self, account_id: str) -> Account:
        return self._accounts[account_id]

    def __iter__(self) -> Iterator[Account]:
        return iter(self._accounts.values())

    def deposit(self, account_id: str, asset: str, amount: int) -> None:
        """Credit (or with a negative amount, debit) free funds from outside the venue."""
        account = self._accounts[account_id]
        new = account.free(asset) + amount
        if new < 0 and not account.exempt:
            raise ValueError(f"{account_id}: {asset} free balance would go negative")
        account._free[asset] = new

    # -- units and totals -----------------------------------------------------------------

    def define_asset(self, asset: str, unit: Decimal) -> None:
        """Fix the size of one unit of `asset`; only before anything has used the asset."""
        if asset in self._units and self._units[asset] != unit:
            raise ValueError(f"asset {asset} already has unit {self._units[asset]}")
        if not unit.is_finite() or unit <= 0:
            raise ValueError(f"asset {asset}: unit must be positive, got {unit}")
        self._units[asset] = unit

    def asset_unit(self, asset: str) -> Decimal | None:
        return self._units.get(asset)

    def fees_collected(self, asset: str) -> int:
        return self._fees.get(asset, 0)

    def total(self, asset: str) -> int:
        """The conserved quantity: all accounts' free + locked, plus fees collected."""
        held = sum(a.total(asset) for a in self._accounts.values())
        return held + self._fees.get(asset, 0)

    # -- moves used by the matching engine ------------------------------------------------

    def lock(self, account: Account, asset: str, amount: int) -> bool:
        """Move `amount` from free to locked if it is all there; False moves nothing."""
        free = account._free.get(asset, 0)
        if amount > free:
            return False
        account._free[asset] = free - amount
        account._locked[asset] = account._locked.get(asset, 0) + amount
        return True

    def unlock(self, account: Account, asset: str, amount: int) -> None:
        if amount:
            account._locked[asset] = account._locked.get(asset, 0) - amount
            account._free[asset] = account._free.get(asset, 0) + amount

    def settle(
        self,
        buyer: Account,
        seller: Account,
        *,
        base: str,
        quote: str,
        base_amount: int,
        quote_amount: int,
        buyer_fee: int,
        seller_fee: int,
        buyer_locked: bool,
        seller_locked: bool,
    ) -> None:
        """Book one trade. The buyer pays quote + fee, from locked funds if its order locked
        them; the seller delivers base the same way and receives quote - fee."""
        paid = quote_amount + buyer_fee
        if buyer_locked:
            buyer._locked[quote] = buyer._locked.get(quote, 0) - paid
        else:
            buyer._free[quote] = buyer._free.get(quote, 0) - paid
        buyer._free[base] = buyer._free.get(base, 0) + base_amount
        if seller_locked:
            seller._locked[base] = seller._locked.get(base, 0) - base_amount
        else:
            seller._free[base] = seller._free.get(base, 0) - base_amount
        seller._free[quote] = seller._free.get(quote, 0) + quote_amount - seller_fee
        self._fees[quote] = self._fees.get(quote, 0) + buyer_fee + seller_fee
