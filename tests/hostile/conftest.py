"""Fixtures for the hostile-input tests: the shipped detectors, compiled once."""

from __future__ import annotations

import pytest

from shadowlens.proxy.dlp import Scanner, load_scanner
from tests.conftest import RULES_DIR

# the enforcement tests' settings (scenario policy) and Inspection, shared by the addon fuzzing
from tests.test_enforcement_addon import inspection, settings  # noqa: F401


@pytest.fixture(scope="session")
def scanner() -> Scanner:
    """The full detector set on the engine the proxy would pick."""
    return load_scanner(RULES_DIR / "dlp", fingerprint_key=b"fuzz-key")
