"""A venue's API credentials, from where `venues.<name>.key_source` says.

- `env`: the variables named by `api_key_env`, `api_secret_env` and `passphrase_env`;
- `keyfile`: the encrypted key file `keyfile` (see `engine.config.keyfile`), decrypted with
  the passphrase in `HFT_KEYFILE_PASSPHRASE`, else from the `passphrase` argument (a string
  or a callable that prompts);
- `none`: no credentials (market data only).

Every error is a `VenueCredentialsError`, a `ConfigError` (the CLI prints one line and
exits 2) whose message names the venue, the config key and what to set or run - never a
secret value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from engine.config.errors import ConfigError
from engine.config.keyfile import (
    PASSPHRASE_ENV,
    KeyFile,
    KeyFileError,
    KeyFileNotFound,
    WrongPassphrase,
)
from engine.config.schema import EngineConfig, VenueConfig
from engine.wire.credentials import Credentials, CredentialsError

__all__ = [
    "PASSPHRASE_ENV",
    "Passphrase",
    "VenueCredentialsError",
    "load_all_credentials",
    "load_credentials",
    "needs_passphrase",
]

# The passphrase of the key file, or something that asks for it (a getpass prompt).
Passphrase = str | Callable[[], str] | None

# Venues that sign with a passphrase as well as the key pair.
_PASSPHRASE_VENUES = frozenset({"okx"})


class VenueCredentialsError(ConfigError, CredentialsError):
    """A venue's credentials cannot be loaded. One line; names the venue, never a secret."""


def needs_passphrase(venue_name: str) -> bool:
    """Whether the venue's API requires a passphrase besides the key and secret (OKX)."""
    return venue_name in _PASSPHRASE_VENUES


def load_credentials(
    venue_name: str,
    venue_config: VenueConfig,
    *,
    environ: Mapping[str, str] | None = None,
    passphrase: Passphrase = None,
    opened: dict[Path, KeyFile] | None = None,
) -> Credentials | None:
    """The credentials of one venue, or None when `key_source = "none"`.

    `environ` defaults to `os.environ`. `passphrase` is used for a key file only when
    `HFT_KEYFILE_PASSPHRASE` is unset or empty. `opened` caches decrypted key files by path,
    so venues sharing one file pay for its key derivation once.
    """
    env = os.environ if environ is None else environ
    at = f"venues.{venue_name}"
    source = venue_config.key_source
    if source == "none":
        return None
    if source == "env":
        return _from_env(venue_name, venue_config, env)
    if source == "keyfile":
        return _from_keyfile(venue_name, venue_config, env, passphrase, opened)
    raise VenueCredentialsError(
        f"unknown key_source {source!r} (allowed: env, keyfile, none)", key=f"{at}.key_source"
    )


def load_all_credentials(
    cfg: EngineConfig,
    *,
    environ: Mapping[str, str] | None = None,
    passphrase: Passphrase = None,
) -> dict[str, Credentials]:
    """Credentials of every enabled venue that has a key source other than `none`."""
    opened: dict[Path, KeyFile] = {}
    found: dict[str, Credentials] = {}
    for name, venue in cfg.venues.items():
        if not venue.enabled:
            continue
        creds = load_credentials(name, venue, environ=environ, passphrase=passphrase, opened=opened)
        if creds is not None:
            found[name] = creds
    return found


def _from_env(name: str, venue: VenueConfig, env: Mapping[str, str]) -> Credentials:
    at = f"venues.{name}"
    if not venue.api_key_env or not venue.api_secret_env:
        raise VenueCredentialsError(
            'key_source = "env" needs api_key_env and api_secret_env (names of environment '
            "variables)",
            key=f"{at}.key_source",
        )
    if needs_passphrase(name) and not venue.passphrase_env:
        raise VenueCredentialsError(
            f'key_source = "env" needs passphrase_env: {name} signs with a passphrase',
            key=f"{at}.passphrase_env",
        )
    try:
        return Credentials.from_env(
            venue.api_key_env,
            venue.api_secret_env,
            venue.passphrase_env or None,
            environ=env,
        )
    except CredentialsError as exc:  # names variables only, never values
        raise VenueCredentialsError(
            f'key_source = "env": {exc}; set them, or use key_source = "keyfile"',
            key=f"{at}.key_source",
        ) from None


def _from_keyfile(
    name: str,
    venue: VenueConfig,
    env: Mapping[str, str],
    passphrase: Passphrase,
    opened: dict[Path, KeyFile] | None,
) -> Credentials:
    at = f"venues.{name}"
    if not venue.keyfile:
        raise VenueCredentialsError('is required when key_source = "keyfile"', key=f"{at}.keyfile")
    path = Path(venue.keyfile).expanduser()
    cache_key = path.resolve()
    keyfile = None if opened is None else opened.get(cache_key)
    if keyfile is None:
        secret = _passphrase(name, path, env, passphrase)
        try:
            keyfile = KeyFile.open(path, secret)
        except KeyFileNotFound:
            raise VenueCredentialsError(
                f"key file {path} not found; create it with "
                f"`python -m engine keys init --file {path}`",
                key=f"{at}.keyfile",
            ) from None
        except WrongPassphrase as exc:
            raise VenueCredentialsError(
                f"{exc}; check {PASSPHRASE_ENV}", key=f"{at}.keyfile"
            ) from None
        except KeyFileError as exc:
            raise VenueCredentialsError(str(exc), key=f"{at}.keyfile") from None
        if opened is not None:
            opened[cache_key] = keyfile
    creds = keyfile.get(name)
    if creds is None:
        raise VenueCredentialsError(
            f"key file {path} has no keys for {name}; add them with "
            f"`python -m engine keys add {name} --file {path}`",
            key=f"{at}.keyfile",
        )
    if needs_passphrase(name) and creds.passphrase is None:
        raise VenueCredentialsError(
            f"the {name} entry of key file {path} has no passphrase, which {name} requires; "
            f"add it again with `python -m engine keys add {name} --replace --file {path}`",
            key=f"{at}.keyfile",
        )
    return creds


def _passphrase(name: str, path: Path, env: Mapping[str, str], given: Passphrase) -> str:
    secret = env.get(PASSPHRASE_ENV)
    if secret:
        return secret
    if callable(given):
        secret = given()
    elif given is not None:
        secret = given
    if not secret:
        raise VenueCredentialsError(
            f"key file {path} needs its passphrase: set {PASSPHRASE_ENV}",
            key=f"venues.{name}.keyfile",
        )
    return secret
