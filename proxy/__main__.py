"""``python -m proxy`` runs the ``shadowlens`` command."""

import sys

from proxy.cli import main

sys.exit(main())
