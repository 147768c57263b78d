"""Users of AI services, most active first: identities, so analysts and admins only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from shadowlens.api.deps import SessionDep, aware, require
from shadowlens.api.schemas import UserList, UserOut
from shadowlens.proxy.reports import queries

router = APIRouter(prefix="/users", tags=["users"], dependencies=[Depends(require("analyst"))])


@router.get("", response_model=UserList)
def list_users(
    session: SessionDep,
    since: Annotated[
        datetime | None, Query(description="Count requests from this hour on (ISO 8601).")
    ] = None,
    until: Annotated[datetime | None, Query(description="…up to this hour (exclusive).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Top N.")] = 100,
) -> UserList:
    """The top users by requests, overall or in a time range (from the hourly rollups)."""
    rows = queries.list_users(session, since=aware(since), until=aware(until), limit=limit)
    return UserList(items=[UserOut.model_validate(r) for r in rows])
