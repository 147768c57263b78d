"""Inspection: scan uploads to AI services for sensitive data; only small plain ones on the loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from mitmproxy import http

from shadowlens.addons.flowevents import request_path
from shadowlens.addons.flowstate import KEY, FlowState
from shadowlens.proxy import metrics
from shadowlens.proxy.dlp import (
    BodyReport,
    DlpLimits,
    Scanner,
    inspect_body,
    inspect_text,
    quick_to_scan,
)
from shadowlens.proxy.dlp.body import QUICK_BYTES
from shadowlens.proxy.dlp.urlpath import scan_path
from shadowlens.proxy.inspection import scan_query


class Inspection:
    """Scans request bodies and WebSocket text messages bound for AI services.

    What to do about the findings is the policy's call (addons/enforcement.py); a body that
    was not held, or not fully scanned, is marked so the policy can fail closed.
    """

    def __init__(self, scanner: Scanner, limits: DlpLimits) -> None:
        self.scanner = scanner
        self.limits = limits

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or not (state.match or state.candidate):
            return
        # On the headers, so a decision taken before the body is read sees it too.
        path = request_path(flow.request)
        state.path_scan = scan_path(path, scanner=self.scanner, limits=self.limits)
        if state.path_scan is not None:
            self._count(state.path_scan.report)

    async def request(self, flow: http.HTTPFlow) -> None:
        request = flow.request
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or state.match is None or state.coach_submit or flow.response:
            return
        self._scan_query(request, state)
        if request.stream or request.raw_content is None:
            metrics.DLP_FAILURES.labels(reason="too_large").inc()
            return
        if request.raw_content:
            content_type = request.headers.get("content-type")
            encoding = request.headers.get("content-encoding")
            state.report = await self._timed(
                inspect_body,
                request.raw_content,
                inline=quick_to_scan(
                    request.raw_content, content_type=content_type, content_encoding=encoding
                ),
                content_type=content_type,
                content_encoding=encoding,
                scanner=self.scanner,
                limits=self.limits,
            )

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        assert flow.websocket is not None
        message = flow.websocket.messages[-1]
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or state.match is None:
            return
        state.report = None
        if not message.from_client or not message.is_text:
            return
        state.report = await self._timed(
            inspect_text,
            message.text,
            inline=len(message.content) <= QUICK_BYTES,
            scanner=self.scanner,
            limits=self.limits,
        )

    def _scan_query(self, request: http.Request, state: FlowState) -> None:
        """Query values may carry secrets too; they are short, so they are scanned here."""
        if "?" in request.path:
            fields = request.query.fields
            state.query_reports = scan_query(fields, scanner=self.scanner, limits=self.limits)
            for report in state.query_reports.values():
                self._count(report)

    async def _timed(
        self, scan: Callable[..., BodyReport], *args: object, inline: bool, **kwargs: object
    ) -> BodyReport:
        started = time.perf_counter()
        if inline:
            report = scan(*args, **kwargs)
        else:
            report = await asyncio.to_thread(scan, *args, **kwargs)
        metrics.DLP_SCAN_SECONDS.observe(time.perf_counter() - started)
        self._count(report)
        return report

    def _count(self, report: BodyReport) -> None:
        for finding in report.findings:
            metrics.DLP_FINDINGS.labels(category=finding.category, severity=finding.severity).inc()
        if not report.complete:
            metrics.DLP_FAILURES.labels(reason="incomplete").inc()
