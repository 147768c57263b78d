"""Enforcement: carry out the core's verdict on each AI flow."""

from __future__ import annotations

from collections.abc import Awaitable

from mitmproxy import http

from shadowlens.addons.flowevents import declared_size, detection_event, host_of, identity_of
from shadowlens.addons.flowstate import KEY, FlowState
from shadowlens.proxy import metrics
from shadowlens.proxy.dlp import redact_text
from shadowlens.proxy.dlp.pseudonym import Pseudonyms
from shadowlens.proxy.inventory.writer import InventoryWriter
from shadowlens.proxy.policy import Identity
from shadowlens.proxy.policy.coaching import CoachGrants, holder
from shadowlens.proxy.policy.enforce import RequestView, Verdict, enforce, kept_findings
from shadowlens.proxy.policy.responses import Answer
from shadowlens.proxy.runtime import PolicyRef

HOLD_CAP_BYTES = 32 * 1024 * 1024


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
        *,
        max_body: int = 8 * 1024 * 1024,
    ) -> None:
        self.policy = policy
        self.writer = writer
        self.grants = grants
        self.pseudonyms = pseudonyms
        # Largest refused body read (and dropped) to answer it; past it, the connection closes.
        self.hold_cap = max(2 * max_body, HOLD_CAP_BYTES)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or state.match is None or state.coach_submit:
            return
        if flow.request.stream:
            self._enforce(flow, state)

    def request(self, flow: http.HTTPFlow) -> None:
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or state.match is None or state.coach_submit:
            return
        if state.decision is None and flow.response is None:
            self._enforce(flow, state)

    def websocket_message(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        assert flow.websocket is not None
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or state.match is None or not (state.report and state.report.findings):
            return None  # a message with nothing found is neither decided on nor recorded
        message = flow.websocket.messages[-1]
        verdict = self._verdict(flow, state, body=b"")
        if verdict.decision.enforced and verdict.decision.action == "redact":
            message.text = redact_text(
                message.text, kept_findings(state.report.redactable, verdict.decision)
            )
        elif verdict.decision.enforced and verdict.decision.action == "pseudonymise":
            label = self.pseudonyms.labeller(_who(identity_of(flow, state, self.policy.resolver)))
            kept = kept_findings(state.report.redactable, verdict.decision)
            message.text = redact_text(message.text, kept, label)
        elif verdict.answer is not None:
            message.drop()
        state.decision = verdict.decision
        event = detection_event(flow, state.match, method="WS", request_bytes=len(message.content))
        return self.writer.submit_durable(event)

    def _verdict(self, flow: http.HTTPFlow, state: FlowState, body: bytes | None) -> Verdict:
        assert state.match is not None
        request = flow.request
        view = RequestView(
            method=request.method,
            url=request.url,
            host=host_of(request),
            path=request.path,
            headers=request.headers,
            body=body,
            query=tuple(request.query.fields),
        )
        return enforce(
            self.policy.current,
            request=view,
            identity=identity_of(flow, state, self.policy.resolver),
            match=state.match,
            inspected=state.inspected(),
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
        elif verdict.body is not None or verdict.query is not None or verdict.path is not None:
            self._rewrite(request, verdict)

    def _answer(self, flow: http.HTTPFlow, answer: Answer) -> None:
        request = flow.request
        if request.stream:
            # Decided on the headers: nothing goes upstream. mitmproxy answers only once it
            # has read the body, so a body it would have to hold past the cap is cut off.
            if not 0 < declared_size(request) <= self.hold_cap:
                flow.kill()
                return
            request.stream = False
            request.headers.pop("expect", None)  # no 100 Continue: the body is not wanted
            answer.headers["connection"] = "close"
        flow.response = http.Response.make(answer.status, answer.body, answer.headers)

    def _rewrite(self, request: http.Request, verdict: Verdict) -> None:
        if verdict.body is not None:
            request.raw_content = verdict.body
            request.headers.update(dict(verdict.headers))
        if verdict.path is not None:
            _path, mark, query = request.path.partition("?")
            request.path = verdict.path + mark + query
        if verdict.query is not None:
            request.query.fields = verdict.query
        metrics.DLP_REDACTIONS.inc()


def _who(identity: Identity) -> str:
    return holder(identity.user, identity.client_ip)
