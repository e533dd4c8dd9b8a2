"""How long a task holds the event loop: each step of its coroutine (from one resumption to
its next await) timed in wall time and in the thread's CPU time.

A loop-lag probe (a task asking for short sleeps) says how late the loop came back, for any
reason: another task's step, but also the operating system running something else (on a
2-core machine the database server itself). The CPU time of a step excludes the time the
thread was not running, so the longest step in CPU time is how long the task itself held the
loop; wall minus CPU is what the machine added. A collection of Python's cyclic garbage
collector runs inside whichever step allocated last: it is timed by `gc.callbacks` and taken
out of the step (`max_cpu_ns`), and reported on its own (`gc_max_ns`, `gc_count`): a pause
of the process, not of the task.
"""

from __future__ import annotations

import gc
import os
import time
import types
from collections.abc import Coroutine, Generator
from typing import Any


class GcTimes:
    """Every collection of the cyclic garbage collector while installed: total, count, max."""

    def __init__(self) -> None:
        self.total_ns = self.count = self.max_ns = 0
        self._started = 0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter_ns()
        if phase == "start":
            self._started = now
            return
        spent = now - self._started
        self.total_ns += spent
        self.count += 1
        self.max_ns = max(self.max_ns, spent)

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def remove(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)


class StepTimes:
    """The steps of one or more wrapped coroutines: counts and maxima, in ns, garbage
    collections taken out (and counted in `gc`)."""

    def __init__(self) -> None:
        self.steps = 0
        self.max_cpu_ns = 0
        self.max_wall_ns = 0
        self.cpu: list[int] = []
        self.gc = GcTimes()

    def record(self, cpu_ns: int, wall_ns: int, gc_ns: int) -> None:
        self.steps += 1
        own = max(0, cpu_ns - gc_ns)
        self.cpu.append(own)
        self.max_cpu_ns = max(self.max_cpu_ns, own)
        self.max_wall_ns = max(self.max_wall_ns, wall_ns - gc_ns)

    def clear(self) -> None:
        self.steps = self.max_cpu_ns = self.max_wall_ns = 0
        self.cpu.clear()
        self.gc.count = self.gc.max_ns = 0  # total_ns stays: steps take differences of it


@types.coroutine
def timed(coro: Coroutine[Any, Any, Any], times: StepTimes) -> Generator[Any, Any, Any]:
    """Run `coro` as it would run, timing each of its steps into `times` (install
    `times.gc` for the collections to be taken out)."""
    cpu, wall = time.thread_time_ns, time.perf_counter_ns
    value: Any = None
    error: BaseException | None = None
    while True:
        collected = times.gc.total_ns
        c0, w0 = cpu(), wall()
        try:
            yielded = coro.send(value) if error is None else coro.throw(error)
        except StopIteration as done:
            times.record(cpu() - c0, wall() - w0, times.gc.total_ns - collected)
            return done.value
        except BaseException:
            times.record(cpu() - c0, wall() - w0, times.gc.total_ns - collected)
            raise
        times.record(cpu() - c0, wall() - w0, times.gc.total_ns - collected)
        try:
            value, error = (yield yielded), None
        except BaseException as exc:  # cancellation or a thrown error goes to the coroutine
            value, error = None, exc


def steal_ns() -> int:
    """Time the hypervisor ran something else on this machine's CPUs (all of them, since
    boot; /proc/stat's `steal`), 0 where it is not kept: a thread's CPU time includes the
    spells its virtual CPU was taken away, so steal explains a step that reads long."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return 0
    ticks = int(fields[8]) if len(fields) > 8 and fields[0] == "cpu" else 0
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
