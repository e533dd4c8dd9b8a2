"""The control API (docs/CONTROL.md): authenticated routes under /control on the monitor's
server that stop, pause, resume and reconfigure the running engine.

Every request carries `Authorization: Bearer <token>`; the token is HFT_CONTROL_TOKEN as the
engine saw it at start. Without it the routes are not registered at all (404), so an engine
nobody gave a token cannot be driven over HTTP. The token is compared in constant time and is
never logged, stored or echoed.

Every action (and every refused credential) is audited twice: one log line and one row of
`audit_events`, with the action, who asked (the client's address), how it ended and the
values before and after. Config values are shown as `masked_dict` renders them, so a secret
never reaches the audit either.

This room calls nothing of the engine: what it may do comes in as `Controls`, built by the
host (engine/host/monitoring.py) from the engine's own methods.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import hdrs, web

from engine.config import ConfigError, ConfigStore, EngineConfig, masked_dict
from engine.monitor.server import dumps

log = logging.getLogger("engine.control")

TOKEN_ENV = "HFT_CONTROL_TOKEN"  # noqa: S105 - the variable's name, not a token
MIN_TOKEN_CHARS = 16  # a guessable token is worse than none: it looks like protection
OPERATOR_HEADER = "X-HFT-Operator"  # who the client says it is (recorded beside the address)
PARAMETERS = "strategy.parameters."  # keys inside the strategy's free-form table
MAX_ASSIGNMENTS = 100
MAX_TEXT = 500  # a reason or an operator name longer than this is cut

_JSON = "application/json"
_REALM = 'Bearer realm="hft-engine control"'

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audited request. `before` / `after` are JSON-ready (masked config values)."""

    ts_ns: int
    action: str
    who: str
    outcome: str  # ok | refused | unauthorized | forbidden | error
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    detail: str


@dataclass(frozen=True, slots=True)
class Controls:
    """What the control API may do to the engine, handed in by the composition root."""

    store: ConfigStore
    emergency_stop: Callable[[str], None]  # reason: halt, cancel everything, persist the halt
    reload: Callable[[], EngineConfig]  # re-read the config file; ConfigError refuses it
    pause: Callable[[str], bool]  # reason -> False when already paused or not trading
    resume: Callable[[str], bool]
    paused: Callable[[], bool]
    risk_state: Callable[[], str]
    status: Callable[[], dict[str, Any]]  # the host's status document
    audit: Callable[[AuditEvent], None]  # one row into storage
    now_ns: Callable[[], int]


class Refused(Exception):
    """A request the engine will not carry out: HTTP `status` with `message`, audited with
    the values it found (`before`, `after`)."""

    def __init__(
        self,
        status: int,
        message: str,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.before = before
        self.after = after


def flatten(doc: Mapping[str, Any], at: str = "") -> dict[str, Any]:
    """Nested tables as dotted keys: {"risk": {"max_order_quantity": "1"}} ->
    {"risk.max_order_quantity": "1"}."""
    out: dict[str, Any] = {}
    for name, value in doc.items():
        dotted = f"{at}{name}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def value_at(config: EngineConfig, dotted: str) -> Any:
    """The masked value of a dotted key (a table as a table), None when there is none."""
    node: Any = masked_dict(config)
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def plan_updates(config: EngineConfig, assignments: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The store updates that make `assignments` (dotted key -> value): the strategy's
    parameters are one table to the store, so `strategy.parameters.<name>` keys are merged
    into one update of `strategy.parameters`, put first (it is the one the strategy may
    refuse, and then nothing else has changed)."""
    parameters = dict(config.strategy.parameters)
    touched = False
    others: list[tuple[str, Any]] = []
    for key, value in assignments.items():
        if key.lower().startswith(PARAMETERS):
            name = key[len(PARAMETERS) :]
            if not name:
                raise Refused(400, f"{key!r}: name a parameter after {PARAMETERS!r}")
            parameters[name] = value
            touched = True
        else:
            others.append((key, value))
    first = [("strategy.parameters", parameters)] if touched else []
    return first + others


class ControlApi:
    """The /control routes. `token` None (or too short) registers nothing."""

    def __init__(self, controls: Controls, token: str | None) -> None:
        self.controls = controls
        self._problem = ""
        token = (token or "").strip()  # a newline from `$(cat file)` is not part of it
        if not token:
            self._problem = f"{TOKEN_ENV} is not set"
        elif len(token) < MIN_TOKEN_CHARS:
            self._problem = f"{TOKEN_ENV} is shorter than {MIN_TOKEN_CHARS} characters"
        self._token = b""
        if not self._problem:
            self._token = token.encode("utf-8", "surrogateescape")

    @classmethod
    def from_env(cls, controls: Controls, environ: Mapping[str, str] | None = None) -> ControlApi:
        env = os.environ if environ is None else environ
        return cls(controls, env.get(TOKEN_ENV))

    @property
    def enabled(self) -> bool:
        return bool(self._token)

    def register(self, app: web.Application) -> None:
        """Add the routes to the monitor's application (nothing when disabled: 404)."""
        if not self.enabled:
            log.warning("control API disabled: %s (the /control routes answer 404)", self._problem)
            return
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/control/status", self._status),
            ("POST", "/control/kill", self._kill),
            ("POST", "/control/pause", self._pause),
            ("POST", "/control/resume", self._resume),
            ("POST", "/control/set", self._set),
            ("POST", "/control/reload", self._reload),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, self._guarded(path.rsplit("/", 1)[1], handler))
        log.info("control API enabled", extra={"routes": [p for _, p, _ in routes]})

    # ------------------------------------------------------------------ auth and audit

    def _guarded(self, action: str, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            denied = self._check(request)
            if denied is not None:
                status, outcome, message = denied
                self._audit(request, action, outcome, None, None, message)
                headers = {"WWW-Authenticate": _REALM} if status == 401 else None
                return _json({"ok": False, "error": message}, status, headers)
            try:
                return await handler(request)
            except Refused as exc:
                self._audit(request, action, "refused", exc.before, exc.after, exc.message)
                return _json({"ok": False, "error": exc.message}, exc.status)
            except Exception as exc:  # the engine failed part-way: say so, and keep serving
                log.exception("control %s failed", action)
                detail = f"{type(exc).__name__}: {exc}"
                self._audit(request, action, "error", None, None, detail)
                return _json({"ok": False, "error": f"the engine failed: {detail}"}, 500)

        return guarded

    def _check(self, request: web.Request) -> tuple[int, str, str] | None:
        """None when the bearer token is right, else (status, outcome, message)."""
        header = request.headers.get(hdrs.AUTHORIZATION)
        if header is None:
            return 401, "unauthorized", f"missing Authorization: Bearer <{TOKEN_ENV}>"
        scheme, _, given = header.strip().partition(" ")
        given = given.strip()
        if scheme.lower() != "bearer" or not given:
            return 401, "unauthorized", "malformed Authorization header: want Bearer <token>"
        # constant time over bytes: the time taken says nothing about how much was right
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self._token):
            return 403, "forbidden", "wrong token"
        return None

    def _audit(  # noqa: PLR0917 - one audit row's fields
        self,
        request: web.Request,
        action: str,
        outcome: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        detail: str,
    ) -> None:
        event = AuditEvent(
            self.controls.now_ns(), action, _who(request), outcome, before, after, detail
        )
        level = logging.WARNING if outcome in ("ok", "refused") else logging.ERROR
        log.log(
            level,
            "control %s: %s",
            action,
            outcome,
            extra={
                "action": action,
                "who": event.who,
                "outcome": outcome,
                "before": before,
                "after": after,
                "detail": detail,
            },
        )
        try:
            self.controls.audit(event)
        except Exception:  # the action stands; a storage problem is logged, not answered
            log.exception("control audit row not written", extra={"action": action})

    # ------------------------------------------------------------------ actions

    async def _status(self, request: web.Request) -> web.StreamResponse:
        c = self.controls
        config = c.store.current
        overrides = {key: value_at(config, key) for key in sorted(c.store.overrides)}
        try:
            engine = c.status()
        except Exception as exc:
            log.exception("status source failed")
            engine = {"error": f"status unavailable: {type(exc).__name__}"}
        doc = {
            "ok": True,
            "paused": c.paused(),
            "risk_state": c.risk_state(),
            "overrides": overrides,
            "status": engine,
        }
        return _json(doc, 200)

    async def _kill(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        reason = _text(body, "reason", "emergency stop from the control API")
        before = {"risk_state": self.controls.risk_state()}
        self.controls.emergency_stop(reason)
        after = {"risk_state": self.controls.risk_state()}
        if after["risk_state"] != "HALTED":
            message = "no trading to stop: the strategy host is not running"
            raise Refused(409, message, before, after)
        self._audit(request, "kill", "ok", before, after, reason)
        return _json(
            {
                "ok": True,
                **after,
                "message": "halted: every open order is being cancelled and the halt is "
                "persisted; `python -m engine kill --reset` resumes trading",
            },
            200,
        )

    async def _pause(self, request: web.Request) -> web.StreamResponse:
        return await self._pause_or_resume(request, "pause")

    async def _resume(self, request: web.Request) -> web.StreamResponse:
        return await self._pause_or_resume(request, "resume")

    async def _pause_or_resume(self, request: web.Request, action: str) -> web.StreamResponse:
        c = self.controls
        body = await _body(request)
        reason = _text(body, "reason", f"{action} from the control API")
        before = {"paused": c.paused()}
        changed = c.pause(reason) if action == "pause" else c.resume(reason)
        after = {"paused": c.paused()}
        if after["paused"] != (action == "pause"):
            raise Refused(409, f"cannot {action}: the strategy host is not running", before, after)
        detail = reason if changed else f"already {'paused' if after['paused'] else 'quoting'}"
        self._audit(request, action, "ok", before, after, detail)
        doc: dict[str, Any] = {"ok": True, **after, "changed": changed,
                               "risk_state": c.risk_state()}  # fmt: skip
        if action == "resume" and doc["risk_state"] == "HALTED":
            doc["message"] = (
                "not paused any more, but trading is HALTED: "
                "`python -m engine kill --reset` resumes it"
            )
        return _json(doc, 200)

    async def _set(self, request: web.Request) -> web.StreamResponse:
        assignments = _assignments(await _body(request))
        store = self.controls.store
        old = store.current
        before = {key: _masked(old, key) for key in assignments}
        try:
            applied = self._apply(store, plan_updates(old, assignments))
        except ConfigError as exc:
            raise Refused(409, f"refused, nothing changed: {exc}", before) from None
        after = {key: _masked(store.current, key) for key in assignments}
        self._audit(request, "set", "ok", before, after, ", ".join(applied))
        changes = {key: {"before": before[key], "after": after[key]} for key in assignments}
        return _json({"ok": True, "changed": changes}, 200)

    @staticmethod
    def _apply(store: ConfigStore, updates: list[tuple[str, Any]]) -> list[str]:
        """Apply `updates` all or nothing as far as the schema can tell: each is tried first
        on a scratch store holding the running config (unknown, cold and bad values refused
        there, by the store's own rules), then applied for real in the same order."""
        scratch = ConfigStore(store.current, environ={})
        for key, value in updates:
            scratch.update(key, value)
        applied: list[str] = []
        for key, value in updates:
            try:
                store.update(key, value)
            except ConfigError as exc:
                if not applied:
                    raise
                # only a check of the engine's (the strategy's) can refuse here, and the
                # strategy's update goes first: say exactly what did change
                raise ConfigError(f"{exc}; already applied: {', '.join(applied)}") from None
            applied.append(key)
        return applied

    async def _reload(self, request: web.Request) -> web.StreamResponse:
        old = self.controls.store.current
        try:
            new = self.controls.reload()
        except ConfigError as exc:
            raise Refused(409, f"refused, nothing changed: {exc}") from None
        was, now = flatten(masked_dict(old)), flatten(masked_dict(new))
        changed = sorted(k for k in was.keys() | now.keys() if was.get(k) != now.get(k))
        before = {k: was.get(k) for k in changed}
        after = {k: now.get(k) for k in changed}
        self._audit(request, "reload", "ok", before, after, f"{len(changed)} key(s) changed")
        changes = {k: {"before": before[k], "after": after[k]} for k in changed}
        return _json({"ok": True, "changed": changes}, 200)


def _masked(config: EngineConfig, key: str) -> Any:
    """The key's masked value; a parameter's name keeps its case (the store's keys do not)."""
    if key.lower().startswith(PARAMETERS):
        return value_at(config, PARAMETERS + key[len(PARAMETERS) :])
    return value_at(config, key.lower())


def _who(request: web.Request) -> str:
    """The client's address, and the operator it names (its word, kept for the record)."""
    who = request.remote or "unknown"
    claimed = request.headers.get(OPERATOR_HEADER, "")
    claimed = "".join(ch for ch in claimed if ch.isprintable())[:64].strip()
    return f"{who} ({claimed})" if claimed else who


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Refused(400, f"the body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise Refused(400, "the body must be a JSON object")
    return doc


def _text(body: Mapping[str, Any], name: str, default: str) -> str:
    value = body.get(name, default)
    if not isinstance(value, str):
        raise Refused(400, f"{name!r} must be a string")
    return value.strip()[:MAX_TEXT] or default


def _assignments(body: Mapping[str, Any]) -> dict[str, Any]:
    """{"key": K, "value": V} or {"values": {K: V, ...}} -> {K: V}."""
    if "values" in body:
        values = body["values"]
        if not isinstance(values, dict) or not values:
            raise Refused(400, "'values' must be a non-empty object of key: value")
    elif "key" in body and "value" in body:
        values = {body["key"]: body["value"]}
    else:
        raise Refused(400, 'want {"key": "section.name", "value": ...} or {"values": {...}}')
    if len(values) > MAX_ASSIGNMENTS:
        raise Refused(400, f"at most {MAX_ASSIGNMENTS} assignments at once")
    for key in values:
        if not isinstance(key, str) or not key.strip():
            raise Refused(400, f"a key must be a dotted name, got {key!r}")
    return {key.strip(): value for key, value in values.items()}


def _json(doc: object, status: int, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(doc), status=status, content_type=_JSON, headers=headers)
