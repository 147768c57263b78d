"""Inspection: scan uploads to AI services for sensitive data, in scan workers where there are."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

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
from shadowlens.proxy.dlp.engine import ScannerRecipe
from shadowlens.proxy.dlp.ocr import SKIP_FLAG
from shadowlens.proxy.dlp.scanpool import ScanPool
from shadowlens.proxy.dlp.urlpath import scan_path
from shadowlens.proxy.inspection import scan_query

# Smaller uploads are scanned on the event loop even when workers run: handing one to a
# worker costs the loop about as much as scanning it (BENCHMARKS.md, "Scan workers").
WORKER_MIN_BYTES = 1024


class Inspection:
    """Scans request bodies and WebSocket text messages bound for AI services.

    What to do about the findings is the policy's call (addons/enforcement.py); a body that
    was not held, or not fully scanned, is marked so the policy can fail closed.

    Uploads over ``WORKER_MIN_BYTES`` go to the scan workers (``pool``) when one is ready;
    the rest, and all while none is, are scanned here: small plain ones on the event loop,
    others in a thread.
    """

    def __init__(
        self, scanner: Scanner, limits: DlpLimits, *, pool: ScanPool | None = None
    ) -> None:
        self.scanner = scanner
        self.limits = limits
        self.pool = pool

    def running(self) -> None:
        if self.pool is not None:
            self.pool.start()

    async def done(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    def renew(self, built: tuple[ScannerRecipe, Scanner]) -> None:
        """New DLP rules: ``built`` by a rules reload, here and in the workers."""
        recipe, self.scanner = built
        if self.pool is not None:
            self.pool.reload(recipe)

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
            started = time.perf_counter()
            state.report = await self._body_report(request.raw_content, request.headers)
            self._observe(state.report, started)

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        assert flow.websocket is not None
        message = flow.websocket.messages[-1]
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or state.match is None:
            return
        state.report = None
        if not message.from_client or not message.is_text:
            return
        started = time.perf_counter()
        state.report = await self._text_report(message.text, len(message.content))
        self._observe(state.report, started)

    def _scan_query(self, request: http.Request, state: FlowState) -> None:
        """Query values may carry secrets too; they are short, so they are scanned here."""
        if "?" in request.path:
            fields = request.query.fields
            state.query_reports = scan_query(fields, scanner=self.scanner, limits=self.limits)
            for report in state.query_reports.values():
                self._count(report)

    async def _body_report(self, body: bytes, headers: http.Headers) -> BodyReport:
        content_type = headers.get("content-type")
        encoding = headers.get("content-encoding")
        if self.pool is not None and len(body) > WORKER_MIN_BYTES:
            report = await self.pool.inspect_body(
                body, content_type=content_type, content_encoding=encoding
            )
            if report is not None:
                return report
        inline = quick_to_scan(body, content_type=content_type, content_encoding=encoding)
        return await self._scan(
            inspect_body, body, inline=inline, content_type=content_type, content_encoding=encoding
        )

    async def _text_report(self, text: str, size: int) -> BodyReport:
        if self.pool is not None and size > WORKER_MIN_BYTES:
            report = await self.pool.inspect_text(text)
            if report is not None:
                return report
        return await self._scan(inspect_text, text, inline=size <= QUICK_BYTES)

    async def _scan(
        self, scan: Callable[..., BodyReport], *args: object, inline: bool, **kwargs: object
    ) -> BodyReport:
        """Scan in this process: on the event loop when ``inline``, else in a thread."""
        if inline:
            return scan(*args, scanner=self.scanner, limits=self.limits, **kwargs)
        return await asyncio.to_thread(
            scan, *args, scanner=self.scanner, limits=self.limits, **kwargs
        )

    def _observe(self, report: BodyReport, started: float) -> None:
        metrics.DLP_SCAN_SECONDS.observe(time.perf_counter() - started)
        self._count(report)

    def _count(self, report: BodyReport) -> None:
        count_ocr_skips(report.flags)
        for finding in report.findings:
            metrics.DLP_FINDINGS.labels(category=finding.category, severity=finding.severity).inc()
        if not report.complete:
            metrics.DLP_FAILURES.labels(reason="incomplete").inc()


def count_ocr_skips(flags: Iterable[str]) -> None:
    """Count the images a report's flags say were not read. Here, where reports come back
    to the proxy, which serves the metrics, wherever the scan ran: a scan worker's own
    counters would never be read."""
    for flag in flags:
        if flag.startswith(SKIP_FLAG):
            metrics.DLP_OCR_SKIPPED.labels(reason=flag.split(":")[1]).inc()
