"""The soak's short version (``python -m bench soak`` runs 300 clients for 5 minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import soak

pytestmark = pytest.mark.e2e


def test_twenty_second_soak_loses_nothing_and_stays_flat(tmp_path: Path) -> None:
    result, output = soak(clients=36, seconds=20, data_dir=tmp_path)
    assert result.expected_detections > 0 and set(result.requests) >= {"http/2", "websocket"}
    assert result.passed, (result, output[-4000:])
