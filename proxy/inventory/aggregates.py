"""Aggregates the writer keeps up to date with each batch: users, rollups, per-service sets.

Every statement is an ``INSERT … ON CONFLICT`` that adds to counters or keeps the earliest and
latest times, so any number of proxies writing to one PostgreSQL never lose an update. Rows
are sorted by key before they are written, so two concurrent batches lock rows in the same
order and cannot deadlock each other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from proxy.inventory.events import DetectionEvent
from proxy.inventory.models import (
    FindingRollup,
    HourlyRollup,
    ServiceDataClass,
    ServiceRollup,
    ServiceUser,
    UserRollup,
    UserSeen,
)


def insert_for(session: Session, model: type[Any]) -> Any:
    """A Core ``INSERT`` on ``model``'s table with the dialect's ``ON CONFLICT`` support."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model.__table__)


def rows_insert(
    session: Session, model: type[Any], rows: Sequence[dict[str, Any]]
) -> tuple[Any, list[dict[str, Any]] | None]:
    """An ``INSERT`` of ``rows`` and the parameters to execute it with.

    SQLite gets an executemany. PostgreSQL gets one ``INSERT … SELECT unnest(…)`` with an
    array per column: a short statement whatever the batch size, that neither the driver nor
    the server parses again for each batch, instead of thousands of VALUES placeholders.
    """
    table = model.__table__
    if session.get_bind().dialect.name != "postgresql":
        return sqlite.insert(table), list(rows)
    columns = [table.c[name] for name in rows[0]]
    source = select(
        *(
            func.unnest(literal([row[c.name] for row in rows], postgresql.ARRAY(c.type)))
            for c in columns
        )
    )
    return postgresql.insert(table).from_select([c.name for c in columns], source), None


def execute(session: Session, statement: Any, params: list[dict[str, Any]] | None) -> Any:
    """Run what :func:`rows_insert` built (with its ``ON CONFLICT`` and ``RETURNING``)."""
    conn = session.connection()
    return conn.execute(statement) if params is None else conn.execute(statement, params)


def insert_returning(
    session: Session,
    model: type[Any],
    rows: Sequence[dict[str, Any]],
    *,
    returning: str,
    conflict: Sequence[str],
) -> list[Any]:
    """Insert ``rows``, skipping those whose ``conflict`` key exists; ``returning`` of the new."""
    if not rows:
        return []
    insert, params = rows_insert(session, model, rows)
    insert = insert.on_conflict_do_nothing(index_elements=list(conflict))
    returning_column = model.__table__.c[returning]
    return list(execute(session, insert.returning(returning_column), params).scalars())


def greatest(session: Session, a: Any, b: Any) -> Any:
    """The larger of two values, in the session's dialect."""
    postgres = session.get_bind().dialect.name == "postgresql"
    return func.greatest(a, b) if postgres else func.max(a, b)


def least(session: Session, a: Any, b: Any) -> Any:
    """The smaller of two values, in the session's dialect."""
    postgres = session.get_bind().dialect.name == "postgresql"
    return func.least(a, b) if postgres else func.min(a, b)


def hour_of(ts: datetime) -> datetime:
    """The start of the hour ``ts`` falls in."""
    return ts.replace(minute=0, second=0, microsecond=0)


def day_of(ts: datetime) -> datetime:
    """The start of the (UTC) day ``ts`` falls in."""
    return ts.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def fold(session: Session, *, events: Sequence[DetectionEvent]) -> None:
    """Add freshly inserted ``events`` (never a replayed one) to every aggregate."""
    if not events:
        return
    _upsert_users(session, events)
    _upsert_rollups(session, events)
    _upsert_service_rollups(session, events)
    _upsert_user_rollups(session, events)
    _upsert_finding_rollups(session, events)
    _note_data_classes(session, events)


def note_service_users(session: Session, *, events: Sequence[DetectionEvent]) -> dict[str, int]:
    """Record which users reached which service; returns the pairs new to each service."""
    pairs: dict[tuple[str, str], datetime] = {}
    for e in events:
        if e.user is not None:
            key = (e.service_id, e.user)
            pairs[key] = min(pairs.get(key, e.ts), e.ts)
    if not pairs:
        return {}
    rows = [{"service_id": s, "user": u, "first_seen": ts} for (s, u), ts in sorted(pairs.items())]
    new = insert_returning(
        session, ServiceUser, rows, returning="service_id", conflict=("service_id", "user")
    )
    return dict(Counter(new))


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
    insert, params = rows_insert(session, UserSeen, [users[k] for k in sorted(users)])
    table = UserSeen.__table__.c
    execute(
        session,
        insert.on_conflict_do_update(
            index_elements=["id"],
            set_={
                "groups": func.coalesce(func.nullif(insert.excluded.groups, ""), table.groups),
                "first_seen": least(session, table.first_seen, insert.excluded.first_seen),
                "last_seen": greatest(session, table.last_seen, insert.excluded.last_seen),
                "requests": table.requests + insert.excluded.requests,
                "bytes_up": table.bytes_up + insert.excluded.bytes_up,
            },
        ),
        params,
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
    insert, params = rows_insert(session, HourlyRollup, [rollups[k] for k in sorted(rollups)])
    table = HourlyRollup.__table__.c
    execute(
        session,
        insert.on_conflict_do_update(
            index_elements=["hour", "service_id", "user", "action"],
            set_={
                name: table[name] + insert.excluded[name]
                for name in ("requests", "bytes_up", "bytes_down", "findings")
            },
        ),
        params,
    )


def _upsert_finding_rollups(session: Session, events: Sequence[DetectionEvent]) -> None:
    counts: Counter[tuple[datetime, str, str, str]] = Counter()
    for e in events:
        for f in e.findings:
            counts[(hour_of(e.ts), f.detector, f.category, f.severity)] += 1
    if not counts:
        return
    rows = [
        {"hour": h, "detector": d, "category": c, "severity": s, "findings": n}
        for (h, d, c, s), n in sorted(counts.items())
    ]
    insert, params = rows_insert(session, FindingRollup, rows)
    table = FindingRollup.__table__.c
    execute(
        session,
        insert.on_conflict_do_update(
            index_elements=["hour", "detector", "category", "severity"],
            set_={"findings": table.findings + insert.excluded.findings},
        ),
        params,
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
    insert, params = rows_insert(session, ServiceDataClass, rows)
    execute(session, insert.on_conflict_do_nothing(), params)


def _add_counters(
    session: Session, model: type[Any], rows: list[dict[str, Any]], key: Sequence[str]
) -> None:
    """Upsert ``rows`` into ``model``, adding every non-key column to what is there."""
    if not rows:
        return
    insert, params = rows_insert(session, model, rows)
    table = model.__table__.c
    counters = [name for name in rows[0] if name not in key]
    execute(
        session,
        insert.on_conflict_do_update(
            index_elements=list(key),
            set_={name: table[name] + insert.excluded[name] for name in counters},
        ),
        params,
    )


def _upsert_service_rollups(session: Session, events: Sequence[DetectionEvent]) -> None:
    rows: dict[tuple[datetime, str, str], dict[str, Any]] = {}
    for e in events:
        key = (hour_of(e.ts), e.service_id, e.action)
        row = rows.setdefault(
            key,
            {"hour": key[0], "service_id": key[1], "action": key[2], "requests": 0,
             "bytes_up": 0, "bytes_down": 0, "findings": 0},
        )  # fmt: skip
        row["requests"] += 1
        row["bytes_up"] += e.request_bytes
        row["bytes_down"] += e.response_bytes
        row["findings"] += len(e.findings)
    ordered = [rows[k] for k in sorted(rows)]
    _add_counters(session, ServiceRollup, ordered, ("hour", "service_id", "action"))


def _upsert_user_rollups(session: Session, events: Sequence[DetectionEvent]) -> None:
    rows: dict[tuple[datetime, str], dict[str, Any]] = {}
    for e in events:
        if e.user is None:
            continue
        key = (day_of(e.ts), e.user)
        row = rows.setdefault(key, {"day": key[0], "user": key[1], "requests": 0, "bytes_up": 0})
        row["requests"] += 1
        row["bytes_up"] += e.request_bytes
    _add_counters(session, UserRollup, [rows[k] for k in sorted(rows)], ("day", "user"))
