"""API tokens with roles, stored as SHA-256 hashes: the secret is shown once, never kept.

A token is 256 random bits, so a fast hash is enough: there is nothing to guess from it.
Roles are ordered: ``viewer`` (aggregates, no identities) < ``analyst`` (detections and
findings with identities) < ``admin`` (governance changes, tokens, the audit log).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shadowlens.proxy.governance.register import record_audit
from shadowlens.proxy.inventory.models import ApiToken

ROLES = ("viewer", "analyst", "admin")
TOKEN_PREFIX = "slk_"  # noqa: S105 (a prefix that makes leaked tokens easy to scan for)


def role_at_least(role: str, needed: str) -> bool:
    """Whether ``role`` grants what ``needed`` grants."""
    return ROLES.index(role) >= ROLES.index(needed)


def hash_token(secret: str) -> str:
    """The hex SHA-256 under which a token is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a name for the audit log and a role."""

    actor: str
    role: str


def create_token(session: Session, *, name: str, role: str, actor: str) -> tuple[ApiToken, str]:
    """A new token with ``role``; returns the row and the secret, which is not stored."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("a token needs a name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        id=secrets.token_hex(8),
        name=name.strip()[:200],
        role=role,
        token_hash=hash_token(secret),
        created_at=datetime.now(UTC),
        created_by=actor[:255],
    )
    session.add(row)
    session.flush()
    after = {"name": row.name, "role": role}
    record_audit(
        session, actor=actor, action="token.create", target=row.id, before=None, after=after
    )
    return row, secret


def list_tokens(session: Session) -> Sequence[ApiToken]:
    """Every token, revoked ones included, oldest first (hashes, never secrets)."""
    return session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)).all()


def revoke_token(session: Session, *, token_id: str, actor: str) -> ApiToken:
    """Revoke a token at once; LookupError when there is no such token."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise LookupError(f"no token {token_id!r}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        record_audit(
            session,
            actor=actor,
            action="token.revoke",
            target=row.id,
            before={"name": row.name, "role": row.role, "revoked": False},
            after={"name": row.name, "role": row.role, "revoked": True},
        )
    return row


def principal_for(session: Session, *, secret: str) -> Principal | None:
    """The principal a stored, unrevoked token stands for, or None."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if row is None or row.revoked_at is not None:
        return None
    return Principal(actor=f"token:{row.id}:{row.name}", role=row.role)
