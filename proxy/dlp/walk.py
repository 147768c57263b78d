"""The walk over a decoded body that inspection and redaction share.

:func:`walk_content` follows each piece of content by its kind: JSON string values (located
by JSON pointer), form fields, multipart parts, base64 content nested up to ``max_depth``,
PDF and office documents, images (read with OCR) and plain text. Every leaf text gets a
``location`` unique in the body. Inspecting, the walk scans each text; redacting, it walks
the same body the same way, so a finding's location names the same text again, and rewrites
only the texts that hold findings. Every limit that is hit becomes a finding of category
``limit``.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import quote_plus, unquote_plus

import brotli
import zstandard

from shadowlens.proxy.dlp.decoding import (
    charset_of,
    content_encodings,
    content_kind,
    decode_text,
    decompress,
    encode_text,
    file_extension,
    looks_binary,
    media_type,
)
from shadowlens.proxy.dlp.documents import (
    RedactionError,
    TooBigError,
    ZipFormat,
    masked_pdf,
    masked_zip,
    pdf_text,
    zip_format,
    zip_text,
)
from shadowlens.proxy.dlp.jsonpos import (
    JsonPositionError,
    JsonTooDeepError,
    StringValue,
    replace_strings,
    string_values,
)
from shadowlens.proxy.dlp.model import BodyReport, DlpLimits, Finding
from shadowlens.proxy.dlp.multipart import parse_multipart
from shadowlens.proxy.dlp.ocr import image_kind, ocr_text, skip_flag
from shadowlens.proxy.dlp.redact import Replacement, mask_label, redact_text
from shadowlens.proxy.dlp.webapps import CONVERSATION_POINTERS, valid_conversation

if TYPE_CHECKING:  # typing only: the walk is handed a scanner
    from shadowlens.proxy.dlp.engine import Scanner

_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2}")
_DATA_URI = re.compile(r"data:([\w.+-]+/[\w.+-]+)?(?:;[\w.+-]+=[\w.+-]+)*;base64,", re.ASCII)


@dataclass(slots=True)
class Walk:
    """One pass over a body: scanning with ``scanner``, or masking the findings in ``masks``."""

    limits: DlpLimits
    report: BodyReport
    scanner: Scanner | None = None
    masks: dict[str, list[Finding]] | None = None
    label: Replacement = mask_label
    seen: dict[str, int] = field(default_factory=dict)
    limit_hits: set[str] = field(default_factory=set)

    @property
    def redacting(self) -> bool:
        return self.masks is not None

    def unique(self, location: str) -> str:
        count = self.seen.get(location, 0)
        self.seen[location] = count + 1
        return location if count == 0 else f"{location}#{count}"

    def limit(
        self, detector: str, location: str, severity: str = "medium", *, truncating: bool = False
    ) -> None:
        self.report.complete = False
        if truncating:
            self.report.truncated = True
        key = f"{detector}@{location}"
        if key in self.limit_hits:
            return
        self.limit_hits.add(key)
        self.report.findings.append(
            Finding(detector, "limit", severity, 0, 0, "", "", location),
        )

    def text(self, text: str, location: str) -> str:
        """A leaf text: scan it, or mask its findings."""
        location = self.unique(location)
        self.report.segments += 1
        if self.report.segments > self.limits.max_segments:
            self.limit("dlp-too-many-segments", "")
            return text
        if self.masks is not None:
            found = self.masks.get(location)
            return redact_text(text, found, self.label) if found else text
        assert self.scanner is not None
        scanned = text
        if len(text) > self.limits.max_segment_chars:
            self.limit("dlp-segment-too-large", location)
            scanned = text[: self.limits.max_segment_chars]
        for finding in self.scanner.scan(scanned):
            self.report.findings.append(replace(finding, location=location))
        return text


def decode_layers(
    walk: Walk, content: bytes, content_encoding: str | None
) -> tuple[bytes, list[str]] | None:
    """The body without its Content-Encoding, and the variants to encode it again with.

    A decompression bomb gives the part decoded up to the cap (and no variants); an unknown
    or corrupt encoding gives None. Either is a ``limit`` finding that marks the report
    truncated.
    """
    data = content
    variants: list[str] = []
    for encoding in reversed(content_encodings(content_encoding)):
        try:
            data, variant = decompress(data, encoding, walk.limits.max_decoded_bytes)
        except TooBigError as big:
            walk.report.flags.append(f"decoded-size-capped:{encoding}")
            walk.limit("dlp-decompression-bomb", "", "high", truncating=True)
            return big.partial, []
        except LookupError:
            walk.report.flags.append(f"unknown-encoding:{encoding}")
            walk.limit("dlp-unknown-encoding", "", truncating=True)
            return None
        except (zlib.error, brotli.error, zstandard.ZstdError, ValueError, EOFError):
            walk.report.flags.append(f"bad-encoding:{encoding}")
            walk.limit("dlp-bad-encoding", "", truncating=True)
            return None
        variants.append(variant)
    return data, variants


def walk_content(
    walk: Walk,
    data: bytes,
    media: str,
    params: dict[str, str],
    location: str,
    depth: int,
    filename: str = "",
) -> bytes:
    """Walk one piece of content; in redaction mode return its new bytes."""
    kind = content_kind(media, filename, data)
    if kind == "multipart":
        boundary = params.get("boundary", "")
        if boundary:
            return _multipart(walk, data, boundary.encode("latin-1", "replace"), location, depth)
        walk.report.flags.append(f"multipart-without-boundary:{location}")
        kind = "text"
    if kind == "binary":
        walk.report.flags.append(f"binary:{location}")
        return data
    if kind == "image":
        return _image(walk, data, location)
    if kind == "office":
        ext = file_extension(filename)
        fmt = zip_format(media, ext, data)
        assert fmt is not None
        return _document(walk, data, location, fmt)
    if kind == "pdf":
        return _document(walk, data, location, None)
    charset = charset_of(params)
    text = decode_text(data, charset)
    if kind == "form":
        new = _form(walk, text, location, depth)
    elif kind == "json":
        new = _json(walk, text, location, depth)
    else:
        new = walk.text(text, location)
    return encode_text(new, charset) if walk.redacting and new is not text else data


def _document(walk: Walk, data: bytes, location: str, fmt: ZipFormat | None) -> bytes:
    """Scan a document's text (``fmt`` None for a PDF); in redaction mode mask it."""
    kind = fmt.kind if fmt else "pdf"
    if walk.masks is not None:
        found = walk.masks.get(walk.unique(location))  # the name the scan's walk.text gave it
        if not found:
            return data
        if fmt is None:
            return masked_pdf(data, found, walk.limits.max_decoded_bytes)
        return masked_zip(data, fmt, found, walk.limits.max_decoded_bytes)
    try:
        if fmt is None:
            text = pdf_text(data, walk.limits.max_decoded_bytes)
        else:
            text = zip_text(data, fmt, walk.limits.max_decoded_bytes)
    except TooBigError:
        walk.limit("dlp-decompression-bomb", location, "high")
        return data
    if text is None:
        walk.report.flags.append(f"malformed-{kind}:{location}")
        walk.limit("dlp-unscanned-document", location, "low")
        return data
    walk.report.flags.append(f"{kind}:{location}")
    walk.text(text, location)
    return data


def _image(walk: Walk, data: bytes, location: str) -> bytes:
    """OCR an image and scan its text; text found in an image cannot be masked."""
    if walk.masks is not None:
        if walk.masks.get(walk.unique(location)):
            raise RedactionError(f"text read in an image ({location or 'body'}) cannot be masked")
        return data
    walk.report.flags.append(f"binary:{location}")
    if not walk.limits.ocr:
        return data
    limits = walk.limits
    text, reason = ocr_text(data, timeout=limits.ocr_timeout, max_pixels=limits.ocr_max_pixels)
    if text is None:
        walk.report.flags.append(skip_flag(reason, location))
        return data
    walk.report.flags.append(f"image:{location}")
    walk.text(text, location)
    return data


def _json(walk: Walk, text: str, location: str, depth: int) -> str:
    try:
        values = string_values(text)
    except JsonTooDeepError:
        walk.limit("dlp-depth-limit", location)  # still scanned below, as plain text
        return walk.text(text, location)
    except JsonPositionError:
        walk.report.flags.append(f"malformed-json:{location or '/'}")
        return walk.text(text, location)
    return _json_values(walk, text, values, location, depth)


def _json_values(
    walk: Walk,
    text: str,
    values: list[StringValue],
    location: str,
    depth: int,
    *,
    nested: bool = False,
) -> str:
    """Walk a JSON text's string values; ``nested`` ones that hold JSON are walked as JSON."""
    replacements: list[tuple[StringValue, str]] = []
    for item in values:
        pointer = location + item.pointer
        if pointer in CONVERSATION_POINTERS and not walk.redacting:
            walk.report.conversation = valid_conversation(item.value)
        if nested:
            new = _form_value(walk, item.value, pointer, depth)
        else:
            new = _string(walk, item.value, pointer, depth)
        if new is not item.value and new != item.value:
            replacements.append((item, new))
    if walk.redacting and replacements:
        return replace_strings(text, iter(replacements))
    return text


def _form_value(walk: Walk, value: str, location: str, depth: int) -> str:
    """A form field's value: JSON text is walked as JSON, strings in it too (Gemini's
    ``f.req`` is JSON in a JSON string in a form field)."""
    if value[:1] in ("[", "{") and value[-1:] in ("]", "}"):
        try:
            values = string_values(value)
        except JsonPositionError:
            values = None
        if values is not None:
            if depth >= walk.limits.max_depth:
                walk.limit("dlp-depth-limit", location)
                return walk.text(value, location)
            return _json_values(walk, value, values, location, depth + 1, nested=True)
    return _string(walk, value, location, depth)


def _string(walk: Walk, value: str, location: str, depth: int) -> str:
    """A string value inside structured content: base64 content is decoded and walked."""
    if len(value) >= walk.limits.min_base64_chars:
        decoded = _base64_content(value)
        if decoded is not None:
            prefix, media, raw = decoded
            if looks_binary(raw) and not image_kind(raw):
                walk.report.flags.append(f"binary:base64:{location}")
                return value
            if depth >= walk.limits.max_depth:
                walk.limit("dlp-depth-limit", location)
                return walk.text(value, location)
            new = walk_content(walk, raw, media, {}, f"base64:{location}", depth + 1)
            if walk.redacting and new is not raw:
                urlsafe = "-" in value or "_" in value
                encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(new)
                return prefix + encoded.decode("ascii")
            return value
    return walk.text(value, location)


def _base64_content(value: str) -> tuple[str, str, bytes] | None:
    prefix = ""
    media = ""
    m = _DATA_URI.match(value)
    if m:
        prefix, media = value[: m.end()], m.group(1) or ""
        body = value[m.end() :]
    else:
        body = value
    if not body or len(body) % 4 or not _B64.fullmatch(body):
        return None
    try:
        if "-" in body or "_" in body:
            raw = base64.urlsafe_b64decode(body)
        else:
            raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not m:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return ("", "", raw) if looks_binary(raw) else None
    return prefix, media, raw


def _form(walk: Walk, text: str, location: str, depth: int) -> str:
    pairs = text.split("&")
    changed = False
    for i, pair in enumerate(pairs):
        name_raw, sep, value_raw = pair.partition("=")
        name = unquote_plus(name_raw, errors="surrogateescape")
        value = unquote_plus(value_raw, errors="surrogateescape")
        loc = f"{location}form:{name}"
        new = _form_value(walk, value, loc, depth)
        if walk.redacting and new != value:
            pairs[i] = name_raw + sep + quote_plus(new, safe="", errors="surrogateescape")
            changed = True
    return "&".join(pairs) if changed else text


def _multipart(walk: Walk, data: bytes, boundary: bytes, location: str, depth: int) -> bytes:
    parts, ok = parse_multipart(data, boundary)
    if not ok:
        walk.report.flags.append(f"malformed-multipart:{location}")
        walk.limit("dlp-malformed-multipart", location)
    if depth >= walk.limits.max_depth:
        walk.limit("dlp-depth-limit", location)
        return data
    pieces: list[bytes] = []
    pos = 0
    for part in parts:
        disposition = part.disposition
        filename = disposition.get("filename", "")
        name = filename or disposition.get("name", "") or "part"
        media, params = media_type(part.headers.get("content-type"))
        if not media and not filename:
            media = "text/plain"
        body = data[part.body_start : part.body_end]
        if part.headers.get("content-transfer-encoding", "").lower() == "base64":
            walk.report.flags.append(f"base64-part:{location}multipart:{name}")
            new = body
            try:
                raw = base64.b64decode(body, validate=False)
                sub = walk_content(
                    walk, raw, media, params, f"{location}multipart:{name}", depth + 1, filename
                )
                if walk.redacting and sub is not raw:
                    new = base64.encodebytes(sub)
            except (binascii.Error, ValueError):
                walk.report.flags.append(f"malformed-base64:{location}multipart:{name}")
        else:
            new = walk_content(
                walk, body, media, params, f"{location}multipart:{name}", depth + 1, filename
            )
        if walk.redacting and new is not body:
            pieces.append(data[pos : part.body_start])
            pieces.append(new)
            pos = part.body_end
    if not pieces:
        return data
    pieces.append(data[pos:])
    return b"".join(pieces)
