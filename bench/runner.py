"""`python -m bench [--full] [--only NAME ...]`: run every benchmark, rewrite BENCHMARKS.md.

Each benchmark runs as its own process, one after another, short by default and at full
length with ``--full``. The scripts interleave their rounds and report medians, each against
a baseline measured in the same run (mitmdump for the proxy, the empty chain for dispatch,
the 100-service catalog for classification, the bare INSERT for the writer). The results
replace the generated part of BENCHMARKS.md, headed by the machine and the command.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
BEGIN = "<!-- bench:begin (written by python -m bench; edit the prose outside) -->"
END = "<!-- bench:end -->"


@dataclass(frozen=True)
class Bench:
    name: str
    title: str
    command: tuple[str, ...]  # after the interpreter: a script or -m module
    short: tuple[str, ...]
    full: tuple[str, ...]
    needs: str = ""  # a program on PATH the benchmark drives


BENCHES = (
    Bench("catalog", "Classification cost per flow", ("bench/catalog_bench.py",),
          ("--rounds", "3", "--flows", "10000"), ("--rounds", "7", "--flows", "50000")),
    Bench("dispatch", "mitmproxy addon dispatch", ("bench/dispatch_bench.py",),
          ("--events", "5000", "--rounds", "3"), ("--events", "20000", "--rounds", "5")),
    Bench("proxy", "Proxy overhead against mitmdump", ("bench/proxy_bench.py",),
          ("--seconds", "3", "--rounds", "3"), ("--seconds", "10", "--rounds", "5"), needs="wrk"),
    Bench("proxy_tls", "Proxy overhead with TLS interception against mitmdump",
          ("bench/proxy_tls_bench.py",), ("--seconds", "3", "--rounds", "3", "--sizes", "8"),
          ("--seconds", "10", "--rounds", "5"), needs="hey"),
    Bench("streaming", "Streaming: time to first token and a large upload",
          ("bench/streaming_bench.py",), ("--rounds", "3", "--requests", "10", "--upload-mb", "20"),
          ("--rounds", "5", "--requests", "20", "--upload-mb", "50")),
    Bench("startup_heap", "Full garbage collections in the proxy", ("bench/startup_heap.py",),
          ("--rounds", "3"), ("--rounds", "5")),
    Bench("dlp", "DLP throughput", ("bench/dlp_bench.py",),
          ("--mb", "1", "--repeats", "3", "--no-compare"), ("--mb", "10", "--repeats", "5")),
    Bench("dlp_eval", "DLP precision and recall", ("bench/dlp_eval.py",), (), ()),
    Bench("writer", "Inventory writer", ("bench/inventory_bench.py", "writer"),
          ("--events", "10000", "--rounds", "3"), ("--events", "100000", "--rounds", "3")),
    Bench("api", "API latency", ("bench/inventory_bench.py", "api"),
          ("--detections", "100000", "--requests", "50"),
          ("--detections", "5000000", "--requests", "200")),
    Bench("journal", "The journal: what writing ahead adds to an AI answer",
          ("bench/journal_bench.py",), ("--requests", "100", "--rounds", "1"),
          ("--requests", "400", "--rounds", "3")),
    Bench("sinks", "SIEM sinks", ("bench/sink_bench.py",),
          ("--events", "5000", "--rounds", "3"), ("--events", "20000", "--rounds", "5")),
    Bench("logscan", "Log discovery (logs scan)", ("bench/logscan_bench.py",),
          ("--lines", "200000", "--runs", "1"), ("--lines", "2000000", "--runs", "3")),
    Bench("soak", "Soak", ("-m", "bench", "soak"),
          ("--clients", "36", "--seconds", "20"), ("--clients", "300", "--seconds", "300")),
)  # fmt: skip


@dataclass
class Outcome:
    bench: Bench
    argv: list[str]
    seconds: float
    status: int
    stdout: str
    stderr: str


def run(bench: Bench, *, full: bool) -> Outcome:
    """Run one benchmark to its end (or note why it cannot run here)."""
    argv = [sys.executable, *bench.command, *(bench.full if full else bench.short)]
    if bench.needs and shutil.which(bench.needs) is None:
        return Outcome(bench, argv, 0.0, -1, "", f"{bench.needs} is not installed")
    print(f"bench: {bench.name} …", file=sys.stderr, flush=True)
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    return Outcome(
        bench, argv, time.monotonic() - started, done.returncode, done.stdout, done.stderr
    )


def machine() -> list[tuple[str, str]]:
    """What the figures depend on: the machine, its load, the software and the revision."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor() or "unknown",
    )  # fmt: skip
    memory = Path("/proc/meminfo").read_text().split()[1]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    from mitmproxy.version import VERSION

    return [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("commit", commit or "unknown"),
        ("CPU", f"{cpu}, {os.cpu_count()} logical cores"),
        ("memory", f"{int(memory) / 1024 / 1024:.1f} GiB"),
        ("load average at start", " ".join(f"{x:.1f}" for x in os.getloadavg())),
        ("Python", platform.python_version()),
        ("mitmproxy", VERSION),
    ]


def render(outcomes: list[Outcome], command: str, facts: list[tuple[str, str]]) -> str:
    """The generated part of BENCHMARKS.md."""
    lines = [BEGIN, "", "## Latest run", "", f"Command: `{command}`", "", "| machine | |"]
    lines += ["| --- | --- |", *(f"| {k} | {v} |" for k, v in facts), ""]
    for outcome in outcomes:
        lines += _section(outcome)
    return "\n".join([*lines, END])


def render_some(
    previous: str, outcomes: list[Outcome], command: str, facts: list[tuple[str, str]]
) -> str:
    """The generated part with only ``outcomes``' sections replaced, each saying when and
    how it was run; the machine table and the other sections stay the last full run's."""
    head, *parts = previous.removesuffix(END).split("\n### ")
    sections = {part.partition("\n")[0]: f"### {part}".strip("\n") for part in parts}
    facts_of = dict(facts)
    for outcome in outcomes:
        note = (f"Run alone: `{command}`, {facts_of['date']}, commit {facts_of['commit']}, "
                f"load average {facts_of['load average at start']}.")  # fmt: skip
        section = _section(outcome)
        sections[outcome.bench.title] = "\n".join([*section[:4], "", note, *section[4:]]).strip()
    kept = [sections[b.title] for b in BENCHES if b.title in sections]
    return "\n\n".join([head.rstrip("\n"), *kept, END])


def _section(outcome: Outcome) -> list[str]:
    lines = [f"### {outcome.bench.title}", "", f"`{_shown(outcome.argv)}`"]
    if outcome.status == 0:
        return [*lines, f"({outcome.seconds:.0f} s)", "", *_as_markdown(outcome.stdout)]
    return [*lines, "", f"Did not run: {_reason(outcome)}", ""]


def _shown(argv: list[str]) -> str:
    return " ".join([".venv/bin/python", *argv[1:]])


def _reason(outcome: Outcome) -> str:
    last = [line for line in outcome.stderr.splitlines() if line.strip()]
    return last[-1].strip() if last else f"exit status {outcome.status}"


def _as_markdown(stdout: str) -> list[str]:
    """Markdown tables as printed; every other run of lines in a code block."""
    out: list[str] = []
    block: list[str] = []
    for line in [*stdout.rstrip().splitlines(), ""]:
        if line.startswith("|") or not line.strip():
            if block:
                out += ["```", *block, "```"]
                block = []
            out.append(line)
        else:
            block.append(line)
    return out


def rewrite(text: str, generated: str) -> str:
    """``text`` with its generated part replaced (or added after the first paragraph)."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return head + generated + rest.split(END, 1)[1]
    title, _, body = text.partition("\n\n")
    return f"{title}\n\n{generated}\n\n{body}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the long runs (an hour or more)")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHES], default=None)
    parser.add_argument("--no-write", action="store_true", help="print, leave BENCHMARKS.md")
    args = parser.parse_args(argv)
    facts = machine()
    chosen = [b for b in BENCHES if args.only is None or b.name in args.only]
    outcomes = [run(bench, full=args.full) for bench in chosen]
    command = " ".join(["python -m bench", *argv])
    if args.only is not None and BEGIN in BENCHMARKS_MD.read_text():
        previous = BEGIN + BENCHMARKS_MD.read_text().split(BEGIN, 1)[1].split(END, 1)[0] + END
        generated = render_some(previous, outcomes, command, facts)
    else:
        generated = render(outcomes, command, facts)
    if args.no_write:
        print(generated)
    else:
        BENCHMARKS_MD.write_text(rewrite(BENCHMARKS_MD.read_text(), generated))
        print(f"bench: wrote {BENCHMARKS_MD.name}", file=sys.stderr)
    return 0 if all(o.status == 0 for o in outcomes) else 1
