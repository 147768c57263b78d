"""Metrics: every known label set starts at 0, stages are timed, no host becomes a label."""

from __future__ import annotations

import time

from mitmproxy.test import tflow
from prometheus_client import REGISTRY, generate_latest

from shadowlens.addons.stageclock import SPENT, StageClock
from shadowlens.proxy import metrics, metricslabels


def _sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_initialise_gives_every_known_label_set_a_zero() -> None:
    # The registry is the process's: other tests may have counted already, so each known
    # label set must exist (a child is created at 0), whatever its value by now.
    metricslabels.initialise(services=[("chatgpt", "chat_assistant")], restrictions=["ws-only"])
    known = [
        ("shadowlens_rules_errors_total", {"rules": "dlp"}),
        ("shadowlens_policy_decisions_total", {"action": "coach", "enforced": "False"}),
        ("shadowlens_dlp_failures_total", {"reason": "unredactable"}),
        ("shadowlens_tls_passthrough_total", {"reason": "learned"}),
        ("shadowlens_tenant_restrictions_total", {"restriction": "ws-only"}),
        ("shadowlens_dlp_findings_total", {"category": "pii", "severity": "critical"}),
        ("shadowlens_upload_bytes_total", {"service": "chatgpt"}),
        ("shadowlens_detections_total", {"service": "mcp-server", "category": "mcp_server"}),
        ("shadowlens_added_latency_seconds_count", {"stage": "total"}),
    ]
    assert [(name, labels) for name, labels in known if _sample(name, **labels) is None] == []
    assert b'shadowlens_build_info{python="' in generate_latest()


def test_an_uncatalogued_endpoint_is_labelled_by_kind_never_by_host() -> None:
    assert metrics.service_label("unknown-llm-endpoint:llm.corp.example") == "unknown-llm-endpoint"
    assert metrics.service_label("mcp-server:10.0.0.7") == "mcp-server"
    assert metrics.service_label("chatgpt") == "chatgpt"


class _Slow:
    """An addon standing for a stage that holds every hook for ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def request(self, flow: object) -> None:
        time.sleep(self.seconds)

    def response(self, flow: object) -> None:
        time.sleep(self.seconds)


def test_stage_clocks_charge_each_stage_its_own_time_and_report_once() -> None:
    last = StageClock("policy", reports=True)
    chain: list[object] = [
        StageClock(),
        _Slow(0.02),
        StageClock("classify"),
        _Slow(0.0),
        StageClock("inspect"),
        last,
    ]
    before = _sample("shadowlens_added_latency_seconds_count", stage="classify") or 0
    slow_before = _sample("shadowlens_added_latency_seconds_sum", stage="classify") or 0
    flow = tflow.tflow(resp=True)
    for hook in ("request", "response"):
        for addon in chain:
            if hasattr(addon, hook):
                getattr(addon, hook)(flow)
    assert SPENT not in flow.metadata  # reported, and only once
    assert _sample("shadowlens_added_latency_seconds_count", stage="classify") == before + 1
    classify = (
        _sample("shadowlens_added_latency_seconds_sum", stage="classify") or 0
    ) - slow_before
    assert 0.04 <= classify < 0.5
    last.error(flow)  # a late error hook does not count the flow twice
    assert _sample("shadowlens_added_latency_seconds_count", stage="classify") == before + 1


def test_time_between_hooks_is_not_added_latency() -> None:
    first, last = StageClock(), StageClock("classify", reports=True)
    under_25ms = {"stage": "classify", "le": "0.025"}
    before = _sample("shadowlens_added_latency_seconds_bucket", **under_25ms) or 0
    flow = tflow.tflow(resp=True)
    first.request(flow)
    last.request(flow)
    time.sleep(0.05)  # the upstream answering: not ours
    first.response(flow)
    last.response(flow)
    assert _sample("shadowlens_added_latency_seconds_bucket", **under_25ms) == before + 1
