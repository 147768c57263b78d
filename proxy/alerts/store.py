"""Raising alerts (de-duplicated, sent, recorded) and listing those recorded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shadowlens.proxy import metrics
from shadowlens.proxy.alerts import notify
from shadowlens.proxy.alerts.engine import Alert
from shadowlens.proxy.alerts.rules import AlertRules
from shadowlens.proxy.inventory.models import AlertRow, Governance, ServiceSeen


def _duplicate(session: Session, alert: Alert) -> bool:
    """Whether an alert with the same rule and key was raised within the rule's window."""
    query = select(AlertRow.id).where(
        AlertRow.rule_id == alert.rule.id, AlertRow.dedupe_key == alert.dedupe_key
    )
    if alert.rule.dedupe_minutes:
        query = query.where(AlertRow.ts > alert.ts - timedelta(minutes=alert.rule.dedupe_minutes))
    return session.scalar(query.limit(1)) is not None


def _new_and_in_status(session: Session, alert: Alert) -> bool:
    """For a new service: not seen before this event, and of a status the rule names (its
    governance record's, else the policy's)."""
    first_seen = session.scalar(
        select(ServiceSeen.first_seen).where(ServiceSeen.id == alert.service_id)
    )
    if first_seen is not None and first_seen < alert.ts:
        return False
    status = session.scalar(
        select(Governance.status).where(Governance.service_id == alert.service_id)
    )
    return (status or alert.status) in alert.rule.statuses


def raise_alerts(
    sessions: sessionmaker[Session], *, alerts: Sequence[Alert], rules: AlertRules, link_base: str
) -> list[AlertRow]:
    """Send and record each alert that is not a duplicate; the rows recorded.

    Runs in a worker thread: webhooks are called outside any transaction.
    """
    raised = []
    for alert in alerts:
        with sessions() as session:
            if _duplicate(session, alert):
                continue
            if alert.rule.kind == "new_service" and not _new_and_in_status(session, alert):
                continue
        link = notify.alert_link(alert, link_base)
        webhooks = [rules.webhooks[name] for name in alert.rule.notify]
        targets = [w for w in webhooks if w.url]
        delivered = [notify.send(alert, w, link) for w in targets]
        status = "recorded" if not targets else "sent" if all(delivered) else "failed"
        row = AlertRow(
            ts=alert.ts, rule_id=alert.rule.id, kind=alert.rule.kind,
            dedupe_key=alert.dedupe_key[:600], severity=alert.rule.severity, title=alert.title,
            service_id=alert.service_id, user=alert.user, detection_id=alert.detection_id,
            link=link, webhooks=",".join(w.name for w in webhooks), status=status,
        )  # fmt: skip
        with sessions.begin() as session:
            session.add(row)
        metrics.ALERTS.labels(rule=alert.rule.id, status=status).inc()
        raised.append(row)
    return raised


def list_alerts(
    session: Session,
    *,
    limit: int,
    before_id: int | None = None,
    rule: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Sequence[AlertRow]:
    """Alerts newest first; ``before_id`` pages on from an earlier page's last id."""
    query = select(AlertRow)
    if before_id is not None:
        query = query.where(AlertRow.id < before_id)
    if rule is not None:
        query = query.where(AlertRow.rule_id == rule)
    if since is not None:
        query = query.where(AlertRow.ts >= since)
    if until is not None:
        query = query.where(AlertRow.ts < until)
    return session.scalars(query.order_by(AlertRow.id.desc()).limit(limit)).all()
