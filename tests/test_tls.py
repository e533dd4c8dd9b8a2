"""TLS end to end on loopback, as production uses it: the simulator serves https:// and
wss:// with a certificate from a CA made at its start; every client verifies it against the
CA file the configuration names, and refuses it otherwise, in one line saying what to set.

No mocks: real sockets, real handshakes, real certificates (trustme on `cryptography`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path

import aiohttp
import pytest
import trustme
from support import until

from engine.app import INSTRUMENT_LOADERS, _feed_factory
from engine.clock import LiveClock
from engine.config import VenueConfig
from engine.data.feed import BookFeed
from engine.events import EventHandler, FeedStatus
from engine.gateway import tls
from engine.gateway.snapshots import SnapshotFetcher
from engine.gateway.venue_data import VenueMarketData
from engine.gateway.ws import WsConnection, WsOptions
from engine.sim.__main__ import parse as parse_sim_args
from engine.sim.server import RunningSim, start_sim

VENUES = ("binance", "okx", "gate")
SYMBOL = {"binance": "BTCUSDT", "okx": "BTC-USDT", "gate": "BTC_USDT"}
ROOT = Path(__file__).resolve().parents[1]


class Statuses(EventHandler):
    def __init__(self) -> None:
        self.statuses: list[FeedStatus] = []

    def on_feed_status(self, status: FeedStatus) -> None:
        self.statuses.append(status)


class Quiet:
    """A WsHandler that only counts opens."""

    frame_handler = None

    def __init__(self) -> None:
        self.opens = 0

    def on_open(self, conn: WsConnection) -> None:
        self.opens += 1

    def on_message(self, payload: memoryview, status: int, recv_ns: int) -> None:
        pass

    def on_close(self, reason: str) -> None:
        pass

    def keepalive(self, conn: WsConnection) -> None:
        pass


@pytest.fixture
def other_ca(tmp_path: Path) -> str:
    """A CA that did not sign the simulator's certificate (a wrong `ca_file`)."""
    path = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(autouse=True)
def no_ssl_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The system store is the system's: no SSL_CERT_FILE/DIR from the shell sneaks the
    simulator's CA (or another) into it."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def market_data(venue: str, sim: RunningSim, ca_file: str) -> VenueMarketData:
    """The engine's market-data component for `venue`, built as engine/app.py builds it."""
    factory = _feed_factory(venue, VenueConfig(book_depth=100), Statuses(), LiveClock(), 5.0)
    return VenueMarketData(
        venue,
        [SYMBOL[venue]],
        INSTRUMENT_LOADERS[venue],
        factory,
        lambda: (sim.urls.rest, sim.urls.ws_public),
        ca_file=lambda: ca_file,
    )


# -- the simulator ----------------------------------------------------------------------------


async def test_the_simulator_serves_only_tls_with_its_own_ca() -> None:
    async with start_sim("binance", market=False, tls=True) as sim:
        assert sim.urls.rest.startswith("https://127.0.0.1:")
        assert sim.urls.ws_public.startswith("wss://127.0.0.1:")
        assert sim.urls.ws_api.startswith("wss://127.0.0.1:")
        ca_file = Path(sim.ca_file)
        assert ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
        assert "PRIVATE KEY" not in ca_file.read_text()
        connector = tls.connector(sim.urls.rest, sim.ca_file)
        async with aiohttp.ClientSession(connector=connector) as http:
            async with http.get(f"{sim.urls.rest}/api/v3/ping") as reply:
                assert reply.status == 200
            # the name checked is the URL's: localhost is in the certificate too
            local = sim.urls.rest.replace("127.0.0.1", "localhost")
            async with http.get(f"{local}/api/v3/ping") as reply:
                assert reply.status == 200
            # plain HTTP on the TLS port gets no answer
            plain = sim.urls.rest.replace("https://", "http://")
            with pytest.raises(aiohttp.ClientError):
                async with http.get(f"{plain}/api/v3/ping") as reply:
                    await reply.read()
    assert not ca_file.exists()  # a temporary CA file goes with the simulator


async def test_a_restarted_simulator_rewrites_its_ca_file_and_clients_follow(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "sim-ca.pem")
    pems = []
    for _ in range(2):
        async with start_sim("okx", market=False, tls=True, ca_path=path) as sim:
            assert sim.ca_file == path
            pems.append(Path(path).read_bytes())
            await tls.check_certificate("okx", sim.urls.ws_public, path)  # the new CA
    assert pems[0] != pems[1]  # a CA made at each start
    assert Path(path).exists()  # a file the operator chose stays


def test_the_command_line_serves_tls(tmp_path: Path) -> None:
    venue, options = parse_sim_args(["--venue", "gate", "--tls", "--ca-file", "ca.pem"])  # type: ignore[misc]
    assert (venue, options.tls, options.ca_path) == ("gate", True, "ca.pem")
    _, plain = parse_sim_args(["--venue", "gate"])  # type: ignore[misc]
    assert not plain.tls
    with pytest.raises(SystemExit):
        parse_sim_args(["--venue", "gate", "--ca-file", "ca.pem"])  # --ca-file needs --tls
    config = tmp_path / "sim.toml"
    config.write_text("[sim]\ntls = true\n")
    _, from_file = parse_sim_args(["--venue", "okx", "--config", str(config)])  # type: ignore[misc]
    assert from_file.tls


# -- the feeds, end to end --------------------------------------------------------------------


@pytest.mark.parametrize("venue", VENUES)
async def test_market_data_reaches_a_ready_book_over_tls(venue: str) -> None:
    """Instruments from the venue's REST metadata over https, then the book over wss (and,
    for Binance and Gate, its REST snapshot over https), all verified against the sim's CA."""
    async with start_sim(venue, seed=3, market_interval_ms=5, tls=True) as sim:
        component = market_data(venue, sim, sim.ca_file)
        await component.start()
        try:
            feed = component.feed
            assert isinstance(feed, BookFeed)
            symbol = SYMBOL[venue]
            await until(lambda: feed.ready[symbol])
            assert not feed.books[symbol].crossed
            conns: list[WsConnection] = [
                c.conn
                for c in getattr(feed, "connections", [getattr(feed, "connection", None)])
                if c is not None and c.conn is not None
            ]
            assert conns and all(c.url.startswith("wss://") for c in conns)
            assert all(c.ssl_context is tls.client_ssl_context(sim.ca_file) for c in conns)
            assert all(c.ssl_context.verify_mode.name == "CERT_REQUIRED" for c in conns)  # type: ignore[union-attr]
            fetcher = getattr(feed, "fetcher", None)
            if venue != "okx":  # synced against a snapshot fetched over https
                assert isinstance(fetcher, SnapshotFetcher)
                assert fetcher.url.startswith("https://") and fetcher.tls_error is None
                assert fetcher._http is not None
                assert tls.session_ca_file(fetcher._http) == sim.ca_file
        finally:
            await component.stop()


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("venue", VENUES)
async def test_a_wrong_ca_is_refused_with_a_clear_error(venue: str, other_ca: str) -> None:
    async with start_sim(venue, market=False, tls=True) as sim:
        component = market_data(venue, sim, other_ca)
        with pytest.raises(tls.TlsVerifyError) as refused:
            await component.start()
        message = str(refused.value)
        assert "\n" not in message
        assert message.startswith(f"{venue}: TLS certificate of https://127.0.0.1:")
        assert f"refused by the CA file {other_ca!r}" in message
        assert "certificate verify failed" in message
        assert message.endswith(f"set venues.{venue}.ca_file to the CA bundle that signed it")
        assert component.feed is None  # nothing went on to connect


async def test_the_stream_and_the_snapshot_refuse_a_wrong_ca_too(other_ca: str) -> None:
    async with start_sim("binance", market=False, tls=True) as sim:
        ws_url = f"{sim.urls.ws_public}/ws/btcusdt@depth"
        conn = WsConnection(
            ws_url,
            Quiet(),
            clock=LiveClock(),
            options=WsOptions(backoff_base_s=0.01, backoff_max_s=0.05),
            ca_file=other_ca,
            venue="binance",
        )
        conn.start()
        try:
            with pytest.raises(tls.TlsVerifyError) as refused:
                await conn.wait_connected(10)
        finally:
            await conn.stop()
        assert refused.value.url == ws_url and refused.value.venue == "binance"
        assert "venues.binance.ca_file" in str(refused.value)
        assert conn.counters.connects == 0 and conn.counters.connect_failures >= 1

        # the same connection with the right CA connects
        right = WsConnection(ws_url, Quiet(), clock=LiveClock(), ca_file=sim.ca_file)
        right.start()
        try:
            await right.wait_connected(10)
            assert right.tls_error is None and right.connected
        finally:
            await right.stop()

        class Feed:
            venue = "binance"

            def warn_burst(self, key: str, msg: str, *args: object) -> None:
                self.warned = msg % args

        owner = Feed()
        fetcher = SnapshotFetcher(
            owner,  # type: ignore[arg-type]
            f"{sim.urls.rest}/api/v3/depth",
            lambda symbol: {"symbol": symbol, "limit": "5"},
            ca_file=other_ca,
        )
        try:
            assert await fetcher("BTCUSDT") is None
        finally:
            await fetcher.close()
        assert isinstance(fetcher.tls_error, tls.TlsVerifyError)
        assert owner.warned == str(fetcher.tls_error)
        assert "venues.binance.ca_file" in owner.warned


async def test_the_system_store_does_not_trust_the_simulator() -> None:
    """The default (`ca_file = ''`) is the system's trust store, which never holds a CA made
    a moment ago: a simulator is trusted only by naming its CA file."""
    async with start_sim("gate", market=False, tls=True) as sim:
        with pytest.raises(tls.TlsVerifyError, match="refused by the system trust store"):
            await tls.check_certificate("gate", sim.urls.ws_public, "")
        with pytest.raises(tls.TlsVerifyError, match=r"set venues\.gate\.ca_file"):
            await market_data("gate", sim, "").start()
        await tls.check_certificate("gate", sim.urls.ws_public, sim.ca_file)  # passes


def test_an_unusable_ca_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(tls.TlsConfigError, match=r"venues\.okx\.ca_file: CA file .* not exist"):
        tls.client_ssl_context(str(tmp_path / "missing.pem"), "okx")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(tls.TlsConfigError, match="holds no PEM certificate"):
        tls.ssl_for("wss://example.invalid/ws", str(junk), "okx")
    assert tls.ssl_for("ws://127.0.0.1:1/ws", str(junk)) is None  # plain URLs need none
    context = tls.client_ssl_context("")
    assert context.verify_mode.name == "CERT_REQUIRED" and context.check_hostname


# -- the engine, as run -----------------------------------------------------------------------


async def _engine(tmp_path: Path, config: str, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "live.toml"
    path.write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HFT__")}
    env.pop("SSL_CERT_FILE", None)
    env["HFT__SYSTEM__LOG_DIR"] = str(tmp_path / "log")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "engine",
        "--config",
        str(path),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _venue_config(sim: RunningSim, ca_file: str) -> str:
    return (
        '[venues.binance]\nenabled = true\nsymbols = ["BTCUSDT"]\n'
        f'rest_url = "{sim.urls.rest}"\nws_public_url = "{sim.urls.ws_public}"\n'
        f'ca_file = "{ca_file}"\n'
    )


async def test_the_engine_verifies_a_venue_against_its_configured_ca_file(
    tmp_path: Path, other_ca: str
) -> None:
    async with start_sim("binance", seed=2, market_interval_ms=5, tls=True) as sim:
        code, _, err = await _engine(tmp_path, _venue_config(sim, other_ca), "--duration", "5")
        assert code == 2  # a configuration error, like a bad key or an unknown symbol
        last = err.strip().splitlines()[-1]
        assert last.startswith("engine: error: binance: ")
        assert f"TLS certificate of {sim.urls.rest}/api/v3/exchangeInfo" in last
        assert last.endswith("set venues.binance.ca_file to the CA bundle that signed it")
        assert "Traceback" not in err

        code, _, err = await _engine(tmp_path, _venue_config(sim, sim.ca_file), "--duration", "3")
        assert code == 0, err
        logged = (tmp_path / "log" / "engine.jsonl").read_text().splitlines()
        ready = [json.loads(x) for x in logged if '"book ready"' in x]
        assert ready and ready[-1]["symbol"] == "BTCUSDT"


# -- an official SDK, unchanged ---------------------------------------------------------------


async def test_the_python_okx_sdk_websocket_runs_unchanged_over_tls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """python-okx 0.4.4 builds `ssl.create_default_context()` + certifi for every URL (it
    cannot open ws://). The default context reads OpenSSL's SSL_CERT_FILE, so pointing that
    at the simulator's CA file is all it takes; verification stays on, and without it the
    SDK's own connect is refused."""
    pytest.importorskip("websockets")
    ws_public = pytest.importorskip("okx.websocket.WsPublicAsync")
    ws_private = pytest.importorskip("okx.websocket.WsPrivateAsync")

    async with start_sim("okx", seed=4, market_interval_ms=5, tls=True) as sim:
        refused = ws_public.WsPublicAsync(url=sim.urls.ws_public)
        await refused.connect()
        assert refused.websocket is None  # the SDK logs the verify failure and gives up

        monkeypatch.setenv("SSL_CERT_FILE", sim.ca_file)
        received: list[dict[str, object]] = []
        public = ws_public.WsPublicAsync(url=sim.urls.ws_public)
        consumer = await public.start()
        assert public.websocket is not None
        await public.subscribe(
            [{"channel": "books", "instId": "BTC-USDT"}], lambda m: received.append(json.loads(m))
        )
        await until(lambda: any(m.get("action") == "snapshot" for m in received))
        assert received[0]["event"] == "subscribe"

        private = ws_private.WsPrivateAsync(
            apiKey=sim.api_key,
            passphrase=sim.passphrase,
            secretKey=sim.api_secret,
            url=sim.urls.ws_private,
        )
        await private.connect()
        assert private.websocket is not None
        assert await private.login()
        assert json.loads(await private.websocket.recv())["event"] == "login"
        await private.stop()
        await public.stop()
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await consumer
