"""Decode an HTTP request body, scan every text in it, and redact findings in place.

Decoding covers Content-Encoding (gzip, deflate, br, zstd, with a cap on decoded size),
JSON string values (located by JSON pointer), form-urlencoded fields, multipart parts
(byte-preserving parser), base64 content nested up to a depth, and text files. Every limit
that is hit becomes a finding of category ``limit``; inspection never raises on bad input.

Redaction walks the body the same way, so a finding's ``location`` names the same text
again, and rewrites only the texts that hold findings.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import io
import logging
import re
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import quote_plus, unquote, unquote_plus

import brotli
import zstandard

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
from shadowlens.proxy.dlp.ocr import image_kind, ocr_text
from shadowlens.proxy.dlp.redact import Replacement, mask_label, redact_text
from shadowlens.proxy.dlp.webapps import CONVERSATION_POINTERS, valid_conversation

if TYPE_CHECKING:  # typing only, without an import cycle at runtime
    from shadowlens.proxy.dlp.engine import Scanner

log = logging.getLogger(__name__)

TEXT_EXTENSIONS = frozenset(
    {
        ".txt",
        ".csv",
        ".tsv",
        ".md",
        ".markdown",
        ".json",
        ".jsonl",
        ".ndjson",
        ".log",
        ".xml",
        ".html",
        ".htm",
        ".yaml",
        ".yml",
        ".toml",
        ".ini",
        ".cfg",
        ".conf",
        ".env",
        ".py",
        ".js",
        ".ts",
        ".tsx",
        ".jsx",
        ".java",
        ".kt",
        ".go",
        ".rs",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".hpp",
        ".cs",
        ".rb",
        ".php",
        ".swift",
        ".scala",
        ".sh",
        ".bash",
        ".zsh",
        ".ps1",
        ".sql",
        ".r",
        ".m",
        ".pl",
        ".lua",
        ".dart",
        ".vue",
        ".svelte",
        ".tf",
        ".properties",
        ".pem",
        ".key",
        ".ipynb",
        ".rst",
        ".tex",
    }
)
_BINARY_MAGIC = (
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"RIFF",
    b"%PDF",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"BM",
    b"\x00\x00\x00",
    b"ID3",
    b"OggS",
    b"fLaC",
    b"\x7fELF",
    b"MZ",
    b"(\xb5/\xfd",
)
_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 12, 13, 27)) + b"\x7f"
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2}")
_DATA_URI = re.compile(r"data:([\w.+-]+/[\w.+-]+)?(?:;[\w.+-]+=[\w.+-]+)*;base64,", re.ASCII)
_PROMPT_POINTER = re.compile(
    r"""^(?:
      # OpenAI, Anthropic, ChatGPT web
      /messages/\d+/content(?:/\d+/(?:text|content(?:/\d+/text)?)|/parts/\d+)?
      |/contents/\d+/parts/\d+/text                                            # Gemini
      |/system(?:/\d+/text)?|/system_instruction/parts/\d+/text|/systemInstruction/parts/\d+/text
      |/prompt(?:/\d+)?|/input(?:/\d+(?:/content(?:/\d+/text)?)?)?|/instructions|/query|/question|/text
      |/inputs|/messages/\d+/parts/\d+/text
      |form:f\.req/1/0/0                                                        # Gemini web
    )$""",
    re.VERBOSE,
)


QUICK_BYTES = 4096  # a body this small and plain scans in tens of µs (see quick_to_scan)
# The base64 (standard, URL-safe, percent-encoded) of a PNG, JPEG or WebP/RIFF file's start.
_BASE64_IMAGE = re.compile(rb"iVBORw0KGgo|/9j/|_9j_|%2F9j%2F|UklGR")


def is_prompt_location(location: str) -> bool:
    """True when the JSON pointer names prompt text in a known chat/LLM API request shape."""
    return bool(_PROMPT_POINTER.match(location))


# --- the walk shared by inspection and redaction -------------------------------------------


@dataclass(slots=True)
class _Walk:
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


def _media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    if not content_type:
        return "", {}
    main, *params = content_type.split(";")
    out: dict[str, str] = {}
    for param in params:
        name, sep, value = param.partition("=")
        if sep:
            out[name.strip().lower()] = value.strip().strip('"')
    return main.strip().lower(), out


def _charset(params: dict[str, str]) -> str:
    name = params.get("charset", "utf-8")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


def looks_binary(data: bytes) -> bool:
    """NUL bytes, a known binary magic number, or over 10% control bytes in the first 4 KiB."""
    head = data[:4096]
    if not head:
        return False
    if b"\x00" in head or head.startswith(_BINARY_MAGIC):
        return True
    controls = len(head) - len(head.translate(None, _CONTROL))
    return controls * 10 > len(head)


def _decode_text(data: bytes, charset: str) -> str:
    return data.decode(charset, "surrogateescape" if charset == "utf-8" else "replace")


def _encode_text(text: str, charset: str) -> bytes:
    return text.encode(charset, "surrogateescape" if charset == "utf-8" else "replace")


def _kind(media: str, filename: str, data: bytes) -> str:
    ext = ("." + filename.rsplit(".", 1)[-1].lower()) if "." in filename else ""
    if media.startswith("multipart/"):
        return "multipart"
    if media == "application/x-www-form-urlencoded":
        return "form"
    if media.endswith("/json") or media.endswith("+json") or ext in (".json", ".ipynb"):
        return "json"
    # By content too: a name or type that hides a document must not hide it from the scan.
    if ext == ".pdf" or media == "application/pdf" or data.startswith(b"%PDF-"):
        return "pdf"
    if zip_format(media, ext, data) is not None:
        return "office"
    if media.startswith("text/") or ext in TEXT_EXTENSIONS:
        return "text"
    if image_kind(data):
        return "image"
    if media.startswith(("image/", "audio/", "video/", "font/")) or looks_binary(data):
        return "binary"
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        return "json"
    return "text"


def _content(
    walk: _Walk,
    data: bytes,
    media: str,
    params: dict[str, str],
    location: str,
    depth: int,
    filename: str = "",
) -> bytes:
    """Walk one piece of content; in redaction mode return its new bytes."""
    kind = _kind(media, filename, data)
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
        ext = ("." + filename.rsplit(".", 1)[-1].lower()) if "." in filename else ""
        fmt = zip_format(media, ext, data)
        assert fmt is not None
        return _document(walk, data, location, fmt)
    if kind == "pdf":
        return _document(walk, data, location, None)
    charset = _charset(params)
    text = _decode_text(data, charset)
    if kind == "form":
        new = _form(walk, text, location, depth)
    elif kind == "json":
        new = _json(walk, text, location, depth)
    else:
        new = walk.text(text, location)
    return _encode_text(new, charset) if walk.redacting and new is not text else data


def _document(walk: _Walk, data: bytes, location: str, fmt: ZipFormat | None) -> bytes:
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


def _image(walk: _Walk, data: bytes, location: str) -> bytes:
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
        walk.report.flags.append(f"ocr-skipped:{reason}:{location}")
        return data
    walk.report.flags.append(f"image:{location}")
    walk.text(text, location)
    return data


def _json(walk: _Walk, text: str, location: str, depth: int) -> str:
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
    walk: _Walk,
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


def _form_value(walk: _Walk, value: str, location: str, depth: int) -> str:
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


def _string(walk: _Walk, value: str, location: str, depth: int) -> str:
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
            new = _content(walk, raw, media, {}, f"base64:{location}", depth + 1)
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


def _form(walk: _Walk, text: str, location: str, depth: int) -> str:
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


@dataclass(frozen=True, slots=True)
class Part:
    """One multipart part: header block and body as byte spans of the whole body."""

    headers: dict[str, str]
    body_start: int
    body_end: int

    @property
    def disposition(self) -> dict[str, str]:
        """Content-Disposition's parameters; an RFC 5987 ``filename*`` wins over ``filename``."""
        _, params = _media_type(
            "x;" + self.headers.get("content-disposition", "").partition(";")[2]
        )
        if extended := params.get("filename*"):  # charset'language'percent-encoded
            charset, _, rest = extended.partition("'")
            encoded = rest.partition("'")[2]
            params["filename"] = unquote(encoded, _charset({"charset": charset}), "replace")
        return params


def parse_multipart(data: bytes, boundary: bytes) -> tuple[list[Part], bool]:
    """Parts of a multipart body, keeping every byte; the flag is False if it was malformed."""
    delim = b"--" + boundary
    parts: list[Part] = []
    pos = data.find(delim)
    if pos < 0:
        return parts, False
    while True:
        after = pos + len(delim)
        if data.startswith(b"--", after):
            return parts, True
        line_end = data.find(b"\n", after)
        if line_end < 0:
            return parts, False
        start = line_end + 1
        nxt = data.find(b"\n" + delim, start)
        if nxt < 0:
            return parts, False
        end = nxt - 1 if nxt > start and data[nxt - 1 : nxt] == b"\r" else nxt
        sep = data.find(b"\r\n\r\n", start, end)
        sep_len = 4
        if sep < 0:
            sep = data.find(b"\n\n", start, end)
            sep_len = 2
        if sep < 0:
            head, body_start = data[start:end], end
        else:
            head, body_start = data[start:sep], sep + sep_len
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").splitlines():
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        parts.append(Part(headers, body_start, end))
        pos = nxt + 1


def _multipart(walk: _Walk, data: bytes, boundary: bytes, location: str, depth: int) -> bytes:
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
        media, params = _media_type(part.headers.get("content-type"))
        if not media and not filename:
            media = "text/plain"
        body = data[part.body_start : part.body_end]
        if part.headers.get("content-transfer-encoding", "").lower() == "base64":
            walk.report.flags.append(f"base64-part:{location}multipart:{name}")
            new = body
            try:
                raw = base64.b64decode(body, validate=False)
                sub = _content(
                    walk, raw, media, params, f"{location}multipart:{name}", depth + 1, filename
                )
                if walk.redacting and sub is not raw:
                    new = base64.encodebytes(sub)
            except (binascii.Error, ValueError):
                walk.report.flags.append(f"malformed-base64:{location}multipart:{name}")
        else:
            new = _content(
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


# --- Content-Encoding ------------------------------------------------------------------------


def _encodings(content_encoding: str | None) -> list[str]:
    if not content_encoding:
        return []
    names = [e.strip().lower() for e in content_encoding.split(",")]
    return [n for n in names if n and n != "identity"]


def _decompress(data: bytes, encoding: str, cap: int) -> tuple[bytes, str]:
    """Decode one layer; returns bytes and the variant used. Raises TooBigError past ``cap``."""
    if encoding in ("gzip", "x-gzip"):
        return _inflate(data, 31, cap), encoding
    if encoding == "deflate":
        try:
            return _inflate(data, 15, cap), "deflate"
        except zlib.error:
            return _inflate(data, -15, cap), "deflate-raw"
    if encoding == "br":
        dec = brotli.Decompressor()
        out = dec.process(data, output_buffer_limit=cap + 1)
        if len(out) > cap or not dec.is_finished():
            if len(out) > cap:
                raise TooBigError(out[:cap])
            raise ValueError("truncated brotli stream")
        return out, "br"
    if encoding == "zstd":
        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(data), read_across_frames=True
        )
        chunks: list[bytes] = []
        size = 0
        while size <= cap:
            chunk = reader.read(min(1 << 20, cap + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        out = b"".join(chunks)
        if len(out) > cap:
            raise TooBigError(out[:cap])
        return out, "zstd"
    raise LookupError(encoding)


def _inflate(data: bytes, wbits: int, cap: int) -> bytes:
    dec = zlib.decompressobj(wbits)
    out = dec.decompress(data, cap + 1)
    if len(out) > cap or dec.unconsumed_tail:
        raise TooBigError(out[:cap])
    out += dec.flush()
    if len(out) > cap:
        raise TooBigError(out[:cap])
    return out


def _compress(data: bytes, variant: str) -> bytes:
    if variant in ("gzip", "x-gzip"):
        obj = zlib.compressobj(6, zlib.DEFLATED, 31)
        return obj.compress(data) + obj.flush()
    if variant == "deflate":
        return zlib.compress(data)
    if variant == "deflate-raw":
        obj = zlib.compressobj(6, zlib.DEFLATED, -15)
        return obj.compress(data) + obj.flush()
    if variant == "br":
        return bytes(brotli.compress(data))
    if variant == "zstd":
        return bytes(zstandard.ZstdCompressor().compress(data))
    raise LookupError(variant)


def _decode_layers(
    content: bytes, content_encoding: str | None, limits: DlpLimits, walk: _Walk
) -> tuple[bytes, list[str]] | None:
    data = content
    variants: list[str] = []
    for encoding in reversed(_encodings(content_encoding)):
        try:
            data, variant = _decompress(data, encoding, limits.max_decoded_bytes)
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


# --- public API ------------------------------------------------------------------------------


def quick_to_scan(body: bytes, *, content_type: str | None, content_encoding: str | None) -> bool:
    """Whether :func:`inspect_body` of ``body`` is bounded by its size, a few µs a KiB.

    True for a small JSON, text or form body without Content-Encoding and without a base64
    image in it. A compressed body, or a few KiB of multipart, ZIP or PDF, may inflate up to
    the decoding cap; an image is read with OCR, which takes seconds.
    """
    if len(body) > QUICK_BYTES or _encodings(content_encoding) or _BASE64_IMAGE.search(body):
        return False
    media, _ = _media_type(content_type)
    return _kind(media, "", body) in ("json", "text", "form")


def inspect_body(
    content: bytes,
    *,
    content_type: str | None,
    content_encoding: str | None,
    scanner: Scanner,
    limits: DlpLimits,
) -> BodyReport:
    """Decode and scan a request body. Never raises on bad input: problems become flags or
    ``limit`` findings, and ``report.complete`` is False when part of the body went unscanned."""
    report = BodyReport(limits=limits)
    walk = _Walk(limits=limits, report=report, scanner=scanner)
    try:
        if len(content) > limits.max_body_bytes:
            walk.limit("dlp-body-too-large", "", "medium", truncating=True)
            content = content[: limits.max_body_bytes]
            if _encodings(content_encoding):
                return report
        decoded = _decode_layers(content, content_encoding, limits, walk)
        if decoded is None:
            return report
        data, _ = decoded
        report.decoded_bytes = len(data)
        media, params = _media_type(content_type)
        report.media = _kind(media, "", data)
        _content(walk, data, media, params, "", 0)
    except RecursionError:
        walk.limit("dlp-depth-limit", "", "medium")
    except Exception as exc:  # inspection must not take the proxy down; the body is flagged
        # no traceback: exception messages can quote body content, which must not be logged
        log.error("dlp: body inspection failed (%s)", type(exc).__name__)
        report.flags.append("internal-error")
        walk.limit("dlp-internal-error", "", "medium")
    return report


def inspect_text(
    text: str, *, scanner: Scanner, limits: DlpLimits, location: str = ""
) -> BodyReport:
    """Scan one text (a WebSocket text message, say) with the same limits as a body."""
    report = BodyReport(media="text")
    walk = _Walk(limits=limits, report=report, scanner=scanner)
    walk.text(text, location)
    report.decoded_bytes = len(text)
    return report


def redact_body(
    content: bytes,
    *,
    content_type: str | None,
    content_encoding: str | None,
    report: BodyReport,
    limits: DlpLimits | None = None,
    label: Replacement = mask_label,
) -> tuple[bytes, dict[str, str]]:
    """The body with every finding of ``report`` masked (by ``label``), re-encoded as it came.

    Returns the new raw body and headers to set (``Content-Length``); an unchanged body
    comes back as is with no headers. Raises :class:`RedactionError` when the body could
    not be decoded in full (``report.truncated``: too large, a decompression bomb, an unknown
    or corrupt encoding) or a finding in a PDF cannot be rewritten safely (see
    :mod:`proxy.dlp.documents`): block such bodies instead.
    """
    masks: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.redactable:
        masks[finding.location].append(finding)
    if not masks:
        return content, {}
    if report.truncated:
        raise RedactionError("the body could not be decoded in full; it cannot be redacted")
    limits = limits or report.limits or DlpLimits()
    walk = _Walk(limits=limits, report=BodyReport(), masks=dict(masks), label=label)
    decoded = _decode_layers(content, content_encoding, limits, walk)
    if decoded is None or walk.report.truncated:
        raise RedactionError("the body no longer decodes as it did when scanned")
    data, variants = decoded
    media, params = _media_type(content_type)
    new = _content(walk, data, media, params, "", 0)
    if new is data:
        return content, {}
    for variant in reversed(variants):
        new = _compress(new, variant)
    return new, {"Content-Length": str(len(new))}


def findings_in_prompt(findings: Sequence[Finding]) -> list[Finding]:
    """The findings located in prompt text of a known chat/LLM request shape."""
    return [f for f in findings if is_prompt_location(f.location.removeprefix("base64:"))]
