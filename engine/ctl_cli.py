"""`python -m engine ctl`: the control API's command-line client (docs/CONTROL.md).

    ctl [--url URL] status                      paused?, risk state, overrides, the status doc
    ctl [--url URL] kill [--reason TEXT]        emergency stop: halt, cancel all, persist
    ctl [--url URL] pause|resume [--reason T]   stop quoting (orders pulled) / quote again
    ctl [--url URL] set KEY=VALUE [KEY=VALUE]   change hot config keys, all or none
    ctl [--url URL] reload                      re-read the engine's config file

The token is HFT_CONTROL_TOKEN, as the engine was given it; it is sent only as the bearer
token, to the URL named, and never printed. VALUE is read as a TOML value where it is one
(`3`, `2.5`, `true`, `"0.001"`, `[1, 2]`) and as a plain string otherwise (`mid`); quote
money so it stays exact: `set 'risk.max_position="0.5"'`.

Exit codes: 0 done, 1 the engine refused (or answered an error), 2 bad usage or the engine
could not be reached. Errors are one line on stderr.

The standard library's urllib, not aiohttp: one request per run needs no event loop, and
the command starts faster without aiohttp's import.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from engine import __version__
from engine.risk.halt import operator_name

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2

# the same variable the engine reads (engine/monitor/control.py)
TOKEN_ENV = "HFT_CONTROL_TOKEN"  # noqa: S105 - the variable's name, not a token
DEFAULT_URL = "http://127.0.0.1:9464"
TIMEOUT_S = 10.0
ACTIONS = ("status", "kill", "pause", "resume", "set", "reload")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the Authorization header to wherever it points: refuse it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# no proxy either: the token goes to the engine named by --url and nowhere else
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=DEFAULT_URL,
        help=f"the engine's monitor address, [monitor] host and port (default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--timeout", type=float, default=TIMEOUT_S, help="seconds to wait for the answer"
    )
    parser.add_argument("action", choices=ACTIONS, metavar="ACTION", help=" | ".join(ACTIONS))
    parser.add_argument(
        "assignments", nargs="*", metavar="KEY=VALUE", help="for set: the keys and values"
    )
    parser.add_argument("--reason", default=None, help="for kill, pause, resume: why (audited)")


def parse_value(text: str) -> Any:
    """A TOML value (`3`, `2.5`, `true`, `"x"`, `[1, 2]`), else the text itself."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """`["a.b=1", "c.d=x"]` -> {"a.b": 1, "c.d": "x"}; ValueError naming a bad item."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"set wants KEY=VALUE, got {item!r}")
        out[key.strip()] = parse_value(text.strip())
    return out


def _fail(message: str, code: int) -> int:
    print(f"engine: error: ctl: {message}", file=sys.stderr)
    return code


def call(
    base: str,
    token: str,
    path: str,
    body: Mapping[str, Any] | None,
    *,
    timeout: float = TIMEOUT_S,
) -> tuple[int, dict[str, Any]]:
    """One request (GET without a body, POST with one); (HTTP status, JSON answer). OSError
    when the engine cannot be reached, ValueError for a URL that is not http(s)."""
    url = base.rstrip("/") + path
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http:// or https:// URL: {base!r}")
    data = None if body is None else json.dumps(body).encode()
    method = "GET" if body is None else "POST"
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http(s) only
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", f"hft-engine-ctl/{__version__}")
    request.add_header("X-HFT-Operator", operator_name())
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        doc = json.loads(raw) if raw else {}
    except ValueError:
        doc = {}
    return status, doc if isinstance(doc, dict) else {}


def _show(value: Any) -> str:
    """JSON, as sent: a string stays quoted ("0.001" is not 0.001 to the engine)."""
    return json.dumps(value, separators=(", ", ": "))


def describe(action: str, doc: Mapping[str, Any]) -> str:
    """What a successful answer says, for a person."""
    if action == "status":
        return json.dumps(doc, indent=2, sort_keys=True)
    if action == "kill":
        return str(doc.get("message", "halted"))
    if action in ("pause", "resume"):
        state = "paused: quoting stopped, open orders cancelled" if doc.get("paused") else "quoting"
        line = state if doc.get("changed") else f"already {state.split(':', maxsplit=1)[0]}"
        note = doc.get("message")
        return f"{line} (risk {doc.get('risk_state')})" + (f"; {note}" if note else "")
    changed: Mapping[str, Any] = doc.get("changed") or {}
    if not changed:
        return "nothing changed"
    return "\n".join(
        f"{key}: {_show(c.get('before'))} -> {_show(c.get('after'))}" for key, c in changed.items()
    )


def main(args: argparse.Namespace) -> int:
    token = os.environ.get(TOKEN_ENV, "").strip()  # as the engine reads it
    if not token:
        return _fail(f"{TOKEN_ENV} is not set: export the engine's control token", EXIT_USAGE)
    action: str = args.action
    if action != "set" and args.assignments:
        return _fail(f"{action} takes no KEY=VALUE arguments", EXIT_USAGE)
    body: dict[str, Any] | None = {}
    if action == "status":
        body = None
    elif action == "set":
        if not args.assignments:
            return _fail("set needs at least one KEY=VALUE", EXIT_USAGE)
        try:
            body = {"values": parse_assignments(args.assignments)}
        except ValueError as exc:
            return _fail(str(exc), EXIT_USAGE)
    elif args.reason and action in ("kill", "pause", "resume"):
        body = {"reason": args.reason}
    url = args.url
    if not url.startswith(("http://", "https://")):
        return _fail(f"--url {url!r}: want http://HOST:PORT, the engine's [monitor]", EXIT_USAGE)
    try:
        status, doc = call(url, token, f"/control/{action}", body, timeout=args.timeout)
    except (OSError, ValueError) as exc:  # refused, unresolvable, timed out, a bad URL
        reason = getattr(exc, "reason", None) or exc
        return _fail(
            f"cannot reach the engine at {url}: {reason} (is it running? pass its "
            "[monitor] host and port as --url)",
            EXIT_USAGE,
        )
    if status == 200:
        print(describe(action, doc))
        return EXIT_OK
    error = str(doc.get("error") or f"HTTP {status}")
    if status == 404:
        error = (
            f"the engine at {url} has no control API (404): start it with {TOKEN_ENV} set, "
            "and [monitor] enabled"
        )
    elif status in (401, 403):
        error = f"{error} ({status}): set {TOKEN_ENV} to the token the engine was started with"
    return _fail(error.replace("\n", " "), EXIT_REFUSED)
