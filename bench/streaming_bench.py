"""Streaming through the proxy: time to first token of an SSE completion, and a 50 MB upload.

Run: .venv/bin/python bench/streaming_bench.py [--rounds 5] [--requests 20] [--upload-mb 50]

The upstream is a small HTTPS server here: a chat completion with ``"stream": true`` is
answered with ten SSE events 50 ms apart (so a proxy that held the stream back would add
half a second), any other POST is read to its end and answered with a short JSON. The same
requests go direct (the client talks TLS to the upstream itself), through plain mitmdump
and through ``shadowlens proxy``, both as explicit proxies with TLS interception and the
loopback routing of tests/e2e/loopback_routes.py. Rounds are interleaved; medians printed:

- time to first token: from sending the request to the first SSE event's bytes, on a warm
  keep-alive connection, and the time added against direct; every stream must arrive byte
  for byte as the upstream sent it;
- the upload: a 50 MB body to a non-AI host, MB/s as the client saw it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: bench and tests are not installed

from bench.proxy_bench import free_port, proxy  # noqa: E402
from bench.proxy_tls_bench import AI_HOST, WEB_HOST, commands, environments  # noqa: E402
from tests.e2e.upstream import make_test_pki  # noqa: E402

EVENTS = 10
GAP_SECONDS = 0.05
CHUNK = b'data: {"choices":[{"delta":{"content":"token %02d"}}]}\n\n'
STREAM = b"".join(CHUNK % n for n in range(EVENTS)) + b"data: [DONE]\n\n"
DIRECT = "direct"


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One keep-alive connection: SSE for a streamed chat completion, else a short JSON."""
    try:
        while head := await reader.readuntil(b"\r\n\r\n"):
            length = _content_length(head)
            streamed = b"/chat/completions" in head.split(b"\r\n", 1)[0]
            while length > 0:
                length -= len(await reader.read(min(length, 1 << 20)))
            if streamed:
                await _sse(writer)
            else:
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n" + b'{"ok":true}')
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def _content_length(head: bytes) -> int:
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


async def _sse(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n")
    writer.write(b"transfer-encoding: chunked\r\n\r\n")
    for n in range(EVENTS):
        event = CHUNK % n
        writer.write(b"%x\r\n%s\r\n" % (len(event), event))
        await writer.drain()
        await asyncio.sleep(GAP_SECONDS)
    done = b"data: [DONE]\n\n"
    writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))


def start_upstream(port: int, cert: Path, key: Path) -> None:
    """The upstream in a daemon thread, listening before this returns."""
    import ssl

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    ready = threading.Event()

    async def main() -> None:
        server = await asyncio.start_server(_serve, "127.0.0.1", port, ssl=tls, backlog=256)
        ready.set()
        async with server:
            await server.serve_forever()

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()
    ready.wait(10)


def _client(route: str, upstream: int) -> httpx.Client:
    if route == DIRECT:  # the hosts resolve to the upstream: TLS with it, SNI as asked
        transport = httpx.HTTPTransport(verify=False)
        return httpx.Client(transport=transport, timeout=60, trust_env=False,
                            base_url=f"https://127.0.0.1:{upstream}")  # fmt: skip
    return httpx.Client(proxy=route, verify=False, timeout=60, trust_env=False)  # noqa: S501


def _url(route: str, host: str, path: str) -> tuple[str, dict[str, str]]:
    if route == DIRECT:
        return path, {"host": host}
    return f"https://{host}{path}", {}


def first_token(client: httpx.Client, route: str) -> tuple[float, bool]:
    """Seconds to the first SSE event's bytes, and whether the stream came through intact."""
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    url, headers = _url(route, AI_HOST, "/v1/chat/completions")
    started = time.perf_counter()
    with client.stream("POST", url, json=body, headers=headers) as reply:
        chunks = reply.iter_raw()
        first = next(chunks)
        elapsed = time.perf_counter() - started
        received = first + b"".join(chunks)
    return elapsed, received == STREAM


def upload(client: httpx.Client, route: str, payload: bytes) -> float:
    """MB/s of one upload of ``payload`` to a non-AI host, answer included."""
    url, headers = _url(route, WEB_HOST, "/upload")
    started = time.perf_counter()
    reply = client.post(url, content=payload, headers=headers)
    assert reply.status_code == 200, reply.status_code
    return len(payload) / 1e6 / (time.perf_counter() - started)


def measure(routes: dict[str, str], args: argparse.Namespace, upstream: int) -> None:
    ttft: dict[str, list[float]] = {name: [] for name in routes}
    rates: dict[str, list[float]] = {name: [] for name in routes}
    intact = dict.fromkeys(routes, True)
    payload = b"x" * (args.upload_mb * 1_000_000)
    clients = {name: _client(route, upstream) for name, route in routes.items()}
    for name, route in routes.items():
        first_token(clients[name], route)  # warm: connection, leaf certificate, scanner
    for number in range(args.rounds):
        order = list(routes) if number % 2 == 0 else list(routes)[::-1]
        for name in order:
            for _ in range(args.requests):
                seconds, whole = first_token(clients[name], routes[name])
                ttft[name].append(seconds)
                intact[name] &= whole
            rates[name].append(upload(clients[name], routes[name], payload))
    report(ttft, rates, intact, args)


def report(
    ttft: dict[str, list[float]],
    rates: dict[str, list[float]],
    intact: dict[str, bool],
    args: argparse.Namespace,
) -> None:
    direct = statistics.median(ttft[DIRECT]) * 1000
    print(f"| route | time to first token | added vs. direct | stream intact | "
          f"{args.upload_mb} MB upload |")  # fmt: skip
    print("| --- | ---: | ---: | --- | ---: |")
    for name in ttft:
        ms = statistics.median(ttft[name]) * 1000
        added = "—" if name == DIRECT else f"{ms - direct:+.1f} ms (goal ≤ 20 ms)"
        rate = statistics.median(rates[name])
        print(f"| {name} | {ms:.1f} ms | {added} | {'yes' if intact[name] else 'NO'} | "
              f"{rate:.0f} MB/s |")  # fmt: skip
    print(f"\n(medians of {args.rounds} rounds of {args.requests} streams and one upload each; "
          f"{EVENTS} SSE events {GAP_SECONDS * 1000:.0f} ms apart)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--upload-mb", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shadowlens-stream-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        ca, cert, key = make_test_pki(folder, [AI_HOST, WEB_HOST])
        upstream = free_port()
        start_upstream(upstream, cert, key)
        argv = commands(upstream, ca, folder / "mitmdump")
        envs = environments(folder)
        routes = {DIRECT: DIRECT}
        for name in ("mitmdump", "shadowlens"):
            port = free_port()
            stack.enter_context(proxy([*argv[name], "-p", str(port)], port, envs[name]))
            routes[name] = f"http://127.0.0.1:{port}"
        measure(routes, args, upstream)


if __name__ == "__main__":
    main()
