"""Inspection: scan uploads to AI services for sensitive data; only small plain ones on the loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from mitmproxy import http

from addons.flowmeta import MATCH, REPORT
from proxy import metrics
from proxy.dlp import BodyReport, DlpLimits, Scanner, inspect_body, inspect_text

INLINE_BYTES = 4096


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
                inline=_inline(request.raw_content, content_type, encoding),
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
            inline=_inline(message.content, "text/plain", None),
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


def _inline(body: bytes, content_type: str | None, encoding: str | None) -> bool:
    """Scan on the event loop: a small plain body takes less time than a worker thread's hop.

    A 132-byte chat request scans in 19 µs, 8 KiB in 56 µs; handing either to a thread and
    back costs about 65 µs more. Only JSON, text and forms qualify: a compressed body, or a
    few KiB of multipart, ZIP or PDF, may inflate to the decoding cap, so those always go to
    a thread.
    """
    media = (content_type or "text/plain").partition(";")[0].strip().lower()
    plain = media.startswith("text/") or media.endswith(
        ("/json", "+json", "/x-www-form-urlencoded")
    )
    return (
        len(body) <= INLINE_BYTES
        and plain
        and encoding in (None, "", "identity")
        and not body.startswith((b"PK\x03\x04", b"%PDF-"))
    )
