"""The AI register: each service seen, with the organisation's decision on it.

Shared by the API and the CLI, so both do the same thing. Every change is written with an
audit entry (who, what, before, after) in the same transaction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shadowlens.proxy.catalog import HostIndex
from shadowlens.proxy.catalog.model import Service
from shadowlens.proxy.catalog.risk import risk_of
from shadowlens.proxy.governance.audit import record_audit
from shadowlens.proxy.inventory.models import Governance, ServiceDataClass, ServiceSeen

STATUSES = ("sanctioned", "tolerated", "unsanctioned", "unknown")
EDITABLE = ("status", "owner", "justification", "risk_score", "risk_factors", "review_due", "notes")


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    """A service in the register: what traffic shows and what the organisation decided."""

    id: str
    name: str
    vendor: str
    category: str
    first_seen: datetime | None
    last_seen: datetime | None
    requests: int
    users: int
    bytes_up: int
    bytes_down: int
    data_classes: list[str]
    status: str
    owner: str | None
    justification: str | None
    risk_score: int | None  # None: unassessed, the catalog has no sourced facts about it
    risk_factors: list[dict[str, Any]]
    risk_source: str  # "catalog" (from the service's facts), "review" (a person) or "unassessed"
    review_due: datetime | None
    reviewed_at: datetime | None
    notes: str | None
    updated_by: str | None = None
    updated_at: datetime | None = field(default=None)


def _catalog_service(row: ServiceSeen, catalog: HostIndex | None) -> Service:
    known = catalog.services.get(row.id) if catalog is not None else None
    return known or Service(id=row.id, name=row.name, vendor=row.vendor, category=row.category)


def _record(
    row: ServiceSeen, gov: Governance | None, classes: list[str], catalog: HostIndex | None
) -> ServiceRecord:
    score: int | None
    if gov is not None and gov.risk_score is not None:
        score, factors, source = gov.risk_score, json.loads(gov.risk_factors or "[]"), "review"
    else:
        risk = risk_of(_catalog_service(row, catalog))
        source = "catalog" if risk.assessed else "unassessed"
        score, factors = risk.score, [asdict(f) for f in risk.factors]
    return ServiceRecord(
        id=row.id,
        name=row.name,
        vendor=row.vendor,
        category=row.category,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        requests=row.requests,
        users=row.users,
        bytes_up=row.bytes_up,
        bytes_down=row.bytes_down,
        data_classes=sorted(classes),
        status=gov.status if gov else "unknown",
        owner=gov.owner if gov else None,
        justification=gov.justification if gov else None,
        risk_score=score,
        risk_factors=factors,
        risk_source=source,
        review_due=gov.review_due if gov else None,
        reviewed_at=gov.reviewed_at if gov else None,
        notes=gov.notes if gov else None,
        updated_by=gov.updated_by if gov else None,
        updated_at=gov.updated_at if gov else None,
    )


def list_services(
    session: Session,
    *,
    catalog: HostIndex | None = None,
    status: str | None = None,
    category: str | None = None,
    min_risk: int | None = None,
    seen_since: datetime | None = None,
    limit: int = 500,
) -> list[ServiceRecord]:
    """Services seen with their governance and risk, most recently seen first, filtered."""
    query = select(ServiceSeen, Governance).outerjoin(
        Governance, Governance.service_id == ServiceSeen.id
    )
    if category is not None:
        query = query.where(ServiceSeen.category == category)
    if seen_since is not None:
        query = query.where(ServiceSeen.last_seen >= seen_since)
    if status == "unknown":
        query = query.where((Governance.status.is_(None)) | (Governance.status == "unknown"))
    elif status is not None:
        query = query.where(Governance.status == status)
    query = query.order_by(ServiceSeen.last_seen.desc(), ServiceSeen.id)
    classes: dict[str, list[str]] = defaultdict(list)
    for service_id, category_seen in session.execute(
        select(ServiceDataClass.service_id, ServiceDataClass.category)
    ):
        classes[service_id].append(category_seen)
    records = [
        _record(row, gov, classes[row.id], catalog) for row, gov in session.execute(query).all()
    ]
    if min_risk is not None:  # the default risk is computed, not stored: filter here
        records = [r for r in records if r.risk_score is not None and r.risk_score >= min_risk]
    return records[:limit]


def _unseen(service_id: str, catalog: HostIndex | None) -> ServiceSeen | None:
    """A catalog service not seen yet, with zero counts: it can be governed before it is."""
    service = catalog.services.get(service_id) if catalog is not None else None
    if service is None:
        return None
    return ServiceSeen(
        id=service.id,
        name=service.name,
        vendor=service.vendor,
        category=service.category,
        first_seen=None,
        last_seen=None,
        requests=0,
        bytes_up=0,
        bytes_down=0,
        users=0,
    )


def get_service(
    session: Session, *, service_id: str, catalog: HostIndex | None = None
) -> ServiceRecord | None:
    """One service of the register (seen, or in the catalog), or None when neither."""
    row = session.get(ServiceSeen, service_id) or _unseen(service_id, catalog)
    if row is None:
        return None
    classes = list(
        session.scalars(
            select(ServiceDataClass.category).where(ServiceDataClass.service_id == service_id)
        )
    )
    return _record(row, session.get(Governance, service_id), classes, catalog)


def _governance_dict(gov: Governance | None) -> dict[str, Any] | None:
    if gov is None:
        return None
    return {
        "status": gov.status,
        "owner": gov.owner,
        "justification": gov.justification,
        "risk_score": gov.risk_score,
        "risk_factors": json.loads(gov.risk_factors) if gov.risk_factors else None,
        "review_due": gov.review_due.isoformat() if gov.review_due else None,
        "notes": gov.notes,
    }


def _check(changes: dict[str, Any]) -> None:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not a governance field: {', '.join(sorted(unknown))}")
    if "status" in changes and changes["status"] not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    score = changes.get("risk_score")
    if score is not None and not (isinstance(score, int) and 0 <= score <= 100):
        raise ValueError("risk_score must be an integer from 0 to 100")
    due = changes.get("review_due")
    if due is not None and (not isinstance(due, datetime) or due.tzinfo is None):
        raise ValueError("review_due must be a time with a zone")
    factors = changes.get("risk_factors")
    if factors is not None and not (
        isinstance(factors, list)
        and all(isinstance(f, dict) and {"name", "points"} <= f.keys() for f in factors)
    ):
        raise ValueError("risk_factors must be a list of {name, points, reason}")


def update_governance(
    session: Session,
    *,
    service_id: str,
    changes: dict[str, Any],
    actor: str,
    catalog: HostIndex | None = None,
) -> ServiceRecord:
    """Apply ``changes`` to a service's governance record and audit them; ValueError if bad."""
    _check(changes)
    if session.get(ServiceSeen, service_id) is None and _unseen(service_id, catalog) is None:
        raise LookupError(f"no service {service_id!r} in the inventory or the catalog")
    now = datetime.now(UTC)
    gov = session.get(Governance, service_id)
    before = _governance_dict(gov)
    if gov is None:
        gov = Governance(service_id=service_id, status="unknown", updated_at=now, updated_by=actor)
        session.add(gov)
    for name, value in changes.items():
        if name == "risk_factors":
            value = json.dumps(value) if value is not None else None
        setattr(gov, name, value)
    gov.updated_at, gov.updated_by = now, actor
    if "status" in changes or "owner" in changes:
        gov.reviewed_at = now
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="governance.update",
        target=service_id,
        before=before,
        after=_governance_dict(gov),
    )
    record = get_service(session, service_id=service_id, catalog=catalog)
    assert record is not None
    return record


def decided_statuses(session: Session) -> dict[str, str]:
    """Each service's status as the register decided it; "unknown" decides nothing."""
    query = select(Governance.service_id, Governance.status).where(Governance.status != "unknown")
    return dict(session.execute(query).all())


def seed_statuses(session: Session, *, statuses: Mapping[str, str], actor: str) -> list[str]:
    """Give the services in ``statuses`` that the register has no record of that status.

    The policy file's ``status.services`` only seeds the register: a status decided in the
    register (CLI or API) is never overwritten. Returns the ids seeded, each audited.
    """
    if not statuses:
        return []
    known = set(session.scalars(select(Governance.service_id)))
    now = datetime.now(UTC)
    seeded = sorted(set(statuses) - known)
    for service_id in seeded:
        gov = Governance(
            service_id=service_id, status=statuses[service_id], updated_at=now, updated_by=actor
        )
        session.add(gov)
        record_audit(
            session,
            actor=actor,
            action="governance.seed",
            target=service_id,
            before=None,
            after=_governance_dict(gov),
        )
    return seeded
