"""A WebSocket message flood through the real proxy: memory stays bounded, nothing is lost,
and the proxy keeps serving."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import httpx
import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Ping, Request, TextMessage

from bench.soak import SECRET, Env, _close, _tunnel, sample, servers

pytestmark = pytest.mark.e2e

MESSAGES = 40_000
SIZE = 1024  # 40 MiB up and as much echoed down
EVERY = 1000  # one message in this many carries a secret
BATCH = 200
STALL_SECONDS = 120


async def _flood(env: Env, pid: int) -> float:
    """Send the flood on one connection; the proxy's RSS growth (MiB) before it closes."""
    reader, writer = await _tunnel(env, "chatgpt.com")
    ws = WSConnection(ConnectionType.CLIENT)
    headers = [(b"x-authenticated-user", b"alice")]
    writer.write(ws.send(Request(host="chatgpt.com", target="/ws/flood", extra_headers=headers)))
    await _receive(reader, writer, ws, AcceptConnection, 1)
    before = sample(pid, 0).rss_mb
    for start in range(0, MESSAGES, BATCH):
        for n in range(start, start + BATCH):
            text = (f"{n} key {SECRET} " if n % EVERY == 0 else f"{n} ").ljust(SIZE, "x")
            writer.write(ws.send(TextMessage(data=text)))
        await _receive(reader, writer, ws, TextMessage, BATCH)
    growth = sample(pid, 0).rss_mb - before
    writer.write(ws.send(CloseConnection(code=1000)))
    await _close(writer)
    return growth


async def _receive(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    ws: WSConnection,
    kind: type,
    count: int,
) -> None:
    while count:
        for event in ws.events():
            count -= isinstance(event, kind)
            if isinstance(event, Ping):  # the upstream (uvicorn) closes a peer that never pongs
                writer.write(ws.send(event.response()))
        if count:
            try:  # a stall fails the test; it must not hang the suite
                data = await asyncio.wait_for(reader.read(1 << 16), STALL_SECONDS)
            except TimeoutError:
                raise AssertionError(f"nothing came back for {STALL_SECONDS} s") from None
            assert data, "the proxy closed the WebSocket"
            ws.receive_data(data)


def test_a_websocket_flood(tmp_path: Path) -> None:
    with servers(tmp_path) as proxy:
        tls = ssl.create_default_context(cafile=str(proxy.ca_file))
        growth = asyncio.run(_flood(Env(proxy, tls), proxy.process.pid))
        with httpx.Client(proxy=proxy.proxy_url, verify=tls, trust_env=False) as client:
            assert client.get("https://example.com/", timeout=30).status_code == 200
        flagged = proxy.wait_for_detections(
            MESSAGES // EVERY + 1, timeout=30, service="chatgpt", limit="200"
        )
    # every message with a secret recorded (method WS, with its finding), plus the upgrade
    assert sum(d["method"] == "WS" for d in flagged) == MESSAGES // EVERY
    assert growth < 32, f"the proxy grew {growth:.0f} MiB holding a {MESSAGES}-message session"
