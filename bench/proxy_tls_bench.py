"""Proxy overhead with TLS interception: shadowlens against plain mitmdump, explicit mode.

Run: .venv/bin/python bench/proxy_tls_bench.py [--seconds 10] [--rounds 3]
     [--clients 8,64] [--sizes 1,8,64] [--quick]

What users run: clients send ``CONNECT host:443`` to the proxy and speak TLS through it; the
proxy decrypts, and speaks TLS again to the upstream. The upstream is nginx on 127.0.0.1
(a Python TLS server if nginx is missing) with a certificate from a throwaway CA that both
proxies trust. Both proxies get the same mitmproxy options and the same test addon
(tests/e2e/loopback_routes.py) sending every upstream connection to it. Debian's ``hey``
drives each proxy (``-x``: Go's own CONNECT and TLS):

- non-AI GET to shop.example.net and AI chat-completion POSTs to api.openai.com with
  1, 8 and 64 KB JSON prompts (a pasted document and code), from 8 and 64 keep-alive
  clients, and from 8 clients opening a new connection per request;
- selective decryption: shadowlens with SHADOWLENS_DECRYPT=ai on the non-AI traffic,
  against mitmdump decrypting everything and mitmdump tunnelling everything
  (``--ignore-hosts '.*'``, the floor);
- memory: each proxy's RSS idle after start and after its round's traffic.

Every proxy is started afresh each round; within a round every traffic pattern runs
against each proxy back to back, in an order reversed every other round, so the shared
machine's noise hits each alike. Medians of the rounds are printed as Markdown tables,
each shadowlens figure as a ratio to mitmdump carrying the same traffic.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: bench and tests are not installed

from bench.dlp_corpus import code_text, prose_text  # noqa: E402
from bench.proxy_bench import BIN, free_port, proxy, recorded, rss_mb, start_upstream  # noqa: E402
from tests.e2e.upstream import make_test_pki  # noqa: E402

AI_HOST, WEB_HOST = "api.openai.com", "shop.example.net"
ROUTES = ROOT / "tests" / "e2e" / "loopback_routes.py"
BASELINE, SHADOWLENS = "mitmdump", "shadowlens"
FLOOR, SELECTIVE = "mitmdump --ignore-hosts '.*'", "shadowlens, SHADOWLENS_DECRYPT=ai"
NON_AI_GOAL, AI_8K_GOAL, P99_GOAL_MS, RSS_GOAL_MB = 0.97, 0.90, 2.0, 100.0
NGINX_CONF = """worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    keepalive_requests 10000000;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{ default_type application/json; return 200 '{{"ok":true}}'; }}
    }}
}}
"""


@dataclass(frozen=True)
class Traffic:
    """One load pattern: a GET to the shop or a chat completion of ``kib`` KB to OpenAI."""

    kib: int  # 0: the non-AI GET
    clients: int
    keepalive: bool = True

    @property
    def ai(self) -> bool:
        return self.kib > 0

    @property
    def label(self) -> str:
        what = f"AI POST {self.kib} KB" if self.ai else "non-AI GET"
        how = "keep-alive" if self.keepalive else "new connection per request"
        return f"{what}, {self.clients} clients, {how}"


@dataclass(frozen=True)
class Load:
    """What hey measured: throughput, median and 99th-percentile latency, answers."""

    rps: float
    p50_ms: float
    p99_ms: float
    ok: int
    other: str  # non-200 answers and errors, as hey summarised them; empty when none


def prompt(kib: int) -> bytes:
    """A chat completion of exactly ``kib`` KiB: a pasted document and code (deterministic)."""
    rng = random.Random(kib)
    target = kib * 1024
    parts = ["Review the design notes and the code below; list the risks you see."]
    while sum(map(len, parts)) < target:
        parts += [prose_text(rng, rng.randint(3, 8)), code_text(rng, rng.randint(5, 20))]
    content = "\n\n".join(parts)
    while (over := len(_chat(content)) - target) > 0:
        content = content[:-over]  # escapes make a character up to 6 bytes: trim, remeasure
    return _chat(content + " " * (target - len(_chat(content))))


def _chat(content: str) -> bytes:
    doc = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
    return json.dumps(doc).encode()


def hey(port: int, traffic: Traffic, body: Path | None, length: list[str]) -> Load:
    """Run hey through the proxy at ``port`` and parse its summary.

    ``length`` is hey's: ``-z 10s`` for a duration, ``-n 200`` for a number of requests.
    """
    command = ["hey", *length, "-c", str(traffic.clients), "-x", f"http://127.0.0.1:{port}"]
    if not traffic.keepalive:
        command.append("-disable-keepalive")
    if body is None:
        command.append(f"https://{WEB_HOST}/catalog/shoes?page=2")
    else:
        command += ["-m", "POST", "-D", str(body), "-T", "application/json",
                    f"https://{AI_HOST}/v1/chat/completions"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return parse_hey(done.stdout + done.stderr)


def parse_hey(summary: str) -> Load:
    """The figures of hey's text summary (its latencies are in seconds)."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", summary)
    p50 = re.search(r"50% in ([\d.]+) secs", summary)
    p99 = re.search(r"99% in ([\d.]+) secs", summary)
    if not (rps and p50 and p99):
        raise RuntimeError(f"hey printed no figures:\n{summary}")
    statuses = dict(re.findall(r"\[(\d{3})\]\s+(\d+) responses", summary))
    other = [f"{n} answers {code}" for code, n in statuses.items() if code != "200"]
    errors = summary.partition("Error distribution:")[2].strip()
    other += [line.strip() for line in errors.splitlines()[:3]]
    return Load(float(rps.group(1)), float(p50.group(1)) * 1000, float(p99.group(1)) * 1000,
                int(statuses.get("200", 0)), "; ".join(other))  # fmt: skip


@contextmanager
def upstream(folder: Path) -> Iterator[tuple[int, Path]]:
    """An HTTPS server answering ``{"ok":true}`` to anything: its port and its CA file."""
    ca, cert, key = make_test_pki(folder, [AI_HOST, WEB_HOST])
    port = free_port()
    nginx = shutil.which(
        "nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin"
    )  # not on users' PATH
    if nginx is None:
        print("nginx not found: the upstream is a Python TLS server (it costs more CPU)")
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cert, key)
        start_upstream(port, tls)
        yield port, ca
        return
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=folder, port=port, cert=cert, key=key))
    with proxy([nginx, "-e", str(folder / "error.log"), "-p", str(folder), "-c", str(conf)],
               port, {}):  # fmt: skip
        yield port, ca


def commands(upstream_port: int, ca: Path, confdir: Path) -> dict[str, list[str]]:
    """Each proxy's command line: the same mitmproxy options for all."""
    common = ["--listen-host", "127.0.0.1", "-q", "--set", "connection_strategy=lazy",
              "-s", str(ROUTES), "--set", f"loopback_routes=*={upstream_port}",
              "--set", f"ssl_verify_upstream_trusted_ca={ca}"]  # fmt: skip
    # mitmdump keeps its CA where shadowlens does (the data dir), not in ~/.mitmproxy
    mitmdump = [str(BIN / "mitmdump"), *common, "--set", f"confdir={confdir}"]
    shadowlens = [str(BIN / "shadowlens"), "proxy", *common]
    return {BASELINE: mitmdump, SHADOWLENS: shadowlens,
            FLOOR: [*mitmdump, "--ignore-hosts", ".*"], SELECTIVE: shadowlens}  # fmt: skip


def environments(data: Path) -> dict[str, dict[str, str]]:
    """Each proxy's environment; the shadowlens ones each with an inventory of their own."""
    quiet = {"SHADOWLENS_METRICS_PORT": "0", "SHADOWLENS_RULES_RELOAD_SECONDS": "0"}
    return {
        BASELINE: {},
        FLOOR: {},
        SHADOWLENS: {**quiet, "SHADOWLENS_DATA_DIR": str(data / "all")},
        SELECTIVE: {**quiet, "SHADOWLENS_DATA_DIR": str(data / "ai"),
                    "SHADOWLENS_DECRYPT": "ai"},
    }  # fmt: skip


def matrix(clients: list[int], sizes: list[int]) -> list[Traffic]:
    """Keep-alive runs for every client count, and one new-connection run per kind."""
    middle = 8 if 8 in sizes else sizes[0]
    return [
        *(Traffic(0, c) for c in clients),
        Traffic(0, clients[0], keepalive=False),
        *(Traffic(kib, c) for kib in sizes for c in clients),
        Traffic(middle, clients[0], keepalive=False),
    ]


def carriers(traffic: Traffic) -> list[str]:
    """The proxies that carry ``traffic``: the selective set-ups only see non-AI traffic."""
    return [BASELINE, SHADOWLENS] if traffic.ai else [BASELINE, SHADOWLENS, FLOOR, SELECTIVE]


@dataclass
class Results:
    loads: dict[tuple[str, Traffic], list[Load]] = field(default_factory=dict)
    memory: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # idle, after
    ai_answered: int = 0  # by shadowlens, warm-ups included: each should be a detection


class Run:
    """Starts the proxies afresh each round and sends the traffic through them."""

    def __init__(self, args: argparse.Namespace, folder: Path, upstream: tuple[int, Path]):
        self.seconds: float = args.seconds
        self.traffic = matrix(args.clients, args.sizes)
        self.bodies = {kib: folder / f"prompt-{kib}k.json" for kib in args.sizes}
        for kib, path in self.bodies.items():
            path.write_bytes(prompt(kib))
        self.commands = commands(*upstream, folder / "mitmdump")
        self.envs = environments(folder)
        self.results = Results(memory={name: [] for name in self.commands})

    def round(self, number: int) -> None:
        with ExitStack() as stack:
            running = {name: self.start(stack, name) for name in self.commands}
            for traffic in self.traffic:
                order = carriers(traffic)
                for name in order if number % 2 == 0 else order[::-1]:
                    self.measure(name, running[name][0], traffic, ["-z", f"{self.seconds}s"])
            for name, (_, pid, idle) in running.items():
                self.results.memory[name].append((idle, rss_mb(pid)))

    def start(self, stack: ExitStack, name: str) -> tuple[int, int, float]:
        """Start a proxy and warm it up; its port, pid and RSS before any traffic."""
        port = free_port()
        command = [*self.commands[name], "-p", str(port)]
        process = stack.enter_context(proxy(command, port, self.envs[name]))
        idle = rss_mb(process.pid)
        # the first flows make leaf certificates and load the scanner: not what is measured
        for kib in [0, *(self.bodies if name in (BASELINE, SHADOWLENS) else [])]:
            self.measure(name, port, Traffic(kib, 2), ["-n", "200"], record=False)
        return port, process.pid, idle

    def measure(
        self, name: str, port: int, traffic: Traffic, length: list[str], *, record: bool = True
    ) -> None:
        load = hey(port, traffic, self.bodies.get(traffic.kib), length)
        if record:
            self.results.loads.setdefault((name, traffic), []).append(load)
        if name == SHADOWLENS and traffic.ai:
            self.results.ai_answered += load.ok


def median(loads: list[Load], figure: str) -> float:
    return statistics.median(getattr(load, figure) for load in loads)


def goal(traffic: Traffic) -> float | None:
    """The throughput ratio shadowlens should keep, where the issue sets one."""
    if not traffic.ai:
        return NON_AI_GOAL
    return AI_8K_GOAL if traffic.kib == 8 else None


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def overhead_table(results: Results, matrix: list[Traffic]) -> list[str]:
    rows = ["| traffic | mitmdump req/s | shadowlens req/s | ratio | goal "
            "| p50 mitmdump → shadowlens | p99 mitmdump → shadowlens | p99 added |",
            "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |"]  # fmt: skip
    for traffic in matrix:
        base, ours = results.loads[BASELINE, traffic], results.loads[SHADOWLENS, traffic]
        ratio = median(ours, "rps") / median(base, "rps")
        target = goal(traffic)
        aim = f"≥ {target:.2f} {verdict(ratio >= target)}" if target else "—"
        added = median(ours, "p99_ms") - median(base, "p99_ms")
        rows.append(
            f"| {traffic.label} | {median(base, 'rps'):,.0f} | {median(ours, 'rps'):,.0f} "
            f"| {ratio:.2f} | {aim} "
            f"| {median(base, 'p50_ms'):.1f} → {median(ours, 'p50_ms'):.1f} ms "
            f"| {median(base, 'p99_ms'):.1f} → {median(ours, 'p99_ms'):.1f} ms "
            f"| {added:+.1f} ms (≤ {P99_GOAL_MS:.0f} ms {verdict(added <= P99_GOAL_MS)}) |"
        )
    return rows


def selective_table(results: Results, matrix: list[Traffic]) -> list[str]:
    rows = ["| non-AI traffic | mitmdump, decrypts all | mitmdump, tunnels all (floor) "
            "| shadowlens, DECRYPT=ai | vs. decrypt-all | vs. floor "
            "| p99: decrypt-all / floor / shadowlens |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for traffic in (t for t in matrix if not t.ai):
        runs = [results.loads[name, traffic] for name in (BASELINE, FLOOR, SELECTIVE)]
        rps = [median(loads, "rps") for loads in runs]
        p99 = " / ".join(f"{median(loads, 'p99_ms'):.1f}" for loads in runs)
        rows.append(
            f"| {traffic.label} | {rps[0]:,.0f} | {rps[1]:,.0f} | {rps[2]:,.0f} "
            f"| {rps[2] / rps[0]:.2f} | {rps[2] / rps[1]:.2f} | {p99} ms |"
        )
    return rows


def memory_table(results: Results) -> list[str]:
    rows = ["| proxy | RSS idle after start | RSS after its traffic | vs. mitmdump after |",
            "| --- | ---: | ---: | --- |"]  # fmt: skip
    after = {name: statistics.median(a for _, a in pairs) for name, pairs in
             results.memory.items()}  # fmt: skip
    for name, pairs in results.memory.items():
        idle = statistics.median(i for i, _ in pairs)
        versus = after[name] - after[BASELINE]
        aim = f" (≤ +{RSS_GOAL_MB:.0f} MB {verdict(versus <= RSS_GOAL_MB)})"
        note = "—" if name == BASELINE else f"{versus:+.0f} MB{aim if name == SHADOWLENS else ''}"
        rows.append(f"| {name} | {idle:.0f} MB | {after[name]:.0f} MB | {note} |")
    return rows


def problems(results: Results) -> list[str]:
    """Runs with answers other than 200, or errors: their figures are suspect."""
    return [f"problem: {name}, {traffic.label}: {load.other}"
            for (name, traffic), loads in results.loads.items()
            for load in loads if load.other]  # fmt: skip


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="per run (default 10)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=_numbers, default=[8, 64], help="e.g. 8,64")
    parser.add_argument("--sizes", type=_numbers, default=[1, 8, 64], help="prompt KB: 1,8,64")
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s, 8 clients, 8 KB")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds, args.clients, args.sizes = 2, 1, [8], [8]
    return args


def _numbers(text: str) -> list[int]:
    return [int(item) for item in text.split(",") if item.strip()]


def main() -> None:
    args = arguments()
    if shutil.which("hey") is None:
        sys.exit("bench/proxy_tls_bench.py needs hey: apt-get install hey")
    folder = Path(tempfile.mkdtemp(prefix="shadowlens-tls-bench-"))
    with upstream(folder) as server:
        run = Run(args, folder, server)
        for number in range(args.rounds):
            run.round(number)
    results = run.results
    print("\n".join(overhead_table(results, run.traffic)))
    print(f"\n(medians of {args.rounds} round(s) of {args.seconds:g} s per run; hey through "
          "CONNECT, TLS on both legs)\n")  # fmt: skip
    print("\n".join(selective_table(results, run.traffic)) + "\n")
    print("\n".join(memory_table(results)) + "\n")
    print(f"AI requests shadowlens answered: {results.ai_answered}; "
          f"detections recorded: {recorded(folder / 'all')}")  # fmt: skip
    print("\n".join(problems(results)))


if __name__ == "__main__":
    main()
