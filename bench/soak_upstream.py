"""The soak's local HTTPS upstream: an ASGI app under uvicorn, as AI and ordinary sites.

POST .../chat/completions answers JSON, or an SSE stream when the body asks for one;
POST .../messages an Anthropic message; any other POST (uploads) a small JSON; GET an HTML
page; a WebSocket echoes every message. Run: python -m bench.soak_upstream PORT CERT KEY
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

CHAT = json.dumps(
    {"id": "chatcmpl-soak", "object": "chat.completion", "model": "gpt-4o-mini",
     "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"},
                  "finish_reason": "stop"}]}
).encode()  # fmt: skip
MESSAGE = json.dumps(
    {"id": "msg_soak", "type": "message", "role": "assistant", "model": "claude-soak",
     "content": [{"type": "text", "text": "pong"}], "stop_reason": "end_turn"}
).encode()  # fmt: skip
CHUNK = b'data: {"object":"chat.completion.chunk","choices":[{"delta":{"content":"tok"}}]}\n\n'
STREAM_CHUNKS = 8


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await _echo(receive, send)
    elif scope["type"] == "http":
        body = await _body(receive)
        await _answer(scope, body, send)


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        event = await receive()
        chunks.append(event.get("body", b""))
        if not event.get("more_body"):
            return b"".join(chunks)


async def _answer(scope: Scope, body: bytes, send: Send) -> None:
    path = scope["path"]
    if scope["method"] != "POST":
        await _send(send, b"<html><body><h1>plain site</h1></body></html>", "text/html")
    elif "/chat/completions" in path and b'"stream": true' in body:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
        for _ in range(STREAM_CHUNKS):
            await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
    elif "/messages" in path:
        await _send(send, MESSAGE, "application/json")
    else:
        await _send(send, CHAT, "application/json")


async def _send(send: Send, body: bytes, content_type: str) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _echo(receive: Receive, send: Send) -> None:
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": event.get("text") or "binary"})
        else:
            return


def main() -> None:
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    uvicorn.run(app, host="127.0.0.1", port=port, ssl_certfile=cert, ssl_keyfile=key,
                ws="wsproto", log_level="warning", backlog=2048)  # fmt: skip


if __name__ == "__main__":
    main()
