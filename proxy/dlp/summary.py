"""Group findings into inventory rows: one per detector and value (fingerprint)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shadowlens.proxy.dlp.model import SEVERITY_RANK, Finding


@dataclass(frozen=True, slots=True)
class FindingSummary:
    """One detected value in one body: how often it occurred and where (no raw value)."""

    detector: str
    category: str
    severity: str
    count: int
    preview: str
    fingerprint: str
    locations: tuple[str, ...]


def summarize(findings: Sequence[Finding]) -> list[FindingSummary]:
    """Rows for the inventory, most severe first. Limit findings (no value) group by detector."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.detector, f.fingerprint), []).append(f)
    rows = []
    for (_detector, _fp), items in groups.items():
        first = items[0]
        locations = tuple(dict.fromkeys(f.location for f in items))
        rows.append(
            FindingSummary(
                detector=first.detector,
                category=first.category,
                severity=first.severity,
                count=len(items),
                preview=first.preview,
                fingerprint=first.fingerprint,
                locations=locations,
            )
        )
    rows.sort(key=lambda r: (-SEVERITY_RANK[r.severity], r.detector, r.fingerprint))
    return rows
