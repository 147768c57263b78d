"""Typed SQLAlchemy 2 models of the inventory. Schema changes go through Alembic."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class ServiceSeen(Base):
    """An AI service observed in traffic, with running counters."""

    __tablename__ = "services"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    vendor: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_up: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_down: Mapped[int] = mapped_column(BigInteger, default=0)
    users: Mapped[int] = mapped_column(BigInteger, default=0)


class Detection(Base):
    """One flow to an AI service."""

    __tablename__ = "detections"
    __table_args__ = (
        Index("ix_detections_ts_id", "ts", "id"),
        Index("ix_detections_service_ts", "service_id", "ts", "id"),
        Index("ix_detections_user_ts", "user", "ts", "id"),
        Index("ix_detections_action_ts", "action", "ts", "id"),
        Index("ix_detections_conversation", "conversation"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    client_ip: Mapped[str] = mapped_column(String(64))
    user: Mapped[str | None] = mapped_column(String(255))
    service_id: Mapped[str] = mapped_column(String(255))
    evidence: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    signals: Mapped[str] = mapped_column(String(128), default="")
    client: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(200))
    account: Mapped[str | None] = mapped_column(String(200))
    account_kind: Mapped[str] = mapped_column(String(16), default="unknown")
    action: Mapped[str] = mapped_column(String(16), default="monitor")
    data_classes: Mapped[str] = mapped_column(String(64), default="")
    rule_id: Mapped[str | None] = mapped_column(String(64))
    groups: Mapped[str] = mapped_column(String(255), default="")
    tenant_restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    enforced: Mapped[bool] = mapped_column(Boolean, default=True)
    method: Mapped[str] = mapped_column(String(16))
    host: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(2048))
    request_bytes: Mapped[int] = mapped_column(BigInteger)
    response_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(512))
    conversation: Mapped[str | None] = mapped_column(String(128))
    # A coaching justification is stored under the id of the detection that carried it.
    justification_row: Mapped[Justification | None] = relationship(
        primaryjoin="Detection.id == foreign(Justification.id)", viewonly=True, lazy="selectin"
    )

    @property
    def justification(self) -> str | None:
        """What the user wrote on the coaching page to go on, if this flow carried it."""
        return self.justification_row.text if self.justification_row else None

    # A log scan writes one row per hour, user and host: the flows it stands for, and its span.
    requests: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    last_ts: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FindingRow(Base):
    """What DLP found in one detection's upload: never the value, only how to recognise it.

    The storage format of an event's ``FindingRecord`` (one row each, keyed by detection)."""

    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_detector_ts", "detector", "ts"),
        Index("ix_findings_fingerprint", "fingerprint"),
        Index("ix_findings_ts", "ts"),
    )

    detection_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("detections.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    detector: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
    preview: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(String(256))


class Justification(Base):
    """A user's reason for continuing past a coaching page: evidence for the review."""

    __tablename__ = "justifications"
    __table_args__ = (
        Index("ix_justifications_service_ts", "service_id", "ts"),
        Index("ix_justifications_allowed_until", "allowed_until"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    user: Mapped[str | None] = mapped_column(String(255))
    client_ip: Mapped[str] = mapped_column(String(64))
    service_id: Mapped[str] = mapped_column(String(255))
    rule_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    allowed_until: Mapped[datetime] = mapped_column(UTCDateTime())


# -- governance and aggregates (migration 0005) ----------------------------------------------


class ServiceUser(Base):
    """That a user reached a service: the source of ``services.users``, counted atomically."""

    __tablename__ = "service_users"

    service_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user: Mapped[str] = mapped_column(String(255), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class ServiceDataClass(Base):
    """A sensitive data category seen going to a service, and when first."""

    __tablename__ = "service_data_classes"

    service_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    category: Mapped[str] = mapped_column(String(16), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class Governance(Base):
    """The organisation's decision on a service: status, owner, risk and review."""

    __tablename__ = "governance"

    service_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    owner: Mapped[str | None] = mapped_column(String(255))
    justification: Mapped[str | None] = mapped_column(Text)
    risk_score: Mapped[int | None] = mapped_column(Integer)
    risk_factors: Mapped[str | None] = mapped_column(Text)  # JSON list of {name, points, reason}
    review_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notes: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(255))


class UserSeen(Base):
    """A user seen using AI services: identity, groups, first and last seen."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    groups: Mapped[str] = mapped_column(String(255), default="")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_up: Mapped[int] = mapped_column(BigInteger, default=0)


class HourlyRollup(Base):
    """Flows per hour by service by user by action, so summaries never scan detections."""

    __tablename__ = "rollups_hourly"
    __table_args__ = (Index("ix_rollups_hourly_hour", "hour"),)

    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user: Mapped[str] = mapped_column(String(255), primary_key=True)  # "" when unknown
    action: Mapped[str] = mapped_column(String(16), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_up: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_down: Mapped[int] = mapped_column(BigInteger, default=0)
    findings: Mapped[int] = mapped_column(BigInteger, default=0)


class FindingRollup(Base):
    """DLP findings per hour by detector by severity, for summaries and reports.

    A storage format of its own: counts, not findings, so summaries never read ``findings``."""

    __tablename__ = "finding_rollups_hourly"
    __table_args__ = (Index("ix_finding_rollups_hourly_hour", "hour"),)

    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    detector: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(16), primary_key=True)
    severity: Mapped[str] = mapped_column(String(16), primary_key=True)
    findings: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditEntry(Base):
    """One change made through the API or the CLI: who, what, before and after. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_ts", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    before: Mapped[str | None] = mapped_column(Text)  # JSON
    after: Mapped[str | None] = mapped_column(Text)  # JSON


class ApiToken(Base):
    """An API token: only its SHA-256 is kept, with its role."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(255))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ServiceRollup(Base):
    """Flows per hour by service and action, without users: totals and top services."""

    __tablename__ = "rollups_service_hourly"
    __table_args__ = (Index("ix_rollups_service_hourly_hour", "hour"),)

    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    action: Mapped[str] = mapped_column(String(16), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_up: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_down: Mapped[int] = mapped_column(BigInteger, default=0)
    findings: Mapped[int] = mapped_column(BigInteger, default=0)


class UserRollup(Base):
    """Flows per day by user: distinct and top users over long ranges."""

    __tablename__ = "rollups_user_daily"
    __table_args__ = (Index("ix_rollups_user_daily_day", "day"),)

    day: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    user: Mapped[str] = mapped_column(String(255), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_up: Mapped[int] = mapped_column(BigInteger, default=0)


class AlertRow(Base):
    """An alert an alert rule raised: when, why, about what, and whether its webhooks took it."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_rule_key_ts", "rule_id", "dedupe_key", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    rule_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(600))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    service_id: Mapped[str | None] = mapped_column(String(255))
    user: Mapped[str | None] = mapped_column(String(255))
    detection_id: Mapped[str | None] = mapped_column(String(32))
    link: Mapped[str] = mapped_column(Text)
    webhooks: Mapped[str] = mapped_column(String(500))  # comma-separated names
    status: Mapped[str] = mapped_column(String(16))  # sent, failed or recorded (no webhook url)


class LogFile(Base):
    """How far ``shadowlens logs scan`` has read a log, known by the hash of its first bytes."""

    __tablename__ = "log_files"

    head_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    head_len: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)  # bytes read (decompressed), whole lines
    lines: Mapped[int] = mapped_column(BigInteger)  # lines before the offset
    name: Mapped[str] = mapped_column(String(1024))
    format: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
