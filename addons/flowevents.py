"""Building inventory events from mitmproxy flows; shared by the addons that record."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from mitmproxy import http
from mitmproxy.net.http import url

from shadowlens.addons.flowstate import FlowState, state_of
from shadowlens.proxy import metrics
from shadowlens.proxy.catalog import Match
from shadowlens.proxy.catalog.hostnames import is_valid_host, normalize_host, printable_host
from shadowlens.proxy.dlp.webapps import conversation_id
from shadowlens.proxy.inspection import finding_records
from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.policy import Identity, IdentityResolver


def request_path(request: http.Request) -> str:
    """The path without its query string, which may carry tokens."""
    return request.path.partition("?")[0]


def host_of(request: http.Request) -> str:
    """``request.pretty_host``, with the Host header's parse kept: mitmproxy parses it anew
    on each call, and an AI flow asks four times."""
    authority = request.host_header
    return _authority_host(authority) if authority else request.host


@lru_cache(maxsize=4096)  # bounded: Host headers are the client's to choose
def _authority_host(authority: str) -> str:
    return url.parse_authority(authority, check=False)[0]


def declared_size(request: http.Request) -> int:
    """The Content-Length the client announced, 0 when it announced none."""
    length = request.headers.get("content-length", "")
    return int(length) if length.isdigit() else 0


def identity_of(flow: http.HTTPFlow, state: FlowState, resolver: IdentityResolver) -> Identity:
    """Who is behind ``flow``, resolved once and kept on its state."""
    if state.identity is None:
        credentials = flow.metadata.get("proxyauth")
        state.identity = resolver.resolve(
            peer_ip=flow.client_conn.peername[0] if flow.client_conn.peername else "",
            headers=flow.request.headers,
            proxyauth_user=str(credentials[0]) if credentials else None,
            directory_groups=state.directory_groups or frozenset(),
        )
    return state.identity


def detection_event(flow: http.HTTPFlow, match: Match, **overrides: object) -> DetectionEvent:
    """The inventory record of ``flow``: never the query string, a password or a raw value."""
    request = flow.request
    service = match.service
    state = state_of(flow)
    report, identity, decision = state.report, state.identity, state.decision
    event = DetectionEvent(
        ts=datetime.fromtimestamp(request.timestamp_start, UTC),
        client_ip=flow.client_conn.peername[0] if flow.client_conn.peername else "",
        user=identity.user if identity else _username(flow),
        service_id=service.id,
        service_name=service.name,
        vendor=service.vendor,
        category=service.category,
        evidence=match.evidence,
        method=request.method[:16],
        host=_recorded_host(host_of(request)),
        path=(state.path_scan.masked() if state.path_scan else request_path(request))[:2048],
        request_bytes=_request_bytes(request),
        response_bytes=_response_bytes(flow.response, state),
        status=flow.response.status_code if flow.response else None,
        error=flow.error.msg[:512] if flow.error else None,
        confidence=match.confidence,
        signals=",".join(match.signals),
        client=match.client,
        model=match.model,
        account=match.account,
        account_kind=decision.account_kind if decision else "unknown",
        action=decision.action if decision else "monitor",
        rule_id=decision.rule_id if decision else None,
        enforced=decision.enforced if decision else True,
        groups=",".join(sorted(identity.groups))[:255] if identity else "",
        tenant_restricted=state.tenant_restricted,
        findings=finding_records([f for r in state.inspected().reports for f in r.findings]),
        conversation=conversation_id(request_path(request), report),
    )
    for name, value in overrides.items():
        setattr(event, name, value)
    return event


def _recorded_host(host: str) -> str:
    """The host as sent when it is valid; else escaped, and counted."""
    if is_valid_host(normalize_host(host)):
        return host[:255]
    metrics.INVALID_HOSTS.inc()
    return printable_host(host)


def _username(flow: http.HTTPFlow) -> str | None:
    credentials = flow.metadata.get("proxyauth")
    return str(credentials[0])[:255] if credentials else None


def _request_bytes(request: http.Request) -> int:
    if request.raw_content is not None and not request.stream:
        return len(request.raw_content)
    return declared_size(request)


def _response_bytes(response: http.Response | None, state: FlowState) -> int:
    """Bytes down: the body held, or counted as it streamed, else the Content-Length announced."""
    if response is None:
        return 0
    if response.raw_content is not None and not response.stream:
        return len(response.raw_content)
    if state.bytes_streamed is not None:
        return state.bytes_streamed
    length = response.headers.get("content-length", "")
    return int(length) if length.isdigit() else 0
