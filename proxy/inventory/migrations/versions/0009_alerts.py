"""Alerts raised by the alert rules (rules/alerts.yaml), for GET /api/v1/alerts and de-duplication.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("dedupe_key", sa.String(600), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("service_id", sa.String(255), nullable=True),
        sa.Column("user", sa.String(255), nullable=True),
        sa.Column("detection_id", sa.String(32), nullable=True),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("webhooks", sa.String(500), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_alerts_ts", "alerts", ["ts"])
    op.create_index("ix_alerts_rule_key_ts", "alerts", ["rule_id", "dedupe_key", "ts"])


def downgrade() -> None:
    op.drop_table("alerts")
