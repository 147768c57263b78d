"""DLP findings: masked previews and fingerprints of sensitive data uploaded to AI."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
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
from shadowlens.api.schemas import ErrorBody, FindingOut, FindingPage
from shadowlens.proxy.inventory import store
from shadowlens.proxy.reports import exports

router = APIRouter(
    prefix="/findings",
    tags=["findings"],
    dependencies=[Depends(require("analyst"))],
    responses={422: {"model": ErrorBody, "description": "A bad filter or cursor."}},
)


def finding_filter(
    detector: Annotated[str | None, Query(description="Detector id.")] = None,
    category: Annotated[str | None, Query(description="secret, pii, code, keyword, limit.")] = None,
    severity: Annotated[str | None, Query(description="low, medium, high, critical.")] = None,
    user: Annotated[str | None, Query(description="User of the detection.")] = None,
    group: Annotated[str | None, Query(description="One of that user's groups.")] = None,
    service: Annotated[str | None, Query(description="Service id.")] = None,
    action: Annotated[str | None, Query(description="Action taken on the upload.")] = None,
    conversation: Annotated[
        str | None, Query(description="The web app's conversation id of the detection.")
    ] = None,
    since: Annotated[datetime | None, Query(description="Inclusive lower bound.")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive upper bound.")] = None,
) -> store.FindingFilter:
    """The finding filters of a request."""
    return store.FindingFilter(
        detector=detector,
        category=category,
        severity=severity,
        user=user,
        group=group,
        service=service,
        action=action,
        conversation=conversation,
        since=aware(since),
        until=aware(until),
    )


FilterDep = Annotated[store.FindingFilter, Depends(finding_filter)]


@router.get("", response_model=FindingPage)
def list_findings(
    session: SessionDep,
    filters: FilterDep,
    limit: PageLimit = 100,
    cursor: PageCursor = None,
) -> FindingPage:
    """Findings newest first, filtered and paginated by cursor."""
    with cursor_errors():
        rows, next_cursor = store.list_findings(
            session, filters=filters, limit=limit, cursor=cursor
        )
    return FindingPage(items=[FindingOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSES,
)
def export_findings(
    request: Request,
    filters: FilterDep,
    format: FormatQuery = "csv",
) -> StreamingResponse:
    """Every finding matching the filters, newest first, streamed as CSV or NDJSON."""
    chunks = exports.export_findings(request.app.state.sessions, filters=filters, fmt=format)
    return export_response(chunks, fmt=format, name="findings")
