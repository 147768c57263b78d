"""Coaching justifications: what users wrote to go on past a coaching page. Analysts only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from shadowlens.api.deps import SessionDep, aware, require
from shadowlens.api.exporting import PageCursor, PageLimit, cursor_errors
from shadowlens.api.schemas import ErrorBody, JustificationOut, JustificationPage
from shadowlens.proxy.inventory import store

router = APIRouter(
    prefix="/justifications",
    tags=["justifications"],
    dependencies=[Depends(require("analyst"))],
    responses={422: {"model": ErrorBody, "description": "A bad filter or cursor."}},
)


@router.get("", response_model=JustificationPage)
def list_justifications(
    session: SessionDep,
    service: Annotated[str | None, Query(description="Service id, e.g. chatgpt.")] = None,
    user: Annotated[str | None, Query(description="User name as recorded.")] = None,
    since: Annotated[datetime | None, Query(description="Inclusive lower bound.")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive upper bound.")] = None,
    limit: PageLimit = 100,
    cursor: PageCursor = None,
) -> JustificationPage:
    """Coaching justifications newest first; each one's id is its detection's."""
    filters = store.JustificationFilter(
        service=service, user=user, since=aware(since), until=aware(until)
    )
    with cursor_errors():
        rows, next_cursor = store.list_justifications(
            session, filters=filters, limit=limit, cursor=cursor
        )
    return JustificationPage(
        items=[JustificationOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )
