"""Throughput of Presidio (pattern recognizers only, no spaCy model) and detect-secrets.

Runs inside the bench-only environment ``bench/.venv-compare`` (see
bench/requirements-compare.txt); ``dlp_bench.py`` calls it with a JSON file of chunks and
reads one JSON line of results from stdout.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

_KEEP: list[object] = []


def _offline_tldextract() -> None:
    """Presidio's URL recognizer uses tldextract, which would fetch the suffix list."""
    try:
        import tldextract
    except ImportError:
        return
    extractor = tldextract.TLDExtract(suffix_list_urls=())
    tldextract.tldextract.TLD_EXTRACTOR = extractor
    tldextract.extract = extractor  # type: ignore[assignment]


def presidio_scanner() -> tuple[Callable[[str], int], list[str]]:
    _offline_tldextract()
    from presidio_analyzer import RecognizerRegistry
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(languages=["en"])
    recognizers = [
        r
        for r in registry.recognizers
        if not isinstance(r, SpacyRecognizer) and getattr(r, "supported_language", "en") == "en"
    ]

    def scan(text: str) -> int:
        found = 0
        for rec in recognizers:
            found += len(rec.analyze(text, rec.supported_entities, None) or [])
        return found

    return scan, [type(r).__name__ for r in recognizers]


def detect_secrets_scanner() -> Callable[[str], int]:
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings

    ctx = default_settings()
    ctx.__enter__()
    _KEEP.append(ctx)  # the settings reset when the context is garbage-collected

    def scan(text: str) -> int:
        return sum(1 for line in text.splitlines() for _ in scan_line(line))

    return scan


def measure(scan: Callable[[str], int], chunks: list[str], repeats: int) -> dict[str, float]:
    size = sum(len(c.encode()) for c in chunks) / 1e6
    rates = []
    found = 0
    for _ in range(repeats):
        start = time.perf_counter()
        found = sum(scan(c) for c in chunks)
        rates.append(size / (time.perf_counter() - start))
    return {"mb": size, "mb_per_s": statistics.median(rates), "findings": found}


def main() -> int:
    chunks = json.loads(Path(sys.argv[1]).read_text())
    budget_mb = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    subset: list[str] = []
    total = 0
    for chunk in chunks:
        if total >= budget_mb * 1e6:
            break
        subset.append(chunk)
        total += len(chunk.encode())
    out: dict[str, object] = {}
    scan, names = presidio_scanner()
    out["presidio"] = measure(scan, subset, 1) | {"recognizers": names}
    out["detect_secrets"] = measure(detect_secrets_scanner(), subset, 1)
    print(json.dumps(out), flush=True)
    os._exit(0)  # skip detect-secrets' settings teardown at interpreter exit


if __name__ == "__main__":
    raise SystemExit(main())
