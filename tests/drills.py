"""Real processes for the drills (tests/test_drills.py): a simulator started as
`python -m engine.sim ... --json`, the engine as `python -m engine --config FILE`, both with
their output in files, waited on by condition (a JSON log line, an order's state at the
simulator), never by a fixed sleep."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from engine.clock import LiveClock
from engine.gateway.adapter import OrderRequest, VenueEndpoints
from engine.gateway.factory import create_adapter
from engine.model.enums import OrderSide, OrderType, TimeInForce
from engine.sim import presets
from engine.wire.credentials import Credentials

ROOT = Path(__file__).resolve().parents[1]
SYMBOL = {"gate": "BTC_USDT", "okx": "BTC-USDT"}
START_TIMEOUT_S = 30.0  # a process start on a loaded 2-core machine


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test's environment without HFT__ overrides, venue keys or a CA override, plus
    `extra`: a child process sees only what the drill gives it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HFT") and k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


async def until_value(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `predicate` every 50 ms until it returns something true; returns that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"not in {timeout:.0f} s: {what}")
        await asyncio.sleep(0.05)


async def until_async(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """The same for a predicate that asks a process (the simulator's control endpoint)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not in {timeout:.0f} s: {what}")
        await asyncio.sleep(0.05)


@dataclass
class SimProcess:
    """`python -m engine.sim --venue V --tls --json` running in its own process."""

    venue: str
    proc: asyncio.subprocess.Process
    info: dict[str, Any]
    credentials: Credentials
    _session: aiohttp.ClientSession | None = None

    @property
    def ca_file(self) -> str:
        return str(self.info["ca_file"])

    @property
    def endpoints(self) -> VenueEndpoints:
        return VenueEndpoints(
            self.info["rest"], self.info["ws_public"], self.info["ws_private"], self.ca_file
        )

    def venue_toml(self, **settings: Any) -> str:
        """`[venues.<venue>]` pointing at this process (simulated = false: a venue like any)."""
        lines = [
            f"[venues.{self.venue}]",
            "enabled = true",
            "simulated = false",
            f'rest_url = "{self.info["rest"]}"',
            f'ws_public_url = "{self.info["ws_public"]}"',
            f'ws_private_url = "{self.info["ws_private"]}"',
            f'ca_file = "{self.ca_file}"',
            f'symbols = ["{SYMBOL[self.venue]}"]',
        ]
        lines += [f"{k} = {orjson.dumps(v).decode()}" for k, v in settings.items()]
        return "\n".join(lines) + "\n"

    async def _control(self, method: str, path: str, **kw: Any) -> Any:
        if self._session is None:
            context = ssl.create_default_context(cafile=self.ca_file)
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
        async with self._session.request(method, self.info["control"] + path, **kw) as resp:
            body = await resp.read()
            assert resp.status == 200, (resp.status, body)
            return orjson.loads(body)

    async def open_orders(self) -> list[dict[str, Any]]:
        doc = await self._control("GET", "/_sim/orders", params={"symbol": SYMBOL[self.venue]})
        return list(doc["orders"])

    async def order(self, client_order_id: str) -> dict[str, Any]:
        """The order as the simulator holds it (open or done), by its stored client id."""
        params = {"symbol": SYMBOL[self.venue], "client_order_id": client_order_id}
        (order,) = (await self._control("GET", "/_sim/orders", params=params))["orders"]
        return dict(order)

    async def arm_fault(self, fault: str, channel: str, count: int = 1) -> None:
        await self._control(
            "POST", "/_sim/faults", json={"fault": fault, "channel": channel, "count": count}
        )

    async def place_resting_order(self, client_order_id: str) -> dict[str, Any]:
        """A sell far above the market through the venue's real API (the engine's own adapter
        in this process, as another program would): an order the engine did not place.
        Returns it as the simulator holds it."""
        inst = next(i for i in presets.default_instruments(self.venue) if i.base == "BTC")
        adapter = create_adapter(
            self.venue, self.endpoints, self.credentials, LiveClock(), instruments=[inst]
        )
        await adapter.start()
        try:
            await adapter.place_order(
                OrderRequest(
                    client_order_id, inst, OrderSide.SELL, OrderType.LIMIT,
                    inst.qty_to_lots("0.01"), inst.price_to_ticks("90000"), TimeInForce.GTC,
                )
            )  # fmt: skip
        finally:
            await adapter.close()
        (order,) = [o for o in await self.open_orders() if client_order_id in o["client_order_id"]]
        return order

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        await stop_process(self.proc)


async def start_sim(tmp: Path, venue: str, credentials: Credentials) -> SimProcess:
    args = [
        "--venue", venue, "--tls", "--ca-file", str(tmp / f"{venue}-ca.pem"), "--no-market",
        "--json", "--api-key", credentials.api_key, "--api-secret", credentials.api_secret,
    ]  # fmt: skip
    if credentials.passphrase:
        args += ["--passphrase", credentials.passphrase]
    with (tmp / f"{venue}-sim.err").open("wb") as err:
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
        raise AssertionError(
            f"simulator exited {proc.returncode}: {(tmp / f'{venue}-sim.err').read_text()}"
        )
    return SimProcess(venue, proc, orjson.loads(line), credentials)


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL if it does not go: only the process this drill started."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


@dataclass
class EngineProcess:
    """`python -m engine --config FILE` in `workdir`, stdout/stderr/log_dir in files there."""

    workdir: Path
    proc: asyncio.subprocess.Process
    log_file: Path
    stdout: Path
    stderr: Path
    seen: list[dict[str, Any]] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (a last partial line is left for later)."""
        if not self.log_file.exists():
            return []
        lines = self.log_file.read_bytes().split(b"\n")
        return [orjson.loads(line) for line in lines[:-1] if line.strip()]

    def find(self, message: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if str(r.get("msg", "")).startswith(message)]

    async def wait_log(self, message: str, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
        """The first log record whose message starts with `message`; fails at once (with
        its stderr) if the engine exits first."""

        def found() -> dict[str, Any] | None:
            hits = self.find(message)
            if hits:
                return hits[0]
            if self.proc.returncode is not None:
                raise AssertionError(
                    f"engine exited {self.proc.returncode} before {message!r}: "
                    f"{self.stderr.read_text()[-2000:]}"
                )
            return None

        return dict(await until_value(found, timeout, f"engine log {message!r}"))

    async def exit_code(self, timeout: float = 30.0) -> int:
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def kill(self) -> None:
        """SIGKILL if still running (a failed drill leaves nothing behind)."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()


async def start_engine(
    workdir: Path, config: str, env: Mapping[str, str] | None = None
) -> EngineProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "engine.toml"
    path.write_text(config)
    stdout, stderr = workdir / "stdout.txt", workdir / "stderr.txt"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "engine", "--config", str(path),
            stdout=out, stderr=err, cwd=workdir, env=clean_env(env),
        )  # fmt: skip
    return EngineProcess(workdir, proc, workdir / "log" / "engine.jsonl", stdout, stderr)


def engine_toml(venue_section: str, log_level: str = "info") -> str:
    """A whole engine config: logs under the working directory, no monitor port, one venue."""
    return (
        f'[system]\nname = "drill"\nlog_level = "{log_level}"\nlog_dir = "log"\n'
        "worker_threads = 1\n\n"
        '[database]\nurl = ""\nsqlite_path = "var/engine.sqlite3"\n\n'
        "[monitor]\nenabled = false\n\n" + venue_section
    )


async def run_keys(workdir: Path, args: list[str], stdin: str, env: Mapping[str, str]) -> str:
    """`python -m engine keys ...` with `stdin` (secrets one per line); returns its output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine", "keys", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=workdir, env=clean_env(env),
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode() + err.decode()
