"""CSV writing that a spreadsheet cannot turn into a formula (OWASP CSV injection).

Hosts, models, accounts and user names are client-controlled, so a cell beginning with a
formula trigger is prefixed with a single quote: spreadsheets then show it as text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def neutralise(value: Any) -> Any:
    """``value`` with a leading single quote when it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


class SafeWriter:
    """A ``csv.writer`` whose every cell goes through :func:`neutralise`."""

    def __init__(self, out: _Writable) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        """Write one row, neutralised."""
        self._writer.writerow([neutralise(value) for value in row])
