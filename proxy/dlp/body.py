"""Inspect and redact an HTTP request body: the entry points of the DLP body walk.

:func:`inspect_body` decodes a body (:mod:`proxy.dlp.decoding`) and scans every text in it
(:mod:`proxy.dlp.walk`). It never raises on bad input: every limit that is hit becomes a
finding of category ``limit``. :func:`redact_body` walks the body again the same way, masks
the findings in the texts their ``location`` names and encodes the body again as it came.
Here too: whether a body is quick enough to scan inline, and which findings sit in the
prompt of a known chat/LLM request shape.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from shadowlens.proxy.dlp.decoding import compress, content_encodings, content_kind, media_type
from shadowlens.proxy.dlp.documents import RedactionError
from shadowlens.proxy.dlp.model import BodyReport, DlpLimits, Finding
from shadowlens.proxy.dlp.redact import Replacement, mask_label
from shadowlens.proxy.dlp.walk import Walk, decode_layers, walk_content

if TYPE_CHECKING:  # typing only: a scanner is handed in
    from shadowlens.proxy.dlp.engine import Scanner

log = logging.getLogger(__name__)

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


# A plain body up to this size is scanned on the event loop: under 2 ms for 64 KiB of prose
# and code, and cheaper than a worker thread, which shares the GIL with the loop and makes
# each of them wait for the other (BENCHMARKS.md, "Proxy overhead with TLS interception").
QUICK_BYTES = 65_536
# The base64 (standard, URL-safe, percent-encoded) of a PNG, JPEG or WebP/RIFF file's start.
# How a base64 PNG, JPEG or WebP begins (also URL-safe and percent-encoded): plain substrings,
# which bytes.find looks for far faster than one regex alternation does.
_BASE64_IMAGE_MARKS = (b"iVBORw0KGgo", b"/9j/", b"_9j_", b"%2F9j%2F", b"UklGR")


def is_prompt_location(location: str) -> bool:
    """True when the JSON pointer names prompt text in a known chat/LLM API request shape."""
    return bool(_PROMPT_POINTER.match(location))


def quick_to_scan(body: bytes, *, content_type: str | None, content_encoding: str | None) -> bool:
    """Whether :func:`inspect_body` of ``body`` is bounded by its size, tens of µs a KiB.

    True for a small JSON, text or form body without Content-Encoding and without a base64
    image in it. A compressed body, or a few KiB of multipart, ZIP or PDF, may inflate up to
    the decoding cap; an image is read with OCR, which takes seconds.
    """
    if len(body) > QUICK_BYTES or content_encodings(content_encoding) or _holds_image(body):
        return False
    media, _ = media_type(content_type)
    return content_kind(media, "", body) in ("json", "text", "form")


def _holds_image(body: bytes) -> bool:
    return any(mark in body for mark in _BASE64_IMAGE_MARKS)


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
    walk = Walk(limits=limits, report=report, scanner=scanner)
    try:
        if len(content) > limits.max_body_bytes:
            walk.limit("dlp-body-too-large", "", "medium", truncating=True)
            content = content[: limits.max_body_bytes]
            if content_encodings(content_encoding):
                return report
        decoded = decode_layers(walk, content, content_encoding)
        if decoded is None:
            return report
        data, _ = decoded
        report.decoded_bytes = len(data)
        media, params = media_type(content_type)
        report.media = content_kind(media, "", data)
        walk_content(walk, data, media, params, "", 0)
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
    walk = Walk(limits=limits, report=report, scanner=scanner)
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
    walk = Walk(limits=limits, report=BodyReport(), masks=dict(masks), label=label)
    decoded = decode_layers(walk, content, content_encoding)
    if decoded is None or walk.report.truncated:
        raise RedactionError("the body no longer decodes as it did when scanned")
    data, variants = decoded
    media, params = media_type(content_type)
    new = walk_content(walk, data, media, params, "", 0)
    if new is data:
        return content, {}
    for variant in reversed(variants):
        new = compress(new, variant)
    return new, {"Content-Length": str(len(new))}


def findings_in_prompt(findings: Sequence[Finding]) -> list[Finding]:
    """The findings located in prompt text of a known chat/LLM request shape."""
    return [f for f in findings if is_prompt_location(f.location.removeprefix("base64:"))]
