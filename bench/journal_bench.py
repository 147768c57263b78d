"""What writing ahead costs an AI flow: latency per request by ``SHADOWLENS_JOURNAL`` mode.

Run: .venv/bin/python bench/journal_bench.py [--requests 400] [--rounds 3] [--hook-only]

First, in process, the time the ``response`` hook of an AI flow spends on its event: from
``submit_durable`` to the event being queued (``write``), or to its group being synced
(``fsync``), with 1, 8 and 64 flows answering at once. That is the latency the journal adds
to the answer, apart from the machine's noise. Then end to end:

``shadowlens proxy`` runs in reverse mode in front of proxy_bench's small upstream, once
per mode (``off``, ``write``, ``fsync``), rounds interleaved. Keep-alive clients POST a chat
completion to ``api.openai.com``; every request is an AI flow whose event is journaled before
its answer. One client alone gives the latency each request pays; eight at once show the
group commit of ``fsync`` mode. Medians and p99 over all requests of all rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from proxy_bench import CHAT, free_port, proxy, start_upstream

from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.inventory.journal import Journal
from shadowlens.proxy.inventory.spool import Spool
from shadowlens.proxy.inventory.writer import InventoryWriter

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


def hook_latencies(journal: str, flows: int, rounds: int) -> list[float]:
    """Microseconds each of ``flows`` concurrent AI answers waits for its event's journaling."""
    folder = Path(tempfile.mkdtemp(prefix="shadowlens-bench-"))
    taken: list[float] = []

    async def answer(writer: InventoryWriter, event: DetectionEvent) -> None:
        started = time.perf_counter()
        if (synced := writer.submit_durable(event)) is not None:
            await synced
        taken.append((time.perf_counter() - started) * 1e6)

    async def run() -> None:
        writer = InventoryWriter(
            len, queue_size=100_000, batch_size=5000, flush_seconds=0.05,
            spool=Spool(folder / "spool", max_bytes=1 << 30),
            journal=None if journal == "off" else Journal(folder, sync=journal == "fsync"),
        )  # fmt: skip
        writer.start()
        for _ in range(rounds):
            await asyncio.gather(*(answer(writer, _event()) for _ in range(flows)))
        await writer.close()

    asyncio.run(run())
    return taken


def _event() -> DetectionEvent:
    return DetectionEvent(
        ts=datetime.now(UTC), client_ip="10.1.2.3", user="alice", service_id="openai-api",
        service_name="OpenAI API", vendor="OpenAI", category="llm_api", evidence="host",
        method="POST", host="api.openai.com", path="/v1/chat/completions", request_bytes=8192,
        status=200, model="gpt-4o", signals="host,body",
    )  # fmt: skip


def print_hook_table() -> None:
    print("| journal | flows at once | median | p99 |")
    print("| --- | ---: | ---: | ---: |")
    for journal in MODES:
        for flows in (1, 8, 64):
            taken = hook_latencies(journal, flows, rounds=max(20, 2000 // flows))
            p99 = statistics.quantiles(taken, n=100)[98]
            print(f"| {journal} | {flows} | {statistics.median(taken):.0f} µs | {p99:.0f} µs |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hook-only", action="store_true", help="skip the end-to-end runs")
    args = parser.parse_args()
    print_hook_table()
    if args.hook_only:
        return
    print()
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
