"""`python -m bench [--full]`: every benchmark; `python -m bench soak`: the soak."""

from __future__ import annotations

import sys

from bench import soak

if __name__ == "__main__":
    if sys.argv[1:2] == ["soak"]:
        sys.exit(soak.main(sys.argv[2:]))
    sys.exit(2)
