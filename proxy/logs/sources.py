"""Log inputs: a file or stdin, gzip or zstd read transparently (by their magic bytes)."""

from __future__ import annotations

import gzip
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import zstandard

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass
class LogSource:
    """An open log: ``stream`` gives its (decompressed) bytes."""

    name: str
    raw: BinaryIO
    stream: BinaryIO
    size: int | None  # bytes of the file on disk, for progress; None for stdin
    compressed: bool

    @property
    def plain_file(self) -> bool:
        """A file on disk read as it is: workers can read their slices of it themselves."""
        return self.size is not None and not self.compressed

    def position(self) -> int:
        """How far into the file on disk reading has come (for progress)."""
        try:
            return self.raw.tell()
        except (OSError, ValueError):
            return 0

    def skip(self, count: int) -> int:
        """Pass over ``count`` bytes of the stream; how many there were."""
        if not self.compressed and self.stream.seekable():
            here = self.stream.tell()
            end = min(here + count, self.stream.seek(0, io.SEEK_END))
            self.stream.seek(end)
            return end - here
        skipped = 0
        while skipped < count and (block := self.stream.read(min(count - skipped, 1 << 20))):
            skipped += len(block)
        return skipped

    def close(self) -> None:
        self.stream.close()
        if self.raw is not sys.stdin.buffer:
            self.raw.close()


@dataclass(frozen=True, slots=True)
class FileSlice:
    """Whole lines of a plain log, ``start`` to ``end``: a worker reads them itself, so the
    bytes do not go through a pipe."""

    path: str
    start: int
    end: int

    def read(self) -> bytes:
        """The slice's bytes; OSError when the file no longer holds them all."""
        with Path(self.path).open("rb") as handle:
            data = os.pread(handle.fileno(), self.end - self.start, self.start)
        if len(data) != self.end - self.start:
            raise OSError(f"{self.path} was cut short while it was read")
        return data


def open_source(name: str, stdin: BinaryIO | None = None) -> LogSource:
    """Open ``name`` (``-``: stdin) for reading; OSError when it cannot be read."""
    if name == "-":
        raw: BinaryIO = stdin or sys.stdin.buffer
        size = None
    else:
        raw = Path(name).open("rb")  # noqa: SIM115 - LogSource.close closes it
        size = Path(name).stat().st_size
    peekable: Any = raw if hasattr(raw, "peek") else io.BufferedReader(cast(Any, raw))
    magic = peekable.peek(4)[:4]
    stream: BinaryIO = peekable
    if magic.startswith(GZIP_MAGIC):
        stream = cast(BinaryIO, gzip.GzipFile(fileobj=peekable, mode="rb"))
    elif magic == ZSTD_MAGIC:
        reader = zstandard.ZstdDecompressor().stream_reader(peekable, read_across_frames=True)
        stream = cast(BinaryIO, io.BufferedReader(reader))
    return LogSource(
        "stdin" if name == "-" else name, raw, stream, size, compressed=stream is not peekable
    )
