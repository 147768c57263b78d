"""Loads and validates ``rules/services/*.yaml`` into a :class:`HostIndex`."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import tldextract
import yaml

from proxy.catalog.index import HostIndex
from proxy.catalog.model import CATEGORIES, Service
from proxy.errors import RulesError

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$"
)
_FIELDS = frozenset({"id", "name", "vendor", "category", "domains"})


@cache
def _suffix_extractor() -> tldextract.TLDExtract:
    # No URLs and no cache dir: the bundled public-suffix snapshot, never the network.
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


def is_public_suffix(domain: str) -> bool:
    """True when ``domain`` is itself a public suffix (``co.uk``, ``vercel.app``)."""
    return _suffix_extractor()(domain).suffix == domain


def read_yaml(path: Path) -> Any:
    """Parse one YAML file, turning syntax errors into a RulesError naming the file."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RulesError(path, "<file>", str(exc).replace("\n", " ")) from exc


def load_shared_hosts(rules_dir: Path) -> frozenset[str]:
    """Domains that are shared infrastructure and never an AI service by host alone."""
    path = rules_dir / "shared_hosts.yaml"
    if not path.exists():
        return frozenset()
    data = read_yaml(path) or {}
    entries = data.get("shared_hosts") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise RulesError(path, "<file>", "expected a mapping with a 'shared_hosts' list")
    domains = set()
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("domain"), str):
            raise RulesError(path, f"entry {n}", "each entry needs a 'domain' string")
        domains.add(entry["domain"].lower())
    return frozenset(domains)


def _parse_service(path: Path, n: int, raw: Any) -> Service:
    if not isinstance(raw, dict):
        raise RulesError(path, f"entry {n}", "expected a mapping")
    label = str(raw.get("id", f"entry {n}"))
    if missing := _FIELDS - raw.keys():
        raise RulesError(path, label, f"missing {', '.join(sorted(missing))}")
    if unknown := raw.keys() - _FIELDS:
        raise RulesError(path, label, f"unknown field {', '.join(sorted(unknown))}")
    if not isinstance(raw["id"], str) or not _ID.match(raw["id"]):
        raise RulesError(path, label, "id must match ^[a-z0-9][a-z0-9-]{1,63}$")
    for field in ("name", "vendor"):
        if not isinstance(raw[field], str) or not raw[field].strip():
            raise RulesError(path, label, f"{field} must be a non-empty string")
    if raw["category"] not in CATEGORIES:
        raise RulesError(path, label, f"unknown category {raw['category']!r}")
    domains = raw["domains"]
    if not isinstance(domains, list) or not domains:
        raise RulesError(path, label, "domains must be a non-empty list")
    for domain in domains:
        if not isinstance(domain, str) or not _HOSTNAME.match(domain):
            raise RulesError(path, label, f"invalid domain {domain!r}")
        if is_public_suffix(domain):
            raise RulesError(path, label, f"{domain} is a public suffix")
    return Service(
        id=raw["id"],
        name=raw["name"].strip(),
        vendor=raw["vendor"].strip(),
        category=raw["category"],
        domains=tuple(domains),
    )


def _services_in(path: Path) -> list[Service]:
    data = read_yaml(path)
    entries = data.get("services") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise RulesError(path, "<file>", "expected a mapping with a 'services' list")
    return [_parse_service(path, n, raw) for n, raw in enumerate(entries)]


def load_catalog(rules_dir: Path) -> HostIndex:
    """Load every services file, rejecting duplicate ids, duplicate domains and shared hosts."""
    service_dir = rules_dir / "services"
    files = sorted(service_dir.glob("*.yaml"))
    if not files:
        raise RulesError(service_dir, "<dir>", "no services/*.yaml files found")
    shared = load_shared_hosts(rules_dir)
    owner: dict[str, str] = {}
    services: dict[str, Service] = {}
    for path in files:
        for service in _services_in(path):
            if service.id in services:
                raise RulesError(path, service.id, "duplicate id")
            for domain in service.domains:
                if domain in shared:
                    raise RulesError(path, service.id, f"{domain} is shared infrastructure")
                if domain in owner:
                    raise RulesError(path, service.id, f"{domain} is also in {owner[domain]}")
                owner[domain] = service.id
            services[service.id] = service
    return HostIndex(services.values())
