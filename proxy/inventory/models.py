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
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
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


class Detection(Base):
    """One flow to an AI service."""

    __tablename__ = "detections"
    __table_args__ = (
        Index("ix_detections_ts_id", "ts", "id"),
        Index("ix_detections_service_ts", "service_id", "ts"),
        Index("ix_detections_user_ts", "user", "ts"),
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
    action: Mapped[str] = mapped_column(String(16), default="monitor")
    data_classes: Mapped[str] = mapped_column(String(64), default="")
    rule_id: Mapped[str | None] = mapped_column(String(64))
    groups: Mapped[str] = mapped_column(String(255), default="")
    tenant_restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    method: Mapped[str] = mapped_column(String(16))
    host: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(2048))
    request_bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(512))


class FindingRow(Base):
    """What DLP found in one detection's upload: never the value, only how to recognise it."""

    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_detector_ts", "detector", "ts"),
        Index("ix_findings_fingerprint", "fingerprint"),
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
    __table_args__ = (Index("ix_justifications_service_ts", "service_id", "ts"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    user: Mapped[str | None] = mapped_column(String(255))
    client_ip: Mapped[str] = mapped_column(String(64))
    service_id: Mapped[str] = mapped_column(String(255))
    rule_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    allowed_until: Mapped[datetime] = mapped_column(UTCDateTime())
