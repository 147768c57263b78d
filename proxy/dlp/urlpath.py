"""Secrets in a URL's path: a bot token, a webhook key or a pasted API key in a path segment.

Only the ``secret`` category is kept: ids fill paths, and personal-data detectors (phone,
card numbers) would take some of them. A path is kept in the inventory with each secret
masked, and the policy sees its findings as it sees a query value's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from urllib.parse import quote, unquote

from shadowlens.proxy.dlp.body import RedactionError, inspect_text
from shadowlens.proxy.dlp.engine import Scanner
from shadowlens.proxy.dlp.model import BodyReport, DlpLimits, Finding
from shadowlens.proxy.dlp.redact import Replacement, mask_label, redact_text

LOCATION = "path"
KEPT_CATEGORIES = frozenset({"secret", "limit"})
DECODE_ROUNDS = 4  # ``%2567`` is ``%67`` once decoded, and ``g`` twice


@dataclass(frozen=True, slots=True)
class PathScan:
    """The secrets of one path (without its query); the findings' spans index ``text``."""

    report: BodyReport
    text: str  # the path as scanned: percent-decoded until no escape is left
    decoded: bool  # ``text`` is not the path as sent, so spans cannot be masked in place

    def masked(self) -> str:
        """The path as the inventory keeps it: each secret replaced by its detector's name."""
        return redact_text(self.text, self.report.redactable)

    def rewritten(self, findings: list[Finding], label: Replacement = mask_label) -> str:
        """The path to send on with ``findings`` masked; raises :class:`RedactionError` when
        the path was scanned decoded or not in full (then the request is blocked instead)."""
        if self.decoded or not self.report.complete:
            raise RedactionError("a secret in a percent-encoded URL path cannot be masked")
        return redact_text(self.text, findings, lambda det, value: quote(label(det, value), ""))


def scan_path(path: str, *, scanner: Scanner, limits: DlpLimits) -> PathScan | None:
    """The secrets in ``path`` (no query string), or None when it holds none.

    A path with a percent escape is scanned decoded, as often as it takes, so no escape (nor
    an escaped escape) hides a secret from the scan or from the path the inventory keeps.
    """
    text = path
    for _ in range(DECODE_ROUNDS):
        if "%" not in text or (decoded := unquote(text, errors="replace")) == text:
            break
        text = decoded
    report = inspect_text(text, scanner=scanner, limits=limits, location=LOCATION)
    kept = [f for f in report.findings if f.category in KEPT_CATEGORIES]
    if not kept and report.complete:
        return None
    return PathScan(dataclasses.replace(report, findings=kept), text, decoded=text != path)
