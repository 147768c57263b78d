"""The policy in force, read-only: edits stay in the policy file, under review."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, status

from shadowlens.api.deps import require
from shadowlens.api.schemas import ErrorBody, PolicyView
from shadowlens.proxy.errors import RulesError
from shadowlens.proxy.policy import load_policy
from shadowlens.proxy.policy.view import policy_view

router = APIRouter(prefix="/policy", tags=["policy"], dependencies=[Depends(require("viewer"))])


@router.get(
    "",
    response_model=PolicyView,
    responses={503: {"model": ErrorBody, "description": "The policy file is missing or bad."}},
)
def get_policy(request: Request) -> PolicyView:
    """The policy file as the proxy reads it: status, rules, exemptions, restrictions."""
    path = request.app.state.policy_file
    if path is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no policy file configured")
    try:
        return PolicyView.model_validate(policy_view(load_policy(path)))
    except RulesError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
