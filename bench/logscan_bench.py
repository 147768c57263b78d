"""``shadowlens logs scan`` throughput and peak memory on generated Squid and Zeek logs.

Run:
  .venv/bin/python bench/logscan_bench.py [--lines 2000000] [--runs 3] [--sniffer PATH]

It writes a Squid native access.log and a Zeek http.log (TSV) of N lines each: 500 users, each
with one to three favourite AI services (about 4 % of the lines, over the catalog's own
domains), 2 % to hosts where a request signature decides (Slack, Notion, Atlassian, Zoom),
and the rest over 20,000 other hosts; three quarters of the lines are HTTPS (CONNECT in
Squid). Each run is the real command, ``shadowlens logs scan FILE --json``, in a fresh
process on a fresh SQLite inventory, timed from start to exit (imports, catalog load and the
inventory write included). It prints the median of the runs: lines per second, and the
peak RSS of the largest process (the main one or a worker).

With ``--sniffer`` (the ``shadow-sniffer`` console script of a separate venv, e.g.
/tmp/sniffer-venv/bin/shadow-sniffer), the same records are written as CSV and that tool is
timed on them in the same run, so the ratio compares like with like.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shadowlens.proxy.catalog import load_catalog
from shadowlens.proxy.settings import PROJECT_ROOT

ROOT = Path(__file__).resolve().parent.parent
TIME = "/usr/bin/time"  # GNU time (Debian's time package)
START = 1796032800.0  # 2026-11-30 10:00 UTC
SIGNED = [
    ("POST", "www.notion.so", "/api/v3/getCompletion"),
    ("GET", "www.notion.so", "/api/v3/loadPageChunk"),
    ("POST", "slack.com", "/api/chat.postMessage"),
    ("GET", "acme.atlassian.net", "/wiki"),
    ("POST", "acme.atlassian.net", "/gateway/api/assist/chat"),
    ("GET", "api.zoom.us", "/v2/users"),
]


def records(count: int, seed: int = 1) -> list[tuple[float, str, str, str, str, str, int, int]]:
    """(ts, client, user, method, host, path, bytes out, bytes in) for ``count`` requests."""
    rng = random.Random(seed)
    catalog = load_catalog(PROJECT_ROOT / "rules")
    ai = sorted(d for s in catalog.services.values() for d in s.domains[:1])
    users = [(f"user{i:03d}", f"10.{i // 250}.{i % 250}.{rng.randrange(2, 250)}",
              rng.sample(ai, rng.randint(1, 3))) for i in range(500)]  # fmt: skip
    other = [f"www.site{i}.example.com" for i in range(20_000)]
    out, ts = [], START
    for _ in range(count):
        ts += rng.expovariate(50.0)
        user, ip, favourites = rng.choice(users)
        roll = rng.random()
        if roll < 0.04:
            method, host, path = "POST", rng.choice(favourites), "/v1/chat"
        elif roll < 0.06:
            method, host, path = rng.choice(SIGNED)
        else:
            method, host, path = "GET", other[int(rng.paretovariate(1.2)) % len(other)], "/p"
        out.append((ts, ip, user, method, host, path, rng.randrange(200, 5000),
                    rng.randrange(500, 90_000)))  # fmt: skip
    return out


def write_squid(path: Path, rows: list[tuple[float, str, str, str, str, str, int, int]]) -> None:
    with path.open("w") as out:
        for i, (ts, ip, user, method, host, page, _up, down) in enumerate(rows):
            if i % 4:  # HTTPS: a CONNECT tunnel
                target, method, code = f"{host}:443", "CONNECT", "TCP_TUNNEL/200"
            else:
                target, code = f"http://{host}{page}?id={i}", "TCP_MISS/200"
            out.write(f"{ts:.3f} {i % 900:6d} {ip} {code} {down} {method} {target} {user} "
                      f"HIER_DIRECT/203.0.113.{i % 250} text/html\n")  # fmt: skip


ZEEK_FIELDS = [
    "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "trans_depth", "method",
    "host", "uri", "referrer", "version", "user_agent", "origin", "request_body_len",
    "response_body_len", "status_code", "status_msg", "info_code", "info_msg", "tags",
    "username", "password", "proxied", "orig_fuids", "orig_filenames", "orig_mime_types",
    "resp_fuids", "resp_filenames", "resp_mime_types",
]  # fmt: skip
UNSET = "\t".join(["-"] * 9)


def write_zeek(path: Path, rows: list[tuple[float, str, str, str, str, str, int, int]]) -> None:
    with path.open("w") as out:
        out.write("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
                  "#path\thttp\n#open\t2026-11-30-10-00-00\n#fields\t" + "\t".join(ZEEK_FIELDS)
                  + "\n#types\t" + "\t".join(["string"] * len(ZEEK_FIELDS)) + "\n")  # fmt: skip
        for i, (ts, ip, _user, method, host, page, up, down) in enumerate(rows):
            out.write(f"{ts:.6f}\tC{i:x}\t{ip}\t{40000 + i % 20000}\t203.0.113.{i % 250}\t443\t"
                      f"1\t{method}\t{host}\t{page}\t-\t1.1\tMozilla/5.0 (X11; Linux x86_64)\t-\t"
                      f"{up}\t{down}\t200\tOK\t-\t-\t(empty)\t{UNSET}\n")  # fmt: skip


def write_csv(path: Path, rows: list[tuple[float, str, str, str, str, str, int, int]]) -> None:
    """The same records as the connection CSV shadow-sniffer reads (its column names)."""
    with path.open("w") as out:
        out.write("timestamp,src_ip,user,dest_host,dest_port,bytes_sent\n")
        for ts, ip, user, _method, host, _page, up, _down in rows:
            out.write(f"{ts:.3f},{ip},{user},{host},443,{up}\n")


def timed(argv: list[str], env: dict[str, str], work: Path) -> tuple[float, int, float, str]:
    """Wall seconds, peak RSS (KiB) of the largest process, CPU seconds, and stdout of one run.

    GNU time starts the command, so the peak is the command's own: a child this (large)
    process forked itself would report this process's memory as its own peak.
    """
    usage = work / "usage"
    start = time.perf_counter()
    done = subprocess.run(
        [TIME, "-f", "%M %U %S", "-o", str(usage), *argv],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    peak, user, system = usage.read_text().split()[-3:]
    return seconds, int(peak), float(user) + float(system), done.stdout


def scan_runs(log: Path, lines: int, runs: int, work: Path) -> float:
    rates, peaks, cpus = [], [], []
    for n in range(runs):
        env = {**os.environ, "SHADOWLENS_DATA_DIR": str(work / f"data-{log.stem}-{n}")}
        env.pop("SHADOWLENS_DATABASE_URL", None)
        argv = [str(ROOT / ".venv/bin/shadowlens"), "logs", "scan", "--json", str(log)]
        seconds, peak, cpu, out = timed(argv, env, work)
        result = json.loads(out)
        assert result["lines"] >= lines and result["skipped"] == 0, result
        rates.append(lines / seconds)
        peaks.append(peak)
        cpus.append(cpu)
        services = len(result["services"])
        print(f"  run {n + 1}: {seconds:.2f} s, {lines / seconds:,.0f} lines/s, {cpu:.1f} CPU-s, "
              f"peak RSS {peak / 1024:.0f} MiB, {services} services", flush=True)  # fmt: skip
    print(
        f"{log.name}: median {statistics.median(rates):,.0f} lines/s, "
        f"{lines / statistics.median(cpus):,.0f} lines per CPU-second, "
        f"peak RSS {statistics.median(peaks) / 1024:.0f} MiB (median of {runs})",
        flush=True,
    )
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sniffer", type=Path, help="shadow-sniffer's console script")
    parser.add_argument("--sniffer-runs", type=int, default=1, help="it is slow: default 1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="logscan-bench-") as tmp:
        work = Path(tmp)
        rows = records(args.lines)
        squid, zeek, connections = work / "access.log", work / "http.log", work / "records.csv"
        write_squid(squid, rows)
        write_zeek(zeek, rows)
        write_csv(connections, rows)
        del rows  # keep this process small while the commands run
        print(f"{args.lines:,} lines: access.log {squid.stat().st_size >> 20} MiB, "
              f"http.log {zeek.stat().st_size >> 20} MiB; {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        squid_rate = scan_runs(squid, args.lines, args.runs, work)
        scan_runs(zeek, args.lines, args.runs, work)
        if args.sniffer:
            sniff(args.sniffer, connections, args.lines, work, args.sniffer_runs, squid_rate)
        print(f"load average at the end {os.getloadavg()[0]:.1f}", flush=True)


def sniff(
    tool: Path, connections: Path, lines: int, work: Path, runs: int, squid_rate: float
) -> None:
    rates = []
    for n in range(runs):
        seconds, peak, cpu, _ = timed(
            [str(tool), "scan", "--input", str(connections)], dict(os.environ), work
        )
        rates.append(lines / seconds)
        print(f"  shadow-sniffer run {n + 1}: {seconds:.2f} s, {lines / seconds:,.0f} lines/s, "
              f"{cpu:.1f} CPU-s, peak RSS {peak / 1024:.0f} MiB", flush=True)  # fmt: skip
    rate = statistics.median(rates)
    print(
        f"shadow-sniffer: median {rate:,.0f} lines/s; logs scan on the same records as a "
        f"Squid log is {squid_rate / rate:.1f}x faster",
        flush=True,
    )


if __name__ == "__main__":
    main()
