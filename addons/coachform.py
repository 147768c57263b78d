"""CoachForm: the coaching page's form, answered by the proxy itself."""

from __future__ import annotations

from collections.abc import Awaitable
from urllib.parse import urlsplit

from mitmproxy import http

from shadowlens.addons.flowevents import detection_event, identity_of, request_path
from shadowlens.addons.flowstate import KEY, FlowState
from shadowlens.proxy.inventory.writer import InventoryWriter
from shadowlens.proxy.policy import Decision
from shadowlens.proxy.policy.coaching import CoachGrants, holder
from shadowlens.proxy.policy.responses import COACH_PATH, redirect_answer
from shadowlens.proxy.runtime import PolicyRef


class CoachForm:
    """Keeps the user's justification, allows them for a while, and sends them on."""

    def __init__(self, policy: PolicyRef, writer: InventoryWriter, grants: CoachGrants) -> None:
        self.policy = policy
        self.writer = writer
        self.grants = grants

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or state.match is None or flow.request.method != "POST":
            return
        state.coach_submit = request_path(flow.request) == COACH_PATH

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or state.match is None or not state.coach_submit:
            return None
        service_id = state.match.service.id
        identity = identity_of(flow, state, self.policy.resolver)
        who = holder(identity.user, identity.client_ip)
        form = flow.request.urlencoded_form
        text = form.get("justification", "").strip()
        if not 5 <= len(text) <= 1000 or not self.grants.valid(
            who, service_id, form.get("token", "")
        ):
            flow.response = http.Response.make(
                400, b"Please give a justification of 5 to 1000 characters."
            )
            return None
        until = self.grants.allow(who, service_id, self.policy.current.coach_minutes)
        rule_id = form.get("rule", "")[:64] or "coach"
        state.decision = Decision("coach", rule_id, "", "continued with a justification")
        state.recorded = True
        event = detection_event(flow, state.match, justification=text, allowed_until=until)
        answer = redirect_answer(_same_host(form.get("return_to", "/"), flow.request.pretty_host))
        flow.response = http.Response.make(answer.status, answer.body, answer.headers)
        return self.writer.submit_durable(event)  # kept before the user is sent on


def _same_host(url: str, host: str) -> str:
    """Only ever send the user back to the host they came from."""
    parts = urlsplit(url)
    if parts.hostname and parts.hostname.lower() != host.lower():
        return "/"
    return url if url.startswith(("https://", "http://", "/")) else "/"
