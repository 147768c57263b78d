"""SIEM sink throughput: events per second to an NDJSON file in each schema, and to syslog
(RFC 5424 + CEF) over TCP on loopback.

Run: .venv/bin/python bench/sink_bench.py [--events 20000] [--rounds 5] [--batch 500]

Each round formats and delivers the same events through the sink's own transport, in
batches as the delivery worker hands them over (one in four with two DLP findings). The file
sink writes to a temporary folder; the syslog receiver is a thread on 127.0.0.1 that reads
and discards, so the figure is the sender's cost. It prints the median events per second of
each sink over the rounds; the goal is at least 50,000.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shadowlens.proxy.inventory.events import DetectionEvent, FindingRecord
from shadowlens.proxy.sinkconfig import SinkConfig
from shadowlens.proxy.sinks.transports import Transport, open_transport

GOAL = 50_000
FINDINGS = (
    FindingRecord("aws-access-key-id", "secret", "critical", 1, "AKIA…WB6P", "9f2c1e", "body"),
    FindingRecord("email-address", "pii", "low", 2, "a…@example.com", "77ab01", "body"),
)


def events(count: int) -> list[DetectionEvent]:
    """``count`` detections of a few users and services, one in four with findings."""
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)
    return [
        DetectionEvent(
            ts=start + timedelta(milliseconds=n), client_ip=f"10.0.{n % 50}.{n % 200}",
            user=f"user{n % 300}", service_id="chatgpt", service_name="ChatGPT",
            vendor="OpenAI", category="chat_assistant", evidence="host", method="POST",
            host="chatgpt.com", path="/backend-api/conversation", request_bytes=1200 + n % 900,
            response_bytes=5000, status=200, confidence=0.9, signals="host,protocol",
            client="browser", model="gpt-4o", groups="engineering",
            findings=FINDINGS if n % 4 == 0 else (),
        )
        for n in range(count)
    ]  # fmt: skip


def drain(server: socket.socket) -> None:
    """Accept syslog connections and discard what they send."""
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            while conn.recv(1 << 20):
                pass


def rates(transport: Transport, batches: Sequence[Sequence[DetectionEvent]]) -> tuple[float, float]:
    """Events per second through ``transport.send``: of wall-clock time, and of CPU time.

    On a shared machine the two differ by the share of a core the process got; the CPU
    figure (this process's threads, the syslog receiver's included) is the steadier one.
    """
    count = sum(len(b) for b in batches)
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        transport.send(batch)
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    sample = events(args.events)
    batches = [sample[n : n + args.batch] for n in range(0, len(sample), args.batch)]
    server = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=drain, args=(server,), daemon=True).start()
    with tempfile.TemporaryDirectory() as folder:
        configs = [
            SinkConfig(name=f"file-{fmt}", kind="file", format=fmt,
                       path=Path(folder) / f"{fmt}.ndjson", max_bytes=1 << 30)
            for fmt in ("native", "ecs", "ocsf")
        ] + [SinkConfig(name="syslog-tcp", kind="syslog",
                        url=f"tcp://127.0.0.1:{server.getsockname()[1]}")]  # fmt: skip
        print(
            f"{args.events} events, batches of {args.batch}, median of {args.rounds} rounds, "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        print(f"  {'sink':12} {'wall events/s':>14} {'CPU events/s':>14}")
        for config in configs:
            transport = open_transport(config)
            measured = [rates(transport, batches) for _ in range(args.rounds)]
            transport.close()
            wall = statistics.median(m[0] for m in measured)
            cpu = statistics.median(m[1] for m in measured)
            verdict = "ok" if wall >= GOAL else f"wall below the {GOAL:,} goal"
            print(f"  {config.name:12} {wall:>14,.0f} {cpu:>14,.0f}  ({verdict})")
    server.close()


if __name__ == "__main__":
    main()
