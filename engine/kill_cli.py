"""`python -m engine kill --config PATH`: the operator's emergency stop.

    kill --config F [--reason TEXT]    persist a halt in system.state_dir/halt.json; a running
                                       engine is sent SIGUSR1: it cancels every open order on
                                       every venue and halts now
    kill --config F --reset            clear the halt; a running engine is sent SIGUSR2: it
                                       re-reads halt.json and resumes trading
    kill --config F --status           print the halt (if any) and whether an engine runs

The halt is written before any signal is sent, so an engine that is not running, or dies
before it acts, still starts halted. A relative system.state_dir is taken from the current
directory, as the engine does: run this from the engine's working directory.

Exit codes: 0 done, 1 the halt could not be written or the engine not signalled, 2 bad usage
or bad config. Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from engine.config import ConfigError, load_config
from engine.risk.halt import (
    SOURCE_CLI,
    SOURCE_OPERATOR,
    HaltRecord,
    HaltStore,
    PidFile,
    StateFileError,
    operator_name,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2

DEFAULT_REASON = "emergency stop from the command line"
RESET_HINT = "`python -m engine kill --reset`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        dest="kill_config",
        metavar="PATH",
        help="the engine's TOML config file (its system.state_dir holds the halt)",
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--reset",
        action="store_true",
        help="clear the halt; a running engine is sent SIGUSR2, re-reads the halt and resumes",
    )
    what.add_argument(
        "--status", action="store_true", help="print the current halt and the engine's pid"
    )
    parser.add_argument(
        "--reason",
        default=None,
        metavar="TEXT",
        help=f"why, recorded in halt.json and halt.log (default: {DEFAULT_REASON!r})",
    )


def _fail(message: str, code: int) -> int:
    print(f"engine: error: {message}", file=sys.stderr)
    return code


def format_time(at_ns: int) -> str:
    """ns since the epoch as UTC ISO 8601 to the millisecond."""
    seconds, ns = divmod(at_ns, 10**9)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ns // 10**6:03d}Z"


def describe(record: HaltRecord) -> str:
    """One line for a halt: since when, by whom, how, why."""
    return (
        f"HALTED since {format_time(record.at_ns)} by {record.by} "
        f"(source {record.source}): {record.reason}"
    )


def _signal(pid: int, sig: signal.Signals) -> bool:
    """Send `sig`; False if the process is gone. PermissionError propagates."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def _kill(store: HaltStore, pids: PidFile, reason: str) -> int:
    store.halt(reason, SOURCE_CLI, time.time_ns(), operator_name())
    pid = pids.running_pid()
    if pid is not None:
        try:
            signalled = _signal(pid, signal.SIGUSR1)
        except PermissionError:
            return _fail(
                f"halt persisted in {store.path}, but engine {pid} could not be signalled: "
                f"permission denied (run this as the engine's user, or `kill -USR1 {pid}`)",
                EXIT_FAILED,
            )
        if signalled:
            print(
                f"engine {pid} signalled: cancelling all orders and halting; "
                f"halt persisted in {store.path}"
            )
            return EXIT_OK
    print(
        f"no engine running; halt persisted in {store.path}: the next start stays halted "
        f"until {RESET_HINT}"
    )
    return EXIT_OK


def _reset(store: HaltStore, pids: PidFile, reason: str | None) -> int:
    previous = store.clear(
        operator_name(), time.time_ns(), source=SOURCE_OPERATOR, reason=reason or "reset"
    )
    if previous is None:
        done = f"not halted (no {store.path}): nothing to clear"
    else:
        done = f"halt cleared (was: {describe(previous)})"
    pid = pids.running_pid()
    if pid is not None:
        try:
            signalled = _signal(pid, signal.SIGUSR2)
        except PermissionError:
            return _fail(
                f"{done}, but engine {pid} could not be signalled: permission denied "
                f"(run this as the engine's user, or `kill -USR2 {pid}`)",
                EXIT_FAILED,
            )
        if signalled:
            print(f"{done}; engine {pid} signalled: it re-reads {store.path} and resumes trading")
            return EXIT_OK
    print(f"{done}; no engine running: the next start trades")
    return EXIT_OK


def _status(store: HaltStore, pids: PidFile) -> int:
    record = store.load()
    state = describe(record) if record is not None else f"not halted (no {store.path})"
    pid = pids.running_pid()
    engine = f"engine {pid} running" if pid is not None else "no engine running"
    print(f"{state}; {engine}")
    return EXIT_OK


def main(args: argparse.Namespace, config: Path | None = None) -> int:
    """Run the `kill` subcommand. `config` is the top-level --config, used when the
    subcommand's own is not given."""
    path: Path | None = getattr(args, "kill_config", None) or config
    if path is None:
        return _fail(
            "kill needs --config PATH: the engine's config file, whose system.state_dir "
            "holds the halt",
            EXIT_CONFIG,
        )
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    state_dir = Path(cfg.system.state_dir)
    store, pids = HaltStore(state_dir), PidFile(state_dir)
    try:
        if args.status:
            return _status(store, pids)
        if args.reset:
            return _reset(store, pids, args.reason)
        return _kill(store, pids, args.reason or DEFAULT_REASON)
    except StateFileError as exc:
        return _fail(str(exc), EXIT_FAILED)
