"""What a sink writes for one detection: native JSON, Elastic ECS, OCSF 1.1, or CEF.

Every format is built from the :class:`DetectionEvent` alone, which carries what the
inventory stores and nothing more: findings as detector, masked preview and keyed
fingerprint, never the value itself. See docs/siem.md for an example of each.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Callable
from datetime import datetime
from operator import attrgetter
from typing import Any

from shadowlens.proxy.inventory.events import DetectionEvent, FindingRecord

PRODUCT = "shadowlens"
try:
    PRODUCT_VERSION = importlib.metadata.version(PRODUCT)
except importlib.metadata.PackageNotFoundError:  # run from a source tree not installed
    PRODUCT_VERSION = "0"

SEVERITY_RANK = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
_SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}

Record = dict[str, Any]


def severity_of(event: DetectionEvent) -> int:
    """1 (informational) to 5 (critical): the worst finding, at least medium for a block."""
    worst = max((SEVERITY_RANK.get(f.severity, 1) for f in event.findings), default=1)
    return max(worst, 3) if event.action == "block" else worst


def epoch_ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


# -- native ----------------------------------------------------------------------------------


_SCALAR_FIELDS = tuple(n for n in DetectionEvent.__dataclass_fields__ if n != "findings")
_scalars = attrgetter(*_SCALAR_FIELDS)


def native(event: DetectionEvent) -> list[Record]:
    """The event's own fields (as the inventory spool writes them) and its data classes.

    Built here rather than with the spool's ``event_to_json``: at sink rates its generic
    dataclass walk cost more than the rest of the file sink together.
    """
    record = dict(zip(_SCALAR_FIELDS, _scalars(event), strict=True))
    record["ts"] = event.ts.isoformat()
    if event.allowed_until is not None:
        record["allowed_until"] = event.allowed_until.isoformat()
    record["findings"] = [_finding(f) for f in event.findings]
    record["data_classes"] = event.data_classes
    return [record]


# -- Elastic Common Schema -------------------------------------------------------------------

ECS_VERSION = "8.11.0"
_ECS_OUTCOME = {"block": "failure"}


def ecs(event: DetectionEvent) -> list[Record]:
    """One ECS document; what ECS has no field for goes under ``shadowlens``."""
    severity = severity_of(event)
    record: Record = {
        "@timestamp": event.ts.isoformat(),
        "ecs": {"version": ECS_VERSION},
        "event": {
            "id": event.id,
            "kind": "alert" if event.findings or event.action == "block" else "event",
            "category": ["network", "web"],
            "type": ["denied"] if event.action == "block" else ["access", "allowed"],
            "action": event.action,
            "outcome": "failure" if event.error else _ECS_OUTCOME.get(event.action, "success"),
            "severity": severity,
            "module": PRODUCT,
            "dataset": f"{PRODUCT}.detection",
        },
        "observer": {"product": PRODUCT, "vendor": PRODUCT, "type": "proxy",
                     "version": PRODUCT_VERSION},
        "source": {"ip": event.client_ip},
        "client": {"ip": event.client_ip},
        "destination": {"domain": event.host},
        "url": {"domain": event.host, "path": event.path},
        "http": {"request": {"method": event.method, "bytes": event.request_bytes},
                 "response": {"bytes": event.response_bytes}},
        "shadowlens": _extras(event),
    }  # fmt: skip
    if event.status is not None:
        record["http"]["response"]["status_code"] = event.status
    if event.user:
        record["user"] = {"name": event.user}
        if event.groups:
            record["user"]["group"] = {"name": event.groups.split(",")}
    if event.rule_id:
        record["rule"] = {"id": event.rule_id}
    if event.error:
        record["error"] = {"message": event.error}
    return [record]


def _extras(event: DetectionEvent) -> Record:
    """What the standard schemas have no field for: the service, evidence and findings."""
    return {
        "service": {"id": event.service_id, "name": event.service_name,
                    "vendor": event.vendor, "category": event.category},
        "evidence": event.evidence, "confidence": event.confidence, "signals": event.signals,
        "client": event.client, "model": event.model, "account_kind": event.account_kind,
        "enforced": event.enforced, "tenant_restricted": event.tenant_restricted,
        "data_classes": event.data_classes,
        "findings": [_finding(f) for f in event.findings],
    }  # fmt: skip


def _finding(finding: FindingRecord) -> Record:
    return {
        "detector": finding.detector,
        "category": finding.category,
        "severity": finding.severity,
        "count": finding.count,
        "preview": finding.preview,
        "fingerprint": finding.fingerprint,
        "location": finding.location,
    }


# -- OCSF 1.1 --------------------------------------------------------------------------------

OCSF_VERSION = "1.1.0"
HTTP_ACTIVITY = 4002
NETWORK_ACTIVITY = 4
DETECTION_FINDING = 2004
FINDINGS = 2
_HTTP_ACTIVITIES = {"CONNECT": 1, "DELETE": 2, "GET": 3, "HEAD": 4, "OPTIONS": 5, "POST": 6,
                    "PUT": 7, "TRACE": 8}  # fmt: skip
_OTHER = 99
_CREATE = 1


def ocsf(event: DetectionEvent) -> list[Record]:
    """An HTTP Activity (4002) for the flow, then a Detection Finding (2004) per finding."""
    return [_http_activity(event)] + [
        _detection_finding(event, n, f) for n, f in enumerate(event.findings)
    ]


def _ocsf_base(
    event: DetectionEvent, *, class_uid: int, class_name: str, category: tuple[int, str]
) -> Record:
    severity = severity_of(event)
    return {
        "class_uid": class_uid,
        "class_name": class_name,
        "category_uid": category[0],
        "category_name": category[1],
        "time": epoch_ms(event.ts),
        "severity_id": severity,
        "severity": _SEVERITY_NAMES[severity],
        "metadata": {
            "version": OCSF_VERSION,
            "uid": event.id,
            "product": {"name": PRODUCT, "vendor_name": PRODUCT, "version": PRODUCT_VERSION},
        },
    }


def _ocsf_parties(event: DetectionEvent) -> Record:
    """Who talked to which host: the HTTP Activity's own attributes, a finding's evidence."""
    parties: Record = {
        "src_endpoint": {"ip": event.client_ip},
        "dst_endpoint": {"hostname": event.host},
    }
    if event.user:
        parties["actor"] = {"user": _ocsf_user(event)}
    return parties


def _ocsf_user(event: DetectionEvent) -> Record:
    user: Record = {"name": event.user}
    if event.groups:
        user["groups"] = [{"name": g} for g in event.groups.split(",")]
    return user


def _with_activity(record: Record, activity_id: int, activity_name: str) -> Record:
    record["activity_id"] = activity_id
    record["activity_name"] = activity_name
    record["type_uid"] = record["class_uid"] * 100 + activity_id
    record["type_name"] = f"{record['class_name']}: {activity_name}"
    return record


def _http_activity(event: DetectionEvent) -> Record:
    record = _ocsf_base(
        event,
        class_uid=HTTP_ACTIVITY,
        class_name="HTTP Activity",
        category=(NETWORK_ACTIVITY, "Network Activity"),
    )
    record.update(_ocsf_parties(event))
    method = event.method.upper()
    _with_activity(record, _HTTP_ACTIVITIES.get(method, _OTHER), method.title())
    record["status_id"] = 2 if event.error or event.action == "block" else 1
    record["status"] = "Failure" if record["status_id"] == 2 else "Success"
    record["message"] = f"{event.action} {event.service_name} ({event.service_id})"
    record["http_request"] = {
        "http_method": method,
        "url": {"hostname": event.host, "path": event.path},
        "length": event.request_bytes,
    }
    if event.status is not None:
        record["http_response"] = {"code": event.status, "length": event.response_bytes}
    record["unmapped"] = {PRODUCT: _extras(event)}
    return record


def _detection_finding(event: DetectionEvent, n: int, finding: FindingRecord) -> Record:
    record = _ocsf_base(
        event, class_uid=DETECTION_FINDING, class_name="Detection Finding",
        category=(FINDINGS, "Findings"),
    )  # fmt: skip
    _with_activity(record, _CREATE, "Create")
    severity = SEVERITY_RANK.get(finding.severity, 1)
    record["severity_id"], record["severity"] = severity, _SEVERITY_NAMES[severity]
    record["metadata"]["uid"] = f"{event.id}-{n}"
    record["metadata"]["correlation_uid"] = event.id
    record["status_id"], record["status"] = 1, "New"
    record["message"] = f"{finding.detector} in an upload to {event.service_name}"
    record["finding_info"] = {
        "uid": f"{event.id}-{n}",
        "title": record["message"],
        "types": [finding.category],
        "analytic": {"uid": finding.detector, "name": finding.detector, "type_id": 1,
                     "type": "Rule"},
    }  # fmt: skip
    record["evidences"] = [_ocsf_parties(event)]
    record["unmapped"] = {PRODUCT: {"service_id": event.service_id, "action": event.action,
                                    **_finding(finding)}}  # fmt: skip
    return record


FORMATS: dict[str, Callable[[DetectionEvent], list[Record]]] = {
    "native": native,
    "ecs": ecs,
    "ocsf": ocsf,
}


# -- CEF -------------------------------------------------------------------------------------

_CEF_SEVERITY = {1: 1, 2: 3, 3: 5, 4: 8, 5: 10}
_HEADER_SPECIAL = re.compile(r"[\\|\n\r]")
_VALUE_SPECIAL = re.compile(r"[\\=\n\r]")


def cef_header(value: str) -> str:
    """A CEF header field: backslash and pipe escaped; a line break cannot be, so it is a space."""
    if _HEADER_SPECIAL.search(value) is None:  # nearly always: skip the four passes
        return value
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def cef_value(value: object) -> str:
    """A CEF extension value: backslash, equals sign and line breaks escaped."""
    text = str(value)
    if _VALUE_SPECIAL.search(text) is None:
        return text
    return text.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n").replace("\r", "\\r")


def cef(event: DetectionEvent) -> str:
    """The event as one CEF:0 line (no line break inside it)."""
    name = cef_header(f"AI service use: {event.service_name}")
    header = f"CEF:0|{PRODUCT}|{PRODUCT}|{PRODUCT_VERSION}|ai.{cef_header(event.action)}|{name}"
    findings = ";".join(
        f"{f.detector}:{f.severity}:{f.preview}:{f.fingerprint}x{f.count}" for f in event.findings
    )
    fields = (
        ("externalId", event.id), ("src", event.client_ip), ("suser", event.user),
        ("dhost", event.host), ("request", event.path), ("requestMethod", event.method),
        ("act", event.action), ("cat", event.category), ("reason", event.error),
        ("cs1Label", "service"), ("cs1", event.service_id),
        ("cs2Label", "rule" if event.rule_id else None), ("cs2", event.rule_id),
        ("cs3Label", "dataClasses" if findings else None), ("cs3", event.data_classes or None),
        ("cs4Label", "findings" if findings else None), ("cs4", findings or None),
        ("cs5Label", "evidence"), ("cs5", event.evidence),
    )  # fmt: skip
    present = [(k, v) for k, v in fields if v]
    # One search over every value at once: escaping is rarely needed, and a pass per value
    # was most of the syslog sink's cost.
    if _VALUE_SPECIAL.search("".join(v for _, v in present)) is not None:
        present = [(k, cef_value(v)) for k, v in present]
    extension = " ".join(f"{k}={v}" for k, v in present)
    numbers = f"rt={epoch_ms(event.ts)} out={event.request_bytes} in={event.response_bytes}"
    return f"{header}|{_CEF_SEVERITY[severity_of(event)]}|{numbers} {extension}"
