"""MessageTrimmer: a WebSocket flow keeps only the message being handled, not every one."""

from __future__ import annotations

from mitmproxy import http


class MessageTrimmer:
    """mitmproxy appends each message of a WebSocket flow to ``flow.websocket.messages`` and
    never lets go of them, so one long session would grow the proxy without bound. Our
    addons read only the newest message; this runs after them and drops the older ones."""

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is not None and len(flow.websocket.messages) > 1:
            del flow.websocket.messages[:-1]
