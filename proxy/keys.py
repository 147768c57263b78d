"""Secret keys: the one configured, or a random one kept in the data dir."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from shadowlens.proxy.filemodes import private_dir


def configured_or_kept(configured: str, path: Path) -> bytes:
    """``configured`` as bytes if given; else the key in ``path``, created once (mode 0600)."""
    if configured:
        return configured.encode("utf-8")
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    private_dir(path.parent)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex())
    return key
