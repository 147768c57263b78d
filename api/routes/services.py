"""The inventory of AI services seen."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep
from api.schemas import ServiceList, ServiceOut
from proxy.inventory import store

router = APIRouter(prefix="/services", tags=["inventory"])


@router.get("", response_model=ServiceList)
def list_services(
    session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 500
) -> ServiceList:
    """AI services seen in traffic, most recently seen first."""
    rows = store.list_services(session, limit=limit)
    return ServiceList(items=[ServiceOut.model_validate(r) for r in rows])
