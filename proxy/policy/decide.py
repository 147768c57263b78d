"""The decision: a pure function of identity, service and findings, first matching rule wins."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from proxy.catalog import MCP_SERVER, UNKNOWN_LLM, Service
from proxy.policy.model import SEVERITY_RANK, Conditions, Decision, Identity, Policy, Rule


class Upload:
    """What inspection learned of an upload: finding categories and severities, or a failure."""

    __slots__ = ("failed", "findings")

    def __init__(self, findings: Sequence[tuple[str, str]] = (), *, failed: bool = False) -> None:
        self.findings = tuple(findings)  # (category, severity)
        self.failed = failed


def service_status(policy: Policy, service: Service) -> str:
    """sanctioned, tolerated, unsanctioned or unknown: per service, then category, then default."""
    if service.id in policy.service_status:
        return policy.service_status[service.id]
    if service.id.startswith(f"{UNKNOWN_LLM}:"):
        return policy.unknown_llm_status
    if service.id.startswith(f"{MCP_SERVER}:"):
        return policy.mcp_server_status
    return policy.category_status.get(service.category, policy.default_status)


def account_kind(policy: Policy, service: Service, account: str | None) -> str:
    """corporate when the policy lists the account for this service, personal otherwise."""
    if not account:
        return "unknown"
    return "corporate" if account in policy.corporate_accounts.get(service.id, ()) else "personal"


def _identity_fits(when: Conditions, identity: Identity) -> bool:
    if when.users and identity.user not in when.users:
        return False
    return not when.groups or bool(when.groups & identity.groups)


def _service_fits(when: Conditions, service: Service, status: str) -> bool:
    if when.statuses and status not in when.statuses:
        return False
    if when.services and service.id not in when.services:
        return False
    return not when.categories or service.category in when.categories


def _data_fits(when: Conditions, upload: Upload) -> bool:
    findings = upload.findings
    if when.data:
        findings = tuple(f for f in findings if f[0] in when.data)
        if not findings:
            return False
    if when.min_severity is not None:
        floor = SEVERITY_RANK[when.min_severity]
        return any(SEVERITY_RANK.get(severity, 0) >= floor for _, severity in findings)
    return True


def _exempt(policy: Policy, identity: Identity, service: Service) -> str | None:
    for exemption in policy.exemptions:
        if (
            identity.user in exemption.users
            or exemption.groups & identity.groups
            or service.id in exemption.services
        ):
            return exemption.id
    return None


def decide(
    policy: Policy,
    *,
    identity: Identity,
    service: Service,
    upload: Upload,
    account: str | None = None,
) -> Decision:
    """The action for this flow, with the rule that chose it and why."""
    status = service_status(policy, service)
    kind = account_kind(policy, service, account)
    return dataclasses.replace(
        _decide(policy, identity, service, upload, status, kind), account_kind=kind
    )


def _decide(
    policy: Policy, identity: Identity, service: Service, upload: Upload, status: str, kind: str
) -> Decision:
    if (exemption := _exempt(policy, identity, service)) is not None:
        return Decision("allow", f"exemption:{exemption}", status, "exempted")
    for rule in policy.rules:
        if rule.when.accounts and kind not in rule.when.accounts:
            continue
        if not (_identity_fits(rule.when, identity) and _service_fits(rule.when, service, status)):
            continue
        if rule.when.needs_data and upload.failed:
            return _inspection_failed(policy, rule, status)
        if _data_fits(rule.when, upload):
            return _decision(policy, rule, status)
    return Decision(policy.default_action, "default", status, "no rule matched", not policy.dry_run)


def _decision(policy: Policy, rule: Rule, status: str) -> Decision:
    reason = rule.description or f"policy rule {rule.id} applies"
    return Decision(
        action=rule.action,
        rule_id=rule.id,
        status=status,
        reason=reason,
        enforced=not policy.dry_run,
        redact_categories=rule.when.data,
    )


def _inspection_failed(policy: Policy, rule: Rule, status: str) -> Decision:
    """Fail closed unless the rule says otherwise: what could not be checked is not sent."""
    if rule.on_inspection_error == "block":
        reason = f"the upload could not be inspected, and rule {rule.id} fails closed"
        return Decision("block", rule.id, status, reason, not policy.dry_run)
    return Decision("monitor", rule.id, status, "the upload could not be inspected", True)
