"""The encrypted key file: venue API credentials at rest, for `key_source = "keyfile"`.

Format (one file, written whole every time):

    hft-keyfile\\n                      magic line
    {"version":1,"kdf":{...},"aead":{...}}\\n   header: JSON, one line, ASCII
    <ciphertext + 16-byte GCM tag>       the rest of the file

The header names the key derivation (scrypt: n, r, p and a random 16-byte salt) and the
cipher (AES-256-GCM and its random 12-byte nonce, new on every write). The magic line and
the header together are the AEAD's associated data, so changing any byte of the file -
version, KDF parameters, salt, nonce or ciphertext - makes decryption fail, exactly as a
wrong passphrase does; neither ever yields garbage. The plaintext is JSON
(`{"version":1,"venues":{"okx":{"api_key":..,"api_secret":..,"passphrase":..}}}`) padded
with spaces to a multiple of 256 bytes, so the file's size hides the secrets' lengths.

Writes are atomic: a temporary file in the same directory (mode 0600), fsync, rename over
the old file, fsync of the directory. A failure at any step leaves the old file intact.

Secrets never reach an exception message, a log record or `repr`: errors name the file and
the problem, and the entries are `Credentials`, which mask themselves.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from engine.wire.credentials import Credentials, CredentialsError

__all__ = [
    "DEFAULT_SCRYPT",
    "PASSPHRASE_ENV",
    "KeyFile",
    "KeyFileCorrupt",
    "KeyFileError",
    "KeyFileExists",
    "KeyFileNotFound",
    "ScryptParams",
    "WrongPassphrase",
]

PASSPHRASE_ENV = "HFT_KEYFILE_PASSPHRASE"  # noqa: S105 - the variable's name
MAGIC = b"hft-keyfile\n"
FORMAT_VERSION = 1
KDF_NAME = "scrypt"
AEAD_NAME = "aes-256-gcm"
SALT_BYTES = 16
NONCE_BYTES = 12
KEY_BYTES = 32
TAG_BYTES = 16
PAD_TO = 256
MAX_HEADER_BYTES = 1024
MAX_FILE_BYTES = 1 << 20  # a few venues' keys take well under 4 KiB
# Bounds on the KDF cost a file may ask for: a crafted header cannot make us allocate
# gigabytes or spin for minutes before the tag check fails.
MAX_SCRYPT_MEMORY = 1 << 30  # 128 * n * r bytes
MAX_SCRYPT_N = 1 << 20
MAX_SCRYPT_R = 32
MAX_SCRYPT_P = 16


class KeyFileError(Exception):
    """A key file problem. `str()` is one line naming the file and what is wrong, never a
    secret; the CLI prints it as is."""


class KeyFileNotFound(KeyFileError):
    pass


class KeyFileExists(KeyFileError):
    pass


class KeyFileCorrupt(KeyFileError):
    """The file is not a key file, or its header or contents are malformed."""


class WrongPassphrase(KeyFileError):
    """Authentication failed: a wrong passphrase, or the file was modified."""


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost: `n` (a power of two, CPU and memory), `r` (block size), `p` (parallelism).

    The default, n = 2**17, r = 8, p = 1 (128 MiB, about half a second), follows current
    OWASP advice; tests pass cheaper parameters. Files record the parameters they were made
    with, so reading never depends on the default.
    """

    n: int = 1 << 17
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        n, r, p = self.n, self.r, self.p
        if not all(type(v) is int for v in (n, r, p)):
            raise ValueError("scrypt parameters must be integers")
        if n < 2 or n & (n - 1) or n > MAX_SCRYPT_N:
            raise ValueError(f"scrypt n must be a power of two in [2, {MAX_SCRYPT_N}], got {n}")
        if not 1 <= r <= MAX_SCRYPT_R or not 1 <= p <= MAX_SCRYPT_P:
            raise ValueError(f"scrypt r must be in [1, {MAX_SCRYPT_R}], p in [1, {MAX_SCRYPT_P}]")
        if 128 * n * r > MAX_SCRYPT_MEMORY:
            raise ValueError("scrypt n * r needs more than 1 GiB of memory")

    def derive(self, passphrase: str, salt: bytes) -> bytes:
        kdf = Scrypt(salt=salt, length=KEY_BYTES, n=self.n, r=self.r, p=self.p)
        return kdf.derive(passphrase.encode("utf-8"))


DEFAULT_SCRYPT = ScryptParams()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, size: int, what: str, path: Path) -> bytes:
    if not isinstance(text, str):
        raise KeyFileCorrupt(f"{path}: corrupt header ({what} is not base64 text)")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise KeyFileCorrupt(f"{path}: corrupt header ({what} is not base64)") from None
    if len(raw) != size:
        raise KeyFileCorrupt(f"{path}: corrupt header ({what} must be {size} bytes)")
    return raw


def _header(params: ScryptParams, salt: bytes, nonce: bytes) -> bytes:
    doc = {
        "version": FORMAT_VERSION,
        "kdf": {"name": KDF_NAME, "n": params.n, "r": params.r, "p": params.p, "salt": _b64(salt)},
        "aead": {"name": AEAD_NAME, "nonce": _b64(nonce)},
    }
    return MAGIC + json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("ascii") + b"\n"


@dataclass(frozen=True, slots=True)
class _Parsed:
    params: ScryptParams
    salt: bytes
    nonce: bytes
    aad: bytes
    ciphertext: bytes


def _parse(blob: bytes, path: Path) -> _Parsed:
    """Split and check a key file's bytes; `KeyFileCorrupt` on anything malformed."""
    if not blob.startswith(MAGIC):
        raise KeyFileCorrupt(f"{path}: not an engine key file (bad magic line)")
    end = blob.find(b"\n", len(MAGIC), len(MAGIC) + MAX_HEADER_BYTES)
    if end < 0:
        raise KeyFileCorrupt(f"{path}: corrupt header (no end of header line)")
    try:
        header = json.loads(blob[len(MAGIC) : end].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise KeyFileCorrupt(f"{path}: corrupt header (not JSON)") from None
    if not isinstance(header, dict):
        raise KeyFileCorrupt(f"{path}: corrupt header (not a JSON object)")
    version = header.get("version")
    if version != FORMAT_VERSION:
        raise KeyFileCorrupt(
            f"{path}: unsupported key file version {version!r} (this engine reads "
            f"version {FORMAT_VERSION})"
        )
    kdf, aead = header.get("kdf"), header.get("aead")
    if not isinstance(kdf, dict) or kdf.get("name") != KDF_NAME:
        raise KeyFileCorrupt(f"{path}: corrupt header (key derivation must be {KDF_NAME})")
    if not isinstance(aead, dict) or aead.get("name") != AEAD_NAME:
        raise KeyFileCorrupt(f"{path}: corrupt header (cipher must be {AEAD_NAME})")
    cost = [kdf.get(name) for name in ("n", "r", "p")]
    n, r, p = (value if type(value) is int else 0 for value in cost)
    try:
        params = ScryptParams(n=n, r=r, p=p)
    except ValueError as exc:
        raise KeyFileCorrupt(f"{path}: corrupt header ({exc})") from None
    salt = _unb64(kdf.get("salt"), SALT_BYTES, "salt", path)
    nonce = _unb64(aead.get("nonce"), NONCE_BYTES, "nonce", path)
    ciphertext = blob[end + 1 :]
    if len(ciphertext) < TAG_BYTES:
        raise KeyFileCorrupt(f"{path}: truncated (no ciphertext)")
    return _Parsed(params, salt, nonce, blob[: end + 1], ciphertext)


def _entries_from_plaintext(plaintext: bytes, path: Path) -> dict[str, Credentials]:
    # Authenticated, so malformed contents mean a writer bug, not an attack. Still: no
    # exception chaining and no values in messages, since the plaintext holds secrets.
    try:
        doc = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise KeyFileCorrupt(f"{path}: decrypted contents are not valid JSON") from None
    venues = doc.get("venues") if isinstance(doc, dict) else None
    if not isinstance(venues, dict) or doc.get("version") != FORMAT_VERSION:
        raise KeyFileCorrupt(f"{path}: decrypted contents have an unknown layout")
    entries: dict[str, Credentials] = {}
    for venue, item in venues.items():
        if not isinstance(item, dict):
            raise KeyFileCorrupt(f"{path}: the entry of venue {venue!r} is malformed")
        fields = [item.get(name) for name in ("api_key", "api_secret", "passphrase")]
        try:
            if not isinstance(fields[0], str) or not isinstance(fields[1], str):
                raise CredentialsError("api_key and api_secret must be strings")
            entries[venue] = Credentials(fields[0], fields[1], fields[2])
        except CredentialsError:
            raise KeyFileCorrupt(f"{path}: the entry of venue {venue!r} is malformed") from None
    return entries


def _plaintext(entries: Mapping[str, Credentials]) -> bytes:
    doc = {
        "version": FORMAT_VERSION,
        "venues": {
            venue: {"api_key": c.api_key, "api_secret": c.api_secret, "passphrase": c.passphrase}
            for venue, c in sorted(entries.items())
        },
    }
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return raw + b" " * (-len(raw) % PAD_TO)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write `data` to `path` all or nothing, mode 0600.

    A temporary file beside `path` is written, fsynced and renamed over `path` (or, with
    `exclusive`, hard-linked to it, which fails if `path` exists); the directory is fsynced
    so the rename survives a crash. On any failure the temporary file is removed and `path`
    is left as it was.
    """
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        try:
            os.fchmod(fd, stat.S_IRUSR | stat.S_IWUSR)  # mkstemp makes 0600; be explicit
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise KeyFileExists(f"{path}: already exists; refusing to overwrite it") from None
            except OSError:  # a filesystem without hard links: check, then rename
                if path.exists() or path.is_symlink():
                    raise KeyFileExists(
                        f"{path}: already exists; refusing to overwrite it"
                    ) from None
                os.replace(tmp, path)
            else:
                tmp.unlink()
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(directory)


class KeyFile:
    """An opened (decrypted) key file: venue name -> `Credentials`.

    `create()` makes a new, empty file; `open()` decrypts an existing one. Changes (`put`,
    `remove`) stay in memory until `save()`, which re-encrypts everything with a fresh nonce
    and replaces the file atomically. The derived key is kept (not the passphrase) so saving
    does not pay for the key derivation again.
    """

    __slots__ = ("_entries", "_key", "_params", "_salt", "path")

    def __init__(
        self,
        path: Path,
        entries: dict[str, Credentials],
        params: ScryptParams,
        salt: bytes,
        key: bytes,
    ) -> None:
        self.path = path
        self._entries = entries
        self._params = params
        self._salt = salt
        self._key = key

    def __repr__(self) -> str:
        return f"KeyFile({str(self.path)!r}, venues={self.venues()!r})"

    # -- construction ------------------------------------------------------------------

    @classmethod
    def create(
        cls, path: str | Path, passphrase: str, *, params: ScryptParams = DEFAULT_SCRYPT
    ) -> KeyFile:
        """Make a new key file with no entries. Refuses to overwrite an existing file."""
        path = Path(path)
        _check_passphrase(passphrase)
        if path.exists() or path.is_symlink():
            raise KeyFileExists(f"{path}: already exists; refusing to overwrite it")
        if not path.parent.is_dir():
            raise KeyFileError(f"{path}: directory {path.parent} does not exist")
        salt = os.urandom(SALT_BYTES)
        keyfile = cls(path, {}, params, salt, params.derive(passphrase, salt))
        keyfile._write(exclusive=True)
        return keyfile

    @classmethod
    def open(cls, path: str | Path, passphrase: str) -> KeyFile:
        """Read and decrypt `path`.

        Raises KeyFileNotFound, KeyFileCorrupt (not a key file, malformed header, unknown
        version), WrongPassphrase (a wrong passphrase or any modified byte), KeyFileError
        (unreadable).
        """
        path = Path(path)
        _check_passphrase(passphrase)
        blob = _read(path)
        parsed = _parse(blob, path)
        key = parsed.params.derive(passphrase, parsed.salt)
        try:
            plaintext = AESGCM(key).decrypt(parsed.nonce, parsed.ciphertext, parsed.aad)
        except InvalidTag:
            raise WrongPassphrase(
                f"{path}: cannot decrypt: wrong passphrase, or the file was modified"
            ) from None
        entries = _entries_from_plaintext(plaintext, path)
        return cls(path, entries, parsed.params, parsed.salt, key)

    # -- entries -----------------------------------------------------------------------

    def venues(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, venue: object) -> bool:
        return venue in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.venues())

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, venue: str) -> Credentials | None:
        return self._entries.get(venue)

    def put(self, venue: str, credentials: Credentials) -> None:
        if not isinstance(credentials, Credentials):
            raise TypeError("put() takes a Credentials")
        self._entries[venue] = credentials

    def remove(self, venue: str) -> None:
        if venue not in self._entries:
            raise KeyFileError(f"{self.path}: no keys for venue {venue!r}")
        del self._entries[venue]

    # -- writing -----------------------------------------------------------------------

    def save(self) -> None:
        """Re-encrypt (fresh nonce) and replace the file atomically."""
        self._write(exclusive=False)

    def change_passphrase(self, passphrase: str, *, params: ScryptParams | None = None) -> None:
        """Re-key with a new passphrase (and a new salt); takes effect at the next `save()`."""
        _check_passphrase(passphrase)
        self._params = params or self._params
        self._salt = os.urandom(SALT_BYTES)
        self._key = self._params.derive(passphrase, self._salt)

    def _write(self, *, exclusive: bool) -> None:
        nonce = os.urandom(NONCE_BYTES)
        aad = _header(self._params, self._salt, nonce)
        ciphertext = AESGCM(self._key).encrypt(nonce, _plaintext(self._entries), aad)
        try:
            atomic_write(self.path, aad + ciphertext, exclusive=exclusive)
        except OSError as exc:
            raise KeyFileError(f"{self.path}: cannot write: {exc.strerror or exc}") from None


def _check_passphrase(passphrase: str) -> None:
    if not isinstance(passphrase, str) or not passphrase:
        raise KeyFileError("the key file passphrase must be a non-empty string")


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            blob = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise KeyFileNotFound(f"{path}: no such key file") from None
    except IsADirectoryError:
        raise KeyFileError(f"{path}: is a directory, not a key file") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(blob) > MAX_FILE_BYTES:
        raise KeyFileCorrupt(f"{path}: too large to be a key file")
    return blob
