"""`python -m bench feed.*_frame --frames FILE`: a user's own recording played through the
engine's frame handler, its final book reported, and a bad file refused with one line naming
the line (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from bench import runner, workload

SAMPLE = workload.sample_path("binance")


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _refused(out: subprocess.CompletedProcess[str]) -> str:
    """The one stderr line of a refused file (exit 2, nothing on stdout)."""
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("bench: error: ")
    return lines[0]


def _best(w: workload.Workload) -> dict[str, str]:
    assert w.final_bids and w.final_asks
    price, qty = w.instrument.price_grid.to_str, w.instrument.qty_grid.to_str
    (bid, bid_size), (ask, ask_size) = w.final_bids[0], w.final_asks[0]
    return {
        "best_bid": price(bid),
        "best_bid_size": qty(bid_size),
        "best_ask": price(ask),
        "best_ask_size": qty(ask_size),
    }


def _depth_lines(lines: list[bytes], key: bytes) -> list[int]:
    """1-based numbers of the lines that are depth frames of the stream `key`."""
    return [i for i, line in enumerate(lines, 1) if i > 1 and key in line[:80]]


def test_the_shipped_sample_is_what_the_generator_writes() -> None:
    lines, _ = workload.recording("binance")
    assert SAMPLE.read_bytes() == b"\n".join(lines) + b"\n", (
        "bench/data is stale: python -m bench.workload --sample binance"
    )
    assert 200 <= len(lines) <= 400


def test_frames_option_on_the_sample_reports_the_final_book() -> None:
    _, w = workload.recording("binance")
    out = _bench("feed.binance_frame", "--frames", str(SAMPLE), "--quick", "--json")
    assert out.returncode == 0, out.stderr
    doc = orjson.loads(out.stdout)["feed.binance_frame"]
    assert doc["median_ns"] > 0 and doc["baseline_median_ns"] > 0 and doc["n"] > 0
    final = doc["final_book"]
    assert {k: final[k] for k in _best(w)} == _best(w)
    assert final["best_bid"] == "64999.87"  # on the grid: 2 decimals, sizes 5
    assert len(final["best_bid_size"].split(".")[1]) == 5
    frames = doc["frames_file"]
    # three frames arrived before the snapshot; a trade after every 20 frames
    assert (frames["applied"], frames["skipped"], frames["other"]) == (197, 3, 10)
    assert (frames["tick"], frames["lot"], frames["symbol"]) == ("0.01", "0.00001", "BTCUSDT")


def test_frames_table_output_names_the_final_book() -> None:
    out = _bench("feed.binance_frame", "--frames", str(SAMPLE), "--quick")
    assert out.returncode == 0, out.stderr
    assert "final best bid 64999.87 x 0.00381, best ask 64999.88 x 0.31892" in out.stdout


@pytest.mark.parametrize("venue", ["okx", "gate"])
def test_okx_and_gate_recordings_end_on_the_generators_book(
    tmp_path: Path, venue: workload.Venue
) -> None:
    path = tmp_path / f"{venue}.jsonl"
    w = workload.write_recording(path, venue)
    pair = runner.build(f"feed.{venue}_frame", runner.Options(quick=True, frames=path))
    final = pair.report["final_book"]
    assert {k: final[k] for k in _best(w)} == _best(w)
    assert pair.report["frames_file"]["other"] == 10
    pair.candidate(pair.batch)  # the timed sides play
    pair.baseline(pair.batch)
    pair.between()


def test_a_malformed_line_is_named(tmp_path: Path) -> None:
    lines = SAMPLE.read_bytes().splitlines()
    lines[9] = lines[9][:60]  # line 10, cut short
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join(lines) + b"\n")
    message = _refused(_bench("feed.binance_frame", "--frames", str(bad), "--quick", "--json"))
    assert f"{bad}:10: not valid JSON" in message
    assert "fix or delete the line" in message


def test_a_gap_is_named(tmp_path: Path) -> None:
    lines = SAMPLE.read_bytes().splitlines()
    depth = _depth_lines(lines, b"@depth")
    drop = depth[len(depth) // 2]
    del lines[drop - 1]
    gap = tmp_path / "gap.jsonl"
    gap.write_bytes(b"\n".join(lines) + b"\n")
    message = _refused(_bench("feed.binance_frame", "--frames", str(gap), "--quick"))
    # the frame after the dropped one now sits on the dropped one's line
    assert f"{gap}:{drop}: out of sequence" in message
    assert "missing" in message


def test_an_okx_gap_is_named(tmp_path: Path) -> None:
    path = tmp_path / "okx.jsonl"
    workload.write_recording(path, "okx", trade_every=0)
    lines = path.read_bytes().splitlines()
    del lines[40]  # line 41
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(runner.CaseError, match=r"okx\.jsonl:41: out of sequence: prevSeqId"):
        runner.build("feed.okx_frame", runner.Options(quick=True, frames=path))


def test_a_wrong_grid_is_refused_with_what_to_do() -> None:
    message = _refused(_bench("feed.binance_frame", "--frames", str(SAMPLE), "--tick", "0.1"))
    assert f"{SAMPLE}:1:" in message
    assert "off the instrument's grid (tick 0.1" in message and "--tick" in message


def test_a_first_line_that_is_not_the_snapshot_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nosnap.jsonl"
    path.write_bytes(b"\n".join(SAMPLE.read_bytes().splitlines()[1:]) + b"\n")
    message = _refused(_bench("feed.binance_frame", "--frames", str(path)))
    assert f"{path}:1: not a Binance snapshot" in message and "/api/v3/depth" in message


def test_frames_needs_one_recordable_case() -> None:
    message = _refused(_bench("feed", "--frames", str(SAMPLE)))
    assert "feed.binance_frame, feed.gate_frame, feed.okx_frame" in message
    message = _refused(_bench("feed.binance_frame", "--tick", "0.01"))
    assert "--frames" in message
