"""Text in images (PNG, JPEG, WebP) read by the ``tesseract`` binary, when it is installed.

Called from the DLP body walk, which runs in a worker thread for any body that is not a
small JSON, text or form body (see ``quick_to_scan``), so OCR never runs on the event loop.
An image is read only when its header names a size within the pixel cap; tesseract gets the
time cap and one thread. Every image not read is counted in
``shadowlens_dlp_ocr_skipped_total`` with the reason.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from functools import lru_cache

SKIP_FLAG = "ocr-skipped:"  # then the reason and the location
IMAGE_TYPES = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff"}


def image_kind(data: bytes) -> str | None:
    """``png``, ``jpeg`` or ``webp`` by the file's magic number, else None."""
    for kind, magic in IMAGE_TYPES.items():
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the image header, or None when it cannot be read."""
    try:
        kind = image_kind(data)
        if kind == "png" and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if kind == "jpeg":
            return _jpeg_size(data)
        if kind == "webp":
            return _webp_size(data)
    except (struct.error, IndexError):
        return None
    return None


_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None


@lru_cache(maxsize=1)
def tesseract_path() -> str | None:
    """Where the tesseract binary is, or None when it is not installed."""
    return shutil.which("tesseract")


def ocr_text(data: bytes, *, timeout: float, max_pixels: int) -> tuple[str | None, str]:
    """The text tesseract reads in the image, or None and the reason it was skipped
    (``unavailable``, ``unreadable``, ``too_many_pixels``, ``timeout``, ``failed``)."""
    binary = tesseract_path()
    reason = ""
    size = image_size(data)
    if binary is None:
        reason = "unavailable"
    elif size is None or 0 in size:
        reason = "unreadable"
    elif size[0] * size[1] > max_pixels:
        reason = "too_many_pixels"
    if reason:
        return None, reason
    assert binary is not None
    return _run(binary, data, timeout)


def _run(binary: str, data: bytes, timeout: float) -> tuple[str | None, str]:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one core per image, the proxy needs the rest
    try:
        done = subprocess.run(
            [binary, "stdin", "stdout", "--psm", "3"],
            input=data,
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        reason = "timeout"
    except OSError:
        reason = "failed"
    else:
        if done.returncode == 0:
            return done.stdout.decode("utf-8", "replace"), ""
        reason = "failed"  # stderr is not logged: it can quote what it read
    return None, reason


def skip_flag(reason: str, location: str) -> str:
    """The report's flag for an image not read."""
    return f"{SKIP_FLAG}{reason}:{location}"
