"""The compiled catalog: per host suffix, one dict probe, whatever the catalog's size."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping

from shadowlens.proxy.catalog.clients import ClientMatcher
from shadowlens.proxy.catalog.hostnames import normalize_host
from shadowlens.proxy.catalog.model import Match, Service, Signature


def suffixes(host: str) -> Iterator[str]:
    """``a.b.c`` → ``a.b.c``, ``b.c``, ``c``: longest first."""
    while host:
        yield host
        _, _, host = host.partition(".")


def pattern_key(pattern: str) -> str:
    """The fixed suffix of a host pattern: the labels after the last one with a ``*``."""
    labels = pattern.split(".")
    last_wild = max(i for i, label in enumerate(labels) if "*" in label)
    return ".".join(labels[last_wild + 1 :])


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``*`` stands for one or more characters inside a single label."""
    return re.compile(re.escape(pattern).replace(r"\*", "[a-z0-9-]+") + r"\Z")


class HostIndex:
    """Maps domains, host patterns and request signatures to services."""

    __slots__ = ("_by_domain", "_patterns", "_signatures", "clients", "services", "shared")

    def __init__(
        self,
        services: Iterable[Service],
        clients: ClientMatcher | None = None,
        shared: frozenset[str] = frozenset(),
    ) -> None:
        self.services: dict[str, Service] = {}
        self.clients = clients or ClientMatcher(())
        self.shared = shared
        self._by_domain: dict[str, Service] = {}
        self._patterns: dict[str, list[tuple[re.Pattern[str], str, Service]]] = defaultdict(list)
        self._signatures: dict[str, list[tuple[Signature, Service]]] = defaultdict(list)
        for service in services:
            self._add(service)

    def _add(self, service: Service) -> None:
        self.services[service.id] = service
        for domain in service.domains:
            self._by_domain[domain] = service
        for pattern in service.host_patterns:
            self._patterns[pattern_key(pattern)].append(
                (compile_pattern(pattern), pattern, service)
            )
        for signature in service.signatures:
            for host in signature.hosts:
                self._signatures[host].append((signature, service))

    def __len__(self) -> int:
        return len(self.services)

    def lookup(self, host: str, *, evidence: str = "host") -> Match | None:
        """The service whose domain or pattern is the longest suffix of ``host``, if any."""
        host = normalize_host(host)
        for suffix in suffixes(host):
            if match := self._host_match(host, suffix, evidence):
                return match
        return None

    def match(self, host: str, method: str, path: str, headers: Mapping[str, str]) -> Match | None:
        """One walk over the host's suffixes, most specific first; at each suffix a request
        signature beats a domain or pattern."""
        host = normalize_host(host)
        for suffix in suffixes(host):
            for signature, service in self._signatures.get(suffix, ()):
                if signature.matches(method, path, headers):
                    return Match(
                        service=service,
                        evidence=signature.evidence,
                        matched=signature.path.pattern if signature.path else suffix,
                        confidence=signature.confidence,
                    )
            if match := self._host_match(host, suffix, "host"):
                return match
        return None

    def suffix_keys(self) -> frozenset[str]:
        """Every suffix a domain, host pattern or request signature sits on: a host that
        holds none of them is not AI."""
        return frozenset({*self._by_domain, *self._patterns, *self._signatures})

    def has_signatures(self, host: str) -> bool:
        """True when a request signature sits on ``host``: then its path and headers matter."""
        return any(s in self._signatures for s in suffixes(normalize_host(host)))

    def _host_match(self, host: str, suffix: str, evidence: str) -> Match | None:
        service = self._by_domain.get(suffix)
        if service is not None:
            return Match(service=service, evidence=evidence, matched=suffix)
        for regex, pattern, service in self._patterns.get(suffix, ()):
            if regex.match(host):
                return Match(service=service, evidence=evidence, matched=pattern)
        return None

    def worth_decrypting(self, host: str) -> bool:
        """Whether a service may show in this host's traffic: its domain or pattern, or a
        request signature (AI built into a SaaS) on it or a parent domain."""
        host = normalize_host(host)
        return any(
            suffix in self._signatures or self._host_match(host, suffix, "sni") is not None
            for suffix in suffixes(host)
        )

    def is_shared(self, host: str) -> bool:
        """True when ``host`` is, or sits under, shared infrastructure."""
        return any(s in self.shared for s in suffixes(normalize_host(host)))
