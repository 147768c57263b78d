"""The journal: detections written ahead of the answer, so a killed proxy loses none it answered.

An AI flow's event is appended here before its response (or error) goes to the client, and
only then queued for the database. After a SIGKILL, an OOM kill or a crash, the next start
moves what the journal holds into the spool, which replays it; the insert ignores ids it
already has, so events the database took before the kill are not doubled.

The journal is a series of segment files, ``inventory.journal.<n>``, holding batches in the
spool's line format. A segment past :data:`SEGMENT_BYTES` is sealed and a new one begun; a
sealed segment is deleted once every event in it is in the database or the spool.

Two modes (``SHADOWLENS_JOURNAL``):

- ``write``: one ``write()`` per event, on the event loop. The kernel holds the line once the
  call returns, so it survives the process being killed, though not a power cut.
- ``fsync``: events of concurrent flows are grouped, and each group is written and
  ``fdatasync``-ed in a worker thread (group commit); it survives a power cut too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.inventory.spool import Spool, batch_line

log = logging.getLogger(__name__)

JOURNAL_PREFIX = "inventory.journal."
SEGMENT_BYTES = 4 * 1024 * 1024
_SEGMENT_NAME = re.compile(re.escape(JOURNAL_PREFIX) + r"(\d+)")


class Segment:
    """One journal file, and how many of its events still wait to be written elsewhere."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.size = 0
        self.outstanding = 0  # events not yet in the database or the spool
        self.sealed = False

    def seal(self) -> None:
        """Write no more here; the file stays until its events are written elsewhere."""
        if not self.sealed:
            self.sealed = True
            os.close(self.fd)


class Journal:
    """Segment files in ``directory``; those a previous process left are in ``left_behind``."""

    def __init__(self, directory: Path, *, sync: bool, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self.sync = sync
        self.segment_bytes = segment_bytes
        found = sorted(
            (int(m[1]), p) for p in _listing(directory) if (m := _SEGMENT_NAME.fullmatch(p.name))
        )
        self.left_behind = [path for _, path in found]
        self._next = found[-1][0] + 1 if found else 0
        self._segments: list[Segment] = []  # the active one last

    def append(self, events: Sequence[DetectionEvent]) -> Segment:
        """Write one batch (and sync it in ``fsync`` mode); the segment that holds it.

        After a failed write the segment is sealed, so a torn line ends its file, where a
        reader skips it, and cannot swallow the next batch.
        """
        segment = self._active()
        line = batch_line(events)
        try:
            _write_all(segment.fd, line)
            if self.sync:
                os.fdatasync(segment.fd)
        except OSError:
            segment.seal()
            raise
        segment.size += len(line)
        return segment

    def prune(self) -> None:
        """Delete the sealed segments whose events are all written elsewhere."""
        for segment in [s for s in self._segments if s.sealed and s.outstanding <= 0]:
            self._segments.remove(segment)
            with contextlib.suppress(FileNotFoundError):
                segment.path.unlink()

    def close(self) -> None:
        """Seal the active segment and delete every segment nothing waits for any more."""
        for segment in self._segments:
            segment.seal()
        self.prune()
        kept = sum(s.outstanding for s in self._segments)
        if kept:
            log.warning("inventory journal keeps %d unwritten events for the next start", kept)

    def _active(self) -> Segment:
        if self._segments and not self._segments[-1].sealed:
            active = self._segments[-1]
            if active.size < self.segment_bytes:
                return active
            active.seal()
        self.directory.mkdir(parents=True, exist_ok=True)
        segment = Segment(self.directory / f"{JOURNAL_PREFIX}{self._next}")
        self._next += 1
        self._segments.append(segment)
        return segment


def left_behind_batches(path: Path) -> Iterator[list[DetectionEvent]]:
    """The batches in a segment a previous process left; a torn last line is skipped."""
    for _, events in Spool(path, max_bytes=0).batches():
        yield events


def _listing(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except FileNotFoundError:
        return []


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
