"""Policy decisions on detections (rule id, tenant restriction) and coaching justifications.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("detections") as batch:
        batch.add_column(sa.Column("rule_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("groups", sa.String(255), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("tenant_restricted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("enforced", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "justifications",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(255), nullable=True),
        sa.Column("client_ip", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(255), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("allowed_until", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_justifications_service_ts", "justifications", ["service_id", "ts"])


def downgrade() -> None:
    op.drop_table("justifications")
    with op.batch_alter_table("detections") as batch:
        batch.drop_column("enforced")
        batch.drop_column("tenant_restricted")
        batch.drop_column("groups")
        batch.drop_column("rule_id")
