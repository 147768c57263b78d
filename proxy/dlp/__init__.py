"""DLP: find secrets, personal data, source code and confidential markers in uploads.

Build one :class:`Scanner` at startup with :func:`load_scanner` and share it; scanning is
thread-safe. :func:`inspect_body` decodes an HTTP body and scans every text in it;
:func:`redact_body` masks the findings in the body and re-encodes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from proxy.dlp.body import (
    RedactionError,
    findings_in_prompt,
    inspect_body,
    inspect_text,
    is_prompt_location,
    quick_to_scan,
    redact_body,
)
from proxy.dlp.engine import HYPERSCAN_AVAILABLE, HyperscanScanner, Scanner
from proxy.dlp.model import BodyReport, Detector, DlpLimits, Finding
from proxy.dlp.redact import redact_text
from proxy.dlp.rules import load_rules

ENGINES = ("auto", "hyperscan", "python")

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


def load_scanner(
    dlp_dir: Path,
    *,
    fingerprint_key: bytes,
    engine: str = "auto",
    keywords: Sequence[str] = (),
) -> Scanner:
    """Load every detector in ``dlp_dir`` and compile them for ``engine``.

    ``auto`` picks Hyperscan when the module is installed, else the Python engine;
    ``hyperscan`` fails when it is not. Raises :class:`proxy.errors.RulesError` for a bad
    detector file.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    rules = load_rules(Path(dlp_dir), keywords)
    if engine == "hyperscan" or (engine == "auto" and HYPERSCAN_AVAILABLE):
        return HyperscanScanner(rules.detectors, rules.code_blocks, fingerprint_key=fingerprint_key)
    return Scanner(rules.detectors, rules.code_blocks, fingerprint_key=fingerprint_key)
