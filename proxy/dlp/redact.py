"""Masking of finding spans in text."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from shadowlens.proxy.dlp.model import Finding


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


def mask_label(detector: str, value: str = "") -> str:
    """The default replacement: the detector's name, nothing of the value."""
    return f"[REDACTED:{detector}]"


# What replaces a masked span: a function of the detector and the span's text.
Replacement = Callable[[str, str], str]


def redact_text(text: str, findings: Sequence[Finding], label: Replacement = mask_label) -> str:
    """``text`` with each finding's span replaced by ``label`` (``[REDACTED:<detector>]``).

    Findings must come from scanning this same text (offsets are into it); limit findings
    are ignored. Text outside the spans is unchanged.
    """
    spans = merged_spans(findings, len(text))
    if not spans:
        return text
    parts: list[str] = []
    pos = 0
    for start, end, detector in spans:
        parts.append(text[pos:start])
        parts.append(label(detector, text[start:end]))
        pos = end
    parts.append(text[pos:])
    return "".join(parts)
