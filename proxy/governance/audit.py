"""The audit log: who changed what in the register or the tokens, with before and after."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shadowlens.proxy.inventory.models import AuditEntry


def record_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Append one entry to the audit log (in the caller's transaction)."""
    session.add(
        AuditEntry(
            ts=datetime.now(UTC),
            actor=actor[:255],
            action=action,
            target=target[:255],
            before=json.dumps(before, sort_keys=True) if before is not None else None,
            after=json.dumps(after, sort_keys=True) if after is not None else None,
        )
    )


def list_audit(
    session: Session, *, limit: int, before_id: int | None = None, target: str | None = None
) -> Sequence[AuditEntry]:
    """Audit entries newest first; ``before_id`` pages on from an earlier page's last id."""
    query = select(AuditEntry)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    return session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)).all()
