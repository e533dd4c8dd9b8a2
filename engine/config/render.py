"""The config as people and logs see it: a JSON-able dict and TOML text, secrets masked."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.config.credentials import (
    MASK,
    is_secret_name,
    mask_url,
    strip_password,
    url_has_password,
)
from engine.config.schema import EngineConfig
from engine.config.toml_text import Note, Omitted, dumps
from engine.config.tree import Kind, nodes


def masked_dict(cfg: EngineConfig) -> dict[str, Any]:
    """Plain data keyed by TOML names: Decimal as str, secret-named values as `***`, URL
    passwords as `***` (`postgresql://u:***@h/db`). Safe to log or serve."""
    return _section(cfg)


def render_toml(cfg: EngineConfig) -> str:
    """The effective config as TOML that `load_config` reads back. Masked values cannot be
    read back, so a URL is written without its password (the masked form follows as a
    comment) and a secret-named key is written as a comment only."""
    header = (
        "# Effective configuration: defaults < file < environment < runtime updates.\n"
        "# Secrets are masked; they come from the environment or the encrypted key file.\n\n"
    )
    return header + dumps(_annotate(masked_dict(cfg)))


def _section(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for node in nodes(type(obj)).values():
        value = getattr(obj, node.attr)
        if node.kind is Kind.SECTION:
            out[node.name] = _section(value)
        elif node.kind is Kind.TABLE:
            out[node.name] = {name: _section(entry) for name, entry in value.items()}
        else:
            out[node.name] = MASK if is_secret_name(node.name) else _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {k: MASK if is_secret_name(k) else _plain(v) for k, v in value.items()}
    return value


def _annotate(table: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out[key] = _annotate(value)
        elif is_secret_name(key):
            out[key] = Omitted("secret, masked; set it in the environment")
        elif isinstance(value, str) and url_has_password(value):
            out[key] = Note(strip_password(value), f"password masked: {value}")
        else:
            out[key] = value
    return out
