"""Build the DLP objects from :class:`proxy.settings.Settings`."""

from __future__ import annotations

from pathlib import Path

from shadowlens.proxy.dlp.engine import Scanner, ScannerRecipe, load_scanner
from shadowlens.proxy.dlp.model import DlpLimits
from shadowlens.proxy.keys import configured_or_kept
from shadowlens.proxy.settings import Settings

KEY_FILE = "dlp-fingerprint.key"


def fingerprint_key(settings: Settings) -> bytes:
    """The configured key, or a random one created once (mode 0600) in the data dir."""
    return configured_or_kept(settings.dlp_fingerprint_key, Path(settings.data_dir) / KEY_FILE)


def keywords(settings: Settings) -> list[str]:
    return [k.strip() for k in settings.dlp_keywords.split(",") if k.strip()]


def limits(settings: Settings) -> DlpLimits:
    return DlpLimits(
        max_body_bytes=settings.dlp_max_body_bytes,
        max_decoded_bytes=settings.dlp_max_decoded_bytes,
        max_depth=settings.dlp_max_depth,
        ocr=settings.dlp_ocr,
        ocr_timeout=settings.dlp_ocr_timeout,
        ocr_max_pixels=settings.dlp_ocr_max_pixels,
    )


def recipe(settings: Settings) -> ScannerRecipe:
    return ScannerRecipe(
        settings.rules_dir,
        fingerprint_key(settings),
        settings.dlp_engine,
        tuple(keywords(settings)),
    )


def scanner(settings: Settings) -> Scanner:
    """Load ``<rules_dir>/dlp`` for the configured engine. Build once and share it."""
    return recipe(settings).build()


def secret_scanner(settings: Settings) -> Scanner:
    """The secret detectors alone, on the Python engine: built at once, for a few short
    texts (the URL paths a log scan keeps) where compiling Hyperscan would cost more."""
    return load_scanner(
        settings.rules_dir / "dlp",
        fingerprint_key=fingerprint_key(settings),
        engine="python",
        categories={"secret"},
    )
