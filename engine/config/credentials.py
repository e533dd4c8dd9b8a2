"""What counts as a secret, and how credentials inside URLs are found and masked.

Kept apart from the schema so the TOML guard, the error messages and the renderers all
agree on one definition.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

MASK = "***"

# A key *name* that holds a credential. It must end in the secret word, so `key_prefix` and
# `key_source` are fine; `*_env` keys and `keyfile` hold variable names and paths, not secrets.
_SECRET_NAME = re.compile(
    r"(?:^|[_-])(?:api[_-]?key|apikey|key|secret|api[_-]?secret|secret[_-]?key|passphrase"
    r"|password|private[_-]?key|token)$",
    re.IGNORECASE,
)
_NOT_SECRET = frozenset({"keyfile"})

# `password=...` inside a DSN query string (libpq accepts it there too).
_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)[^&#]*")


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    if lowered.endswith("_env") or lowered in _NOT_SECRET:
        return False
    return bool(_SECRET_NAME.search(lowered))


def _split_userinfo(url: str) -> tuple[str, str, str, str] | None:
    """(scheme://, user, password, rest) when the URL carries `user:password@`, else None."""
    scheme, sep, tail = url.partition("://")
    if not sep:
        return None
    authority_end = len(tail)
    for stop in "/?#":
        at = tail.find(stop)
        if at != -1:
            authority_end = min(authority_end, at)
    authority, rest = tail[:authority_end], tail[authority_end:]
    # rpartition: an unescaped '@' inside a password still belongs to the password
    userinfo, at_sign, host = authority.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if not at_sign or not colon or not password:
        return None
    return f"{scheme}://", user, password, f"@{host}{rest}"


def url_has_password(url: str) -> bool:
    return _split_userinfo(url) is not None or bool(_QUERY_PASSWORD.search(url))


def mask_url(url: str) -> str:
    """`postgresql://u:pw@h/db` -> `postgresql://u:***@h/db`; URLs without a password as-is."""
    parts = _split_userinfo(url)
    if parts is not None:
        scheme, user, _, rest = parts
        url = f"{scheme}{user}:{MASK}{rest}"
    return _QUERY_PASSWORD.sub(lambda m: m[1] + MASK, url)


def strip_password(url: str) -> str:
    """The URL with any password removed (`postgresql://u@h/db`)."""
    parts = _split_userinfo(url)
    if parts is not None:
        scheme, user, _, rest = parts
        url = f"{scheme}{user}{rest}"
    return re.sub(r"(?i)([?&])password=[^&#]*&?", r"\1", url).rstrip("?&")


def show(value: Any, limit: int = 60) -> str:
    """A value as an error message shows it: TOML-like, passwords masked, long values cut."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = repr(mask_url(value))
    elif isinstance(value, Decimal):
        text = str(value)
    else:
        text = mask_url(repr(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."
