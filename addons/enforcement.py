"""Enforcement: carry out the core's verdict on each AI flow."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from mitmproxy import http

from addons.flowevents import detection_event, request_path
from addons.flowstate import KEY, FlowState, state_of
from proxy import metrics
from proxy.catalog.index import suffixes
from proxy.dlp import redact_text
from proxy.dlp.pseudonym import Pseudonyms, SseRestorer
from proxy.inventory.writer import InventoryWriter
from proxy.policy import Decision, Identity
from proxy.policy.coaching import CoachGrants, holder
from proxy.policy.enforce import Inspected, RequestView, Verdict, enforce, kept_findings
from proxy.policy.responses import COACH_PATH, Answer, redirect_answer
from proxy.runtime import PolicyRef

log = logging.getLogger(__name__)

# Responses whose text surrogates are restored in; anything else is passed on untouched.
RESTORABLE_TYPES = ("application/json", "text/", "application/x-ndjson")


class Enforcement:
    """Asks the core for each AI flow's verdict and applies it to the flow.

    Runs after Discovery (which service) and Inspection (which data). A body too large to
    hold is decided on its headers, as not inspectable, before any of it is forwarded.
    """

    def __init__(
        self,
        policy: PolicyRef,
        writer: InventoryWriter,
        grants: CoachGrants,
        pseudonyms: Pseudonyms,
    ) -> None:
        self.policy = policy
        self.writer = writer
        self.grants = grants
        self.pseudonyms = pseudonyms

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._restrict_tenant(flow)
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or state.match is None:
            return
        if request_path(flow.request) == COACH_PATH and flow.request.method == "POST":
            state.coach_submit = True
        elif flow.request.stream:
            self._enforce(flow, state)

    def request(self, flow: http.HTTPFlow) -> None:
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or state.match is None:
            return
        if state.coach_submit:
            self._coach_submit(flow, state)
        elif state.decision is None and flow.response is None:
            self._enforce(flow, state)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        """Surrogates this user was given come back as the values they stand for."""
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or state.match is None or state.identity is None:
            return
        restorer = self.pseudonyms.restorer(_who(state.identity))
        response = flow.response
        if restorer is None or response is None:
            return
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            response.stream = SseRestorer(restorer)
        elif not response.stream:
            state.restorer = restorer

    def response(self, flow: http.HTTPFlow) -> None:
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or state.restorer is None or flow.response is None:
            return
        response = flow.response
        if response.headers.get("content-type", "").startswith(RESTORABLE_TYPES):
            response.text = state.restorer.restore(response.get_text(strict=False) or "")

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        assert flow.websocket is not None
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or state.match is None or state.report is None:
            return
        message = flow.websocket.messages[-1]
        verdict = self._verdict(flow, state, body=b"")
        if verdict.decision.enforced and verdict.decision.action == "redact":
            message.text = redact_text(
                message.text, kept_findings(state.report.redactable, verdict.decision)
            )
        elif verdict.decision.enforced and verdict.decision.action == "pseudonymise":
            label = self.pseudonyms.labeller(_who(self._identity(flow, state)))
            kept = kept_findings(state.report.redactable, verdict.decision)
            message.text = redact_text(message.text, kept, label)
        elif verdict.answer is not None:
            message.drop()
        state.decision = verdict.decision
        event = detection_event(flow, state.match, method="WS", request_bytes=len(message.content))
        self.writer.submit(event)

    def _verdict(self, flow: http.HTTPFlow, state: FlowState, body: bytes | None) -> Verdict:
        assert state.match is not None
        request = flow.request
        view = RequestView(
            method=request.method,
            url=request.url,
            host=request.pretty_host,
            path=request.path,
            headers=request.headers,
            body=body,
            query=tuple(request.query.fields),
        )
        return enforce(
            self.policy.current,
            request=view,
            identity=self._identity(flow, state),
            match=state.match,
            inspected=Inspected(state.report, state.query_reports),
            grants=self.grants,
            pseudonyms=self.pseudonyms,
            register=self.policy.register,
        )

    def _enforce(self, flow: http.HTTPFlow, state: FlowState) -> None:
        request = flow.request
        held = None if request.stream else request.raw_content
        verdict = self._verdict(flow, state, body=held)
        decision = state.decision = verdict.decision
        metrics.DECISIONS.labels(action=decision.action, enforced=str(decision.enforced)).inc()
        if verdict.answer is not None:
            self._answer(flow, verdict.answer)
        elif verdict.body is not None or verdict.query is not None:
            self._rewrite(request, verdict)

    def _answer(self, flow: http.HTTPFlow, answer: Answer) -> None:
        request = flow.request
        if request.stream:
            # Decided on the headers: nothing goes upstream. The client is not invited to
            # send its body (no 100 Continue); what it sends anyway is read and dropped.
            request.stream = False
            request.headers.pop("expect", None)
            answer.headers["connection"] = "close"
        flow.response = http.Response.make(answer.status, answer.body, answer.headers)

    def _rewrite(self, request: http.Request, verdict: Verdict) -> None:
        if verdict.body is not None:
            request.raw_content = verdict.body
            request.headers.update(dict(verdict.headers))
        if verdict.query is not None:
            request.query.fields = verdict.query
        metrics.DLP_REDACTIONS.inc()

    def _identity(self, flow: http.HTTPFlow, state: FlowState) -> Identity:
        if state.identity is None:
            credentials = flow.metadata.get("proxyauth")
            state.identity = self.policy.resolver.resolve(
                peer_ip=flow.client_conn.peername[0] if flow.client_conn.peername else "",
                headers=flow.request.headers,
                proxyauth_user=str(credentials[0]) if credentials else None,
                directory_groups=state.directory_groups or frozenset(),
            )
        return state.identity

    def _coach_submit(self, flow: http.HTTPFlow, state: FlowState) -> None:
        """The coaching form: keep the justification, allow for a while, send the user on."""
        assert state.match is not None
        service_id = state.match.service.id
        who = _who(self._identity(flow, state))
        form = flow.request.urlencoded_form
        text = form.get("justification", "").strip()
        if not 5 <= len(text) <= 1000 or not self.grants.valid(
            who, service_id, form.get("token", "")
        ):
            flow.response = http.Response.make(
                400, b"Please give a justification of 5 to 1000 characters."
            )
            return
        until = self.grants.allow(who, service_id, self.policy.current.coach_minutes)
        rule_id = form.get("rule", "")[:64] or "coach"
        state.decision = Decision("coach", rule_id, "", "continued with a justification")
        state.recorded = True
        event = detection_event(flow, state.match, justification=text, allowed_until=until)
        self.writer.submit(event)
        answer = redirect_answer(_same_host(form.get("return_to", "/"), flow.request.pretty_host))
        flow.response = http.Response.make(answer.status, answer.body, answer.headers)

    def _restrict_tenant(self, flow: http.HTTPFlow) -> None:
        restrictions = self.policy.tenant_hosts
        if not restrictions:
            return
        host = flow.request.pretty_host.lower()
        for suffix in suffixes(host):
            for restriction in restrictions.get(suffix, ()):
                for name, value in restriction.headers:
                    flow.request.headers[name] = value  # replaces anything the client sent
                state_of(flow).tenant_restricted = True
                metrics.TENANT_RESTRICTIONS.labels(restriction=restriction.id).inc()


def _who(identity: Identity) -> str:
    return holder(identity.user, identity.client_ip)


def _same_host(url: str, host: str) -> str:
    """Only ever send the user back to the host they came from."""
    parts = urlsplit(url)
    if parts.hostname and parts.hostname.lower() != host.lower():
        return "/"
    return url if url.startswith(("https://", "http://", "/")) else "/"
