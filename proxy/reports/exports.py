"""Streamed exports of detections and findings as CSV or NDJSON.

Rows are read with ``yield_per`` on a server-side cursor and written out a chunk at a time,
so an export of millions of rows holds one chunk in memory, never the whole result.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from shadowlens.proxy.inventory import store
from shadowlens.proxy.inventory.models import Detection, FindingRow
from shadowlens.proxy.reports.csvcells import SafeWriter

FORMATS = ("csv", "ndjson")
CHUNK_ROWS = 1000

DETECTION_FIELDS = (*(c.name for c in Detection.__table__.columns), "justification")
FINDING_FIELDS = tuple(c.name for c in FindingRow.__table__.columns)
IDENTITY_FIELDS = frozenset({"user", "client_ip", "groups", "account"})


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _stream(
    sessions: sessionmaker[Session], query: Any, fields: tuple[str, ...], fmt: str
) -> Iterator[str]:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    buffer = io.StringIO()
    writer = SafeWriter(buffer) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(fields)
    with sessions() as session:
        rows = session.scalars(query.execution_options(yield_per=CHUNK_ROWS))
        for n, row in enumerate(rows, start=1):
            values = [_plain(getattr(row, f)) for f in fields]
            if writer is not None:
                writer.writerow(values)
            else:
                buffer.write(json.dumps(dict(zip(fields, values, strict=True))) + "\n")
            if n % CHUNK_ROWS == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def export_detections(
    sessions: sessionmaker[Session], *, filters: store.DetectionFilter, fmt: str
) -> Iterator[str]:
    """Detections matching ``filters``, newest first, as CSV or NDJSON text chunks."""
    query = store.detections_query(filters).order_by(Detection.ts.desc(), Detection.id.desc())
    return _stream(sessions, query, DETECTION_FIELDS, fmt)


def export_findings(
    sessions: sessionmaker[Session], *, filters: store.FindingFilter, fmt: str
) -> Iterator[str]:
    """Findings matching ``filters``, newest first, as CSV or NDJSON text chunks."""
    order = (FindingRow.ts.desc(), FindingRow.detection_id.desc(), FindingRow.seq)
    return _stream(sessions, store.findings_query(filters).order_by(*order), FINDING_FIELDS, fmt)
