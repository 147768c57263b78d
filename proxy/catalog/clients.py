"""AI clients (SDKs, CLIs, IDE plugins) recognised by their User-Agent."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Client:
    """An AI client and the User-Agent regex that gives it away."""

    id: str
    name: str
    user_agent: str
    keyword: str  # lower-case text every matching User-Agent contains
    service: str | None = None
    marks_endpoint: bool = False  # only talks to AI APIs: its UA alone marks an LLM endpoint
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.user_agent, re.IGNORECASE))


class ClientMatcher:
    """Checks each client's keyword first: a regex runs only where its keyword occurs.

    Python's ``re`` tries every branch of an alternation at every position, so one combined
    regex costs tens of microseconds on a browser's User-Agent; substring tests cost far less.
    """

    __slots__ = ("_clients",)

    def __init__(self, clients: Sequence[Client]) -> None:
        self._clients = tuple(clients)

    def __len__(self) -> int:
        return len(self._clients)

    def keywords(self) -> frozenset[str]:
        """What every User-Agent that :meth:`match` recognises contains, lower case."""
        return frozenset(client.keyword for client in self._clients)

    def match(self, user_agent: str) -> Client | None:
        """The first client whose keyword and regex both match ``user_agent``, if any."""
        if not user_agent:
            return None
        lowered = user_agent.lower()
        for client in self._clients:
            if client.keyword in lowered and client.regex.search(user_agent):
                return client
        return None
