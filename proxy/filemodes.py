"""The data dir and the files in it are the owner's alone.

The data dir holds the inventory, the CA's private key and the keys that sign coaching
tokens and fingerprint findings. What shadowlens creates there is 0700 (dirs) and 0600
(files). A dir that already exists is the operator's choice and is left as it is, with a
warning when other users can enter it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def private_dir(path: Path) -> None:
    """Create ``path`` with mode 0700 when it is missing; warn once if others may enter it."""
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            _warn_shared(path.resolve())


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists; its contents are left alone."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


@functools.cache
def _warn_shared(path: Path) -> None:
    log.warning(
        "data dir %s is open to other users (mode %o); shadowlens leaves it so (chmod 700 it)",
        path,
        path.stat().st_mode & 0o777,
    )
