"""Keyed HMACs and constant-time comparison, shared by the venue signers.

Secrets: every function taking `secret` accepts a `Credentials` (fast path: the HMAC key
schedule is precomputed and copied per signature), or the raw secret as `str`/`bytes`.
"""

from __future__ import annotations

import base64
import hmac

from engine.wire.credentials import Credentials, Digest

__all__ = ["Secret", "as_bytes", "equal", "hmac_b64", "hmac_hex", "keyed_mac"]

Secret = Credentials | str | bytes


def as_bytes(data: str | bytes) -> bytes:
    """Text as UTF-8 bytes; bytes unchanged."""
    return data.encode() if isinstance(data, str) else data


def keyed_mac(secret: Secret, digest: Digest) -> hmac.HMAC:
    """A keyed HMAC object: a copy of the precomputed key schedule for `Credentials`."""
    if isinstance(secret, Credentials):
        return secret.new_mac(digest)
    return hmac.new(as_bytes(secret), digestmod=digest)


def hmac_hex(secret: Secret, digest: Digest, payload: bytes) -> str:
    """Lowercase hex HMAC of `payload` (Binance, Gate)."""
    mac = keyed_mac(secret, digest)
    mac.update(payload)
    return mac.hexdigest()


def hmac_b64(secret: Secret, digest: Digest, payload: bytes) -> str:
    """Base64 HMAC of `payload` (OKX)."""
    mac = keyed_mac(secret, digest)
    mac.update(payload)
    return base64.b64encode(mac.digest()).decode("ascii")


def equal(expected: str, provided: object) -> bool:
    """Constant-time text comparison; anything that is not ASCII text simply does not match."""
    if not isinstance(provided, str):
        return False
    try:
        provided_bytes = provided.encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), provided_bytes)
