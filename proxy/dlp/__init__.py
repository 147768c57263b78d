"""DLP: find secrets, personal data, source code and confidential markers in uploads.

Build one :class:`Scanner` at startup with :func:`load_scanner` and share it; scanning is
thread-safe. :func:`inspect_body` decodes an HTTP body and scans every text in it;
:func:`redact_body` masks the findings in the body and re-encodes it.

It owns the detectors' loading and engines, body decoding (``decoding``, ``multipart``,
``documents``, ``ocr``), the walk over what a body holds (``walk``), redaction and
pseudonyms. It imports errors, settings, metrics, keys and the JSON helpers of ours, nothing
else: no catalog, policy or inventory.
"""

from __future__ import annotations

from shadowlens.proxy.dlp.body import (
    RedactionError,
    findings_in_prompt,
    inspect_body,
    inspect_text,
    is_prompt_location,
    quick_to_scan,
    redact_body,
)
from shadowlens.proxy.dlp.engine import ENGINES, HYPERSCAN_AVAILABLE, Scanner, load_scanner
from shadowlens.proxy.dlp.model import BodyReport, Detector, DlpLimits, Finding
from shadowlens.proxy.dlp.redact import redact_text

__all__ = [
    "ENGINES",
    "HYPERSCAN_AVAILABLE",
    "BodyReport",
    "Detector",
    "DlpLimits",
    "Finding",
    "RedactionError",
    "Scanner",
    "findings_in_prompt",
    "inspect_body",
    "inspect_text",
    "is_prompt_location",
    "load_scanner",
    "quick_to_scan",
    "redact_body",
    "redact_text",
]
