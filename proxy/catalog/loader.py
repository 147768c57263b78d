"""Loads and validates the rules into a :class:`HostIndex`.

Each file is checked against its published JSON Schema (``proxy/schemas/``) first, then for
what a schema cannot say: regexes that compile, public suffixes, shared infrastructure,
duplicate ids, domains and patterns. Every error names the file, the entry and the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import tldextract

from shadowlens.proxy.catalog.clients import Client, ClientMatcher
from shadowlens.proxy.catalog.index import HostIndex
from shadowlens.proxy.catalog.model import DEFAULT_CONFIDENCE, Fact, Service, Signature
from shadowlens.proxy.errors import RulesError
from shadowlens.proxy.rulesfile import compile_regex, read_rules


@cache
def _suffix_extractor() -> tldextract.TLDExtract:
    # No URLs and no cache dir: the bundled public-suffix snapshot, never the network.
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


def is_public_suffix(domain: str) -> bool:
    """True when ``domain`` is itself a public suffix (``co.uk``, ``vercel.app``)."""
    return _suffix_extractor()(domain).suffix == domain


def load_shared_hosts(rules_dir: Path) -> frozenset[str]:
    """Domains that are shared infrastructure and never an AI service by host alone."""
    path = rules_dir / "shared_hosts.yaml"
    if not path.exists():
        return frozenset()
    data = read_rules(path, "shared_hosts.schema.json")
    return frozenset(entry["domain"] for entry in data["shared_hosts"])


def load_clients(rules_dir: Path) -> list[Client]:
    """AI client signatures from ``clients.yaml`` (none when the file is absent)."""
    path = rules_dir / "clients.yaml"
    if not path.exists():
        return []
    clients = []
    for raw in read_rules(path, "clients.schema.json")["clients"]:
        compile_regex(path, raw["id"], raw["user_agent"])
        if raw["keyword"] not in raw["user_agent"].lower():
            raise RulesError(path, raw["id"], f"keyword {raw['keyword']!r} is not in the regex")
        clients.append(
            Client(
                raw["id"],
                raw["name"],
                raw["user_agent"],
                raw["keyword"],
                raw.get("service"),
                raw.get("marks_endpoint", False),
            )
        )
    return clients


def _signature(path: Path, entry: str, raw: dict[str, Any]) -> Signature:
    return Signature(
        hosts=tuple(raw["hosts"]),
        evidence=raw["evidence"],
        confidence=raw.get("confidence", DEFAULT_CONFIDENCE[raw["evidence"]]),
        methods=frozenset(raw.get("methods", ())),
        path=compile_regex(path, entry, raw["path"]) if "path" in raw else None,
        headers=tuple(
            (name, compile_regex(path, entry, rx)) for name, rx in raw.get("headers", {}).items()
        ),
    )


def _fact(path: Path, entry: str, name: str, raw: dict[str, Any]) -> Fact:
    try:
        date.fromisoformat(raw["read"])
    except ValueError:
        raise RulesError(path, entry, f"fact {name}: {raw['read']!r} is not a date") from None
    return Fact(raw["value"], raw["source"], raw["read"])


def _service(path: Path, raw: dict[str, Any]) -> Service:
    entry = raw["id"]
    for domain in raw.get("domains", ()):
        if is_public_suffix(domain):
            raise RulesError(path, entry, f"{domain} is a public suffix")
    return Service(
        id=entry,
        name=raw["name"].strip(),
        vendor=raw["vendor"].strip(),
        category=raw["category"],
        domains=tuple(raw.get("domains", ())),
        family=raw.get("family", path.stem),
        host_patterns=tuple(raw.get("host_patterns", ())),
        signatures=tuple(_signature(path, entry, s) for s in raw.get("signatures", ())),
        account_headers=tuple(raw.get("account_headers", ())),
        facts={name: _fact(path, entry, name, f) for name, f in raw.get("facts", {}).items()},
    )


def _services(files: list[Path]) -> Iterator[tuple[Path, Service]]:
    for path in files:
        for raw in read_rules(path, "services.schema.json")["services"]:
            yield path, _service(path, raw)


def _check_unique(
    path: Path, service: Service, seen: dict[str, str], shared: frozenset[str]
) -> None:
    keys = [*service.domains, *service.host_patterns]
    keys += [f"{h} {s.path.pattern if s.path else ''}" for s in service.signatures for h in s.hosts]
    for key in keys:
        if key in shared:
            raise RulesError(path, service.id, f"{key} is shared infrastructure")
        if key in seen:
            raise RulesError(path, service.id, f"{key} is also in {seen[key]}")
        seen[key] = service.id


def load_catalog(rules_dir: Path) -> HostIndex:
    """Load every rules file, rejecting duplicates, shared hosts and bad entries."""
    service_dir = rules_dir / "services"
    files = sorted(service_dir.glob("*.yaml"))
    if not files:
        raise RulesError(service_dir, "<dir>", "no services/*.yaml files found")
    shared = load_shared_hosts(rules_dir)
    seen: dict[str, str] = {}
    services: dict[str, Service] = {}
    for path, service in _services(files):
        if service.id in services:
            raise RulesError(path, service.id, "duplicate id")
        _check_unique(path, service, seen, shared)
        services[service.id] = service
    clients = load_clients(rules_dir)
    for client in clients:
        if client.service is not None and client.service not in services:
            raise RulesError(rules_dir / "clients.yaml", client.id, f"no service {client.service}")
    return HostIndex(services.values(), ClientMatcher(clients), shared)
