"""The same cases under pytest-benchmark (opt-in: `pytest bench/`; not in the default run).

Each registered case's candidate and baseline run as two benchmarks of one batch, grouped by
case so pytest-benchmark's comparison table shows them side by side.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench import runner

CASES = sorted(runner.discover())


@pytest.mark.parametrize("side", ["candidate", "baseline"])
@pytest.mark.parametrize("name", CASES)
def test_case(benchmark: Any, name: str, side: str) -> None:
    pair = runner.build(name)
    ops = pair.candidate if side == "candidate" else pair.baseline
    benchmark.group = name
    benchmark.extra_info["ops_per_round"] = pair.batch
    benchmark(ops, pair.batch)
