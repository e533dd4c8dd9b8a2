"""The market maker's parameters: `[strategy.parameters]` read, checked and turned into the
quoting core's grid units per instrument (docs/STRATEGY.md lists them).

Quantities are base-asset decimals (quoted strings in TOML, exact), spreads and skews are in
ticks of the instrument, times in seconds. A bad value raises ValueError naming the
parameter, at load and on reload alike, and the running values stay.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from engine._core import quoting
from engine._core.quoting import Quoter
from engine.model.instrument import Instrument

REFERENCES = {"mid": quoting.REF_MID, "micro": quoting.REF_MICRO, "last": quoting.REF_LAST}
MODELS = {
    "spread": quoting.MODEL_SPREAD,
    "avellaneda_stoikov": quoting.MODEL_AS,
    "glft": quoting.MODEL_GLFT,
}
SIZE_MODES = {"geometric": quoting.SIZE_GEOMETRIC, "linear": quoting.SIZE_LINEAR}
NS = 1_000_000_000
MAX_SECONDS = 1e9  # ~31 years: any time parameter in nanoseconds stays far inside int64
SECONDS = ("sigma_half_life_s", "horizon_s", "max_order_age_s", "fill_cooldown_s",
           "requote_interval_s", "stale_book_s")  # fmt: skip
# the quoting core's parameter -> ours, to name ours when the core refuses a value
_OURS = {
    "levels": "levels", "level_spacing_ticks": "level_spacing_ticks", "qty_lots": "order_size",
    "size_factor": "size_factor", "min_half_spread": "min_half_spread_ticks",
    "base_half_spread": "base_half_spread_ticks", "vol_mult": "vol_mult",
    "half_life_ns": "sigma_half_life_s", "max_position_lots": "max_position",
    "target_lots": "target_position", "skew_ticks": "skew_ticks", "size_shrink": "size_shrink",
    "gamma": "gamma", "kappa": "kappa", "arrival": "arrival", "horizon_s": "horizon_s",
    "refresh_ticks": "refresh_ticks", "max_age_ns": "max_order_age_s",
    "size_tol_bps": "size_tolerance_bps",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class MarketMakingParams:
    order_size: Decimal | None = None  # base quantity of level 0; None: the venue's minimum
    max_position: Decimal | None = None  # base; None: 10 x order_size
    target_position: Decimal = Decimal(0)
    levels: int = 1
    level_spacing_ticks: int = 1
    size_mode: str = "geometric"
    size_factor: float = 1.0
    reference: str = "mid"  # mid | micro | last | "<venue>:<symbol>" (another venue's mid)
    model: str = "spread"  # spread | avellaneda_stoikov | glft
    min_half_spread_ticks: float = 1.0
    base_half_spread_ticks: float = 1.0
    vol_mult: float = 0.0
    sigma_half_life_s: float = 10.0
    skew_ticks: float = 0.0
    size_shrink: float = 1.0
    gamma: float = 0.1
    kappa: float = 1.0
    arrival: float = 1.0
    horizon_s: float = 1.0
    refresh_ticks: int = 0
    max_order_age_s: float = 0.0  # 0: no age limit
    size_tolerance_bps: int = 0
    fill_cooldown_s: float = 0.0
    requote_interval_s: float = 0.2  # an instrument's orders move at most this often
    stale_book_s: float = 5.0  # quotes pulled when the book has not moved for this long
    post_only: bool = True

    @classmethod
    def parse(cls, given: Mapping[str, Any]) -> MarketMakingParams:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ValueError(
                f"strategy.parameters: unknown parameter(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})"
            )
        values: dict[str, Any] = {}
        for name, value in given.items():
            values[name] = _convert(name, value, cls.__dataclass_fields__[name].type)
        params = cls(**values)
        params._check()
        return params

    def _check(self) -> None:
        def bad(name: str, rule: str) -> ValueError:
            return ValueError(f"strategy.parameters.{name} {rule}, got {getattr(self, name)!r}")

        if self.reference not in REFERENCES and ":" not in self.reference:
            raise bad("reference", "must be mid, micro, last or '<venue>:<symbol>'")
        if self.model not in MODELS:
            raise bad("model", f"must be one of {', '.join(MODELS)}")
        if self.size_mode not in SIZE_MODES:
            raise bad("size_mode", f"must be one of {', '.join(SIZE_MODES)}")
        for name in ("order_size", "max_position"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise bad(name, "must be > 0")
        if not 1 <= self.levels <= quoting.MAX_LEVELS:
            raise bad("levels", f"must be in 1..{quoting.MAX_LEVELS}")
        for name in ("level_spacing_ticks",):
            if getattr(self, name) < 1:
                raise bad(name, "must be >= 1")
        for name in ("refresh_ticks", "size_tolerance_bps"):
            if getattr(self, name) < 0:
                raise bad(name, "must be >= 0")
        for name in ("min_half_spread_ticks", "gamma", "kappa", "arrival", "horizon_s",
                     "sigma_half_life_s", "stale_book_s"):  # fmt: skip
            if not getattr(self, name) > 0:
                raise bad(name, "must be > 0")
        for name in ("base_half_spread_ticks", "vol_mult", "skew_ticks", "size_factor",
                     "max_order_age_s", "fill_cooldown_s", "requote_interval_s"):  # fmt: skip
            if not getattr(self, name) >= 0:
                raise bad(name, "must be >= 0")
        if not 0 <= self.size_shrink <= 1:
            raise bad("size_shrink", "must be in 0..1")
        # the quoting core's bounds (every price, size and spread within 2**52), and times
        # that stay int64 nanoseconds: refused here by name, not later by the core
        for name in ("level_spacing_ticks", "refresh_ticks", "size_tolerance_bps",
                     "min_half_spread_ticks", "base_half_spread_ticks", "vol_mult",
                     "skew_ticks", "size_factor", "gamma", "kappa", "arrival",
                     "horizon_s"):  # fmt: skip
            if getattr(self, name) > quoting.MAX:
                raise bad(name, f"must be <= {quoting.MAX}")
        for name in SECONDS:
            if getattr(self, name) > MAX_SECONDS:
                raise bad(name, f"must be <= {MAX_SECONDS:.0e} (seconds)")

    @property
    def external(self) -> str | None:
        """The instrument id of the cross-venue reference, or None."""
        return self.reference if ":" in self.reference else None

    def quoter_params(self, instrument: Instrument) -> dict[str, Any]:
        """The quoting core's parameters for `instrument` (its grid units)."""
        where = instrument.instrument_id
        min_lots = max(instrument.min_qty_lots, 1)
        qty_lots = min_lots if self.order_size is None else _lots(instrument, self.order_size)
        if qty_lots < min_lots:
            raise ValueError(
                f"strategy.parameters.order_size {self.order_size} is under {where}'s minimum "
                f"quantity {instrument.min_qty}"
            )
        if qty_lots > quoting.MAX:
            raise ValueError(
                f"strategy.parameters.order_size {self.order_size} is past {quoting.MAX} lots "
                f"of {where}"
            )
        max_lots = (
            10 * qty_lots if self.max_position is None else _lots(instrument, self.max_position)
        )
        if max_lots < qty_lots:
            raise ValueError(f"strategy.parameters.max_position must be >= order_size on {where}")
        if max_lots > quoting.MAX:
            raise ValueError(
                f"strategy.parameters.max_position {self.max_position} is past {quoting.MAX} "
                f"lots of {where}"
            )
        target = _lots(instrument, self.target_position)
        if abs(target) > max_lots:
            raise ValueError(
                f"strategy.parameters.target_position {self.target_position} is past "
                f"max_position on {where}"
            )
        return {
            "ref": quoting.REF_EXTERNAL if self.external else REFERENCES[self.reference],
            "model": MODELS[self.model],
            "size_mode": SIZE_MODES[self.size_mode],
            "levels": self.levels,
            "level_spacing_ticks": self.level_spacing_ticks,
            "qty_lots": qty_lots,
            "size_factor": self.size_factor,
            "min_half_spread": self.min_half_spread_ticks,
            "base_half_spread": self.base_half_spread_ticks,
            "vol_mult": self.vol_mult,
            "half_life_ns": max(int(self.sigma_half_life_s * NS), 1),
            "max_position_lots": max_lots,
            "target_lots": target,
            "skew_ticks": self.skew_ticks,
            "size_shrink": self.size_shrink,
            "gamma": self.gamma,
            "kappa": self.kappa,
            "arrival": self.arrival,
            "horizon_s": self.horizon_s,
            "min_qty_lots": min_lots,
            "min_notional_units": instrument.min_notional_units,
            "refresh_ticks": self.refresh_ticks,
            "max_age_ns": int(self.max_order_age_s * NS),
            "size_tol_bps": self.size_tolerance_bps,
        }

    def quoter(self, instrument: Instrument) -> Quoter:
        """The quoting core for `instrument`; ValueError naming our parameter if the core
        refuses a value (its own bounds: sizes per level, model constants)."""
        params = self.quoter_params(instrument)
        try:
            return Quoter(**params)
        except (ValueError, TypeError) as exc:
            text = str(exc)
            first = text.split(" ", 1)[0].rstrip(",")
            name = "size_factor" if "size factor" in text else _OURS.get(first, "")
            raise ValueError(
                f"strategy.parameters.{name or '(quoting)'}: {text} (on {instrument.instrument_id})"
            ) from None


def _lots(instrument: Instrument, quantity: Decimal) -> int:
    """A base quantity in lots, rounded down to the lot (never more than asked)."""
    return int(quantity / instrument.lot_size)


def _convert(name: str, value: Any, kind: Any) -> Any:
    text = str(kind)
    where = f"strategy.parameters.{name}"
    if "Decimal" in text:
        if value is None and "None" in text:
            return None
        if isinstance(value, (bool, float)):
            raise ValueError(f"{where} must be a quoted decimal string (exact), got {value!r}")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{where} must be a decimal, got {value!r}") from None
        if not number.is_finite():
            raise ValueError(f"{where} must be finite, got {value!r}")
        return number
    if text == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, got {value!r}")
        return value
    if text == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where} must be an integer, got {value!r}")
        return value
    if text == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where} must be a number, got {value!r}")
        if not math.isfinite(float(value)):
            raise ValueError(f"{where} must be finite, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string, got {value!r}")
    return value
