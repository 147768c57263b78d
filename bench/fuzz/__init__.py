"""Fuzzing: the Hypothesis properties at length, then coverage-guided harnesses (atheris).

``python -m bench fuzz [--examples 10000] [--seconds 300]`` runs every Hypothesis fuzz test
in ``tests/hostile`` (and the log prefilter's) with ``--examples`` examples each, then each
atheris harness here for ``--seconds`` under libFuzzer. Each harness module exposes
``one_input(data)``, which raises only on a bug; ``python -m bench.fuzz NAME [libFuzzer
flags]`` runs one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HARNESSES = ("multipart", "jsonpos")
FUZZ_TESTS = (
    "tests/hostile",
    "tests/test_logscan_prefilter.py",
    "tests/security/test_api_schemathesis.py",
)


def run_harness(name: str, seconds: int, corpus: Path) -> int:
    """Fuzz one harness for ``seconds``; libFuzzer's exit status (0: nothing found)."""
    corpus.mkdir(parents=True, exist_ok=True)
    flags = [f"-max_total_time={seconds}", "-rss_limit_mb=2048", "-timeout=10", str(corpus)]
    return subprocess.run([sys.executable, "-m", "bench.fuzz", name, *flags], cwd=ROOT).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench fuzz", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--examples", type=int, default=10_000, help="Hypothesis examples per test")
    parser.add_argument("--seconds", type=int, default=300, help="libFuzzer time per harness")
    parser.add_argument("--skip-hypothesis", action="store_true")
    args = parser.parse_args(argv)
    failed = []
    if not args.skip_hypothesis:
        env = os.environ | {"SHADOWLENS_FUZZ_EXAMPLES": str(args.examples)}
        tests = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FUZZ_TESTS]
        if subprocess.run(tests, cwd=ROOT, env=env).returncode:
            failed.append("hypothesis")
    with tempfile.TemporaryDirectory(prefix="shadowlens-fuzz-") as folder:
        failed += [h for h in HARNESSES if run_harness(h, args.seconds, Path(folder) / h)]
    print("fuzz: " + (f"FAILED {', '.join(failed)}" if failed else "nothing found"))
    return 1 if failed else 0
