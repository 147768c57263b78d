"""Inspection: scan uploads to AI services for sensitive data; only small plain ones on the loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from mitmproxy import http

from addons.flowmeta import MATCH, REPORT
from proxy import metrics
from proxy.dlp import (
    BodyReport,
    DlpLimits,
    Scanner,
    inspect_body,
    inspect_text,
    quick_to_scan,
)
from proxy.dlp.body import QUICK_BYTES


class Inspection:
    """Scans request bodies and WebSocket text messages bound for AI services.

    What to do about the findings is the policy's call (addons/enforcement.py); a body that
    was not held, or not fully scanned, is marked so the policy can fail closed.
    """

    def __init__(self, scanner: Scanner, limits: DlpLimits) -> None:
        self.scanner = scanner
        self.limits = limits

    async def request(self, flow: http.HTTPFlow) -> None:
        request = flow.request
        if MATCH not in flow.metadata or flow.response is not None:
            return
        if request.stream or request.raw_content is None:
            metrics.DLP_FAILURES.labels(reason="too_large").inc()
            return
        if request.raw_content:
            content_type = request.headers.get("content-type")
            encoding = request.headers.get("content-encoding")
            flow.metadata[REPORT] = await self._timed(
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
        flow.metadata.pop(REPORT, None)
        if MATCH not in flow.metadata or not message.from_client or not message.is_text:
            return
        flow.metadata[REPORT] = await self._timed(
            inspect_text,
            message.text,
            inline=len(message.content) <= QUICK_BYTES,
            scanner=self.scanner,
            limits=self.limits,
        )

    async def _timed(
        self, scan: Callable[..., BodyReport], *args: object, inline: bool, **kwargs: object
    ) -> BodyReport:
        started = time.perf_counter()
        if inline:
            report = scan(*args, **kwargs)
        else:
            report = await asyncio.to_thread(scan, *args, **kwargs)
        metrics.DLP_SCAN_SECONDS.observe(time.perf_counter() - started)
        for finding in report.findings:
            metrics.DLP_FINDINGS.labels(category=finding.category, severity=finding.severity).inc()
        if not report.complete:
            metrics.DLP_FAILURES.labels(reason="incomplete").inc()
        return report
