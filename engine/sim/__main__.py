"""`python -m engine.sim --venue binance|okx|gate [...]`: a simulated venue on loopback.

Prints its URLs and the credentials it accepts (the secret only when generated for this run),
then serves until Ctrl-C; `--json` prints them as one JSON object on one line instead (keys
venue, seed, rest, ws_public, ws_private, ws_api, control, ca_file, api_key, and api_secret
and passphrase only when generated), for scripts and tests. `--tls` serves https:// and
wss:// with a certificate from a CA made at start; the CA's PEM goes to `--ca-file PATH` (or
a temporary file) and its path is printed: give it to clients as `venues.<name>.ca_file` or
`SSL_CERT_FILE`. `--config FILE` reads a TOML file:

    [sim]
    seed = 7
    market = true              # synthetic background market
    market_interval_ms = 10
    tls = true                 # https:// and wss://
    [balances]                 # starting balances of the API key's account
    USDT = "100000"
    BTC = "1"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from engine.runtime.loop import run
from engine.sim import presets
from engine.sim.server import RunningSim, SimOptions, launch


@dataclass(frozen=True, slots=True)
class Cli:
    venue: str
    options: SimOptions
    json: bool = False  # print the addresses as one JSON line


def _options_from_file(path: Path, options: SimOptions) -> None:
    try:
        doc: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SystemExit(f"engine.sim: error: {path}: {exc}") from None
    unknown = set(doc) - {"sim", "balances"}
    if unknown:
        raise SystemExit(f"engine.sim: error: {path}: unknown sections {sorted(unknown)}")
    sim = doc.get("sim", {})
    for key, value in sim.items():
        if key not in ("seed", "market", "market_interval_ms", "tls"):
            raise SystemExit(f"engine.sim: error: {path}: sim.{key} is not a simulator setting")
        if key == "tls" and not isinstance(value, bool):
            raise SystemExit(f"engine.sim: error: {path}: sim.tls must be true or false")
        setattr(options, key, value)
    if "balances" in doc:
        try:
            options.balances = {k: Decimal(str(v)) for k, v in doc["balances"].items()}
        except InvalidOperation:
            raise SystemExit(
                f"engine.sim: error: {path}: balances must be decimal strings"
            ) from None


def parse(argv: list[str] | None) -> SimOptions | tuple[str, SimOptions]:
    """(venue, options); the union is the historical annotation its callers are typed for."""
    cli = parse_cli(argv)
    return cli.venue, cli.options


def parse_cli(argv: list[str] | None) -> Cli:
    parser = argparse.ArgumentParser(
        prog="python -m engine.sim", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--venue", required=True, choices=presets.VENUES)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--config", type=Path, help="TOML file with [sim] and [balances]")
    parser.add_argument("--no-market", action="store_true", help="no synthetic background market")
    parser.add_argument(
        "--market-interval-ms",
        type=float,
        default=None,
        help="market driver step, 1 ms at least (default 10)",
    )
    parser.add_argument("--replay", type=Path, help="replay a recording (JSON lines) as the market")
    parser.add_argument("--replay-symbol", default="", help="the recording's symbol")
    parser.add_argument("--replay-speed", type=float, default=1.0, help="> 1 replays faster")
    parser.add_argument(
        "--tls", action="store_true", help="serve https:// and wss:// (a CA made at start)"
    )
    parser.add_argument(
        "--ca-file",
        default="",
        help="with --tls: write the CA's PEM here (default: a temporary file, printed)",
    )
    parser.add_argument("--api-key", default="")
    parser.add_argument("--api-secret", default="")
    parser.add_argument("--passphrase", default="", help="OKX only")
    parser.add_argument(
        "--json", action="store_true", help="print the addresses as one JSON line (for scripts)"
    )
    args = parser.parse_args(argv)
    if bool(args.api_key) != bool(args.api_secret):
        parser.error("--api-key and --api-secret go together")
    options = SimOptions(host=args.host, port=args.port)
    if args.config:
        _options_from_file(args.config, options)
    if args.seed is not None:
        options.seed = args.seed
    if args.no_market:
        options.market = False
    if args.tls:
        options.tls = True
    if args.ca_file:
        if not options.tls:
            parser.error("--ca-file needs --tls (or tls = true in the [sim] section)")
        options.ca_path = args.ca_file
    if args.replay is not None:
        if not args.replay.is_file():
            parser.error(f"--replay: no such file {args.replay}")
        options.replay_path = str(args.replay)
        options.replay_symbol = args.replay_symbol
        options.replay_speed = args.replay_speed
    if args.market_interval_ms is not None:
        options.market_interval_ms = args.market_interval_ms
    options.api_key, options.api_secret, options.passphrase = (
        args.api_key,
        args.api_secret,
        args.passphrase,
    )
    return Cli(args.venue, options, args.json)


def control_url(sim: RunningSim) -> str:
    """The base of the `/_sim/...` control routes (the server's root)."""
    return sim.urls.rest.split("/api")[0].rstrip("/")


def describe_json(sim: RunningSim, seed: int) -> str:
    """The addresses as one JSON line; the secret and passphrase only when generated."""
    doc: dict[str, Any] = {
        "venue": sim.venue,
        "seed": seed,
        "rest": sim.urls.rest,
        "ws_public": sim.urls.ws_public,
        "ws_private": sim.urls.ws_private,
        "ws_api": sim.urls.ws_api,
        "control": control_url(sim),
        "ca_file": sim.ca_file,
        "api_key": sim.api_key,
    }
    if sim.credentials_generated:
        doc["api_secret"] = sim.api_secret
        if sim.passphrase:
            doc["passphrase"] = sim.passphrase
    return json.dumps(doc)


async def serve(venue: str, options: SimOptions, *, as_json: bool = False) -> None:
    sim = await launch(venue, options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if as_json:
            print(describe_json(sim, options.seed), flush=True)
            await stop.wait()
            return
        lines = [
            f"simulated {venue} (seed {options.seed})",
            f"  rest       {sim.urls.rest}",
            f"  ws public  {sim.urls.ws_public}",
        ]
        if sim.urls.ws_private:
            lines.append(f"  ws private {sim.urls.ws_private}")
        if sim.urls.ws_api:
            lines.append(f"  ws api     {sim.urls.ws_api}")
        lines.append(f"  control    {control_url(sim)}/_sim/health")
        if sim.ca_file:
            lines.append(f"  ca file    {sim.ca_file}   (venues.{venue}.ca_file, SSL_CERT_FILE)")
        lines.append(f"  api key    {sim.api_key}")
        if sim.credentials_generated:
            lines.append(f"  api secret {sim.api_secret}   (generated for this run)")
            if sim.passphrase:
                lines.append(f"  passphrase {sim.passphrase}   (generated for this run)")
        print("\n".join(lines), flush=True)
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> int:
    cli = parse_cli(argv)
    run(serve(cli.venue, cli.options, as_json=cli.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
