"""The benchmark runner's arithmetic and its command line (not the figures themselves)."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from bench import runner


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert runner.percentile(values, 99) == 99.0
    assert runner.percentile(values, 50) == 50.0
    assert runner.percentile(values, 100) == 100.0
    assert runner.percentile([5.0], 99) == 5.0
    assert runner.percentile([3.0, 1.0, 2.0], 0) == 1.0


def test_select_by_exact_name_and_prefix() -> None:
    assert runner.select(["fixed.parse_price"]) == ["fixed.parse_price"]
    assert "position.fill" in runner.select(["position"])
    with pytest.raises(KeyError, match="no benchmark case 'nope'"):
        runner.select(["nope"])


def test_measure_counts_operations_and_alternates_both_sides() -> None:
    calls = {"ours": 0, "theirs": 0}

    def ours(n: int) -> None:
        calls["ours"] += n

    def theirs(n: int) -> None:
        calls["theirs"] += n

    result = runner.measure("t", runner.Pair(ours, theirs, batch=10), samples=7, warmup=2)
    assert calls == {"ours": 90, "theirs": 90}
    assert result.n == 70
    assert result.p99_ns >= result.median_ns > 0
    assert result.ratio == pytest.approx(result.baseline_median_ns / result.median_ns)
    assert set(result.as_json()) == {
        "median_ns",
        "p99_ns",
        "baseline_median_ns",
        "baseline_p99_ns",
        "ratio",
        "n",
    }


def test_cli_json_output() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", "fixed.parse_price"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    doc = orjson.loads(out.stdout)
    assert list(doc) == ["fixed.parse_price"]
    fields = doc["fixed.parse_price"]
    assert fields["n"] > 0 and fields["median_ns"] > 0
    assert fields["ratio"] == pytest.approx(
        fields["baseline_median_ns"] / fields["median_ns"], rel=0.02
    )
    assert "[1/1] fixed.parse_price" in out.stderr


def test_cli_unknown_case_exits_2() -> None:
    out = subprocess.run([sys.executable, "-m", "bench", "nope"], capture_output=True, text=True)
    assert out.returncode == 2 and "no benchmark case 'nope'" in out.stderr
