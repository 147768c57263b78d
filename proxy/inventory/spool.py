"""The spool: an append-only file that keeps batches the database could not take.

When a batch write fails, the writer appends the batch here as one JSON line and fsyncs it,
so the events survive the database being away and the proxy being killed. Batches are
replayed in the order they were spooled. Replay is safe to repeat (events have unique ids and
the insert ignores ids it already has), so a crash in the middle of a replay costs only time.

The file holds what detections hold: no bodies, no secrets, only masked previews and keyed
fingerprints of DLP findings.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from shadowlens.proxy.inventory.events import DetectionEvent, FindingRecord

log = logging.getLogger(__name__)

SPOOL_NAME = "inventory.spool"
_OFFSET_SUFFIX = ".offset"
_FORMAT = 1


_FIELDS = DetectionEvent.__dataclass_fields__
_FINDING_FIELDS = tuple(FindingRecord.__dataclass_fields__)
_DATETIME_FIELDS = frozenset(n for n, f in _FIELDS.items() if "datetime" in str(f.type))


def event_to_json(event: DetectionEvent) -> dict[str, Any]:
    """The event as JSON-safe data."""
    data = {name: getattr(event, name) for name in _FIELDS}
    for name in _DATETIME_FIELDS:
        if data[name] is not None:
            data[name] = data[name].isoformat()
    # one level of plain fields: faster than asdict, which copies deep, on the AI hot path
    data["findings"] = [{n: getattr(f, n) for n in _FINDING_FIELDS} for f in event.findings]
    return data


def event_from_json(data: dict[str, Any]) -> DetectionEvent:
    """The event :func:`event_to_json` wrote; fields it does not know are ignored."""
    known = {k: v for k, v in data.items() if k in _FIELDS}
    for name in _DATETIME_FIELDS & known.keys():
        if known[name] is not None:
            known[name] = datetime.fromisoformat(known[name])
    known["findings"] = tuple(FindingRecord(**f) for f in known.get("findings", ()))
    return DetectionEvent(**known)


def batch_line(events: Sequence[DetectionEvent]) -> bytes:
    """One batch as the newline-ended JSON line that spool and journal files hold."""
    data = {"v": _FORMAT, "events": [event_to_json(e) for e in events]}
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


class SpoolFullError(Exception):
    """The batch would take the spool past its size cap; it was not written."""


class Spool:
    """Batches kept on disk, in order, until the database takes them.

    One writer owns it. Appending and recording replay progress take a lock, so a batch
    appended while a replay finishes (at shutdown) is never cleared with the replayed ones.
    """

    def __init__(self, path: Path, *, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._offset_path = path.with_name(path.name + _OFFSET_SUFFIX)
        self._lock = threading.Lock()
        self.read_to = 0  # how far the last :meth:`batches` read, torn lines included

    @property
    def size(self) -> int:
        """Bytes in the spool file, replayed batches included until it is cleared."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def pending(self) -> bool:
        """Whether batches wait to be replayed."""
        return self.size > self._read_offset()

    def append(self, events: Sequence[DetectionEvent]) -> None:
        """Append one batch and fsync it; :class:`SpoolFullError` past the cap."""
        line = batch_line(events)
        with self._lock:
            if self.size + len(line) > self.max_bytes:
                raise SpoolFullError(f"spool at {self.size} bytes; cap {self.max_bytes}")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                end = os.fstat(fd).st_size
                if end and os.pread(fd, 1, end - 1) != b"\n":
                    line = b"\n" + line  # end a torn line, so it cannot swallow this batch
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def batches(self) -> Iterator[tuple[int, list[DetectionEvent]]]:
        """Each batch not yet replayed, with the offset just past it, oldest first.

        A torn last line (the process died while appending) is skipped: its batch had not
        been fsynced, so it was never acknowledged as kept. A corrupt line elsewhere is
        logged and skipped, so one bad line cannot hold the rest back.
        """
        offset = self.read_to = self._read_offset()
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return
        with handle:
            handle.seek(offset)
            for raw in handle:
                offset += len(raw)
                self.read_to = offset
                if not raw.endswith(b"\n"):
                    log.warning("spool %s ends in a torn line; skipping it", self.path)
                    continue
                try:
                    events = [event_from_json(e) for e in json.loads(raw)["events"]]
                except (ValueError, KeyError, TypeError) as exc:
                    log.error("spool %s: skipping a corrupt line: %s", self.path, exc)
                    continue
                yield offset, events

    def mark_replayed(self, offset: int) -> None:
        """Remember that everything before ``offset`` is in the database; at the end, clear."""
        with self._lock:
            if offset >= self.size:
                self._remove()
                return
            tmp = self._offset_path.with_suffix(".tmp")
            tmp.write_text(str(offset))
            tmp.replace(self._offset_path)

    def clear(self) -> None:
        """Remove the spool: everything in it is in the database (or was given up)."""
        with self._lock:
            self._remove()

    def _remove(self) -> None:
        for path in (self.path, self._offset_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _read_offset(self) -> int:
        try:
            return int(self._offset_path.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0
