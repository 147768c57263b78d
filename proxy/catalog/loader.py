"""Loads and validates the rules into a :class:`HostIndex`.

Each file is checked against its published JSON Schema (``rules/schema/``) first, then for
what a schema cannot say: regexes that compile, public suffixes, shared infrastructure,
duplicate ids, domains and patterns. Every error names the file, the entry and the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import tldextract
import yaml

from proxy.catalog.clients import Client, ClientMatcher
from proxy.catalog.index import HostIndex
from proxy.catalog.model import DEFAULT_CONFIDENCE, Fact, Service, Signature
from proxy.errors import RulesError

# The published schemas; a rules dir may carry its own copy in schema/.
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "rules" / "schema"


@cache
def _suffix_extractor() -> tldextract.TLDExtract:
    # No URLs and no cache dir: the bundled public-suffix snapshot, never the network.
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


def is_public_suffix(domain: str) -> bool:
    """True when ``domain`` is itself a public suffix (``co.uk``, ``vercel.app``)."""
    return _suffix_extractor()(domain).suffix == domain


@cache
def _validator(schema_path: Path) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_path.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema)


def read_rules(path: Path, schema_name: str) -> Any:
    """Parse a YAML rules file and check it against its schema."""
    own = path.parent / "schema" / schema_name
    if path.parent.name == "services":
        own = path.parent.parent / "schema" / schema_name
    schema_path = own if own.exists() else SCHEMA_DIR / schema_name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RulesError(path, "<file>", " ".join(str(exc).split())) from exc
    error = jsonschema.exceptions.best_match(_validator(schema_path).iter_errors(data))
    if error is not None:
        raise RulesError(path, _entry_label(data, error), _schema_reason(error))
    return data


def _entry_label(data: Any, error: jsonschema.ValidationError) -> str:
    """The id of the entry the error sits in, or its position."""
    path = list(error.absolute_path)
    if len(path) >= 2 and isinstance(path[1], int):
        entry = data[path[0]][path[1]]
        if isinstance(entry, dict) and isinstance(entry.get("id") or entry.get("domain"), str):
            return str(entry.get("id") or entry.get("domain"))
        return f"entry {path[1]}"
    return "<file>"


def _schema_reason(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in list(error.absolute_path)[2:])
    return f"{where}: {error.message}" if where else error.message


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
        _compile(path, raw["id"], raw["user_agent"])
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


def _compile(path: Path, entry: str, regex: str) -> re.Pattern[str]:
    try:
        return re.compile(regex)
    except re.error as exc:
        raise RulesError(path, entry, f"bad regex {regex!r}: {exc}") from exc


def _signature(path: Path, entry: str, raw: dict[str, Any]) -> Signature:
    return Signature(
        hosts=tuple(raw["hosts"]),
        evidence=raw["evidence"],
        confidence=raw.get("confidence", DEFAULT_CONFIDENCE[raw["evidence"]]),
        methods=frozenset(raw.get("methods", ())),
        path=_compile(path, entry, raw["path"]) if "path" in raw else None,
        headers=tuple(
            (name, _compile(path, entry, rx)) for name, rx in raw.get("headers", {}).items()
        ),
    )


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
        host_patterns=tuple(raw.get("host_patterns", ())),
        signatures=tuple(_signature(path, entry, s) for s in raw.get("signatures", ())),
        account_headers=tuple(raw.get("account_headers", ())),
        facts={name: Fact(f["value"], f["source"]) for name, f in raw.get("facts", {}).items()},
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
