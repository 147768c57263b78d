"""Reports: the ISO/IEC 42001 evidence report as JSON, Markdown or CSV."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from shadowlens.api.deps import PrincipalDep, SessionDep, require
from shadowlens.api.routes.summary import period
from shadowlens.proxy.auth.tokens import role_at_least
from shadowlens.proxy.reports import iso42001 as evidence

router = APIRouter(prefix="/reports", tags=["reports"], dependencies=[Depends(require("viewer"))])

MEDIA = {"json": "application/json", "md": "text/markdown; charset=utf-8", "csv": "text/csv"}


@router.get(
    "/iso42001",
    responses={
        200: {
            "description": "The report; incidents name users only for analysts and admins.",
            "content": {m: {} for m in MEDIA.values()},
        }
    },
)
def iso42001(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    format: Annotated[
        str, Query(pattern="^(json|md|csv)$", description="json, md or csv.")
    ] = "json",
    since: Annotated[datetime | None, Query(description="Default: 30 days before until.")] = None,
    until: Annotated[datetime | None, Query(description="Default: now.")] = None,
) -> Any:
    """Inventory and risk register mapped to ISO/IEC 42001 clauses and Annex A controls."""
    start, end = period(since, until, default_days=30)
    report = evidence.report(
        session,
        since=start,
        until=end,
        catalog=request.app.state.catalog,
        identities=role_at_least(principal.role, "analyst"),
    )
    if format == "md":
        return Response(evidence.markdown(report), media_type=MEDIA["md"])
    if format == "csv":
        return Response(evidence.csv_text(report), media_type=MEDIA["csv"])
    return report
