"""What the catalog knows about an AI service, and what a match says."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shadowlens.proxy.catalog.hostnames import checked_host

# The evidence levels, weakest first. A detection's evidence is the strongest signal seen.
EVIDENCE_LEVELS = ("sni", "user_agent", "host", "protocol", "header", "path", "content")

# How sure each signal makes us, when the rule itself does not say.
DEFAULT_CONFIDENCE = {
    "sni": 0.8,
    "user_agent": 0.6,
    "host": 0.9,
    "protocol": 0.85,
    "header": 0.9,
    "path": 0.9,
    "content": 0.95,
}

UNKNOWN_LLM = "unknown-llm-endpoint"
MCP_SERVER = "mcp-server"


@dataclass(frozen=True, slots=True)
class Fact:
    """One governance fact about a service: where it was published and when it was read."""

    value: Any
    source: str
    read: str = ""  # ISO date the source was read; the loader requires it


@dataclass(frozen=True, slots=True)
class Signature:
    """A request-level signal: AI inside a host that is not AI by itself."""

    hosts: tuple[str, ...]
    evidence: str
    confidence: float
    methods: frozenset[str] = frozenset()
    path: re.Pattern[str] | None = None
    headers: tuple[tuple[str, re.Pattern[str]], ...] = ()

    def matches(self, method: str, path: str, headers: Any) -> bool:
        """True when method, path and headers all fit; ``headers`` maps lower-case names."""
        if self.methods and method not in self.methods:
            return False
        if self.path is not None and not self.path.match(path):
            return False
        return all(rx.search(headers.get(name, "") or "") for name, rx in self.headers)


@dataclass(frozen=True, slots=True)
class Service:
    """One AI service in the catalog."""

    id: str
    name: str
    vendor: str
    category: str
    domains: tuple[str, ...] = ()
    host_patterns: tuple[str, ...] = ()
    signatures: tuple[Signature, ...] = ()
    account_headers: tuple[str, ...] = ()
    facts: dict[str, Fact] = field(default_factory=dict, hash=False, compare=False)
    family: str = ""  # finer than category: the rules file's stem unless the entry names one


@dataclass(frozen=True, slots=True)
class Match:
    """A classification hit: the service, the strongest signal and what else was seen."""

    service: Service
    evidence: str
    matched: str  # the domain, pattern, path rule or protocol that matched
    confidence: float = 0.0
    signals: tuple[str, ...] = ()
    model: str | None = None
    client: str | None = None
    account: str | None = None

    def __post_init__(self) -> None:
        if not self.confidence:
            object.__setattr__(self, "confidence", DEFAULT_CONFIDENCE[self.evidence])
        if not self.signals:
            object.__setattr__(self, "signals", (self.evidence,))


def unknown_endpoint(kind: str, host: str) -> Service:
    """The inventory entry for an uncatalogued LLM endpoint or MCP server, keyed by host.

    A host that is no DNS name or IP literal is keyed as :data:`INVALID_HOST`.
    """
    host = checked_host(host)
    if kind == MCP_SERVER:
        return Service(f"{MCP_SERVER}:{host}", f"MCP server at {host}", host, "mcp_server")
    return Service(f"{UNKNOWN_LLM}:{host}", f"Unknown LLM endpoint at {host}", host, "unknown_llm")
