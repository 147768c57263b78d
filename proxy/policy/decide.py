"""The decision: a pure function of identity, service, status and upload; first match wins."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from shadowlens.proxy.catalog import MCP_SERVER, UNKNOWN_LLM, Service
from shadowlens.proxy.policy.model import (
    SEVERITY_RANK,
    Conditions,
    Decision,
    Identity,
    Policy,
    Rule,
)

# Why an upload could not be inspected; each is a row of the decision table in docs/policy.md.
INSPECTION_FAILURES = (
    "too_large",  # over SHADOWLENS_DLP_MAX_BODY_BYTES, or streamed without being held
    "incomplete",  # only part of the body was scanned
    "unknown_encoding",  # a Content-Encoding we cannot (or could not) decode
    "bomb",  # inflates past SHADOWLENS_DLP_MAX_DECODED_BYTES
    "too_deep",  # nested deeper than the decoder follows
    "scan_error",  # the scan itself failed
    "not_decrypted",  # a TLS connection passed through: nothing of it can be seen
)


class Upload:
    """What inspection learned of an upload: finding categories and severities, or why not."""

    __slots__ = ("failure", "findings")

    def __init__(self, findings: Sequence[tuple[str, str]] = (), *, failure: str = "") -> None:
        self.findings = tuple(findings)  # (category, severity)
        self.failure = failure  # one of INSPECTION_FAILURES, or "" when inspected in full

    @property
    def failed(self) -> bool:
        """Whether rules that look at data cannot be checked."""
        return bool(self.failure)


def service_status(
    policy: Policy, service: Service, register: Mapping[str, str] | None = None
) -> str:
    """sanctioned, tolerated, unsanctioned or unknown.

    The register (the inventory's governance records) decides; the policy file's per-service
    map only seeds it. Services the register does not name fall back to the policy's
    protocol-shape, category and default statuses.
    """
    if register and service.id in register:
        return register[service.id]
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
    register: Mapping[str, str] | None = None,
) -> Decision:
    """The action for this flow, with the rule that chose it and why."""
    status = service_status(policy, service, register)
    kind = account_kind(policy, service, account)
    return dataclasses.replace(
        _decide(policy, identity, service, upload, status, kind), account_kind=kind
    )


def _fits(rule: Rule, identity: Identity, service: Service, status: str, kind: str) -> bool:
    """Whether every condition of ``rule`` but the data ones holds."""
    if rule.when.accounts and kind not in rule.when.accounts:
        return False
    return _identity_fits(rule.when, identity) and _service_fits(rule.when, service, status)


def _decide(
    policy: Policy, identity: Identity, service: Service, upload: Upload, status: str, kind: str
) -> Decision:
    if (exemption := _exempt(policy, identity, service)) is not None:
        return Decision("allow", f"exemption:{exemption}", status, "exempted")
    unchecked: Rule | None = None  # the first data rule that could not be checked
    for rule in policy.rules:
        if not _fits(rule, identity, service, status, kind):
            continue
        if rule.when.needs_data and upload.failed:
            if rule.on_inspection_error == "block":
                return _inspection_failed(policy, rule, status, upload.failure)
            # An unchecked rule lets the flow go on to the later rules, never past them.
            unchecked = unchecked or rule
            continue
        if _data_fits(rule.when, upload):
            return _decision(policy, rule, status)
    reason = "no rule matched"
    if unchecked is not None:
        reason += f"; rule {unchecked.id} could not check the upload ({upload.failure})"
    return Decision(policy.default_action, "default", status, reason, not policy.dry_run)


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


def _inspection_failed(policy: Policy, rule: Rule, status: str, failure: str) -> Decision:
    """Fail closed: what the rule was meant to check, and could not, is not sent."""
    reason = f"the upload could not be inspected ({failure}), and rule {rule.id} fails closed"
    return Decision("block", rule.id, status, reason, not policy.dry_run)
