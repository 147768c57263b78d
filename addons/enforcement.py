"""Enforcement: ask the policy about each AI flow and carry out its answer."""

from __future__ import annotations

import dataclasses
import logging
from urllib.parse import urlsplit

from mitmproxy import http

from addons.flowevents import detection_event, request_path
from addons.flowmeta import (
    ACTION,
    COACH_SUBMIT,
    DECISION,
    DIRECTORY_GROUPS,
    IDENTITY,
    MATCH,
    RECORDED,
    REPORT,
    TENANT,
)
from proxy import metrics
from proxy.catalog import Match
from proxy.catalog.index import suffixes
from proxy.dlp import BodyReport, redact_body, redact_text
from proxy.dlp.body import RedactionError
from proxy.inventory.writer import InventoryWriter
from proxy.policy import Decision, Identity, decide
from proxy.policy.coaching import CoachGrants, holder
from proxy.policy.decide import Upload
from proxy.policy.responses import (
    COACH_PATH,
    Answer,
    block_answer,
    client_kind,
    coach_answer,
    redirect_answer,
)
from proxy.runtime import PolicyRef

log = logging.getLogger(__name__)


class Enforcement:
    """Identity, decision and action for every flow to an AI service.

    Runs after Discovery (which service) and Inspection (which data). Blocks and coaching
    pages are answered by the proxy itself, so nothing reaches the service.
    """

    def __init__(self, policy: PolicyRef, writer: InventoryWriter, grants: CoachGrants) -> None:
        self.policy = policy
        self.writer = writer
        self.grants = grants

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._restrict_tenant(flow)
        if MATCH not in flow.metadata:
            return
        if request_path(flow.request) == COACH_PATH and flow.request.method == "POST":
            flow.metadata[COACH_SUBMIT] = flow.metadata.pop(MATCH)
        elif flow.request.stream:  # too large to hold: decided now, as not inspectable
            self._enforce(flow, Upload(failed=True))

    def request(self, flow: http.HTTPFlow) -> None:
        if COACH_SUBMIT in flow.metadata:
            self._coach_submit(flow)
            return
        if MATCH not in flow.metadata or DECISION in flow.metadata or flow.response:
            return
        report = flow.metadata.get(REPORT)
        if report is None and flow.request.raw_content:  # Inspection failed on it: fail closed
            self._enforce(flow, Upload(failed=True))
        else:
            self._enforce(flow, _upload(report))

    def _identity(self, flow: http.HTTPFlow) -> Identity:
        if IDENTITY not in flow.metadata:
            credentials = flow.metadata.get("proxyauth")
            flow.metadata[IDENTITY] = self.policy.resolver.resolve(
                peer_ip=flow.client_conn.peername[0] if flow.client_conn.peername else "",
                headers=flow.request.headers,
                proxyauth_user=str(credentials[0]) if credentials else None,
                directory_groups=flow.metadata.get(DIRECTORY_GROUPS, frozenset()),
            )
        identity: Identity = flow.metadata[IDENTITY]
        return identity

    def _enforce(self, flow: http.HTTPFlow, upload: Upload) -> None:
        match: Match = flow.metadata[MATCH]
        identity = self._identity(flow)
        decision = decide(
            self.policy.current,
            identity=identity,
            service=match.service,
            upload=upload,
            account=match.account,
        )
        if decision.action == "coach" and self.grants.allowed(_who(identity), match.service.id):
            decision = dataclasses.replace(
                decision, action="allow", rule_id=f"{decision.rule_id}:justified"
            )
        flow.metadata[DECISION] = decision
        metrics.DECISIONS.labels(action=decision.action, enforced=str(decision.enforced)).inc()
        if decision.enforced:
            self._apply(flow, match, identity, decision)

    def _apply(
        self, flow: http.HTTPFlow, match: Match, identity: Identity, decision: Decision
    ) -> None:
        if decision.action == "redact":
            self._redact(flow, match, decision)
        elif decision.action == "block":
            self._answer(flow, self._block(flow, match, decision))
        elif decision.action == "coach":
            self._answer(flow, self._coach(flow, match, identity, decision))

    def _block(
        self, flow: http.HTTPFlow, match: Match, decision: Decision, coach: str = ""
    ) -> Answer:
        policy = self.policy.current
        return block_answer(
            kind=client_kind(flow.request.path, flow.request.headers),
            service=match.service.name,
            reason=decision.reason,
            rule_id=decision.rule_id,
            branding=policy.branding,
            coach_url=coach,
        )

    def _coach(
        self, flow: http.HTTPFlow, match: Match, identity: Identity, decision: Decision
    ) -> Answer:
        request = flow.request
        if client_kind(request.path, request.headers) != "browser":
            return self._block(flow, match, decision, coach=f"https://{request.pretty_host}/")
        return coach_answer(
            service=match.service.name,
            reason=decision.reason,
            rule_id=decision.rule_id,
            branding=self.policy.current.branding,
            return_to=request.url,
            token=self.grants.token(_who(identity), match.service.id),
        )

    def _answer(self, flow: http.HTTPFlow, answer: Answer) -> None:
        flow.metadata[ACTION] = flow.metadata[DECISION].action
        flow.response = http.Response.make(answer.status, answer.body, answer.headers)

    def _redact(self, flow: http.HTTPFlow, match: Match, decision: Decision) -> None:
        report: BodyReport | None = flow.metadata.get(REPORT)
        if report is None:
            return
        if decision.redact_categories:
            kept = [f for f in report.findings if f.category in decision.redact_categories]
            report = dataclasses.replace(report, findings=kept)
        request = flow.request
        try:
            body, headers = redact_body(
                request.raw_content or b"",
                content_type=request.headers.get("content-type"),
                content_encoding=request.headers.get("content-encoding"),
                report=report,
            )
        except RedactionError as exc:  # fail closed: what cannot be masked is not sent
            metrics.DLP_FAILURES.labels(reason="unredactable").inc()
            log.warning("blocked an upload to %s: %s", request.pretty_host, exc)
            decision = dataclasses.replace(decision, action="block", reason=str(exc))
            flow.metadata[DECISION] = decision
            self._answer(flow, self._block(flow, match, decision))
            return
        request.raw_content = body
        request.headers.update(headers)
        flow.metadata[ACTION] = "redact"
        metrics.DLP_REDACTIONS.inc()

    def _coach_submit(self, flow: http.HTTPFlow) -> None:
        """The coaching form: keep the justification, allow for a while, send the user on."""
        match: Match = flow.metadata[COACH_SUBMIT]
        identity = self._identity(flow)
        form = flow.request.urlencoded_form
        text = form.get("justification", "").strip()
        if not 5 <= len(text) <= 1000 or not self.grants.valid(
            _who(identity), match.service.id, form.get("token", "")
        ):
            flow.response = http.Response.make(
                400, b"Please give a justification of 5 to 1000 characters."
            )
            return
        minutes = self.policy.current.coach_minutes
        until = self.grants.allow(_who(identity), match.service.id, minutes)
        rule_id = form.get("rule", "")[:64] or "coach"
        decision = Decision("coach", rule_id, "", "continued with a justification")
        flow.metadata.update({MATCH: match, DECISION: decision, RECORDED: True})
        self.writer.submit(detection_event(flow, match, justification=text, allowed_until=until))
        answer = redirect_answer(_same_host(form.get("return_to", "/"), flow.request.pretty_host))
        flow.response = http.Response.make(answer.status, answer.body, answer.headers)

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        assert flow.websocket is not None
        report: BodyReport | None = flow.metadata.get(REPORT)
        match: Match | None = flow.metadata.get(MATCH)
        if report is None or match is None or not report.findings:
            return
        message = flow.websocket.messages[-1]
        decision = decide(
            self.policy.current,
            identity=self._identity(flow),
            service=match.service,
            upload=_upload(report),
        )
        if decision.enforced and decision.action == "redact":
            message.text = redact_text(message.text, report.redactable)
        elif decision.enforced and decision.action in ("block", "coach"):
            message.drop()
        flow.metadata[DECISION] = decision
        self.writer.submit(
            detection_event(flow, match, method="WS", request_bytes=len(message.content))
        )

    def _restrict_tenant(self, flow: http.HTTPFlow) -> None:
        restrictions = self.policy.tenant_hosts
        if not restrictions:
            return
        host = flow.request.pretty_host.lower()
        for suffix in suffixes(host):
            for restriction in restrictions.get(suffix, ()):
                for name, value in restriction.headers:
                    flow.request.headers[name] = value  # replaces anything the client sent
                flow.metadata[TENANT] = True
                metrics.TENANT_RESTRICTIONS.labels(restriction=restriction.id).inc()


def _upload(report: BodyReport | None) -> Upload:
    if report is None:
        return Upload()
    return Upload([(f.category, f.severity) for f in report.findings], failed=not report.complete)


def _who(identity: Identity) -> str:
    return holder(identity.user, identity.client_ip)


def _same_host(url: str, host: str) -> str:
    """Only ever send the user back to the host they came from."""
    parts = urlsplit(url)
    if parts.hostname and parts.hostname.lower() != host.lower():
        return "/"
    return url if url.startswith(("https://", "http://", "/")) else "/"
