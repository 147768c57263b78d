"""The coverage-guided harnesses, a few seconds each (``python -m bench fuzz`` runs them long)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.fuzz import HARNESSES, run_harness

pytest.importorskip("atheris", reason="atheris has wheels for x86_64 only")


@pytest.mark.parametrize("name", HARNESSES)
def test_harness_finds_nothing_in_a_few_seconds(name: str, tmp_path: Path) -> None:
    assert run_harness(name, 5, tmp_path / "corpus") == 0
    assert any((tmp_path / "corpus").iterdir())  # libFuzzer ran and kept inputs
