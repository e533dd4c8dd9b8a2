"""What the composition root hands the components it builds."""

from __future__ import annotations

from engine.app import _ws_options
from engine.gateway.gate import feed as gate_feed
from engine.gateway.okx import feed as okx_feed


def test_a_quiet_connection_is_pinged_before_it_can_look_stale() -> None:
    # OKX pings every 20 s, but the default stale limit is 5 s: the ping must come sooner,
    # or a quiet healthy connection would be reconnected every 5 s
    okx = _ws_options(5.0, okx_feed.KEEPALIVE_S)
    assert okx.stale_after_s == 5.0 and okx.keepalive_s == 2.5
    assert _ws_options(60.0, okx_feed.KEEPALIVE_S).keepalive_s == okx_feed.KEEPALIVE_S
    assert _ws_options(5.0, gate_feed.KEEPALIVE_S).keepalive_s == 2.5
