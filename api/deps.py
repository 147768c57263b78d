"""Dependencies shared by the routes: the database session, bearer-token auth and roles.

A bearer token is one of ``SHADOWLENS_API_TOKENS`` (bootstrap tokens, with the admin role),
one made with ``shadowlens token create`` (stored as its SHA-256, with its own role), or,
when a JWKS file is configured, an OIDC JWT carrying its role in a claim.
Roles: ``viewer`` sees aggregates without identities, ``analyst`` also detections, findings
and users, ``admin`` also changes governance and reads the audit log.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from shadowlens.proxy.auth import tokens
from shadowlens.proxy.auth.oidc import OidcError, OidcVerifier
from shadowlens.proxy.auth.tokens import Principal

_bearer = HTTPBearer(
    auto_error=False,
    description="A token from `shadowlens token create`, or one of SHADOWLENS_API_TOKENS.",
)


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, closed afterwards."""
    with request.app.state.sessions() as session:
        yield session


def _unauthorized() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "missing or invalid bearer token",
        headers={"WWW-Authenticate": "Bearer"},
    )


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Who the bearer token stands for; 401 unless it is a bootstrap or a stored token."""
    presented = credentials.credentials if credentials else ""
    if not presented:
        raise _unauthorized()
    bootstrap: frozenset[str] = request.app.state.tokens
    # Compare against every token in constant time, so timing tells nothing.
    if any(hmac.compare_digest(presented, token) for token in bootstrap):
        return Principal(actor="bootstrap-token", role="admin")
    verifier: OidcVerifier | None = request.app.state.oidc
    if verifier is not None and presented.count(".") == 2:  # a JWT, not one of our tokens
        try:
            return verifier.principal(presented)
        except OidcError as exc:
            raise _unauthorized() from exc
    with request.app.state.sessions() as session:
        principal = tokens.principal_for(session, secret=presented)
    if principal is None:
        raise _unauthorized()
    return principal


def require(role: str) -> Callable[..., Principal]:
    """A dependency that lets through principals with ``role`` or a higher one (else 403)."""

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not tokens.role_at_least(principal.role, role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the {role} role; the token is {principal.role}",
            )
        return principal

    check.__name__ = f"require_{role}"
    return check


# Kept for routers that only need a valid token, whatever its role.
require_token = authenticate

SessionDep = Annotated[Session, Depends(get_session)]
PrincipalDep = Annotated[Principal, Depends(authenticate)]


def aware(value: datetime | None) -> datetime | None:
    """``value`` unchanged; 422 when it is a time without a zone."""
    if value is not None and value.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "give times with a zone")
    return value
