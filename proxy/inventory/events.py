"""The event an addon hands to the writer: plain data, no database types."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any


class _MillisNeverBack:
    """Wall-clock milliseconds that never go back in this process, whatever the clock does."""

    def __init__(self) -> None:
        self.last = 0

    def __call__(self) -> int:
        # A clock set back (NTP step, VM restore) would otherwise sort new ids before old ones.
        self.last = max(self.last, time.time_ns() // 1_000_000)
        return self.last


_millis = _MillisNeverBack()


def new_event_id() -> str:
    """A 32-hex id that sorts by creation time (48-bit milliseconds, then 80 random bits)."""
    return f"{_millis():012x}{secrets.token_hex(10)}"


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """DLP findings of one detector and value in one upload, counted, never the value.

    The event's wire format of findings: what the journal, the spool and the SIEM sinks
    write, and what the inventory stores as ``FindingRow``s."""

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
    conversation: str | None = None  # the web app's conversation id, where its request has one
    findings: tuple[FindingRecord, ...] = ()
    requests: int = 1  # flows this event stands for: a log scan's row aggregates many
    last_ts: datetime | None = None  # the latest of them, when more than one
    id: str = field(default_factory=new_event_id)

    @property
    def seen_until(self) -> datetime:
        """The time of the latest flow this event stands for."""
        return self.last_ts or self.ts

    @property
    def data_classes(self) -> str:
        """The sensitive data categories in the upload, e.g. ``pii,secret``."""
        return ",".join(sorted({f.category for f in self.findings}))

    def detection_values(self) -> tuple[Any, ...]:
        """The ``detections`` row, in :data:`DETECTION_COLUMNS` order."""
        return (*_detection_fields(self), self.data_classes)

    def justification_values(self) -> tuple[Any, ...] | None:
        """The ``justifications`` row, in :data:`JUSTIFICATION_COLUMNS` order, if one was given."""
        if self.justification is None or self.allowed_until is None:
            return None
        return (
            self.id, self.ts, self.user, self.client_ip, self.service_id, self.rule_id or "",
            self.justification, self.allowed_until,
        )  # fmt: skip

    def finding_values(self) -> list[tuple[Any, ...]]:
        """The ``findings`` rows, in :data:`FINDING_COLUMNS` order."""
        return [
            (self.id, n, self.ts, f.detector, f.category, f.severity, f.count, f.preview,
             f.fingerprint, f.location)
            for n, f in enumerate(self.findings)
        ]  # fmt: skip


_NOT_STORED = ("service_name", "vendor", "category", "findings", "justification", "allowed_until")
_STORED_FIELDS = tuple(n for n in DetectionEvent.__dataclass_fields__ if n not in _NOT_STORED)
_detection_fields = attrgetter(*_STORED_FIELDS)

DETECTION_COLUMNS = (*_STORED_FIELDS, "data_classes")
FINDING_COLUMNS = ("detection_id", "seq", "ts", *FindingRecord.__dataclass_fields__)
JUSTIFICATION_COLUMNS = (
    "id", "ts", "user", "client_ip", "service_id", "rule_id", "text", "allowed_until",
)  # fmt: skip
