"""Hypothesis settings shared by the fuzz tests: few examples in CI, many in the long run.

``SHADOWLENS_FUZZ_EXAMPLES`` sets the examples per property (default 40, which keeps every
fuzz test together under a minute); ``scripts/dev fuzz`` runs them with 10,000.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("SHADOWLENS_FUZZ_EXAMPLES", "40"))

fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def json_strings(value: object) -> list[str]:
    """Every string value (not keys) in a parsed JSON document, in document order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in json_strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in json_strings(item)]
    return []
