"""Body decoding, inspection and exact redaction."""

from __future__ import annotations

import base64
import gzip
import io
import json
import zlib
from xml.etree import ElementTree

import brotli
import pytest
import zstandard

from shadowlens.proxy.dlp import (
    BodyReport,
    DlpLimits,
    Finding,
    Scanner,
    inspect_body,
    quick_to_scan,
    redact_body,
)
from shadowlens.proxy.dlp.body import RedactionError, findings_in_prompt, inspect_text
from shadowlens.proxy.dlp.documents import DOCX_TYPE, docx_text
from shadowlens.proxy.dlp.multipart import parse_multipart
from tests.factories import DOCX_PICTURE, pdf_document, word_document

AWS = "AKIAZ4QK7TRN2WJHX5MP"
CARD = "4111 1111 1111 1111"
LIMITS = DlpLimits()


def _inspect(
    scanner: Scanner,
    body: bytes,
    ctype: str | None,
    enc: str | None = None,
    limits: DlpLimits = LIMITS,
) -> BodyReport:
    return inspect_body(
        body, content_type=ctype, content_encoding=enc, scanner=scanner, limits=limits
    )


def _roundtrip(
    scanner: Scanner, body: bytes, ctype: str | None, enc: str | None = None
) -> tuple[BodyReport, bytes, dict[str, str]]:
    report = _inspect(scanner, body, ctype, enc)
    new, headers = redact_body(body, content_type=ctype, content_encoding=enc, report=report)
    return report, new, headers


def _openai_body() -> bytes:
    return json.dumps(
        {
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": f"My AWS key is {AWS} and card {CARD}, fix it"},
            ],
            "temperature": 0.2,
        },
        indent=2,
    ).encode()


def test_openai_chat_json(scanner: Scanner) -> None:
    body = _openai_body()
    report, new, headers = _roundtrip(scanner, body, "application/json")
    assert {(f.detector, f.location) for f in report.findings} == {
        ("aws-access-key-id", "/messages/1/content"),
        ("credit-card-number", "/messages/1/content"),
    }
    assert len(findings_in_prompt(report.findings)) == 2
    doc = json.loads(new)
    assert doc["messages"][1]["content"] == (
        "My AWS key is [REDACTED:aws-access-key-id] and card [REDACTED:credit-card-number], fix it"
    )
    assert doc["temperature"] == 0.2 and doc["messages"][0]["content"] == "You are helpful."
    assert AWS.encode() not in new and b"4111" not in new
    assert headers == {"Content-Length": str(len(new))}
    # bytes outside the redacted literal are untouched
    head = body[: body.index(b"My AWS")]
    assert new.startswith(head)
    assert new.endswith(body[body.index(b', fix it"') + len(b', fix it"') :])


def test_anthropic_and_gemini_shapes(scanner: Scanner) -> None:
    anthropic = {
        "model": "claude",
        "system": "x",
        "messages": [{"role": "user", "content": [{"type": "text", "text": f"key {AWS}"}]}],
    }
    gemini = {"contents": [{"role": "user", "parts": [{"text": f"key {AWS}"}]}]}
    a = _inspect(scanner, json.dumps(anthropic).encode(), "application/json")
    g = _inspect(scanner, json.dumps(gemini).encode(), "application/json; charset=utf-8")
    assert [f.location for f in a.findings] == ["/messages/0/content/0/text"]
    assert [f.location for f in g.findings] == ["/contents/0/parts/0/text"]
    assert findings_in_prompt(a.findings) and findings_in_prompt(g.findings)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "gzip, br"])
def test_content_encodings_are_kept(scanner: Scanner, encoding: str) -> None:
    plain = _openai_body()
    body = plain
    for enc in [e.strip() for e in encoding.split(",")]:
        body = {
            "gzip": gzip.compress,
            "deflate": zlib.compress,
            "br": brotli.compress,
            "zstd": zstandard.ZstdCompressor().compress,
        }[enc](body)
    report, new, headers = _roundtrip(scanner, body, "application/json", encoding)
    assert len(report.findings) == 2 and report.complete
    decoded = new
    for enc in reversed([e.strip() for e in encoding.split(",")]):
        decoded = {
            "gzip": gzip.decompress,
            "deflate": zlib.decompress,
            "br": brotli.decompress,
            "zstd": lambda b: zstandard.ZstdDecompressor().decompressobj().decompress(b),
        }[enc](decoded)
    assert AWS.encode() not in decoded and b"[REDACTED:aws-access-key-id]" in decoded
    assert headers["Content-Length"] == str(len(new))


def test_raw_deflate(scanner: Scanner) -> None:
    obj = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = obj.compress(f"key {AWS}".encode()) + obj.flush()
    report, new, _ = _roundtrip(scanner, body, "text/plain", "deflate")
    assert [f.detector for f in report.findings] == ["aws-access-key-id"]
    assert zlib.decompress(new, -15) == b"key [REDACTED:aws-access-key-id]"


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_decompression_bomb_is_cut_off(scanner: Scanner, encoding: str) -> None:
    payload = b"A" * (8 * 1024 * 1024)
    body = {
        "gzip": gzip.compress,
        "br": brotli.compress,
        "zstd": zstandard.ZstdCompressor().compress,
    }[encoding](payload)
    limits = DlpLimits(max_decoded_bytes=1024 * 1024)
    report = _inspect(scanner, body, "text/plain", encoding, limits)
    assert not report.complete
    assert [f.detector for f in report.findings] == ["dlp-decompression-bomb"]
    assert report.findings[0].category == "limit"
    assert report.decoded_bytes <= 1024 * 1024 and report.truncated
    with pytest.raises(RedactionError):
        redact_body(
            body,
            content_type="text/plain",
            content_encoding=encoding,
            report=BodyReport(
                findings=[*report.findings, _fake_finding()], complete=False, truncated=True
            ),
        )


def _fake_finding() -> Finding:
    return Finding("x", "secret", "high", 0, 1, "*", "00")


def test_corrupt_encoding_and_unknown_encoding(scanner: Scanner) -> None:
    bad = _inspect(scanner, b"\x1f\x8b\x08garbage", "text/plain", "gzip")
    assert [f.detector for f in bad.findings] == ["dlp-bad-encoding"]
    unknown = _inspect(scanner, b"abc", "text/plain", "compress")
    assert [f.detector for f in unknown.findings] == ["dlp-unknown-encoding"]


def test_body_too_large(scanner: Scanner) -> None:
    body = f"{AWS} ".encode() + b"x" * 5000
    report = _inspect(scanner, body, "text/plain", None, DlpLimits(max_body_bytes=1000))
    assert {f.detector for f in report.findings} == {"dlp-body-too-large", "aws-access-key-id"}
    assert not report.complete


def test_form_urlencoded(scanner: Scanner) -> None:
    body = f"q=hello+world&note=my+key+{AWS}&x=%E2%9C%93".encode()
    report, new, _ = _roundtrip(scanner, body, "application/x-www-form-urlencoded")
    assert [(f.detector, f.location) for f in report.findings] == [
        ("aws-access-key-id", "form:note")
    ]
    assert new == b"q=hello+world&note=my+key+%5BREDACTED%3Aaws-access-key-id%5D&x=%E2%9C%93"


def _multipart(parts: list[tuple[str, bytes]], boundary: str = "XyZ-b0undary") -> bytes:
    out = b""
    for headers, content in parts:
        out += f"--{boundary}\r\n{headers}\r\n\r\n".encode() + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_multipart_keeps_bytes_and_other_parts(scanner: Scanner) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    text_file = f"line one\r\n\r\nsecret: {AWS}\n\ntrailing\r\n".encode()
    body = _multipart(
        [
            ('Content-Disposition: form-data; name="purpose"', b"assistants"),
            (
                'Content-Disposition: form-data; name="file"; filename="notes.txt"\r\n'
                "Content-Type: text/plain",
                text_file,
            ),
            (
                'Content-Disposition: form-data; name="img"; filename="a.png"\r\n'
                "Content-Type: image/png",
                png,
            ),
            (
                'Content-Disposition: form-data; name="data"; filename="d.json"\r\n'
                "Content-Type: application/json",
                json.dumps({"card": CARD}).encode(),
            ),
        ]
    )
    ctype = "multipart/form-data; boundary=XyZ-b0undary"
    parts, ok = parse_multipart(body, b"XyZ-b0undary")
    assert ok and [body[p.body_start : p.body_end] for p in parts][1] == text_file
    report, new, headers = _roundtrip(scanner, body, ctype)
    assert {(f.detector, f.location) for f in report.findings} == {
        ("aws-access-key-id", "multipart:notes.txt"),
        ("credit-card-number", "multipart:d.json/card"),
    }
    assert "binary:multipart:a.png" in report.flags
    assert (
        png in new
        and b"line one\r\n\r\nsecret: [REDACTED:aws-access-key-id]\n\ntrailing\r\n" in new
    )
    assert json.loads(parse_part(new, 3)) == {"card": "[REDACTED:credit-card-number]"}
    assert new.count(b"--XyZ-b0undary") == body.count(b"--XyZ-b0undary")
    assert headers["Content-Length"] == str(len(new))


def test_a_bare_lf_part_is_not_split_at_a_crlf_blank_line_in_its_body(scanner: Scanner) -> None:
    # A body holding CRLF CRLF must not move the end of a bare-LF part's headers there: the
    # text before it would be read as headers and never scanned.
    content = f"key {AWS}\r\n\r\nmore".encode()
    body = b'--XyZ-b0undary\nContent-Disposition: form-data; name="q"\n\n' + content
    body += b"\n--XyZ-b0undary--\n"
    [part], ok = parse_multipart(body, b"XyZ-b0undary")
    assert ok and body[part.body_start : part.body_end] == content
    report, _, _ = _roundtrip(scanner, body, "multipart/form-data; boundary=XyZ-b0undary")
    assert [f.detector for f in report.findings] == ["aws-access-key-id"]


def parse_part(body: bytes, index: int) -> bytes:
    parts, _ = parse_multipart(body, b"XyZ-b0undary")
    return body[parts[index].body_start : parts[index].body_end]


def test_base64_file_nested(scanner: Scanner) -> None:
    inner = json.dumps({"deep": base64.b64encode(f"csv,{AWS}\n".encode() * 3).decode()})
    doc = {
        "file": {"data": base64.b64encode(inner.encode()).decode(), "name": "x.json"},
        "image": "data:image/png;base64," + base64.b64encode(b"\x89PNG" + b"\0" * 80).decode(),
    }
    body = json.dumps(doc).encode()
    report, new, _ = _roundtrip(scanner, body, "application/json")
    locs = {f.location for f in report.findings}
    assert locs == {"base64:base64:/file/data/deep"}
    assert "binary:base64:/image" in report.flags
    out = json.loads(new)
    decoded = json.loads(base64.b64decode(out["file"]["data"]))
    assert base64.b64decode(decoded["deep"]).count(b"[REDACTED:aws-access-key-id]") == 3
    assert out["image"] == doc["image"]


def test_base64_depth_limit(scanner: Scanner) -> None:
    data = f"secret {AWS} and more text to make it long enough".encode()
    for _ in range(4):
        data = json.dumps({"b": base64.b64encode(data).decode()}).encode()
    report = _inspect(scanner, data, "application/json", None, DlpLimits(max_depth=2))
    assert "dlp-depth-limit" in {f.detector for f in report.findings}


def test_binary_and_invalid_utf8(scanner: Scanner) -> None:
    binary = _inspect(scanner, b"\x00\x01\x02" * 100, "application/octet-stream")
    assert binary.findings == [] and binary.flags == ["binary:"]
    raw = b"caf\xe9 \xff key " + AWS.encode() + b" \xc3"
    report, new, _ = _roundtrip(scanner, raw, "text/plain")
    assert [f.detector for f in report.findings] == ["aws-access-key-id"]
    assert new == b"caf\xe9 \xff key [REDACTED:aws-access-key-id] \xc3"


def test_malformed_json_falls_back_to_text(scanner: Scanner) -> None:
    body = b'{"messages": [{"content": "key ' + AWS.encode() + b'"'
    report, new, _ = _roundtrip(scanner, body, "application/json")
    assert "malformed-json:/" in report.flags
    assert [f.detector for f in report.findings] == ["aws-access-key-id"]
    assert AWS.encode() not in new


def test_segment_and_count_limits(scanner: Scanner) -> None:
    body = json.dumps([f"v{i}" for i in range(50)]).encode()
    report = _inspect(scanner, body, "application/json", None, DlpLimits(max_segments=10))
    assert [f.detector for f in report.findings] == ["dlp-too-many-segments"]
    long = ("x " * 1000 + AWS).encode()
    r2 = _inspect(scanner, long, "text/plain", None, DlpLimits(max_segment_chars=100))
    assert [f.detector for f in r2.findings] == ["dlp-segment-too-large"]


def test_websocket_text(scanner: Scanner) -> None:
    report = inspect_text(f'{{"prompt": "{AWS}"}}', scanner=scanner, limits=LIMITS, location="ws")
    assert [(f.detector, f.location) for f in report.findings] == [("aws-access-key-id", "ws")]


def test_unchanged_body_returned_as_is(scanner: Scanner) -> None:
    body = gzip.compress(b'{"a": "nothing here"}')
    report, new, headers = _roundtrip(scanner, body, "application/json", "gzip")
    assert report.findings == [] and new is body and headers == {}


def test_inspect_never_raises(scanner: Scanner) -> None:
    for body, ctype, enc in [
        (b"", None, None),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x", None),
        (b"[[[[[[[[[[" * 200, "application/json", None),
        (b"\x1f\x8b", None, "gzip"),
        (b"a=%zz&=&&b", "application/x-www-form-urlencoded", None),
        ("ü".encode("latin-1"), "text/plain; charset=latin-1", None),
        (b"x", "text/plain; charset=nonsense", "identity"),
    ]:
        report = _inspect(scanner, body, ctype, enc)
        assert isinstance(report, BodyReport)


def _docx_part(body: bytes) -> bytes:
    """The Word document inside a one-file multipart body."""
    start = body.index(b"PK\x03\x04")
    return body[start : body.rindex(b"\r\n--XyZ-b0undary--")]


def test_docx_upload_is_scanned_and_masked_in_its_text_runs(scanner: Scanner) -> None:
    import zipfile

    doc = word_document(
        ["Quarterly plan", f"R&D key {AWS}", ["key split ", AWS[:8], AWS[8:], " here"],
         "STRICTLY CONFIDENTIAL"]
    )  # fmt: skip
    body = _multipart(
        [
            (
                'Content-Disposition: form-data; name="file"; filename="plan.docx"\r\n'
                "Content-Type: application/octet-stream",
                doc,
            ),
        ]
    )
    ctype = "multipart/form-data; boundary=XyZ-b0undary"
    report, new, _ = _roundtrip(scanner, body, ctype)
    assert {(f.detector, f.location) for f in report.findings} == {
        ("aws-access-key-id", "multipart:plan.docx"),
        ("confidential-marker", "multipart:plan.docx"),
    }
    masked = _docx_part(new)
    text = docx_text(masked, 1 << 20)
    assert text is not None and AWS not in text and AWS[8:] not in text
    assert "R&D key [REDACTED:aws-access-key-id]" in text
    assert "key split [REDACTED:aws-access-key-id] here" in text  # label once, in the first run
    with zipfile.ZipFile(io.BytesIO(masked)) as z:
        ElementTree.fromstring(z.read("word/document.xml"))  # noqa: S314 (our own output)
        assert z.read("word/media/logo.png") == DOCX_PICTURE
        assert z.namelist() == ["[Content_Types].xml", "word/document.xml", "word/media/logo.png"]
    rescanned = _inspect(scanner, new, ctype)
    assert "aws-access-key-id" not in {f.detector for f in rescanned.findings}


def test_a_docx_too_large_to_rewrite_is_not_redacted(scanner: Scanner) -> None:
    doc = word_document([f"key {AWS}"])
    report = _inspect(scanner, doc, DOCX_TYPE)
    with pytest.raises(RedactionError, match="too large to rewrite"):
        redact_body(
            doc, content_type=DOCX_TYPE, content_encoding=None, report=report,
            limits=DlpLimits(max_decoded_bytes=2048),  # the text fits, the picture does not
        )  # fmt: skip


@pytest.mark.parametrize(
    ("disposition", "location"),
    [
        # RFC 5987: the extended name wins, percent-decoded in its charset
        ("filename=\"fallback.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.docx", "résumé.docx"),
        ('filename="upload.bin"', "upload.bin"),  # a Word document by its content alone
    ],
)
def test_a_document_is_found_by_extended_name_or_by_content(
    scanner: Scanner, disposition: str, location: str
) -> None:
    doc = word_document([f"key {AWS}"])
    body = _multipart(
        [(f"Content-Disposition: form-data; name=f; {disposition}\r\n"
          "Content-Type: application/octet-stream", doc)]
    )  # fmt: skip
    report = _inspect(scanner, body, "multipart/form-data; boundary=XyZ-b0undary")
    assert {(f.detector, f.location) for f in report.findings} == {
        ("aws-access-key-id", f"multipart:{location}")
    }


def test_unscanned_pdf_does_not_stop_redaction_elsewhere(scanner: Scanner) -> None:
    body = _multipart(
        [
            ('Content-Disposition: form-data; name="f"; filename="a.pdf"', b"%PDF-1.7 ..."),
            ('Content-Disposition: form-data; name="q"', f"key {AWS}".encode()),
        ]
    )
    ctype = "multipart/form-data; boundary=XyZ-b0undary"
    report, new, _ = _roundtrip(scanner, body, ctype)
    assert not report.complete and not report.truncated
    assert "dlp-unscanned-document" in {f.detector for f in report.findings}
    assert b"key [REDACTED:aws-access-key-id]" in new and b"%PDF-1.7 ..." in new


def test_redaction_reuses_the_inspection_limits(scanner: Scanner) -> None:
    inner = json.dumps({"x": f"secret {AWS} plus enough text to pass the base64 minimum"})
    body = json.dumps({"b": base64.b64encode(inner.encode()).decode()}).encode()
    limits = DlpLimits(max_depth=1, max_segments=50)
    report = _inspect(scanner, body, "application/json", None, limits)
    assert report.limits is limits
    assert [f.location for f in report.findings] == ["base64:/b/x"]
    new, _ = redact_body(
        body, content_type="application/json", content_encoding=None, report=report
    )
    decoded = json.loads(base64.b64decode(json.loads(new)["b"]))
    assert decoded == {
        "x": "secret [REDACTED:aws-access-key-id] plus enough text to pass the base64 minimum"
    }


def test_pdf_upload_text_is_scanned_and_masked(scanner: Scanner) -> None:
    body = _multipart(
        [
            (
                'Content-Disposition: form-data; name="f"; filename="notes.pdf"',
                pdf_document([f"key {AWS}"]),
            )
        ]
    )
    ctype = "multipart/form-data; boundary=XyZ-b0undary"
    report = _inspect(scanner, body, ctype, None)
    assert ("aws-access-key-id", "multipart:notes.pdf") in {
        (f.detector, f.location) for f in report.findings
    }
    assert "pdf:multipart:notes.pdf" in report.flags
    new, _ = redact_body(body, content_type=ctype, content_encoding=None, report=report)
    assert AWS.encode() not in new
    assert "aws-access-key-id" not in {f.detector for f in _inspect(scanner, new, ctype).findings}


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "quick"),
    [
        (
            b'{"image": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="}',
            "application/json",
            None,
            False,
        ),  # OCR takes seconds: not on the event loop
        (b'{"prompt": "hi"}', "application/json", None, True),
        (b"a=1&b=2", "application/x-www-form-urlencoded", "identity", True),
        (b"%PDF-1.7 ...", "text/plain", None, False),  # a PDF whatever its label
        (b'{"prompt": "hi"}', "application/json", "gzip", False),
        (b"x" * 70_000, "text/plain", None, False),
        (b"--b\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b", None, False),
    ],
)
def test_quick_to_scan_means_small_plain_and_bounded(
    body: bytes, content_type: str, encoding: str | None, quick: bool
) -> None:
    assert quick_to_scan(body, content_type=content_type, content_encoding=encoding) is quick
