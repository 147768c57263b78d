"""The web apps' own request shapes: text and files found, masked where the format allows,
and the conversation id recorded where the shape has one."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest
import webapp_shapes as shapes

from shadowlens.proxy.dlp import BodyReport, DlpLimits, Scanner, inspect_body, redact_body
from shadowlens.proxy.dlp.body import RedactionError, is_prompt_location
from shadowlens.proxy.dlp.documents import ZIP_FORMATS, docx_text, zip_text
from shadowlens.proxy.dlp.ocr import tesseract_path
from shadowlens.proxy.dlp.webapps import conversation_id
from shadowlens.proxy.runtime import Core
from tests.factories import excel_workbook, word_document

AWS, EMAIL = shapes.AWS, shapes.EMAIL


def _scan(scanner: Scanner, shape: shapes.Shape) -> BodyReport:
    return inspect_body(
        shape.body, content_type=shape.content_type, content_encoding=None, scanner=scanner,
        limits=DlpLimits(),
    )  # fmt: skip


def _masked(shape: shapes.Shape, report: BodyReport) -> bytes:
    new, _ = redact_body(
        shape.body, content_type=shape.content_type, content_encoding=None, report=report
    )
    assert AWS.encode() not in new and EMAIL.encode() not in new
    return new


def _conversation(shape: shapes.Shape, report: BodyReport) -> str | None:
    return conversation_id(shape.path.partition("?")[0], report)


@pytest.mark.parametrize(
    "make", [shapes.chatgpt_message, shapes.claude_message, shapes.copilot_message]
)
def test_json_messages_are_masked_and_keep_their_conversation(
    scanner: Scanner, make: object
) -> None:
    shape = make()  # type: ignore[operator]
    report = _scan(scanner, shape)
    assert {f.category for f in report.findings} >= {"secret"}
    new = _masked(shape, report)
    assert "[REDACTED:" in json.dumps(json.loads(new))
    assert _conversation(shape, report) == shape.conversation


def test_chatgpt_prompt_is_a_prompt_location(scanner: Scanner) -> None:
    report = _scan(scanner, shapes.chatgpt_message())
    assert {f.location for f in report.findings} == {"/messages/0/content/parts/0"}
    assert all(is_prompt_location(f.location) for f in report.findings)


def test_claude_inline_file_text_is_found(scanner: Scanner) -> None:
    report = _scan(scanner, shapes.claude_message())
    hits = {(f.detector, f.location) for f in report.findings}
    assert ("aws-access-key-id", "/attachments/0/extracted_content") in hits
    assert ("email-address", "/prompt") in hits


def test_gemini_form_encoded_nested_json_is_walked_and_masked(scanner: Scanner) -> None:
    shape = shapes.gemini_message()
    report = _scan(scanner, shape)
    assert {(f.detector, f.location) for f in report.findings} >= {
        ("aws-access-key-id", "form:f.req/1/0/0"),
        ("email-address", "form:f.req/1/0/0"),
    }
    assert is_prompt_location("form:f.req/1/0/0")
    assert _conversation(shape, report) == shapes.GEMINI_CONVERSATION
    form = dict(parse_qsl(_masked(shape, report).decode(), keep_blank_values=True))
    outer = json.loads(form["f.req"])
    inner = json.loads(outer[1])
    assert inner[0][0] == "is [REDACTED:aws-access-key-id] still valid? my mail is " + (
        "[REDACTED:email-address]"
    )
    assert inner[2][0] == shapes.GEMINI_CONVERSATION and form["at"].startswith("AJvLN6M0")


def test_a_prompt_like_conversation_value_is_not_recorded(scanner: Scanner) -> None:
    body = json.dumps({"conversation_id": f"my key is {AWS}", "messages": []}).encode()
    report = inspect_body(
        body, content_type="application/json", content_encoding=None, scanner=scanner,
        limits=DlpLimits(),
    )  # fmt: skip
    assert report.conversation is None


def test_chatgpt_blob_put_of_a_workbook_is_masked(scanner: Scanner) -> None:
    book = excel_workbook(["owner", EMAIL], [[f"key {AWS}"]])
    shape = shapes.chatgpt_blob_upload(
        book, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    report = _scan(scanner, shape)
    assert {"aws-access-key-id", "email-address"} <= {f.detector for f in report.findings}
    text = zip_text(_masked(shape, report), ZIP_FORMATS[1], 1 << 20)
    assert text is not None and "[REDACTED:email-address]" in text
    assert _conversation(shape, report) is None


def test_claude_multipart_upload_of_a_word_document_is_masked(scanner: Scanner) -> None:
    shape = shapes.claude_upload(word_document([f"key {AWS}", EMAIL]), "plan.docx",
                                 "application/octet-stream")  # fmt: skip
    report = _scan(scanner, shape)
    assert {f.location for f in report.findings} == {"multipart:plan.docx"}
    new = _masked(shape, report)
    start = new.index(b"PK\x03\x04")
    text = docx_text(new[start : new.rindex(b"\r\n--" + shapes.BOUNDARY.encode())], 1 << 20)
    assert text is not None and "key [REDACTED:aws-access-key-id]" in text


def test_gemini_resumable_upload_bytes_are_masked(scanner: Scanner) -> None:
    shape = shapes.gemini_upload(f"db: {EMAIL}\nkey={AWS}\n".encode(), "text/plain")
    report = _scan(scanner, shape)
    assert {"aws-access-key-id", "email-address"} <= {f.detector for f in report.findings}
    assert b"[REDACTED:aws-access-key-id]" in _masked(shape, report)


@pytest.mark.skipif(tesseract_path() is None, reason="tesseract is not installed")
def test_copilot_screenshot_attachment_is_read_and_blocked(scanner: Scanner) -> None:
    from test_dlp_ocr import _image

    shape = shapes.copilot_upload(_image("PNG", [f"key {AWS}"]), "shot.png", "image/png")
    report = _scan(scanner, shape)
    assert "aws-access-key-id" in {f.detector for f in report.findings}
    with pytest.raises(RedactionError, match="image"):
        redact_body(
            shape.body, content_type=shape.content_type, content_encoding=None, report=report
        )


def test_conversation_from_the_path_wins_and_ids_in_other_paths_are_not_taken() -> None:
    uuid = shapes.CHATGPT_CONVERSATION
    assert conversation_id(f"/backend-api/conversation/{uuid}", None) == uuid
    assert conversation_id("/c/api/conversations/Xk2pQ9rT4vW7yZ1a/history", None) == (
        "Xk2pQ9rT4vW7yZ1a"
    )
    assert conversation_id("/v1/chat/completions", None) is None
    assert conversation_id(f"/backend-api/conversations/{uuid}x", None) is None


def test_the_detection_event_carries_the_conversation(scanner: Scanner) -> None:
    from mitmproxy.test import tflow, tutils

    from shadowlens.addons.flowevents import detection_event
    from shadowlens.addons.flowstate import state_of
    from shadowlens.proxy.catalog.model import Match, Service

    shape = shapes.gemini_message()
    request = tutils.treq(host=shape.host, port=443, scheme=b"https", path=shape.path.encode())
    flow = tflow.tflow(req=request)
    state_of(flow).report = _scan(scanner, shape)
    service = Service("gemini", "Gemini", "Google", "chat_assistant", (shape.host,))
    event = detection_event(flow, Match(service, "host", shape.host))
    assert event.conversation == shapes.GEMINI_CONVERSATION


def test_the_conversation_is_stored_with_the_detection(core: Core) -> None:
    from sqlalchemy import select

    from shadowlens.proxy.inventory.models import Detection
    from tests.factories import detection_event

    core.record([detection_event(1, conversation=shapes.CLAUDE_CONVERSATION)])
    with core.sessions() as session:
        stored = session.scalars(select(Detection.conversation)).all()
    assert stored == [shapes.CLAUDE_CONVERSATION]
