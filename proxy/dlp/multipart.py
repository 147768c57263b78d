"""A multipart body parser that keeps every byte where it was.

:func:`parse_multipart` gives each part's headers and the span of its body within the whole
body, so redaction rewrites only the bodies of the parts that hold findings and leaves the
boundaries, headers and line endings as they came. It accepts CRLF and bare LF line endings,
and it reports a malformed body (no closing boundary, say) with a flag instead of raising.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from shadowlens.proxy.dlp.decoding import charset_of, media_type


@dataclass(frozen=True, slots=True)
class Part:
    """One multipart part: header block and body as byte spans of the whole body."""

    headers: dict[str, str]
    body_start: int
    body_end: int

    @property
    def disposition(self) -> dict[str, str]:
        """Content-Disposition's parameters; an RFC 5987 ``filename*`` wins over ``filename``."""
        _, params = media_type("x;" + self.headers.get("content-disposition", "").partition(";")[2])
        if extended := params.get("filename*"):  # charset'language'percent-encoded
            charset, _, rest = extended.partition("'")
            encoded = rest.partition("'")[2]
            params["filename"] = unquote(encoded, charset_of({"charset": charset}), "replace")
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
        head_end, body_start = _header_block(data, start, end)
        head = data[start:head_end]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").splitlines():
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        parts.append(Part(headers, body_start, end))
        pos = nxt + 1


def _header_block(data: bytes, start: int, end: int) -> tuple[int, int]:
    """Where the part in ``data[start:end]`` ends its headers and starts its body.

    The first empty line ends the headers, whatever its line ending: looking for CRLF CRLF
    first would let a body holding one split a bare-LF part there, and hide the text before
    it from the scan as headers."""
    pos = start
    while (line_end := data.find(b"\n", pos, end)) >= 0:
        if line_end - pos <= 1 and data[pos:line_end] in (b"", b"\r"):
            return pos, line_end + 1
        pos = line_end + 1
    return end, end  # no empty line: all headers, no body
