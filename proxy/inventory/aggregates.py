"""Aggregates the writer keeps up to date with each batch: users, rollups, per-service sets.

Every statement is an ``INSERT … ON CONFLICT`` that adds to counters or keeps the earliest and
latest times, so any number of proxies writing to one PostgreSQL never lose an update. Rows
are sorted by key before they are written, so two concurrent batches lock rows in the same
order and cannot deadlock each other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, literal_column
from sqlalchemy.orm import Session

from shadowlens.proxy.inventory.bulk import BulkInsert, skipping
from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.inventory.models import (
    FindingRollup,
    HourlyRollup,
    ServiceDataClass,
    ServiceRollup,
    ServiceSeen,
    ServiceUser,
    UserRollup,
    UserSeen,
)


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
    new_users = Counter(s for (s,) in SERVICE_USERS.run(session, _service_users(events)))
    SERVICES.run(session, _services(events, new_users))
    USERS.run(session, _users(events))
    traffic = [
        (e, hour_of(e.ts), (e.requests, e.request_bytes, e.response_bytes, len(e.findings)))
        for e in events
    ]
    HOURLY.run(
        session,
        _sum_by(((h, e.service_id, e.user or "", e.action), t) for e, h, t in traffic),
    )
    SERVICE_HOURLY.run(session, _sum_by(((h, e.service_id, e.action), t) for e, h, t in traffic))
    USER_DAILY.run(
        session,
        _sum_by(((day_of(e.ts), e.user), t[:2]) for e, _, t in traffic if e.user is not None),
    )
    found = [(e, h, f) for e, h, _ in traffic for f in e.findings]
    FINDING_HOURLY.run(
        session,
        _sum_by(((h, f.detector, f.category, f.severity), (1,)) for _, h, f in found),
    )
    DATA_CLASSES.run(session, _earliest(((e.service_id, f.category), e.ts) for e, _, f in found))


def _least(dialect: str, a: Any, b: Any) -> Any:
    return (func.least if dialect == "postgresql" else func.min)(a, b)


def _greatest(dialect: str, a: Any, b: Any) -> Any:
    return (func.greatest if dialect == "postgresql" else func.max)(a, b)


def _counters(model: type[Any], key: tuple[str, ...], counters: tuple[str, ...]) -> BulkInsert:
    """An upsert on ``key`` that adds each of ``counters`` to the stored value."""

    def finish(insert: Any, _dialect: str) -> Any:
        stored, new = insert.table.c, insert.excluded
        return insert.on_conflict_do_update(
            index_elements=list(key), set_={name: stored[name] + new[name] for name in counters}
        )

    return BulkInsert(model, key + counters, finish)


def _upsert_service(insert: Any, dialect: str) -> Any:
    stored, new = insert.table.c, insert.excluded
    return insert.on_conflict_do_update(
        index_elements=["id"],
        set_={
            "name": new.name,
            "vendor": new.vendor,
            "category": new.category,
            "first_seen": _least(dialect, stored.first_seen, new.first_seen),
            "last_seen": _greatest(dialect, stored.last_seen, new.last_seen),
            **{n: stored[n] + new[n] for n in ("requests", "bytes_up", "bytes_down", "users")},
        },
    )


def _upsert_user(insert: Any, dialect: str) -> Any:
    stored, new = insert.table.c, insert.excluded
    return insert.on_conflict_do_update(
        index_elements=["id"],
        set_={
            "groups": func.coalesce(func.nullif(new.groups, literal_column("''")), stored.groups),
            "first_seen": _least(dialect, stored.first_seen, new.first_seen),
            "last_seen": _greatest(dialect, stored.last_seen, new.last_seen),
            "requests": stored.requests + new.requests,
            "bytes_up": stored.bytes_up + new.bytes_up,
        },
    )


_TRAFFIC = ("requests", "bytes_up", "bytes_down", "findings")
SERVICE_USERS = BulkInsert(
    ServiceUser,
    ("service_id", "user", "first_seen"),
    skipping("service_id", "user"),
    returning=("service_id",),
)
SERVICES = BulkInsert(
    ServiceSeen,
    ("id", "name", "vendor", "category", "first_seen", "last_seen", "requests", "bytes_up",
     "bytes_down", "users"),
    _upsert_service,
)  # fmt: skip
USERS = BulkInsert(
    UserSeen, ("id", "groups", "first_seen", "last_seen", "requests", "bytes_up"), _upsert_user
)
HOURLY = _counters(HourlyRollup, ("hour", "service_id", "user", "action"), _TRAFFIC)
SERVICE_HOURLY = _counters(ServiceRollup, ("hour", "service_id", "action"), _TRAFFIC)
USER_DAILY = _counters(UserRollup, ("day", "user"), ("requests", "bytes_up"))
FINDING_HOURLY = _counters(
    FindingRollup, ("hour", "detector", "category", "severity"), ("findings",)
)
DATA_CLASSES = BulkInsert(
    ServiceDataClass, ("service_id", "category", "first_seen"), skipping("service_id", "category")
)


def _sum_by(items: Iterable[tuple[tuple[Any, ...], tuple[int, ...]]]) -> list[tuple[Any, ...]]:
    """Rows of each key followed by its summed counters, in key order."""
    totals: dict[tuple[Any, ...], list[int]] = {}
    for key, counts in items:
        if (total := totals.get(key)) is None:
            totals[key] = list(counts)
        else:
            for i, count in enumerate(counts):
                total[i] += count
    return [(*key, *totals[key]) for key in sorted(totals)]


def _earliest(items: Iterable[tuple[tuple[Any, ...], datetime]]) -> list[tuple[Any, ...]]:
    """Rows of each key followed by its earliest time, in key order."""
    first: dict[tuple[Any, ...], datetime] = {}
    for key, ts in items:
        if key not in first or ts < first[key]:
            first[key] = ts
    return [(*key, first[key]) for key in sorted(first)]


def _service_users(events: Sequence[DetectionEvent]) -> list[tuple[Any, ...]]:
    return _earliest(((e.service_id, e.user), e.ts) for e in events if e.user is not None)


def _services(events: Sequence[DetectionEvent], new_users: Counter[str]) -> list[tuple[Any, ...]]:
    """One row per service: the batch's totals, its time span and the users new to it."""
    rows: dict[str, list[Any]] = {}
    for e in events:
        row = rows.get(e.service_id)
        if row is None:
            row = rows[e.service_id] = [
                e.service_id, e.service_name, e.vendor, e.category, e.ts, e.ts, 0, 0, 0,
                new_users[e.service_id],
            ]  # fmt: skip
        row[4], row[5] = min(row[4], e.ts), max(row[5], e.seen_until)
        row[6] += e.requests
        row[7] += e.request_bytes
        row[8] += e.response_bytes
    return [tuple(rows[k]) for k in sorted(rows)]


def _users(events: Sequence[DetectionEvent]) -> list[tuple[Any, ...]]:
    """One row per user: groups last given, time span, requests and bytes sent."""
    rows: dict[str, list[Any]] = {}
    for e in sorted(events, key=lambda e: e.ts):
        if e.user is None:
            continue
        row = rows.get(e.user)
        if row is None:
            row = rows[e.user] = [e.user, "", e.ts, e.ts, 0, 0]
        row[1] = e.groups or row[1]
        row[3] = max(row[3], e.seen_until)
        row[4] += e.requests
        row[5] += e.request_bytes
    return [tuple(rows[k]) for k in sorted(rows)]
