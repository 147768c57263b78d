"""StageClock: how long our addons hold each flow, stage by stage."""

from __future__ import annotations

import time

from mitmproxy import http

from shadowlens.proxy import metrics

# The clocks' own bookkeeping on flow.metadata, for every flow (AI or not: no FlowState).
LAP = "shadowlens.lap"  # perf_counter() at the last StageClock this flow passed
SPENT = "shadowlens.spent"  # seconds each stage held this flow, summed over its hooks


class StageClock:
    """Placed after the addons of one stage: on every flow hook, charges the time since the
    clock before it to ``stage``. The first clock (no stage) starts the lap; the last one
    (``reports``) observes each stage's total for the flow, and the sum as ``total``.

    Clocks between addons measure them without touching them. An async hook (a DLP scan in
    a worker thread) holds the flow until it returns, so its wait counts: it is added latency.
    """

    def __init__(self, stage: str | None = None, *, reports: bool = False) -> None:
        self.stage = stage
        self.reports = reports
        self.name = f"stageclock-{stage or 'start'}"  # mitmproxy wants each addon named apart

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._lap(flow)

    def request(self, flow: http.HTTPFlow) -> None:
        self._lap(flow)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        self._lap(flow)

    def response(self, flow: http.HTTPFlow) -> None:
        self._lap(flow)
        self._report(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._lap(flow)
        self._report(flow)

    def _lap(self, flow: http.HTTPFlow) -> None:
        now = time.perf_counter()
        started = flow.metadata.get(LAP)
        if self.stage is not None and started is not None:
            spent = flow.metadata.setdefault(SPENT, {})
            spent[self.stage] = spent.get(self.stage, 0.0) + now - started
        flow.metadata[LAP] = now

    def _report(self, flow: http.HTTPFlow) -> None:
        if not self.reports or SPENT not in flow.metadata:
            return
        spent: dict[str, float] = flow.metadata.pop(SPENT)
        for stage, seconds in spent.items():
            metrics.STAGE_SECONDS.labels(stage=stage).observe(seconds)
        metrics.STAGE_SECONDS.labels(stage="total").observe(sum(spent.values()))
