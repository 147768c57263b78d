"""``python -m shadowlens`` runs the ``shadowlens`` command."""

import sys

from shadowlens.proxy.cli import main

sys.exit(main())
