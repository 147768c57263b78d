"""python -m bench [--full]: every benchmark; `soak` and `fuzz` are commands of their own."""

from __future__ import annotations

import sys

from bench import fuzz, runner, soak

COMMANDS = {"soak": soak.main, "fuzz": fuzz.main}

if __name__ == "__main__":
    command = COMMANDS.get(sys.argv[1] if len(sys.argv) > 1 else "")
    sys.exit(command(sys.argv[2:]) if command else runner.main(sys.argv[1:]))
