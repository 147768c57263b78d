"""Queries on the inventory: the writer's batch insert and the API's reads."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, literal, or_, select
from sqlalchemy.orm import Session

from shadowlens.proxy.inventory import aggregates
from shadowlens.proxy.inventory.bulk import BulkInsert, skipping
from shadowlens.proxy.inventory.events import (
    DETECTION_COLUMNS,
    FINDING_COLUMNS,
    JUSTIFICATION_COLUMNS,
    DetectionEvent,
)
from shadowlens.proxy.inventory.models import Detection, FindingRow, Justification, ServiceSeen


def record_detections(session: Session, *, events: Sequence[DetectionEvent]) -> int:
    """Insert a batch idempotently and fold the new rows into the counters and rollups.

    A handful of statements per batch whatever its size (see :mod:`proxy.inventory.bulk`);
    an event already stored (a spool replay) is skipped and not counted twice.
    """
    inserted = {i for (i,) in DETECTIONS.run(session, [e.detection_values() for e in events])}
    fresh = [e for e in events if e.id in inserted]
    FINDINGS.run(session, [row for e in fresh for row in e.finding_values()])
    JUSTIFICATIONS.run(session, [row for e in fresh if (row := e.justification_values())])
    aggregates.fold(session, events=fresh)
    return len(fresh)


DETECTIONS = BulkInsert(Detection, DETECTION_COLUMNS, skipping("id"), returning=("id",))
FINDINGS = BulkInsert(FindingRow, FINDING_COLUMNS)
JUSTIFICATIONS = BulkInsert(Justification, JUSTIFICATION_COLUMNS)


def running_grants(
    session: Session, *, now: datetime
) -> list[tuple[str | None, str, str, datetime]]:
    """Coaching grants not yet over, from every proxy: (user, client ip, service id, until)."""
    rows = session.execute(
        select(
            Justification.user,
            Justification.client_ip,
            Justification.service_id,
            Justification.allowed_until,
        ).where(Justification.allowed_until > now)
    )
    return [(user, ip, service, until) for user, ip, service, until in rows]


def list_services(session: Session, *, limit: int = 500) -> Sequence[ServiceSeen]:
    """Services seen, most recently seen first."""
    query = select(ServiceSeen).order_by(ServiceSeen.last_seen.desc(), ServiceSeen.id)
    return session.scalars(query.limit(limit)).all()


@dataclass(frozen=True, slots=True)
class DetectionFilter:
    """What an analyst narrows detections by; ``None`` means no constraint."""

    service: str | None = None
    user: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    group: str | None = None
    category: str | None = None
    action: str | None = None
    evidence: str | None = None
    detector: str | None = None  # detections with a finding of this detector
    severity: str | None = None  # detections with a finding of this severity
    conversation: str | None = None  # the web app's conversation id


def _in_group(column: Any, group: str) -> Any:
    """``column`` (comma-separated groups) holds ``group``."""
    return (literal(",") + column + literal(",")).contains(f",{group},", autoescape=True)


def _cursor(ts: datetime, key: str) -> str:
    return base64.urlsafe_b64encode(f"{ts.isoformat()}|{key}".encode()).decode()


def encode_cursor(row: Detection) -> str:
    """An opaque cursor pointing just after ``row`` in newest-first order."""
    return _cursor(row.ts, row.id)


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (ts, id) a cursor points after; ValueError when it is not one of ours."""
    try:
        ts, _, key = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(ts), key
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("malformed cursor") from exc


def _filtered(query: Select[Any], filters: DetectionFilter) -> Select[Any]:
    if filters.service is not None:
        query = query.where(Detection.service_id == filters.service)
    if filters.user is not None:
        query = query.where(Detection.user == filters.user)
    if filters.since is not None:
        query = query.where(Detection.ts >= filters.since)
    if filters.until is not None:
        query = query.where(Detection.ts < filters.until)
    if filters.group is not None:
        query = query.where(_in_group(Detection.groups, filters.group))
    if filters.action is not None:
        query = query.where(Detection.action == filters.action)
    if filters.evidence is not None:
        query = query.where(Detection.evidence == filters.evidence)
    if filters.conversation is not None:
        query = query.where(Detection.conversation == filters.conversation)
    if filters.category is not None:
        in_category = select(ServiceSeen.id).where(ServiceSeen.category == filters.category)
        query = query.where(Detection.service_id.in_(in_category))
    if filters.detector is not None or filters.severity is not None:
        hit = select(FindingRow.detection_id).where(FindingRow.detection_id == Detection.id)
        if filters.detector is not None:
            hit = hit.where(FindingRow.detector == filters.detector)
        if filters.severity is not None:
            hit = hit.where(FindingRow.severity == filters.severity)
        query = query.where(exists(hit))
    return query


def list_detections(
    session: Session, *, filters: DetectionFilter, limit: int, cursor: str | None = None
) -> tuple[Sequence[Detection], str | None]:
    """A page of detections, newest first, and the cursor of the next page (None at the end)."""
    query = _filtered(select(Detection), filters)
    if cursor is not None:
        ts, event_id = decode_cursor(cursor)
        query = query.where(
            or_(Detection.ts < ts, and_(Detection.ts == ts, Detection.id < event_id))
        )
    rows: Sequence[Detection] = session.scalars(
        query.order_by(Detection.ts.desc(), Detection.id.desc()).limit(limit + 1)
    ).all()
    page = rows[:limit]
    return page, encode_cursor(page[-1]) if len(rows) > limit else None


@dataclass(frozen=True, slots=True)
class JustificationFilter:
    """What an analyst narrows coaching justifications by; ``None`` means no constraint."""

    service: str | None = None
    user: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_justifications(
    session: Session, *, filters: JustificationFilter, limit: int, cursor: str | None = None
) -> tuple[Sequence[Justification], str | None]:
    """A page of coaching justifications, newest first, and the cursor of the next page."""
    query = select(Justification)
    if filters.service is not None:
        query = query.where(Justification.service_id == filters.service)
    if filters.user is not None:
        query = query.where(Justification.user == filters.user)
    if filters.since is not None:
        query = query.where(Justification.ts >= filters.since)
    if filters.until is not None:
        query = query.where(Justification.ts < filters.until)
    if cursor is not None:
        ts, key = decode_cursor(cursor)
        query = query.where(
            or_(Justification.ts < ts, and_(Justification.ts == ts, Justification.id < key))
        )
    order = (Justification.ts.desc(), Justification.id.desc())
    rows = session.scalars(query.order_by(*order).limit(limit + 1)).all()
    page = rows[:limit]
    return page, _cursor(page[-1].ts, page[-1].id) if len(rows) > limit else None


@dataclass(frozen=True, slots=True)
class FindingFilter:
    """What an analyst narrows findings by; ``None`` means no constraint."""

    detector: str | None = None
    category: str | None = None
    severity: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    user: str | None = None
    group: str | None = None
    service: str | None = None
    action: str | None = None
    conversation: str | None = None


def findings_query(filters: FindingFilter) -> Select[Any]:
    """The findings matching ``filters``, unordered."""
    query = select(FindingRow)
    for column, value in (
        (FindingRow.detector, filters.detector),
        (FindingRow.category, filters.category),
        (FindingRow.severity, filters.severity),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.since is not None:
        query = query.where(FindingRow.ts >= filters.since)
    if filters.until is not None:
        query = query.where(FindingRow.ts < filters.until)
    of_detection = [
        condition
        for condition, value in (
            (Detection.user == filters.user, filters.user),
            (Detection.service_id == filters.service, filters.service),
            (Detection.action == filters.action, filters.action),
            (Detection.conversation == filters.conversation, filters.conversation),
            (_in_group(Detection.groups, filters.group or ""), filters.group),
        )
        if value is not None
    ]
    if of_detection:
        query = query.join(Detection, Detection.id == FindingRow.detection_id).where(*of_detection)
    return query


def detections_query(filters: DetectionFilter) -> Select[Any]:
    """The detections matching ``filters``, unordered."""
    return _filtered(select(Detection), filters)


def list_findings(
    session: Session, *, filters: FindingFilter, limit: int, cursor: str | None = None
) -> tuple[Sequence[FindingRow], str | None]:
    """A page of findings, newest first, and the cursor of the next page (None at the end)."""
    query = findings_query(filters)
    if cursor is not None:
        ts, key = decode_cursor(cursor)
        detection_id, _, seq = key.partition("/")
        after = and_(FindingRow.ts == ts, FindingRow.detection_id == detection_id)
        query = query.where(
            or_(
                FindingRow.ts < ts,
                and_(FindingRow.ts == ts, FindingRow.detection_id < detection_id),
                and_(after, FindingRow.seq > int(seq or 0)),
            )
        )
    order = (FindingRow.ts.desc(), FindingRow.detection_id.desc(), FindingRow.seq)
    rows: Sequence[FindingRow] = session.scalars(query.order_by(*order).limit(limit + 1)).all()
    page = rows[:limit]
    if len(rows) <= limit:
        return page, None
    last = page[-1]
    return page, _cursor(last.ts, f"{last.detection_id}/{last.seq}")
