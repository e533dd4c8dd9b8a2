"""The instruments of each venue as last loaded from the venue, kept on disk.

A venue that cannot be reached when the engine starts must not stop the others: with the
metadata of its last successful load (tick, lot, minimums rarely change) its books and
orders can be set up at once, and its feed connects when the venue is back. A cache that is
missing, unreadable or lacks a symbol is no cache: the caller then leaves the venue out.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from engine.model.instrument import Instrument

log = logging.getLogger("engine.instrument_cache")

_FIELDS = ("symbol", "venue", "base", "quote", "price_decimals", "qty_decimals")
_DECIMALS = ("tick_size", "lot_size", "min_qty", "min_notional")
VERSION = 1


class InstrumentCache:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, venue: str) -> Path:
        return self.directory / f"{venue}.json"

    def save(self, venue: str, instruments: Sequence[Instrument]) -> None:
        """Write atomically (temp file + rename): a crash leaves the old file or the new."""
        rows = [
            {
                **{name: getattr(inst, name) for name in _FIELDS},
                **{name: str(getattr(inst, name)) for name in _DECIMALS},
            }
            for inst in instruments
        ]
        self.directory.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"version": VERSION, "instruments": rows}, indent=1)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{venue}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path(venue))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, venue: str, symbols: Sequence[str]) -> list[Instrument] | None:
        """The cached instruments of `symbols`, in that order; None unless all are there."""
        path = self.path(venue)
        try:
            doc = json.loads(path.read_text())
            if doc.get("version") != VERSION:
                return None
            known: dict[str, Instrument] = {}
            for row in doc["instruments"]:
                values = {name: row[name] for name in _FIELDS}
                values.update({name: Decimal(row[name]) for name in _DECIMALS})
                inst = Instrument(**values)
                known[inst.symbol] = inst
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, InvalidOperation) as exc:
            log.warning("instrument cache %s unusable: %s", path, exc)
            return None
        if any(symbol not in known or known[symbol].venue != venue for symbol in symbols):
            return None
        return [known[symbol] for symbol in symbols]
