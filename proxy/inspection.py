"""Inspection's core: query values scanned, and findings turned into what the inventory keeps."""

from __future__ import annotations

from collections.abc import Sequence

from shadowlens.proxy.dlp import BodyReport, DlpLimits, Finding, Scanner, inspect_text
from shadowlens.proxy.dlp.model import SEVERITY_RANK
from shadowlens.proxy.inventory.events import FindingRecord


def finding_records(findings: Sequence[Finding]) -> tuple[FindingRecord, ...]:
    """One record per detector and value, most severe first: the same secret pasted three
    times counts 3. Limit findings (no value) group by detector.

    A :class:`FindingRecord` is what an event carries: the format the journal, the spool and
    the SIEM sinks write, with no positions (a value may occur at many).
    """
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.detector, finding.fingerprint), []).append(finding)
    records = [_record(same) for same in groups.values()]
    records.sort(key=lambda r: (-SEVERITY_RANK[r.severity], r.detector, r.fingerprint))
    return tuple(records)


def _record(same: list[Finding]) -> FindingRecord:
    """The record of findings of one value: the first one's preview, every location once."""
    first = same[0]
    locations = dict.fromkeys(f.location for f in same)
    return FindingRecord(
        detector=first.detector,
        category=first.category,
        severity=first.severity,
        count=len(same),
        preview=first.preview[:64],
        fingerprint=first.fingerprint,
        location=",".join(locations)[:256],
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
