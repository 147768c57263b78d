"""DLP throughput and false positives per MB.

Scans a generated ~10 MB mixed corpus (prose, code, JSON chat payloads with planted secrets
and personal data) in prompt-sized chunks (0.5-32 KiB) with each engine, single-threaded,
and reports the median of several runs. Also: end-to-end ``inspect_body`` on JSON bodies,
false positives per MB on secret-free prose, code and JSON, and - when bench/.venv-compare
exists - Presidio (pattern recognizers only) and detect-secrets on a subset of the corpus.

Usage: .venv/bin/python bench/dlp_bench.py [--mb 10] [--repeats 3] [--compare-mb 1]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlp_corpus import RULES_DIR, clean_chunks, mixed_chunks

from shadowlens.proxy.dlp import (
    HYPERSCAN_AVAILABLE,
    DlpLimits,
    Scanner,
    inspect_body,
    load_scanner,
)

COMPARE_PY = Path(__file__).resolve().parent / ".venv-compare" / "bin" / "python"


def _mb(chunks: list[str]) -> float:
    return sum(len(c.encode("utf-8")) for c in chunks) / 1e6


def scan_rate(scanner: Scanner, chunks: list[str], repeats: int) -> tuple[float, int]:
    size = _mb(chunks)
    rates = []
    found = 0
    for _ in range(repeats):
        start = time.perf_counter()
        found = sum(len(scanner.scan(c)) for c in chunks)
        rates.append(size / (time.perf_counter() - start))
    return statistics.median(rates), found


def body_rate(scanner: Scanner, bodies: list[bytes], repeats: int) -> float:
    size = sum(len(b) for b in bodies) / 1e6
    limits = DlpLimits()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for body in bodies:
            inspect_body(
                body,
                content_type="application/json",
                content_encoding=None,
                scanner=scanner,
                limits=limits,
            )
        rates.append(size / (time.perf_counter() - start))
    return statistics.median(rates)


def numeric_csv_chunks(rows: int = 20_000) -> list[str]:
    """A numeric CSV export (dates, ids, amounts) in 16 KiB chunks: digits everywhere."""
    rng = random.Random(5)
    lines = [
        f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},{rng.randint(0, 99999)},"
        f"{rng.random() * 1000:.2f},{rng.random():.6f},{rng.randint(10**8, 10**9)}"
        for _ in range(rows)
    ]
    text = "\n".join(lines)
    return [text[i : i + 16384] for i in range(0, len(text), 16384)]


def false_positives(scanner: Scanner) -> dict[str, float]:
    out = {}
    for kind in ("prose", "code", "json"):
        chunks = clean_chunks(kind)
        hits = [f for c in chunks for f in scanner.scan(c) if f.category in ("secret", "pii")]
        out[kind] = len(hits) / _mb(chunks)
    return out


def real_text_findings(scanner: Scanner, budget: int = 3_000_000) -> dict[str, dict[str, float]]:
    """Findings per MB on real files of this machine's virtualenv (code, docs, JSON data).

    No live credentials are expected there, so every secret finding counts as a false
    positive; personal-data findings are mostly genuine (author e-mails, example numbers).
    """
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site = site / "site-packages"
    out: dict[str, dict[str, float]] = {}
    kinds = {"code": ["*.py"], "prose": ["*.md", "*.rst", "*.txt", "METADATA"], "json": ["*.json"]}
    for kind, globs in kinds.items():
        files = sorted(p for g in globs for p in site.rglob(g) if "test" not in str(p).lower())
        size = 0
        secret = pii = 0
        for path in files:
            try:
                text = path.read_text("utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            for i in range(0, len(text), 16384):
                for f in scanner.scan(text[i : i + 16384]):
                    secret += f.category == "secret"
                    pii += f.category == "pii"
            size += len(text.encode())
            if size >= budget:
                break
        mb = size / 1e6
        out[kind] = {"mb": mb, "secret_per_mb": secret / mb, "pii_per_mb": pii / mb}
    return out


def compare(chunks: list[str], budget_mb: float) -> dict[str, dict[str, float]] | None:
    if not COMPARE_PY.exists():
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(chunks, fh)
        path = fh.name
    try:
        proc = subprocess.run(
            [
                str(COMPARE_PY),
                str(Path(__file__).with_name("dlp_compare.py")),
                path,
                str(budget_mb),
            ],
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
    finally:
        Path(path).unlink()
    if proc.returncode != 0 or not proc.stdout.strip():
        print("compare failed:", proc.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--python-repeats", type=int, default=1, help="runs of the (slow) pure-Python engine"
    )
    parser.add_argument("--compare-mb", type=float, default=1.0)
    parser.add_argument("--no-compare", action="store_true")
    args = parser.parse_args()

    t0 = time.perf_counter()
    chunks = mixed_chunks(int(args.mb * 1024 * 1024))
    print(
        f"corpus: {len(chunks)} chunks, {_mb(chunks):.2f} MB "
        f"(generated in {time.perf_counter() - t0:.1f}s)"
    )
    engines = ["hyperscan", "python"] if HYPERSCAN_AVAILABLE else ["python"]
    results: dict[str, dict[str, object]] = {}
    for engine in engines:
        t0 = time.perf_counter()
        scanner = load_scanner(RULES_DIR, fingerprint_key=b"bench", engine=engine)
        load_s = time.perf_counter() - t0
        repeats = args.repeats if engine == "hyperscan" else args.python_repeats
        for chunk in chunks[:200]:  # warm up: caches, lazily built tables
            scanner.scan(chunk)
        rate, found = scan_rate(scanner, chunks, repeats)
        bodies = [c.encode() for c in chunks if c.startswith("{")]
        brate = body_rate(scanner, bodies, repeats)
        fp = false_positives(scanner)
        csv_rate, _ = scan_rate(scanner, numeric_csv_chunks(), repeats)
        results[engine] = {
            "load_s": load_s,
            "mb_per_s": rate,
            "findings": found,
            "body_mb_per_s": brate,
            "fp_per_mb": fp,
            "csv_mb_per_s": csv_rate,
            "detectors": len(scanner.detectors),
        }
        print(
            f"{engine}: {len(scanner.detectors)} detectors, load {load_s:.2f}s, "
            f"scan {rate:.1f} MB/s median of {repeats} ({found} findings), "
            f"inspect_body on JSON {brate:.1f} MB/s, numeric CSV {csv_rate:.1f} MB/s, "
            f"FP/MB secret+pii: " + ", ".join(f"{k} {v:.2f}" for k, v in fp.items())
        )
    real = real_text_findings(load_scanner(RULES_DIR, fingerprint_key=b"bench"))
    for kind, row in real.items():
        print(
            f"real {kind} ({row['mb']:.1f} MB of site-packages): secret findings "
            f"{row['secret_per_mb']:.2f}/MB, personal-data findings {row['pii_per_mb']:.1f}/MB"
        )
    if not args.no_compare:
        other = compare(chunks, args.compare_mb)
        if other:
            best = max(float(r["mb_per_s"]) for r in results.values())  # type: ignore[arg-type]
            for name, row in other.items():
                print(
                    f"{name}: {row['mb_per_s']:.3f} MB/s on {row['mb']:.2f} MB "
                    f"-> shadowlens is {best / row['mb_per_s']:.0f}x"
                )
        else:
            print("compare: bench/.venv-compare not found (see bench/requirements-compare.txt)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
