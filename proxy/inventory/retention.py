"""Retention: purge detections, findings and justifications older than their settings allow.

Rollups, users, services, governance and the audit log are kept. Rows go in small batches,
each its own transaction, so a purge never holds long locks on a busy inventory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from shadowlens.proxy import metrics
from shadowlens.proxy.inventory.models import Detection, FindingRow, Justification
from shadowlens.proxy.settings import Settings

log = logging.getLogger(__name__)

BATCH = 5000


@dataclass(frozen=True, slots=True)
class RetentionDays:
    """Days each table keeps its rows; 0 keeps them forever."""

    detections: int = 0
    findings: int = 0
    justifications: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionDays:
        """The retention the settings ask for."""
        return cls(
            detections=settings.retention_detections_days,
            findings=settings.retention_findings_days,
            justifications=settings.retention_justifications_days,
        )


def _purge_table(sessions: sessionmaker[Session], model: Any, key: Any, cutoff: datetime) -> int:
    purged = 0
    while True:
        with sessions.begin() as session:
            keys = session.scalars(select(key).where(model.ts < cutoff).limit(BATCH)).all()
            if not keys:
                return purged
            if model is FindingRow:  # composite key: purge by detection, a few at a time
                session.execute(
                    delete(FindingRow).where(
                        FindingRow.detection_id.in_(keys), FindingRow.ts < cutoff
                    )
                )
            else:
                if model is Detection:  # findings belong to their detection
                    session.execute(delete(FindingRow).where(FindingRow.detection_id.in_(keys)))
                session.execute(delete(model).where(key.in_(keys)))
            purged += len(keys)


def purge(
    sessions: sessionmaker[Session], *, days: RetentionDays, now: datetime | None = None
) -> dict[str, int]:
    """Delete what retention expires; returns rows purged per table."""
    now = now or datetime.now(UTC)
    done: dict[str, int] = {}
    for table, model, key, keep in (
        ("findings", FindingRow, FindingRow.detection_id, days.findings),
        ("justifications", Justification, Justification.id, days.justifications),
        ("detections", Detection, Detection.id, days.detections),
    ):
        if keep <= 0:
            continue
        count = _purge_table(sessions, model, key, now - timedelta(days=keep))
        done[table] = count
        if count:
            metrics.RETENTION_PURGED.labels(table=table).inc(count)
            log.info("retention purged %d %s older than %d days", count, table, keep)
    return done
