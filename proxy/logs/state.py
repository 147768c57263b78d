"""How far each log has been read, so that scanning it again reads only what was added.

A log is known by the SHA-256 of its first bytes (up to :data:`HEAD_BYTES`, decompressed),
not by its name or inode: a copy, a rename or its ``.gz`` is the same log, and a log that
grew keeps its first bytes. The offset moves in the same transaction as the counts it
stands for, and only from the value this scan read, so two scans of one log cannot both
count it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shadowlens.proxy.inventory.models import LogFile

HEAD_BYTES = 64 * 1024


class ConcurrentScanError(RuntimeError):
    """Another scan moved this log's offset since this one read it."""


@dataclass
class Position:
    """Where a log's reading stands: its identity and how far it was read."""

    head_hash: str
    head_len: int
    offset: int = 0
    lines: int = 0
    stored: bool = False  # a row exists with this head_hash and offset


def digest(head: bytes) -> str:
    return hashlib.sha256(head).hexdigest()


def find(session: Session, head: bytes) -> Position:
    """The stored position of the log starting with ``head``, or a fresh one."""
    lengths = session.scalars(
        select(LogFile.head_len).distinct().where(LogFile.head_len <= len(head))
    ).all()
    hashes = [digest(head[:n]) for n in lengths if n > 0]
    rows = session.scalars(select(LogFile).where(LogFile.head_hash.in_(hashes))).all()
    if not rows:
        return Position(digest(head), len(head))
    row = max(rows, key=lambda r: r.head_len)
    return Position(row.head_hash, row.head_len, row.offset, row.lines, stored=True)


def advance(
    session: Session, position: Position, *, head: bytes, offset: int, lines: int, name: str,
    fmt: str,
) -> None:  # fmt: skip
    """Move ``position`` to ``offset`` in the caller's transaction; ConcurrentScanError: a race."""
    values = {
        "head_hash": digest(head), "head_len": len(head), "offset": offset, "lines": lines,
        "name": name[-1024:], "format": fmt, "updated_at": datetime.now(UTC),
    }  # fmt: skip
    if position.stored:
        moved = session.execute(
            update(LogFile)
            .where(LogFile.head_hash == position.head_hash, LogFile.offset == position.offset)
            .values(values)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentScanError(f"{name}: another scan read this log at the same time")
    else:
        try:
            with session.begin_nested():
                session.add(LogFile(**values))
        except IntegrityError as exc:
            raise ConcurrentScanError(
                f"{name}: another scan read this log at the same time"
            ) from exc
    position.head_hash, position.head_len = values["head_hash"], len(head)  # type: ignore[assignment]
    position.offset, position.lines, position.stored = offset, lines, True
