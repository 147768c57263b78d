"""Hot reload of rules: notice a change, load it, keep the last good version on failure."""

from __future__ import annotations

import logging
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from shadowlens.proxy import metrics
from shadowlens.proxy.errors import RulesError

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(paths: Sequence[Path]) -> Fingerprint:
    """Name, size and modification time of each file among or below ``paths``."""
    files = [p for path in paths for p in (path.rglob("*") if path.is_dir() else [path])]
    return tuple(sorted(filter(None, map(_file_stamp, files))))


def _file_stamp(path: Path) -> tuple[str, int, int] | None:
    """Name, size and mtime of a file; None for a folder or a file deleted meanwhile."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (str(path), st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None


class RulesWatcher[T]:
    """Reloads ``load()`` into ``apply`` whenever a file among or below ``paths`` changes."""

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        kind: str,
        load: Callable[[], T],
        apply: Callable[[T], None],
    ) -> None:
        self.paths = paths
        self.kind = kind
        self._load = load
        self._apply = apply
        self._seen = fingerprint(paths)

    def poll(self) -> bool:
        """Reload if anything changed; True when a new version took effect."""
        current = fingerprint(self.paths)
        if current == self._seen:
            return False
        self._seen = current
        try:
            loaded = self._load()
        except RulesError as exc:
            metrics.RULES_ERRORS.labels(rules=self.kind).inc()
            log.error("%s rules rejected, keeping the last good ones: %s", self.kind, exc)
            return False
        except Exception:  # a loader's bug must not end hot reload for good
            metrics.RULES_ERRORS.labels(rules=self.kind).inc()
            log.exception("%s rules failed to load, keeping the last good ones", self.kind)
            return False
        self._apply(loaded)
        metrics.RULES_RELOADS.labels(rules=self.kind).inc()
        log.info("%s rules reloaded", self.kind)
        return True
