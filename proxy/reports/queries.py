"""What the inventory says over a period: summaries, users, incidents and justifications.

Summaries read ``rollups_service_hourly``, ``rollups_user_daily`` and
``finding_rollups_hourly``, never the raw detections, so their cost grows with hours x
services and days x users, not with traffic. Their time range is counted in whole hours
(``since`` rounded down, ``until`` up), and in whole UTC days for users and top users.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from shadowlens.proxy.inventory.aggregates import day_of, hour_of
from shadowlens.proxy.inventory.models import (
    AlertRow,
    Detection,
    FindingRollup,
    FindingRow,
    Justification,
    ServiceRollup,
    ServiceSeen,
    UserRollup,
    UserSeen,
)

HIGH_SEVERITIES = ("high", "critical")
INCIDENT_LIMIT = 1000


def _hours(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    start = hour_of(since)
    end = hour_of(until)
    return start, end if end == until else end + timedelta(hours=1)


def _days(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    start = day_of(since)
    end = day_of(until)
    return start, end if end == until else end + timedelta(days=1)


def _window(since: datetime, until: datetime) -> Any:
    start, end = _hours(since, until)
    return and_(ServiceRollup.hour >= start, ServiceRollup.hour < end)


def _user_window(since: datetime, until: datetime) -> Any:
    start, end = _days(since, until)
    return and_(UserRollup.day >= start, UserRollup.day < end, UserRollup.user != "")


@dataclass(frozen=True, slots=True)
class Ranked:
    """One entry of a top-N list: requests (services, users) or findings (detectors)."""

    key: str
    count: int


@dataclass(frozen=True, slots=True)
class Summary:
    """What happened in a time range, from the rollups."""

    since: datetime
    until: datetime
    requests: int
    bytes_up: int
    bytes_down: int
    findings: int
    services: int
    users: int
    blocked: int
    redacted: int
    by_action: dict[str, int]
    new_services: list[str]
    top_services: list[Ranked]
    top_users: list[Ranked] | None  # None when the caller may not see identities
    top_detectors: list[Ranked]


def summary(
    session: Session, *, since: datetime, until: datetime, top: int = 10, identities: bool = True
) -> Summary:
    """Totals, new services, top services/users/detectors and actions for a time range."""
    window = _window(since, until)
    requests = func.coalesce(func.sum(ServiceRollup.requests), 0)
    totals = session.execute(
        select(
            requests,
            func.coalesce(func.sum(ServiceRollup.bytes_up), 0),
            func.coalesce(func.sum(ServiceRollup.bytes_down), 0),
            func.coalesce(func.sum(ServiceRollup.findings), 0),
            func.count(func.distinct(ServiceRollup.service_id)),
        ).where(window)
    ).one()
    by_action = {
        action: int(count)
        for action, count in session.execute(
            select(ServiceRollup.action, requests).where(window).group_by(ServiceRollup.action)
        )
    }
    services_total = func.sum(ServiceRollup.requests)
    top_services = session.execute(
        select(ServiceRollup.service_id, services_total)
        .where(window)
        .group_by(ServiceRollup.service_id)
        .order_by(services_total.desc(), ServiceRollup.service_id)
        .limit(top)
    )
    users_window = _user_window(since, until)
    users = session.scalar(select(func.count(func.distinct(UserRollup.user))).where(users_window))
    top_users = None
    if identities:
        users_total = func.sum(UserRollup.requests)
        top_users = [
            Ranked(str(u), int(n))
            for u, n in session.execute(
                select(UserRollup.user, users_total)
                .where(users_window)
                .group_by(UserRollup.user)
                .order_by(users_total.desc(), UserRollup.user)
                .limit(top)
            )
        ]
    start, end = _hours(since, until)
    findings_total = func.sum(FindingRollup.findings)
    detectors = session.execute(
        select(FindingRollup.detector, findings_total)
        .where(FindingRollup.hour >= start, FindingRollup.hour < end)
        .group_by(FindingRollup.detector)
        .order_by(findings_total.desc(), FindingRollup.detector)
        .limit(top)
    )
    new = session.scalars(
        select(ServiceSeen.id)
        .where(ServiceSeen.first_seen >= since, ServiceSeen.first_seen < until)
        .order_by(ServiceSeen.first_seen)
    )
    return Summary(
        since=since,
        until=until,
        requests=int(totals[0]),
        bytes_up=int(totals[1]),
        bytes_down=int(totals[2]),
        findings=int(totals[3]),
        services=int(totals[4]),
        users=int(users or 0),
        blocked=by_action.get("block", 0),
        redacted=by_action.get("redact", 0),
        by_action=by_action,
        new_services=list(new),
        top_services=[Ranked(str(k), int(n)) for k, n in top_services],
        top_users=top_users,
        top_detectors=[Ranked(str(d), int(n)) for d, n in detectors],
    )


@dataclass(frozen=True, slots=True)
class UserActivity:
    """A user's use of AI services: in a time range (from rollups) or overall."""

    id: str
    groups: str
    first_seen: datetime
    last_seen: datetime
    requests: int
    bytes_up: int


def list_users(
    session: Session, *, since: datetime | None = None, until: datetime | None = None, limit: int
) -> list[UserActivity]:
    """Users by requests, most first; within ``since``..``until`` when given (whole days)."""
    if since is None and until is None:
        rows = session.scalars(
            select(UserSeen).order_by(UserSeen.requests.desc(), UserSeen.id).limit(limit)
        )
        return [
            UserActivity(u.id, u.groups, u.first_seen, u.last_seen, u.requests, u.bytes_up)
            for u in rows
        ]
    window = _user_window(since or datetime(1970, 1, 1, tzinfo=UTC), until or datetime.now(UTC))
    total = func.sum(UserRollup.requests)
    ranked = session.execute(
        select(UserRollup.user, total, func.sum(UserRollup.bytes_up))
        .where(window)
        .group_by(UserRollup.user)
        .order_by(total.desc(), UserRollup.user)
        .limit(limit)
    ).all()
    known = {
        u.id: u
        for u in session.scalars(select(UserSeen).where(UserSeen.id.in_([r[0] for r in ranked])))
    }
    out = []
    for user, requests, bytes_up in ranked:
        seen = known.get(user)
        if seen is not None:
            out.append(
                UserActivity(
                    user, seen.groups, seen.first_seen, seen.last_seen, int(requests), int(bytes_up)
                )
            )
    return out


def incidents(
    session: Session, *, since: datetime, until: datetime, identities: bool
) -> tuple[list[dict[str, Any]], bool]:
    """Blocks and high-severity findings of the period, newest first, and whether either was
    cut at ``INCIDENT_LIMIT``; who only with identities."""
    blocks = session.execute(
        select(Detection.ts, Detection.service_id, Detection.user, Detection.rule_id)
        .where(Detection.action == "block", Detection.ts >= since, Detection.ts < until)
        .order_by(Detection.ts.desc())
        .limit(INCIDENT_LIMIT)
    ).all()
    findings = session.execute(
        select(
            FindingRow.ts,
            Detection.service_id,
            Detection.user,
            FindingRow.detector,
            FindingRow.severity,
            FindingRow.preview,
        )
        .join(Detection, Detection.id == FindingRow.detection_id)
        .where(
            FindingRow.severity.in_(HIGH_SEVERITIES), FindingRow.ts >= since, FindingRow.ts < until
        )
        .order_by(FindingRow.ts.desc())
        .limit(INCIDENT_LIMIT)
    ).all()
    incidents = [
        {"ts": ts.isoformat(), "kind": "block", "service": svc,
         "user": user if identities else None, "detail": rule or ""}
        for ts, svc, user, rule in blocks
    ] + [
        {"ts": ts.isoformat(), "kind": f"finding:{sev}", "service": svc,
         "user": user if identities else None, "detail": f"{det} {preview}"}
        for ts, svc, user, det, sev, preview in findings
    ]  # fmt: skip
    incidents.sort(key=lambda i: str(i["ts"]), reverse=True)
    return incidents, len(blocks) == INCIDENT_LIMIT or len(findings) == INCIDENT_LIMIT


def alerts_in(session: Session, *, since: datetime, until: datetime) -> int:
    """How many alerts were sent in the period."""
    query = select(func.count()).where(AlertRow.ts >= since, AlertRow.ts < until)
    return session.scalar(query.select_from(AlertRow)) or 0


def justifications(
    session: Session, *, since: datetime, until: datetime, identities: bool
) -> list[dict[str, Any]]:
    """Coaching justifications of the period, newest first; who and what only with identities."""
    rows = session.scalars(
        select(Justification)
        .where(Justification.ts >= since, Justification.ts < until)
        .order_by(Justification.ts.desc(), Justification.id.desc())
        .limit(INCIDENT_LIMIT)
    )
    return [
        {"ts": j.ts.isoformat(), "service": j.service_id, "rule": j.rule_id,
         "user": j.user if identities else None, "text": j.text if identities else None,
         "allowed_until": j.allowed_until.isoformat()}
        for j in rows
    ]  # fmt: skip
