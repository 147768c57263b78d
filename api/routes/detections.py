"""Detections: one row per flow to an AI service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import SessionDep
from api.schemas import DetectionOut, DetectionPage
from proxy.inventory import store

router = APIRouter(prefix="/detections", tags=["detections"])


@router.get("", response_model=DetectionPage)
def list_detections(
    session: SessionDep,
    service: Annotated[str | None, Query(description="Service id, e.g. chatgpt.")] = None,
    user: Annotated[str | None, Query(description="User name as recorded.")] = None,
    since: Annotated[
        datetime | None, Query(description="Inclusive lower bound (ISO 8601).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Exclusive upper bound (ISO 8601).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> DetectionPage:
    """Detections newest first, filtered and paginated by cursor."""
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "give times with a zone")
    filters = store.DetectionFilter(service=service, user=user, since=since, until=until)
    try:
        rows, next_cursor = store.list_detections(
            session, filters=filters, limit=limit, cursor=cursor
        )
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return DetectionPage(
        items=[DetectionOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )
