"""Storm control: the first notification of a key goes out at once; repeats of that key
within the window are held back and counted, and when the window closes one summary
("... (N times)") goes out. A storm that goes on keeps its window open: one summary per
window, never one message per repeat. Windows run on the engine clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.clock import Clock, TimerHandle
from engine.notify.message import Notification


@dataclass(slots=True)
class _Window:
    timer: TimerHandle
    held: int = 0  # repeats held back since the last message of this key
    last: Notification | None = None


class StormFilter:
    """`admit(note)` says whether to send `note` now; summaries go to `emit`."""

    def __init__(
        self, clock: Clock, window_ns: Callable[[], int], emit: Callable[[Notification], object]
    ) -> None:
        self.clock = clock
        self._window_ns = window_ns  # read per window: a hot change applies to the next one
        self._emit = emit
        self._open: dict[str, _Window] = {}
        self.held = 0  # notifications folded into summaries
        self.summaries = 0

    def admit(self, note: Notification) -> bool:
        window = self._open.get(note.key)
        if window is not None:
            window.held += 1
            window.last = note
            self.held += 1
            return False
        if self._window_ns() <= 0:
            return True  # storm control off
        self._open[note.key] = _Window(self._schedule(note.key))
        return True

    def _schedule(self, key: str) -> TimerHandle:
        return self.clock.call_later(self._window_ns(), lambda: self._close(key))

    def _close(self, key: str) -> None:
        window = self._open.pop(key, None)
        if window is None or window.last is None:
            return
        # the window's repeats in one message; it stays open while the storm lasts
        self.summaries += 1
        self._open[key] = _Window(self._schedule(key))
        self._emit(window.last.summarize(window.held))

    def close(self) -> None:
        """Cancel the windows (the engine stops); held repeats are dropped, as counted."""
        for window in self._open.values():
            window.timer.cancel()
        self._open.clear()

    def __len__(self) -> int:
        return len(self._open)
