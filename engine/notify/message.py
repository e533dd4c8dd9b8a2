"""What a sink is given: one notification, already decided on; sinks only format and send."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("info", "warning", "critical")


def severity_rank(severity: str) -> int:
    """info 0, warning 1, critical 2; an unknown name counts as critical (never filtered)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES) - 1


@dataclass(frozen=True, slots=True)
class Notification:
    """`key` groups repeats for storm control (an alert's rule, subject and state). A summary
    (`summary` true) stands for `count` repeats of the key that were held back."""

    key: str
    severity: str
    title: str
    text: str
    ts_ns: int
    count: int = 1
    summary: bool = False
    fields: Mapping[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """One human line: `[CRITICAL] title: text (N times)`."""
        times = f" ({self.count} times)" if self.summary else ""
        return f"[{self.severity.upper()}] {self.title}: {self.text}{times}"

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["fields"] = dict(self.fields)
        return out

    def summarize(self, count: int) -> Notification:
        return dataclasses.replace(self, count=count, summary=True)
