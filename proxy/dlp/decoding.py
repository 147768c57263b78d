"""What a body is: its Content-Encoding layers, media type, charset and kind of content.

Content-Encoding covers gzip, deflate (zlib or raw), br and zstd; decompression stops at a cap
(raising :class:`TooBigError` with what was decoded so far), so a compression bomb costs no
more than the cap, and :func:`compress` encodes a redacted body again in the variant it came
in. :func:`content_kind` tells how to walk a piece of content from its media type, its file
name and its first bytes, so that a misleading name or type does not hide a document from the
scan. Text is decoded with its charset; undecodable UTF-8 bytes are kept (surrogateescape) so
that an unchanged text encodes back to the same bytes.
"""

from __future__ import annotations

import codecs
import io
import zlib

import brotli
import zstandard

from shadowlens.proxy.dlp.documents import TooBigError, zip_format
from shadowlens.proxy.dlp.ocr import image_kind

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


def file_extension(filename: str) -> str:
    """The lower-cased extension with its dot (``.pdf``); empty for a name without one."""
    return ("." + filename.rsplit(".", 1)[-1].lower()) if "." in filename else ""


def media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """A Content-Type's lower-cased media type and its parameters (names lower-cased)."""
    if not content_type:
        return "", {}
    main, *params = content_type.split(";")
    out: dict[str, str] = {}
    for param in params:
        name, sep, value = param.partition("=")
        if sep:
            out[name.strip().lower()] = value.strip().strip('"')
    return main.strip().lower(), out


def charset_of(params: dict[str, str]) -> str:
    """The codec named by a ``charset`` parameter; UTF-8 when absent or unknown."""
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


def decode_text(data: bytes, charset: str) -> str:
    """Text that :func:`encode_text` turns back into the same bytes when UTF-8."""
    return data.decode(charset, "surrogateescape" if charset == "utf-8" else "replace")


def encode_text(text: str, charset: str) -> bytes:
    return text.encode(charset, "surrogateescape" if charset == "utf-8" else "replace")


def content_kind(media: str, filename: str, data: bytes) -> str:
    """multipart, form, json, pdf, office, text, image or binary: how to walk the content."""
    ext = file_extension(filename)
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


# --- Content-Encoding ------------------------------------------------------------------------


def content_encodings(content_encoding: str | None) -> list[str]:
    """The encodings a Content-Encoding header lists, in the order they were applied."""
    if not content_encoding:
        return []
    names = [e.strip().lower() for e in content_encoding.split(",")]
    return [n for n in names if n and n != "identity"]


def decompress(data: bytes, encoding: str, cap: int) -> tuple[bytes, str]:
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


def compress(data: bytes, variant: str) -> bytes:
    """Encode ``data`` again in a variant :func:`decompress` returned."""
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
