"""The one config exception, and the helpers that keep its message to a single useful line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ConfigError(ValueError):
    """A config problem: `str()` is one line, `source: dotted.key: what is wrong (allowed ...)`.

    `source` says where the value came from (a file name, `environment HFT__X__Y`, `runtime
    update`); `key` is the dotted TOML key. Both may be empty (a missing file has no key).
    """

    def __init__(self, problem: str, *, source: str = "", key: str = "") -> None:
        self.problem = problem
        self.source = source
        self.key = key
        line = ": ".join(part for part in (source, key, problem) if part)
        # operators grep logs and CLIs print exactly one line; never let a value break it
        super().__init__(line.replace("\r", "\\r").replace("\n", "\\n"))


class Invalid(Exception):
    """Internal: a value or key is wrong; the caller adds the source and turns it into a
    ConfigError. `key`, when set, is the dotted key the problem is really about."""

    def __init__(self, problem: str, key: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.key = key


def unknown(kind: str, name: str, known: Iterable[str]) -> str:
    """`unknown key 'log_levl' (did you mean 'log_level'?)`, else the list of known names."""
    candidates = sorted(known)
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if close:
        return f"unknown {kind} {name!r} (did you mean {close[0]!r}?)"
    return f"unknown {kind} {name!r} (known: {', '.join(candidates)})"
