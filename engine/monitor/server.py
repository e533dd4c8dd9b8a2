"""The monitor's HTTP endpoints: /metrics, /status, /health, /health/live, and the status
page at / (engine/monitor/page.py).

Read-only by design: nothing served here changes the engine. The control API
(engine/monitor/control.py, docs/CONTROL.md) shares the server when given, on its own
authenticated /control routes; the others stay open. The server binds `monitor.host`
(127.0.0.1 by default) so it is not reachable from the network unless an operator says so.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from engine.component import Component
from engine.config import MonitorConfig
from engine.monitor.metrics import EngineMetrics
from engine.monitor.page import make_page_handler

if TYPE_CHECKING:  # control.py imports `dumps` from here
    from engine.monitor.control import ControlApi

StatusFn = Callable[[], dict[str, Any]]
HealthFn = Callable[[], tuple[bool, dict[str, Any]]]
AlertsFn = Callable[[], list[dict[str, Any]]]

_JSON = "application/json"


class MonitorBindError(OSError):
    """The monitor could not listen: one line naming the address and the setting to change."""


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)  # exact: a float would show 0.1 as 0.1000000000000000055...
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def dumps(doc: object) -> bytes:
    """JSON with Decimals as strings and non-string keys stringified."""
    return orjson.dumps(doc, default=_json_default, option=orjson.OPT_NON_STR_KEYS)


class MonitorServer(Component):
    """Serves the engine's metrics, status and health over HTTP while running.

    `status()` and `health()` are called once per request on the event loop; they must be
    cheap and must not block. `port` is the bound port once started (useful with port 0),
    None before start, when disabled and after stop. Starting also starts the metrics'
    event-loop lag probe, stopping stops it.
    """

    name = "monitor"

    def __init__(
        self,
        config: MonitorConfig,
        metrics: EngineMetrics,
        status: StatusFn,
        health: HealthFn,
        control: ControlApi | None = None,
        *,
        alerts: AlertsFn | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.metrics = metrics
        self._status = status
        self._health = health
        self.control = control
        self._alerts: AlertsFn = alerts if alerts is not None else list
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str | None:
        if self.port is None:
            return None
        host = self.config.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._get_metrics)
        app.router.add_get("/status", self._get_status)
        app.router.add_get("/health", self._get_health)
        app.router.add_get("/health/live", self._get_live)
        app.router.add_get("/", make_page_handler(self._status, self._alerts))
        if self.control is not None:
            self.control.register(app)
        return app

    async def _on_start(self) -> None:
        if not self.config.enabled:
            self.log.info("monitor disabled (monitor.enabled = false)")
            return
        runner = web.AppRunner(self.app(), handle_signals=False, access_log=None)
        await runner.setup()
        host, port = self.config.host, self.config.port
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            await runner.cleanup()
            reason = exc.strerror or str(exc)
            if exc.errno == errno.EADDRINUSE:
                reason = "address already in use"
            raise MonitorBindError(
                exc.errno,
                f"monitor cannot listen on {host}:{port}: {reason} "
                "(set monitor.port, or 0 for any free port)",
            ) from exc
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.metrics.start_loop_probe()
        self.log.info("monitor listening", extra={"url": self.url})

    async def _on_stop(self) -> None:
        await self.metrics.stop_loop_probe()
        runner, self._runner = self._runner, None
        self.port = None
        if runner is not None:
            await runner.cleanup()

    async def _get_metrics(self, request: web.Request) -> web.Response:
        body = self.metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _get_status(self, request: web.Request) -> web.Response:
        try:
            body = dumps(self._status())
        except Exception as exc:
            self.log.exception("status source failed")
            return _json({"error": f"status unavailable: {type(exc).__name__}"}, 500)
        return web.Response(body=body, content_type=_JSON)

    async def _get_health(self, request: web.Request) -> web.Response:
        try:
            ready, details = self._health()
        except Exception as exc:
            self.log.exception("health source failed")
            ready, details = False, {"reasons": [f"health check failed: {type(exc).__name__}"]}
        doc = {**details, "live": True, "ready": bool(ready)}
        return web.Response(body=dumps(doc), status=200 if ready else 503, content_type=_JSON)

    async def _get_live(self, request: web.Request) -> web.Response:
        return _json({"live": True}, 200)


def _json(doc: object, status: int) -> web.Response:
    return web.Response(body=dumps(doc), status=status, content_type=_JSON)
