"""Log discovery: aggregated detections, and how far each scanned log was read.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("detections") as batch:
        batch.add_column(sa.Column("requests", sa.BigInteger, nullable=False, server_default="1"))
        batch.add_column(sa.Column("last_ts", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "log_files",
        sa.Column("head_hash", sa.String(64), primary_key=True),
        sa.Column("head_len", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("lines", sa.BigInteger, nullable=False),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("log_files")
    with op.batch_alter_table("detections") as batch:
        batch.drop_column("last_ts")
        batch.drop_column("requests")
