"""Data types shared by the DLP engine: detectors, findings, limits and body reports."""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field

CATEGORIES = ("secret", "pii", "code", "keyword", "limit")
SEVERITIES = ("low", "medium", "high", "critical")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

FINGERPRINT_HEX = 32


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected value, in memory: the span (``start``/``end``) that redaction masks in
    the text its ``location`` names, and how to recognise the value again, never the value.

    Events carry findings grouped by value instead (:func:`proxy.inspection.finding_records`).
    """

    detector: str
    category: str
    severity: str
    start: int
    end: int
    preview: str
    fingerprint: str
    location: str = ""

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly view (it carries no raw value, so it is safe to log)."""
        return {
            "detector": self.detector,
            "category": self.category,
            "severity": self.severity,
            "start": self.start,
            "end": self.end,
            "preview": self.preview,
            "fingerprint": self.fingerprint,
            "location": self.location,
        }


Validator = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class Detector:
    """A compiled detector: a regex with the filters and validators that confirm its hits."""

    id: str
    category: str
    severity: str
    pattern: str
    regex: re.Pattern[str]
    group: int | str = 0
    keywords: tuple[str, ...] = ()
    min_entropy: float = 0.0
    validators: tuple[Validator, ...] = ()
    validator_names: tuple[str, ...] = ()
    allow: tuple[re.Pattern[str], ...] = ()
    stopwords: tuple[str, ...] = ()
    placeholder_filter: bool = False
    priority: int = 50
    description: str = ""
    source: str = ""
    max_width: int | None = None  # widest possible match, None when unbounded
    max_newlines: int | None = None  # most line breaks in one match, None when unbounded
    max_hits: int = 0  # report at most this many matches per text (0: all)
    prefilter: str = ""  # Hyperscan pattern matching a substring of every regex match
    tags: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class DlpLimits:
    """Bounds on the work done for one body; going over any of them is itself a finding."""

    max_body_bytes: int = 8 * 1024 * 1024
    max_decoded_bytes: int = 16 * 1024 * 1024
    max_depth: int = 3
    max_segments: int = 20_000
    max_segment_chars: int = 4 * 1024 * 1024
    min_base64_chars: int = 64
    ocr: bool = True  # read text in images with tesseract, when it is installed
    ocr_timeout: float = 10.0  # seconds tesseract may take for one image
    ocr_max_pixels: int = 25_000_000  # larger images are not read


@dataclass(slots=True)
class BodyReport:
    """What :func:`inspect_body` found in a body. Holds findings and flags, never raw content."""

    findings: list[Finding] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    complete: bool = True  # every part of the body was scanned
    truncated: bool = False  # the body could not be decoded in full: it cannot be redacted
    decoded_bytes: int = 0
    segments: int = 0
    media: str = "text"
    limits: DlpLimits | None = None  # the limits it was inspected with (redaction reuses them)
    conversation: str | None = None  # a web app's conversation id found in the body

    @property
    def redactable(self) -> list[Finding]:
        """Findings that have a span to mask (limit findings have none)."""
        return [f for f in self.findings if f.category != "limit"]


def fingerprint(key: bytes, value: str) -> str:
    """Keyed HMAC-SHA256 of a value, truncated to 32 hex digits: stable across runs per key."""
    raw = value.encode("utf-8", "surrogatepass")
    return hmac.digest(key, raw, "sha256").hex()[:FINGERPRINT_HEX]  # one-shot: OpenSSL's fast path


def mask_preview(value: str) -> str:
    """A preview that shows at most the first and last four characters (``AKIA****MPLE``)."""
    n = len(value)
    if n <= 6:
        return "*" * n
    if n < 12:
        shown = 1
    elif n < 16:
        shown = 2
    else:
        shown = 4
    stars = min(n - 2 * shown, 24)
    head = _printable(value[:shown])
    tail = _printable(value[-shown:])
    return head + "*" * stars + tail


def _printable(part: str) -> str:
    return "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else "?" for c in part)
