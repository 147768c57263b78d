"""DLP findings: masked previews and fingerprints of sensitive data uploaded to AI."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import SessionDep
from api.schemas import FindingOut, FindingPage
from proxy.inventory import store

router = APIRouter(prefix="/findings", tags=["findings"])


@router.get("", response_model=FindingPage)
def list_findings(
    session: SessionDep,
    detector: Annotated[str | None, Query(description="Detector id.")] = None,
    category: Annotated[str | None, Query(description="secret, pii, code, keyword, limit.")] = None,
    severity: Annotated[str | None, Query(description="low, medium, high, critical.")] = None,
    since: Annotated[datetime | None, Query(description="Inclusive lower bound.")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive upper bound.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> FindingPage:
    """Findings newest first, filtered and paginated by cursor."""
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "give times with a zone")
    filters = store.FindingFilter(
        detector=detector, category=category, severity=severity, since=since, until=until
    )
    try:
        rows, next_cursor = store.list_findings(
            session, filters=filters, limit=limit, cursor=cursor
        )
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return FindingPage(items=[FindingOut.model_validate(r) for r in rows], next_cursor=next_cursor)
