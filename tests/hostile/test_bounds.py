"""Bounds on hostile bodies: memory stays bounded and the body is flagged, never expanded.

Peak memory is measured with tracemalloc around the one call (bytes objects, zlib, brotli
and zstd output buffers are all Python allocations).
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

import pytest

from shadowlens.proxy.dlp import DlpLimits, Scanner, inspect_body, redact_body
from shadowlens.proxy.dlp.model import BodyReport
from tests.hostile.bombs import BOMBS, GIB

LIMITS = DlpLimits()  # the shipped defaults: 8 MiB held, 16 MiB decoded
MIB = 1 << 20
T = TypeVar("T")


def _peak[T](call: Callable[[], T]) -> tuple[T, int, float]:
    """The result of ``call``, the peak bytes it allocated, and the seconds it took."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak, time.perf_counter() - started


def _inspected(
    scanner: Scanner, body: bytes, content_type: str, encoding: str | None = None
) -> tuple[BodyReport, int, float]:
    """The report on ``body``, the peak bytes inspecting it allocated, and the seconds."""
    return _peak(
        lambda: inspect_body(
            body,
            content_type=content_type,
            content_encoding=encoding,
            scanner=scanner,
            limits=LIMITS,
        )
    )


def _detectors(report: BodyReport) -> set[str]:
    return {f.detector for f in report.findings}


@pytest.fixture(scope="module", params=sorted(BOMBS))
def bomb(request: pytest.FixtureRequest) -> tuple[str, bytes]:
    return request.param, BOMBS[request.param](GIB)


def test_a_one_gib_bomb_is_capped_and_flagged(scanner: Scanner, bomb: tuple[str, bytes]) -> None:
    encoding, body = bomb
    report, peak, _ = _inspected(scanner, body, "application/json", encoding)
    assert "dlp-decompression-bomb" in _detectors(report)
    assert report.truncated and not report.complete
    assert f"decoded-size-capped:{encoding}" in report.flags
    assert report.decoded_bytes <= LIMITS.max_decoded_bytes
    # the cap, a copy of it and the compressed input: far below the 1 GiB it would inflate to
    assert peak < 3 * LIMITS.max_decoded_bytes + len(body) + 8 * MIB, peak
    # nothing to mask: the bomb goes on as it came, never inflated to be rewritten
    assert redact_body(
        body,
        content_type="application/json",
        content_encoding=encoding,
        report=report,
        limits=LIMITS,
    ) == (body, {})


def test_a_bomb_inside_a_stack_of_encodings(scanner: Scanner) -> None:
    body = BOMBS["zstd"](GIB)
    report, peak, _ = _inspected(scanner, body, "text/plain", "zstd, identity")
    assert "dlp-decompression-bomb" in _detectors(report)
    assert peak < 64 * MIB


def test_fifty_thousand_multipart_parts(scanner: Scanner) -> None:
    part = b'--b\r\nContent-Disposition: form-data; name="f"\r\n\r\nhello\r\n'
    body = part * 50_000 + b"--b--\r\n"
    report, peak, seconds = _inspected(scanner, body, "multipart/form-data; boundary=b", None)
    assert "dlp-too-many-segments" in _detectors(report)
    assert not report.complete
    assert report.segments == 50_000  # every part walked, the scan stopped at the cap
    assert peak < 20 * len(body), (peak, len(body))
    assert seconds < 30


def test_a_body_over_the_held_size_is_cut_and_flagged(scanner: Scanner) -> None:
    body = b"x" * (LIMITS.max_body_bytes + 1)
    report, _, _ = _inspected(scanner, body, "text/plain")
    assert "dlp-body-too-large" in _detectors(report) and report.truncated


def test_invalid_utf8_around_a_secret_is_scanned_and_kept_byte_for_byte(scanner: Scanner) -> None:
    secret = "AKIAZ7Q2XK4M7TR3WB6P"
    body = (
        b'{"messages":[{"role":"user","content":"\xff\xfe bad \xc3( key '
        + secret.encode()
        + b' \xed\xa0\x80"}]}'
    )
    report, _, _ = _inspected(scanner, body, "application/json; charset=utf-8")
    assert "aws-access-key-id" in _detectors(report)
    assert "internal-error" not in report.flags
    redacted, _ = redact_body(
        body, content_type="application/json", content_encoding=None, report=report, limits=LIMITS
    )
    assert secret.encode() not in redacted
    assert redacted.startswith(b'{"messages":[{"role":"user","content":"\xff\xfe bad \xc3( key ')
    assert redacted.endswith(b' \xed\xa0\x80"}]}')


def test_invalid_utf8_outside_strings_is_malformed_json_still_scanned(scanner: Scanner) -> None:
    body = b'{"a": \xff, "b": "AKIAZ7Q2XK4M7TR3WB6P"}'
    report, _, _ = _inspected(scanner, body, "application/json")
    assert "aws-access-key-id" in _detectors(report)
    assert any(flag.startswith("malformed-json") for flag in report.flags)


def test_many_small_json_strings_hit_the_segment_cap(scanner: Scanner) -> None:
    body = json.dumps(["x"] * (LIMITS.max_segments + 10)).encode()
    report, peak, _ = _inspected(scanner, body, "application/json", None)
    assert "dlp-too-many-segments" in _detectors(report)
    assert peak < 64 * MIB
