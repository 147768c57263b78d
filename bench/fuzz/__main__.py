"""Run one harness under libFuzzer: python -m bench.fuzz NAME [libFuzzer flags]."""

from __future__ import annotations

import importlib
import sys

import atheris


def main() -> None:
    name, flags = sys.argv[1], sys.argv[2:]
    harness = importlib.import_module(f"bench.fuzz.{name}")
    atheris.Setup([sys.argv[0], *flags], harness.one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
