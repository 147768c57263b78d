"""Detections carry confidence, all signals, client, model and account; longer service ids.

Unknown LLM endpoints and MCP servers are services keyed by host, so ids grow to 255.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("detections") as batch:
        batch.alter_column("service_id", type_=sa.String(255), existing_nullable=False)
        batch.add_column(sa.Column("confidence", sa.Float(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("signals", sa.String(128), nullable=False, server_default=""))
        batch.add_column(sa.Column("client", sa.String(64), nullable=True))
        batch.add_column(sa.Column("model", sa.String(200), nullable=True))
        batch.add_column(sa.Column("account", sa.String(200), nullable=True))
    with op.batch_alter_table("services") as batch:
        batch.alter_column("id", type_=sa.String(255), existing_nullable=False)
        batch.alter_column("name", type_=sa.String(300), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.alter_column("name", type_=sa.String(200), existing_nullable=False)
        batch.alter_column("id", type_=sa.String(64), existing_nullable=False)
    with op.batch_alter_table("detections") as batch:
        for column in ("account", "model", "client", "signals", "confidence"):
            batch.drop_column(column)
        batch.alter_column("service_id", type_=sa.String(64), existing_nullable=False)
