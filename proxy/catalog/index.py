"""The compiled host index: one dict lookup per host suffix, whatever the catalog's size."""

from __future__ import annotations

from collections.abc import Iterable

from proxy.catalog.model import Match, Service


def normalize_host(host: str) -> str:
    """Lower-case a host and strip a port, brackets and a trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal, maybe with a port
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


class HostIndex:
    """Maps every catalog domain to its service; a host matches its longest listed suffix."""

    __slots__ = ("_by_domain", "services")

    def __init__(self, services: Iterable[Service]) -> None:
        self.services: dict[str, Service] = {}
        self._by_domain: dict[str, Service] = {}
        for service in services:
            self.services[service.id] = service
            for domain in service.domains:
                self._by_domain[domain] = service

    def __len__(self) -> int:
        return len(self.services)

    def lookup(self, host: str, *, evidence: str = "host") -> Match | None:
        """Return the service whose domain is the longest suffix of ``host``, if any."""
        candidate = normalize_host(host)
        while candidate:
            service = self._by_domain.get(candidate)
            if service is not None:
                return Match(service=service, evidence=evidence, matched=candidate)
            _, _, candidate = candidate.partition(".")
        return None
