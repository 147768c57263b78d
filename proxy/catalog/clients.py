"""AI clients (SDKs, CLIs, IDE plugins) recognised by their User-Agent."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Client:
    """An AI client and the User-Agent regex that gives it away."""

    id: str
    name: str
    user_agent: str
    service: str | None = None


class ClientMatcher:
    """All client regexes compiled into one alternation: one search per User-Agent."""

    __slots__ = ("_by_group", "_regex")

    def __init__(self, clients: Sequence[Client]) -> None:
        self._by_group = {f"c{n}": client for n, client in enumerate(clients)}
        alternation = "|".join(f"(?P<{g}>{c.user_agent})" for g, c in self._by_group.items())
        self._regex = re.compile(alternation, re.IGNORECASE) if clients else None

    def __len__(self) -> int:
        return len(self._by_group)

    def match(self, user_agent: str) -> Client | None:
        """The client whose regex matches first in ``user_agent``, if any."""
        if self._regex is None or not user_agent:
            return None
        found = self._regex.search(user_agent)
        return self._by_group[found.lastgroup] if found and found.lastgroup else None
