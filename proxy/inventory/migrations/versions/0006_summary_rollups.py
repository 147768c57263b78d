"""Coarser rollups for summaries (per hour by service and action, per day by user), and
detection indexes that end in ``id``, so a filtered page in (ts, id) order reads the index in
order instead of sorting every match.

``rollups_hourly`` keeps one row per hour, service, user and action; with thousands of users
it holds nearly a row per detection, too many for a week's summary in 100 ms. These two are
filled from it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollups_service_hourly",
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("service_id", sa.String(255), primary_key=True),
        sa.Column("action", sa.String(16), primary_key=True),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("bytes_up", sa.BigInteger(), nullable=False),
        sa.Column("bytes_down", sa.BigInteger(), nullable=False),
        sa.Column("findings", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_rollups_service_hourly_hour", "rollups_service_hourly", ["hour"])
    op.create_table(
        "rollups_user_daily",
        sa.Column("day", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("user", sa.String(255), primary_key=True),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("bytes_up", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_rollups_user_daily_day", "rollups_user_daily", ["day"])
    for name, column in _INDEXES:
        op.drop_index(name, "detections")
        op.create_index(name, "detections", [column, "ts", "id"])
    backfill()


_INDEXES = (
    ("ix_detections_service_ts", "service_id"),
    ("ix_detections_user_ts", "user"),
    ("ix_detections_action_ts", "action"),
)


def backfill() -> None:
    """Fill both tables from ``rollups_hourly``."""
    bind = op.get_bind()
    day = (
        "date_trunc('day', hour)"
        if bind.dialect.name == "postgresql"
        else r"strftime('%Y-%m-%d 00\:00\:00.000000', hour)"  # \: is a colon, not a bind
    )
    op.execute(
        sa.text(
            "INSERT INTO rollups_service_hourly (hour, service_id, action, requests, bytes_up, "
            "bytes_down, findings) SELECT hour, service_id, action, sum(requests), "
            "sum(bytes_up), sum(bytes_down), sum(findings) FROM rollups_hourly "
            "GROUP BY hour, service_id, action"
        )
    )
    op.execute(
        sa.text(
            'INSERT INTO rollups_user_daily (day, "user", requests, bytes_up) '
            'SELECT {day}, "user", sum(requests), sum(bytes_up) FROM rollups_hourly '
            'WHERE "user" != \'\' GROUP BY {day}, "user"'.replace("{day}", day)
        )
    )


def downgrade() -> None:
    for name, column in _INDEXES:
        op.drop_index(name, "detections")
        op.create_index(name, "detections", [column, "ts"])
    op.drop_table("rollups_user_daily")
    op.drop_table("rollups_service_hourly")
