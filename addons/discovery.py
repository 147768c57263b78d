"""Discovery: recognise flows to AI services and queue a detection for each."""

from __future__ import annotations

from datetime import UTC, datetime

from mitmproxy import http

from addons.flowmeta import MATCH, RECORDED
from proxy import metrics
from proxy.catalog import HostIndex, Match
from proxy.inventory.events import DetectionEvent
from proxy.inventory.writer import InventoryWriter


class Discovery:
    """Classifies each HTTP flow by host and SNI; non-AI flows are streamed untouched."""

    def __init__(self, catalog: HostIndex, writer: InventoryWriter) -> None:
        self.catalog = catalog
        self.writer = writer

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        match = self._classify(flow)
        if match is None:
            metrics.FLOWS.labels(kind="other").inc()
            flow.request.stream = True
            return
        metrics.FLOWS.labels(kind="ai").inc()
        flow.metadata[MATCH] = match

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        assert flow.response is not None
        if MATCH not in flow.metadata or _is_event_stream(flow.response):
            flow.response.stream = True

    def response(self, flow: http.HTTPFlow) -> None:
        self._record(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._record(flow)

    def _classify(self, flow: http.HTTPFlow) -> Match | None:
        match = self.catalog.lookup(flow.request.pretty_host)
        if match is None and flow.client_conn.sni:
            match = self.catalog.lookup(flow.client_conn.sni, evidence="sni")
        return match

    def _record(self, flow: http.HTTPFlow) -> None:
        match = flow.metadata.get(MATCH)
        if match is None or flow.metadata.get(RECORDED):
            return
        flow.metadata[RECORDED] = True
        service = match.service
        metrics.DETECTIONS.labels(service=service.id, category=service.category).inc()
        self.writer.submit(detection_event(flow, match))


def detection_event(flow: http.HTTPFlow, match: Match) -> DetectionEvent:
    """The inventory record of ``flow``: never the query string, never a password."""
    request = flow.request
    service = match.service
    return DetectionEvent(
        ts=datetime.fromtimestamp(request.timestamp_start, UTC),
        client_ip=flow.client_conn.peername[0] if flow.client_conn.peername else "",
        user=_username(flow),
        service_id=service.id,
        service_name=service.name,
        vendor=service.vendor,
        category=service.category,
        evidence=match.evidence,
        method=request.method[:16],
        host=request.pretty_host[:255],
        path=request.path.partition("?")[0][:2048],
        request_bytes=_request_bytes(request),
        status=flow.response.status_code if flow.response else None,
        error=flow.error.msg[:512] if flow.error else None,
    )


def _username(flow: http.HTTPFlow) -> str | None:
    credentials = flow.metadata.get("proxyauth")
    return str(credentials[0])[:255] if credentials else None


def _request_bytes(request: http.Request) -> int:
    if request.raw_content is not None and not request.stream:
        return len(request.raw_content)
    length = request.headers.get("content-length", "")
    return int(length) if length.isdigit() else 0


def _is_event_stream(response: http.Response) -> bool:
    return response.headers.get("content-type", "").startswith("text/event-stream")
