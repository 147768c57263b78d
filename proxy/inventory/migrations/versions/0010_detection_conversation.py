"""The web app's conversation id on a detection, so findings group by conversation.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("detections") as batch:
        batch.add_column(sa.Column("conversation", sa.String(128), nullable=True))
        batch.create_index("ix_detections_conversation", ["conversation"])


def downgrade() -> None:
    with op.batch_alter_table("detections") as batch:
        batch.drop_index("ix_detections_conversation")
        batch.drop_column("conversation")
