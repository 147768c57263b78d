"""DLP findings per detection, the action taken, and the data classes uploaded.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("detections") as batch:
        batch.add_column(
            sa.Column("action", sa.String(16), nullable=False, server_default="monitor")
        )
        batch.add_column(
            sa.Column("data_classes", sa.String(64), nullable=False, server_default="")
        )
    op.create_table(
        "findings",
        sa.Column(
            "detection_id",
            sa.String(32),
            sa.ForeignKey("detections.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detector", sa.String(64), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("preview", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("location", sa.String(256), nullable=False),
    )
    op.create_index("ix_findings_detector_ts", "findings", ["detector", "ts"])
    op.create_index("ix_findings_fingerprint", "findings", ["fingerprint"])


def downgrade() -> None:
    op.drop_table("findings")
    with op.batch_alter_table("detections") as batch:
        batch.drop_column("data_classes")
        batch.drop_column("action")
