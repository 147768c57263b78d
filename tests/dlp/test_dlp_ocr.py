"""Images in uploads: OCR with tesseract (when installed), with a pixel and a time cap."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont
from prometheus_client import REGISTRY

from shadowlens.addons.inspection import count_ocr_skips
from shadowlens.proxy.dlp import BodyReport, DlpLimits, Scanner, inspect_body, redact_body
from shadowlens.proxy.dlp.body import RedactionError
from shadowlens.proxy.dlp.ocr import image_kind, image_size, tesseract_path

AWS = "AKIAZ4QK7TRN2WJHX5MP"
needs_tesseract = pytest.mark.skipif(
    tesseract_path() is None, reason="tesseract is not installed (apt-get install tesseract-ocr)"
)


def _image(fmt: str, lines: list[str], size: tuple[int, int] = (1100, 200)) -> bytes:
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=36)
    for i, line in enumerate(lines):
        draw.text((20, 20 + 70 * i), line, fill="black", font=font)
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def _skipped(reason: str) -> float:
    value = REGISTRY.get_sample_value("shadowlens_dlp_ocr_skipped_total", {"reason": reason})
    return value or 0.0


def _inspect(scanner: Scanner, body: bytes, ctype: str, **limits: Any) -> BodyReport:
    return inspect_body(
        body,
        content_type=ctype,
        content_encoding=None,
        scanner=scanner,
        limits=DlpLimits(**limits),
    )


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_image_size_is_read_from_the_header(fmt: str) -> None:
    data = _image(fmt, [], size=(321, 123))
    assert image_kind(data) == fmt.lower()
    assert image_size(data) == (321, 123)


def test_a_truncated_header_has_no_size() -> None:
    assert image_size(b"\x89PNG\r\n\x1a\n\x00\x00") is None
    assert image_size(b"\xff\xd8\xff\xe0\x00") is None


@needs_tesseract
def test_screenshot_upload_is_read_and_cannot_be_masked(scanner: Scanner) -> None:
    png = _image("PNG", ["STRICTLY CONFIDENTIAL", f"key {AWS}"])
    report = _inspect(scanner, png, "image/png")
    assert {"aws-access-key-id", "confidential-marker"} <= {f.detector for f in report.findings}
    assert "image:" in report.flags
    with pytest.raises(RedactionError, match="image") as caught:
        redact_body(png, content_type="image/png", content_encoding=None, report=report)
    assert AWS not in str(caught.value)


@needs_tesseract
def test_pasted_image_in_chat_json_is_read(scanner: Scanner) -> None:
    jpeg = _image("JPEG", [f"key {AWS}"])
    url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    body = json.dumps(
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
            ]
        }
    ).encode()
    report = _inspect(scanner, body, "application/json")
    hits = {(f.detector, f.location) for f in report.findings}
    assert ("aws-access-key-id", "base64:/messages/0/content/0/image_url/url") in hits


@needs_tesseract
def test_images_over_the_pixel_cap_are_skipped_and_counted(scanner: Scanner) -> None:
    before = _skipped("too_many_pixels")
    png = _image("PNG", [f"key {AWS}"])
    report = _inspect(scanner, png, "image/png", ocr_max_pixels=1000)
    assert report.findings == [] and "ocr-skipped:too_many_pixels:" in report.flags
    count_ocr_skips(report.flags)  # in the proxy, wherever the scan ran
    assert _skipped("too_many_pixels") == before + 1


@needs_tesseract
def test_ocr_past_its_time_cap_is_skipped_and_counted(scanner: Scanner) -> None:
    before = _skipped("timeout")
    report = _inspect(scanner, _image("PNG", [f"key {AWS}"]), "image/png", ocr_timeout=0.001)
    assert report.findings == [] and "ocr-skipped:timeout:" in report.flags
    count_ocr_skips(report.flags)
    assert _skipped("timeout") == before + 1


def test_ocr_switched_off_leaves_images_as_binary(scanner: Scanner) -> None:
    report = _inspect(scanner, _image("PNG", [f"key {AWS}"]), "image/png", ocr=False)
    assert report.findings == [] and "binary:" in report.flags
