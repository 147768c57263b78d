"""The audit log: every change made through the API or the CLI. Admins only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from shadowlens.api.deps import SessionDep, require
from shadowlens.api.exporting import PageCursor, PageLimit
from shadowlens.api.schemas import AuditOut, AuditPage, ErrorBody
from shadowlens.proxy.governance import audit

router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[Depends(require("admin"))])


@router.get(
    "",
    response_model=AuditPage,
    responses={422: {"model": ErrorBody, "description": "Bad cursor."}},
)
def list_audit(
    session: SessionDep,
    target: Annotated[str | None, Query(description="A service or token id.")] = None,
    limit: PageLimit = 100,
    cursor: PageCursor = None,
) -> AuditPage:
    """Audit entries newest first."""
    if cursor is not None and not cursor.isdigit():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "malformed cursor")
    rows = audit.list_audit(
        session, limit=limit + 1, before_id=int(cursor) if cursor else None, target=target
    )
    page = rows[:limit]
    next_cursor = str(page[-1].id) if len(rows) > limit else None
    return AuditPage(items=[AuditOut.model_validate(r) for r in page], next_cursor=next_cursor)
