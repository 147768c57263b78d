"""XLSX, PPTX, ODT/ODS and PDF uploads: scanned, masked in place, or blocked with a reason."""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree

import pytest

from shadowlens.proxy.dlp import DlpLimits, Scanner, inspect_body, redact_body
from shadowlens.proxy.dlp.body import RedactionError
from shadowlens.proxy.dlp.documents import ZIP_FORMATS, pdf_text, zip_text
from tests.factories import (
    DOCX_PICTURE,
    excel_workbook,
    open_document,
    pdf_document,
    presentation,
)

AWS = "AKIAZ4QK7TRN2WJHX5MP"
EMAIL = "jane.roe@corp-mail.test"
FORMATS = {fmt.kind: fmt for fmt in ZIP_FORMATS}


def _roundtrip(scanner: Scanner, body: bytes, ctype: str) -> tuple[set[str], bytes]:
    limits = DlpLimits()
    report = inspect_body(
        body, content_type=ctype, content_encoding=None, scanner=scanner, limits=limits
    )
    new, _ = redact_body(body, content_type=ctype, content_encoding=None, report=report)
    return {f.detector for f in report.findings}, new


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _parses(xml: bytes) -> None:
    ElementTree.fromstring(xml)  # noqa: S314 (our own output)


def test_xlsx_shared_and_inline_strings_are_masked(scanner: Scanner) -> None:
    book = excel_workbook([f"aws {AWS}", "Q3 revenue"], [["owner", EMAIL], ["ok", "fine"]])
    found, new = _roundtrip(scanner, book, "application/octet-stream")
    assert {"aws-access-key-id", "email-address"} <= found
    text = zip_text(new, FORMATS["xlsx"], 1 << 20)
    assert text is not None and AWS not in text and EMAIL not in text
    assert "aws [REDACTED:aws-access-key-id]" in text and "Q3 revenue" in text
    members = _members(new)
    assert list(members) == list(_members(book))
    for name in ("xl/sharedStrings.xml", "xl/worksheets/sheet2.xml"):
        _parses(members[name])
    assert members["xl/worksheets/sheet1.xml"] == _members(book)["xl/worksheets/sheet1.xml"]


def test_pptx_value_split_over_runs_is_masked_once(scanner: Scanner) -> None:
    deck = presentation(
        [["Roadmap"], [["key ", AWS[:6], AWS[6:], " end"], "STRICTLY CONFIDENTIAL"]]
    )
    ctype = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    found, new = _roundtrip(scanner, deck, ctype)
    assert {"aws-access-key-id", "confidential-marker"} <= found
    text = zip_text(new, FORMATS["pptx"], 1 << 20)
    assert text is not None and AWS[6:] not in text
    assert "key [REDACTED:aws-access-key-id] end" in text
    members = _members(new)
    assert members["ppt/media/image1.png"] == DOCX_PICTURE
    _parses(members["ppt/slides/slide2.xml"])


@pytest.mark.parametrize("kind", ["text", "spreadsheet"])
def test_open_document_is_masked_and_keeps_its_mimetype_first(scanner: Scanner, kind: str) -> None:
    doc = open_document(kind, ["Minutes", ["mail ", EMAIL[:4], EMAIL[4:]], f"key {AWS}"])
    found, new = _roundtrip(scanner, doc, "application/octet-stream")  # found by its content
    assert {"aws-access-key-id", "email-address"} <= found
    text = zip_text(new, FORMATS["odf"], 1 << 20)
    assert text is not None and AWS not in text and EMAIL[4:] not in text
    assert "key [REDACTED:aws-access-key-id]" in text
    with zipfile.ZipFile(io.BytesIO(new)) as archive:
        first = archive.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        _parses(archive.read("content.xml"))


def test_an_office_part_that_inflates_past_the_cap_is_a_limit(scanner: Scanner) -> None:
    book = excel_workbook(["x" * 200_000], [])
    report = inspect_body(
        book,
        content_type=None,
        content_encoding=None,
        scanner=scanner,
        limits=DlpLimits(max_decoded_bytes=50_000),
    )
    assert "dlp-decompression-bomb" in {f.detector for f in report.findings}


def test_pdf_text_is_masked_in_its_content_stream(scanner: Scanner) -> None:
    pdf = pdf_document([f"key {AWS} for prod"])
    found, new = _roundtrip(scanner, pdf, "application/pdf")
    assert "aws-access-key-id" in found
    text = pdf_text(new, 1 << 20)
    assert text is not None and AWS not in text and AWS.encode() not in new
    assert f"key {'*' * len(AWS)} for prod" in text


def test_pdf_value_split_over_operators_is_blocked_with_a_reason(scanner: Scanner) -> None:
    pdf = pdf_document(["key ", AWS[:10], AWS[10:]])
    assert AWS in (pdf_text(pdf, 1 << 20) or "")
    report = inspect_body(
        pdf, content_type="application/pdf", content_encoding=None, scanner=scanner,
        limits=DlpLimits(),
    )  # fmt: skip
    with pytest.raises(RedactionError, match="not in one text string") as caught:
        redact_body(pdf, content_type="application/pdf", content_encoding=None, report=report)
    assert AWS not in str(caught.value) and AWS[:10] not in str(caught.value)


def test_pdf_with_a_font_of_unknown_encoding_is_blocked(scanner: Scanner) -> None:
    pdf = pdf_document(
        [f"key {AWS}"], font=b"/Subtype /Type1 /BaseFont /Helvetica /Encoding /Custom"
    )
    report = inspect_body(
        pdf, content_type="application/pdf", content_encoding=None, scanner=scanner,
        limits=DlpLimits(),
    )  # fmt: skip
    assert "aws-access-key-id" in {f.detector for f in report.findings}
    with pytest.raises(RedactionError):
        redact_body(pdf, content_type="application/pdf", content_encoding=None, report=report)
