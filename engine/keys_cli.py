"""`python -m engine keys ...`: manage the encrypted key file of venue API credentials.

    keys init   --file F            create an empty key file (never overwrites)
    keys add    VENUE --file F      store VENUE's API key, secret (and OKX passphrase)
    keys list   --file F            venue names and masked API keys
    keys remove VENUE --file F      delete VENUE's keys
    keys passwd --file F            change the file's passphrase

The file's passphrase comes from `HFT_KEYFILE_PASSPHRASE`, else from a hidden prompt when
stdin is a terminal (`passwd` takes the new one from `HFT_KEYFILE_NEW_PASSPHRASE` or a
prompt). `add` reads the secrets from hidden prompts on a terminal, else one per line from
stdin (API key, API secret, then the passphrase for OKX); it never takes them as arguments,
which would land in the shell history and in `ps`. A secret given as an argument is refused
without being echoed.

Exit codes: 0 done, 1 the operation failed (missing, corrupt or undecryptable file, venue
not in the file, ...), 2 bad usage. Errors are one line on stderr; secrets never appear in
any output.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from engine.config.keyfile import (
    DEFAULT_SCRYPT,
    PASSPHRASE_ENV,
    KeyFile,
    KeyFileError,
    ScryptParams,
)
from engine.config.schema import VENUE_NAMES
from engine.config.venue_credentials import needs_passphrase
from engine.wire.credentials import Credentials, CredentialsError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

NEW_PASSPHRASE_ENV = "HFT_KEYFILE_NEW_PASSPHRASE"  # noqa: S105 - the variable's name
MAX_STDIN = 64 * 1024
PROG = "python -m engine keys"
# The key derivation cost of files `init` makes (tests lower it; files record their own).
INIT_SCRYPT: ScryptParams = DEFAULT_SCRYPT


class UsageError(Exception):
    """Bad usage: exit 2. The message never contains a value the user typed as a secret."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so messages can be scrubbed of arguments:
    a secret typed where it does not belong must not be echoed back to the terminal."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(_scrub(message))


def _scrub(message: str) -> str:
    if message.startswith("unrecognized arguments"):
        return (
            "unexpected argument(s), not shown; secrets are never taken from the command "
            "line: `keys add` reads them from a hidden prompt or from stdin"
        )
    # "invalid choice: 'xyz' (choose from ...)" -> drop the value typed
    return re.sub(r"invalid choice: '.*?'", "invalid choice", message, flags=re.DOTALL)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Manage the encrypted key file of venue API credentials.",
        epilog=f"The file's passphrase comes from {PASSPHRASE_ENV} or a prompt.",
    )
    common = _Parser(add_help=False)
    common.add_argument("--file", type=Path, required=True, help="the key file (e.g. keys.enc)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    actions.add_parser("init", parents=[common], help="create an empty key file")
    add = actions.add_parser(
        "add",
        parents=[common],
        help="store a venue's keys (read from a hidden prompt or stdin, never from arguments)",
    )
    add.add_argument("venue", help=f"one of {', '.join(VENUE_NAMES)}")
    add.add_argument("--replace", action="store_true", help="replace the venue's stored keys")
    actions.add_parser("list", parents=[common], help="venue names and masked API keys")
    remove = actions.add_parser("remove", parents=[common], help="delete a venue's keys")
    remove.add_argument("venue", help=f"one of {', '.join(VENUE_NAMES)}")
    actions.add_parser("passwd", parents=[common], help="change the key file's passphrase")
    return parser


class Io:
    """Where the CLI reads and prompts; tests substitute their own."""

    def __init__(
        self,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        environ: dict[str, str] | None = None,
        prompt: Callable[[str], str] | None = None,
    ) -> None:
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.environ = environ if environ is not None else dict(os.environ)
        self.prompt = prompt if prompt is not None else getpass.getpass

    def interactive(self) -> bool:
        try:
            return self.stdin.isatty()
        except (AttributeError, ValueError):
            return False


def _venue(name: str) -> str:
    if name not in VENUE_NAMES:
        # the typed value is not echoed: it may be a secret typed in the wrong place
        raise UsageError(f"unknown venue (expected one of {', '.join(VENUE_NAMES)})")
    return name


def _passphrase(io: Io, *, confirm: bool = False, env: str = PASSPHRASE_ENV) -> str:
    value = io.environ.get(env)
    if value:
        return value
    if not io.interactive():
        raise UsageError(f"no key file passphrase: set {env} or run from a terminal")
    what = "New key file passphrase" if env == NEW_PASSPHRASE_ENV else "Key file passphrase"
    value = io.prompt(f"{what}: ")
    if not value:
        raise UsageError("the passphrase must not be empty")
    if confirm and io.prompt(f"{what} (again): ") != value:
        raise UsageError("the passphrases do not match")
    return value


def _read_secrets(io: Io, venue: str) -> Credentials:
    names = ["API key", "API secret"]
    if needs_passphrase(venue):
        names.append("API passphrase")
    if io.interactive():
        values = [io.prompt(f"{venue} {name}: ").strip() for name in names]
    else:
        text = io.stdin.read(MAX_STDIN + 1)
        if len(text) > MAX_STDIN:
            raise UsageError("stdin is too large for API keys")
        values = [line.strip() for line in text.splitlines()]
        while values and not values[-1]:
            values.pop()
        if len(values) != len(names):
            raise UsageError(
                f"stdin must hold {len(names)} lines ({', '.join(names)}), got {len(values)}"
            )
    for name, value in zip(names, values, strict=True):
        if not value:
            raise UsageError(f"the {name} must not be empty")
    try:
        return Credentials(
            api_key=values[0],
            api_secret=values[1],
            passphrase=values[2] if len(values) > 2 else None,
        )
    except CredentialsError as exc:  # names fields, never values
        raise UsageError(str(exc)) from None


def cmd_init(args: argparse.Namespace, io: Io) -> int:
    path: Path = args.file
    if path.exists() or path.is_symlink():
        raise KeyFileError(f"{path}: already exists; refusing to overwrite it")
    KeyFile.create(path, _passphrase(io, confirm=True), params=INIT_SCRYPT)
    print(f"created empty key file {path} (mode 0600)", file=io.stderr)
    return EXIT_OK


def cmd_add(args: argparse.Namespace, io: Io) -> int:
    venue = _venue(args.venue)
    keyfile = KeyFile.open(args.file, _passphrase(io))
    if venue in keyfile and not args.replace:
        raise KeyFileError(f"{args.file}: already has keys for {venue}; use --replace")
    creds = _read_secrets(io, venue)
    keyfile.put(venue, creds)
    keyfile.save()
    print(f"stored keys for {venue} ({creds.masked_key}) in {args.file}", file=io.stderr)
    return EXIT_OK


def cmd_list(args: argparse.Namespace, io: Io) -> int:
    keyfile = KeyFile.open(args.file, _passphrase(io))
    for venue in keyfile.venues():
        creds = keyfile.get(venue)
        assert creds is not None
        extra = "  passphrase set" if creds.passphrase is not None else ""
        print(f"{venue:<8} {creds.masked_key}{extra}", file=io.stdout)
    if not len(keyfile):
        print(f"no keys in {args.file}", file=io.stderr)
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, io: Io) -> int:
    venue = _venue(args.venue)
    keyfile = KeyFile.open(args.file, _passphrase(io))
    keyfile.remove(venue)
    keyfile.save()
    print(f"removed keys for {venue} from {args.file}", file=io.stderr)
    return EXIT_OK


def cmd_passwd(args: argparse.Namespace, io: Io) -> int:
    keyfile = KeyFile.open(args.file, _passphrase(io))
    keyfile.change_passphrase(_passphrase(io, confirm=True, env=NEW_PASSPHRASE_ENV))
    keyfile.save()
    print(f"changed the passphrase of {args.file}", file=io.stderr)
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, Io], int]] = {
    "init": cmd_init,
    "add": cmd_add,
    "list": cmd_list,
    "remove": cmd_remove,
    "passwd": cmd_passwd,
}


def main(argv: Sequence[str] | None = None, io: Io | None = None) -> int:
    io = io or Io()
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        return COMMANDS[args.action](args, io)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=io.stderr)
        print(f"usage: {PROG} init|add|list|remove|passwd --file FILE [VENUE]", file=io.stderr)
        return EXIT_USAGE
    except KeyFileError as exc:
        print(f"{PROG}: error: {exc}", file=io.stderr)
        return EXIT_FAILED
    except (KeyboardInterrupt, EOFError):
        print(f"{PROG}: cancelled", file=io.stderr)
        return EXIT_FAILED
