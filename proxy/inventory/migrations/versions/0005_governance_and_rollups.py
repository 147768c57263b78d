"""Governance, users, hourly rollups, audit log and API tokens; bytes down and users per service.

Existing detections are folded into the new aggregates, so an upgraded inventory reports the
same totals as one that had them from the start.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _ts() -> sa.Column[datetime]:
    return sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(
            sa.Column("bytes_down", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("users", sa.BigInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("detections") as batch:
        batch.add_column(
            sa.Column("response_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_index("ix_detections_action_ts", "detections", ["action", "ts"])
    op.create_index("ix_findings_ts", "findings", ["ts"])
    op.create_table(
        "service_users",
        sa.Column("service_id", sa.String(255), primary_key=True),
        sa.Column("user", sa.String(255), primary_key=True),
        _ts(),
    )
    op.create_table(
        "service_data_classes",
        sa.Column("service_id", sa.String(255), primary_key=True),
        sa.Column("category", sa.String(16), primary_key=True),
        _ts(),
    )
    op.create_table(
        "governance",
        sa.Column("service_id", sa.String(255), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("risk_score", sa.Integer(), nullable=True),
        sa.Column("risk_factors", sa.Text(), nullable=True),
        sa.Column("review_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("groups", sa.String(255), nullable=False),
        _ts(),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("bytes_up", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_users_last_seen", "users", ["last_seen"])
    op.create_table(
        "rollups_hourly",
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("service_id", sa.String(255), primary_key=True),
        sa.Column("user", sa.String(255), primary_key=True),
        sa.Column("action", sa.String(16), primary_key=True),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("bytes_up", sa.BigInteger(), nullable=False),
        sa.Column("bytes_down", sa.BigInteger(), nullable=False),
        sa.Column("findings", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_rollups_hourly_hour", "rollups_hourly", ["hour"])
    op.create_table(
        "finding_rollups_hourly",
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("detector", sa.String(64), primary_key=True),
        sa.Column("category", sa.String(16), primary_key=True),
        sa.Column("severity", sa.String(16), primary_key=True),
        sa.Column("findings", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_finding_rollups_hourly_hour", "finding_rollups_hourly", ["hour"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
    )
    op.create_index("ix_audit_log_ts", "audit_log", ["ts"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    hour = (
        "date_trunc('hour', ts)"
        if bind.dialect.name == "postgresql"
        else r"strftime('%Y-%m-%d %H\:00\:00.000000', ts)"  # \: is a colon, not a bind
    )
    for statement in (
        'INSERT INTO service_users (service_id, "user", first_seen) '
        'SELECT service_id, "user", min(ts) FROM detections WHERE "user" IS NOT NULL '
        'GROUP BY service_id, "user"',
        "INSERT INTO users (id, groups, first_seen, last_seen, requests, bytes_up) "
        'SELECT "user", max(groups), min(ts), max(ts), count(*), sum(request_bytes) '
        'FROM detections WHERE "user" IS NOT NULL GROUP BY "user"',
        "UPDATE services SET users = (SELECT count(*) FROM service_users "
        "WHERE service_users.service_id = services.id)",
        "INSERT INTO service_data_classes (service_id, category, first_seen) "
        "SELECT d.service_id, f.category, min(f.ts) FROM findings f "
        "JOIN detections d ON d.id = f.detection_id GROUP BY d.service_id, f.category",
        'INSERT INTO rollups_hourly (hour, service_id, "user", action, requests, bytes_up, '
        "bytes_down, findings) SELECT {hour}, service_id, coalesce(\"user\", ''), action, "
        "count(*), sum(request_bytes), 0, sum((SELECT count(*) FROM findings f "
        "WHERE f.detection_id = detections.id)) FROM detections "
        "GROUP BY {hour}, service_id, coalesce(\"user\", ''), action",
        "INSERT INTO finding_rollups_hourly (hour, detector, category, severity, findings) "
        "SELECT {hour}, detector, category, severity, count(*) FROM findings "
        "GROUP BY {hour}, detector, category, severity",
    ):
        op.execute(sa.text(statement.replace("{hour}", hour)))


def downgrade() -> None:
    for table in (
        "api_tokens",
        "audit_log",
        "finding_rollups_hourly",
        "rollups_hourly",
        "users",
        "governance",
        "service_data_classes",
        "service_users",
    ):
        op.drop_table(table)
    op.drop_index("ix_findings_ts", "findings")
    op.drop_index("ix_detections_action_ts", "detections")
    with op.batch_alter_table("detections") as batch:
        batch.drop_column("response_bytes")
    with op.batch_alter_table("services") as batch:
        batch.drop_column("users")
        batch.drop_column("bytes_down")
