"""patient links and sessions: returning patients sign in by a link sent by e-mail (/me)

Revision ID: 0012_patient_links
Revises: 0011_waitlist
Create Date: 2026-12-06 20:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scheduler.db

revision: str = "0012_patient_links"
down_revision: str | None = "0011_waitlist"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patient_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", scheduler.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name=op.f("fk_patient_link_notification_id_notification"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_patient_link_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_patient_link_token_hash")),
    )
    with op.batch_alter_table("patient_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_link_patient_id"), ["patient_id"])
    op.create_table(
        "patient_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("created_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", scheduler.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_patient_session_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_patient_session_token_hash")),
    )
    with op.batch_alter_table("patient_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_session_patient_id"), ["patient_id"])


def downgrade() -> None:
    with op.batch_alter_table("patient_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_session_patient_id"))
    op.drop_table("patient_session")
    with op.batch_alter_table("patient_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_link_patient_id"))
    op.drop_table("patient_link")
