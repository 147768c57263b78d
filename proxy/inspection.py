"""From DLP findings to what the inventory keeps: counted, masked, fingerprinted."""

from __future__ import annotations

from collections.abc import Sequence

from proxy.dlp import Finding, summarize
from proxy.inventory.events import FindingRecord


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
