"""Typing of engine/gateway/ws_listener.pyx (the picows listener behind WsConnection)."""

from typing import Any

from picows import WSListener

from engine._core.frame_handler import FrameHandler

class WsStats:
    messages: int
    bytes: int
    last_message_ns: int
    def as_dict(self) -> dict[str, int]: ...

class FrameListener(WSListener):
    def __init__(
        self,
        conn: Any,
        handler: FrameHandler | None,
        stats: WsStats,
        clock: Any,
        system_clock: bool,
        recorder: Any = None,
    ) -> None: ...
