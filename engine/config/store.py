"""The live config: one current value, runtime updates of hot keys, reload from file, and
change notification.

Runtime updates are the top layer and persist: a reload re-reads file and environment, then
re-applies them, so an operator's change (say the kill switch) is not undone by SIGHUP.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from engine.config.convert import Origin, convert
from engine.config.errors import ConfigError, Invalid
from engine.config.loader import RUNTIME, Assignment, PathLike, build, validate
from engine.config.schema import EngineConfig
from engine.config.tree import assign, leaves, resolve

log = logging.getLogger("engine.config")

Subscriber = Callable[[EngineConfig, EngineConfig], None]


class ConfigStore:
    """Holds the current EngineConfig; thread-safe; subscribers get (old, new) on change."""

    def __init__(self, config: EngineConfig, *, environ: Mapping[str, str] | None = None) -> None:
        self._current = config
        self._environ = environ  # None: os.environ as it is at reload time
        self._overrides: dict[str, Assignment] = {}
        self._subscribers: list[Subscriber] = []
        self._checks: list[Callable[[EngineConfig], None]] = []
        # re-entrant: a subscriber may read `current` or even update another key
        self._lock = threading.RLock()

    @property
    def current(self) -> EngineConfig:
        return self._current

    @property
    def overrides(self) -> dict[str, Any]:
        """Runtime updates in force, dotted key -> value (they survive reloads)."""
        with self._lock:
            return {key: item.value for key, item in self._overrides.items()}

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call `fn(old, new)` after every change; returns the function that unsubscribes."""
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe

    def add_check(self, fn: Callable[[EngineConfig], None]) -> Callable[[], None]:
        """Run `fn(new)` before every change: its ValueError refuses the change (a component
        that knows more than the schema, e.g. the strategy of its parameters); returns the
        function that removes it."""
        with self._lock:
            self._checks.append(fn)

        def remove() -> None:
            with self._lock:
                if fn in self._checks:
                    self._checks.remove(fn)

        return remove

    def update(self, key: str, value: Any) -> EngineConfig:
        """Set one hot key (`"risk.max_position"`); strings are parsed by the key's type.

        Raises ConfigError, changing nothing, for an unknown or cold key or a bad value.
        """
        try:
            leaf = resolve(key.strip().lower().split("."))
        except Invalid as exc:
            raise ConfigError(exc.problem, source=RUNTIME, key=exc.key) from None
        if not leaf.node.spec.hot:
            raise ConfigError(
                "is not hot-reloadable; restart to change it", source=RUNTIME, key=leaf.dotted
            )
        try:
            checked = convert(value, leaf.node, Origin.RUNTIME)
        except Invalid as exc:
            raise ConfigError(exc.problem, source=RUNTIME, key=leaf.dotted) from None
        item = Assignment(leaf, checked, RUNTIME)
        with self._lock:
            new = assign(self._current, leaf.attrs, checked)
            validate(new, [item], default_source=RUNTIME)
            swapped = self._swap(new)  # a check that refuses it raises here: no override
            self._overrides[leaf.dotted] = item
            return swapped

    def reload(self, path: PathLike, *, environ: Mapping[str, str] | None = None) -> EngineConfig:
        """Re-read `path` and the environment; apply only if every changed key is hot.

        Raises ConfigError, changing nothing, when the file is invalid or a cold key changed.
        """
        env = environ if environ is not None else self._environ
        with self._lock:
            runtime = list(self._overrides.values())
            new = build(path, os.environ if env is None else env, runtime)
            old_values = {leaf.dotted: value for leaf, value in leaves(self._current)}
            changed = [leaf for leaf, value in leaves(new) if old_values.get(leaf.dotted) != value]
            cold = [leaf.dotted for leaf in changed if not leaf.node.spec.hot]
            if cold:
                raise ConfigError(
                    f"not reloaded: {', '.join(cold)} changed but cannot change at run time "
                    "(not hot-reloadable); restart to change them; nothing was applied",
                    source=os.fspath(path),
                )
            return self._swap(new) if changed else self._current

    def _swap(self, new: EngineConfig) -> EngineConfig:
        for check in list(self._checks):
            try:
                check(new)
            except ValueError as exc:
                raise ConfigError(f"refused, nothing was applied: {exc}") from None
        old, self._current = self._current, new
        if old != new:
            for fn in list(self._subscribers):
                try:
                    fn(old, new)
                except Exception:  # one broken listener must not keep the change from the rest
                    log.exception("config subscriber %r failed", fn)
        return new
