"""Constants shared by the DLP tests (imported by name: this folder is on sys.path)."""

from __future__ import annotations

from pathlib import Path

RULES_DIR = Path(__file__).resolve().parents[2] / "rules" / "dlp"
KEY = b"test-fingerprint-key"
KEYWORDS = ("Project Bluebird", "ACME-X9")
