"""Proxy overhead: shadowlens against plain mitmdump, in the same run, on loopback.

Run: .venv/bin/python bench/proxy_bench.py [--seconds 5] [--rounds 3]

Both proxies run in reverse mode in front of one small asyncio HTTP server, with the same
mitmproxy options (lazy upstream connections, quiet logs). wrk (Debian's package) drives
each with keep-alive connections:

- non-AI traffic (GET, Host: shop.example.net): plain mitmdump, the baseline, against
  shadowlens, which classifies and passes it on;
- AI traffic (Host: api.openai.com, a chat-completion JSON POST): plain mitmdump, the
  baseline, against shadowlens, which classifies, checks the body, scans it, decides and
  writes a detection per request.

Rounds are interleaved, so the shared machine's noise hits every configuration alike; the
medians and the ratios to the baseline are printed as a Markdown table. It also times the
policy decision alone, per call.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHAT = (
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":'
    b'"Summarise the attached meeting notes in five bullet points, please."}]}'
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Upstream(asyncio.Protocol):
    """Answers every request on a connection with a fixed small JSON body."""

    RESPONSE = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n"
        b'{"ok":true}'
    )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
            found = re.search(rb"(?i)content-length:\s*(\d+)", head)
            length = int(found.group(1)) if found else 0
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self.transport.write(self.RESPONSE)  # type: ignore[attr-defined]


def start_upstream(port: int, tls: ssl.SSLContext | None = None) -> None:
    """Serve ``_Upstream`` on 127.0.0.1:``port`` from a daemon thread; over TLS if given."""
    loop = asyncio.new_event_loop()

    async def serve() -> None:
        server = await loop.create_server(_Upstream, "127.0.0.1", port, ssl=tls)
        await server.serve_forever()

    threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True).start()


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120  # a busy shared machine takes a while
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"proxy exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("proxy did not start")


@contextmanager
def proxy(command: list[str], port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """The proxy started and listening (its process, to read its memory), then stopped."""
    process = subprocess.Popen(
        command,
        env=os.environ | env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        wait_listening(port, process)
        time.sleep(1.0)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def rss_mb(pid: int) -> float:
    """The process's resident memory with its children's: shadowlens's scan workers count."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    own = int(found.group(1)) / 1024 if found else float("nan")
    return own + sum(rss_mb(int(child)) for child in children)


@dataclass(frozen=True)
class Load:
    """What wrk measured: throughput, and the slowest 1 % and slowest request."""

    rps: float
    p99_ms: float
    max_ms: float


def wrk(port: int, seconds: int, *, host: str, post: bool) -> Load:
    """Throughput and latency that wrk got through, with 8 keep-alive connections."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    body = CHAT.decode().replace('"', '\\"')
    method = f'wrk.method = "POST"\nwrk.body = "{body}"\n' if post else ""
    script.write_text(
        f'{method}wrk.headers["Host"] = "{host}"\n'
        f'wrk.headers["Content-Type"] = "application/json"\n'
    )
    result = subprocess.run(
        ["wrk", "-t", "1", "-c", "8", "-d", f"{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}/v1/chat/completions"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    script.unlink()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", result.stdout)
    latency = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", result.stdout)
    if not (rps and p99 and latency):
        raise RuntimeError(result.stdout + result.stderr)
    return Load(float(rps.group(1)), _ms(*p99.groups()), _ms(*latency.groups()))


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def decision_cost() -> float:
    """Microseconds per policy decision on the shipped policy and catalog."""
    from shadowlens.proxy.catalog import load_catalog
    from shadowlens.proxy.policy import decide, load_policy
    from shadowlens.proxy.policy.decide import Upload
    from shadowlens.proxy.policy.model import Identity

    policy = load_policy(ROOT / "rules" / "policy.yaml")
    service = load_catalog(ROOT / "rules").services["openai-api"]
    who = Identity("alice", frozenset({"engineering"}), "10.1.0.5", "ip_map")
    upload = Upload([("pii", "low"), ("secret", "critical")])
    number = 50_000
    seconds = timeit.timeit(
        lambda: decide(policy, identity=who, service=service, upload=upload), number=number
    )
    return seconds / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/proxy_bench.py needs wrk: apt-get install wrk")
    upstream = free_port()
    start_upstream(upstream)
    mode = ["--mode", f"reverse:http://127.0.0.1:{upstream}", "-q",
            "--set", "connection_strategy=lazy"]  # fmt: skip
    data = tempfile.mkdtemp(prefix="shadowlens-bench-")
    mitmdump = [str(BIN / "mitmdump"), *mode]
    shadowlens = [str(BIN / "shadowlens"), "proxy", *mode]
    # name: (command, Host header, POST a chat completion?, the baseline it is compared with)
    configs = {
        "mitmdump, GET (baseline)": (mitmdump, "shop.example.net", False, ""),
        "shadowlens, non-AI GET": (shadowlens, "shop.example.net", False, "mitmdump, GET"),
        "mitmdump, AI POST (baseline)": (mitmdump, "api.openai.com", True, ""),
        "shadowlens, AI POST": (shadowlens, "api.openai.com", True, "mitmdump, AI POST"),
    }
    results: dict[str, list[Load]] = {name: [] for name in configs}
    for number in range(args.rounds):
        order = list(configs.items())
        # reversed every other round, so drift in the machine's load hits each side alike
        for name, (command, host, post, _) in order if number % 2 == 0 else order[::-1]:
            port = free_port()
            env = {"SHADOWLENS_DATA_DIR": data, "SHADOWLENS_METRICS_PORT": "0",
                   "SHADOWLENS_RULES_RELOAD_SECONDS": "0"}  # fmt: skip
            with proxy([*command, "-p", str(port)], port, env):
                results[name].append(wrk(port, args.seconds, host=host, post=post))
    print("| configuration | requests/s | vs. its baseline | p99 latency | slowest |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (*_, baseline_of) in configs.items():
        loads = results[name]
        rps = statistics.median(load.rps for load in loads)
        baseline = results[f"{baseline_of} (baseline)"] if baseline_of else loads
        ratio = rps / statistics.median(load.rps for load in baseline)
        p99 = statistics.median(load.p99_ms for load in loads)
        slowest = statistics.median(load.max_ms for load in loads)
        print(f"| {name} | {rps:,.0f} | {ratio:.2f} | {p99:.1f} ms | {slowest:.1f} ms |")
    print(f"(medians of {args.rounds} rounds)")
    print(f"\npolicy decision alone: {decision_cost():.1f} µs per call")
    print(f"AI requests recorded in the inventory: {recorded(Path(data))}")


def recorded(data: Path) -> int:
    """Detections written during the AI runs: proof the AI path really ran."""
    import sqlite3

    with sqlite3.connect(data / "shadowlens.db") as db:
        return int(db.execute("SELECT count(*) FROM detections").fetchone()[0])


if __name__ == "__main__":
    main()
