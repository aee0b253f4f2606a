"""series: templates of treatment courses, and what a booked series remembers

Revision ID: 0009_series
Revises: 0008_web_sessions
Create Date: 2026-12-06 05:15:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scheduler.db

revision: str = "0009_series"
down_revision: str | None = "0008_web_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "series_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_type_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("visit_count", sa.Integer(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("min_gap_hours", sa.Integer(), nullable=False),
        sa.Column("max_gap_hours", sa.Integer(), nullable=False),
        sa.Column("max_per_week", sa.Integer(), nullable=False),
        sa.Column("booster_interval_days", sa.Integer(), nullable=True),
        sa.Column("prefer_same_time", sa.Boolean(), nullable=False),
        sa.Column("prefer_same_chair", sa.Boolean(), nullable=False),
        sa.Column("prefer_same_provider", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "visit_count >= 1", name=op.f("ck_series_template_visit_count_positive")
        ),
        sa.CheckConstraint(
            "window_days >= 1", name=op.f("ck_series_template_window_days_positive")
        ),
        sa.CheckConstraint(
            "max_gap_hours >= min_gap_hours", name=op.f("ck_series_template_gap_range")
        ),
        sa.CheckConstraint(
            "max_per_week >= 1", name=op.f("ck_series_template_max_per_week_positive")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_type_id"],
            ["appointment_type.id"],
            name=op.f("fk_series_template_appointment_type_id_appointment_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series_template")),
    )
    with op.batch_alter_table("series_template", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_series_template_appointment_type_id"),
            ["appointment_type_id"],
            unique=False,
        )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("location_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), nullable=False, server_default="active")
        )
        batch_op.add_column(
            sa.Column("cancelled_at", scheduler.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_series_template_id_series_template"),
            "series_template",
            ["template_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_series_location_id_location"), "location", ["location_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_series_location_id_location"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_series_template_id_series_template"), type_="foreignkey"
        )
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("status")
        batch_op.drop_column("location_id")
        batch_op.drop_column("template_id")
    with op.batch_alter_table("series_template", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_template_appointment_type_id"))
    op.drop_table("series_template")
