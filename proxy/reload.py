"""Hot reload of rules: notice a change, load it, keep the last good version on failure."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from proxy import metrics
from proxy.errors import RulesError

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(folder: Path) -> Fingerprint:
    """Name, size and modification time of every file below ``folder``."""
    files = (p for p in folder.rglob("*") if p.is_file())
    return tuple(sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))


class RulesWatcher[T]:
    """Reloads ``load()`` into ``apply`` whenever the files below ``folder`` change."""

    def __init__(
        self, folder: Path, *, kind: str, load: Callable[[], T], apply: Callable[[T], None]
    ) -> None:
        self.folder = folder
        self.kind = kind
        self._load = load
        self._apply = apply
        self._seen = fingerprint(folder)

    def poll(self) -> bool:
        """Reload if anything changed; True when a new version took effect."""
        current = fingerprint(self.folder)
        if current == self._seen:
            return False
        self._seen = current
        try:
            loaded = self._load()
        except RulesError as exc:
            metrics.RULES_ERRORS.labels(rules=self.kind).inc()
            log.error("%s rules rejected, keeping the last good ones: %s", self.kind, exc)
            return False
        self._apply(loaded)
        metrics.RULES_RELOADS.labels(rules=self.kind).inc()
        log.info("%s rules reloaded from %s", self.kind, self.folder)
        return True
