"""Initial inventory: services seen and detections.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "detections",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("user", sa.String(length=255), nullable=True),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("evidence", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("request_bytes", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=512), nullable=True),
    )
    op.create_index("ix_detections_ts_id", "detections", ["ts", "id"])
    op.create_index("ix_detections_service_ts", "detections", ["service_id", "ts"])
    op.create_index("ix_detections_user_ts", "detections", ["user", "ts"])
    op.create_table(
        "services",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("vendor", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("bytes_up", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_services_last_seen", "services", ["last_seen"])


def downgrade() -> None:
    op.drop_table("services")
    op.drop_table("detections")
