"""Build the DLP objects from :class:`proxy.settings.Settings`."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from proxy.dlp.engine import Scanner
from proxy.dlp.model import DlpLimits
from proxy.settings import Settings

KEY_FILE = "dlp-fingerprint.key"


def fingerprint_key(settings: Settings) -> bytes:
    """The configured key, or a random one created once (mode 0600) in the data dir."""
    if settings.dlp_fingerprint_key:
        return settings.dlp_fingerprint_key.encode("utf-8")
    path = Path(settings.data_dir) / KEY_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex())
    return key


def keywords(settings: Settings) -> list[str]:
    return [k.strip() for k in settings.dlp_keywords.split(",") if k.strip()]


def limits(settings: Settings) -> DlpLimits:
    return DlpLimits(
        max_body_bytes=settings.dlp_max_body_bytes,
        max_decoded_bytes=settings.dlp_max_decoded_bytes,
        max_depth=settings.dlp_max_depth,
    )


def scanner(settings: Settings) -> Scanner:
    """Load ``<rules_dir>/dlp`` for the configured engine. Build once and share it."""
    from proxy.dlp import load_scanner

    return load_scanner(
        settings.rules_dir / "dlp",
        fingerprint_key=fingerprint_key(settings),
        engine=settings.dlp_engine,
        keywords=keywords(settings),
    )
