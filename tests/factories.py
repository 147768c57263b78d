"""Builders of test data shared by several test modules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from proxy.inventory.events import DetectionEvent

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def detection_event(n: int = 0, **overrides: Any) -> DetectionEvent:
    """The n-th event of a simple series, one second apart, to ChatGPT by default."""
    fields: dict[str, Any] = {
        "ts": T0 + timedelta(seconds=n),
        "client_ip": "10.0.0.7",
        "user": "alice",
        "service_id": "chatgpt",
        "service_name": "ChatGPT",
        "vendor": "OpenAI",
        "category": "chat_assistant",
        "evidence": "host",
        "method": "POST",
        "host": "chatgpt.com",
        "path": "/backend-api/conversation",
        "request_bytes": 100,
        "status": 200,
    }
    fields.update(overrides)
    return DetectionEvent(**fields)
