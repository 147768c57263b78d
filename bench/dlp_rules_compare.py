"""Scan rate of two DLP rule folders, interleaved in one process, in CPU time.

On a shared machine wall-clock rates swing with other work; CPU time per MB, measured
alternately for the two rule sets on the same corpus, compares them fairly.

Usage: .venv/bin/python bench/dlp_rules_compare.py BEFORE_RULES_DIR [AFTER_RULES_DIR] [--mb 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlp_corpus import RULES_DIR, mixed_chunks

from shadowlens.proxy.dlp import load_scanner


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path, nargs="?", default=RULES_DIR)
    parser.add_argument("--mb", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    chunks = mixed_chunks(int(args.mb * 1024 * 1024))
    mb = sum(len(c.encode()) for c in chunks) / 1e6
    scanners = {
        name: load_scanner(path, fingerprint_key=b"bench", engine="hyperscan")
        for name, path in (("before", args.before), ("after", args.after))
    }
    for scanner in scanners.values():
        for chunk in chunks[:100]:  # warm up
            scanner.scan(chunk)
    rates: dict[str, list[float]] = {name: [] for name in scanners}
    for _ in range(args.repeats):
        for name, scanner in scanners.items():
            start = time.process_time()
            for chunk in chunks:
                scanner.scan(chunk)
            rates[name].append(mb / (time.process_time() - start))
    for name, values in rates.items():
        print(
            f"{name}: {len(scanners[name].detectors)} detectors, {mb:.2f} MB, "
            f"median {statistics.median(values):.1f} MB per CPU-second "
            f"({', '.join(f'{v:.1f}' for v in values)})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
