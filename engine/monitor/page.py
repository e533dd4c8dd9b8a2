"""The status page at `/`: the status document (what /status serves) and the recent alerts as
one server-rendered HTML page that reloads itself; no script, no build step.

Every value from the engine goes through `html.escape` (a symbol or an alert message is data,
never markup). Cells carry `data-field` and rows `data-instrument`, so a test or a scraper
finds a value without depending on the layout.
"""

from __future__ import annotations

import datetime
import html
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

log = logging.getLogger("engine.monitor")

StatusFn = Callable[[], Mapping[str, Any]]
AlertsFn = Callable[[], Sequence[Mapping[str, Any]]]
Handler = Callable[[web.Request], Awaitable[web.Response]]

REFRESH_S = 5
ALERTS_SHOWN = 20  # newest first
ALERTS_PER_SYMBOL = 3

# (status document key, column title) per symbol, in table order
SYMBOL_COLUMNS = (
    ("position", "position"),
    ("realized", "realized PnL"),
    ("unrealized", "unrealized PnL"),
    ("fees", "fees"),
    ("mid", "mid"),
    ("bid", "our bid"),
    ("ask", "our ask"),
    ("open_orders", "open orders"),
    ("fills", "fills"),
    ("feed", "feed"),
)

_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
.ACTIVE { color: #1a7f37; } .REDUCING { color: #9a6700; } .HALTED { color: #cf222e; }
.error { color: #cf222e; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _cell(field: str, value: object, css: str = "") -> str:
    cls = f' class="{_e(css)}"' if css else ""
    return f'<td data-field="{_e(field)}"{cls}>{_e(value)}</td>'


def _when(alert: Mapping[str, Any]) -> str:
    """An alert's time as UTC text: `ts_ns` / `timestamp_ns` (ns since the epoch) or `time`."""
    ns = alert.get("ts_ns", alert.get("timestamp_ns"))
    if isinstance(ns, int) and ns > 0:
        moment = datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(alert.get("time", ""))


def _alert_text(alert: Mapping[str, Any]) -> str:
    """`rule` (or `name`), `subject`, `state`, then the message: "stale_feed binance:BTCUSDT
    fired: no frame for 6 s"."""
    head = " ".join(
        str(alert[k]) for k in ("rule" if "rule" in alert else "name", "subject", "state")
        if alert.get(k)
    )  # fmt: skip
    message = str(alert.get("message", ""))
    return f"{head}: {message}" if head and message else head or message


def _concerns(alert: Mapping[str, Any], instrument: str) -> bool:
    """The alert is about this instrument: its `instrument` or `subject` names it, or its
    `symbol` is the instrument's symbol."""
    if instrument in (alert.get("instrument"), alert.get("subject")):
        return True
    symbol = alert.get("symbol")
    return bool(symbol) and instrument.endswith(f":{symbol}")


def _engine_rows(engine: Mapping[str, Any]) -> str:
    state = str(engine.get("risk_state", "unknown"))
    refused = engine.get("refused") or {}
    total_refused = sum(refused.values()) if isinstance(refused, Mapping) else refused
    t2t = engine.get("tick_to_trade_us") or {}
    rows = [
        ("risk_state", "risk state", state, state),
        ("book_updates_per_s", "book updates/s", engine.get("book_updates_per_s", ""), ""),
        ("orders_sent", "orders sent", engine.get("orders_sent", ""), ""),
        ("rejected", "rejected", engine.get("rejected", ""), ""),
        ("refused", "refused by risk", total_refused, ""),
        ("t2t_p50", "tick-to-trade p50 (µs)", t2t.get("p50", ""), ""),
        ("t2t_p99", "tick-to-trade p99 (µs)", t2t.get("p99", ""), ""),
    ]
    return "".join(
        f"<tr><th>{_e(title)}</th>{_cell(field, value, css)}</tr>"
        for field, title, value, css in rows
    )


def _symbol_rows(
    symbols: Sequence[Mapping[str, Any]], state: str, alerts: Sequence[Mapping[str, Any]]
) -> str:
    out = []
    for row in symbols:
        instrument = str(row.get("instrument", ""))
        cells = [_cell("instrument", instrument, "text")]
        cells += [_cell(key, row.get(key, "")) for key, _ in SYMBOL_COLUMNS]
        cells.append(_cell("risk_state", state, state))
        mine = [_alert_text(a) for a in alerts if _concerns(a, instrument)][:ALERTS_PER_SYMBOL]
        cells.append(_cell("alerts", "; ".join(mine) or "-", "text"))
        out.append(f'<tr data-instrument="{_e(instrument)}">{"".join(cells)}</tr>')
    return "".join(out)


def _alert_rows(alerts: Sequence[Mapping[str, Any]]) -> str:
    if not alerts:
        return '<tr><td colspan="3" class="text">no recent alerts</td></tr>'
    return "".join(
        "<tr>"
        + _cell("time", _when(a), "text")
        + _cell("severity", a.get("severity", a.get("level", "")), "text")
        + _cell("alert", _alert_text(a), "text")
        + "</tr>"
        for a in alerts[:ALERTS_SHOWN]
    )


def render_page(
    status: Mapping[str, Any],
    alerts: Sequence[Mapping[str, Any]] = (),
    *,
    refresh_s: int = REFRESH_S,
    error: str = "",
) -> str:
    """The page for one status document and the alerts newest first (`error`: shown instead
    of the figures when the status could not be read)."""
    engine = status.get("engine") or {}
    state = str(engine.get("risk_state", "unknown"))
    heads = "".join(f"<th>{_e(title)}</th>" for _, title in SYMBOL_COLUMNS)
    body = (
        f'<p class="error" data-field="error">{_e(error)}</p>'
        if error
        else (
            f"<h2>Engine</h2><table>{_engine_rows(engine)}</table>"
            "<h2>Symbols</h2><table><tr><th>instrument</th>"
            f"{heads}<th>risk state</th><th>last alerts</th></tr>"
            f"{_symbol_rows(status.get('symbols') or [], state, alerts)}</table>"
        )
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{int(refresh_s)}">'
        f"<title>hft engine: {_e(state)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>hft engine</h1>{body}"
        "<h2>Recent alerts</h2><table><tr><th>time</th><th>severity</th><th>alert</th></tr>"
        f"{_alert_rows(alerts)}</table>"
        f"<p>Reloads every {int(refresh_s)} s. "
        '<a href="/status">/status</a> · <a href="/metrics">/metrics</a> · '
        '<a href="/health">/health</a></p></body></html>'
    )


def make_page_handler(status_fn: StatusFn, alerts_fn: AlertsFn) -> Handler:
    """The aiohttp handler of `/`: 200 with the page; 500 with a page that says why when the
    status cannot be read (an alerts source that fails costs only the alerts)."""

    async def page(request: web.Request) -> web.Response:
        try:
            alerts = list(alerts_fn())
        except Exception:
            log.exception("alerts source failed")
            alerts = [{"name": "alerts unavailable", "severity": "error"}]
        try:
            text, code = render_page(status_fn(), alerts), 200
        except Exception as exc:
            log.exception("status source failed")
            error = f"status unavailable: {type(exc).__name__}"
            text, code = render_page({}, alerts, error=error), 500
        return web.Response(text=text, status=code, content_type="text/html", charset="utf-8")

    return page
