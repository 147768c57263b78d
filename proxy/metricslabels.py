"""Every known label set of the metrics, made at start, so no panel or alert waits for a
first event to show a 0."""

from __future__ import annotations

import itertools
import platform
from collections.abc import Iterable
from importlib.metadata import version

from prometheus_client import Counter, Histogram

from shadowlens.proxy.catalog.model import MCP_SERVER, UNKNOWN_LLM
from shadowlens.proxy.dlp import model as dlp_model
from shadowlens.proxy.metrics import (
    BUILD_INFO,
    DECISIONS,
    DETECTIONS,
    DLP_FAILURES,
    DLP_FINDINGS,
    EVENTS_DROPPED,
    FLOWS,
    RETENTION_PURGED,
    RULES_ERRORS,
    RULES_RELOADS,
    STAGE_SECONDS,
    TENANT_RESTRICTIONS,
    TLS_PASSTHROUGH,
    UPLOAD_BYTES,
)
from shadowlens.proxy.policy import model as policy_model

# Stages of STAGE_SECONDS, in hook order.
STAGES = ("classify", "inspect", "directory", "policy", "total")
# (service label, category) of the endpoints the catalog does not name.
UNCATALOGUED = ((UNKNOWN_LLM, "unknown_llm"), (MCP_SERVER, "mcp_server"))
RULES_KINDS = ("services", "dlp", "policy", "alerts")


def initialise(*, services: Iterable[tuple[str, str]], restrictions: Iterable[str]) -> None:
    """Give every known label set a 0 at start, so no panel or alert waits for a first event.

    ``services``: (id, category) of each catalogued service; ``restrictions``: the tenant
    restriction ids of the policy in force.
    """
    BUILD_INFO.info({"version": version("shadowlens"), "python": platform.python_version()})
    _zero(FLOWS, kind=("ai", "other"))
    for service, category in [*services, *UNCATALOGUED]:
        DETECTIONS.labels(service=service, category=category)
        UPLOAD_BYTES.labels(service=service)
    _zero(EVENTS_DROPPED, reason=("queue_full", "spool_full", "shutdown", "refused"))
    _zero(RULES_ERRORS, rules=RULES_KINDS)
    _zero(RULES_RELOADS, rules=RULES_KINDS)
    _zero(TLS_PASSTHROUGH, reason=("no_decrypt", "learned", "selective"))
    _zero(DLP_FINDINGS, category=dlp_model.CATEGORIES, severity=dlp_model.SEVERITIES)
    _zero(DLP_FAILURES, reason=("too_large", "incomplete", "unredactable"))
    _zero(DECISIONS, action=policy_model.ACTIONS, enforced=("True", "False"))
    _zero(TENANT_RESTRICTIONS, restriction=tuple(restrictions))
    _zero(RETENTION_PURGED, table=("detections", "findings", "justifications"))
    _zero(STAGE_SECONDS, stage=STAGES)


def _zero(metric: Counter | Histogram, **values: Iterable[str]) -> None:
    """Create the child of every combination of ``values`` (Counter and Histogram start at 0)."""
    names = list(values)
    for combination in itertools.product(*values.values()):
        metric.labels(**dict(zip(names, combination, strict=True)))
