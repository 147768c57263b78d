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
    status: int | None = None
    error: str | None = None
    confidence: float = 0.0
    signals: str = ""
    client: str | None = None
    model: str | None = None
    account: str | None = None
    id: str = field(default_factory=new_event_id)

    def detection_row(self) -> dict[str, Any]:
        """The columns of the ``detections`` table."""
        row = asdict(self)
        for catalog_only in ("service_name", "vendor", "category"):
            del row[catalog_only]
        return row
