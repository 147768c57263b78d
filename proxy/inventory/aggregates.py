"""Aggregates the writer keeps up to date with each batch: users, rollups, per-service sets.

Every statement is an ``INSERT … ON CONFLICT`` that adds to counters or keeps the earliest and
latest times, so any number of proxies writing to one PostgreSQL never lose an update. Rows
are sorted by key before they are written, so two concurrent batches lock rows in the same
order and cannot deadlock each other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.orm import Session

from proxy.inventory.events import DetectionEvent
from proxy.inventory.models import (
    FindingRollup,
    HourlyRollup,
    ServiceDataClass,
    ServiceSeen,
    ServiceUser,
    UserSeen,
)


def insert_for(session: Session, model: type[Any]) -> Any:
    """An ``INSERT`` with ``ON CONFLICT`` support for the session's dialect."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def _greatest(session: Session, a: Any, b: Any) -> Any:
    postgres = session.get_bind().dialect.name == "postgresql"
    return func.greatest(a, b) if postgres else func.max(a, b)


def _least(session: Session, a: Any, b: Any) -> Any:
    postgres = session.get_bind().dialect.name == "postgresql"
    return func.least(a, b) if postgres else func.min(a, b)


def hour_of(ts: datetime) -> datetime:
    """The start of the hour ``ts`` falls in."""
    return ts.replace(minute=0, second=0, microsecond=0)


def fold(session: Session, *, events: Sequence[DetectionEvent]) -> None:
    """Add freshly inserted ``events`` (never a replayed one) to every aggregate."""
    if not events:
        return
    _count_service_users(session, events)
    _upsert_users(session, events)
    _upsert_rollups(session, events)
    _upsert_finding_rollups(session, events)
    _note_data_classes(session, events)


def _count_service_users(session: Session, events: Sequence[DetectionEvent]) -> None:
    pairs: dict[tuple[str, str], datetime] = {}
    for e in events:
        if e.user is not None:
            key = (e.service_id, e.user)
            pairs[key] = min(pairs.get(key, e.ts), e.ts)
    if not pairs:
        return
    rows = [{"service_id": s, "user": u, "first_seen": ts} for (s, u), ts in sorted(pairs.items())]
    insert = insert_for(session, ServiceUser).on_conflict_do_nothing()
    new = Counter(session.scalars(insert.returning(ServiceUser.service_id), rows))
    for service_id, count in sorted(new.items()):
        session.execute(
            update(ServiceSeen)
            .where(ServiceSeen.id == service_id)
            .values(users=ServiceSeen.users + count)
        )


def _upsert_users(session: Session, events: Sequence[DetectionEvent]) -> None:
    users: dict[str, dict[str, Any]] = {}
    for e in sorted(events, key=lambda e: e.ts):
        if e.user is None:
            continue
        row = users.setdefault(
            e.user,
            {"id": e.user, "first_seen": e.ts, "requests": 0, "bytes_up": 0, "groups": ""},
        )
        row["last_seen"] = e.ts
        row["groups"] = e.groups or row["groups"]
        row["requests"] += 1
        row["bytes_up"] += e.request_bytes
    if not users:
        return
    insert = insert_for(session, UserSeen)
    table = UserSeen.__table__.c
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["id"],
            set_={
                "groups": func.coalesce(func.nullif(insert.excluded.groups, ""), table.groups),
                "first_seen": _least(session, table.first_seen, insert.excluded.first_seen),
                "last_seen": _greatest(session, table.last_seen, insert.excluded.last_seen),
                "requests": table.requests + insert.excluded.requests,
                "bytes_up": table.bytes_up + insert.excluded.bytes_up,
            },
        ),
        [users[k] for k in sorted(users)],
    )


def _upsert_rollups(session: Session, events: Sequence[DetectionEvent]) -> None:
    rollups: dict[tuple[datetime, str, str, str], dict[str, Any]] = {}
    for e in events:
        key = (hour_of(e.ts), e.service_id, e.user or "", e.action)
        row = rollups.setdefault(
            key,
            {
                "hour": key[0],
                "service_id": key[1],
                "user": key[2],
                "action": key[3],
                "requests": 0,
                "bytes_up": 0,
                "bytes_down": 0,
                "findings": 0,
            },
        )
        row["requests"] += 1
        row["bytes_up"] += e.request_bytes
        row["bytes_down"] += e.response_bytes
        row["findings"] += len(e.findings)
    insert = insert_for(session, HourlyRollup)
    table = HourlyRollup.__table__.c
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["hour", "service_id", "user", "action"],
            set_={
                name: table[name] + insert.excluded[name]
                for name in ("requests", "bytes_up", "bytes_down", "findings")
            },
        ),
        [rollups[k] for k in sorted(rollups)],
    )


def _upsert_finding_rollups(session: Session, events: Sequence[DetectionEvent]) -> None:
    counts: Counter[tuple[datetime, str, str, str]] = Counter()
    for e in events:
        for f in e.findings:
            counts[(hour_of(e.ts), f.detector, f.category, f.severity)] += 1
    if not counts:
        return
    insert = insert_for(session, FindingRollup)
    table = FindingRollup.__table__.c
    rows = [
        {"hour": h, "detector": d, "category": c, "severity": s, "findings": n}
        for (h, d, c, s), n in sorted(counts.items())
    ]
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["hour", "detector", "category", "severity"],
            set_={"findings": table.findings + insert.excluded.findings},
        ),
        rows,
    )


def _note_data_classes(session: Session, events: Sequence[DetectionEvent]) -> None:
    seen: dict[tuple[str, str], datetime] = {}
    for e in events:
        for f in e.findings:
            key = (e.service_id, f.category)
            seen[key] = min(seen.get(key, e.ts), e.ts)
    if not seen:
        return
    rows = [
        {"service_id": s, "category": c, "first_seen": ts} for (s, c), ts in sorted(seen.items())
    ]
    session.execute(insert_for(session, ServiceDataClass).on_conflict_do_nothing(), rows)
