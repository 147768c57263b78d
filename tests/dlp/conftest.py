"""Shared fixtures: the project's detectors compiled once per engine for the session."""

from __future__ import annotations

import pytest
from dlp_support import KEY, KEYWORDS, RULES_DIR

from shadowlens.proxy.dlp import HYPERSCAN_AVAILABLE, Scanner, load_scanner
from shadowlens.proxy.dlp.rules import RuleSet, load_rules

ENGINES = [
    "python",
    pytest.param(
        "hyperscan",
        marks=pytest.mark.skipif(not HYPERSCAN_AVAILABLE, reason="hyperscan wheel not installed"),
    ),
]

_cache: dict[str, Scanner] = {}


@pytest.fixture(scope="session", params=ENGINES)
def scanner(request: pytest.FixtureRequest) -> Scanner:
    """The full detector set, once per engine: every test using it runs on both."""
    engine = request.param
    if engine not in _cache:
        _cache[engine] = load_scanner(
            RULES_DIR, fingerprint_key=KEY, engine=engine, keywords=KEYWORDS
        )
    return _cache[engine]


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_rules(RULES_DIR, KEYWORDS)
