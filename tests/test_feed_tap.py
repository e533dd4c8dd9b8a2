"""The bounded hand-off from a feed to slow consumers never blocks and counts its drops."""

from __future__ import annotations

from engine.data.feed import Tap


def test_tap_keeps_the_newest_and_counts_what_it_dropped() -> None:
    tap = Tap(capacity=3)
    for i in range(5):
        tap.append(i)
    assert len(tap) == 3 and tap.dropped == 2
    assert tap.drain() == [2, 3, 4]
    assert len(tap) == 0
    tap.append(9)
    assert tap.drain() == [9] and tap.dropped == 2
