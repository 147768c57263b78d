"""The AI register: services seen, their governance record, risk and review."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from shadowlens.api.deps import PrincipalDep, SessionDep, aware, require
from shadowlens.api.exporting import PageLimit
from shadowlens.api.schemas import ErrorBody, GovernancePatch, ServiceList, ServiceOut
from shadowlens.proxy.governance import register as governance

router = APIRouter(prefix="/services", tags=["inventory"])
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such service in the inventory."},
    422: {"model": ErrorBody, "description": "A bad filter or field."},
}


@router.get("", response_model=ServiceList, dependencies=[Depends(require("viewer"))])
def list_services(
    request: Request,
    session: SessionDep,
    status_: Annotated[
        str | None,
        Query(alias="status", description="sanctioned, tolerated, unsanctioned or unknown."),
    ] = None,
    category: Annotated[str | None, Query(description="e.g. chat_assistant.")] = None,
    min_risk: Annotated[int | None, Query(ge=0, le=100, description="Risk score at least.")] = None,
    seen_since: Annotated[
        datetime | None, Query(description="Last seen at or after (ISO 8601 with a zone).")
    ] = None,
    limit: PageLimit = 500,
) -> ServiceList:
    """AI services seen in traffic with governance and risk, most recently seen first."""
    if status_ is not None and status_ not in governance.STATUSES:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"status must be one of {', '.join(governance.STATUSES)}",
        )
    rows = governance.list_services(
        session,
        catalog=request.app.state.catalog,
        status=status_,
        category=category,
        min_risk=min_risk,
        seen_since=aware(seen_since),
        limit=limit,
    )
    return ServiceList(items=[ServiceOut.model_validate(r) for r in rows])


@router.get(
    "/{service_id}",
    response_model=ServiceOut,
    responses=ERRORS,
    dependencies=[Depends(require("viewer"))],
)
def get_service(request: Request, session: SessionDep, service_id: str) -> ServiceOut:
    """One service of the register."""
    record = governance.get_service(
        session, service_id=service_id, catalog=request.app.state.catalog
    )
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no service {service_id!r}")
    return ServiceOut.model_validate(record)


@router.patch(
    "/{service_id}",
    response_model=ServiceOut,
    responses=ERRORS,
    dependencies=[Depends(require("admin"))],
)
def update_governance(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    service_id: str,
    patch: GovernancePatch,
) -> ServiceOut:
    """Change a service's governance record (status, owner, risk, review); audited."""
    changes = patch.model_dump(exclude_unset=True)
    if "review_due" in changes:
        changes["review_due"] = aware(changes["review_due"])
    try:
        record = governance.update_governance(
            session,
            service_id=service_id,
            changes=changes,
            actor=principal.actor,
            catalog=request.app.state.catalog,
        )
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    session.commit()
    return ServiceOut.model_validate(record)
