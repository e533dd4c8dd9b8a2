"""Layered loading: built-in defaults < TOML file < HFT__ environment variables < runtime.

Every layer becomes a list of assignments (a leaf, a checked value, its source); they are
applied in order onto the defaults, then the rules spanning several keys are checked and
blamed on whichever source set the involved keys last.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.config.convert import Origin, convert
from engine.config.credentials import is_secret_name
from engine.config.errors import ConfigError, Invalid
from engine.config.schema import VENUE_NAMES, EngineConfig, cross_checks, default_venues
from engine.config.tree import Kind, Leaf, assign, lookup, nodes, resolve, table_entry

ENV_PREFIX = "HFT__"
RUNTIME = "runtime update"

PathLike = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class Assignment:
    leaf: Leaf
    value: Any
    source: str


def load_config(
    path: PathLike | None = None, environ: Mapping[str, str] | None = None
) -> EngineConfig:
    """The validated config: defaults, then `path` (None = none), then `environ`'s HFT__
    variables (None = os.environ). Raises ConfigError, one line naming source and key."""
    return build(path, os.environ if environ is None else environ)


def build(
    path: PathLike | None, environ: Mapping[str, str], runtime: Iterable[Assignment] = ()
) -> EngineConfig:
    layers = [*(file_layer(path) if path is not None else []), *env_layer(environ), *runtime]
    return validate(apply(EngineConfig(), layers), layers)


def apply(base: EngineConfig, assignments: Iterable[Assignment]) -> EngineConfig:
    cfg = base
    for item in assignments:
        cfg = assign(cfg, item.leaf.attrs, item.value)
    return cfg


def validate(
    cfg: EngineConfig, layers: Sequence[Assignment], default_source: str = "defaults"
) -> EngineConfig:
    """Cross-key rules; the error names the source that set the involved keys last."""
    last_set = {item.leaf.dotted: (i, item.source) for i, item in enumerate(layers)}
    for key, problem, related in cross_checks(cfg):
        setters = [last_set[k] for k in (key, *related) if k in last_set]
        source = max(setters)[1] if setters else default_source
        raise ConfigError(problem, source=source, key=key)
    return cfg


# -- the TOML file ---------------------------------------------------------------------------


def read_toml(path: PathLike) -> dict[str, Any]:
    source = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("config file not found", source=source) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a config file", source=source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror}", source=source) from None
    except tomllib.TOMLDecodeError as exc:  # its message ends "(at line L, column C)"
        raise ConfigError(f"invalid TOML: {exc}", source=source) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", source=source) from None


def file_layer(path: PathLike) -> list[Assignment]:
    source = os.fspath(path)
    data = read_toml(path)
    # before the unknown-key check, so `api_secret = ...` gets the helpful message
    _refuse_secrets(data, (), source)
    out: list[Assignment] = []
    _walk(EngineConfig, data, at=(), attrs=(), source=source, out=out)
    return out


def _walk(
    cls: type[Any],
    table: Mapping[str, Any],
    *,
    at: tuple[str, ...],
    attrs: tuple[str, ...],
    source: str,
    out: list[Assignment],
) -> None:
    for key, raw in table.items():
        try:
            node = lookup(cls, key, at)
        except Invalid as exc:
            raise ConfigError(exc.problem, source=source, key=exc.key) from None
        here, here_attrs = (*at, node.name), (*attrs, node.attr)
        dotted = ".".join(here)
        if node.kind is Kind.LEAF:
            try:
                value = convert(raw, node, Origin.FILE)
            except Invalid as exc:
                raise ConfigError(exc.problem, source=source, key=exc.key or dotted) from None
            out.append(Assignment(Leaf(dotted, here_attrs, node), value, source))
            continue
        assert node.child is not None
        _need_table(raw, dotted, source)
        if node.kind is Kind.SECTION:
            _walk(node.child, raw, at=here, attrs=here_attrs, source=source, out=out)
            continue
        for name, entry in raw.items():
            try:
                table_entry(node, name, here)
            except Invalid as exc:
                raise ConfigError(exc.problem, source=source, key=exc.key) from None
            _need_table(entry, f"{dotted}.{name}", source)
            _walk(
                node.child,
                entry,
                at=(*here, name),
                attrs=(*here_attrs, name),
                source=source,
                out=out,
            )


def _need_table(raw: Any, dotted: str, source: str) -> None:
    if not isinstance(raw, dict):
        raise ConfigError(f"must be a table ([{dotted}])", source=source, key=dotted)


def _refuse_secrets(value: Any, at: tuple[str, ...], source: str) -> None:
    if isinstance(value, list):
        for item in value:
            _refuse_secrets(item, at, source)
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        here = (*at, key)
        if is_secret_name(key):
            home = secret_home(here, value)
            raise ConfigError(
                f"secrets are not allowed in the config file; put the value in {home}",
                source=source,
                key=".".join(here),
            )
        _refuse_secrets(item, here, source)


def secret_home(path: Sequence[str], table: Mapping[str, Any]) -> str:
    """Where a secret found at `path` belongs instead, by the schema's own names."""
    if len(path) == 3 and path[0] == "venues" and path[1] in VENUE_NAMES:
        word = path[2].lower()
        field = (
            "api_secret_env"
            if "secret" in word
            else "passphrase_env"
            if "pass" in word
            else "api_key_env"
        )
        given = table.get(field)
        var = (
            given if isinstance(given, str) and given else getattr(default_venues()[path[1]], field)
        )
        keyfile = 'the encrypted key file (key_source = "keyfile")'
        if var:
            return (
                f"the environment variable {var} (named by venues.{path[1]}.{field}) or {keyfile}"
            )
        return f"an environment variable named by venues.{path[1]}.{field}, or {keyfile}"
    section = nodes(EngineConfig).get(path[0]) if path else None
    if section is not None and section.child is not None and section.kind is Kind.SECTION:
        for node in nodes(section.child).values():
            if node.spec.credential_hint:
                return node.spec.credential_hint
    if path and path[0] == "monitor":
        return "the environment variable named by monitor.alert_webhook_env"
    return "an environment variable or the encrypted key file"


# -- the environment -------------------------------------------------------------------------


def env_layer(environ: Mapping[str, str]) -> list[Assignment]:
    """HFT__SECTION__KEY=value (names case-insensitive), typed by the schema."""
    out: list[Assignment] = []
    set_by: dict[str, str] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        source = f"environment {name}"
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        try:
            leaf = resolve(parts)
        except Invalid as exc:
            problem = exc.problem
            if parts and is_secret_name(parts[-1]):
                # no "did you mean api_secret_env": that key takes a variable NAME, not the secret
                problem = f"secrets are not config keys; put the value in {secret_home(parts, {})}"
            raise ConfigError(problem, source=source, key=exc.key) from None
        if leaf.dotted in set_by:
            raise ConfigError(
                f"also set by {set_by[leaf.dotted]}; set it once", source=source, key=leaf.dotted
            )
        set_by[leaf.dotted] = name
        try:
            value = convert(environ[name], leaf.node, Origin.ENV)
        except Invalid as exc:
            raise ConfigError(exc.problem, source=source, key=leaf.dotted) from None
        out.append(Assignment(leaf, value, source))
    return out
