"""Soak: many concurrent clients through the real proxy for minutes, against local upstreams.

Run: .venv/bin/python -m bench soak [--clients 300] [--seconds 300]

``shadowlens run`` (scenario policy, SQLite) sits between asyncio clients and a local HTTPS
upstream (``bench/soak_upstream.py``, under uvicorn). Each client repeats one scenario:
AI chat over HTTP/1.1 keep-alive, over a new connection each time, over HTTP/2; non-AI
GETs; SSE streams; WebSocket sessions with a secret in one message; uploads with a
secret (redacted); requests to an unsanctioned service (blocked); an image generator
(coached). Every AI request carries an id in its path, so each stored detection can be
matched to the request that caused it.

Pass: no addon exception in the proxy's log, no lost or duplicated detection (the database
holds exactly the detections expected, by request id), no client error, RSS grows at most
10 % after warm-up, threads stay flat, and the descriptors return to their idle count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, ResponseReceived, StreamEnded
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

from bench.proxy_bench import rss_mb
from tests.e2e.conftest import (
    RunningProxy,
    routed_args,
    start_shadowlens,
    stop_shadowlens,
)
from tests.e2e.upstream import make_test_pki
from tests.net import closed_port

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "tests" / "fixtures" / "policy"
HOSTS = ["api.openai.com", "api.anthropic.com", "example.com", "chatgpt.com",
         "api.deepseek.com", "www.midjourney.com", "llm.internal.test"]  # fmt: skip
SECRET = "AKIAZ7Q2XK4M7TR3WB6P"
USER = {"X-Authenticated-User": "alice"}
ADDON_ERROR = re.compile(r"(?i)addon error|Traceback \(most recent call last\)")
REQUEST_ID = re.compile(r"soak-(\d+)")
WS_MESSAGES = 4
H2_REQUESTS = 5


def _chat(rid: str, *, secret: bool = False, stream: bool = False) -> bytes:
    text = f"request {rid}: summarise the notes" + (f" key {SECRET}" if secret else "")
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    return json.dumps(body | ({"stream": True} if stream else {})).encode()


@dataclass
class Tally:
    """What the clients sent: detections expected per request id, and what went wrong."""

    expected: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self) -> str:
        return f"{next(self.ids):08d}"


Scenario = Callable[[httpx.AsyncClient, Tally, "Env"], Awaitable[None]]


@dataclass
class Env:
    proxy: RunningProxy
    tls: ssl.SSLContext


async def _post_chat(
    client: httpx.AsyncClient, tally: Tally, host: str, status: int, *, secret: bool = False,
    extra: dict[str, str] | None = None,
) -> None:  # fmt: skip
    rid = tally.next_id()
    answer = await client.post(
        f"https://{host}/v1/chat/completions/soak-{rid}",
        content=_chat(rid, secret=secret and int(rid) % 5 == 0),
        headers=USER | {"content-type": "application/json"} | (extra or {}),
    )
    _expect(tally, rid, answer, status)


async def ai_keepalive(client: httpx.AsyncClient, tally: Tally, env: Env) -> None:
    await _post_chat(client, tally, "api.openai.com", 200, secret=True)  # some redacted


async def ai_new_connection(client: httpx.AsyncClient, tally: Tally, env: Env) -> None:
    await _post_chat(client, tally, "api.openai.com", 200, extra={"connection": "close"})


async def ai_http2(client: httpx.AsyncClient, tally: Tally, env: Env) -> None:
    """Several requests on one HTTP/2 connection (h2 on a CONNECT tunnel, as browsers do)."""
    host = "api.anthropic.com"
    reader, writer = await _tunnel(env, host, alpn=["h2"])
    try:
        h2 = H2Connection(H2Configuration(client_side=True, header_encoding="utf-8"))
        h2.initiate_connection()
        for _ in range(H2_REQUESTS):
            rid = tally.next_id()
            status = await _h2_request(reader, writer, h2, host, rid)
            tally.expected[rid] += 1
            tally.requests["http/2"] += 1
            if status != 200:
                tally.errors[f"http/2 answered {status}"] += 1
    finally:
        await _close(writer)


async def _h2_request(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    h2: H2Connection,
    host: str,
    rid: str,
) -> int:
    stream = h2.get_next_available_stream_id()
    body = _chat(rid)
    headers = [
        (":method", "POST"), (":scheme", "https"), (":authority", host),
        (":path", f"/v1/messages/soak-{rid}"), ("content-type", "application/json"),
        ("content-length", str(len(body))), *((k.lower(), v) for k, v in USER.items()),
    ]  # fmt: skip
    h2.send_headers(stream, headers)
    h2.send_data(stream, body, end_stream=True)
    status = 0
    while True:
        writer.write(h2.data_to_send())
        await writer.drain()
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("HTTP/2 connection closed")
        for event in h2.receive_data(data):
            if isinstance(event, ResponseReceived) and event.stream_id == stream:
                # str, not bytes: the connection decodes headers (header_encoding)
                status = int(dict(cast(list[tuple[str, str]], event.headers))[":status"])
            elif isinstance(event, DataReceived):
                h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, StreamEnded) and event.stream_id == stream:
                writer.write(h2.data_to_send())
                return status


async def _tunnel(
    env: Env, host: str, alpn: list[str] | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TLS connection to ``host`` through the proxy's CONNECT tunnel."""
    address = env.proxy.proxy_url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(address[0], int(address[1]))
    writer.write(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    if b" 200 " not in await reader.readuntil(b"\r\n\r\n"):
        await _close(writer)
        raise ConnectionError("CONNECT refused")
    context = env.tls
    if alpn:
        context = ssl.create_default_context(cafile=str(env.proxy.ca_file))
        context.set_alpn_protocols(alpn)
    await writer.start_tls(context, server_hostname=host)
    return reader, writer


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()


async def non_ai(client: httpx.AsyncClient, tally: Tally, env: Env) -> None:
    rid = tally.next_id()
    answer = await client.get(f"https://example.com/soak-{rid}")
    _expect(tally, rid, answer, 200, detections=0)


async def sse(client: httpx.AsyncClient, tally: Tally, env: Env) -> None:
    rid = tally.next_id()
    url = f"https://api.openai.com/v1/chat/completions/soak-{rid}"
    headers = USER | {"content-type": "application/json"}
    async with client.stream(
        "POST", url, content=_chat(rid, stream=True), headers=headers
    ) as answer:
        body = b"".join([chunk async for chunk in answer.aiter_bytes()])
    if not body.endswith(b"data: [DONE]\n\n"):
        tally.errors["SSE stream cut short"] += 1
    _expect(tally, rid, answer, 200)


async def upload(client: httpx.AsyncClient, tally: Tally, env: Env) -> None:
    rid = tally.next_id()
    notes = f"meeting notes {rid}\ndeploy key {SECRET}\n".encode()
    answer = await client.post(
        f"https://api.openai.com/v1/files/soak-{rid}",
        data={"purpose": "assistants"},
        files={"file": ("notes.txt", notes, "text/plain")},
        headers=USER,
    )
    _expect(tally, rid, answer, 200)


async def blocked(client: httpx.AsyncClient, tally: Tally, env: Env) -> None:
    await _post_chat(client, tally, "api.deepseek.com", 403)  # an unsanctioned service


async def coached(client: httpx.AsyncClient, tally: Tally, env: Env) -> None:
    rid = tally.next_id()
    page = USER | {"accept": "text/html"}  # a browser gets the coaching page itself
    answer = await client.get(f"https://www.midjourney.com/soak-{rid}", headers=page)
    _expect(tally, rid, answer, 200)


async def websocket(client: httpx.AsyncClient, tally: Tally, env: Env) -> None:
    """A WebSocket session through the proxy: CONNECT, TLS, upgrade, messages, close."""
    rid = tally.next_id()
    host = "chatgpt.com"
    reader, writer = await _tunnel(env, host)
    try:
        await _websocket_session(reader, writer, host, rid)
    finally:
        await _close(writer)
    tally.requests["websocket"] += 1
    tally.expected[rid] += 2  # the upgrade, and the one message with a finding


async def _websocket_session(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, rid: str
) -> None:
    ws = WSConnection(ConnectionType.CLIENT)
    headers = [(k.lower().encode(), v.encode()) for k, v in USER.items()]
    writer.write(ws.send(Request(host=host, target=f"/ws/soak-{rid}", extra_headers=headers)))
    await _until(reader, ws, AcceptConnection)
    for n in range(WS_MESSAGES):
        text = f"message {n} of {rid}" + (f" key {SECRET}" if n == 1 else "")
        writer.write(ws.send(TextMessage(data=text)))
        await _until(reader, ws, TextMessage)
    writer.write(ws.send(CloseConnection(code=1000)))
    await writer.drain()


async def _until(reader: asyncio.StreamReader, ws: WSConnection, kind: type) -> None:
    while True:
        for event in ws.events():
            if isinstance(event, kind):
                return
            if isinstance(event, CloseConnection):
                raise ConnectionError("WebSocket closed early")
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("WebSocket connection closed")
        ws.receive_data(data)


CLIENT_ERRORS = (httpx.HTTPError, OSError, ConnectionError, asyncio.IncompleteReadError)
SCENARIOS: tuple[Scenario, ...] = (ai_keepalive, ai_new_connection, ai_http2, non_ai, sse,
                                   websocket, upload, blocked, coached)  # fmt: skip


def _expect(
    tally: Tally, rid: str, answer: httpx.Response, status: int, detections: int = 1
) -> None:
    tally.expected[rid] += detections
    tally.requests[answer.request.url.host] += 1
    if answer.status_code != status:
        tally.errors[f"{answer.request.url.host} answered {answer.status_code}"] += 1


async def _client_loop(index: int, deadline: float, tally: Tally, env: Env) -> None:
    scenario = SCENARIOS[index % len(SCENARIOS)]
    async with httpx.AsyncClient(
        proxy=env.proxy.proxy_url, verify=env.tls, timeout=60, trust_env=False
    ) as client:
        while time.monotonic() < deadline:
            try:
                await scenario(client, tally, env)
            except CLIENT_ERRORS as exc:
                tally.errors[f"{scenario.__name__}: {type(exc).__name__} {exc}"[:160]] += 1


async def drive(env: Env, clients: int, seconds: float) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(_client_loop(i, deadline, tally, env) for i in range(clients)))
    return tally


@dataclass
class Sample:
    at: float
    rss_mb: float
    threads: int
    fds: int


def sample(pid: int, started: float) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = rss_mb(pid)  # the scan workers' with the proxy's
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return Sample(
        time.monotonic() - started, rss, threads, sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
    )


class Sampler(threading.Thread):
    """Samples the proxy's RSS (its scan workers' included), threads and descriptors once a
    second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.started = time.monotonic()
        self.samples: list[Sample] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            with contextlib.suppress(OSError, AttributeError):
                self.samples.append(sample(self.pid, self.started))


@dataclass
class Result:
    """The soak's figures and verdicts."""

    clients: int
    seconds: float
    requests: dict[str, int]
    requests_per_second: float
    expected_detections: int
    stored_detections: int
    lost: int
    duplicated: int
    unexpected: int
    client_errors: dict[str, int]
    addon_errors: int
    rss_mb_after_warmup: float
    rss_mb_at_end: float
    rss_growth: float
    threads_after_warmup: int
    threads_at_end: int
    fds_idle_before: int
    fds_idle_after: int
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


def stored(db: Path) -> Counter[str]:
    """Detections in the database per request id."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        paths = [row[0] for row in conn.execute("SELECT path FROM detections")]
    return Counter(m.group(1) for p in paths if (m := REQUEST_ID.search(p)))


def _verdict(result: dict[str, Any]) -> list[str]:
    checks = {
        "addon exceptions in the proxy log": result["addon_errors"] == 0,
        "lost detections": result["lost"] == 0,
        "duplicated or unexpected detections": result["duplicated"] + result["unexpected"] == 0,
        "client errors": not result["client_errors"],
        "RSS grew more than 10 % after warm-up": result["rss_growth"] <= 0.10,
        "threads grew": result["threads_at_end"] <= result["threads_after_warmup"] + 2,
        "descriptors not back to idle": result["fds_idle_after"] <= result["fds_idle_before"] + 8,
    }
    return [name for name, ok in checks.items() if not ok]


@contextlib.contextmanager
def servers(data_dir: Path) -> Iterator[RunningProxy]:
    """The soak upstream and ``shadowlens run`` (scenario policy) in front of it."""
    ca, cert, key = make_test_pki(data_dir, HOSTS)
    port = closed_port()
    command = [sys.executable, "-m", "bench.soak_upstream", str(port), str(cert), str(key)]
    upstream = subprocess.Popen(command, cwd=ROOT)
    env = {
        "SHADOWLENS_POLICY_FILE": str(POLICY / "scenario.yaml"),
        "SHADOWLENS_IDENTITY_FILE": str(POLICY / "identities.yaml"),
        "SHADOWLENS_TRUSTED_PROXIES": "127.0.0.1/32",
    }
    try:
        _wait_listening(port)
        routes = routed_args(SimpleNamespace(port=port, ca_file=ca))  # type: ignore[arg-type]
        proxy = start_shadowlens(data_dir / "data", routes, env)
        try:
            yield proxy
        finally:
            stop_shadowlens(proxy)  # the writer drains before the database is read
    finally:
        upstream.terminate()
        upstream.wait(timeout=30)


def soak(clients: int, seconds: float, data_dir: Path) -> tuple[Result, str]:
    """Run the soak: its figures, and the proxy's output. Both servers are stopped after."""
    with servers(data_dir) as proxy:
        tally, samples, elapsed, idle = _load(proxy, clients, seconds)
    return _result(proxy, tally, samples, clients, elapsed, idle), "".join(proxy.output)


def _load(
    proxy: RunningProxy, clients: int, seconds: float
) -> tuple[Tally, list[Sample], float, tuple[int, int]]:
    """Drive the clients while sampling; the descriptors idle before and after."""
    tls = ssl.create_default_context(cafile=str(proxy.ca_file))
    pid = proxy.process.pid
    time.sleep(2)
    idle_before = sample(pid, 0).fds
    sampler = Sampler(pid)
    sampler.start()
    started = time.monotonic()
    tally = asyncio.run(drive(Env(proxy, tls), clients, seconds))
    elapsed = time.monotonic() - started
    sampler.stopped.set()
    time.sleep(5)  # the clients' connections close, the writer catches up
    return tally, sampler.samples, elapsed, (idle_before, sample(pid, 0).fds)


def _result(proxy: RunningProxy, tally: Tally, samples: list[Sample], clients: int,
            elapsed: float, idle: tuple[int, int]) -> Result:  # fmt: skip
    found = stored(proxy.data_dir / "shadowlens.db")
    expected = +tally.expected
    warm = max(5.0, elapsed * 0.2)
    after_warmup = [s for s in samples if s.at >= warm] or samples
    head, tail = after_warmup[:3], after_warmup[-3:]
    rss_warm = statistics.median(s.rss_mb for s in head)
    rss_end = max(s.rss_mb for s in tail)
    figures: dict[str, Any] = {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": dict(tally.requests),
        "requests_per_second": round(sum(tally.requests.values()) / elapsed, 1),
        "expected_detections": sum(expected.values()),
        "stored_detections": sum(found.values()),
        "lost": sum((expected - found).values()),
        "duplicated": sum((found - expected)[k] for k in expected),
        "unexpected": sum(n for k, n in found.items() if k not in expected),
        "client_errors": dict(tally.errors),
        "addon_errors": sum(1 for line in proxy.output if ADDON_ERROR.search(line)),
        "rss_mb_after_warmup": round(rss_warm, 1),
        "rss_mb_at_end": round(rss_end, 1),
        "rss_growth": round(rss_end / rss_warm - 1, 3),
        "threads_after_warmup": max(s.threads for s in head),
        "threads_at_end": max(s.threads for s in tail),
        "fds_idle_before": idle[0],
        "fds_idle_after": idle[1],
    }
    return Result(**figures, failures=_verdict(figures))


def _wait_listening(port: int) -> None:
    import socket

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.2)
    raise RuntimeError("the soak upstream did not start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench soak", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--log", type=Path, help="write the proxy's output to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="shadowlens-soak-") as folder:
        result, output = soak(args.clients, args.seconds, Path(folder))
    if args.log:
        args.log.write_text(output)
    figures = dict(vars(result))
    print(json.dumps(figures, indent=2) if args.json else _report(figures))
    return 0 if result.passed else 1


def _report(figures: dict[str, Any]) -> str:
    lines = [f"{name}: {value}" for name, value in figures.items() if name != "failures"]
    verdict = "PASS" if not figures["failures"] else "FAIL: " + "; ".join(figures["failures"])
    return "\n".join([*lines, verdict])


if __name__ == "__main__":
    sys.exit(main())
