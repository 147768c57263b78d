"""Detections: one row per flow to an AI service, with who, what and what we did."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse

from shadowlens.api.deps import SessionDep, aware, require
from shadowlens.api.exporting import (
    EXPORT_RESPONSES,
    FormatQuery,
    PageCursor,
    PageLimit,
    cursor_errors,
    export_response,
)
from shadowlens.api.schemas import DetectionOut, DetectionPage, ErrorBody
from shadowlens.proxy.inventory import store
from shadowlens.proxy.inventory.models import Detection
from shadowlens.proxy.reports import exports

router = APIRouter(
    prefix="/detections",
    tags=["detections"],
    dependencies=[Depends(require("analyst"))],
    responses={422: {"model": ErrorBody, "description": "A bad filter or cursor."}},
)


def detection_filter(
    service: Annotated[str | None, Query(description="Service id, e.g. chatgpt.")] = None,
    user: Annotated[str | None, Query(description="User name as recorded.")] = None,
    group: Annotated[str | None, Query(description="One of the user's groups.")] = None,
    category: Annotated[str | None, Query(description="Service category.")] = None,
    action: Annotated[
        str | None, Query(description="monitor, coach, redact or block.", examples=["block"])
    ] = None,
    evidence: Annotated[str | None, Query(description="sni, host, header, path…")] = None,
    detector: Annotated[str | None, Query(description="Has a finding of this detector.")] = None,
    severity: Annotated[str | None, Query(description="Has a finding of this severity.")] = None,
    conversation: Annotated[
        str | None, Query(description="The web app's conversation id, e.g. ChatGPT's.")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Inclusive lower bound (ISO 8601 with a zone).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Exclusive upper bound (ISO 8601 with a zone).")
    ] = None,
) -> store.DetectionFilter:
    """The detection filters of a request."""
    return store.DetectionFilter(
        service=service,
        user=user,
        group=group,
        category=category,
        action=action,
        evidence=evidence,
        detector=detector,
        severity=severity,
        conversation=conversation,
        since=aware(since),
        until=aware(until),
    )


FilterDep = Annotated[store.DetectionFilter, Depends(detection_filter)]


@router.get("", response_model=DetectionPage)
def list_detections(
    session: SessionDep,
    filters: FilterDep,
    limit: PageLimit = 100,
    cursor: PageCursor = None,
) -> DetectionPage:
    """Detections newest first, filtered and paginated by cursor."""
    with cursor_errors():
        rows, next_cursor = store.list_detections(
            session, filters=filters, limit=limit, cursor=cursor
        )
    return DetectionPage(
        items=[DetectionOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSES,
)
def export_detections(
    request: Request,
    filters: FilterDep,
    format: FormatQuery = "csv",
) -> StreamingResponse:
    """Every detection matching the filters, newest first, streamed as CSV or NDJSON."""
    chunks = exports.export_detections(request.app.state.sessions, filters=filters, fmt=format)
    return export_response(chunks, fmt=format, name="detections")


@router.get(
    "/{detection_id}",
    response_model=DetectionOut,
    responses={404: {"model": ErrorBody, "description": "No detection with this id."}},
)
def get_detection(session: SessionDep, detection_id: str) -> DetectionOut:
    """One detection by its id: the target of the links in alerts."""
    row = session.get(Detection, detection_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such detection")
    return DetectionOut.model_validate(row)
