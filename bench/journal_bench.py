"""What writing ahead costs an AI flow: latency per request by ``SHADOWLENS_JOURNAL`` mode.

Run: .venv/bin/python bench/journal_bench.py [--requests 400] [--rounds 3]

``shadowlens proxy`` runs in reverse mode in front of proxy_bench's small upstream, once
per mode (``off``, ``write``, ``fsync``), rounds interleaved. Keep-alive clients POST a chat
completion to ``api.openai.com``; every request is an AI flow whose event is journaled before
its answer. One client alone gives the latency each request pays; eight at once show the
group commit of ``fsync`` mode. Medians and p99 over all requests of all rounds.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time

from proxy_bench import CHAT, free_port, proxy, start_upstream

BIN_SHADOWLENS = f"{sys.prefix}/bin/shadowlens"
MODES = ("off", "write", "fsync")


def latencies(port: int, requests: int) -> list[float]:
    """Milliseconds of each of ``requests`` chat POSTs on one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": "api.openai.com", "Content-Type": "application/json"}
    taken = []
    for _ in range(requests):
        started = time.perf_counter()
        connection.request("POST", "/v1/chat/completions", body=CHAT, headers=headers)
        response = connection.getresponse()
        response.read()
        taken.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, response.status
    connection.close()
    return taken


def concurrent(port: int, requests: int, clients: int) -> list[float]:
    results: list[list[float]] = [[] for _ in range(clients)]
    threads = [
        threading.Thread(target=lambda i=i: results[i].extend(latencies(port, requests)))
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [ms for result in results for ms in result]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    upstream = free_port()
    start_upstream(upstream)
    mode = ["--mode", f"reverse:http://127.0.0.1:{upstream}", "-q",
            "--set", "connection_strategy=lazy"]  # fmt: skip
    runs: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for journal in MODES:
            port = free_port()
            env = {"SHADOWLENS_DATA_DIR": tempfile.mkdtemp(prefix="shadowlens-bench-"),
                   "SHADOWLENS_METRICS_PORT": "0", "SHADOWLENS_RULES_RELOAD_SECONDS": "0",
                   "SHADOWLENS_JOURNAL": journal}  # fmt: skip
            with proxy([BIN_SHADOWLENS, "proxy", *mode, "-p", str(port)], port, env):
                latencies(port, 50)  # warm-up
                for clients in (1, 8):
                    taken = concurrent(port, args.requests // clients, clients)
                    runs.setdefault((journal, clients), []).extend(taken)
    print("| journal | clients | median | p99 | median added to `off` |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for (journal, clients), taken in runs.items():
        median = statistics.median(taken)
        p99 = statistics.quantiles(taken, n=100)[98]
        added = median - statistics.median(runs[("off", clients)])
        print(f"| {journal} | {clients} | {median:.2f} ms | {p99:.2f} ms | {added:+.2f} ms |")
    print(f"({args.rounds} interleaved rounds, {args.requests} requests per run)")


if __name__ == "__main__":
    main()
