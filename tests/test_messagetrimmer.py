"""MessageTrimmer: a long WebSocket session does not keep every message in memory."""

from __future__ import annotations

from mitmproxy import websocket
from mitmproxy.test import tflow
from wsproto.frame_protocol import Opcode

from shadowlens.addons.messagetrimmer import MessageTrimmer


def test_only_the_newest_message_is_kept() -> None:
    flow = tflow.twebsocketflow()
    assert flow.websocket is not None
    trimmer = MessageTrimmer()
    for n in range(1000):
        message = websocket.WebSocketMessage(Opcode.TEXT, True, f"message {n}".encode())
        flow.websocket.messages.append(message)
        trimmer.websocket_message(flow)
    assert [m.text for m in flow.websocket.messages] == ["message 999"]
