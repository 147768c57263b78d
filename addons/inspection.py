"""Inspection: scan uploads to AI services for sensitive data, and mask it when told to."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from mitmproxy import http

from addons.flowevents import declared_size, detection_event
from addons.flowmeta import ACTION, MATCH, REPORT
from proxy import metrics
from proxy.dlp import (
    BodyReport,
    DlpLimits,
    Scanner,
    inspect_body,
    inspect_text,
    redact_body,
    redact_text,
)
from proxy.dlp.body import RedactionError
from proxy.inventory.writer import InventoryWriter

log = logging.getLogger(__name__)


class Inspection:
    """Scans request bodies and WebSocket messages bound for AI services, off the event loop.

    With ``redact_all`` every finding is masked before the body leaves. A body that cannot be
    masked (cut off, a decompression bomb, a failed scan) is blocked, never forwarded raw.
    """

    def __init__(
        self, scanner: Scanner, limits: DlpLimits, writer: InventoryWriter, *, redact_all: bool
    ) -> None:
        self.scanner = scanner
        self.limits = limits
        self.writer = writer
        self.redact_all = redact_all

    async def request(self, flow: http.HTTPFlow) -> None:
        request = flow.request
        if MATCH not in flow.metadata or flow.response is not None:
            return
        if request.stream or request.raw_content is None:
            self._uninspected(flow, declared_size(request))
            return
        if not request.raw_content:
            return
        report = await self._scan(flow)
        flow.metadata[REPORT] = report
        if self.redact_all and (report.redactable or not report.complete):
            self._redact(flow, report)

    async def _scan(self, flow: http.HTTPFlow) -> BodyReport:
        started = time.perf_counter()
        report = await asyncio.to_thread(
            inspect_body,
            flow.request.raw_content or b"",
            content_type=flow.request.headers.get("content-type"),
            content_encoding=flow.request.headers.get("content-encoding"),
            scanner=self.scanner,
            limits=self.limits,
        )
        metrics.DLP_SCAN_SECONDS.observe(time.perf_counter() - started)
        for finding in report.findings:
            metrics.DLP_FINDINGS.labels(category=finding.category, severity=finding.severity).inc()
        if not report.complete:
            metrics.DLP_FAILURES.labels(reason="incomplete").inc()
        return report

    def _uninspected(self, flow: http.HTTPFlow, size: int) -> None:
        """A body too large to hold: say so, and block it when redaction was promised."""
        metrics.DLP_FAILURES.labels(reason="too_large").inc()
        if self.redact_all:
            _block(flow, f"upload of {size} bytes is too large to inspect")

    def _redact(self, flow: http.HTTPFlow, report: BodyReport) -> None:
        request = flow.request
        try:
            if not report.complete:
                raise RedactionError("part of the body could not be inspected")
            body, headers = redact_body(
                request.raw_content or b"",
                content_type=request.headers.get("content-type"),
                content_encoding=request.headers.get("content-encoding"),
                report=report,
            )
        except RedactionError as exc:
            metrics.DLP_FAILURES.labels(reason="unredactable").inc()
            log.warning("blocked an upload to %s: %s", request.pretty_host, exc)
            _block(flow, str(exc))
            return
        request.raw_content = body
        request.headers.update(headers)
        flow.metadata[ACTION] = "redact"
        metrics.DLP_REDACTIONS.inc()

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        assert flow.websocket is not None
        message = flow.websocket.messages[-1]
        match = flow.metadata.get(MATCH)
        if match is None or not message.from_client or not message.is_text:
            return
        report = await asyncio.to_thread(
            inspect_text, message.text, scanner=self.scanner, limits=self.limits
        )
        if not report.findings:
            return
        if self.redact_all and report.redactable:
            message.text = redact_text(message.text, report.redactable)
        flow.metadata[REPORT] = report
        action = "redact" if self.redact_all else "monitor"
        self.writer.submit(
            detection_event(
                flow, match, method="WS", request_bytes=len(message.content), action=action
            )
        )


def _block(flow: http.HTTPFlow, reason: str) -> None:
    """Answer the client ourselves: the body never reaches the AI service."""
    flow.metadata[ACTION] = "block"
    body = {
        "error": {
            "message": f"Blocked by shadowlens: {reason}. Nothing was sent.",
            "type": "permission_error",
            "code": "shadowlens_blocked",
        }
    }
    flow.response = http.Response.make(403, json.dumps(body), {"content-type": "application/json"})
