"""A time range at a glance, from the hourly rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from shadowlens.api.deps import PrincipalDep, SessionDep, aware, require
from shadowlens.api.schemas import ErrorBody, SummaryOut
from shadowlens.proxy.auth.tokens import role_at_least
from shadowlens.proxy.reports import queries

router = APIRouter(tags=["summary"], dependencies=[Depends(require("viewer"))])


def period(
    since: datetime | None, until: datetime | None, *, default_days: int = 7
) -> tuple[datetime, datetime]:
    """The (since, until) asked for; the last ``default_days`` days when left out."""
    end = aware(until) or datetime.now(UTC)
    start = aware(since) or end - timedelta(days=default_days)
    if start >= end:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "since must be before until")
    return start, end


@router.get(
    "/summary",
    response_model=SummaryOut,
    responses={422: {"model": ErrorBody, "description": "A bad time range."}},
)
def get_summary(
    session: SessionDep,
    principal: PrincipalDep,
    since: Annotated[datetime | None, Query(description="Default: 7 days before until.")] = None,
    until: Annotated[datetime | None, Query(description="Default: now.")] = None,
    top: Annotated[int, Query(ge=1, le=100, description="Length of the top-N lists.")] = 10,
) -> SummaryOut:
    """Totals, new services, top services, users and detectors, blocked and redacted counts."""
    start, end = period(since, until)
    result = queries.summary(
        session,
        since=start,
        until=end,
        top=top,
        identities=role_at_least(principal.role, "analyst"),
    )
    return SummaryOut.model_validate(result)
