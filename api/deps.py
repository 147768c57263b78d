"""Dependencies shared by the routes: the database session and bearer-token auth."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

_bearer = HTTPBearer(auto_error=False, description="An API token from SHADOWLENS_API_TOKENS.")


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, closed afterwards."""
    with request.app.state.sessions() as session:
        yield session


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Reject the request unless it carries one of the configured bearer tokens."""
    tokens: frozenset[str] = request.app.state.tokens
    presented = credentials.credentials if credentials else ""
    # Compare against every token in constant time, so timing tells nothing.
    if not any(hmac.compare_digest(presented, token) for token in tokens) or not presented:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


SessionDep = Annotated[Session, Depends(get_session)]
