"""Property tests of every body parser: any input gives a result or the parser's own error.

``inspect_body`` catches every exception so that the proxy keeps serving; these tests also
check that no input reaches that last-resort catch (``internal-error``), so a parser bug
cannot hide behind it.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import zlib

import brotli
import zstandard
from hypothesis import assume, given
from hypothesis import strategies as st

from shadowlens.proxy.catalog.protocols import is_candidate, recognize_request, recognize_stream
from shadowlens.proxy.dlp import DlpLimits, Scanner, inspect_body, redact_body
from shadowlens.proxy.dlp.body import RedactionError
from shadowlens.proxy.dlp.documents import docx_text, pdf_text
from shadowlens.proxy.dlp.jsonpos import (
    MAX_NESTING,
    JsonPositionError,
    replace_strings,
    string_values,
)
from shadowlens.proxy.dlp.multipart import parse_multipart
from tests.factories import word_document
from tests.hostile.fuzzing import fuzz, json_strings

LIMITS = DlpLimits(max_body_bytes=64 * 1024, max_decoded_bytes=256 * 1024)
ENCODINGS = ["gzip", "x-gzip", "deflate", "br", "zstd", "identity", "gzip, br", "compress", ""]
MEDIA = [
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=XyZ",
    "multipart/mixed",
    "application/pdf",
    "application/octet-stream",
    "text/plain; charset=latin-1",
    "text/plain; charset=no-such-charset",
    "",
]
COMPRESS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


def _inspect(scanner: Scanner, body: bytes, media: str, encoding: str | None) -> None:
    """Inspect ``body``; the report must come from the parsers, not the last-resort catch."""
    report = inspect_body(
        body, content_type=media, content_encoding=encoding, scanner=scanner, limits=LIMITS
    )
    assert "internal-error" not in report.flags
    # RedactionError is the documented refusal: the caller blocks instead
    with contextlib.suppress(RedactionError):
        redact_body(
            body, content_type=media, content_encoding=encoding, report=report, limits=LIMITS
        )


@fuzz
@given(body=st.binary(max_size=2048), media=st.sampled_from(MEDIA), enc=st.sampled_from(ENCODINGS))
def test_any_bytes_under_any_type_and_encoding(
    scanner: Scanner, body: bytes, media: str, enc: str
) -> None:
    _inspect(scanner, body, media, enc)


@fuzz
@given(
    body=st.binary(max_size=2048),
    media=st.sampled_from(MEDIA),
    enc=st.sampled_from(sorted(COMPRESS)),
    cut=st.integers(0, 64),
    flip=st.integers(0, 4096),
)
def test_compressed_bodies_cut_or_corrupted(
    scanner: Scanner, body: bytes, media: str, enc: str, cut: int, flip: int
) -> None:
    packed = bytearray(COMPRESS[enc](body))
    if packed and flip < len(packed) * 8:
        packed[flip // 8] ^= 1 << (flip % 8)
    _inspect(scanner, bytes(packed[: len(packed) - cut]), media, enc)


@fuzz
@given(value=JSON_VALUES, blob=st.binary(min_size=48, max_size=512), urlsafe=st.booleans())
def test_json_with_base64_content(
    scanner: Scanner, value: object, blob: bytes, urlsafe: bool
) -> None:
    encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(blob).decode()
    doc = {"messages": [{"role": "user", "content": encoded}], "extra": value}
    _inspect(scanner, json.dumps(doc).encode(), "application/json", None)
    _inspect(scanner, f"file=data:text/plain;base64,{encoded}".encode(), MEDIA[2], None)


@fuzz
@given(data=st.binary(max_size=4096), boundary=st.binary(min_size=1, max_size=70))
def test_multipart_parser_spans_stay_inside_the_body(data: bytes, boundary: bytes) -> None:
    parts, _ = parse_multipart(data, boundary)
    for part in parts:
        assert 0 <= part.body_start <= part.body_end <= len(data)
        part.disposition  # noqa: B018 -- parsing the header must not raise


@fuzz
@given(
    bodies=st.lists(
        st.binary(max_size=200).filter(lambda b: b"--B0undary" not in b), min_size=1, max_size=8
    ),
    crlf=st.booleans(),
)
def test_multipart_parser_recovers_every_part(bodies: list[bytes], crlf: bool) -> None:
    nl = b"\r\n" if crlf else b"\n"
    # With bare LF line ends, a body's own last CR cannot be told from a CRLF: not hostile.
    assume(crlf or not any(body.endswith(b"\r") for body in bodies))
    chunks = [
        b"--B0undary" + nl + b'Content-Disposition: form-data; name="f%d"' % i + nl + nl + body + nl
        for i, body in enumerate(bodies)
    ]
    data = b"".join(chunks) + b"--B0undary--" + nl
    parts, ok = parse_multipart(data, b"B0undary")
    assert ok
    assert [data[p.body_start : p.body_end] for p in parts] == bodies


@fuzz
@given(data=st.binary(max_size=4096), boundary=st.text(max_size=20))
def test_multipart_bodies_through_inspection(scanner: Scanner, data: bytes, boundary: str) -> None:
    _inspect(scanner, data, f'multipart/form-data; boundary="{boundary}"', None)


@fuzz
@given(text=st.text(max_size=300))
def test_json_positions_of_any_text(text: str) -> None:
    try:
        values = string_values(text)
    except JsonPositionError:
        return
    for item in values:
        assert json.loads(text[item.start : item.end]) == item.value


@fuzz
@given(value=JSON_VALUES, indent=st.sampled_from([None, 0, 2]), new=st.text(max_size=20))
def test_json_positions_agree_with_the_json_module(
    value: object, indent: int | None, new: str
) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    values = string_values(text)
    assert [v.value for v in values] == json_strings(value)
    replaced = json.loads(replace_strings(text, iter((v, new) for v in values)))
    assert json_strings(replaced) == [new] * len(values)


def test_json_positions_refuse_nesting_past_the_cap() -> None:
    text = "[" * (MAX_NESTING + 2) + "]" * (MAX_NESTING + 2)
    try:
        string_values(text)
    except JsonPositionError:
        return
    raise AssertionError("nesting past MAX_NESTING was accepted")


@fuzz
@given(
    path=st.text(max_size=80),
    body=st.binary(max_size=512) | JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    headers=st.dictionaries(st.sampled_from(["content-type", "accept", "mcp-session-id"]),
                            st.text(max_size=40)),
)  # fmt: skip
def test_protocol_recognition_of_any_request(path: str, body: bytes, headers: dict) -> None:
    is_candidate("POST", path, headers)
    for suffix in ("/v1/chat/completions", "/v1/messages", "/api/generate", ""):
        recognize_request(path + suffix, body)
    recognize_stream(body)


@fuzz
@given(data=st.binary(max_size=4096))
def test_documents_from_any_bytes(data: bytes) -> None:
    docx_text(b"PK\x03\x04" + data, 1 << 20)
    docx_text(data, 1 << 20)
    pdf_text(b"%PDF-1.4\n" + data, 1 << 20)


@fuzz
@given(
    texts=st.lists(st.text(max_size=40), min_size=1, max_size=5),
    flips=st.lists(st.integers(0, 1 << 16), max_size=4),
)
def test_corrupted_word_documents(scanner: Scanner, texts: list[str], flips: list[int]) -> None:
    doc = bytearray(word_document(list(texts)))
    for flip in flips:
        doc[flip % len(doc)] ^= 0xFF
    try:
        docx_text(bytes(doc), 1 << 20)
    except Exception as exc:  # only the documented too-big signal may leave docx_text
        assert type(exc).__name__ == "_TooBigError"
    _inspect(scanner, bytes(doc), "application/octet-stream", None)
