"""Command line: `python -m engine --config config/prod.toml` and friends
(`check-config FILE`, `keys init|add|list|remove|passwd --file FILE`: see engine/keys_cli.py,
`kill --config FILE [--reset|--status]`, the emergency stop: see engine/kill_cli.py;
`ctl [--url URL] status|kill|pause|resume|set|reload`, the control API's client: see
engine/ctl_cli.py).

Exit codes: 0 success, 1 the engine failed while running, 2 bad usage or bad config (one
line on stderr saying what is wrong and where).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from engine import __version__, ctl_cli, db_cli, keys_cli, kill_cli
from engine.config import ConfigError, ConfigStore, load_config, render_toml

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m engine",
        description="Low-latency spot market-making engine (Binance, OKX, Gate).",
        epilog="Environment variables HFT__SECTION__KEY=value override the config file.",
    )
    parser.add_argument("--version", action="version", version=f"hft-engine {__version__}")
    parser.add_argument("--config", type=Path, help="TOML config file (default: built-in defaults)")
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after this many seconds (default: run until signalled)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="run the engine (the default command)")
    run.add_argument("--config", type=Path, dest="run_config", help="TOML config file")
    run.add_argument(
        "--duration", type=float, dest="run_duration", help="stop after this many seconds"
    )
    check = sub.add_parser("check-config", help="validate a config and print it, secrets masked")
    check.add_argument("path", type=Path, help="TOML config file")
    # `keys` is dispatched before parsing (see main): its arguments never reach this parser,
    # whose error messages would echo them (and a secret typed there with them).
    keys = sub.add_parser(
        "keys",
        help="manage the encrypted key file: init|add|list|remove|passwd --file FILE",
        add_help=False,
    )
    keys.add_argument("keys_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    kill = sub.add_parser(
        "kill",
        help="emergency stop: persist a halt, signal a running engine to cancel all and halt",
        description=(
            "Emergency stop. Persists a halt in system.state_dir/halt.json (a restart stays "
            "halted) and sends a running engine SIGUSR1: it cancels every open order on "
            "every venue and halts. --reset clears the halt and sends SIGUSR2: the engine "
            "re-reads the halt and resumes trading. --status prints the halt."
        ),
    )
    kill_cli.add_arguments(kill)
    db = sub.add_parser(
        "db",
        help="storage schema: migrate (apply migrations, make partitions) | status",
        description=(
            "The storage schema of database.url (PostgreSQL) or database.sqlite_path. "
            "migrate applies pending migrations and makes today's and the next days' "
            "partitions; status shows the version and partitions and changes nothing."
        ),
    )
    db_cli.add_arguments(db)
    ctl = sub.add_parser(
        "ctl",
        help="drive a running engine over its control API: status|kill|pause|resume|set|reload",
        description=(
            "The control API's client (docs/CONTROL.md). The token is HFT_CONTROL_TOKEN. "
            "set KEY=VALUE reads VALUE as TOML where it is one, else as a string. Exit codes: "
            "0 done, 1 refused by the engine, 2 bad usage or the engine unreachable."
        ),
    )
    ctl_cli.add_arguments(ctl)
    return parser


def _command_index(argv: Sequence[str]) -> int | None:
    """Index of the subcommand in argv, skipping the top-level options and their values."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in ("--config", "--duration"):
            i += 2
        elif token.startswith(("--config=", "--duration=")):
            i += 1
        elif token.startswith("-"):
            return None
        else:
            return i
    return None


def _fail(message: str, code: int = EXIT_CONFIG) -> int:
    print(f"engine: error: {message}", file=sys.stderr)
    return code


def check_config(path: Path) -> int:
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        return _fail(str(exc))
    sys.stdout.write(render_toml(cfg))
    print(f"config OK: {path}", file=sys.stderr)
    return EXIT_OK


def run_engine(path: Path | None, duration: float | None) -> int:
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        return _fail(str(exc))
    if duration is not None and duration <= 0:
        return _fail(f"--duration must be positive, got {duration}")
    # imported here: the engine's imports take a second or more, which `keys` and
    # `check-config` do not need
    from engine.app import Engine  # noqa: PLC0415
    from engine.gateway.errors import AuthError  # noqa: PLC0415
    from engine.gateway.tls import TlsConfigError  # noqa: PLC0415
    from engine.runtime.loop import run  # noqa: PLC0415
    from engine.storage.backend import StorageConfigError  # noqa: PLC0415

    engine = Engine(ConfigStore(cfg), config_path=path)
    try:
        return run(engine.run(duration))
    except KeyboardInterrupt:
        return EXIT_OK
    except TlsConfigError as exc:  # a wrong CA file is a configuration error
        return _fail(str(exc))
    except ConfigError as exc:  # found at start: a strategy parameter, a symbol not traded
        return _fail(str(exc))
    except StorageConfigError as exc:  # the database or journal settings: fix and restart
        return _fail(str(exc))
    except AuthError as exc:  # so is a key the venue refuses
        return _fail(f"{exc} (check venues.{exc.venue}.key_source and the keys it names)")
    except Exception as exc:  # a component that cannot start: say which and why, in one line
        return _fail(f"engine failed: {type(exc).__name__}: {exc}", EXIT_FAILED)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    at = _command_index(argv)
    if at is not None and argv[at] == "keys":
        return keys_cli.main(argv[at + 1 :])
    args = build_parser().parse_args(argv)
    if args.command == "check-config":
        return check_config(args.path)
    if args.command == "kill":
        return kill_cli.main(args, args.config)
    if args.command == "db":
        return db_cli.main(args, args.config)
    if args.command == "ctl":
        return ctl_cli.main(args)
    path = getattr(args, "run_config", None) or args.config
    duration = getattr(args, "run_duration", None) or args.duration
    return run_engine(path, duration)


if __name__ == "__main__":
    sys.exit(main())
