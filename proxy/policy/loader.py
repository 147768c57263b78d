"""Loads ``policy.yaml`` and the identity map, validated, into the policy model."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from shadowlens.proxy.errors import RulesError
from shadowlens.proxy.policy.model import (
    Branding,
    Conditions,
    Exemption,
    Policy,
    Rule,
    TenantRestriction,
)
from shadowlens.proxy.rulesfile import check_unique_ids, read_rules

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
AddressEntry = tuple[Network, str | None, frozenset[str]]


def _conditions(raw: dict[str, Any]) -> Conditions:
    return Conditions(
        statuses=frozenset(raw.get("status", ())),
        services=frozenset(raw.get("services", ())),
        categories=frozenset(raw.get("categories", ())),
        users=frozenset(raw.get("users", ())),
        groups=frozenset(raw.get("groups", ())),
        data=frozenset(raw.get("data", ())),
        accounts=frozenset(raw.get("accounts", ())),
        min_severity=raw.get("min_severity"),
    )


def _rule(raw: dict[str, Any]) -> Rule:
    action = raw["action"]
    fail_closed = "block" if action in ("redact", "pseudonymise", "block") else "allow"
    return Rule(
        id=raw["id"],
        action=action,
        when=_conditions(raw.get("when", {})),
        on_inspection_error=raw.get("on_inspection_error", fail_closed),
        description=raw.get("description", ""),
    )


def _tenant_restriction(path: Path, raw: dict[str, Any]) -> TenantRestriction:
    hosts = tuple(h.lower().rstrip(".") for h in raw["hosts"])
    if any(not h or "/" in h or ":" in h for h in hosts):
        raise RulesError(path, raw["id"], "hosts must be plain host names")
    return TenantRestriction(id=raw["id"], hosts=hosts, headers=tuple(raw["headers"].items()))


def load_policy(path: Path) -> Policy:
    """The validated policy in ``path``; RulesError names the file, entry and reason."""
    data = read_rules(path, "policy.schema.json")
    rules = tuple(_rule(r) for r in data["rules"])
    check_unique_ids(path, (rule.id for rule in rules))
    status = data.get("status", {})
    return Policy(
        rules=rules,
        default_action=data.get("default_action", "monitor"),
        dry_run=data.get("dry_run", False),
        service_status=dict(status.get("services", {})),
        category_status=dict(status.get("categories", {})),
        default_status=status.get("default", "unknown"),
        unknown_llm_status=status.get("unknown_llm_endpoint", "unknown"),
        mcp_server_status=status.get("mcp_server", "unknown"),
        exemptions=tuple(
            Exemption(
                id=e["id"],
                users=frozenset(e.get("users", ())),
                groups=frozenset(e.get("groups", ())),
                services=frozenset(e.get("services", ())),
            )
            for e in data.get("exemptions", ())
        ),
        tenant_restrictions=tuple(
            _tenant_restriction(path, t) for t in data.get("tenant_restrictions", ())
        ),
        corporate_accounts={
            service: frozenset(ids) for service, ids in data.get("accounts", {}).items()
        },
        coach_minutes=data.get("coaching", {}).get("allow_minutes", 60),
        branding=Branding(**data.get("branding", {})),
    )


def load_identities(path: Path) -> tuple[list[AddressEntry], dict[str, frozenset[str]]]:
    """Address → (user, groups) entries, most specific network first, and user → groups."""
    if not path.exists():
        return [], {}
    data = read_rules(path, "identities.schema.json") or {}
    addresses = []
    for n, raw in enumerate(data.get("addresses", ())):
        try:
            network = ipaddress.ip_network(raw["cidr"], strict=False)
        except ValueError as exc:
            raise RulesError(path, f"addresses {n}", str(exc)) from exc
        addresses.append((network, raw.get("user"), frozenset(raw.get("groups", ()))))
    addresses.sort(key=lambda entry: entry[0].prefixlen, reverse=True)
    groups = {user: frozenset(names) for user, names in data.get("groups", {}).items()}
    return addresses, groups
