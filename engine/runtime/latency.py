"""Python side of the latency histograms (engine/_core/latency.pyx): stamping stages by name,
a one-line summary for status output, and an atomic JSON dump for later analysis.

None of this is for the per-event hot path of Cython code, which calls StageRecorder.c_stamp /
c_finish and Histogram.c_record directly; `summary_line` and `dump_json` allocate and belong
on a timer (a status line every few seconds, a dump at stop).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from engine._core.latency import Histogram, StageRecorder

__all__ = ["Histogram", "StageClock", "StageRecorder", "dump_json", "summary_line"]


class StageClock:
    """A StageRecorder stamped by stage name from one nanosecond clock.

    Every stamp of a pass must come from the same clock: when the first stage is a frame's
    receive time (wall time: `Clock.time_ns`), pass `now=clock.time_ns`. The default,
    time.monotonic_ns, never goes backwards, so a pass can only see ERR_ORDER if stamped out
    of order. Names are resolved once here; a mark is a dict lookup, a clock read and a call.
    """

    __slots__ = ("_index", "_now", "recorder")

    def __init__(self, recorder: StageRecorder, now: Callable[[], int] = time.monotonic_ns):
        self.recorder = recorder
        self._now = now
        self._index = {name: i for i, name in enumerate(recorder.stage_names)}

    def mark(self, stage: str, now_ns: int | None = None) -> int:
        """Stamp `stage` at now_ns (default: the clock now); the recorder's status. KeyError
        for an unknown stage name: a typo must not pass silently."""
        return self.recorder.stamp(self._index[stage], self._now() if now_ns is None else now_ns)

    def finish(self) -> int:
        """Record the pass: stages stamped, or latency.ERR_ORDER (see StageRecorder.finish)."""
        return self.recorder.finish()


def summary_line(recorder: StageRecorder | Histogram) -> str:
    """Status-line figures, "p50=12.3us p99=45.6us n=1234", of a histogram or of a recorder's
    first-to-last total; " over=N" is added when N values were above highest_ns (then the
    figures are lower bounds)."""
    hist = recorder.total if isinstance(recorder, StageRecorder) else recorder
    p50, p99 = hist.percentiles([50.0, 99.0])
    line = f"p50={p50 / 1000:.1f}us p99={p99 / 1000:.1f}us n={hist.count}"
    return f"{line} over={hist.overflow}" if hist.overflow else line


def dump_json(
    path: str | os.PathLike[str], recorders: Mapping[str, StageRecorder | Histogram]
) -> None:
    """Write {name: to_dict()} to `path` atomically: a temporary file in the same directory,
    flushed to disk, then renamed over `path`, so a reader sees the old file or the new one,
    never half of one (a crash leaves at most a stray `.tmp`, never a torn dump)."""
    target = Path(path)
    doc = {name: rec.to_dict() for name, rec in recorders.items()}
    data = json.dumps(doc, indent=1).encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
