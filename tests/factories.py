"""Builders of test data shared by several test modules."""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.inventory.writer import InventoryWriter

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


def _zip(parts: list[tuple[str, str | bytes]], stored: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts:
            kind = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(name, content, compress_type=kind)
    return buffer.getvalue()


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


def excel_workbook(shared: list[str], inline: list[list[str]]) -> bytes:
    """A minimal XLSX: ``shared`` strings (sheet 1's cells), rows of inline strings (sheet 2)."""
    main = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    strings = "".join(f"<si><t>{_esc(s)}</t></si>" for s in shared)
    sheet1 = "".join(
        f'<row r="{i + 1}"><c r="A{i + 1}" t="s"><v>{i}</v></c></row>' for i in range(len(shared))
    )
    sheet2 = "".join(
        f'<row r="{r + 1}">'
        + "".join(f'<c t="inlineStr"><is><t>{_esc(v)}</t></is></c>' for v in row)
        + "</row>"
        for r, row in enumerate(inline)
    )
    return _zip(
        [
            ("[Content_Types].xml", "<Types/>"),
            ("xl/workbook.xml", f"<workbook {main}/>"),
            ("xl/sharedStrings.xml", f"<sst {main}>{strings}</sst>"),
            (
                "xl/worksheets/sheet1.xml",
                f"<worksheet {main}><sheetData>{sheet1}</sheetData></worksheet>",
            ),
            (
                "xl/worksheets/sheet2.xml",
                f"<worksheet {main}><sheetData>{sheet2}</sheetData></worksheet>",
            ),
        ]
    )


def presentation(slides: list[list[str | list[str]]]) -> bytes:
    """A minimal PPTX; each slide is a list of paragraphs, a list paragraph split into runs."""
    ns = (
        'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
        'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
    )

    def paragraph(p: str | list[str]) -> str:
        texts = [p] if isinstance(p, str) else p
        return "<a:p>" + "".join(f"<a:r><a:t>{_esc(t)}</a:t></a:r>" for t in texts) + "</a:p>"

    parts: list[tuple[str, str | bytes]] = [
        ("[Content_Types].xml", "<Types/>"),
        ("ppt/presentation.xml", "<p:presentation/>"),
    ]
    for n, slide in enumerate(slides, 1):
        body = "".join(paragraph(p) for p in slide)
        parts.append(
            (f"ppt/slides/slide{n}.xml", f"<p:sld {ns}><p:txBody>{body}</p:txBody></p:sld>")
        )
    parts.append(("ppt/media/image1.png", DOCX_PICTURE))
    return _zip(parts)


def open_document(kind: str, paragraphs: list[str | list[str]]) -> bytes:
    """A minimal ODT (kind ``text``) or ODS (``spreadsheet``, one cell a paragraph); a list
    paragraph becomes text and spans. The ``mimetype`` part comes first, stored."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
    )

    def para(p: str | list[str]) -> str:
        texts = [p] if isinstance(p, str) else p
        inner = _esc(texts[0]) + "".join(f"<text:span>{_esc(t)}</text:span>" for t in texts[1:])
        return f"<text:p>{inner}</text:p>"

    if kind == "text":
        body = "<office:text>" + "".join(para(p) for p in paragraphs) + "</office:text>"
    else:
        cells = "".join(
            f'<table:table-row><table:table-cell office:value-type="string">{para(p)}'
            "</table:table-cell></table:table-row>"
            for p in paragraphs
        )
        table = f'<table:table table:name="S">{cells}</table:table>'
        body = f"<office:spreadsheet>{table}</office:spreadsheet>"
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns}>'
        "<office:automatic-styles/>"
        f"<office:body>{body}</office:body></office:document-content>"
    )
    return _zip(
        [
            ("mimetype", f"application/vnd.oasis.opendocument.{kind}"),
            ("content.xml", content),
            ("META-INF/manifest.xml", "<manifest/>"),
        ],
        stored=("mimetype",),
    )


def pdf_document(shows: list[str], font: bytes = b"/Subtype /Type1 /BaseFont /Helvetica") -> bytes:
    """A one-page PDF whose content stream draws each string with its own Tj."""
    ops = b" ".join(b"(%s) Tj" % s.encode() for s in shows)
    stream = b"BT /F1 12 Tf 72 712 Td " + ops + b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font " + font + b" >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
