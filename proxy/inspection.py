"""Inspection's core: query values scanned, and findings turned into what the inventory keeps."""

from __future__ import annotations

from collections.abc import Sequence

from shadowlens.proxy.dlp import BodyReport, DlpLimits, Finding, Scanner, inspect_text, summarize
from shadowlens.proxy.inventory.events import FindingRecord


def finding_records(findings: Sequence[Finding]) -> tuple[FindingRecord, ...]:
    """One record per detector and value: the same secret pasted three times counts 3."""
    return tuple(
        FindingRecord(
            detector=row.detector,
            category=row.category,
            severity=row.severity,
            count=row.count,
            preview=row.preview[:64],
            fingerprint=row.fingerprint,
            location=",".join(row.locations)[:256],
        )
        for row in summarize(findings)
    )


def scan_query(
    fields: Sequence[tuple[str, str]], *, scanner: Scanner, limits: DlpLimits
) -> dict[int, BodyReport]:
    """The report of each query value that holds a finding or could not be scanned in full."""
    reports = {}
    for index, (name, value) in enumerate(fields):
        if value:
            report = inspect_text(
                value, scanner=scanner, limits=limits, location=f"query:{name[:64]}"
            )
            if report.findings or not report.complete:
                reports[index] = report
    return reports
