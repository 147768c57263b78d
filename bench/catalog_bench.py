"""Classification cost per flow against catalogs of 100 and 10,000 services.

Run: .venv/bin/python bench/catalog_bench.py [--rounds 7] [--flows 50000] [--rules DIR]...

Both synthetic catalogs have the same shape (domains, host patterns and path signatures in
the same proportions as the shipped catalog). Each round classifies the same flows: a mix of
hits (subdomains, patterns, signatures) and misses (ordinary hosts), through the same
`classify_headers` call the proxy makes. It prints the median ns per flow for each catalog,
their ratio (the target is at most 1.2), and flows per second on one core for the full
discovery addon path (requestheaders, responseheaders, response) on mitmproxy flows.

Each ``--rules DIR`` also loads that rules folder's real catalog and times it on one workload
shared by all of them (subdomains of the first folder's domains, and ordinary hosts), so two
versions of the catalog can be compared in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import time
from pathlib import Path

from mitmproxy.test import tflow, tutils

from shadowlens.addons.discovery import Discovery
from shadowlens.proxy.catalog import HostIndex, Service, Signature, load_catalog
from shadowlens.proxy.catalog.classify import classify_headers
from shadowlens.proxy.catalog.clients import Client, ClientMatcher
from shadowlens.proxy.inventory.writer import InventoryWriter
from shadowlens.proxy.runtime import CatalogRef


def synthetic_catalog(size: int) -> HostIndex:
    """``size`` services: 1 in 40 with a host pattern, 1 in 20 with a path signature."""
    services = []
    for n in range(size):
        domains = (f"svc{n}-ai.example{n % 97}.com", f"app{n}.ai-vendor{n % 13}.io")
        patterns = (f"inference-{n}.*.cloud{n % 7}.example",) if n % 40 == 0 else ()
        signatures: tuple[Signature, ...] = ()
        if n % 20 == 0:
            signatures = (
                Signature(
                    hosts=(f"saas{n}.example.org",),
                    evidence="path",
                    confidence=0.9,
                    methods=frozenset({"POST"}),
                    path=re.compile(rf"^/api/v\d+/ai/assist{n}\b"),
                ),
            )
        services.append(
            Service(f"svc-{n}", f"Service {n}", "Vendor", "llm_api", domains, patterns, signatures)
        )
    clients = ClientMatcher([Client("sdk", "SDK", "^OpenAI/Python ", "openai/", None, True)])
    return HostIndex(services, clients)


def workload(count: int, seed: int = 7) -> list[tuple[str, str, str, dict[str, str]]]:
    """(host, method, path, headers): 20 % hits on the first 100 services, 80 % misses."""
    rng = random.Random(seed)
    flows: list[tuple[str, str, str, dict[str, str]]] = []
    for _ in range(count):
        n = rng.randrange(100)
        kind = rng.random()
        if kind < 0.10:
            flows.append((f"api.svc{n}-ai.example{n % 97}.com", "POST", "/v1/x", {}))
        elif kind < 0.15:
            m = n - n % 40
            flows.append((f"inference-{m}.eu-west-1.cloud{m % 7}.example", "GET", "/", {}))
        elif kind < 0.20:
            m = n - n % 20
            flows.append((f"saas{m}.example.org", "POST", f"/api/v2/ai/assist{m}", {}))
        else:
            host = f"cdn{rng.randrange(10_000)}.shop{rng.randrange(500)}.example.net"
            flows.append((host, "GET", "/static/app.js", {"user-agent": "Mozilla/5.0"}))
    return flows


def shipped_workload(
    catalog: HostIndex, count: int, seed: int = 11
) -> list[tuple[str, str, str, dict[str, str]]]:
    """20 % subdomains of ``catalog``'s domains, 80 % ordinary hosts, as ``workload`` mixes."""
    rng = random.Random(seed)
    domains = sorted(d for s in catalog.services.values() for d in s.domains)
    flows: list[tuple[str, str, str, dict[str, str]]] = []
    for _ in range(count):
        if rng.random() < 0.2:
            flows.append((f"api.{rng.choice(domains)}", "POST", "/v1/chat", {}))
        else:
            host = f"cdn{rng.randrange(10_000)}.shop{rng.randrange(500)}.example.net"
            flows.append((host, "GET", "/static/app.js", {"user-agent": "Mozilla/5.0"}))
    return flows


def compare_rules(dirs: list[Path], rounds: int, count: int) -> None:
    """Median ns per flow of each rules folder's real catalog, rounds interleaved."""
    catalogs = {str(d): load_catalog(d) for d in dirs}
    flows = shipped_workload(next(iter(catalogs.values())), count)
    times: dict[str, list[float]] = {name: [] for name in catalogs}
    for _ in range(rounds):
        for name, catalog in catalogs.items():
            times[name].append(ns_per_flow(catalog, flows))
    for name, catalog in catalogs.items():
        median = statistics.median(times[name])
        print(f"shipped catalog {name} ({len(catalog)} services): {median:8.0f} ns/flow")


def ns_per_flow(catalog: HostIndex, flows: list[tuple[str, str, str, dict[str, str]]]) -> float:
    started = time.perf_counter_ns()
    for host, method, path, headers in flows:
        classify_headers(catalog, host=host, method=method, path=path, headers=headers)
    return (time.perf_counter_ns() - started) / len(flows)


def addon_flows_per_second(catalog: HostIndex, flows: list[tuple[str, str, str, dict]]) -> float:
    """Flows per second through Discovery's hooks on one core (writer queue drained by a no-op)."""

    async def run() -> float:
        writer = InventoryWriter(len, queue_size=len(flows) + 1, batch_size=1000, flush_seconds=1)
        discovery = Discovery(CatalogRef(catalog), writer, max_body=1 << 20)
        prepared = []
        for host, method, path, headers in flows:
            request = tutils.treq(host=host, port=443, scheme=b"https", path=path.encode())
            request.method, request.headers["host"] = method, host
            request.headers.update(headers)
            prepared.append(tflow.tflow(req=request, resp=tutils.tresp()))
        started = time.perf_counter()
        for flow in prepared:
            discovery.requestheaders(flow)
            discovery.request(flow)
            discovery.responseheaders(flow)
            discovery.response(flow)
        return len(prepared) / (time.perf_counter() - started)

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--flows", type=int, default=50_000)
    parser.add_argument("--rules", type=Path, action="append", default=[], metavar="DIR")
    args = parser.parse_args()
    if args.rules:
        compare_rules(args.rules, args.rounds, args.flows)
    flows = workload(args.flows)
    small, large = synthetic_catalog(100), synthetic_catalog(10_000)
    results: dict[str, list[float]] = {"100": [], "10000": []}
    for _ in range(args.rounds):  # interleaved, so drift on a shared machine hits both alike
        results["100"].append(ns_per_flow(small, flows))
        results["10000"].append(ns_per_flow(large, flows))
    med_small = statistics.median(results["100"])
    med_large = statistics.median(results["10000"])
    hooks = statistics.median(addon_flows_per_second(large, flows[:20_000]) for _ in range(3))
    print(f"classify_headers, 100 services:    {med_small:8.0f} ns/flow (median of {args.rounds})")
    print(f"classify_headers, 10,000 services: {med_large:8.0f} ns/flow")
    print(f"ratio 10,000 / 100:                {med_large / med_small:8.3f}  (target <= 1.2)")
    print(f"discovery addon hooks, 10,000 services: {hooks:,.0f} flows/s on one core")


if __name__ == "__main__":
    main()
