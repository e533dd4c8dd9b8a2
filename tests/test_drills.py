"""Drills against real processes: the simulator runs as `python -m engine.sim` and the engine
as `python -m engine --config FILE`, talking over TLS on loopback as with a real venue.

- Dead-man switch (Gate `countdown_cancel_all`, OKX `cancel-all-after`): the engine adopts an
  order it did not place and arms the venue's switch; SIGKILLed (no stop, so no cancel at
  stop), its order is cancelled by the venue within the switch's period, not at the
  disconnect. The control run with SIGTERM cancels at stop, by the engine itself.
- Secrets never leak: runs with unusual credentials (from the environment, from a key file
  made by `python -m engine keys`, a refused one) leave none of the secret, the passphrase or
  the key file's passphrase in stdout, stderr, the log files or any file the engine wrote.
"""

from __future__ import annotations

import secrets
import signal
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

import aiohttp
import orjson
import pytest
from drills import (
    SYMBOL,
    EngineProcess,
    SimProcess,
    engine_toml,
    run_keys,
    start_engine,
    start_sim,
    until_async,
)

from engine.model.enums import OrderSide, OrderType
from engine.sim.__main__ import describe_json, parse_cli
from engine.sim.matching import OrderRequest
from engine.sim.server import ACCOUNT
from engine.sim.server import start_sim as start_sim_in_process
from engine.wire.credentials import Credentials

pytestmark = pytest.mark.slow  # real processes, 10-15 s each; part of the default run

DEAD_MAN_S = {"gate": 5, "okx": 10}  # the venues' shortest periods (Gate >= 5, OKX 10..120)
MARGIN_S = 2.5  # event loop and scheduling slack on a loaded machine
NS = 1_000_000_000


def _credentials(venue: str) -> Credentials:
    """Unusual strings, letters and digits only: a leak cannot hide behind an escape."""
    tag = secrets.token_hex(6)
    return Credentials(
        f"DrillKey{venue}{tag}",
        f"DrillSecret{tag}Zq9",
        f"DrillPass{tag}Xw7" if venue == "okx" else None,
    )


def _key_env(venue: str, creds: Credentials) -> dict[str, str]:
    """The venue's default key variables (HFT_<VENUE>_API_KEY ...), as key_source = env reads."""
    upper = venue.upper()
    env = {f"HFT_{upper}_API_KEY": creds.api_key, f"HFT_{upper}_API_SECRET": creds.api_secret}
    if creds.passphrase:
        env[f"HFT_{upper}_PASSPHRASE"] = creds.passphrase
    return env


Engines = Callable[[Path, str, Mapping[str, str]], Awaitable[EngineProcess]]


@pytest.fixture
async def engines() -> AsyncIterator[Engines]:
    """Starts engine processes; any still running at the end (a failed drill) is killed."""
    started: list[EngineProcess] = []

    async def start(workdir: Path, config: str, env: Mapping[str, str]) -> EngineProcess:
        engine = await start_engine(workdir, config, env)
        started.append(engine)
        return engine

    yield start
    for engine in started:
        await engine.kill()


async def _start_adopting_engine(
    engines: Engines, workdir: Path, sim: SimProcess, creds: Credentials
) -> EngineProcess:
    """An engine that adopts the resting order and arms the switch; returns once running."""
    venue = sim.venue
    section = sim.venue_toml(
        key_source="env", dead_man_seconds=DEAD_MAN_S[venue], adopt_unknown_orders=True
    )
    engine = await engines(workdir, engine_toml(section), _key_env(venue, creds))
    trading = await engine.wait_log("venue trading")
    assert (trading["venue"], trading["adopted"], trading["canceled"]) == (venue, 1, 0)
    # logged once every component started: the switch was armed before
    await engine.wait_log("engine running")
    assert not engine.find("venue not reachable"), engine.records()
    # system.gc_freeze (default): what started is out of the collector's walks from now on
    frozen = engine.find("startup objects frozen out of garbage collection")
    assert len(frozen) == 1 and frozen[0]["frozen"] > 10_000, frozen
    return engine


@pytest.mark.parametrize("venue", ["gate", "okx"])
async def test_the_venue_pulls_a_killed_engines_orders(
    tmp_path: Path, venue: str, engines: Engines
) -> None:
    creds = _credentials(venue)
    period = DEAD_MAN_S[venue]
    sim = await start_sim(tmp_path, venue, creds)
    try:
        # -- SIGKILL: nothing of the engine runs after the signal; the venue's timer does
        resting = await sim.place_resting_order("drillkill1")
        cid = resting["client_order_id"]
        killed = await _start_adopting_engine(engines, tmp_path / "kill", sim, creds)
        assert (await sim.order(cid))["open"]
        killed_ns = time.time_ns()
        killed.proc.kill()
        assert await killed.exit_code() == -signal.SIGKILL
        # the connections went with the process, the order did not (no cancel on
        # disconnect): what pulls it is the switch, last refreshed by the engine at most a
        # third of its period before the kill
        assert (await sim.order(cid))["open"]

        async def cancelled() -> bool:
            return not (await sim.order(cid))["open"]

        await until_async(cancelled, period + MARGIN_S + 2, "the dead-man switch fired")
        done = await sim.order(cid)
        assert done["status"] == "canceled"
        after_s = (done["updated_ns"] - killed_ns) / NS
        assert period / 3 <= after_s <= period + MARGIN_S, after_s
        assert await sim.open_orders() == []
        assert not killed.find("orders cancelled at stop")
        assert not killed.find("engine stopped")

        # -- SIGTERM (control): the engine stops cleanly and cancels its orders itself
        resting = await sim.place_resting_order("drillterm1")
        stopped = await _start_adopting_engine(engines, tmp_path / "term", sim, creds)
        stopped.proc.send_signal(signal.SIGTERM)
        assert await stopped.exit_code() == 0, stopped.stderr.read_text()[-2000:]
        exited_ns = time.time_ns()
        (at_stop,) = stopped.find("orders cancelled at stop")
        assert (at_stop["venue"], at_stop["symbol"], at_stop["count"]) == (venue, SYMBOL[venue], 1)
        assert not stopped.find("could not cancel at stop")
        assert stopped.find("engine stopped")
        done = await sim.order(resting["client_order_id"])  # no wait: cancelled before exit
        assert done["status"] == "canceled" and done["updated_ns"] <= exited_ns

        for engine in (killed, stopped):  # env credentials: none of them written anywhere
            _assert_clean(engine.workdir, _needles(creds))
    finally:
        await sim.stop()


# -- secrets ------------------------------------------------------------------------------


def _needles(creds: Credentials, *more: str) -> dict[str, bytes]:
    """What must appear nowhere: the secret and passphrases, and the API key too (logs mask
    every credential; `keys list` shows it masked)."""
    found = {"api key": creds.api_key.encode(), "api secret": creds.api_secret.encode()}
    if creds.passphrase:
        found["api passphrase"] = creds.passphrase.encode()
    for i, value in enumerate(more):
        found[f"secret #{i + 2}"] = value.encode()
    return found


def _assert_clean(workdir: Path, needles: dict[str, bytes]) -> list[Path]:
    """No secret in any file under the engine's working directory: stdout, stderr, the log
    files (rotated ones too), the config, the key file, any database file. Returns them."""
    files = [p for p in workdir.rglob("*") if p.is_file()]
    leaks = [
        f"{name} in {path.relative_to(workdir)}"
        for path in files
        for name, needle in needles.items()
        if needle in path.read_bytes()
    ]
    assert not leaks, leaks
    return files


async def test_secrets_never_leak(tmp_path: Path, engines: Engines) -> None:
    venue = "okx"  # a key, a secret and a passphrase
    creds = _credentials(venue)
    keyfile_passphrase = f"DrillFilePass{secrets.token_hex(6)}Kv3"
    wrong_secret = f"DrillWrong{secrets.token_hex(6)}Jq5"
    needles = _needles(creds, keyfile_passphrase, wrong_secret)
    sim = await start_sim(tmp_path, venue, creds)
    try:
        # 1. key_source = env, debug logging, an adopted order, a refused request, a clean stop
        await sim.place_resting_order("drillleak1")
        section = sim.venue_toml(
            key_source="env", dead_man_seconds=DEAD_MAN_S[venue], adopt_unknown_orders=True
        )
        env_run = await engines(
            tmp_path / "env", engine_toml(section, "debug"), _key_env(venue, creds)
        )
        assert (await env_run.wait_log("venue trading"))["adopted"] == 1
        await env_run.wait_log("engine running")
        await sim.arm_fault("rest_5xx", "rest")  # the next refresh of the switch is refused
        failed = await env_run.wait_log("dead-man refresh failed", DEAD_MAN_S[venue] + 10)
        assert failed["venue"] == venue and failed["error"]
        env_run.proc.send_signal(signal.SIGTERM)
        assert await env_run.exit_code() == 0, env_run.stderr.read_text()[-2000:]
        assert env_run.find("orders cancelled at stop")[0]["count"] == 1

        # 2. key_source = keyfile, made with `python -m engine keys`
        keys_dir = tmp_path / "keyfile"
        keys_dir.mkdir()
        file_env = {"HFT_KEYFILE_PASSPHRASE": keyfile_passphrase}
        said = await run_keys(keys_dir, ["init", "--file", "keys.enc"], "", file_env)
        lines = f"{creds.api_key}\n{creds.api_secret}\n{creds.passphrase}\n"
        said += await run_keys(keys_dir, ["add", venue, "--file", "keys.enc"], lines, file_env)
        said += await run_keys(keys_dir, ["list", "--file", "keys.enc"], "", file_env)
        assert venue in said
        for name, needle in needles.items():
            assert needle.decode() not in said, name
        section = sim.venue_toml(
            key_source="keyfile", keyfile=str(keys_dir / "keys.enc"), dead_man_seconds=10
        )
        file_run = await engines(tmp_path / "file", engine_toml(section, "debug"), file_env)
        await file_run.wait_log("engine running")
        assert file_run.find("venue trading")[0]["venue"] == venue
        file_run.proc.send_signal(signal.SIGTERM)
        assert await file_run.exit_code() == 0, file_run.stderr.read_text()[-2000:]

        # 3. a refused key: the start stops with one line, which names no secret
        wrong = Credentials(creds.api_key, wrong_secret, creds.passphrase)
        section = sim.venue_toml(key_source="env", dead_man_seconds=10)
        bad_run = await engines(
            tmp_path / "bad", engine_toml(section, "debug"), _key_env(venue, wrong)
        )
        code = await bad_run.exit_code()
        err = bad_run.stderr.read_text()
        assert code == 2, err[-2000:]  # a configuration error, like a wrong CA
        (said,) = [line for line in err.splitlines() if line.startswith("engine: error:")]
        assert venue in said and "Traceback" not in err, err[-2000:]
        assert f"venues.{venue}.key_source" in said
        failed = bad_run.find("engine failed to start")  # the JSON log says why, too
        assert failed and "AuthError" in failed[0]["error"]
        for name, needle in needles.items():
            assert needle.decode() not in said, name

        for run in (env_run, file_run, bad_run):
            files = _assert_clean(run.workdir, needles)
            names = {p.name for p in files}
            assert {"stdout.txt", "stderr.txt", "engine.jsonl"} <= names, names
        _assert_clean(keys_dir, needles)  # the key file holds them encrypted only
    finally:
        await sim.stop()


# -- the simulator's side of the drills -----------------------------------------------------


async def test_the_simulator_describes_itself_and_its_orders() -> None:
    """`--json` (one line, a given secret never echoed) and the read-only `/_sim/orders`."""
    assert parse_cli(["--venue", "gate", "--json"]).json
    assert not parse_cli(["--venue", "gate"]).json
    async with start_sim_in_process(
        "gate", market=False, tls=True, api_key="k1", api_secret="DrillGivenSecret"
    ) as sim:
        info = orjson.loads(describe_json(sim, 0))
        assert info["api_key"] == "k1" and "api_secret" not in info
        assert info["control"] + "/api/v4" == info["rest"] == sim.urls.rest
        assert Path(info["ca_file"]).is_file()
        inst = sim.exchange.engine.instrument(SYMBOL["gate"])
        sim.exchange.submit(
            OrderRequest(
                ACCOUNT, SYMBOL["gate"], OrderSide.SELL, OrderType.LIMIT,
                inst.qty_to_lots("0.01"), inst.price_to_ticks("90000"), client_order_id="t-c1",
            )
        )  # fmt: skip
        context = ssl.create_default_context(cafile=sim.ca_file)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as http:
            url = info["control"] + "/_sim/orders"
            async with http.get(url) as resp:
                (order,) = orjson.loads(await resp.read())["orders"]
            assert (order["client_order_id"], order["side"]) == ("t-c1", "sell")
            assert order["open"] and order["status"] == "new"
            sim.exchange.cancel(ACCOUNT, SYMBOL["gate"], client_order_id="t-c1")
            async with http.get(url) as resp:
                assert orjson.loads(await resp.read())["orders"] == []
            query = {"symbol": SYMBOL["gate"], "client_order_id": "t-c1"}
            async with http.get(url, params=query) as resp:
                (order,) = orjson.loads(await resp.read())["orders"]
            assert (order["status"], order["open"]) == ("canceled", False)
            async with http.get(url, params={"client_order_id": "t-c1"}) as resp:
                assert resp.status == 400  # a client id is unique per symbol only
