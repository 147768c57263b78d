"""From DLP findings to what the inventory keeps: counted, masked, fingerprinted."""

from __future__ import annotations

from collections.abc import Sequence

from proxy.dlp import Finding
from proxy.inventory.events import FindingRecord


def finding_records(findings: Sequence[Finding]) -> tuple[FindingRecord, ...]:
    """One record per detector and value: the same secret pasted three times counts 3."""
    grouped: dict[tuple[str, str], tuple[Finding, int]] = {}
    for finding in findings:
        key = (finding.detector, finding.fingerprint)
        first, count = grouped.get(key, (finding, 0))
        grouped[key] = (first, count + 1)
    return tuple(
        FindingRecord(
            detector=f.detector,
            category=f.category,
            severity=f.severity,
            count=count,
            preview=f.preview[:64],
            fingerprint=f.fingerprint,
            location=f.location[:256],
        )
        for f, count in grouped.values()
    )
