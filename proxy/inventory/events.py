"""The event an addon hands to the writer: plain data, no database types."""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


def new_event_id() -> str:
    """A 32-hex id that sorts by creation time (48-bit milliseconds, then 80 random bits)."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """DLP findings of one detector and value in one upload, counted, never the value."""

    detector: str
    category: str
    severity: str
    count: int
    preview: str
    fingerprint: str
    location: str


@dataclass(slots=True)
class DetectionEvent:
    """A flow to an AI service, as recorded in the inventory."""

    ts: datetime
    client_ip: str
    user: str | None
    service_id: str
    service_name: str
    vendor: str
    category: str
    evidence: str
    method: str
    host: str
    path: str
    request_bytes: int
    response_bytes: int = 0
    status: int | None = None
    error: str | None = None
    confidence: float = 0.0
    signals: str = ""
    client: str | None = None
    model: str | None = None
    account: str | None = None
    account_kind: str = "unknown"  # corporate, personal or unknown (by the policy's accounts)
    action: str = "monitor"
    rule_id: str | None = None
    groups: str = ""  # the user's groups, comma-separated
    tenant_restricted: bool = False
    enforced: bool = True  # False under dry run: the action was decided, not applied
    justification: str | None = None  # a coaching page's "why I need this", when given
    allowed_until: datetime | None = None  # how long that justification allows the service
    findings: tuple[FindingRecord, ...] = ()
    id: str = field(default_factory=new_event_id)

    @property
    def data_classes(self) -> str:
        """The sensitive data categories in the upload, e.g. ``pii,secret``."""
        return ",".join(sorted({f.category for f in self.findings}))

    def detection_row(self) -> dict[str, Any]:
        """The columns of the ``detections`` table."""
        row = {k: getattr(self, k) for k in _DETECTION_COLUMNS}
        row["data_classes"] = self.data_classes
        return row

    def justification_row(self) -> dict[str, Any] | None:
        """The row of the ``justifications`` table, when the user gave one."""
        if self.justification is None or self.allowed_until is None:
            return None
        return {
            "id": self.id,
            "ts": self.ts,
            "user": self.user,
            "client_ip": self.client_ip,
            "service_id": self.service_id,
            "rule_id": self.rule_id or "",
            "text": self.justification,
            "allowed_until": self.allowed_until,
        }

    def finding_rows(self) -> list[dict[str, Any]]:
        """The rows of the ``findings`` table for this detection."""
        return [
            {"detection_id": self.id, "seq": n, "ts": self.ts, **asdict(f)}
            for n, f in enumerate(self.findings)
        ]


_DETECTION_COLUMNS = tuple(
    name
    for name in DetectionEvent.__dataclass_fields__
    if name
    not in ("service_name", "vendor", "category", "findings", "justification", "allowed_until")
)
