"""Errors the core raises for bad configuration."""

from __future__ import annotations

from pathlib import Path


class RulesError(ValueError):
    """A rules file is malformed: names the file, the entry and the reason."""

    def __init__(self, file: Path | str, entry: str, reason: str) -> None:
        self.file = str(file)
        self.entry = entry
        self.reason = reason
        super().__init__(f"{self.file}: {entry}: {reason}")
