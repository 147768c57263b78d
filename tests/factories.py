"""Builders of test data shared by several test modules."""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from proxy.inventory.events import DetectionEvent
from proxy.inventory.writer import InventoryWriter

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


@contextlib.asynccontextmanager
async def kept_events() -> AsyncIterator[tuple[InventoryWriter, list[DetectionEvent]]]:
    """A running writer that keeps each event it is given in a list; drained on exit."""
    kept: list[DetectionEvent] = []

    def keep(batch: Sequence[DetectionEvent]) -> int:
        kept.extend(batch)
        return len(batch)

    writer = InventoryWriter(keep, queue_size=10, batch_size=10, flush_seconds=0.01)
    writer.start()
    try:
        yield writer, kept
    finally:
        await writer.close()


DOCX_PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16


def word_document(paragraphs: list[str | list[str]]) -> bytes:
    """A minimal Word document; a paragraph given as a list is split into that many runs."""

    def runs(paragraph: str | list[str]) -> str:
        texts = [paragraph] if isinstance(paragraph, str) else paragraph
        return "".join(
            f'<w:r><w:t xml:space="preserve">{t.replace("&", "&amp;")}</w:t></w:r>' for t in texts
        )

    body = "".join(f"<w:p>{runs(p)}</w:p>" for p in paragraphs)
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxml'
        f'formats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", xml)
        archive.writestr("word/media/logo.png", DOCX_PICTURE, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()
