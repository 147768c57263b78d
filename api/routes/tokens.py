"""API tokens: create, list and revoke. Admins only; every change is audited."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status

from shadowlens.api.deps import PrincipalDep, SessionDep, require
from shadowlens.api.schemas import ErrorBody, TokenCreate, TokenCreated, TokenList, TokenOut
from shadowlens.proxy.auth import tokens

router = APIRouter(prefix="/tokens", tags=["tokens"], dependencies=[Depends(require("admin"))])


@router.get("", response_model=TokenList)
def list_tokens(session: SessionDep) -> TokenList:
    """Every token, revoked ones included, oldest first; never a secret."""
    return TokenList(items=[TokenOut.model_validate(t) for t in tokens.list_tokens(session)])


@router.post("", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(session: SessionDep, principal: PrincipalDep, body: TokenCreate) -> TokenCreated:
    """Make a token; its secret is in this answer only."""
    row, secret = tokens.create_token(
        session, name=body.name, role=body.role, actor=principal.actor
    )
    session.commit()
    return TokenCreated.model_validate(
        {**TokenOut.model_validate(row).model_dump(), "token": secret}
    )


@router.delete(
    "/{token_id}",
    response_model=TokenOut,
    responses={404: {"model": ErrorBody, "description": "No such token."}},
)
def revoke_token(session: SessionDep, principal: PrincipalDep, token_id: str) -> TokenOut:
    """Revoke a token at once."""
    try:
        row = tokens.revoke_token(session, token_id=token_id, actor=principal.actor)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc.args[0])) from exc
    session.commit()
    return TokenOut.model_validate(row)
