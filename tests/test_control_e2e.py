"""The control API end to end, as an operator meets it: the simulator (`python -m
engine.sim`, with its synthetic market) and a paper engine (`python -m engine --config`)
run as processes with HFT_CONTROL_TOKEN set, and `python -m engine ctl` drives the engine.
What is quoted is read at the venue (the simulator's own order list), not from the engine.

- `ctl set strategy.parameters.base_half_spread_ticks=...` widens the quoted spread at the
  next book moves;
- an invalid value and a key that cannot change at run time are refused (exit 1) and the
  quotes stay as they were;
- `ctl pause` leaves none of our orders at the venue, and none comes back until `ctl resume`.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from drills import (
    START_TIMEOUT_S,
    SimProcess,
    clean_env,
    start_engine,
    stop_process,
    until_async,
)
from test_ctl_cli import ctl

from engine.monitor.control import TOKEN_ENV
from engine.wire.credentials import Credentials

pytestmark = pytest.mark.slow  # two processes and a handful of ctl runs: ~20-30 s

VENUE = "gate"
NARROW, WIDE = 3.0, 40.0  # half spreads in ticks, before and after the change


async def _start_sim_with_market(tmp: Path, creds: Credentials) -> SimProcess:
    """`python -m engine.sim` as tests/drills.py starts it, but with its moving market: the
    strategy requotes on book events."""
    args = [
        "--venue", VENUE, "--tls", "--ca-file", str(tmp / "ca.pem"), "--json",
        "--market-interval-ms", "20", "--api-key", creds.api_key, "--api-secret",
        creds.api_secret,
    ]  # fmt: skip
    with (tmp / "sim.err").open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "engine.sim", *args,
            stdout=asyncio.subprocess.PIPE, stderr=err, cwd=tmp, env=clean_env(),
        )  # fmt: skip
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT_S)
    except TimeoutError:
        await stop_process(proc)
        raise
    if not line:
        await proc.wait()
        raise AssertionError(f"simulator exited {proc.returncode}: {(tmp / 'sim.err').read_text()}")
    return SimProcess(VENUE, proc, orjson.loads(line), creds)


def _config(sim: SimProcess) -> str:
    return (
        '[system]\nlog_level = "info"\nlog_dir = "log"\nstate_dir = "state"\n'
        "worker_threads = 1\n\n"
        '[database]\nurl = ""\nsqlite_path = "var/engine.sqlite3"\n\n'
        "[monitor]\nport = 0\n\n"
        "[strategy]\nenabled = true\nstatus_interval_s = 0\n\n"
        '[strategy.parameters]\norder_size = "0.001"\nmax_position = "0.5"\n'
        f"base_half_spread_ticks = {NARROW}\nrequote_interval_s = 0.05\n\n"
        '[risk]\nmax_order_notional = "5000"\nprice_band_bps = 500\n\n'
        + sim.venue_toml(key_source="env")
    )


async def _spread(sim: SimProcess) -> int | None:
    """Our ask minus our bid at the venue, in ticks; None unless one of each rests."""
    orders = await sim.open_orders()
    bids = [o["price"] for o in orders if o["side"] == "buy"]
    asks = [o["price"] for o in orders if o["side"] == "sell"]
    if len(bids) != 1 or len(asks) != 1:
        return None
    return int(asks[0]) - int(bids[0])


async def _until_spread(sim: SimProcess, ok: Any, timeout: float, what: str) -> int:
    seen: list[int | None] = []

    async def check() -> bool:
        seen.append(await _spread(sim))
        return seen[-1] is not None and ok(seen[-1])

    await until_async(check, timeout, f"{what} (spreads seen, last 5: {seen[-5:]})")
    spread = seen[-1]
    assert spread is not None
    return spread


async def test_ctl_drives_a_running_paper_engine(tmp_path: Path) -> None:
    tag = secrets.token_hex(6)
    creds = Credentials(f"CtlKey{tag}", f"CtlSecret{tag}Qz", None)
    token = f"CtlE2eTok{secrets.token_hex(16)}"
    sim = await _start_sim_with_market(tmp_path, creds)
    engine = None
    try:
        env = {
            f"HFT_{VENUE.upper()}_API_KEY": creds.api_key,
            f"HFT_{VENUE.upper()}_API_SECRET": creds.api_secret,
            TOKEN_ENV: token,
        }
        engine = await start_engine(tmp_path / "engine", _config(sim), env)
        url = ["--url", str((await engine.wait_log("monitor listening"))["url"])]
        await engine.wait_log("control API enabled")
        narrow = await _until_spread(sim, lambda s: s <= 2 * NARROW + 2, 20, "narrow quotes")

        # a hot change: the spread follows at the next book moves
        key = "strategy.parameters.base_half_spread_ticks"
        code, out, err = await ctl(*url, "set", f"{key}={WIDE}", token=token)
        assert code == 0, err
        assert out.strip() == f"{key}: {NARROW} -> {WIDE}"
        changed_at = time.monotonic()
        wide = await _until_spread(sim, lambda s: s >= 2 * WIDE, 5, "the spread widened")
        assert time.monotonic() - changed_at < 5
        assert narrow < wide <= 2 * WIDE + 2

        # refused: an invalid value, a key that cannot change at run time; nothing moves
        for assignment, named in (
            (f"{key}=-5.0", key),
            ("system.worker_threads=2", "system.worker_threads: is not hot-reloadable"),
        ):
            code, out, err = await ctl(*url, "set", assignment, token=token)
            assert code == 1 and named in err, err
        code, out, _ = await ctl(*url, "status", token=token)
        doc = orjson.loads(out)
        assert doc["overrides"] == {"strategy.parameters": {
            "order_size": "0.001", "max_position": "0.5", "base_half_spread_ticks": WIDE,
            "requote_interval_s": 0.05,
        }}  # fmt: skip
        await asyncio.sleep(0.5)
        assert await _until_spread(sim, lambda s: True, 5, "quotes still two-sided") >= 2 * WIDE

        # pause: the venue holds none of our orders, and none comes back until resume
        code, out, err = await ctl(*url, "pause", "--reason", "e2e", token=token)
        assert code == 0 and out.startswith("paused"), err

        async def empty() -> bool:
            return not await sim.open_orders()

        await until_async(empty, 5, "our orders gone after the pause")
        for _ in range(10):
            await asyncio.sleep(0.1)
            assert await sim.open_orders() == [], "an order came back while paused"
        code, out, err = await ctl(*url, "resume", token=token)
        assert code == 0 and out.startswith("quoting"), err
        await _until_spread(sim, lambda s: s >= 2 * WIDE, 10, "quoting again after the resume")

        engine.proc.terminate()
        assert await engine.exit_code() == 0, engine.stderr.read_text()[-2000:]
        text = "".join(p.read_text() for p in (tmp_path / "engine" / "log").glob("*"))
        assert "control set: ok" in text and "control pause: ok" in text
        assert token not in text + engine.stdout.read_text() + engine.stderr.read_text()
    finally:
        if engine is not None:
            await engine.kill()
        await sim.stop()
