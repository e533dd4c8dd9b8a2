"""The emergency stop's persisted state (engine/risk/halt.py) and `python -m engine kill`.

Real files, real processes, real signals: the pid checks read /proc of live subprocesses,
and the CLI runs as operators run it, against a small stand-in engine that holds the pid file
and records the signals it gets.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.risk.halt import (
    HALT_FILE,
    HALT_LOG,
    PID_FILE,
    SOURCE_CLI,
    SOURCE_LIMIT,
    SOURCE_OPERATOR,
    SOURCE_STORE,
    EngineRunningError,
    HaltRecord,
    HaltStore,
    PidFile,
    StateFileError,
    is_engine_process,
    operator_name,
)

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_700_000_000_123_456_789


def log_lines(state: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (state / HALT_LOG).read_text().splitlines()]


# ---------------------------------------------------------------------------- HaltStore


def test_round_trip(tmp_path: Path) -> None:
    store = HaltStore(tmp_path / "state")
    assert store.load() is None  # no directory, no file: not halted
    record = store.halt("daily loss over the limit", SOURCE_LIMIT, T0, "engine pid 42")
    assert record == HaltRecord(
        True, "daily loss over the limit", SOURCE_LIMIT, T0, "engine pid 42"
    )
    assert store.load() == record
    assert HaltStore(tmp_path / "state").load() == record  # what a restart reads
    doc = json.loads(store.path.read_text())
    assert doc == {"version": 1, **record.as_dict()}


def test_a_new_halt_replaces_the_current_one_and_both_are_logged(tmp_path: Path) -> None:
    store = HaltStore(tmp_path)
    store.halt("first", SOURCE_LIMIT, T0, "a")
    second = store.halt("second", SOURCE_CLI, T0 + 1, "b")
    assert store.load() == second
    assert [(x["event"], x["reason"]) for x in log_lines(tmp_path)] == [
        ("halt", "first"),
        ("halt", "second"),
    ]


def test_atomic_write_leaves_only_the_record_and_the_log(tmp_path: Path) -> None:
    store = HaltStore(tmp_path)
    for i in range(3):
        store.halt(f"halt {i}", SOURCE_CLI, T0 + i, "op")
    assert sorted(p.name for p in tmp_path.iterdir()) == [HALT_FILE, HALT_LOG]


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    # a directory where halt.json should be: the rename over it fails, for real
    (tmp_path / HALT_FILE / "x").mkdir(parents=True)
    store = HaltStore(tmp_path)
    with pytest.raises(StateFileError, match="could not persist the halt"):
        store.halt("x", SOURCE_CLI, T0, "op")
    assert sorted(p.name for p in tmp_path.iterdir()) == [HALT_FILE]
    record = store.load()  # and a directory there still counts as halted
    assert record is not None and record.halted


def test_an_audit_log_failure_still_persists_the_halt_and_says_so(tmp_path: Path) -> None:
    (tmp_path / HALT_LOG).mkdir()
    store = HaltStore(tmp_path)
    with pytest.raises(StateFileError, match=r"halt persisted in .*audit log"):
        store.halt("x", SOURCE_CLI, T0, "op")
    record = store.load()
    assert record is not None and record.reason == "x"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"source": "someone"}, ValueError),
        ({"at_ns": -1}, ValueError),
        ({"at_ns": 1.5}, ValueError),
        ({"reason": None}, TypeError),
        ({"by": 7}, TypeError),
    ],
)
def test_bad_fields_are_refused_and_nothing_is_written(
    tmp_path: Path, fields: dict[str, object], error: type[Exception]
) -> None:
    args: dict[str, object] = {"reason": "r", "source": SOURCE_CLI, "at_ns": T0, "by": "op"}
    args.update(fields)
    with pytest.raises(error):
        HaltStore(tmp_path).halt(**args)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


GOOD = {"version": 1, "halted": True, "reason": "r", "source": "cli", "at_ns": T0, "by": "op"}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "not valid JSON"),
        (b'{"version": 1, "halted": tr', "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
        (b"[]", "not a JSON object"),
        (json.dumps({**GOOD, "version": 2}).encode(), "unknown version 2"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "reason"}).encode(), "'reason'"),
        (json.dumps({**GOOD, "halted": "no"}).encode(), "halted must be a bool"),
        (json.dumps({**GOOD, "at_ns": "yesterday"}).encode(), "at_ns"),
        (json.dumps({**GOOD, "source": "martians"}).encode(), "source"),
    ],
    ids=[
        "empty",
        "truncated",
        "not-utf8",
        "nested",
        "array",
        "version",
        "missing-field",
        "halted-type",
        "at-ns-type",
        "source",
    ],
)
def test_a_corrupt_record_counts_as_halted(tmp_path: Path, content: bytes, problem: str) -> None:
    (tmp_path / HALT_FILE).write_bytes(content)
    record = HaltStore(tmp_path).load()
    assert record is not None and record.halted, "a corrupt record must never mean ACTIVE"
    assert record.source == SOURCE_STORE
    assert str(tmp_path / HALT_FILE) in record.reason and problem in record.reason
    assert "kill --reset" in record.reason


def test_an_unreadable_record_counts_as_halted(tmp_path: Path) -> None:
    (tmp_path / HALT_FILE).mkdir()  # reading it fails (root reads any file, not a directory)
    record = HaltStore(tmp_path).load()
    assert record is not None and record.halted and record.source == SOURCE_STORE
    assert "unreadable" in record.reason


def test_an_explicit_not_halted_record_is_not_halted(tmp_path: Path) -> None:
    (tmp_path / HALT_FILE).write_text(json.dumps({**GOOD, "halted": False}))
    assert HaltStore(tmp_path).load() is None


def test_clear_removes_the_halt_and_logs_both(tmp_path: Path) -> None:
    store = HaltStore(tmp_path)
    halt = store.halt("limit breach", SOURCE_LIMIT, T0, "engine pid 7")
    assert store.clear("alice@desk", T0 + 5, reason="checked the books") == halt
    assert store.load() is None and not store.path.exists()
    first, second = log_lines(tmp_path)
    assert first == {"event": "halt", **halt.as_dict()}
    assert second == {
        "event": "clear",
        "halted": False,
        "reason": "checked the books",
        "source": SOURCE_OPERATOR,
        "at_ns": T0 + 5,
        "by": "alice@desk",
        "previous": halt.as_dict(),
    }


def test_clear_without_a_halt_does_nothing(tmp_path: Path) -> None:
    store = HaltStore(tmp_path)
    assert store.clear("op", T0) is None
    assert list(tmp_path.iterdir()) == []


def test_clear_removes_a_corrupt_record(tmp_path: Path) -> None:
    store = HaltStore(tmp_path)
    store.path.write_bytes(b"\x00\x01")
    previous = store.clear("op", T0)
    assert previous is not None and previous.source == SOURCE_STORE
    assert store.load() is None
    assert log_lines(tmp_path)[0]["previous"]["source"] == SOURCE_STORE  # type: ignore[index]


def test_operator_name_is_user_at_host() -> None:
    user, _, host = operator_name().partition("@")
    assert user and host


# ---------------------------------------------------------------------------- PidFile


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def spawn(processes: list[subprocess.Popen[bytes]], *argv: str) -> int:
    proc = subprocess.Popen(argv)
    processes.append(proc)
    return proc.pid


def a_sleeper_mentioning_engine(processes: list[subprocess.Popen[bytes]]) -> int:
    pid = spawn(processes, sys.executable, "-c", "import time; time.sleep(60)", "engine")
    deadline = time.monotonic() + 10  # its cmdline is there once it has exec'd
    while not is_engine_process(pid):
        assert time.monotonic() < deadline, "the subprocess never showed its cmdline"
        time.sleep(0.01)
    return pid


def test_a_pid_file_of_a_process_that_is_not_an_engine_is_stale(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    sleeper = spawn(processes, "sleep", "60")
    (tmp_path / PID_FILE).write_text(f"{sleeper}\n")
    pids = PidFile(tmp_path)
    assert pids.read() == sleeper and pids.running_pid() is None
    pids.write(os.getpid())  # stale: replaced
    assert pids.read() == os.getpid()
    assert sorted(p.name for p in tmp_path.iterdir()) == [PID_FILE]


def test_a_pid_file_of_a_dead_process_is_stale(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass", "engine"])
    proc.wait()  # reaped: its pid names no process
    (tmp_path / PID_FILE).write_text(f"{proc.pid}\n")
    pids = PidFile(tmp_path)
    assert pids.running_pid() is None
    pids.write(os.getpid())
    assert pids.read() == os.getpid()


@pytest.mark.parametrize("content", ["", "garbage\n", "-5\n", "0\n", "12 34\n"])
def test_a_pid_file_without_a_pid_is_stale(tmp_path: Path, content: str) -> None:
    (tmp_path / PID_FILE).write_text(content)
    pids = PidFile(tmp_path)
    assert pids.running_pid() is None
    pids.write(os.getpid())
    assert pids.read() == os.getpid()


def test_a_live_engine_holds_the_pid_file(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    engine = a_sleeper_mentioning_engine(processes)
    holder = PidFile(tmp_path)
    holder.write(engine)
    assert PidFile(tmp_path).running_pid() == engine
    with pytest.raises(EngineRunningError, match=f"pid {engine}") as caught:
        PidFile(tmp_path).write(os.getpid())
    assert caught.value.pid == engine
    assert PidFile(tmp_path).read() == engine  # untouched
    holder.write(engine)  # the holder may write its own pid again
    holder.remove()
    assert not (tmp_path / PID_FILE).exists()


def test_remove_never_removes_another_engines_pid(tmp_path: Path) -> None:
    first, second = PidFile(tmp_path), PidFile(tmp_path)
    first.write(os.getpid())
    second.remove()  # wrote nothing: removes nothing
    assert first.read() == os.getpid()
    (tmp_path / PID_FILE).write_text("999999\n")  # another engine took it over
    first.remove()
    assert first.read() == 999999


def test_write_refuses_a_bad_pid(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        PidFile(tmp_path).write(0)


# ---------------------------------------------------------------------------- the CLI


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("HFT__")}


def kill(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", "kill", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        cwd=cwd,
    )


def write_config(tmp_path: Path, state_dir: str) -> Path:
    config = tmp_path / "engine.toml"
    config.write_text(f"[system]\nstate_dir = {json.dumps(state_dir)}\n")
    return config


# A stand-in engine: holds the pid file as the engine does, and records the signals it gets.
FAKE_ENGINE = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    from engine.risk.halt import PidFile

    state, marker = Path(sys.argv[1]), Path(sys.argv[2])

    def record(signum, frame):
        with marker.open("a") as out:
            out.write(signal.Signals(signum).name + "\\n")

    def stop(signum, frame):
        pids.remove()
        sys.exit(0)

    signal.signal(signal.SIGUSR1, record)
    signal.signal(signal.SIGUSR2, record)
    signal.signal(signal.SIGTERM, stop)
    pids = PidFile(state)
    pids.write()  # after the handlers: a signal before them would kill the process
    print("ready", flush=True)
    while True:
        time.sleep(0.05)
    """
)


def wait_for(path: Path, needle: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text():
            return
        time.sleep(0.02)
    raise AssertionError(f"{needle!r} never appeared in {path}")


def test_kill_without_a_running_engine_persists_the_halt(tmp_path: Path) -> None:
    config = write_config(tmp_path, "var/state")  # relative: to the current directory
    out = kill(tmp_path, "--config", str(config), "--reason", "venue acting up")
    assert out.returncode == 0, out.stderr
    halt_path = Path("var/state") / HALT_FILE
    assert out.stdout == (
        f"no engine running; halt persisted in {halt_path}: the next start stays halted "
        "until `python -m engine kill --reset`\n"
    )
    record = HaltStore(tmp_path / "var" / "state").load()
    assert record is not None and record.source == SOURCE_CLI
    assert record.reason == "venue acting up" and "@" in record.by
    assert abs(record.at_ns - time.time_ns()) < 60 * 10**9
    out = kill(tmp_path, "--config", str(config), "--status")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("HALTED since ") and "(source cli): venue acting up" in out.stdout
    assert out.stdout.rstrip().endswith("; no engine running")


def test_kill_signals_a_running_engine_and_reset_resumes_it(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    state = tmp_path / "state"
    config = write_config(tmp_path, str(state))
    marker = tmp_path / "signals.txt"
    proc = subprocess.Popen(
        [sys.executable, "-c", FAKE_ENGINE, str(state), str(marker)],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
    )
    processes.append(proc)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"

    out = kill(tmp_path, "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert out.stdout == (
        f"engine {proc.pid} signalled: cancelling all orders and halting; "
        f"halt persisted in {state / HALT_FILE}\n"
    )
    wait_for(marker, "SIGUSR1")
    # the halt was on disk before the signal: the engine's handler re-reads it
    record = HaltStore(state).load()
    assert record is not None and record.reason == "emergency stop from the command line"

    out = kill(tmp_path, "--config", str(config), "--status")
    assert out.returncode == 0 and out.stdout.rstrip().endswith(f"engine {proc.pid} running")

    # the top-level --config works as well
    out = subprocess.run(
        [sys.executable, "-m", "engine", "--config", str(config), "kill", "--reset"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("halt cleared (was: HALTED since ")
    assert out.stdout.rstrip().endswith(
        f"; engine {proc.pid} signalled: it re-reads {state / HALT_FILE} and resumes trading"
    )
    wait_for(marker, "SIGUSR2")
    assert HaltStore(state).load() is None
    assert [x["event"] for x in log_lines(state)] == ["halt", "clear"]
    assert marker.read_text() == "SIGUSR1\nSIGUSR2\n"

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    out = kill(tmp_path, "--config", str(config), "--status")
    assert out.stdout == f"not halted (no {state / HALT_FILE}); no engine running\n"


def test_reset_without_a_halt_says_so(tmp_path: Path) -> None:
    config = write_config(tmp_path, str(tmp_path / "state"))
    out = kill(tmp_path, "--config", str(config), "--reset")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("not halted (no ") and "nothing to clear" in out.stdout
    assert "no engine running: the next start trades" in out.stdout


def test_kill_never_signals_a_stale_pid(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    """A pid reused by an unrelated process: SIGUSR1 would kill it (its default action)."""
    state = tmp_path / "state"
    state.mkdir()
    proc = subprocess.Popen(["sleep", "60"])
    processes.append(proc)
    (state / PID_FILE).write_text(f"{proc.pid}\n")
    out = kill(tmp_path, "--config", str(write_config(tmp_path, str(state))))
    assert out.returncode == 0 and out.stdout.startswith("no engine running; halt persisted")
    time.sleep(0.1)
    assert proc.poll() is None, "the unrelated process was signalled"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--config", "missing.toml"), "missing.toml"),
        (("--config", "bad.toml"), "bad.toml"),
        ((), "kill needs --config"),
    ],
    ids=["missing-file", "bad-toml", "no-config"],
)
def test_a_bad_config_exits_2_with_one_line(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    (tmp_path / "bad.toml").write_text("[system\nstate_dir = ")
    out = kill(tmp_path, *args)
    assert out.returncode == 2, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("engine: error: ") and expected in lines[0]
    assert out.stdout == "" and not (tmp_path / "var").exists()


def test_reset_and_status_together_is_bad_usage(tmp_path: Path) -> None:
    out = kill(tmp_path, "--config", "x.toml", "--reset", "--status")
    assert out.returncode == 2 and "not allowed with" in out.stderr


def test_a_halt_that_cannot_be_written_exits_1(tmp_path: Path) -> None:
    (tmp_path / "state" / HALT_FILE / "x").mkdir(parents=True)
    out = kill(tmp_path, "--config", str(write_config(tmp_path, str(tmp_path / "state"))))
    assert out.returncode == 1
    assert out.stderr.startswith("engine: error: could not persist the halt in ")
