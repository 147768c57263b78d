"""Alerts: every alert the alert rules raised, sent or not. Analysts and up."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from shadowlens.api.deps import SessionDep, aware, require
from shadowlens.api.exporting import PageCursor, PageLimit
from shadowlens.api.schemas import AlertOut, AlertPage, ErrorBody
from shadowlens.proxy.alerts import store

router = APIRouter(prefix="/alerts", tags=["alerts"], dependencies=[Depends(require("analyst"))])


@router.get(
    "",
    response_model=AlertPage,
    responses={422: {"model": ErrorBody, "description": "A bad filter or cursor."}},
)
def list_alerts(
    session: SessionDep,
    rule: Annotated[str | None, Query(description="An alert rule id.")] = None,
    since: Annotated[datetime | None, Query(description="Inclusive lower bound.")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive upper bound.")] = None,
    limit: PageLimit = 100,
    cursor: PageCursor = None,
) -> AlertPage:
    """Alerts newest first."""
    if cursor is not None and not cursor.isdigit():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "malformed cursor")
    rows = store.list_alerts(
        session,
        limit=limit + 1,
        before_id=int(cursor) if cursor else None,
        rule=rule,
        since=aware(since),
        until=aware(until),
    )
    page = rows[:limit]
    next_cursor = str(page[-1].id) if len(rows) > limit else None
    return AlertPage(items=[AlertOut.model_validate(r) for r in page], next_cursor=next_cursor)
