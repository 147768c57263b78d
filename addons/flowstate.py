"""What our addons learn of one flow, in one typed object on ``flow.metadata``."""

from __future__ import annotations

from dataclasses import dataclass, field

from mitmproxy import http

from shadowlens.proxy.catalog import Match
from shadowlens.proxy.dlp import BodyReport
from shadowlens.proxy.dlp.pseudonym import Restorer
from shadowlens.proxy.dlp.urlpath import PathScan
from shadowlens.proxy.policy import Decision, Identity
from shadowlens.proxy.policy.enforce import Inspected

KEY = "shadowlens"


@dataclass(slots=True)
class FlowState:
    """Filled in hook order: Discovery, Inspection, LdapGroups, Enforcement."""

    match: Match | None = None  # the AI service, once recognised
    candidate: bool = False  # not catalogued, but shaped like an LLM or MCP call
    report: BodyReport | None = None  # DLP of the request body (or of the last WS message)
    query_reports: dict[int, BodyReport] = field(default_factory=dict)  # by query field index
    path_scan: PathScan | None = None  # secrets in the URL path, None when it holds none
    directory_groups: frozenset[str] | None = None  # the proxyauth user's groups in LDAP
    identity: Identity | None = None
    decision: Decision | None = None
    tenant_restricted: bool = False  # tenant-restriction headers were inserted
    coach_submit: bool = False  # a coaching page's form, answered by us
    restorer: Restorer | None = None  # puts this user's surrogates back in the response
    bytes_streamed: int | None = None  # response bytes passed on, when the response streamed
    recorded: bool = False

    def inspected(self) -> Inspected:
        """What the DLP found in this flow, as the policy takes it."""
        return Inspected(self.report, self.query_reports, self.path_scan)


def state_of(flow: http.HTTPFlow) -> FlowState:
    """The flow's state, made on first use."""
    state: FlowState | None = flow.metadata.get(KEY)
    if state is None:
        state = flow.metadata[KEY] = FlowState()
    return state


def match_of(flow: http.HTTPFlow) -> Match | None:
    """The AI service of ``flow``, without making a state for flows that have none."""
    state: FlowState | None = flow.metadata.get(KEY)
    return state.match if state is not None else None
