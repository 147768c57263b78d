"""Discovery: recognise flows to AI services and queue a detection for each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mitmproxy import http

from shadowlens.addons.flowevents import declared_size, detection_event, host_of, request_path
from shadowlens.addons.flowstate import KEY, FlowState, match_of, state_of
from shadowlens.proxy import metrics
from shadowlens.proxy.catalog import Match
from shadowlens.proxy.catalog.classify import classify_headers, refine_with_body
from shadowlens.proxy.catalog.model import unknown_endpoint
from shadowlens.proxy.catalog.protocols import is_candidate, recognize_stream
from shadowlens.proxy.inventory.writer import InventoryWriter
from shadowlens.proxy.runtime import CatalogRef

# How much of a streamed response we look at to recognise an LLM or MCP stream.
STREAM_PEEK_BYTES = 4096
STREAMED_TYPES = ("text/event-stream", "application/x-ndjson")
# Bodies up to this size are held rather than streamed when they are not AI.
SMALL_BODY_BYTES = 64 * 1024


class Discovery:
    """Classifies each HTTP flow; flows that cannot be AI are streamed untouched.

    ``live`` holds the ids of the flows between their request headers and their answer, so
    a shutdown can wait for them.
    """

    def __init__(
        self,
        catalog: CatalogRef,
        writer: InventoryWriter,
        *,
        max_body: int,
        live: set[str] | None = None,
    ) -> None:
        self.catalog = catalog
        self.writer = writer
        self.max_body = max_body
        self.live = live if live is not None else set()

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self.live.add(flow.id)
        request = flow.request
        path = request_path(request)
        match = classify_headers(
            self.catalog.current,
            host=host_of(request),
            method=request.method,
            path=path,
            headers=request.headers,
            sni=flow.client_conn.sni,
        )
        if match is not None:
            state_of(flow).match = match
        elif is_candidate(request.method, path, request.headers):
            state_of(flow).candidate = True
        elif _worth_streaming(request.headers, bodiless=True):
            request.stream = True
        if declared_size(request) > self.max_body:
            request.stream = True  # too large to hold in memory: forwarded as it comes

    def request(self, flow: http.HTTPFlow) -> None:
        request = flow.request
        state: FlowState | None = flow.metadata.get(KEY)
        held = not request.stream and request.raw_content is not None
        if state is None or not held or state.decision is not None:
            return  # a decision already taken on the headers answered this flow
        if state.match is None and not state.candidate:
            return
        refined = refine_with_body(
            state.match,
            host=host_of(request),
            method=request.method,
            path=request_path(request),
            headers=request.headers,
            body=_identity_body(request),
        )
        if refined is not None:
            state.match = refined

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        assert flow.response is not None
        content_type = flow.response.headers.get("content-type", "")
        if content_type.startswith(STREAMED_TYPES):
            # LLM tokens reach the client as they come; we count them and peek at the first.
            flow.response.stream = self._passer(flow)
        elif match_of(flow) is None and _worth_streaming(flow.response.headers, bodiless=False):
            flow.response.stream = True

    def _passer(self, flow: http.HTTPFlow) -> Callable[[bytes], bytes]:
        seen = bytearray()
        state = state_of(flow)
        state.bytes_streamed = 0

        def pass_on(chunk: bytes) -> bytes:
            state.bytes_streamed = (state.bytes_streamed or 0) + len(chunk)  # counted, not held
            if len(seen) < STREAM_PEEK_BYTES and state.match is None:
                seen.extend(chunk[: STREAM_PEEK_BYTES - len(seen)])
                self._recognize_stream(flow, bytes(seen))
            return chunk

        return pass_on

    def _recognize_stream(self, flow: http.HTTPFlow, first_bytes: bytes) -> None:
        hit = recognize_stream(first_bytes)
        if hit is None:
            return
        service = unknown_endpoint(hit.kind, host_of(flow.request))
        state_of(flow).match = Match(
            service=service, evidence="protocol", matched=hit.protocol, model=hit.model
        )

    # The answer goes to the client once these return: an AI flow's event is journaled first.
    def response(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        return self._record(flow)

    def error(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        return self._record(flow)

    def _record(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        self.live.discard(flow.id)
        state = state_of(flow)
        if state.recorded:
            return None
        state.recorded = True
        match = state.match
        metrics.FLOWS.labels(kind="ai" if match else "other").inc()
        if match is None:
            return None
        service = match.service
        event = detection_event(flow, match)
        label = metrics.service_label(service.id)
        metrics.DETECTIONS.labels(service=label, category=service.category).inc()
        metrics.UPLOAD_BYTES.labels(service=label).inc(event.request_bytes)
        return self.writer.submit_durable(event)


def _identity_body(request: http.Request) -> bytes:
    """The body as sent, unless it is compressed: we never inflate here (bomb-safe)."""
    if request.headers.get("content-encoding", "identity") != "identity":
        return b""
    return request.raw_content or b""


def _worth_streaming(headers: http.Headers, *, bodiless: bool) -> bool:
    """Stream a body unless it is known to be small: holding a few KB costs less than
    forwarding them chunk by chunk, and a large or open-ended body is never held.

    ``bodiless``: what a message without Content-Length or Transfer-Encoding carries
    (requests: nothing; responses: everything until the connection closes).
    """
    length = headers.get("content-length", "")
    if length.isdigit():
        return int(length) > SMALL_BODY_BYTES
    return "transfer-encoding" in headers or not bodiless
