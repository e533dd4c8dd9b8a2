"""The simulator's TLS: a certificate authority made at start (trustme, on `cryptography`)
and a server certificate it signs for the loopback names, so clients verify the simulator
exactly as they verify a venue: against a CA file, with hostname checks, never with
verification switched off.

The CA's certificate (PEM, public: no key) is written to a file whose path the running
simulator exposes (`RunningSim.ca_file`); `venues.<name>.ca_file` or `SSL_CERT_FILE` point
clients at it. The CA's private key never leaves the process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme

# every name a loopback client may use; a specific bind address is added to these
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
# the wildcard bind addresses: no client connects to these by name
ANY_ADDRESS = ("", "0.0.0.0", "::")  # noqa: S104


@dataclass(slots=True)
class SimCertificate:
    """A running simulator's TLS material: the server context and the CA file clients use."""

    ca_file: str
    server_context: ssl.SSLContext
    _owned_dir: str  # a temporary directory made for the CA file ("" when the caller chose)

    def remove(self) -> None:
        """Delete the CA file when it lives in a temporary directory of ours."""
        if self._owned_dir:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = ""


def make_certificate(host: str, ca_path: str = "", venue: str = "sim") -> SimCertificate:
    """A fresh CA and a server certificate for `host` and the loopback names. The CA's PEM
    goes to `ca_path` (replaced atomically), or to a temporary file removed by `remove()`."""
    ca = trustme.CA(organization_name=f"hft-engine simulator ({venue})")
    names = list(LOOPBACK_NAMES)
    if host not in ANY_ADDRESS and host not in names:
        names.append(host)
    server = ca.issue_cert(*names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(context)
    owned = ""
    if ca_path:
        target = Path(ca_path)
        target.parent.mkdir(parents=True, exist_ok=True)
    else:
        owned = tempfile.mkdtemp(prefix=f"hft-sim-{venue}-")
        target = Path(owned) / "ca.pem"
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".ca-", suffix=".pem")
    try:
        os.fchmod(fd, 0o644)  # a CA certificate is public; any client may read it
        with os.fdopen(fd, "wb") as out:
            out.write(ca.cert_pem.bytes())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if owned:
            shutil.rmtree(owned, ignore_errors=True)
        raise
    return SimCertificate(str(target), context, owned)
