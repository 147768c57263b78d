"""Text of office documents and PDFs, and masking findings inside them.

- ZIP-based documents (DOCX, XLSX, PPTX, ODT/ODS/ODP): the text is read from the XML parts
  that hold it, in reading order, and findings are masked in those text elements; every
  other part of the archive is copied unchanged.
- PDF: the text of each page through pypdf. A finding is masked by rewriting the string
  operands of the page's content stream, with ``*`` of the same length so the layout holds,
  when the whole value sits in one string drawn with a simple single-byte font. Anything
  else (a value split over operators or lines, CID fonts, text in form XObjects) cannot be
  rewritten safely: redaction raises :class:`RedactionError` with the reason and the caller
  blocks. The rewritten file is read again and refused if any value is still in its text.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shadowlens.proxy.dlp.model import Finding
from shadowlens.proxy.dlp.redact import mask_label, merged_spans

if TYPE_CHECKING:
    import pypdf
    from pypdf.generic import ByteStringObject

# pypdf is imported by the functions that read a PDF, on the first PDF: it holds about 19 MB
# in every process that imports it, the proxy's and each scan worker's.


class RedactionError(ValueError):
    """The body cannot be redacted exactly (it was not scanned in full)."""


class TooBigError(Exception):
    """Decoded content went past its cap; ``partial`` holds what fits."""

    def __init__(self, partial: bytes = b"") -> None:
        self.partial = partial


DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MAX_PARTS = 2000  # XML parts read from one archive (sheets, slides)


@dataclass(frozen=True, slots=True)
class ZipFormat:
    """A ZIP-based document: which parts hold text, and the elements the text is in."""

    kind: str
    label: str
    media: tuple[str, ...]  # media types, or prefixes of them
    extensions: tuple[str, ...]
    marker: bytes  # bytes found only in this kind of archive
    parts: re.Pattern[str]  # names of the parts with text
    pieces: re.Pattern[str]  # group 1: a text element's content; otherwise a separator
    body_tag: str = ""  # text before this tag in a part is not document text


ZIP_FORMATS = (
    ZipFormat(
        "docx",
        "Word document",
        (DOCX_TYPE,),
        (".docx", ".docm"),
        b"word/document.xml",
        re.compile(r"word/(?:document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml"),
        re.compile(r"<w:t(?:\s[^>]*)?>([^<]*)</w:t>|</w:p>|<w:tab/>|<w:br/>"),
    ),
    ZipFormat(
        "xlsx",
        "Excel workbook",
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",),
        (".xlsx", ".xlsm"),
        b"xl/workbook.xml",
        re.compile(r"xl/(?:sharedStrings|worksheets/sheet\d+)\.xml"),
        re.compile(r"<t(?:\s[^>]*)?>([^<]*)</t>|</si>|</c>|</row>"),
    ),
    ZipFormat(
        "pptx",
        "PowerPoint presentation",
        ("application/vnd.openxmlformats-officedocument.presentationml.presentation",),
        (".pptx", ".pptm"),
        b"ppt/presentation.xml",
        re.compile(r"ppt/(?:slides/slide|notesSlides/notesSlide)\d+\.xml"),
        re.compile(r"<a:t(?:\s[^>]*)?>([^<]*)</a:t>|</a:p>|<a:br/>|</a:br>|<a:tab/>"),
    ),
    ZipFormat(
        "odf",
        "OpenDocument file",
        ("application/vnd.oasis.opendocument.",),
        (".odt", ".ods", ".odp"),
        b"mimetypeapplication/vnd.oasis.opendocument.",
        re.compile(r"content\.xml"),
        re.compile(
            r"(?<=>)([^<]+)(?=<)|</text:p>|</text:h>|<text:tab/>|<text:line-break/>"
            r"|<text:s\b[^>]*/>"
        ),
        body_tag="<office:body",
    ),
)


def zip_format(media: str, extension: str, data: bytes) -> ZipFormat | None:
    """The document format named by media type or extension, or recognised by content."""
    for fmt in ZIP_FORMATS:
        if extension in fmt.extensions or (media and media.startswith(fmt.media)):
            return fmt
    if data.startswith(b"PK\x03\x04"):
        for fmt in ZIP_FORMATS:
            if fmt.marker in data:
                return fmt
    return None


def _natural(name: str) -> list[object]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _zip_parts(data: bytes, fmt: ZipFormat, max_bytes: int) -> list[tuple[str, str]] | None:
    """The text-bearing XML parts, in reading order; None if this is no such archive.

    Raises :class:`TooBigError` when they inflate past ``max_bytes`` together.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = [i for i in archive.infolist() if fmt.parts.fullmatch(i.filename)]
            if not infos:
                return None
            if len(infos) > MAX_PARTS:
                raise TooBigError
            infos.sort(key=lambda i: _natural(i.filename))
            if sum(i.file_size for i in infos) > max_bytes:
                raise TooBigError
            parts = []
            left = max_bytes
            for info in infos:
                with archive.open(info) as fh:
                    xml = fh.read(left + 1)
                left -= len(xml)
                if left < 0:
                    raise TooBigError
                parts.append((info.filename, xml.decode("utf-8", "replace")))
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, zlib.error):
        return None
    return parts


def _separator(tag: str) -> str:
    if "tab" in tag or tag == "</c>":
        return "\t"
    return " " if tag.startswith("<text:s") else "\n"


def _pieces(xml: str, fmt: ZipFormat) -> Iterator[tuple[re.Match[str], str]]:
    """Each text element or separator of one part and the text it adds, in order."""
    start = max(xml.find(fmt.body_tag), 0) if fmt.body_tag else 0
    for match in fmt.pieces.finditer(xml, start):
        if match.group(1) is not None:
            yield match, html.unescape(match.group(1))
        else:
            yield match, _separator(match.group(0))


def zip_text(data: bytes, fmt: ZipFormat, max_bytes: int) -> str | None:
    """The document's text, parts joined by a newline; None if it is no such document."""
    parts = _zip_parts(data, fmt, max_bytes)
    if parts is None:
        return None
    return "\n".join("".join(piece for _, piece in _pieces(xml, fmt)) for _, xml in parts)


def docx_text(data: bytes, max_bytes: int) -> str | None:
    """The text of a Word document, or None if it is no DOCX."""
    return zip_text(data, ZIP_FORMATS[0], max_bytes)


def masked_zip(data: bytes, fmt: ZipFormat, findings: Sequence[Finding], max_bytes: int) -> bytes:
    """The document with each finding masked in the text elements that hold it.

    A value split over several elements gets its label in the first and empties the others.
    """
    try:
        parts = _zip_parts(data, fmt, max_bytes)
    except TooBigError:
        parts = None
    if parts is None:
        raise RedactionError(f"the {fmt.label} no longer reads as it did when scanned")
    total = sum(len(p) for _, xml in parts for _, p in _pieces(xml, fmt)) + len(parts) - 1
    spans = merged_spans(findings, total)
    labelled: set[int] = set()
    replaced: dict[str, bytes] = {}
    offset = 0
    for name, xml in parts:
        out: list[str] = []
        pos = 0
        for match, piece in _pieces(xml, fmt):
            if match.group(1) is not None:
                new = _masked_run(piece, offset, spans, labelled)
                if new != piece:
                    out += [xml[pos : match.start(1)], html.escape(new, quote=False)]
                    pos = match.end(1)
            offset += len(piece)
        offset += 1  # the newline between parts
        if out:
            replaced[name] = ("".join(out) + xml[pos:]).encode("utf-8")
    return _replaced_in_zip(data, replaced, max_bytes)


def _masked_run(
    text: str, offset: int, spans: list[tuple[int, int, str]], labelled: set[int]
) -> str:
    """``text`` (starting at ``offset`` in the document) with the spans it holds masked."""
    parts: list[str] = []
    pos = 0
    for index, (start, end, label) in enumerate(spans):
        local_start, local_end = max(start - offset, 0), min(end - offset, len(text))
        if local_start >= local_end:
            continue
        parts.append(text[pos:local_start])
        if index not in labelled:
            labelled.add(index)
            parts.append(mask_label(label))
        pos = local_end
    return "".join(parts) + text[pos:] if parts else text


def _replaced_in_zip(data: bytes, replaced: dict[str, bytes], max_bytes: int) -> bytes:
    """The ZIP archive with some members' content replaced, the others copied as they were
    (same order and compression, so an ODF ``mimetype`` stays first and stored)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as source:
            members = source.infolist()
            if sum(m.file_size for m in members) > max_bytes:
                raise RedactionError("the document is too large to rewrite; it cannot be redacted")
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w") as target:
                for member in members:
                    copy = zipfile.ZipInfo(member.filename, date_time=member.date_time)
                    copy.compress_type = member.compress_type
                    copy.external_attr = member.external_attr
                    content = replaced.get(member.filename)
                    target.writestr(copy, source.read(member) if content is None else content)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, zlib.error) as exc:
        raise RedactionError("the document could not be rewritten") from exc
    return out.getvalue()


# --- PDF -------------------------------------------------------------------------------------


def pdf_text(data: bytes, max_chars: int, max_pages: int = 1000) -> str | None:
    """The text of a PDF's pages, or None if it is no readable PDF.

    Raises :class:`TooBigError` past ``max_chars`` of text or ``max_pages`` pages.
    """
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if len(reader.pages) > max_pages:
            raise TooBigError
        parts: list[str] = []
        size = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            size += len(text)
            if size > max_chars:
                raise TooBigError
            parts.append(text)
    except TooBigError:
        raise
    except Exception:  # pypdf raises many kinds on a malformed file; all mean "unreadable"
        return None
    return "\n".join(parts)


_SIMPLE_FONTS = {"/Type1", "/TrueType", "/MMType1"}
_SIMPLE_ENCODINGS = {"/WinAnsiEncoding", "/StandardEncoding", "/MacRomanEncoding"}
_SHOW_TEXT = {b"Tj", b"'", b'"'}


def masked_pdf(data: bytes, findings: Sequence[Finding], max_chars: int) -> bytes:
    """The PDF with each finding's value overwritten by ``*`` in the page content streams.

    Raises :class:`RedactionError` when that cannot be done safely (see the module doc).
    """
    text = pdf_text(data, max_chars)
    if text is None:
        raise RedactionError("the PDF no longer reads as it did when scanned")
    values = {text[f.start : f.end] for f in findings if f.end > f.start}
    if not all(v.isascii() and v.isprintable() for v in values):
        raise RedactionError("a finding in the PDF spans lines or non-ASCII text; it is blocked")
    import pypdf

    try:
        writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
        for page in writer.pages:
            _mask_page(page, values, writer)
        out = io.BytesIO()
        writer.write(out)
    except Exception as exc:  # a malformed stream or font: no safe rewrite
        raise RedactionError("the PDF could not be rewritten; it is blocked") from exc
    new = out.getvalue()
    after = pdf_text(new, max_chars) or ""
    if any(v in after for v in values):
        raise RedactionError(
            "a finding in the PDF is not in one text string of a simple font; it is blocked"
        )
    return new


def _mask_page(page: pypdf.PageObject, values: set[str], writer: pypdf.PdfWriter) -> None:
    from pypdf.generic import ContentStream

    contents = page.get_contents()
    if contents is None:
        return
    stream = ContentStream(contents, writer)
    fonts = page.get("/Resources", {}).get("/Font", {})
    simple = False
    changed = False
    for operands, operator in stream.operations:
        if operator == b"Tf" and operands:
            simple = _simple_font(fonts.get(operands[0]))
        elif simple and operator in _SHOW_TEXT and operands:
            new = _masked_string(operands[-1], values)
            if new is not None:
                operands[-1], changed = new, True
        elif simple and operator == b"TJ" and operands:
            for i, item in enumerate(operands[0]):
                new = _masked_string(item, values)
                if new is not None:
                    operands[0][i], changed = new, True
    if changed:
        page.replace_contents(stream)


def _simple_font(font: object) -> bool:
    """A single-byte font whose codes are ASCII where text is ASCII (no CID, no ToUnicode)."""
    from pypdf.generic import NameObject

    font = font.get_object() if hasattr(font, "get_object") else font
    if not isinstance(font, dict) or font.get("/Subtype") not in _SIMPLE_FONTS:
        return False
    encoding = font.get("/Encoding", NameObject("/StandardEncoding"))
    return "/ToUnicode" not in font and encoding in _SIMPLE_ENCODINGS


def _masked_string(item: object, values: set[str]) -> ByteStringObject | None:
    from pypdf.generic import ByteStringObject, TextStringObject

    if not isinstance(item, TextStringObject | ByteStringObject):
        return None
    raw = item.original_bytes if isinstance(item, TextStringObject) else bytes(item)
    text = raw.decode("latin-1")
    masked = text
    for value in values:
        masked = masked.replace(value, "*" * len(value))
    return ByteStringObject(masked.encode("latin-1")) if masked != text else None
