"""Whose account a detection used: corporate, personal or unknown.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("detections") as batch:
        batch.add_column(
            sa.Column("account_kind", sa.String(16), nullable=False, server_default="unknown")
        )


def downgrade() -> None:
    with op.batch_alter_table("detections") as batch:
        batch.drop_column("account_kind")
