"""One request's verdict: the decision and what carrying it out means, as plain data.

The live proxy (``addons/enforcement.py``) and ``shadowlens policy test`` both call
:func:`enforce`, so a dry run from the command line answers as the proxy would: the same
decision, the same coaching grants, the same fallback from redaction to a block.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shadowlens.proxy import metrics
from shadowlens.proxy.catalog import Match
from shadowlens.proxy.dlp import BodyReport, Finding, redact_body, redact_text
from shadowlens.proxy.dlp.body import RedactionError
from shadowlens.proxy.dlp.pseudonym import Pseudonyms
from shadowlens.proxy.dlp.redact import Replacement, mask_label
from shadowlens.proxy.dlp.urlpath import PathScan
from shadowlens.proxy.policy.coaching import CoachGrants, holder
from shadowlens.proxy.policy.decide import Upload, decide
from shadowlens.proxy.policy.model import Decision, Identity, Policy
from shadowlens.proxy.policy.responses import Answer, block_answer, client_kind, coach_answer

# The ``limit`` finding that made a report incomplete, to the failure the policy names.
_FAILURE_OF_LIMIT = {
    "dlp-body-too-large": "too_large",
    "dlp-decompression-bomb": "bomb",
    "dlp-unknown-encoding": "unknown_encoding",
    "dlp-bad-encoding": "unknown_encoding",
    "dlp-depth-limit": "too_deep",
    "dlp-internal-error": "scan_error",
}


@dataclass(frozen=True, slots=True)
class RequestView:
    """What enforcement needs of a request; ``body`` is None when it was not held."""

    method: str
    url: str
    host: str
    path: str  # with the query string, as the client sent it
    headers: Mapping[str, str]
    body: bytes | None = b""
    query: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Inspected:
    """What the DLP found in the body, in each query value (by its index) and in the path."""

    body: BodyReport | None = None
    query: Mapping[int, BodyReport] = dataclasses.field(default_factory=dict)
    path: PathScan | None = None

    @property
    def url_reports(self) -> list[BodyReport]:
        """The reports of the URL's parts: each query value's, then the path's."""
        reports = list(self.query.values())
        return [*reports, self.path.report] if self.path else reports

    @property
    def reports(self) -> list[BodyReport]:
        """Every report: the body's, when there is one, then the URL's."""
        return [self.body, *self.url_reports] if self.body else self.url_reports


@dataclass(frozen=True, slots=True)
class Verdict:
    """Forward as is, forward rewritten (``body``/``headers``/``query``/``path``), or
    ``answer``."""

    decision: Decision
    answer: Answer | None = None
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    query: tuple[tuple[str, str], ...] | None = None
    path: str | None = None  # without the query string
    findings: tuple[tuple[str, str], ...] = ()  # (category, severity) the decision saw


def upload_of(request: RequestView, inspected: Inspected) -> Upload:
    """The policy's view of what was inspected, failing closed on whatever was not."""
    findings = [f for r in inspected.url_reports for f in r.findings]
    report = inspected.body
    failure = ""
    if request.body is None:
        failure = "too_large"
    elif report is None:
        failure = "scan_error" if request.body else ""
    else:
        findings.extend(report.findings)
        failure = "" if report.complete else _failure(report)
    if not failure:
        failure = next((_failure(r) for r in inspected.url_reports if not r.complete), "")
    return Upload([(f.category, f.severity) for f in findings], failure=failure)


def _failure(report: BodyReport) -> str:
    for finding in report.findings:
        if finding.category == "limit" and finding.detector in _FAILURE_OF_LIMIT:
            return _FAILURE_OF_LIMIT[finding.detector]
    return "incomplete"


def enforce(
    policy: Policy,
    *,
    request: RequestView,
    identity: Identity,
    match: Match,
    inspected: Inspected,
    grants: CoachGrants,
    pseudonyms: Pseudonyms,
    register: Mapping[str, str] | None = None,
) -> Verdict:
    """The decision for this request and the answer or rewrite that carries it out."""
    upload = upload_of(request, inspected)
    decision = decide(
        policy,
        identity=identity,
        service=match.service,
        upload=upload,
        account=match.account,
        register=register,
    )
    who = holder(identity.user, identity.client_ip)
    if decision.action == "coach" and grants.allowed(who, match.service.id):
        justified = f"{decision.rule_id}:justified"
        decision = dataclasses.replace(decision, action="allow", rule_id=justified)
    verdict = Verdict(decision, findings=upload.findings)
    if not decision.enforced or decision.action in ("allow", "monitor"):
        return verdict
    if decision.action == "redact":
        return _redacted(policy, request, match, inspected, verdict, mask_label)
    if decision.action == "pseudonymise":
        label = pseudonyms.labeller(who)
        return _redacted(policy, request, match, inspected, verdict, label)
    if decision.action == "coach" and client_kind(request.path, request.headers) == "browser":
        token = grants.token(who, match.service.id)
        return dataclasses.replace(verdict, answer=_coach(policy, request, match, decision, token))
    return dataclasses.replace(verdict, answer=_block(policy, request, match, decision))


def _block(policy: Policy, request: RequestView, match: Match, decision: Decision) -> Answer:
    coach_url = f"https://{request.host}/" if decision.action == "coach" else ""
    return block_answer(
        kind=client_kind(request.path, request.headers),
        service=match.service.name,
        reason=decision.reason,
        rule_id=decision.rule_id,
        branding=policy.branding,
        coach_url=coach_url,
    )


def _coach(
    policy: Policy, request: RequestView, match: Match, decision: Decision, token: str
) -> Answer:
    return coach_answer(
        service=match.service.name,
        reason=decision.reason,
        rule_id=decision.rule_id,
        branding=policy.branding,
        return_to=request.url,
        token=token,
    )


def _redacted(
    policy: Policy,
    request: RequestView,
    match: Match,
    inspected: Inspected,
    verdict: Verdict,
    label: Replacement,
) -> Verdict:
    """Mask (or pseudonymise) what the rule names; what cannot be is blocked, never sent."""
    decision = verdict.decision
    try:
        body, headers = _redacted_body(request, inspected.body, decision, label)
        query = _redacted_query(request, inspected.query, decision, label)
        path = _redacted_path(inspected.path, decision, label)
    except RedactionError as exc:
        metrics.DLP_FAILURES.labels(reason="unredactable").inc()
        blocked = dataclasses.replace(decision, action="block", reason=f"unredactable: {exc}")
        return dataclasses.replace(
            verdict, decision=blocked, answer=_block(policy, request, match, blocked)
        )
    return dataclasses.replace(
        verdict, body=body, headers=tuple(headers.items()), query=query, path=path
    )


def _redacted_body(
    request: RequestView, report: BodyReport | None, decision: Decision, label: Replacement
) -> tuple[bytes | None, dict[str, str]]:
    if request.body is None:
        raise RedactionError("the body was too large to hold, so it could not be masked")
    if not request.body:
        return None, {}
    if report is None or not report.complete:
        raise RedactionError("the body was not scanned in full, so it could not be masked")
    report = dataclasses.replace(report, findings=kept_findings(report.findings, decision))
    body, headers = redact_body(
        request.body,
        content_type=request.headers.get("content-type"),
        content_encoding=request.headers.get("content-encoding"),
        report=report,
        label=label,
    )
    return (body if body is not request.body else None), headers


def _redacted_query(
    request: RequestView, reports: Mapping[int, BodyReport], decision: Decision, label: Replacement
) -> tuple[tuple[str, str], ...] | None:
    if not any(kept_findings(r.findings, decision) for r in reports.values()):
        return None
    fields = list(request.query)
    for index, report in reports.items():
        if not report.complete:
            raise RedactionError("a query value could not be scanned in full")
        name, value = fields[index]
        kept = kept_findings(report.redactable, decision)
        fields[index] = (name, redact_text(value, kept, label))
    return tuple(fields)


def _redacted_path(scan: PathScan | None, decision: Decision, label: Replacement) -> str | None:
    kept = kept_findings(scan.report.redactable, decision) if scan else []
    return scan.rewritten(kept, label) if scan and kept else None


def kept_findings(findings: Sequence[Finding], decision: Decision) -> list[Finding]:
    """The findings the deciding rule asks to mask: those of its data classes, or all."""
    if not decision.redact_categories:
        return list(findings)
    return [f for f in findings if f.category in decision.redact_categories]
