"""The policy as plain data, for the API and reports: what it decides, not how."""

from __future__ import annotations

from typing import Any

from shadowlens.proxy.policy.model import Conditions, Policy


def _when(when: Conditions) -> dict[str, Any]:
    fields = {
        "status": when.statuses,
        "services": when.services,
        "categories": when.categories,
        "users": when.users,
        "groups": when.groups,
        "data": when.data,
        "accounts": when.accounts,
    }
    view: dict[str, Any] = {k: sorted(v) for k, v in fields.items() if v}
    if when.min_severity:
        view["min_severity"] = when.min_severity
    return view


def policy_view(policy: Policy) -> dict[str, Any]:
    """Every decision-relevant part of ``policy``; tenant-restriction values are left out."""
    return {
        "dry_run": policy.dry_run,
        "default_action": policy.default_action,
        "status": {
            "default": policy.default_status,
            "unknown_llm_endpoint": policy.unknown_llm_status,
            "mcp_server": policy.mcp_server_status,
            "services": policy.service_status,
            "categories": policy.category_status,
        },
        "rules": [
            {
                "id": rule.id,
                "description": rule.description,
                "action": rule.action,
                "when": _when(rule.when),
                "on_inspection_error": rule.on_inspection_error,
            }
            for rule in policy.rules
        ],
        "exemptions": [
            {
                "id": e.id,
                "users": sorted(e.users),
                "groups": sorted(e.groups),
                "services": sorted(e.services),
            }
            for e in policy.exemptions
        ],
        "tenant_restrictions": [
            {"id": t.id, "hosts": list(t.hosts), "headers": [name for name, _ in t.headers]}
            for t in policy.tenant_restrictions
        ],
        "corporate_accounts": {s: len(ids) for s, ids in policy.corporate_accounts.items()},
        "coach_minutes": policy.coach_minutes,
    }
