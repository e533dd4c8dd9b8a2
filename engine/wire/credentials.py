"""API credentials: a holder that never shows its secret, loaded from environment variables.

The HMAC key schedules are computed once per `Credentials` and copied per signature, which is
cheaper than re-keying on the order path (see `engine.wire.mac`).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

MASK = "***"

Digest = Literal["sha256", "sha512"]


class CredentialsError(ValueError):
    """Credentials are missing or malformed. The message names variables, never values."""


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """An API key pair, plus the OKX passphrase where the venue needs one.

    Guarantees: `repr`/`str`/`format` never contain `api_secret` or `passphrase` and show at
    most the last 4 characters of `api_key`; instances are immutable; equality compares the
    three fields only.
    """

    api_key: str
    api_secret: str
    passphrase: str | None = None
    _sha256: hmac.HMAC = field(init=False, compare=False)
    _sha512: hmac.HMAC = field(init=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("api_key", "api_secret"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise CredentialsError(f"Credentials.{name} must be a non-empty string")
        if self.passphrase is not None and (
            not isinstance(self.passphrase, str) or not self.passphrase
        ):
            raise CredentialsError("Credentials.passphrase must be a non-empty string or None")
        key = self.api_secret.encode()
        object.__setattr__(self, "_sha256", hmac.new(key, digestmod="sha256"))
        object.__setattr__(self, "_sha512", hmac.new(key, digestmod="sha512"))

    def new_mac(self, digest: Digest) -> hmac.HMAC:
        """A fresh HMAC object keyed with `api_secret`, ready for `update()`."""
        return (self._sha256 if digest == "sha256" else self._sha512).copy()

    @property
    def masked_key(self) -> str:
        """`***` plus the last 4 characters of the API key (only `***` for keys under 8)."""
        return MASK + self.api_key[-4:] if len(self.api_key) >= 8 else MASK

    def __repr__(self) -> str:
        passphrase = "None" if self.passphrase is None else repr(MASK)
        return (
            f"Credentials(api_key={self.masked_key!r}, api_secret={MASK!r}, "
            f"passphrase={passphrase})"
        )

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the secret to wherever the pickle goes; refuse.
        raise TypeError("Credentials cannot be pickled")

    # Immutable, so copies can be the object itself (and __reduce__ stays out of the way).
    def __copy__(self) -> Credentials:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Credentials:
        return self

    @classmethod
    def from_env(
        cls,
        api_key_env: str,
        api_secret_env: str,
        passphrase_env: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Credentials:
        """Read the credentials from the named environment variables.

        An unset or empty variable is an error; all missing names are reported at once.
        """
        env = os.environ if environ is None else environ
        wanted = [("api_key", api_key_env), ("api_secret", api_secret_env)]
        if passphrase_env is not None:
            wanted.append(("passphrase", passphrase_env))
        missing = [f"{var} ({what})" for what, var in wanted if not env.get(var)]
        if missing:
            raise CredentialsError(
                "environment variable(s) not set or empty: " + ", ".join(missing)
            )
        return cls(
            api_key=env[api_key_env],
            api_secret=env[api_secret_env],
            passphrase=None if passphrase_env is None else env[passphrase_env],
        )
