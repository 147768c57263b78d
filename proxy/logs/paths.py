"""Secrets in logged URL paths, masked before a path reaches the inventory or a sink."""

from __future__ import annotations

from collections.abc import Callable

from shadowlens.proxy.dlp import DlpLimits, Scanner
from shadowlens.proxy.dlp.urlpath import scan_path
from shadowlens.proxy.inspection import finding_records
from shadowlens.proxy.inventory.events import FindingRecord

MAX_REMEMBERED = 100_000  # distinct paths whose answer is kept; past it, they are rescanned

Kept = tuple[str, tuple[FindingRecord, ...]]


class PathMasker:
    """Each distinct path scanned once for secrets; the scanner is built on first use, so a
    log with no AI traffic costs nothing."""

    def __init__(self, build: Callable[[], Scanner], limits: DlpLimits) -> None:
        self.build, self.limits = build, limits
        self.scanner: Scanner | None = None
        self.seen: dict[str, Kept] = {}

    def __call__(self, path: str) -> Kept:
        """The path as kept (each secret masked) and the findings' records."""
        if (known := self.seen.get(path)) is not None:
            return known
        if self.scanner is None:
            self.scanner = self.build()
        scan = scan_path(path, scanner=self.scanner, limits=self.limits)
        kept = (scan.masked(), finding_records(scan.report.findings)) if scan else (path, ())
        if len(self.seen) < MAX_REMEMBERED:
            self.seen[path] = kept
        return kept
