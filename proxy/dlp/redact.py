"""Masking of finding spans in text."""

from __future__ import annotations

from collections.abc import Sequence

from proxy.dlp.model import Finding


def merged_spans(findings: Sequence[Finding], length: int) -> list[tuple[int, int, str]]:
    """Spans to mask, overlapping ones merged; each carries the label of its first finding."""
    spans = sorted(
        (max(0, f.start), min(length, f.end), f.detector)
        for f in findings
        if f.category != "limit" and f.end > f.start
    )
    merged: list[tuple[int, int, str]] = []
    for start, end, label in spans:
        if start >= end:
            continue
        if merged and start < merged[-1][1]:
            prev_start, prev_end, prev_label = merged[-1]
            merged[-1] = (prev_start, max(prev_end, end), prev_label)
        else:
            merged.append((start, end, label))
    return merged


def mask_label(detector: str) -> str:
    return f"[REDACTED:{detector}]"


def redact_text(text: str, findings: Sequence[Finding]) -> str:
    """``text`` with each finding's span replaced by ``[REDACTED:<detector>]``.

    Findings must come from scanning this same text (offsets are into it); limit findings
    are ignored. Text outside the spans is unchanged.
    """
    spans = merged_spans(findings, len(text))
    if not spans:
        return text
    parts: list[str] = []
    pos = 0
    for start, end, label in spans:
        parts.append(text[pos:start])
        parts.append(mask_label(label))
        pos = end
    parts.append(text[pos:])
    return "".join(parts)
