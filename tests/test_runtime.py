from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from engine.component import Component, ComponentState
from engine.runtime import available_cpus, new_event_loop, pin_process, run


def test_loop_is_uvloop() -> None:
    loop = new_event_loop()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()
    assert run(asyncio.sleep(0, result=7)) == 7


def test_pinning_in_a_child_process() -> None:
    # pin a child, never the test process itself
    cpu = min(available_cpus())
    code = (
        "from engine.runtime import pin_process; import os;"
        f"print(sorted(pin_process([{cpu}])), sorted(os.sched_getaffinity(0)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [f"[{cpu}]", f"[{cpu}]"]


def test_impossible_cpu_list_is_refused() -> None:
    impossible = max(available_cpus()) + 64
    with pytest.raises(ValueError, match=rf"CPUs \[{impossible}\] are not available"):
        pin_process([impossible])
    assert pin_process([]) == set(os.sched_getaffinity(0))


class Probe(Component):
    name = "probe"

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.starts = 0
        self.stops = 0

    async def _on_start(self) -> None:
        self.starts += 1
        if self.fail:
            raise RuntimeError("cannot start")

    async def _on_stop(self) -> None:
        self.stops += 1


async def test_component_lifecycle_is_idempotent() -> None:
    probe = Probe()
    await probe.stop()  # never started: nothing to do
    assert probe.stops == 0 and probe.state is ComponentState.STOPPED
    probe = Probe()
    await probe.start()
    await probe.start()
    assert probe.running and probe.starts == 1
    await probe.stop()
    await probe.stop()
    assert probe.stops == 1 and probe.state is ComponentState.STOPPED


async def test_failed_start_is_marked_and_can_be_stopped() -> None:
    probe = Probe(fail=True)
    with pytest.raises(RuntimeError):
        await probe.start()
    assert probe.state is ComponentState.FAILED
    await probe.stop()
    assert probe.stops == 1


def test_startup_objects_are_frozen_and_later_cycles_still_collected() -> None:
    # in a child: freezing the test process would change every later test's collector
    code = """
import gc
from engine.runtime.gc_policy import freeze_after_start
import engine.app  # the engine's modules, as a started engine holds them
frozen = freeze_after_start()
assert frozen == gc.get_freeze_count() > 10_000, frozen
class Node:
    pass
node = Node()
node.me = node  # a cycle made after the start: only the collector frees it
del node
print(gc.collect())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 1
